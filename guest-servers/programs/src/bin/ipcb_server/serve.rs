//! The `ipcbench` server loop, shared by `ipcb_server` (higher priority than
//! the client) and `ipcb_server_lo` (lower): RECEIVE from anyone, count what
//! arrives, answer only what waits for an answer, and RECEIVE again. The
//! loop does nothing else in the kernel, so each phase's kernel work is the
//! client's primitive plus exactly this RECEIVE (and, for ECHO, a SENDNB).

use super::protocol::*;
use abi::notify::NOTIFY_MTYPE;
use rt::{Endpoint, Message};

/// Serves forever (the client powers the machine off); returns only when
/// RECEIVE fails.
pub fn serve(name: &str) -> i32 {
    let mut counts = [0u64; 4];
    let mut msg = Message::default();
    loop {
        if let Err(e) = rt::ipc::receive(Endpoint::ANY, &mut msg) {
            rt::println!("{name}: receive failed: {e}");
            return 1;
        }
        let reply = match msg.mtype {
            ONE_WAY => {
                counts[COUNT_ONE_WAY] += 1;
                None
            }
            ASYNC => {
                counts[COUNT_ASYNC] += 1;
                None
            }
            NOTIFY_MTYPE => {
                counts[COUNT_NOTIFY] += 1;
                None
            }
            ECHO => {
                counts[COUNT_ECHO] += 1;
                Some(Message::with_words(REPLY, &[msg.payload[0]]))
            }
            COUNTS => Some(Message::with_words(REPLY, &counts)),
            _ => None,
        };
        if let Some(reply) = reply {
            // The client waits in SENDREC, so a non-blocking send reaches it.
            if let Err(e) = rt::ipc::send_nonblocking(msg.source, &reply) {
                rt::println!("{name}: reply to {} failed: {e}", msg.source);
            }
        }
    }
}
