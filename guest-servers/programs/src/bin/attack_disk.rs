//! `attack_disk NAME`: one attack of `viv threats` as a client of the disk
//! driver: the file server's reach to `blk` (see
//! `images/threats/image.toml`; `programs::attacks`).
#![no_std]
#![no_main]

rt::main!(run);

fn run() -> i32 {
    programs::attacks::main("attack_disk")
}
