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
//! entry says `backup = true`). It holds [`SLOTS`] records, one per
//! request slot of VFS: a request's grant id is its slot in VFS
//! (guest-servers/vfs/src/device.rs), and VFS starts a new request in a
//! slot only once the last one there was answered, so the record of a
//! write is never replaced while VFS may still send it again, however
//! many other writes are served meanwhile. A record says who asked (VFS's
//! endpoint), the request id, and the count answered. TTY writes it with
//! one safe copy after the text went out and before it answers; a new
//! TTY reads them all at its first request ([`Records::restore`]).
//!
//! A record is refused unless its check word (over its words and its
//! slot) fits, its flag says served, its client is a process, its grant
//! is its slot and its count is within [`MAX_COUNT`]; a resent write
//! matches a record only if client, id and slot are the same and the
//! count is no more than the write's length ([`Records::find`]). So a record
//! garbled on its way, or copied into another slot's place, never answers
//! a request, and nobody but TTY can write one: the kernel lets only the
//! grantee of RS's grant, the current TTY, copy to it.

use crate::backup::{put_words, seal, words_of};
use crate::Endpoint;

/// Records: one per request slot of VFS (its grant ids).
pub const SLOTS: usize = 16;
/// Bytes of one record: client and flags (8), id (8), count (8), grant
/// (8), check word (8).
pub const RECORD_SIZE: usize = 40;
/// Bytes of all records.
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
    /// The grant it came with: its slot in VFS, and the record's slot.
    pub grant: u64,
}

impl Served {
    /// The bytes of this record (in slot `grant`).
    pub fn encode(&self) -> [u8; RECORD_SIZE] {
        let words = [u64::from(self.client.0) | u64::from(FLAG_SERVED) << 32, self.id, self.count, self.grant];
        let mut out = [0u8; RECORD_SIZE];
        put_words(&mut out, &words);
        put_words(&mut out[32..], &[seal(SEAL, self.grant as usize, &words)]);
        out
    }

    /// The record in `bytes`, found in slot `slot`; `None` for an empty
    /// slot or bytes that are not a well-formed record of that slot.
    pub fn decode(slot: usize, bytes: &[u8; RECORD_SIZE]) -> Option<Served> {
        let [client_flags, id, count, grant, check] = words_of::<5>(bytes);
        if check != seal(SEAL, slot, &[client_flags, id, count, grant]) || (client_flags >> 32) as u32 != FLAG_SERVED {
            return None;
        }
        let client = Endpoint(client_flags as u32);
        let fits = client.is_process() && grant == slot as u64 && count <= MAX_COUNT;
        fits.then_some(Served { client, id, count, grant })
    }
}

/// The record of the last write served from each slot of VFS, as TTY
/// keeps them in memory and in the backup.
#[derive(Clone, Copy, Debug)]
pub struct Records {
    slots: [Option<Served>; SLOTS],
}

impl Records {
    /// Nothing served yet.
    pub const fn new() -> Records {
        Records { slots: [None; SLOTS] }
    }

    /// The records whose backup holds `bytes` ([`SIZE`] long): every one
    /// that decodes.
    pub fn restore(bytes: &[u8]) -> Records {
        let mut records = Records::new();
        for (slot, chunk) in bytes.chunks_exact(RECORD_SIZE).take(SLOTS).enumerate() {
            let mut record = [0u8; RECORD_SIZE];
            record.copy_from_slice(chunk);
            records.slots[slot] = Served::decode(slot, &record);
        }
        records
    }

    /// How many records the table holds.
    pub fn len(&self) -> usize {
        self.slots.iter().flatten().count()
    }

    /// Whether the table holds no record.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The count answered to write `id` of `client` that came with grant
    /// `grant`, if it was served; a record whose count exceeds `len`, the
    /// write's length, is not this write's.
    pub fn find(&self, client: Endpoint, id: u64, grant: u64, len: u64) -> Option<u64> {
        let served = self.slots.get(usize::try_from(grant).ok()?).copied().flatten()?;
        (served.client == client && served.id == id && served.count <= len).then_some(served.count)
    }

    /// Records that write `id` of `client`, which came with grant `grant`,
    /// was answered `count`; returns the slot it took and its bytes, to be
    /// copied to the backup at `slot * RECORD_SIZE`. `None` for a grant
    /// that is no slot of VFS (such a write is not kept).
    pub fn record(&mut self, client: Endpoint, id: u64, grant: u64, count: u64) -> Option<(usize, [u8; RECORD_SIZE])> {
        let slot = usize::try_from(grant).ok().filter(|&s| s < SLOTS)?;
        let served = Served { client, id, count: count.min(MAX_COUNT), grant };
        self.slots[slot] = Some(served);
        Some((slot, served.encode()))
    }
}

impl Default for Records {
    fn default() -> Records {
        Records::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VFS: Endpoint = Endpoint(0x1004);

    /// The records and their backup after serving `writes` (client, id, grant,
    /// count).
    fn backup_of(writes: &[(Endpoint, u64, u64, u64)]) -> (Records, [u8; SIZE]) {
        let mut records = Records::new();
        let mut bytes = [0u8; SIZE];
        for &(client, id, grant, count) in writes {
            let (slot, record) = records.record(client, id, grant, count).expect("a slot of VFS");
            bytes[slot * RECORD_SIZE..][..RECORD_SIZE].copy_from_slice(&record);
        }
        (records, bytes)
    }

    #[test]
    fn a_restarted_driver_finds_the_writes_its_predecessor_served() {
        let (records, bytes) = backup_of(&[(VFS, 5, 0, 9), (VFS, 6, 3, 3)]);
        let back = Records::restore(&bytes);
        assert_eq!(back.len(), 2);
        assert_eq!(back.find(VFS, 5, 0, 9), Some(9));
        assert_eq!(back.find(VFS, 6, 3, 100), Some(3));
        assert_eq!(back.find(VFS, 6, 4, 100), None, "another slot");
        assert_eq!(back.find(VFS, 7, 0, 100), None, "never served");
        assert_eq!(back.find(Endpoint(0x2004), 5, 0, 9), None, "another client's id");
        assert_eq!(records.find(VFS, 5, 0, 9), Some(9));
        assert!(Records::restore(&[0u8; SIZE]).is_empty(), "an empty backup holds nothing");
    }

    #[test]
    fn a_record_stays_however_many_writes_other_slots_serve() {
        let mut writes = [(VFS, 0, 0, 0); 100];
        for (i, w) in writes.iter_mut().enumerate() {
            // Slot 2 holds write 1, whose answer was lost; the others
            // serve write after write.
            *w = if i == 0 { (VFS, 1, 2, 5) } else { (VFS, i as u64 + 1, [0, 1, 3][i % 3], 1) };
        }
        let (_, bytes) = backup_of(&writes);
        let back = Records::restore(&bytes);
        assert_eq!(back.find(VFS, 1, 2, 5), Some(5));
        assert_eq!(back.len(), 4);
        let mut records = back;
        records.record(VFS, 200, 2, 7);
        assert_eq!(records.find(VFS, 1, 2, 5), None, "the slot's next write replaces it");
        assert_eq!(records.record(VFS, 201, SLOTS as u64, 1), None, "no slot of VFS");
    }

    #[test]
    fn every_single_bit_flip_and_a_record_in_another_slot_are_refused() {
        let record = Served { client: VFS, id: 12, count: 7, grant: 3 }.encode();
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
        let forged = |client: Endpoint, count: u64, grant: u64, slot: usize| {
            let words = [u64::from(client.0) | u64::from(FLAG_SERVED) << 32, 1, count, grant];
            let mut out = [0u8; RECORD_SIZE];
            put_words(&mut out, &words);
            put_words(&mut out[32..], &[seal(SEAL, slot, &words)]);
            Served::decode(slot, &out)
        };
        assert!(forged(VFS, 5, 1, 1).is_some());
        assert_eq!(forged(VFS, MAX_COUNT + 1, 1, 1), None, "a count no write has");
        assert_eq!(forged(VFS, 5, 2, 1), None, "a grant that is not its slot");
        for client in [Endpoint::NONE, Endpoint::ANY, Endpoint::SYSTEM] {
            assert_eq!(forged(client, 5, 1, 1), None, "client {client:?}");
        }
        // A count larger than the write sent again: not that write's.
        let (_, bytes) = backup_of(&[(VFS, 8, 0, 50)]);
        assert_eq!(Records::restore(&bytes).find(VFS, 8, 0, 49), None);
    }
}
