//! Fault plans: every trigger field and every action, against the fake
//! user memory of `crate::tests`.

use crate::tests::{ep, system, FakeMemory, BUF};
use crate::{Kernel, Outcome, SendMode};
use abi::fault::{header, Action, Rule, FULL_REGION_SIZE, HEADER_SIZE, RULE_SIZE, SYSTEM_PROGRAM};
use abi::syscall::Trap;
use abi::Endpoint;
use std::vec;
use std::vec::Vec;

/// Installs `rules` (seed `seed`) and returns a raw pointer-free handle:
/// the counters are read back through `counters`.
pub(crate) fn install(k: &mut Kernel, seed: u64, rules: &[Rule]) {
    let mut region = vec![0u8; FULL_REGION_SIZE];
    region[..HEADER_SIZE].copy_from_slice(&header(rules.len(), seed));
    for (i, r) in rules.iter().enumerate() {
        region[HEADER_SIZE + i * RULE_SIZE..][..RULE_SIZE].copy_from_slice(&r.to_bytes());
    }
    assert!(k.set_fault_plan(Vec::leak(region)));
}

fn counters(k: &Kernel, i: usize) -> (u32, u32) {
    let plan = k.faults_region().unwrap();
    let mut b = [0u8; RULE_SIZE];
    b.copy_from_slice(&plan[HEADER_SIZE + i * RULE_SIZE..][..RULE_SIZE]);
    Rule::counters(&b)
}

fn total(k: &Kernel) -> u64 {
    u64::from_le_bytes(k.faults_region().unwrap()[24..32].try_into().unwrap())
}

/// s[0] sends (mtype, word) to s[1], which is waiting: the outcome and
/// whether s[1] got it.
fn send_to_waiting(k: &mut Kernel, m: &mut FakeMemory, s: &[usize], mtype: u32, word: u64) -> (Outcome, bool) {
    let before = m.deliveries.len();
    if k.procs[s[1]].receiving.is_none() {
        assert_eq!(k.receive(m, s[1], Endpoint::ANY, BUF), Outcome::Blocked);
    }
    m.put(s[0], mtype, word);
    let o = k.send(m, s[0], ep(k, s[1]), BUF, SendMode::Blocking);
    (o, m.deliveries.len() > before)
}

/// A SENDA entry to `dst` of type 3 carrying `word`.
fn senda_entry(k: &Kernel, dst: usize, word: u64) -> abi::senda::SendaEntry {
    abi::senda::SendaEntry::new(ep(k, dst), abi::Message::with_words(3, &[word]))
}

#[test]
fn without_a_plan_nothing_changes_and_bad_headers_are_refused() {
    let (mut k, mut m, s) = system(2);
    assert!(!k.faults.enabled);
    assert_eq!(send_to_waiting(&mut k, &mut m, &s, 1, 2), (Outcome::Done(0), true));
    assert!(!k.set_fault_plan(Vec::leak(vec![0u8; 64])));
    assert!(!k.faults.enabled);
}

#[test]
fn drop_on_every_match_counts_and_the_sender_sees_success() {
    let (mut k, mut m, s) = system(2);
    install(&mut k, 1, &[Rule::new(Action::Drop)]);
    assert_eq!(send_to_waiting(&mut k, &mut m, &s, 1, 2), (Outcome::Done(0), false));
    assert_eq!(send_to_waiting(&mut k, &mut m, &s, 1, 2), (Outcome::Done(0), false));
    assert_eq!(counters(&k, 0), (2, 2));
    assert_eq!(total(&k), 2);
}

#[test]
fn source_destination_primitive_and_type_must_match() {
    let (mut k, mut m, s) = system(3);
    let mut by_src = Rule::new(Action::Drop);
    by_src.source = k.procs[s[2]].privilege_id;
    let mut by_dst = Rule::new(Action::Drop);
    by_dst.destination = k.procs[s[0]].privilege_id;
    let mut by_prim = Rule::new(Action::Drop);
    by_prim.primitives = 1 << Trap::SendNb as u8;
    let mut by_type = Rule::new(Action::Drop);
    by_type.mtype = 77;
    install(&mut k, 1, &[by_src, by_dst, by_prim, by_type]);
    assert_eq!(send_to_waiting(&mut k, &mut m, &s, 1, 2), (Outcome::Done(0), true));
    assert_eq!((0..4).map(|i| counters(&k, i)).collect::<Vec<_>>(), vec![(0, 0); 4]);
    assert_eq!(send_to_waiting(&mut k, &mut m, &s, 77, 2), (Outcome::Done(0), false));
    assert_eq!(counters(&k, 3), (1, 1));
    // SENDNB to a waiting receiver matches the primitive rule.
    assert_eq!(k.receive(&mut m, s[1], Endpoint::ANY, BUF), Outcome::Blocked);
    m.put(s[0], 1, 1);
    assert_eq!(k.send(&mut m, s[0], ep(&k, s[1]), BUF, SendMode::NonBlocking), Outcome::Done(0));
    assert_eq!(counters(&k, 2), (1, 1));
}

#[test]
fn nth_limit_and_time_window() {
    let (mut k, mut m, s) = system(2);
    let mut nth = Rule::new(Action::Drop);
    nth.nth = 3;
    install(&mut k, 1, &[nth]);
    let got: Vec<bool> = (0..5).map(|_| send_to_waiting(&mut k, &mut m, &s, 1, 0).1).collect();
    assert_eq!(got, vec![true, true, false, true, true]);
    assert_eq!(counters(&k, 0), (5, 1));

    let (mut k, mut m, s) = system(2);
    let mut limit = Rule::new(Action::Drop);
    limit.limit = 2;
    install(&mut k, 1, &[limit]);
    let got: Vec<bool> = (0..4).map(|_| send_to_waiting(&mut k, &mut m, &s, 1, 0).1).collect();
    assert_eq!(got, vec![false, false, true, true]);
    assert_eq!(counters(&k, 0), (4, 2));

    let (mut k, mut m, s) = system(2);
    let mut window = Rule::new(Action::Drop);
    window.not_before = 10;
    window.not_after = 20;
    install(&mut k, 1, &[window]);
    k.fault_clock(&mut m, 9);
    assert!(send_to_waiting(&mut k, &mut m, &s, 1, 0).1);
    k.fault_clock(&mut m, 10);
    assert!(!send_to_waiting(&mut k, &mut m, &s, 1, 0).1);
    k.fault_clock(&mut m, 20);
    assert!(!send_to_waiting(&mut k, &mut m, &s, 1, 0).1);
    k.fault_clock(&mut m, 21);
    assert!(send_to_waiting(&mut k, &mut m, &s, 1, 0).1);
}

#[test]
fn probability_follows_the_seeded_prng() {
    let run = |seed: u64| {
        let (mut k, mut m, s) = system(2);
        let mut r = Rule::new(Action::Drop);
        r.probability = u32::MAX / 2;
        install(&mut k, seed, &[r]);
        (0..64).map(|_| send_to_waiting(&mut k, &mut m, &s, 1, 0).1).collect::<Vec<bool>>()
    };
    let a = run(5);
    assert_eq!(a, run(5));
    assert_ne!(a, run(6));
    // The kernel's draws are the host's: predict them.
    let mut state = 5u64;
    let want: Vec<bool> = (0..64)
        .map(|_| {
            let (s, d) = abi::fault::next_random(state);
            state = s;
            d >= u32::MAX / 2
        })
        .collect();
    assert_eq!(a, want);
}

#[test]
fn flip_bits_and_overwrite_change_the_delivered_copy_only() {
    let (mut k, mut m, s) = system(2);
    let mut flip = Rule::new(Action::FlipBits);
    flip.mtype = 1;
    flip.arg_a = 0;
    flip.arg_b = 0xFF;
    let mut over = Rule::new(Action::Overwrite);
    over.mtype = 2;
    over.arg_a = 100; // clamped to 48: payload word 6
    over.arg_b = 0xABCD;
    install(&mut k, 1, &[flip, over]);
    send_to_waiting(&mut k, &mut m, &s, 1, 0x0F);
    assert_eq!(m.get(s[1]).payload[0], 0xF0);
    send_to_waiting(&mut k, &mut m, &s, 2, 0x0F);
    let got = m.get(s[1]);
    assert_eq!((got.payload[0], got.payload[6]), (0x0F, 0xABCD));
    // A queued send is corrupted when it is delivered.
    m.put(s[0], 1, 0x0F);
    assert_eq!(k.send(&mut m, s[0], ep(&k, s[1]), BUF, SendMode::Blocking), Outcome::Blocked);
    assert_eq!(k.receive(&mut m, s[1], Endpoint::ANY, BUF), Outcome::Done(0));
    assert_eq!(m.get(s[1]).payload[0], 0xF0);
}

#[test]
fn duplicate_delivers_the_copy_at_the_next_receive() {
    let (mut k, mut m, s) = system(2);
    let mut dup = Rule::new(Action::Duplicate);
    dup.limit = 1;
    install(&mut k, 1, &[dup]);
    assert_eq!(send_to_waiting(&mut k, &mut m, &s, 4, 9), (Outcome::Done(0), true));
    assert_eq!(k.receive(&mut m, s[1], Endpoint::ANY, BUF), Outcome::Done(0));
    let copy = m.get(s[1]);
    assert_eq!((copy.mtype, copy.payload[0], copy.source), (4, 9, ep(&k, s[0])));
    assert_eq!(k.receive(&mut m, s[1], Endpoint::ANY, BUF), Outcome::Blocked);
    assert_eq!(counters(&k, 0), (1, 1));
}

#[test]
fn delay_holds_the_sender_until_its_tick() {
    let (mut k, mut m, s) = system(2);
    let mut delay = Rule::new(Action::Delay);
    delay.arg_a = 5;
    install(&mut k, 1, &[delay]);
    k.fault_clock(&mut m, 100);
    assert_eq!(send_to_waiting(&mut k, &mut m, &s, 1, 3), (Outcome::Blocked, false));
    assert_eq!(k.faults.next_deadline(), Some(105));
    k.fault_clock(&mut m, 104);
    assert!(m.deliveries.is_empty());
    k.fault_clock(&mut m, 105);
    assert_eq!(m.get(s[1]).payload[0], 3);
    assert_eq!(m.take_result(s[0]), Some(0));
    assert!(k.procs[s[0]].is_ready() && k.procs[s[1]].is_ready());
}

#[test]
fn return_error_fails_the_primitive_without_delivery() {
    let (mut k, mut m, s) = system(2);
    let mut r = Rule::new(Action::ReturnError);
    r.arg_a = abi::Error::NoMemory as u32;
    install(&mut k, 1, &[r]);
    let (o, delivered) = send_to_waiting(&mut k, &mut m, &s, 1, 0);
    assert_eq!((o, delivered), (Outcome::Done(abi::Error::NoMemory.to_return()), false));
    m.put(s[0], 1, 0);
    assert_eq!(k.sendrec(&mut m, s[0], ep(&k, s[1]), BUF), Outcome::Done(abi::Error::NoMemory.to_return()));
    assert!(k.procs[s[0]].receiving.is_none());
}

#[test]
fn crash_hang_and_stop_leave_work_for_the_arch_layer() {
    let (mut k, mut m, s) = system(2);
    let mut crash = Rule::new(Action::Crash);
    crash.mtype = 1;
    let mut crash_src = Rule::new(Action::Crash);
    crash_src.mtype = 2;
    crash_src.arg_b = 1;
    let mut hang = Rule::new(Action::Hang);
    hang.mtype = 3;
    let mut stop = Rule::new(Action::Stop);
    stop.mtype = 4;
    install(&mut k, 1, &[crash, crash_src, hang, stop]);
    assert_eq!(send_to_waiting(&mut k, &mut m, &s, 1, 0), (Outcome::Done(0), false));
    assert_eq!(k.faults.crash.take(), Some((s[1], 0)));
    assert_eq!(send_to_waiting(&mut k, &mut m, &s, 2, 0), (Outcome::Done(0), false));
    assert_eq!(k.faults.crash.take(), Some((s[0], 1)));
    // Hang: delivered, but the receiver never runs again.
    assert_eq!(send_to_waiting(&mut k, &mut m, &s, 3, 0), (Outcome::Done(0), true));
    assert!(k.procs[s[1]].hung && !k.procs[s[1]].queued);
    assert_ne!(k.pick_next(), Some(s[1]));
    k.kill(&mut m, s[1]);
    assert!(!k.procs[s[1]].hung);
    let (mut k, mut m, s) = system(2);
    install(&mut k, 1, &[stop]);
    assert_eq!(send_to_waiting(&mut k, &mut m, &s, 4, 0), (Outcome::Done(0), true));
    assert_eq!(k.faults.stop.take(), Some(0));
    assert_eq!(u64::from_le_bytes(k.faults_region().unwrap()[32..40].try_into().unwrap()), 1);
}

#[test]
fn notify_and_kernel_calls_are_events_too() {
    let (mut k, mut m, s) = system(2);
    let mut n = Rule::new(Action::Drop);
    n.primitives = 1 << Trap::Notify as u8;
    let mut kc = Rule::new(Action::ReturnError);
    kc.destination = SYSTEM_PROGRAM;
    kc.arg_a = 7;
    install(&mut k, 1, &[n, kc]);
    assert_eq!(k.notify(&mut m, s[0], ep(&k, s[1])), Outcome::Done(0));
    assert_eq!(k.procs[s[1]].notify_pending, 0);
    m.put(s[0], 0x1234, 0);
    assert_eq!(k.fault_kernel_call(&mut m, s[0], BUF), Some(-7));
    assert_eq!(counters(&k, 1), (1, 1));
    // A flip of a kernel call's request is written into the caller's buffer.
    let (mut k, mut m, s) = system(1);
    let mut flip = Rule::new(Action::FlipBits);
    flip.destination = SYSTEM_PROGRAM;
    flip.arg_b = 1;
    install(&mut k, 1, &[flip]);
    m.put(s[0], 5, 2);
    assert_eq!(k.fault_kernel_call(&mut m, s[0], BUF), None);
    assert_eq!(m.get(s[0]).payload[0], 3);
}

#[test]
fn senda_entries_can_be_dropped_or_failed() {
    let (mut k, mut m, s) = system(2);
    let mut r = Rule::new(Action::ReturnError);
    r.primitives = 1 << Trap::SendA as u8;
    r.arg_a = abi::Error::NoMemory as u32;
    r.limit = 1;
    install(&mut k, 1, &[r]);
    let entries = [senda_entry(&k, s[1], 1), senda_entry(&k, s[1], 2)];
    m.put_table(s[0], crate::tests::TABLE, &entries);
    assert_eq!(k.senda(&mut m, s[0], crate::tests::TABLE, 2), Outcome::Done(0));
    // The first is failed, the second delivered at the receive.
    assert_eq!(k.receive(&mut m, s[1], Endpoint::ANY, BUF), Outcome::Done(0));
    assert_eq!(m.get(s[1]).payload[0], 2);
    let t = m.table(s[0], crate::tests::TABLE, 2);
    assert_eq!(t[0].result, abi::Error::NoMemory.to_return() as i32);
}

/// Duplicate on SENDA: the entry is delivered (during the call to a
/// waiting receiver, or later at a RECEIVE) and the same message comes once
/// more at the receiver's next RECEIVE; the sender's entry completes once.
#[test]
fn senda_entries_can_be_duplicated() {
    use abi::senda::{FLAG_DONE, FLAG_VALID};
    for receiver_waits in [true, false] {
        let (mut k, mut m, s) = system(2);
        let mut dup = Rule::new(Action::Duplicate);
        dup.primitives = 1 << Trap::SendA as u8;
        dup.limit = 1;
        install(&mut k, 1, &[dup]);
        m.put_table(s[0], crate::tests::TABLE, &[senda_entry(&k, s[1], 7), senda_entry(&k, s[1], 8)]);
        if receiver_waits {
            assert_eq!(k.receive(&mut m, s[1], Endpoint::ANY, BUF), Outcome::Blocked);
        }
        assert_eq!(k.senda(&mut m, s[0], crate::tests::TABLE, 2), Outcome::Done(0));
        if !receiver_waits {
            assert_eq!(k.receive(&mut m, s[1], Endpoint::ANY, BUF), Outcome::Done(0));
        }
        let first = m.get(s[1]);
        assert_eq!((first.mtype, first.payload[0], first.source), (3, 7, ep(&k, s[0])));
        // Completed by the delivery; a sentinel result shows that taking
        // the copy writes nothing back.
        let mut done = m.table(s[0], crate::tests::TABLE, 1)[0];
        assert_eq!((done.flags, done.result), (FLAG_VALID | FLAG_DONE, 0));
        done.result = 77;
        m.put_table(s[0], crate::tests::TABLE, &[done]);
        // The copy comes before the next entry, from the rule's slot.
        assert_eq!(k.receive(&mut m, s[1], Endpoint::ANY, BUF), Outcome::Done(0));
        let copy = m.get(s[1]);
        assert_eq!((copy.mtype, copy.payload[0], copy.source), (3, 7, ep(&k, s[0])));
        // The limit holds: the second entry once, then nothing.
        assert_eq!(k.receive(&mut m, s[1], Endpoint::ANY, BUF), Outcome::Done(0));
        assert_eq!(m.get(s[1]).payload[0], 8);
        assert_eq!(k.receive(&mut m, s[1], Endpoint::ANY, BUF), Outcome::Blocked);
        let t = m.table(s[0], crate::tests::TABLE, 2);
        assert_eq!(
            [(t[0].flags, t[0].result), (t[1].flags, t[1].result)],
            [(FLAG_VALID | FLAG_DONE, 77), (FLAG_VALID | FLAG_DONE, 0)]
        );
        assert_eq!(counters(&k, 0), (2, 1));
        assert_eq!(total(&k), 1);
    }
}

/// REPLYRECV: s[0] SENDRECs s[1], which took the request; a rule for
/// SENDNB matches the reply part only, and the receive part still runs.
#[test]
fn reply_receive_reply_part_is_matched_as_a_sendnb() {
    let (mut k, mut m, s) = system(3);
    let mut drop_replies = Rule::new(Action::Drop);
    drop_replies.primitives = 1 << Trap::SendNb as u8;
    let mut fail_receives = Rule::new(Action::Drop);
    fail_receives.primitives = 1 << Trap::Receive as u8;
    install(&mut k, 1, &[drop_replies, fail_receives]);
    m.put(s[0], 1, 1);
    assert_eq!(k.sendrec(&mut m, s[0], ep(&k, s[1]), BUF), Outcome::Blocked);
    assert_eq!(k.receive(&mut m, s[1], Endpoint::ANY, BUF), Outcome::Done(0));
    m.put(s[2], 3, 4);
    assert_eq!(k.sendrec(&mut m, s[2], ep(&k, s[1]), BUF), Outcome::Blocked);
    let client = ep(&k, s[0]);
    // Dropped: the server is told success, the client still waits, and
    // the queued request of s[2] is received.
    assert_eq!(k.reply_receive(&mut m, s[1], client, BUF, Endpoint::ANY), (0, Outcome::Done(0)));
    assert!(k.procs[s[0]].receiving.is_some());
    assert_eq!(m.get(s[1]).source, ep(&k, s[2]));
    assert_eq!(counters(&k, 0), (1, 1));
    assert_eq!(counters(&k, 1), (0, 0));
}

/// A fault decided at a client's send (Duplicate, FlipBits of a queued
/// send) takes effect in the receive part of REPLYRECV.
#[test]
fn reply_receive_receive_part_sees_duplicates_and_queued_corruption() {
    let (mut k, mut m, s) = system(3);
    let mut dup = Rule::new(Action::Duplicate);
    dup.source = k.procs[s[2]].privilege_id;
    dup.limit = 1;
    let mut flip = Rule::new(Action::FlipBits);
    flip.source = k.procs[s[0]].privilege_id;
    flip.primitives = 1 << Trap::SendRec as u8;
    flip.arg_b = 0xFF;
    install(&mut k, 1, &[dup, flip]);
    // s[2] sends to the waiting server: delivered, a duplicate kept.
    assert_eq!(k.receive(&mut m, s[1], Endpoint::ANY, BUF), Outcome::Blocked);
    m.put(s[2], 8, 9);
    assert_eq!(k.send(&mut m, s[2], ep(&k, s[1]), BUF, SendMode::NonBlocking), Outcome::Done(0));
    // s[0]'s SENDREC queues (the server is busy); its corruption waits.
    m.put(s[0], 1, 0);
    assert_eq!(k.sendrec(&mut m, s[0], ep(&k, s[1]), BUF), Outcome::Blocked);
    let none = Endpoint::NONE;
    assert_eq!(k.reply_receive(&mut m, s[1], none, BUF, Endpoint::ANY), (0, Outcome::Done(0)));
    let copy = m.get(s[1]);
    assert_eq!((copy.source, copy.mtype, copy.payload[0]), (ep(&k, s[2]), 8, 9));
    assert_eq!(k.reply_receive(&mut m, s[1], none, BUF, Endpoint::ANY), (0, Outcome::Done(0)));
    let flipped = m.get(s[1]);
    assert_eq!((flipped.source, flipped.payload[0]), (ep(&k, s[0]), 0xFF));
}

/// The trigger test of `Kernel::fault_evaluate` for source, destination
/// and primitive, written out plainly: the pre-filter must admit every
/// event for which this holds of some rule.
fn trigger_matches(r: &Rule, src_id: u8, dst_id: u8, primitive: Trap) -> bool {
    (r.source == abi::fault::ANY_PROGRAM || r.source == src_id)
        && (r.destination == abi::fault::ANY_PROGRAM || r.destination == dst_id)
        && (r.primitives == 0 || r.primitives & (1u8 << (primitive as u8)) != 0)
}

fn program_id() -> impl proptest::strategy::Strategy<Value = u8> {
    use proptest::prelude::*;
    prop_oneof![Just(abi::fault::ANY_PROGRAM), Just(SYSTEM_PROGRAM), 0u8..70, any::<u8>()]
}

proptest::proptest! {
    #[test]
    fn the_pre_filter_never_skips_a_rule_that_would_match(
        triggers in proptest::collection::vec((program_id(), program_id(), proptest::prelude::any::<u8>()), 0..6),
        src_id in program_id(),
        dst_id in program_id(),
        trap in 1u64..=7,
    ) {
        let primitive = Trap::from_number(trap).unwrap();
        let rules: Vec<Rule> = triggers
            .iter()
            .map(|&(source, destination, primitives)| {
                let mut r = Rule::new(Action::Drop);
                (r.source, r.destination, r.primitives) = (source, destination, primitives);
                r
            })
            .collect();
        let mut region = vec![0u8; HEADER_SIZE + rules.len() * RULE_SIZE];
        for (i, r) in rules.iter().enumerate() {
            region[HEADER_SIZE + i * RULE_SIZE..][..RULE_SIZE].copy_from_slice(&r.to_bytes());
        }
        let filter = super::PreFilter::of_rules(&region, rules.len());
        let dst = if dst_id == SYSTEM_PROGRAM { None } else { Some(dst_id) };
        // Processes have ids below 64 (`Kernel::spawn_with_id`); the
        // summary admits every event of an id past that, so the superset
        // holds for every id.
        let process_ids = src_id < 64 && (dst_id < 64 || dst_id == SYSTEM_PROGRAM);
        if rules.iter().any(|r| trigger_matches(r, src_id, dst_id, primitive)) {
            proptest::prop_assert!(filter.admits(src_id, dst, primitive));
        }
        // Between processes the summary keeps the rules' pairs apart: it
        // admits an event only when some rule names (or allows) its source
        // and destination together, and some rule from its source its
        // primitive.
        if process_ids {
            let pair = rules.iter().any(|r| {
                trigger_matches(&Rule { primitives: 0, ..*r }, src_id, dst_id, primitive)
            });
            let primitive_from_source = rules.iter().any(|r| {
                (r.source == abi::fault::ANY_PROGRAM || r.source == src_id)
                    && (r.primitives == 0 || r.primitives & (1u8 << (primitive as u8)) != 0)
            });
            proptest::prop_assert_eq!(filter.admits(src_id, dst, primitive), pair && primitive_from_source);
        }
    }
}

#[test]
fn the_pre_filter_turns_away_other_pairs_and_follows_a_new_plan() {
    let (mut k, mut m, s) = system(3);
    let mut only_2_to_1 = Rule::new(Action::Drop);
    only_2_to_1.source = k.procs[s[2]].privilege_id;
    install(&mut k, 1, &[only_2_to_1]);
    assert!(!k.fault_may_match(s[0], Some(s[1]), Trap::Send));
    assert!(k.fault_may_match(s[2], Some(s[1]), Trap::Send));
    assert_eq!(send_to_waiting(&mut k, &mut m, &s, 1, 2), (Outcome::Done(0), true));
    assert_eq!(counters(&k, 0), (0, 0));
    // The host writes a new plan (header and rules): the summary follows.
    install(&mut k, 1, &[Rule::new(Action::Drop)]);
    assert!(k.fault_may_match(s[0], Some(s[1]), Trap::Send));
    assert_eq!(send_to_waiting(&mut k, &mut m, &s, 1, 2), (Outcome::Done(0), false));
    assert_eq!(counters(&k, 0), (1, 1));
}

#[test]
fn the_pre_filter_keeps_the_pairs_the_rules_name_apart() {
    let (mut k, _, s) = system(4);
    let id = |k: &Kernel, i: usize| k.procs[s[i]].privilege_id;
    let mut zero_to_one = Rule::new(Action::Drop);
    (zero_to_one.source, zero_to_one.destination) = (id(&k, 0), id(&k, 1));
    let mut two_to_three = Rule::new(Action::Drop);
    (two_to_three.source, two_to_three.destination) = (id(&k, 2), id(&k, 3));
    let mut kernel_calls_of_two = Rule::new(Action::Drop);
    (kernel_calls_of_two.source, kernel_calls_of_two.destination) = (id(&k, 2), SYSTEM_PROGRAM);
    install(&mut k, 1, &[zero_to_one, two_to_three, kernel_calls_of_two]);
    assert!(k.fault_may_match(s[0], Some(s[1]), Trap::Send));
    assert!(k.fault_may_match(s[2], Some(s[3]), Trap::SendRec));
    assert!(k.fault_may_match(s[2], None, Trap::SendRec));
    // Both sources and both destinations are named, but not these pairs.
    assert!(!k.fault_may_match(s[0], Some(s[3]), Trap::Send));
    assert!(!k.fault_may_match(s[2], Some(s[1]), Trap::Send));
    assert!(!k.fault_may_match(s[0], None, Trap::SendRec));
}
