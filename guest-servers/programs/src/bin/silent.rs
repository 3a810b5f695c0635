//! A service that answers RS's heartbeats for its first second only, then
//! ignores them while it keeps running (a hung server, as far as RS can
//! tell). RS must kill and restart it (`rs-test` image).
#![no_std]
#![no_main]

use abi::{Endpoint, Message};

rt::main!(run);

fn ms(ticks: u64) -> u64 {
    ticks * 1000 / rt::kip::tick_hz().max(1)
}

fn run() -> i32 {
    let start = rt::sys::uptime();
    rt::println!("silent: up at {} ms", ms(start));
    let mut answered = 0u64;
    let mut announced = false;
    let mut msg = Message::new(0);
    loop {
        if rt::ipc::receive(Endpoint::ANY, &mut msg).is_err() || !rt::service::is_heartbeat(&msg) {
            continue;
        }
        let now = rt::sys::uptime();
        if ms(now - start) < 1000 {
            rt::service::answer_heartbeat();
            answered += 1;
        } else if !announced {
            announced = true;
            rt::println!("silent: answered {} heartbeats; ignoring them from {} ms", answered, ms(now));
        }
    }
}
