//! The protocol between `attack_kernel` and its `attack_helper` copies
//! (the `kernel-attacks` image): requests are SENDRECs from the attacker,
//! answered with SENDNB.

/// Answer with what arrived: `[source, mtype, payload[0]]` (any message
/// type the helper does not know gets this answer).
pub const H_ECHO: u32 = 1;
/// Answer, then SEND `H_DATA` to the attacker (and block there until it
/// receives): one half of a cycle of two senders.
pub const H_SEND_BACK: u32 = 2;
/// Answer, then after `payload[0]` ticks kill `payload[1]`: a watchdog
/// that ends a deadlock the kernel let happen.
pub const H_WATCHDOG: u32 = 3;
/// Safe-copy `payload[2]` bytes from grant `payload[1]` of `payload[0]`;
/// the answer is `[result, first 8 bytes]`.
pub const H_COPY: u32 = 4;
/// Answer, then exit.
pub const H_EXIT: u32 = 5;
/// The message `H_SEND_BACK` sends.
pub const H_DATA: u32 = 6;
/// The answer's type.
pub const H_ANSWER: u32 = 7;
