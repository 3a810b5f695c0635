//! SENDA: tables in the sender's memory, write-back, replacement, errors.

use super::*;
use abi::notify::{EVENT_SENDA_DONE, NOTIFY_MTYPE};
use abi::senda::{FLAG_DONE, FLAG_NOTIFY, FLAG_VALID, SENDA_MAX_ENTRIES};

fn entry(k: &Kernel, dst: usize, word: u64) -> SendaEntry {
    SendaEntry::new(ep(k, dst), Message::with_words(20, &[word]))
}

fn done(result: Result<(), Error>) -> (u32, i32) {
    (FLAG_VALID | FLAG_DONE, result.err().map_or(0, |e| e.to_return() as i32))
}

fn state(e: &SendaEntry) -> (u32, i32) {
    (e.flags, e.result)
}

#[test]
fn senda_delivers_at_once_to_waiting_receivers_and_later_to_the_others() {
    let (mut k, mut m, s) = system(3);
    let (server, waiting, busy) = (s[0], s[1], s[2]);
    k.receive(&mut m, waiting, Endpoint::ANY, BUF);
    m.put_table(server, TABLE, &[entry(&k, waiting, 1), entry(&k, busy, 2)]);
    assert_eq!(k.senda(&mut m, server, TABLE, 2), Outcome::Done(0));
    assert!(k.procs[server].is_ready());
    assert_eq!(m.take_result(waiting), Some(0));
    assert_eq!((m.get(waiting).source, m.get(waiting).payload[0]), (ep(&k, server), 1));
    let table = m.table(server, TABLE, 2);
    assert_eq!(state(&table[0]), done(Ok(())));
    assert!(table[1].is_pending());
    assert_eq!(k.procs[busy].async_from, 1 << server);
    // The busy one gets its message when it next receives.
    assert_eq!(k.receive(&mut m, busy, Endpoint::ANY, BUF), Outcome::Done(0));
    assert_eq!((m.get(busy).source, m.get(busy).mtype, m.get(busy).payload[0]), (ep(&k, server), 20, 2));
    assert_eq!(state(&m.table(server, TABLE, 2)[1]), done(Ok(())));
    // Exactly once.
    assert_eq!(k.receive(&mut m, busy, Endpoint::ANY, BUF), Outcome::Blocked);
    assert_eq!(k.procs[busy].async_from, 0);
}

#[test]
fn senda_messages_come_after_notifications_and_queued_senders() {
    let (mut k, mut m, s) = system(4);
    let r = s[0];
    m.put_table(s[1], TABLE, &[entry(&k, r, 1)]);
    k.senda(&mut m, s[1], TABLE, 1);
    m.put(s[2], 7, 2);
    k.send(&mut m, s[2], ep(&k, r), BUF, SendMode::Blocking);
    k.notify(&mut m, s[3], ep(&k, r));
    let mut order = std::vec::Vec::new();
    for _ in 0..3 {
        assert_eq!(k.receive(&mut m, r, Endpoint::ANY, BUF), Outcome::Done(0));
        let got = m.get(r);
        order.push((got.source, got.mtype));
    }
    assert_eq!(order, [(ep(&k, s[3]), NOTIFY_MTYPE), (ep(&k, s[2]), 7), (ep(&k, s[1]), 20)]);
}

#[test]
fn senda_entries_with_bad_destinations_complete_with_errors() {
    let mut k = Kernel::new();
    let mut m = FakeMemory::default();
    let server = k.spawn("server", 4, Privileges::system(0, 0)).unwrap();
    let a = k.spawn("a", 4, Privileges::all()).unwrap();
    let b = k.spawn("b", 4, Privileges::all()).unwrap();
    k.allow_send(server, a);
    let mut unknown_flags = entry(&k, a, 5);
    unknown_flags.flags |= 0x100;
    let entries = [
        SendaEntry::new(Endpoint::new(50, 3), Message::new(1)), // dead
        entry(&k, b, 2),                                        // not granted
        entry(&k, server, 3),                                   // itself
        unknown_flags,
        SendaEntry::default(), // EMPTY: untouched
        SendaEntry { flags: FLAG_VALID | FLAG_DONE, result: 99, ..entry(&k, a, 4) }, // already done
    ];
    m.put_table(server, TABLE, &entries);
    assert_eq!(k.senda(&mut m, server, TABLE, entries.len()), Outcome::Done(0));
    let table = m.table(server, TABLE, entries.len());
    assert_eq!(state(&table[0]), done(Err(Error::DeadSrcDst)));
    assert_eq!(state(&table[1]), done(Err(Error::CallDenied)));
    assert_eq!(state(&table[2]), done(Err(Error::Invalid)));
    assert_eq!((table[3].flags & FLAG_DONE, table[3].result), (FLAG_DONE, Error::Invalid.to_return() as i32));
    assert_eq!(table[4], SendaEntry::default());
    assert_eq!(state(&table[5]), (FLAG_VALID | FLAG_DONE, 99));
    // Nothing is pending, so the kernel keeps no table.
    assert!(k.procs[server].senda_table.is_none());
    assert_eq!(k.procs[a].async_from | k.procs[b].async_from, 0);
}

#[test]
fn senda_refuses_oversized_and_unreadable_or_unwritable_tables() {
    let (mut k, mut m, s) = system(2);
    assert_eq!(k.senda(&mut m, s[0], TABLE, SENDA_MAX_ENTRIES + 1), err(Error::Domain));
    assert_eq!(k.senda(&mut m, s[0], BAD - 80, 2), err(Error::Fault));
    assert_eq!(k.senda(&mut m, s[0], READ_ONLY, 1), err(Error::Fault));
    assert_eq!(k.senda(&mut m, s[0], u64::MAX - 100, 2), err(Error::Fault));
    // Nothing was delivered from a refused table.
    k.receive(&mut m, s[1], Endpoint::ANY, BUF);
    m.put_table(s[0], BAD - 160, &[entry(&k, s[1], 1)]);
    assert_eq!(k.senda(&mut m, s[0], BAD - 160, 3), err(Error::Fault));
    assert_eq!(m.take_result(s[1]), None);
    assert_eq!(k.senda(&mut m, s[0], TABLE, SENDA_MAX_ENTRIES), Outcome::Done(0));
}

#[test]
fn a_new_senda_replaces_the_previous_table() {
    let (mut k, mut m, s) = system(2);
    let (server, r) = (s[0], s[1]);
    m.put_table(server, TABLE, &[entry(&k, r, 1)]);
    k.senda(&mut m, server, TABLE, 1);
    let second = TABLE + 0x1000;
    m.put_table(server, second, &[entry(&k, r, 2)]);
    k.senda(&mut m, server, second, 1);
    assert_eq!(k.receive(&mut m, r, Endpoint::ANY, BUF), Outcome::Done(0));
    assert_eq!(m.get(r).payload[0], 2);
    // The first table's entry is forgotten, never delivered nor completed.
    assert_eq!(k.receive(&mut m, r, Endpoint::ANY, BUF), Outcome::Blocked);
    assert!(m.table(server, TABLE, 1)[0].is_pending());
    // SENDA with no entries withdraws the table.
    k.exit(&mut m, r);
    let r = k.spawn("r", 4, Privileges::all()).unwrap();
    m.put_table(server, TABLE, &[entry(&k, r, 3)]);
    k.senda(&mut m, server, TABLE, 1);
    k.senda(&mut m, server, TABLE, 0);
    assert_eq!(k.receive(&mut m, r, Endpoint::ANY, BUF), Outcome::Blocked);
}

#[test]
fn senda_with_notify_tells_the_sender_about_later_completion() {
    let (mut k, mut m, s) = system(2);
    let (server, r) = (s[0], s[1]);
    let e = SendaEntry { flags: FLAG_VALID | FLAG_NOTIFY, ..entry(&k, r, 1) };
    m.put_table(server, TABLE, &[e]);
    k.senda(&mut m, server, TABLE, 1);
    assert_eq!(k.receive(&mut m, server, Endpoint::ANY, BUF), Outcome::Blocked);
    assert_eq!(k.receive(&mut m, r, Endpoint::ANY, BUF), Outcome::Done(0));
    assert_eq!(m.take_result(server), Some(0));
    let got = m.get(server);
    assert_eq!((got.source, got.mtype, got.payload[0]), (Endpoint::SYSTEM, NOTIFY_MTYPE, EVENT_SENDA_DONE));
    assert_eq!(m.table(server, TABLE, 1)[0].flags, FLAG_VALID | FLAG_NOTIFY | FLAG_DONE);
}

#[test]
fn senda_is_not_a_reply_and_respects_receive_from() {
    let (mut k, mut m, s) = system(3);
    let (client, server, other) = (s[0], s[1], s[2]);
    k.receive(&mut m, server, Endpoint::ANY, BUF);
    k.sendrec(&mut m, client, ep(&k, server), BUF);
    m.put_table(server, TABLE, &[entry(&k, client, 1)]);
    k.senda(&mut m, server, TABLE, 1);
    assert_eq!(m.take_result(client), None);
    assert!(m.table(server, TABLE, 1)[0].is_pending());
    k.send(&mut m, server, ep(&k, client), BUF, SendMode::NonBlocking);
    assert_eq!(m.take_result(client), Some(0));
    // RECEIVE(other) passes over the pending entry, RECEIVE(server) takes it.
    assert_eq!(k.receive(&mut m, client, ep(&k, other), BUF), Outcome::Blocked);
    k.exit(&mut m, other);
    assert_eq!(k.receive(&mut m, client, ep(&k, server), BUF), Outcome::Done(0));
    assert_eq!(m.get(client).payload[0], 1);
}

#[test]
fn a_table_that_becomes_unreadable_is_dropped() {
    let (mut k, mut m, s) = system(2);
    m.put_table(s[0], TABLE, &[entry(&k, s[1], 1)]);
    k.senda(&mut m, s[0], TABLE, 1);
    // Simulate the sender unmapping it: point the kernel's record at bad
    // memory.
    k.procs[s[0]].senda_table.as_mut().unwrap().addr = BAD;
    assert_eq!(k.receive(&mut m, s[1], Endpoint::ANY, BUF), Outcome::Blocked);
    assert!(k.procs[s[0]].senda_table.is_none());
    assert_eq!(k.procs[s[1]].async_from, 0);
}

#[test]
fn a_withdrawn_grant_refuses_pending_entries() {
    let (mut k, mut m, s) = system(2);
    m.put_table(s[0], TABLE, &[entry(&k, s[1], 1)]);
    k.senda(&mut m, s[0], TABLE, 1);
    k.set_privileges(s[0], Privileges::system(0, 0));
    assert_eq!(k.receive(&mut m, s[1], Endpoint::ANY, BUF), Outcome::Blocked);
    assert_eq!(state(&m.table(s[0], TABLE, 1)[0]), done(Err(Error::CallDenied)));
}

/// The kernel's half of a full reply queue (`rt::senda_queue`, the
/// `reply-flood/disk-client` row of `viv threats`): a table whose every
/// entry but one waits for a client that never receives. The call does
/// not block the sender, the one entry for another client is delivered
/// when that client receives, the rest stay pending (nothing dropped),
/// and a full table plus one more entry is refused whole (`Domain`), so
/// the queue, not the kernel, must turn away what does not fit.
#[test]
fn a_full_table_for_a_client_that_never_receives_blocks_no_one_and_serves_the_others() {
    let (mut k, mut m, s) = system(3);
    let (driver, deaf, other) = (s[0], s[1], s[2]);
    let mut table: std::vec::Vec<SendaEntry> = (0..SENDA_MAX_ENTRIES as u64 - 1).map(|i| entry(&k, deaf, i)).collect();
    table.push(entry(&k, other, 99));
    m.put_table(driver, TABLE, &table);
    assert_eq!(k.senda(&mut m, driver, TABLE, SENDA_MAX_ENTRIES), Outcome::Done(0));
    assert!(k.procs[driver].is_ready());
    assert_eq!(k.receive(&mut m, other, Endpoint::ANY, BUF), Outcome::Done(0));
    assert_eq!((m.get(other).source, m.get(other).payload[0]), (ep(&k, driver), 99));
    let after = m.table(driver, TABLE, SENDA_MAX_ENTRIES);
    assert!(after[..SENDA_MAX_ENTRIES - 1].iter().all(SendaEntry::is_pending));
    assert_eq!(state(&after[SENDA_MAX_ENTRIES - 1]), done(Ok(())));
    // One entry more than a table holds: refused, the sender not blocked.
    table.push(entry(&k, other, 100));
    m.put_table(driver, TABLE, &table);
    assert_eq!(k.senda(&mut m, driver, TABLE, SENDA_MAX_ENTRIES + 1), err(Error::Domain));
    assert!(k.procs[driver].is_ready());
}
