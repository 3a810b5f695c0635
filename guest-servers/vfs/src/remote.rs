//! The link to a file server (`abi::proto::fs`): the ext2 server that holds
//! the root file system on the disk.
//!
//! VFS trusts its file server, but does not wait for it with everything
//! else on hold: a request goes out without blocking (with VFS's next
//! receive, in one kernel entry, when the server waits in RECEIVE; else
//! by an entry of VFS's SENDA table: [`exchange`]) and the disk worker
//! ([`crate::worker`]) suspends until VFS's server loop hands it the
//! reply; the file server
//! answers VFS the same way, so the reply cannot be lost while VFS is
//! busy with something else. Outside the worker (at
//! start, at the power-off after a VFS death, and with
//! `viv.weaken=fs_async`) the call waits in a RECEIVE from the file
//! server, as the SENDREC it replaces did.
//!
//! One request is in flight at a time (the worker runs one job at a
//! time), so the grants and name buffers here belong to it alone. Names
//! travel through grants on VFS's own name buffers; file data never
//! passes through VFS: for a user's READ or WRITE, VFS puts an indirect
//! grant (`abi::grant::GRANT_INDIRECT`) in its table that hands the file
//! server the needed window of the user's own grant, so the kernel copies
//! the data once, between the file server's buffer and the user.
//!
//! If the file server dies, the call learns it (a failed delivery, a
//! RECEIVE from a dead endpoint, or DS's news of a new endpoint while the
//! worker waits), looks the server up in DS again and sends the request
//! once more to the new instance (RS restarts it).

use crate::device::Device;
use crate::fs::{DirEntry, Ino, Kind, Stat, NAME_MAX};
use crate::namecache::NameCache;
use abi::grant::{Grant, GRANT_READ, GRANT_VALID, GRANT_WRITE};
use abi::proto::{self, fs, vfs};
use abi::{Endpoint, Error, Message};
use core::cell::{Cell, RefCell};

/// DS name of the file server.
pub const SERVICE: &str = "ext2fs";

/// Grant slots (see `Device::fs_grant`).
const NAME_A: usize = 0;
const NAME_B: usize = 1;
const DATA: usize = 2;
const DIRENT: usize = 3;

/// Longest name we send.
const NAME_BUF: usize = 256;

/// Name buffers the file server reads (A, B) or writes (dirent) through
/// our grants.
static mut NAMES: [[u8; NAME_BUF]; 3] = [[0; NAME_BUF]; 3];

fn names() -> &'static mut [[u8; NAME_BUF]; 3] {
    // SAFETY: VFS is single-threaded and has one file-server request in
    // flight at a time (the disk worker's, or the main loop's when there
    // is no worker); the buffers are touched here and by the file
    // server's safe copies while that request is in flight.
    unsafe { &mut *(&raw mut NAMES) }
}

/// The file server, once [`connect`] found it. Its own static, apart from
/// [`crate::Vfs`]: both stacks use it through shared references only
/// (every field is a cell, and no `RefCell` borrow is held across a
/// call), so the disk worker may hold one across its wait for the file
/// server while the main loop borrows `Vfs` mutably.
static DISK: RemoteFs = RemoteFs {
    mounted: Cell::new(false),
    ep: Cell::new(Endpoint::NONE),
    found: Cell::new(None),
    changes: Cell::new(0),
    names: RefCell::new(NameCache::new()),
};

/// The mounted file server, if any.
pub fn disk() -> Option<&'static RemoteFs> {
    DISK.mounted.get().then_some(&DISK)
}

/// Connects to the file server registered in DS; checks that its root is
/// usable (a server without a disk answers `Unavailable`). From then on
/// [`disk`] returns it.
pub fn connect() -> Result<&'static RemoteFs, Error> {
    let (ep, _) = rt::names::lookup_fresh(SERVICE)?;
    DISK.ep.set(ep);
    let root = DISK.stat(fs::ROOT_INODE as Ino)?;
    if root.kind != Kind::Dir {
        return Err(Error::NotDir);
    }
    DISK.mounted.set(true);
    Ok(&DISK)
}

/// A mounted file server.
pub struct RemoteFs {
    /// [`connect`] succeeded.
    mounted: Cell<bool>,
    ep: Cell<Endpoint>,
    /// What the last LOOKUP said about the inode it found, until anything
    /// but a lookup, stat, read or readdir goes to the server: a path walk
    /// checks each directory it enters, and an open what it found, so
    /// answering those from here halves an open's calls. Only VFS changes
    /// the file system, so the entry is stale only after a call that
    /// changes it, and those drop it ([`Self::call`]).
    found: Cell<Option<Stat>>,
    /// Moves whenever the file system may have changed (the calls that
    /// drop `found`): a reader that found a file's end at an offset finds
    /// it there again while this stands still ([`Self::changes`]).
    changes: Cell<u64>,
    /// Recent LOOKUP answers by path ([`crate::namecache`]).
    names: RefCell<NameCache>,
}

// SAFETY: VFS is single-threaded; the cells are touched by its one
// thread, on either of its stacks, and never borrowed across a switch
// between them (values are copied in and out; the name cache's `RefCell`
// borrows end within the statement that took them).
unsafe impl Sync for RemoteFs {}

impl RemoteFs {
    /// The file server's endpoint.
    pub fn endpoint(&self) -> Endpoint {
        self.ep.get()
    }

    /// A count that moves at every request that may change the file
    /// system and at a new server.
    pub fn changes(&self) -> u64 {
        self.changes.get()
    }

    /// DS lists the file server at `ep` now: a request the worker waits
    /// for at the old endpoint will not be answered (a new instance never
    /// saw it), so the worker is told; the names found at the old one are
    /// forgotten.
    pub fn server_changed(&self, ep: Endpoint) {
        if ep == self.ep.get() {
            return;
        }
        // The new server may have lost names the old one had not written
        // out.
        self.names.borrow_mut().clear();
        if crate::worker::waiting() {
            crate::worker::deliver(crate::worker::Event::ServerChanged);
        }
    }

    /// Sends `msg` to the file server and takes its reply; a dead server
    /// is looked up again once (and the grants of the request are handed
    /// to the new one).
    fn call(&self, mtype: u32, words: &[u64]) -> Result<Message, Error> {
        if !matches!(mtype, fs::LOOKUP | fs::STAT | fs::READ | fs::READDIR) {
            self.found.set(None);
            self.changes.set(self.changes.get() + 1);
        }
        self.names.borrow_mut().before(mtype, words);
        let request = Message::with_words(mtype, words);
        let mut result = exchange(self.ep.get(), request);
        if matches!(result, Err(Error::DeadSrcDst | Error::DstDied | Error::SrcDied)) {
            // A new server may have lost changes the old one never wrote.
            self.found.set(None);
            self.changes.set(self.changes.get() + 1);
            self.names.borrow_mut().clear();
            if let Ok((fresh, _)) = rt::names::lookup_fresh(SERVICE) {
                self.ep.set(fresh);
                for slot in [NAME_A, NAME_B, DATA, DIRENT] {
                    Device::fs_grant(slot).1.grantee = fresh.0;
                }
                result = exchange(fresh, request);
            }
        }
        let msg = result?;
        proto::result_of(&msg)?;
        Ok(msg)
    }

    /// Grants the file server `name` in name buffer `slot`; returns (id,
    /// length).
    fn grant_name(&self, slot: usize, name: &[u8]) -> Result<(u64, u64), Error> {
        if name.len() > NAME_BUF {
            return Err(Error::Invalid);
        }
        let buf = &mut names()[slot];
        buf[..name.len()].copy_from_slice(name);
        let (id, g) = Device::fs_grant(slot);
        *g = Grant {
            flags: GRANT_VALID | GRANT_READ,
            grantee: self.ep.get().0,
            address: buf.as_ptr() as u64,
            size: name.len() as u64,
        };
        Ok((id, name.len() as u64))
    }

    fn revoke(slot: usize) {
        Device::fs_grant(slot).1.flags = 0;
    }

    fn kind(code: u64) -> Kind {
        if code == vfs::TYPE_DIR {
            Kind::Dir
        } else {
            Kind::File
        }
    }

    /// The inode `name` names in `dir`: one entry, or a relative path that
    /// the server resolves whole (`abi::proto::fs::LOOKUP`).
    pub fn lookup(&self, dir: Ino, name: &[u8]) -> Result<Ino, Error> {
        if let Some(st) = self.names.borrow_mut().get(dir, name) {
            self.found.set(Some(st));
            return Ok(st.ino);
        }
        let m = match fs::inline_name_words(name) {
            // A short name goes in the message (no grant, no copy).
            Some([a, b, c, d]) => {
                self.call(fs::LOOKUP, &[u64::from(dir), fs::INLINE_NAME, name.len() as u64, a, b, c, d])?
            }
            None => {
                let (id, len) = self.grant_name(NAME_A, name)?;
                let r = self.call(fs::LOOKUP, &[u64::from(dir), id, len]);
                Self::revoke(NAME_A);
                r?
            }
        };
        let ino = m.payload[1] as Ino;
        let (kind, size, links) = (Self::kind(m.payload[2]), m.payload[3], m.payload[4]);
        self.found.set(Some(Stat { kind, size, links, ino }));
        self.names.borrow_mut().put(dir, name, Stat { kind, size, links, ino });
        Ok(ino)
    }

    /// Facts about `ino`.
    pub fn stat(&self, ino: Ino) -> Result<Stat, Error> {
        if let Some(st) = self.found.get().filter(|st| st.ino == ino) {
            return Ok(st);
        }
        let m = self.call(fs::STAT, &[u64::from(ino)])?;
        Ok(Stat { kind: Self::kind(m.payload[1]), size: m.payload[2], links: m.payload[3], ino })
    }

    /// Creates `name` in `dir`.
    pub fn create(&self, dir: Ino, name: &[u8], kind: Kind) -> Result<Ino, Error> {
        let code = if kind == Kind::Dir { vfs::TYPE_DIR } else { vfs::TYPE_FILE };
        let (id, len) = self.grant_name(NAME_A, name)?;
        let r = self.call(fs::CREATE, &[u64::from(dir), id, len, code]);
        Self::revoke(NAME_A);
        let ino = r?.payload[1] as Ino;
        if kind == Kind::File {
            // A new file is empty with one link: the open that created it
            // needs no STAT.
            self.found.set(Some(Stat { kind, size: 0, links: 1, ino }));
        }
        Ok(ino)
    }

    /// UNLINK or RMDIR of `name` in `dir`.
    pub fn remove(&self, dir: Ino, name: &[u8], mtype: u32) -> Result<(), Error> {
        let (id, len) = self.grant_name(NAME_A, name)?;
        let r = self.call(mtype, &[u64::from(dir), id, len]);
        Self::revoke(NAME_A);
        r.map(|_| ())
    }

    /// Renames `old_dir/old` to `new_dir/new`.
    pub fn rename(&self, old_dir: Ino, old: &[u8], new_dir: Ino, new: &[u8]) -> Result<(), Error> {
        let (a, alen) = self.grant_name(NAME_A, old)?;
        let r = self
            .grant_name(NAME_B, new)
            .and_then(|(b, blen)| self.call(fs::RENAME, &[u64::from(old_dir), a, alen, u64::from(new_dir), b, blen]));
        Self::revoke(NAME_A);
        Self::revoke(NAME_B);
        r.map(|_| ())
    }

    /// Cuts `ino` to `size` bytes.
    pub fn truncate(&self, ino: Ino, size: u64) -> Result<(), Error> {
        self.call(fs::TRUNCATE, &[u64::from(ino), size]).map(|_| ())
    }

    /// Writes every dirty block to the disk.
    pub fn sync(&self) -> Result<(), Error> {
        self.call(fs::SYNC, &[]).map(|_| ())
    }

    /// The entry of `dir` at position `pos` and the next position; `None`
    /// past the last.
    pub fn readdir(&self, dir: Ino, pos: u64) -> Result<Option<(DirEntry, u64)>, Error> {
        let buf = &mut names()[2];
        let (id, g) = Device::fs_grant(DIRENT);
        *g = Grant {
            flags: GRANT_VALID | GRANT_WRITE,
            grantee: self.ep.get().0,
            address: buf.as_ptr() as u64,
            size: NAME_MAX as u64,
        };
        let r = self.call(fs::READDIR, &[u64::from(dir), pos, id, NAME_MAX as u64]);
        Self::revoke(DIRENT);
        let m = match r {
            Ok(m) => m,
            Err(Error::NoEntry) => return Ok(None),
            Err(e) => return Err(e),
        };
        let len = (m.payload[4] as usize).min(NAME_MAX);
        let mut e = DirEntry { kind: Self::kind(m.payload[3]), name: [0; NAME_MAX], name_len: len };
        e.name[..len].copy_from_slice(&names()[2][..len]);
        Ok(Some((e, m.payload[1])))
    }

    /// Moves `len` bytes between `ino` at `offset` and the user's grant
    /// `grant` (of `user`) at `grant_offset`, through an indirect grant;
    /// returns the bytes moved (0 at the end of the file for reads).
    #[allow(clippy::too_many_arguments)]
    pub fn transfer(
        &self,
        ino: Ino,
        offset: u64,
        user: Endpoint,
        grant: u64,
        grant_offset: u64,
        len: u64,
        write: bool,
    ) -> Result<u64, Error> {
        let (window, count) = (u32::try_from(grant_offset), u32::try_from(len));
        let (Ok(window), Ok(count), Ok(user_grant)) = (window, count, u32::try_from(grant)) else {
            return Err(Error::Invalid);
        };
        // Reads write into the user's buffer: the file server needs WRITE.
        let rights = if write { GRANT_READ } else { GRANT_WRITE };
        let (id, g) = Device::fs_grant(DATA);
        *g = Grant::indirect(self.ep.get().0, user.0, user_grant, window, count, rights);
        let mtype = if write { fs::WRITE } else { fs::READ };
        let r = self.call(mtype, &[u64::from(ino), offset, id, len]);
        Self::revoke(DATA);
        Ok(r?.payload[0])
    }
}

/// One request to file server `ep` and its reply. From the disk worker
/// the request leaves with the server loop's next receive (REPLYRECV_IF_SENT:
/// one kernel entry when the file server waits in RECEIVE), else by SENDA
/// ([`request_unsent`]), and the worker waits suspended
/// ([`crate::worker::wait`]). Outside the worker it is sent at once
/// ([`Device::post_fs_request`]) and the reply awaited in a RECEIVE from
/// the server. The error of a failed delivery, of a RECEIVE from a
/// server that died, or `DstDied` when DS lists another server (or none)
/// while the worker waits.
fn exchange(ep: Endpoint, msg: Message) -> Result<Message, Error> {
    use crate::worker::Event;
    let result = if crate::worker::inside() {
        rt::server::send_with_next(ep, &msg, request_unsent);
        match crate::worker::wait() {
            Event::Reply(msg) => Ok(msg),
            Event::ServerChanged => Err(Error::DstDied),
            Event::Undelivered => Err(Error::DeadSrcDst),
        }
    } else if !Device::post_fs_request(ep, msg) {
        Err(Error::DeadSrcDst)
    } else {
        let mut msg = Message::default();
        loop {
            match rt::ipc::receive(ep, &mut msg) {
                Ok(()) if msg.mtype == proto::REPLY => break Ok(msg),
                Ok(()) => {}
                Err(e) => break Err(e),
            }
        }
    };
    // Taken (or never to be): the entry is free for the next request.
    Device::clear_fs_request();
    result
}

/// The worker's request did not leave with the server loop's receive:
/// the file server is busy (then it is posted by SENDA, before the loop
/// receives) or gone (then the waiting worker learns it at once, in the
/// loop's `after`, and looks the server up again).
fn request_unsent(fs: Endpoint, msg: &Message, error: Error) {
    if error == Error::NotReady && Device::senda_fs_request(fs, *msg) {
        return;
    }
    crate::worker::deliver(crate::worker::Event::Undelivered);
}
