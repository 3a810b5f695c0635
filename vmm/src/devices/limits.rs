//! Caps on what a guest can make the host keep.
//!
//! Everything a guest writes is untrusted, and some of it the VMM keeps
//! for the whole run: the captured console and log, the bench marks (each
//! with a statistics snapshot), the drained IPC trace. A guest printing or
//! marking in a loop would grow them until the host runs out of memory,
//! taking a whole campaign with it. So each has a cap ([`HostLimits`],
//! documented in `docs/platform.md`); when a guest reaches one, the host
//! stops keeping more and the run ends with [`Limit`] as its outcome
//! (`Exit::GuestLimit`), never a bigger buffer.

use std::sync::{Arc, OnceLock};

/// The caps of one run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostLimits {
    /// Bytes of console output kept (and, kept apart, of log output).
    pub capture_bytes: usize,
    /// Bench marks kept.
    pub marks: usize,
    /// Trace records drained.
    pub trace_records: usize,
}

/// Console and log bytes kept per run, each: 16 MiB.
pub const CAPTURE_BYTES: usize = 16 << 20;
/// Bench marks kept per run.
pub const MARKS: usize = 16_384;
/// Trace records drained per run (64 bytes each: 64 MiB).
pub const TRACE_RECORDS: usize = 1 << 20;

impl Default for HostLimits {
    fn default() -> HostLimits {
        HostLimits { capture_bytes: CAPTURE_BYTES, marks: MARKS, trace_records: TRACE_RECORDS }
    }
}

/// Which cap a guest reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Limit {
    /// The captured console output.
    #[default]
    Console,
    /// The captured log output.
    Log,
    /// The bench marks.
    Marks,
    /// The drained IPC trace.
    Trace,
}

impl Limit {
    /// Short name for messages and reports ("log limit").
    pub fn describe(self) -> &'static str {
        match self {
            Limit::Console => "console limit",
            Limit::Log => "log limit",
            Limit::Marks => "bench-mark limit",
            Limit::Trace => "trace limit",
        }
    }
}

/// The first cap a run reached, shared by the devices that keep guest
/// data and the run loop that ends the run.
#[derive(Debug, Clone, Default)]
pub struct LimitFlag(Arc<OnceLock<Limit>>);

impl LimitFlag {
    /// Records that `limit` was reached (the first one reached stays).
    pub fn reach(&self, limit: Limit) {
        let _ = self.0.set(limit);
    }

    /// The first limit reached, if any.
    pub fn reached(&self) -> Option<Limit> {
        self.0.get().copied()
    }
}

/// Appends `bytes` to `buf` unless that would take it past `cap`; past it,
/// keeps what fits, reports `limit` on `flag` and returns false.
pub fn append_capped(buf: &mut Vec<u8>, bytes: &[u8], cap: usize, flag: &LimitFlag, limit: Limit) -> bool {
    let room = cap.saturating_sub(buf.len());
    if bytes.len() <= room {
        buf.extend_from_slice(bytes);
        return true;
    }
    buf.extend_from_slice(&bytes[..room]);
    flag.reach(limit);
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_stop_at_the_cap_and_the_first_limit_stays() {
        let flag = LimitFlag::default();
        let mut buf = Vec::new();
        assert!(append_capped(&mut buf, b"abc", 5, &flag, Limit::Log));
        assert_eq!(flag.reached(), None);
        assert!(!append_capped(&mut buf, b"defg", 5, &flag, Limit::Log));
        assert_eq!(buf, b"abcde");
        assert!(!append_capped(&mut buf, b"h", 5, &flag.clone(), Limit::Console));
        assert_eq!((buf.len(), flag.reached()), (5, Some(Limit::Log)));
    }
}
