//! The names programs published in DS for themselves, and their
//! subscriptions, kept outside DS so that a restarted DS has them again
//! (guest-servers/ds/src/backup.rs, docs/servers-dying.md). RS's names
//! (the services') and the services' subscriptions are not kept: RS
//! publishes every running service in a new DS anyway, and tells every
//! service to subscribe again, so a record of them would cost a kernel
//! call at every service start for nothing.
//!
//! RS owns the memory: the backup it lends DS (`crate::backup`; DS's
//! image entry says `backup = true`), of which the records take the
//! first [`SIZE`] bytes, lent to the current DS and to no other process
//! (RS moves the grant to each new DS before it tells anyone of the new
//! DS, so before DS's first request). DS writes the record of an
//! entry slot with one safe copy whenever a client's name in it changes,
//! before it answers the request that changed it; a new DS reads all
//! records before its first request and takes back those that [`select`]
//! keeps.
//!
//! Why a check word per record: a record reaches the buffer in one kernel
//! call, so DS's death cannot tear it, but a copy garbled on its way (a
//! fault plan, a flipped bit in the offset) could land bytes that look
//! like a record, or a record in another slot's place. The check word
//! covers the record's words and its slot number; a record that does not
//! fit it is dropped, as is one that fails [`select`]'s rules, so what
//! comes back is never more than DS itself would have accepted from the
//! same publishers.

use super::{MAX_ENTRIES, MAX_ENTRIES_PER_CLIENT, MAX_SUBSCRIBERS, MAX_SUBSCRIPTIONS_PER_CLIENT, RESERVED_FOR_RS};
use crate::proto::NAME_LEN;
use crate::Endpoint;

/// Bytes of one record: name (16), endpoint (4), flags (4), value (8),
/// check word (8).
pub const RECORD_SIZE: usize = 40;
/// Bytes of the entries' records: one per entry slot of DS.
pub const SIZE: usize = MAX_ENTRIES * RECORD_SIZE;
/// Bytes of one subscription record: pattern (16), endpoint and flags
/// (8), check word (8).
pub const SUBSCRIPTION_SIZE: usize = 32;
/// Where the subscription records start: one per subscriber slot of DS,
/// after the entries'.
pub const SUBSCRIPTIONS_AT: usize = SIZE;
/// Bytes of the whole backup.
pub const TOTAL_SIZE: usize = SUBSCRIPTIONS_AT + MAX_SUBSCRIBERS * SUBSCRIPTION_SIZE;
const _: () = assert!(TOTAL_SIZE <= crate::backup::SIZE, "DS's records fit the backup RS lends");
/// An empty slot: all zero (its check word does not fit, see the tests).
pub const EMPTY: [u8; RECORD_SIZE] = [0; RECORD_SIZE];

/// Record flag: the record holds a live entry (never set in [`EMPTY`]).
const FLAG_LIVE: u32 = 1;
/// Mixed into every record's check word, so that a record of all zeros or
/// a block of another protocol's words does not check out.
const SEAL: u32 = 0xD5BA_C0B0;
/// The same for subscription records (distinct, so that an entry's
/// record never passes for a subscription's).
const SUBSCRIPTION_SEAL: u32 = 0x5B5C_0B0D;
/// Record flag of a live subscription.
const FLAG_SUBSCRIBED: u32 = 2;

/// One live entry of DS that its endpoint published for itself.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Record {
    /// NUL-padded.
    pub name: [u8; NAME_LEN],
    /// The owner.
    pub endpoint: Endpoint,
    pub value: u64,
}

fn words_of(record: &Record) -> [u64; 4] {
    let mut lo = [0u8; 8];
    let mut hi = [0u8; 8];
    lo.copy_from_slice(&record.name[..8]);
    hi.copy_from_slice(&record.name[8..]);
    let endpoint_flags = u64::from(record.endpoint.0) | u64::from(FLAG_LIVE) << 32;
    [u64::from_le_bytes(lo), u64::from_le_bytes(hi), endpoint_flags, record.value]
}

fn check_of(slot: usize, words: &[u64; 4]) -> u64 {
    crate::backup::seal(SEAL, slot, words)
}

/// Whether `name` is one DS accepts: not empty, not the wildcard `*`,
/// NUL-padded (no byte after the first NUL).
pub fn well_formed_name(name: &[u8; NAME_LEN]) -> bool {
    let len = name.iter().position(|&b| b == 0).unwrap_or(NAME_LEN);
    len > 0 && name[len..].iter().all(|&b| b == 0) && !(len == 1 && name[0] == b'*')
}

impl Record {
    /// The bytes of this record in slot `slot`.
    pub fn encode(&self, slot: usize) -> [u8; RECORD_SIZE] {
        let words = words_of(self);
        let mut out = [0u8; RECORD_SIZE];
        for (i, w) in words.iter().chain([check_of(slot, &words)].iter()).enumerate() {
            out[i * 8..i * 8 + 8].copy_from_slice(&w.to_le_bytes());
        }
        out
    }

    /// The record in `bytes`, found in slot `slot`; `None` for an empty
    /// slot, or bytes that are not a well-formed record of that slot
    /// (check word, flags, name, endpoint).
    pub fn decode(slot: usize, bytes: &[u8; RECORD_SIZE]) -> Option<Record> {
        let mut words = [0u64; 5];
        for (i, w) in words.iter_mut().enumerate() {
            let mut b = [0u8; 8];
            b.copy_from_slice(&bytes[i * 8..i * 8 + 8]);
            *w = u64::from_le_bytes(b);
        }
        let [lo, hi, endpoint_flags, value, check] = words;
        if check != check_of(slot, &[lo, hi, endpoint_flags, value]) {
            return None;
        }
        if (endpoint_flags >> 32) as u32 != FLAG_LIVE {
            return None;
        }
        let mut name = [0u8; NAME_LEN];
        name[..8].copy_from_slice(&lo.to_le_bytes());
        name[8..].copy_from_slice(&hi.to_le_bytes());
        let endpoint = Endpoint(endpoint_flags as u32);
        if !well_formed_name(&name) || !endpoint.is_process() {
            return None;
        }
        Some(Record { name, endpoint, value })
    }
}

/// The rules DS applies to publishers (`abi::weaken::DS_NAMES`,
/// `abi::weaken::DS_QUOTA`), applied again to what comes back.
#[derive(Clone, Copy, Debug)]
pub struct Rules {
    /// A service's name is RS's alone.
    pub names: bool,
    /// A client owns at most `MAX_ENTRIES_PER_CLIENT` names, and clients
    /// together leave `RESERVED_FOR_RS` entries to RS.
    pub quota: bool,
}

/// What a new DS takes back of the records found (`found[slot]`), in the
/// same slots, by the rules a PUBLISH meets: a record whose owner is no
/// longer `alive` is dropped (it died while DS was down); with
/// `rules.names` a record of a `reserved` name (a service's: RS's alone)
/// is dropped; of two records of one name the lower slot's is kept; and
/// with `rules.quota` no owner keeps more than `MAX_ENTRIES_PER_CLIENT`
/// names, nor all owners together more than `MAX_ENTRIES -
/// RESERVED_FOR_RS` (lowest slots first), so a restart never gives a
/// client more than DS would have let it publish.
pub fn select(
    found: &[Option<Record>; MAX_ENTRIES],
    alive: impl Fn(Endpoint) -> bool,
    reserved: impl Fn(&[u8; NAME_LEN]) -> bool,
    rules: Rules,
) -> [Option<Record>; MAX_ENTRIES] {
    let mut kept: [Option<Record>; MAX_ENTRIES] = [None; MAX_ENTRIES];
    for (slot, record) in found.iter().enumerate() {
        let Some(r) = record.filter(|r| alive(r.endpoint)) else {
            continue;
        };
        let taken = kept.iter().flatten().any(|k| k.name == r.name);
        let full = kept.iter().flatten().count() >= MAX_ENTRIES - RESERVED_FOR_RS
            || kept.iter().flatten().filter(|k| k.endpoint == r.endpoint).count() >= MAX_ENTRIES_PER_CLIENT;
        if taken || (rules.names && reserved(&r.name)) || (rules.quota && full) {
            continue;
        }
        kept[slot] = Some(r);
    }
    kept
}

/// One subscription of a program (not a service) to the names matching
/// `pattern` (a name, or `*` for all).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Subscription {
    /// NUL-padded.
    pub pattern: [u8; NAME_LEN],
    /// The subscriber.
    pub endpoint: Endpoint,
}

/// An empty subscription slot.
pub const EMPTY_SUBSCRIPTION: [u8; SUBSCRIPTION_SIZE] = [0; SUBSCRIPTION_SIZE];

impl Subscription {
    fn words(&self) -> [u64; 3] {
        let [lo, hi] = crate::backup::words_of::<2>(&self.pattern);
        [lo, hi, u64::from(self.endpoint.0) | u64::from(FLAG_SUBSCRIBED) << 32]
    }

    /// The bytes of this subscription in subscriber slot `slot`.
    pub fn encode(&self, slot: usize) -> [u8; SUBSCRIPTION_SIZE] {
        let words = self.words();
        let mut out = [0u8; SUBSCRIPTION_SIZE];
        crate::backup::put_words(&mut out, &words);
        crate::backup::put_words(&mut out[24..], &[crate::backup::seal(SUBSCRIPTION_SEAL, slot, &words)]);
        out
    }

    /// The subscription in `bytes`, found in subscriber slot `slot`;
    /// `None` for an empty slot, or bytes that are not a well-formed
    /// subscription of that slot (check word, flags, pattern, endpoint).
    pub fn decode(slot: usize, bytes: &[u8; SUBSCRIPTION_SIZE]) -> Option<Subscription> {
        let [lo, hi, endpoint_flags, check] = crate::backup::words_of::<4>(bytes);
        if check != crate::backup::seal(SUBSCRIPTION_SEAL, slot, &[lo, hi, endpoint_flags])
            || (endpoint_flags >> 32) as u32 != FLAG_SUBSCRIBED
        {
            return None;
        }
        let mut pattern = [0u8; NAME_LEN];
        crate::backup::put_words(&mut pattern, &[lo, hi]);
        let endpoint = Endpoint(endpoint_flags as u32);
        let wildcard = pattern[0] == b'*' && pattern[1..].iter().all(|&b| b == 0);
        ((well_formed_name(&pattern) || wildcard) && endpoint.is_process())
            .then_some(Subscription { pattern, endpoint })
    }
}

/// What a new DS takes back of the subscriptions found (`found[slot]`),
/// in the same slots, by the rules a SUBSCRIBE meets: one whose owner is
/// no longer `alive` is dropped; of two equal ones the lower slot's is
/// kept; with `rules.quota` no owner keeps more than
/// `MAX_SUBSCRIPTIONS_PER_CLIENT`.
pub fn select_subscriptions(
    found: &[Option<Subscription>; MAX_SUBSCRIBERS],
    alive: impl Fn(Endpoint) -> bool,
    rules: Rules,
) -> [Option<Subscription>; MAX_SUBSCRIBERS] {
    let mut kept: [Option<Subscription>; MAX_SUBSCRIBERS] = [None; MAX_SUBSCRIBERS];
    for (slot, found) in found.iter().enumerate() {
        let Some(s) = found.filter(|s| alive(s.endpoint)) else {
            continue;
        };
        let twice = kept.iter().flatten().any(|k| *k == s);
        let full = kept.iter().flatten().filter(|k| k.endpoint == s.endpoint).count() >= MAX_SUBSCRIPTIONS_PER_CLIENT;
        if twice || (rules.quota && full) {
            continue;
        }
        kept[slot] = Some(s);
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(text: &str) -> [u8; NAME_LEN] {
        let mut n = [0u8; NAME_LEN];
        n[..text.len()].copy_from_slice(text.as_bytes());
        n
    }

    fn client(text: &str, ep: u32) -> Record {
        Record { name: name(text), endpoint: Endpoint(ep), value: 7 }
    }

    const RULES: Rules = Rules { names: true, quota: true };

    #[test]
    fn a_record_comes_back_as_it_was_written_in_its_own_slot_only() {
        let r = Record { name: name("mine"), endpoint: Endpoint(0x1005), value: 3 };
        let bytes = r.encode(9);
        assert_eq!(Record::decode(9, &bytes), Some(r));
        assert_eq!(Record::decode(10, &bytes), None, "a record copied to another slot");
        assert_eq!(Record::decode(9, &client("demo.name", 77).encode(9)), Some(client("demo.name", 77)));
    }

    #[test]
    fn an_empty_slot_and_every_single_bit_flip_are_not_records() {
        for slot in 0..MAX_ENTRIES {
            assert_eq!(Record::decode(slot, &EMPTY), None);
        }
        let bytes = client("k1", 0x2003).encode(4);
        for bit in 0..RECORD_SIZE * 8 {
            let mut garbled = bytes;
            garbled[bit / 8] ^= 1 << (bit % 8);
            assert_eq!(Record::decode(4, &garbled), None, "bit {bit}");
        }
    }

    #[test]
    fn malformed_records_are_refused_even_with_a_fitting_check_word() {
        let bad_names = ["", "*", "a\0b"];
        for text in bad_names {
            let mut r = client("x", 5);
            r.name = [0; NAME_LEN];
            r.name[..text.len()].copy_from_slice(text.as_bytes());
            assert_eq!(Record::decode(0, &r.encode(0)), None, "name {text:?}");
        }
        for ep in [Endpoint::NONE, Endpoint::ANY, Endpoint::SYSTEM] {
            let r = Record { endpoint: ep, ..client("x", 5) };
            assert_eq!(Record::decode(0, &r.encode(0)), None, "endpoint {ep:?}");
        }
    }

    #[test]
    fn the_names_of_the_dead_and_services_names_do_not_come_back() {
        let mut found = [None; MAX_ENTRIES];
        found[1] = Some(client("mine", 20));
        found[2] = Some(client("gone", 30));
        found[3] = Some(client("tty", 20));
        let kept = select(&found, |ep| ep.0 != 30, |n| *n == name("tty"), RULES);
        assert_eq!(kept[1], found[1]);
        assert_eq!(kept[2], None, "its owner died");
        assert_eq!(kept[3], None, "a service's name is RS's");
        let open = select(&found, |ep| ep.0 != 30, |n| *n == name("tty"), Rules { names: false, quota: true });
        assert_eq!(open[3], found[3], "with names weakened a client may hold a service's name");
    }

    #[test]
    fn a_name_held_twice_comes_back_once() {
        let mut found = [None; MAX_ENTRIES];
        found[6] = Some(client("y", 20));
        found[7] = Some(client("y", 21));
        let kept = select(&found, |_| true, |_| false, RULES);
        assert_eq!((kept[6], kept[7]), (found[6], None));
    }

    #[test]
    fn a_client_gets_back_no_more_than_its_limit_and_clients_no_more_than_their_share() {
        let mut found = [None; MAX_ENTRIES];
        let names: [&str; 6] = ["a0", "a1", "a2", "a3", "a4", "a5"];
        for (i, n) in names.iter().enumerate() {
            found[i] = Some(client(n, 20));
        }
        let kept = select(&found, |_| true, |_| false, RULES);
        assert_eq!(kept.iter().flatten().count(), MAX_ENTRIES_PER_CLIENT);
        assert!(kept[..MAX_ENTRIES_PER_CLIENT].iter().all(Option::is_some), "the lowest slots are kept");
        let unlimited = select(&found, |_| true, |_| false, Rules { names: true, quota: false });
        assert_eq!(unlimited.iter().flatten().count(), names.len());

        let mut many = [None; MAX_ENTRIES];
        let mut text = [0u8; NAME_LEN];
        for (slot, r) in many.iter_mut().enumerate() {
            text[0] = b'n';
            text[1] = b'0' + (slot / 10) as u8;
            text[2] = b'0' + (slot % 10) as u8;
            *r = Some(Record { name: text, endpoint: Endpoint(100 + slot as u32), value: 0 });
        }
        let kept = select(&many, |_| true, |_| false, RULES);
        assert_eq!(kept.iter().flatten().count(), MAX_ENTRIES - RESERVED_FOR_RS);
    }

    fn subscription(text: &str, ep: u32) -> Subscription {
        Subscription { pattern: name(text), endpoint: Endpoint(ep) }
    }

    #[test]
    fn a_subscription_comes_back_in_its_own_slot_only_and_never_garbled() {
        let s = subscription("tty", 0x2005);
        let bytes = s.encode(3);
        assert_eq!(Subscription::decode(3, &bytes), Some(s));
        assert_eq!(Subscription::decode(4, &bytes), None, "copied to another slot");
        assert_eq!(Subscription::decode(3, &EMPTY_SUBSCRIPTION), None);
        let all = subscription("*", 9);
        assert_eq!(Subscription::decode(0, &all.encode(0)), Some(all), "the wildcard is a pattern");
        for bit in 0..SUBSCRIPTION_SIZE * 8 {
            let mut garbled = bytes;
            garbled[bit / 8] ^= 1 << (bit % 8);
            assert_eq!(Subscription::decode(3, &garbled), None, "bit {bit}");
        }
        for bad in [subscription("", 9), subscription("a\0b", 9), subscription("x", Endpoint::NONE.0)] {
            assert_eq!(Subscription::decode(1, &bad.encode(1)), None, "{bad:?}");
        }
        // An entry's record is never a subscription's.
        let entry = client("tty", 0x2005).encode(0);
        let mut prefix = [0u8; SUBSCRIPTION_SIZE];
        prefix.copy_from_slice(&entry[..SUBSCRIPTION_SIZE]);
        assert_eq!(Subscription::decode(0, &prefix), None);
    }

    #[test]
    fn subscriptions_of_the_dead_twice_held_or_over_the_limit_do_not_come_back() {
        let mut found = [None; MAX_SUBSCRIBERS];
        found[0] = Some(subscription("gone", 30));
        found[1] = Some(subscription("tty", 20));
        found[2] = Some(subscription("tty", 20));
        for (i, n) in ["a", "b", "c", "d", "e"].iter().enumerate() {
            found[3 + i] = Some(subscription(n, 20));
        }
        let kept = select_subscriptions(&found, |ep| ep.0 != 30, RULES);
        assert_eq!(kept[0], None, "its owner died");
        assert_eq!((kept[1], kept[2]), (found[1], None), "held twice");
        assert_eq!(kept.iter().flatten().count(), MAX_SUBSCRIPTIONS_PER_CLIENT);
        let unlimited = select_subscriptions(&found, |ep| ep.0 != 30, Rules { names: true, quota: false });
        assert_eq!(unlimited.iter().flatten().count(), 6);
    }
}
