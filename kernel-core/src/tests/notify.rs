//! NOTIFY and SYSTEM notifications.

use super::*;
use abi::notify::{is_notification, NOTIFY_MTYPE};

#[test]
fn notify_to_a_waiting_receiver_is_delivered_at_once_with_a_kernel_built_message() {
    let (mut k, mut m, s) = system(2);
    k.receive(&mut m, s[1], Endpoint::ANY, BUF);
    m.put(s[0], 1, 77); // whatever the notifier has in its buffer is ignored
    assert_eq!(k.notify(&mut m, s[0], ep(&k, s[1])), Outcome::Done(0));
    assert_eq!(m.take_result(s[1]), Some(0));
    let got = m.get(s[1]);
    assert!(is_notification(&got));
    assert_eq!((got.source, got.mtype, got.payload), (ep(&k, s[0]), NOTIFY_MTYPE, [0; 7]));
}

#[test]
fn repeated_notifies_coalesce_into_one_pending_bit() {
    let (mut k, mut m, s) = system(2);
    for _ in 0..5 {
        assert_eq!(k.notify(&mut m, s[0], ep(&k, s[1])), Outcome::Done(0));
    }
    assert!(k.procs[s[0]].is_ready());
    assert_eq!(k.procs[s[1]].notify_pending, 1 << s[0]);
    assert_eq!(k.receive(&mut m, s[1], Endpoint::ANY, BUF), Outcome::Done(0));
    assert_eq!(m.get(s[1]).source, ep(&k, s[0]));
    // Only one.
    assert_eq!(k.receive(&mut m, s[1], Endpoint::ANY, BUF), Outcome::Blocked);
}

#[test]
fn notifications_come_before_queued_senders_lowest_slot_first() {
    let (mut k, mut m, s) = system(4);
    let r = s[0];
    m.put(s[1], 9, 1);
    k.send(&mut m, s[1], ep(&k, r), BUF, SendMode::Blocking);
    k.notify(&mut m, s[3], ep(&k, r));
    k.notify(&mut m, s[2], ep(&k, r));
    k.receive(&mut m, r, Endpoint::ANY, BUF);
    assert_eq!(m.get(r).source, ep(&k, s[2]));
    k.receive(&mut m, r, Endpoint::ANY, BUF);
    assert_eq!(m.get(r).source, ep(&k, s[3]));
    k.receive(&mut m, r, Endpoint::ANY, BUF);
    assert_eq!((m.get(r).source, m.get(r).mtype), (ep(&k, s[1]), 9));
}

#[test]
fn receive_from_a_specific_source_takes_only_its_notification() {
    let (mut k, mut m, s) = system(3);
    k.notify(&mut m, s[1], ep(&k, s[0]));
    assert_eq!(k.receive(&mut m, s[0], ep(&k, s[2]), BUF), Outcome::Blocked);
    // A blocked RECEIVE(s[2]) is not woken by s[1]'s notification.
    k.notify(&mut m, s[1], ep(&k, s[0]));
    assert_eq!(m.take_result(s[0]), None);
    k.notify(&mut m, s[2], ep(&k, s[0]));
    assert_eq!(m.take_result(s[0]), Some(0));
    assert_eq!(m.get(s[0]).source, ep(&k, s[2]));
    assert_eq!(k.receive(&mut m, s[0], ep(&k, s[1]), BUF), Outcome::Done(0));
    assert_eq!(m.get(s[0]).source, ep(&k, s[1]));
}

#[test]
fn a_notification_never_ends_the_reply_wait_of_a_sendrec() {
    let (mut k, mut m, s) = system(3);
    let (client, server, other) = (s[0], s[1], s[2]);
    k.receive(&mut m, server, Endpoint::ANY, BUF);
    m.put(client, 3, 1);
    assert_eq!(k.sendrec(&mut m, client, ep(&k, server), BUF), Outcome::Blocked);
    // Neither the server's nor anyone else's notification ends the wait.
    k.notify(&mut m, server, ep(&k, client));
    k.notify(&mut m, other, ep(&k, client));
    k.notify_from_system(&mut m, client, &[1]).unwrap();
    assert_eq!(m.take_result(client), None);
    m.put(server, 4, 2);
    k.send(&mut m, server, ep(&k, client), BUF, SendMode::NonBlocking);
    assert_eq!(m.take_result(client), Some(0));
    assert_eq!(m.get(client).mtype, 4);
    // They are all still pending, SYSTEM's first.
    for expected in [Endpoint::SYSTEM, ep(&k, server), ep(&k, other)] {
        assert_eq!(k.receive(&mut m, client, Endpoint::ANY, BUF), Outcome::Done(0));
        assert_eq!(m.get(client).source, expected);
    }
}

#[test]
fn a_notification_does_not_reach_a_process_in_the_send_half_of_sendrec() {
    let (mut k, mut m, s) = system(3);
    k.sendrec(&mut m, s[0], ep(&k, s[1]), BUF); // s[1] is not receiving: send half
    k.notify(&mut m, s[1], ep(&k, s[0]));
    assert_eq!(m.take_result(s[0]), None);
    assert_eq!(k.procs[s[0]].notify_pending, 1 << s[1]);
}

#[test]
fn system_notifications_or_their_payloads_together() {
    let (mut k, mut m, s) = system(1);
    k.notify_from_system(&mut m, s[0], &[0b01, 0, 4]).unwrap();
    k.notify_from_system(&mut m, s[0], &[0b10]).unwrap();
    assert_eq!(k.receive(&mut m, s[0], Endpoint::SYSTEM, BUF), Outcome::Done(0));
    let got = m.get(s[0]);
    assert_eq!((got.source, got.mtype), (Endpoint::SYSTEM, NOTIFY_MTYPE));
    assert_eq!(got.payload, [0b11, 0, 4, 0, 0, 0, 0]);
    // Once received, the payload starts from zero again; a waiting
    // receiver gets it at once.
    assert_eq!(k.receive(&mut m, s[0], Endpoint::SYSTEM, BUF), Outcome::Blocked);
    k.notify_from_system(&mut m, s[0], &[0, 8]).unwrap();
    assert_eq!(m.take_result(s[0]), Some(0));
    assert_eq!(m.get(s[0]).payload[..2], [0, 8]);
    assert_eq!(k.notify_from_system(&mut m, 50, &[1]), Err(Error::DeadSrcDst));
}

#[test]
fn receive_from_system_ignores_process_notifications_and_messages() {
    let (mut k, mut m, s) = system(2);
    k.notify(&mut m, s[1], ep(&k, s[0]));
    assert_eq!(k.receive(&mut m, s[0], Endpoint::SYSTEM, BUF), Outcome::Blocked);
    assert_eq!(k.send(&mut m, s[1], ep(&k, s[0]), BUF, SendMode::NonBlocking), err(Error::NotReady));
}

#[test]
fn a_notification_is_kept_when_the_receiver_buffer_is_bad() {
    let (mut k, mut m, s) = system(2);
    k.notify(&mut m, s[0], ep(&k, s[1]));
    assert_eq!(k.receive(&mut m, s[1], Endpoint::ANY, READ_ONLY), err(Error::Fault));
    assert_eq!(k.receive(&mut m, s[1], Endpoint::ANY, BUF), Outcome::Done(0));
    assert_eq!(m.get(s[1]).source, ep(&k, s[0]));
}

#[test]
fn notify_errors() {
    let (mut k, mut m, s) = system(2);
    assert_eq!(k.notify(&mut m, s[0], ep(&k, s[0])), err(Error::Invalid));
    assert_eq!(k.notify(&mut m, s[0], Endpoint::new(33, 0)), err(Error::DeadSrcDst));
    assert_eq!(k.notify(&mut m, s[0], Endpoint::SYSTEM), err(Error::DeadSrcDst));
    k.set_privileges(s[0], Privileges::system(0, 0));
    assert_eq!(k.notify(&mut m, s[0], ep(&k, s[1])), err(Error::CallDenied));
    k.set_privileges(s[0], Privileges::user(u64::MAX));
    assert_eq!(k.notify(&mut m, s[0], ep(&k, s[1])), err(Error::TrapDenied));
    assert_eq!(k.procs[s[1]].notify_pending, 0);
}
