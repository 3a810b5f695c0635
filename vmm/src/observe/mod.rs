//! Observing a guest: the IPC trace ring the kernel writes and the VMM
//! drains ([`ring`]), and what is made of the records: decoding that never
//! trusts the guest ([`decode`]), attribution of messages to system calls
//! ([`analysis`]), and exports as JSON lines and message-sequence charts
//! ([`export`]) and as Perfetto JSON with time, spans and flows
//! ([`perfetto`]); the sampling profiler of the whole guest ([`profile`]);
//! and the check of a guest's disk after a run ([`fsck`]).

pub mod analysis;
pub mod decode;
pub mod export;
pub mod fsck;
pub mod perfetto;
pub mod profile;
pub mod ring;

pub use ring::{TraceLog, TraceMode, TraceRing, RING_BYTES};
