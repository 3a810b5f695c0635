//! Directories: the linear list of variable-length entries ext2 keeps in
//! each directory block, and the operations on it (lookup, insert, remove,
//! retarget, iterate).
//!
//! Why: entries are parsed and checked in one place (`entry_at`), so a
//! damaged `rec_len` or `name_len` is an error and never a slice out of
//! bounds. Insertion reuses the slack at the end of an entry or a cleared
//! entry, and appends a block when the directory is full; removal merges an
//! entry into its predecessor (or clears the inode number of the first entry
//! of a block), as Linux does, so `e2fsck` sees what it expects.

use crate::fs::Ext2;
use crate::inode::{FileType, Inode, INDEX_FL};
use crate::le;
use crate::superblock::INCOMPAT_FILETYPE;
use crate::{BlockDevice, Error, Result};

/// One entry returned by [`Ext2::read_dir`].
#[derive(Clone, Copy, Debug)]
pub struct DirEntry {
    /// Inode number.
    pub ino: u32,
    /// Type from the entry (the `filetype` feature), or `Unknown` without it.
    pub kind: FileType,
    name: [u8; 255],
    name_len: u8,
}

impl DirEntry {
    /// The name (1 to 255 bytes, never containing `/` or NUL on a sane disk).
    pub fn name(&self) -> &[u8] {
        &self.name[..self.name_len as usize]
    }
}

#[derive(Clone, Copy)]
struct Raw {
    ino: u32,
    rec_len: usize,
    name_len: usize,
    ftype: u8,
}

fn rec_size(name_len: usize) -> usize {
    (8 + name_len + 3) & !3
}

fn entry_at(b: &[u8], off: usize) -> Result<Raw> {
    if off + 8 > b.len() {
        return Err(Error::Corrupt("directory entry header past block end"));
    }
    let rec_len = le::u16(b, off + 4) as usize;
    let name_len = b[off + 6] as usize;
    if rec_len < 8 || !rec_len.is_multiple_of(4) || off + rec_len > b.len() || 8 + name_len > rec_len {
        return Err(Error::Corrupt("bad directory entry"));
    }
    Ok(Raw { ino: le::u32(b, off), rec_len, name_len, ftype: b[off + 7] })
}

fn put_entry(b: &mut [u8], off: usize, ino: u32, rec_len: usize, name: &[u8], ftype: u8) {
    le::put32(b, off, ino);
    le::put16(b, off + 4, rec_len as u16);
    b[off + 6] = name.len() as u8;
    b[off + 7] = ftype;
    b[off + 8..off + 8 + name.len()].copy_from_slice(name);
}

/// Where a found entry lives.
pub(crate) struct Slot {
    pub blk: u64,
    pub off: usize,
    pub prev: Option<usize>,
    pub ino: u32,
}

/// Checks a name for use as a new directory entry.
pub(crate) fn check_name(name: &[u8]) -> Result<()> {
    if name.len() > 255 {
        return Err(Error::NameTooLong);
    }
    if name.is_empty() || name == b"." || name == b".." || name.iter().any(|&c| c == b'/' || c == 0) {
        return Err(Error::Invalid);
    }
    Ok(())
}

impl<D: BlockDevice, const N: usize> Ext2<D, N> {
    fn dir_blocks(&self, dir: &Inode) -> Result<u64> {
        let bs = self.sb.block_size as u64;
        if !dir.size.is_multiple_of(bs) {
            return Err(Error::Corrupt("directory size not a multiple of the block size"));
        }
        Ok(dir.size / bs)
    }

    fn dir_block(&mut self, dir: &Inode, lblk: u64) -> Result<u64> {
        match self.bmap(dir, lblk)? {
            0 => Err(Error::Corrupt("hole in a directory")),
            b => Ok(b as u64),
        }
    }

    fn ftype_code(&self, kind: FileType) -> u8 {
        if self.sb.incompat & INCOMPAT_FILETYPE != 0 {
            kind.dirent_code()
        } else {
            0
        }
    }

    /// Finds `name` in directory `dir`.
    pub(crate) fn dir_find(&mut self, dir: &Inode, name: &[u8]) -> Result<Option<Slot>> {
        let has_ft = self.sb.incompat & INCOMPAT_FILETYPE != 0;
        for lblk in 0..self.dir_blocks(dir)? {
            let blk = self.dir_block(dir, lblk)?;
            let b = self.cache.block(blk)?;
            let (mut off, mut prev) = (0, None);
            while off < b.len() {
                let e = entry_at(b, off)?;
                let nl = if has_ft { e.name_len } else { e.name_len | (e.ftype as usize) << 8 };
                if e.ino != 0 && nl == name.len() && &b[off + 8..off + 8 + e.name_len] == name {
                    return Ok(Some(Slot { blk, off, prev, ino: e.ino }));
                }
                prev = Some(off);
                off += e.rec_len;
            }
        }
        Ok(None)
    }

    /// Adds entry `name` → `ino` to directory `dir_ino` (the name must not
    /// exist). Grows the directory by a block when no entry has room.
    pub(crate) fn dir_add(&mut self, dir_ino: u32, name: &[u8], ino: u32, kind: FileType) -> Result<()> {
        let mut dir = self.read_dir_inode(dir_ino)?;
        let need = rec_size(name.len());
        let ft = self.ftype_code(kind);
        let nblocks = self.dir_blocks(&dir)?;
        let mut placed = false;
        'blocks: for lblk in 0..nblocks {
            let blk = self.dir_block(&dir, lblk)?;
            let b = self.cache.block(blk)?;
            let mut off = 0;
            while off < b.len() {
                let e = entry_at(b, off)?;
                let used = if e.ino == 0 { 0 } else { rec_size(e.name_len) };
                if e.rec_len >= used + need {
                    let b = self.cache.block_mut(blk)?;
                    if used == 0 {
                        put_entry(b, off, ino, e.rec_len, name, ft);
                    } else {
                        le::put16(b, off + 4, used as u16);
                        put_entry(b, off + used, ino, e.rec_len - used, name, ft);
                    }
                    placed = true;
                    break 'blocks;
                }
                off += e.rec_len;
            }
        }
        if !placed {
            let bs = self.sb.block_size;
            let goal = match nblocks {
                0 => self.inode_goal(dir_ino),
                n => self.bmap(&dir, n - 1)? as u64 + 1,
            };
            let res = self.bmap_alloc(&mut dir, nblocks, goal);
            let (blk, _) = match res {
                Ok(r) => r,
                Err(e) => {
                    // Indirect blocks allocated before the failure stay
                    // linked; record them.
                    self.write_inode(dir_ino, &dir)?;
                    return Err(e);
                }
            };
            let b = self.cache.block_zeroed(blk as u64)?;
            put_entry(b, 0, ino, bs, name, ft);
            dir.size += bs as u64;
        }
        dir.mtime = self.now;
        dir.ctime = self.now;
        dir.flags &= !INDEX_FL;
        self.write_inode(dir_ino, &dir)
    }

    /// Removes entry `name` from directory `dir_ino`; returns its inode.
    pub(crate) fn dir_remove(&mut self, dir_ino: u32, name: &[u8]) -> Result<u32> {
        let mut dir = self.read_dir_inode(dir_ino)?;
        let s = self.dir_find(&dir, name)?.ok_or(Error::NotFound)?;
        let b = self.cache.block_mut(s.blk)?;
        match s.prev {
            Some(p) => {
                let merged = le::u16(b, p + 4) as usize + le::u16(b, s.off + 4) as usize;
                le::put16(b, p + 4, merged as u16);
            }
            None => le::put32(b, s.off, 0),
        }
        dir.mtime = self.now;
        dir.ctime = self.now;
        dir.flags &= !INDEX_FL;
        self.write_inode(dir_ino, &dir)?;
        Ok(s.ino)
    }

    /// Points the existing entry `name` of `dir_ino` at `ino`.
    pub(crate) fn dir_retarget(&mut self, dir_ino: u32, name: &[u8], ino: u32, kind: FileType) -> Result<()> {
        let mut dir = self.read_dir_inode(dir_ino)?;
        let s = self.dir_find(&dir, name)?.ok_or(Error::NotFound)?;
        let ft = self.ftype_code(kind);
        let b = self.cache.block_mut(s.blk)?;
        le::put32(b, s.off, ino);
        if ft != 0 {
            b[s.off + 7] = ft;
        }
        dir.mtime = self.now;
        dir.ctime = self.now;
        dir.flags &= !INDEX_FL;
        self.write_inode(dir_ino, &dir)
    }

    /// Whether a directory holds nothing but `.` and `..`.
    pub(crate) fn dir_is_empty(&mut self, dir: &Inode) -> Result<bool> {
        for lblk in 0..self.dir_blocks(dir)? {
            let blk = self.dir_block(dir, lblk)?;
            let b = self.cache.block(blk)?;
            let mut off = 0;
            while off < b.len() {
                let e = entry_at(b, off)?;
                let name = &b[off + 8..off + 8 + e.name_len];
                if e.ino != 0 && name != b"." && name != b".." {
                    return Ok(false);
                }
                off += e.rec_len;
            }
        }
        Ok(true)
    }

    /// Writes the first block of a new directory (`.` and `..`).
    pub(crate) fn dir_init_block(&mut self, blk: u32, ino: u32, parent: u32) -> Result<()> {
        let ft = self.ftype_code(FileType::Directory);
        let bs = self.sb.block_size;
        let b = self.cache.block_zeroed(blk as u64)?;
        put_entry(b, 0, ino, 12, b".", ft);
        put_entry(b, 12, parent, bs - 12, b"..", ft);
        Ok(())
    }

    /// The entry at or after byte position `pos` of directory `ino`, with
    /// the position of the following one; `None` at the end. Start with
    /// `pos = 0` and pass back the returned position.
    pub fn read_dir(&mut self, ino: u32, pos: u64) -> Result<Option<(DirEntry, u64)>> {
        let dir = self.read_dir_inode(ino)?;
        let has_ft = self.sb.incompat & INCOMPAT_FILETYPE != 0;
        let bs = self.sb.block_size as u64;
        let nblocks = self.dir_blocks(&dir)?;
        let mut pos = pos & !3;
        while pos / bs < nblocks {
            let blk = self.dir_block(&dir, pos / bs)?;
            let b = self.cache.block(blk)?;
            let e = entry_at(b, (pos % bs) as usize)?;
            let off = (pos % bs) as usize;
            pos += e.rec_len as u64;
            if e.ino != 0 {
                let mut d = DirEntry {
                    ino: e.ino,
                    kind: if has_ft { FileType::from_dirent_code(e.ftype) } else { FileType::Unknown },
                    name: [0; 255],
                    name_len: e.name_len as u8,
                };
                d.name[..e.name_len].copy_from_slice(&b[off + 8..off + 8 + e.name_len]);
                return Ok(Some((d, pos)));
            }
        }
        Ok(None)
    }
}
