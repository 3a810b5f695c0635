//! `true`: does nothing, successfully (status 0).
#![no_std]
#![no_main]

rt::main!(run);

fn run() -> i32 {
    0
}
