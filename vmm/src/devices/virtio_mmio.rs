//! The virtio-mmio transport (virtio 1.x, §4.2.2: the "modern" register
//! layout, `Version` = 2) for one virtio device.
//!
//! Why MMIO rather than PCI: our platform has no PCI bus, and a register
//! window at a fixed guest-physical address (`abi::platform`) is all a small
//! guest driver needs: no enumeration, no BARs, no MSI. Why this shape: the
//! transport owns the register file, the feature negotiation, the device
//! status and the virtqueues (rust-vmm's `virtio-queue` parses the split
//! rings), and the device ([`VirtioDevice`]) only turns available
//! descriptor chains into used ones. Everything runs synchronously on the
//! vCPU thread: a `QueueNotify` write is one VM exit (≈ 10 µs here) and all
//! pending requests are finished before the guest resumes, which keeps runs
//! deterministic. Completions raise the device's interrupt line at once
//! ([`super::irq`]).
//!
//! Guest mistakes (bad offsets or widths, misaligned rings, queues outside
//! memory, bogus ring indices) are logged and ignored or answered with the
//! `DEVICE_NEEDS_RESET` status; they never panic the VMM.
//!
//! Register offsets (32-bit accesses; the configuration space also takes
//! 8- and 16-bit ones):
//!
//! | offset | register | access |
//! |---|---|---|
//! | 0x000 | MagicValue `0x74726976` | R |
//! | 0x004 | Version = 2 | R |
//! | 0x008 | DeviceID | R |
//! | 0x00c | VendorID | R |
//! | 0x010 | DeviceFeatures (32 bits chosen by DeviceFeaturesSel) | R |
//! | 0x014 | DeviceFeaturesSel | W |
//! | 0x020 | DriverFeatures (32 bits chosen by DriverFeaturesSel) | W |
//! | 0x024 | DriverFeaturesSel | W |
//! | 0x030 | QueueSel | W |
//! | 0x034 | QueueNumMax (0: no such queue) | R |
//! | 0x038 | QueueNum | W |
//! | 0x044 | QueueReady | RW |
//! | 0x050 | QueueNotify (queue index) | W |
//! | 0x060 | InterruptStatus (bit 0 used buffer, bit 1 configuration/reset) | R |
//! | 0x064 | InterruptACK | W |
//! | 0x070 | Status (writing 0 resets the device) | RW |
//! | 0x080/0x084 | QueueDescLow/High | W |
//! | 0x090/0x094 | QueueDriverLow/High (available ring) | W |
//! | 0x0a0/0x0a4 | QueueDeviceLow/High (used ring) | W |
//! | 0x0b0/0x0b4 | SHMLenLow/High = all-ones (no shared memory) | R |
//! | 0x0fc | ConfigGeneration = 0 (the configuration never changes) | R |
//! | 0x100.. | device configuration | R |

use abi::platform::{VIRTIO_MMIO_MAGIC, VIRTIO_VENDOR_ID};
use virtio_bindings::virtio_config::{
    VIRTIO_CONFIG_S_DRIVER, VIRTIO_CONFIG_S_DRIVER_OK, VIRTIO_CONFIG_S_FAILED, VIRTIO_CONFIG_S_FEATURES_OK,
    VIRTIO_CONFIG_S_NEEDS_RESET, VIRTIO_F_VERSION_1,
};
use virtio_bindings::virtio_mmio::*;
use virtio_bindings::virtio_ring::VRING_AVAIL_F_NO_INTERRUPT;
use virtio_queue::{Queue, QueueT};
use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap};

use super::irq::IrqLine;
use super::DeviceError;

/// The `Version` register of the modern virtio-mmio layout.
pub const MMIO_VERSION: u32 = 2;

/// A queue fault the device cannot recover from without a reset.
#[derive(Debug)]
pub struct QueueFault(pub String);

/// A virtio device behind the transport.
pub trait VirtioDevice: Send {
    /// The virtio device type (2: block).
    fn device_id(&self) -> u32;
    /// Every feature bit the device offers (including transport bits such
    /// as `VIRTIO_F_VERSION_1`).
    fn features(&self) -> u64;
    /// `QueueNumMax` of each of the device's queues.
    fn queue_max_sizes(&self) -> &[u16];
    /// Reads `data.len()` bytes of the device configuration at `offset`;
    /// bytes beyond its end read as zero.
    fn read_config(&self, offset: u64, data: &mut [u8]);
    /// Consumes every available descriptor chain of queue `index` and puts
    /// the finished ones on the used ring. Returns whether any were added.
    fn process_queue(&mut self, index: usize, queue: &mut Queue, mem: &GuestMemoryMmap) -> Result<bool, QueueFault>;
}

/// The transport's registers and queues, for snapshots: with the guest's
/// memory (which holds the rings) it is everything a resumed VM needs,
/// because requests are finished within the exit that notified them.
#[derive(Debug, Clone)]
pub struct TransportState {
    queues: Vec<virtio_queue::QueueState>,
    regs: Registers,
}

/// The transport's own registers (zero after a reset).
#[derive(Debug, Clone, Copy, Default)]
struct Registers {
    device_features_sel: u32,
    driver_features_sel: u32,
    driver_features: u64,
    queue_sel: u32,
    status: u32,
    interrupt_status: u32,
}

/// A device on the virtio-mmio transport.
pub struct VirtioMmio<D: VirtioDevice> {
    device: D,
    mem: GuestMemoryMmap,
    irq: IrqLine,
    queues: Vec<Queue>,
    regs: Registers,
}

impl<D: VirtioDevice> VirtioMmio<D> {
    /// The transport for `device`, which accesses `mem` and raises `irq`
    /// to interrupt the guest.
    pub fn new(device: D, mem: GuestMemoryMmap, irq: IrqLine) -> Result<VirtioMmio<D>, DeviceError> {
        let queues = device
            .queue_max_sizes()
            .iter()
            .map(|&max| Queue::new(max).map_err(|source| DeviceError::Queue { max, source }))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(VirtioMmio { device, mem, irq, queues, regs: Registers::default() })
    }

    /// The transport's state (see [`TransportState`]).
    pub fn state(&self) -> TransportState {
        TransportState { queues: self.queues.iter().map(Queue::state).collect(), regs: self.regs }
    }

    /// The transport for `device` in `state` (taken from a transport for
    /// the same kind of device).
    pub fn from_state(
        device: D,
        mem: GuestMemoryMmap,
        irq: IrqLine,
        state: &TransportState,
    ) -> Result<VirtioMmio<D>, DeviceError> {
        if state.queues.len() != device.queue_max_sizes().len() {
            return Err(DeviceError::QueueCount { saved: state.queues.len(), device: device.queue_max_sizes().len() });
        }
        let queues = state
            .queues
            .iter()
            .map(|q| Queue::try_from(*q).map_err(DeviceError::SavedQueue))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(VirtioMmio { device, mem, irq, queues, regs: state.regs })
    }

    /// The device.
    pub fn device(&self) -> &D {
        &self.device
    }

    /// The device status register.
    pub fn status(&self) -> u32 {
        self.regs.status
    }

    /// The InterruptStatus register.
    pub fn interrupt_status(&self) -> u32 {
        self.regs.interrupt_status
    }

    fn selected_queue(&mut self) -> Option<&mut Queue> {
        self.queues.get_mut(self.regs.queue_sel as usize)
    }

    /// Back to the state after power-on (status 0 written).
    fn reset(&mut self) {
        for queue in &mut self.queues {
            queue.reset();
        }
        self.regs = Registers::default();
    }

    fn raise(&mut self, bits: u32) {
        self.regs.interrupt_status |= bits;
        if let Err(e) = self.irq.raise() {
            log::warn!("virtio-mmio: cannot raise the interrupt: {e}");
        }
    }

    /// The device hit a fault only a reset can clear (virtio 1.x §2.1.2).
    fn needs_reset(&mut self, why: &str) {
        log::warn!("virtio-mmio: {why}; the device needs a reset");
        self.regs.status |= VIRTIO_CONFIG_S_NEEDS_RESET;
        if self.regs.status & VIRTIO_CONFIG_S_DRIVER_OK != 0 {
            self.raise(VIRTIO_MMIO_INT_CONFIG);
        }
    }

    /// The guest reads `data.len()` bytes at `offset` in the window.
    pub fn read(&mut self, offset: u64, data: &mut [u8]) {
        if offset >= u64::from(VIRTIO_MMIO_CONFIG) {
            data.fill(0);
            self.device.read_config(offset - u64::from(VIRTIO_MMIO_CONFIG), data);
            return;
        }
        if data.len() != 4 || !offset.is_multiple_of(4) {
            log::debug!("virtio-mmio: {}-byte read at {offset:#x} (registers take 32-bit accesses)", data.len());
            data.fill(0);
            return;
        }
        let features = self.device.features();
        let value = match offset as u32 {
            VIRTIO_MMIO_MAGIC_VALUE => VIRTIO_MMIO_MAGIC,
            VIRTIO_MMIO_VERSION => MMIO_VERSION,
            VIRTIO_MMIO_DEVICE_ID => self.device.device_id(),
            VIRTIO_MMIO_VENDOR_ID => VIRTIO_VENDOR_ID,
            VIRTIO_MMIO_DEVICE_FEATURES => match self.regs.device_features_sel {
                0 => features as u32,
                1 => (features >> 32) as u32,
                _ => 0,
            },
            VIRTIO_MMIO_QUEUE_NUM_MAX => self.selected_queue().map_or(0, |q| u32::from(q.max_size())),
            VIRTIO_MMIO_QUEUE_READY => self.selected_queue().map_or(0, |q| u32::from(q.ready())),
            VIRTIO_MMIO_INTERRUPT_STATUS => self.regs.interrupt_status,
            VIRTIO_MMIO_STATUS => self.regs.status,
            VIRTIO_MMIO_SHM_LEN_LOW | VIRTIO_MMIO_SHM_LEN_HIGH => u32::MAX,
            VIRTIO_MMIO_CONFIG_GENERATION => 0,
            other => {
                log::debug!("virtio-mmio: read of write-only or unknown register {other:#x}");
                0
            }
        };
        data.copy_from_slice(&value.to_le_bytes());
    }

    /// The guest writes `data` at `offset` in the window.
    pub fn write(&mut self, offset: u64, data: &[u8]) {
        if offset >= u64::from(VIRTIO_MMIO_CONFIG) {
            log::debug!("virtio-mmio: write to the read-only configuration at {offset:#x} ignored");
            return;
        }
        if data.len() != 4 || !offset.is_multiple_of(4) {
            log::debug!("virtio-mmio: {}-byte write at {offset:#x} ignored (32-bit accesses only)", data.len());
            return;
        }
        let value = u32::from_le_bytes([data[0], data[1], data[2], data[3]]);
        let offset = offset as u32;
        match offset {
            VIRTIO_MMIO_DEVICE_FEATURES_SEL => self.regs.device_features_sel = value,
            VIRTIO_MMIO_DRIVER_FEATURES_SEL => self.regs.driver_features_sel = value,
            VIRTIO_MMIO_DRIVER_FEATURES => self.write_driver_features(value),
            VIRTIO_MMIO_QUEUE_SEL => self.regs.queue_sel = value,
            VIRTIO_MMIO_QUEUE_NUM
            | VIRTIO_MMIO_QUEUE_READY
            | VIRTIO_MMIO_QUEUE_DESC_LOW
            | VIRTIO_MMIO_QUEUE_DESC_HIGH
            | VIRTIO_MMIO_QUEUE_AVAIL_LOW
            | VIRTIO_MMIO_QUEUE_AVAIL_HIGH
            | VIRTIO_MMIO_QUEUE_USED_LOW
            | VIRTIO_MMIO_QUEUE_USED_HIGH => self.write_queue_register(offset, value),
            VIRTIO_MMIO_QUEUE_NOTIFY => self.notify(value),
            VIRTIO_MMIO_INTERRUPT_ACK => self.regs.interrupt_status &= !value,
            VIRTIO_MMIO_STATUS => self.write_status(value),
            other => log::debug!("virtio-mmio: write of {value:#x} to read-only or unknown register {other:#x}"),
        }
    }

    fn write_driver_features(&mut self, value: u32) {
        if self.regs.status & VIRTIO_CONFIG_S_DRIVER == 0 || self.regs.status & VIRTIO_CONFIG_S_FEATURES_OK != 0 {
            log::warn!("virtio-mmio: DriverFeatures written in status {:#x}; ignored", self.regs.status);
            return;
        }
        match self.regs.driver_features_sel {
            0 => self.regs.driver_features = (self.regs.driver_features & !0xffff_ffff) | u64::from(value),
            1 => self.regs.driver_features = (self.regs.driver_features & 0xffff_ffff) | (u64::from(value) << 32),
            sel => {
                if value != 0 {
                    log::warn!("virtio-mmio: driver features {value:#x} in word {sel} (none offered); ignored");
                }
            }
        }
    }

    fn write_status(&mut self, value: u32) {
        if value == 0 {
            log::debug!("virtio-mmio: device reset");
            self.reset();
            return;
        }
        let mut value = value;
        let newly = value & !self.regs.status;
        if newly & VIRTIO_CONFIG_S_FEATURES_OK != 0 {
            let offered = self.device.features();
            let unknown = self.regs.driver_features & !offered;
            if unknown != 0 || self.regs.driver_features & (1 << VIRTIO_F_VERSION_1) == 0 {
                // The driver reads Status back and sees FEATURES_OK clear.
                log::warn!(
                    "virtio-mmio: features {:#x} refused (offered {offered:#x}; VERSION_1 is required)",
                    self.regs.driver_features
                );
                value &= !VIRTIO_CONFIG_S_FEATURES_OK;
            }
        }
        if newly & VIRTIO_CONFIG_S_DRIVER_OK != 0 && value & VIRTIO_CONFIG_S_FEATURES_OK == 0 {
            log::warn!("virtio-mmio: DRIVER_OK without FEATURES_OK; ignored");
            value &= !VIRTIO_CONFIG_S_DRIVER_OK;
        }
        if newly & VIRTIO_CONFIG_S_FAILED != 0 {
            log::warn!("virtio-mmio: the guest driver gave up on the device (FAILED)");
        }
        // NEEDS_RESET is the device's bit: the driver cannot clear it.
        self.regs.status = value | (self.regs.status & VIRTIO_CONFIG_S_NEEDS_RESET);
    }

    fn write_queue_register(&mut self, offset: u32, value: u32) {
        let sel = self.regs.queue_sel;
        let Some(queue) = self.queues.get_mut(sel as usize) else {
            log::warn!("virtio-mmio: queue register {offset:#x} written for absent queue {sel}; ignored");
            return;
        };
        if offset == VIRTIO_MMIO_QUEUE_READY {
            if value == 0 {
                queue.set_ready(false);
                return;
            }
            queue.set_ready(true);
            if !queue.is_valid(&self.mem) {
                // It reads back as 0, which tells the driver.
                log::warn!("virtio-mmio: queue {sel} does not fit in guest memory; not ready");
                queue.set_ready(false);
            }
            return;
        }
        if queue.ready() {
            log::warn!("virtio-mmio: queue register {offset:#x} written while queue {sel} is ready; ignored");
            return;
        }
        let set = |r: Result<(), virtio_queue::Error>| {
            if let Err(e) = r {
                log::warn!("virtio-mmio: queue {sel}: {e} (register {offset:#x}, value {value:#x}); ignored");
            }
        };
        let low = |old: u64| GuestAddress((old & !0xffff_ffff) | u64::from(value));
        let high = |old: u64| GuestAddress((old & 0xffff_ffff) | (u64::from(value) << 32));
        match offset {
            VIRTIO_MMIO_QUEUE_NUM => match u16::try_from(value) {
                Ok(size) => set(queue.try_set_size(size)),
                Err(_) => set(Err(virtio_queue::Error::InvalidSize)),
            },
            VIRTIO_MMIO_QUEUE_DESC_LOW => set(queue.try_set_desc_table_address(low(queue.desc_table()))),
            VIRTIO_MMIO_QUEUE_DESC_HIGH => set(queue.try_set_desc_table_address(high(queue.desc_table()))),
            VIRTIO_MMIO_QUEUE_AVAIL_LOW => set(queue.try_set_avail_ring_address(low(queue.avail_ring()))),
            VIRTIO_MMIO_QUEUE_AVAIL_HIGH => set(queue.try_set_avail_ring_address(high(queue.avail_ring()))),
            VIRTIO_MMIO_QUEUE_USED_LOW => set(queue.try_set_used_ring_address(low(queue.used_ring()))),
            VIRTIO_MMIO_QUEUE_USED_HIGH => set(queue.try_set_used_ring_address(high(queue.used_ring()))),
            _ => {}
        }
    }

    /// `QueueNotify`: run the queue's available requests to completion.
    fn notify(&mut self, index: u32) {
        let ready_bits = VIRTIO_CONFIG_S_DRIVER_OK | VIRTIO_CONFIG_S_NEEDS_RESET;
        if self.regs.status & ready_bits != VIRTIO_CONFIG_S_DRIVER_OK {
            log::warn!("virtio-mmio: notify of queue {index} in status {:#x}; ignored", self.regs.status);
            return;
        }
        let Some(queue) = self.queues.get_mut(index as usize) else {
            log::warn!("virtio-mmio: notify of absent queue {index}; ignored");
            return;
        };
        if !queue.ready() {
            log::warn!("virtio-mmio: notify of queue {index}, which is not ready; ignored");
            return;
        }
        match self.device.process_queue(index as usize, queue, &self.mem) {
            Ok(false) => {}
            Ok(true) => {
                // Without EVENT_IDX the driver can only ask for silence with
                // VIRTQ_AVAIL_F_NO_INTERRUPT (virtio 1.x §2.7.7), a hint we honour.
                let flags: u16 = self.mem.read_obj(GuestAddress(queue.avail_ring())).unwrap_or(0);
                if u32::from(flags) & VRING_AVAIL_F_NO_INTERRUPT == 0 {
                    self.raise(VIRTIO_MMIO_INT_VRING);
                }
            }
            Err(QueueFault(why)) => self.needs_reset(&format!("queue {index}: {why}")),
        }
    }
}
