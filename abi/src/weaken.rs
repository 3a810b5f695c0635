//! Negative controls: switching one defense off.
//!
//! A test that shows an attack failing proves nothing unless the same test
//! shows the attack succeeding when the defense is absent (otherwise the
//! check could not have failed). Every defense against an IPC threat
//! therefore has a name here, and the kernel command-line key
//! [`WEAKEN_KEY`] (`viv.weaken=NAME,NAME`) switches the named defenses off
//! in the kernel and in the servers that read it. Only `viv threats` and
//! tests set it; an ordinary boot has every defense on.
//!
//! Names are plain strings so that a new defense needs one constant here,
//! one check where the defense lives, and one row in `docs/threats.md`.

/// Kernel command-line key whose value is a comma-separated list of
/// defense names (the constants below) to switch off.
pub const WEAKEN_KEY: &str = "viv.weaken";

// ---- kernel defenses -------------------------------------------------------

// ---- server defenses: identity, authorization and quotas --------------------

// ---- server defenses: distrust of drivers and users -------------------------

/// ext2fs checks every reply of the disk driver before using it: it must
/// come from the current `blk` endpoint, carry the id of the outstanding
/// request, and a result that fits the request (READ/WRITE: exactly the
/// length asked; GEOMETRY: a whole number of sectors). A reply that fails
/// is the driver's fault: ext2fs complains to RS and sends the request
/// again to the new instance. Weakened: the first reply from the driver
/// is taken as it comes (any id, any count; a short count is an error for
/// the client, a long one is believed).
pub const BLK_REPLY_CHECK: &str = "blk_reply_check";
/// ext2fs gives every request to the disk driver a deadline of
/// `abi::proto::rs::DEADLINE_PERIODS` heartbeat periods of `blk`;
/// when it passes, ext2fs complains to RS, which restarts the driver, and
/// the request goes to the new instance. Weakened: ext2fs waits as it did
/// before (a driver that answers heartbeats but not requests holds every
/// request up to 30 s, then fails it).
pub const BLK_DEADLINE: &str = "blk_deadline";
/// VFS checks every reply of the console driver: a byte count larger than
/// the request is an I/O error for the one caller, and VFS complains to
/// RS, which restarts the driver. Weakened: VFS passes the count on as it
/// comes (the caller's `write_all` then walks past its buffer).
pub const TTY_REPLY_CHECK: &str = "tty_reply_check";
/// VFS gives every WRITE to the console driver a deadline of
/// `abi::proto::rs::DEADLINE_PERIODS` heartbeat periods of `tty`, and resends a request
/// whose SENDA delivery failed; when a deadline passes VFS complains to
/// RS and resends to the new instance, and fails the write with an I/O
/// error after a second deadline. Weakened: VFS waits for the answer
/// however long it takes (a lost request leaves the writer waiting
/// forever).
pub const TTY_DEADLINE: &str = "tty_deadline";
/// RS accepts COMPLAIN only from running system services other than the
/// one named. Weakened: anybody may complain (a user program can have a
/// driver killed).
pub const COMPLAIN_AUTH: &str = "complain_auth";

/// Whether `name` appears in the comma-separated `value` of [`WEAKEN_KEY`].
pub fn is_weakened(value: Option<&str>, name: &str) -> bool {
    value.is_some_and(|v| v.split(',').any(|n| n == name))
}

/// Whether the kernel command line `cmdline` switches defense `name` off.
pub fn weakened_in(cmdline: &str, name: &str) -> bool {
    is_weakened(crate::platform::cmdline_value(cmdline, WEAKEN_KEY), name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_matched_whole() {
        let line = "viv.entry=trap viv.weaken=rs_auth,trap_mask -- echo viv.weaken=x";
        assert!(weakened_in(line, "rs_auth"));
        assert!(weakened_in(line, "trap_mask"));
        assert!(!weakened_in(line, "rs"));
        assert!(!weakened_in(line, "x"));
        assert!(!weakened_in("viv.entry=trap", "rs_auth"));
    }
}
