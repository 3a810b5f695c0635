//! `trace-test` helper of `ipc_partner`: answers `ECHO` with payload word 0
//! plus one (SENDNB: the partner waits in SENDREC).
#![no_std]
#![no_main]

#[path = "ipc_partner/protocol.rs"]
mod protocol;

use protocol::{ECHO, REPLY};
use rt::{Endpoint, Message};

rt::main!(run);

fn run() -> i32 {
    let mut msg = Message::default();
    loop {
        if let Err(e) = rt::ipc::receive(Endpoint::ANY, &mut msg) {
            rt::println!("ipc_helper: receive failed: {e}");
            return 1;
        }
        if msg.mtype == ECHO {
            let _ = rt::ipc::send_nonblocking(msg.source, &Message::with_words(REPLY, &[msg.payload[0] + 1]));
        }
    }
}
