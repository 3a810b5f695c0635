//! Delay on SENDA entries: the held entry stays pending until its tick,
//! reaches its destination then (at once when it waits, else at its next
//! RECEIVE), is counted once, and its hold ends with the entry, its sender
//! or its destination. A property test drives random tables, receives and
//! clock steps against these rules.

use crate::fault::tests::install;
use crate::tests::{ep, system, FakeMemory, BUF, TABLE};
use crate::{Kernel, Outcome};
use abi::fault::{Action, Rule, HEADER_SIZE, RULE_SIZE};
use abi::senda::{SendaEntry, FLAG_DONE, FLAG_VALID, SENDA_ENTRY_SIZE};
use abi::syscall::Trap;
use abi::{Endpoint, Error, Message};
use std::collections::{BTreeMap, BTreeSet};
use std::vec::Vec;

fn delay_rule(ticks: u32) -> Rule {
    let mut r = Rule::new(Action::Delay);
    r.primitives = 1 << Trap::SendA as u8;
    r.arg_a = ticks;
    r
}

fn entry(k: &Kernel, dst: usize, word: u64) -> SendaEntry {
    SendaEntry::new(ep(k, dst), Message::with_words(3, &[word]))
}

fn counters(k: &Kernel) -> (u32, u32) {
    let mut b = [0u8; RULE_SIZE];
    b.copy_from_slice(&k.faults_region().unwrap()[HEADER_SIZE..][..RULE_SIZE]);
    Rule::counters(&b)
}

fn flags_and_result(m: &mut FakeMemory, slot: usize, count: usize) -> Vec<(u32, i32)> {
    m.table(slot, TABLE, count).iter().map(|e| (e.flags, e.result)).collect()
}

const PENDING: (u32, i32) = (FLAG_VALID, 0);
const DELIVERED: (u32, i32) = (FLAG_VALID | FLAG_DONE, 0);

#[test]
fn a_delayed_entry_waits_for_its_tick_then_reaches_its_waiting_receiver() {
    let (mut k, mut m, s) = system(2);
    install(&mut k, 1, &[delay_rule(5)]);
    k.fault_clock(&mut m, 100);
    assert_eq!(k.receive(&mut m, s[1], Endpoint::ANY, BUF), Outcome::Blocked);
    m.put_table(s[0], TABLE, &[entry(&k, s[1], 7)]);
    // The sender never blocks; the entry stays pending, the receiver waits.
    assert_eq!(k.senda(&mut m, s[0], TABLE, 1), Outcome::Done(0));
    assert_eq!(flags_and_result(&mut m, s[0], 1), [PENDING]);
    assert!(m.deliveries.is_empty() && k.procs[s[1]].receiving.is_some());
    assert!(k.faults.work_pending());
    assert_eq!(k.faults.next_deadline(), Some(105));
    // Handing the same table again (a driver queueing another reply) does
    // not deliver it early.
    assert_eq!(k.senda(&mut m, s[0], TABLE, 1), Outcome::Done(0));
    k.fault_clock(&mut m, 104);
    assert!(m.deliveries.is_empty());
    k.fault_clock(&mut m, 105);
    let got = m.get(s[1]);
    assert_eq!((got.payload[0], got.source), (7, ep(&k, s[0])));
    assert_eq!(m.take_result(s[1]), Some(0));
    assert!(k.procs[s[1]].is_ready());
    assert_eq!(flags_and_result(&mut m, s[0], 1), [DELIVERED]);
    assert_eq!(counters(&k), (1, 1));
    assert!(!k.faults.work_pending() && k.faults.next_deadline().is_none());
}

#[test]
fn a_delayed_entry_is_overtaken_and_comes_at_a_receive_after_its_tick() {
    let (mut k, mut m, s) = system(2);
    let mut rule = delay_rule(10);
    rule.nth = 0; // every match: only the hold itself keeps it from re-firing
    install(&mut k, 1, &[rule]);
    m.put_table(s[0], TABLE, &[entry(&k, s[1], 1), entry(&k, s[1], 2)]);
    assert_eq!(k.senda(&mut m, s[0], TABLE, 2), Outcome::Done(0));
    // The first is held at the receive; the second overtakes it (Delay
    // does not match a sender's other entries while one is held).
    assert_eq!(k.receive(&mut m, s[1], Endpoint::ANY, BUF), Outcome::Done(0));
    assert_eq!(m.get(s[1]).payload[0], 2);
    assert_eq!(k.receive(&mut m, s[1], Endpoint::ANY, BUF), Outcome::Blocked);
    assert_ne!(k.procs[s[1]].async_from, 0, "a held entry keeps the receiver's hint");
    assert_eq!(flags_and_result(&mut m, s[0], 2), [PENDING, DELIVERED]);
    // Its tick comes while the receiver waits: the clock delivers it.
    k.fault_clock(&mut m, 9);
    assert_eq!(m.deliveries.len(), 1);
    k.fault_clock(&mut m, 10);
    assert_eq!((m.get(s[1]).payload[0], m.take_result(s[1])), (1, Some(0)));
    assert_eq!(flags_and_result(&mut m, s[0], 2), [DELIVERED, DELIVERED]);
    // Matched once: not by the second entry while the first was held, nor
    // by the delivery that ended the hold.
    assert_eq!(counters(&k), (1, 1));

    // The same, with the receiver busy at the tick (a SEND from a third
    // process woke it): its next RECEIVE takes the entry.
    let (mut k, mut m, s) = system(3);
    install(&mut k, 1, &[delay_rule(10)]);
    m.put_table(s[0], TABLE, &[entry(&k, s[1], 1)]);
    assert_eq!(k.senda(&mut m, s[0], TABLE, 1), Outcome::Done(0));
    assert_eq!(k.receive(&mut m, s[1], Endpoint::ANY, BUF), Outcome::Blocked);
    m.put(s[2], 5, 9);
    assert_eq!(k.send(&mut m, s[2], ep(&k, s[1]), BUF, crate::SendMode::Blocking), Outcome::Done(0));
    assert_eq!(m.get(s[1]).payload[0], 9);
    k.fault_clock(&mut m, 10);
    assert_eq!(m.deliveries.len(), 1);
    assert_eq!(k.receive(&mut m, s[1], Endpoint::ANY, BUF), Outcome::Done(0));
    assert_eq!(m.get(s[1]).payload[0], 1);
    assert_eq!(flags_and_result(&mut m, s[0], 1), [DELIVERED]);
    assert_eq!(k.receive(&mut m, s[1], Endpoint::ANY, BUF), Outcome::Blocked);
    assert_eq!(counters(&k), (1, 1));
}

#[test]
fn a_hold_ends_with_its_destination_its_sender_or_its_table() {
    // The destination dies: the exit fails the entry, the hold ends.
    let (mut k, mut m, s) = system(2);
    install(&mut k, 1, &[delay_rule(50)]);
    m.put_table(s[0], TABLE, &[entry(&k, s[1], 1)]);
    assert_eq!(k.senda(&mut m, s[0], TABLE, 1), Outcome::Done(0));
    assert_eq!(k.receive(&mut m, s[1], Endpoint::ANY, BUF), Outcome::Blocked);
    assert!(k.faults.work_pending());
    k.kill(&mut m, s[1]);
    assert_eq!(flags_and_result(&mut m, s[0], 1), [(FLAG_VALID | FLAG_DONE, Error::DeadSrcDst.to_return() as i32)]);
    assert!(!k.faults.work_pending());

    // The sender dies.
    let (mut k, mut m, s) = system(2);
    install(&mut k, 1, &[delay_rule(50)]);
    m.put_table(s[0], TABLE, &[entry(&k, s[1], 1)]);
    assert_eq!(k.senda(&mut m, s[0], TABLE, 1), Outcome::Done(0));
    assert_eq!(k.receive(&mut m, s[1], Endpoint::ANY, BUF), Outcome::Blocked);
    k.kill(&mut m, s[0]);
    assert!(!k.faults.work_pending());
    k.fault_clock(&mut m, 60);
    assert!(m.deliveries.is_empty() && k.procs[s[1]].receiving.is_some());

    // The sender hands the kernel an empty table: the entry is given up.
    let (mut k, mut m, s) = system(2);
    install(&mut k, 1, &[delay_rule(50)]);
    m.put_table(s[0], TABLE, &[entry(&k, s[1], 1)]);
    assert_eq!(k.senda(&mut m, s[0], TABLE, 1), Outcome::Done(0));
    assert_eq!(k.receive(&mut m, s[1], Endpoint::ANY, BUF), Outcome::Blocked);
    assert_eq!(k.senda(&mut m, s[0], TABLE, 0), Outcome::Done(0));
    assert!(!k.faults.work_pending());

    // The sender's table is gone by the tick (an exec drops it): the hold
    // ends then, and a later entry of the sender may be held again.
    let (mut k, mut m, s) = system(2);
    install(&mut k, 1, &[delay_rule(5)]);
    m.put_table(s[0], TABLE, &[entry(&k, s[1], 1)]);
    assert_eq!(k.senda(&mut m, s[0], TABLE, 1), Outcome::Done(0));
    assert_eq!(k.receive(&mut m, s[1], Endpoint::ANY, BUF), Outcome::Blocked);
    k.procs[s[0]].senda_table = None;
    k.fault_clock(&mut m, 5);
    assert!(m.deliveries.is_empty() && !k.faults.work_pending());
    assert_eq!(k.faults.senda_holds.senders, 0);
    m.put_table(s[0], TABLE, &[entry(&k, s[1], 2)]);
    assert_eq!(k.senda(&mut m, s[0], TABLE, 1), Outcome::Done(0));
    assert_eq!(k.faults.next_deadline(), Some(10));
}

/// Table slots each sender uses in the property test.
const SLOTS: usize = 6;

#[derive(Clone, Debug)]
enum Op {
    /// Sender `sender` (0 or 1) queues `count` messages to receiver `to`
    /// (0 or 1) in free slots and hands the kernel its table.
    Queue { sender: usize, to: usize, count: usize },
    /// Receiver `receiver` RECEIVEs from ANY, unless it already waits.
    Receive { receiver: usize },
    /// Virtual time moves on.
    Tick { by: u64 },
}

fn op() -> impl proptest::strategy::Strategy<Value = Op> {
    use proptest::prelude::*;
    prop_oneof![
        3 => (0..2usize, 0..2usize, 1..4usize).prop_map(|(sender, to, count)| Op::Queue { sender, to, count }),
        4 => (0..2usize).prop_map(|receiver| Op::Receive { receiver }),
        2 => (1..8u64).prop_map(|by| Op::Tick { by }),
    ]
}

/// What the property test knows: every message by id.
#[derive(Default)]
struct Model {
    next_id: u64,
    /// Per (sender, table slot): the id of the message there while pending.
    in_slot: BTreeMap<(usize, usize), u64>,
    /// Id → its receiver's slot.
    receiver_of: BTreeMap<u64, usize>,
    /// Id → the tick it was delivered at.
    delivered_at: BTreeMap<u64, u64>,
    /// Id → the tick its hold lasted until.
    held_until: BTreeMap<u64, u64>,
}

/// Checks the kernel against the model after a step at tick `now`.
fn check(k: &Kernel, m: &mut FakeMemory, model: &mut Model, s: &[usize], seen: &mut usize, now: u64) {
    // New deliveries: each message once, to its receiver, never before
    // the tick its hold lasted until.
    for &(slot, _, msg) in &m.deliveries[*seen..] {
        let id = msg.payload[0];
        assert_eq!(model.receiver_of.get(&id), Some(&slot), "message {id} went to the wrong process");
        assert!(model.delivered_at.insert(id, now).is_none(), "message {id} delivered twice");
    }
    *seen = m.deliveries.len();
    // Holds: each message held at most once; the hold is on a pending entry.
    for (sender_index, &sender) in s[..2].iter().enumerate() {
        let holds = &k.faults.senda_holds;
        if holds.waiting & crate::ipc::bit(sender) == 0 {
            continue;
        }
        let slot = ((holds.addr[sender] - TABLE) as usize) / SENDA_ENTRY_SIZE;
        let id = model.in_slot[&(sender_index, slot)];
        let until = holds.until[sender];
        assert!(model.held_until.insert(id, until).is_none_or(|u| u == until), "message {id} held twice");
    }
    for (id, until) in &model.held_until {
        if let Some(at) = model.delivered_at.get(id) {
            assert!(at >= until, "message {id} held until {until} came at {at}");
        }
    }
    // Write-backs: an entry is DONE (result 0) exactly when its message
    // was delivered; DONE slots are free again.
    for (sender_index, &sender) in s[..2].iter().enumerate() {
        for (slot, e) in m.table(sender, TABLE, SLOTS).iter().enumerate() {
            let Some(&id) = model.in_slot.get(&(sender_index, slot)) else { continue };
            let delivered = model.delivered_at.contains_key(&id);
            assert_eq!(e.flags & FLAG_DONE != 0, delivered, "message {id}: DONE and delivery disagree");
            if delivered {
                assert_eq!(e.result, 0);
                model.in_slot.remove(&(sender_index, slot));
            }
        }
    }
    // Nobody waits while a message it could take is pending and not held.
    for &receiver in &s[2..4] {
        if k.procs[receiver].receiving.is_none() {
            continue;
        }
        for (&(sender_index, slot), id) in &model.in_slot {
            let addr = TABLE + (slot * SENDA_ENTRY_SIZE) as u64;
            let held = k.faults.senda_holds.is_waiting(s[sender_index], addr);
            assert!(model.receiver_of[id] != receiver || held, "receiver waits while message {id} is deliverable");
        }
    }
}

fn run_ops(ops: &[Op], nth: u32, limit: u32, ticks: u32) {
    let (mut k, mut m, s) = system(4);
    let mut rule = delay_rule(ticks);
    (rule.nth, rule.limit) = (nth, limit);
    install(&mut k, 1, &[rule]);
    let mut model = Model::default();
    let (mut seen, mut now) = (0, 0u64);
    let receive = |k: &mut Kernel, m: &mut FakeMemory, r: usize| {
        if k.procs[r].receiving.is_none() {
            let _ = k.receive(m, r, Endpoint::ANY, BUF);
        }
    };
    for op in ops {
        match *op {
            Op::Queue { sender, to, count } => {
                let free: Vec<usize> =
                    (0..SLOTS).filter(|slot| !model.in_slot.contains_key(&(sender, *slot))).take(count).collect();
                for slot in free {
                    model.next_id += 1;
                    let id = model.next_id;
                    let e = entry(&k, s[2 + to], id);
                    m.put_table(s[sender], TABLE + (slot * SENDA_ENTRY_SIZE) as u64, &[e]);
                    model.in_slot.insert((sender, slot), id);
                    model.receiver_of.insert(id, s[2 + to]);
                }
                let used = model.in_slot.keys().filter(|(x, _)| *x == sender).map(|(_, slot)| slot + 1).max();
                assert_eq!(k.senda(&mut m, s[sender], TABLE, used.unwrap_or(0)), Outcome::Done(0));
            }
            Op::Receive { receiver } => receive(&mut k, &mut m, s[2 + receiver]),
            Op::Tick { by } => {
                now += by;
                k.fault_clock(&mut m, now);
            }
        }
        check(&k, &mut m, &mut model, &s, &mut seen, now);
    }
    // In the end every message arrives, once, and no hold is left.
    for _ in 0..2 * SLOTS + 2 {
        now += u64::from(ticks) + 1;
        k.fault_clock(&mut m, now);
        check(&k, &mut m, &mut model, &s, &mut seen, now);
        for r in [s[2], s[3]] {
            receive(&mut k, &mut m, r);
            check(&k, &mut m, &mut model, &s, &mut seen, now);
        }
    }
    let sent: BTreeSet<u64> = model.receiver_of.keys().copied().collect();
    let delivered: BTreeSet<u64> = model.delivered_at.keys().copied().collect();
    assert_eq!(sent, delivered);
    assert!(!k.faults.work_pending());
    assert_eq!(u64::from(counters(&k).1), model.held_until.len() as u64, "one injection per held message");
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 128, ..Default::default() })]

    /// Random queues, receives and clock steps under a Delay rule for
    /// SENDA: no message is lost, duplicated, misdelivered or delivered
    /// before its hold's tick; a receiver never waits while a message it
    /// could take is deliverable; every hold is one injection.
    #[test]
    fn delayed_senda_entries_arrive_once_and_not_before_their_tick(
        ops in proptest::collection::vec(op(), 1..40),
        nth in 0..4u32,
        limit in 0..4u32,
        ticks in 0..12u32,
    ) {
        run_ops(&ops, nth, limit, ticks);
    }
}
