//! The superblock: parsing, the mount-time sanity checks, and writing back
//! the fields we change (free counts, write time, features).
//!
//! Why separate: this is the first line of defence against foreign or
//! damaged images. Every geometry value the rest of the crate divides by or
//! indexes with is checked here once, so later code can rely on it.

use crate::le;
use crate::{Error, Result};

pub(crate) const MAGIC: u16 = 0xEF53;

pub(crate) const INCOMPAT_FILETYPE: u32 = 0x0002;
pub(crate) const RO_COMPAT_SPARSE_SUPER: u32 = 0x0001;
pub(crate) const RO_COMPAT_LARGE_FILE: u32 = 0x0002;

const INCOMPAT_SUPPORTED: u32 = INCOMPAT_FILETYPE;
const RO_COMPAT_SUPPORTED: u32 = RO_COMPAT_SPARSE_SUPER | RO_COMPAT_LARGE_FILE;

/// The superblock fields the implementation uses.
#[derive(Clone, Debug)]
pub(crate) struct Superblock {
    pub inodes_count: u32,
    pub blocks_count: u32,
    pub free_blocks: u32,
    pub free_inodes: u32,
    pub first_data_block: u32,
    pub blocks_per_group: u32,
    pub inodes_per_group: u32,
    pub rev_level: u32,
    pub first_ino: u32,
    pub inode_size: usize,
    pub incompat: u32,
    pub ro_compat: u32,
    pub want_extra_isize: u16,
    /// Derived: bytes per block.
    pub block_size: usize,
    /// Derived: number of block groups.
    pub groups: u32,
    /// Derived: blocks of inode table per group.
    pub itable_blocks: u32,
    /// Set when `ro_compat` changed and must be written back.
    pub dirty_features: bool,
}

impl Superblock {
    /// Parses and checks the 1024 bytes of a superblock.
    pub(crate) fn parse(b: &[u8]) -> Result<Superblock> {
        if b.len() < 1024 {
            return Err(Error::Corrupt("short superblock"));
        }
        if le::u16(b, 56) != MAGIC {
            return Err(Error::BadMagic);
        }
        let log = le::u32(b, 24);
        if log > 2 {
            return Err(Error::Unsupported("block size above 4 KiB"));
        }
        let block_size = 1024usize << log;
        let rev_level = le::u32(b, 76);
        if rev_level > 1 {
            return Err(Error::Unsupported("revision above 1"));
        }
        let (first_ino, inode_size, compat_in, incompat, ro_compat) = if rev_level == 0 {
            (11, 128, 0, 0, 0)
        } else {
            (le::u32(b, 84), le::u16(b, 88) as usize, le::u32(b, 92), le::u32(b, 96), le::u32(b, 100))
        };
        let _ = compat_in;
        if incompat & !INCOMPAT_SUPPORTED != 0 {
            return Err(Error::Unsupported("unknown INCOMPAT feature"));
        }
        if ro_compat & !RO_COMPAT_SUPPORTED != 0 {
            return Err(Error::Unsupported("unknown RO_COMPAT feature (cannot write)"));
        }
        let sb = Superblock {
            inodes_count: le::u32(b, 0),
            blocks_count: le::u32(b, 4),
            free_blocks: le::u32(b, 12),
            free_inodes: le::u32(b, 16),
            first_data_block: le::u32(b, 20),
            blocks_per_group: le::u32(b, 32),
            inodes_per_group: le::u32(b, 40),
            rev_level,
            first_ino,
            inode_size,
            incompat,
            ro_compat,
            want_extra_isize: if rev_level == 0 { 0 } else { le::u16(b, 0x15E) },
            block_size,
            groups: 0,
            itable_blocks: 0,
            dirty_features: false,
        };
        sb.check()
    }

    fn check(mut self) -> Result<Superblock> {
        let bs = self.block_size as u32;
        let bits = bs * 8;
        if self.first_data_block != u32::from(bs == 1024) {
            return Err(Error::Corrupt("first data block does not match the block size"));
        }
        if self.blocks_per_group == 0 || self.blocks_per_group > bits || !self.blocks_per_group.is_multiple_of(8) {
            return Err(Error::Corrupt("bad blocks per group"));
        }
        if self.inodes_per_group == 0 || self.inodes_per_group > bits || !self.inodes_per_group.is_multiple_of(8) {
            return Err(Error::Corrupt("bad inodes per group"));
        }
        if self.inode_size < 128 || !self.inode_size.is_power_of_two() || self.inode_size > self.block_size {
            return Err(Error::Corrupt("bad inode size"));
        }
        if self.want_extra_isize as usize > self.inode_size - 128 || !self.want_extra_isize.is_multiple_of(4) {
            self.want_extra_isize = 0;
        }
        if self.blocks_count <= self.first_data_block + 1 {
            return Err(Error::Corrupt("file system too small"));
        }
        let data = self.blocks_count - self.first_data_block;
        self.groups = data.div_ceil(self.blocks_per_group);
        if self.groups as u64 * self.inodes_per_group as u64 != self.inodes_count as u64 {
            return Err(Error::Corrupt("inode count does not match the groups"));
        }
        if self.first_ino < 11 || self.first_ino >= self.inodes_count {
            return Err(Error::Corrupt("bad first inode"));
        }
        let gdt_blocks = (self.groups as u64 * 32).div_ceil(bs as u64);
        if gdt_blocks >= self.blocks_per_group as u64 {
            return Err(Error::Corrupt("group descriptor table too large"));
        }
        self.itable_blocks = (self.inodes_per_group * self.inode_size as u32).div_ceil(bs);
        Ok(self)
    }

    /// The block holding the superblock and its byte offset in it.
    pub(crate) fn location(&self) -> (u64, usize) {
        ((1024 / self.block_size) as u64, 1024 % self.block_size)
    }

    /// First block of the group descriptor table.
    pub(crate) fn gdt_block(&self) -> u64 {
        self.first_data_block as u64 + 1
    }

    /// First block of group `g`.
    pub(crate) fn group_first_block(&self, g: u32) -> u64 {
        self.first_data_block as u64 + g as u64 * self.blocks_per_group as u64
    }

    /// Number of blocks in group `g` (the last one may be short).
    pub(crate) fn group_blocks(&self, g: u32) -> u32 {
        let first = self.group_first_block(g);
        (self.blocks_count as u64 - first).min(self.blocks_per_group as u64) as u32
    }

    /// Writes the changed fields into the raw superblock `b`.
    pub(crate) fn store(&self, b: &mut [u8], now: u32) {
        le::put32(b, 12, self.free_blocks);
        le::put32(b, 16, self.free_inodes);
        le::put32(b, 48, now);
        if self.rev_level >= 1 {
            le::put32(b, 100, self.ro_compat);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn good() -> [u8; 1024] {
        let mut b = [0u8; 1024];
        le::put32(&mut b, 0, 256); // inodes
        le::put32(&mut b, 4, 8192); // blocks
        le::put32(&mut b, 20, 1); // first data block
        le::put32(&mut b, 32, 8192);
        le::put32(&mut b, 40, 256);
        le::put16(&mut b, 56, MAGIC);
        le::put32(&mut b, 76, 1);
        le::put32(&mut b, 84, 11);
        le::put16(&mut b, 88, 256);
        le::put32(&mut b, 96, INCOMPAT_FILETYPE);
        b
    }

    #[test]
    fn accepts_a_plain_superblock() {
        let sb = Superblock::parse(&good()).unwrap();
        assert_eq!((sb.block_size, sb.groups, sb.itable_blocks), (1024, 1, 64));
    }

    #[test]
    fn refuses_features_and_geometry() {
        let mut b = good();
        le::put32(&mut b, 96, 0x40); // extents
        assert!(matches!(Superblock::parse(&b), Err(Error::Unsupported(_))));
        let mut b = good();
        le::put32(&mut b, 100, 0x400); // metadata_csum
        assert!(matches!(Superblock::parse(&b), Err(Error::Unsupported(_))));
        let mut b = good();
        le::put32(&mut b, 40, 0);
        assert!(matches!(Superblock::parse(&b), Err(Error::Corrupt(_))));
        let mut b = good();
        le::put32(&mut b, 0, 300);
        assert!(matches!(Superblock::parse(&b), Err(Error::Corrupt(_))));
    }

    proptest! {
        /// Any bytes give a superblock or an error, never a panic; what is
        /// accepted has a sane geometry.
        #[test]
        fn never_panics(raw in proptest::collection::vec(any::<u8>(), 1024), pos in 0usize..128, v in any::<u32>()) {
            for mut b in [raw.clone(), good().to_vec()] {
                le::put32(&mut b, pos * 4 % 1020, v);
                if let Ok(sb) = Superblock::parse(&b) {
                    prop_assert!(sb.groups >= 1 && sb.block_size <= 4096 && sb.inode_size >= 128);
                }
            }
        }
    }
}
