//! Physical frame allocation.
//!
//! Frames are handed out from the usable RAM of the PVH memory map, above
//! 1 MiB and below 1 GiB (what the kernel maps), skipping the kernel image
//! and the boot image. Never-used frames come first: our VMM hands the guest
//! zeroed memory and says so on the command line (`viv.memzero=1`), which
//! spares the kernel zeroing them (≈ 0.3-0.5 ms per page when kernel code is
//! emulated). Freed frames are reused last and zeroed when reused. Which
//! frames are free is kernel-core's [`FramePool`]: freed frames sit in a
//! bitmap so that a driver restarted after long churn still finds a
//! contiguous DMA buffer among them.
//!
//! Frames shared copy-on-write after a fork carry a reference count: a
//! `u16` per frame of the allocator's range, in a table taken from the top
//! at boot (the first never-used frames). It counts the *extra* references (0 = one owner), so
//! allocating and freeing an unshared frame never touches it.
//!
//! Every frame given to a process, and every reference it takes to a
//! shared one, is charged to that process (its slot, the *owner*) in
//! kernel-core's [`MemoryQuota`], which refuses a user over its quota or
//! one that would eat into the reserve kept for the system; every free
//! and dropped reference is uncharged (docs/security.md, "Memory"). The
//! kernel's own frames (its tables, the KIP, the shared zero frame) are
//! nobody's.

use crate::pvh::Range;
use abi::layout::PAGE_SIZE;
use kernel_core::frames::{FramePool, Origin, Span};
use kernel_core::quota::MemoryQuota;

pub struct FrameAllocator {
    /// Which frames are free (kernel-core's logic, host-tested).
    pool: FramePool,
    /// Whether never-used frames hold zeroes (`viv.memzero=1`).
    fresh_is_zero: bool,
    /// Frames handed out and not freed.
    pub in_use: u64,
    /// Frames charged per process and per user, and the limits.
    pub quota: MemoryQuota,
    /// The free-frame bitmap (identity-mapped), `bitmap_words` words.
    bitmap: u64,
    bitmap_words: usize,
    /// The reference-count table (identity-mapped), one `u16` per frame
    /// from `refs_base`; `refs_len` entries.
    refs: u64,
    refs_base: u64,
    refs_len: u64,
}

impl FrameAllocator {
    pub const fn empty() -> FrameAllocator {
        FrameAllocator {
            pool: FramePool::EMPTY,
            fresh_is_zero: false,
            in_use: 0,
            quota: MemoryQuota::new(0, 0),
            bitmap: 0,
            bitmap_words: 0,
            refs: 0,
            refs_base: 0,
            refs_len: 0,
        }
    }

    /// Sets up allocation from `ram`, never touching `reserved`.
    pub fn init(&mut self, ram: &[Range], reserved: [Range; 2], fresh_is_zero: bool) {
        const LOW: u64 = 0x10_0000;
        let mut spans = [Span::default(); kernel_core::frames::MAX_RANGES];
        for (span, r) in spans.iter_mut().zip(ram) {
            *span = Span { start: r.start, end: r.end };
        }
        let count = ram.len().min(spans.len());
        let reserved = reserved.map(|r| Span { start: r.start, end: r.end });
        self.pool = FramePool::new(&spans[..count], reserved, LOW, abi::platform::MAX_GUEST_MEMORY);
        self.fresh_is_zero = fresh_is_zero;
        let (base, frames) = self.pool.extent();
        self.refs_base = base;
        self.refs_len = frames;
        self.refs = self.boot_table((frames * 2).div_ceil(PAGE_SIZE));
        self.bitmap_words = self.pool.bitmap_words();
        self.bitmap = self.boot_table((self.bitmap_words as u64 * 8).div_ceil(PAGE_SIZE));
    }

    /// Never-used frames left.
    pub fn fresh_frames(&self) -> u64 {
        self.pool.fresh_frames()
    }

    /// Frames that can still be handed out (never-used and freed).
    pub fn available(&self) -> u64 {
        self.pool.available()
    }

    /// Sets the per-user quota from the command line (`viv.user_frames`,
    /// else a share of the frames free now, at boot) and the reserve;
    /// `enforced` false only for the negative control.
    pub fn set_quota(&mut self, cmdline: &str, enforced: bool) {
        use abi::platform::{cmdline_value, CMDLINE_USER_FRAMES_KEY, DEFAULT_USER_MEMORY_SHARE, MEMORY_RESERVE_FRAMES};
        let configured = cmdline_value(cmdline, CMDLINE_USER_FRAMES_KEY).and_then(|v| v.parse::<u64>().ok());
        let limit = configured.unwrap_or(self.available() / DEFAULT_USER_MEMORY_SHARE);
        self.quota.limit = u32::try_from(limit).unwrap_or(u32::MAX);
        self.quota.reserve = MEMORY_RESERVE_FRAMES as u32;
        self.quota.enforced = enforced;
    }

    /// Contiguous allocations may reuse freed frames (off only as a
    /// negative control, `abi::weaken::FRAME_REUSE`).
    pub fn set_reuse_for_contiguous(&mut self, reuse: bool) {
        self.pool.reuse_for_contiguous = reuse;
    }

    /// A zeroed table of `pages` pages for the allocator itself: the first
    /// run of consecutive never-used frames long enough (frames skipped
    /// before a gap are lost, which only happens around the reserved
    /// ranges).
    fn boot_table(&mut self, pages: u64) -> u64 {
        let mut table = 0;
        let mut have = 0;
        while have < pages {
            let frame = self.pool.fresh().expect("no room for the frame allocator's tables");
            if have == 0 || frame != table + have * PAGE_SIZE {
                table = frame;
                have = 0;
            }
            have += 1;
        }
        if !self.fresh_is_zero {
            // SAFETY: the table's frames were just taken from the allocator:
            // identity-mapped RAM nobody else uses.
            unsafe {
                core::arch::asm!("rep stosq", inout("rdi") table => _, inout("rcx") pages * PAGE_SIZE / 8 => _,
                                 in("rax") 0u64, options(nostack, preserves_flags));
            }
        }
        table
    }

    /// The free-frame bitmap.
    fn bits(&mut self) -> &'static mut [u64] {
        // SAFETY: `bitmap` is `bitmap_words` words of identity-mapped RAM
        // taken at boot for this allocator alone; the returned slice is
        // used only within one method call of the allocator (one CPU).
        unsafe { core::slice::from_raw_parts_mut(self.bitmap as *mut u64, self.bitmap_words) }
    }

    /// The reference-count entry of `frame`.
    fn ref_entry(&self, frame: u64) -> *mut u16 {
        let index = (frame - self.refs_base) / PAGE_SIZE;
        assert!(frame >= self.refs_base && index < self.refs_len, "frame {frame:#x} outside the allocator");
        (self.refs + index * 2) as *mut u16
    }

    /// Adds a reference to the allocated frame `frame` (it is now shared)
    /// for `owner`, charged to it; `None` when its user holds its quota.
    pub fn share(&mut self, frame: u64, owner: usize) -> Option<()> {
        self.quota.check(owner, 1, 0, 0).ok()?;
        self.quota.charge(owner, 1);
        self.share_uncharged(frame);
        Some(())
    }

    /// [`Self::share`] for a caller that charges the references it adds
    /// itself, in one go (a fork).
    #[inline]
    pub fn share_uncharged(&mut self, frame: u64) {
        let entry = self.ref_entry(frame);
        // SAFETY: `ref_entry` checked the index; the table is ours.
        unsafe { *entry += 1 };
    }

    /// Whether the allocated frame `frame` has more than one reference.
    pub fn is_shared(&self, frame: u64) -> bool {
        // SAFETY: `ref_entry` checked the index; the table is ours.
        unsafe { *self.ref_entry(frame) != 0 }
    }

    /// Drops `owner`'s reference to `frame`; frees it with its last
    /// reference.
    pub fn release(&mut self, frame: u64, owner: usize) {
        self.release_uncharged(frame);
        self.quota.uncharge(owner, 1);
    }

    /// [`Self::release`] for a caller that uncharges what it drops itself,
    /// in one go (an address space's end).
    #[inline]
    pub fn release_uncharged(&mut self, frame: u64) {
        let entry = self.ref_entry(frame);
        // SAFETY: `ref_entry` checked the index; the table is ours.
        unsafe {
            if *entry == 0 {
                self.free_uncharged(frame);
            } else {
                *entry -= 1;
            }
        }
    }

    /// A zero-filled frame for `owner`, or `None` when memory is exhausted
    /// or its user may have no more.
    pub fn alloc_zeroed(&mut self, owner: usize) -> Option<u64> {
        self.alloc_for(owner, 1, true)
    }

    /// A frame for `owner` whose contents are about to be overwritten
    /// entirely (not zeroed), or `None` as for [`Self::alloc_zeroed`].
    pub fn alloc_uninit(&mut self, owner: usize) -> Option<u64> {
        self.alloc_for(owner, 1, false)
    }

    /// A frame for `owner` that replaces its reference to a shared frame
    /// (a copy-on-write break; the caller releases that reference): no
    /// more than before counts against its quota, but a user may not take
    /// the reserve's last frames. Not zeroed.
    pub fn alloc_replacing(&mut self, owner: usize) -> Option<u64> {
        self.alloc_for(owner, 0, false)
    }

    /// A zero-filled frame of the kernel's own (nobody's: never freed).
    pub fn alloc_kernel(&mut self) -> Option<u64> {
        self.alloc(true)
    }

    /// One frame for `owner`, counting `charged` (0 or 1) against its
    /// quota; it holds one more frame afterwards either way.
    #[inline]
    fn alloc_for(&mut self, owner: usize, charged: u32, zeroed: bool) -> Option<u64> {
        self.quota.check(owner, charged, 1, self.pool.available()).ok()?;
        let frame = self.alloc(zeroed)?;
        self.quota.charge(owner, 1);
        Some(frame)
    }

    fn alloc(&mut self, zeroed: bool) -> Option<u64> {
        let bits = self.bits();
        let (frame, origin) = self.pool.take(bits)?;
        if zeroed && self.needs_zeroing(origin) {
            zero_frame(frame);
        }
        self.in_use = self.pool.in_use;
        Some(frame)
    }

    fn needs_zeroing(&self, origin: Origin) -> bool {
        origin == Origin::Reused || !self.fresh_is_zero
    }

    /// `pages` physically contiguous zeroed frames (for DMA) for `owner`,
    /// or `None`: never-used frames while they hold such a run, else freed
    /// ones.
    pub fn alloc_contiguous(&mut self, pages: u64, owner: usize) -> Option<u64> {
        let count = u32::try_from(pages).ok()?;
        self.quota.check(owner, count, count, self.pool.available()).ok()?;
        let bits = self.bits();
        let taken = self.pool.take_contiguous(bits, pages);
        self.in_use = self.pool.in_use;
        let (start, origin) = taken?;
        self.quota.charge(owner, count);
        if self.needs_zeroing(origin) {
            for i in 0..pages {
                zero_frame(start + i * PAGE_SIZE);
            }
        }
        Some(start)
    }

    /// Returns `owner`'s frame for reuse.
    pub fn free(&mut self, frame: u64, owner: usize) {
        self.free_uncharged(frame);
        self.quota.uncharge(owner, 1);
    }

    /// [`Self::free`] for a caller that uncharges it itself.
    #[inline]
    pub fn free_uncharged(&mut self, frame: u64) {
        let bits = self.bits();
        self.pool.give_back(bits, frame);
        self.in_use = self.pool.in_use;
    }
}

fn zero_frame(frame: u64) {
    // SAFETY: the frame is identity-mapped and owned by the allocator.
    unsafe {
        core::arch::asm!("rep stosq", inout("rdi") frame => _, inout("rcx") PAGE_SIZE / 8 => _,
                         in("rax") 0u64, options(nostack, preserves_flags));
    }
}
