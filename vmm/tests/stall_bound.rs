//! The console-stall bound of docs/trust.md ("Deadlines and bounds"): VFS
//! reaches the disk through one blocking SENDREC to `ext2fs`, so while a
//! block request is held up by a faulty driver, everything behind VFS (the
//! console, `/tmp`, PM's forks and execs) waits too, at most as long as
//! `ext2fs`'s current block request.
//!
//! One run per single fault of the disk driver: `blk` silent (it answers
//! heartbeats but not its first WRITE: `ext2fs`'s deadline catches it)
//! and `blk` hung (it answers nothing: RS's heartbeat catches it). The
//! shell writes a file, then runs `sync | echo ...`: the sync's first
//! block write meets the fault while the echo's console write waits at
//! VFS. Everything is measured in virtual time from the trace (records
//! carry the guest's tick count), never wall-clock.

use abi::trace::{Kind, Record};
use vmm::observe::{decode, TraceMode};
use vmm::threats::judge::attacker_endpoints;

mod common;

/// Ticks per heartbeat period of `blk` (500 ms at the kernel's 100 Hz).
const PERIOD_TICKS: u64 = 50;
/// The bound: a request is late at the first watchdog alarm after
/// `DEADLINE_PERIODS` periods (RS's second unanswered ping for a hung
/// driver comes sooner), so within `DEADLINE_PERIODS + 1` periods; one
/// period more for RS to start the new driver and `ext2fs` to send the
/// request again and have it answered (a few ticks in practice).
const BOUND_TICKS: u64 = (abi::proto::rs::DEADLINE_PERIODS + 2) * PERIOD_TICKS;

const COMMAND: &str = "echo disk-data > /home/a; sync | echo console-write-beside-the-sync; echo after";

/// The trace and console of one run with `keys` on the command line.
fn run(keys: &str) -> (Vec<Record>, String) {
    let dir = common::scratch_dir(&format!("stall-{}", keys.replace([':', '=', '.'], "-")));
    let append = format!("{keys} -- {COMMAND}");
    let mut config = vmm::threats::stage::experiment_config("system", dir.join("disk.img"), &append).unwrap();
    config.trace = Some(TraceMode::Lossless);
    let outcome = vmm::run(&config).expect("the VMM runs the guest");
    let console = outcome.console_text();
    assert_eq!(outcome.command_status, Some(0), "{console}");
    let records = decode::decode(outcome.trace.as_ref().map_or(&[][..], |t| &t.raw)).records;
    (records, console)
}

/// The longest SENDREC of VFS to `ext2fs` in ticks, from VFS's request
/// to `ext2fs`'s reply: a time in which VFS serves nobody else.
fn longest_vfs_wait_in_ext2fs(records: &[Record]) -> u64 {
    let vfs = attacker_endpoints(records, "vfs");
    let ext2fs = attacker_endpoints(records, "ext2fs");
    let mut longest = 0;
    let mut since: Option<u32> = None;
    for r in records.iter().filter(|r| matches!(r.kind, Kind::Send | Kind::SendQueued | Kind::Receive)) {
        let (src, dst) = (r.event.src, r.event.dst);
        if vfs.contains(&src) && ext2fs.contains(&dst) {
            since.get_or_insert(r.ticks);
        } else if ext2fs.contains(&src) && vfs.contains(&dst) {
            if let Some(start) = since.take() {
                longest = longest.max(u64::from(r.ticks - start));
            }
        }
    }
    longest
}

/// The longest wait, in ticks, of an `echo`'s console WRITE that found
/// VFS busy: from its queued SENDREC to VFS taking it.
fn longest_console_write_wait(records: &[Record]) -> u64 {
    let vfs = attacker_endpoints(records, "vfs");
    let echoes = attacker_endpoints(records, "echo");
    let mut longest = 0;
    for (i, queued) in records.iter().enumerate() {
        if queued.kind != Kind::SendQueued || !vfs.contains(&queued.event.dst) || !echoes.contains(&queued.event.src) {
            continue;
        }
        let taken = records[i..]
            .iter()
            .find(|r| r.kind == Kind::Receive && r.event.src == queued.event.src && vfs.contains(&r.event.dst));
        if let Some(taken) = taken.filter(|r| r.event.mtype == abi::proto::vfs::WRITE) {
            longest = longest.max(u64::from(taken.ticks - queued.ticks));
        }
    }
    longest
}

#[test]
fn a_disk_fault_stalls_the_console_no_longer_than_the_block_request_within_the_bound() {
    for keys in ["blk.misbehave=silent:1", "blk.misbehave=hang:1"] {
        let (records, console) = run(keys);
        for line in ["console-write-beside-the-sync", "after"] {
            assert!(console.lines().any(|l| l.trim_end() == line), "{keys}: no {line:?}:\n{console}");
        }
        let blk_starts = records.iter().filter(|r| r.kind == Kind::Spawn && r.name_bytes().starts_with(b"blk\0"));
        assert_eq!(blk_starts.count(), 2, "{keys}: blk was not restarted once");
        let vfs_wait = longest_vfs_wait_in_ext2fs(&records);
        let console_wait = longest_console_write_wait(&records);
        eprintln!("{keys}: VFS waited {vfs_wait} ticks in ext2fs; the console write {console_wait} ticks");
        // The console write did meet the fault (else this run shows nothing)...
        assert!(console_wait >= PERIOD_TICKS, "{keys}: the console write waited only {console_wait} ticks");
        // ...and waited no longer than VFS's one call into the disk path,
        assert!(console_wait <= vfs_wait, "{keys}: console {console_wait} ticks, VFS in ext2fs {vfs_wait}");
        // which ended within the bound.
        assert!(vfs_wait <= BOUND_TICKS, "{keys}: VFS waited {vfs_wait} ticks in ext2fs (bound {BOUND_TICKS})");
    }
}
