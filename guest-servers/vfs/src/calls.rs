//! The calls that are answered at once: open, close, pipe, dup, dup2,
//! chdir, stat, fstat, getdents, lseek, mkdir, unlink, getcwd, rmdir,
//! rename, fsync, sync.
//!
//! Each returns the reply's words (`[result, …]`) or an error; `main` (or
//! the disk worker, [`crate::worker`]) sends the reply. Paths are copied
//! out of the caller's grant first ([`Vfs::paths`], before the request is
//! classified) and resolved against its working directory
//! ([`crate::path`]).
//!
//! The calls that may ask the file server ([`call`] and what it calls)
//! reach VFS's state through an [`Access`]: on the main stack the
//! handler's own `&mut Vfs`, on the disk worker's a fresh borrow per step
//! ([`crate::Fresh`]), so no borrow of it is alive across the worker's
//! wait for the file server. They reach the file systems through the
//! [`Mount`], which holds no state of its own.

use crate::fdtable::{Object, MAX_FDS};
use crate::fs::{FileSystem, Kind};
use crate::mount::Mount;
use crate::path::{walk, walk_parent, PathBuf, PATH_MAX};
use crate::worker::Paths;
use crate::{Access, Vfs};
use abi::proto::vfs::*;
use abi::{Endpoint, Error, Message};

/// Reply words of a successful call.
pub type Words = [u64; 5];

fn one(v: u64) -> Words {
    [v, 0, 0, 0, 0]
}

impl Vfs {
    /// The paths call `msg` of `caller` names: payload words 1 (grant) and
    /// 2 (length), and for RENAME words 3 and 4 too; a short path in the
    /// message itself (`INLINE_PATH`: its bytes in words 3 to 6).
    pub fn paths(&mut self, caller: Endpoint, msg: &Message) -> Result<Paths, Error> {
        let w = msg.payload;
        Ok(match msg.mtype {
            OPEN | CHDIR | STAT | MKDIR | UNLINK | RMDIR if w[1] == INLINE_PATH => {
                let mut buf = [0u8; INLINE_PATH_MAX];
                let text =
                    abi::proto::fs::inline_name(&[w[3], w[4], w[5], w[6]], w[2], &mut buf).ok_or(Error::Invalid)?;
                Paths { first: Some(self.tables.proc(caller)?.cwd.join(text)?), second: None }
            }
            OPEN | CHDIR | STAT | MKDIR | UNLINK | RMDIR => {
                Paths { first: Some(self.path_at(caller, w[1], w[2])?), second: None }
            }
            RENAME => Paths {
                first: Some(self.path_at(caller, w[1], w[2])?),
                second: Some(self.path_at(caller, w[3], w[4])?),
            },
            _ => Paths::default(),
        })
    }
    /// The absolute path in grant `grant` (`len` bytes) of `caller`.
    ///
    /// Kept out of line so it is a function of its own in VFS's symbols:
    /// a user breakpoint's place in the gdb tests (vmm/tests/gdb.rs), and
    /// in a user's session (docs/gdb.md).
    #[inline(never)]
    fn path_at(&mut self, caller: Endpoint, grant: u64, len: u64) -> Result<PathBuf, Error> {
        let len = len as usize;
        if len > PATH_MAX {
            return Err(Error::Invalid);
        }
        let mut buf = [0u8; PATH_MAX];
        rt::sys::safecopy_from(caller, grant, 0, &mut buf[..len])?;
        let cwd = self.tables.proc(caller)?.cwd;
        cwd.join(&buf[..len])
    }
    /// Drops one reference of filp `f`, with the effects of a last close.
    pub fn release(&mut self, f: u16) {
        match self.tables.unref(f) {
            Some(Object::Node(ino)) => Mount.release(ino),
            Some(Object::PipeRead(p)) => crate::pipes().close_end(p, false),
            Some(Object::PipeWrite(p)) => crate::pipes().close_end(p, true),
            Some(Object::Device(_)) | None => {}
        }
    }
    fn pipe(&mut self, caller: Endpoint) -> Result<Words, Error> {
        let p = crate::pipes().create().ok_or(Error::TooMany)?;
        let r = match self.tables.new_filp(Object::PipeRead(p), O_RDONLY) {
            Ok(r) => r,
            Err(e) => {
                crate::pipes().close_end(p, false);
                crate::pipes().close_end(p, true);
                return Err(e);
            }
        };
        let w = match self.tables.new_filp(Object::PipeWrite(p), O_WRONLY) {
            Ok(w) => w,
            Err(e) => {
                self.release(r);
                crate::pipes().close_end(p, true);
                return Err(e);
            }
        };
        let rfd = match self.tables.install(caller, r, 0) {
            Ok(fd) => fd,
            Err(e) => {
                self.release(r);
                self.release(w);
                return Err(e);
            }
        };
        match self.tables.install(caller, w, 0) {
            Ok(wfd) => Ok([0, rfd, wfd, 0, 0]),
            Err(e) => {
                let _ = self.tables.take_fd(caller, rfd);
                self.release(r);
                self.release(w);
                Err(e)
            }
        }
    }
    fn dup2(&mut self, caller: Endpoint, fd: u64, target: u64) -> Result<Words, Error> {
        let f = self.tables.filp_of(caller, fd)?;
        if target as usize >= MAX_FDS {
            return Err(Error::BadFd);
        }
        if fd == target {
            return Ok(one(target));
        }
        self.tables.filp(f).refs += 1;
        let p = self.tables.proc(caller)?;
        let old = p.fds[target as usize].replace(f);
        if let Some(old) = old {
            self.release(old);
        }
        Ok(one(target))
    }
}

/// Handles call `msg` from `caller`, which names `paths`.
pub fn call(v: &mut impl Access, caller: Endpoint, msg: &Message, paths: &Paths) -> Result<Words, Error> {
    let w = msg.payload;
    let path = || paths.first.ok_or(Error::Invalid);
    match msg.mtype {
        OPEN => open(v, caller, w[0], &path()?),
        CLOSE => {
            let f = v.get().tables.take_fd(caller, w[0])?;
            v.get().release(f);
            Ok(one(0))
        }
        PIPE => v.get().pipe(caller),
        DUP => {
            let f = v.get().tables.filp_of(caller, w[0])?;
            v.get().tables.filp(f).refs += 1;
            let tables = &mut v.get().tables;
            tables.install(caller, f, 0).inspect_err(|_| tables.filp(f).refs -= 1).map(one)
        }
        DUP2 => v.get().dup2(caller, w[0], w[1]),
        CHDIR => {
            let path = path()?;
            let ino = walk(&Mount, &path)?;
            if Mount.stat(ino)?.kind != Kind::Dir {
                return Err(Error::NotDir);
            }
            v.get().tables.proc(caller)?.cwd = path;
            Ok(one(0))
        }
        STAT => {
            let path = path()?;
            let ino = walk(&Mount, &path)?;
            let s = Mount.stat(ino)?;
            Ok([0, s.kind.type_code(), s.size, s.links, u64::from(s.ino)])
        }
        FSTAT => fstat(v, caller, w[0]),
        GETDENTS => getdents(v, caller, w[0], w[1], w[2]),
        LSEEK => lseek(v, caller, w[0], w[1] as i64, w[2]),
        MKDIR => {
            let path = path()?;
            let (dir, name) = walk_parent(&Mount, &path)?;
            if !Mount.writable(dir) {
                return Err(Error::Perm);
            }
            Mount.create(dir, name, Kind::Dir).map(|_| one(0))
        }
        UNLINK => {
            let path = path()?;
            let (dir, name) = walk_parent(&Mount, &path)?;
            Mount.unlink(dir, name).map(|_| one(0))
        }
        RMDIR => {
            let path = path()?;
            let (dir, name) = walk_parent(&Mount, &path)?;
            Mount.rmdir(dir, name).map(|_| one(0))
        }
        RENAME => {
            let old = path()?;
            let new = paths.second.ok_or(Error::Invalid)?;
            let (old_dir, old_name) = walk_parent(&Mount, &old)?;
            let (new_dir, new_name) = walk_parent(&Mount, &new)?;
            Mount.rename(old_dir, old_name, new_dir, new_name).map(|_| one(0))
        }
        FSYNC => {
            v.get().tables.filp_of(caller, w[0])?;
            Mount.sync().map(|_| one(0))
        }
        SYNC => Mount.sync().map(|_| one(0)),
        GETCWD => {
            let cwd = v.get().tables.proc(caller)?.cwd;
            let text = cwd.as_bytes();
            if (w[2] as usize) < text.len() {
                return Err(Error::Invalid);
            }
            rt::sys::safecopy_to(caller, w[1], 0, text).map(|_| one(text.len() as u64))
        }
        _ => Err(Error::BadRequest),
    }
}

fn open(v: &mut impl Access, caller: Endpoint, flags: u64, path: &PathBuf) -> Result<Words, Error> {
    let wants_write = flags & 3 != O_RDONLY;
    let (ino, created) = match walk(&Mount, path) {
        Ok(ino) => (ino, false),
        Err(Error::NoEntry) if flags & O_CREAT != 0 => {
            let (dir, name) = walk_parent(&Mount, path)?;
            if !Mount.writable(dir) {
                return Err(Error::Perm);
            }
            (Mount.create(dir, name, Kind::File)?, true)
        }
        Err(e) => return Err(e),
    };
    let st = Mount.stat(ino)?;
    let object = match st.kind {
        Kind::Dir if wants_write => return Err(Error::IsDir),
        Kind::Char(minor) => Object::Device(minor),
        Kind::File if wants_write && !Mount.writable(ino) => return Err(Error::Perm),
        _ => Object::Node(ino),
    };
    let truncated = object == Object::Node(ino) && wants_write && flags & O_TRUNC != 0;
    // A file this open created is empty already: nothing to cut.
    if truncated && !created {
        Mount.truncate(ino)?;
    }
    let f = v.get().tables.new_filp(object, flags)?;
    if let Object::Node(ino) = object {
        Mount.retain(ino);
    }
    match v.get().tables.install(caller, f, 0) {
        // The reply carries what FSTAT would say (the same words).
        Ok(fd) => Ok(match object {
            Object::Node(_) => {
                [fd, st.kind.type_code(), if truncated { 0 } else { st.size }, st.links, u64::from(st.ino)]
            }
            _ => [fd, TYPE_CHAR, 0, 1, 0],
        }),
        Err(e) => {
            v.get().release(f);
            Err(e)
        }
    }
}

fn fstat(v: &mut impl Access, caller: Endpoint, fd: u64) -> Result<Words, Error> {
    let f = v.get().tables.filp_of(caller, fd)?;
    match v.get().tables.filp(f).object {
        Object::Node(ino) => {
            let s = Mount.stat(ino)?;
            Ok([0, s.kind.type_code(), s.size, s.links, u64::from(s.ino)])
        }
        Object::Device(_) => Ok([0, TYPE_CHAR, 0, 1, 0]),
        Object::PipeRead(p) | Object::PipeWrite(p) => Ok([0, TYPE_PIPE, crate::pipes().get(p).len as u64, 1, 0]),
    }
}

fn getdents(v: &mut impl Access, caller: Endpoint, fd: u64, grant: u64, len: u64) -> Result<Words, Error> {
    let f = v.get().tables.filp_of(caller, fd)?;
    let Object::Node(dir) = v.get().tables.filp(f).object else { return Err(Error::NotDir) };
    let mut buf = [0u8; 2048];
    let cap = (len as usize).min(buf.len());
    let mut pos = v.get().tables.filp(f).offset;
    let mut used = 0;
    while let Some((e, next)) = Mount.readdir(dir, pos)? {
        let size = 2 + e.name_len;
        if used + size > cap {
            if used == 0 {
                return Err(Error::Invalid);
            }
            break;
        }
        buf[used] = e.kind.type_code() as u8;
        buf[used + 1] = e.name_len as u8;
        buf[used + 2..used + size].copy_from_slice(&e.name[..e.name_len]);
        used += size;
        pos = next;
    }
    if used > 0 {
        rt::sys::safecopy_to(caller, grant, 0, &buf[..used])?;
    }
    v.get().tables.filp(f).offset = pos;
    Ok(one(used as u64))
}

fn lseek(v: &mut impl Access, caller: Endpoint, fd: u64, offset: i64, whence: u64) -> Result<Words, Error> {
    let f = v.get().tables.filp_of(caller, fd)?;
    let Object::Node(ino) = v.get().tables.filp(f).object else { return Err(Error::Invalid) };
    let base = match whence {
        SEEK_SET => 0,
        SEEK_CUR => v.get().tables.filp(f).offset as i64,
        SEEK_END => Mount.stat(ino)?.size as i64,
        _ => return Err(Error::Invalid),
    };
    let new = base.checked_add(offset).filter(|&n| n >= 0).ok_or(Error::Invalid)?;
    v.get().tables.filp(f).offset = new as u64;
    Ok(one(new as u64))
}
