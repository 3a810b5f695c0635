//! `sync`: writes every file system's dirty blocks to the disk.
#![no_std]
#![no_main]

use rt::errln;

rt::main!(run);

fn run() -> i32 {
    match rt::vfs::sync() {
        Ok(()) => 0,
        Err(e) => {
            errln!("sync: {}", utils::describe(e));
            1
        }
    }
}
