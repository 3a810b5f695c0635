//! `cat [FILE...]`: copies the files (standard input when none, or for
//! `-`) to standard output. A file that cannot be read is reported and
//! skipped; the status is then 1.
#![no_std]
#![no_main]

use abi::proto::vfs::O_RDONLY;
use rt::errln;
use rt::vfs::{STDIN, STDOUT};

rt::main!(run);

/// Copies `fd` to standard output.
fn copy(fd: u64) -> Result<(), abi::Error> {
    let mut buf = [0u8; 1024];
    loop {
        let n = rt::vfs::read(fd, &mut buf)?;
        if n == 0 {
            return Ok(());
        }
        rt::vfs::write_all(STDOUT, &buf[..n])?;
    }
}

fn run() -> i32 {
    let mut status = 0;
    let mut any = false;
    for name in rt::args().skip(1) {
        any = true;
        let result = if name == "-" {
            copy(STDIN)
        } else {
            match rt::vfs::open(name, O_RDONLY) {
                Ok(fd) => {
                    let r = copy(fd);
                    let _ = rt::vfs::close(fd);
                    r
                }
                Err(e) => Err(e),
            }
        };
        if let Err(e) = result {
            errln!("cat: {}: {}", name, utils::describe(e));
            status = 1;
        }
    }
    if !any {
        if let Err(e) = copy(STDIN) {
            errln!("cat: {}", utils::describe(e));
            status = 1;
        }
    }
    status
}
