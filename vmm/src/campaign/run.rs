//! Running experiments, `jobs` at a time, with a progress bar.
//!
//! Each experiment is independent (its own VM, its own disk), so
//! experiments run on a pool of worker threads that take the next index
//! from a shared counter; results are put back in index order, so the
//! report does not depend on scheduling.
//!
//! How an experiment starts ([`Start`]): by default from one snapshot of
//! the guest taken where the workload starts (`MARK_COMMAND_START`, after
//! the boot), restored with copy-on-write memory and disk; with
//! `start = "boot"` by a cold boot on its own copy of the disk. The
//! snapshot is taken once per run (per shard), with an empty fault plan;
//! the experiment's plan is written at the restore, so its `nth` counts
//! events from the start of the workload.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use abi::platform::MARK_COMMAND_START;
use indicatif::{ProgressBar, ProgressStyle};

use super::classify::{judge, Ending, Observation, CHECK_MARKER, STATUS_MARKER};
use super::draw::{plan, Plan};
use super::file::Campaign;
use super::report::{ExperimentResult, ExperimentTiming};
use super::CampaignError;
use crate::inject::fault::FaultPlan;
use crate::observe::{TraceLog, TraceMode};
use crate::vstate::config::RunConfig;
use crate::vstate::snapshot::{ExperimentConfig, Snapshot};
use crate::RunOutcome;

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
pub fn config_for(campaign: &Campaign, plan: &Plan, disk: Option<&Path>) -> Result<RunConfig, CampaignError> {
    let mut config = base_config(campaign, disk)?;
    config.fault_plan = Some(fault_plan(plan));
    config.swifi = plan.swifi;
    Ok(config)
}

/// The plan in the form the kernel reads.
fn fault_plan(plan: &Plan) -> FaultPlan {
    FaultPlan { seed: plan.seed, rules: plan.rules.iter().map(|r| r.to_rule()).collect() }
}

/// The run configuration of the campaign with an empty fault plan (the
/// snapshot's: the plan region is reserved and named on the command line).
pub fn base_config(campaign: &Campaign, disk: Option<&Path>) -> Result<RunConfig, CampaignError> {
    let context = || format!("image {}", campaign.image);
    let mut config =
        RunConfig::for_image(&campaign.image).map_err(|source| CampaignError::Vm { context: context(), source })?;
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
    config.fault_plan = Some(FaultPlan { seed: 0, rules: Vec::new() });
    config.tick_budget = campaign.tick_budget();
    crate::vstate::config::check_cmdline(&config.cmdline())
        .map_err(|source| CampaignError::Vm { context: "the workload and check".into(), source })?;
    Ok(config)
}

/// What a run records besides its outcome (a replay's trace and profile).
#[derive(Debug, Clone, Copy, Default)]
pub struct Recording {
    /// A lossless IPC trace.
    pub trace: bool,
    /// The sampling profiler at this rate (`crate::observe::profile`).
    pub profile_hz: Option<u32>,
}

impl Recording {
    fn apply(self, config: &mut RunConfig) {
        if self.trace {
            config.trace = Some(TraceMode::Lossless);
        }
        config.profile_hz = self.profile_hz;
    }
}

/// How experiments start.
pub enum Start<'a> {
    /// A cold boot per experiment, each on its own copy of the campaign's
    /// disk in `scratch`, recording what `record` says (replay).
    Boot { scratch: &'a Path, record: Recording },
    /// A restore of this snapshot (taken by [`take_snapshot`]).
    Snapshot(&'a Snapshot),
}

/// Boots the campaign's guest to where the workload starts and snapshots
/// it, recording what `record` says in the experiments run from it
/// (replay). `scratch` holds the copy of the campaign's disk the boot uses.
pub fn take_snapshot(campaign: &Campaign, scratch: &Path, record: Recording) -> Result<Snapshot, CampaignError> {
    let disk = copy_disk(campaign, scratch, "snapshot")?;
    let mut config = base_config(campaign, disk.as_deref())?;
    record.apply(&mut config);
    let snapshot = Snapshot::take(&config, MARK_COMMAND_START).map_err(|source| CampaignError::Vm {
        context: format!("booting image {} to the start of the workload", campaign.image),
        source,
    });
    if let Some(copy) = &disk {
        let _ = std::fs::remove_file(copy);
    }
    snapshot
}

/// A private copy of the campaign's disk, if it names one.
fn copy_disk(campaign: &Campaign, scratch: &Path, name: &str) -> Result<Option<PathBuf>, CampaignError> {
    let Some(source) = &campaign.disk else { return Ok(None) };
    let copy = scratch.join(format!("disk-{name}.img"));
    crate::devices::sparse_file::copy_sparse(source, &copy).map_err(|e| CampaignError::Run(e.into()))?;
    Ok(Some(copy))
}

/// What one experiment produced.
pub struct Experiment {
    pub result: ExperimentResult,
    /// The trace, when asked for.
    pub trace: Option<TraceLog>,
    /// The profiler's samples, when asked for.
    pub profile: Option<crate::observe::profile::Samples>,
}

/// A private scratch directory for an experiment's disk when the
/// campaign judges disks (`expect.fsck`).
fn fsck_scratch(campaign: &Campaign) -> Result<Option<vmm_sys_util::tempdir::TempDir>, CampaignError> {
    if !campaign.expect.fsck {
        return Ok(None);
    }
    let prefix = std::env::temp_dir().join("viv-fsck-");
    vmm_sys_util::tempdir::TempDir::new_with_prefix(&prefix)
        .map(Some)
        .map_err(|e| CampaignError::Io { path: prefix, source: std::io::Error::from_raw_os_error(e.errno()) })
}

/// Runs experiment `index`, started as `start` says.
pub fn run_one(campaign: &Campaign, index: u32, start: &Start) -> Experiment {
    let plan = plan(campaign, index);
    let clock = Instant::now();
    // With `expect.fsck` the experiment's disk is written out when it
    // ends (a snapshot experiment's lives only in its private mapping).
    let scratch = fsck_scratch(campaign);
    let disk_out = scratch.as_ref().ok().and_then(Option::as_ref).map(|d| d.as_path().join("disk.img"));
    let outcome = match scratch {
        Ok(_) => run_plan(campaign, &plan, index, start, disk_out.as_deref()),
        Err(e) => Err(e),
    };
    let wall_ms = clock.elapsed().as_millis() as u64;
    let text =
        |bytes: &Option<Vec<u8>>| String::from_utf8_lossy(bytes.as_deref().unwrap_or_default()).replace("\r\n", "\n");
    let (obs, outcome) = match outcome {
        Ok(outcome) => {
            let obs = Observation {
                ending: Ending::of(&outcome.exit),
                console: text(&outcome.console),
                log: text(&outcome.log),
                faults_injected: outcome.faults_injected,
                swifi: outcome.swifi.clone(),
                ticks: outcome.command_ticks,
                restarts: super::evidence::restarts(
                    &outcome.restart_counts,
                    &super::file::image_programs(&campaign.image).unwrap_or_default(),
                ),
                // Only a guest that powered off synced its disk.
                fsck_clean: match (&disk_out, &outcome.exit) {
                    (Some(disk), crate::Exit::PowerOff(_)) => crate::observe::fsck::fsck(disk),
                    _ => None,
                },
            };
            (obs, Some(outcome))
        }
        Err(why) => {
            let obs = Observation {
                ending: Ending::VmmError(why.to_string()),
                console: String::new(),
                log: String::new(),
                faults_injected: 0,
                swifi: Vec::new(),
                ticks: None,
                restarts: Default::default(),
                fsck_clean: None,
            };
            (obs, None)
        }
    };
    let verdict = judge(campaign, &plan, &obs);
    let detail = (!verdict.failures.is_empty()).then(|| super::report::Detail::new(&obs.console, &obs.log));
    let stats = outcome.as_ref().map(|o| &o.final_stats);
    let result = ExperimentResult {
        index,
        description: plan.describe(),
        faults_injected: obs.faults_injected,
        fault_counters: outcome.as_ref().map(|o| o.fault_counters.clone()).unwrap_or_default(),
        plan,
        verdict,
        detail,
        swifi: obs.swifi,
        timing: ExperimentTiming {
            wall_ms,
            kernel_instructions: stats.and_then(|s| s.insn_emulation()),
            vm_exits: stats.and_then(|s| s.exits()),
        },
    };
    let (trace, profile) = outcome.map(|o| (o.trace, o.profile)).unwrap_or_default();
    Experiment { result, trace, profile }
}

/// Runs `plan` from `start` to the end of the run, writing the disk out
/// to `disk_out` at the end if given.
fn run_plan(
    campaign: &Campaign,
    plan: &Plan,
    index: u32,
    start: &Start,
    disk_out: Option<&Path>,
) -> Result<RunOutcome, CampaignError> {
    match start {
        Start::Snapshot(snapshot) => {
            let mut experiment = ExperimentConfig::new(snapshot, fault_plan(plan));
            experiment.timeout = Some(Duration::from_secs_f64(campaign.timeout_secs));
            experiment.swifi = plan.swifi;
            experiment.disk_out = disk_out.map(Path::to_path_buf);
            Ok(snapshot.run(&experiment)?)
        }
        Start::Boot { scratch, record } => {
            let disk = copy_disk(campaign, scratch, &index.to_string())?;
            let mut config = config_for(campaign, plan, disk.as_deref())?;
            config.disk_out = disk_out.map(Path::to_path_buf);
            record.apply(&mut config);
            let outcome = crate::run(&config);
            if let Some(copy) = &disk {
                let _ = std::fs::remove_file(copy);
            }
            Ok(outcome?)
        }
    }
}

/// The fault-free baseline: the workload's virtual ticks with an empty
/// plan, started as `start` says (`None` if the run did not report them).
pub fn baseline_ticks(campaign: &Campaign, start: &Start) -> Option<u64> {
    let empty = Plan { seed: 0, rules: Vec::new(), swifi: None };
    let outcome = run_plan(campaign, &empty, u32::MAX, start, None).ok()?;
    outcome.command_ticks.filter(|&t| t > 0)
}

/// Number of worker threads by default: the host's cores.
pub fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Runs the experiments `indices` on `jobs` threads; results in the order
/// of `indices`. The progress bar draws on stderr when it is a terminal.
pub fn run_all(campaign: &Campaign, indices: &[u32], jobs: usize, start: &Start) -> Vec<ExperimentResult> {
    run_all_with(campaign, indices, jobs, start, &Hooks::default())
}

/// What [`run_all_with`] does besides running: `finished` is called with
/// every result as it comes (the journal), and no experiment starts once
/// `stop` says so (`^C`).
#[derive(Default)]
pub struct Hooks<'a> {
    pub finished: Option<&'a (dyn Fn(&ExperimentResult) + Sync)>,
    pub stop: Option<&'a (dyn Fn() -> bool + Sync)>,
}

/// [`run_all`] with `hooks`; the results of the experiments that ran.
pub fn run_all_with(
    campaign: &Campaign,
    indices: &[u32],
    jobs: usize,
    start: &Start,
    hooks: &Hooks,
) -> Vec<ExperimentResult> {
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
                if hooks.stop.is_some_and(|stop| stop()) {
                    break;
                }
                let experiment = run_one(campaign, index, start);
                if let Some(finished) = hooks.finished {
                    finished(&experiment.result);
                }
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
