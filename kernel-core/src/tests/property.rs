//! Property test: random operation sequences among a handful of processes,
//! checked against a model that tracks every message by a unique id in
//! `payload[0]`.
//!
//! Checked after every step:
//! - every message is delivered at most once, to its destination, with the
//!   true source; a message whose sender got an error was not delivered;
//! - deliveries follow RECEIVE's order (notification, FIFO sender, SENDA);
//! - a receiver that could have been served did not block, and a sender to
//!   a waiting receiver did not block or get NotReady;
//! - every blocked process has a cause (queued at a live destination, or
//!   receiving from ANY, SYSTEM or a live process), and the kernel's ready
//!   state matches the model's;
//! - the model's blocked-on graph stays acyclic (no missed deadlock), and
//!   every `Locked` closes a cycle in it (no false deadlock);
//! - SENDA write-backs agree with the delivery log.
//!
//! At the end every message is delivered, failed, abandoned (its sender
//! died or replaced its SENDA table), or still pending with a live sender.

use super::*;
use abi::notify::NOTIFY_MTYPE;
use abi::senda::{FLAG_DONE, FLAG_NOTIFY, FLAG_VALID};
use proptest::prelude::*;
use std::collections::{BTreeSet, HashMap};
use std::vec::Vec;

const N: usize = 5;

#[derive(Clone, Debug)]
enum Op {
    Send { p: usize, dst: usize, nonblocking: bool },
    Receive { p: usize, from: Option<usize> },
    SendRec { p: usize, dst: usize },
    Notify { p: usize, dst: usize },
    SendA { p: usize, entries: Vec<(usize, bool)> },
    Exit { p: usize },
    Spawn,
    Schedule,
}

fn op() -> impl Strategy<Value = Op> {
    let slot = 0..N;
    prop_oneof![
        4 => (slot.clone(), slot.clone(), any::<bool>()).prop_map(|(p, dst, nonblocking)| Op::Send { p, dst, nonblocking }),
        5 => (slot.clone(), proptest::option::weighted(0.4, 0..N)).prop_map(|(p, from)| Op::Receive { p, from }),
        3 => (slot.clone(), slot.clone()).prop_map(|(p, dst)| Op::SendRec { p, dst }),
        2 => (slot.clone(), slot.clone()).prop_map(|(p, dst)| Op::Notify { p, dst }),
        2 => (slot.clone(), proptest::collection::vec((0..N, any::<bool>()), 0..4)).prop_map(|(p, entries)| Op::SendA { p, entries }),
        1 => slot.clone().prop_map(|p| Op::Exit { p }),
        1 => Just(Op::Spawn),
        3 => Just(Op::Schedule),
    ]
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Sync,
    SendRec,
    SendA { index: usize, table: u64 },
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum State {
    Pending,
    Delivered,
    Failed,
    Abandoned,
}

#[derive(Clone, Copy, Debug)]
struct Msg {
    sender: usize,
    sender_ep: Endpoint,
    dst: usize,
    kind: Kind,
    state: State,
    /// For SENDA entries: the error the call itself must write back.
    refused: Option<Error>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Wait {
    /// Blocked sending message `id` (SEND, or SENDREC when `reply`).
    Send {
        id: u64,
        reply: bool,
        seq: u64,
    },
    Receive,
}

#[derive(Clone, Copy, Debug)]
struct Edge {
    /// `None` = ANY.
    target: Option<usize>,
    wait: Wait,
}

struct Model {
    k: Kernel,
    m: FakeMemory,
    known: [Endpoint; N],
    forbidden: (usize, usize),
    msgs: HashMap<u64, Msg>,
    blocked: [Option<Edge>; N],
    notes: BTreeSet<(usize, usize)>,
    next_id: u64,
    seq: u64,
    /// Tables made so far, and the one each process has installed.
    tables: u64,
    current_table: [u64; N],
}

impl Model {
    fn new(forbidden: (usize, usize)) -> Model {
        let mut k = Kernel::new();
        let mut known = [Endpoint::NONE; N];
        for (i, ep) in known.iter_mut().enumerate() {
            assert_eq!(k.spawn("p", 4, Self::privileges(forbidden, i)).unwrap(), i);
            *ep = k.procs[i].endpoint;
        }
        Model {
            k,
            m: FakeMemory::default(),
            known,
            forbidden,
            msgs: HashMap::new(),
            blocked: [None; N],
            notes: BTreeSet::new(),
            next_id: 1,
            seq: 0,
            tables: 0,
            current_table: [u64::MAX; N],
        }
    }

    fn privileges(forbidden: (usize, usize), slot: usize) -> Privileges {
        let mut p = Privileges::all();
        if slot == forbidden.0 {
            p.send_to &= !(1 << forbidden.1);
        }
        p
    }

    fn alive(&self, s: usize) -> bool {
        self.k.procs[s].state == ProcState::Alive
    }

    /// The error the kernel must give for sending from `p` to `dst`.
    fn send_error(&self, p: usize, dst: usize) -> Option<Error> {
        if !self.alive(dst) || self.k.procs[dst].endpoint != self.known[dst] {
            Some(Error::DeadSrcDst)
        } else if dst == p {
            Some(Error::Invalid)
        } else if (p, dst) == self.forbidden {
            Some(Error::CallDenied)
        } else {
            None
        }
    }

    fn new_message(&mut self, p: usize, dst: usize, kind: Kind) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        let refused = self.send_error(p, dst);
        let msg = Msg { sender: p, sender_ep: self.k.procs[p].endpoint, dst, kind, state: State::Pending, refused };
        self.msgs.insert(id, msg);
        id
    }

    /// Whether `dst` is blocked so that a SEND from `p` reaches it.
    fn waits_for_send(&self, dst: usize, p: usize) -> bool {
        match self.blocked[dst] {
            Some(Edge { target, wait: Wait::Receive }) => target.is_none() || target == Some(p),
            Some(Edge { target, wait: Wait::Send { id, reply: true, .. } }) => {
                target == Some(p) && self.msgs[&id].state == State::Delivered
            }
            _ => false,
        }
    }

    /// Follows the model's blocked-on chain from `start`; true when it
    /// reaches `goal`.
    fn reaches(&self, start: usize, goal: usize) -> bool {
        let mut cur = start;
        for _ in 0..=N {
            if cur == goal {
                return true;
            }
            match self.blocked[cur].and_then(|e| e.target) {
                Some(next) => cur = next,
                None => return false,
            }
        }
        false
    }

    fn acyclic(&self) -> bool {
        (0..N).all(|s| self.blocked[s].and_then(|e| e.target).is_none_or(|t| !self.reaches(t, s)))
    }

    fn step(&mut self, op: &Op) {
        let log_start = self.m.deliveries.len();
        let caller = match *op {
            Op::Send { p, .. }
            | Op::Receive { p, .. }
            | Op::SendRec { p, .. }
            | Op::Notify { p, .. }
            | Op::SendA { p, .. } => {
                if !self.alive(p) || self.blocked[p].is_some() {
                    return;
                }
                Some(p)
            }
            _ => None,
        };
        // Expectations that need the state before the call.
        let had_system = caller.is_some_and(|p| self.k.procs[p].system_notify_pending.is_some());
        match op.clone() {
            Op::Send { p, dst, nonblocking } => {
                let id = self.new_message(p, dst, Kind::Sync);
                self.m.put(p, 1, id);
                let mode = if nonblocking { SendMode::NonBlocking } else { SendMode::Blocking };
                let would_deliver = self.send_error(p, dst).is_none() && self.waits_for_send(dst, p);
                let out = self.k.send(&mut self.m, p, self.known[dst], BUF, mode);
                self.absorb(log_start);
                self.check_send_outcome(p, dst, id, out, false, would_deliver);
            }
            Op::SendRec { p, dst } => {
                let id = self.new_message(p, dst, Kind::SendRec);
                self.m.put(p, 2, id);
                let would_deliver = self.send_error(p, dst).is_none() && self.waits_for_send(dst, p);
                let out = self.k.sendrec(&mut self.m, p, self.known[dst], BUF);
                self.absorb(log_start);
                self.check_send_outcome(p, dst, id, out, true, would_deliver);
            }
            Op::Notify { p, dst } => {
                let expected = self.send_error(p, dst);
                if expected.is_none() {
                    self.notes.insert((p, dst));
                }
                let out = self.k.notify(&mut self.m, p, self.known[dst]);
                self.absorb(log_start);
                assert_eq!(out, Outcome::Done(expected.map_or(0, |e| e.to_return())));
            }
            Op::Receive { p, from } => {
                let from_ep = from.map_or(Endpoint::ANY, |f| self.known[f]);
                let expected_err = match from {
                    Some(f) if !self.alive(f) || self.k.procs[f].endpoint != self.known[f] => Some(Error::DeadSrcDst),
                    Some(f) if f == p => Some(Error::Invalid),
                    _ => None,
                };
                let accepts = |s: usize| from.is_none_or(|f| f == s);
                let note = self.notes.iter().find(|&&(s, d)| d == p && accepts(s)).map(|&(s, _)| s);
                let queued = (0..N)
                    .filter_map(|s| match self.blocked[s] {
                        Some(Edge { target: Some(t), wait: Wait::Send { id, seq, .. } })
                            if t == p && accepts(s) && self.msgs[&id].state == State::Pending =>
                        {
                            Some((seq, s))
                        }
                        _ => None,
                    })
                    .min()
                    .map(|(_, s)| s);
                let me = self.k.procs[p].endpoint;
                let async_pending = self.msgs.values().any(|m| {
                    matches!(m.kind, Kind::SendA { .. })
                        && m.state == State::Pending
                        && m.dst == p
                        && self.known[p] == me
                        && accepts(m.sender)
                });
                let expect_delivery_to_caller = if expected_err.is_some() {
                    None
                } else if had_system && from.is_none() {
                    Some((Endpoint::SYSTEM, true))
                } else if let Some(s) = note {
                    Some((self.k.procs[s].endpoint, true))
                } else if let Some(s) = queued {
                    Some((self.k.procs[s].endpoint, false))
                } else if async_pending {
                    Some((Endpoint::NONE, false))
                } else {
                    None
                };
                let out = self.k.receive(&mut self.m, p, from_ep, BUF);
                let mine: Vec<Message> =
                    self.m.deliveries[log_start..].iter().filter(|d| d.0 == p).map(|d| d.2).collect();
                self.absorb(log_start);
                match (out, expected_err, expect_delivery_to_caller) {
                    (Outcome::Done(v), Some(e), _) => assert_eq!(v, e.to_return()),
                    (Outcome::Done(0), None, Some((source, is_note))) => {
                        assert_eq!(mine.len(), 1);
                        assert_eq!(mine[0].mtype == NOTIFY_MTYPE, is_note, "RECEIVE order: {mine:?}");
                        if source != Endpoint::NONE {
                            assert_eq!(mine[0].source, source, "RECEIVE order");
                        } else {
                            assert_eq!(mine[0].mtype, 3, "a SENDA message");
                        }
                    }
                    (Outcome::Blocked, None, None) => {
                        assert!(mine.is_empty());
                        self.blocked[p] = Some(Edge { target: from, wait: Wait::Receive });
                    }
                    (Outcome::Done(v), None, None) if v == Error::Locked.to_return() => {
                        let f = from.expect("Locked only for a specific source");
                        assert!(self.reaches(f, p), "false Locked");
                    }
                    other => panic!("receive: unexpected {other:?}"),
                }
            }
            Op::SendA { p, entries } => {
                for m in self.msgs.values_mut() {
                    if m.sender == p && matches!(m.kind, Kind::SendA { .. }) && m.state == State::Pending {
                        m.state = State::Abandoned;
                    }
                }
                self.tables += 1;
                let mut table = Vec::new();
                let mut ids = Vec::new();
                for (index, &(dst, notify)) in entries.iter().enumerate() {
                    let id = self.new_message(p, dst, Kind::SendA { index, table: self.tables });
                    let mut e = SendaEntry::new(self.known[dst], Message::with_words(3, &[id]));
                    if notify {
                        e.flags |= FLAG_NOTIFY;
                    }
                    table.push(e);
                    ids.push((id, self.send_error(p, dst)));
                }
                self.current_table[p] = self.tables;
                self.m.put_table(p, TABLE, &table);
                let out = self.k.senda(&mut self.m, p, TABLE, table.len());
                assert_eq!(out, Outcome::Done(0));
                self.absorb(log_start);
                let written = self.m.table(p, TABLE, table.len());
                for (e, &(id, expected)) in written.iter().zip(&ids) {
                    if let Some(err) = expected {
                        assert_eq!((e.flags & FLAG_DONE, e.result), (FLAG_DONE, err.to_return() as i32));
                        assert_eq!(self.msgs[&id].state, State::Failed);
                    }
                }
            }
            Op::Exit { p } => {
                if !self.alive(p) {
                    return;
                }
                self.k.exit(&mut self.m, p);
                self.absorb(log_start);
                if let Some(Edge { wait: Wait::Send { id, .. }, .. }) = self.blocked[p].take() {
                    if self.msgs[&id].state == State::Pending {
                        self.msgs.get_mut(&id).unwrap().state = State::Abandoned;
                    }
                }
                self.blocked[p] = None;
                for m in self.msgs.values_mut() {
                    if m.sender == p && m.state == State::Pending {
                        m.state = State::Abandoned;
                    }
                }
                self.notes.retain(|&(s, d)| s != p && d != p);
            }
            Op::Spawn => {
                if let Some(s) = (0..N).find(|&s| !self.alive(s)) {
                    assert_eq!(self.k.spawn("p", 4, Self::privileges(self.forbidden, s)).unwrap(), s);
                    self.known[s] = self.k.procs[s].endpoint;
                }
            }
            Op::Schedule => {
                // The scheduler gives the CPU to its choice.
                let chosen = self.k.pick_next();
                assert_eq!(self.k.run_next(), chosen);
                assert_eq!(self.k.run_queues.running(), chosen);
                assert_eq!(chosen.is_some(), (0..N).any(|s| self.alive(s) && self.blocked[s].is_none()));
            }
        }
        self.check_invariants();
    }

    fn check_send_outcome(&mut self, p: usize, dst: usize, id: u64, out: Outcome, sendrec: bool, would_deliver: bool) {
        let expected = self.send_error(p, dst);
        let delivered = self.msgs[&id].state == State::Delivered;
        match out {
            Outcome::Done(v) if v < 0 => {
                assert!(!delivered, "a failed send was delivered");
                self.msgs.get_mut(&id).unwrap().state = State::Failed;
                match expected {
                    Some(e) => assert_eq!(v, e.to_return()),
                    None if v == Error::Locked.to_return() => assert!(self.reaches(dst, p), "false Locked"),
                    None if v == Error::NotReady.to_return() => {
                        assert!(!would_deliver, "NotReady to a waiting receiver")
                    }
                    None => panic!("unexpected error {v}"),
                }
            }
            Outcome::Done(_) => {
                assert!(!sendrec && delivered && expected.is_none());
            }
            Outcome::Blocked => {
                assert!(expected.is_none());
                assert!(!would_deliver || sendrec, "blocked although the receiver waited");
                assert_eq!(delivered, would_deliver);
                self.seq += 1;
                self.blocked[p] =
                    Some(Edge { target: Some(dst), wait: Wait::Send { id, reply: sendrec, seq: self.seq } });
            }
        }
    }

    /// Applies this step's deliveries and wake-ups to the model.
    fn absorb(&mut self, log_start: usize) {
        let deliveries: Vec<_> = self.m.deliveries[log_start..].to_vec();
        for (slot, _, msg) in deliveries {
            if msg.mtype == NOTIFY_MTYPE {
                if msg.source != Endpoint::SYSTEM {
                    let pair = (msg.source.slot(), slot);
                    assert!(self.notes.remove(&pair), "notification {pair:?} not pending");
                }
                continue;
            }
            let id = msg.payload[0];
            let rec = self.msgs.get_mut(&id).expect("unknown message");
            assert_eq!(rec.state, State::Pending, "message {id} delivered twice or after failing: {rec:?}");
            assert_eq!((slot, msg.source), (rec.dst, rec.sender_ep), "wrong receiver or source");
            rec.state = State::Delivered;
        }
        let mut results: Vec<(usize, i64)> = self.m.results.drain().collect();
        results.sort();
        for (slot, value) in results {
            let edge = self.blocked[slot].take().unwrap_or_else(|| panic!("woke {slot}, which was not blocked"));
            if let Wait::Send { id, reply, .. } = edge.wait {
                let state = self.msgs[&id].state;
                if value == 0 || (reply && value == Error::SrcDied.to_return()) {
                    assert_eq!(state, State::Delivered);
                } else {
                    assert_eq!(value, Error::DstDied.to_return());
                    assert_eq!(state, State::Pending);
                    self.msgs.get_mut(&id).unwrap().state = State::Failed;
                }
            } else {
                assert!(value == 0 || value == Error::SrcDied.to_return(), "receive woke with {value}");
            }
        }
        // SENDA write-backs agree with the log.
        for m in self.msgs.values_mut() {
            let Kind::SendA { index, table } = m.kind else { continue };
            let current = self.k.procs[m.sender].endpoint == m.sender_ep && self.current_table[m.sender] == table;
            if !matches!(m.state, State::Pending | State::Delivered) || !current {
                continue;
            }
            let e = self.m.table(m.sender, TABLE, index + 1)[index];
            if e.flags & FLAG_DONE == 0 {
                assert_eq!(m.state, State::Pending, "delivered SENDA entry not marked DONE");
            } else if e.result == 0 {
                assert_eq!(m.state, State::Delivered, "DONE without delivery");
            } else if m.state == State::Pending {
                assert_eq!(e.result, m.refused.unwrap_or(Error::DeadSrcDst).to_return() as i32);
                m.state = State::Failed;
            }
            assert!(e.flags & FLAG_VALID != 0);
        }
    }

    fn check_invariants(&self) {
        for s in 0..N {
            let p = &self.k.procs[s];
            if p.state != ProcState::Alive {
                assert!(self.blocked[s].is_none());
                assert_ne!(self.k.run_queues.running(), Some(s), "a dead process runs");
                continue;
            }
            assert_eq!(p.is_ready(), self.blocked[s].is_none(), "kernel and model disagree on {s}");
            // Ready: in a run queue, or the running process, which is in
            // none.
            let running = self.k.run_queues.running() == Some(s);
            assert_eq!(p.is_ready(), p.queued || running);
            assert!(!(p.queued && running), "the running process {s} is in a run queue");
            if let Some(w) = p.sending {
                assert_eq!(self.k.procs[w.dst].state, ProcState::Alive);
                let mut cur = self.k.procs[w.dst].senders.0;
                let mut found = false;
                while let Some(c) = cur {
                    found |= c as usize == s;
                    cur = self.k.procs[c as usize].next_sender;
                }
                assert!(found, "{s} blocked sending but not queued");
            } else if let Some(w) = p.receiving {
                assert!(w.from == Endpoint::ANY || w.from == Endpoint::SYSTEM || self.k.live_slot(w.from).is_ok());
            }
            let bits: u64 = self.notes.iter().filter(|n| n.1 == s).map(|n| 1u64 << n.0).sum();
            assert_eq!(p.notify_pending, bits, "pending notifications of {s}");
        }
        assert!(self.acyclic(), "a deadlock cycle was let through: {:?}", self.blocked);
    }

    fn check_end(&self) {
        for (id, m) in &self.msgs {
            if m.state != State::Pending {
                continue;
            }
            assert!(self.alive(m.sender) && self.k.procs[m.sender].endpoint == m.sender_ep, "message {id} lost");
            match m.kind {
                Kind::Sync | Kind::SendRec => {
                    assert!(
                        matches!(self.blocked[m.sender], Some(Edge { wait: Wait::Send { id: i, .. }, .. }) if i == *id)
                    )
                }
                Kind::SendA { .. } => assert!(self.k.procs[m.dst].async_from & (1 << m.sender) != 0, "SENDA {id} lost"),
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn every_message_is_delivered_once_or_refused_and_no_deadlock_slips_through(
        forbidden in (0..N, 0..N),
        ops in proptest::collection::vec(op(), 1..80),
    ) {
        let mut model = Model::new(forbidden);
        for op in &ops {
            model.step(op);
        }
        model.check_end();
    }
}
