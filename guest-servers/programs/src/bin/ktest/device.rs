//! Cases for driver memory: `MapDevice` (device MMIO windows, checked
//! against the `mmio` privilege) and `AllocDma` (contiguous DMA memory).
//!
//! The kernel-test image boots without a disk, so the virtio-blk window
//! holds no device: `viv` documents that such MMIO reads as all-ones
//! (`abi::platform::VIRTIO_BLK_MMIO_BASE`). QEMU's unassigned memory reads
//! as zero (or all-ones, depending on the version), so the case accepts
//! either "no device" value and refuses only the magic.

use crate::Suite;
use abi::platform::{VIRTIO_BLK_MMIO_BASE, VIRTIO_BLK_MMIO_SIZE, VIRTIO_MMIO_MAGIC};
use abi::syscall::{ALLOC_DMA_MAX_PAGES, DEVICE_MAP_BASE, DEVICE_MAP_END};
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
}
