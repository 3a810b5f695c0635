//! The console writes TTY has served, kept outside TTY so that a
//! restarted TTY does not print a write again that its predecessor
//! printed (guest-servers/tty/src/served.rs, docs/trust.md).
//!
//! Why: a console write is not idempotent. When TTY's reply to a WRITE is
//! lost (or garbled) after the text went out, VFS's deadline has TTY
//! restarted and VFS sends the write again, with the same request id, to
//! the new TTY. Without a record the new TTY cannot know the text was
//! printed, and it appears twice. With one, the new TTY answers the
//! resent write with the count its predecessor answered, and prints
//! nothing: each write is printed once.
//!
//! The memory is the backup RS lends TTY (`crate::backup`; TTY's image
//! entry says `backup = true`). It holds [`SLOTS`] records, a ring of the
//! last writes served: who asked (VFS's endpoint), the request id, the
//! count answered and a sequence number. TTY writes the record of a write
//! with one safe copy after the text went out and before it answers; a
//! new TTY reads the ring at its first request ([`Ring::restore`]).
//!
//! A record is refused unless its check word (over its words and its
//! slot) fits, its flag says served, its client is a process, its
//! sequence number belongs to its slot and its count is within
//! [`MAX_COUNT`]; a resent write matches a record only if the count is no
//! more than the write's length ([`Ring::find`]). So a record garbled on
//! its way, or copied into another slot's place, never answers a request,
//! and nobody but TTY can write one: the kernel lets only the grantee of
//! RS's grant, the current TTY, copy to it.

use crate::backup::{put_words, seal, words_of};
use crate::Endpoint;

/// Records in the ring: more writes than VFS can have in flight at once
/// (16 slots), so a write VFS may still send again is never overwritten.
pub const SLOTS: usize = 16;
/// Bytes of one record: client and flags (8), id (8), count (8),
/// sequence number (8), check word (8).
pub const RECORD_SIZE: usize = 40;
/// Bytes of the ring.
pub const SIZE: usize = SLOTS * RECORD_SIZE;
const _: () = assert!(SIZE <= crate::backup::SIZE, "TTY's records fit the backup RS lends");
/// The largest count a record may hold: no write is longer.
pub const MAX_COUNT: u64 = 1 << 20;

/// Record flag: the write was served (never set in an empty slot).
const FLAG_SERVED: u32 = 1;
/// Mixed into every check word (`crate::backup::seal`).
const SEAL: u32 = 0x77C0_5E2D;

/// A write TTY served.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Served {
    /// Who asked (VFS).
    pub client: Endpoint,
    /// Its request id.
    pub id: u64,
    /// The count TTY answered (bytes that went out).
    pub count: u64,
    /// Order of serving, from 1: record `seq` lives in slot `seq % SLOTS`.
    pub seq: u64,
}

impl Served {
    /// The bytes of this record, in its slot (`seq % SLOTS`).
    pub fn encode(&self) -> [u8; RECORD_SIZE] {
        let words = [u64::from(self.client.0) | u64::from(FLAG_SERVED) << 32, self.id, self.count, self.seq];
        let mut out = [0u8; RECORD_SIZE];
        put_words(&mut out, &words);
        put_words(&mut out[32..], &[seal(SEAL, slot_of(self.seq), &words)]);
        out
    }

    /// The record in `bytes`, found in slot `slot`; `None` for an empty
    /// slot or bytes that are not a well-formed record of that slot.
    pub fn decode(slot: usize, bytes: &[u8; RECORD_SIZE]) -> Option<Served> {
        let [client_flags, id, count, seq, check] = words_of::<5>(bytes);
        if check != seal(SEAL, slot, &[client_flags, id, count, seq]) || (client_flags >> 32) as u32 != FLAG_SERVED {
            return None;
        }
        let client = Endpoint(client_flags as u32);
        let fits = client.is_process() && seq != 0 && slot_of(seq) == slot && count <= MAX_COUNT;
        fits.then_some(Served { client, id, count, seq })
    }
}

fn slot_of(seq: u64) -> usize {
    (seq % SLOTS as u64) as usize
}

/// The last [`SLOTS`] writes served, as TTY keeps them in memory and in
/// the backup.
#[derive(Clone, Copy, Debug)]
pub struct Ring {
    slots: [Option<Served>; SLOTS],
    next_seq: u64,
}

impl Ring {
    /// Nothing served yet.
    pub const fn new() -> Ring {
        Ring { slots: [None; SLOTS], next_seq: 1 }
    }

    /// The ring whose backup holds `bytes` ([`SIZE`] long): every record
    /// that decodes; the next write goes after the latest.
    pub fn restore(bytes: &[u8]) -> Ring {
        let mut ring = Ring::new();
        for (slot, chunk) in bytes.chunks_exact(RECORD_SIZE).take(SLOTS).enumerate() {
            let mut record = [0u8; RECORD_SIZE];
            record.copy_from_slice(chunk);
            ring.slots[slot] = Served::decode(slot, &record);
        }
        ring.next_seq = ring.slots.iter().flatten().map(|s| s.seq + 1).max().unwrap_or(1);
        ring
    }

    /// How many records the ring holds.
    pub fn len(&self) -> usize {
        self.slots.iter().flatten().count()
    }

    /// Whether the ring holds no record.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The count answered to write `id` of `client`, if it was served; a
    /// record whose count exceeds `len`, the write's length, is not this
    /// write's.
    pub fn find(&self, client: Endpoint, id: u64, len: u64) -> Option<u64> {
        let served = self.slots.iter().flatten().filter(|s| s.client == client && s.id == id && s.count <= len);
        served.max_by_key(|s| s.seq).map(|s| s.count)
    }

    /// Records that write `id` of `client` was answered `count`; returns
    /// the slot it took and its bytes, to be copied to the backup at
    /// `slot * RECORD_SIZE`.
    pub fn record(&mut self, client: Endpoint, id: u64, count: u64) -> (usize, [u8; RECORD_SIZE]) {
        let served = Served { client, id, count: count.min(MAX_COUNT), seq: self.next_seq };
        self.next_seq += 1;
        let slot = slot_of(served.seq);
        self.slots[slot] = Some(served);
        (slot, served.encode())
    }
}

impl Default for Ring {
    fn default() -> Ring {
        Ring::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VFS: Endpoint = Endpoint(0x1004);

    fn backup_of(ring_writes: &[(Endpoint, u64, u64)]) -> (Ring, [u8; SIZE]) {
        let mut ring = Ring::new();
        let mut bytes = [0u8; SIZE];
        for &(client, id, count) in ring_writes {
            let (slot, record) = ring.record(client, id, count);
            bytes[slot * RECORD_SIZE..][..RECORD_SIZE].copy_from_slice(&record);
        }
        (ring, bytes)
    }

    #[test]
    fn a_restarted_driver_finds_the_writes_its_predecessor_served() {
        let (ring, bytes) = backup_of(&[(VFS, 5, 9), (VFS, 6, 3)]);
        let back = Ring::restore(&bytes);
        assert_eq!(back.len(), 2);
        assert_eq!(back.find(VFS, 5, 9), Some(9));
        assert_eq!(back.find(VFS, 6, 100), Some(3));
        assert_eq!(back.find(VFS, 7, 100), None, "never served");
        assert_eq!(back.find(Endpoint(0x2004), 5, 9), None, "another client's id");
        assert_eq!(ring.find(VFS, 5, 9), Some(9));
        assert!(Ring::restore(&[0u8; SIZE]).is_empty(), "an empty backup holds nothing");
    }

    #[test]
    fn the_ring_keeps_the_latest_writes_and_goes_on_after_them() {
        let mut writes = [(VFS, 0, 0); SLOTS + 3];
        for (i, w) in writes.iter_mut().enumerate() {
            *w = (VFS, i as u64 + 1, i as u64 + 1);
        }
        let (_, bytes) = backup_of(&writes);
        let mut back = Ring::restore(&bytes);
        assert_eq!(back.len(), SLOTS);
        assert_eq!(back.find(VFS, 3, 100), None, "overwritten");
        assert_eq!(back.find(VFS, 4, 100), Some(4));
        let (slot, _) = back.record(VFS, 99, 1);
        assert_eq!(slot, (SLOTS + 4) % SLOTS, "the oldest record goes first");
        assert_eq!(back.find(VFS, 4, 100), None);
        assert_eq!(back.find(VFS, SLOTS as u64 + 3, 100), Some(SLOTS as u64 + 3), "the latest stays");
    }

    #[test]
    fn every_single_bit_flip_and_a_record_in_another_slot_are_refused() {
        let record = Served { client: VFS, id: 12, count: 7, seq: 3 }.encode();
        assert!(Served::decode(3, &record).is_some());
        assert_eq!(Served::decode(4, &record), None, "a record copied to another slot");
        for bit in 0..RECORD_SIZE * 8 {
            let mut garbled = record;
            garbled[bit / 8] ^= 1 << (bit % 8);
            assert_eq!(Served::decode(3, &garbled), None, "bit {bit}");
        }
        assert_eq!(Served::decode(0, &[0; RECORD_SIZE]), None, "an empty slot");
    }

    #[test]
    fn records_out_of_bounds_are_refused_even_with_a_fitting_check_word() {
        let forged = |client: Endpoint, count: u64, seq: u64| {
            let words = [u64::from(client.0) | u64::from(FLAG_SERVED) << 32, 1, count, seq];
            let mut out = [0u8; RECORD_SIZE];
            put_words(&mut out, &words);
            put_words(&mut out[32..], &[seal(SEAL, slot_of(seq), &words)]);
            Served::decode(slot_of(seq), &out)
        };
        assert!(forged(VFS, 5, 1).is_some());
        assert_eq!(forged(VFS, MAX_COUNT + 1, 1), None, "a count no write has");
        assert_eq!(forged(VFS, 5, 0), None, "sequence numbers start at 1");
        for client in [Endpoint::NONE, Endpoint::ANY, Endpoint::SYSTEM] {
            assert_eq!(forged(client, 5, 1), None, "client {client:?}");
        }
        // A count larger than the write sent again: not that write's.
        let (_, bytes) = backup_of(&[(VFS, 8, 50)]);
        assert_eq!(Ring::restore(&bytes).find(VFS, 8, 49), None);
    }
}
