//! READ and WRITE: files, pipes and the console, with parking.
//!
//! Every READ or WRITE is parked first ([`crate::requests`]) and then
//! attempted; an attempt either finishes (the caller gets its answer) or
//! leaves the request parked, waiting for a pipe, a driver slot or the
//! driver's answer. Files are served at once. Data moves between the
//! caller's grant and VFS's memory with safe copies, in chunks of
//! [`CHUNK`] bytes on VFS's stack.

use crate::device::{Op, BUF};
use crate::fdtable::Object;
use crate::fs::FileSystem;
use crate::mount::Mount;
use crate::pipe::Io;
use crate::requests::Wait;
use crate::{Access, Vfs};
use abi::proto::vfs;
use abi::{Endpoint, Error};

/// Bytes moved per safe copy for files and pipes.
pub const CHUNK: usize = 2048;

/// What an attempt came to.
enum Step {
    Finished(Result<u64, Error>),
    Wait(Wait),
}

impl Vfs {
    /// A new READ or WRITE from `caller`.
    pub fn read_write(&mut self, caller: Endpoint, msg: &abi::Message) {
        match self.parked.add(caller, *msg) {
            Some(i) => self.attempt(i),
            None => crate::reply(caller, Err(Error::TooMany)),
        }
    }

    /// Tries parked request `i` again; answers and unparks it when done.
    pub fn attempt(&mut self, i: usize) {
        let Some(p) = self.parked.get(i).copied() else { return };
        let step = self.step(i, p.caller, &p.msg, p.done);
        match step {
            Step::Finished(result) => {
                self.parked.remove(i);
                crate::reply(p.caller, result);
            }
            Step::Wait(w) => {
                if let Some(p) = self.parked.get(i) {
                    p.wait = w;
                }
            }
        }
    }

    fn step(&mut self, i: usize, caller: Endpoint, msg: &abi::Message, done: u64) -> Step {
        let write = msg.mtype == vfs::WRITE;
        let (fd, grant, len) = (msg.payload[0], msg.payload[1], msg.payload[2]);
        let f = match self.tables.filp_of(caller, fd) {
            Ok(f) => f,
            Err(e) => return Step::Finished(Err(e)),
        };
        let filp = *self.tables.filp(f);
        if (write && !filp.writable()) || (!write && !filp.readable()) {
            return Step::Finished(Err(Error::BadFd));
        }
        if len == 0 {
            return Step::Finished(Ok(0));
        }
        match filp.object {
            Object::Node(ino) => Step::Finished(file_io(self, f, ino, caller, grant, len, write)),
            Object::PipeRead(_) if write => Step::Finished(Err(Error::BadFd)),
            Object::PipeWrite(_) if !write => Step::Finished(Err(Error::BadFd)),
            Object::PipeRead(p) => {
                let mut buf = [0u8; CHUNK];
                let want = (len as usize).min(CHUNK);
                match crate::pipes().get(p).read(&mut buf[..want]) {
                    Io::Done(n) => Step::Finished(copy_to(caller, grant, 0, &buf[..n]).map(|_| n as u64)),
                    Io::WouldBlock => Step::Wait(Wait::Pipe),
                    Io::Broken => Step::Finished(Err(Error::BrokenPipe)),
                }
            }
            Object::PipeWrite(p) => self.pipe_write(i, p, caller, grant, len, done),
            Object::Device(_) => self.device_io(i, caller, grant, len, done, write),
        }
    }

    fn pipe_write(&mut self, i: usize, p: usize, caller: Endpoint, grant: u64, len: u64, mut done: u64) -> Step {
        let mut buf = [0u8; CHUNK];
        while done < len {
            let pipe = crate::pipes().get(p);
            if pipe.readers == 0 {
                return Step::Finished(if done > 0 { Ok(done) } else { Err(Error::BrokenPipe) });
            }
            let want = ((len - done) as usize).min(CHUNK).min(pipe.room());
            if want == 0 {
                if let Some(parked) = self.parked.get(i) {
                    parked.done = done;
                }
                return Step::Wait(Wait::Pipe);
            }
            if let Err(e) = rt::sys::safecopy_from(caller, grant, done, &mut buf[..want]) {
                return Step::Finished(if done > 0 { Ok(done) } else { Err(e) });
            }
            match crate::pipes().get(p).write(&buf[..want]) {
                Io::Done(n) => done += n as u64,
                _ => return Step::Finished(Err(Error::BrokenPipe)),
            }
        }
        Step::Finished(Ok(done))
    }

    fn device_io(&mut self, i: usize, caller: Endpoint, grant: u64, len: u64, done: u64, write: bool) -> Step {
        if self.dev.is_pending(i) {
            return Step::Wait(Wait::Device);
        }
        let Some(slot) = self.dev.free_slot() else { return Step::Wait(Wait::Slot) };
        let chunk = ((len - done) as usize).min(BUF);
        if write {
            if let Err(e) = rt::sys::safecopy_from(caller, grant, done, &mut self.dev.buffer(slot)[..chunk]) {
                return Step::Finished(if done > 0 { Ok(done) } else { Err(e) });
            }
        }
        self.dev.start(slot, if write { Op::Write } else { Op::Read }, chunk, i, caller);
        Step::Wait(Wait::Device)
    }

    /// The driver answered request `id` with `result`.
    pub fn device_answer(&mut self, source: Endpoint, id: u64, result: i64) {
        let Some((slot, req)) = self.dev.answer(source, id) else { return };
        let mut result = Error::from_return(result);
        if self.dev.checks && result.is_ok_and(|n| n > req.len as u64) {
            // More bytes than asked for cannot be right: an error for this
            // caller, and the driver is reported (RS restarts it).
            rt::println!("vfs: console driver answered {} bytes to a request of {}", result.unwrap_or(0), req.len);
            self.dev.complain();
            result = Err(Error::Io);
        }
        match result {
            // ^C ends a read: the program's answer, never retried (a
            // write is never interrupted: there it is garbage).
            Err(Error::Interrupted) if req.op == Op::Read => {}
            Err(_) if self.dev.retry(slot, req) => return,
            // What a console can fail with is an I/O error, whatever
            // number the driver (or a garbled reply) gave: a program must
            // never read "not found" or "permission denied" into it.
            Err(_) if self.dev.checks => result = Err(Error::Io),
            _ => {}
        }
        let Some(i) = req.waiter else { return };
        let Some(p) = self.parked.get(i).copied() else { return };
        let grant = p.msg.payload[1];
        let outcome = match (req.op, result) {
            (Op::Read, Ok(n)) => {
                let n = (n as usize).min(req.len);
                copy_to(p.caller, grant, 0, &self.dev.buffer(slot)[..n]).map(|_| n as u64)
            }
            (Op::Write, Ok(n)) if n > 0 && p.done + n < p.msg.payload[2] => {
                if let Some(parked) = self.parked.get(i) {
                    parked.done += n;
                    parked.wait = Wait::Slot;
                }
                self.attempt(i);
                return;
            }
            (Op::Write, Ok(n)) => Ok(p.done + n),
            (Op::Write, Err(_)) if p.done > 0 => Ok(p.done),
            (_, Err(e)) => Err(e),
        };
        self.parked.remove(i);
        crate::reply(p.caller, outcome);
    }

    /// The console driver missed the deadline of the requests in `slots`
    /// (a bit per slot): a write's twice, a read's once. Their callers get
    /// what was written so far, or an I/O error.
    pub fn device_given_up(&mut self, slots: u32) {
        for slot in (0..crate::device::SLOTS).filter(|s| slots & (1 << s) != 0) {
            let Some(req) = self.dev.abandon(slot) else { continue };
            let Some(i) = req.waiter else { continue };
            let Some(p) = self.parked.remove(i) else { continue };
            let what = if req.op == Op::Read { "read" } else { "write" };
            rt::println!("vfs: console {} of {} gave up: the driver does not serve", what, p.caller);
            crate::reply(p.caller, if p.done > 0 { Ok(p.done) } else { Err(Error::Io) });
        }
    }
}

/// A READ or WRITE of a disk file, run by the disk worker
/// ([`crate::worker`]): never parked, it is served to the end.
pub fn disk_read_write(v: &mut impl Access, caller: Endpoint, msg: &abi::Message) -> Result<u64, Error> {
    let write = msg.mtype == vfs::WRITE;
    let (fd, grant, len) = (msg.payload[0], msg.payload[1], msg.payload[2]);
    let f = v.get().tables.filp_of(caller, fd)?;
    let filp = *v.get().tables.filp(f);
    if (write && !filp.writable()) || (!write && !filp.readable()) {
        return Err(Error::BadFd);
    }
    match filp.object {
        _ if len == 0 => Ok(0),
        Object::Node(ino) => file_io(v, f, ino, caller, grant, len, write),
        _ => Err(Error::BadFd),
    }
}

/// Moves `len` bytes between open file `f` (inode `ino`) and the
/// caller's grant. On the disk worker `v` borrows `Vfs` per step
/// ([`crate::Fresh`]): no borrow is alive across a transfer, and the
/// offset is written back after each one.
fn file_io(
    v: &mut impl Access,
    f: u16,
    ino: u32,
    caller: Endpoint,
    grant: u64,
    len: u64,
    write: bool,
) -> Result<u64, Error> {
    let mut buf = [0u8; CHUNK];
    let mut offset = v.get().tables.filp(f).offset;
    if write && v.get().tables.filp(f).flags & vfs::O_APPEND != 0 {
        offset = Mount.stat(ino)?.size;
    }
    let mut done = 0u64;
    // The end this description's last read found, with nothing written
    // since: a second READ to the file server would bring back 0.
    if !write && v.get().tables.filp(f).end_seen == Some((offset, Mount.disk_changes())) {
        return Ok(0);
    }
    // Disk files: the file server copies straight to or from the
    // user's grant (an indirect grant), so the data moves once.
    while done < len {
        let want = (len - done).min(u64::from(u32::MAX));
        match Mount.transfer(ino, offset, caller, grant, done, want, write) {
            None => break,
            Some(Err(e)) if done == 0 => return Err(e),
            Some(Err(_)) => return Ok(done),
            Some(Ok(n)) => {
                let n = n.min(want);
                done += n;
                offset += n;
                let filp = v.get().tables.filp(f);
                filp.offset = offset;
                // The file server moves less than asked only at the
                // end of the file (or, writing, at its size limit):
                // asking again would only bring back 0.
                if n < want {
                    if !write {
                        filp.end_seen = Some((offset, Mount.disk_changes()));
                    }
                    return Ok(done);
                }
            }
        }
        if done == len {
            return Ok(done);
        }
    }
    while done < len {
        let want = ((len - done) as usize).min(CHUNK);
        let n = if write {
            rt::sys::safecopy_from(caller, grant, done, &mut buf[..want])?;
            match Mount.write(ino, offset, &buf[..want]) {
                Ok(n) => n,
                Err(e) if done == 0 => return Err(e),
                Err(_) => 0,
            }
        } else {
            let n = Mount.read(ino, offset, &mut buf[..want])?;
            copy_to(caller, grant, done, &buf[..n])?;
            n
        };
        done += n as u64;
        offset += n as u64;
        v.get().tables.filp(f).offset = offset;
        if n < want {
            break;
        }
    }
    Ok(done)
}

/// Copies `data` into the caller's grant at `offset` (nothing to copy is
/// no kernel call).
fn copy_to(caller: Endpoint, grant: u64, offset: u64, data: &[u8]) -> Result<u64, Error> {
    if data.is_empty() {
        return Ok(0);
    }
    rt::sys::safecopy_to(caller, grant, offset, data)
}
