//! File contents: read and write at byte offsets, truncate.
//!
//! Why separate from the block map: this layer deals in bytes and sizes.
//! Its invariant is that every byte of a mapped block beyond `i_size` is
//! zero (truncate clears the tail of the last block; new blocks are zeroed
//! unless wholly overwritten), so growing a file by `write` or `truncate`
//! never exposes old data and holes read as zeros. Whole-block transfers go
//! around the cache unless the block is cached already.

use crate::fs::Ext2;
use crate::inode::{FileType, Inode};
use crate::superblock::RO_COMPAT_LARGE_FILE;
use crate::{BlockDevice, Error, Result};

impl<D: BlockDevice, const N: usize> Ext2<D, N> {
    /// Largest file size (bytes) this file system can represent.
    pub fn max_file_size(&self) -> u64 {
        let by_map = self.max_blocks() * self.sb.block_size as u64;
        // i_blocks is 32 bits of 512-byte units and also counts the
        // indirect blocks: 1 TiB of data stays well below it.
        by_map.min(1 << 40)
    }

    pub(crate) fn inode_goal(&self, ino: u32) -> u64 {
        let g = (ino.saturating_sub(1) / self.sb.inodes_per_group) % self.sb.groups;
        self.sb.group_first_block(g)
    }

    /// Reads up to `buf.len()` bytes of inode `ino` at `off`; returns the
    /// count (0 at or past the end).
    pub fn read(&mut self, ino: u32, off: u64, buf: &mut [u8]) -> Result<usize> {
        let inode = self.read_inode(ino)?;
        if inode.kind() == FileType::Symlink && !inode.has_block_map(self.sb.block_size) {
            // Fast symlink: the target is stored in i_block.
            let mut text = [0u8; 60];
            for (i, p) in inode.block.iter().enumerate() {
                text[4 * i..4 * i + 4].copy_from_slice(&p.to_le_bytes());
            }
            let size = inode.size.min(60);
            if off >= size {
                return Ok(0);
            }
            let n = buf.len().min((size - off) as usize);
            buf[..n].copy_from_slice(&text[off as usize..off as usize + n]);
            return Ok(n);
        }
        if !inode.has_block_map(self.sb.block_size) {
            return Err(Error::Invalid);
        }
        if off >= inode.size {
            return Ok(0);
        }
        let n = buf.len().min((inode.size - off).min(usize::MAX as u64) as usize);
        let bs = self.sb.block_size as u64;
        let mut done = 0usize;
        while done < n {
            let pos = off + done as u64;
            let inb = (pos % bs) as usize;
            let chunk = (bs as usize - inb).min(n - done);
            let dst = &mut buf[done..done + chunk];
            match self.bmap(&inode, pos / bs)? {
                0 => dst.fill(0),
                b if chunk == bs as usize => self.cache.read_whole(b as u64, dst)?,
                b => dst.copy_from_slice(&self.cache.block(b as u64)?[inb..inb + chunk]),
            }
            done += chunk;
        }
        Ok(n)
    }

    /// Writes `data` to regular file `ino` at `off`, growing it as needed.
    /// Returns the count written: all of `data`, or fewer if the file
    /// system filled up after some bytes were written.
    pub fn write(&mut self, ino: u32, off: u64, data: &[u8]) -> Result<usize> {
        let mut inode = self.read_inode(ino)?;
        match inode.kind() {
            FileType::Regular => {}
            FileType::Directory => return Err(Error::IsDir),
            _ => return Err(Error::Invalid),
        }
        if data.is_empty() {
            return Ok(0);
        }
        let end = off.checked_add(data.len() as u64).ok_or(Error::FileTooLarge)?;
        if end > self.max_file_size() {
            return Err(Error::FileTooLarge);
        }
        let bs = self.sb.block_size as u64;
        let mut goal = self.inode_goal(ino);
        let mut done = 0usize;
        let mut err = None;
        while done < data.len() {
            let pos = off + done as u64;
            let lblk = pos / bs;
            let inb = (pos % bs) as usize;
            let chunk = (bs as usize - inb).min(data.len() - done);
            if done == 0 && lblk > 0 {
                if let Ok(prev) = self.bmap(&inode, lblk - 1) {
                    if prev != 0 {
                        goal = prev as u64 + 1;
                    }
                }
            }
            let (b, fresh) = match self.bmap_alloc(&mut inode, lblk, goal) {
                Ok(r) => r,
                Err(e) => {
                    err = Some(e);
                    break;
                }
            };
            goal = b as u64 + 1;
            let src = &data[done..done + chunk];
            let res = if chunk == bs as usize {
                self.cache.write_whole(b as u64, src)
            } else if fresh {
                self.cache.block_zeroed(b as u64).map(|buf| buf[inb..inb + chunk].copy_from_slice(src))
            } else {
                self.cache.block_mut(b as u64).map(|buf| buf[inb..inb + chunk].copy_from_slice(src))
            };
            if let Err(e) = res {
                err = Some(e);
                break;
            }
            done += chunk;
        }
        let new_end = off + done as u64;
        if new_end > inode.size {
            inode.size = new_end;
            self.note_size(inode.size);
        }
        if done > 0 {
            inode.mtime = self.now;
            inode.ctime = self.now;
        }
        self.write_inode(ino, &inode)?;
        match err {
            Some(e) if done == 0 => Err(e),
            _ => Ok(done),
        }
    }

    /// Sets the `large_file` feature once a file reaches 2 GiB.
    fn note_size(&mut self, size: u64) {
        if size >= 1 << 31 && self.sb.ro_compat & RO_COMPAT_LARGE_FILE == 0 {
            self.sb.ro_compat |= RO_COMPAT_LARGE_FILE;
            self.sb.dirty_features = true;
        }
    }

    /// Sets the size of regular file `ino` to `size`, freeing the blocks
    /// (and indirect blocks) past the new end, or leaving a hole when
    /// growing.
    pub fn truncate(&mut self, ino: u32, size: u64) -> Result<()> {
        let mut inode = self.read_inode(ino)?;
        match inode.kind() {
            FileType::Regular => {}
            FileType::Directory => return Err(Error::IsDir),
            _ => return Err(Error::Invalid),
        }
        if size > self.max_file_size() {
            return Err(Error::FileTooLarge);
        }
        self.truncate_inode(&mut inode, size)?;
        inode.mtime = self.now;
        inode.ctime = self.now;
        self.write_inode(ino, &inode)
    }

    /// The size change proper; the caller writes the inode back.
    pub(crate) fn truncate_inode(&mut self, inode: &mut Inode, size: u64) -> Result<()> {
        let bs = self.sb.block_size as u64;
        if size < inode.size {
            let keep = size.div_ceil(bs);
            let res = self.free_blocks_from(inode, keep);
            if res.is_ok() && !size.is_multiple_of(bs) {
                let b = self.bmap(inode, size / bs)?;
                if b != 0 {
                    self.cache.block_mut(b as u64)?[(size % bs) as usize..].fill(0);
                }
            }
            inode.size = size;
            res?;
        } else {
            inode.size = size;
            self.note_size(size);
        }
        Ok(())
    }

    /// Frees everything an inode owns that is not inline: its blocks and
    /// its extended-attribute block (shared EA blocks are reference
    /// counted).
    pub(crate) fn release_inode_blocks(&mut self, inode: &mut Inode) -> Result<()> {
        if inode.has_block_map(self.sb.block_size) {
            self.free_blocks_from(inode, 0)?;
        }
        inode.size = 0;
        if inode.file_acl != 0 {
            let b = inode.file_acl;
            if b < self.sb.first_data_block || b >= self.sb.blocks_count {
                return Err(Error::Corrupt("extended attribute block outside the file system"));
            }
            let refs = self.cache.read_u32(b as u64, 1)?;
            if refs > 1 {
                self.cache.write_u32(b as u64, 1, refs - 1)?;
            } else {
                self.free_block(b)?;
            }
            inode.file_acl = 0;
            inode.blocks = inode.blocks.saturating_sub((self.sb.block_size / 512) as u64);
        }
        Ok(())
    }
}
