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
// The kernel reads these once at boot (`kernel_core::Weakened`); what each
// one lets through is listed in docs/threats-kernel.md.

/// Trap mask: a process may use primitives outside its mask (`ETRAPDENIED`).
pub const TRAP_MASK: &str = "trap_mask";
/// Send mask: a process may send to destinations outside its mask
/// (`ECALLDENIED`).
pub const SEND_MASK: &str = "send_mask";
/// Kernel-call mask: a process may make kernel calls outside its mask
/// (`ECALLDENIED`): a driver could kill RS or power the machine off.
pub const KERNEL_CALL_MASK: &str = "kcall_mask";
/// Kernel-stamped source: a message's `source` is what the sender wrote
/// (spoofing).
pub const SOURCE_STAMP: &str = "source_stamp";
/// Endpoint generation: a stale endpoint reaches the process now in its
/// slot (`EDEADSRCDST`).
pub const ENDPOINT_GENERATION: &str = "endpoint_generation";
/// Deadlock detection: a call closing a cycle of blocked processes blocks
/// for ever (`ELOCKED`).
pub const DEADLOCK: &str = "deadlock";
/// Pointer validation: the kernel accepts user pointers to its own pages
/// (`EFAULT`).
pub const POINTER_CHECK: &str = "pointer_check";
/// Grant checks: a safe copy ignores grantee, rights and bounds (`EPERM`).
pub const GRANT_CHECK: &str = "grant_check";
/// SENDA size bound: SENDA walks tables of any length (`EDOM`).
pub const SENDA_BOUND: &str = "senda_bound";
/// Notification type: a process may send a message typed as a
/// notification (`EINVAL`), posing as one.
pub const NOTIFY_TYPE: &str = "notify_type";
/// Frame reuse: contiguous (DMA) allocations take never-used frames only,
/// so after enough process churn a restarted driver gets no DMA buffer.
pub const FRAME_REUSE: &str = "frame_reuse";

/// Every kernel defense name, for tools that list them.
pub const KERNEL_DEFENSES: [&str; 11] = [
    TRAP_MASK,
    SEND_MASK,
    KERNEL_CALL_MASK,
    SOURCE_STAMP,
    ENDPOINT_GENERATION,
    DEADLOCK,
    POINTER_CHECK,
    GRANT_CHECK,
    SENDA_BOUND,
    NOTIFY_TYPE,
    FRAME_REUSE,
];

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
