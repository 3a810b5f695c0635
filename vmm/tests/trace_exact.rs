//! Exact IPC counts: the `trace-test` image's `ipc_counter` makes a known
//! set of calls between two bench marks (see its doc comment), and the
//! trace between those marks must hold exactly the records below, in this
//! order, with these endpoints (by name) and these cause ids. No tolerance.
mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use abi::platform::{MARK_BENCH_END, MARK_BENCH_START};
use abi::syscall::{KernelCall, Trap};
use abi::trace::Kind;
use vmm::observe::analysis::Analysis;
use vmm::observe::decode::decode;
use vmm::observe::TraceMode;
use vmm::vstate::config::RunConfig;

const C: &str = "ipc_counter";
const P: &str = "ipc_partner";
const H: &str = "ipc_helper";
const S: &str = "ipc_sink";

/// One expected record: kind, primitive, source, destination, and its cause
/// as an offset from the cause of the START mark's kernel call (the
/// counter is the only user process, so its calls open consecutive ids).
type Expected = (Kind, u8, &'static str, &'static str, u32);

fn expected() -> Vec<Expected> {
    use Kind::*;
    let (send, sendnb, sendrec, notify, senda) =
        (Trap::Send as u8, Trap::SendNb as u8, Trap::SendRec as u8, Trap::Notify as u8, Trap::SendA as u8);
    let mut v = vec![(Send, send, C, P, 1), (Send, send, C, P, 2), (Send, send, C, P, 3)];
    // Each SENDREC: the request, the partner's SENDREC to the helper and
    // both SENDNB replies, all with the counter's cause.
    for cause in [4, 5] {
        v.extend([
            (Send, sendrec, C, P, cause),
            (Send, sendrec, P, H, cause),
            (Send, sendnb, H, P, cause),
            (Send, sendnb, P, C, cause),
        ]);
    }
    v.extend([
        // Two NOTIFYs to the waiting partner: delivered. Two to the sink,
        // ready but not receiving: pended, coalescing into one bit.
        (Notify, notify, C, P, 6),
        (Notify, notify, C, P, 7),
        (NotifyPended, notify, C, S, 8),
        (NotifyPended, notify, C, S, 9),
        // SENDA of two entries: delivered, pended, taken by the partner's
        // next RECEIVE with the SENDA's cause.
        (SendaDelivered, senda, C, P, 10),
        (SendaPended, senda, C, P, 10),
        (SendaDelivered, senda, C, P, 10),
        // Refused: SEND outside the ipc list, SENDNB outside the traps.
        (Refused, send, C, H, 11),
        (Refused, sendnb, C, P, 12),
        (KernelCall, sendrec, C, "SYSTEM", 13),
        // SENDREC to the busy sink: queued; the sink takes the coalesced
        // notification (the cause of the last NOTIFY that pended), then the
        // counter's message, and answers.
        (SendQueued, sendrec, C, S, 14),
        (NotifyReceived, 0, C, S, 9),
        (Receive, Trap::Receive as u8, C, S, 14),
        (Send, sendnb, S, C, 14),
    ]);
    v
}

#[test]
fn every_kind_of_ipc_is_counted_exactly_with_its_cause() {
    let mut config = RunConfig::for_image("trace-test").unwrap();
    config.timeout = Some(Duration::from_secs(60));
    config.trace = Some(TraceMode::Lossless);
    let outcome = vmm::run(&config).unwrap();
    let console = outcome.console_text();
    let log = outcome.trace.clone().expect("a trace");
    assert_eq!((log.dropped, log.doorbells, log.header_errors), (0, 0, 0));
    let decoded = decode(&log.raw);
    assert!(decoded.bad.is_empty() && decoded.missing == 0, "{:?} {}", decoded.bad, decoded.missing);
    let a = Analysis::new(&decoded.records, Some(MARK_BENCH_START));
    let mark = |id: u32| {
        let at = a.records.iter().position(|r| {
            r.kind == Kind::KernelCall
                && r.event.mtype == KernelCall::BenchMark as u32
                && r.event.args[0] == u64::from(id)
        });
        at.unwrap_or_else(|| panic!("no mark {id}"))
    };
    let (start, end) = (mark(MARK_BENCH_START), mark(MARK_BENCH_END));
    assert_eq!(a.mark, Some(start));
    assert_eq!(a.names[start].0, C);
    let base = a.records[start].event.cause;
    assert_ne!(base, 0, "the counter's kernel call opens a cause");

    let got: Vec<Expected> = (start + 1..end)
        .map(|i| {
            let (r, (src, dst)) = (&a.records[i], &a.names[i]);
            let src: &'static str = [C, P, H, S, "SYSTEM"].into_iter().find(|n| n == src).unwrap_or("?");
            let dst: &'static str = [C, P, H, S, "SYSTEM"].into_iter().find(|n| n == dst).unwrap_or("?");
            (r.kind, r.event.primitive, src, dst, r.event.cause.wrapping_sub(base))
        })
        .collect();
    let want = expected();
    if got != want {
        eprintln!("{console}\n{got:#?}");
    }
    assert_eq!(outcome.exit_status(), 0, "{console}");
    assert!(console.contains("ipc_counter: all calls made and counted"), "{console}");
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        assert_eq!(g, w, "record {i} after the START mark");
    }
    assert_eq!(got.len(), want.len(), "records between the marks: {got:?}");

    // The same, as counts per kind (what `viv count` reports).
    let mut kinds: BTreeMap<Kind, u64> = BTreeMap::new();
    for r in &a.records[start + 1..end] {
        *kinds.entry(r.kind).or_default() += 1;
    }
    let want_kinds = BTreeMap::from([
        (Kind::Send, 12),
        (Kind::SendQueued, 1),
        (Kind::Receive, 1),
        (Kind::Notify, 2),
        (Kind::NotifyPended, 2),
        (Kind::NotifyReceived, 1),
        (Kind::SendaDelivered, 2),
        (Kind::SendaPended, 1),
        (Kind::Refused, 2),
        (Kind::KernelCall, 1),
    ]);
    assert_eq!(kinds, want_kinds);
    let messages = a.records[start + 1..end].iter().filter(|r| r.kind.is_message()).count();
    assert_eq!(messages, 19);
    // Per cause: each SENDREC relay is 4 messages; the SENDA 2; the end
    // mark opened the next id.
    assert_eq!(a.calls[&(base + 4)].messages, 4);
    assert_eq!(a.calls[&(base + 5)].messages, 4);
    assert_eq!(a.calls[&(base + 10)].messages, 2);
    assert_eq!(a.calls[&(base + 14)].messages, 2);
    assert_eq!(a.records[end].event.cause, base + 15);
}
