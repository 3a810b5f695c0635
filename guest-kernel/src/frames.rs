//! Physical frame allocation.
//!
//! Frames are handed out from the usable RAM of the PVH memory map, above
//! 1 MiB and below 1 GiB (what the kernel maps), skipping the kernel image
//! and the boot image. Never-used frames come first: our VMM hands the guest
//! zeroed memory and says so on the command line (`viv.memzero=1`), which
//! spares the kernel zeroing them (≈ 0.3-0.5 ms per page when kernel code is
//! emulated). Freed frames are reused last and zeroed when reused.

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
        if zero {
            zero_frame(frame);
        }
        self.in_use += 1;
        Some(frame)
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
