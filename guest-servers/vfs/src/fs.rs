//! The file-system interface VFS uses for its root file system.
//!
//! Why a trait: the root is either [`crate::ramfs`], a tree in VFS's own
//! memory, or the ext2 file server's disk with RamFs mounts over it
//! ([`crate::mount`]). Everything above this interface (descriptors, paths,
//! pipes, devices) stays the same. The calls are
//! therefore buffer-based (`read` into a caller's buffer), not
//! slice-borrowing, so a remote implementation can serve them.

use abi::Error;

/// An inode number (unique within the file system, never 0).
pub type Ino = u32;

/// Longest name of one directory entry.
pub const NAME_MAX: usize = 32;

/// What an inode is.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    File,
    Dir,
    /// A character device with this minor number (0 = the console).
    Char(u8),
}

impl Kind {
    /// The `abi::proto::vfs::TYPE_*` value.
    pub fn type_code(self) -> u64 {
        use abi::proto::vfs::*;
        match self {
            Kind::File => TYPE_FILE,
            Kind::Dir => TYPE_DIR,
            Kind::Char(_) => TYPE_CHAR,
        }
    }
}

/// What `stat` reports about an inode.
#[derive(Clone, Copy, Debug)]
pub struct Stat {
    pub kind: Kind,
    pub size: u64,
    pub links: u64,
    pub ino: Ino,
}

/// One directory entry as `readdir` returns it.
pub struct DirEntry {
    pub kind: Kind,
    pub name: [u8; NAME_MAX],
    pub name_len: usize,
}

/// A mounted file system.
pub trait FileSystem {
    /// The root directory.
    fn root(&self) -> Ino;
    /// The entry `name` of directory `dir`.
    fn lookup(&self, dir: Ino, name: &[u8]) -> Result<Ino, Error>;
    /// The inode the relative `path` (components separated by `/`) names
    /// from directory `dir`; `NotDir` when a component before the last is
    /// not a directory. One [`FileSystem::lookup`] per component unless
    /// the file system resolves paths itself (the file server does, in
    /// one request: [`crate::mount`]).
    fn resolve(&self, dir: Ino, path: &[u8]) -> Result<Ino, Error> {
        crate::path::walk_components(self, dir, path)
    }
    /// Facts about `ino`.
    fn stat(&self, ino: Ino) -> Result<Stat, Error>;
    /// False for inodes nobody may change (programs, devices, system
    /// directories).
    fn writable(&self, ino: Ino) -> bool;
    /// Creates `name` in `dir`; `Exists` if it is there.
    fn create(&mut self, dir: Ino, name: &[u8], kind: Kind) -> Result<Ino, Error>;
    /// Removes the entry `name` of `dir` (not a directory: `IsDir`). An
    /// inode still open lives on until its last [`FileSystem::release`].
    fn unlink(&mut self, dir: Ino, name: &[u8]) -> Result<(), Error>;
    /// Reads at `offset` into `buf`; returns the bytes read (0 at the end).
    fn read(&self, ino: Ino, offset: u64, buf: &mut [u8]) -> Result<usize, Error>;
    /// Writes `data` at `offset`; returns the bytes written (fewer when the
    /// file reaches its size limit; `NoMemory` when nothing fits).
    fn write(&mut self, ino: Ino, offset: u64, data: &[u8]) -> Result<usize, Error>;
    /// Cuts the file to length 0.
    fn truncate(&mut self, ino: Ino) -> Result<(), Error>;
    /// The entry of directory `dir` at position `pos` (0 = the first) and
    /// the position of the next, `None` past the last. Positions are the
    /// file system's own (entry numbers, byte offsets).
    fn readdir(&self, dir: Ino, pos: u64) -> Result<Option<(DirEntry, u64)>, Error>;
    /// An open file description now refers to `ino`.
    fn retain(&mut self, ino: Ino);
    /// An open file description of `ino` was closed.
    fn release(&mut self, ino: Ino);
}
