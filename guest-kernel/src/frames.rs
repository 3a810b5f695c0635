//! Physical frame allocation.
//!
//! Frames are handed out from the usable RAM of the PVH memory map, above
//! 1 MiB and below 1 GiB (what the kernel maps), skipping the kernel image
//! and the boot image. Never-used frames come first: our VMM hands the guest
//! zeroed memory and says so on the command line (`viv.memzero=1`), which
//! spares the kernel zeroing them (≈ 0.3-0.5 ms per page when kernel code is
//! emulated). Freed frames are reused last and zeroed when reused.
//!
//! Frames shared copy-on-write after a fork carry a reference count: a
//! `u16` per frame of the allocator's range, in a table taken from the top
//! of the RAM at boot. It counts the *extra* references (0 = one owner), so
//! allocating and freeing an unshared frame never touches it.

use crate::pvh::Range;
use abi::layout::PAGE_SIZE;

const MAX_RANGES: usize = 8;

pub struct FrameAllocator {
    ranges: [Range; MAX_RANGES],
    count: usize,
    current: usize,
    next: u64,
    reserved: [Range; 2],
    free_list: u64,
    fresh_is_zero: bool,
    /// Frames handed out and not freed.
    pub in_use: u64,
    /// The reference-count table (identity-mapped), one `u16` per frame
    /// from `refs_base`; `refs_len` entries.
    refs: u64,
    refs_base: u64,
    refs_len: u64,
}

impl FrameAllocator {
    pub const fn empty() -> FrameAllocator {
        FrameAllocator {
            ranges: [Range { start: 0, end: 0 }; MAX_RANGES],
            count: 0,
            current: 0,
            next: 0,
            reserved: [Range { start: 0, end: 0 }; 2],
            free_list: 0,
            fresh_is_zero: false,
            in_use: 0,
            refs: 0,
            refs_base: 0,
            refs_len: 0,
        }
    }

    /// Sets up allocation from `ram`, never touching `reserved`.
    pub fn init(&mut self, ram: &[Range], reserved: [Range; 2], fresh_is_zero: bool) {
        const LOW: u64 = 0x10_0000;
        for r in ram {
            let start = r.start.max(LOW).next_multiple_of(PAGE_SIZE);
            let end = r.end.min(abi::platform::MAX_GUEST_MEMORY) & !(PAGE_SIZE - 1);
            if start < end && self.count < MAX_RANGES {
                self.ranges[self.count] = Range { start, end };
                self.count += 1;
            }
        }
        self.reserved = reserved;
        self.fresh_is_zero = fresh_is_zero;
        self.next = if self.count > 0 { self.ranges[0].start } else { 0 };
        self.init_refs();
    }

    /// Takes the reference-count table: the first run of consecutive
    /// never-used frames long enough to hold it (frames skipped before a
    /// gap are lost, which only happens around the reserved ranges).
    fn init_refs(&mut self) {
        let ranges = &self.ranges[..self.count];
        let (Some(low), Some(high)) = (ranges.iter().map(|r| r.start).min(), ranges.iter().map(|r| r.end).max()) else {
            return;
        };
        let entries = (high - low) / PAGE_SIZE;
        let pages = (entries * 2).div_ceil(PAGE_SIZE);
        let mut table = 0;
        let mut have = 0;
        while have < pages {
            let frame = self.fresh().expect("no room for the frame reference counts");
            if have == 0 || frame != table + have * PAGE_SIZE {
                table = frame;
                have = 0;
            }
            have += 1;
        }
        self.refs = table;
        self.refs_base = low;
        self.refs_len = entries;
        if !self.fresh_is_zero {
            // SAFETY: the table's frames were just taken from the allocator:
            // identity-mapped RAM nobody else uses.
            unsafe {
                core::arch::asm!("rep stosq", inout("rdi") table => _, inout("rcx") pages * PAGE_SIZE / 8 => _,
                                 in("rax") 0u64, options(nostack, preserves_flags));
            }
        }
    }

    /// The reference-count entry of `frame`.
    fn ref_entry(&self, frame: u64) -> *mut u16 {
        let index = (frame - self.refs_base) / PAGE_SIZE;
        assert!(frame >= self.refs_base && index < self.refs_len, "frame {frame:#x} outside the allocator");
        (self.refs + index * 2) as *mut u16
    }

    /// Adds a reference to the allocated frame `frame` (it is now shared).
    pub fn share(&mut self, frame: u64) {
        let entry = self.ref_entry(frame);
        // SAFETY: `ref_entry` checked the index; the table is ours.
        unsafe { *entry += 1 };
    }

    /// Whether the allocated frame `frame` has more than one reference.
    pub fn is_shared(&self, frame: u64) -> bool {
        // SAFETY: `ref_entry` checked the index; the table is ours.
        unsafe { *self.ref_entry(frame) != 0 }
    }

    /// Drops a reference to `frame`; frees it with its last reference.
    pub fn release(&mut self, frame: u64) {
        let entry = self.ref_entry(frame);
        // SAFETY: `ref_entry` checked the index; the table is ours.
        unsafe {
            if *entry == 0 {
                self.free(frame);
            } else {
                *entry -= 1;
            }
        }
    }

    fn fresh(&mut self) -> Option<u64> {
        while self.current < self.count {
            let frame = self.next;
            if frame >= self.ranges[self.current].end {
                self.current += 1;
                if self.current < self.count {
                    self.next = self.ranges[self.current].start;
                }
                continue;
            }
            if let Some(r) = self.reserved.iter().find(|r| frame >= r.start && frame < r.end) {
                self.next = r.end.next_multiple_of(PAGE_SIZE);
                continue;
            }
            self.next += PAGE_SIZE;
            return Some(frame);
        }
        None
    }

    /// A zero-filled frame, or `None` when memory is exhausted.
    pub fn alloc_zeroed(&mut self) -> Option<u64> {
        self.alloc(true)
    }

    /// A frame whose contents are about to be overwritten entirely (not
    /// zeroed), or `None` when memory is exhausted.
    pub fn alloc_uninit(&mut self) -> Option<u64> {
        self.alloc(false)
    }

    fn alloc(&mut self, zeroed: bool) -> Option<u64> {
        let (frame, zero) = match self.fresh() {
            Some(frame) => (frame, !self.fresh_is_zero),
            None if self.free_list != 0 => {
                let frame = self.free_list;
                // SAFETY: free frames are identity-mapped and hold the next
                // free frame's address in their first word.
                self.free_list = unsafe { core::ptr::read(frame as *const u64) };
                (frame, true)
            }
            None => return None,
        };
        if zero && zeroed {
            zero_frame(frame);
        }
        self.in_use += 1;
        Some(frame)
    }

    /// `pages` physically contiguous zeroed frames (for DMA), or `None`.
    ///
    /// Only never-used frames are taken, because they come in address
    /// order: a run broken by a reserved range or the end of a RAM range is
    /// put on the free list and a new run started. Freed frames are never
    /// used here (the free list has no order), so once the never-used
    /// frames are gone, contiguous allocations fail.
    pub fn alloc_contiguous(&mut self, pages: u64) -> Option<u64> {
        let mut start = 0;
        let mut have = 0;
        while have < pages {
            let Some(frame) = self.fresh() else {
                self.free_run(start, have);
                return None;
            };
            self.in_use += 1;
            if have > 0 && frame != start + have * PAGE_SIZE {
                self.free_run(start, have);
                have = 0;
            }
            if have == 0 {
                start = frame;
            }
            have += 1;
        }
        if !self.fresh_is_zero {
            for i in 0..pages {
                zero_frame(start + i * PAGE_SIZE);
            }
        }
        Some(start)
    }

    fn free_run(&mut self, start: u64, pages: u64) {
        for i in 0..pages {
            self.free(start + i * PAGE_SIZE);
        }
    }

    /// Returns a frame for reuse.
    pub fn free(&mut self, frame: u64) {
        // SAFETY: the frame was allocated here and its owner gave it up, so
        // nothing else uses it; it is identity-mapped.
        unsafe { core::ptr::write(frame as *mut u64, self.free_list) };
        self.free_list = frame;
        self.in_use -= 1;
    }
}

fn zero_frame(frame: u64) {
    // SAFETY: the frame is identity-mapped and owned by the allocator.
    unsafe {
        core::arch::asm!("rep stosq", inout("rdi") frame => _, inout("rcx") PAGE_SIZE / 8 => _,
                         in("rax") 0u64, options(nostack, preserves_flags));
    }
}
