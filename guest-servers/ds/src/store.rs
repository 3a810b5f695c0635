//! The data store's state: the entries and the subscribers, with no IPC.
//!
//! Why a pending-change bitmap per subscriber instead of a queue of change
//! messages: DS must never block on a client and must not let a client
//! make it buffer without bound (MINIX 3's rule against resource
//! exhaustion). A subscriber that never calls CHECK costs one `u64`; a
//! change to an entry sets one bit, however often it happens; the
//! subscriber learns the entry's *current* state when it checks.
//!
//! Ownership and quotas (docs/security.md): an entry belongs to whoever
//! published it first (RS for the services it publishes); a service's name
//! is RS's even before it exists or while it is down. Clients own at most
//! `MAX_ENTRIES_PER_CLIENT` names and `MAX_SUBSCRIPTIONS_PER_CLIENT`
//! subscriptions each, and the last `RESERVED_FOR_RS` entries are RS's, so
//! no client can crowd out another or the services.
//!
//! A deleted entry stays in its slot as a tombstone (endpoint `NONE`) while
//! some subscriber still has its bit set, so the subscriber can learn the
//! name that went away; the slot is reused only when nobody is left to tell.

use abi::proto::{ds, NAME_LEN};
use abi::{Endpoint, Error};

/// A name as stored: NUL-padded bytes.
pub type Name = [u8; NAME_LEN];

/// The pattern that matches every name.
pub const WILDCARD: Name = *b"*\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0";

/// One name.
#[derive(Clone, Copy)]
pub struct Entry {
    pub name: Name,
    /// `Endpoint::NONE` while a tombstone.
    pub endpoint: Endpoint,
    pub value: u64,
    /// False for a tombstone (deleted, still to be reported).
    pub live: bool,
    /// Who published it: RS (`trusted`) or the endpoint it names.
    pub by_rs: bool,
}

/// Which defenses the store applies (`abi::weaken`).
#[derive(Clone, Copy)]
pub struct Policy {
    /// Names are owned (`abi::weaken::DS_NAMES`).
    pub names: bool,
    /// Per-client limits and RS's reserve (`abi::weaken::DS_QUOTA`).
    pub quota: bool,
    /// Dead clients' names are freed when room runs out
    /// (`abi::weaken::DS_RECLAIM`).
    pub reclaim: bool,
}

/// Who asks, as DS judges a request.
#[derive(Clone, Copy)]
pub struct Caller {
    pub endpoint: Endpoint,
    /// It is RS.
    pub trusted: bool,
}

/// One subscription: `endpoint` watches names matching `pattern`.
#[derive(Clone, Copy)]
pub struct Subscriber {
    pub endpoint: Endpoint,
    pub pattern: Name,
    /// Bit `i`: entry slot `i` changed since this subscriber last checked it.
    pub pending: u64,
}

const _: () = assert!(ds::MAX_ENTRIES <= 64, "pending bitmaps are one u64");

/// The whole store.
pub struct Store {
    entries: [Option<Entry>; ds::MAX_ENTRIES],
    subscribers: [Option<Subscriber>; ds::MAX_SUBSCRIBERS],
    policy: Policy,
    /// Bit `i`: entry slot `i` was published or deleted since the last
    /// [`Store::take_changed`] (its backup record is out of date).
    changed_slots: u64,
    /// Bit `i`: subscriber slot `i` was taken or freed since the last
    /// [`Store::take_changed_subscribers`].
    changed_subscribers: u64,
}

const _: () = assert!(ds::MAX_SUBSCRIBERS <= 64, "the changed-subscriber bitmap is one u64");

fn matches(pattern: &Name, name: &Name) -> bool {
    *pattern == WILDCARD || pattern == name
}

impl Store {
    /// An empty store.
    pub const fn new() -> Store {
        Store {
            entries: [None; ds::MAX_ENTRIES],
            subscribers: [None; ds::MAX_SUBSCRIBERS],
            policy: Policy { names: true, quota: true, reclaim: true },
            changed_slots: 0,
            changed_subscribers: 0,
        }
    }

    /// The subscriber slots taken or freed since the last call (a
    /// bitmap), for the backup (`crate::backup`); clears them.
    pub fn take_changed_subscribers(&mut self) -> u64 {
        core::mem::take(&mut self.changed_subscribers)
    }

    /// The subscription in subscriber slot `slot` if it is a program's:
    /// not a service's (an endpoint that RS published), since RS tells
    /// every service to subscribe again in a new DS.
    pub fn client_subscription_at(&self, slot: usize) -> Option<Subscriber> {
        let s = self.subscribers.get(slot).copied().flatten()?;
        let service = self.entries.iter().flatten().any(|e| e.live && e.by_rs && e.endpoint == s.endpoint);
        (!service).then_some(s)
    }

    /// Puts back a program's subscription of an earlier DS in its slot
    /// (`crate::backup` chose it by the rules `subscribe` applies), with
    /// every matching entry pending, as a SUBSCRIBE marks them; returns
    /// whether any is.
    pub fn restore_subscription(&mut self, slot: usize, endpoint: Endpoint, pattern: Name) -> bool {
        let pending = self.matching(&pattern);
        match self.subscribers.get_mut(slot) {
            Some(s) => {
                *s = Some(Subscriber { endpoint, pattern, pending });
                pending != 0
            }
            None => false,
        }
    }

    /// The live entries whose names match `pattern` (a bitmap).
    fn matching(&self, pattern: &Name) -> u64 {
        let live = |e: &Option<Entry>| matches!(e, Some(e) if e.live && matches(pattern, &e.name));
        (0..ds::MAX_ENTRIES).filter(|&slot| live(&self.entries[slot])).fold(0, |bits, slot| bits | 1 << slot)
    }

    /// The slots published or deleted since the last call (a bitmap), for
    /// the backup (`crate::backup`); clears them.
    pub fn take_changed(&mut self) -> u64 {
        core::mem::take(&mut self.changed_slots)
    }

    /// The live entry in slot `slot` that a client published for itself,
    /// if any (not RS's, not a tombstone).
    pub fn client_at(&self, slot: usize) -> Option<Entry> {
        self.entries.get(slot).copied().flatten().filter(|e| e.live && !e.by_rs)
    }

    /// Puts back a client's entry of an earlier DS in its slot
    /// (`crate::backup` chose it by the rules `publish` applies). Only for
    /// a new store: nobody subscribed yet, so nobody is told.
    pub fn restore(&mut self, slot: usize, name: Name, endpoint: Endpoint, value: u64) {
        if let Some(e) = self.entries.get_mut(slot) {
            *e = Some(Entry { name, endpoint, value, live: true, by_rs: false });
        }
    }

    /// Sets the defenses (once, at start).
    pub fn set_policy(&mut self, policy: Policy) {
        self.policy = policy;
    }

    /// The defenses in force.
    pub fn policy(&self) -> Policy {
        self.policy
    }

    /// Frees what clients for which `alive` is false held: their names
    /// (deleted as by DELETE, so subscribers learn they went away) and
    /// their subscriptions. RS's entries are never touched: a service's
    /// name stays RS's while the service is down or restarting. Returns
    /// the subscribers to notify and how many names were freed.
    pub fn reclaim(&mut self, alive: impl Fn(Endpoint) -> bool) -> ([Endpoint; ds::MAX_SUBSCRIBERS], usize) {
        let mut notify = [Endpoint::NONE; ds::MAX_SUBSCRIBERS];
        for (i, s) in self.subscribers.iter_mut().enumerate() {
            if matches!(s, Some(x) if !alive(x.endpoint)) {
                *s = None;
                self.changed_subscribers |= 1 << i;
            }
        }
        let mut freed = 0;
        for slot in 0..ds::MAX_ENTRIES {
            let Some(entry) = self.entries[slot].filter(|e| e.live && !e.by_rs && !alive(e.endpoint)) else {
                continue;
            };
            let rs = Caller { endpoint: entry.endpoint, trusted: true };
            if let Ok(who) = self.delete(rs, &entry.name) {
                for (n, w) in notify.iter_mut().zip(who) {
                    if w != Endpoint::NONE {
                        *n = w;
                    }
                }
                freed += 1;
            }
        }
        (notify, freed)
    }

    /// Live entries published by clients (not RS): all of them, and those
    /// of `endpoint`.
    fn client_entries(&self, endpoint: Endpoint) -> (usize, usize) {
        let clients = || self.entries.iter().flatten().filter(|e| e.live && !e.by_rs);
        (clients().count(), clients().filter(|e| e.endpoint == endpoint).count())
    }

    /// Whether a client may add one more entry.
    fn client_may_add(&self, endpoint: Endpoint) -> Result<(), Error> {
        let (all, mine) = self.client_entries(endpoint);
        if self.policy.quota && (mine >= ds::MAX_ENTRIES_PER_CLIENT || all >= ds::MAX_ENTRIES - ds::RESERVED_FOR_RS) {
            return Err(Error::TooMany);
        }
        Ok(())
    }

    fn slot_of(&self, name: &Name) -> Option<usize> {
        self.entries.iter().position(|e| matches!(e, Some(e) if e.live && e.name == *name))
    }

    fn reported_by_all(&self, slot: usize) -> bool {
        self.subscribers.iter().flatten().all(|s| s.pending & 1 << slot == 0)
    }

    /// A slot for a new entry: an empty one, else a tombstone nobody still
    /// has to learn about, else the oldest-numbered tombstone (its pending
    /// bits are dropped: the table is full of deletions nobody checked).
    fn free_slot(&mut self) -> Option<usize> {
        if let Some(i) = self.entries.iter().position(Option::is_none) {
            return Some(i);
        }
        let tombstone = |e: &Option<Entry>| matches!(e, Some(e) if !e.live);
        if let Some(i) = (0..ds::MAX_ENTRIES).find(|&i| tombstone(&self.entries[i]) && self.reported_by_all(i)) {
            return Some(i);
        }
        let i = self.entries.iter().position(tombstone)?;
        for s in self.subscribers.iter_mut().flatten() {
            s.pending &= !(1 << i);
        }
        Some(i)
    }

    /// Marks slot `slot` changed for every matching subscriber; returns the
    /// subscribers to notify (`Endpoint::NONE` holes).
    fn changed(&mut self, slot: usize) -> [Endpoint; ds::MAX_SUBSCRIBERS] {
        let mut out = [Endpoint::NONE; ds::MAX_SUBSCRIBERS];
        let Some(entry) = self.entries[slot] else { return out };
        for (i, s) in self.subscribers.iter_mut().enumerate() {
            if let Some(s) = s.as_mut().filter(|s| matches(&s.pattern, &entry.name)) {
                s.pending |= 1 << slot;
                out[i] = s.endpoint;
            }
        }
        out
    }

    /// Publishes `name` → (`endpoint`, `value`), replacing an existing
    /// entry. RS may publish anything; others only their own endpoint, only
    /// over an entry that is theirs, never a `reserved` name (a service's),
    /// and within their quota. Returns the subscribers to notify.
    pub fn publish(
        &mut self,
        caller: Caller,
        reserved: bool,
        name: Name,
        endpoint: Endpoint,
        value: u64,
    ) -> Result<[Endpoint; ds::MAX_SUBSCRIBERS], Error> {
        if name[0] == 0 || name == WILDCARD {
            return Err(Error::Invalid);
        }
        let client = !caller.trusted;
        if client && (endpoint != caller.endpoint || (self.policy.names && reserved)) {
            return Err(Error::Perm);
        }
        let slot = match self.slot_of(&name) {
            Some(i) => {
                let theirs = self.entries[i].is_some_and(|e| e.by_rs || e.endpoint != caller.endpoint);
                if client && self.policy.names && theirs {
                    return Err(Error::Perm);
                }
                i
            }
            None => {
                if client {
                    self.client_may_add(caller.endpoint)?;
                }
                self.free_slot().ok_or(Error::TooMany)?
            }
        };
        self.entries[slot] = Some(Entry { name, endpoint, value, live: true, by_rs: caller.trusted });
        self.changed_slots |= 1 << slot;
        Ok(self.changed(slot))
    }

    /// The live entry `name`.
    pub fn lookup(&self, name: &Name) -> Option<Entry> {
        self.slot_of(name).and_then(|i| self.entries[i])
    }

    /// Deletes `name` (RS, or the client that published it). Returns the
    /// subscribers to notify.
    pub fn delete(&mut self, caller: Caller, name: &Name) -> Result<[Endpoint; ds::MAX_SUBSCRIBERS], Error> {
        let slot = self.slot_of(name).ok_or(Error::NoEntry)?;
        let names = self.policy.names;
        let entry = self.entries[slot].as_mut().ok_or(Error::NoEntry)?;
        if !caller.trusted && names && (entry.by_rs || entry.endpoint != caller.endpoint) {
            return Err(Error::Perm);
        }
        entry.live = false;
        entry.endpoint = Endpoint::NONE;
        entry.value = 0;
        self.changed_slots |= 1 << slot;
        let notify = self.changed(slot);
        if self.reported_by_all(slot) {
            self.entries[slot] = None;
        }
        Ok(notify)
    }

    /// Subscribes `endpoint` to `pattern`. Entries that already match are
    /// marked pending at once, so a subscriber never misses the state that
    /// existed before it subscribed. Returns whether anything is pending.
    pub fn subscribe(&mut self, caller: Caller, pattern: Name) -> Result<bool, Error> {
        if pattern[0] == 0 {
            return Err(Error::Invalid);
        }
        let endpoint = caller.endpoint;
        let index = match self
            .subscribers
            .iter()
            .position(|s| matches!(s, Some(s) if s.endpoint == endpoint && s.pattern == pattern))
        {
            Some(i) => i,
            None => {
                let held = self.subscribers.iter().flatten().filter(|s| s.endpoint == endpoint).count();
                if !caller.trusted && self.policy.quota && held >= ds::MAX_SUBSCRIPTIONS_PER_CLIENT {
                    return Err(Error::TooMany);
                }
                let i = self.subscribers.iter().position(Option::is_none).ok_or(Error::TooMany)?;
                self.subscribers[i] = Some(Subscriber { endpoint, pattern, pending: 0 });
                self.changed_subscribers |= 1 << i;
                i
            }
        };
        let pending = self.matching(&pattern);
        let s = self.subscribers[index].as_mut().ok_or(Error::TooMany)?;
        s.pending |= pending;
        Ok(s.pending != 0)
    }

    /// The next changed entry for `endpoint` (over all its subscriptions);
    /// clears its bit. A tombstone everyone has now seen is freed.
    pub fn check(&mut self, endpoint: Endpoint) -> Option<Entry> {
        loop {
            let mine = || self.subscribers.iter().flatten().filter(|s| s.endpoint == endpoint);
            let pending = mine().fold(0u64, |bits, s| bits | s.pending);
            if pending == 0 {
                return None;
            }
            let slot = pending.trailing_zeros() as usize;
            for s in self.subscribers.iter_mut().flatten().filter(|s| s.endpoint == endpoint) {
                s.pending &= !(1 << slot);
            }
            let entry = self.entries[slot];
            if matches!(entry, Some(e) if !e.live) && self.reported_by_all(slot) {
                self.entries[slot] = None;
            }
            if entry.is_some() {
                return entry;
            }
        }
    }

    /// Drops every subscription of `endpoint` (it died).
    pub fn unsubscribe_all(&mut self, endpoint: Endpoint) {
        for (i, s) in self.subscribers.iter_mut().enumerate() {
            if matches!(s, Some(x) if x.endpoint == endpoint) {
                *s = None;
                self.changed_subscribers |= 1 << i;
            }
        }
        for slot in 0..ds::MAX_ENTRIES {
            if matches!(self.entries[slot], Some(e) if !e.live) && self.reported_by_all(slot) {
                self.entries[slot] = None;
            }
        }
    }
}
