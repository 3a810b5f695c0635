//! `viv threats`: every IPC threat class attacked on the real system, each
//! defense shown holding, and shown failing when switched off.
//!
//! Why it is built this way:
//! - **End to end.** Each row boots the `threats` image (the `system`
//!   image plus attacker programs), runs one attack from the shell with an
//!   ordinary user's or a driver's privileges, and a legitimate workload
//!   beside it (a file copy on the disk, a pipe, console output). A row
//!   passes only when the attack is refused as the defense promises, the
//!   trace shows the refusal (lossless trace, record numbers reported),
//!   and the workload's output is intact.
//! - **Negative controls.** A check that cannot fail proves nothing, so
//!   every row runs a second time with its one defense switched off
//!   (`viv.weaken=NAME`, `abi::weaken`) and must then see the attack get
//!   through. A row whose control does not show the attack succeeding
//!   fails.
//! - **Judging apart from running** ([`judge`]): verdicts are pure
//!   functions of the console text, the exit and the trace, so they are
//!   unit-tested without a VM.
//!
//! The rows are [`table::THREATS`]; `docs/threats.md` explains each class
//! and defense.

pub mod fuzz;
pub mod judge;
pub mod report;
pub mod row;
pub mod stage;
pub mod stall;
pub mod table;

use std::time::Duration;

use crate::observe::{decode, TraceMode};
pub use judge::{RowResult, RunEnd, RunJudgement};
pub use row::{Expect, Runner, Threat};
pub use table::THREATS;

/// The image every row boots.
pub const IMAGE: &str = "threats";
/// Wall-clock limit of one run, a last resort: runs that are meant to
/// hang end at [`TICK_BUDGET`] of virtual time, and the rest finish in a
/// few seconds of CPU time, but on a host loaded by other work a run's
/// wall time is many times its CPU time (a run that took 6 s of CPU took
/// 48 s with twenty processes competing for two cores), and a row must
/// not fail for that.
pub const RUN_TIMEOUT: Duration = Duration::from_secs(300);
/// Budget of one run's command in virtual ticks (60 s of guest time at
/// 100 Hz): an attack that hangs the system ends there, at once, instead
/// of at the wall-clock [`RUN_TIMEOUT`].
pub const TICK_BUDGET: u64 = 6_000;
/// Kernel command-line key that makes init run the command as this uid.
pub const USER_KEY: &str = abi::platform::CMDLINE_USER_KEY;
/// The uid attacks with user privileges run as.
pub const ATTACKER_UID: u32 = 1000;

/// The legitimate work run after every attack: a 200,000-byte pattern
/// written to the disk, copied, both checksummed, synced, and a pipe to
/// the console.
pub const WORKLOAD: &str =
    "fill 200000 /threat-a && cp /threat-a /threat-b && sum /threat-a /threat-b && sync && echo workload-through-a-pipe | cat";

/// `sum`'s CRC-32 of the 200,000 bytes `fill` writes (its pattern
/// depends on the size only): what both files of [`WORKLOAD`] must hold.
pub const WORKLOAD_CRC: &str = "9e0a1c13";

/// Why a row or the fuzzer could not be run.
#[derive(Debug, thiserror::Error)]
pub enum ThreatsError {
    /// The VM could not be started or supervised.
    #[error(transparent)]
    Vm(#[from] crate::Error),
    /// The scratch directory for the run's disk could not be made.
    #[error("threats: cannot make a scratch directory: {0}")]
    Scratch(std::io::Error),
}

/// A private scratch directory (mkdtemp: unpredictable, not followed
/// through symlinks), removed when dropped.
pub(crate) fn scratch_dir() -> Result<vmm_sys_util::tempdir::TempDir, ThreatsError> {
    vmm_sys_util::tempdir::TempDir::new_with_prefix(std::env::temp_dir().join("viv-threats-"))
        .map_err(|e| ThreatsError::Scratch(std::io::Error::from_raw_os_error(e.errno())))
}

/// Options of one `viv threats` run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Only rows whose name contains this text.
    pub only: Option<String>,
    /// Seed for the fuzzer rows.
    pub seed: u64,
    /// Runs at once.
    pub jobs: usize,
}

/// The shell command line of `threat`: the attack, then the workload
/// (or the workload where the command says `{workload}`).
pub fn command_line(threat: &Threat, seed: u64) -> String {
    let attack = threat.command.replace("{seed}", &seed.to_string());
    if attack.contains("{workload}") {
        attack.replace("{workload}", WORKLOAD)
    } else {
        format!("{attack}; {WORKLOAD}")
    }
}

/// Boots the row's system ([`stage::Stage`]) and runs `threat`, with its
/// defense switched off when `weakened`. Runs are in experiment mode
/// (virtual time), so a deadline of 30 s of guest time passes in moments,
/// and on a private copy of the disk, which `e2fsck -fn` judges after a
/// defended run.
fn run_once(threat: &Threat, seed: u64, weakened: bool) -> Result<RunJudgement, ThreatsError> {
    let scratch = scratch_dir()?;
    let disk = scratch.as_path().join("disk.img");
    let mut append = String::from(threat.keys);
    if threat.runner.uid() != 0 {
        append.push_str(&format!(" {USER_KEY}={}", threat.runner.uid()));
    }
    if weakened {
        append.push_str(&format!(" {}={}", abi::weaken::WEAKEN_KEY, threat.weaken));
    }
    if threat.stage.has_shell() {
        append.push_str(&format!(
            " {}{}",
            abi::platform::CMDLINE_COMMAND_SEPARATOR.trim_start(),
            command_line(threat, seed)
        ));
    }
    let mut config = threat.stage.config(&disk, &append)?;
    config.trace = Some(TraceMode::Lossless);
    config.fault_plan = Some(crate::inject::fault::FaultPlan { seed, rules: Vec::new() });
    let outcome = crate::run(&config)?;
    let decoded = decode::decode(outcome.trace.as_ref().map_or(&[][..], |t| &t.raw));
    let expect = if weakened { &threat.undefended } else { &threat.defended };
    let end = judge::RunEnd { exit: outcome.exit.clone(), command_status: outcome.command_status };
    let mut judgement = judge::judge_run(
        threat,
        expect,
        &end,
        &outcome.console_text(),
        &decoded.records,
        outcome.command_ticks,
        !weakened && expect.needs_workload(),
    );
    let judge_disk = !weakened && threat.stage.has_file_system() && expect.needs_clean_disk();
    if judge_disk && fuzz::fsck(&disk) == Some(false) {
        judgement.ok = false;
        judgement.problems.push("e2fsck -fn found the disk damaged".into());
    }
    Ok(judgement)
}

/// Runs `threat` and its negative control (a row without one says why).
pub fn run_row(threat: &Threat, seed: u64) -> RowResult {
    let defended = run_once(threat, seed, false);
    let control = match threat.undefended {
        Expect::NoControl(why) => Ok(RunJudgement {
            ok: true,
            observed: format!("no negative control: {why}"),
            records: Vec::new(),
            workload_ok: None,
            problems: Vec::new(),
        }),
        _ => run_once(threat, seed, true),
    };
    RowResult::new(threat, defended, control)
}

/// Runs every selected row, `jobs` at a time; results in table order.
pub fn run_all(options: &Options) -> Vec<RowResult> {
    let rows: Vec<&Threat> =
        THREATS.iter().filter(|t| options.only.as_deref().is_none_or(|o| t.name.contains(o))).collect();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..options.jobs.clamp(1, rows.len().max(1)) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(threat) = rows.get(i) else { break };
                let result = run_row(threat, options.seed);
                eprintln!("viv threats: {} {}", if result.passed() { "pass" } else { "FAIL" }, threat.name);
                results.lock().unwrap_or_else(|e| e.into_inner()).push((i, result));
            });
        }
    });
    let mut results = results.into_inner().unwrap_or_else(|e| e.into_inner());
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, r)| r).collect()
}
