//! Trap, send and kernel-call masks.

use super::*;
use abi::syscall::{KernelCall, Trap};

#[test]
fn ordinary_users_may_only_sendrec() {
    let mut k = Kernel::new();
    let mut m = FakeMemory::default();
    let server = k.spawn("server", 4, Privileges::all()).unwrap();
    let user = k.spawn("user", 4, Privileges::user(1 << server)).unwrap();
    let to = ep(&k, server);
    let denied = err(Error::TrapDenied);
    assert_eq!(k.send(&mut m, user, to, BUF, SendMode::Blocking), denied);
    assert_eq!(k.send(&mut m, user, to, BUF, SendMode::NonBlocking), denied);
    assert_eq!(k.receive(&mut m, user, Endpoint::ANY, BUF), denied);
    assert_eq!(k.notify(&mut m, user, to), denied);
    assert_eq!(k.senda(&mut m, user, TABLE, 1), denied);
    assert!(k.procs[user].is_ready());
    assert!(k.may_trap(user, Trap::SendRec) && !k.may_trap(user, Trap::Send));
    // SENDREC works, and the server may reply with SENDNB.
    k.receive(&mut m, server, Endpoint::ANY, BUF);
    assert_eq!(k.sendrec(&mut m, user, to, BUF), Outcome::Blocked);
    assert_eq!(k.send(&mut m, server, ep(&k, user), BUF, SendMode::NonBlocking), Outcome::Done(0));
    assert_eq!(m.take_result(user), Some(0));
}

#[test]
fn destinations_outside_the_send_mask_are_refused() {
    let mut k = Kernel::new();
    let mut m = FakeMemory::default();
    let a = k.spawn("a", 4, Privileges::system(0, 0)).unwrap();
    let b = k.spawn("b", 4, Privileges::system(0, 0)).unwrap();
    let denied = err(Error::CallDenied);
    assert_eq!(k.send(&mut m, a, ep(&k, b), BUF, SendMode::Blocking), denied);
    assert_eq!(k.send(&mut m, a, ep(&k, b), BUF, SendMode::NonBlocking), denied);
    assert_eq!(k.sendrec(&mut m, a, ep(&k, b), BUF), denied);
    assert_eq!(k.notify(&mut m, a, ep(&k, b)), denied);
    assert!(k.procs[a].is_ready() && k.procs[a].receiving.is_none());
    // RECEIVE from a specific source needs no grant.
    assert_eq!(k.receive(&mut m, b, ep(&k, a), BUF), Outcome::Blocked);
    // Granting a -> b also lets b reply to a.
    k.allow_send(a, b);
    assert!(k.procs[b].privileges.allows_send_to(a));
    assert_eq!(k.send(&mut m, a, ep(&k, b), BUF, SendMode::Blocking), Outcome::Done(0));
    k.receive(&mut m, a, Endpoint::ANY, BUF);
    assert_eq!(k.send(&mut m, b, ep(&k, a), BUF, SendMode::Blocking), Outcome::Done(0));
}

#[test]
fn kernel_call_mask() {
    let mut k = Kernel::new();
    let calls = Privileges::kernel_call_bit(KernelCall::Exit) | Privileges::kernel_call_bit(KernelCall::DiagWrite);
    let user = k.spawn("user", 4, Privileges::user(0).with_kernel_calls(calls)).unwrap();
    let sys = k.spawn("sys", 4, Privileges::all()).unwrap();
    assert!(k.may_call(user, KernelCall::Exit) && k.may_call(user, KernelCall::DiagWrite));
    assert!(!k.may_call(user, KernelCall::PowerOff));
    assert!(k.may_call(sys, KernelCall::PowerOff));
    // A free slot may do nothing.
    assert!(!k.may_call(40, KernelCall::Exit) && !k.may_trap(40, Trap::SendRec));
}

#[test]
fn traps_are_checked_before_endpoints() {
    let mut k = Kernel::new();
    let mut m = FakeMemory::default();
    let user = k.spawn("user", 4, Privileges::user(0)).unwrap();
    assert_eq!(k.send(&mut m, user, Endpoint::new(30, 1), BUF, SendMode::Blocking), err(Error::TrapDenied));
    assert_eq!(k.sendrec(&mut m, user, Endpoint::new(30, 1), BUF), err(Error::DeadSrcDst));
}

#[test]
fn send_masks_name_privilege_ids_so_every_copy_of_a_program_is_reachable() {
    let mut k = Kernel::new();
    let mut m = FakeMemory::default();
    // The client may send to privilege id 5 (a program's image index),
    // whatever slots its copies land in.
    let client = k.spawn_with_id("client", 4, Privileges::system(1 << 5, 0), 0).unwrap();
    let first = k.spawn_with_id("server", 4, Privileges::system(1 << 0, 0), 5).unwrap();
    let stranger = k.spawn_with_id("stranger", 4, Privileges::system(1 << 0, 0), 6).unwrap();
    assert_eq!(k.receive(&mut m, first, Endpoint::ANY, BUF), Outcome::Blocked);
    assert_eq!(k.send(&mut m, client, ep(&k, first), BUF, SendMode::Blocking), Outcome::Done(0));
    assert_eq!(k.send(&mut m, client, ep(&k, stranger), BUF, SendMode::Blocking), err(Error::CallDenied));
    k.exit(&mut m, first);
    let second = k.spawn_with_id("server", 4, Privileges::system(1 << 0, 0), 5).unwrap();
    assert_eq!(k.receive(&mut m, second, Endpoint::ANY, BUF), Outcome::Blocked);
    assert_eq!(k.send(&mut m, client, ep(&k, second), BUF, SendMode::Blocking), Outcome::Done(0));
    assert_eq!(k.spawn_with_id("bad", 4, Privileges::NONE, 64), Err(Error::Invalid));
}
