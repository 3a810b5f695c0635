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

/// Trap mask: a process may use only the primitives its image grants
/// (ordinary programs: SENDREC only). Off: every primitive is allowed.
pub const TRAP_MASK: &str = "trap_mask";
/// Send mask: IPC only to the destinations the image grants. Off: any
/// destination.
pub const SEND_MASK: &str = "send_mask";
/// Kernel-call mask: only the kernel calls the image grants. Off: all.
pub const KERNEL_CALL_MASK: &str = "kernel_call_mask";
/// The kernel writes the real sender into every message. Off: a message
/// keeps the `source` its sender wrote.
pub const SOURCE_STAMP: &str = "source_stamp";
/// Only the kernel builds notifications: a send whose type is the
/// notification type is refused. Off: accepted.
pub const NOTIFY_TYPE: &str = "notify_type";
/// Message pointers must lie in the caller's user memory. Off: any
/// address the kernel can read.
pub const POINTER_CHECK: &str = "pointer_check";
/// Safe copies check grantee, range and rights. Off: any grant of the
/// granter may be copied by anyone.
pub const GRANT_CHECK: &str = "grant_check";
/// SENDA tables are bounded. Off: the bound is not checked.
pub const SENDA_BOUND: &str = "senda_bound";
/// Deadlock detection. Off: a closing cycle blocks.
pub const DEADLOCK_DETECTION: &str = "deadlock_detection";

// ---- server defenses: identity, authorization and quotas --------------------

// ---- server defenses: distrust of drivers and users -------------------------

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
