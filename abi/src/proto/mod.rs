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

pub mod blockdev;
pub mod dev;
pub mod ds;
pub mod fs;
pub mod pm;
pub mod rs;
pub mod vfs;

use crate::Message;

/// Message type of every reply.
pub const REPLY: u32 = 0x7FFF_0001;

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
