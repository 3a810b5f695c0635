//! Prints a greeting and exits 0 (the `hello` image powers off with it).
#![no_std]
#![no_main]

rt::main!(run);

fn run() -> i32 {
    rt::println!("Hello from Vivarium: user mode, {:?} entry", rt::kip::entry_kind());
    0
}
