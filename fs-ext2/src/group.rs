//! Block-group descriptors: where each group keeps its bitmaps and inode
//! table, and the group's free counts.
//!
//! Why: descriptors are read and updated through the block cache (no copy of
//! the table is kept, so the number of groups is not limited by a fixed
//! array), and they are validated once at mount so that bitmap and inode
//! table addresses can be trusted afterwards.

use crate::fs::Ext2;
use crate::le;
use crate::{BlockDevice, Error, Result};

/// One group descriptor (32 bytes on disk).
#[derive(Clone, Copy, Debug)]
pub(crate) struct GroupDesc {
    pub block_bitmap: u32,
    pub inode_bitmap: u32,
    pub inode_table: u32,
    pub free_blocks: u16,
    pub free_inodes: u16,
    pub used_dirs: u16,
}

impl<D: BlockDevice, const N: usize> Ext2<D, N> {
    fn gd_location(&self, g: u32) -> (u64, usize) {
        let byte = g as u64 * 32;
        let bs = self.sb.block_size as u64;
        (self.sb.gdt_block() + byte / bs, (byte % bs) as usize)
    }

    pub(crate) fn read_gd(&mut self, g: u32) -> Result<GroupDesc> {
        if g >= self.sb.groups {
            return Err(Error::Corrupt("group number out of range"));
        }
        let (blk, o) = self.gd_location(g);
        let b = self.cache.block(blk)?;
        Ok(GroupDesc {
            block_bitmap: le::u32(b, o),
            inode_bitmap: le::u32(b, o + 4),
            inode_table: le::u32(b, o + 8),
            free_blocks: le::u16(b, o + 12),
            free_inodes: le::u16(b, o + 14),
            used_dirs: le::u16(b, o + 16),
        })
    }

    pub(crate) fn write_gd_counts(&mut self, g: u32, gd: &GroupDesc) -> Result<()> {
        let (blk, o) = self.gd_location(g);
        let b = self.cache.block_mut(blk)?;
        le::put16(b, o + 12, gd.free_blocks);
        le::put16(b, o + 14, gd.free_inodes);
        le::put16(b, o + 16, gd.used_dirs);
        Ok(())
    }

    /// The blocks of group `g` that hold its bitmaps and inode table:
    /// `first..end`, from the lower of its two bitmaps to the end of the
    /// table or the higher bitmap. A file server reads its metadata
    /// there (a few blocks of it per path it resolves, per file it
    /// creates), so it may read the area ahead in larger requests.
    pub fn group_metadata(&mut self, g: u32) -> Result<(u64, u64)> {
        let gd = self.read_gd(g)?;
        let first = gd.block_bitmap.min(gd.inode_bitmap).min(gd.inode_table) as u64;
        let end = (gd.inode_table as u64 + self.sb.itable_blocks as u64)
            .max(gd.block_bitmap as u64 + 1)
            .max(gd.inode_bitmap as u64 + 1);
        Ok((first, end))
    }

    /// Checks every descriptor and recomputes the superblock's free counts
    /// from them (as Linux does at mount).
    pub(crate) fn check_groups(&mut self) -> Result<()> {
        let (mut fb, mut fi) = (0u64, 0u64);
        for g in 0..self.sb.groups {
            let gd = self.read_gd(g)?;
            let first = self.sb.group_first_block(g);
            let end = first + self.sb.group_blocks(g) as u64;
            let inside = |b: u32| (b as u64) >= first && (b as u64) < end;
            if !inside(gd.block_bitmap) || !inside(gd.inode_bitmap) || !inside(gd.inode_table) {
                return Err(Error::Corrupt("group metadata outside its group"));
            }
            if gd.inode_table as u64 + self.sb.itable_blocks as u64 > end {
                return Err(Error::Corrupt("inode table beyond its group"));
            }
            if gd.free_blocks as u32 > self.sb.group_blocks(g) || gd.free_inodes as u32 > self.sb.inodes_per_group {
                return Err(Error::Corrupt("group free counts too large"));
            }
            fb += gd.free_blocks as u64;
            fi += gd.free_inodes as u64;
        }
        self.sb.free_blocks = fb as u32;
        self.sb.free_inodes = fi as u32;
        Ok(())
    }
}
