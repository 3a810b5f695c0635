//! Fork's copy of the IPC wait, exec's reset, zombies and reaping.

use super::*;
use abi::notify::NOTIFY_MTYPE;
use abi::syscall::{NOTIFY_CHILD_EXITED, NOTIFY_CHILD_WORD};

/// `parent` SENDRECs to `pm` (at `BUF`), and `pm` takes the request.
fn request(k: &mut Kernel, m: &mut FakeMemory, pm: usize, parent: usize) {
    m.put(parent, 77, 1);
    assert_eq!(k.sendrec(m, parent, ep(k, pm), BUF), Outcome::Blocked);
    assert_eq!(k.receive(m, pm, Endpoint::ANY, BUF), Outcome::Done(0));
}

#[test]
fn fork_copies_the_reply_wait_so_the_caller_replies_to_both() {
    let (mut k, mut m, s) = system(2);
    let (pm, parent) = (s[0], s[1]);
    request(&mut k, &mut m, pm, parent);
    let child = k.fork(pm, parent).unwrap();
    let c = k.procs[child];
    assert_ne!(child, parent);
    assert_ne!(c.endpoint, ep(&k, parent));
    assert_eq!(c.state, ProcState::Alive);
    assert_eq!(c.receiving, k.procs[parent].receiving);
    assert_eq!(c.receiving.unwrap().msg_addr, BUF);
    assert!(c.sending.is_none() && !c.is_ready() && !c.queued);
    assert_eq!((c.name(), c.priority, c.privilege_id), ("p1", 4, k.procs[parent].privilege_id));
    assert_eq!(c.reaper, Some(pm as u16));
    // Only the reply ends the child's wait, as for the parent.
    assert_eq!(k.notify(&mut m, pm, c.endpoint), Outcome::Done(0));
    assert!(!k.procs[child].is_ready());
    m.put(pm, 88, 100);
    assert_eq!(k.send(&mut m, pm, ep(&k, parent), BUF, SendMode::NonBlocking), Outcome::Done(0));
    m.put(pm, 88, 0);
    assert_eq!(k.send(&mut m, pm, c.endpoint, BUF, SendMode::NonBlocking), Outcome::Done(0));
    assert_eq!((m.get(parent).payload[0], m.get(child).payload[0]), (100, 0));
    assert_eq!((m.take_result(parent), m.take_result(child)), (Some(0), Some(0)));
    assert!(k.procs[parent].is_ready() && k.procs[child].is_ready());
}

#[test]
fn fork_and_exec_need_a_reply_wait_on_the_caller() {
    let (mut k, mut m, s) = system(3);
    // Not blocked at all.
    assert_eq!(k.fork(s[0], s[1]), Err(Error::Invalid));
    // Blocked in the send half (request not taken yet).
    k.sendrec(&mut m, s[1], ep(&k, s[0]), BUF);
    assert_eq!(k.fork(s[0], s[1]), Err(Error::Invalid));
    k.receive(&mut m, s[0], Endpoint::ANY, BUF);
    // Waiting for s[0], not for s[2]; and not for oneself.
    assert_eq!(k.fork(s[2], s[1]), Err(Error::Invalid));
    assert_eq!(k.check_reply_wait(s[1], s[2]), Err(Error::Invalid));
    assert_eq!(k.fork(s[1], s[1]), Err(Error::Invalid));
    // A plain RECEIVE from the caller is not a reply wait.
    k.receive(&mut m, s[2], ep(&k, s[0]), BUF);
    assert_eq!(k.fork(s[0], s[2]), Err(Error::Invalid));
    assert!(k.fork(s[0], s[1]).is_ok());
}

#[test]
fn exec_ends_the_wait_and_takes_the_new_program() {
    let (mut k, mut m, s) = system(2);
    let (pm, target) = (s[0], s[1]);
    request(&mut k, &mut m, pm, target);
    let before = ep(&k, target);
    k.exec(target, "sh", Privileges::user(0), 9);
    let p = k.procs[target];
    assert!(p.is_ready() && p.queued);
    assert_eq!((p.endpoint, p.name(), p.privilege_id, p.priority), (before, "sh", 9, 4));
    assert_eq!(p.privileges, Privileges::user(0));
}

#[test]
fn a_child_with_a_live_reaper_becomes_a_zombie_until_reaped() {
    let (mut k, mut m, s) = system(2);
    let pm = s[0];
    let child = k.spawn("child", 4, Privileges::all()).unwrap();
    k.set_reaper(child, pm);
    let child_ep = ep(&k, child);
    assert_eq!(k.reap(pm), Err(Error::NotReady));
    assert_eq!(k.receive(&mut m, pm, Endpoint::ANY, BUF), Outcome::Blocked);
    k.exit_with_status(&mut m, child, 42);
    // The reaper learns of it by a SYSTEM notification.
    let note = m.get(pm);
    assert_eq!((note.mtype, note.source), (NOTIFY_MTYPE, Endpoint::SYSTEM));
    assert_eq!(note.payload[NOTIFY_CHILD_WORD], NOTIFY_CHILD_EXITED);
    // The zombie's endpoint is refused like a dead one.
    assert_eq!(k.procs[child].state, ProcState::Zombie);
    assert_eq!(k.live_slot(child_ep), Err(Error::DeadSrcDst));
    assert_eq!(k.send(&mut m, s[1], child_ep, BUF, SendMode::Blocking), err(Error::DeadSrcDst));
    assert_eq!(k.receive(&mut m, s[1], child_ep, BUF), err(Error::DeadSrcDst));
    assert_eq!(k.notify(&mut m, s[1], child_ep), err(Error::DeadSrcDst));
    // Its slot is not reused while it is a zombie...
    let other = k.spawn("other", 4, Privileges::all()).unwrap();
    assert_ne!(other, child);
    // ...only the reaper reaps it, once...
    assert_eq!(k.reap(s[1]), Err(Error::NotReady));
    assert_eq!(k.reap(pm), Ok((child_ep, 42)));
    assert_eq!(k.reap(pm), Err(Error::NotReady));
    assert_eq!(k.procs[child].state, ProcState::Free);
    // ...and then the slot is reused under a new generation.
    let again = k.spawn("again", 4, Privileges::all()).unwrap();
    assert_eq!(again, child);
    assert_ne!(ep(&k, again), child_ep);
}

#[test]
fn without_a_reaper_the_slot_is_freed_at_once() {
    let (mut k, mut m, s) = system(2);
    k.exit_with_status(&mut m, s[1], 3);
    assert_eq!(k.procs[s[1]].state, ProcState::Free);
    assert_eq!(k.reap(s[0]), Err(Error::NotReady));
    assert!(m.deliveries.is_empty());
}

#[test]
fn a_dying_reaper_frees_its_zombies_and_orphans_its_children() {
    let (mut k, mut m, s) = system(2);
    let pm = s[0];
    let (dead, living) =
        (k.spawn("dead", 4, Privileges::all()).unwrap(), k.spawn("living", 4, Privileges::all()).unwrap());
    k.set_reaper(dead, pm);
    k.set_reaper(living, pm);
    k.exit_with_status(&mut m, dead, 1);
    assert_eq!(k.procs[dead].state, ProcState::Zombie);
    k.exit(&mut m, pm);
    assert_eq!(k.procs[dead].state, ProcState::Free);
    assert_eq!(k.procs[pm].state, ProcState::Free);
    assert_eq!(k.procs[living].reaper, None);
    // The orphan now ends without leaving a zombie.
    k.exit(&mut m, living);
    assert_eq!(k.procs[living].state, ProcState::Free);
    // A reaper that is itself reaped later does not keep zombies either.
    let fresh = k.spawn("pm2", 4, Privileges::all()).unwrap();
    let kid = k.spawn("kid", 4, Privileges::all()).unwrap();
    k.set_reaper(kid, fresh);
    k.set_reaper(fresh, s[1]);
    k.exit_with_status(&mut m, kid, 5);
    k.exit_with_status(&mut m, fresh, 6);
    assert_eq!(k.procs[kid].state, ProcState::Free);
    assert_eq!(k.procs[fresh].state, ProcState::Zombie);
    assert_eq!(k.reap(s[1]).map(|(_, st)| st), Ok(6));
}

#[test]
fn a_forked_child_is_reaped_by_the_forker() {
    let (mut k, mut m, s) = system(2);
    let (pm, parent) = (s[0], s[1]);
    request(&mut k, &mut m, pm, parent);
    let child = k.fork(pm, parent).unwrap();
    let child_ep = ep(&k, child);
    k.exit_with_status(&mut m, child, 9);
    assert_eq!(m.take_result(parent), None, "the parent still waits");
    assert_eq!(k.procs[pm].system_notify_pending.map(|w| w[NOTIFY_CHILD_WORD]), Some(NOTIFY_CHILD_EXITED));
    assert_eq!(k.reap(pm), Ok((child_ep, 9)));
    // A child the architecture layer could not give memory is discarded.
    let spare = k.fork(pm, parent).unwrap();
    k.discard(spare);
    assert_eq!(k.procs[spare].state, ProcState::Free);
    assert_eq!(k.reap(pm), Err(Error::NotReady));
}

#[test]
fn a_reap_that_leaves_a_zombie_notifies_the_reaper_again() {
    let (mut k, mut m, s) = system(2);
    let pm = s[0];
    let (a, b) = (k.spawn("a", 4, Privileges::all()).unwrap(), k.spawn("b", 4, Privileges::all()).unwrap());
    k.set_reaper(a, pm);
    k.set_reaper(b, pm);
    let (a_ep, b_ep) = (ep(&k, a), ep(&k, b));
    k.exit_with_status(&mut m, a, 1);
    k.exit_with_status(&mut m, b, 2);
    // Both exits left one pending notification.
    k.procs[pm].system_notify_pending = None;
    assert_eq!(k.reap_notifying(&mut m, pm), Ok((a_ep, 1)));
    assert_eq!(k.procs[pm].system_notify_pending.map(|w| w[NOTIFY_CHILD_WORD]), Some(NOTIFY_CHILD_EXITED));
    k.procs[pm].system_notify_pending = None;
    assert_eq!(k.reap_notifying(&mut m, pm), Ok((b_ep, 2)));
    assert_eq!(k.procs[pm].system_notify_pending, None, "nothing is left to reap");
    assert_eq!(k.reap_notifying(&mut m, pm), Err(Error::NotReady));
}
