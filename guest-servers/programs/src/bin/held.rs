//! A service with `restart = "hold"` that exits at once with status 4:
//! RS must leave it down (`rs-test` image).
#![no_std]
#![no_main]

rt::main!(run);

fn run() -> i32 {
    rt::println!("held: up, exiting with status 4");
    4
}
