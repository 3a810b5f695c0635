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

use abi::platform::{MARK_CHECK_START, MARK_COMMAND_START};
use indicatif::{ProgressBar, ProgressStyle};

use super::classify::{judge, Ending, Observation};
use super::draw::{plan, Plan};
use super::file::{Baseline, Campaign};
use super::report::{ExperimentResult, ExperimentTiming};
use super::CampaignError;
use crate::inject::fault::FaultPlan;
use crate::observe::{TraceLog, TraceMode};
use crate::vstate::config::RunConfig;
use crate::vstate::snapshot::{ExperimentConfig, Snapshot};
use crate::RunOutcome;

/// What the kernel command line carries after its keys for the
/// campaign's workload and check: ` -- WORKLOAD`, or with a check
/// `viv.check=LEN -- WORKLOAD -- CHECK` (`abi::platform::CMDLINE_CHECK_KEY`),
/// which init runs as two shells so that the kernel records each one's
/// exit status (`abi::fault::STATUS_OFFSET`): the statuses never pass
/// through the console, where any program could forge them.
pub fn guest_command(campaign: &Campaign) -> String {
    use abi::platform::{command_with_check, CMDLINE_CHECK_KEY, CMDLINE_COMMAND_SEPARATOR};
    let separator = CMDLINE_COMMAND_SEPARATOR.trim_start();
    match &campaign.expect.check {
        None => format!("{separator}{}", campaign.workload),
        Some(check) => {
            // The kernel command line is trimmed (`build_cmdline`): no
            // trailing blank may change the check's length. An empty
            // check does what `true` does.
            let check = Some(check.trim_end()).filter(|c| !c.is_empty()).unwrap_or("true");
            let command = command_with_check(&campaign.workload, check);
            format!("{CMDLINE_CHECK_KEY}={} {separator}{command}", check.len())
        }
    }
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
    config.append = match campaign.weaken.as_slice() {
        [] => guest_command(campaign),
        names => format!("{}={} {}", abi::weaken::WEAKEN_KEY, names.join(","), guest_command(campaign)),
    };
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
    config.instruction_budget = campaign.kernel_instruction_budget();
    crate::vstate::config::check_cmdline(&config.cmdline())
        .map_err(|source| CampaignError::Vm { context: "the workload and check".into(), source })?;
    Ok(config)
}

/// What a run records besides its outcome (a replay's trace and
/// profile), and a replay's debugger.
#[derive(Debug, Clone, Default)]
pub struct Recording {
    /// A lossless IPC trace.
    pub trace: bool,
    /// The sampling profiler at this rate (`crate::observe::profile`).
    pub profile_hz: Option<u32>,
    /// Serve gdb for the experiment (`crate::debug`; not for the boot a
    /// snapshot is taken from). A debugged experiment has no timeout.
    pub gdb: Option<crate::debug::GdbConfig>,
}

impl Recording {
    fn apply(&self, config: &mut RunConfig) {
        if self.trace {
            config.trace = Some(TraceMode::Lossless);
        }
        config.profile_hz = self.profile_hz;
        config.gdb = self.gdb.clone();
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
    // The boot is no experiment's: each gets its budget at the restore.
    config.instruction_budget = 0;
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
    let (obs, outcome) = match outcome {
        Ok(outcome) => {
            let check_at = outcome.mark(MARK_CHECK_START).map(|m| m.console_bytes);
            let (console, check_at) =
                super::evidence::console_text(outcome.console.as_deref().unwrap_or_default(), check_at);
            let obs = Observation {
                ending: Ending::of(&outcome.exit, outcome.command_ticks, campaign.tick_budget()),
                console,
                check_at,
                workload_status: outcome.command_status.map(|s| s as i32),
                check_status: outcome.check_status.map(|s| s as i32),
                log: super::evidence::text(outcome.log.as_deref().unwrap_or_default()),
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
        Err(why) => (Observation::nothing(Ending::VmmError(why.to_string())), None),
    };
    let judging = Instant::now();
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
            vcpu_cpu_ms: outcome.as_ref().and_then(|o| o.vcpu_cpu).map(|c| c.total().as_millis() as u64),
        },
    };
    log::debug!(
        "experiment {index}: {wall_ms} ms, judged in {:.1} ms, {:?} kernel instructions, {:?} exits",
        judging.elapsed().as_secs_f64() * 1e3,
        result.timing.kernel_instructions,
        result.timing.vm_exits
    );
    if let Some(stats) = stats {
        let nonzero: Vec<_> = stats.values.iter().filter(|(_, &v)| v != 0).collect();
        log::debug!("experiment {index}: vCPU statistics {nonzero:?}");
    }
    // Where the kernel instructions went: the workload, then the check
    // and the power-off (`docs/campaigns.md`, "What an experiment costs").
    if let Some(at_check) = outcome.as_ref().and_then(|o| o.mark(MARK_CHECK_START)?.stats.insn_emulation()) {
        log::debug!("experiment {index}: {at_check} kernel instructions before the check started");
    }
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
            // A debugged experiment may stop as long as its user likes.
            experiment.timeout = snapshot.config.gdb.is_none().then(|| Duration::from_secs_f64(campaign.timeout_secs));
            experiment.swifi = plan.swifi;
            // The snapshot was taken before the baseline was measured (its
            // budget is 0, none): the experiment gets the campaign's.
            experiment.tick_budget = campaign.tick_budget();
            experiment.instruction_budget = campaign.kernel_instruction_budget();
            experiment.disk_out = disk_out.map(Path::to_path_buf);
            Ok(snapshot.run(&experiment)?)
        }
        Start::Boot { scratch, record } => {
            let disk = copy_disk(campaign, scratch, &index.to_string())?;
            let mut config = config_for(campaign, plan, disk.as_deref())?;
            config.disk_out = disk_out.map(Path::to_path_buf);
            record.apply(&mut config);
            if config.gdb.is_some() {
                config.timeout = None;
            }
            let outcome = crate::run(&config);
            if let Some(copy) = &disk {
                let _ = std::fs::remove_file(copy);
            }
            Ok(outcome?)
        }
    }
}

/// Runs the fault-free baseline (an empty plan, no budgets: it measures
/// them), started as `start` says.
pub fn baseline(campaign: &Campaign, start: &Start) -> Baseline {
    let empty = Plan { seed: 0, rules: Vec::new(), swifi: None };
    let mut unbounded = campaign.clone();
    unbounded.baseline_ticks = None;
    unbounded.virtual_timeout_secs = None;
    unbounded.instruction_budget = None;
    unbounded.baseline_kernel_instructions = None;
    let Ok(outcome) = run_plan(&unbounded, &empty, u32::MAX, start, None) else {
        return Baseline::default();
    };
    let counts_kernel = crate::vstate::config::HostKind::detect() == crate::vstate::config::HostKind::SoftwarePvm;
    Baseline {
        ticks: outcome.command_ticks.filter(|&t| t > 0),
        kernel_instructions: outcome.final_stats.insn_emulation().filter(|&n| counts_kernel && n > 0),
    }
}

/// Number of worker threads by default: the host's cores.
pub fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Runs the experiments `indices` on `jobs` threads; results in the order
/// of `indices`. Progress goes to stderr: a bar on a terminal, otherwise
/// lines (`ProgressLines`).
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
    /// No progress bar and no progress lines (`viv campaign --quiet`).
    pub quiet: bool,
}

/// Progress for a log that is not a terminal (CI): a line on stderr every
/// [`LINE_STEPS`]th of the experiments and at least every
/// [`LINE_SECS`] seconds, so a long campaign is never silent for minutes.
struct ProgressLines {
    total: usize,
    started: Instant,
    last: Mutex<(usize, Instant)>,
}

/// Progress lines per campaign at most, apart from the time-driven ones.
const LINE_STEPS: usize = 20;
/// Most seconds between two progress lines while experiments finish.
const LINE_SECS: u64 = 30;

impl ProgressLines {
    fn new(total: usize) -> ProgressLines {
        let now = Instant::now();
        ProgressLines { total, started: now, last: Mutex::new((0, now)) }
    }

    /// `done` experiments have finished, `failed` of them failed.
    fn finished(&self, done: usize, failed: usize) {
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        let step = self.total.div_ceil(LINE_STEPS).max(1);
        let due =
            done == self.total || done / step > last.0 / step || last.1.elapsed() >= Duration::from_secs(LINE_SECS);
        if !due {
            return;
        }
        *last = (done, Instant::now());
        eprintln!("{}", progress_line(done, self.total, failed, self.started.elapsed()));
    }
}

/// One progress line: count, rate, time left, failures so far.
pub fn progress_line(done: usize, total: usize, failed: usize, elapsed: Duration) -> String {
    let secs = elapsed.as_secs_f64();
    let rate = if secs > 0.0 { done as f64 / secs } else { 0.0 };
    let eta = if rate > 0.0 { format!("{:.0}s", (total - done.min(total)) as f64 / rate) } else { "?".into() };
    format!("viv campaign: {done}/{total} experiments done ({rate:.2}/s, eta {eta}), {failed} failed so far")
}

/// [`run_all`] with `hooks`; the results of the experiments that ran.
pub fn run_all_with(
    campaign: &Campaign,
    indices: &[u32],
    jobs: usize,
    start: &Start,
    hooks: &Hooks,
) -> Vec<ExperimentResult> {
    let interactive = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let bar = if hooks.quiet || !interactive { ProgressBar::hidden() } else { ProgressBar::new(indices.len() as u64) };
    let lines = (!hooks.quiet && !interactive).then(|| ProgressLines::new(indices.len()));
    let done = AtomicUsize::new(0);
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
                let finished = done.fetch_add(1, Ordering::Relaxed) + 1;
                if let Some(lines) = &lines {
                    lines.finished(finished, failed.load(Ordering::Relaxed));
                }
            });
        }
    });
    bar.finish_and_clear();
    results.into_inner().unwrap_or_else(|e| e.into_inner()).into_iter().flatten().collect()
}
