//! `rm FILE...`: removes files (not directories: see `rmdir`). Status 1
//! if any fails.
#![no_std]
#![no_main]

rt::main!(run);

fn run() -> i32 {
    utils::for_each_path("rm", rt::vfs::unlink)
}
