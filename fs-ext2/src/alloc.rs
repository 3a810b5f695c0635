//! Block and inode allocation: the bitmaps and the three copies of every
//! free count (bitmap, group descriptor, superblock) kept in step.
//!
//! Why one module: every change of a bitmap bit must change the counts with
//! it, or `e2fsck` reports the file system as damaged. Allocation prefers
//! the group of a goal (the inode's group for its data, the parent's group
//! for files, the emptiest group for directories) and scans bitmaps a byte
//! at a time. Freeing a block or inode that is already free is reported as
//! corruption instead of silently skewing the counts.

use crate::fs::Ext2;
use crate::{BlockDevice, Error, Result};

fn find_zero(bits: &[u8], from: u32, limit: u32) -> Option<u32> {
    let mut i = from;
    while i < limit {
        let byte = bits[(i / 8) as usize];
        if byte == 0xFF && i.is_multiple_of(8) {
            i += 8;
            continue;
        }
        if byte & (1 << (i % 8)) == 0 {
            return Some(i);
        }
        i += 1;
    }
    None
}

impl<D: BlockDevice, const N: usize> Ext2<D, N> {
    /// Allocates a block, preferably at or after `goal`. The block is not
    /// zeroed (callers get it through the cache's `block_zeroed`).
    pub(crate) fn alloc_block(&mut self, goal: u64) -> Result<u32> {
        if self.sb.free_blocks == 0 {
            return Err(Error::NoSpace);
        }
        let groups = self.sb.groups;
        let goal = goal.clamp(self.sb.first_data_block as u64, self.sb.blocks_count as u64 - 1);
        let g0 = ((goal - self.sb.first_data_block as u64) / self.sb.blocks_per_group as u64) as u32;
        for k in 0..groups {
            let g = (g0 + k) % groups;
            let mut gd = self.read_gd(g)?;
            if gd.free_blocks == 0 {
                continue;
            }
            let first = self.sb.group_first_block(g);
            let limit = self.sb.group_blocks(g);
            let start = if k == 0 { (goal - first) as u32 } else { 0 };
            let bitmap = gd.block_bitmap as u64;
            let bits = self.cache.block(bitmap)?;
            let bit = match find_zero(bits, start, limit).or_else(|| find_zero(bits, 0, start.min(limit))) {
                Some(b) => b,
                None => return Err(Error::Corrupt("group free block count disagrees with its bitmap")),
            };
            let bits = self.cache.block_mut(bitmap)?;
            bits[(bit / 8) as usize] |= 1 << (bit % 8);
            gd.free_blocks -= 1;
            self.write_gd_counts(g, &gd)?;
            self.sb.free_blocks -= 1;
            return Ok((first + bit as u64) as u32);
        }
        Err(Error::NoSpace)
    }

    /// Returns block `b` to its group.
    pub(crate) fn free_block(&mut self, b: u32) -> Result<()> {
        let b = b as u64;
        if b < self.sb.first_data_block as u64 || b >= self.sb.blocks_count as u64 {
            return Err(Error::Corrupt("freeing a block outside the file system"));
        }
        let rel = b - self.sb.first_data_block as u64;
        let g = (rel / self.sb.blocks_per_group as u64) as u32;
        let bit = (rel % self.sb.blocks_per_group as u64) as u32;
        let mut gd = self.read_gd(g)?;
        let bits = self.cache.block_mut(gd.block_bitmap as u64)?;
        let mask = 1u8 << (bit % 8);
        if bits[(bit / 8) as usize] & mask == 0 {
            return Err(Error::Corrupt("freeing a free block"));
        }
        bits[(bit / 8) as usize] &= !mask;
        gd.free_blocks = gd.free_blocks.saturating_add(1);
        self.write_gd_counts(g, &gd)?;
        self.sb.free_blocks = self.sb.free_blocks.saturating_add(1);
        self.cache.discard(b);
        Ok(())
    }

    /// Allocates an inode. Directories go to the group with the most free
    /// inodes (spreading the tree), files to `parent`'s group or the next
    /// one with room.
    pub(crate) fn alloc_inode(&mut self, parent: u32, dir: bool) -> Result<u32> {
        if self.sb.free_inodes == 0 {
            return Err(Error::NoInodes);
        }
        let groups = self.sb.groups;
        let mut g0 = (parent.saturating_sub(1) / self.sb.inodes_per_group) % groups;
        if dir {
            let mut best = (0u16, g0);
            for g in 0..groups {
                let gd = self.read_gd(g)?;
                if gd.free_inodes > best.0 && gd.free_blocks > 0 {
                    best = (gd.free_inodes, g);
                }
            }
            g0 = best.1;
        }
        for k in 0..groups {
            let g = (g0 + k) % groups;
            let mut gd = self.read_gd(g)?;
            if gd.free_inodes == 0 {
                continue;
            }
            let first_ino = g * self.sb.inodes_per_group + 1;
            // Reserved inodes are never handed out, whatever the bitmap says.
            let start = self.sb.first_ino.saturating_sub(first_ino);
            let bitmap = gd.inode_bitmap as u64;
            let bits = self.cache.block(bitmap)?;
            let Some(bit) = find_zero(bits, start, self.sb.inodes_per_group) else {
                continue;
            };
            let bits = self.cache.block_mut(bitmap)?;
            bits[(bit / 8) as usize] |= 1 << (bit % 8);
            gd.free_inodes -= 1;
            if dir {
                gd.used_dirs += 1;
            }
            self.write_gd_counts(g, &gd)?;
            self.sb.free_inodes -= 1;
            return Ok(first_ino + bit);
        }
        Err(Error::NoInodes)
    }

    /// Returns inode `ino` to its group.
    pub(crate) fn free_inode(&mut self, ino: u32, dir: bool) -> Result<()> {
        if ino == 0 || ino > self.sb.inodes_count {
            return Err(Error::Corrupt("freeing an inode out of range"));
        }
        let g = (ino - 1) / self.sb.inodes_per_group;
        let bit = (ino - 1) % self.sb.inodes_per_group;
        let mut gd = self.read_gd(g)?;
        let bits = self.cache.block_mut(gd.inode_bitmap as u64)?;
        let mask = 1u8 << (bit % 8);
        if bits[(bit / 8) as usize] & mask == 0 {
            return Err(Error::Corrupt("freeing a free inode"));
        }
        bits[(bit / 8) as usize] &= !mask;
        gd.free_inodes = gd.free_inodes.saturating_add(1);
        if dir {
            gd.used_dirs = gd.used_dirs.saturating_sub(1);
        }
        self.write_gd_counts(g, &gd)?;
        self.sb.free_inodes = self.sb.free_inodes.saturating_add(1);
        Ok(())
    }
}
