//! A read-write ext2 file system for Vivarium's file-system server.
//!
//! Why a crate of its own: the ext2 logic is plain computation over blocks,
//! so it is written once, compiled into the guest (`x86_64-unknown-none`,
//! `no_std`, no heap, no `unsafe`) and tested on the host against the real
//! e2fsprogs (`mke2fs` makes the images, `e2fsck -fn` judges what we wrote,
//! `debugfs` reads it back). The guest server only supplies a
//! [`BlockDevice`] and turns requests into calls on [`Ext2`].
//!
//! Supported: revision 0 and 1 images with 1, 2 and 4 KiB blocks; the
//! `filetype` INCOMPAT feature, the `sparse_super` and `large_file`
//! RO_COMPAT features; every COMPAT feature is tolerated (they are safe to
//! ignore by definition; directories with an `htree` index lose the index
//! flag when we modify them, which leaves a valid linear directory). Any
//! other INCOMPAT or RO_COMPAT feature is refused at mount, as is any image
//! that fails the superblock and group-descriptor checks.
//!
//! Layout of the crate (each module says why it exists):
//! [`cache`] block cache, `superblock`, `group` descriptors, `inode`s,
//! `alloc` (bitmaps and free counts), `bmap` (logical → physical blocks),
//! `dir` (directory entries), `file` (read/write/truncate), `fs` (the
//! public operations).
#![no_std]
#![forbid(unsafe_code)]

#[cfg(test)]
extern crate std;

mod alloc;
mod bmap;
pub mod cache;
mod dir;
mod error;
mod file;
mod fs;
mod group;
mod inode;
mod superblock;

pub use cache::{CacheStats, MAX_BLOCK};
pub use dir::DirEntry;
pub use error::{Error, Result};
pub use fs::{Ext2, FsStats, ROOT_INO};
pub use inode::{FileType, Stat};

/// A device of fixed-size blocks (a disk, a partition, an image file).
///
/// `block_size()` must be a power of two no larger than 1024 (512 for a
/// disk, 1024 for an image file). `read_block(n, buf)` and
/// `write_block(n, buf)` transfer `buf.len() / block_size()` consecutive
/// blocks starting at block `n`; `buf.len()` is always a multiple of
/// `block_size()`.
pub trait BlockDevice {
    /// The device's error type (only its existence is reported, as
    /// [`Error::Io`]).
    type Error;
    /// Bytes per device block.
    fn block_size(&self) -> usize;
    /// Number of device blocks.
    fn num_blocks(&self) -> u64;
    /// Reads blocks `n ..` into `buf`.
    fn read_block(&mut self, n: u64, buf: &mut [u8]) -> core::result::Result<(), Self::Error>;
    /// Writes `buf` to blocks `n ..`.
    fn write_block(&mut self, n: u64, buf: &[u8]) -> core::result::Result<(), Self::Error>;
}

/// Little-endian field access on byte slices (all ext2 fields are LE).
/// Offsets come from the format definition, always inside the slice the
/// caller checked.
pub(crate) mod le {
    pub fn u16(b: &[u8], o: usize) -> u16 {
        u16::from_le_bytes([b[o], b[o + 1]])
    }
    pub fn u32(b: &[u8], o: usize) -> u32 {
        u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]])
    }
    pub fn put16(b: &mut [u8], o: usize, v: u16) {
        b[o..o + 2].copy_from_slice(&v.to_le_bytes());
    }
    pub fn put32(b: &mut [u8], o: usize, v: u32) {
        b[o..o + 4].copy_from_slice(&v.to_le_bytes());
    }
}
