//! The rows of `viv threats`: one attack each, the defense that must stop
//! it, and the switch that removes that defense for the negative control.
//!
//! The threat classes are the paper's (Herder et al., PRDC 2008) and
//! MINIX 3's defenses against them (`docs/threats.md`). Attacks run from
//! the shell: `attack NAME` with an ordinary user's privileges and
//! `attack_drv NAME` with a driver's (`guest-servers/programs/src/attacks.rs`).

use abi::Error;

/// Whose privileges an attack runs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Runner {
    /// An ordinary program run from the disk by an unprivileged user.
    User,
    /// A program with a driver's destinations and kernel calls, run by an
    /// unprivileged user.
    Driver,
}

impl Runner {
    /// The uid the shell runs the attack as.
    pub fn uid(self) -> u32 {
        super::ATTACKER_UID
    }

    /// How reports name it.
    pub fn describe(self) -> &'static str {
        match self {
            Runner::User => "user",
            Runner::Driver => "driver",
        }
    }
}

/// What one run must show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// The attack program reports `defended` with this error, and the
    /// trace holds a record of the attacker's with this error as its
    /// result (a refused call) or first payload word (a server's reply).
    Refused(Error),
    /// The attack program reports `defended` for a reason that is no
    /// error code (its text must contain this).
    DefendedBecause(&'static str),
    /// The attack program reports `succeeded`.
    Succeeded,
    /// The guest powered off with this status (the attacker did it).
    PoweredOff(u32),
    /// The attacker (and so the shell) never came back: the run reached
    /// its timeout.
    Hung,
}

/// One row.
#[derive(Debug, Clone, Copy)]
pub struct Threat {
    /// Unique name (`--only` matches a part of it).
    pub name: &'static str,
    /// The paper's threat class.
    pub class: &'static str,
    /// Whose privileges the attacker has.
    pub runner: Runner,
    /// The shell command that attacks (`{seed}` is replaced by `--seed`).
    pub command: &'static str,
    /// The name the attack program prints in its verdict line.
    pub attack: &'static str,
    /// The defense, in a few words.
    pub defense: &'static str,
    /// What the defended run must show.
    pub defended: Expect,
    /// The defense's switch (`abi::weaken`).
    pub weaken: &'static str,
    /// What the run with the defense switched off must show.
    pub undefended: Expect,
}

const fn kernel(
    name: &'static str,
    class: &'static str,
    runner: Runner,
    command: &'static str,
    attack: &'static str,
    defense: &'static str,
    defended: Expect,
    weaken: &'static str,
    undefended: Expect,
) -> Threat {
    Threat { name, class, runner, command, attack, defense, defended, weaken, undefended }
}

/// Every row, in report order.
pub const THREATS: &[Threat] = &[
    kernel(
        "forbidden-primitive/user",
        "forbidden primitive",
        Runner::User,
        "attack send",
        "send",
        "trap mask: ordinary programs may only SENDREC",
        Expect::Refused(Error::TrapDenied),
        abi::weaken::TRAP_MASK,
        Expect::Succeeded,
    ),
    kernel(
        "forbidden-destination/user",
        "unauthorized access: destination",
        Runner::User,
        "attack destination",
        "destination",
        "send mask: a program reaches only the processes its image entry names",
        Expect::Refused(Error::CallDenied),
        abi::weaken::SEND_MASK,
        Expect::Succeeded,
    ),
    kernel(
        "forbidden-kernel-call/user",
        "unauthorized access: kernel call",
        Runner::User,
        "attack kernel-call",
        "kernel-call",
        "kernel-call mask: no power-off for programs",
        Expect::Refused(Error::CallDenied),
        abi::weaken::KERNEL_CALL_MASK,
        Expect::PoweredOff(77),
    ),
    kernel(
        "forbidden-kernel-call/driver",
        "unauthorized access: kernel call",
        Runner::Driver,
        "attack_drv kill-rs",
        "kill-rs",
        "kernel-call mask: a driver may not kill (RS, which nobody restarts)",
        Expect::Refused(Error::CallDenied),
        abi::weaken::KERNEL_CALL_MASK,
        Expect::Succeeded,
    ),
    kernel(
        "spoofed-source/user",
        "spoofing: sender identity",
        Runner::User,
        "attack spoof",
        "spoof",
        "the kernel stamps the real sender into every message",
        Expect::DefendedBecause("real sender"),
        abi::weaken::SOURCE_STAMP,
        Expect::Succeeded,
    ),
    kernel(
        "spoofed-notification/user",
        "spoofing: notification",
        Runner::User,
        "attack fake-notify",
        "fake-notify",
        "only the kernel builds notifications: the notification type is refused in sends",
        Expect::Refused(Error::Invalid),
        abi::weaken::NOTIFY_TYPE,
        Expect::Hung,
    ),
    kernel(
        "bad-pointer/user",
        "unauthorized access: memory",
        Runner::User,
        "attack bad-pointer",
        "bad-pointer",
        "pointer validation: messages only from the caller's user memory",
        Expect::Refused(Error::Fault),
        abi::weaken::POINTER_CHECK,
        Expect::Succeeded,
    ),
    kernel(
        "foreign-grant/driver",
        "unauthorized access: memory beyond a message",
        Runner::Driver,
        "attack_drv grant",
        "grant",
        "grants: only the grantee may copy, within range and rights",
        Expect::Refused(Error::Perm),
        abi::weaken::GRANT_CHECK,
        Expect::Succeeded,
    ),
    kernel(
        "senda-flood/driver",
        "resource exhaustion",
        Runner::Driver,
        "attack_drv senda-flood",
        "senda-flood",
        "SENDA tables are bounded (and live in the sender's memory)",
        Expect::Refused(Error::Domain),
        abi::weaken::SENDA_BOUND,
        Expect::Succeeded,
    ),
    kernel(
        "deadlock/driver",
        "deadlock",
        Runner::Driver,
        "attack_drv deadlock",
        "deadlock",
        "cycle detection over blocked sends and receives",
        Expect::Refused(Error::Locked),
        abi::weaken::DEADLOCK,
        Expect::Hung,
    ),
    kernel(
        "stale-endpoint/driver",
        "stale identity after a restart",
        Runner::Driver,
        "attack_drv stale-endpoint",
        "stale-endpoint",
        "endpoints carry a generation: an old one no longer names the slot's new process",
        Expect::Refused(Error::DeadSrcDst),
        abi::weaken::ENDPOINT_GENERATION,
        Expect::Succeeded,
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_every_row_has_a_control() {
        for (i, a) in THREATS.iter().enumerate() {
            assert!(!a.weaken.is_empty(), "{} has no switch", a.name);
            assert!(
                matches!(a.undefended, Expect::Succeeded | Expect::PoweredOff(_) | Expect::Hung),
                "{}: the control must show the attack getting through",
                a.name
            );
            assert!(THREATS[i + 1..].iter().all(|b| b.name != a.name), "{} twice", a.name);
        }
    }
}
