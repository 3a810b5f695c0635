//! The stall bound, measured from the trace (docs/trust.md, "Deadlines
//! and bounds"): while a faulty disk driver holds up one request, how
//! long did everything else wait? Shared by the `viv threats` rows
//! `disk-stall/...` and `vmm/tests/stall_bound.rs`.
//!
//! Two servers stand between programs and the disk, and each must keep
//! serving while a disk request waits: VFS while its request waits at
//! `ext2fs` ([`vfs_stall`]: other processes' console and `/tmp` writes and
//! PM's fork and exit calls), PM while an exec's file read waits at VFS
//! ([`pm_stall`]: other processes' forks, sleeps and exits). Times are
//! guest ticks from the records, never wall-clock.

use std::collections::HashSet;

use abi::proto::{pm, vfs, REPLY};
use abi::trace::{Kind, Record};

use crate::observe::analysis::endpoints_of;

/// Ticks per heartbeat period of `blk` (500 ms at the kernel's 100 Hz).
pub const PERIOD_TICKS: u64 = 50;
/// How long the file server may hold one request while a driver is
/// replaced: a request is late at the first watchdog alarm after
/// `DEADLINE_PERIODS` periods (RS's second unanswered ping for a hung
/// driver comes sooner), so within `DEADLINE_PERIODS + 1` periods; one
/// period more for RS to start the new driver and `ext2fs` to send the
/// request again and have it answered (a few ticks in practice).
pub const DISK_BOUND_TICKS: u64 = (abi::proto::rs::DEADLINE_PERIODS + 2) * PERIOD_TICKS;
/// The bound on work that does not need the disk, during the stall: a
/// tenth of a period (served in the same tick, unless a timer tick falls
/// in between).
pub const SERVED_BOUND_TICKS: u64 = PERIOD_TICKS / 10;
/// Ticks per second of the guest's clock.
const HZ: u64 = 2 * PERIOD_TICKS;

/// Where a stall is measured: the server that must keep serving.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StallAt {
    /// VFS, while its request waits at `ext2fs` ([`vfs_stall`]).
    Vfs,
    /// PM, while an exec's read waits at VFS ([`pm_stall`]).
    Pm,
}

impl StallAt {
    /// The workload whose disk request the fault stalls (shell syntax),
    /// with the fault that stalls it (`blk`'s misbehaviour keys):
    ///
    /// * VFS: a shell sleeps 0.1 s and runs `sync`, whose first block
    ///   write meets the silent driver; meanwhile `sleep`s end, a `wc`
    ///   writes to `/tmp`, another to the console, and PM reports exits.
    /// * PM: every program needed runs once, a sync makes the driver's
    ///   first WRITE; then one shell sleeps 0.1 s and execs `cat`, never
    ///   read before, whose first block READ meets the silent driver
    ///   (`silent:r1`); the other sleeps 0.3 s, runs three pipelines of
    ///   built-ins (a fork and an exit per stage) during the stall, and
    ///   then execs `sum`, never read before either: a second exec while
    ///   the first waits, queued behind it.
    pub const fn workload(self) -> (&'static str, &'static str) {
        match self {
            StallAt::Vfs => (
                "blk.misbehave=silent:1",
                "echo disk-data > /stall-a; \
                 sh -c \"sleep 0.1; sync\" | sleep 0.8 | wc > /tmp/w | sleep 0.8 | wc; \
                 sync && echo after; cat /stall-a /tmp/w",
            ),
            StallAt::Pm => (
                "blk.misbehave=silent:r1",
                "sleep 0; echo disk-data > /stall-a; sync; \
                 sh -c \"sleep 0.3; echo a | echo b; echo c | echo d; echo e | echo f; sum /stall-a\" > /tmp/f | \
                 sh -c \"sleep 0.1; cat /stall-a\"; cat /tmp/f; echo after",
            ),
        }
    }

    /// The stall in a run of [`Self::workload`] (`None`: none in the
    /// trace). At VFS the process that met the fault (`sync`, whose
    /// request is the stalled one) is not what is measured.
    pub fn measure(self, records: &[Record]) -> Option<Stall> {
        match self {
            StallAt::Vfs => vfs_stall(records, "sync"),
            StallAt::Pm => pm_stall(records),
        }
    }

    /// What is wrong with `stall` as evidence that the server kept
    /// serving ([`Stall::problems`]), and whether enough came during it:
    /// the workload's two writes and PM's exit calls at VFS; a sleep's
    /// end, and forks and exits, at PM.
    pub fn served_problems(self, stall: &Stall) -> Vec<String> {
        let mut problems = stall.problems();
        let enough = match self {
            StallAt::Vfs => stall.count("write") >= 2 && stall.count("pm_exit") >= 2,
            StallAt::Pm => stall.count("sleep") >= 1 && stall.count("fork") >= 6 && stall.count("exit") >= 6,
        };
        if !enough {
            problems.push(format!("too little came during the stall: {:?}", stall.served));
        }
        problems
    }

    /// Whether `stall` shows the server's other work waiting for the
    /// disk (the negative control): something it owed took at least half
    /// a period.
    pub fn waited(self, stall: &Stall) -> bool {
        stall.longest_served() >= PERIOD_TICKS / 2
    }
}

/// One thing a server did for another process during a stall.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Served {
    /// What: `write`, `pm_fork`, `pm_exit` (at VFS); `fork`, `sleep`,
    /// `exit` (at PM).
    pub what: &'static str,
    pub process: u32,
    /// Ticks it took: from a request to its reply; past a sleep's end to
    /// its reply; from a process's end to PM telling VFS.
    pub ticks: u64,
}

/// The longest wait of a server for the disk and what it did meanwhile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stall {
    /// First and last tick of the wait.
    pub start: u32,
    pub end: u32,
    pub served: Vec<Served>,
}

impl Stall {
    /// How long the wait lasted.
    pub fn ticks(&self) -> u64 {
        u64::from(self.end - self.start)
    }

    /// How many of the things served were `what`.
    pub fn count(&self, what: &str) -> usize {
        self.served.iter().filter(|s| s.what == what).count()
    }

    /// The longest any of them took (0 when none).
    pub fn longest_served(&self) -> u64 {
        self.served.iter().map(|s| s.ticks).max().unwrap_or(0)
    }

    /// What is wrong with it as evidence that the server kept serving:
    /// the disk must have stalled (within its bound) and each thing
    /// served must have taken at most [`SERVED_BOUND_TICKS`].
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.ticks() < PERIOD_TICKS || self.ticks() > DISK_BOUND_TICKS {
            problems.push(format!(
                "the disk stalled {} ticks (expected {PERIOD_TICKS}..={DISK_BOUND_TICKS})",
                self.ticks()
            ));
        }
        for s in self.served.iter().filter(|s| s.ticks > SERVED_BOUND_TICKS) {
            problems.push(format!(
                "the {} of {:#x} took {} ticks during the stall (bound {SERVED_BOUND_TICKS})",
                s.what, s.process, s.ticks
            ));
        }
        problems
    }
}

/// The message a Send, SendQueued or Receive record moves: a queued
/// send's type and words are in the record of its receiver taking it.
fn delivered(records: &[Record], i: usize) -> Option<&Record> {
    let r = &records[i];
    match r.kind {
        Kind::SendQueued => records[i + 1..]
            .iter()
            .find(|t| t.kind == Kind::Receive && t.event.src == r.event.src && t.event.dst == r.event.dst),
        Kind::Send | Kind::Receive | Kind::SendaDelivered => Some(r),
        _ => None,
    }
}

/// The first reply of one of `from` to `to` after record `i`: its tick.
fn reply_after(records: &[Record], i: usize, from: &HashSet<u32>, to: u32) -> Option<u32> {
    records[i + 1..]
        .iter()
        .find(|a| a.kind == Kind::Send && from.contains(&a.event.src) && a.event.dst == to && a.event.mtype == REPLY)
        .map(|a| a.ticks)
}

fn took(from: u32, until: Option<u32>) -> u64 {
    until.map_or(u64::MAX, |t| u64::from(t.saturating_sub(from)))
}

/// VFS's longest wait for `ext2fs` (from its request to the reply), and
/// every console or `/tmp` WRITE and every PM_FORK and PM_EXIT that
/// reached VFS meanwhile, from processes other than `excluded`'s (the
/// program whose request met the fault), until VFS's reply. `None`
/// when VFS never asked `ext2fs`.
pub fn vfs_stall(records: &[Record], excluded: &str) -> Option<Stall> {
    let vfs = endpoints_of(records, "vfs");
    let ext2fs = endpoints_of(records, "ext2fs");
    let excluded = endpoints_of(records, excluded);
    let mut longest: Option<(u32, u32)> = None;
    let mut since: Option<u32> = None;
    let moves = |r: &&Record| {
        matches!(r.kind, Kind::Send | Kind::SendQueued | Kind::Receive | Kind::SendaDelivered | Kind::SendaPended)
    };
    for r in records.iter().filter(moves) {
        let (src, dst) = (r.event.src, r.event.dst);
        if vfs.contains(&src) && ext2fs.contains(&dst) {
            since.get_or_insert(r.ticks);
        } else if ext2fs.contains(&src) && vfs.contains(&dst) && r.kind != Kind::SendaPended {
            if let Some(start) = since.take() {
                if longest.is_none_or(|(a, b)| r.ticks - start > b - a) {
                    longest = Some((start, r.ticks));
                }
            }
        }
    }
    let (start, end) = longest?;
    let mut served = Vec::new();
    for (i, r) in records.iter().enumerate() {
        let request = matches!(r.kind, Kind::Send | Kind::SendQueued)
            && vfs.contains(&r.event.dst)
            && !excluded.contains(&r.event.src)
            && r.ticks > start
            && r.ticks < end;
        let what = match delivered(records, i).filter(|_| request).map(|m| m.event.mtype) {
            Some(vfs::WRITE) => "write",
            Some(vfs::PM_FORK) => "pm_fork",
            Some(vfs::PM_EXIT) => "pm_exit",
            _ => continue,
        };
        let ticks = took(r.ticks, reply_after(records, i, &vfs, r.event.src));
        served.push(Served { what, process: r.event.src, ticks });
    }
    Some(Stall { start, end, served })
}

/// The longest wait of PM's exec worker at VFS (from a request of PM's
/// for an exec's file, OPEN or READ, to VFS's answer), and what PM owed
/// other processes meanwhile: every FORK asked of PM (until PM's reply),
/// every SLEEP that ended (its reply, past the tick it was due), and
/// every process of PM's that ended (until PM tells VFS, PM_EXIT, the
/// last of what PM does for an end). PM's SENDRECs of PM_FORK and
/// PM_EXIT run during the wait: the answer that follows one of them is
/// its own, any other answer of VFS to PM the exec's. `None` when PM
/// never asked VFS for a file.
pub fn pm_stall(records: &[Record]) -> Option<Stall> {
    let pm = endpoints_of(records, "pm");
    let vfs = endpoints_of(records, "vfs");
    let mut longest: Option<(u32, u32)> = None;
    let (mut queued_at, mut exec_since, mut sync_call) = (None, None, false);
    for r in records {
        let (src, dst) = (r.event.src, r.event.dst);
        if pm.contains(&src) && vfs.contains(&dst) {
            match r.kind {
                Kind::SendQueued => queued_at = Some(r.ticks),
                Kind::Send | Kind::Receive => {
                    let sent = queued_at.take().unwrap_or(r.ticks);
                    match r.event.mtype {
                        vfs::OPEN | vfs::READ => exec_since = Some(sent),
                        vfs::PM_FORK | vfs::PM_EXIT | vfs::CLOSE => sync_call = true,
                        _ => {}
                    }
                }
                _ => {}
            }
        } else if vfs.contains(&src) && pm.contains(&dst) && r.event.mtype == REPLY && r.kind.is_message() {
            if std::mem::take(&mut sync_call) {
                continue;
            }
            if let Some(since) = exec_since.take() {
                if longest.is_none_or(|(a, b)| r.ticks - since > b - a) {
                    longest = Some((since, r.ticks));
                }
            }
        }
    }
    let (start, end) = longest?;
    // Processes PM created (init, forks): RS's services end unseen by PM.
    let processes: HashSet<u32> =
        records.iter().filter(|r| r.kind == Kind::Spawn && pm.contains(&r.event.src)).map(|r| r.event.dst).collect();
    let during = |t: u64| t > u64::from(start) && t < u64::from(end);
    let mut served = Vec::new();
    for (i, r) in records.iter().enumerate() {
        let request = matches!(r.kind, Kind::Send | Kind::SendQueued) && pm.contains(&r.event.dst);
        match delivered(records, i).filter(|_| request).map(|m| (m.event.mtype, m.event.args[0])) {
            Some((pm::FORK, _)) if during(r.ticks.into()) => {
                let ticks = took(r.ticks, reply_after(records, i, &pm, r.event.src));
                served.push(Served { what: "fork", process: r.event.src, ticks });
            }
            Some((pm::SLEEP, ms)) if during(u64::from(r.ticks) + (ms * HZ).div_ceil(1000)) => {
                let due = u64::from(r.ticks) + (ms * HZ).div_ceil(1000);
                let late =
                    reply_after(records, i, &pm, r.event.src).map_or(u64::MAX, |t| u64::from(t).saturating_sub(due));
                served.push(Served { what: "sleep", process: r.event.src, ticks: late });
            }
            _ => {}
        }
        if r.kind == Kind::Exit && processes.contains(&r.event.src) && during(r.ticks.into()) {
            let told = records[i + 1..].iter().find(|a| {
                matches!(a.kind, Kind::Send | Kind::Receive)
                    && pm.contains(&a.event.src)
                    && vfs.contains(&a.event.dst)
                    && a.event.mtype == vfs::PM_EXIT
                    && a.event.args[0] == u64::from(r.event.src)
            });
            served.push(Served { what: "exit", process: r.event.src, ticks: took(r.ticks, told.map(|a| a.ticks)) });
        }
    }
    Some(Stall { start, end, served })
}
