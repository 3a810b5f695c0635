//! `rm FILE...`: removes files (not directories: see `rmdir`). Status 1
//! if any fails.
#![no_std]
#![no_main]

use rt::errln;

rt::main!(run);

fn run() -> i32 {
    let mut status = 0;
    for path in rt::args().skip(1) {
        if let Err(e) = rt::vfs::unlink(path) {
            errln!("rm: {}: {}", path, utils::describe(e));
            status = 1;
        }
    }
    status
}
