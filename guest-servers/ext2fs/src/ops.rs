//! The file-server protocol (`abi::proto::fs`) turned into calls on the
//! ext2 library.
//!
//! Why separate from the loop in `main`: this is where the caller's words
//! are checked and where the data path is, so the one-copy rule is visible
//! in one place: every byte of file data crosses between the caller's grant
//! and [`STAGING`] with exactly one safe copy ([`Server::read`],
//! [`Server::write`]); names come in the same way (at most 255 bytes).
//!
//! VFS is trusted, but its words still only index things through the
//! library, which checks every inode number and offset it is given, so a
//! bad request becomes an error reply, never a crash.

use crate::disk;
use crate::Fs;
use abi::proto::{self, fs as p, vfs};
use abi::{Endpoint, Error, Message};
use ext2::FileType;

/// Staging buffer size: the largest data chunk per safe copy.
const CHUNK: usize = 64 * 1024;
/// Longest ext2 name.
const NAME_MAX: usize = 255;
/// Seconds since 1970 at uptime 0: the guest has no clock, so times are
/// this fixed date (2026-01-01) plus the uptime.
const EPOCH: u64 = 1_767_225_600;

/// Page-aligned, as the program buffer PM reads into is: a safe copy
/// between them then moves whole pages, one chunk each, and a page of the
/// destination that is copy-on-write takes a fresh frame without copying
/// what it held first (`paging::translate_overwrite` in the kernel).
#[repr(C, align(4096))]
struct Staging([u8; CHUNK]);

static mut STAGING: Staging = Staging([0; CHUNK]);

fn staging() -> &'static mut [u8; CHUNK] {
    // SAFETY: single-threaded; only `Server::read`/`write` use it, one
    // borrow at a time, and the disk link never sees it (whole blocks are
    // handed to the driver through its own gather buffer or a grant on a
    // slice of it only during the library call that borrowed it).
    unsafe { &mut (*(&raw mut STAGING)).0 }
}

/// The time stamped on changes.
pub fn now() -> u32 {
    (EPOCH + rt::kip::ticks() / rt::kip::tick_hz().max(1)) as u32
}

/// Counters of the data path (printed at SYNC).
#[derive(Default)]
struct Stats {
    /// Safe copies of file data and their bytes.
    copies: u64,
    bytes: u64,
    requests: u64,
}

/// The request handler.
pub struct Server {
    stats: Stats,
}

fn errno(e: ext2::Error) -> Error {
    match e {
        ext2::Error::NotFound => Error::NoEntry,
        ext2::Error::NotDir => Error::NotDir,
        ext2::Error::IsDir => Error::IsDir,
        ext2::Error::Exists | ext2::Error::NotEmpty => Error::Exists,
        ext2::Error::NoSpace | ext2::Error::NoInodes => Error::NoMemory,
        ext2::Error::NameTooLong | ext2::Error::Invalid => Error::Invalid,
        ext2::Error::FileTooLarge => Error::Domain,
        ext2::Error::TooManyLinks => Error::TooMany,
        // The disk failed every try, or holds what cannot be right.
        ext2::Error::Io | ext2::Error::Corrupt(_) => Error::Io,
        ext2::Error::BadMagic | ext2::Error::Unsupported(_) | ext2::Error::Truncated => Error::Unavailable,
    }
}

fn kind_code(k: FileType) -> u64 {
    match k {
        FileType::Regular => vfs::TYPE_FILE,
        FileType::Directory => vfs::TYPE_DIR,
        FileType::CharDevice => vfs::TYPE_CHAR,
        FileType::Fifo => vfs::TYPE_PIPE,
        _ => 0,
    }
}

/// Requests that change nothing on the disk (and so need no time stamp).
fn read_only(mtype: u32) -> bool {
    matches!(mtype, p::LOOKUP | p::STAT | p::READ | p::READDIR | p::STATFS)
}

fn ino(word: u64) -> Result<u32, Error> {
    u32::try_from(word).ok().filter(|&i| i != 0).ok_or(Error::Invalid)
}

/// A successful result: a plain value (`payload[0]`), or `0` followed
/// by up to six words.
enum Out {
    Value(u64),
    Words([u64; 6]),
}

type Reply = Result<Out, Error>;

fn one(v: u64) -> Reply {
    Ok(Out::Value(v))
}

fn words(w: [u64; 6]) -> Reply {
    Ok(Out::Words(w))
}

impl Server {
    pub fn new() -> Server {
        Server { stats: Stats::default() }
    }

    /// Serves one request; returns the reply.
    pub fn handle(&mut self, fs: &mut Fs, msg: &Message) -> Message {
        self.stats.requests += 1;
        // Only changes are stamped; reading the clock is a kernel call, so
        // lookups and reads (most of an exec) skip it.
        if !read_only(msg.mtype) {
            fs.set_time(now());
        }
        let result = self.dispatch(fs, msg);
        // Gathered writes go to the driver before the caller hears back.
        let flushed = disk::link().flush_writes();
        match (result, flushed) {
            (Ok(Out::Value(v)), Ok(())) => proto::reply(v as i64),
            (Ok(Out::Words(w)), Ok(())) => {
                let mut reply = proto::reply(0);
                reply.payload[1..7].copy_from_slice(&w);
                reply
            }
            (Err(e), _) | (Ok(_), Err(e)) => proto::reply(e.to_return()),
        }
    }

    fn dispatch(&mut self, fs: &mut Fs, msg: &Message) -> Reply {
        let w = msg.payload;
        let src = msg.source;
        let mut name = [0u8; NAME_MAX];
        match msg.mtype {
            p::LOOKUP => {
                let n = if w[1] == p::INLINE_NAME {
                    p::inline_name(&[w[3], w[4], w[5], w[6]], w[2], &mut name).ok_or(Error::Invalid)?
                } else {
                    get_name(src, w[1], w[2], &mut name)?
                };
                let i = resolve(fs, ino(w[0])?, n)?;
                let st = fs.stat(i).map_err(errno)?;
                words([i as u64, kind_code(st.kind), st.size, st.links as u64, 0, 0])
            }
            p::STAT => {
                let i = ino(w[0])?;
                let st = fs.stat(i).map_err(errno)?;
                words([kind_code(st.kind), st.size, st.links as u64, i as u64, st.mode as u64, 0])
            }
            p::READ => self.read(fs, src, ino(w[0])?, w[1], w[2], w[3]).map(Out::Value),
            p::WRITE => self.write(fs, src, ino(w[0])?, w[1], w[2], w[3]).map(Out::Value),
            p::TRUNCATE => fs.truncate(ino(w[0])?, w[1]).map_err(errno).and_then(|()| one(0)),
            p::CREATE => {
                let dir = ino(w[0])?;
                let n = get_name(src, w[1], w[2], &mut name)?;
                let i = match w[3] {
                    vfs::TYPE_FILE => fs.create(dir, n, 0o644),
                    vfs::TYPE_DIR => fs.mkdir(dir, n, 0o755),
                    _ => return Err(Error::Invalid),
                }
                .map_err(errno)?;
                words([i as u64, 0, 0, 0, 0, 0])
            }
            p::UNLINK | p::RMDIR => {
                let dir = ino(w[0])?;
                let n = get_name(src, w[1], w[2], &mut name)?;
                let r = if msg.mtype == p::UNLINK { fs.unlink(dir, n) } else { fs.rmdir(dir, n) };
                r.map_err(errno).and_then(|()| one(0))
            }
            p::RENAME => {
                let mut name2 = [0u8; NAME_MAX];
                let old = get_name(src, w[1], w[2], &mut name)?;
                let new = get_name(src, w[4], w[5], &mut name2)?;
                fs.rename(ino(w[0])?, old, ino(w[3])?, new).map_err(errno).and_then(|()| one(0))
            }
            p::LINK => {
                let n = get_name(src, w[2], w[3], &mut name)?;
                fs.link(ino(w[0])?, ino(w[1])?, n).map_err(errno).and_then(|()| one(0))
            }
            p::READDIR => match fs.read_dir(ino(w[0])?, w[1]).map_err(errno)? {
                None => Err(Error::NoEntry),
                Some((e, next)) => {
                    let name = e.name();
                    let n = name.len().min(w[3] as usize);
                    if n > 0 {
                        rt::sys::safecopy_to(src, w[2], 0, &name[..n])?;
                    }
                    words([next, e.ino as u64, kind_code(e.kind), name.len() as u64, 0, 0])
                }
            },
            p::SYNC => {
                fs.sync().map_err(errno)?;
                disk::link().flush()?;
                self.report(fs);
                one(0)
            }
            p::STATFS => {
                let s = fs.statfs();
                words([
                    s.block_size as u64,
                    s.blocks as u64,
                    s.free_blocks as u64,
                    s.inodes as u64,
                    s.free_inodes as u64,
                    0,
                ])
            }
            _ => Err(Error::BadRequest),
        }
    }

    /// READ: file data → staging → the caller's grant, one safe copy per
    /// chunk.
    fn read(&mut self, fs: &mut Fs, src: Endpoint, i: u32, off: u64, grant: u64, len: u64) -> Result<u64, Error> {
        // Read ahead no further than the file's end (or the request's).
        let wanted = fs.stat(i).ok().map(|st| st.size.saturating_sub(off).min(len));
        disk::link().expect_reads(wanted);
        let result = self.read_chunks(fs, src, i, off, grant, len);
        disk::link().expect_reads(None);
        result
    }

    fn read_chunks(
        &mut self,
        fs: &mut Fs,
        src: Endpoint,
        i: u32,
        off: u64,
        grant: u64,
        len: u64,
    ) -> Result<u64, Error> {
        let mut done = 0u64;
        while done < len {
            let c = ((len - done) as usize).min(CHUNK);
            let buf = &mut staging()[..c];
            let n = fs.read(i, off.saturating_add(done), buf).map_err(errno)?;
            if n == 0 {
                break;
            }
            rt::sys::safecopy_to(src, grant, done, &buf[..n])?;
            self.count(n);
            done += n as u64;
            if n < c {
                break;
            }
        }
        Ok(done)
    }

    /// WRITE: the caller's grant → staging (one safe copy per chunk) → the
    /// file system.
    fn write(&mut self, fs: &mut Fs, src: Endpoint, i: u32, off: u64, grant: u64, len: u64) -> Result<u64, Error> {
        let mut done = 0u64;
        while done < len {
            let c = ((len - done) as usize).min(CHUNK);
            let buf = &mut staging()[..c];
            rt::sys::safecopy_from(src, grant, done, buf)?;
            self.count(c);
            let n = match fs.write(i, off.saturating_add(done), buf) {
                Ok(n) => n,
                Err(_) if done > 0 => break,
                Err(e) => return Err(errno(e)),
            };
            done += n as u64;
            if n < c {
                break;
            }
        }
        Ok(done)
    }

    fn count(&mut self, n: usize) {
        self.stats.copies += 1;
        self.stats.bytes += n as u64;
    }

    fn report(&self, fs: &Fs) {
        let c = fs.cache_stats();
        let l = disk::link().stats;
        rt::println!(
            "ext2fs: stats: {} requests, {} data copies, {} bytes copied; cache {} hits {} misses, {} blocks read, {} written; driver {} requests ({} bytes), {} resent, {} restarts",
            self.stats.requests,
            self.stats.copies,
            self.stats.bytes,
            c.hits,
            c.misses,
            c.reads,
            c.writes,
            l.requests,
            l.bytes,
            l.resends,
            l.restarts
        );
    }
}

/// The inode `path` names from directory `dir`: every component of the
/// relative path in turn (`abi::proto::fs::PATH_SEPARATOR`; VFS sends
/// whole paths below its mount points, so one request resolves what were
/// one LOOKUP per component). A component before the last that is not a
/// directory is `NotDir`, as the library's lookup in it says.
fn resolve(fs: &mut Fs, dir: u32, path: &[u8]) -> Result<u32, Error> {
    let mut components = path.split(|&b| b == p::PATH_SEPARATOR).filter(|c| !c.is_empty()).peekable();
    if components.peek().is_none() {
        return Err(Error::Invalid);
    }
    components.try_fold(dir, |at, name| fs.lookup(at, name).map_err(errno))
}

/// Copies a name of `len` bytes from grant `grant` of `src`.
fn get_name(src: Endpoint, grant: u64, len: u64, buf: &mut [u8; NAME_MAX]) -> Result<&[u8], Error> {
    let len = usize::try_from(len).map_err(|_| Error::Invalid)?;
    if len == 0 || len > NAME_MAX {
        return Err(Error::Invalid);
    }
    rt::sys::safecopy_from(src, grant, 0, &mut buf[..len])?;
    Ok(&buf[..len])
}
