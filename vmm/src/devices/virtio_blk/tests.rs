//! Host tests of the virtio-blk device on the virtio-mmio transport, no
//! KVM needed: a guest memory map, a split virtqueue laid out by hand, and
//! the registers driven through `read`/`write` exactly as a guest driver
//! would, with a temporary file as the disk.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use proptest::prelude::*;
use virtio_bindings::virtio_blk::*;
use virtio_bindings::virtio_config::*;
use virtio_bindings::virtio_mmio::*;
use virtio_bindings::virtio_ring::{VRING_DESC_F_NEXT, VRING_DESC_F_WRITE};

use super::*;
use crate::devices::virtio_mmio::VirtioMmio;
use crate::devices::MmioBus;
use vmm_sys_util::eventfd::EventFd;

use crate::devices::irq::IrqLine;

const MEM_BYTES: usize = 1 << 20;
const DESC: u64 = 0x1000;
const AVAIL: u64 = 0x2000;
const USED: u64 = 0x3000;
const QSIZE: u16 = 16;
const HDR: u64 = 0x8000;
const STATUS: u64 = 0x8100;
const DATA: u64 = 0x10000;
const DISK_SECTORS: u64 = 128;

const R: bool = false;
const W: bool = true;

/// A temporary file that is removed at the end.
struct TempPath(PathBuf);

impl TempPath {
    fn new(tag: &str) -> TempPath {
        static COUNT: AtomicUsize = AtomicUsize::new(0);
        let n = COUNT.fetch_add(1, Ordering::Relaxed);
        TempPath(std::env::temp_dir().join(format!("viv-blk-{tag}-{}-{n}", std::process::id())))
    }
}

impl Drop for TempPath {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
        let _ = std::fs::remove_dir(&self.0);
    }
}

/// A guest driver's view: memory, the device's registers, its interrupt.
struct Driver {
    dev: VirtioMmio<Block>,
    mem: GuestMemoryMmap,
    irq: EventFd,
    avail_idx: u16,
    path: TempPath,
}

impl Driver {
    fn new() -> Driver {
        Driver::with_budget(IO_BYTES_PER_NOTIFY)
    }

    /// A driver of a device moving at most `budget` bytes per notify.
    fn with_budget(budget: usize) -> Driver {
        let path = TempPath::new("dev");
        std::fs::write(&path.0, vec![0u8; (DISK_SECTORS * 512) as usize]).unwrap();
        let mut block = Block::open(&path.0, DEFAULT_DISK_BYTES).unwrap();
        block.notify_budget = budget;
        let mem = GuestMemoryMmap::from_ranges(&[(GuestAddress(0), MEM_BYTES)]).unwrap();
        let irq = EventFd::new(libc::EFD_NONBLOCK).unwrap();
        let dev = VirtioMmio::new(block, mem.clone(), IrqLine::Event(irq.try_clone().unwrap())).unwrap();
        Driver { dev, mem, irq, avail_idx: 0, path }
    }

    fn r32(&mut self, offset: u32) -> u32 {
        let mut data = [0u8; 4];
        self.dev.read(u64::from(offset), &mut data);
        u32::from_le_bytes(data)
    }

    fn w32(&mut self, offset: u32, value: u32) {
        self.dev.write(u64::from(offset), &value.to_le_bytes());
    }

    fn status_bits(&mut self, bits: u32) {
        let status = self.r32(VIRTIO_MMIO_STATUS);
        self.w32(VIRTIO_MMIO_STATUS, status | bits);
    }

    /// The initialization of virtio 1.x §3.1.1, with the queue at
    /// DESC/AVAIL/USED and `driver_features` accepted.
    fn init_with(&mut self, driver_features: u64) -> bool {
        self.w32(VIRTIO_MMIO_STATUS, 0);
        assert_eq!(self.r32(VIRTIO_MMIO_STATUS), 0);
        self.status_bits(VIRTIO_CONFIG_S_ACKNOWLEDGE);
        self.status_bits(VIRTIO_CONFIG_S_DRIVER);
        for sel in 0..2 {
            self.w32(VIRTIO_MMIO_DRIVER_FEATURES_SEL, sel);
            self.w32(VIRTIO_MMIO_DRIVER_FEATURES, (driver_features >> (32 * sel)) as u32);
        }
        self.status_bits(VIRTIO_CONFIG_S_FEATURES_OK);
        if self.r32(VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_FEATURES_OK == 0 {
            return false;
        }
        self.w32(VIRTIO_MMIO_QUEUE_SEL, 0);
        assert_eq!(self.r32(VIRTIO_MMIO_QUEUE_NUM_MAX), 256);
        assert_eq!(self.r32(VIRTIO_MMIO_QUEUE_READY), 0);
        self.w32(VIRTIO_MMIO_QUEUE_NUM, u32::from(QSIZE));
        for (low, addr) in [
            (VIRTIO_MMIO_QUEUE_DESC_LOW, DESC),
            (VIRTIO_MMIO_QUEUE_AVAIL_LOW, AVAIL),
            (VIRTIO_MMIO_QUEUE_USED_LOW, USED),
        ] {
            self.w32(low, addr as u32);
            self.w32(low + 4, (addr >> 32) as u32);
        }
        self.w32(VIRTIO_MMIO_QUEUE_READY, 1);
        assert_eq!(self.r32(VIRTIO_MMIO_QUEUE_READY), 1);
        self.status_bits(VIRTIO_CONFIG_S_DRIVER_OK);
        self.avail_idx = 0;
        true
    }

    fn init(&mut self) {
        let features = self.device_features();
        assert!(self.init_with(features));
    }

    fn device_features(&mut self) -> u64 {
        self.w32(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
        let low = self.r32(VIRTIO_MMIO_DEVICE_FEATURES);
        self.w32(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
        let high = self.r32(VIRTIO_MMIO_DEVICE_FEATURES);
        u64::from(high) << 32 | u64::from(low)
    }

    /// Puts the chain in descriptors 0.. and offers `head`.
    fn offer(&mut self, chain: &[(u64, u32, bool)], head: u16) {
        for (i, &(addr, len, write)) in chain.iter().enumerate() {
            let mut flags = if write { VRING_DESC_F_WRITE as u16 } else { 0 };
            let next = if i + 1 < chain.len() {
                flags |= VRING_DESC_F_NEXT as u16;
                i as u16 + 1
            } else {
                0
            };
            self.desc(i as u16, addr, len, flags, next);
        }
        let slot = u64::from(self.avail_idx % QSIZE);
        self.mem.write_obj(head, GuestAddress(AVAIL + 4 + 2 * slot)).unwrap();
        self.avail_idx = self.avail_idx.wrapping_add(1);
        self.mem.write_obj(self.avail_idx, GuestAddress(AVAIL + 2)).unwrap();
    }

    fn desc(&self, index: u16, addr: u64, len: u32, flags: u16, next: u16) {
        let at = GuestAddress(DESC + 16 * u64::from(index));
        self.mem.write_obj(addr, at).unwrap();
        self.mem.write_obj(len, at.unchecked_add(8)).unwrap();
        self.mem.write_obj(flags, at.unchecked_add(12)).unwrap();
        self.mem.write_obj(next, at.unchecked_add(14)).unwrap();
    }

    fn notify(&mut self) {
        self.w32(VIRTIO_MMIO_QUEUE_NOTIFY, 0);
    }

    /// Submits a chain headed by descriptor 0; returns (used id, used len).
    fn submit(&mut self, chain: &[(u64, u32, bool)]) -> (u32, u32) {
        let before = self.used_idx();
        self.offer(chain, 0);
        self.notify();
        assert_eq!(self.used_idx(), before.wrapping_add(1), "the chain was used");
        self.used(before)
    }

    fn used_idx(&self) -> u16 {
        self.mem.read_obj(GuestAddress(USED + 2)).unwrap()
    }

    fn used(&self, idx: u16) -> (u32, u32) {
        let at = GuestAddress(USED + 4 + 8 * u64::from(idx % QSIZE));
        (self.mem.read_obj(at).unwrap(), self.mem.read_obj(at.unchecked_add(4)).unwrap())
    }

    fn header(&self, kind: u32, sector: u64) {
        self.mem.write_obj(kind, GuestAddress(HDR)).unwrap();
        self.mem.write_obj(0u32, GuestAddress(HDR + 4)).unwrap();
        self.mem.write_obj(sector, GuestAddress(HDR + 8)).unwrap();
        self.mem.write_obj(0xAAu8, GuestAddress(STATUS)).unwrap();
    }

    fn status(&self) -> u8 {
        self.mem.read_obj(GuestAddress(STATUS)).unwrap()
    }

    /// A request of `kind` at `sector` with these data descriptors.
    fn request(&mut self, kind: u32, sector: u64, data: &[(u64, u32, bool)]) -> (u32, u8) {
        self.header(kind, sector);
        let mut chain = vec![(HDR, 16, R)];
        chain.extend_from_slice(data);
        chain.push((STATUS, 1, W));
        let (id, len) = self.submit(&chain);
        assert_eq!(id, 0);
        (len, self.status())
    }

    fn disk(&self) -> Vec<u8> {
        std::fs::read(&self.path.0).unwrap()
    }
}

const OK: u8 = VIRTIO_BLK_S_OK as u8;
const IOERR: u8 = VIRTIO_BLK_S_IOERR as u8;

#[test]
fn registers_identify_a_modern_block_device() {
    let mut d = Driver::new();
    assert_eq!(d.r32(VIRTIO_MMIO_MAGIC_VALUE), 0x7472_6976);
    assert_eq!(d.r32(VIRTIO_MMIO_VERSION), 2);
    assert_eq!(d.r32(VIRTIO_MMIO_DEVICE_ID), 2);
    assert_eq!(d.r32(VIRTIO_MMIO_VENDOR_ID), abi::platform::VIRTIO_VENDOR_ID);
    let features = d.device_features();
    assert_ne!(features & 1 << VIRTIO_F_VERSION_1, 0);
    assert_ne!(features & 1 << VIRTIO_BLK_F_FLUSH, 0);
    assert_eq!(d.r32(VIRTIO_MMIO_CONFIG_GENERATION), 0);
    // Capacity: two 32-bit reads, or byte by byte.
    let capacity = u64::from(d.r32(0x100)) | u64::from(d.r32(0x104)) << 32;
    assert_eq!(capacity, DISK_SECTORS);
    let mut byte = [0u8; 1];
    d.dev.read(0x100, &mut byte);
    assert_eq!(byte[0], DISK_SECTORS as u8);
    assert_eq!(d.r32(0x100 + 20), 512, "blk_size");
    assert_eq!(d.r32(0x800), 0, "beyond the configuration");
    // A 2-byte register read is refused, not a panic.
    let mut two = [0xffu8; 2];
    d.dev.read(0, &mut two);
    assert_eq!(two, [0, 0]);
}

#[test]
fn write_then_read_back() {
    let mut d = Driver::new();
    d.init();
    let pattern: Vec<u8> = (0..1024u32).map(|i| (i * 7 + 3) as u8).collect();
    d.mem.write_slice(&pattern, GuestAddress(DATA)).unwrap();
    // Two sectors at sector 3, the data split over two descriptors.
    let (len, status) = d.request(VIRTIO_BLK_T_OUT, 3, &[(DATA, 512, R), (DATA + 512, 512, R)]);
    assert_eq!((len, status), (1, OK));
    assert_eq!(&d.disk()[3 * 512..5 * 512], &pattern[..]);
    assert!(d.disk()[..3 * 512].iter().all(|&b| b == 0));
    assert_eq!(d.r32(VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_MMIO_INT_VRING);
    assert_eq!(d.irq.read().unwrap(), 1);
    d.w32(VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_INT_VRING);
    assert_eq!(d.r32(VIRTIO_MMIO_INTERRUPT_STATUS), 0);
    // VIRTQ_AVAIL_F_NO_INTERRUPT silences the interrupt.
    d.mem.write_obj(1u16, GuestAddress(AVAIL)).unwrap();
    assert_eq!(d.request(VIRTIO_BLK_T_FLUSH, 0, &[]), (1, OK));
    assert_eq!(d.r32(VIRTIO_MMIO_INTERRUPT_STATUS), 0);
    assert!(d.irq.read().is_err(), "no interrupt");
    d.mem.write_obj(0u16, GuestAddress(AVAIL)).unwrap();

    let back = DATA + 0x4000;
    let (len, status) = d.request(VIRTIO_BLK_T_IN, 3, &[(back, 1024, W)]);
    assert_eq!((len, status), (1024 + 1, OK));
    let mut read = vec![0u8; 1024];
    d.mem.read_slice(&mut read, GuestAddress(back)).unwrap();
    assert_eq!(read, pattern);
    // The last sector of the disk is reachable, one beyond is not.
    assert_eq!(d.request(VIRTIO_BLK_T_IN, DISK_SECTORS - 1, &[(back, 512, W)]).1, OK);
    assert_eq!(d.request(VIRTIO_BLK_T_IN, DISK_SECTORS, &[(back, 512, W)]), (1, IOERR));
}

#[test]
fn flush_get_id_and_unsupported() {
    let mut d = Driver::new();
    d.init();
    assert_eq!(d.request(VIRTIO_BLK_T_FLUSH, 0, &[]), (1, OK));
    let (len, status) = d.request(VIRTIO_BLK_T_GET_ID, 0, &[(DATA, 20, W)]);
    assert_eq!((len, status), (21, OK));
    let mut id = [0u8; 20];
    d.mem.read_slice(&mut id, GuestAddress(DATA)).unwrap();
    assert_eq!(&id[..DISK_ID.len()], DISK_ID);
    assert!(id[DISK_ID.len()..].iter().all(|&b| b == 0));
    assert_eq!(d.request(VIRTIO_BLK_T_DISCARD, 0, &[]), (1, VIRTIO_BLK_S_UNSUPP as u8));
}

#[test]
fn malformed_requests_fail_without_panicking() {
    let mut d = Driver::new();
    d.init();
    let beyond = MEM_BYTES as u64 + 0x1000;
    // Data in the wrong direction.
    assert_eq!(d.request(VIRTIO_BLK_T_OUT, 0, &[(DATA, 512, W)]), (1, IOERR));
    assert_eq!(d.request(VIRTIO_BLK_T_IN, 0, &[(DATA, 512, R)]), (1, IOERR));
    // A data buffer outside guest memory.
    assert_eq!(d.request(VIRTIO_BLK_T_IN, 0, &[(beyond, 512, W)]), (1, IOERR));
    assert_eq!(d.request(VIRTIO_BLK_T_OUT, 0, &[(u64::MAX - 10, 512, R)]), (1, IOERR));
    // Beyond the capacity, overflowing, not whole sectors.
    assert_eq!(d.request(VIRTIO_BLK_T_OUT, DISK_SECTORS - 1, &[(DATA, 1024, R)]), (1, IOERR));
    assert_eq!(d.request(VIRTIO_BLK_T_IN, u64::MAX, &[(DATA, 512, W)]), (1, IOERR));
    assert_eq!(d.request(VIRTIO_BLK_T_OUT, 0, &[(DATA, 100, R)]), (1, IOERR));
    assert!(d.disk().iter().all(|&b| b == 0), "nothing was written");

    // The status descriptor is device-readable: no status can be written.
    d.header(VIRTIO_BLK_T_IN, 0);
    assert_eq!(d.submit(&[(HDR, 16, R), (DATA, 512, W), (STATUS, 1, R)]), (0, 0));
    assert_eq!(d.status(), 0xAA);
    // An empty status descriptor, a status outside memory.
    assert_eq!(d.submit(&[(HDR, 16, R), (STATUS, 0, W)]), (0, 0));
    assert_eq!(d.submit(&[(HDR, 16, R), (beyond, 1, W)]), (0, 0));
    // A short header.
    assert_eq!(d.submit(&[(HDR, 8, R), (STATUS, 1, W)]), (0, 1));
    assert_eq!(d.status(), IOERR);
    // A readable descriptor after a writable one.
    d.header(VIRTIO_BLK_T_OUT, 0);
    assert_eq!(d.submit(&[(HDR, 16, R), (DATA, 512, W), (DATA, 512, R), (STATUS, 1, W)]), (0, 1));
    assert_eq!(d.status(), IOERR);

    // A loop: 0 -> 1 -> 0.
    d.header(VIRTIO_BLK_T_IN, 0);
    d.desc(0, HDR, 16, VRING_DESC_F_NEXT as u16, 1);
    d.desc(1, STATUS, 1, (VRING_DESC_F_NEXT | VRING_DESC_F_WRITE) as u16, 0);
    d.offer(&[], 0);
    d.notify();
    assert_eq!(d.used(d.avail_idx - 1), (0, 0));
    assert_eq!(d.status(), 0xAA);
    // A `next` outside the table, and a head index outside it (dropped).
    d.desc(0, HDR, 16, VRING_DESC_F_NEXT as u16, 999);
    d.offer(&[], 0);
    d.notify();
    assert_eq!(d.used(d.avail_idx - 1), (0, 0));
    d.offer(&[], 999);
    d.notify();
    assert_eq!(d.used_idx(), d.avail_idx - 1, "the bogus head was dropped");

    // The device still works.
    assert_eq!(d.request(VIRTIO_BLK_T_FLUSH, 0, &[]), (1, OK));
    assert_eq!(d.dev.status() & VIRTIO_CONFIG_S_NEEDS_RESET, 0);
}

#[test]
fn one_notify_moves_at_most_its_budget() {
    // Every avail slot names the same 4 KiB read: past the budget (three
    // reads) the rest fail at once, with no I/O.
    let mut d = Driver::with_budget(3 * 4096);
    d.init();
    d.header(VIRTIO_BLK_T_IN, 0);
    let chain = [(HDR, 16, R), (DATA, 4096, W), (STATUS, 1, W)];
    for _ in 0..QSIZE {
        d.offer(&chain, 0);
    }
    d.notify();
    assert_eq!(d.used_idx(), QSIZE, "every request was answered");
    let lens: Vec<u32> = (0..QSIZE).map(|i| d.used(i).1).collect();
    assert_eq!(&lens[..3], [4097; 3]);
    assert!(lens[3..].iter().all(|&len| len == 1), "{lens:?}");
    assert_eq!(d.status(), IOERR);
    // The budget is per notify: the next one reads again.
    d.offer(&chain, 0);
    d.notify();
    assert_eq!((d.used(QSIZE).1, d.status()), (4097, OK));
}

#[test]
fn a_bogus_avail_index_needs_a_reset() {
    let mut d = Driver::new();
    d.init();
    d.mem.write_obj(QSIZE + 5, GuestAddress(AVAIL + 2)).unwrap();
    d.notify();
    assert_ne!(d.r32(VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET, 0);
    assert_eq!(d.r32(VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_MMIO_INT_CONFIG);
    // Requests are refused until the driver resets the device.
    d.notify();
    assert_eq!(d.used_idx(), 0);
    d.mem.write_obj(0u16, GuestAddress(AVAIL + 2)).unwrap();
    d.init();
    assert_eq!(d.r32(VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET, 0);
    assert_eq!(d.request(VIRTIO_BLK_T_FLUSH, 0, &[]), (1, OK));
}

#[test]
fn negotiation_and_reset() {
    let mut d = Driver::new();
    // Without VERSION_1, or with a feature not offered, FEATURES_OK is refused.
    assert!(!d.init_with(1 << VIRTIO_BLK_F_FLUSH));
    assert!(!d.init_with(1 << VIRTIO_F_VERSION_1 | 1 << VIRTIO_BLK_F_MQ));
    assert!(d.init_with(1 << VIRTIO_F_VERSION_1));
    // Queue registers are frozen while the queue is ready.
    d.w32(VIRTIO_MMIO_QUEUE_NUM, 4);
    // A reset makes the queue unready and ignores notifies until DRIVER_OK.
    d.w32(VIRTIO_MMIO_STATUS, 0);
    assert_eq!(d.r32(VIRTIO_MMIO_QUEUE_READY), 0);
    assert_eq!(d.r32(VIRTIO_MMIO_STATUS), 0);
    d.header(VIRTIO_BLK_T_FLUSH, 0);
    d.offer(&[(HDR, 16, R), (STATUS, 1, W)], 0);
    d.notify();
    assert_eq!(d.used_idx(), 0);
    assert_eq!(d.status(), 0xAA);
    // DRIVER_OK without FEATURES_OK does not stick.
    d.w32(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_DRIVER_OK);
    assert_eq!(d.r32(VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_DRIVER_OK, 0);
    // Absent queues: no size, writes ignored.
    d.w32(VIRTIO_MMIO_QUEUE_SEL, 1);
    assert_eq!(d.r32(VIRTIO_MMIO_QUEUE_NUM_MAX), 0);
    d.w32(VIRTIO_MMIO_QUEUE_READY, 1);
    assert_eq!(d.r32(VIRTIO_MMIO_QUEUE_READY), 0);
    d.w32(VIRTIO_MMIO_QUEUE_NOTIFY, 1);
}

#[test]
fn a_queue_outside_memory_is_not_made_ready() {
    let mut d = Driver::new();
    d.w32(VIRTIO_MMIO_QUEUE_SEL, 0);
    d.w32(VIRTIO_MMIO_QUEUE_DESC_LOW, 0);
    d.w32(VIRTIO_MMIO_QUEUE_DESC_HIGH, 1);
    d.w32(VIRTIO_MMIO_QUEUE_AVAIL_LOW, AVAIL as u32);
    d.w32(VIRTIO_MMIO_QUEUE_USED_LOW, 0x3001); // misaligned: ignored
    d.w32(VIRTIO_MMIO_QUEUE_NUM, 3); // not a power of two: ignored
    d.w32(VIRTIO_MMIO_QUEUE_READY, 1);
    assert_eq!(d.r32(VIRTIO_MMIO_QUEUE_READY), 0);
}

#[test]
fn disk_images_are_created_checked_and_locked() {
    let path = TempPath::new("create");
    let block = Block::open(&path.0, 1 << 20).unwrap();
    assert_eq!(block.capacity(), 2048);
    assert_eq!(std::fs::metadata(&path.0).unwrap().len(), 1 << 20);
    let err = Block::open(&path.0, 1 << 20).err().unwrap();
    assert!(matches!(err, DeviceError::InUse { .. }) && err.to_string().contains("in use"), "{err}");
    drop(block);
    assert!(Block::open(&path.0, 0).is_ok(), "an existing image keeps its size");

    let dir = TempPath::new("dir");
    std::fs::create_dir(&dir.0).unwrap();
    let err = Block::open(&dir.0, 1 << 20).err().unwrap();
    assert!(matches!(err, DeviceError::IsADirectory(_)), "{err}");
    assert!(err.to_string().ends_with(": is a directory"), "{err}");
    assert!(Block::open(Path::new(""), 1 << 20).is_err());
    assert!(Block::open(&dir.0.join("missing/disk.img"), 1 << 20).err().unwrap().to_string().contains("cannot create"));
    let tiny = TempPath::new("tiny");
    std::fs::write(&tiny.0, [0u8; 100]).unwrap();
    assert!(matches!(Block::open(&tiny.0, 1 << 20), Err(DeviceError::TooSmall(100))));
}

#[test]
fn the_bus_dispatches_by_window() {
    let d = Driver::new();
    let mut bus = MmioBus::new();
    let base = abi::platform::VIRTIO_BLK_MMIO_BASE;
    bus.insert(base, abi::platform::VIRTIO_BLK_MMIO_SIZE, Box::new(d.dev));
    let mut word = [0u8; 4];
    bus.read(base, &mut word);
    assert_eq!(u32::from_le_bytes(word), abi::platform::VIRTIO_MMIO_MAGIC);
    bus.read(base + 0x1000, &mut word);
    assert_eq!(word, [0xff; 4], "no device");
    bus.read(base + 0xffe, &mut word);
    assert_eq!(word, [0xff; 4], "an access straddling the window's end");
    bus.write(base - 4, &[1, 2, 3, 4]);
}

/// A random descriptor: an address near or in guest memory or anywhere,
/// any length, any flags, any next.
fn any_descriptor() -> impl Strategy<Value = (u64, u32, u16, u16)> {
    let addr = prop_oneof![0u64..0x2_0000, (MEM_BYTES as u64 - 0x1000)..(MEM_BYTES as u64 + 0x1000), any::<u64>()];
    let len = prop_oneof![0u32..1100, any::<u32>()];
    let next = prop_oneof![0u16..QSIZE, any::<u16>()];
    (addr, len, 0u16..8, next)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn random_rings_never_panic(
        descs in proptest::collection::vec(any_descriptor(), QSIZE as usize),
        heads in proptest::collection::vec(prop_oneof![0u16..QSIZE, any::<u16>()], QSIZE as usize),
        kinds in proptest::collection::vec(prop_oneof![0u32..16, any::<u32>()], 4),
        sectors in proptest::collection::vec(prop_oneof![0u64..DISK_SECTORS + 2, any::<u64>()], 4),
        avail_idx in any::<u16>(),
        used_idx in any::<u16>(),
    ) {
        let mut d = Driver::new();
        d.init();
        for (i, &(addr, len, flags, next)) in descs.iter().enumerate() {
            d.desc(i as u16, addr, len, flags, next);
        }
        for (i, &head) in heads.iter().enumerate() {
            d.mem.write_obj(head, GuestAddress(AVAIL + 4 + 2 * i as u64)).unwrap();
        }
        // Headers where the descriptors are likely to point.
        for (i, (&kind, &sector)) in kinds.iter().zip(&sectors).enumerate() {
            let at = GuestAddress(0x100 * i as u64);
            d.mem.write_obj(kind, at).unwrap();
            d.mem.write_obj(sector, at.unchecked_add(8)).unwrap();
        }
        d.mem.write_obj(used_idx, GuestAddress(USED + 2)).unwrap();
        d.mem.write_obj(avail_idx % (2 * QSIZE), GuestAddress(AVAIL + 2)).unwrap();
        d.notify();
        d.mem.write_obj(avail_idx, GuestAddress(AVAIL + 2)).unwrap();
        d.notify();
        prop_assert!(d.dev.interrupt_status() <= 3);
    }

    #[test]
    fn random_register_accesses_never_panic(
        ops in proptest::collection::vec((0u64..0x200, any::<u32>(), 0usize..4, any::<bool>()), 0..64),
    ) {
        let mut d = Driver::new();
        for (offset, value, width, write) in ops {
            let len = [1, 2, 4, 8][width];
            if write {
                let bytes = u64::from(value).to_le_bytes();
                d.dev.write(offset, &bytes[..len]);
            } else {
                let mut data = [0u8; 8];
                d.dev.read(offset, &mut data[..len]);
            }
        }
    }
}
