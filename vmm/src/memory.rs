//! Guest physical memory: one anonymous mapping registered as KVM memory
//! slot 0 at guest physical address 0.
//!
//! Why one slot: the kernel identity-maps at most 1 GiB
//! (`abi::platform::MAX_GUEST_MEMORY`), which stays far below the local
//! APIC window at 0xFEE0_0000, so no MMIO hole has to be cut out. Adding
//! slots costs ≈ 0.25 ms each on our hosts; one is enough.

use kvm_bindings::kvm_userspace_memory_region;
use kvm_ioctls::VmFd;
use vm_memory::{GuestAddress, GuestMemoryBackend, GuestMemoryMmap, GuestMemoryRegion, MemoryRegionAddress};

use crate::Error;

/// Smallest guest memory we boot: the low 1 MiB plus room for a kernel.
pub const MIN_GUEST_MEMORY: u64 = 4 << 20;

/// Allocates `size` bytes of guest memory (zeroed: fresh anonymous pages).
pub fn create(size: u64) -> Result<GuestMemoryMmap, Error> {
    if !(MIN_GUEST_MEMORY..=abi::platform::MAX_GUEST_MEMORY).contains(&size) {
        return Err(Error::BadMemorySize(size >> 20));
    }
    GuestMemoryMmap::from_ranges(&[(GuestAddress(0), size as usize)])
        .map_err(|e| Error::Memory(format!("cannot allocate {} MiB: {e}", size >> 20)))
}

/// Registers every region of `mem` with the VM, slot by slot.
pub fn register(vm: &VmFd, mem: &GuestMemoryMmap) -> Result<(), Error> {
    for (slot, region) in mem.iter().enumerate() {
        let host = region
            .get_host_address(MemoryRegionAddress(0))
            .map_err(|e| Error::Memory(format!("region at {:#x}: {e}", region.start_addr().0)))?;
        let desc = kvm_userspace_memory_region {
            slot: slot as u32,
            guest_phys_addr: region.start_addr().0,
            memory_size: region.len(),
            userspace_addr: host as u64,
            flags: 0,
        };
        // SAFETY: the region is a live mapping of `memory_size` bytes owned
        // by `mem`, which the caller keeps alive for as long as the VM runs
        // (the VM and the memory are dropped together in `vm::run`).
        unsafe { vm.set_user_memory_region(desc) }.map_err(|e| Error::Kvm("KVM_SET_USER_MEMORY_REGION", e))?;
    }
    Ok(())
}

/// Total size of `mem` in bytes.
pub fn size(mem: &GuestMemoryMmap) -> u64 {
    mem.iter().map(|r| r.len()).sum()
}
