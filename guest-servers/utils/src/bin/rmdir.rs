//! `rmdir DIR...`: removes empty directories. Status 1 if any fails.
#![no_std]
#![no_main]

rt::main!(run);

fn run() -> i32 {
    utils::for_each_path("rmdir", rt::vfs::rmdir)
}
