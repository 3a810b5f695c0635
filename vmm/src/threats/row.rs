//! What a row of `viv threats` is: the attack, whose privileges it runs
//! with, what the defended run must show and what the negative control
//! (the defense switched off) must show instead. The rows themselves are
//! in `table.rs`; `judge.rs` holds a run against a row's expectations.

use abi::Error;

use super::stage::Stage;
use super::stall::StallAt;

/// Whose privileges an attack runs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Runner {
    /// An ordinary program run from the disk by an unprivileged user.
    User,
    /// A program with a driver's traps, destinations and kernel calls
    /// (`attack_drv`: the console driver's, plus what an attack needs
    /// beyond them, `images/threats/image.toml`), run by an unprivileged
    /// user.
    Driver,
    /// A program with the file server's reach to the disk driver (a
    /// client of `blk`, as `ext2fs` is), run by an unprivileged user.
    DiskClient,
    /// An ordinary program that makes itself an unprivileged user, started
    /// from the administrator's shell (its victims are root's).
    UserBesideRoot,
    /// No attacker: a crash. `killer`, a test service with the kill
    /// kernel call, kills a server while the workload runs, as a fault
    /// or RS would ([`Stage::Killer`]).
    Crash,
    /// `blk_probe`, a system service that spawns and kills processes and
    /// then kills the disk driver ([`Stage::Churn`]).
    Churner,
}

impl Runner {
    /// The uid the shell runs the attack as.
    pub fn uid(self) -> u32 {
        match self {
            Runner::User | Runner::Driver | Runner::DiskClient => super::ATTACKER_UID,
            Runner::UserBesideRoot | Runner::Crash | Runner::Churner => 0,
        }
    }

    /// How reports name it.
    pub fn describe(self) -> &'static str {
        match self {
            Runner::User => "user",
            Runner::Driver => "driver",
            Runner::DiskClient => "a client of the disk driver",
            Runner::UserBesideRoot => "user, beside root's shell",
            Runner::Crash => "a crash (a test service's kill kernel call)",
            Runner::Churner => "a service that spawns and kills processes, then kills blk",
        }
    }

    /// The program whose processes the trace evidence is about, when it
    /// is not the command's first word.
    fn program(self) -> Option<&'static str> {
        match self {
            Runner::Crash => Some("killer"),
            Runner::Churner => Some("blk_probe"),
            _ => None,
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
    /// The attack program reports `defended` (its text must contain
    /// this), and the trace holds a record with this error made by the
    /// attacker or aimed at it (a server's reply it did not take).
    DefendedWith(&'static str, Error),
    /// The attack program reports `succeeded`.
    Succeeded,
    /// The console has this line, and the trace a record of the
    /// attacker's with this error (a refused call, or a server's reply).
    LineAndRefusal(&'static str, Error),
    /// The console has this line.
    Line(&'static str),
    /// The console lacks this line (the attack stopped what prints it).
    Missing(&'static str),
    /// A driver misbehaved and was caught: the workload is intact, a
    /// dependent server complained to RS, and RS restarted the driver.
    Recovered(&'static str),
    /// RS restarted this driver (the attack had it killed).
    Restarted(&'static str),
    /// RS killed this driver for its missed heartbeats and restarted it:
    /// the trace has the kill and the new incarnation, and no complaint
    /// to RS (no dependent server's deadline caught it first).
    RestartedForSilence(&'static str),
    /// The workload failed or hung.
    WorkloadBroken,
    /// The trace shows a message from the attacker delivered to this
    /// program (past the check that should have stopped it).
    DeliveredTo(&'static str),
    /// The workload took more than this many virtual ticks (a stall).
    Slower(u64),
    /// The guest powered off with this status (the attacker did it).
    PoweredOff(u32),
    /// The attacker (and so the shell) never came back: the run reached
    /// its timeout.
    Hung,
    /// A server died and the system powered off with this status, as
    /// docs/servers-dying.md says it must; `synced`: the disk was synced
    /// first (`e2fsck -fn` must find it clean). The trace shows the kill.
    DiedAndPoweredOff { status: u32, synced: bool },
    /// RS restarted this server and the console then has this line (the
    /// server serves again); the workload itself may fail as
    /// docs/servers-dying.md says (a call in flight).
    RestartedThen(&'static str, &'static str),
    /// The console has this line, the trace a record of the attacker's
    /// with this error, and RS restarted this driver afterwards (it
    /// failed while the attacker held what it could).
    RefusedThenRestarted(&'static str, Error, &'static str),
    /// While a faulty disk driver stalled a disk request, this server
    /// served every other process at once (within
    /// `stall::SERVED_BOUND_TICKS`, from the trace: `threats::stall`).
    ServedDuringStall(StallAt),
    /// The same stall held up the server's other work (the negative
    /// control): something it owed another process waited for the disk.
    WaitedForStall(StallAt),
    /// No negative control: no defense can be switched off, because the
    /// outcome is the design (why, in a few words).
    NoControl(&'static str),
}

impl Expect {
    /// Whether a defended run must also leave the workload intact.
    pub fn needs_workload(&self) -> bool {
        !matches!(self, Expect::DiedAndPoweredOff { .. } | Expect::RestartedThen(..))
    }

    /// Whether the disk must be clean after a defended run.
    pub fn needs_clean_disk(&self) -> bool {
        !matches!(self, Expect::DiedAndPoweredOff { synced: false, .. })
    }
}

/// One row.
#[derive(Debug, Clone, Copy)]
pub struct Threat {
    /// Unique name (`--only` matches a part of it).
    pub name: &'static str,
    /// The system it attacks.
    pub stage: Stage,
    /// The paper's threat class.
    pub class: &'static str,
    /// Whose privileges the attacker has.
    pub runner: Runner,
    /// Kernel command-line keys of the run (a misbehaving driver's mode).
    pub keys: &'static str,
    /// The shell command that attacks (`{seed}` is replaced by `--seed`;
    /// the workload follows it, or stands where `{workload}` is): its
    /// first word is the attacker program (whose processes the trace
    /// evidence is about) unless the runner names another; an
    /// `attack`/`attack_drv` command's second word is the attack, named
    /// in the program's verdict line.
    pub command: &'static str,
    /// The defense, in a few words.
    pub defense: &'static str,
    /// What the defended run must show.
    pub defended: Expect,
    /// The defense's switch (`abi::weaken`).
    pub weaken: &'static str,
    /// What the run with the defense switched off must show.
    pub undefended: Expect,
}

/// A row with no extra command-line keys (most rows): one argument per
/// column of the table, so each row reads as a line of it.
#[allow(clippy::too_many_arguments)]
pub(super) const fn row(
    name: &'static str,
    class: &'static str,
    runner: Runner,
    command: &'static str,
    defense: &'static str,
    defended: Expect,
    weaken: &'static str,
    undefended: Expect,
) -> Threat {
    Threat { name, stage: Stage::Attackers, runner, class, keys: "", command, defense, defended, weaken, undefended }
}

/// A row of the death of a server (issue 11, item 7): `killer` kills
/// `keys`'s target while the workload runs (docs/servers-dying.md).
pub(super) const fn death(
    name: &'static str,
    keys: &'static str,
    command: &'static str,
    defense: &'static str,
    defended: Expect,
    weaken: &'static str,
    undefended: Expect,
) -> Threat {
    Threat {
        name,
        stage: Stage::Killer,
        class: "a server dies while programs use it",
        runner: Runner::Crash,
        keys,
        command,
        defense,
        defended,
        weaken,
        undefended,
    }
}

impl Threat {
    /// The attacker program (the runner's, else the command's first
    /// word).
    pub fn program(&self) -> &'static str {
        self.runner.program().unwrap_or_else(|| self.command.split_whitespace().next().unwrap_or(""))
    }

    /// Whether the row has a negative control.
    pub fn has_control(&self) -> bool {
        !matches!(self.undefended, Expect::NoControl(_))
    }

    /// The attack an attack program reports on (the command's second word).
    pub fn attack(&self) -> &'static str {
        self.command.split_whitespace().nth(1).unwrap_or("")
    }
}
