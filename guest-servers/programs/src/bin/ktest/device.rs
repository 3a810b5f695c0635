//! Cases for driver memory: `MapDevice` (device MMIO windows, checked
//! against the `mmio` privilege), `AllocDma` (contiguous DMA memory) and
//! `GrantPhys` (where a grant lies in physical memory).
//!
//! The kernel-test image boots without a disk, so the virtio-blk window
//! holds no device: `viv` documents that such MMIO reads as all-ones
//! (`abi::platform::VIRTIO_BLK_MMIO_BASE`). QEMU's unassigned memory reads
//! as zero (or all-ones, depending on the version), so the case accepts
//! either "no device" value and refuses only the magic.

use crate::Suite;
use abi::grant::{GRANT_READ, GRANT_WRITE};
use abi::platform::{VIRTIO_BLK_MMIO_BASE, VIRTIO_BLK_MMIO_SIZE, VIRTIO_MMIO_MAGIC};
use abi::syscall::{DmaRange, ALLOC_DMA_MAX_PAGES, DEVICE_MAP_BASE, DEVICE_MAP_END};
use rt::Error;

/// Where the cases map the device window and the DMA pages.
const MMIO_AT: u64 = DEVICE_MAP_BASE;
const DMA_AT: u64 = DEVICE_MAP_BASE + 0x10_0000;
const DMA_PAGES: u64 = 4;

pub fn run(s: &mut Suite) {
    // The IO-APIC page and a range reaching past our window are outside
    // ktest's `mmio` privilege.
    let ioapic = rt::sys::map_device(0xFEC0_0000, 0x1000, MMIO_AT);
    let too_long = rt::sys::map_device(VIRTIO_BLK_MMIO_BASE, 2 * VIRTIO_BLK_MMIO_SIZE, MMIO_AT);
    let outside = rt::sys::map_device(VIRTIO_BLK_MMIO_BASE, VIRTIO_BLK_MMIO_SIZE, DEVICE_MAP_END);
    s.check(
        "map_device_denied",
        ioapic == Err(Error::Perm) && too_long == Err(Error::Perm) && outside == Err(Error::Invalid),
        format_args!("ioapic {ioapic:?}, too long {too_long:?}, outside the window {outside:?}"),
    );

    let mapped = rt::sys::map_device(VIRTIO_BLK_MMIO_BASE, VIRTIO_BLK_MMIO_SIZE, MMIO_AT);
    let magic = if mapped.is_ok() {
        // SAFETY: MMIO_AT maps the (empty) virtio-blk window, uncached;
        // an aligned 32-bit read is one MMIO access.
        unsafe { core::ptr::read_volatile(MMIO_AT as *const u32) }
    } else {
        VIRTIO_MMIO_MAGIC
    };
    let again = rt::sys::map_device(VIRTIO_BLK_MMIO_BASE, VIRTIO_BLK_MMIO_SIZE, MMIO_AT);
    // A device page is no buffer for the kernel: it is not RAM.
    let as_buffer = rt::sys::kernel_call(abi::syscall::KernelCall::DiagWrite, &[MMIO_AT, 4]);
    s.check(
        "map_device_reads_magic",
        mapped.is_ok()
            && (magic == u32::MAX || magic == 0)
            && again == Err(Error::Invalid)
            && as_buffer == Err(Error::Fault),
        format_args!("map {mapped:?}, MagicValue {magic:#x}, mapped twice {again:?}, as a buffer {as_buffer:?}"),
    );

    let before = rt::process::mem_info().unwrap_or(0);
    let phys = rt::sys::alloc_dma(DMA_PAGES, DMA_AT);
    let after = rt::process::mem_info().unwrap_or(0);
    let mut written = false;
    if phys.is_ok() {
        // SAFETY: DMA_AT maps DMA_PAGES fresh writable pages of ours.
        let area = unsafe { core::slice::from_raw_parts_mut(DMA_AT as *mut u64, (DMA_PAGES * 512) as usize) };
        let zeroed = area.iter().all(|&w| w == 0);
        for (i, w) in area.iter_mut().enumerate() {
            *w = i as u64 ^ 0x5A5A;
        }
        written = zeroed && area.iter().enumerate().all(|(i, &w)| w == i as u64 ^ 0x5A5A);
    }
    let too_many = rt::sys::alloc_dma(ALLOC_DMA_MAX_PAGES + 1, DMA_AT + 0x10_0000);
    let overlapping = rt::sys::alloc_dma(1, DMA_AT);
    s.check(
        "alloc_dma_contiguous",
        phys.is_ok_and(|p| p != 0 && p % 4096 == 0)
            && written
            && after >= before + DMA_PAGES
            && too_many == Err(Error::Domain)
            && overlapping == Err(Error::Invalid),
        format_args!(
            "phys {phys:?}, written {written}, frames {before} -> {after}, 65 pages {too_many:?}, overlap {overlapping:?}"
        ),
    );
    grant_phys(s, phys.ok());
}

/// Two pages nobody has written: both map the shared zero frame.
#[repr(align(4096))]
struct Untouched([u8; 8192]);
static mut UNTOUCHED: Untouched = Untouched([0; 8192]);

/// `GrantPhys` on grants of our own (made out to ourselves): the DMA area
/// is one run at the address `AllocDma` gave; two untouched bss pages are
/// two runs on one frame (the zero frame) for reading, and two private
/// frames once asked for writing (the device must never write a shared
/// frame); a capacity too small is `Domain`, an access other than READ
/// or WRITE `Invalid`, more than the grant holds `Perm`.
fn grant_phys(s: &mut Suite, dma_phys: Option<u64>) {
    let len = DMA_PAGES * 4096;
    // SAFETY: DMA_AT maps DMA_PAGES pages of ours (`alloc_dma_contiguous`
    // above; without them the grant's check fails and so does the case).
    let dma = unsafe { core::slice::from_raw_parts(DMA_AT as *const u8, len as usize) };
    let whole = rt::grant::read_only(s.me, dma).and_then(|g| ask(s.me, g.id(), len, GRANT_READ, 4));
    // SAFETY: single-threaded; the kernel reads and writes these pages
    // only inside the calls below, while no reference is in use.
    let untouched = unsafe { &mut (*(&raw mut UNTOUCHED)).0 };
    let (read, write, small, access, beyond) = match rt::grant::writable(s.me, untouched) {
        Ok(g) => (
            ask(s.me, g.id(), 8192, GRANT_READ, 4),
            ask(s.me, g.id(), 8192, GRANT_WRITE, 4),
            ask(s.me, g.id(), 8192, GRANT_WRITE, 1),
            ask(s.me, g.id(), 8192, GRANT_READ | GRANT_WRITE, 4),
            ask(s.me, g.id(), 8193, GRANT_WRITE, 4),
        ),
        Err(e) => (Err(e), Err(e), Err(e), Err(e), Err(e)),
    };
    let one_run = matches!((whole, dma_phys), (Ok((r, 1)), Some(p)) if r[0] == DmaRange { phys: p, len });
    let zero = match read {
        Ok((r, 2)) if r[0].phys == r[1].phys && r[0].len == 4096 => Some(r[0].phys),
        _ => None,
    };
    let private = match write {
        Ok((r, 1)) if r[0].len == 8192 => Some((r[0].phys, r[0].phys + 4096)),
        Ok((r, 2)) if r[0].len == 4096 && r[1].len == 4096 => Some((r[0].phys, r[1].phys)),
        _ => None,
    };
    let broken = matches!((zero, private), (Some(z), Some((a, b))) if a != b && a != z && b != z);
    s.check(
        "grant_phys_ranges",
        one_run
            && broken
            && small.err() == Some(Error::Domain)
            && access.err() == Some(Error::Invalid)
            && beyond.err() == Some(Error::Perm),
        format_args!(
            "dma {whole:?} (phys {dma_phys:?}), read {read:?}, write {write:?}, capacity 1 {small:?}, \
             access 6 {access:?}, 8193 bytes {beyond:?}"
        ),
    );
}

/// `GrantPhys` of `len` bytes of our own grant `id` into an array of
/// `capacity` runs: the runs and how many.
fn ask(me: rt::Endpoint, id: u64, len: u64, access: u32, capacity: usize) -> Result<([DmaRange; 4], usize), Error> {
    let mut runs = [DmaRange::default(); 4];
    rt::sys::grant_phys(me, id, 0, len, access, &mut runs[..capacity]).map(|n| (runs, n))
}
