//! Memory RS lends a server to keep what must outlive the server
//! (MINIX 3's way: state a restart must not lose is kept outside the
//! process that loses it).
//!
//! A program whose image entry says `backup = true`
//! ([`crate::boot_image::FLAG_BACKUP`]) gets [`SIZE`] bytes of RS's
//! memory, lent by a grant of RS's grant table that only the program's
//! current incarnation may use: RS makes the grants first of all, one per
//! such program in image order (so the grant id of a program is how many
//! programs before it ask for a backup: [`grant_id`], which RS and the
//! program both compute from the kernel info page, with no message), and
//! moves a grant to each new incarnation before it publishes it in DS, so
//! before anyone can send it a request. The program writes its records
//! with safe copies (one kernel call each, so its death cannot tear a
//! record) and reads them back at its first request after a restart.
//!
//! What each program keeps is its own protocol's (`crate::proto::ds::backup`,
//! `crate::proto::tty::backup`); each record carries a check word
//! ([`seal`]) over its words and its slot, so a record garbled on its way
//! or copied into another slot's place is refused.

use crate::boot_image::FLAG_BACKUP;

/// Bytes of one program's backup (one page).
pub const SIZE: usize = 4096;
/// Most programs of one image that may have a backup (RS's memory for
/// them is `MAX_BACKUPS * SIZE`).
pub const MAX_BACKUPS: usize = 4;

/// The grant id, in RS's grant table, of the backup of program `index`,
/// given every program's boot-image flags in image order; `None` when the
/// program asks for none or is past [`MAX_BACKUPS`].
pub fn grant_id(flags: impl IntoIterator<Item = u8>, index: usize) -> Option<u64> {
    let mut ordinal = 0u64;
    for (i, f) in flags.into_iter().enumerate() {
        let lent = f & FLAG_BACKUP != 0;
        if i == index {
            return (lent && ordinal < MAX_BACKUPS as u64).then_some(ordinal);
        }
        ordinal += u64::from(lent);
    }
    None
}

/// The check word of a record of `N` words in slot `slot` of a backup
/// whose protocol mixes in `protocol` (a constant of its own, so that a
/// block of another protocol's words, or all zeros, does not check out).
pub const fn seal<const N: usize>(protocol: u32, slot: usize, words: &[u64; N]) -> u64 {
    let mut h = 0x9E37_79B9_7F4A_7C15u64 ^ (protocol ^ slot as u32) as u64;
    let mut i = 0;
    while i < N {
        h = (h ^ words[i]).wrapping_mul(0x0000_0100_0000_01B3).rotate_left(29);
        i += 1;
    }
    h ^ (h >> 31)
}

/// The `N` little-endian words of `bytes` (`8 * N` long).
pub fn words_of<const N: usize>(bytes: &[u8]) -> [u64; N] {
    let mut words = [0u64; N];
    for (w, chunk) in words.iter_mut().zip(bytes.chunks_exact(8)) {
        let mut b = [0u8; 8];
        b.copy_from_slice(chunk);
        *w = u64::from_le_bytes(b);
    }
    words
}

/// Writes `words` little-endian into `out` (`8 * N` long).
pub fn put_words<const N: usize>(out: &mut [u8], words: &[u64; N]) {
    for (chunk, w) in out.chunks_exact_mut(8).zip(words.iter()) {
        chunk.copy_from_slice(&w.to_le_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grant_ids_count_the_programs_before_that_ask_for_a_backup() {
        let flags = [0, FLAG_BACKUP, 4, FLAG_BACKUP | 4, 0];
        assert_eq!(grant_id(flags, 0), None);
        assert_eq!(grant_id(flags, 1), Some(0));
        assert_eq!(grant_id(flags, 2), None);
        assert_eq!(grant_id(flags, 3), Some(1));
        assert_eq!(grant_id(flags, 9), None, "no such program");
        let many = [FLAG_BACKUP; MAX_BACKUPS + 1];
        assert_eq!(grant_id(many, MAX_BACKUPS - 1), Some(MAX_BACKUPS as u64 - 1));
        assert_eq!(grant_id(many, MAX_BACKUPS), None, "past the limit");
    }

    #[test]
    fn a_seal_depends_on_protocol_slot_and_every_word() {
        let words = [1u64, 2, 3];
        let s = seal(7, 0, &words);
        assert_ne!(s, seal(8, 0, &words));
        assert_ne!(s, seal(7, 1, &words));
        assert_ne!(s, seal(7, 0, &[1, 2, 4]));
        let mut bytes = [0u8; 24];
        put_words(&mut bytes, &words);
        assert_eq!(words_of::<3>(&bytes), words);
    }
}
