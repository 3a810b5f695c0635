//! Dying peers.

use super::*;
use abi::senda::{FLAG_DONE, FLAG_NOTIFY, FLAG_VALID};

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
    let again = k.spawn("again", 4, Privileges::all()).unwrap();
    assert_eq!(again, victim);
    assert_ne!(ep(&k, again), old);
    assert_eq!(k.send(&mut m, s[1], old, BUF, SendMode::Blocking), err(Error::DeadSrcDst));
}

#[test]
fn a_sendrec_in_its_send_half_gets_dst_died() {
    let (mut k, mut m, s) = system(2);
    k.sendrec(&mut m, s[0], ep(&k, s[1]), BUF);
    k.kill(&mut m, s[1]);
    assert_eq!(m.take_result(s[0]), Some(Error::DstDied.to_return()));
    assert!(k.procs[s[0]].is_ready() && k.procs[s[0]].receiving.is_none());
}

#[test]
fn a_receiver_of_a_specific_dying_process_gets_src_died() {
    let (mut k, mut m, s) = system(2);
    k.receive(&mut m, s[0], ep(&k, s[1]), BUF);
    k.exit(&mut m, s[1]);
    assert_eq!(m.take_result(s[0]), Some(Error::SrcDied.to_return()));
}

#[test]
fn notifications_from_and_to_the_dead_are_dropped() {
    let (mut k, mut m, s) = system(3);
    k.notify(&mut m, s[1], ep(&k, s[0]));
    k.notify(&mut m, s[0], ep(&k, s[2]));
    k.exit(&mut m, s[1]);
    assert_eq!(k.procs[s[0]].notify_pending, 0);
    // A new process in the dead one's slot does not inherit anything.
    let again = k.spawn("again", 4, Privileges::all()).unwrap();
    assert_eq!(k.procs[again].notify_pending, 0);
    assert_eq!(k.receive(&mut m, s[0], Endpoint::ANY, BUF), Outcome::Blocked);
    k.exit(&mut m, s[0]);
    assert_eq!(k.procs[s[2]].notify_pending, 0);
}

#[test]
fn senda_entries_aimed_at_a_dying_process_complete_with_dead_src_dst() {
    let (mut k, mut m, s) = system(3);
    let (sender, victim, other) = (s[0], s[1], s[2]);
    let entries = [
        SendaEntry::new(ep(&k, victim), Message::new(1)),
        SendaEntry { flags: FLAG_VALID | FLAG_NOTIFY, ..SendaEntry::new(ep(&k, victim), Message::new(2)) },
        SendaEntry::new(ep(&k, other), Message::new(3)),
    ];
    m.put_table(sender, TABLE, &entries);
    assert_eq!(k.senda(&mut m, sender, TABLE, 3), Outcome::Done(0));
    k.exit(&mut m, victim);
    let table = m.table(sender, TABLE, 3);
    for e in &table[..2] {
        assert_eq!((e.flags & FLAG_DONE, e.result), (FLAG_DONE, Error::DeadSrcDst.to_return() as i32));
    }
    assert!(table[2].is_pending());
    // The NOTIFY entry told the sender.
    assert!(k.procs[sender].system_notify_pending.is_some());
    // The victim's own table is gone with it.
    let t2 = [SendaEntry::new(ep(&k, sender), Message::new(4))];
    m.put_table(other, TABLE, &t2);
    k.senda(&mut m, other, TABLE, 1);
    assert_eq!(k.procs[sender].async_from, 1 << other);
    k.exit(&mut m, other);
    assert!(k.procs[other].senda_table.is_none());
    assert_eq!(k.procs[sender].async_from, 0);
}
