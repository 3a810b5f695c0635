//! A service that spins in user mode from the start, never making a system
//! call again: it answers no heartbeat, and in experiment mode (virtual
//! time) only the VMM's spin tick lets guest time go on so that RS can
//! notice (`spin-test` image).
#![no_std]
#![no_main]

rt::main!(run);

fn run() -> i32 {
    rt::println!("spinner: up, spinning");
    loop {
        core::hint::spin_loop();
    }
}
