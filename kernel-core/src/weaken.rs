//! Kernel defenses switched off for negative controls.
//!
//! A test that shows an attack refused proves something only if the same
//! attack succeeds with the defense off (`abi::weaken`). The kernel reads
//! `viv.weaken=NAME,...` once at boot into these flags; each defense then
//! tests its flag only on the path where it would refuse, so an ordinary
//! boot pays nothing on the paths that succeed (the kernel-stamped source
//! is the one check on the delivery path: one load and branch).

use abi::weaken as names;

/// Which kernel defenses are off. All `false` (every defense on) unless
/// the command line says otherwise.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct Weakened {
    /// Trap mask not checked (`ETRAPDENIED` never returned).
    pub trap_mask: bool,
    /// Send mask not checked (`ECALLDENIED` for destinations never returned).
    pub send_mask: bool,
    /// Kernel-call mask not checked (`ECALLDENIED` for kernel calls).
    pub kernel_call_mask: bool,
    /// The sender's own `source` field is delivered as it wrote it.
    pub source_stamp: bool,
    /// A stale endpoint reaches whoever now holds its slot.
    pub endpoint_generation: bool,
    /// A call that closes a cycle of blocked processes blocks (`ELOCKED`
    /// never returned).
    pub deadlock: bool,
    /// User pointers to kernel (supervisor-only) pages are accepted.
    pub pointer_check: bool,
    /// Safe copies ignore the grant's grantee, rights and bounds.
    pub grant_check: bool,
    /// SENDA tables of any size are walked (`EDOM` never returned).
    pub senda_bound: bool,
    /// Messages typed as notifications are delivered from user processes.
    pub notify_type: bool,
    /// Contiguous (DMA) allocations use never-used frames only.
    pub frame_reuse: bool,
    /// A process's end leaves those blocked on it blocked for ever.
    pub dead_peer: bool,
    /// No per-user memory quota and no reserve for the system.
    pub memory_quota: bool,
}

impl Weakened {
    /// Every defense on.
    pub const NONE: Weakened = Weakened {
        trap_mask: false,
        send_mask: false,
        kernel_call_mask: false,
        source_stamp: false,
        endpoint_generation: false,
        deadlock: false,
        pointer_check: false,
        grant_check: false,
        senda_bound: false,
        notify_type: false,
        frame_reuse: false,
        dead_peer: false,
        memory_quota: false,
    };

    /// The defenses the kernel command line `cmdline` switches off.
    pub fn from_cmdline(cmdline: &str) -> Weakened {
        let value = abi::platform::cmdline_value(cmdline, names::WEAKEN_KEY);
        if value.is_none() {
            return Weakened::NONE;
        }
        let off = |name| names::is_weakened(value, name);
        Weakened {
            trap_mask: off(names::TRAP_MASK),
            send_mask: off(names::SEND_MASK),
            kernel_call_mask: off(names::KERNEL_CALL_MASK),
            source_stamp: off(names::SOURCE_STAMP),
            endpoint_generation: off(names::ENDPOINT_GENERATION),
            deadlock: off(names::DEADLOCK),
            pointer_check: off(names::POINTER_CHECK),
            grant_check: off(names::GRANT_CHECK),
            senda_bound: off(names::SENDA_BOUND),
            notify_type: off(names::NOTIFY_TYPE),
            frame_reuse: off(names::FRAME_REUSE),
            dead_peer: off(names::DEAD_PEER),
            memory_quota: off(names::MEMORY_QUOTA),
        }
    }

    /// Whether any defense is off (the kernel says so at boot).
    pub fn any(&self) -> bool {
        *self != Weakened::NONE
    }
}
