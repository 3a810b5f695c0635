//! REPLYRECV with `REPLYRECV_IF_SENT` ([`ReceivePart::IfSent`]): exactly
//! a SENDNB, then, only when that delivered (or there was none), a
//! RECEIVE; and the fast path, which never reads the flag, leaves what the
//! general path leaves with it, or falls back with nothing changed.
//!
//! The shape is VFS's and the file server's: s[1] sends a message that
//! must arrive to s[0], which is not its client but a server waiting in
//! RECEIVE (or busy), and then waits for its next message.

use super::fast::{falls_back, snapshot};
use super::*;
use crate::fault::tests::install;
use abi::fault::{Action, Rule};
use abi::notify::NOTIFY_MTYPE;
use abi::syscall::Trap;
use abi::trace::Kind;
use std::vec;

/// Three processes, tracing on, s[1] with message (1, 10) in its buffer;
/// nobody waits.
fn quiet() -> (Kernel, FakeMemory, Vec<usize>) {
    let (mut k, mut m, s) = system(3);
    k.set_tracing(true);
    m.put(s[1], 1, 10);
    (k, m, s)
}

/// [`quiet`] with s[0] waiting in RECEIVE from ANY.
fn peer_waiting() -> (Kernel, FakeMemory, Vec<usize>) {
    let (mut k, mut m, s) = quiet();
    assert_eq!(k.receive(&mut m, s[0], Endpoint::ANY, BUF), Outcome::Blocked);
    (k, m, s)
}

/// One situation: how to make it, and the call's destination, buffer
/// and source in it.
type Prepare = fn(&mut Kernel, &mut FakeMemory, &[usize]) -> (Endpoint, u64, Endpoint);

/// A situation and what the fast path makes of it: the partner it
/// switches to, or why it falls back.
struct Case {
    name: &'static str,
    base: fn() -> (Kernel, FakeMemory, Vec<usize>),
    prepare: Prepare,
    fast: Result<usize, Fallback>,
}

fn to_peer(k: &mut Kernel, _: &mut FakeMemory, s: &[usize]) -> (Endpoint, u64, Endpoint) {
    (ep(k, s[0]), BUF, Endpoint::ANY)
}

fn without_trap(k: &mut Kernel, s: &[usize], trap: Trap) {
    let mut p = Privileges::all();
    p.traps &= !Privileges::trap_bit(trap);
    k.set_privileges(s[1], p);
}

/// Every path through the call: the send delivers, fails, is refused or
/// there is none; the receive blocks, finds something or is refused; and
/// every fallback of the fast path.
fn cases() -> Vec<Case> {
    let case = |name, base, prepare, fast| Case { name, base, prepare, fast };
    vec![
        case("delivers", peer_waiting, to_peer, Ok(0)),
        case("peer busy", quiet, to_peer, Err(Fallback::NotWaiting)),
        case(
            "peer waits for another",
            quiet,
            |k, m, s| {
                assert_eq!(k.receive(m, s[0], ep(k, s[2]), BUF), Outcome::Blocked);
                to_peer(k, m, s)
            },
            Err(Fallback::NotWaiting),
        ),
        case(
            "peer gone",
            peer_waiting,
            |k, _, s| (ep(k, s[0]).next_generation(), BUF, Endpoint::ANY),
            Err(Fallback::Peer),
        ),
        case("to itself", peer_waiting, |k, _, s| (ep(k, s[1]), BUF, Endpoint::ANY), Err(Fallback::NotWaiting)),
        case(
            "no SENDNB",
            peer_waiting,
            |k, m, s| {
                without_trap(k, s, Trap::SendNb);
                to_peer(k, m, s)
            },
            Err(Fallback::TrapDenied),
        ),
        case(
            "no RECEIVE",
            peer_waiting,
            |k, m, s| {
                without_trap(k, s, Trap::Receive);
                to_peer(k, m, s)
            },
            Err(Fallback::TrapDenied),
        ),
        case(
            "a fault rule may match",
            peer_waiting,
            |k, m, s| {
                install(k, 1, &[Rule { primitives: 1 << Trap::SendNb as u8, ..Rule::new(Action::Drop) }]);
                to_peer(k, m, s)
            },
            Err(Fallback::FaultRule),
        ),
        case(
            "a notification waits, the peer too",
            peer_waiting,
            |k, m, s| {
                assert_eq!(k.notify(m, s[2], ep(k, s[1])), Outcome::Done(0));
                to_peer(k, m, s)
            },
            Err(Fallback::ReceiveReady),
        ),
        case(
            "a sender is queued, the peer busy",
            quiet,
            |k, m, s| {
                m.put(s[2], 1, 33);
                assert_eq!(k.sendrec(m, s[2], ep(k, s[1]), BUF), Outcome::Blocked);
                to_peer(k, m, s)
            },
            Err(Fallback::ReceiveReady),
        ),
        case("a named source", peer_waiting, |k, _, s| (ep(k, s[0]), BUF, ep(k, s[2])), Err(Fallback::ReceiveReady)),
        case(
            "the notification type",
            peer_waiting,
            |k, m, s| {
                m.put(s[1], NOTIFY_MTYPE, 0);
                to_peer(k, m, s)
            },
            Err(Fallback::Buffer),
        ),
        case("a read-only buffer", peer_waiting, |k, _, s| (ep(k, s[0]), READ_ONLY + 0x100, Endpoint::ANY), {
            Err(Fallback::Buffer)
        }),
        case(
            "the source stamp switched off",
            peer_waiting,
            |k, m, s| {
                k.weak.source_stamp = true;
                to_peer(k, m, s)
            },
            Err(Fallback::Weakened),
        ),
        case("no message", peer_waiting, |_, _, _| (Endpoint::NONE, BUF, Endpoint::ANY), Err(Fallback::NotWaiting)),
    ]
}

/// What SENDNB and then, if it delivered, RECEIVE give: the results the
/// flagged call must give.
fn sendnb_then_receive(
    k: &mut Kernel,
    m: &mut FakeMemory,
    caller: usize,
    (to, addr, from): (Endpoint, u64, Endpoint),
) -> (i64, Outcome) {
    let sent = if to == Endpoint::NONE {
        0
    } else {
        match k.send(m, caller, to, addr, SendMode::NonBlocking) {
            Outcome::Done(value) => value,
            Outcome::Blocked => panic!("SENDNB blocked"),
        }
    };
    if sent != 0 {
        return (sent, Outcome::Done(sent));
    }
    (0, k.receive(m, caller, from, addr))
}

#[test]
fn the_flagged_call_is_sendnb_then_receive_only_if_it_delivered() {
    for case in cases() {
        let (mut k, mut m, s) = (case.base)();
        let call = (case.prepare)(&mut k, &mut m, &s);
        let (mut parts, mut pm, _) = (case.base)();
        assert_eq!((case.prepare)(&mut parts, &mut pm, &s), call);
        let (to, addr, from) = call;
        let got = k.reply_receive_part(&mut m, s[1], to, addr, from, ReceivePart::IfSent);
        assert_eq!(got, sendnb_then_receive(&mut parts, &mut pm, s[1], call), "{}", case.name);
        assert_eq!(snapshot(&k, &m), snapshot(&parts, &pm), "{}", case.name);
        assert!(m.pages == pm.pages, "{}", case.name);
    }
}

#[test]
fn the_fast_path_leaves_what_the_flagged_general_path_leaves_or_falls_back() {
    for case in cases() {
        let (mut fast, mut fm, s) = (case.base)();
        let (to, addr, from) = (case.prepare)(&mut fast, &mut fm, &s);
        match case.fast {
            Ok(partner) => {
                let (mut general, mut gm, _) = (case.base)();
                (case.prepare)(&mut general, &mut gm, &s);
                let switch = fast.fast_reply_receive(&mut fm, s[1], to, addr, from);
                assert_eq!(switch.map(|w| w.to), Ok(s[partner]), "{}", case.name);
                let got = general.reply_receive_part(&mut gm, s[1], to, addr, from, ReceivePart::IfSent);
                assert_eq!(got, (0, Outcome::Blocked), "{}", case.name);
                assert_eq!(snapshot(&fast, &fm), snapshot(&general, &gm), "{}", case.name);
                assert!(fm.pages == gm.pages, "{}", case.name);
            }
            Err(why) => falls_back(&mut fast, &mut fm, why, |k, m| k.fast_reply_receive(m, s[1], to, addr, from)),
        }
    }
}

#[test]
fn a_busy_peer_ends_the_call_before_the_receive_and_the_message_can_still_be_posted() {
    let (mut k, mut m, s) = quiet();
    // A request for s[1] is queued: a receive would take it at once.
    m.put(s[2], 1, 33);
    assert_eq!(k.sendrec(&mut m, s[2], ep(&k, s[1]), BUF), Outcome::Blocked);
    let peer = ep(&k, s[0]);
    let failed = Error::NotReady.to_return();
    assert_eq!(
        k.reply_receive_part(&mut m, s[1], peer, BUF, Endpoint::ANY, ReceivePart::IfSent),
        (failed, Outcome::Done(failed))
    );
    // Nothing was received: the caller runs, its buffer still holds its
    // message, the queued request still waits, and the one record is the
    // refused SENDNB's.
    assert!(k.procs[s[1]].is_ready() && k.procs[s[1]].receiving.is_none());
    assert_eq!((m.get(s[1]).mtype, m.get(s[1]).payload[0]), (1, 10));
    assert!(m.deliveries.iter().all(|d| d.0 != s[1]));
    assert_eq!(m.events.last().map(|e| (e.kind, e.primitive)), Some((Kind::Refused as u8, Trap::SendNb as u8)));
    // The caller posts the message by SENDA and then receives: the queued
    // request first, and the message reaches s[0] at its next receive.
    let entry = abi::senda::SendaEntry::new(peer, m.get(s[1]));
    m.put_table(s[1], TABLE, &[entry]);
    assert_eq!(k.senda(&mut m, s[1], TABLE, 1), Outcome::Done(0));
    assert_eq!(k.reply_receive(&mut m, s[1], Endpoint::NONE, BUF, Endpoint::ANY), (0, Outcome::Done(0)));
    assert_eq!(m.get(s[1]).payload[0], 33);
    assert_eq!(k.receive(&mut m, s[0], Endpoint::ANY, BUF), Outcome::Done(0));
    let got = m.get(s[0]);
    assert_eq!((got.mtype, got.payload[0], got.source), (1, 10, ep(&k, s[1])));
}

#[test]
fn without_the_flag_the_same_failure_still_receives() {
    let (mut k, mut m, s) = quiet();
    m.put(s[2], 1, 33);
    assert_eq!(k.sendrec(&mut m, s[2], ep(&k, s[1]), BUF), Outcome::Blocked);
    let peer = ep(&k, s[0]);
    assert_eq!(
        k.reply_receive_part(&mut m, s[1], peer, BUF, Endpoint::ANY, ReceivePart::Always),
        (Error::NotReady.to_return(), Outcome::Done(0))
    );
    assert_eq!(m.get(s[1]).payload[0], 33);
}
