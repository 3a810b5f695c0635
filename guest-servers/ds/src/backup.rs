//! DS's table kept where DS's death cannot take it: in RS's memory
//! (`abi::proto::ds::backup`). Only the names clients published for
//! themselves, and the programs' subscriptions: RS publishes every
//! running service in a new DS anyway, and has the services subscribe
//! again.
//!
//! Why a backup in RS rather than clients that publish again (DS's
//! restart announced, and every publisher publishing again): every
//! program that ever published would have to hear of the new DS and
//! redo its calls, but a program learns of a new DS only when it next
//! calls DS, and a name it published and then relied on others to look
//! up would be missing meanwhile; the per-client limits would start from
//! zero, so a client could hold more names after a restart than before.
//! RS is trusted, outlives DS by design (its death powers the machine
//! off) and already starts every DS, so it can lend each new DS the same
//! memory; DS writes a slot's record with one safe copy (a kernel call,
//! no message to another process) before it answers the request that
//! changed the slot, so an answered PUBLISH or DELETE of a client's name
//! is never lost. A service's start costs nothing: RS's names are not
//! written.
//!
//! What comes back is checked as if it were published again: each record
//! has a check word over its words and its slot, its owner must still be
//! alive (the kernel's process table, as for `reclaim_dead`), it must not
//! hold a service's name, and no client gets back more than its limit
//! (`abi::proto::ds::backup::select`). Records not taken
//! back are cleared, so they cannot return at a later restart.
//! Programs' subscriptions are kept the same way (one record per
//! subscriber slot, after the names'; an owner that died or one over its
//! limit does not get it back), and each restored subscriber is told at
//! once of the names it matches; the services' are not: RS tells every
//! service of the new DS and it subscribes again (`rt::names::Watch`).
//!
//! Nobody but DS can write the backup: the kernel lets only the grantee
//! of RS's grant, the current DS endpoint, copy to it, and an old DS's
//! endpoint never matches a new process. `abi::weaken::DS_STATE` switches
//! the backup off.

use crate::store::Store;
use abi::proto::ds::backup::{
    self, Record, Rules, Subscription, EMPTY, EMPTY_SUBSCRIPTION, RECORD_SIZE, SUBSCRIPTIONS_AT, SUBSCRIPTION_SIZE,
    TOTAL_SIZE,
};
use abi::proto::ds::{MAX_ENTRIES, MAX_SUBSCRIBERS};
use rt::backup::InUse;

/// Where the backup is and what is still to do with it.
pub struct Backup {
    /// The backup RS lends.
    backup: InUse,
    /// Bit `i`: the backup holds a record in slot `i` (else it is
    /// [`EMPTY`]), so a slot that changes between RS's names and nothing
    /// costs no copy.
    held: u64,
    /// The same for subscriber slots.
    held_subscriptions: u64,
}

impl Backup {
    /// No backup (until [`Backup::start`]).
    pub const fn new() -> Backup {
        Backup { backup: InUse::new("ds"), held: 0, held_subscriptions: 0 }
    }

    /// Uses the backup RS lends (unless `on` is false).
    pub fn start(&mut self, on: bool) {
        self.backup.start(on);
    }

    /// Takes back what an earlier DS left in the backup, once, before the
    /// first request is handled.
    pub fn restore(&mut self, store: &mut Store, reserved: impl Fn(&[u8; abi::proto::NAME_LEN]) -> bool) {
        let Some(lent) = self.backup.for_restore() else {
            return;
        };
        static mut BUF: [u8; TOTAL_SIZE] = [0; TOTAL_SIZE];
        // SAFETY: single-threaded, and this is the only reference to BUF.
        let buf = unsafe { &mut *(&raw mut BUF) };
        if let Err(e) = lent.read(0, buf) {
            return self.backup.broken("read", e);
        }
        if buf.iter().all(|&b| b == 0) {
            return; // the first DS, or one that held nothing
        }
        let record_at = |slot: usize| {
            let mut bytes = [0u8; RECORD_SIZE];
            bytes.copy_from_slice(&buf[slot * RECORD_SIZE..(slot + 1) * RECORD_SIZE]);
            bytes
        };
        let subscription_at = |slot: usize| {
            let mut bytes = [0u8; SUBSCRIPTION_SIZE];
            bytes.copy_from_slice(&buf[SUBSCRIPTIONS_AT + slot * SUBSCRIPTION_SIZE..][..SUBSCRIPTION_SIZE]);
            bytes
        };
        let mut found = [None; MAX_ENTRIES];
        for (slot, f) in found.iter_mut().enumerate() {
            *f = Record::decode(slot, &record_at(slot));
        }
        let mut found_subscriptions = [None; MAX_SUBSCRIBERS];
        for (slot, f) in found_subscriptions.iter_mut().enumerate() {
            *f = Subscription::decode(slot, &subscription_at(slot));
        }
        let mut table = [rt::sys::ProcRecord::default(); crate::MAX_PROCESSES];
        // Without the process table no owner can be shown alive: nothing
        // comes back but what RS publishes again anyway.
        let live = rt::sys::proc_info(&mut table).map_or(&table[..0], |n| &table[..n]);
        let alive = |ep| live.iter().any(|r: &rt::sys::ProcRecord| r.endpoint == ep);
        let policy = store.policy();
        let rules = Rules { names: policy.names, quota: policy.quota };
        let kept = backup::select(&found, alive, reserved, rules);
        let (mut taken, mut dropped) = (0, 0);
        for (slot, k) in kept.iter().enumerate() {
            if let Some(r) = k {
                store.restore(slot, r.name, r.endpoint, r.value);
                self.held |= 1 << slot;
                taken += 1;
            } else if record_at(slot) != EMPTY {
                dropped += 1;
                if let Err(e) = lent.write(slot * RECORD_SIZE, &EMPTY) {
                    return self.backup.broken("clear", e);
                }
            }
        }
        rt::println!("ds: took back {} names of the earlier DS, dropped {}", taken, dropped);
        // The subscriptions, after the names: each learns at once of the
        // names it matches that came back, as at a SUBSCRIBE (and of the
        // services as RS publishes them again).
        let kept = backup::select_subscriptions(&found_subscriptions, alive, rules);
        let (mut taken, mut dropped) = (0, 0);
        for (slot, k) in kept.iter().enumerate() {
            if let Some(sub) = k {
                if store.restore_subscription(slot, sub.endpoint, sub.pattern) {
                    let _ = rt::ipc::notify(sub.endpoint);
                }
                self.held_subscriptions |= 1 << slot;
                taken += 1;
            } else if subscription_at(slot) != EMPTY_SUBSCRIPTION {
                dropped += 1;
                if let Err(e) = lent.write(SUBSCRIPTIONS_AT + slot * SUBSCRIPTION_SIZE, &EMPTY_SUBSCRIPTION) {
                    return self.backup.broken("clear", e);
                }
            }
        }
        if taken + dropped > 0 {
            rt::println!("ds: took back {} subscriptions of the earlier DS, dropped {}", taken, dropped);
        }
    }

    /// Writes the record of every entry and subscriber slot that changed
    /// since the last call: a client's entry or subscription, or an empty
    /// record where the backup held one that is gone (deleted, freed, or
    /// replaced by RS's or a service's).
    pub fn save(&mut self, store: &mut Store) {
        let mut changed = store.take_changed();
        while changed != 0 {
            let slot = changed.trailing_zeros() as usize;
            changed &= changed - 1;
            let record = store.client_at(slot).map(|e| Record { name: e.name, endpoint: e.endpoint, value: e.value });
            let mut held = self.held;
            self.write_slot(slot * RECORD_SIZE, record.map(|r| r.encode(slot)), EMPTY, &mut held, slot);
            self.held = held;
        }
        let mut changed = store.take_changed_subscribers();
        while changed != 0 {
            let slot = changed.trailing_zeros() as usize;
            changed &= changed - 1;
            let sub =
                store.client_subscription_at(slot).map(|s| Subscription { pattern: s.pattern, endpoint: s.endpoint });
            let mut held = self.held_subscriptions;
            let at = SUBSCRIPTIONS_AT + slot * SUBSCRIPTION_SIZE;
            self.write_slot(at, sub.map(|s| s.encode(slot)), EMPTY_SUBSCRIPTION, &mut held, slot);
            self.held_subscriptions = held;
        }
    }

    /// Writes `record` of slot `slot` at `at`, or `empty` when there is
    /// none and the backup holds one (bit `slot` of `held`); keeps `held`
    /// up to date.
    fn write_slot<const N: usize>(
        &mut self,
        at: usize,
        record: Option<[u8; N]>,
        empty: [u8; N],
        held: &mut u64,
        slot: usize,
    ) {
        let Some(lent) = self.backup.lent() else { return };
        let bytes = match record {
            Some(bytes) => bytes,
            None if *held & 1 << slot != 0 => empty,
            None => return,
        };
        match lent.write(at, &bytes) {
            Ok(()) if bytes == empty => *held &= !(1 << slot),
            Ok(()) => *held |= 1 << slot,
            Err(e) => self.backup.broken("write", e),
        }
    }
}
