//! Spins forever in user mode: the host's `--timeout` must stop it.
#![no_std]
#![no_main]

rt::main!(run);

fn run() -> i32 {
    rt::println!("spin: spinning forever");
    loop {
        core::hint::spin_loop();
    }
}
