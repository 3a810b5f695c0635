//! Runs after the faulting programs of the `faults` image (it has a lower
//! priority) and shows that the system went on: computes a checksum in user
//! mode across several timer ticks and exits 0.
#![no_std]
#![no_main]

rt::main!(run);

fn run() -> i32 {
    rt::println!("survivor: running");
    let start = rt::sys::uptime();
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut sum: u64 = 0;
    // Enough work to be preempted by the timer a few times.
    for _ in 0..50_000_000u64 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        sum = sum.wrapping_add(x);
    }
    rt::println!("survivor: finished (checksum {:#x}, {} ticks)", sum, rt::sys::uptime() - start);
    0
}
