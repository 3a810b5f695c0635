//! `rmdir DIR...`: removes empty directories. Status 1 if any fails.
#![no_std]
#![no_main]

use rt::errln;

rt::main!(run);

fn run() -> i32 {
    let mut status = 0;
    for path in rt::args().skip(1) {
        if let Err(e) = rt::vfs::rmdir(path) {
            errln!("rmdir: {}: {}", path, utils::describe(e));
            status = 1;
        }
    }
    status
}
