//! Which physical frames are free: the bookkeeping of the kernel's frame
//! allocator, as plain logic (the kernel supplies the bitmap's memory and
//! zeroes frames itself).
//!
//! Two sources, in this order:
//!
//! 1. **Never-used frames**, handed out in address order from the usable
//!    RAM ranges, skipping reserved ranges (kernel and boot image). Our VMM
//!    hands the guest zeroed RAM, so these need no zeroing, which matters
//!    when every kernel instruction is emulated.
//! 2. **Freed frames**, one bit each in a bitmap over the allocator's
//!    range. A bitmap, not a list, because a driver restarted after long
//!    process churn needs *physically contiguous* frames for its DMA
//!    buffer: once the never-used frames are gone, only a structure that
//!    knows which free frames are neighbours can find a run. Freed frames
//!    coalesce by themselves in a bitmap.
//!
//! Cost: freeing is one bit set; taking one frame scans from a hint below
//! which every word is known to be empty, so it is amortized constant.
//! A contiguous search walks the bitmap once (it runs when a driver
//! starts, not on any IPC path).

/// Page size of the frames.
pub const FRAME_SIZE: u64 = 4096;
/// At most this many usable RAM ranges are used.
pub const MAX_RANGES: usize = 8;

/// A physical address range `start..end`.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct Span {
    /// First byte.
    pub start: u64,
    /// One past the last byte.
    pub end: u64,
}

/// Where a taken frame came from: a never-used frame is known to hold
/// what the VMM put there (zero with `viv.memzero=1`); a reused one holds
/// whatever its last owner left.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Origin {
    /// Never handed out before.
    Fresh,
    /// Freed by an earlier owner.
    Reused,
}

/// The free-frame bookkeeping. Bitmap methods take the bitmap's words as
/// an argument: the kernel keeps them in frames it takes at boot.
#[derive(Clone, Copy, Debug)]
pub struct FramePool {
    ranges: [Span; MAX_RANGES],
    count: usize,
    current: usize,
    next: u64,
    reserved: [Span; 2],
    /// The bitmap covers frames `base..base + len * FRAME_SIZE`.
    base: u64,
    len: u64,
    /// Every bitmap word below this index is zero.
    hint: usize,
    /// Frames in the bitmap.
    free: u64,
    /// Never-used frames left (what [`Self::count_fresh`] would count,
    /// kept so that the quota's reserve check costs a load).
    fresh_left: u64,
    /// Frames handed out and not given back.
    pub in_use: u64,
    /// Contiguous allocations may use freed frames (the defense of
    /// `abi::weaken::FRAME_REUSE`; off only as a negative control).
    pub reuse_for_contiguous: bool,
}

impl FramePool {
    /// No memory at all.
    pub const EMPTY: FramePool = FramePool {
        ranges: [Span { start: 0, end: 0 }; MAX_RANGES],
        count: 0,
        current: 0,
        next: 0,
        reserved: [Span { start: 0, end: 0 }; 2],
        base: 0,
        len: 0,
        hint: 0,
        free: 0,
        fresh_left: 0,
        in_use: 0,
        reuse_for_contiguous: true,
    };

    /// Frames from `ram` (page-aligned inward, below `limit` and from
    /// `low`), never touching `reserved`.
    pub fn new(ram: &[Span], reserved: [Span; 2], low: u64, limit: u64) -> FramePool {
        let mut pool = FramePool::EMPTY;
        for r in ram {
            let start = r.start.max(low).next_multiple_of(FRAME_SIZE);
            let end = r.end.min(limit) & !(FRAME_SIZE - 1);
            if start < end && pool.count < MAX_RANGES {
                pool.ranges[pool.count] = Span { start, end };
                pool.count += 1;
            }
        }
        pool.reserved = reserved;
        pool.next = if pool.count > 0 { pool.ranges[0].start } else { 0 };
        let ranges = &pool.ranges[..pool.count];
        if let (Some(lo), Some(hi)) = (ranges.iter().map(|r| r.start).min(), ranges.iter().map(|r| r.end).max()) {
            pool.base = lo;
            pool.len = (hi - lo) / FRAME_SIZE;
        }
        pool.fresh_left = pool.count_fresh();
        pool
    }

    /// The lowest address and the number of frames the allocator may ever
    /// hand out (what a per-frame table must cover).
    pub fn extent(&self) -> (u64, u64) {
        (self.base, self.len)
    }

    /// The number of `u64` words the bitmap needs.
    pub fn bitmap_words(&self) -> usize {
        self.len.div_ceil(64) as usize
    }

    /// Frames free for reuse (in the bitmap).
    pub fn free_frames(&self) -> u64 {
        self.free
    }

    /// Never-used frames left (reserved ranges excluded).
    pub fn fresh_frames(&self) -> u64 {
        self.fresh_left
    }

    /// Frames that can still be handed out: never-used and freed ones.
    #[inline]
    pub fn available(&self) -> u64 {
        self.fresh_left + self.free
    }

    /// Counts the never-used frames left, range by range.
    fn count_fresh(&self) -> u64 {
        let mut left = 0;
        for (i, r) in self.ranges[..self.count].iter().enumerate().skip(self.current) {
            let start = if i == self.current { self.next.max(r.start) } else { r.start };
            if start >= r.end {
                continue;
            }
            let mut bytes = r.end - start;
            for res in &self.reserved {
                let (lo, hi) = (res.start.max(start), res.end.min(r.end));
                if lo < hi {
                    bytes -= hi - lo;
                }
            }
            left += bytes / FRAME_SIZE;
        }
        left
    }

    /// The next never-used frame, without counting it in use (the kernel's
    /// own tables at boot).
    pub fn fresh(&mut self) -> Option<u64> {
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
                self.next = r.end.next_multiple_of(FRAME_SIZE);
                continue;
            }
            self.next += FRAME_SIZE;
            self.fresh_left -= 1;
            return Some(frame);
        }
        None
    }

    /// One frame: a never-used one while there are any, else a freed one.
    pub fn take(&mut self, bits: &mut [u64]) -> Option<(u64, Origin)> {
        let taken = match self.fresh() {
            Some(frame) => (frame, Origin::Fresh),
            None => (self.take_freed(bits)?, Origin::Reused),
        };
        self.in_use += 1;
        Some(taken)
    }

    fn take_freed(&mut self, bits: &mut [u64]) -> Option<u64> {
        if self.free == 0 {
            return None;
        }
        while self.hint < bits.len() && bits[self.hint] == 0 {
            self.hint += 1;
        }
        let word = bits.get_mut(self.hint)?;
        let bit = word.trailing_zeros();
        *word &= !(1 << bit);
        self.free -= 1;
        Some(self.frame_at(self.hint as u64 * 64 + u64::from(bit)))
    }

    /// `pages` physically contiguous frames: from the never-used ones if
    /// they still hold such a run, else the lowest run of freed frames.
    /// Returns the first frame and whether any frame was reused (the
    /// caller zeroes them).
    pub fn take_contiguous(&mut self, bits: &mut [u64], pages: u64) -> Option<(u64, Origin)> {
        if pages == 0 {
            return None;
        }
        if let Some(first) = self.take_fresh_run(bits, pages) {
            return Some((first, Origin::Fresh));
        }
        if !self.reuse_for_contiguous {
            return None;
        }
        let first = self.find_free_run(bits, pages)?;
        for i in 0..pages {
            let index = first + i;
            bits[(index / 64) as usize] &= !(1 << (index % 64));
        }
        self.free -= pages;
        self.in_use += pages;
        Some((self.frame_at(first), Origin::Reused))
    }

    /// A run of never-used frames; a run broken by a reserved range or the
    /// end of a RAM range goes to the bitmap and a new one is started.
    fn take_fresh_run(&mut self, bits: &mut [u64], pages: u64) -> Option<u64> {
        let mut start = 0;
        let mut have = 0;
        while have < pages {
            let Some(frame) = self.fresh() else {
                self.give_back_run(bits, start, have);
                return None;
            };
            if have > 0 && frame != start + have * FRAME_SIZE {
                self.give_back_run(bits, start, have);
                have = 0;
            }
            if have == 0 {
                start = frame;
            }
            have += 1;
        }
        self.in_use += pages;
        Some(start)
    }

    /// Puts never-counted frames `start..` (`pages` of them) in the bitmap.
    fn give_back_run(&mut self, bits: &mut [u64], start: u64, pages: u64) {
        for i in 0..pages {
            self.in_use += 1;
            self.give_back(bits, start + i * FRAME_SIZE);
        }
    }

    /// The bitmap index of the first of `pages` consecutive free frames.
    fn find_free_run(&self, bits: &[u64], pages: u64) -> Option<u64> {
        if self.free < pages {
            return None;
        }
        let mut run_start = 0;
        let mut run = 0;
        let mut index = (self.hint as u64) * 64;
        while index < self.len {
            let word = bits[(index / 64) as usize];
            if index.is_multiple_of(64) && (word == 0 || word == u64::MAX) {
                // A whole word at once: it ends or extends the run.
                if word == 0 {
                    run = 0;
                } else {
                    if run == 0 {
                        run_start = index;
                    }
                    run += 64;
                }
                index += 64;
            } else {
                if word & 1 << (index % 64) != 0 {
                    if run == 0 {
                        run_start = index;
                    }
                    run += 1;
                } else {
                    run = 0;
                }
                index += 1;
            }
            if run >= pages {
                return Some(run_start);
            }
        }
        None
    }

    /// Returns `frame` (handed out by this pool) for reuse.
    pub fn give_back(&mut self, bits: &mut [u64], frame: u64) {
        let index = (frame - self.base) / FRAME_SIZE;
        let word = (index / 64) as usize;
        debug_assert!(bits[word] & 1 << (index % 64) == 0, "frame {frame:#x} freed twice");
        bits[word] |= 1 << (index % 64);
        self.hint = self.hint.min(word);
        self.free += 1;
        self.in_use -= 1;
    }

    fn frame_at(&self, index: u64) -> u64 {
        self.base + index * FRAME_SIZE
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;
    use std::vec;
    use std::vec::Vec;

    const MIB: u64 = 1 << 20;

    fn pool(frames: u64) -> (FramePool, Vec<u64>) {
        let ram = [Span { start: MIB, end: MIB + frames * FRAME_SIZE }];
        let pool = FramePool::new(&ram, [Span::default(); 2], MIB, 1 << 30);
        let words = pool.bitmap_words();
        (pool, vec![0; words])
    }

    #[test]
    fn fresh_frames_come_first_then_freed_ones() {
        let (mut p, mut bits) = pool(4);
        assert_eq!(p.fresh_frames(), 4);
        let taken: Vec<_> = (0..4).map(|_| p.take(&mut bits).unwrap()).collect();
        assert_eq!(p.fresh_frames(), 0);
        assert!(taken.iter().all(|&(_, o)| o == Origin::Fresh));
        assert_eq!(p.take(&mut bits), None);
        p.give_back(&mut bits, taken[2].0);
        assert_eq!(p.take(&mut bits), Some((taken[2].0, Origin::Reused)));
        assert_eq!(p.in_use, 4);
    }

    #[test]
    fn after_churn_a_contiguous_run_is_found_among_freed_frames() {
        let (mut p, mut bits) = pool(64);
        let frames: Vec<u64> = (0..64).map(|_| p.take(&mut bits).unwrap().0).collect();
        // Free every other frame, then a block of 8 in the middle.
        for f in frames.iter().step_by(2) {
            p.give_back(&mut bits, *f);
        }
        assert_eq!(p.take_contiguous(&mut bits, 2), None, "only single frames are free");
        for f in &frames[33..41] {
            if (f - MIB) / FRAME_SIZE % 2 == 1 {
                p.give_back(&mut bits, *f);
            }
        }
        let (first, origin) = p.take_contiguous(&mut bits, 8).unwrap();
        assert_eq!(origin, Origin::Reused);
        // Frame 32 was free already: the run starts there.
        assert_eq!(first, frames[32]);
        // The weakened allocator does not look at freed frames.
        let in_use = p.in_use;
        for i in 0..8 {
            p.give_back(&mut bits, first + i * FRAME_SIZE);
        }
        p.reuse_for_contiguous = false;
        assert_eq!(p.take_contiguous(&mut bits, 8), None);
        assert_eq!(p.in_use, in_use - 8);
    }

    #[test]
    fn a_fresh_run_broken_by_a_reserved_range_is_not_lost() {
        let ram = [Span { start: MIB, end: MIB + 16 * FRAME_SIZE }];
        let reserved = [Span { start: MIB + 3 * FRAME_SIZE, end: MIB + 4 * FRAME_SIZE }, Span::default()];
        let mut p = FramePool::new(&ram, reserved, MIB, 1 << 30);
        let mut bits = vec![0; p.bitmap_words()];
        let (first, origin) = p.take_contiguous(&mut bits, 5).unwrap();
        assert_eq!((first, origin), (MIB + 4 * FRAME_SIZE, Origin::Fresh));
        assert_eq!((p.free_frames(), p.in_use), (3, 5));
        assert_eq!(p.fresh_frames(), 7);
        let (run, origin) = p.take_contiguous(&mut bits, 3).unwrap_or((0, Origin::Fresh));
        assert_eq!((run, origin), (MIB + 9 * FRAME_SIZE, Origin::Fresh));
        assert_eq!(p.fresh_frames(), 4);
        // Now 4 fresh frames are left, then the three freed ones below.
        assert_eq!(p.take_contiguous(&mut bits, 5), None);
        assert_eq!(p.take_contiguous(&mut bits, 3), Some((MIB, Origin::Reused)));
    }

    proptest! {
        /// Any sequence of single and contiguous takes and gives back
        /// never hands out a frame twice, keeps the counts, and finds a run
        /// whenever one exists among the free frames.
        #[test]
        fn frames_are_never_handed_out_twice(ops in proptest::collection::vec((0u8..4, 0usize..64, 1u64..6), 1..200)) {
            let (mut p, mut bits) = pool(48);
            let mut owned: Vec<u64> = Vec::new();
            let all: BTreeSet<u64> = (0..48).map(|i| MIB + i * FRAME_SIZE).collect();
            for (op, pick, pages) in ops {
                match op {
                    0 | 1 => {
                        if let Some((f, _)) = p.take(&mut bits) {
                            prop_assert!(!owned.contains(&f));
                            owned.push(f);
                        } else {
                            prop_assert_eq!(owned.len(), 48);
                        }
                    }
                    2 => {
                        let free: BTreeSet<u64> = all.iter().copied().filter(|f| !owned.contains(f)).collect();
                        let exists = free.iter().any(|&f| (0..pages).all(|i| free.contains(&(f + i * FRAME_SIZE))));
                        match p.take_contiguous(&mut bits, pages) {
                            Some((first, _)) => {
                                for i in 0..pages {
                                    let f = first + i * FRAME_SIZE;
                                    prop_assert!(free.contains(&f));
                                    owned.push(f);
                                }
                            }
                            None => prop_assert!(!exists, "a run of {} existed", pages),
                        }
                    }
                    _ if !owned.is_empty() => {
                        let f = owned.swap_remove(pick % owned.len());
                        p.give_back(&mut bits, f);
                    }
                    _ => {}
                }
                prop_assert_eq!(p.in_use, owned.len() as u64);
                prop_assert_eq!(p.fresh_frames(), p.count_fresh());
                prop_assert_eq!(p.available(), 48 - owned.len() as u64);
            }
        }
    }
}
