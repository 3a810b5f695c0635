//! The `trace-test` image's protocol (`ipc_counter`, `ipc_partner`,
//! `ipc_helper`, `ipc_sink`) and the servers' loop.
//!
//! Every server answers with SENDNB only (its client waits in SENDREC), and
//! makes no kernel call while serving, so the trace between the counter's
//! marks holds exactly the records `vmm/tests/trace_exact.rs` lists.

#![allow(dead_code)]

use abi::notify::NOTIFY_MTYPE;
use rt::{Endpoint, Message};

/// Counted, never answered.
pub const ONE_WAY: u32 = 0x7701;
/// Answered after a SENDREC of the same payload to the helper (`ECHO`),
/// with the helper's answer.
pub const RELAY: u32 = 0x7702;
/// The helper answers `REPLY` with payload word 0 plus one.
pub const ECHO: u32 = 0x7703;
/// A SENDA entry: counted, never answered.
pub const ASYNC: u32 = 0x7704;
/// Answered with the counts (`COUNT_*` words).
pub const COUNTS: u32 = 0x7705;
/// Every answer.
pub const REPLY: u32 = 0x7706;

/// Count index of `ONE_WAY` messages.
pub const COUNT_ONE_WAY: usize = 0;
/// Count index of `RELAY` requests.
pub const COUNT_RELAY: usize = 1;
/// Count index of notifications received (a coalesced one counts once).
pub const COUNT_NOTIFY: usize = 2;
/// Count index of SENDA entries.
pub const COUNT_ASYNC: usize = 3;

/// Serves forever: RECEIVE from anyone, count, answer what waits for an
/// answer (relaying `RELAY` through `helper`). Returns 1 when RECEIVE fails.
pub fn serve(name: &str, helper: Option<Endpoint>) -> i32 {
    let mut counts = [0u64; 4];
    let mut msg = Message::default();
    loop {
        if let Err(e) = rt::ipc::receive(Endpoint::ANY, &mut msg) {
            rt::println!("{name}: receive failed: {e}");
            return 1;
        }
        let reply = match (msg.mtype, helper) {
            (ONE_WAY, _) => {
                counts[COUNT_ONE_WAY] += 1;
                None
            }
            (ASYNC, _) => {
                counts[COUNT_ASYNC] += 1;
                None
            }
            (NOTIFY_MTYPE, _) => {
                counts[COUNT_NOTIFY] += 1;
                None
            }
            (RELAY, Some(helper)) => {
                counts[COUNT_RELAY] += 1;
                let mut relayed = Message::with_words(ECHO, &[msg.payload[0]]);
                match rt::ipc::sendrec(helper, &mut relayed) {
                    Ok(()) if relayed.mtype == REPLY => Some(Message::with_words(REPLY, &[relayed.payload[0]])),
                    _ => Some(Message::with_words(REPLY, &[u64::MAX])),
                }
            }
            (COUNTS, _) => Some(Message::with_words(REPLY, &counts)),
            _ => None,
        };
        if let Some(reply) = reply {
            // The client waits in SENDREC, so a non-blocking send reaches it.
            let _ = rt::ipc::send_nonblocking(msg.source, &reply);
        }
    }
}
