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
//! workload (`StallAt::Pm`) runs every program it needs once, syncs (the
//! driver's first WRITE), and then a pipeline: one shell sleeps 0.1 s and
//! execs `cat`, never read before, whose first block READ meets the
//! silent driver (`silent:r1`); the other sleeps 0.3 s and runs three
//! pipelines of built-ins, each a fork and an exit per stage, in the middle
//! of the stall. `cat` then runs and prints once `blk` is restarted. The
//! negative control, `viv.weaken=pm_async`, has PM wait for the exec's
//! read in a SENDREC as it used to: the forks and exits wait for the disk.
//!
//! The workloads and the measurement are `vmm::threats::stall`'s, shared
//! with the `disk-stall/...` rows of `viv threats`.

use abi::trace::{Kind, Record};
use vmm::observe::{decode, TraceMode};
use vmm::threats::stall::{Stall, StallAt, DISK_BOUND_TICKS, PERIOD_TICKS};

mod common;

/// The trace and console of one run of `command` with `keys` on the
/// command line.
fn run_command(keys: &str, command: &str) -> (Vec<Record>, String) {
    let tag = if command == StallAt::Vfs.workload().1 { "" } else { "exec-" };
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

/// The disk driver was restarted once, and no program saw an error.
fn check_recovered(keys: &str, records: &[Record], console: &str) {
    for error in ["I/O error", "not found", "unavailable"] {
        assert!(!console.contains(error), "{keys}: a program saw {error:?}:\n{console}");
    }
    let blk_starts = records.iter().filter(|r| r.kind == Kind::Spawn && r.name_bytes().starts_with(b"blk\0"));
    assert_eq!(blk_starts.count(), 2, "{keys}: blk was not restarted once");
}

/// One run of VFS's workload (`StallAt::Vfs`): VFS's stall at `ext2fs`
/// and what VFS served meanwhile (the workload checked).
fn vfs_run(keys: &str) -> Stall {
    let (records, console) = run_command(keys, StallAt::Vfs.workload().1);
    for line in ["      0       0       0", "after", "disk-data"] {
        assert!(console.lines().any(|l| l.trim_end() == line), "{keys}: no {line:?}:\n{console}");
    }
    let counts = console.lines().filter(|l| l.trim_end() == "      0       0       0").count();
    assert_eq!(counts, 2, "{keys}: the console count and /tmp/w's:\n{console}");
    check_recovered(keys, &records, &console);
    let stall = StallAt::Vfs.measure(&records).unwrap_or_else(|| panic!("{keys}: VFS never asked ext2fs"));
    eprintln!("{keys}: VFS's request waited {} ticks at ext2fs; served meanwhile: {:?}", stall.ticks(), stall.served);
    stall
}

#[test]
fn console_tmp_and_pm_are_served_while_a_disk_fault_stalls_the_file_server() {
    for keys in ["blk.misbehave=silent:1", "blk.misbehave=hang:1"] {
        let stall = vfs_run(keys);
        // The fault did stall the disk, within its bound; the two writes
        // (console, /tmp) and PM's exit calls came meanwhile, and each
        // was answered at once.
        assert_eq!(StallAt::Vfs.served_problems(&stall), Vec::<String>::new(), "{keys}: {stall:?}");
    }
}

/// The negative control: with VFS waiting for `ext2fs` in its main loop
/// (`viv.weaken=fs_async`), the same writes and PM's calls wait for the
/// disk (the behaviour before the disk worker).
#[test]
fn weakened_everything_behind_vfs_waits_for_the_stalled_disk() {
    let keys = "blk.misbehave=silent:1 viv.weaken=fs_async";
    let stall = vfs_run(keys);
    assert!(stall.longest_served() >= PERIOD_TICKS, "{keys}: nothing waited for the disk: {stall:?}");
}

/// One run of PM's workload (`StallAt::Pm`): the exec's stall and what
/// PM did for the others meanwhile (the workload checked).
fn exec_run(keys: &str) -> (Vec<Record>, Stall) {
    let (records, console) = run_command(keys, StallAt::Pm.workload().1);
    for line in ["disk-data", "b", "d", "f", "after"] {
        assert!(console.lines().any(|l| l.trim_end() == line), "{keys}: no {line:?}:\n{console}");
    }
    // The exec queued behind the stalled one ran too.
    assert!(console.lines().any(|l| l.trim_end().ends_with(" 10 /stall-a")), "{keys}: no sum:\n{console}");
    check_recovered(keys, &records, &console);
    let stall = StallAt::Pm.measure(&records).unwrap_or_else(|| panic!("{keys}: PM never read a file"));
    eprintln!(
        "{keys}: the exec's read waited {} ticks at VFS ({}..{}); PM meanwhile: {:?}",
        stall.ticks(),
        stall.start,
        stall.end,
        stall.served
    );
    // The fault did stall the exec (else this run shows nothing), within
    // the disk's bound.
    assert!(stall.ticks() >= PERIOD_TICKS, "{keys}: the exec waited only {} ticks", stall.ticks());
    assert!(stall.ticks() <= DISK_BOUND_TICKS, "{keys}: the exec waited {} ticks", stall.ticks());
    (records, stall)
}

#[test]
fn pm_serves_forks_and_exits_while_an_exec_waits_for_the_stalled_disk() {
    let keys = StallAt::Pm.workload().0;
    let (records, stall) = exec_run(keys);
    // The other shell's sleep ended and its pipelines forked and ended
    // during the stall, and PM served each at once.
    assert_eq!(StallAt::Pm.served_problems(&stall), Vec::<String>::new(), "{keys}: {stall:?}");
    // `sum`'s EXEC reached PM during the stall (queued behind `cat`'s).
    let execs_during = exec_requests(&records).filter(|&t| t > stall.start && t < stall.end).count();
    assert!(execs_during >= 1, "{keys}: no second exec came during the stall");
}

/// The ticks at which EXEC requests reached PM (or queued at it).
fn exec_requests(records: &[Record]) -> impl Iterator<Item = u32> + '_ {
    let pm = vmm::observe::analysis::endpoints_of(records, "pm");
    records.iter().enumerate().filter_map(move |(i, r)| {
        let to_pm = matches!(r.kind, Kind::Send | Kind::SendQueued) && pm.contains(&r.event.dst);
        let mtype = match r.kind {
            Kind::SendQueued => records[i + 1..]
                .iter()
                .find(|t| t.kind == Kind::Receive && t.event.src == r.event.src && t.event.dst == r.event.dst)
                .map(|t| t.event.mtype),
            _ => Some(r.event.mtype),
        };
        (to_pm && mtype == Some(abi::proto::pm::EXEC)).then_some(r.ticks)
    })
}

/// The negative control: with PM waiting for the exec's read in a
/// SENDREC (`viv.weaken=pm_async`), everything PM owes others waits for
/// the disk (the behaviour before PM's exec worker): the other shell's
/// sleep is answered only after the stall, and its forks come after.
#[test]
fn weakened_pm_waits_for_the_stalled_exec_and_every_fork_and_exit_with_it() {
    let keys = &format!("{} viv.weaken=pm_async", StallAt::Pm.workload().0);
    let (_, stall) = exec_run(keys);
    assert!(StallAt::Pm.waited(&stall), "{keys}: nothing waited for the disk: {stall:?}");
}
