//! DS's table kept where DS's death cannot take it: in RS's memory
//! (`abi::proto::ds::backup`). Only the names clients published for
//! themselves: RS publishes every running service in a new DS anyway.
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
//! Subscriptions are not kept: servers subscribe again when RS tells them
//! of the new DS (`rt::names::Watch`).
//!
//! Nobody but DS can write the backup: the kernel lets only the grantee
//! of RS's grant, the current DS endpoint, copy to it, and an old DS's
//! endpoint never matches a new process. `abi::weaken::DS_STATE` switches
//! the backup off.

use crate::store::Store;
use abi::proto::ds::backup::{self, Record, Rules, EMPTY, RECORD_SIZE, SIZE};
use abi::proto::ds::MAX_ENTRIES;
use abi::Error;
use rt::backup::Lent;

/// Where the backup is and what is still to do with it.
pub struct Backup {
    /// The backup RS lends; `None` when off or broken.
    lent: Option<Lent>,
    /// The records of an earlier DS are still to be read (before the
    /// first request: RS moves its grant to us before anyone can send us
    /// one, since it tells nobody of us before that).
    to_restore: bool,
    /// Bit `i`: the backup holds a record in slot `i` (else it is
    /// [`EMPTY`]), so a slot that changes between RS's names and nothing
    /// costs no copy.
    held: u64,
}

impl Backup {
    /// No backup (until [`Backup::start`]).
    pub const fn new() -> Backup {
        Backup { lent: None, to_restore: false, held: 0 }
    }

    /// Uses the backup RS lends (unless `on` is false).
    pub fn start(&mut self, on: bool) {
        self.lent = if on { Lent::of("ds") } else { None };
        self.to_restore = self.lent.is_some();
    }

    /// Stops using a backup that cannot be copied to or from: DS goes on
    /// without (a new DS would then start empty), and says so once.
    fn broken(&mut self, what: &str, e: Error) {
        rt::println!("ds: cannot {} the backup of the table ({:?}); going on without it", what, e);
        self.lent = None;
    }

    /// Takes back what an earlier DS left in the backup, once, before the
    /// first request is handled.
    pub fn restore(&mut self, store: &mut Store, reserved: impl Fn(&[u8; abi::proto::NAME_LEN]) -> bool) {
        let Some(lent) = self.lent.filter(|_| core::mem::take(&mut self.to_restore)) else {
            return;
        };
        static mut BUF: [u8; SIZE] = [0; SIZE];
        // SAFETY: single-threaded, and this is the only reference to BUF.
        let buf = unsafe { &mut *(&raw mut BUF) };
        if let Err(e) = lent.read(0, buf) {
            return self.broken("read", e);
        }
        let record_at = |slot: usize| {
            let mut bytes = [0u8; RECORD_SIZE];
            bytes.copy_from_slice(&buf[slot * RECORD_SIZE..(slot + 1) * RECORD_SIZE]);
            bytes
        };
        if (0..MAX_ENTRIES).all(|slot| record_at(slot) == EMPTY) {
            return; // the first DS, or one that held nothing
        }
        let mut found = [None; MAX_ENTRIES];
        for (slot, f) in found.iter_mut().enumerate() {
            *f = Record::decode(slot, &record_at(slot));
        }
        let mut table = [rt::sys::ProcRecord::default(); crate::MAX_PROCESSES];
        // Without the process table no owner can be shown alive: nothing
        // comes back but what RS publishes again anyway.
        let live = rt::sys::proc_info(&mut table).map_or(&table[..0], |n| &table[..n]);
        let policy = store.policy();
        let rules = Rules { names: policy.names, quota: policy.quota };
        let kept = backup::select(&found, |ep| live.iter().any(|r| r.endpoint == ep), reserved, rules);
        let (mut taken, mut dropped) = (0, 0);
        for (slot, k) in kept.iter().enumerate() {
            if let Some(r) = k {
                store.restore(slot, r.name, r.endpoint, r.value);
                self.held |= 1 << slot;
                taken += 1;
            } else if record_at(slot) != EMPTY {
                dropped += 1;
                if let Err(e) = lent.write(slot * RECORD_SIZE, &EMPTY) {
                    return self.broken("clear", e);
                }
            }
        }
        rt::println!("ds: took back {} names of the earlier DS, dropped {}", taken, dropped);
    }

    /// Writes the record of every slot that changed since the last call:
    /// a client's entry, or [`EMPTY`] where the backup held one that is
    /// gone (deleted, freed, or replaced by RS).
    pub fn save(&mut self, store: &mut Store) {
        let mut changed = store.take_changed();
        while changed != 0 {
            let Some(lent) = self.lent else { return };
            let slot = changed.trailing_zeros() as usize;
            changed &= changed - 1;
            let record = match store.client_at(slot) {
                Some(e) => Record { name: e.name, endpoint: e.endpoint, value: e.value }.encode(slot),
                None if self.held & 1 << slot != 0 => EMPTY,
                None => continue,
            };
            match lent.write(slot * RECORD_SIZE, &record) {
                Ok(_) if record == EMPTY => self.held &= !(1 << slot),
                Ok(_) => self.held |= 1 << slot,
                Err(e) => self.broken("write", e),
            }
        }
    }
}
