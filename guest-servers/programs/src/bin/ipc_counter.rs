//! The exact-count program of the `trace-test` image: between the bench
//! marks START and END it makes a known set of IPC calls, and
//! `vmm/tests/trace_exact.rs` checks the trace record for record.
//!
//! It is of kind "user" (each primitive and kernel call opens a new cause)
//! with the traps SEND, SENDREC, NOTIFY and SENDA (no SENDNB, no RECEIVE).
//! Priorities: `ipc_helper` 2 < `ipc_partner` 3 < counter 4 < `ipc_sink` 5,
//! so whatever the counter sends to the partner is served (and the partner
//! is back in RECEIVE) before the counter runs again, while the sink runs
//! only when the counter blocks.
//!
//! Between the marks, in order (the records each call makes):
//! 1. 3 × SEND `ONE_WAY` to the partner: one Send each.
//! 2. 2 × SENDREC `RELAY` to the partner: Send counter→partner, Send
//!    partner→helper (its SENDREC), Send helper→partner and Send
//!    partner→counter (SENDNB replies): four Sends, one cause.
//! 3. 2 × NOTIFY the partner, waiting in RECEIVE: Notify each; then
//!    2 × NOTIFY the sink, which is ready but not receiving (it answered
//!    the counter before the marks and has not run since): NotifyPended
//!    twice, coalescing into one pending bit.
//! 4. 1 × SENDA of two entries to the partner: the first is delivered
//!    during the call (SendaDelivered), the partner no longer waits for the
//!    second (SendaPended); the partner, running next, takes it with its
//!    RECEIVE (SendaDelivered, with the SENDA's cause).
//! 5. 2 refused calls: SEND to `ipc_helper` (not in the counter's `ipc`
//!    list) and SENDNB to the partner (not in its traps): Refused each.
//! 6. 1 kernel call (uptime): KernelCall.
//! 7. SENDREC `COUNTS` to the sink, still not receiving: SendQueued. The
//!    sink's RECEIVE takes the one coalesced notification first
//!    (NotifyReceived, with the cause of the last NOTIFY that pended), then
//!    the counter's message (Receive), and answers (Send).
//!
//! After END it checks the servers' counts and exits 0 when all match.
#![no_std]
#![no_main]

#[path = "ipc_partner/protocol.rs"]
mod protocol;

use abi::platform::{MARK_BENCH_END, MARK_BENCH_START};
use abi::senda::SendaEntry;
use protocol::*;
use rt::{Endpoint, Error, Message};

rt::main!(run);

fn counts(server: Endpoint) -> Result<[u64; 7], Error> {
    let mut msg = Message::new(COUNTS);
    rt::ipc::sendrec(server, &mut msg)?;
    if msg.mtype != REPLY {
        return Err(Error::Invalid);
    }
    Ok(msg.payload)
}

/// The calls between the marks; returns the sink's counts of step 7.
fn calls(
    partner: Endpoint,
    helper: Endpoint,
    sink: Endpoint,
    table: &mut [SendaEntry; 2],
) -> Result<[u64; 7], (&'static str, Error)> {
    for i in 0..3 {
        rt::ipc::send(partner, &Message::with_words(ONE_WAY, &[i])).map_err(|e| ("send", e))?;
    }
    for i in 0..2u64 {
        let mut msg = Message::with_words(RELAY, &[100 + i]);
        rt::ipc::sendrec(partner, &mut msg).map_err(|e| ("sendrec", e))?;
        if msg.mtype != REPLY || msg.payload[0] != 101 + i {
            return Err(("sendrec reply", Error::Invalid));
        }
    }
    for _ in 0..2 {
        rt::ipc::notify(partner).map_err(|e| ("notify partner", e))?;
    }
    for _ in 0..2 {
        rt::ipc::notify(sink).map_err(|e| ("notify sink", e))?;
    }
    rt::ipc::senda(table).map_err(|e| ("senda", e))?;
    if rt::ipc::send(helper, &Message::new(ONE_WAY)) != Err(Error::CallDenied) {
        return Err(("send to helper was not refused", Error::Invalid));
    }
    if rt::ipc::send_nonblocking(partner, &Message::new(ONE_WAY)) != Err(Error::TrapDenied) {
        return Err(("sendnb was not refused", Error::Invalid));
    }
    let _ = rt::sys::uptime();
    counts(sink).map_err(|e| ("sink counts", e))
}

fn run() -> i32 {
    let names = ["ipc_partner", "ipc_helper", "ipc_sink"];
    let [Some(partner), Some(helper), Some(sink)] = names.map(rt::kip::endpoint_of) else {
        rt::println!("ipc_counter: needs ipc_partner, ipc_helper and ipc_sink");
        return 2;
    };
    // Before the marks: both servers answer. The sink is left ready but
    // not receiving: its answer woke the counter, which outranks it.
    if counts(sink).is_err() || counts(partner).is_err() {
        rt::println!("ipc_counter: the servers do not answer");
        return 1;
    }
    let mut table = [SendaEntry::new(partner, Message::new(ASYNC)), SendaEntry::new(partner, Message::new(ASYNC))];
    rt::sys::bench_mark(MARK_BENCH_START);
    let result = calls(partner, helper, sink, &mut table);
    rt::sys::bench_mark(MARK_BENCH_END);
    let sink_counts = match result {
        Ok(c) => c,
        Err((what, e)) => {
            rt::println!("ipc_counter: {what}: {e}");
            return 1;
        }
    };
    let Ok(partner_counts) = counts(partner) else {
        rt::println!("ipc_counter: partner counts failed");
        return 1;
    };
    let want_partner = [3, 2, 2, 2];
    let want_sink = [0, 0, 1, 0];
    if partner_counts[..4] != want_partner || sink_counts[..4] != want_sink {
        rt::println!(
            "ipc_counter: partner counted {:?} (want {want_partner:?}), sink {:?} (want {want_sink:?})",
            &partner_counts[..4],
            &sink_counts[..4]
        );
        return 1;
    }
    if table.iter().any(|e| e.flags & abi::senda::FLAG_DONE == 0 || e.result != 0) {
        rt::println!("ipc_counter: a SENDA entry did not complete");
        return 1;
    }
    rt::println!("ipc_counter: all calls made and counted");
    0
}
