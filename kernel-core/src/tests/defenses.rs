//! The notification type is the kernel's, refusals leave honest trace
//! records, and each `Weakened` switch turns exactly its defense off.

use super::*;
use abi::notify::NOTIFY_MTYPE;
use abi::senda::{FLAG_DONE, FLAG_VALID};
use abi::syscall::Trap;
use abi::trace::Kind;

/// The refusal records of `m`: (primitive, src, dst, result).
fn refusals(m: &FakeMemory) -> Vec<(u8, u32, u32, i32)> {
    m.events.iter().filter(|e| e.kind == Kind::Refused as u8).map(|e| (e.primitive, e.src, e.dst, e.result)).collect()
}

fn invalid() -> i32 {
    Error::Invalid.to_return() as i32
}

#[test]
fn a_message_typed_as_a_notification_is_refused_by_every_send_primitive() {
    let (mut k, mut m, s) = system(3);
    k.set_tracing(true);
    let (server, client) = (s[0], s[1]);
    let to = ep(&k, server);
    m.put(client, NOTIFY_MTYPE, 1);
    // Receiver waiting: refused at once, nothing delivered.
    k.receive(&mut m, server, Endpoint::ANY, BUF);
    assert_eq!(k.send(&mut m, client, to, BUF, SendMode::Blocking), err(Error::Invalid));
    assert_eq!(k.send(&mut m, client, to, BUF, SendMode::NonBlocking), err(Error::Invalid));
    assert_eq!(k.sendrec(&mut m, client, to, BUF), err(Error::Invalid));
    assert!(k.procs[client].is_ready() && k.procs[client].receiving.is_none());
    assert!(m.deliveries.is_empty());
    let c = ep(&k, client).0;
    let expected = [(Trap::Send as u8, c, to.0, invalid()), (Trap::SendNb as u8, c, to.0, invalid())];
    assert_eq!(refusals(&m)[..2], expected);
    assert_eq!(refusals(&m)[2], (Trap::SendRec as u8, c, to.0, invalid()));
}

#[test]
fn a_queued_sender_typed_as_a_notification_is_refused_when_received() {
    let (mut k, mut m, s) = system(3);
    k.set_tracing(true);
    let (server, forger, honest) = (s[0], s[1], s[2]);
    m.put(forger, NOTIFY_MTYPE, 1);
    m.put(honest, 7, 2);
    assert_eq!(k.sendrec(&mut m, forger, ep(&k, server), BUF), Outcome::Blocked);
    assert_eq!(k.send(&mut m, honest, ep(&k, server), BUF, SendMode::Blocking), Outcome::Blocked);
    // The server skips the forger (woken with EINVAL) and takes the next.
    assert_eq!(k.receive(&mut m, server, Endpoint::ANY, BUF), Outcome::Done(0));
    assert_eq!((m.get(server).source, m.get(server).mtype), (ep(&k, honest), 7));
    assert_eq!(m.take_result(forger), Some(Error::Invalid.to_return()));
    assert!(k.procs[forger].is_ready() && k.procs[forger].sending.is_none() && k.procs[forger].receiving.is_none());
    let refused = (Trap::SendRec as u8, ep(&k, forger).0, ep(&k, server).0, invalid());
    assert_eq!(refusals(&m), [refused]);
}

#[test]
fn senda_entries_typed_as_notifications_fail_and_are_traced() {
    let (mut k, mut m, s) = system(3);
    k.set_tracing(true);
    let (server, waiting, busy) = (s[0], s[1], s[2]);
    k.receive(&mut m, waiting, Endpoint::ANY, BUF);
    let forged = |k: &Kernel, dst| SendaEntry::new(ep(k, dst), Message::new(NOTIFY_MTYPE));
    m.put_table(server, TABLE, &[forged(&k, waiting), forged(&k, busy)]);
    assert_eq!(k.senda(&mut m, server, TABLE, 2), Outcome::Done(0));
    let table = m.table(server, TABLE, 2);
    assert_eq!((table[0].flags, table[0].result), (FLAG_VALID | FLAG_DONE, invalid()));
    assert!(table[1].is_pending(), "checked when delivered, not when pended");
    // The busy receiver finds nothing: the entry fails instead.
    assert_eq!(k.receive(&mut m, busy, Endpoint::ANY, BUF), Outcome::Blocked);
    let table = m.table(server, TABLE, 2);
    assert_eq!((table[1].flags, table[1].result), (FLAG_VALID | FLAG_DONE, invalid()));
    assert!(m.deliveries.is_empty());
    let sa = Trap::SendA as u8;
    let srv = ep(&k, server).0;
    assert_eq!(refusals(&m), [(sa, srv, ep(&k, waiting).0, invalid()), (sa, srv, ep(&k, busy).0, invalid())]);
}

#[test]
fn every_failing_senda_entry_leaves_a_record_with_its_result() {
    let (mut k, mut m, s) = system(2);
    k.set_tracing(true);
    let dead = Endpoint::new(50, 3);
    m.put_table(s[0], TABLE, &[SendaEntry::new(dead, Message::new(1)), SendaEntry::new(ep(&k, s[0]), Message::new(1))]);
    assert_eq!(k.senda(&mut m, s[0], TABLE, 2), Outcome::Done(0));
    let me = ep(&k, s[0]).0;
    let sa = Trap::SendA as u8;
    let expected = [(sa, me, dead.0, Error::DeadSrcDst.to_return() as i32), (sa, me, me, invalid())];
    assert_eq!(refusals(&m), expected);
}

#[test]
fn refusals_made_by_the_architecture_layer_are_traced_with_their_result() {
    let (mut k, mut m, s) = system(1);
    assert_eq!(k.refuse(&mut m, s[0], 0, 42, Endpoint::NONE, Error::BadRequest), err(Error::BadRequest));
    assert!(m.events.is_empty(), "tracing off: no record");
    k.set_tracing(true);
    assert_eq!(k.refuse(&mut m, s[0], 0, 42, Endpoint::NONE, Error::BadRequest), err(Error::BadRequest));
    let bad = Error::BadRequest.to_return() as i32;
    assert_eq!(refusals(&m), [(0, ep(&k, s[0]).0, Endpoint::NONE.0, bad)]);
    assert_eq!(m.events[0].mtype, 42);
}

#[test]
fn weaken_switches_are_read_from_the_command_line() {
    let w = Weakened::from_cmdline("viv.entry=trap viv.weaken=trap_mask,deadlock -- echo viv.weaken=send_mask");
    assert!(w.trap_mask && w.deadlock && !w.send_mask && w.any());
    assert_eq!(Weakened::from_cmdline("viv.entry=trap"), Weakened::NONE);
    assert!(!Weakened::NONE.any());
    for name in abi::weaken::KERNEL_DEFENSES {
        let w = Weakened::from_cmdline(&std::format!("viv.weaken={name}"));
        assert!(w.any(), "{name} switches nothing off");
    }
}

#[test]
fn each_switch_lets_its_attack_through() {
    // Trap mask: a user may SEND.
    let mut k = Kernel::new();
    let mut m = FakeMemory::default();
    let server = k.spawn("server", 4, Privileges::all()).unwrap();
    let user = k.spawn("user", 4, Privileges::user(1 << server)).unwrap();
    k.receive(&mut m, server, Endpoint::ANY, BUF);
    assert_eq!(k.send(&mut m, user, ep(&k, server), BUF, SendMode::NonBlocking), err(Error::TrapDenied));
    k.weak.trap_mask = true;
    assert_eq!(k.send(&mut m, user, ep(&k, server), BUF, SendMode::NonBlocking), Outcome::Done(0));

    // Send mask: any destination.
    let mut k = Kernel::new();
    let a = k.spawn("a", 4, Privileges::system(0, 0)).unwrap();
    let b = k.spawn("b", 4, Privileges::system(0, 0)).unwrap();
    k.receive(&mut m, b, Endpoint::ANY, BUF);
    assert_eq!(k.send(&mut m, a, ep(&k, b), BUF, SendMode::NonBlocking), err(Error::CallDenied));
    k.weak.send_mask = true;
    assert_eq!(k.send(&mut m, a, ep(&k, b), BUF, SendMode::NonBlocking), Outcome::Done(0));

    // Kernel-call mask.
    assert!(!k.may_call(a, abi::syscall::KernelCall::Kill));
    k.weak.kernel_call_mask = true;
    assert!(k.may_call(a, abi::syscall::KernelCall::Kill));

    // Source stamp: the forged source arrives.
    let (mut k, mut m, s) = system(2);
    let forged = Endpoint::new(33, 7);
    m.put_message(s[1], BUF, &Message { source: forged, mtype: 5, payload: [0; 7] });
    k.receive(&mut m, s[0], Endpoint::ANY, BUF);
    k.send(&mut m, s[1], ep(&k, s[0]), BUF, SendMode::NonBlocking);
    assert_eq!(m.get(s[0]).source, ep(&k, s[1]));
    k.weak.source_stamp = true;
    k.receive(&mut m, s[0], Endpoint::ANY, BUF);
    k.send(&mut m, s[1], ep(&k, s[0]), BUF, SendMode::NonBlocking);
    assert_eq!(m.get(s[0]).source, forged);

    // Endpoint generation: a stale endpoint reaches the new occupant.
    let (mut k, mut m, s) = system(2);
    let old = ep(&k, s[1]);
    k.exit(&mut m, s[1]);
    let new = k.spawn("new", 4, Privileges::all()).unwrap();
    assert_eq!(new, s[1]);
    assert_eq!(k.live_slot(old), Err(Error::DeadSrcDst));
    k.weak.endpoint_generation = true;
    assert_eq!(k.live_slot(old), Ok(new));

    // Deadlock: the cycle closes and both block.
    let (mut k, mut m, s) = system(2);
    assert_eq!(k.send(&mut m, s[0], ep(&k, s[1]), BUF, SendMode::Blocking), Outcome::Blocked);
    assert_eq!(k.send(&mut m, s[1], ep(&k, s[0]), BUF, SendMode::Blocking), err(Error::Locked));
    k.weak.deadlock = true;
    assert_eq!(k.send(&mut m, s[1], ep(&k, s[0]), BUF, SendMode::Blocking), Outcome::Blocked);

    // SENDA bound: a table longer than the limit is walked.
    let (mut k, mut m, s) = system(1);
    let count = abi::senda::SENDA_MAX_ENTRIES + 1;
    assert_eq!(k.senda(&mut m, s[0], TABLE, count), err(Error::Domain));
    k.weak.senda_bound = true;
    assert_eq!(k.senda(&mut m, s[0], TABLE, count), Outcome::Done(0));

    // Notification type: the forged notification is delivered.
    let (mut k, mut m, s) = system(2);
    m.put(s[1], NOTIFY_MTYPE, 1);
    k.receive(&mut m, s[0], Endpoint::ANY, BUF);
    assert_eq!(k.send(&mut m, s[1], ep(&k, s[0]), BUF, SendMode::NonBlocking), err(Error::Invalid));
    k.weak.notify_type = true;
    assert_eq!(k.send(&mut m, s[1], ep(&k, s[0]), BUF, SendMode::NonBlocking), Outcome::Done(0));
    assert_eq!((m.get(s[0]).mtype, m.get(s[0]).source), (NOTIFY_MTYPE, ep(&k, s[1])));

    // Dead peers: a sender and a reply waiter of a dying process stay
    // blocked.
    let (mut k, mut m, s) = system(3);
    k.weak.dead_peer = true;
    k.send(&mut m, s[1], ep(&k, s[0]), BUF, SendMode::Blocking);
    k.receive(&mut m, s[2], ep(&k, s[0]), BUF);
    k.exit(&mut m, s[0]);
    assert_eq!((m.take_result(s[1]), m.take_result(s[2])), (None, None));
    assert!(k.procs[s[1]].hung && k.procs[s[2]].receiving.is_some());
}

#[test]
fn a_call_ended_by_its_peer_dying_is_traced_with_its_error() {
    let (mut k, mut m, s) = system(4);
    k.set_tracing(true);
    let dead = ep(&k, s[0]);
    k.send(&mut m, s[1], dead, BUF, SendMode::Blocking);
    k.sendrec(&mut m, s[2], dead, BUF);
    k.receive(&mut m, s[3], dead, BUF);
    m.events.clear();
    k.exit(&mut m, s[0]);
    let (dst_died, src_died) = (Error::DstDied.to_return() as i32, Error::SrcDied.to_return() as i32);
    let mut seen = refusals(&m);
    seen.sort();
    let mut want = [
        (Trap::Send as u8, ep(&k, s[1]).0, dead.0, dst_died),
        (Trap::SendRec as u8, ep(&k, s[2]).0, dead.0, dst_died),
        (Trap::Receive as u8, ep(&k, s[3]).0, dead.0, src_died),
    ];
    want.sort();
    assert_eq!(seen, want);
}
