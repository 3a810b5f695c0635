//! Walking a guest stack by its frame-pointer chain.
//!
//! The guest is built with frame pointers (`-C force-frame-pointers=yes`),
//! so every function's frame starts with the caller's RBP and, above it,
//! the return address: `[rbp] = caller's rbp`, `[rbp + 8] = return
//! address`. The chain is guest memory, so every step is checked: the
//! frame pointer must be 8-aligned, inside the allowed range and
//! translatable, and strictly above the previous one (stacks grow down,
//! so a caller's frame is always higher); with at most [`MAX_DEPTH`]
//! frames, a cycle or garbage ends the walk instead of looping.

use super::paging::{read_virt_u64, PhysMemory};

/// Most frames one walk returns.
pub const MAX_DEPTH: usize = 128;

/// Where the walk ended, besides the frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Walk {
    /// The last frame pointer read that left `range` (e.g. the user RBP a
    /// kernel entry saved); `None` when the chain ended otherwise.
    pub left_range: Option<u64>,
}

/// The frames of a stack: `pc` first, then return addresses, innermost
/// first, following the chain from `fp` while the frame pointers lie in
/// `range` (half-open). `first_return`: a return address the caller knows
/// to be the first one (a leaf that has not pushed RBP yet), put before
/// the chain's.
pub fn walk(
    mem: &impl PhysMemory,
    cr3: u64,
    pc: u64,
    fp: u64,
    first_return: Option<u64>,
    range: (u64, u64),
) -> (Vec<u64>, Walk) {
    let mut frames = vec![pc];
    frames.extend(first_return);
    let mut fp = fp;
    let mut left_range = None;
    while frames.len() < MAX_DEPTH {
        if fp == 0 || !fp.is_multiple_of(8) {
            break;
        }
        let Some(above) = fp.checked_add(8) else { break };
        if !(range.0..range.1).contains(&fp) || !(range.0..range.1).contains(&above) {
            left_range = Some(fp);
            break;
        }
        let (Some(next), Some(ret)) = (read_virt_u64(mem, cr3, fp), read_virt_u64(mem, cr3, above)) else { break };
        if ret == 0 {
            break;
        }
        frames.push(ret);
        if next <= fp && (range.0..range.1).contains(&next) {
            break; // a cycle or a chain running downwards: garbage
        }
        fp = next;
    }
    (frames, Walk { left_range })
}

#[cfg(test)]
mod tests {
    use super::super::paging::fake::FakeMemory;
    use super::*;

    const CR3: u64 = 0x1000;
    const STACK: u64 = 0x4000_0000;
    const RANGE: (u64, u64) = (0x4000_0000, 0x8000_0000);

    /// A stack page at STACK (physical 0x80_0000).
    fn memory() -> FakeMemory {
        let mut mem = FakeMemory::default();
        let mut tables = 0x10_0000;
        mem.map(CR3, STACK, 0x80_0000, &mut tables);
        mem
    }

    fn frame(mem: &mut FakeMemory, fp: u64, next: u64, ret: u64) {
        mem.0.insert(0x80_0000 + (fp - STACK), next);
        mem.0.insert(0x80_0000 + (fp - STACK) + 8, ret);
    }

    #[test]
    fn a_chain_is_followed_to_its_end() {
        let mut mem = memory();
        frame(&mut mem, STACK + 0x100, STACK + 0x200, 0x4000_1111);
        frame(&mut mem, STACK + 0x200, STACK + 0x300, 0x4000_2222);
        frame(&mut mem, STACK + 0x300, 0, 0x4000_3333);
        let (frames, end) = walk(&mem, CR3, 0x4000_0042, STACK + 0x100, None, RANGE);
        assert_eq!(frames, vec![0x4000_0042, 0x4000_1111, 0x4000_2222, 0x4000_3333]);
        assert_eq!(end.left_range, None);
        let (frames, _) = walk(&mem, CR3, 0x7FFF_F001, STACK + 0x100, Some(0x4000_0999), RANGE);
        assert_eq!(frames[..3], [0x7FFF_F001, 0x4000_0999, 0x4000_1111]);
    }

    #[test]
    fn leaving_the_range_is_reported() {
        let mut mem = memory();
        frame(&mut mem, STACK + 0x100, 0x20_0000, 0x4000_1111);
        let (frames, end) = walk(&mem, CR3, 1, STACK + 0x100, None, RANGE);
        assert_eq!(frames, vec![1, 0x4000_1111]);
        assert_eq!(end.left_range, Some(0x20_0000));
    }

    #[test]
    fn cycles_garbage_and_unmapped_frames_end_the_walk() {
        let mut mem = memory();
        // A frame pointing at itself, one pointing down, a misaligned one.
        frame(&mut mem, STACK + 0x100, STACK + 0x100, 0x4000_1111);
        assert_eq!(walk(&mem, CR3, 1, STACK + 0x100, None, RANGE).0.len(), 2);
        frame(&mut mem, STACK + 0x200, STACK + 0x80, 0x4000_2222);
        assert_eq!(walk(&mem, CR3, 1, STACK + 0x200, None, RANGE).0.len(), 2);
        assert_eq!(walk(&mem, CR3, 1, STACK + 0x101, None, RANGE).0, vec![1]);
        // Unmapped, non-canonical, the top of the address space.
        assert_eq!(walk(&mem, CR3, 1, STACK + 0x5000, None, RANGE).0, vec![1]);
        let everything = (0, u64::MAX);
        for fp in [0x0000_8000_0000_0000u64, 0xFFFF_FFFF_FFFF_FFF8, u64::MAX - 7] {
            assert_eq!(walk(&mem, CR3, 1, fp, None, everything).0, vec![1]);
        }
        // A chain climbing through every word of the page stops within
        // the page and within MAX_DEPTH.
        for i in 0..512u64 {
            let fp = STACK + i * 8;
            mem.0.insert(0x80_0000 + i * 8, fp + 8);
        }
        let (frames, _) = walk(&mem, CR3, 1, STACK, None, RANGE);
        assert!(frames.len() <= MAX_DEPTH);
    }
}
