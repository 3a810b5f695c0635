//! `false`: does nothing, unsuccessfully (status 1).
#![no_std]
#![no_main]

rt::main!(run);

fn run() -> i32 {
    1
}
