//! The mounted tree: the file server's disk as root when the image has one
//! ([`crate::remote`]), with VFS's own [`RamFs`] `/dev` (the console) and
//! `/tmp` mounted over it; otherwise the [`RamFs`] alone, as before.
//!
//! Inode numbers of the two file systems are told apart by [`RAM`]: with a
//! disk, a RamFs inode `i` is `RAM | i`; ext2 inode numbers stay below it.
//! The disk's own `/dev` and `/tmp`, if any, are hidden by the mounts.

use crate::fs::{DirEntry, FileSystem, Ino, Kind, Stat};
use crate::ramfs::RamFs;
use crate::remote::{self, RemoteFs};
use abi::proto::fs;
use abi::{Endpoint, Error};

/// Tag of RamFs inode numbers while a disk is mounted.
pub const RAM: Ino = 1 << 31;
/// Names mounted from the RamFs over the disk's root.
const MOUNTS: [&[u8]; 2] = [b"dev", b"tmp"];
/// First `readdir` position of the mounted names in the root (positions
/// below are the file server's).
const EXTRA: u64 = 1 << 62;
/// How long VFS waits at start for the file server to appear in DS.
const WAIT_MS: u64 = 10_000;

/// The root of the tree. It holds nothing itself: the RamFs is a static
/// of its own ([`ram`]), the file server's link another
/// ([`remote::disk`]), so a `&Mount` that the disk worker holds across
/// its wait for the file server (a path walk, `crate::path`) refers to
/// no state the main loop changes meanwhile.
pub struct Mount;

/// The memory file system: all zero at start, so it lands in bss.
static mut RAMFS: RamFs = RamFs::new();

/// The memory file system.
pub fn ram() -> &'static mut RamFs {
    // SAFETY: single-threaded, and every borrow ends within the RamFs
    // call that took it; no RamFs call waits or switches stacks.
    unsafe { &mut *(&raw mut RAMFS) }
}

impl Mount {
    /// Mounts the file server's disk as root if the boot image has a file
    /// server: waits for it to appear in DS. Without one, or when it has no
    /// usable disk, the RamFs stays the root.
    pub fn mount_disk(&self) {
        if rt::kip::program_index(crate::remote::SERVICE).is_none() {
            return;
        }
        let tick_ms = (1000 / rt::kip::tick_hz().max(1)).max(1);
        let mut waited = 0;
        loop {
            match remote::connect() {
                Ok(_) => return,
                Err(Error::NoEntry) if waited < WAIT_MS => {
                    let _ = rt::sys::set_alarm(1);
                    let mut m = abi::Message::default();
                    let _ = rt::ipc::receive(Endpoint::SYSTEM, &mut m);
                    waited += tick_ms;
                }
                Err(e) => {
                    rt::println!("vfs: no disk file system ({}); the root is in memory", e);
                    return;
                }
            }
        }
    }

    /// Whether the file server's disk is mounted.
    pub fn has_disk(&self) -> bool {
        remote::disk().is_some()
    }

    /// Whether inode `ino` lives on the disk.
    pub fn on_disk(&self, ino: Ino) -> bool {
        matches!(self.split(ino), Side::Disk(_))
    }

    /// Whether a call on `path` may ask the file server: every path but
    /// those inside the memory mounts (`/dev/…`, `/tmp/…`), whose walk
    /// (of the path or of its parent) turns to the RamFs at the root's
    /// mount point without a call. (`/tmp` itself counts as the disk's:
    /// its parent is the disk's root.)
    pub fn path_on_disk(&self, path: &crate::path::PathBuf) -> bool {
        let mut components = path.as_bytes().split(|&b| b == b'/').filter(|c| !c.is_empty());
        let in_mount = components.next().is_some_and(|c| MOUNTS.contains(&c)) && components.next().is_some();
        remote::disk().is_some() && !in_mount
    }

    /// The file server's count of possible changes
    /// ([`RemoteFs::changes`]; 0 without a disk).
    pub fn disk_changes(&self) -> u64 {
        remote::disk().map_or(0, RemoteFs::changes)
    }

    /// Whether `ep` is the file server's endpoint.
    pub fn is_file_server(&self, ep: Endpoint) -> bool {
        remote::disk().is_some_and(|d| d.endpoint() == ep)
    }

    /// DS lists the file server at `ep` now (`NONE`: nowhere).
    pub fn file_server_changed(&self, ep: Endpoint) {
        if let Some(d) = remote::disk() {
            d.server_changed(ep);
        }
    }

    fn split(&self, ino: Ino) -> Side {
        match remote::disk() {
            None => Side::Ram(ino),
            Some(_) if ino & RAM != 0 => Side::Ram(ino & !RAM),
            Some(_) => Side::Disk(ino),
        }
    }

    /// The file server (only called for [`Side::Disk`] inodes, which exist
    /// only while it is mounted).
    fn disk(&self) -> &'static RemoteFs {
        remote::disk().expect("a disk inode without a disk")
    }

    fn tag(&self, ino: Ino) -> Ino {
        if remote::disk().is_some() {
            ino | RAM
        } else {
            ino
        }
    }

    /// Whether `(dir, name)` is one of the RamFs mounts in the disk's root.
    fn mount_point(&self, dir: Ino, name: &[u8]) -> bool {
        remote::disk().is_some() && dir == fs::ROOT_INODE as Ino && MOUNTS.contains(&name)
    }

    /// Removes the directory `name` of `dir` (must be empty).
    pub fn rmdir(&mut self, dir: Ino, name: &[u8]) -> Result<(), Error> {
        if self.mount_point(dir, name) {
            return Err(Error::Perm);
        }
        match self.split(dir) {
            Side::Ram(d) => ram().rmdir(d, name),
            Side::Disk(d) => self.disk().remove(d, name, fs::RMDIR),
        }
    }

    /// Renames within one file system (`Invalid` across them).
    pub fn rename(&mut self, old_dir: Ino, old: &[u8], new_dir: Ino, new: &[u8]) -> Result<(), Error> {
        if self.mount_point(old_dir, old) || self.mount_point(new_dir, new) {
            return Err(Error::Perm);
        }
        match (self.split(old_dir), self.split(new_dir)) {
            (Side::Ram(a), Side::Ram(b)) => ram().rename(a, old, b, new),
            (Side::Disk(a), Side::Disk(b)) => self.disk().rename(a, old, b, new),
            _ => Err(Error::Invalid),
        }
    }

    /// Writes the disk's dirty blocks out (nothing to do without a disk).
    pub fn sync(&mut self) -> Result<(), Error> {
        match remote::disk() {
            Some(d) => d.sync(),
            None => Ok(()),
        }
    }

    /// Moves file data straight between the file server and a user's
    /// grant; `None` for RamFs files (VFS copies those itself).
    #[allow(clippy::too_many_arguments)]
    pub fn transfer(
        &mut self,
        ino: Ino,
        offset: u64,
        user: Endpoint,
        grant: u64,
        grant_offset: u64,
        len: u64,
        write: bool,
    ) -> Option<Result<u64, Error>> {
        match self.split(ino) {
            Side::Ram(_) => None,
            Side::Disk(i) => Some(self.disk().transfer(i, offset, user, grant, grant_offset, len, write)),
        }
    }

    /// Entry at `pos` of `dir` and the next position.
    fn readdir_at(&self, dir: Ino, mut pos: u64) -> Result<Option<(DirEntry, u64)>, Error> {
        match self.split(dir) {
            Side::Ram(d) => ram().readdir(d, pos),
            Side::Disk(d) => {
                let disk = self.disk();
                let root = d == fs::ROOT_INODE as Ino;
                while pos < EXTRA {
                    match disk.readdir(d, pos)? {
                        Some((e, next)) => {
                            let name = &e.name[..e.name_len];
                            let hidden = name == b"." || name == b".." || (root && MOUNTS.contains(&name));
                            if !hidden {
                                return Ok(Some((e, next)));
                            }
                            pos = next;
                        }
                        None if root => pos = EXTRA,
                        None => return Ok(None),
                    }
                }
                let Some(name) = MOUNTS.get((pos - EXTRA) as usize) else { return Ok(None) };
                let mut e = DirEntry { kind: Kind::Dir, name: [0; crate::fs::NAME_MAX], name_len: name.len() };
                e.name[..name.len()].copy_from_slice(name);
                Ok(Some((e, pos + 1)))
            }
        }
    }
}

/// Which file system an inode number belongs to, and its own number there.
#[derive(Clone, Copy)]
enum Side {
    Ram(Ino),
    Disk(Ino),
}

impl FileSystem for Mount {
    fn root(&self) -> Ino {
        if remote::disk().is_some() {
            fs::ROOT_INODE as Ino
        } else {
            ram().root()
        }
    }

    fn lookup(&self, dir: Ino, name: &[u8]) -> Result<Ino, Error> {
        if self.mount_point(dir, name) {
            let root = ram().root();
            return ram().lookup(root, name).map(|i| self.tag(i));
        }
        match self.split(dir) {
            Side::Ram(d) => ram().lookup(d, name).map(|i| self.tag(i)),
            Side::Disk(d) => self.disk().lookup(d, name),
        }
    }

    /// A path below a disk directory goes to the file server whole, one
    /// request; the memory mounts are only in the disk's root, so only a
    /// path from the root whose first component is one of them (or a
    /// path from a RamFs directory) is walked here, a component at a
    /// time.
    fn resolve(&self, dir: Ino, path: &[u8]) -> Result<Ino, Error> {
        let first = path.split(|&b| b == b'/').find(|c| !c.is_empty()).unwrap_or_default();
        match self.split(dir) {
            Side::Disk(d) if !self.mount_point(dir, first) => self.disk().lookup(d, path),
            _ => crate::path::walk_components(self, dir, path),
        }
    }

    fn stat(&self, ino: Ino) -> Result<Stat, Error> {
        match self.split(ino) {
            Side::Ram(i) => ram().stat(i).map(|s| Stat { ino, ..s }),
            Side::Disk(i) => self.disk().stat(i),
        }
    }

    fn writable(&self, ino: Ino) -> bool {
        match self.split(ino) {
            Side::Ram(i) => ram().writable(i),
            Side::Disk(_) => true,
        }
    }

    fn create(&mut self, dir: Ino, name: &[u8], kind: Kind) -> Result<Ino, Error> {
        if self.mount_point(dir, name) {
            return Err(Error::Exists);
        }
        match self.split(dir) {
            Side::Ram(d) => {
                let i = ram().create(d, name, kind)?;
                Ok(self.tag(i))
            }
            Side::Disk(d) => self.disk().create(d, name, kind),
        }
    }

    fn unlink(&mut self, dir: Ino, name: &[u8]) -> Result<(), Error> {
        if self.mount_point(dir, name) {
            return Err(Error::IsDir);
        }
        match self.split(dir) {
            Side::Ram(d) => ram().unlink(d, name),
            Side::Disk(d) => self.disk().remove(d, name, fs::UNLINK),
        }
    }

    fn read(&self, ino: Ino, offset: u64, buf: &mut [u8]) -> Result<usize, Error> {
        match self.split(ino) {
            Side::Ram(i) => ram().read(i, offset, buf),
            Side::Disk(_) => Err(Error::Invalid),
        }
    }

    fn write(&mut self, ino: Ino, offset: u64, data: &[u8]) -> Result<usize, Error> {
        match self.split(ino) {
            Side::Ram(i) => ram().write(i, offset, data),
            Side::Disk(_) => Err(Error::Invalid),
        }
    }

    fn truncate(&mut self, ino: Ino) -> Result<(), Error> {
        match self.split(ino) {
            Side::Ram(i) => ram().truncate(i),
            Side::Disk(i) => self.disk().truncate(i, 0),
        }
    }

    fn readdir(&self, dir: Ino, pos: u64) -> Result<Option<(DirEntry, u64)>, Error> {
        self.readdir_at(dir, pos)
    }

    fn retain(&mut self, ino: Ino) {
        if let Side::Ram(i) = self.split(ino) {
            ram().retain(i);
        }
    }

    fn release(&mut self, ino: Ino) {
        if let Side::Ram(i) = self.split(ino) {
            ram().release(i);
        }
    }
}
