//! Guest physical memory: one anonymous mapping registered as KVM memory
//! slot 0 at guest physical address 0.
//!
//! Why one slot: the kernel identity-maps at most 1 GiB
//! (`abi::platform::MAX_GUEST_MEMORY`), which stays far below the local
//! APIC window at 0xFEE0_0000, so no MMIO hole has to be cut out. Adding
//! slots costs ≈ 0.25 ms each on our hosts; one is enough.
//!
//! Snapshots keep memory (and disks) in sparse memfds and give every
//! experiment a private copy-on-write mapping of them ([`sparse_memfd`],
//! [`map_private`]).

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::os::unix::io::FromRawFd;
use std::sync::Arc;

use kvm_bindings::kvm_userspace_memory_region;
use kvm_ioctls::VmFd;
use vm_memory::mmap::MmapRegionBuilder;
use vm_memory::{
    FileOffset, GuestAddress, GuestMemoryBackend, GuestMemoryMmap, GuestMemoryRegion, GuestRegionMmap,
    MemoryRegionAddress,
};

use super::error::{kvm_err, Error, MemoryError};

/// Smallest guest memory we boot (`abi::platform::MIN_GUEST_MEMORY` says why).
pub const MIN_GUEST_MEMORY: u64 = abi::platform::MIN_GUEST_MEMORY;
/// [`MIN_GUEST_MEMORY`] in MiB, for messages and the campaign file check.
pub const MIN_GUEST_MEMORY_MIB: u64 = MIN_GUEST_MEMORY >> 20;
/// Granularity of the holes in snapshot files.
const PAGE: usize = 4096;

/// Allocates `size` bytes of guest memory (zeroed: fresh anonymous pages).
pub fn create(size: u64) -> Result<GuestMemoryMmap, Error> {
    if !(MIN_GUEST_MEMORY..=abi::platform::MAX_GUEST_MEMORY).contains(&size) {
        return Err(Error::BadMemorySize(size >> 20));
    }
    GuestMemoryMmap::from_ranges(&[(GuestAddress(0), size as usize)])
        .map_err(|e| MemoryError::Allocate { mib: size >> 20, reason: e.to_string() }.into())
}

/// Registers every region of `mem` with the VM, slot by slot.
pub fn register(vm: &VmFd, mem: &GuestMemoryMmap) -> Result<(), Error> {
    for (slot, region) in mem.iter().enumerate() {
        let host = region
            .get_host_address(MemoryRegionAddress(0))
            .map_err(|source| MemoryError::Region { start: region.start_addr().0, source })?;
        let desc = kvm_userspace_memory_region {
            slot: slot as u32,
            guest_phys_addr: region.start_addr().0,
            memory_size: region.len(),
            userspace_addr: host as u64,
            flags: 0,
        };
        // SAFETY: the region is a live mapping of `memory_size` bytes owned
        // by `mem`, which the caller keeps alive for as long as the VM runs
        // (the VM and the memory are dropped together in `run::run`).
        unsafe { vm.set_user_memory_region(desc) }.map_err(kvm_err("KVM_SET_USER_MEMORY_REGION"))?;
    }
    Ok(())
}

/// Total size of `mem` in bytes.
pub fn size(mem: &GuestMemoryMmap) -> u64 {
    mem.iter().map(|r| r.len()).sum()
}

/// A new memfd of `size` bytes holding what `read` yields, chunk by chunk
/// (`read(buf, offset)` fills `buf` with the bytes at `offset`); all-zero
/// pages stay holes, so the file costs only the pages with data.
pub fn sparse_memfd(
    name: &std::ffi::CStr,
    size: u64,
    read: impl FnMut(&mut [u8], u64) -> Result<(), MemoryError>,
) -> Result<File, MemoryError> {
    sparse_memfd_of(name, size, &[(0, size)], read)
}

/// [`sparse_memfd`] reading only the byte ranges `extents` (`(start, end)`,
/// e.g. a sparse file's data extents); the rest of the file is zeros.
pub fn sparse_memfd_of(
    name: &std::ffi::CStr,
    size: u64,
    extents: &[(u64, u64)],
    mut read: impl FnMut(&mut [u8], u64) -> Result<(), MemoryError>,
) -> Result<File, MemoryError> {
    // SAFETY: `memfd_create` with a valid NUL-terminated name and flags;
    // the result is checked before use.
    let fd = unsafe { libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC) };
    let file_err = |source| MemoryError::File { name: name.to_string_lossy().into_owned(), source };
    if fd < 0 {
        return Err(file_err(std::io::Error::last_os_error()));
    }
    // SAFETY: `fd` is a new descriptor that nothing else owns.
    let file = unsafe { File::from_raw_fd(fd) };
    file.set_len(size).map_err(file_err)?;
    const CHUNK: usize = 1 << 20;
    let mut buf = vec![0u8; CHUNK];
    for &(start, end) in extents {
        let end = end.min(size);
        let mut at = start;
        while at < end {
            let n = CHUNK.min((end - at) as usize);
            read(&mut buf[..n], at)?;
            for (i, page) in buf[..n].chunks(PAGE).enumerate() {
                if page.iter().any(|&b| b != 0) {
                    file.write_all_at(page, at + (i * PAGE) as u64).map_err(file_err)?;
                }
            }
            at += n as u64;
        }
    }
    Ok(file)
}

/// `size` bytes of `file` as a private (copy-on-write) mapping at address
/// 0: writes stay in this mapping, the file never changes, and only the
/// pages written cost memory.
pub fn map_private(file: &Arc<File>, size: u64) -> Result<GuestMemoryMmap, MemoryError> {
    let region = MmapRegionBuilder::new(size as usize)
        .with_file_offset(FileOffset::from_arc(file.clone(), 0))
        .with_mmap_prot(libc::PROT_READ | libc::PROT_WRITE)
        .with_mmap_flags(libc::MAP_PRIVATE | libc::MAP_NORESERVE)
        .build()
        .map_err(|e| MemoryError::Map(e.to_string()))?;
    let region =
        GuestRegionMmap::new(region, GuestAddress(0)).ok_or_else(|| MemoryError::Map("the region overflows".into()))?;
    GuestMemoryMmap::from_regions(vec![region]).map_err(|e| MemoryError::Map(e.to_string()))
}
