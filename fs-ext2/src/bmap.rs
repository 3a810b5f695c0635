//! Block mapping: logical block of a file → physical block, through the
//! twelve direct pointers and the single-, double- and triple-indirect
//! trees; allocation of missing blocks on write; freeing on truncate.
//!
//! Why: this is the classic ext2 map and the only place that knows its
//! shape. A zero pointer is a hole (reads as zeros). Pointers read from disk
//! are checked against the file system's bounds before use. Every block is
//! linked into the inode (or its parent indirect block) as soon as it is
//! allocated and `i_blocks` counts it, so a write that runs out of space
//! half-way still leaves a consistent file system.

use crate::fs::Ext2;
use crate::inode::Inode;
use crate::{BlockDevice, Error, Result};

/// Direct pointers in an inode.
const DIRECT: u64 = 12;

impl<D: BlockDevice, const N: usize> Ext2<D, N> {
    fn per_block(&self) -> u64 {
        (self.sb.block_size / 4) as u64
    }

    /// Number of logical blocks the map can address.
    pub(crate) fn max_blocks(&self) -> u64 {
        let p = self.per_block();
        DIRECT + p + p * p + p * p * p
    }

    /// Root slot in `i_block`, tree depth and the index at each level.
    fn path(&self, lblk: u64) -> Result<(usize, usize, [usize; 3])> {
        let p = self.per_block();
        if lblk < DIRECT {
            return Ok((lblk as usize, 0, [0; 3]));
        }
        let mut l = lblk - DIRECT;
        if l < p {
            return Ok((12, 1, [l as usize, 0, 0]));
        }
        l -= p;
        if l < p * p {
            return Ok((13, 2, [(l / p) as usize, (l % p) as usize, 0]));
        }
        l -= p * p;
        if l < p * p * p {
            return Ok((14, 3, [(l / (p * p)) as usize, ((l / p) % p) as usize, (l % p) as usize]));
        }
        Err(Error::FileTooLarge)
    }

    fn check_ptr(&self, b: u32) -> Result<u64> {
        if b < self.sb.first_data_block || b >= self.sb.blocks_count {
            return Err(Error::Corrupt("block pointer outside the file system"));
        }
        Ok(b as u64)
    }

    /// The physical block of logical block `lblk`, or 0 for a hole.
    pub(crate) fn bmap(&mut self, inode: &Inode, lblk: u64) -> Result<u32> {
        let (root, depth, idx) = self.path(lblk)?;
        let mut b = inode.block[root];
        for &i in idx.iter().take(depth) {
            if b == 0 {
                return Ok(0);
            }
            let blk = self.check_ptr(b)?;
            b = self.cache.read_u32(blk, i)?;
        }
        if b != 0 {
            self.check_ptr(b)?;
        }
        Ok(b)
    }

    fn alloc_linked(&mut self, inode: &mut Inode, goal: u64) -> Result<u32> {
        let sectors = (self.sb.block_size / 512) as u64;
        if inode.blocks + sectors > u32::MAX as u64 {
            return Err(Error::FileTooLarge);
        }
        let b = self.alloc_block(goal)?;
        inode.blocks += sectors;
        Ok(b)
    }

    /// Like [`Self::bmap`] but allocates what is missing. Returns the block
    /// and whether the data block is new (its contents are then undefined:
    /// the caller zeroes or overwrites it). `goal` steers allocation.
    pub(crate) fn bmap_alloc(&mut self, inode: &mut Inode, lblk: u64, goal: u64) -> Result<(u32, bool)> {
        let (root, depth, idx) = self.path(lblk)?;
        let mut fresh = false;
        let mut b = inode.block[root];
        if b == 0 {
            b = self.alloc_linked(inode, goal)?;
            inode.block[root] = b;
            if depth > 0 {
                self.cache.block_zeroed(b as u64)?;
            }
            fresh = true;
        }
        for (level, &i) in idx.iter().take(depth).enumerate() {
            let parent = self.check_ptr(b)?;
            b = self.cache.read_u32(parent, i)?;
            fresh = false;
            if b == 0 {
                b = self.alloc_linked(inode, parent + 1)?;
                self.cache.write_u32(parent, i, b)?;
                if level + 1 < depth {
                    self.cache.block_zeroed(b as u64)?;
                }
                fresh = true;
            }
        }
        self.check_ptr(b)?;
        Ok((b, fresh))
    }

    /// Frees the part of the subtree rooted at `blk` (of `depth` levels of
    /// indirection) that maps logical blocks `start ..` relative to the
    /// subtree. Returns true when `blk` itself was freed (`start == 0`).
    fn free_subtree(&mut self, blk: u32, depth: u32, start: u64, freed: &mut u64) -> Result<bool> {
        let b = self.check_ptr(blk)?;
        if depth > 0 {
            let p = self.per_block();
            let span = p.pow(depth - 1);
            let first = start / span;
            for i in first..p {
                let c = self.cache.read_u32(b, i as usize)?;
                if c == 0 {
                    continue;
                }
                let cs = if i == first { start - i * span } else { 0 };
                let gone = self.free_subtree(c, depth - 1, cs, freed)?;
                if gone && start != 0 {
                    self.cache.write_u32(b, i as usize, 0)?;
                }
            }
        }
        if start == 0 {
            self.free_block(blk)?;
            *freed += 1;
            return Ok(true);
        }
        Ok(false)
    }

    /// Frees every block (data and indirect) mapping logical blocks at or
    /// beyond `keep`, updating `i_block` and `i_blocks`.
    pub(crate) fn free_blocks_from(&mut self, inode: &mut Inode, keep: u64) -> Result<()> {
        let p = self.per_block();
        let mut freed = 0u64;
        let mut result = Ok(());
        for root in 0..15usize {
            let (base, depth, span) = match root {
                0..=11 => (root as u64, 0, 1),
                12 => (DIRECT, 1, p),
                13 => (DIRECT + p, 2, p * p),
                _ => (DIRECT + p + p * p, 3, p * p * p),
            };
            let b = inode.block[root];
            if b == 0 || keep >= base + span {
                continue;
            }
            let start = keep.saturating_sub(base);
            match self.free_subtree(b, depth, start, &mut freed) {
                Ok(true) => inode.block[root] = 0,
                Ok(false) => {}
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        let sectors = (self.sb.block_size / 512) as u64;
        inode.blocks = inode.blocks.saturating_sub(freed * sectors);
        result
    }
}
