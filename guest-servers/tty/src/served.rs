//! The writes TTY has served, in memory and in the backup RS lends it
//! (`abi::proto::tty::backup`: the last write served from each request
//! slot of VFS), so that a WRITE that comes again is
//! answered with its first answer and not printed twice: a copy of the
//! message (a duplicated SENDA entry), or VFS sending it again, with the
//! same request id, to a restarted TTY after the reply was lost.
//!
//! Why a backup: a restarted TTY cannot know what its predecessor
//! printed, and the console is not idempotent. The record of a write is
//! copied to the backup (one safe copy, a kernel call) after its text
//! went out and before the answer is queued, so every write that was
//! answered, or could have been, is on record. A new TTY reads the records
//! back before it serves its first request (RS moves the grant to it at
//! its start, before publishing it, so before any request can come).
//!
//! What is not covered: TTY dying while it prints a write (between its
//! output calls, or after the last and before the record). The write has
//! no record, so VFS's copy sent to the new TTY is printed whole: the
//! part that went out before the death appears twice (partial output
//! followed by the full text). A write that was printed completely and
//! recorded is never printed again. `abi::weaken::TTY_BACKUP` keeps the
//! records in memory only (a copy is still caught; a restart forgets all).

use abi::proto::tty::backup::{Records, RECORD_SIZE, SIZE};
use abi::Endpoint;
use rt::backup::InUse;

/// The served writes and where their backup is.
pub struct Served {
    records: Records,
    /// The backup RS lends.
    backup: InUse,
}

impl Served {
    /// Nothing served, no backup (until [`Served::start`]).
    pub const fn new() -> Served {
        Served { records: Records::new(), backup: InUse::new("tty") }
    }

    /// Uses the backup RS lends (unless `on` is false).
    pub fn start(&mut self, on: bool) {
        self.backup.start(on);
    }

    /// Takes back the writes an earlier TTY served, once, before the
    /// first request is handled.
    pub fn restore(&mut self) {
        let Some(lent) = self.backup.for_restore() else {
            return;
        };
        let mut bytes = [0u8; SIZE];
        if let Err(e) = lent.read(0, &mut bytes) {
            return self.backup.broken("read", e);
        }
        self.records = Records::restore(&bytes);
        if !self.records.is_empty() {
            rt::println!("tty: took back {} served writes of the earlier driver", self.records.len());
        }
    }

    /// The count answered to write `id` of `client` (of `len` bytes, by
    /// grant `grant`), if it was served.
    pub fn find(&self, client: Endpoint, id: u64, grant: u64, len: u64) -> Option<u64> {
        self.records.find(client, id, grant, len)
    }

    /// Write `id` of `client` (by grant `grant`) went out with `count`
    /// bytes: on record, in the backup too, before it is answered.
    pub fn record(&mut self, client: Endpoint, id: u64, grant: u64, count: u64) {
        let Some((slot, bytes)) = self.records.record(client, id, grant, count) else {
            return;
        };
        if let Some(lent) = self.backup.lent() {
            if let Err(e) = lent.write(slot * RECORD_SIZE, &bytes) {
                self.backup.broken("write", e);
            }
        }
    }
}
