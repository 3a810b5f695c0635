//! `attack NAME`: one attack of `viv threats` with an ordinary user's
//! privileges (`programs::attacks`).
#![no_std]
#![no_main]

rt::main!(run);

fn run() -> i32 {
    programs::attacks::main("attack")
}
