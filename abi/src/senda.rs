//! SENDA tables: asynchronous sends that never block the sender.
//!
//! A trusted server must not block on an untrusted driver that might never
//! receive (the paper's vulnerability V1). With SENDA the server hands the
//! kernel a table of messages in its *own* memory; the kernel delivers each
//! entry when its destination is ready to receive and writes the outcome
//! back into the entry. Nothing is buffered in the kernel, and the table is
//! bounded ([`SENDA_MAX_ENTRIES`]; larger tables are refused with
//! `Error::Domain`), so a sender cannot exhaust kernel resources.
//!
//! The trap is `SENDA(table_addr, count)`. A new call replaces the previous
//! table (entries of the old table not yet delivered are simply forgotten:
//! their flags never get `FLAG_DONE`). `count = 0` withdraws the table.
//!
//! Entry layout: [`SENDA_ENTRY_SIZE`] = 80 bytes, little-endian, 8-aligned:
//!
//! | offset | size | field | written by |
//! |---|---|---|---|
//! | 0  | 4  | `flags` (`FLAG_*`) | sender; the kernel adds `FLAG_DONE` |
//! | 4  | 4  | `dst` endpoint | sender |
//! | 8  | 4  | `result`: 0 or a negated `Error` number | kernel |
//! | 12 | 4  | reserved, zero | — |
//! | 16 | 64 | the message (its `source` is stamped by the kernel) | sender |
//!
//! An entry is pending while it has `FLAG_VALID` and not `FLAG_DONE`. On
//! delivery the kernel writes `result = 0` and sets `FLAG_DONE`; when the
//! entry cannot be delivered it writes the error (`-EDEADSRCDST` for a dead
//! or stale destination, `-ECALLDENIED` for a destination outside the
//! sender's send mask, `-EINVAL` for unknown flag bits or the sender
//! itself) and sets `FLAG_DONE`. With `FLAG_NOTIFY`, completing the entry
//! *after* the SENDA call returned also sends the sender a SYSTEM
//! notification with `notify::EVENT_SENDA_DONE`.

use crate::{Endpoint, Message};

/// Size of one table entry in bytes.
pub const SENDA_ENTRY_SIZE: usize = 80;
/// Largest table the kernel accepts.
pub const SENDA_MAX_ENTRIES: usize = 64;
/// Size of the entry header before the message.
pub const SENDA_HEADER_SIZE: usize = 16;

/// An unused entry.
pub const FLAG_EMPTY: u32 = 0;
/// The entry holds a message to deliver.
pub const FLAG_VALID: u32 = 1;
/// The kernel is done with the entry; `result` says how it went.
pub const FLAG_DONE: u32 = 2;
/// Notify the sender when the entry is completed later.
pub const FLAG_NOTIFY: u32 = 4;
/// Every flag bit the kernel knows.
pub const FLAGS_KNOWN: u32 = FLAG_VALID | FLAG_DONE | FLAG_NOTIFY;

/// Byte offset of `flags` in an entry.
pub const OFFSET_FLAGS: usize = 0;
/// Byte offset of `dst` in an entry.
pub const OFFSET_DST: usize = 4;
/// Byte offset of `result` in an entry.
pub const OFFSET_RESULT: usize = 8;
/// Byte offset of the message in an entry.
pub const OFFSET_MESSAGE: usize = SENDA_HEADER_SIZE;

/// One SENDA table entry, laid out as the kernel reads it.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
#[repr(C, align(8))]
pub struct SendaEntry {
    /// `FLAG_*` bits.
    pub flags: u32,
    /// Destination endpoint.
    pub dst: Endpoint,
    /// Outcome written by the kernel: 0 or a negated error number.
    pub result: i32,
    /// Must be zero.
    pub reserved: u32,
    /// The message to deliver.
    pub message: Message,
}

const _: () = assert!(core::mem::size_of::<SendaEntry>() == SENDA_ENTRY_SIZE);

fn le_u32(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

/// Encodes a message as its 64 wire bytes (little-endian).
pub fn message_to_bytes(msg: &Message) -> [u8; 64] {
    let mut out = [0u8; 64];
    for (chunk, word) in out.chunks_exact_mut(8).zip(msg.to_words().iter()) {
        chunk.copy_from_slice(&word.to_le_bytes());
    }
    out
}

/// Decodes a message from its 64 wire bytes (little-endian).
pub fn message_from_bytes(bytes: &[u8; 64]) -> Message {
    let mut words = [0u64; 8];
    for (word, chunk) in words.iter_mut().zip(bytes.chunks_exact(8)) {
        let mut b = [0u8; 8];
        b.copy_from_slice(chunk);
        *word = u64::from_le_bytes(b);
    }
    Message::from_words(&words)
}

impl SendaEntry {
    /// A valid entry that sends `message` to `dst`.
    pub const fn new(dst: Endpoint, message: Message) -> SendaEntry {
        SendaEntry { flags: FLAG_VALID, dst, result: 0, reserved: 0, message }
    }

    /// True while the kernel still has to deliver the entry.
    pub const fn is_pending(&self) -> bool {
        self.flags & FLAG_VALID != 0 && self.flags & FLAG_DONE == 0
    }

    /// The header fields as their 16 wire bytes.
    pub fn header_to_bytes(&self) -> [u8; SENDA_HEADER_SIZE] {
        let mut out = [0u8; SENDA_HEADER_SIZE];
        out[0..4].copy_from_slice(&self.flags.to_le_bytes());
        out[4..8].copy_from_slice(&self.dst.0.to_le_bytes());
        out[8..12].copy_from_slice(&self.result.to_le_bytes());
        out[12..16].copy_from_slice(&self.reserved.to_le_bytes());
        out
    }

    /// The header fields from their 16 wire bytes; the message is left
    /// empty.
    pub fn header_from_bytes(bytes: &[u8; SENDA_HEADER_SIZE]) -> SendaEntry {
        SendaEntry {
            flags: le_u32(bytes, OFFSET_FLAGS),
            dst: Endpoint(le_u32(bytes, OFFSET_DST)),
            result: le_u32(bytes, OFFSET_RESULT) as i32,
            reserved: le_u32(bytes, 12),
            message: Message::default(),
        }
    }

    /// The whole entry as its 80 wire bytes.
    pub fn to_bytes(&self) -> [u8; SENDA_ENTRY_SIZE] {
        let mut out = [0u8; SENDA_ENTRY_SIZE];
        out[..SENDA_HEADER_SIZE].copy_from_slice(&self.header_to_bytes());
        out[OFFSET_MESSAGE..].copy_from_slice(&message_to_bytes(&self.message));
        out
    }

    /// An entry from its 80 wire bytes.
    pub fn from_bytes(bytes: &[u8; SENDA_ENTRY_SIZE]) -> SendaEntry {
        let mut header = [0u8; SENDA_HEADER_SIZE];
        header.copy_from_slice(&bytes[..SENDA_HEADER_SIZE]);
        let mut message = [0u8; 64];
        message.copy_from_slice(&bytes[OFFSET_MESSAGE..]);
        SendaEntry { message: message_from_bytes(&message), ..SendaEntry::header_from_bytes(&header) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip_through_bytes() {
        let mut e = SendaEntry::new(Endpoint::new(3, 2), Message::with_words(9, &[1, 2, 3]));
        e.flags |= FLAG_NOTIFY;
        e.result = -5;
        let bytes = e.to_bytes();
        assert_eq!(SendaEntry::from_bytes(&bytes), e);
        assert_eq!(le_u32(&bytes, OFFSET_DST), Endpoint::new(3, 2).0);
        assert_eq!(bytes[OFFSET_MESSAGE + 4], 9); // mtype after source
        assert!(e.is_pending());
    }
}
