//! `fill SIZE FILE`: creates FILE (or truncates it) holding SIZE bytes
//! (`K`/`M` suffixes) of a fixed pseudo-random pattern, for storage tests:
//! byte `i` is the low byte of `xorshift64(i / 8)`'s word, so any offset's
//! content is known without reading the rest.
#![no_std]
#![no_main]

use abi::proto::vfs::{O_CREAT, O_TRUNC, O_WRONLY};
use rt::errln;

rt::main!(run);

/// The pattern's 8-byte word number `n`.
fn word(n: u64) -> u64 {
    let mut x = n.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    x
}

fn fill(size: u64, path: &str) -> Result<(), abi::Error> {
    let fd = rt::vfs::open(path, O_WRONLY | O_CREAT | O_TRUNC)?;
    let mut buf = [0u8; utils::IO_CHUNK];
    let mut at = 0u64;
    let r = (|| {
        while at < size {
            let n = ((size - at) as usize).min(buf.len());
            for (i, b) in buf[..n].iter_mut().enumerate() {
                let pos = at + i as u64;
                *b = (word(pos / 8) >> (8 * (pos % 8))) as u8;
            }
            rt::vfs::write_all(fd, &buf[..n])?;
            at += n as u64;
        }
        Ok(())
    })();
    let closed = rt::vfs::close(fd);
    r.and(closed)
}

fn run() -> i32 {
    let mut args = rt::args().skip(1);
    let (Some(size), Some(path), None) = (args.next().and_then(utils::parse_size), args.next(), args.next()) else {
        errln!("usage: fill SIZE FILE");
        return 2;
    };
    match fill(size, path) {
        Ok(()) => 0,
        Err(e) => {
            errln!("fill: {}: {}", path, utils::describe(e));
            1
        }
    }
}
