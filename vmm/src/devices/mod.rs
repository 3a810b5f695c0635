//! The guest's devices and the port-I/O dispatch.
//!
//! The platform is deliberately tiny (see `abi::platform`): a 16550 UART on
//! COM1, a power-off port (QEMU's `isa-debug-exit` layout, so the same
//! kernel powers off under QEMU), and a bench-mark port where the guest
//! asks the VMM to sample the vCPU statistics. The interrupt controller and
//! the LAPIC timer are KVM's in-kernel ones. Everything else reads as
//! all-ones (an absent ISA device) and ignores writes.
//!
//! Memory-mapped devices sit on an [`MmioBus`]: today only the optional
//! virtio-blk disk ([`virtio_blk`] behind [`virtio_mmio`], at
//! `abi::platform::VIRTIO_BLK_MMIO_BASE`). MMIO outside every device also
//! reads as all-ones, so a driver probing the magic value sees no device.

pub mod disk_backing;
pub mod disk_image;
mod error;
pub mod irq;
pub mod limits;
pub mod serial;
pub mod sparse_file;
pub mod stdin;
pub mod terminal;
pub mod virtio_blk;
pub mod virtio_mmio;

pub use error::DeviceError;

use std::sync::{Arc, Mutex};

use abi::platform::{
    PORT_BENCH_MARK, PORT_COM1, PORT_DEBUG_TRAP, PORT_FAULT_STOP, PORT_LOG, PORT_POWEROFF, PORT_TRACE_DOORBELL,
};

use serial::{SerialDevice, SERIAL_PORTS};

/// What a port write asks of the run loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IoAction {
    /// Nothing: continue.
    Continue,
    /// The guest powered off with this (raw) status.
    PowerOff(u32),
    /// The guest wrote a bench mark id.
    Mark(u32),
    /// The kernel's IPC trace ring is full: drain it before resuming.
    TraceDoorbell,
    /// The kernel stopped for the fault plan's rule with this index.
    FaultStop(u32),
    /// The kernel offers the debugger a user-mode `#BP`/`#DB` of this
    /// process slot (`abi::debug`).
    DebugTrap(u32),
}

/// The port-I/O devices.
pub struct PortIo {
    serial: Arc<Mutex<SerialDevice>>,
    log: serial::ConsoleSink,
}

/// A little-endian value from 1, 2 or 4 bytes of port data.
fn value_of(data: &[u8]) -> u32 {
    let mut raw = [0u8; 4];
    let n = data.len().min(4);
    raw[..n].copy_from_slice(&data[..n]);
    u32::from_le_bytes(raw)
}

impl PortIo {
    /// The devices, with `serial` on COM1 and the guest's log (port
    /// `PORT_LOG`, used with `viv.log=e9`) going to `log`.
    pub fn new(serial: Arc<Mutex<SerialDevice>>, log: serial::ConsoleSink) -> PortIo {
        PortIo { serial, log }
    }

    fn serial_offset(port: u16) -> Option<u8> {
        let off = port.checked_sub(PORT_COM1)?;
        (off < SERIAL_PORTS).then_some(off as u8)
    }

    /// The guest reads `data.len()` bytes from `port`.
    pub fn read(&mut self, port: u16, data: &mut [u8]) {
        if let Some(offset) = Self::serial_offset(port) {
            let mut serial = self.serial.lock().unwrap_or_else(|e| e.into_inner());
            for (i, byte) in data.iter_mut().enumerate() {
                *byte = serial.read(offset.wrapping_add(i as u8));
            }
            return;
        }
        log::debug!("read of {} byte(s) from unknown port {port:#x}", data.len());
        data.fill(0xff);
    }

    /// The guest writes `data` to `port`.
    pub fn write(&mut self, port: u16, data: &[u8]) -> IoAction {
        if let Some(offset) = Self::serial_offset(port) {
            let mut serial = self.serial.lock().unwrap_or_else(|e| e.into_inner());
            for (i, &byte) in data.iter().enumerate() {
                if let Err(e) = serial.write(offset.wrapping_add(i as u8), byte) {
                    log::warn!("serial: {e}");
                }
            }
            return IoAction::Continue;
        }
        match port {
            PORT_POWEROFF => {
                if data.len() != 4 {
                    log::debug!("{}-byte write to the power-off port (expected 4)", data.len());
                }
                IoAction::PowerOff(value_of(data))
            }
            PORT_BENCH_MARK => IoAction::Mark(value_of(data)),
            PORT_TRACE_DOORBELL => IoAction::TraceDoorbell,
            PORT_FAULT_STOP => IoAction::FaultStop(value_of(data)),
            PORT_DEBUG_TRAP => IoAction::DebugTrap(value_of(data)),
            PORT_LOG => {
                self.log.write_log(data);
                IoAction::Continue
            }
            _ => {
                log::debug!("write of {:x?} to unknown port {port:#x} ignored", data);
                IoAction::Continue
            }
        }
    }
}

/// A device in guest-physical address space.
pub trait MmioDevice: Send + std::any::Any {
    /// The guest reads `data.len()` bytes at `offset` within the window.
    fn read(&mut self, offset: u64, data: &mut [u8]);
    /// The guest writes `data` at `offset` within the window.
    fn write(&mut self, offset: u64, data: &[u8]);
    /// The device as `Any`, so a snapshot can reach its concrete state.
    fn as_any(&self) -> &dyn std::any::Any;
}

impl<D: virtio_mmio::VirtioDevice + 'static> MmioDevice for virtio_mmio::VirtioMmio<D> {
    fn read(&mut self, offset: u64, data: &mut [u8]) {
        virtio_mmio::VirtioMmio::read(self, offset, data)
    }

    fn write(&mut self, offset: u64, data: &[u8]) {
        virtio_mmio::VirtioMmio::write(self, offset, data)
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// The memory-mapped devices, each with its window (base, size).
#[derive(Default)]
pub struct MmioBus {
    devices: Vec<(u64, u64, Box<dyn MmioDevice>)>,
}

impl MmioBus {
    /// An empty bus.
    pub fn new() -> MmioBus {
        MmioBus::default()
    }

    /// Adds `device` at `base..base + size` (windows must not overlap).
    pub fn insert(&mut self, base: u64, size: u64, device: Box<dyn MmioDevice>) {
        self.devices.push((base, size, device));
    }

    /// The device whose window starts at `base`.
    pub fn device_at(&self, base: u64) -> Option<&dyn MmioDevice> {
        self.devices.iter().find(|(b, ..)| *b == base).map(|(_, _, device)| device.as_ref())
    }

    /// The virtio-blk disk, if the machine has one.
    pub fn disk(&self) -> Option<&virtio_mmio::VirtioMmio<virtio_blk::Block>> {
        self.device_at(abi::platform::VIRTIO_BLK_MMIO_BASE)?.as_any().downcast_ref()
    }

    /// The device whose window holds the whole access, and the offset.
    fn find(&mut self, addr: u64, len: usize) -> Option<(&mut Box<dyn MmioDevice>, u64)> {
        self.devices.iter_mut().find_map(|(base, size, device)| {
            let offset = addr.checked_sub(*base)?;
            (offset.checked_add(len as u64)? <= *size).then_some((device, offset))
        })
    }

    /// The guest reads `data.len()` bytes at guest-physical `addr`.
    pub fn read(&mut self, addr: u64, data: &mut [u8]) {
        match self.find(addr, data.len()) {
            Some((device, offset)) => device.read(offset, data),
            None => {
                log::debug!("MMIO read of {} byte(s) at {addr:#x}: no device", data.len());
                data.fill(0xff);
            }
        }
    }

    /// The guest writes `data` at guest-physical `addr`.
    pub fn write(&mut self, addr: u64, data: &[u8]) {
        match self.find(addr, data.len()) {
            Some((device, offset)) => device.write(offset, data),
            None => log::debug!("MMIO write of {data:x?} at {addr:#x} ignored: no device"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::serial::{new_serial, ConsoleSink, RoomNotifier};
    use super::*;
    use vmm_sys_util::eventfd::EventFd;

    fn devices() -> (PortIo, Arc<Mutex<Vec<u8>>>) {
        let capture = Arc::new(Mutex::new(Vec::new()));
        let sink = ConsoleSink {
            echo: false,
            to_stderr: false,
            capture: Some(capture.clone()),
            tail_only: false,
            limit: (usize::MAX, limits::Limit::Console, Default::default()),
        };
        let serial = new_serial(
            irq::IrqLine::Event(EventFd::new(libc::EFD_NONBLOCK).unwrap()),
            Arc::new(RoomNotifier::new().unwrap()),
            sink.clone(),
        );
        (PortIo::new(Arc::new(Mutex::new(serial)), sink), capture)
    }

    #[test]
    fn ports_are_dispatched() {
        let (mut io, capture) = devices();
        assert_eq!(io.write(PORT_COM1, b"A"), IoAction::Continue);
        assert_eq!(&*capture.lock().unwrap(), b"A");
        assert_eq!(io.write(PORT_POWEROFF, &7u32.to_le_bytes()), IoAction::PowerOff(7));
        assert_eq!(io.write(PORT_POWEROFF, &[3]), IoAction::PowerOff(3));
        assert_eq!(io.write(PORT_BENCH_MARK, &2u32.to_le_bytes()), IoAction::Mark(2));
        assert_eq!(io.write(PORT_TRACE_DOORBELL, &0u32.to_le_bytes()), IoAction::TraceDoorbell);
        assert_eq!(io.write(PORT_DEBUG_TRAP, &5u32.to_le_bytes()), IoAction::DebugTrap(5));
        assert_eq!(io.write(0x80, &[1]), IoAction::Continue);
        let mut data = [0u8; 2];
        io.read(0x61, &mut data);
        assert_eq!(data, [0xff, 0xff]);
        let mut lsr = [0u8];
        io.read(PORT_COM1 + 5, &mut lsr);
        assert_ne!(lsr[0] & 0x20, 0, "transmitter empty");
    }
}
