//! Deadlock detection.

use super::*;

#[test]
fn two_processes_sending_to_each_other_is_a_deadlock() {
    let (mut k, mut m, s) = system(2);
    assert_eq!(k.send(&mut m, s[0], ep(&k, s[1]), BUF, SendMode::Blocking), Outcome::Blocked);
    assert_eq!(k.send(&mut m, s[1], ep(&k, s[0]), BUF, SendMode::Blocking), err(Error::Locked));
    assert!(k.procs[s[1]].is_ready());
    // A SENDREC is a send too.
    assert_eq!(k.sendrec(&mut m, s[1], ep(&k, s[0]), BUF), err(Error::Locked));
    assert!(k.procs[s[1]].is_ready() && k.procs[s[1]].receiving.is_none());
}

#[test]
fn two_processes_receiving_from_each_other_is_a_deadlock() {
    let (mut k, mut m, s) = system(2);
    assert_eq!(k.receive(&mut m, s[0], ep(&k, s[1]), BUF), Outcome::Blocked);
    assert_eq!(k.receive(&mut m, s[1], ep(&k, s[0]), BUF), err(Error::Locked));
    assert!(k.procs[s[1]].is_ready());
}

#[test]
fn a_two_party_request_and_reply_is_not_a_deadlock() {
    // Server takes the request with RECEIVE(client) while the client is
    // in the send half of its SENDREC, then replies with SEND.
    let (mut k, mut m, s) = system(2);
    let (client, server) = (s[0], s[1]);
    assert_eq!(k.sendrec(&mut m, client, ep(&k, server), BUF), Outcome::Blocked);
    assert_eq!(k.receive(&mut m, server, ep(&k, client), BUF), Outcome::Done(0));
    assert_eq!(k.send(&mut m, server, ep(&k, client), BUF, SendMode::Blocking), Outcome::Done(0));
    assert_eq!(m.take_result(client), Some(0));
    // Same with the server waiting first and replying with SENDNB.
    assert_eq!(k.receive(&mut m, server, ep(&k, client), BUF), Outcome::Blocked);
    assert_eq!(k.sendrec(&mut m, client, ep(&k, server), BUF), Outcome::Blocked);
    assert_eq!(m.take_result(server), Some(0));
    assert_eq!(k.send(&mut m, server, ep(&k, client), BUF, SendMode::NonBlocking), Outcome::Done(0));
    assert_eq!(m.take_result(client), Some(0));
}

#[test]
fn waiting_for_a_client_that_waits_for_your_reply_is_a_deadlock() {
    let (mut k, mut m, s) = system(2);
    let (client, server) = (s[0], s[1]);
    k.receive(&mut m, server, Endpoint::ANY, BUF);
    k.sendrec(&mut m, client, ep(&k, server), BUF); // request taken
                                                    // The server now receives from the client instead of replying: both
                                                    // would wait for each other.
    assert_eq!(k.receive(&mut m, server, ep(&k, client), BUF), err(Error::Locked));
}

#[test]
fn a_three_cycle_is_a_deadlock_and_a_chain_is_not() {
    let (mut k, mut m, s) = system(4);
    assert_eq!(k.send(&mut m, s[0], ep(&k, s[1]), BUF, SendMode::Blocking), Outcome::Blocked);
    assert_eq!(k.receive(&mut m, s[1], ep(&k, s[2]), BUF), Outcome::Blocked);
    // s[2] -> s[0] closes s[0] -> s[1] -> s[2] -> s[0].
    assert_eq!(k.sendrec(&mut m, s[2], ep(&k, s[0]), BUF), err(Error::Locked));
    assert_eq!(k.send(&mut m, s[2], ep(&k, s[0]), BUF, SendMode::Blocking), err(Error::Locked));
    assert_eq!(k.receive(&mut m, s[2], ep(&k, s[0]), BUF), err(Error::Locked));
    // s[2] -> s[3] does not, and a chain ending in RECEIVE(ANY) is fine.
    assert_eq!(k.receive(&mut m, s[3], Endpoint::ANY, BUF), Outcome::Blocked);
    assert_eq!(k.send(&mut m, s[2], ep(&k, s[3]), BUF, SendMode::Blocking), Outcome::Done(0));
    assert_eq!(k.receive(&mut m, s[2], ep(&k, s[3]), BUF), Outcome::Blocked);
    // Now s[3] -> s[0] would close s[3] -> s[0] -> s[1] -> s[2] -> s[3].
    assert_eq!(k.send(&mut m, s[3], ep(&k, s[0]), BUF, SendMode::Blocking), err(Error::Locked));
    assert_eq!(k.receive(&mut m, s[3], Endpoint::ANY, BUF), Outcome::Blocked);
}
