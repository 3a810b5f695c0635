//! kernel-test helper: blocks in the IPC operation it is told to do, so the
//! orchestrator can kill peers, build deadlock cycles and queue senders,
//! then reports what the operation returned.
#![no_std]
#![no_main]

use programs::ktest_protocol::*;
use rt::{Endpoint, Message};

rt::main!(run);

fn code(result: Result<(), rt::Error>) -> u64 {
    match result {
        Ok(()) => 0,
        Err(e) => e.to_return() as u64,
    }
}

fn run() -> i32 {
    let mut msg = Message::default();
    loop {
        if rt::ipc::receive(Endpoint::ANY, &mut msg).is_err() {
            continue;
        }
        let instructor = msg.source;
        let target = Endpoint(msg.payload[0] as u32);
        match msg.mtype {
            W_RECEIVE_FROM => {
                let mut got = Message::default();
                let result = code(rt::ipc::receive(target, &mut got));
                let report = [result, u64::from(got.mtype), u64::from(got.source.0)];
                let _ = rt::ipc::send(instructor, &Message::with_words(REPORT, &report));
            }
            W_SEND_TO => {
                let result = code(rt::ipc::send(target, &Message::with_words(DATA, &[msg.payload[1]])));
                let _ = rt::ipc::send(instructor, &Message::with_words(REPORT, &[result]));
            }
            ASYNC => {
                let _ = rt::ipc::send(instructor, &Message::with_words(REPORT_ASYNC, &[msg.payload[0]]));
            }
            _ => {}
        }
    }
}
