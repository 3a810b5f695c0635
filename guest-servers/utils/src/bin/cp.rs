//! `cp FROM TO`: copies a file (TO is created or truncated).
//!
//! The data moves in chunks of `utils::IO_CHUNK`: each read and write is
//! one VFS call, in which the file server copies straight from or to our
//! buffer.
#![no_std]
#![no_main]

use abi::proto::vfs::{O_CREAT, O_RDONLY, O_TRUNC, O_WRONLY};
use rt::errln;

rt::main!(run);

fn copy(from: &str, to: &str) -> Result<(), (&'static str, abi::Error)> {
    let src = rt::vfs::open(from, O_RDONLY).map_err(|e| ("open", e))?;
    let dst = match rt::vfs::open(to, O_WRONLY | O_CREAT | O_TRUNC) {
        Ok(fd) => fd,
        Err(e) => {
            let _ = rt::vfs::close(src);
            return Err(("create", e));
        }
    };
    let r = utils::for_each_chunk(src, |chunk| rt::vfs::write_all(dst, chunk)).map_err(|e| ("copy", e));
    let _ = rt::vfs::close(src);
    let closed = rt::vfs::close(dst).map_err(|e| ("close", e));
    r.and(closed)
}

fn run() -> i32 {
    let mut args = rt::args().skip(1);
    let (Some(from), Some(to), None) = (args.next(), args.next(), args.next()) else {
        errln!("usage: cp FROM TO");
        return 2;
    };
    match copy(from, to) {
        Ok(()) => 0,
        Err((what, e)) => {
            errln!("cp: {} {} -> {}: {}", what, from, to, utils::describe(e));
            1
        }
    }
}
