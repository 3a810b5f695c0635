//! Unrelated work is served while the disk stalls (docs/trust.md,
//! "Deadlines and bounds"; issue 11 item 5): VFS runs requests that need
//! the file server on its disk worker and sends them by SENDA, so while a
//! block request of `ext2fs` is held up by a faulty driver, VFS goes on
//! serving the console, `/tmp` and PM's calls.
//!
//! One run per single fault of the disk driver: `blk` silent (it answers
//! heartbeats but not its first WRITE: `ext2fs`'s deadline catches it)
//! and `blk` hung (it answers nothing: RS's heartbeat catches it), and a
//! negative control: the silent driver with `viv.weaken=fs_async`, where
//! VFS waits for `ext2fs` in its main loop as it used to (and the same
//! requests stall).
//!
//! The workload is one pipeline, every program of it started (read from
//! the disk) before the fault: a shell that sleeps 0.1 s and then runs
//! `sync`, whose first block write meets the fault; `sleep 0.8`; a `wc`
//! that counts that `sleep`'s (empty) output into `/tmp/w`; another
//! `sleep 0.8` and a `wc` that counts its output on the console. When the
//! sleeps end, in the middle of the stall, one `wc` writes to `/tmp`,
//! the other to the console, and all four end (PM tells VFS).
//! Everything is measured in virtual time from the trace (records carry
//! the guest's tick count), never wall-clock.
//!
//! PM, the same one level up (`guest-servers/pm/src/exec_worker.rs`): an
//! exec reads its program through VFS, and while that read waits for the
//! stalled disk PM goes on serving other processes' forks and exits. The
//! workload ([`EXEC_COMMAND`]) runs every program it needs once, syncs (the
//! driver's first WRITE), and then a pipeline: one shell sleeps 0.1 s and
//! execs `cat`, never read before, whose first block READ meets the
//! silent driver (`silent:r1`); the other sleeps 0.3 s and runs three
//! pipelines of built-ins, each a fork and an exit per stage, in the middle
//! of the stall. `cat` then runs and prints once `blk` is restarted. The
//! negative control, `viv.weaken=pm_async`, has PM wait for the exec's
//! read in a SENDREC as it used to: the forks and exits wait for the disk.

use abi::proto::{pm, vfs, REPLY};
use abi::trace::{Kind, Record};
use std::collections::HashSet;
use vmm::observe::{decode, TraceMode};
use vmm::threats::judge::attacker_endpoints;

mod common;

/// Ticks per heartbeat period of `blk` (500 ms at the kernel's 100 Hz).
const PERIOD_TICKS: u64 = 50;
/// How long the file server may hold one VFS request while a driver is
/// replaced: a request is late at the first watchdog alarm after
/// `DEADLINE_PERIODS` periods (RS's second unanswered ping for a hung
/// driver comes sooner), so within `DEADLINE_PERIODS + 1` periods; one
/// period more for RS to start the new driver and `ext2fs` to send the
/// request again and have it answered (a few ticks in practice).
const DISK_BOUND_TICKS: u64 = (abi::proto::rs::DEADLINE_PERIODS + 2) * PERIOD_TICKS;
/// The bound on a request that does not need the disk, during the
/// stall: a tenth of a period (VFS serves it in the same tick, unless a
/// timer tick falls in between).
const SERVED_BOUND_TICKS: u64 = PERIOD_TICKS / 10;

const COMMAND: &str = "echo disk-data > /home/a; \
    sh -c \"sleep 0.1; sync\" | sleep 0.8 | wc > /tmp/w | sleep 0.8 | wc; \
    sync && echo after; cat /home/a /tmp/w";

/// The exec workload (module documentation): `cat` is read from the disk
/// while the silent driver holds its READ; the other shell's built-in
/// pipelines fork and exit meanwhile (into `/tmp/f`, printed after).
const EXEC_COMMAND: &str = "sleep 0; echo disk-data > /home/a; sync; \
    sh -c \"sleep 0.3; echo a | echo b; echo c | echo d; echo e | echo f\" > /tmp/f | sh -c \"sleep 0.1; cat /home/a\"; \
    cat /tmp/f; echo after";

/// The trace and console of one run of `command` with `keys` on the
/// command line.
fn run_command(keys: &str, command: &str) -> (Vec<Record>, String) {
    let tag = if command == COMMAND { "" } else { "exec-" };
    let dir = common::scratch_dir(&format!("stall-{tag}{}", keys.replace([':', '=', '.', ' ', ','], "-")));
    let append = format!("{keys} -- {command}");
    let mut config = vmm::threats::stage::experiment_config("system", dir.join("disk.img"), &append).unwrap();
    config.trace = Some(TraceMode::Lossless);
    let outcome = vmm::run(&config).expect("the VMM runs the guest");
    let console = outcome.console_text();
    assert_eq!(outcome.command_status, Some(0), "{keys}:\n{console}");
    let records = decode::decode(outcome.trace.as_ref().map_or(&[][..], |t| &t.raw)).records;
    (records, console)
}

/// The trace and console of one run of [`COMMAND`].
fn run(keys: &str) -> (Vec<Record>, String) {
    run_command(keys, COMMAND)
}

/// Message records (those that move a message, or queue one).
fn is_message(r: &Record) -> bool {
    matches!(r.kind, Kind::Send | Kind::SendQueued | Kind::Receive | Kind::SendaDelivered | Kind::SendaPended)
}

/// The intervals (in ticks) during which VFS had a request at `ext2fs`:
/// from VFS's request to `ext2fs`'s reply.
fn disk_waits(records: &[Record]) -> Vec<(u32, u32)> {
    let vfs = attacker_endpoints(records, "vfs");
    let ext2fs = attacker_endpoints(records, "ext2fs");
    let mut waits = Vec::new();
    let mut since: Option<u32> = None;
    for r in records.iter().filter(|r| is_message(r)) {
        let (src, dst) = (r.event.src, r.event.dst);
        if vfs.contains(&src) && ext2fs.contains(&dst) {
            since.get_or_insert(r.ticks);
        } else if ext2fs.contains(&src) && vfs.contains(&dst) && r.kind != Kind::SendaPended {
            if let Some(start) = since.take() {
                waits.push((start, r.ticks));
            }
        }
    }
    waits
}

/// A request VFS got during a stall.
#[derive(Debug)]
struct Served {
    caller: u32,
    call: u32,
    /// Ticks from the request to VFS's reply.
    ticks: u64,
}

/// Every WRITE and every PM call (FORK, EXIT) that reached VFS while
/// the stall `(start, end)` lasted, from a process other than those in
/// `excluded`.
fn served_during(records: &[Record], (start, end): (u32, u32), excluded: &HashSet<u32>) -> Vec<Served> {
    let vfs = attacker_endpoints(records, "vfs");
    let mut served = Vec::new();
    for (i, r) in records.iter().enumerate() {
        let request = matches!(r.kind, Kind::Send | Kind::SendQueued)
            && vfs.contains(&r.event.dst)
            && !excluded.contains(&r.event.src)
            && r.ticks > start
            && r.ticks < end;
        if !request {
            continue;
        }
        // A queued request's type is in the record of VFS taking it.
        let taken = match r.kind {
            Kind::SendQueued => records[i + 1..]
                .iter()
                .find(|t| t.kind == Kind::Receive && t.event.src == r.event.src && vfs.contains(&t.event.dst)),
            _ => Some(r),
        };
        let mtype = taken.map_or(0, |t| t.event.mtype);
        if !matches!(mtype, vfs::WRITE | vfs::PM_FORK | vfs::PM_EXIT) {
            continue;
        }
        let reply = records[i + 1..].iter().find(|a| {
            a.kind == Kind::Send && vfs.contains(&a.event.src) && a.event.dst == r.event.src && a.event.mtype == REPLY
        });
        let ticks = reply.map_or(u64::MAX, |a| u64::from(a.ticks - r.ticks));
        served.push(Served { caller: r.event.src, call: mtype, ticks });
    }
    served
}

/// The longest stall of VFS at `ext2fs` and what VFS was asked meanwhile.
fn stall(records: &[Record], keys: &str) -> ((u32, u32), Vec<Served>) {
    let waits = disk_waits(records);
    let longest = *waits.iter().max_by_key(|(a, b)| b - a).unwrap_or_else(|| panic!("{keys}: VFS never asked ext2fs"));
    // The process that met the fault (its request is the stalled one) is
    // not what is measured.
    let excluded: HashSet<u32> = attacker_endpoints(records, "sync");
    (longest, served_during(records, longest, &excluded))
}

fn check_workload(keys: &str, records: &[Record], console: &str) {
    for line in ["      0       0       0", "after", "disk-data"] {
        assert!(console.lines().any(|l| l.trim_end() == line), "{keys}: no {line:?}:\n{console}");
    }
    let counts = console.lines().filter(|l| l.trim_end() == "      0       0       0").count();
    assert_eq!(counts, 2, "{keys}: the console count and /tmp/w's:\n{console}");
    for error in ["I/O error", "not found", "unavailable"] {
        assert!(!console.contains(error), "{keys}: a program saw {error:?}:\n{console}");
    }
    let blk_starts = records.iter().filter(|r| r.kind == Kind::Spawn && r.name_bytes().starts_with(b"blk\0"));
    assert_eq!(blk_starts.count(), 2, "{keys}: blk was not restarted once");
}

#[test]
fn console_tmp_and_pm_are_served_while_a_disk_fault_stalls_the_file_server() {
    for keys in ["blk.misbehave=silent:1", "blk.misbehave=hang:1"] {
        let (records, console) = run(keys);
        check_workload(keys, &records, &console);
        let ((start, end), served) = stall(&records, keys);
        let stalled = u64::from(end - start);
        eprintln!("{keys}: VFS's request waited {stalled} ticks at ext2fs; served meanwhile: {served:?}");
        // The fault did stall the disk (else this run shows nothing)...
        assert!(stalled >= PERIOD_TICKS, "{keys}: the disk stalled only {stalled} ticks");
        assert!(stalled <= DISK_BOUND_TICKS, "{keys}: the disk stalled {stalled} ticks (bound {DISK_BOUND_TICKS})");
        // ...the two writes (console, /tmp) and PM's exits came during it...
        let writes = served.iter().filter(|s| s.call == vfs::WRITE).count();
        let pm_calls = served.iter().filter(|s| s.call == vfs::PM_EXIT).count();
        assert!(writes >= 2 && pm_calls >= 2, "{keys}: too little during the stall: {served:?}");
        // ...and each was answered at once.
        for Served { caller, call, ticks } in served {
            assert!(
                ticks <= SERVED_BOUND_TICKS,
                "{keys}: call {call:#x} of {caller:#x} waited {ticks} ticks during the stall (bound {SERVED_BOUND_TICKS})"
            );
        }
    }
}

/// The negative control: with VFS waiting for `ext2fs` in its main loop
/// (`viv.weaken=fs_async`), the same writes and PM's calls wait for the
/// disk (the behaviour before the disk worker).
#[test]
fn weakened_everything_behind_vfs_waits_for_the_stalled_disk() {
    let keys = "blk.misbehave=silent:1 viv.weaken=fs_async";
    let (records, console) = run(keys);
    check_workload(keys, &records, &console);
    let ((start, end), served) = stall(&records, keys);
    eprintln!("{keys}: VFS waited {} ticks at ext2fs ({start}..{end}); asked meanwhile: {served:?}", end - start);
    let longest = served.iter().map(|s| s.ticks).max().unwrap_or(0);
    assert!(longest >= PERIOD_TICKS, "{keys}: nothing waited for the disk: {served:?}");
}

/// The message that `r` (a Send, SendQueued or Receive record) moves: a
/// queued send's type and words are in the record of its receiver taking
/// it.
fn delivered<'a>(records: &'a [Record], i: usize) -> Option<&'a Record> {
    let r = &records[i];
    match r.kind {
        Kind::SendQueued => records[i + 1..]
            .iter()
            .find(|t| t.kind == Kind::Receive && t.event.src == r.event.src && t.event.dst == r.event.dst),
        Kind::Send | Kind::Receive | Kind::SendaDelivered => Some(r),
        _ => None,
    }
}

/// The longest wait of PM's exec worker at VFS: from a request of PM's
/// for the exec's file (OPEN, READ) to VFS's answer, in ticks. PM's
/// SENDRECs of PM_FORK and PM_EXIT run meanwhile: the answer that follows
/// one of them is its own, any other answer of VFS to PM the exec's.
fn exec_wait(records: &[Record]) -> (u32, u32) {
    let pm = attacker_endpoints(records, "pm");
    let vfs = attacker_endpoints(records, "vfs");
    let mut longest = (0, 0);
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
                        vfs::PM_FORK | vfs::PM_EXIT => sync_call = true,
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
                if r.ticks - since > longest.1 - longest.0 {
                    longest = (since, r.ticks);
                }
            }
        }
    }
    longest
}

/// What PM did for another process during an exec's stall.
#[derive(Debug)]
struct PmServed {
    what: &'static str,
    process: u32,
    /// Ticks PM took: to answer a fork; past a sleep's end to answer it;
    /// from a process's end to PM telling VFS (PM_EXIT).
    ticks: u64,
}

/// Ticks per second of the guest's clock (`PERIOD_TICKS` per 500 ms).
const HZ: u64 = 2 * PERIOD_TICKS;

/// PM's answer to a request of `caller`'s, after record `i`.
fn pm_answer(records: &[Record], i: usize, caller: u32, pm: &HashSet<u32>) -> Option<u32> {
    records[i + 1..]
        .iter()
        .find(|a| a.kind == Kind::Send && pm.contains(&a.event.src) && a.event.dst == caller && a.event.mtype == REPLY)
        .map(|a| a.ticks)
}

/// What PM owed other processes while the exec's wait `(start, end)`
/// lasted, and how long each took: every FORK asked of PM meanwhile
/// (until PM's reply), every SLEEP that ended meanwhile (its reply, past
/// the tick it was due), and every process of PM's that ended meanwhile
/// (until PM tells VFS, PM_EXIT, the last of what PM does for an end).
fn pm_served_during(records: &[Record], (start, end): (u32, u32)) -> Vec<PmServed> {
    let pm = attacker_endpoints(records, "pm");
    let vfs = attacker_endpoints(records, "vfs");
    // Processes PM created (init, forks): RS's services end unseen by PM.
    let processes: HashSet<u32> =
        records.iter().filter(|r| r.kind == Kind::Spawn && pm.contains(&r.event.src)).map(|r| r.event.dst).collect();
    let during = |t: u64| t > u64::from(start) && t < u64::from(end);
    let mut served = Vec::new();
    for (i, r) in records.iter().enumerate() {
        let request = matches!(r.kind, Kind::Send | Kind::SendQueued) && pm.contains(&r.event.dst);
        match delivered(records, i).filter(|_| request).map(|m| (m.event.mtype, m.event.args[0])) {
            Some((pm::FORK, _)) if during(r.ticks.into()) => {
                let answered = pm_answer(records, i, r.event.src, &pm).map_or(u64::MAX, |t| u64::from(t - r.ticks));
                served.push(PmServed { what: "fork", process: r.event.src, ticks: answered });
            }
            Some((pm::SLEEP, ms)) if during(u64::from(r.ticks) + (ms * HZ).div_ceil(1000)) => {
                let due = u64::from(r.ticks) + (ms * HZ).div_ceil(1000);
                let late =
                    pm_answer(records, i, r.event.src, &pm).map_or(u64::MAX, |t| u64::from(t).saturating_sub(due));
                served.push(PmServed { what: "sleep", process: r.event.src, ticks: late });
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
            let ticks = told.map_or(u64::MAX, |a| u64::from(a.ticks - r.ticks));
            served.push(PmServed { what: "exit", process: r.event.src, ticks });
        }
    }
    served
}

/// One run of the exec workload: the exec's stall and what PM did for
/// the others meanwhile (the workload checked).
fn exec_stall(keys: &str) -> (u64, Vec<PmServed>) {
    let (records, console) = run_command(keys, EXEC_COMMAND);
    for line in ["disk-data", "b", "d", "f", "after"] {
        assert!(console.lines().any(|l| l.trim_end() == line), "{keys}: no {line:?}:\n{console}");
    }
    for error in ["I/O error", "not found", "unavailable"] {
        assert!(!console.contains(error), "{keys}: a program saw {error:?}:\n{console}");
    }
    let blk_starts = records.iter().filter(|r| r.kind == Kind::Spawn && r.name_bytes().starts_with(b"blk\0"));
    assert_eq!(blk_starts.count(), 2, "{keys}: blk was not restarted once");
    let (start, end) = exec_wait(&records);
    let stalled = u64::from(end - start);
    let served = pm_served_during(&records, (start, end));
    eprintln!("{keys}: the exec's read waited {stalled} ticks at VFS ({start}..{end}); PM meanwhile: {served:?}");
    // The fault did stall the exec (else this run shows nothing), within
    // the disk's bound.
    assert!(stalled >= PERIOD_TICKS, "{keys}: the exec waited only {stalled} ticks");
    assert!(stalled <= DISK_BOUND_TICKS, "{keys}: the exec waited {stalled} ticks (bound {DISK_BOUND_TICKS})");
    (stalled, served)
}

#[test]
fn pm_serves_forks_and_exits_while_an_exec_waits_for_the_stalled_disk() {
    let keys = "blk.misbehave=silent:r1";
    let (_, served) = exec_stall(keys);
    // The other shell's sleep ended and its pipelines forked and ended
    // during the stall...
    let count = |what| served.iter().filter(|s| s.what == what).count();
    assert!(
        count("sleep") >= 1 && count("fork") >= 6 && count("exit") >= 6,
        "{keys}: too little asked of PM during the stall: {served:?}"
    );
    // ...and PM served each at once.
    for PmServed { what, process, ticks } in served {
        assert!(
            ticks <= SERVED_BOUND_TICKS,
            "{keys}: the {what} of {process:#x} waited {ticks} ticks for PM during the stall (bound {SERVED_BOUND_TICKS})"
        );
    }
}

/// The negative control: with PM waiting for the exec's read in a
/// SENDREC (`viv.weaken=pm_async`), everything PM owes others waits for
/// the disk (the behaviour before PM's exec worker): the other shell's
/// sleep is answered only after the stall, and its forks come after.
#[test]
fn weakened_pm_waits_for_the_stalled_exec_and_every_fork_and_exit_with_it() {
    let keys = "blk.misbehave=silent:r1 viv.weaken=pm_async";
    let (_, served) = exec_stall(keys);
    // The other shell's `sleep 0.3` ends during the stall, and PM, waiting
    // for VFS, answers it only when the stall is over (and so nothing of
    // that shell's forks and exits happens during it).
    let longest = served.iter().map(|s| s.ticks).max().unwrap_or(0);
    assert!(longest >= PERIOD_TICKS / 2, "{keys}: nothing waited for the disk: {served:?}");
}
