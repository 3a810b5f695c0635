//! The file system handle and the namespace operations: mount, sync, path
//! lookup, stat, create, mkdir, rmdir, unlink, rename, link.
//!
//! Why here: each operation is a short sequence of the lower layers' steps
//! (allocate, initialise, link into a directory, adjust link counts), in an
//! order chosen so that a failure part-way (no space, no inodes) is undone
//! or leaves a file system `e2fsck` accepts. Times are whatever clock value
//! the caller passes ([`Ext2::set_time`]); nothing here reads a clock.

use crate::cache::{BlockCache, CacheStats};
use crate::dir::check_name;
use crate::inode::{FileType, Inode, Stat, S_IFDIR, S_IFREG};
use crate::superblock::Superblock;
use crate::{BlockDevice, Error, Result};

/// The root directory's inode number.
pub const ROOT_INO: u32 = 2;

/// ext2's limit on hard links to one inode.
const LINK_MAX: u16 = 32000;

/// Space figures of a mounted file system (`statfs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FsStats {
    /// Bytes per block.
    pub block_size: u32,
    /// Total blocks.
    pub blocks: u32,
    /// Free blocks.
    pub free_blocks: u32,
    /// Total inodes.
    pub inodes: u32,
    /// Free inodes.
    pub free_inodes: u32,
    /// Block groups.
    pub groups: u32,
}

/// A mounted ext2 file system on device `D`, with a cache of `N` blocks.
///
/// The value is large (`N` × 4 KiB); a guest keeps it in a static or on a
/// big stack. Changes live in the cache until [`Ext2::sync`] (or eviction).
pub struct Ext2<D, const N: usize> {
    pub(crate) cache: BlockCache<D, N>,
    pub(crate) sb: Superblock,
    pub(crate) now: u32,
}

impl<D: BlockDevice, const N: usize> Ext2<D, N> {
    /// Mounts the file system on `dev`; `now` is the time stamped on
    /// changes. Refuses foreign, damaged, truncated and unsupported images.
    pub fn mount(dev: D, now: u32) -> Result<Self> {
        let mut cache = BlockCache::new(dev)?;
        if cache.device_blocks() < 2 {
            return Err(Error::Truncated);
        }
        let sb = Superblock::parse(cache.block(1)?)?;
        cache.set_geometry(sb.block_size, sb.blocks_count as u64)?;
        if cache.device_blocks() < sb.blocks_count as u64 {
            return Err(Error::Truncated);
        }
        let mut fs = Ext2 { cache, sb, now };
        fs.check_groups()?;
        let root = fs.read_inode(ROOT_INO)?;
        if !root.is_dir() || root.links < 2 {
            return Err(Error::Corrupt("root is not a directory"));
        }
        Ok(fs)
    }

    /// Sets the time stamped on later changes.
    pub fn set_time(&mut self, now: u32) {
        self.now = now;
    }

    /// Writes the superblock counts and every dirty block to the device.
    pub fn sync(&mut self) -> Result<()> {
        let (blk, off) = self.sb.location();
        let now = self.now;
        let b = self.cache.block_mut(blk)?;
        self.sb.store(&mut b[off..off + 1024], now);
        self.sb.dirty_features = false;
        self.cache.flush()
    }

    /// Syncs and returns the device.
    pub fn unmount(mut self) -> Result<D> {
        self.sync()?;
        Ok(self.cache.into_device())
    }

    /// Block-cache counters.
    pub fn cache_stats(&self) -> CacheStats {
        self.cache.stats()
    }

    /// Clears the block-cache counters.
    pub fn reset_cache_stats(&mut self) {
        self.cache.reset_stats()
    }

    /// Sizes and free counts.
    pub fn statfs(&self) -> FsStats {
        FsStats {
            block_size: self.sb.block_size as u32,
            blocks: self.sb.blocks_count,
            free_blocks: self.sb.free_blocks,
            inodes: self.sb.inodes_count,
            free_inodes: self.sb.free_inodes,
            groups: self.sb.groups,
        }
    }

    /// Attributes of inode `ino`.
    pub fn stat(&mut self, ino: u32) -> Result<Stat> {
        let i = self.read_inode(ino)?;
        if i.links == 0 || i.mode == 0 {
            return Err(Error::NotFound);
        }
        Ok(i.stat(ino))
    }

    /// The inode named `name` in directory `dir`.
    pub fn lookup(&mut self, dir: u32, name: &[u8]) -> Result<u32> {
        if name.len() > 255 {
            return Err(Error::NameTooLong);
        }
        let d = self.read_dir_inode(dir)?;
        match self.dir_find(&d, name)? {
            Some(s) => Ok(s.ino),
            None => Err(Error::NotFound),
        }
    }

    /// Resolves a `/`-separated path (leading, repeated and trailing `/`
    /// ignored) from the root; symbolic links are not followed.
    pub fn resolve(&mut self, path: &[u8]) -> Result<u32> {
        let mut ino = ROOT_INO;
        for comp in path.split(|&c| c == b'/').filter(|c| !c.is_empty()) {
            ino = self.lookup(ino, comp)?;
        }
        Ok(ino)
    }

    fn new_inode(&self, mode: u16, links: u16) -> Inode {
        Inode { mode, links, atime: self.now, ctime: self.now, mtime: self.now, ..Inode::default() }
    }

    fn check_absent(&mut self, dir: &Inode, name: &[u8]) -> Result<()> {
        check_name(name)?;
        if self.dir_find(dir, name)?.is_some() {
            return Err(Error::Exists);
        }
        Ok(())
    }

    /// Creates an empty regular file `name` in `dir` with permission bits
    /// `perm`; returns its inode number.
    pub fn create(&mut self, dir: u32, name: &[u8], perm: u16) -> Result<u32> {
        let d = self.read_dir_inode(dir)?;
        self.check_absent(&d, name)?;
        let ino = self.alloc_inode(dir, false)?;
        let inode = self.new_inode(S_IFREG | (perm & 0o7777), 1);
        let res = self.init_inode(ino, &inode).and_then(|_| self.dir_add(dir, name, ino, FileType::Regular));
        if let Err(e) = res {
            self.drop_new_inode(ino, false)?;
            return Err(e);
        }
        Ok(ino)
    }

    /// Undoes the allocation of an inode that never got linked.
    fn drop_new_inode(&mut self, ino: u32, dir: bool) -> Result<()> {
        let mut i = self.read_inode(ino)?;
        self.release_inode_blocks(&mut i)?;
        i.links = 0;
        i.dtime = self.now.max(1);
        self.write_inode(ino, &i)?;
        self.free_inode(ino, dir)
    }

    /// Creates directory `name` in `dir`; returns its inode number.
    pub fn mkdir(&mut self, dir: u32, name: &[u8], perm: u16) -> Result<u32> {
        let mut d = self.read_dir_inode(dir)?;
        self.check_absent(&d, name)?;
        if d.links >= LINK_MAX {
            return Err(Error::TooManyLinks);
        }
        let ino = self.alloc_inode(dir, true)?;
        let mut inode = self.new_inode(S_IFDIR | (perm & 0o7777), 2);
        let res = self.init_inode(ino, &inode).and_then(|_| {
            let goal = self.inode_goal(ino);
            let (blk, _) = self.bmap_alloc(&mut inode, 0, goal)?;
            inode.size = self.sb.block_size as u64;
            self.write_inode(ino, &inode)?;
            self.dir_init_block(blk, ino, dir)?;
            self.dir_add(dir, name, ino, FileType::Directory)
        });
        if let Err(e) = res {
            self.write_inode(ino, &inode)?;
            self.drop_new_inode(ino, true)?;
            return Err(e);
        }
        d = self.read_inode(dir)?;
        d.links += 1;
        self.write_inode(dir, &d)?;
        Ok(ino)
    }

    /// Drops one link of `ino`; frees it when none is left. `dir` tells
    /// whether it is a directory (whose `.` link goes with its name).
    fn drop_link(&mut self, ino: u32, dir: bool) -> Result<()> {
        let mut i = self.read_inode(ino)?;
        i.ctime = self.now;
        i.links = if dir { 0 } else { i.links.saturating_sub(1) };
        if i.links > 0 {
            return self.write_inode(ino, &i);
        }
        i.dtime = self.now.max(1);
        let res = self.release_inode_blocks(&mut i);
        self.write_inode(ino, &i)?;
        res?;
        self.free_inode(ino, dir)
    }

    /// Removes the non-directory `name` from `dir`.
    pub fn unlink(&mut self, dir: u32, name: &[u8]) -> Result<()> {
        let ino = self.lookup(dir, name)?;
        if self.read_inode(ino)?.is_dir() {
            return Err(Error::IsDir);
        }
        self.dir_remove(dir, name)?;
        self.drop_link(ino, false)
    }

    /// Removes the empty directory `name` from `dir`.
    pub fn rmdir(&mut self, dir: u32, name: &[u8]) -> Result<()> {
        if name == b"." || name == b".." {
            return Err(Error::Invalid);
        }
        let ino = self.lookup(dir, name)?;
        let victim = self.read_dir_inode(ino)?;
        if !self.dir_is_empty(&victim)? {
            return Err(Error::NotEmpty);
        }
        self.dir_remove(dir, name)?;
        self.drop_link(ino, true)?;
        let mut d = self.read_inode(dir)?;
        d.links = d.links.saturating_sub(1);
        self.write_inode(dir, &d)
    }

    /// Adds the name `name` in `dir` for the existing non-directory `ino`.
    pub fn link(&mut self, ino: u32, dir: u32, name: &[u8]) -> Result<()> {
        let mut i = self.read_inode(ino)?;
        if i.links == 0 {
            return Err(Error::NotFound);
        }
        if i.is_dir() {
            return Err(Error::IsDir);
        }
        if i.links >= LINK_MAX {
            return Err(Error::TooManyLinks);
        }
        let d = self.read_dir_inode(dir)?;
        self.check_absent(&d, name)?;
        self.dir_add(dir, name, ino, i.kind())?;
        i.links += 1;
        i.ctime = self.now;
        self.write_inode(ino, &i)
    }

    /// Whether directory `anc` is `ino` or one of its ancestors.
    fn is_ancestor(&mut self, anc: u32, mut ino: u32) -> Result<bool> {
        for _ in 0..self.sb.inodes_count {
            if ino == anc {
                return Ok(true);
            }
            if ino == ROOT_INO {
                return Ok(false);
            }
            ino = self.lookup(ino, b"..")?;
        }
        Err(Error::Corrupt("directory loop"))
    }

    /// Renames `src_dir/src` to `dst_dir/dst`, replacing an existing `dst`
    /// (a file by a file, an empty directory by a directory).
    pub fn rename(&mut self, src_dir: u32, src: &[u8], dst_dir: u32, dst: &[u8]) -> Result<()> {
        if src == b"." || src == b".." {
            return Err(Error::Invalid);
        }
        check_name(dst)?;
        let ino = self.lookup(src_dir, src)?;
        let inode = self.read_inode(ino)?;
        let is_dir = inode.is_dir();
        let dd = self.read_dir_inode(dst_dir)?;
        if is_dir && src_dir != dst_dir && self.is_ancestor(ino, dst_dir)? {
            return Err(Error::Invalid);
        }
        let existing = self.dir_find(&dd, dst)?.map(|s| s.ino);
        if existing == Some(ino) {
            return Ok(());
        }
        if let Some(old) = existing {
            let o = self.read_inode(old)?;
            match (is_dir, o.is_dir()) {
                (true, false) => return Err(Error::NotDir),
                (false, true) => return Err(Error::IsDir),
                (true, true) if !self.dir_is_empty(&o)? => return Err(Error::NotEmpty),
                _ => {}
            }
        } else if is_dir && src_dir != dst_dir && dd.links >= LINK_MAX {
            return Err(Error::TooManyLinks);
        }
        // Link the new name first: if that fails nothing has changed.
        match existing {
            Some(_) => self.dir_retarget(dst_dir, dst, ino, inode.kind())?,
            None => self.dir_add(dst_dir, dst, ino, inode.kind())?,
        }
        self.dir_remove(src_dir, src)?;
        let mut moved = self.read_inode(ino)?;
        moved.ctime = self.now;
        self.write_inode(ino, &moved)?;
        if let Some(old) = existing {
            self.drop_link(old, is_dir)?;
            if is_dir {
                // The replaced directory's `..` pointed at dst_dir.
                let mut d = self.read_inode(dst_dir)?;
                d.links = d.links.saturating_sub(1);
                self.write_inode(dst_dir, &d)?;
            }
        }
        if is_dir && src_dir != dst_dir {
            self.dir_retarget(ino, b"..", dst_dir, FileType::Directory)?;
            let mut s = self.read_inode(src_dir)?;
            s.links = s.links.saturating_sub(1);
            self.write_inode(src_dir, &s)?;
            let mut d = self.read_inode(dst_dir)?;
            d.links += 1;
            self.write_inode(dst_dir, &d)?;
        }
        Ok(())
    }
}
