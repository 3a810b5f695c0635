//! Exec from the disk: PM resolves a program name as `/bin/NAME` through
//! VFS and reads the ELF file into its own page-aligned buffer; the kernel
//! then execs it from there (`KernelCall::ExecElf`): it shares the whole
//! pages of read-only segments with PM (copy-on-write on PM's side) and
//! copies only writable and partial pages into fresh frames.
//!
//! A small file is read whole in one request (every request is a round
//! trip through VFS and ext2fs); of a larger one only what an exec needs:
//! the first [`FIRST_READ`] bytes with the headers, then up to the end of
//! the last loaded segment (rounded up to a page, so its pages can be
//! shared), never the symbol table and sections after it.
//!
//! When there is no such file (an image without a disk, whose in-memory
//! `/bin` lists the boot-image programs as empty files), the boot image's
//! program of that name is the fallback. A program found only on the disk
//! runs with the privileges of an ordinary user program ([`TEMPLATE`]);
//! a file named like a service or init is refused (`Perm`), as is a boot
//! program the kernel starts itself.
//!
//! The calls to VFS that may need the disk ([`open_stat`], [`read`]: the
//! requests of `rt::vfs`) go through [`call`]: on the exec worker's stack
//! they wait suspended while PM serves others (`crate::exec_worker`);
//! on the main stack (`viv.weaken=pm_async`) in a SENDREC.

use abi::elf::Elf;
use abi::layout::PAGE_SIZE;
use abi::proto::vfs::{self, O_RDONLY, TYPE_FILE};
use abi::{Error, Message};

/// Largest loaded part of a program file PM execs.
pub const ELF_MAX: usize = 256 * 1024;
const PAGE: usize = PAGE_SIZE as usize;
/// Bytes of the first read: one file-server request's worth.
const FIRST_READ: usize = 64 * 1024;
/// The boot-image program whose privileges a disk-only program gets: the
/// shell, a plain user program (it may talk to PM, VFS and DS).
pub const TEMPLATE: &str = "sh";

/// The buffer the file is read into (bss: fresh zeroed pages), page
/// aligned so that file pages are whole pages the kernel can share.
#[repr(C, align(4096))]
struct Buffer([u8; ELF_MAX]);

static mut ELF: Buffer = Buffer([0; ELF_MAX]);

fn buffer() -> &'static mut [u8; ELF_MAX] {
    // SAFETY: PM is single-threaded and loads one exec at a time: the
    // worker's borrow (while it loads) ends before the main loop takes
    // the result ([`loaded`]), and that ends before the next load starts
    // (the kernel reads the buffer during the ExecElf call).
    unsafe { &mut (*(&raw mut ELF)).0 }
}

/// The first `len` bytes the last load left in the buffer.
pub fn loaded(len: usize) -> &'static [u8] {
    &buffer()[..len.min(ELF_MAX)]
}

/// Reads `/bin/NAME`; `None` when there is no usable file (then the boot
/// image is used), else the file or why it cannot be loaded.
pub fn load(name: &str) -> Option<Result<&'static [u8], Error>> {
    let mut path = [0u8; 64];
    let prefix = b"/bin/";
    if name.is_empty() || name.contains('/') || prefix.len() + name.len() > path.len() {
        return None;
    }
    path[..prefix.len()].copy_from_slice(prefix);
    path[prefix.len()..prefix.len() + name.len()].copy_from_slice(name.as_bytes());
    let path = core::str::from_utf8(&path[..prefix.len() + name.len()]).ok()?;
    let (fd, st) = match open_stat(path) {
        Ok(opened) => opened,
        // The file may be there but unreadable (or VFS is gone): say so
        // rather than fall back as if there were no such program.
        Err(e @ (Error::Io | Error::Unavailable)) => return Some(Err(e)),
        Err(_) => return None,
    };
    let result = read_file(fd, &st);
    let _ = close(fd);
    result
}

/// Reads the open program file `fd`, whose facts the open gave (`st`).
fn read_file(fd: u64, st: &rt::vfs::Stat) -> Option<Result<&'static [u8], Error>> {
    if st.kind != TYPE_FILE || st.size == 0 {
        return None;
    }
    let size = usize::try_from(st.size).unwrap_or(usize::MAX);
    let buf = buffer();
    let head = size.min(FIRST_READ);
    let got = match read_into(fd, &mut buf[..head]) {
        Ok(n) => n,
        Err(e) => return Some(Err(e)),
    };
    if got < head {
        return Some(Ok(&buf[..got]));
    }
    let wanted = exec_extent(&buf[..head], size);
    if wanted > ELF_MAX {
        return Some(Err(Error::NoMemory));
    }
    match read_into(fd, &mut buf[head..wanted.max(head)]) {
        Ok(n) => Some(Ok(&buf[..head + n])),
        Err(e) => Some(Err(e)),
    }
}

/// How much of a file of `size` bytes an exec needs, from its first bytes
/// `head`: up to the page holding the end of its last loaded segment. A
/// file that is no ELF we can read is taken whole (the kernel refuses it).
fn exec_extent(head: &[u8], size: usize) -> usize {
    match Elf::parse(head).ok().and_then(|elf| elf.load_end()) {
        Some(end) => usize::try_from(end).map_or(size, |end| end.div_ceil(PAGE).saturating_mul(PAGE).min(size)),
        None => size,
    }
}

/// Reads from `fd` until `buf` is full or the file ends; the bytes read.
fn read_into(fd: u64, buf: &mut [u8]) -> Result<usize, Error> {
    let mut done = 0;
    while done < buf.len() {
        match read(fd, &mut buf[done..])? {
            0 => break,
            n => done += n,
        }
    }
    Ok(done)
}

/// One request to VFS and its answer's result (the answer in `msg`).
fn call(msg: &mut Message) -> Result<u64, Error> {
    if crate::exec_worker::inside() {
        crate::exec_worker::call_vfs(msg)
    } else {
        rt::names::call("vfs", msg)
    }
}

/// Opens `path` for reading: the descriptor, and what the open says of
/// the file (`rt::vfs::open_stat`).
fn open_stat(path: &str) -> Result<(u64, rt::vfs::Stat), Error> {
    let g = rt::grant::read_only(rt::names::lookup("vfs")?, path.as_bytes())?;
    let mut msg = Message::with_words(vfs::OPEN, &[O_RDONLY, g.id(), path.len() as u64]);
    let fd = call(&mut msg)?;
    let w = msg.payload;
    Ok((fd, rt::vfs::Stat { kind: w[1], size: w[2], links: w[3], inode: w[4] }))
}

/// Reads into `buf`: the bytes read (0 at the end of the file).
fn read(fd: u64, buf: &mut [u8]) -> Result<usize, Error> {
    let g = rt::grant::writable(rt::names::lookup("vfs")?, buf)?;
    call(&mut Message::with_words(vfs::READ, &[fd, g.id(), buf.len() as u64])).map(|n| n as usize)
}

/// Closes `fd`: a SENDREC even on the worker, as VFS answers CLOSE at
/// once (it never needs the disk), like PM_FORK and PM_EXIT; a trap less
/// per exec than a request and a separate wait for the answer.
fn close(fd: u64) -> Result<(), Error> {
    rt::names::call("vfs", &mut Message::with_words(vfs::CLOSE, &[fd])).map(|_| ())
}
