//! The fuzzer part of `viv threats`: `ipcfuzz` (user privileges) and
//! `ipcfuzz_drv` (a driver's) send seeded, protocol-aware garbage to every
//! server they can name, then the workload runs.
//!
//! The run passes when no kernel panicked, none of RS, DS, PM and VFS
//! ended (their death is a failure, not a recovery: nobody restarts them
//! transparently), drivers that died were restarted, both fuzzers
//! reported, the workload's output is intact, and `e2fsck -fn` finds the
//! disk clean afterwards.

use abi::trace::{Kind, Record};
use serde::Serialize;

use super::judge::RunEnd;
use crate::observe::{decode, TraceMode};
use crate::vstate::config::RunConfig;
use crate::vstate::outcome::Exit;

/// Messages each fuzzer sends.
pub const MESSAGES: u64 = 1000;
/// Servers whose death fails the run.
pub const VITAL: [&str; 4] = ["rs", "ds", "pm", "vfs"];
/// Drivers whose restarts are reported.
pub const DRIVERS: [&str; 3] = ["blk", "ext2fs", "tty"];

/// What the fuzz run showed.
#[derive(Debug, Clone, Serialize)]
pub struct FuzzResult {
    /// The seed.
    pub seed: u64,
    /// Messages each fuzzer sent.
    pub messages: u64,
    /// Whether everything held.
    pub ok: bool,
    /// The fuzzers' summary lines (answers and errors by name).
    pub summaries: Vec<String>,
    /// (driver, times it was started after boot).
    pub driver_restarts: Vec<(String, u32)>,
    /// Whether `e2fsck -fn` found the disk clean (`None`: not run).
    pub fsck_clean: Option<bool>,
    /// Why the run failed, one entry per problem.
    pub problems: Vec<String>,
}

/// Names of the processes by endpoint, and how often each was started.
fn starts(records: &[Record]) -> Vec<(u32, String)> {
    records
        .iter()
        .filter(|r| matches!(r.kind, Kind::Spawn | Kind::Exec))
        .map(|r| {
            let bytes = r.name_bytes();
            let len = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
            (r.event.dst, String::from_utf8_lossy(&bytes[..len]).into_owned())
        })
        .collect()
}

/// Judges a fuzz run from its exit, console, trace and fsck verdict.
pub fn judge(seed: u64, end: &RunEnd, console: &str, records: &[Record], fsck_clean: Option<bool>) -> FuzzResult {
    let mut problems = Vec::new();
    let started = starts(records);
    let name_of = |ep: u32| started.iter().rev().find(|(e, _)| *e == ep).map(|(_, n)| n.as_str());
    for r in records.iter().filter(|r| r.kind == Kind::Exit) {
        if let Some(name) = name_of(r.event.src).filter(|n| VITAL.contains(n)) {
            problems.push(format!("{name} ended (status {}; trace record #{})", r.event.result, r.seq));
        }
    }
    let driver_restarts = DRIVERS
        .iter()
        .map(|d| (d.to_string(), started.iter().filter(|(_, n)| n == d).count().saturating_sub(1) as u32))
        .collect();
    let summaries: Vec<String> =
        console.lines().filter(|l| l.starts_with("ipcfuzz")).map(|l| l.trim_end().to_string()).collect();
    for program in ["ipcfuzz:", "ipcfuzz_drv:"] {
        if !summaries.iter().any(|s| s.starts_with(program)) {
            problems.push(format!("{} did not report", program.trim_end_matches(':')));
        }
    }
    if !super::judge::workload_intact(console) {
        problems.push("the workload's output is not intact".into());
    }
    if end.exit == Exit::KernelPanic {
        problems.push("the kernel panicked".into());
    } else if let Some(problem) = end.problem() {
        problems.push(problem);
    }
    if fsck_clean == Some(false) {
        problems.push("e2fsck -fn found the disk damaged".into());
    }
    FuzzResult { seed, messages: MESSAGES, ok: problems.is_empty(), summaries, driver_restarts, fsck_clean, problems }
}

pub use crate::observe::fsck::fsck;

/// Boots the threats image, fuzzes with `seed`, runs the workload, and
/// checks the disk.
pub fn run(seed: u64) -> Result<FuzzResult, super::ThreatsError> {
    let scratch = super::scratch_dir()?;
    let disk = scratch.as_path().join("disk.img");
    let mut config = RunConfig::for_image(super::IMAGE)?;
    let command = format!("ipcfuzz {seed} {MESSAGES}; ipcfuzz_drv {seed} {MESSAGES}; {}", super::WORKLOAD);
    config.append = format!(
        "{}={} {}{command}",
        super::USER_KEY,
        super::ATTACKER_UID,
        abi::platform::CMDLINE_COMMAND_SEPARATOR.trim_start()
    );
    config.timeout = Some(super::RUN_TIMEOUT * 4);
    config.separate_log = true;
    config.trace = Some(TraceMode::Lossless);
    config.disk = Some(disk.clone());
    // An empty fault plan: its region is where the kernel records the
    // command's exit status (`abi::fault::STATUS_WORKLOAD`).
    config.fault_plan = Some(crate::inject::fault::FaultPlan { seed, rules: Vec::new() });
    let outcome = crate::run(&config)?;
    let decoded = decode::decode(outcome.trace.as_ref().map_or(&[][..], |t| &t.raw));
    let clean = fsck(&disk);
    let end = RunEnd { exit: outcome.exit.clone(), command_status: outcome.command_status };
    Ok(judge(seed, &end, &outcome.console_text(), &decoded.records, clean))
}

#[cfg(test)]
mod tests {
    use super::super::judge::end;
    use super::*;
    use abi::trace::Event;

    fn named(seq: u64, kind: Kind, ep: u32, name: &str, result: i32) -> Record {
        let mut bytes = [0u8; 16];
        bytes[..name.len()].copy_from_slice(name.as_bytes());
        Record {
            seq,
            tsc: 0,
            ticks: 0,
            kind,
            event: Event {
                kind: kind as u8,
                primitive: 0,
                src: ep,
                dst: ep,
                mtype: 0,
                result,
                cause: 0,
                args: [
                    u64::from_le_bytes(bytes[..8].try_into().unwrap()),
                    u64::from_le_bytes(bytes[8..].try_into().unwrap()),
                ],
            },
        }
    }

    const GOOD: &str = "ipcfuzz: 10 messages: 1 answered\nipcfuzz_drv: 10 messages: 2 answered\n\
                        9e0a1c13 200000 /threat-a\n9e0a1c13 200000 /threat-b\nworkload-through-a-pipe\n";

    #[test]
    fn a_vital_server_ending_fails_and_driver_restarts_are_counted() {
        let records =
            [named(1, Kind::Spawn, 4, "pm", 0), named(2, Kind::Spawn, 6, "tty", 0), named(3, Kind::Spawn, 7, "tty", 0)];
        let ok = judge(1, &end(Exit::PowerOff(0)), GOOD, &records, Some(true));
        assert!(ok.ok, "{ok:?}");
        assert!(ok.driver_restarts.contains(&("tty".to_string(), 1)));
        let mut dead = records.to_vec();
        dead.push(named(9, Kind::Exit, 4, "", 1));
        let failed = judge(1, &end(Exit::PowerOff(0)), GOOD, &dead, Some(true));
        assert!(!failed.ok);
        assert!(failed.problems[0].contains("pm ended"), "{:?}", failed.problems);
    }

    #[test]
    fn a_damaged_disk_a_silent_fuzzer_or_a_panic_fails() {
        assert!(!judge(1, &end(Exit::PowerOff(0)), GOOD, &[], Some(false)).ok);
        assert!(!judge(1, &end(Exit::PowerOff(0)), &GOOD.replace("ipcfuzz_drv", "x"), &[], Some(true)).ok);
        assert!(!judge(1, &end(Exit::KernelPanic), GOOD, &[], Some(true)).ok);
    }
}
