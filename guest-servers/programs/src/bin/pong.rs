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

struct Pong;

impl rt::server::Server for Pong {
    fn request(&mut self, msg: &Message) -> rt::server::Answer {
        if msg.mtype != PING {
            return rt::server::Answer::Later;
        }
        let mut reply = Message::new(PONG);
        for (out, word) in reply.payload.iter_mut().zip(msg.payload) {
            *out = !word;
        }
        // The client waits in SENDREC: the reply reaches it with our next
        // receive (REPLYRECV); a client that is gone cannot block us.
        rt::server::Answer::Now(reply)
    }

    fn reply_failed(&mut self, to: Endpoint, error: rt::Error) {
        rt::println!("pong: reply to {to} failed: {error}");
    }
}

fn run() -> i32 {
    rt::server::serve(&mut Pong)
}
