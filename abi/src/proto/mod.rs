//! The protocols of the system servers: what user programs, servers and
//! drivers send each other.
//!
//! Conventions shared by every protocol here:
//!
//! * A request's `mtype` names the call; its payload words are listed per
//!   call. Each server's types live in their own range so a misdirected
//!   message is recognisable: DS `0x100`, RS `0x200`, PM `0x300`, VFS
//!   `0x400`, character devices `0x500`, block devices `0x600`.
//! * A reply has `mtype` [`REPLY`] and `payload[0]` = the result: ≥ 0 is a
//!   value, < 0 a negated [`crate::Error`] (the same encoding as a trap's
//!   return value, so [`crate::Error::from_return`] decodes both).
//! * Servers answer untrusted callers with SENDNB (the caller waits in
//!   SENDREC, so it cannot be blocked by a caller that never receives), and
//!   talk to untrusted drivers with SENDA (a driver that never receives or
//!   never replies cannot block them).
//! * Short names (≤ 16 bytes) travel in two payload words
//!   ([`put_name`], [`get_name`]); longer data (paths, file contents,
//!   argument blocks) travels through memory grants ([`crate::grant`]).

/// Defines a protocol's message types together with their names: each
/// `NAME = value => "label";` becomes `pub const NAME: u32 = value;` and a
/// row of the module's `MESSAGE_NAMES` table. Why both at once: a trace
/// shows every message by name (`viv count`, `viv trace`), so a type
/// without a name would show as a bare number; defining the two together
/// means no type can be added without one.
macro_rules! message_types {
    ($( $(#[$doc:meta])* $name:ident = $value:expr => $label:literal; )*) => {
        $( $(#[$doc])* pub const $name: u32 = $value; )*
        /// Every message type of this protocol and its name.
        pub const MESSAGE_NAMES: &[(u32, &str)] = &[$(($name, $label)),*];
    };
}
use message_types;

pub mod blockdev;
pub mod dev;
pub mod ds;
pub mod fs;
pub mod pm;
pub mod rs;
pub mod tty;
pub mod vfs;

use crate::Message;

/// Message type of every reply.
pub const REPLY: u32 = 0x7FFF_0001;

/// The message types every protocol shares: the reply and the
/// kernel-built notification.
pub const SHARED_MESSAGE_NAMES: &[(u32, &str)] = &[(REPLY, "reply"), (crate::notify::NOTIFY_MTYPE, "notify")];

/// Every protocol's name table (`MESSAGE_NAMES`), and the shared types.
pub const ALL_MESSAGE_NAMES: [&[(u32, &str)]; 8] = [
    SHARED_MESSAGE_NAMES,
    ds::MESSAGE_NAMES,
    rs::MESSAGE_NAMES,
    pm::MESSAGE_NAMES,
    vfs::MESSAGE_NAMES,
    dev::MESSAGE_NAMES,
    blockdev::MESSAGE_NAMES,
    fs::MESSAGE_NAMES,
];

/// Payload word of a driver request (`blockdev`, `dev`) that holds its
/// check word ([`check_word`]).
pub const CHECK_WORD: usize = 4;

/// The check word of a driver request of type `mtype` with payload words
/// `words` (the four a request uses; zero where the type has none). A
/// driver cannot tell a request garbled on the way (a flipped bit in a
/// position, a length or a grant id) from a real one, and would act on it
/// with every count right; with this word over the request it refuses the
/// garbled one instead (`blockdev`, `dev`). A multiply-rotate mix: any
/// change of the words, or of bytes across two of them, changes it but
/// for a chance of about 2^-64.
pub const fn check_word(mtype: u32, words: &[u64; 4]) -> u64 {
    crate::backup::seal(mtype, 0, words)
}

/// A driver request of type `mtype` with payload `words` and its check
/// word.
pub fn checked_request(mtype: u32, words: [u64; 4]) -> Message {
    let [a, b, c, d] = words;
    Message::with_words(mtype, &[a, b, c, d, check_word(mtype, &words)])
}

/// Whether driver request `msg` is as its sender made it (its check word
/// fits).
pub fn request_intact(msg: &Message) -> bool {
    let words = [msg.payload[0], msg.payload[1], msg.payload[2], msg.payload[3]];
    msg.payload[CHECK_WORD] == check_word(msg.mtype, &words)
}

/// The name of message type `mtype` (a request, reply or notification
/// between processes; kernel calls are `crate::syscall::KernelCall`'s), or
/// `None` for a number no protocol defines. The ranges are disjoint, so
/// the type alone names the message.
pub fn message_name(mtype: u32) -> Option<&'static str> {
    ALL_MESSAGE_NAMES.iter().flat_map(|t| t.iter()).find(|(v, _)| *v == mtype).map(|(_, n)| *n)
}

/// Whether `mtype` answers a request: the shared [`REPLY`] and the
/// drivers' own replies (their requests and replies both travel by SENDA,
/// so only the type tells them apart).
pub fn is_reply(mtype: u32) -> bool {
    matches!(mtype, REPLY | dev::REPLY | blockdev::REPLY)
}

/// Longest name that fits in two payload words.
pub const NAME_LEN: usize = 16;

/// Builds a reply carrying `result` (a value or a negated error).
pub fn reply(result: i64) -> Message {
    Message::with_words(REPLY, &[result as u64])
}

/// Builds a reply from a `Result`.
pub fn reply_result(result: Result<u64, crate::Error>) -> Message {
    reply(match result {
        Ok(v) => v as i64,
        Err(e) => e.to_return(),
    })
}

/// The result carried by a reply.
pub fn result_of(reply: &Message) -> Result<u64, crate::Error> {
    crate::Error::from_return(reply.payload[0] as i64)
}

/// Stores `name` (at most [`NAME_LEN`] bytes, NUL-padded) in payload words
/// `word` and `word + 1`. Longer names are cut.
pub fn put_name(msg: &mut Message, word: usize, name: &str) {
    let mut bytes = [0u8; NAME_LEN];
    let n = name.len().min(NAME_LEN);
    bytes[..n].copy_from_slice(&name.as_bytes()[..n]);
    let mut w = [0u8; 8];
    w.copy_from_slice(&bytes[..8]);
    msg.payload[word] = u64::from_le_bytes(w);
    w.copy_from_slice(&bytes[8..]);
    msg.payload[word + 1] = u64::from_le_bytes(w);
}

/// Reads a name stored by [`put_name`] into `buf`; returns it as text
/// (empty when not valid UTF-8).
pub fn get_name<'a>(msg: &Message, word: usize, buf: &'a mut [u8; NAME_LEN]) -> &'a str {
    buf[..8].copy_from_slice(&msg.payload[word].to_le_bytes());
    buf[8..].copy_from_slice(&msg.payload[word + 1].to_le_bytes());
    let len = buf.iter().position(|&b| b == 0).unwrap_or(NAME_LEN);
    core::str::from_utf8(&buf[..len]).unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_message_type_has_one_unique_name_in_its_range() {
        let ranges: [(&[(u32, &str)], u32); 7] = [
            (ds::MESSAGE_NAMES, 0x100),
            (rs::MESSAGE_NAMES, 0x200),
            (pm::MESSAGE_NAMES, 0x300),
            (vfs::MESSAGE_NAMES, 0x400),
            (dev::MESSAGE_NAMES, 0x500),
            (blockdev::MESSAGE_NAMES, 0x600),
            (fs::MESSAGE_NAMES, 0x700),
        ];
        for (table, base) in ranges {
            assert!(!table.is_empty());
            for (value, name) in table {
                assert!((base..base + 0x100).contains(value), "{name} = {value:#x} outside {base:#x}");
            }
        }
        let all = || ALL_MESSAGE_NAMES.iter().flat_map(|t| t.iter().copied());
        for (i, (value, name)) in all().enumerate() {
            assert!(!name.is_empty() && !name.contains("0x"), "{value:#x}");
            for (other_value, other_name) in all().skip(i + 1) {
                assert_ne!(value, other_value, "{name} and {other_name} share a number");
                assert_ne!(name, other_name, "{value:#x} and {other_value:#x} share a name");
            }
            assert_eq!(message_name(value), Some(name));
        }
        assert_eq!(message_name(vfs::SYNC), Some("sync"));
        assert_eq!(message_name(blockdev::REPLY), Some("blockdev.reply"));
        assert_eq!(message_name(fs::STAT), Some("fs.stat"));
        assert_eq!(message_name(0x7FF), None);
    }

    /// A message type written as a plain constant would have no name:
    /// every `u32` constant with a hex value in the protocol files must
    /// come from `message_types!`.
    #[test]
    fn no_protocol_defines_a_type_outside_the_macro() {
        let files = [
            include_str!("blockdev.rs"),
            include_str!("dev.rs"),
            include_str!("ds.rs"),
            include_str!("fs.rs"),
            include_str!("pm.rs"),
            include_str!("rs.rs"),
            include_str!("vfs.rs"),
        ];
        for text in files {
            for line in text.lines() {
                let plain = line.trim_start().starts_with("pub const") && line.contains(": u32 = 0x");
                assert!(!plain, "message type outside message_types!: {line}");
            }
        }
    }

    #[test]
    fn names_round_trip_and_results_decode() {
        let mut m = Message::new(1);
        put_name(&mut m, 2, "vfs");
        let mut buf = [0; NAME_LEN];
        assert_eq!(get_name(&m, 2, &mut buf), "vfs");
        put_name(&mut m, 2, "exactly16bytes!!");
        assert_eq!(get_name(&m, 2, &mut buf), "exactly16bytes!!");
        assert_eq!(result_of(&reply(5)), Ok(5));
        assert_eq!(result_of(&reply_result(Err(crate::Error::NoEntry))), Err(crate::Error::NoEntry));
    }
}
