//! The fixed-size IPC message.
//!
//! Every message is 64 bytes: the sender's endpoint, a type, and a 56-byte
//! payload. A fixed size lets the kernel copy a message straight from sender
//! to receiver with no kernel buffering (the rendezvous of MINIX 3), and
//! makes the copy cost a constant.

use crate::Endpoint;

/// Size of a message in bytes.
pub const MESSAGE_SIZE: usize = 64;
/// Number of 64-bit payload words.
pub const PAYLOAD_WORDS: usize = 7;

/// An IPC message. `source` is written by the kernel on delivery: whatever a
/// sender puts there is overwritten, so a receiver always sees the true
/// sender.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
#[repr(C, align(8))]
pub struct Message {
    /// The sender, stamped by the kernel.
    pub source: Endpoint,
    /// Request, reply or notification type; its meaning is the protocol's.
    pub mtype: u32,
    /// 56 bytes of payload, as seven little-endian words.
    pub payload: [u64; PAYLOAD_WORDS],
}

impl Default for Endpoint {
    fn default() -> Self {
        Endpoint::NONE
    }
}

impl Message {
    /// A message of type `mtype` with an all-zero payload.
    pub const fn new(mtype: u32) -> Message {
        Message { source: Endpoint::NONE, mtype, payload: [0; PAYLOAD_WORDS] }
    }

    /// A message of type `mtype` with the given leading payload words.
    pub fn with_words(mtype: u32, words: &[u64]) -> Message {
        let mut m = Message::new(mtype);
        let n = words.len().min(PAYLOAD_WORDS);
        m.payload[..n].copy_from_slice(&words[..n]);
        m
    }

    /// The message as its 8 wire words (word 0 = source | mtype << 32).
    pub fn to_words(&self) -> [u64; 8] {
        let mut w = [0u64; 8];
        w[0] = self.source.0 as u64 | (self.mtype as u64) << 32;
        w[1..].copy_from_slice(&self.payload);
        w
    }

    /// Rebuilds a message from its 8 wire words.
    pub fn from_words(w: &[u64; 8]) -> Message {
        let mut payload = [0u64; PAYLOAD_WORDS];
        payload.copy_from_slice(&w[1..]);
        Message { source: Endpoint(w[0] as u32), mtype: (w[0] >> 32) as u32, payload }
    }

    /// The payload as bytes.
    pub fn payload_bytes(&self) -> [u8; 56] {
        let mut out = [0u8; 56];
        for (chunk, word) in out.chunks_exact_mut(8).zip(self.payload.iter()) {
            chunk.copy_from_slice(&word.to_le_bytes());
        }
        out
    }
}

const _: () = assert!(core::mem::size_of::<Message>() == MESSAGE_SIZE);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_round_trip() {
        let mut m = Message::with_words(7, &[1, 2, 3, 4, 5, 6, 7, 8]);
        m.source = Endpoint::new(4, 2);
        assert_eq!(m.payload, [1, 2, 3, 4, 5, 6, 7]);
        assert_eq!(Message::from_words(&m.to_words()), m);
    }
}
