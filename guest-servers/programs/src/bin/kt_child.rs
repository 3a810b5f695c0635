//! kernel-test helper for fork, exec and reaping: asks ktest (playing the
//! process manager) for orders in a SENDREC, so ktest can fork or exec it
//! there, then reports what it sees. Exec'd with arguments, it reports
//! them.
#![no_std]
#![no_main]

use core::sync::atomic::{AtomicU64, Ordering};
use programs::ktest_protocol::*;
use rt::{Endpoint, Message};

rt::main!(run);

/// The variable parent and child both write after a fork (in .bss, so a
/// private, copy-on-write page).
static VALUE: AtomicU64 = AtomicU64::new(0);

static mut BLOCK: [u8; 64] = [0; 64];

fn run() -> i32 {
    let Some(ktest) = rt::kip::endpoint_of("ktest") else { return 90 };
    if rt::args().next().is_some() {
        return report_args(ktest);
    }
    let mut msg = Message::new(CHILD_HELLO);
    if rt::ipc::sendrec(ktest, &mut msg).is_err() {
        return 91;
    }
    match msg.mtype {
        CHILD_FORKED => cow(ktest, msg.payload[0]),
        CHILD_EXEC => {
            // SAFETY: single-threaded; the block is only read by the
            // kernel during the exec below.
            let block = unsafe { &mut *(&raw mut BLOCK) };
            let Some(len) = abi::args::encode(&CHILD_ARGS, block) else { return 92 };
            let mut msg = Message::with_words(CHILD_EXEC_ME, &[block.as_ptr() as u64, len as u64]);
            let _ = rt::ipc::sendrec(ktest, &mut msg);
            93 // exec failed: we are still here
        }
        CHILD_EXIT => msg.payload[0] as i32,
        _ => 94,
    }
}

fn cow(ktest: Endpoint, value: u64) -> i32 {
    VALUE.store(value, Ordering::Relaxed);
    let mut msg = Message::with_words(CHILD_WROTE, &[value]);
    if rt::ipc::sendrec(ktest, &mut msg).is_err() {
        return 95;
    }
    let read = VALUE.load(Ordering::Relaxed);
    let _ = rt::ipc::send(ktest, &Message::with_words(CHILD_COW_REPORT, &[value, read]));
    value as i32
}

fn report_args(ktest: Endpoint) -> i32 {
    let block = rt::process::args_block();
    let mut words = [0u64; 7];
    words[0] = rt::args().count() as u64;
    words[1] = block.len() as u64;
    for (i, &b) in block.iter().take(40).enumerate() {
        words[2 + i / 8] |= u64::from(b) << (8 * (i % 8));
    }
    let _ = rt::ipc::send(ktest, &Message::with_words(CHILD_ARGS_REPORT, &words));
    CHILD_EXEC_STATUS as i32
}
