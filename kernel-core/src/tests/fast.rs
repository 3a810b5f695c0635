//! The IPC fast path: when it is taken it leaves exactly the state,
//! results, memory and trace records the general path leaves; every
//! condition it does not handle falls back with nothing changed.

use super::*;
use crate::fault::tests::install;
use abi::fault::{Action, Rule};
use abi::notify::NOTIFY_MTYPE;
use abi::trace::Kind;
use std::format;
use std::string::String;

/// Everything the two paths could leave differently. The run queues as
/// the scheduler sees them: the running process linked back at the front
/// of its queue (`RunQueues::settle`), since the fast path makes its
/// partner the running process where the general path queues it and the
/// scheduler then makes it the running one.
pub(super) fn snapshot(k: &Kernel, m: &FakeMemory) -> String {
    let mut results: Vec<_> = m.results.iter().map(|(s, v)| (*s, *v)).collect();
    results.sort();
    let (mut procs, mut queues) = (k.procs, k.run_queues);
    queues.settle(&mut procs);
    format!("{:?}\n{:?}\n{}\n{:?}\n{:?}\n{:?}", procs, queues, k.trace.last_cause, results, m.deliveries, m.events)
}

/// Two processes, tracing on, s[1] (the server) waiting in RECEIVE from
/// ANY, s[0] (the client) with request (1, 10) in its buffer. The
/// client is of kind "user" (opens causes).
fn server_waiting() -> (Kernel, FakeMemory, Vec<usize>) {
    let (mut k, mut m, s) = system(3);
    k.set_tracing(true);
    k.set_user(s[0], true);
    assert_eq!(k.receive(&mut m, s[1], Endpoint::ANY, BUF), Outcome::Blocked);
    m.put(s[0], 1, 10);
    (k, m, s)
}

/// [`server_waiting`] after the request went through: the client waits
/// for its reply, the server holds the request and has reply (2, 20) in
/// its buffer.
fn client_waiting() -> (Kernel, FakeMemory, Vec<usize>) {
    let (mut k, mut m, s) = server_waiting();
    assert_eq!(k.sendrec(&mut m, s[0], ep(&k, s[1]), BUF), Outcome::Blocked);
    m.put(s[1], 2, 20);
    (k, m, s)
}

#[test]
fn sendrec_to_a_waiting_server_leaves_what_the_general_path_leaves() {
    let (mut fast, mut fm, s) = server_waiting();
    let (mut general, mut gm, _) = server_waiting();
    // The third process is ready too: no hand-over.
    let switch = Switch { to: s[1], direct: false };
    assert_eq!(fast.fast_sendrec(&mut fm, s[0], ep(&fast, s[1]), BUF), Ok(switch));
    assert_eq!(general.sendrec(&mut gm, s[0], ep(&general, s[1]), BUF), Outcome::Blocked);
    assert_eq!(snapshot(&fast, &fm), snapshot(&general, &gm));
    let got = fm.get(s[1]);
    assert_eq!((got.mtype, got.payload[0], got.source), (1, 10, ep(&fast, s[0])));
    assert_eq!(fm.take_result(s[1]), Some(0));
    assert!(fast.procs[s[1]].is_ready() && !fast.procs[s[0]].is_ready());
    assert_eq!(fm.events.len(), 1);
    assert_eq!((fm.events[0].kind, fm.events[0].primitive), (Kind::Send as u8, Trap::SendRec as u8));
}

#[test]
fn reply_receive_to_a_waiting_client_leaves_what_the_general_path_leaves() {
    let (mut fast, mut fm, s) = client_waiting();
    let (mut general, mut gm, _) = client_waiting();
    let client = ep(&fast, s[0]);
    assert_eq!(fast.fast_reply_receive(&mut fm, s[1], client, BUF, Endpoint::ANY).map(|w| w.to), Ok(s[0]));
    assert_eq!(general.reply_receive(&mut gm, s[1], client, BUF, Endpoint::ANY), (0, Outcome::Blocked));
    assert_eq!(snapshot(&fast, &fm), snapshot(&general, &gm));
    let got = fm.get(s[0]);
    assert_eq!((got.mtype, got.payload[0], got.source), (2, 20, ep(&fast, s[1])));
    assert!(fast.procs[s[0]].is_ready() && !fast.procs[s[1]].is_ready());
    let last = fm.events.last().unwrap();
    assert_eq!((last.kind, last.primitive, last.cause), (Kind::Send as u8, Trap::SendNb as u8, 1));
}

#[test]
fn a_conversation_on_the_fast_path_is_the_same_conversation() {
    let (mut fast, mut fm, s) = server_waiting();
    let (mut general, mut gm, _) = server_waiting();
    let (client, server) = (ep(&fast, s[0]), ep(&fast, s[1]));
    for round in 0..5u64 {
        for (m, word) in [(&mut fm, round), (&mut gm, round)] {
            m.put(s[0], 1, word);
        }
        assert_eq!(fast.fast_sendrec(&mut fm, s[0], server, BUF).map(|w| w.to), Ok(s[1]));
        assert_eq!(general.sendrec(&mut gm, s[0], server, BUF), Outcome::Blocked);
        for m in [&mut fm, &mut gm] {
            m.put(s[1], 2, !round);
        }
        assert_eq!(fast.fast_reply_receive(&mut fm, s[1], client, BUF, Endpoint::ANY).map(|w| w.to), Ok(s[0]));
        assert_eq!(general.reply_receive(&mut gm, s[1], client, BUF, Endpoint::ANY), (0, Outcome::Blocked));
        assert_eq!(snapshot(&fast, &fm), snapshot(&general, &gm), "round {round}");
    }
    // Each round opened one cause and left two records carrying it.
    assert_eq!(fast.trace.last_cause, 5);
    assert_eq!(fm.events.len(), 10);
    assert!(fm.events.chunks(2).enumerate().all(|(i, e)| e[0].cause == i as u32 + 1 && e[1].cause == e[0].cause));
}

/// Runs `fast` on a copy of the state, expects `why`, and checks that
/// nothing changed.
pub(super) fn falls_back<F>(k: &mut Kernel, m: &mut FakeMemory, why: Fallback, fast: F)
where
    F: FnOnce(&mut Kernel, &mut FakeMemory) -> Result<Switch, Fallback>,
{
    let before = snapshot(k, m);
    let pages = m.pages.clone();
    assert_eq!(fast(k, m), Err(why));
    assert_eq!(snapshot(k, m), before, "the fast path changed something before falling back ({why:?})");
    assert!(m.pages == pages, "the fast path wrote memory before falling back ({why:?})");
}

fn sendrec_falls_back(k: &mut Kernel, m: &mut FakeMemory, s: &[usize], why: Fallback) {
    let dst = ep(k, s[1]);
    falls_back(k, m, why, |k, m| k.fast_sendrec(m, s[0], dst, BUF));
}

fn reply_falls_back(k: &mut Kernel, m: &mut FakeMemory, s: &[usize], from: Endpoint, why: Fallback) {
    let client = ep(k, s[0]);
    falls_back(k, m, why, |k, m| k.fast_reply_receive(m, s[1], client, BUF, from));
}

#[test]
fn sendrec_falls_back_without_the_trap_or_a_reachable_live_peer() {
    let (mut k, mut m, s) = server_waiting();
    let mut no_sendrec = Privileges::all();
    no_sendrec.traps &= !Privileges::trap_bit(Trap::SendRec);
    k.set_privileges(s[0], no_sendrec);
    sendrec_falls_back(&mut k, &mut m, &s, Fallback::TrapDenied);

    let (mut k, mut m, s) = server_waiting();
    let mut no_send = Privileges::all();
    no_send.send_to = 0;
    k.set_privileges(s[0], no_send);
    sendrec_falls_back(&mut k, &mut m, &s, Fallback::Peer);

    let (mut k, mut m, s) = server_waiting();
    let me = ep(&k, s[0]);
    // The caller itself: running, it waits for no message.
    falls_back(&mut k, &mut m, Fallback::NotWaiting, |k, m| k.fast_sendrec(m, s[0], me, BUF));
    let stale = me.next_generation();
    falls_back(&mut k, &mut m, Fallback::Peer, |k, m| k.fast_sendrec(m, s[0], stale, BUF));
    falls_back(&mut k, &mut m, Fallback::Peer, |k, m| k.fast_sendrec(m, s[0], Endpoint::SYSTEM, BUF));
}

#[test]
fn sendrec_falls_back_when_the_server_does_not_wait_for_the_caller() {
    // Not receiving at all: the general path queues the caller.
    let (mut k, mut m, s) = system(3);
    sendrec_falls_back(&mut k, &mut m, &s, Fallback::NotWaiting);
    // Receiving from someone else.
    let (mut k, mut m, s) = system(3);
    assert_eq!(k.receive(&mut m, s[1], ep(&k, s[2]), BUF), Outcome::Blocked);
    sendrec_falls_back(&mut k, &mut m, &s, Fallback::NotWaiting);
    // Still in the send half of its own SENDREC to a third process.
    let (mut k, mut m, s) = system(3);
    assert_eq!(k.sendrec(&mut m, s[1], ep(&k, s[2]), BUF), Outcome::Blocked);
    sendrec_falls_back(&mut k, &mut m, &s, Fallback::NotWaiting);
}

#[test]
fn sendrec_falls_back_when_a_fault_rule_may_match_and_not_when_the_prefilter_turns_it_away() {
    let (mut k, mut m, s) = server_waiting();
    install(&mut k, 1, &[Rule::new(Action::Drop)]);
    sendrec_falls_back(&mut k, &mut m, &s, Fallback::FaultRule);
    // A rule for another source: the pre-filter turns the send away.
    let (mut k, mut m, s) = server_waiting();
    let other = k.procs[s[2]].privilege_id;
    install(&mut k, 1, &[Rule { source: other, ..Rule::new(Action::Drop) }]);
    assert_eq!(k.fast_sendrec(&mut m, s[0], ep(&k, s[1]), BUF).map(|w| w.to), Ok(s[1]));
}

#[test]
fn sendrec_falls_back_when_a_buffer_is_not_a_writable_page_or_the_type_is_refused() {
    // A request in read-only memory: the general path refuses it, since
    // the reply could not be written.
    let (mut k, mut m, s) = server_waiting();
    let read_only = READ_ONLY + 0x100;
    falls_back(&mut k, &mut m, Fallback::Buffer, |k, m| k.fast_sendrec(m, s[0], ep(k, s[1]), read_only));
    assert_eq!(k.sendrec(&mut m, s[0], ep(&k, s[1]), read_only), err(Error::Fault));
    // A request straddling a page boundary.
    let (mut k, mut m, s) = server_waiting();
    let straddling = 2 * 4096 - 8;
    falls_back(&mut k, &mut m, Fallback::Buffer, |k, m| k.fast_sendrec(m, s[0], ep(k, s[1]), straddling));
    // A forged notification: the general path refuses it.
    let (mut k, mut m, s) = server_waiting();
    m.put(s[0], NOTIFY_MTYPE, 0);
    sendrec_falls_back(&mut k, &mut m, &s, Fallback::Buffer);
    assert_eq!(k.sendrec(&mut m, s[0], ep(&k, s[1]), BUF), err(Error::Invalid));
}

#[test]
fn reply_receive_falls_back_without_a_reply_the_traps_or_a_live_waiting_client() {
    // No reply: NONE names no process (a free slot has it as its
    // endpoint, and waits for nothing).
    let (mut k, mut m, s) = client_waiting();
    falls_back(&mut k, &mut m, Fallback::NotWaiting, |k, m| {
        k.fast_reply_receive(m, s[1], Endpoint::NONE, BUF, Endpoint::ANY)
    });
    for trap in [Trap::SendNb, Trap::Receive] {
        let (mut k, mut m, s) = client_waiting();
        let mut p = Privileges::all();
        p.traps &= !Privileges::trap_bit(trap);
        k.set_privileges(s[1], p);
        reply_falls_back(&mut k, &mut m, &s, Endpoint::ANY, Fallback::TrapDenied);
    }
    // The client is gone (its endpoint is stale), or a zombie (which keeps
    // its endpoint but waits for nothing).
    let (mut k, mut m, s) = client_waiting();
    let stale = ep(&k, s[0]);
    k.exit(&mut m, s[0]);
    falls_back(&mut k, &mut m, Fallback::Peer, |k, m| k.fast_reply_receive(m, s[1], stale, BUF, Endpoint::ANY));
    let (mut k, mut m, s) = client_waiting();
    let zombie = ep(&k, s[0]);
    k.set_reaper(s[0], s[2]);
    k.exit(&mut m, s[0]);
    assert_eq!((k.procs[s[0]].state, k.procs[s[0]].endpoint), (ProcState::Zombie, zombie));
    falls_back(&mut k, &mut m, Fallback::NotWaiting, |k, m| k.fast_reply_receive(m, s[1], zombie, BUF, Endpoint::ANY));
    assert_eq!(k.reply_receive(&mut m, s[1], zombie, BUF, Endpoint::ANY).0, Error::DeadSrcDst.to_return());
    // The client sent with SEND: it waits for no reply (NotReady).
    let (mut k, mut m, s) = server_waiting();
    assert_eq!(k.send(&mut m, s[0], ep(&k, s[1]), BUF, SendMode::Blocking), Outcome::Done(0));
    reply_falls_back(&mut k, &mut m, &s, Endpoint::ANY, Fallback::NotWaiting);
}

#[test]
fn reply_receive_falls_back_when_a_rule_may_match_or_a_buffer_is_not_a_writable_page() {
    let (mut k, mut m, s) = client_waiting();
    install(&mut k, 1, &[Rule { primitives: 1 << Trap::SendNb as u8, ..Rule::new(Action::Drop) }]);
    reply_falls_back(&mut k, &mut m, &s, Endpoint::ANY, Fallback::FaultRule);
    // A reply in read-only memory: the general path delivers it and then
    // refuses the receive, whose buffer it is.
    let (mut k, mut m, s) = client_waiting();
    let (client, read_only) = (ep(&k, s[0]), READ_ONLY + 0x100);
    falls_back(&mut k, &mut m, Fallback::Buffer, |k, m| {
        k.fast_reply_receive(m, s[1], client, read_only, Endpoint::ANY)
    });
    assert_eq!(k.reply_receive(&mut m, s[1], client, read_only, Endpoint::ANY), (0, err(Error::Fault)));
    let (mut k, mut m, s) = client_waiting();
    m.put(s[1], NOTIFY_MTYPE, 0);
    reply_falls_back(&mut k, &mut m, &s, Endpoint::ANY, Fallback::Buffer);
}

#[test]
fn reply_receive_falls_back_when_the_receive_would_not_just_block() {
    // A named source.
    let (mut k, mut m, s) = client_waiting();
    let named = ep(&k, s[2]);
    reply_falls_back(&mut k, &mut m, &s, named, Fallback::ReceiveReady);
    // A notification from s[2] pending.
    let (mut k, mut m, s) = client_waiting();
    assert_eq!(k.notify(&mut m, s[2], ep(&k, s[1])), Outcome::Done(0));
    reply_falls_back(&mut k, &mut m, &s, Endpoint::ANY, Fallback::ReceiveReady);
    // A SYSTEM notification pending.
    let (mut k, mut m, s) = client_waiting();
    assert_eq!(k.notify_from_system(&mut m, s[1], &[1]), Ok(()));
    reply_falls_back(&mut k, &mut m, &s, Endpoint::ANY, Fallback::ReceiveReady);
    // A sender queued.
    let (mut k, mut m, s) = client_waiting();
    m.put(s[2], 1, 30);
    assert_eq!(k.sendrec(&mut m, s[2], ep(&k, s[1]), BUF), Outcome::Blocked);
    reply_falls_back(&mut k, &mut m, &s, Endpoint::ANY, Fallback::ReceiveReady);
    // A SENDA message may be pending.
    let (mut k, mut m, s) = client_waiting();
    k.procs[s[1]].async_from = crate::ipc::bit(s[2]);
    reply_falls_back(&mut k, &mut m, &s, Endpoint::ANY, Fallback::ReceiveReady);
    // An injected duplicate waits (there is a fault plan: only a plan
    // injects them).
    let (mut k, mut m, s) = client_waiting();
    install(&mut k, 1, &[]);
    k.faults.dup_pending = crate::ipc::bit(s[1]);
    reply_falls_back(&mut k, &mut m, &s, Endpoint::ANY, Fallback::ReceiveReady);
}

#[test]
fn with_a_defense_switched_off_both_paths_still_agree() {
    type Weaken = fn(&mut Kernel);
    let weakenings: [Weaken; 2] = [|k| k.weak.send_mask = true, |k| k.weak.endpoint_generation = true];
    for weaken in weakenings {
        let (mut fast, mut fm, s) = server_waiting();
        let (mut general, mut gm, _) = server_waiting();
        weaken(&mut fast);
        weaken(&mut general);
        let server = ep(&fast, s[1]);
        assert_eq!(fast.fast_sendrec(&mut fm, s[0], server, BUF).map(|w| w.to), Ok(s[1]));
        assert_eq!(general.sendrec(&mut gm, s[0], server, BUF), Outcome::Blocked);
        assert_eq!(snapshot(&fast, &fm), snapshot(&general, &gm));
        let client = ep(&fast, s[0]);
        for m in [&mut fm, &mut gm] {
            m.put(s[1], 2, 20);
        }
        assert_eq!(fast.fast_reply_receive(&mut fm, s[1], client, BUF, Endpoint::ANY).map(|w| w.to), Ok(s[0]));
        assert_eq!(general.reply_receive(&mut gm, s[1], client, BUF, Endpoint::ANY), (0, Outcome::Blocked));
        assert_eq!(snapshot(&fast, &fm), snapshot(&general, &gm));
    }
}

#[test]
fn a_defense_that_changes_the_delivered_message_switched_off_sends_both_calls_to_the_general_path() {
    type Weaken = fn(&mut Kernel);
    let weakenings: [Weaken; 2] = [|k| k.weak.source_stamp = true, |k| k.weak.notify_type = true];
    for weaken in weakenings {
        let (mut k, mut m, s) = server_waiting();
        weaken(&mut k);
        sendrec_falls_back(&mut k, &mut m, &s, Fallback::Weakened);
        let (mut k, mut m, s) = client_waiting();
        weaken(&mut k);
        reply_falls_back(&mut k, &mut m, &s, Endpoint::ANY, Fallback::Weakened);
    }
    // There, without the stamp, the server sees whatever source the
    // client wrote.
    let (mut k, mut m, s) = server_waiting();
    k.weak.source_stamp = true;
    let mut forged = Message::with_words(1, &[10]);
    forged.source = Endpoint(12345);
    m.put_message(s[0], BUF, &forged);
    assert_eq!(k.sendrec(&mut m, s[0], ep(&k, s[1]), BUF), Outcome::Blocked);
    assert_eq!(m.get(s[1]).source, Endpoint(12345));
}

#[test]
fn pass_running_is_dequeue_then_enqueue_when_the_partner_would_run_next() {
    // Every mix of priorities and of a third process ready or not: where
    // pass_running applies, the queues are those dequeue + enqueue leave
    // and the partner is the scheduler's choice; where it does not, it
    // changes nothing.
    for (pf, pt, third) in
        [(4, 3, None), (3, 4, None), (4, 4, None), (3, 4, Some(4)), (4, 3, Some(4)), (3, 3, Some(3)), (3, 3, Some(5))]
    {
        let mut k = Kernel::new();
        let from = k.spawn("from", pf, Privileges::all()).unwrap();
        let to = k.spawn("to", pt, Privileges::all()).unwrap();
        let other = k.spawn("third", third.unwrap_or(2), Privileges::all()).unwrap();
        k.block(to);
        if third.is_none() {
            k.block(other);
        }
        // The caller runs: the scheduler chose it.
        assert_eq!(k.run_next(), Some(from));
        let (mut procs, mut queues) = (k.procs, k.run_queues);
        let passed = k.run_queues.pass_running(&k.procs, from, to);
        // The partner runs next when no queue of its priority or higher
        // holds anyone (a third process of its priority was there first).
        assert_eq!(passed, third.is_none_or(|p| p > pt), "({pf}, {pt}, {third:?})");
        if passed {
            queues.dequeue(&mut procs, from);
            queues.enqueue(&mut procs, to);
            assert_eq!(k.run_queues.running(), Some(to));
            assert_eq!(k.pick_next(), Some(to));
        }
        assert_eq!(k.run_queues.order(&k.procs), queues.order(&procs));
        assert!(!k.procs[to].queued && !k.procs[from].queued, "the running process is in no queue");
    }
    // The caller is not the running process: nothing is passed.
    let mut k = Kernel::new();
    let from = k.spawn("from", 4, Privileges::all()).unwrap();
    let to = k.spawn("to", 3, Privileges::all()).unwrap();
    k.block(to);
    assert!(!k.run_queues.pass_running(&k.procs, from, to));
    assert_eq!(k.run_queues.running(), None);
}

#[test]
fn a_conversation_alone_hands_the_cpu_over_and_matches_the_general_path() {
    let alone = || {
        let (mut k, mut m, s) = server_waiting();
        // The third process waits too: client and server are alone.
        assert_eq!(k.receive(&mut m, s[2], Endpoint::ANY, BUF + 64), Outcome::Blocked);
        (k, m, s)
    };
    let (mut fast, mut fm, s) = alone();
    let (mut general, mut gm, _) = alone();
    let (client, server) = (ep(&fast, s[0]), ep(&fast, s[1]));
    // Each side runs what its scheduler chooses, as the kernel does
    // before every return to user mode; the fast path has already made
    // the partner the running process.
    assert_eq!((fast.run_next(), general.run_next()), (Some(s[0]), Some(s[0])));
    for _ in 0..3 {
        assert_eq!(fast.fast_sendrec(&mut fm, s[0], server, BUF), Ok(Switch { to: s[1], direct: true }));
        assert_eq!(general.sendrec(&mut gm, s[0], server, BUF), Outcome::Blocked);
        assert_eq!(snapshot(&fast, &fm), snapshot(&general, &gm));
        assert_eq!(fast.run_queues.running(), Some(s[1]));
        assert_eq!((fast.run_next(), general.run_next()), (Some(s[1]), Some(s[1])));
        assert_eq!(
            fast.fast_reply_receive(&mut fm, s[1], client, BUF, Endpoint::ANY),
            Ok(Switch { to: s[0], direct: true })
        );
        assert_eq!(general.reply_receive(&mut gm, s[1], client, BUF, Endpoint::ANY), (0, Outcome::Blocked));
        assert_eq!(snapshot(&fast, &fm), snapshot(&general, &gm));
        assert_eq!((fast.run_next(), general.run_next()), (Some(s[0]), Some(s[0])));
    }
    // Neither side ever had the running process in a queue.
    assert!(fast.procs.iter().chain(general.procs.iter()).all(|p| !p.queued));
}

#[test]
fn a_hung_partner_gets_its_message_but_never_the_cpu() {
    // Only the dead-peer control and the fault plan hang processes; the
    // server, hung while it waits, gets the request as the general path
    // gives it, and neither path lets it run.
    let hung = || {
        let (mut k, m, s) = server_waiting();
        k.weak.dead_peer = true;
        assert_eq!(k.receive(&mut FakeMemory::default(), s[2], Endpoint::ANY, BUF + 64), Outcome::Blocked);
        k.hang(s[1]);
        (k, m, s)
    };
    let (mut fast, mut fm, s) = hung();
    let (mut general, mut gm, _) = hung();
    assert_eq!((fast.run_next(), general.run_next()), (Some(s[0]), Some(s[0])));
    let server = ep(&fast, s[1]);
    assert_eq!(fast.fast_sendrec(&mut fm, s[0], server, BUF), Ok(Switch { to: s[1], direct: false }));
    assert_eq!(general.sendrec(&mut gm, s[0], server, BUF), Outcome::Blocked);
    assert_eq!(snapshot(&fast, &fm), snapshot(&general, &gm));
    assert_eq!(fm.get(s[1]).payload[0], 10);
    assert_eq!((fast.run_next(), general.run_next()), (None, None));
}
