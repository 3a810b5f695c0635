//! Per-process address spaces.
//!
//! Every process has its own PML4 and first-GiB PDPT. Entry 0 of that PDPT
//! is the kernel's identity map of the first GiB and entry 3 the APIC
//! window, both shared with the boot tables and supervisor-only; entry 1
//! (1-2 GiB) holds the process's user pages. Because all RAM is in the
//! kernel's identity map, the kernel reaches any process's memory by walking
//! that process's tables, never by switching address spaces.
//!
//! User mappings lie only in the program's range `[USER_BASE, image_end)`
//! and in the stack and KIP pages at the top (`USER_STACK_BOTTOM..USER_END`),
//! so a fork walks just those page-table entries (a driver's device and
//! DMA mappings, at `DEVICE_MAP_BASE`, raise `image_end` to cover them). Fork shares memory
//! copy-on-write: every writable page becomes read-only with the software
//! bit `COW` in both processes, and the first write (a user page fault, or
//! the kernel writing user memory) copies it unless it is no longer shared.
//!
//! Pages that start as zeroes (the stack below its top page, whole bss
//! pages) are not given frames up front: they map one shared frame of
//! zeroes, read-only with `COW` and without `OWNED`, and the first write
//! gives the page a fresh zeroed frame of its own. Most programs touch a
//! few of their sixteen stack pages and little of their bss (the shell's
//! 128 KiB heap arena), and every frame mapped at exec was also a frame to
//! free at exit.
//!
//! Every address space has an *owner*, the process slot its frames are
//! charged to (`frames`, kernel-core's `quota`): its page tables and every
//! owned page, shared or not. A copy-on-write break replaces a charged
//! reference and costs no quota; a zero-fill page costs one frame.

use crate::arch::boot::BOOT_PDPT;
use crate::frames::FrameAllocator;
use abi::layout::{PAGE_SIZE, USER_BASE, USER_END, USER_STACK_BOTTOM};
use core::sync::atomic::{AtomicBool, Ordering};

const PRESENT: u64 = 1;
const WRITABLE: u64 = 1 << 1;
const USER: u64 = 1 << 2;
const WRITE_THROUGH: u64 = 1 << 3;
const CACHE_DISABLE: u64 = 1 << 4;
/// Software bit: the leaf frame belongs to the process and is freed with it
/// (frames mapped from the boot image are not).
const OWNED: u64 = 1 << 9;
/// Software bit: a private page shared copy-on-write after a fork
/// (mapped read-only; writable again once written).
const COW: u64 = 1 << 10;
/// Software bit: the leaf maps a device's MMIO window (`MapDevice`), not
/// RAM. The kernel reaches user memory through its identity map of the
/// first GiB, which does not cover devices, so [`AddressSpace::translate`]
/// refuses these pages: they can never be the buffer of a kernel call.
const DEVICE: u64 = 1 << 11;
/// Software bit (ignored by the MMU): the leaf maps a frame of a driver's
/// DMA area (`AllocDma`), which the device may write behind the page
/// tables at any time. Such a frame is never shared with another address
/// space ([`AddressSpace::share_page`], [`AddressSpace::share_range_into`]):
/// a copy-on-write break would leave the device writing into the frame
/// the other side keeps.
const DMA: u64 = 1 << 52;
const NO_EXECUTE: u64 = 1 << 63;
const ADDRESS: u64 = 0x000F_FFFF_FFFF_F000;

static mut NX_SUPPORTED: bool = false;

/// The shared frame of zeroes behind untouched zero-fill pages (0: not
/// allocated yet). It is mapped only read-only, so nothing ever writes it,
/// and never freed.
static mut ZERO_FRAME: u64 = 0;

/// The shared zero frame, allocated at its first use.
fn zero_frame(frames: &mut FrameAllocator) -> Option<u64> {
    // SAFETY: the kernel is single-threaded; only this function writes it.
    unsafe {
        if ZERO_FRAME == 0 {
            ZERO_FRAME = frames.alloc_kernel()?;
        }
        Some(ZERO_FRAME)
    }
}

/// Whether `frame` is the shared zero frame.
fn is_zero_frame(frame: u64) -> bool {
    // SAFETY: the kernel is single-threaded; a plain read.
    frame == unsafe { ZERO_FRAME } && frame != 0
}

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
    /// One past the highest program page mapped below the stack.
    pub image_end: u64,
    /// The slot its frames are charged to (`quota::BUILDING` while a
    /// spawn builds it).
    pub owner: u8,
}

/// What a write fault on a user page came to.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum WriteFault {
    /// The page is writable now.
    Resolved,
    /// Not a copy-on-write page: a real fault.
    NotCopyOnWrite,
    /// A copy-on-write page, but no frame for it: memory is exhausted or
    /// its user holds its quota.
    OutOfMemory,
}

/// Index of the page-table entry of `vaddr`.
fn pt_index(vaddr: u64) -> usize {
    (vaddr >> 12) as usize & 511
}

/// Bytes one page table maps (one page-directory entry).
const REGION: u64 = 0x20_0000;

/// Whether the leaf `entry` is a private RAM page another address space
/// may share: owned, user, present, neither a device's window nor a DMA
/// frame.
fn shareable(entry: u64) -> bool {
    entry & (PRESENT | USER | OWNED | DEVICE | DMA) == PRESENT | USER | OWNED
}

/// Makes the writable leaf `entry` of user page `vaddr` copy-on-write
/// (its frame is now shared): its next write copies it, unless the other
/// side is gone by then.
fn make_copy_on_write(entry: &mut u64, vaddr: u64) {
    if *entry & WRITABLE != 0 {
        *entry = (*entry & !WRITABLE) | COW;
        invalidate(vaddr);
    }
}

/// Index of the page-directory entry of user address `vaddr` (the user
/// range is the first-GiB PDPT's entry 1, one directory).
fn pd_index(vaddr: u64) -> usize {
    (vaddr >> 21) as usize & 511
}

/// Copies the whole frame `from` into the fresh frame `to`: one string
/// instruction.
fn copy_frame(from: u64, to: u64) {
    // SAFETY: both are frames of identity-mapped RAM; the callers pass a
    // user page's frame and a fresh frame of their own.
    unsafe {
        core::arch::asm!("rep movsq", inout("rsi") from => _, inout("rdi") to => _,
                         inout("rcx") PAGE_SIZE / 8 => _, options(nostack, preserves_flags));
    }
}

/// Drops the TLB entry of `vaddr` in the loaded address space (harmless
/// when `vaddr` belongs to another one).
fn invalidate(vaddr: u64) {
    // SAFETY: invlpg only drops a cached translation.
    unsafe { core::arch::asm!("invlpg [{0}]", in(reg) vaddr, options(nostack, preserves_flags)) };
}

impl AddressSpace {
    /// A new address space with the kernel mapped and no user pages, its
    /// frames charged to `owner`.
    pub fn new(frames: &mut FrameAllocator, owner: usize) -> Option<AddressSpace> {
        let pml4 = frames.alloc_zeroed(owner)?;
        let Some(pdpt) = frames.alloc_zeroed(owner) else {
            frames.free(pml4, owner);
            return None;
        };
        // SAFETY: BOOT_PDPT is only written during early boot, before this.
        let boot = unsafe { &*(&raw const BOOT_PDPT) };
        let p = table(pdpt);
        p[0] = boot.0[0];
        p[3] = boot.0[3];
        table(pml4)[0] = pdpt | PRESENT | WRITABLE | USER;
        Some(AddressSpace { root: pml4, image_end: USER_BASE, owner: owner as u8 })
    }

    /// The page table covering `vaddr`, if present.
    fn page_table(&self, vaddr: u64) -> Option<u64> {
        let pdpt = table(self.root)[0] & ADDRESS;
        let pd_entry = table(pdpt)[(vaddr >> 30) as usize & 511];
        if pd_entry & PRESENT == 0 {
            return None;
        }
        let pt_entry = table(pd_entry & ADDRESS)[(vaddr >> 21) as usize & 511];
        (pt_entry & PRESENT != 0).then_some(pt_entry & ADDRESS)
    }

    /// The page table covering `vaddr`, created when missing.
    fn page_table_or_new(&self, frames: &mut FrameAllocator, vaddr: u64) -> Option<u64> {
        let pdpt = table(self.root)[0] & ADDRESS;
        let owner = self.owner();
        let pd = Self::next_level(&mut table(pdpt)[(vaddr >> 30) as usize & 511], frames, owner)?;
        Self::next_level(&mut table(pd)[(vaddr >> 21) as usize & 511], frames, owner)
    }

    fn next_level(entry: &mut u64, frames: &mut FrameAllocator, owner: usize) -> Option<u64> {
        if *entry & PRESENT == 0 {
            *entry = frames.alloc_zeroed(owner)? | PRESENT | WRITABLE | USER;
        }
        Some(*entry & ADDRESS)
    }

    /// The slot its frames are charged to.
    #[inline]
    pub fn owner(&self) -> usize {
        self.owner as usize
    }

    /// Maps the user page at `vaddr` to `frame`. `owned` frames (already
    /// charged to this space's owner) are freed with the address space.
    pub fn map(
        &mut self,
        frames: &mut FrameAllocator,
        vaddr: u64,
        frame: u64,
        rights: Rights,
        owned: bool,
    ) -> Option<()> {
        debug_assert!((USER_BASE..USER_END).contains(&vaddr));
        let mut entry = frame | PRESENT | USER;
        if rights.write {
            entry |= WRITABLE;
        }
        if owned {
            entry |= OWNED;
        }
        self.set_leaf(frames, vaddr, entry, rights.execute)
    }

    /// Maps the user page at `vaddr` to `frame` of a driver's DMA area:
    /// writable, not executable, owned, and never shared (`DMA`).
    pub fn map_dma(&mut self, frames: &mut FrameAllocator, vaddr: u64, frame: u64) -> Option<()> {
        debug_assert!((USER_BASE..USER_STACK_BOTTOM).contains(&vaddr));
        self.set_leaf(frames, vaddr, frame | PRESENT | USER | WRITABLE | OWNED | DMA, false)
    }

    /// Whether no user page of `start..end` (page-aligned) is mapped: each
    /// page table looked at once rather than walked once per page.
    pub fn range_unmapped(&self, start: u64, end: u64) -> bool {
        let mut chunk = start;
        while chunk < end {
            let chunk_end = ((chunk | 0x1F_FFFF) + 1).min(end);
            if let Some(pt) = self.page_table(chunk) {
                if table(pt)[pt_index(chunk)..=pt_index(chunk_end - 1)].iter().any(|e| e & PRESENT != 0) {
                    return false;
                }
            }
            chunk = chunk_end;
        }
        true
    }

    /// Maps every user page of `start..end` (page-aligned) to the shared
    /// zero frame, finding each page table once rather than once per page:
    /// they read as zeroes and, when `rights.write`, the first write gives
    /// a page a fresh zeroed frame of its own ([`Self::resolve_cow`]).
    /// Costs no frame until then.
    pub fn map_zero_range(&mut self, frames: &mut FrameAllocator, start: u64, end: u64, rights: Rights) -> Option<()> {
        debug_assert!(USER_BASE <= start && end <= USER_END);
        let mut entry = zero_frame(frames)? | PRESENT | USER | if rights.write { COW } else { 0 };
        // SAFETY: written once at boot.
        if !rights.execute && unsafe { NX_SUPPORTED } {
            entry |= NO_EXECUTE;
        }
        let mut chunk = start;
        while chunk < end {
            let chunk_end = ((chunk | 0x1F_FFFF) + 1).min(end);
            let pt = table(self.page_table_or_new(frames, chunk)?);
            pt[pt_index(chunk)..=pt_index(chunk_end - 1)].fill(entry);
            chunk = chunk_end;
        }
        if start < USER_STACK_BOTTOM {
            self.image_end = self.image_end.max(end.min(USER_STACK_BOTTOM));
        }
        Some(())
    }

    /// Writes the leaf entry of user page `vaddr` (non-executable unless
    /// `execute`), creating its page table when missing.
    fn set_leaf(&mut self, frames: &mut FrameAllocator, vaddr: u64, mut entry: u64, execute: bool) -> Option<()> {
        let pt = self.page_table_or_new(frames, vaddr)?;
        if vaddr < USER_STACK_BOTTOM {
            self.image_end = self.image_end.max(vaddr + PAGE_SIZE);
        }
        // SAFETY: written once at boot.
        if !execute && unsafe { NX_SUPPORTED } {
            entry |= NO_EXECUTE;
        }
        table(pt)[pt_index(vaddr)] = entry;
        Some(())
    }

    /// Maps the user page at `vaddr` to the device MMIO page at `phys`:
    /// writable, not executable, uncached (PCD | PWT), never freed.
    pub fn map_device(&mut self, frames: &mut FrameAllocator, vaddr: u64, phys: u64) -> Option<()> {
        debug_assert!((USER_BASE..USER_STACK_BOTTOM).contains(&vaddr));
        let pt = self.page_table_or_new(frames, vaddr)?;
        self.image_end = self.image_end.max(vaddr + PAGE_SIZE);
        let mut entry = phys | PRESENT | USER | WRITABLE | WRITE_THROUGH | CACHE_DISABLE | DEVICE;
        // SAFETY: written once at boot.
        if unsafe { NX_SUPPORTED } {
            entry |= NO_EXECUTE;
        }
        table(pt)[pt_index(vaddr)] = entry;
        Some(())
    }

    /// Whether anything (RAM or a device) is mapped at user page `vaddr`.
    pub fn is_mapped(&self, vaddr: u64) -> bool {
        (USER_BASE..USER_END).contains(&vaddr)
            && self.page_table(vaddr).is_some_and(|pt| table(pt)[pt_index(vaddr)] & PRESENT != 0)
    }

    /// Maps the user pages of this address space into `child` (a new,
    /// empty one) copy-on-write: writable pages become read-only + `COW`
    /// in both, every owned frame gains a reference, pages from the boot
    /// image and the KIP are shared as they are. Private pages in
    /// `copy_now` (the stack around the parent's stack pointer, which both
    /// processes write as soon as they run) are copied for the child at
    /// once and stay writable in the parent: sharing them would cost each
    /// process a fault and one of them the same copy. On `None` (out of
    /// memory, or the child's user over its quota with what it shares)
    /// `child` holds what was shared so far and must be destroyed.
    pub fn fork_into(
        &self,
        child: &mut AddressSpace,
        frames: &mut FrameAllocator,
        copy_now: core::ops::Range<u64>,
    ) -> Option<()> {
        // The shared pages are charged in one go, and the quota checked
        // once at the end: a refused fork wastes its walk, an accepted one
        // pays one addition, not one per page.
        let mut shared = 0;
        let walked = self.share_into(child, frames, copy_now, &mut shared);
        frames.quota.charge(child.owner(), shared);
        walked?;
        frames.quota.check(child.owner(), 0, 0, 0).ok()
    }

    /// [`Self::fork_into`]'s walk; counts the references it adds in
    /// `shared` (not yet charged).
    fn share_into(
        &self,
        child: &mut AddressSpace,
        frames: &mut FrameAllocator,
        copy_now: core::ops::Range<u64>,
        shared: &mut u32,
    ) -> Option<()> {
        child.image_end = self.image_end;
        for (start, end) in Self::user_ranges(self.image_end) {
            let mut chunk = start;
            while chunk < end {
                let chunk_end = ((chunk | 0x1F_FFFF) + 1).min(end);
                if let Some(pt) = self.page_table(chunk) {
                    let parent = table(pt);
                    let ours = table(child.page_table_or_new(frames, chunk)?);
                    for i in pt_index(chunk)..=pt_index(chunk_end - 1) {
                        let mut entry = parent[i];
                        if entry & PRESENT == 0 {
                            continue;
                        }
                        let vaddr = (chunk & !0x1F_FFFF) + i as u64 * PAGE_SIZE;
                        if entry & OWNED != 0 && entry & (WRITABLE | COW) != 0 && copy_now.contains(&vaddr) {
                            let copy = frames.alloc_uninit(child.owner())?;
                            copy_frame(entry & ADDRESS, copy);
                            ours[i] = copy | (entry & !ADDRESS & !COW) | WRITABLE;
                            continue;
                        }
                        if entry & OWNED != 0 {
                            frames.share_uncharged(entry & ADDRESS);
                            *shared += 1;
                            if entry & WRITABLE != 0 {
                                entry = (entry & !WRITABLE) | COW;
                                parent[i] = entry;
                            }
                        }
                        ours[i] = entry;
                    }
                }
                chunk = chunk_end;
            }
        }
        Some(())
    }

    /// Shares the private page at user address `vaddr` (page-aligned) with
    /// another address space, whose owner `to` the new reference is
    /// charged to: its frame gains a reference and, when it was
    /// writable, becomes copy-on-write here (the next write to it copies it
    /// unless the other user is gone by then). Returns the frame, or `None`
    /// when `vaddr` is not an owned RAM page of this space (a page mapped
    /// from the boot image, a device page, nothing) or `to`'s user holds
    /// its quota.
    pub fn share_page(&self, frames: &mut FrameAllocator, vaddr: u64, to: usize) -> Option<u64> {
        if !(USER_BASE..USER_END).contains(&vaddr) || vaddr & (PAGE_SIZE - 1) != 0 {
            return None;
        }
        let pt = self.page_table(vaddr)?;
        let entry = &mut table(pt)[pt_index(vaddr)];
        if !shareable(*entry) {
            return None;
        }
        let frame = *entry & ADDRESS;
        frames.share(frame, to)?;
        make_copy_on_write(entry, vaddr);
        Some(frame)
    }

    /// [`Self::share_page`] for `pages` consecutive pages from `from`,
    /// each mapped into `to` at the same offset from `at` (page-aligned,
    /// in the program area) read-only, executable when `execute`, owned
    /// by `to` — as an exec maps the whole pages of a read-only segment
    /// from the caller's copy of the file. Each page table of either side
    /// is found once, not walked per page, and `to`'s quota is checked
    /// once for the run. Stops at the first page it cannot share (not an
    /// owned RAM page here, already mapped in `to`, no frame for `to`'s
    /// page table, the quota): returns the pages shared, whose references
    /// are charged to `to`.
    pub fn share_range_into(
        &self,
        frames: &mut FrameAllocator,
        from: u64,
        to: &mut AddressSpace,
        at: u64,
        pages: u64,
        execute: bool,
    ) -> u64 {
        let len = pages.saturating_mul(PAGE_SIZE);
        let in_range = |start: u64, end: u64| {
            start.checked_add(len).is_some_and(|e| USER_BASE <= start && e <= end) && start & (PAGE_SIZE - 1) == 0
        };
        if pages == 0
            || !in_range(from, USER_END)
            || !in_range(at, USER_STACK_BOTTOM)
            || frames.quota.check(to.owner(), pages as u32, 0, 0).is_err()
        {
            return 0;
        }
        let mut flags = PRESENT | USER | OWNED;
        // SAFETY: written once at boot.
        if !execute && unsafe { NX_SUPPORTED } {
            flags |= NO_EXECUTE;
        }
        let (mut ours, mut theirs) = (0, 0);
        let mut shared = 0;
        while shared < pages {
            let (src, dst) = (from + shared * PAGE_SIZE, at + shared * PAGE_SIZE);
            if shared == 0 || src & (REGION - 1) == 0 {
                let Some(pt) = self.page_table(src) else { break };
                ours = pt;
            }
            if shared == 0 || dst & (REGION - 1) == 0 {
                let Some(pt) = to.page_table_or_new(frames, dst) else { break };
                theirs = pt;
            }
            let entry = &mut table(ours)[pt_index(src)];
            let leaf = &mut table(theirs)[pt_index(dst)];
            if !shareable(*entry) || *leaf & PRESENT != 0 {
                break;
            }
            let frame = *entry & ADDRESS;
            frames.share_uncharged(frame);
            make_copy_on_write(entry, src);
            *leaf = frame | flags;
            shared += 1;
        }
        if shared > 0 {
            to.image_end = to.image_end.max(at + shared * PAGE_SIZE);
        }
        frames.quota.charge(to.owner(), shared as u32);
        shared
    }

    /// Gives this address space private copies of its code pages (present,
    /// user, read-only, executable pages of the image), so that the host
    /// can mutate the code of this one instance (SWIFI at a fault-plan
    /// Stop) while other instances, and any instance started later from
    /// the same program, keep running the pristine code — as MINIX 3's RS
    /// restarting a driver from its binary. Pages already private (owned
    /// and not shared) are left alone. Returns the pages copied; stops
    /// early when memory runs out (the rest stay shared).
    pub fn privatize_code(&self, frames: &mut FrameAllocator) -> usize {
        let mut copied = 0;
        let mut vaddr = USER_BASE;
        while vaddr < self.image_end {
            let Some(pt) = self.page_table(vaddr) else {
                vaddr = (vaddr | 0x1F_FFFF) + 1;
                continue;
            };
            let entry = &mut table(pt)[pt_index(vaddr)];
            let is_code =
                *entry & (PRESENT | USER) == PRESENT | USER && *entry & (WRITABLE | NO_EXECUTE | DEVICE | COW) == 0;
            let frame = *entry & ADDRESS;
            let private = *entry & OWNED != 0 && !frames.is_shared(frame);
            if is_code && !private {
                let Some(copy) = frames.alloc_uninit(self.owner()) else { return copied };
                copy_frame(frame, copy);
                if *entry & OWNED != 0 {
                    frames.release(frame, self.owner());
                }
                *entry = copy | (*entry & !ADDRESS) | OWNED;
                invalidate(vaddr);
                copied += 1;
            }
            vaddr += PAGE_SIZE;
        }
        copied
    }

    /// Resolves a write to the copy-on-write page at `vaddr`: when the
    /// frame is no longer shared it just becomes writable, else the page
    /// gets a private copy; a page on the shared zero frame gets a fresh
    /// zeroed frame. False when `vaddr` is not a COW page (a real fault) or
    /// memory ran out ([`Self::write_fault`] tells which).
    pub fn resolve_cow(&self, frames: &mut FrameAllocator, vaddr: u64) -> bool {
        self.write_fault(frames, vaddr) == WriteFault::Resolved
    }

    /// [`Self::resolve_cow`], saying why a write could not be resolved.
    pub fn write_fault(&self, frames: &mut FrameAllocator, vaddr: u64) -> WriteFault {
        self.break_cow(frames, vaddr, true)
    }

    /// [`Self::write_fault`]; `keep`: the page's contents must survive
    /// (false when the caller overwrites the whole page at once: a shared
    /// page then gets a fresh frame without the copy, a zero-fill page
    /// one without the zeroing, each a `rep` string instruction over the
    /// page that is emulated element by element).
    fn break_cow(&self, frames: &mut FrameAllocator, vaddr: u64, keep: bool) -> WriteFault {
        if !(USER_BASE..USER_END).contains(&vaddr) {
            return WriteFault::NotCopyOnWrite;
        }
        let Some(pt) = self.page_table(vaddr) else { return WriteFault::NotCopyOnWrite };
        let entry = &mut table(pt)[pt_index(vaddr)];
        if *entry & (PRESENT | USER | COW) != PRESENT | USER | COW {
            return WriteFault::NotCopyOnWrite;
        }
        let frame = *entry & ADDRESS;
        let flags = (*entry & !ADDRESS & !COW) | WRITABLE;
        if *entry & OWNED == 0 {
            // Only the zero frame is mapped copy-on-write without being
            // owned (`map_zero_range`).
            if !is_zero_frame(frame) {
                return WriteFault::NotCopyOnWrite;
            }
            let fresh = if keep { frames.alloc_zeroed(self.owner()) } else { frames.alloc_uninit(self.owner()) };
            let Some(fresh) = fresh else { return WriteFault::OutOfMemory };
            *entry = fresh | flags | OWNED;
        } else if frames.is_shared(frame) {
            let Some(copy) = frames.alloc_replacing(self.owner()) else { return WriteFault::OutOfMemory };
            if keep {
                copy_frame(frame, copy);
            }
            *entry = copy | flags;
            frames.release(frame, self.owner());
        } else {
            *entry = frame | flags;
        }
        invalidate(vaddr);
        WriteFault::Resolved
    }

    /// As [`Self::translate`] for writing, resolving a copy-on-write page
    /// first (the kernel writes user memory through the identity map, so it
    /// must break the sharing itself).
    #[inline]
    pub fn translate_write(&self, frames: &mut FrameAllocator, vaddr: u64) -> Option<u64> {
        match self.translate(vaddr, true) {
            Some(phys) => Some(phys),
            None if self.resolve_cow(frames, vaddr) => self.translate(vaddr, true),
            None => None,
        }
    }

    /// [`Self::translate_write`] for a write of the whole page at `vaddr`
    /// (page-aligned) that cannot fail once started: a copy-on-write page
    /// is not copied (nor a zero-fill page zeroed) first, since every byte
    /// of it is about to be written.
    #[inline]
    pub fn translate_overwrite(&self, frames: &mut FrameAllocator, vaddr: u64) -> Option<u64> {
        debug_assert_eq!(vaddr & (PAGE_SIZE - 1), 0);
        match self.translate(vaddr, true) {
            Some(phys) => Some(phys),
            None if self.break_cow(frames, vaddr, false) == WriteFault::Resolved => self.translate(vaddr, true),
            None => None,
        }
    }

    /// The physical address behind user address `vaddr`, if it is mapped
    /// user-accessible (and writable when `write`).
    #[inline]
    pub fn translate(&self, vaddr: u64, write: bool) -> Option<u64> {
        if !(USER_BASE..USER_END).contains(&vaddr) {
            return kernel_pointer_accepted(vaddr);
        }
        let need = PRESENT | USER | if write { WRITABLE } else { 0 };
        // A device page (`DEVICE`) is not RAM the kernel can reach.
        let mut entry = table(self.root)[0];
        for shift in [30u64, 21, 12] {
            if entry & (PRESENT | USER) != (PRESENT | USER) {
                return None;
            }
            entry = table(entry & ADDRESS)[(vaddr >> shift) as usize & 511];
        }
        if entry & (need | DEVICE) != need {
            return None;
        }
        Some((entry & ADDRESS) | (vaddr & (PAGE_SIZE - 1)))
    }

    /// Frees the user page tables and the top tables, and drops a
    /// reference to every owned frame (freeing those it was the last
    /// user of); frames from the boot image are not owned.
    pub fn destroy(self, frames: &mut FrameAllocator) {
        let owner = self.owner();
        // Uncharged in one go at the end (a process holds hundreds).
        let mut dropped = 0;
        let pdpt = table(self.root)[0] & ADDRESS;
        let pd_entry = table(pdpt)[1];
        if pd_entry & PRESENT != 0 {
            let pd = table(pd_entry & ADDRESS);
            // Only the entries of the two user ranges can be present. A
            // driver's range reaches its device and DMA mappings, hundreds
            // of page-directory entries past its program, nearly all
            // empty: they are skipped in a tight scan of the directory.
            for (start, end) in Self::user_ranges(self.image_end) {
                let (first, last) = (pd_index(start), pd_index(end - 1));
                let tables = &mut pd[first..=last];
                let count = tables.len();
                for (i, pt_entry) in tables.iter_mut().enumerate() {
                    if *pt_entry & PRESENT == 0 {
                        continue;
                    }
                    // Leaves of the range only: from its start in its
                    // first table, to its end in its last.
                    let lo = if i == 0 { pt_index(start) } else { 0 };
                    let hi = if i + 1 == count { pt_index(end - 1) } else { 511 };
                    let pt = *pt_entry & ADDRESS;
                    for &leaf in &table(pt)[lo..=hi] {
                        if leaf & (PRESENT | OWNED) == PRESENT | OWNED {
                            frames.release_uncharged(leaf & ADDRESS);
                            dropped += 1;
                        }
                    }
                    frames.free_uncharged(pt);
                    dropped += 1;
                    // The stack's table may also end the program's range.
                    *pt_entry = 0;
                }
            }
            frames.free_uncharged(pd_entry & ADDRESS);
            dropped += 1;
        }
        frames.free_uncharged(pdpt);
        frames.free_uncharged(self.root);
        frames.quota.uncharge(owner, dropped + 2);
    }

    /// The two ranges that hold every user mapping.
    fn user_ranges(image_end: u64) -> [(u64, u64); 2] {
        [(USER_BASE, image_end.max(USER_BASE + PAGE_SIZE)), (USER_STACK_BOTTOM, USER_END)]
    }
}

/// Set at boot when pointer validation is switched off (`abi::weaken::
/// POINTER_CHECK`, a negative control): user pointers into the kernel's
/// identity-mapped RAM are then taken as they are.
pub static POINTER_CHECK_OFF: AtomicBool = AtomicBool::new(false);

/// A user pointer outside the user range: refused, unless pointer
/// validation is switched off and it lies in the kernel's RAM (below the
/// user range, which the kernel maps one to one).
#[cold]
fn kernel_pointer_accepted(vaddr: u64) -> Option<u64> {
    (POINTER_CHECK_OFF.load(Ordering::Relaxed) && (0x1000..USER_BASE).contains(&vaddr)).then_some(vaddr)
}
