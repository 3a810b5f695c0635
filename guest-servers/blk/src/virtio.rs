//! The virtio-blk device behind the virtio-mmio transport (virtio 1.x
//! §4.2.2, §5.2), driven from user space through a `MapDevice` window and
//! one `AllocDma` area.
//!
//! Why so small: the driver keeps one request in flight. Requests reach it
//! one message at a time and the device (`viv`'s) finishes each one during
//! the `QueueNotify` exit, so a deeper queue would buy nothing here but
//! bookkeeping that can go wrong. The split virtqueue has
//! [`QUEUE_SIZE`] entries; each request is one chain: the header, the data
//! (one descriptor per physically contiguous run, at most
//! [`MAX_DATA_DESCRIPTORS`]; a flush has none) and the status. The header,
//! status and rings lie at fixed places in the DMA area, whose layout is:
//!
//! | offset | what |
//! |---|---|
//! | 0x000 | descriptor table (32 × 16 bytes) |
//! | 0x400 | available ring |
//! | 0x800 | used ring |
//! | 0xC00 | request header (16 bytes), status byte at 0xC10 |
//! | 0xD00 | the request's data runs as `GrantPhys` answers them ([`MAX_DATA_DESCRIPTORS`] × 16 bytes; in this page, which is mapped and the driver's own, so the answer costs no page fault) |
//! | 0x1000 | data bounce buffer, [`MAX_TRANSFER`] bytes |
//!
//! The data runs are where the client's grant lies in physical memory
//! (`KernelCall::GrantPhys`), so the device moves the data straight
//! to or from the client; the bounce buffer (physically contiguous, one
//! descriptor) serves a request whose grant does not map that way.

use abi::platform::{VIRTIO_BLK_MMIO_BASE, VIRTIO_BLK_MMIO_SIZE, VIRTIO_BLK_SECTOR_SIZE, VIRTIO_MMIO_MAGIC};
use abi::proto::blockdev::MAX_TRANSFER;
use abi::syscall::{DmaRange, DEVICE_MAP_BASE};
use abi::Error;
use core::sync::atomic::{fence, Ordering};

/// Where the register window is mapped.
const MMIO_VA: u64 = DEVICE_MAP_BASE;
/// Where the DMA area is mapped.
const DMA_VA: u64 = DEVICE_MAP_BASE + 0x10_0000;
/// Pages of the DMA area: one for the rings and header, then the buffer.
const DMA_PAGES: u64 = 1 + MAX_TRANSFER / 4096;
/// Entries of our virtqueue (the device allows up to 256): one request's
/// chain, header and status around [`MAX_DATA_DESCRIPTORS`] data runs.
pub const QUEUE_SIZE: u16 = 32;
/// Most data descriptors of one chain.
pub const MAX_DATA_DESCRIPTORS: usize = QUEUE_SIZE as usize - 2;

const DESC: u64 = 0x000;
const AVAIL: u64 = 0x400;
const USED: u64 = 0x800;
const HEADER: u64 = 0xC00;
const STATUS: u64 = 0xC10;
const RUNS: u64 = 0xD00;
const DATA: u64 = 0x1000;

// Registers (virtio-mmio, modern layout).
const MAGIC: u64 = 0x000;
const VERSION: u64 = 0x004;
const DEVICE_ID: u64 = 0x008;
const DEVICE_FEATURES: u64 = 0x010;
const DEVICE_FEATURES_SEL: u64 = 0x014;
const DRIVER_FEATURES: u64 = 0x020;
const DRIVER_FEATURES_SEL: u64 = 0x024;
const QUEUE_SEL: u64 = 0x030;
const QUEUE_NUM_MAX: u64 = 0x034;
const QUEUE_NUM: u64 = 0x038;
const QUEUE_READY: u64 = 0x044;
const QUEUE_NOTIFY: u64 = 0x050;
/// InterruptStatus: bit 0 used buffer, bit 1 configuration change.
pub const INTERRUPT_STATUS: u64 = 0x060;
const INTERRUPT_ACK: u64 = 0x064;
const STATUS_REG: u64 = 0x070;
const QUEUE_DESC_LOW: u64 = 0x080;
const QUEUE_DESC_HIGH: u64 = 0x084;
const QUEUE_DRIVER_LOW: u64 = 0x090;
const QUEUE_DRIVER_HIGH: u64 = 0x094;
const QUEUE_DEVICE_LOW: u64 = 0x0a0;
const QUEUE_DEVICE_HIGH: u64 = 0x0a4;
const CONFIG_CAPACITY: u64 = 0x100;

// Device status bits.
const S_ACKNOWLEDGE: u32 = 1;
const S_DRIVER: u32 = 2;
const S_DRIVER_OK: u32 = 4;
const S_FEATURES_OK: u32 = 8;
/// Status bit: the device hit an error only a reset clears.
pub const S_NEEDS_RESET: u32 = 64;

// Feature bits.
const F_FLUSH: u32 = 9;
/// VIRTIO_F_VERSION_1 is bit 32: bit 0 of feature word 1.
const F_VERSION_1_HIGH: u32 = 0;

/// Available-ring flag: the driver asks for no used-buffer interrupt
/// (`VIRTQ_AVAIL_F_NO_INTERRUPT`, virtio 1.x §2.7.7).
const AVAIL_F_NO_INTERRUPT: u16 = 1;

// Descriptor flags.
const DESC_NEXT: u16 = 1;
const DESC_WRITE: u16 = 2;

// Request types.
const T_IN: u32 = 0;
const T_OUT: u32 = 1;
const T_FLUSH: u32 = 4;

/// The device's answer in the status byte: 0 = OK.
const BLK_S_OK: u8 = 0;

/// What a request asks of the device.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Op {
    /// Read sectors from `sector` on into the data runs.
    Read { sector: u64 },
    /// Write the data runs to sectors from `sector` on.
    Write { sector: u64 },
    /// Make earlier writes durable.
    Flush,
}

/// A set-up device.
pub struct Device {
    dma_phys: u64,
    /// Capacity in sectors.
    pub capacity: u64,
    /// Whether FLUSH was negotiated.
    pub flush: bool,
    /// Next free slot of the available ring (free-running).
    avail_idx: u16,
    /// Used-ring entries consumed so far (free-running).
    used_seen: u16,
}

fn reg_read(offset: u64) -> u32 {
    // SAFETY: MMIO_VA..+0x1000 maps the device's register window (set up
    // in `Device::open` before any access); registers take aligned 32-bit
    // accesses, and volatile keeps each one a single access.
    unsafe { core::ptr::read_volatile((MMIO_VA + offset) as *const u32) }
}

fn reg_write(offset: u64, value: u32) {
    // SAFETY: as for `reg_read`.
    unsafe { core::ptr::write_volatile((MMIO_VA + offset) as *mut u32, value) }
}

fn dma<T>(offset: u64) -> *mut T {
    (DMA_VA + offset) as *mut T
}

/// Maps the register window and the DMA area (once per process).
pub fn map() -> Result<(), Error> {
    rt::sys::map_device(VIRTIO_BLK_MMIO_BASE, VIRTIO_BLK_MMIO_SIZE, MMIO_VA)?;
    Ok(())
}

/// The data bounce buffer.
pub fn buffer() -> &'static mut [u8] {
    // SAFETY: DMA_VA + DATA..+MAX_TRANSFER lies in our DMA mapping (mapped
    // in `Device::open` before this is called); the driver is
    // single-threaded and the device writes it only during QueueNotify,
    // while no borrow is in use.
    unsafe { core::slice::from_raw_parts_mut(dma::<u8>(DATA), MAX_TRANSFER as usize) }
}

/// Where `GrantPhys` writes a request's data runs.
pub fn runs() -> &'static mut [DmaRange; MAX_DATA_DESCRIPTORS] {
    const { assert!(RUNS as usize + MAX_DATA_DESCRIPTORS * 16 <= DATA as usize) };
    // SAFETY: DMA_VA + RUNS..+MAX_DATA_DESCRIPTORS * 16 lies in the first
    // page of our DMA mapping (mapped in `Device::open` before this is
    // called; the assertion above keeps it below the bounce buffer), the
    // device never touches it, any bit pattern is a valid `DmaRange`
    // (two u64s, 8-aligned at 0xD00), and the single-threaded driver holds
    // one borrow at a time.
    unsafe { &mut *dma::<[DmaRange; MAX_DATA_DESCRIPTORS]>(RUNS) }
}

impl Device {
    /// Resets the device (a new driver instance starts clean), negotiates
    /// VERSION_1 (+ FLUSH) and sets up queue 0 in fresh DMA memory.
    /// `Unavailable` when there is no virtio-blk device.
    pub fn open(dma_phys: Option<u64>) -> Result<Device, Error> {
        if reg_read(MAGIC) != VIRTIO_MMIO_MAGIC || reg_read(VERSION) != 2 || reg_read(DEVICE_ID) != 2 {
            return Err(Error::Unavailable);
        }
        let dma_phys = match dma_phys {
            Some(p) => p,
            None => rt::sys::alloc_dma(DMA_PAGES, DMA_VA)?,
        };
        reg_write(STATUS_REG, 0);
        reg_write(STATUS_REG, S_ACKNOWLEDGE);
        reg_write(STATUS_REG, S_ACKNOWLEDGE | S_DRIVER);
        reg_write(DEVICE_FEATURES_SEL, 1);
        let high = reg_read(DEVICE_FEATURES);
        reg_write(DEVICE_FEATURES_SEL, 0);
        let low = reg_read(DEVICE_FEATURES);
        if high & (1 << F_VERSION_1_HIGH) == 0 {
            reg_write(STATUS_REG, 128); // FAILED
            return Err(Error::Unavailable);
        }
        let flush = low & (1 << F_FLUSH) != 0;
        reg_write(DRIVER_FEATURES_SEL, 0);
        reg_write(DRIVER_FEATURES, if flush { 1 << F_FLUSH } else { 0 });
        reg_write(DRIVER_FEATURES_SEL, 1);
        reg_write(DRIVER_FEATURES, 1 << F_VERSION_1_HIGH);
        reg_write(STATUS_REG, S_ACKNOWLEDGE | S_DRIVER | S_FEATURES_OK);
        if reg_read(STATUS_REG) & S_FEATURES_OK == 0 {
            reg_write(STATUS_REG, 128);
            return Err(Error::Unavailable);
        }
        // The rings start zeroed: a reset instance reuses its memory.
        // SAFETY: the first DMA page is ours (mapped above) and 4096 bytes.
        unsafe { core::ptr::write_bytes(dma::<u8>(0), 0, 4096) };
        reg_write(QUEUE_SEL, 0);
        if reg_read(QUEUE_NUM_MAX) < u32::from(QUEUE_SIZE) {
            reg_write(STATUS_REG, 128);
            return Err(Error::Unavailable);
        }
        reg_write(QUEUE_NUM, u32::from(QUEUE_SIZE));
        let set = |low: u64, high: u64, addr: u64| {
            reg_write(low, addr as u32);
            reg_write(high, (addr >> 32) as u32);
        };
        set(QUEUE_DESC_LOW, QUEUE_DESC_HIGH, dma_phys + DESC);
        set(QUEUE_DRIVER_LOW, QUEUE_DRIVER_HIGH, dma_phys + AVAIL);
        set(QUEUE_DEVICE_LOW, QUEUE_DEVICE_HIGH, dma_phys + USED);
        reg_write(QUEUE_READY, 1);
        if reg_read(QUEUE_READY) != 1 {
            reg_write(STATUS_REG, 128);
            return Err(Error::Unavailable);
        }
        let capacity = u64::from(reg_read(CONFIG_CAPACITY)) | u64::from(reg_read(CONFIG_CAPACITY + 4)) << 32;
        let device = Device { dma_phys, capacity, flush, avail_idx: 0, used_seen: 0 };
        // Polled until a request is found still running (`set_interrupts`).
        device.set_interrupts(false);
        reg_write(STATUS_REG, S_ACKNOWLEDGE | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK);
        Ok(device)
    }

    /// The DMA area's physical address (kept across a device reset).
    pub fn dma_phys(&self) -> u64 {
        self.dma_phys
    }

    /// Capacity in bytes.
    pub fn capacity_bytes(&self) -> u64 {
        self.capacity * VIRTIO_BLK_SECTOR_SIZE
    }

    /// The bounce buffer's first `len` bytes as a data run.
    pub fn bounce(&self, len: u64) -> DmaRange {
        DmaRange { phys: self.dma_phys + DATA, len }
    }

    fn descriptor(&self, index: u16, phys: u64, len: u32, flags: u16, next: u16) {
        let at = DESC + u64::from(index) * 16;
        // SAFETY: descriptor `index` < QUEUE_SIZE lies in the descriptor
        // table in our DMA page; the device reads it only after
        // QueueNotify.
        unsafe {
            dma::<u64>(at).write_volatile(phys);
            dma::<u32>(at + 8).write_volatile(len);
            dma::<u16>(at + 12).write_volatile(flags);
            dma::<u16>(at + 14).write_volatile(next);
        }
    }

    /// Puts `op` on the available ring with the data runs `data` (at most
    /// [`MAX_DATA_DESCRIPTORS`], each shorter than 4 GiB; none for a
    /// flush) and notifies the device. The data of a write must already be
    /// in its runs.
    pub fn submit(&mut self, op: Op, data: &[DmaRange]) {
        debug_assert!(data.len() <= MAX_DATA_DESCRIPTORS);
        let (kind, sector, data_flags) = match op {
            Op::Read { sector } => (T_IN, sector, DESC_WRITE),
            Op::Write { sector } => (T_OUT, sector, 0),
            Op::Flush => (T_FLUSH, 0, 0),
        };
        // SAFETY: header and status lie in our DMA page.
        unsafe {
            dma::<u32>(HEADER).write_volatile(kind);
            dma::<u32>(HEADER + 4).write_volatile(0);
            dma::<u64>(HEADER + 8).write_volatile(sector);
            dma::<u8>(STATUS).write_volatile(0xff);
        }
        // Header at 0, the runs at 1.., the status after them.
        self.descriptor(0, self.dma_phys + HEADER, 16, DESC_NEXT, 1);
        for (i, run) in (1u16..).zip(data) {
            self.descriptor(i, run.phys, run.len as u32, data_flags | DESC_NEXT, i + 1);
        }
        self.descriptor(data.len() as u16 + 1, self.dma_phys + STATUS, 1, DESC_WRITE, 0);
        let slot = u64::from(self.avail_idx % QUEUE_SIZE);
        // SAFETY: the available ring (flags, idx, ring[QUEUE_SIZE]) lies in
        // our DMA page.
        unsafe { dma::<u16>(AVAIL + 4 + slot * 2).write_volatile(0) };
        self.avail_idx = self.avail_idx.wrapping_add(1);
        // The ring entry and descriptors before the index the device reads.
        fence(Ordering::SeqCst);
        // SAFETY: as above.
        unsafe { dma::<u16>(AVAIL + 2).write_volatile(self.avail_idx) };
        fence(Ordering::SeqCst);
        reg_write(QUEUE_NOTIFY, 0);
    }

    /// The status of the request in flight once the device has returned
    /// it on the used ring: `Ok(())` or `Err(Unavailable)`; `None` while
    /// it is still pending.
    pub fn poll(&mut self) -> Option<Result<(), Error>> {
        fence(Ordering::SeqCst);
        // SAFETY: the used ring's idx lies in our DMA page; the device
        // writes it, hence volatile.
        let used = unsafe { dma::<u16>(USED + 2).read_volatile() };
        if used == self.used_seen {
            return None;
        }
        self.used_seen = used;
        fence(Ordering::SeqCst);
        // SAFETY: the status byte lies in our DMA page.
        let status = unsafe { dma::<u8>(STATUS).read_volatile() };
        Some(if status == BLK_S_OK { Ok(()) } else { Err(Error::Unavailable) })
    }

    /// Asks the device for an interrupt at each completion (`true`), or
    /// for none (`false`: the driver polls the used ring). A hint the
    /// device may ignore; the caller polls again after turning interrupts
    /// on, since a completion just before that raised none.
    pub fn set_interrupts(&self, on: bool) {
        let flags = if on { 0 } else { AVAIL_F_NO_INTERRUPT };
        // SAFETY: the available ring's flags lie in our DMA page.
        unsafe { dma::<u16>(AVAIL).write_volatile(flags) };
        fence(Ordering::SeqCst);
    }

    /// Acknowledges the device's interrupt; returns InterruptStatus.
    pub fn ack_interrupt(&self) -> u32 {
        let status = reg_read(INTERRUPT_STATUS);
        reg_write(INTERRUPT_ACK, status);
        status
    }

    /// Whether the device wants a reset (a queue fault).
    pub fn needs_reset(&self) -> bool {
        reg_read(STATUS_REG) & S_NEEDS_RESET != 0
    }
}
