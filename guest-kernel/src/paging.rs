//! Per-process address spaces.
//!
//! Every process has its own PML4 and first-GiB PDPT. Entry 0 of that PDPT
//! is the kernel's identity map of the first GiB and entry 3 the APIC
//! window, both shared with the boot tables and supervisor-only; entry 1
//! (1-2 GiB) holds the process's user pages. Because all RAM is in the
//! kernel's identity map, the kernel reaches any process's memory by walking
//! that process's tables, never by switching address spaces.

use crate::arch::boot::{PageTable, BOOT_PDPT};
use crate::frames::FrameAllocator;
use abi::layout::{PAGE_SIZE, USER_BASE, USER_END};

const PRESENT: u64 = 1;
const WRITABLE: u64 = 1 << 1;
const USER: u64 = 1 << 2;
/// Software bit: the leaf frame belongs to the process and is freed with it
/// (frames mapped from the boot image are not).
const OWNED: u64 = 1 << 9;
const NO_EXECUTE: u64 = 1 << 63;
const ADDRESS: u64 = 0x000F_FFFF_FFFF_F000;

static mut NX_SUPPORTED: bool = false;

/// Records whether EFER.NXE was turned on at boot (CPUID 0x80000001 EDX 20).
pub fn init() {
    let nx = crate::arch::cpu::cpuid(0x8000_0001).3 & (1 << 20) != 0;
    // SAFETY: written once at boot before any mapping is made.
    unsafe { NX_SUPPORTED = nx };
}

/// Access rights of a user mapping.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Rights {
    pub write: bool,
    pub execute: bool,
}

fn table(frame: u64) -> &'static mut [u64; 512] {
    // SAFETY: `frame` is a page-table frame below 1 GiB (identity-mapped)
    // that belongs to one address space; the kernel is single-threaded and
    // holds no other reference to it across this use.
    unsafe { &mut *(frame as *mut [u64; 512]) }
}

/// A process address space, by the physical address of its PML4.
#[derive(Clone, Copy, Debug, Default)]
pub struct AddressSpace {
    pub root: u64,
}

impl AddressSpace {
    /// A new address space with the kernel mapped and no user pages.
    pub fn new(frames: &mut FrameAllocator) -> Option<AddressSpace> {
        let pml4 = frames.alloc_zeroed()?;
        let Some(pdpt) = frames.alloc_zeroed() else {
            frames.free(pml4);
            return None;
        };
        // SAFETY: BOOT_PDPT is only written during early boot, before this.
        let boot = unsafe { &*(&raw const BOOT_PDPT as *const PageTable) };
        let p = table(pdpt);
        p[0] = boot.0[0];
        p[3] = boot.0[3];
        table(pml4)[0] = pdpt | PRESENT | WRITABLE | USER;
        Some(AddressSpace { root: pml4 })
    }

    fn next_level(entry: &mut u64, frames: &mut FrameAllocator) -> Option<u64> {
        if *entry & PRESENT == 0 {
            *entry = frames.alloc_zeroed()? | PRESENT | WRITABLE | USER;
        }
        Some(*entry & ADDRESS)
    }

    /// Maps the user page at `vaddr` to `frame`. `owned` frames are freed
    /// with the address space.
    pub fn map(&self, frames: &mut FrameAllocator, vaddr: u64, frame: u64, rights: Rights, owned: bool) -> Option<()> {
        debug_assert!((USER_BASE..USER_END).contains(&vaddr));
        let pdpt = table(self.root)[0] & ADDRESS;
        let pd = Self::next_level(&mut table(pdpt)[(vaddr >> 30) as usize & 511], frames)?;
        let pt = Self::next_level(&mut table(pd)[(vaddr >> 21) as usize & 511], frames)?;
        let mut entry = frame | PRESENT | USER;
        if rights.write {
            entry |= WRITABLE;
        }
        // SAFETY: written once at boot.
        if !rights.execute && unsafe { NX_SUPPORTED } {
            entry |= NO_EXECUTE;
        }
        if owned {
            entry |= OWNED;
        }
        table(pt)[(vaddr >> 12) as usize & 511] = entry;
        Some(())
    }

    /// The physical address behind user address `vaddr`, if it is mapped
    /// user-accessible (and writable when `write`).
    #[inline]
    pub fn translate(&self, vaddr: u64, write: bool) -> Option<u64> {
        if !(USER_BASE..USER_END).contains(&vaddr) {
            return None;
        }
        let need = PRESENT | USER | if write { WRITABLE } else { 0 };
        let mut entry = table(self.root)[0];
        for shift in [30u64, 21, 12] {
            if entry & (PRESENT | USER) != (PRESENT | USER) {
                return None;
            }
            entry = table(entry & ADDRESS)[(vaddr >> shift) as usize & 511];
        }
        if entry & need != need {
            return None;
        }
        Some((entry & ADDRESS) | (vaddr & (PAGE_SIZE - 1)))
    }

    /// Frees the user page tables, the owned frames and the top tables.
    pub fn destroy(self, frames: &mut FrameAllocator) {
        let pdpt = table(self.root)[0] & ADDRESS;
        let pd_entry = table(pdpt)[1];
        if pd_entry & PRESENT != 0 {
            let pd = pd_entry & ADDRESS;
            for &pt_entry in table(pd).iter().filter(|e| **e & PRESENT != 0) {
                let pt = pt_entry & ADDRESS;
                for &leaf in table(pt).iter() {
                    if leaf & (PRESENT | OWNED) == PRESENT | OWNED {
                        frames.free(leaf & ADDRESS);
                    }
                }
                frames.free(pt);
            }
            frames.free(pd);
        }
        frames.free(pdpt);
        frames.free(self.root);
    }
}
