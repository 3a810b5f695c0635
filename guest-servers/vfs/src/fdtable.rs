//! Processes, their descriptor tables and the open file descriptions.
//!
//! As in UNIX, a descriptor points to an open file description (a
//! "filp": the object, the offset, the open flags) that `dup`, `dup2` and
//! `fork` share, so a shell's redirections and pipelines see one offset.
//! Processes are keyed by endpoint: VFS learns of one on its first call
//! (it then gets descriptors 0, 1, 2 on the console) or from PM's
//! `PM_FORK` (a copy of the parent's table and working directory), and
//! forgets it on `PM_EXIT`. Every table is bounded; running out is
//! `TooMany`.
//!
//! Closing the last reference of a filp has effects elsewhere (an inode's
//! open count, a pipe end's count), so [`Tables::unref`] hands the object
//! back to the caller when that happens.

use crate::path::PathBuf;
use abi::{Endpoint, Error};

/// Most processes VFS knows at once.
pub const MAX_PROCS: usize = 64;
/// Descriptors per process.
pub const MAX_FDS: usize = 16;
/// Open file descriptions system-wide.
pub const MAX_FILPS: usize = 128;

/// What an open file description refers to.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Object {
    /// A file or directory of the root file system.
    Node(crate::fs::Ino),
    /// A character device (minor number; 0 = the console).
    Device(u8),
    /// The read end of pipe `n`.
    PipeRead(usize),
    /// The write end of pipe `n`.
    PipeWrite(usize),
}

/// An open file description.
#[derive(Clone, Copy)]
pub struct Filp {
    pub refs: u32,
    pub object: Object,
    pub offset: u64,
    /// `O_*` flags it was opened with.
    pub flags: u64,
    /// Where a read through it last found the end of a disk file, and the
    /// file server's change count then (`Mount::disk_changes`): a read
    /// from there while nothing changed is at the end again.
    pub end_seen: Option<(u64, u64)>,
}

impl Filp {
    /// May be read through.
    pub fn readable(&self) -> bool {
        self.flags & 3 != abi::proto::vfs::O_WRONLY
    }

    /// May be written through.
    pub fn writable(&self) -> bool {
        self.flags & 3 != abi::proto::vfs::O_RDONLY
    }
}

/// A process as VFS sees it.
#[derive(Clone, Copy)]
pub struct Proc {
    pub endpoint: Endpoint,
    pub fds: [Option<u16>; MAX_FDS],
    pub cwd: PathBuf,
}

/// All processes and open file descriptions.
pub struct Tables {
    procs: [Option<Proc>; MAX_PROCS],
    filps: [Option<Filp>; MAX_FILPS],
}

impl Tables {
    /// Empty tables.
    pub const fn new() -> Tables {
        Tables { procs: [None; MAX_PROCS], filps: [None; MAX_FILPS] }
    }

    fn proc_index(&self, ep: Endpoint) -> Option<usize> {
        self.procs.iter().position(|p| p.is_some_and(|p| p.endpoint == ep))
    }

    /// The process `ep`, created on first contact with 0, 1, 2 on the
    /// console.
    pub fn proc(&mut self, ep: Endpoint) -> Result<&mut Proc, Error> {
        if let Some(i) = self.proc_index(ep) {
            return Ok(self.procs[i].as_mut().unwrap());
        }
        let slot = self.procs.iter().position(|p| p.is_none()).ok_or(Error::TooMany)?;
        let console = self.new_filp(Object::Device(0), abi::proto::vfs::O_RDWR)?;
        let filp = self.filps[console as usize].as_mut().unwrap();
        filp.refs = 3;
        let mut fds = [None; MAX_FDS];
        fds[..3].fill(Some(console));
        self.procs[slot] = Some(Proc { endpoint: ep, fds, cwd: PathBuf::root() });
        Ok(self.procs[slot].as_mut().unwrap())
    }

    /// A new filp with one reference.
    pub fn new_filp(&mut self, object: Object, flags: u64) -> Result<u16, Error> {
        let i = self.filps.iter().position(|f| f.is_none()).ok_or(Error::TooMany)?;
        self.filps[i] = Some(Filp { refs: 1, object, offset: 0, flags, end_seen: None });
        Ok(i as u16)
    }

    /// Filp number `i`.
    pub fn filp(&mut self, i: u16) -> &mut Filp {
        self.filps[i as usize].as_mut().expect("descriptor points to a free filp")
    }

    /// The filp behind descriptor `fd` of `ep`.
    pub fn filp_of(&mut self, ep: Endpoint, fd: u64) -> Result<u16, Error> {
        let p = self.proc(ep)?;
        p.fds.get(fd as usize).copied().flatten().ok_or(Error::BadFd)
    }

    /// Installs filp `f` (whose reference the caller already counted) at the
    /// lowest free descriptor of `ep`, at least `from`.
    pub fn install(&mut self, ep: Endpoint, f: u16, from: usize) -> Result<u64, Error> {
        let p = self.proc(ep)?;
        let fd = (from..MAX_FDS).find(|&i| p.fds[i].is_none()).ok_or(Error::TooMany)?;
        p.fds[fd] = Some(f);
        Ok(fd as u64)
    }

    /// Drops one reference of filp `f`; returns its object when it was the
    /// last.
    pub fn unref(&mut self, f: u16) -> Option<Object> {
        let filp = self.filp(f);
        filp.refs -= 1;
        if filp.refs > 0 {
            return None;
        }
        let object = filp.object;
        self.filps[f as usize] = None;
        Some(object)
    }

    /// Takes descriptor `fd` of `ep` out of its table; returns the filp.
    pub fn take_fd(&mut self, ep: Endpoint, fd: u64) -> Result<u16, Error> {
        let p = self.proc(ep)?;
        p.fds.get_mut(fd as usize).and_then(Option::take).ok_or(Error::BadFd)
    }

    /// `PM_FORK`: `child` becomes a copy of `parent`. Returns the filps of
    /// a stale `child` entry that was replaced (to be unreferenced).
    pub fn fork(&mut self, parent: Endpoint, child: Endpoint) -> Result<[Option<u16>; MAX_FDS], Error> {
        let stale = self.remove(child).map(|p| p.fds).unwrap_or([None; MAX_FDS]);
        let mut copy = *self.proc(parent)?;
        copy.endpoint = child;
        let slot = self.procs.iter().position(|p| p.is_none()).ok_or(Error::TooMany)?;
        for f in copy.fds.iter().flatten() {
            self.filp(*f).refs += 1;
        }
        self.procs[slot] = Some(copy);
        Ok(stale)
    }

    /// Forgets process `ep`; returns it (its descriptors still counted).
    pub fn remove(&mut self, ep: Endpoint) -> Option<Proc> {
        let i = self.proc_index(ep)?;
        self.procs[i].take()
    }
}
