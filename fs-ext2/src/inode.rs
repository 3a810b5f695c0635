//! Inodes: the on-disk record, its location in the inode tables, and the
//! public view of it ([`Stat`], [`FileType`]).
//!
//! Why: only the fields of the 128-byte base record that ext2 defines are
//! decoded; writing back touches exactly those fields, so anything a newer
//! implementation stored in the rest of a large inode survives.

use crate::fs::Ext2;
use crate::le;
use crate::{BlockDevice, Error, Result};

pub(crate) const S_IFMT: u16 = 0o170000;
pub(crate) const S_IFREG: u16 = 0o100000;
pub(crate) const S_IFDIR: u16 = 0o040000;
/// `i_flags` bit of a directory with an htree index.
pub(crate) const INDEX_FL: u32 = 0x1000;

/// The kind of an inode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileType {
    /// Regular file.
    Regular,
    /// Directory.
    Directory,
    /// Character device.
    CharDevice,
    /// Block device.
    BlockDevice,
    /// Named pipe.
    Fifo,
    /// Socket.
    Socket,
    /// Symbolic link.
    Symlink,
    /// Anything else (damaged mode).
    Unknown,
}

impl FileType {
    pub(crate) fn from_mode(mode: u16) -> FileType {
        match mode & S_IFMT {
            0o100000 => FileType::Regular,
            0o040000 => FileType::Directory,
            0o020000 => FileType::CharDevice,
            0o060000 => FileType::BlockDevice,
            0o010000 => FileType::Fifo,
            0o140000 => FileType::Socket,
            0o120000 => FileType::Symlink,
            _ => FileType::Unknown,
        }
    }

    /// The directory-entry type code (`filetype` feature).
    pub(crate) fn dirent_code(self) -> u8 {
        match self {
            FileType::Regular => 1,
            FileType::Directory => 2,
            FileType::CharDevice => 3,
            FileType::BlockDevice => 4,
            FileType::Fifo => 5,
            FileType::Socket => 6,
            FileType::Symlink => 7,
            FileType::Unknown => 0,
        }
    }

    pub(crate) fn from_dirent_code(c: u8) -> FileType {
        match c {
            1 => FileType::Regular,
            2 => FileType::Directory,
            3 => FileType::CharDevice,
            4 => FileType::BlockDevice,
            5 => FileType::Fifo,
            6 => FileType::Socket,
            7 => FileType::Symlink,
            _ => FileType::Unknown,
        }
    }
}

/// What `stat` reports about an inode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stat {
    /// Inode number.
    pub ino: u32,
    /// Kind of file.
    pub kind: FileType,
    /// Full mode (type and permission bits).
    pub mode: u16,
    /// Size in bytes.
    pub size: u64,
    /// Number of hard links.
    pub links: u16,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Access, modification and change times (seconds).
    pub atime: u32,
    /// Modification time.
    pub mtime: u32,
    /// Change time.
    pub ctime: u32,
    /// Allocated space in 512-byte units (data and indirect blocks).
    pub blocks: u64,
}

/// The decoded base inode.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Inode {
    pub mode: u16,
    pub uid: u32,
    pub gid: u32,
    pub size: u64,
    pub atime: u32,
    pub ctime: u32,
    pub mtime: u32,
    pub dtime: u32,
    pub links: u16,
    /// 512-byte units.
    pub blocks: u64,
    pub flags: u32,
    pub block: [u32; 15],
    pub file_acl: u32,
}

impl Inode {
    pub(crate) fn kind(&self) -> FileType {
        FileType::from_mode(self.mode)
    }

    pub(crate) fn is_dir(&self) -> bool {
        self.mode & S_IFMT == S_IFDIR
    }

    /// Whether `block[]` holds block pointers (not device numbers or the
    /// text of a fast symlink).
    pub(crate) fn has_block_map(&self, block_size: usize) -> bool {
        match self.kind() {
            FileType::Regular | FileType::Directory => true,
            FileType::Symlink => {
                let ea = if self.file_acl != 0 { (block_size / 512) as u64 } else { 0 };
                self.blocks > ea
            }
            _ => false,
        }
    }

    fn decode(b: &[u8]) -> Inode {
        let mut block = [0u32; 15];
        for (i, p) in block.iter_mut().enumerate() {
            *p = le::u32(b, 40 + 4 * i);
        }
        let mode = le::u16(b, 0);
        let hi = if mode & S_IFMT == S_IFREG { le::u32(b, 108) as u64 } else { 0 };
        Inode {
            mode,
            uid: le::u16(b, 2) as u32 | (le::u16(b, 120) as u32) << 16,
            gid: le::u16(b, 24) as u32 | (le::u16(b, 122) as u32) << 16,
            size: le::u32(b, 4) as u64 | hi << 32,
            atime: le::u32(b, 8),
            ctime: le::u32(b, 12),
            mtime: le::u32(b, 16),
            dtime: le::u32(b, 20),
            links: le::u16(b, 26),
            blocks: le::u32(b, 28) as u64,
            flags: le::u32(b, 32),
            block,
            file_acl: le::u32(b, 104),
        }
    }

    fn encode(&self, b: &mut [u8]) {
        le::put16(b, 0, self.mode);
        le::put16(b, 2, self.uid as u16);
        le::put16(b, 120, (self.uid >> 16) as u16);
        le::put16(b, 24, self.gid as u16);
        le::put16(b, 122, (self.gid >> 16) as u16);
        le::put32(b, 4, self.size as u32);
        if self.mode & S_IFMT == S_IFREG {
            le::put32(b, 108, (self.size >> 32) as u32);
        }
        le::put32(b, 8, self.atime);
        le::put32(b, 12, self.ctime);
        le::put32(b, 16, self.mtime);
        le::put32(b, 20, self.dtime);
        le::put16(b, 26, self.links);
        le::put32(b, 28, self.blocks as u32);
        le::put32(b, 32, self.flags);
        for (i, p) in self.block.iter().enumerate() {
            le::put32(b, 40 + 4 * i, *p);
        }
        le::put32(b, 104, self.file_acl);
    }

    pub(crate) fn stat(&self, ino: u32) -> Stat {
        Stat {
            ino,
            kind: self.kind(),
            mode: self.mode,
            size: self.size,
            links: self.links,
            uid: self.uid,
            gid: self.gid,
            atime: self.atime,
            mtime: self.mtime,
            ctime: self.ctime,
            blocks: self.blocks,
        }
    }
}

impl<D: BlockDevice, const N: usize> Ext2<D, N> {
    fn inode_location(&mut self, ino: u32) -> Result<(u64, usize)> {
        if ino == 0 || ino > self.sb.inodes_count {
            return Err(Error::Corrupt("inode number out of range"));
        }
        let g = (ino - 1) / self.sb.inodes_per_group;
        let idx = ((ino - 1) % self.sb.inodes_per_group) as u64;
        let gd = self.read_gd(g)?;
        let byte = idx * self.sb.inode_size as u64;
        let bs = self.sb.block_size as u64;
        Ok((gd.inode_table as u64 + byte / bs, (byte % bs) as usize))
    }

    pub(crate) fn read_inode(&mut self, ino: u32) -> Result<Inode> {
        let (blk, o) = self.inode_location(ino)?;
        let b = self.cache.block(blk)?;
        Ok(Inode::decode(&b[o..o + 128]))
    }

    pub(crate) fn write_inode(&mut self, ino: u32, inode: &Inode) -> Result<()> {
        let (blk, o) = self.inode_location(ino)?;
        let b = self.cache.block_mut(blk)?;
        inode.encode(&mut b[o..o + 128]);
        Ok(())
    }

    /// Writes a freshly allocated inode: the whole on-disk record is cleared
    /// first (and `i_extra_isize` set for large inodes).
    pub(crate) fn init_inode(&mut self, ino: u32, inode: &Inode) -> Result<()> {
        let (blk, o) = self.inode_location(ino)?;
        let isz = self.sb.inode_size;
        let extra = if isz > 128 { self.sb.want_extra_isize.max(if isz >= 160 { 32 } else { 0 }) } else { 0 };
        let b = self.cache.block_mut(blk)?;
        b[o..o + isz].fill(0);
        if isz > 128 {
            le::put16(b, o + 128, extra);
        }
        inode.encode(&mut b[o..o + 128]);
        Ok(())
    }

    /// A directory inode, or [`Error::NotDir`].
    pub(crate) fn read_dir_inode(&mut self, ino: u32) -> Result<Inode> {
        let i = self.read_inode(ino)?;
        if !i.is_dir() {
            return Err(Error::NotDir);
        }
        Ok(i)
    }
}
