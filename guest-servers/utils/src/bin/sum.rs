//! `sum [FILE...]`: the CRC-32 (IEEE, as zlib's `crc32` and `cksum -a
//! crc32b`) of each file (standard input when none), printed as
//! `HEX SIZE NAME`, like `cksum`.
#![no_std]
#![no_main]

use abi::proto::vfs::O_RDONLY;
use rt::vfs::STDIN;
use rt::{errln, outln};
use utils::Crc32;

rt::main!(run);

fn sum(fd: u64) -> Result<(u32, u64), abi::Error> {
    let mut crc = Crc32::new();
    let mut size = 0u64;
    utils::for_each_chunk(fd, |chunk| {
        crc.update(chunk);
        size += chunk.len() as u64;
        Ok(())
    })?;
    Ok((crc.finish(), size))
}

fn run() -> i32 {
    let mut status = 0;
    let mut any = false;
    for name in rt::args().skip(1) {
        any = true;
        let r = rt::vfs::open(name, O_RDONLY).and_then(|fd| {
            let r = sum(fd);
            let _ = rt::vfs::close(fd);
            r
        });
        match r {
            Ok((crc, size)) => {
                outln!("{:08x} {} {}", crc, size, name);
            }
            Err(e) => {
                errln!("sum: {}: {}", name, utils::describe(e));
                status = 1;
            }
        }
    }
    if !any {
        match sum(STDIN) {
            Ok((crc, size)) => {
                outln!("{:08x} {}", crc, size);
            }
            Err(e) => {
                errln!("sum: {}", utils::describe(e));
                status = 1;
            }
        }
    }
    status
}
