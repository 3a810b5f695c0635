//! The pingpong server: answers every request with a transformed copy, so
//! the client can check that each reply carries its own request's words.
#![no_std]
#![no_main]

use rt::{Endpoint, Message};

/// Request type of the pingpong protocol.
pub const PING: u32 = 1;
/// Reply type.
pub const PONG: u32 = 2;

rt::main!(run);

fn run() -> i32 {
    let mut msg = Message::default();
    loop {
        if let Err(e) = rt::ipc::receive(Endpoint::ANY, &mut msg) {
            rt::println!("pong: receive failed: {e}");
            return 1;
        }
        if msg.mtype != PING {
            continue;
        }
        let client = msg.source;
        let mut reply = Message::new(PONG);
        for (out, word) in reply.payload.iter_mut().zip(msg.payload) {
            *out = !word;
        }
        // The client waits in SENDREC, so a non-blocking send reaches it;
        // a client that is gone cannot block the server.
        if let Err(e) = rt::ipc::send_nonblocking(client, &reply) {
            rt::println!("pong: reply to {client} failed: {e}");
        }
    }
}
