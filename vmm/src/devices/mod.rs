//! The guest's devices and the port-I/O dispatch.
//!
//! The platform is deliberately tiny (see `abi::platform`): a 16550 UART on
//! COM1, a power-off port (QEMU's `isa-debug-exit` layout, so the same
//! kernel powers off under QEMU), and a bench-mark port where the guest
//! asks the VMM to sample the vCPU statistics. The interrupt controller and
//! the LAPIC timer are KVM's in-kernel ones. Everything else reads as
//! all-ones (an absent ISA device) and ignores writes.

pub mod serial;
pub mod stdin;

use std::sync::{Arc, Mutex};

use abi::platform::{PORT_BENCH_MARK, PORT_COM1, PORT_POWEROFF};

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
}

/// The port-I/O devices.
pub struct PortIo {
    serial: Arc<Mutex<SerialDevice>>,
}

/// A little-endian value from 1, 2 or 4 bytes of port data.
fn value_of(data: &[u8]) -> u32 {
    let mut raw = [0u8; 4];
    let n = data.len().min(4);
    raw[..n].copy_from_slice(&data[..n]);
    u32::from_le_bytes(raw)
}

impl PortIo {
    /// The devices, with `serial` on COM1.
    pub fn new(serial: Arc<Mutex<SerialDevice>>) -> PortIo {
        PortIo { serial }
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
            _ => {
                log::debug!("write of {:x?} to unknown port {port:#x} ignored", data);
                IoAction::Continue
            }
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
        let sink = ConsoleSink { echo: false, capture: Some(capture.clone()) };
        let serial =
            new_serial(EventFd::new(libc::EFD_NONBLOCK).unwrap(), Arc::new(RoomNotifier::new().unwrap()), sink);
        (PortIo::new(Arc::new(Mutex::new(serial))), capture)
    }

    #[test]
    fn ports_are_dispatched() {
        let (mut io, capture) = devices();
        assert_eq!(io.write(PORT_COM1, b"A"), IoAction::Continue);
        assert_eq!(&*capture.lock().unwrap(), b"A");
        assert_eq!(io.write(PORT_POWEROFF, &7u32.to_le_bytes()), IoAction::PowerOff(7));
        assert_eq!(io.write(PORT_POWEROFF, &[3]), IoAction::PowerOff(3));
        assert_eq!(io.write(PORT_BENCH_MARK, &2u32.to_le_bytes()), IoAction::Mark(2));
        assert_eq!(io.write(0x80, &[1]), IoAction::Continue);
        let mut data = [0u8; 2];
        io.read(0x61, &mut data);
        assert_eq!(data, [0xff, 0xff]);
        let mut lsr = [0u8];
        io.read(PORT_COM1 + 5, &mut lsr);
        assert_ne!(lsr[0] & 0x20, 0, "transmitter empty");
    }
}
