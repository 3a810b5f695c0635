//! Host unit tests of the IPC core against an in-memory model of user
//! memory.

use super::*;
use std::collections::HashMap;
use std::vec::Vec;

/// User memory of every process as a map from (slot, address) to a
/// message; any address at or above `BAD` faults.
#[derive(Default)]
struct FakeMemory {
    messages: HashMap<(usize, u64), Message>,
    results: HashMap<usize, i64>,
}

const BUF: u64 = 0x1000;
const BAD: u64 = 0xdead_0000;

impl UserMemory for FakeMemory {
    fn read_message(&mut self, slot: usize, addr: u64) -> Result<Message, Error> {
        if addr >= BAD {
            return Err(Error::Fault);
        }
        Ok(self.messages.get(&(slot, addr)).copied().unwrap_or_default())
    }
    fn write_message(&mut self, slot: usize, addr: u64, msg: &Message) -> Result<(), Error> {
        if addr >= BAD {
            return Err(Error::Fault);
        }
        self.messages.insert((slot, addr), *msg);
        Ok(())
    }
    fn check_message(&mut self, _slot: usize, addr: u64, _write: bool) -> Result<(), Error> {
        if addr >= BAD { Err(Error::Fault) } else { Ok(()) }
    }
    fn set_result(&mut self, slot: usize, value: i64) {
        self.results.insert(slot, value);
    }
}

impl FakeMemory {
    fn put(&mut self, slot: usize, mtype: u32, word: u64) {
        self.messages.insert((slot, BUF), Message::with_words(mtype, &[word]));
    }
    fn get(&self, slot: usize) -> Message {
        self.messages[&(slot, BUF)]
    }
    fn take_result(&mut self, slot: usize) -> Option<i64> {
        self.results.remove(&slot)
    }
}

fn system(n: usize) -> (Kernel, FakeMemory, Vec<usize>) {
    let mut k = Kernel::new();
    let slots = (0..n).map(|i| k.spawn(&std::format!("p{i}"), 4).unwrap()).collect();
    (k, FakeMemory::default(), slots)
}

fn ep(k: &Kernel, slot: usize) -> Endpoint {
    k.procs[slot].endpoint
}

#[test]
fn rendezvous_receiver_first() {
    let (mut k, mut m, s) = system(2);
    assert_eq!(k.receive(&mut m, s[1], Endpoint::ANY, BUF), Outcome::Blocked);
    assert!(!k.procs[s[1]].is_ready());
    m.put(s[0], 7, 42);
    assert_eq!(k.send(&mut m, s[0], ep(&k, s[1]), BUF, SendMode::Blocking), Outcome::Done(0));
    assert_eq!(m.take_result(s[1]), Some(0));
    assert!(k.procs[s[1]].is_ready());
    let got = m.get(s[1]);
    assert_eq!((got.mtype, got.payload[0], got.source), (7, 42, ep(&k, s[0])));
}

#[test]
fn rendezvous_sender_first() {
    let (mut k, mut m, s) = system(2);
    m.put(s[0], 9, 1234);
    assert_eq!(k.send(&mut m, s[0], ep(&k, s[1]), BUF, SendMode::Blocking), Outcome::Blocked);
    assert!(!k.procs[s[0]].is_ready());
    // Nothing was copied yet: the message stays in the sender's memory.
    assert!(!m.messages.contains_key(&(s[1], BUF)));
    assert_eq!(k.receive(&mut m, s[1], Endpoint::ANY, BUF), Outcome::Done(0));
    assert_eq!(m.take_result(s[0]), Some(0));
    assert!(k.procs[s[0]].is_ready());
    assert_eq!(m.get(s[1]).payload[0], 1234);
}

#[test]
fn blocked_senders_are_served_in_fifo_order() {
    let (mut k, mut m, s) = system(4);
    for (i, &sender) in s[..3].iter().enumerate() {
        m.put(sender, 1, i as u64);
        assert_eq!(k.send(&mut m, sender, ep(&k, s[3]), BUF, SendMode::Blocking), Outcome::Blocked);
    }
    for i in 0..3 {
        assert_eq!(k.receive(&mut m, s[3], Endpoint::ANY, BUF), Outcome::Done(0));
        assert_eq!(m.get(s[3]).payload[0], i);
        assert_eq!(m.get(s[3]).source, ep(&k, s[i as usize]));
    }
}

#[test]
fn receive_from_a_specific_source_passes_over_others() {
    let (mut k, mut m, s) = system(4);
    for &sender in &s[..3] {
        m.put(sender, 1, sender as u64);
        k.send(&mut m, sender, ep(&k, s[3]), BUF, SendMode::Blocking);
    }
    assert_eq!(k.receive(&mut m, s[3], ep(&k, s[1]), BUF), Outcome::Done(0));
    assert_eq!(m.get(s[3]).source, ep(&k, s[1]));
    // The others keep their order.
    k.receive(&mut m, s[3], Endpoint::ANY, BUF);
    assert_eq!(m.get(s[3]).source, ep(&k, s[0]));
    k.receive(&mut m, s[3], Endpoint::ANY, BUF);
    assert_eq!(m.get(s[3]).source, ep(&k, s[2]));
    // A receive from a process that is not sending blocks.
    assert_eq!(k.receive(&mut m, s[3], ep(&k, s[0]), BUF), Outcome::Blocked);
}

#[test]
fn sendrec_waits_only_for_the_reply_of_its_destination() {
    let (mut k, mut m, s) = system(3);
    let (client, server, other) = (s[0], s[1], s[2]);
    assert_eq!(k.receive(&mut m, server, Endpoint::ANY, BUF), Outcome::Blocked);
    m.put(client, 5, 10);
    assert_eq!(k.sendrec(&mut m, client, ep(&k, server), BUF), Outcome::Blocked);
    assert_eq!(m.get(server).payload[0], 10);
    // A third process cannot get in between request and reply.
    m.put(other, 6, 99);
    assert_eq!(k.send(&mut m, other, ep(&k, client), BUF, SendMode::Blocking), Outcome::Blocked);
    assert_eq!(m.take_result(client), None);
    // The server's reply completes the SENDREC into the same buffer.
    m.put(server, 0, 11);
    assert_eq!(k.send(&mut m, server, ep(&k, client), BUF, SendMode::NonBlocking), Outcome::Done(0));
    assert_eq!(m.take_result(client), Some(0));
    assert_eq!((m.get(client).payload[0], m.get(client).source), (11, ep(&k, server)));
    // The other sender is still queued for the client's next receive.
    assert_eq!(k.receive(&mut m, client, Endpoint::ANY, BUF), Outcome::Done(0));
    assert_eq!(m.get(client).source, ep(&k, other));
}

#[test]
fn sendrec_to_a_busy_server_queues_then_waits_for_reply() {
    let (mut k, mut m, s) = system(2);
    m.put(s[0], 5, 77);
    assert_eq!(k.sendrec(&mut m, s[0], ep(&k, s[1]), BUF), Outcome::Blocked);
    assert_eq!(k.receive(&mut m, s[1], Endpoint::ANY, BUF), Outcome::Done(0));
    // Request taken, but the client stays blocked for the reply.
    assert_eq!(m.take_result(s[0]), None);
    assert!(!k.procs[s[0]].is_ready());
    assert_eq!(k.send(&mut m, s[1], ep(&k, s[0]), BUF, SendMode::Blocking), Outcome::Done(0));
    assert_eq!(m.take_result(s[0]), Some(0));
}

#[test]
fn the_kernel_stamps_the_source_over_a_forged_one() {
    let (mut k, mut m, s) = system(3);
    let mut forged = Message::new(1);
    forged.source = ep(&k, s[2]);
    m.messages.insert((s[0], BUF), forged);
    k.receive(&mut m, s[1], Endpoint::ANY, BUF);
    k.send(&mut m, s[0], ep(&k, s[1]), BUF, SendMode::Blocking);
    assert_eq!(m.get(s[1]).source, ep(&k, s[0]));
}

#[test]
fn sendnb_to_a_process_not_waiting_fails_without_blocking() {
    let (mut k, mut m, s) = system(2);
    assert_eq!(
        k.send(&mut m, s[0], ep(&k, s[1]), BUF, SendMode::NonBlocking),
        Outcome::Done(Error::NotReady.to_return())
    );
    assert!(k.procs[s[0]].is_ready());
}

#[test]
fn bad_endpoints_and_buffers_are_refused() {
    let (mut k, mut m, s) = system(2);
    let bogus = Endpoint::new(40, 0);
    let fault = Outcome::Done(Error::Fault.to_return());
    assert_eq!(k.send(&mut m, s[0], bogus, BUF, SendMode::Blocking), Outcome::Done(Error::DeadSrcDst.to_return()));
    assert_eq!(k.send(&mut m, s[0], ep(&k, s[1]), BAD, SendMode::Blocking), fault);
    assert_eq!(k.receive(&mut m, s[0], Endpoint::ANY, BAD), fault);
    assert_eq!(k.sendrec(&mut m, s[0], ep(&k, s[1]), BAD), fault);
    assert_eq!(k.send(&mut m, s[0], ep(&k, s[0]), BUF, SendMode::Blocking), Outcome::Done(Error::Invalid.to_return()));
    assert!(k.procs[s[0]].is_ready());
    assert!(k.procs[s[0]].receiving.is_none());
}

#[test]
fn a_dying_process_wakes_its_senders_and_receivers_with_distinct_errors() {
    let (mut k, mut m, s) = system(4);
    let victim = s[0];
    // s[1] is blocked sending to the victim, s[2] waits for the victim's
    // reply, s[3] receives from ANY and must not be disturbed.
    k.send(&mut m, s[1], ep(&k, victim), BUF, SendMode::Blocking);
    k.sendrec(&mut m, s[2], ep(&k, victim), BUF);
    k.receive(&mut m, victim, Endpoint::ANY, BUF); // takes s[1]'s message
    k.receive(&mut m, victim, Endpoint::ANY, BUF); // takes s[2]'s request
    m.results.clear();
    k.send(&mut m, s[1], ep(&k, victim), BUF, SendMode::Blocking);
    k.receive(&mut m, s[3], Endpoint::ANY, BUF);
    let old = ep(&k, victim);
    k.exit(&mut m, victim);
    assert_eq!(m.take_result(s[1]), Some(Error::DstDied.to_return()));
    assert_eq!(m.take_result(s[2]), Some(Error::SrcDied.to_return()));
    assert_eq!(m.take_result(s[3]), None);
    assert!(k.procs[s[1]].is_ready() && k.procs[s[2]].is_ready() && !k.procs[s[3]].is_ready());
    // The slot is reused under a new generation; the old endpoint is dead.
    let again = k.spawn("again", 4).unwrap();
    assert_eq!(again, victim);
    assert_ne!(ep(&k, again), old);
    assert_eq!(k.send(&mut m, s[1], old, BUF, SendMode::Blocking), Outcome::Done(Error::DeadSrcDst.to_return()));
}

#[test]
fn scheduler_prefers_higher_priority_and_rotates_on_quantum_end() {
    let mut k = Kernel::new();
    let low = k.spawn("low", 9).unwrap();
    let a = k.spawn("a", 2).unwrap();
    let b = k.spawn("b", 2).unwrap();
    assert_eq!(k.pick_next(), Some(a));
    for _ in 1..QUANTUM_TICKS {
        assert!(!k.tick(a));
    }
    assert!(k.tick(a));
    assert_eq!(k.pick_next(), Some(b));
    let mut m = FakeMemory::default();
    k.receive(&mut m, a, Endpoint::ANY, BUF);
    k.receive(&mut m, b, Endpoint::ANY, BUF);
    assert_eq!(k.pick_next(), Some(low));
}
