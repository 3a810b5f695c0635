//! The file API: calls to VFS (see `abi::proto::vfs`).
//!
//! Buffers and paths travel through grants made for the one call and
//! revoked when it returns; a short path travels in the message
//! (`abi::proto::vfs::INLINE_PATH`).

use crate::grant;
use crate::names::{call, lookup};
use abi::proto::vfs;
use abi::{Error, Message};

const VFS: &str = "vfs";

/// Standard input.
pub const STDIN: u64 = 0;
/// Standard output.
pub const STDOUT: u64 = 1;
/// Standard error.
pub const STDERR: u64 = 2;

fn with_path(request: u32, flags: u64, path: &str) -> Result<Message, Error> {
    // A short path goes in the message: no grant, no copy in VFS.
    if !path.is_empty() {
        if let Some([a, b, c, d]) = abi::proto::fs::inline_name_words(path.as_bytes()) {
            let mut msg = Message::with_words(request, &[flags, vfs::INLINE_PATH, path.len() as u64, a, b, c, d]);
            call(VFS, &mut msg)?;
            return Ok(msg);
        }
    }
    let vfs_ep = lookup(VFS)?;
    let g = grant::read_only(vfs_ep, path.as_bytes())?;
    let mut msg = Message::with_words(request, &[flags, g.id(), path.len() as u64]);
    call(VFS, &mut msg)?;
    Ok(msg)
}

/// Opens `path` with `abi::proto::vfs::O_*` flags; returns the descriptor.
pub fn open(path: &str, flags: u64) -> Result<u64, Error> {
    with_path(vfs::OPEN, flags, path).map(|m| m.payload[0])
}

/// Opens `path` as [`open`] does; returns the descriptor and what
/// [`fstat`] would say of it (the open reply carries both).
pub fn open_stat(path: &str, flags: u64) -> Result<(u64, Stat), Error> {
    with_path(vfs::OPEN, flags, path).map(|m| (m.payload[0], stat_of(&m)))
}

/// Closes `fd`.
pub fn close(fd: u64) -> Result<(), Error> {
    call(VFS, &mut Message::with_words(vfs::CLOSE, &[fd])).map(|_| ())
}

/// Reads into `buf`; returns the bytes read (0 = end of file).
pub fn read(fd: u64, buf: &mut [u8]) -> Result<usize, Error> {
    let g = grant::writable(lookup(VFS)?, buf)?;
    let len = buf.len() as u64;
    call(VFS, &mut Message::with_words(vfs::READ, &[fd, g.id(), len])).map(|n| n as usize)
}

/// Writes `buf`; returns the bytes written.
pub fn write(fd: u64, buf: &[u8]) -> Result<usize, Error> {
    let g = grant::read_only(lookup(VFS)?, buf)?;
    call(VFS, &mut Message::with_words(vfs::WRITE, &[fd, g.id(), buf.len() as u64])).map(|n| n as usize)
}

/// Writes all of `buf`.
pub fn write_all(fd: u64, mut buf: &[u8]) -> Result<(), Error> {
    while !buf.is_empty() {
        let n = write(fd, buf)?;
        if n == 0 {
            return Err(Error::BrokenPipe);
        }
        buf = &buf[n..];
    }
    Ok(())
}

/// Creates a pipe: (read end, write end).
pub fn pipe() -> Result<(u64, u64), Error> {
    let mut msg = Message::new(vfs::PIPE);
    call(VFS, &mut msg)?;
    Ok((msg.payload[1], msg.payload[2]))
}

/// Duplicates `fd` onto the lowest free descriptor.
pub fn dup(fd: u64) -> Result<u64, Error> {
    call(VFS, &mut Message::with_words(vfs::DUP, &[fd]))
}

/// Makes `target` a copy of `fd`.
pub fn dup2(fd: u64, target: u64) -> Result<u64, Error> {
    call(VFS, &mut Message::with_words(vfs::DUP2, &[fd, target]))
}

/// Changes the working directory.
pub fn chdir(path: &str) -> Result<(), Error> {
    with_path(vfs::CHDIR, 0, path).map(|_| ())
}

/// What `stat` reports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stat {
    /// `abi::proto::vfs::TYPE_*`.
    pub kind: u64,
    pub size: u64,
    pub links: u64,
    pub inode: u64,
}

fn stat_of(msg: &Message) -> Stat {
    Stat { kind: msg.payload[1], size: msg.payload[2], links: msg.payload[3], inode: msg.payload[4] }
}

/// Stats `path`.
pub fn stat(path: &str) -> Result<Stat, Error> {
    with_path(vfs::STAT, 0, path).map(|m| stat_of(&m))
}

/// Stats an open descriptor.
pub fn fstat(fd: u64) -> Result<Stat, Error> {
    let mut msg = Message::with_words(vfs::FSTAT, &[fd]);
    call(VFS, &mut msg)?;
    Ok(stat_of(&msg))
}

/// Reads directory records into `buf` (see `abi::proto::vfs::GETDENTS`);
/// returns the bytes used, 0 at the end. Walk them with [`dir_entries`].
pub fn getdents(fd: u64, buf: &mut [u8]) -> Result<usize, Error> {
    let g = grant::writable(lookup(VFS)?, buf)?;
    let len = buf.len() as u64;
    call(VFS, &mut Message::with_words(vfs::GETDENTS, &[fd, g.id(), len])).map(|n| n as usize)
}

/// The (type, name) records of a `getdents` buffer.
pub fn dir_entries(buf: &[u8]) -> impl Iterator<Item = (u64, &str)> {
    let mut at = 0;
    core::iter::from_fn(move || {
        if at + 2 > buf.len() {
            return None;
        }
        let (kind, len) = (u64::from(buf[at]), usize::from(buf[at + 1]));
        let name = buf.get(at + 2..at + 2 + len)?;
        at += 2 + len;
        Some((kind, core::str::from_utf8(name).unwrap_or("?")))
    })
}

/// Moves the file offset; returns the new offset.
pub fn lseek(fd: u64, offset: i64, whence: u64) -> Result<u64, Error> {
    call(VFS, &mut Message::with_words(vfs::LSEEK, &[fd, offset as u64, whence]))
}

/// Creates a directory.
pub fn mkdir(path: &str) -> Result<(), Error> {
    with_path(vfs::MKDIR, 0, path).map(|_| ())
}

/// Removes a file.
pub fn unlink(path: &str) -> Result<(), Error> {
    with_path(vfs::UNLINK, 0, path).map(|_| ())
}

/// Removes an empty directory.
pub fn rmdir(path: &str) -> Result<(), Error> {
    with_path(vfs::RMDIR, 0, path).map(|_| ())
}

/// Renames `old` to `new` (replacing a file there).
pub fn rename(old: &str, new: &str) -> Result<(), Error> {
    let vfs_ep = lookup(VFS)?;
    let a = grant::read_only(vfs_ep, old.as_bytes())?;
    let b = grant::read_only(vfs_ep, new.as_bytes())?;
    let words = [0, a.id(), old.len() as u64, b.id(), new.len() as u64];
    call(VFS, &mut Message::with_words(vfs::RENAME, &words)).map(|_| ())
}

/// Writes the file system of `fd` to the disk.
pub fn fsync(fd: u64) -> Result<(), Error> {
    call(VFS, &mut Message::with_words(vfs::FSYNC, &[fd])).map(|_| ())
}

/// Writes every file system to the disk.
pub fn sync() -> Result<(), Error> {
    call(VFS, &mut Message::with_words(vfs::SYNC, &[])).map(|_| ())
}

/// The working directory, written into `buf`.
pub fn getcwd(buf: &mut [u8]) -> Result<&str, Error> {
    let g = grant::writable(lookup(VFS)?, buf)?;
    let len = buf.len() as u64;
    let n = call(VFS, &mut Message::with_words(vfs::GETCWD, &[0, g.id(), len]))? as usize;
    drop(g);
    core::str::from_utf8(&buf[..n.min(buf.len())]).map_err(|_| Error::Invalid)
}

/// A `fmt::Write` to a descriptor, buffered per call of [`print`].
struct FdWriter {
    fd: u64,
    buf: [u8; 512],
    len: usize,
    failed: bool,
}

impl FdWriter {
    fn flush(&mut self) {
        if self.len > 0 && !self.failed {
            self.failed = write_all(self.fd, &self.buf[..self.len]).is_err();
        }
        self.len = 0;
    }
}

impl core::fmt::Write for FdWriter {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        for &b in s.as_bytes() {
            if self.len == self.buf.len() {
                self.flush();
            }
            self.buf[self.len] = b;
            self.len += 1;
        }
        Ok(())
    }
}

/// Formats `args` to descriptor `fd`; false when the write failed.
pub fn print(fd: u64, args: core::fmt::Arguments) -> bool {
    let mut w = FdWriter { fd, buf: [0; 512], len: 0, failed: false };
    let _ = core::fmt::Write::write_fmt(&mut w, args);
    w.flush();
    !w.failed
}

/// Prints to standard output (through VFS).
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => { $crate::vfs::print($crate::vfs::STDOUT, format_args!($($arg)*)) };
}

/// Prints a line to standard output (through VFS).
#[macro_export]
macro_rules! outln {
    () => { $crate::vfs::print($crate::vfs::STDOUT, format_args!("\n")) };
    ($($arg:tt)*) => { $crate::vfs::print($crate::vfs::STDOUT, format_args!("{}\n", format_args!($($arg)*))) };
}

/// Prints a line to standard error (through VFS).
#[macro_export]
macro_rules! errln {
    ($($arg:tt)*) => { $crate::vfs::print($crate::vfs::STDERR, format_args!("{}\n", format_args!($($arg)*))) };
}
