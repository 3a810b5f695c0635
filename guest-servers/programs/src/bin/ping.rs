//! The pingpong client: N SENDREC round trips to `pong`, each reply checked
//! word by word; reports the cycles per round trip measured with rdtsc.
//! N comes from the kernel command line (`pingpong.rounds=N`, default 1000).
#![no_std]
#![no_main]

use abi::platform::{MARK_BENCH_END, MARK_BENCH_START};
use rt::Message;

const PING: u32 = 1;
const PONG: u32 = 2;

rt::main!(run);

fn run() -> i32 {
    let rounds: u64 = rt::kip::cmdline_number("pingpong.rounds", 1000);
    let Some(server) = rt::kip::endpoint_of("pong") else {
        rt::println!("ping: no pong server in this image");
        return 2;
    };
    rt::sys::bench_mark(MARK_BENCH_START);
    let start = rt::rdtsc();
    for i in 0..rounds {
        let words = [i, i.wrapping_mul(3), !i, i << 7, 0x5555_0000 + i, u64::MAX - i, i ^ 0xABCD];
        let mut msg = Message::with_words(PING, &words);
        if let Err(e) = rt::ipc::sendrec(server, &mut msg) {
            rt::println!("ping: round {i}: sendrec failed: {e}");
            return 1;
        }
        let expected = words.map(|w| !w);
        if msg.mtype != PONG || msg.source != server || msg.payload != expected {
            rt::println!("ping: round {i}: wrong reply {:?}", msg);
            return 1;
        }
    }
    let cycles = rt::rdtsc() - start;
    rt::sys::bench_mark(MARK_BENCH_END);
    // In experiment mode the output must not depend on host time (the
    // TSC is not virtual): print no cycle count there.
    if rt::kip::cmdline_value(abi::platform::CMDLINE_DETERMINISTIC_KEY) == Some("1") {
        rt::println!("ping: {rounds} round trips OK");
    } else {
        rt::println!("ping: {rounds} round trips OK, {} cycles per round trip", cycles / rounds.max(1));
    }
    0
}
