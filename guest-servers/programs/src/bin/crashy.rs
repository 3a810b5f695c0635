//! A service that crashes as soon as it starts (exit status 3), so RS's
//! crash-loop backoff can be watched (`rs-test` image).
#![no_std]
#![no_main]

rt::main!(run);

fn run() -> i32 {
    let ms = rt::sys::uptime() * 1000 / rt::kip::tick_hz().max(1);
    rt::println!("crashy: up at {} ms, exiting with status 3", ms);
    3
}
