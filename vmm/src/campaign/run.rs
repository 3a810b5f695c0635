//! Running experiments: one cold-booted VM per experiment, `jobs` at a
//! time, with a progress bar.
//!
//! Each experiment is independent (its own VM, its own copy of the disk),
//! so experiments run on a pool of worker threads that take the next index
//! from a shared counter; results are put back in index order, so the
//! report does not depend on scheduling. Every VM boots cold: snapshot
//! restore is a later step, and the throughput in `summary.md` says so.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use super::classify::{judge, Ending, Observation, CHECK_MARKER, STATUS_MARKER};
use super::draw::{plan, Plan};
use super::file::Campaign;
use super::report::{ExperimentResult, ExperimentTiming};
use crate::config::RunConfig;
use crate::fault::FaultPlan;
use crate::trace::{TraceLog, TraceMode};

/// The shell command line the guest runs: the workload, its status
/// marker, then the check and its marker. `;` binds loosest in the guest
/// shell, so a workload with `&&`, `||` or pipes stays whole.
pub fn guest_command(campaign: &Campaign) -> String {
    let mut command = format!("{}; echo {STATUS_MARKER}$?", campaign.workload);
    if let Some(check) = &campaign.expect.check {
        command += &format!("; {check}; echo {CHECK_MARKER}$?");
    }
    command
}

/// The run configuration of one experiment (`disk`: this experiment's
/// private copy).
pub fn config_for(campaign: &Campaign, plan: &Plan, disk: Option<&Path>) -> Result<RunConfig, String> {
    let mut config = RunConfig::for_image(&campaign.image).map_err(|e| e.to_string())?;
    config.append = format!("{}{}", abi::platform::CMDLINE_COMMAND_SEPARATOR.trim_start(), guest_command(campaign));
    config.memory_mib = campaign.memory_mib;
    config.timeout = Some(Duration::from_secs_f64(campaign.timeout_secs));
    config.capture_console = true;
    config.echo_console = false;
    config.forward_stdin = false;
    config.separate_log = true;
    config.echo_log = false;
    config.disk = disk.map(Path::to_path_buf);
    config.deterministic = true;
    config.fault_plan = Some(FaultPlan { seed: plan.seed, rules: plan.rules.iter().map(|r| r.to_rule()).collect() });
    config.swifi = plan.swifi;
    let length = config.cmdline().len();
    if length > abi::layout::kip::CMDLINE_MAX {
        return Err(format!(
            "the workload and check make a kernel command line of {length} bytes (at most {})",
            abi::layout::kip::CMDLINE_MAX
        ));
    }
    Ok(config)
}

/// What one experiment produced.
pub struct Experiment {
    pub result: ExperimentResult,
    /// The trace, when asked for.
    pub trace: Option<TraceLog>,
}

/// Runs experiment `index`; `scratch` holds its disk copy; `trace` turns
/// on lossless IPC tracing (replay).
pub fn run_one(campaign: &Campaign, index: u32, scratch: &Path, trace: bool) -> Experiment {
    let plan = plan(campaign, index);
    let start = Instant::now();
    let (obs, stats, trace_log) = match observe(campaign, &plan, index, scratch, trace) {
        Ok(x) => x,
        Err(why) => {
            let obs = Observation {
                ending: Ending::VmmError(why),
                console: String::new(),
                log: String::new(),
                faults_injected: 0,
                swifi: Vec::new(),
            };
            (obs, (Vec::new(), None, None), None)
        }
    };
    let verdict = judge(campaign, &plan, &obs);
    let detail = (!verdict.failures.is_empty()).then(|| super::report::Detail::new(&obs.console, &obs.log));
    let (fault_counters, kernel_instructions, vm_exits) = stats;
    let result = ExperimentResult {
        index,
        description: plan.describe(),
        plan,
        verdict,
        faults_injected: obs.faults_injected,
        fault_counters,
        detail,
        swifi: obs.swifi,
        timing: ExperimentTiming { wall_ms: start.elapsed().as_millis() as u64, kernel_instructions, vm_exits },
    };
    Experiment { result, trace: trace_log }
}

type Stats = (Vec<(u32, u32)>, Option<u64>, Option<u64>);

fn observe(
    campaign: &Campaign,
    plan: &Plan,
    index: u32,
    scratch: &Path,
    trace: bool,
) -> Result<(Observation, Stats, Option<TraceLog>), String> {
    let disk = match &campaign.disk {
        Some(source) => {
            let copy = scratch.join(format!("disk-{index}.img"));
            std::fs::copy(source, &copy)
                .map_err(|e| format!("copying {} to {}: {e}", source.display(), copy.display()))?;
            Some(copy)
        }
        None => None,
    };
    let mut config = config_for(campaign, plan, disk.as_deref())?;
    if trace {
        config.trace = Some(TraceMode::Lossless);
    }
    let outcome = crate::run(&config);
    if let Some(copy) = &disk {
        let _ = std::fs::remove_file(copy);
    }
    let outcome = outcome.map_err(|e| e.to_string())?;
    let text =
        |bytes: &Option<Vec<u8>>| String::from_utf8_lossy(bytes.as_deref().unwrap_or_default()).replace("\r\n", "\n");
    let obs = Observation {
        ending: Ending::of(&outcome.exit),
        console: text(&outcome.console),
        log: text(&outcome.log),
        faults_injected: outcome.faults_injected,
        swifi: outcome.swifi,
    };
    let stats = (outcome.fault_counters.clone(), outcome.final_stats.insn_emulation(), outcome.final_stats.exits());
    Ok((obs, stats, outcome.trace))
}

/// Number of worker threads by default: the host's cores.
pub fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Runs the experiments `indices` on `jobs` threads; results in the order
/// of `indices`. The progress bar draws on stderr when it is a terminal.
pub fn run_all(campaign: &Campaign, indices: &[u32], jobs: usize, scratch: &Path) -> Vec<ExperimentResult> {
    let bar = ProgressBar::new(indices.len() as u64);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} experiments ({per_sec}, eta {eta}) {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let next = AtomicUsize::new(0);
    let failed = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<ExperimentResult>>> = Mutex::new(vec![None; indices.len()]);
    std::thread::scope(|s| {
        for _ in 0..jobs.clamp(1, indices.len().max(1)) {
            s.spawn(|| loop {
                let slot = next.fetch_add(1, Ordering::Relaxed);
                let Some(&index) = indices.get(slot) else { break };
                let experiment = run_one(campaign, index, scratch, false);
                if !experiment.result.verdict.failures.is_empty() {
                    let n = failed.fetch_add(1, Ordering::Relaxed) + 1;
                    bar.set_message(format!("{n} failed"));
                }
                results.lock().unwrap_or_else(|e| e.into_inner())[slot] = Some(experiment.result);
                bar.inc(1);
            });
        }
    });
    bar.finish_and_clear();
    results.into_inner().unwrap_or_else(|e| e.into_inner()).into_iter().flatten().collect()
}
