//! The in-memory root file system: a tree of directories, regular files
//! and device nodes held in VFS's own memory.
//!
//! Why fixed tables: the guest has no heap, and a server must not grow
//! without bound on behalf of its clients. So there are [`MAX_INODES`]
//! inodes and [`BLOCKS`] data blocks of [`MAX_FILE_SIZE`] bytes, one per
//! non-empty regular file. Running out gives a clear error: `TooMany` for
//! inodes, `NoMemory` for data (a full block, or no free block). Entries
//! of a directory are the inodes whose parent it is (a linear scan: the
//! tree is small). The boot layout is `/bin` (one read-only entry per
//! boot-image program, from the kernel info page), `/dev/tty` and a
//! writable `/tmp`.

use crate::fs::{DirEntry, FileSystem, Ino, Kind, Stat, NAME_MAX};
use abi::Error;

/// Most inodes.
pub const MAX_INODES: usize = 128;
/// Data blocks (one per non-empty file).
pub const BLOCKS: usize = 24;
/// Largest regular file.
pub const MAX_FILE_SIZE: usize = 16 * 1024;

const NO_BLOCK: u16 = u16::MAX;
const ROOT: Ino = 1;

#[derive(Clone, Copy)]
struct Inode {
    used: bool,
    kind: Kind,
    /// 0 once unlinked (the inode lives on while open).
    parent: Ino,
    name: [u8; NAME_MAX],
    name_len: u8,
    read_only: bool,
    opens: u16,
    size: u32,
    block: u16,
}

const FREE: Inode = Inode {
    used: false,
    kind: Kind::File,
    parent: 0,
    name: [0; NAME_MAX],
    name_len: 0,
    read_only: false,
    opens: 0,
    size: 0,
    block: NO_BLOCK,
};

/// The file system.
pub struct RamFs {
    inodes: [Inode; MAX_INODES],
    block_used: [bool; BLOCKS],
}

/// File data, apart from the inodes so that it is all zero at start and
/// lands in bss (fresh pages) instead of being copied from the image.
static mut DATA: [[u8; MAX_FILE_SIZE]; BLOCKS] = [[0; MAX_FILE_SIZE]; BLOCKS];

fn blocks() -> &'static mut [[u8; MAX_FILE_SIZE]; BLOCKS] {
    // SAFETY: VFS is single-threaded and only the one RamFs touches DATA;
    // every borrow ends within the method that took it.
    unsafe { &mut *(&raw mut DATA) }
}

impl RamFs {
    /// An empty tree (only the root).
    pub const fn new() -> RamFs {
        let mut inodes = [FREE; MAX_INODES];
        inodes[0].used = true;
        inodes[0].kind = Kind::Dir;
        inodes[0].parent = ROOT;
        inodes[0].read_only = true;
        RamFs { inodes, block_used: [false; BLOCKS] }
    }

    /// Builds the boot layout: `/bin/*`, `/dev/tty`, `/tmp`.
    pub fn populate(&mut self) -> Result<(), Error> {
        let bin = self.create(ROOT, b"bin", Kind::Dir)?;
        for (name, _) in rt::kip::boot_processes() {
            let ino = self.create(bin, name.as_bytes(), Kind::File)?;
            self.node_mut(ino)?.read_only = true;
        }
        let dev = self.create(ROOT, b"dev", Kind::Dir)?;
        let tty = self.create(dev, b"tty", Kind::Char(0))?;
        for ino in [bin, dev, tty] {
            self.node_mut(ino)?.read_only = true;
        }
        self.create(ROOT, b"tmp", Kind::Dir)?;
        Ok(())
    }

    /// Removes the empty directory `name` of `dir`.
    pub fn rmdir(&mut self, dir: Ino, name: &[u8]) -> Result<(), Error> {
        let ino = self.lookup(dir, name)?;
        let n = self.node(ino)?;
        if n.kind != Kind::Dir {
            return Err(Error::NotDir);
        }
        if n.read_only || !self.writable(dir) {
            return Err(Error::Perm);
        }
        if self.children(ino).next().is_some() {
            return Err(Error::Exists);
        }
        self.inodes[ino as usize - 1] = FREE;
        Ok(())
    }

    /// Moves entry `old` of `old_dir` to `new` in `new_dir`, replacing a
    /// file there (not a directory: `IsDir`/`Exists`).
    pub fn rename(&mut self, old_dir: Ino, old: &[u8], new_dir: Ino, new: &[u8]) -> Result<(), Error> {
        if new.is_empty() || new.len() > NAME_MAX || new == b"." || new == b".." {
            return Err(Error::Invalid);
        }
        let ino = self.lookup(old_dir, old)?;
        if self.node(ino)?.read_only || !self.writable(old_dir) || !self.writable(new_dir) {
            return Err(Error::Perm);
        }
        // A directory may not move into itself or below itself.
        let mut up = new_dir;
        while up != ROOT {
            if up == ino {
                return Err(Error::Invalid);
            }
            up = self.node(up)?.parent;
        }
        match self.lookup(new_dir, new) {
            Ok(same) if same == ino => return Ok(()),
            Ok(target) => match self.node(target)?.kind {
                Kind::Dir => return Err(Error::IsDir),
                _ => self.unlink(new_dir, new)?,
            },
            Err(Error::NoEntry) => {}
            Err(e) => return Err(e),
        }
        let n = self.node_mut(ino)?;
        n.parent = new_dir;
        n.name = [0; NAME_MAX];
        n.name[..new.len()].copy_from_slice(new);
        n.name_len = new.len() as u8;
        Ok(())
    }

    fn node(&self, ino: Ino) -> Result<&Inode, Error> {
        match self.inodes.get((ino as usize).wrapping_sub(1)) {
            Some(n) if n.used => Ok(n),
            _ => Err(Error::NoEntry),
        }
    }

    fn node_mut(&mut self, ino: Ino) -> Result<&mut Inode, Error> {
        match self.inodes.get_mut((ino as usize).wrapping_sub(1)) {
            Some(n) if n.used => Ok(n),
            _ => Err(Error::NoEntry),
        }
    }

    fn children(&self, dir: Ino) -> impl Iterator<Item = (Ino, &Inode)> {
        self.inodes
            .iter()
            .enumerate()
            .filter(move |(i, n)| n.used && n.parent == dir && *i as Ino + 1 != dir)
            .map(|(i, n)| (i as Ino + 1, n))
    }

    fn free_if_unused(&mut self, ino: Ino) {
        if let Ok(n) = self.node(ino) {
            if n.parent == 0 && n.opens == 0 {
                if n.block != NO_BLOCK {
                    self.block_used[n.block as usize] = false;
                }
                self.inodes[ino as usize - 1] = FREE;
            }
        }
    }
}

impl FileSystem for RamFs {
    fn root(&self) -> Ino {
        ROOT
    }

    fn lookup(&self, dir: Ino, name: &[u8]) -> Result<Ino, Error> {
        if self.node(dir)?.kind != Kind::Dir {
            return Err(Error::NotDir);
        }
        self.children(dir).find(|(_, n)| &n.name[..n.name_len as usize] == name).map(|(i, _)| i).ok_or(Error::NoEntry)
    }

    fn stat(&self, ino: Ino) -> Result<Stat, Error> {
        let n = self.node(ino)?;
        let links = match n.kind {
            Kind::Dir => 2 + self.children(ino).filter(|(_, c)| c.kind == Kind::Dir).count() as u64,
            _ if n.parent == 0 => 0,
            _ => 1,
        };
        Ok(Stat { kind: n.kind, size: u64::from(n.size), links, ino })
    }

    fn writable(&self, ino: Ino) -> bool {
        self.node(ino).is_ok_and(|n| !n.read_only)
    }

    fn create(&mut self, dir: Ino, name: &[u8], kind: Kind) -> Result<Ino, Error> {
        if name.is_empty() || name.len() > NAME_MAX || name.contains(&b'/') || name == b"." || name == b".." {
            return Err(Error::Invalid);
        }
        match self.lookup(dir, name) {
            Ok(_) => return Err(Error::Exists),
            Err(Error::NoEntry) => {}
            Err(e) => return Err(e),
        }
        let i = self.inodes.iter().position(|n| !n.used).ok_or(Error::TooMany)?;
        let mut node = Inode { used: true, kind, parent: dir, name_len: name.len() as u8, ..FREE };
        node.name[..name.len()].copy_from_slice(name);
        self.inodes[i] = node;
        Ok(i as Ino + 1)
    }

    fn unlink(&mut self, dir: Ino, name: &[u8]) -> Result<(), Error> {
        let ino = self.lookup(dir, name)?;
        let n = self.node(ino)?;
        if n.kind == Kind::Dir {
            return Err(Error::IsDir);
        }
        if n.read_only || !self.writable(dir) {
            return Err(Error::Perm);
        }
        self.node_mut(ino)?.parent = 0;
        self.free_if_unused(ino);
        Ok(())
    }

    fn read(&self, ino: Ino, offset: u64, buf: &mut [u8]) -> Result<usize, Error> {
        let n = self.node(ino)?;
        match n.kind {
            Kind::Dir => return Err(Error::IsDir),
            Kind::Char(_) => return Err(Error::Invalid),
            Kind::File => {}
        }
        let size = n.size as u64;
        if offset >= size || n.block == NO_BLOCK {
            return Ok(0);
        }
        let len = ((size - offset) as usize).min(buf.len());
        let at = offset as usize;
        buf[..len].copy_from_slice(&blocks()[n.block as usize][at..at + len]);
        Ok(len)
    }

    fn write(&mut self, ino: Ino, offset: u64, data: &[u8]) -> Result<usize, Error> {
        let n = *self.node(ino)?;
        if n.kind != Kind::File {
            return Err(if n.kind == Kind::Dir { Error::IsDir } else { Error::Invalid });
        }
        if n.read_only {
            return Err(Error::Perm);
        }
        if data.is_empty() {
            return Ok(0);
        }
        if offset >= MAX_FILE_SIZE as u64 {
            return Err(Error::NoMemory);
        }
        let block = if n.block == NO_BLOCK {
            let b = self.block_used.iter().position(|u| !u).ok_or(Error::NoMemory)?;
            self.block_used[b] = true;
            blocks()[b].fill(0);
            self.node_mut(ino)?.block = b as u16;
            b
        } else {
            n.block as usize
        };
        let at = offset as usize;
        let len = data.len().min(MAX_FILE_SIZE - at);
        // A write past the end leaves a hole of zeros.
        if at > n.size as usize {
            blocks()[block][n.size as usize..at].fill(0);
        }
        blocks()[block][at..at + len].copy_from_slice(&data[..len]);
        let node = self.node_mut(ino)?;
        node.size = node.size.max((at + len) as u32);
        Ok(len)
    }

    fn truncate(&mut self, ino: Ino) -> Result<(), Error> {
        let n = self.node_mut(ino)?;
        if n.kind != Kind::File {
            return Err(Error::Invalid);
        }
        n.size = 0;
        let block = core::mem::replace(&mut n.block, NO_BLOCK);
        if block != NO_BLOCK {
            self.block_used[block as usize] = false;
        }
        Ok(())
    }

    fn readdir(&self, dir: Ino, index: u64) -> Result<Option<(DirEntry, u64)>, Error> {
        if self.node(dir)?.kind != Kind::Dir {
            return Err(Error::NotDir);
        }
        Ok(self.children(dir).nth(index as usize).map(|(_, n)| {
            let mut e = DirEntry { kind: n.kind, name: [0; NAME_MAX], name_len: n.name_len as usize };
            e.name.copy_from_slice(&n.name);
            (e, index + 1)
        }))
    }

    fn retain(&mut self, ino: Ino) {
        if let Ok(n) = self.node_mut(ino) {
            n.opens += 1;
        }
    }

    fn release(&mut self, ino: Ino) {
        if let Ok(n) = self.node_mut(ino) {
            n.opens = n.opens.saturating_sub(1);
        }
        self.free_if_unused(ino);
    }
}
