//! REPLYRECV: the reply part is a SENDNB in every respect, the receive
//! part a RECEIVE, whatever became of the reply.

use super::*;
use abi::notify::NOTIFY_MTYPE;
use abi::trace::Kind;

/// s[0] (the client) SENDRECs s[1] (the server), which takes the request
/// with a plain RECEIVE; the client is left waiting for its reply.
fn client_waiting(k: &mut Kernel, m: &mut FakeMemory, s: &[usize]) {
    m.put(s[0], 1, 10);
    assert_eq!(k.sendrec(m, s[0], ep(k, s[1]), BUF), Outcome::Blocked);
    assert_eq!(k.receive(m, s[1], Endpoint::ANY, BUF), Outcome::Done(0));
    assert_eq!(m.get(s[1]).source, ep(k, s[0]));
}

#[test]
fn caller_waiting_gets_the_reply_and_the_server_blocks_in_receive() {
    let (mut k, mut m, s) = system(2);
    client_waiting(&mut k, &mut m, &s);
    m.put(s[1], 2, 20);
    let client = ep(&k, s[0]);
    assert_eq!(k.reply_receive(&mut m, s[1], client, BUF, Endpoint::ANY), (0, Outcome::Blocked));
    assert_eq!(m.take_result(s[0]), Some(0));
    let reply = m.get(s[0]);
    assert_eq!((reply.mtype, reply.payload[0], reply.source), (2, 20, ep(&k, s[1])));
    assert!(k.procs[s[0]].is_ready() && !k.procs[s[1]].is_ready());
    // The next request reaches the server waiting in the receive part.
    m.put(s[0], 1, 11);
    assert_eq!(k.sendrec(&mut m, s[0], ep(&k, s[1]), BUF), Outcome::Blocked);
    assert_eq!(m.take_result(s[1]), Some(0));
    assert_eq!(m.get(s[1]).payload[0], 11);
}

#[test]
fn caller_not_waiting_fails_the_reply_and_the_receive_still_happens() {
    let (mut k, mut m, s) = system(3);
    // s[0] sent with SEND, so it is not waiting for a reply.
    m.put(s[0], 1, 1);
    assert_eq!(k.send(&mut m, s[0], ep(&k, s[1]), BUF, SendMode::Blocking), Outcome::Blocked);
    assert_eq!(k.receive(&mut m, s[1], Endpoint::ANY, BUF), Outcome::Done(0));
    // s[2] has a request queued meanwhile: the receive part takes it.
    m.put(s[2], 1, 33);
    assert_eq!(k.sendrec(&mut m, s[2], ep(&k, s[1]), BUF), Outcome::Blocked);
    m.put(s[1], 2, 0);
    let (replied, received) = k.reply_receive(&mut m, s[1], ep(&k, s[0]), BUF, Endpoint::ANY);
    assert_eq!((replied, received), (Error::NotReady.to_return(), Outcome::Done(0)));
    let got = m.get(s[1]);
    assert_eq!((got.source, got.payload[0]), (ep(&k, s[2]), 33));
    // The reply was never delivered to s[0].
    assert!(m.deliveries.iter().all(|d| d.0 != s[0]));
}

#[test]
fn dead_or_stale_caller_fails_the_reply_and_the_receive_still_happens() {
    let (mut k, mut m, s) = system(2);
    client_waiting(&mut k, &mut m, &s);
    let stale = ep(&k, s[0]);
    k.exit(&mut m, s[0]);
    let again = k.spawn("again", 4, Privileges::all()).unwrap();
    assert_eq!(again, s[0], "the slot is reused under a new generation");
    assert_eq!(
        k.reply_receive(&mut m, s[1], stale, BUF, Endpoint::ANY),
        (Error::DeadSrcDst.to_return(), Outcome::Blocked)
    );
    assert!(k.procs[s[1]].receiving.is_some());
    // The successor in the slot got nothing.
    assert!(m.deliveries.iter().all(|d| d.0 != again));
}

#[test]
fn no_reply_is_a_plain_receive() {
    let (mut k, mut m, s) = system(2);
    assert_eq!(k.reply_receive(&mut m, s[1], Endpoint::NONE, BUF, Endpoint::ANY), (0, Outcome::Blocked));
    assert!(m.deliveries.is_empty());
    m.put(s[0], 5, 6);
    assert_eq!(k.send(&mut m, s[0], ep(&k, s[1]), BUF, SendMode::Blocking), Outcome::Done(0));
    assert_eq!(m.get(s[1]).mtype, 5);
}

#[test]
fn a_pending_notification_is_taken_by_the_receive_part() {
    let (mut k, mut m, s) = system(3);
    client_waiting(&mut k, &mut m, &s);
    assert_eq!(k.notify(&mut m, s[2], ep(&k, s[1])), Outcome::Done(0));
    m.put(s[1], 2, 7);
    let client = ep(&k, s[0]);
    assert_eq!(k.reply_receive(&mut m, s[1], client, BUF, Endpoint::ANY), (0, Outcome::Done(0)));
    let got = m.get(s[1]);
    assert_eq!((got.mtype, got.source), (NOTIFY_MTYPE, ep(&k, s[2])));
    assert_eq!(m.get(s[0]).payload[0], 7);
}

#[test]
fn without_the_traps_of_its_parts_both_parts_are_refused() {
    let (mut k, mut m, s) = system(2);
    client_waiting(&mut k, &mut m, &s);
    let mut only_receive = Privileges::all();
    only_receive.traps = Privileges::trap_bit(abi::syscall::Trap::Receive);
    k.set_privileges(s[1], only_receive);
    let client = ep(&k, s[0]);
    assert_eq!(
        k.reply_receive(&mut m, s[1], client, BUF, Endpoint::ANY),
        (Error::TrapDenied.to_return(), Outcome::Blocked)
    );
    let mut only_sendnb = Privileges::all();
    only_sendnb.traps = Privileges::trap_bit(abi::syscall::Trap::SendNb);
    k.set_privileges(s[1], only_sendnb);
    k.procs[s[1]].receiving = None;
    k.run_queues.enqueue(&mut k.procs, s[1]);
    let denied = Outcome::Done(Error::TrapDenied.to_return());
    assert_eq!(k.reply_receive(&mut m, s[1], client, BUF, Endpoint::ANY), (0, denied));
    assert_eq!(m.take_result(s[0]), Some(0));
}

#[test]
fn the_trace_sees_a_sendnb_and_a_receive() {
    let (mut k, mut m, s) = system(3);
    k.set_tracing(true);
    client_waiting(&mut k, &mut m, &s);
    m.put(s[2], 1, 5);
    assert_eq!(k.sendrec(&mut m, s[2], ep(&k, s[1]), BUF), Outcome::Blocked);
    m.events.clear();
    let client = ep(&k, s[0]);
    assert_eq!(k.reply_receive(&mut m, s[1], client, BUF, Endpoint::ANY), (0, Outcome::Done(0)));
    let seen: Vec<(u8, u8, u32, u32)> = m.events.iter().map(|e| (e.kind, e.primitive, e.src, e.dst)).collect();
    let (sendnb, receive) = (abi::syscall::Trap::SendNb as u8, abi::syscall::Trap::Receive as u8);
    assert_eq!(
        seen,
        [
            (Kind::Send as u8, sendnb, ep(&k, s[1]).0, ep(&k, s[0]).0),
            (Kind::Receive as u8, receive, ep(&k, s[2]).0, ep(&k, s[1]).0),
        ]
    );
    // A failed reply leaves the same Refused record a SENDNB leaves.
    m.events.clear();
    let (replied, _) = k.reply_receive(&mut m, s[1], client, BUF, Endpoint::ANY);
    assert_eq!(replied, Error::NotReady.to_return());
    assert_eq!(m.events[0].kind, Kind::Refused as u8);
    assert_eq!(m.events[0].primitive, sendnb);
}
