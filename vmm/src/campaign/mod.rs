//! Fault-injection campaigns (`viv campaign`): many experiments, each a VM
//! (restored from one snapshot, or cold-booted) running a workload under
//! one randomly drawn fault, judged
//! against the campaign's expectations and reported as JSON, JUnit XML and
//! Markdown.
//!
//! Why it is built this way:
//! - **Reproducible by construction.** An experiment's fault plan is a pure
//!   function of (campaign seed, experiment index) ([`draw`]), and the
//!   guest runs in deterministic mode (virtual time, seeded PRNG), so any
//!   experiment can be rerun alone ([`replay`], with a full IPC trace) and
//!   a campaign can be split into shards that need no coordination.
//! - **CI first.** Exit status 1 when an expectation fails, one-line
//!   errors for bad campaign files ([`file`]), JUnit for test views, and
//!   [`merge`] to join the shards of a CI matrix or a Kubernetes Indexed
//!   Job into the report of one whole run.
//! - **Judging apart from running** ([`classify`]): the outcome class and
//!   the expectations are pure functions of what the run left behind.
//!
//! The file format is documented in `docs/campaigns.md`.

pub mod classify;
pub mod draw;
mod error;
pub mod evidence;
pub mod file;
pub mod interrupt;
pub mod journal;
pub mod merge;
pub mod report;
pub mod run;
pub mod validate;

use std::path::{Path, PathBuf};
use std::time::Instant;

pub use classify::Outcome;
pub use error::CampaignError;
pub use file::{Campaign, StartFrom};
pub use report::{Results, Shard};

/// `viv campaign`'s status when an expectation failed.
pub const STATUS_EXPECTATION_FAILED: i32 = 1;

/// A fresh private scratch directory for disk copies inside `parent`
/// (created if missing), removed when the guard drops. Its name is
/// random and it is made with an exclusive `mkdir` (mode 0700), so another
/// user cannot predict it or plant a symbolic link there in advance.
pub fn scratch_dir(parent: &Path) -> Result<tempfile::TempDir, CampaignError> {
    std::fs::create_dir_all(parent).map_err(|source| CampaignError::Io { path: parent.to_path_buf(), source })?;
    tempfile::Builder::new()
        .prefix(".scratch-")
        .permissions(private())
        .tempdir_in(parent)
        .map_err(|source| CampaignError::Io { path: parent.to_path_buf(), source })
}

/// Mode 0700: only this user may look inside.
fn private() -> std::fs::Permissions {
    std::os::unix::fs::PermissionsExt::from_mode(0o700)
}

/// A private scratch directory in the system's temporary directory (for
/// runs that have no output directory of their own: replay, bench).
pub fn temp_scratch_dir(what: &str) -> Result<tempfile::TempDir, CampaignError> {
    let tmp = std::env::temp_dir();
    tempfile::Builder::new()
        .prefix(&format!("viv-{what}-"))
        .permissions(private())
        .tempdir_in(&tmp)
        .map_err(|source| CampaignError::Io { path: tmp, source })
}

/// How a campaign run ended: its results, and how many experiments are
/// still to run when `^C` stopped it.
pub struct CampaignRun {
    pub results: Results,
    pub missing: usize,
}

/// Runs the campaign in `file` (or shard `shard` of it) on `jobs` threads
/// and writes the reports into `out`; each result goes to the journal
/// ([`journal`]) as it finishes. With `resume`, the journal in `out` is
/// read back and only the experiments it lacks run. `^C` stops starting
/// experiments; the reports then cover what finished.
pub fn run_campaign(
    file: &Path,
    out: &Path,
    jobs: Option<usize>,
    shard: Option<Shard>,
    resume: bool,
    quiet: bool,
) -> Result<CampaignRun, CampaignError> {
    let mut campaign = Campaign::load(file)?;
    let in_file = |e: CampaignError| CampaignError::About { path: file.to_path_buf(), source: Box::new(e) };
    // Fail on an unusable image or command line before starting threads.
    run::config_for(&campaign, &draw::plan(&campaign, 0), None).map_err(in_file)?;
    let wanted = match shard {
        Some(s) => s.indices(campaign.experiments),
        None => (0..campaign.experiments).collect(),
    };
    let (journal, done) = if resume {
        journal::Journal::resume(out, &campaign, shard)?
    } else {
        (journal::Journal::create(out, &campaign, shard)?, Vec::new())
    };
    let indices: Vec<u32> = wanted.iter().copied().filter(|i| !done.iter().any(|r| r.index == *i)).collect();
    let jobs = jobs.unwrap_or_else(run::default_jobs).max(1);
    let scratch = scratch_dir(out)?;
    let clock = Instant::now();
    let cpu_before = report::process_cpu_secs();
    let journal_error = std::sync::Mutex::new(None);
    let finished = |result: &report::ExperimentResult| {
        if let Err(e) = journal.append(result) {
            journal_error.lock().unwrap_or_else(|e| e.into_inner()).get_or_insert(e);
        }
    };
    interrupt::catch_sigint();
    let stop = interrupt::interrupted;
    let hooks = run::Hooks { finished: Some(&finished), stop: Some(&stop), quiet };
    let start = campaign.start;
    let ran = run_indices(&mut campaign, &indices, jobs, scratch.path(), start, &hooks);
    let wall = clock.elapsed().as_secs_f64();
    drop(scratch);
    let (mut experiments, snapshot_secs) = ran.map_err(in_file)?;
    if let Some(e) = journal_error.into_inner().unwrap_or_else(|e| e.into_inner()) {
        return Err(e);
    }
    experiments.extend(done);
    let missing = wanted.len() - experiments.len();
    let mut timing = report::Timing::of(&experiments, wall, jobs, snapshot_secs);
    // A resumed run's CPU covers only the experiments it ran.
    if !resume {
        timing.process_cpu_secs = cpu_before.zip(report::process_cpu_secs()).map(|(before, after)| after - before);
    }
    let results = Results::new(campaign, shard, experiments, timing);
    results.write(out)?;
    Ok(CampaignRun { results, missing })
}

/// Runs the experiments `indices` on `jobs` threads, started as `start`
/// says; with the seconds the snapshot took, if one was taken.
/// Before the experiments, the fault-free baseline is measured from the
/// same start and recorded in `campaign` (it sets the `degraded` class and
/// the virtual-time budget).
pub(crate) fn run_indices(
    campaign: &mut Campaign,
    indices: &[u32],
    jobs: usize,
    scratch: &Path,
    start: StartFrom,
    hooks: &run::Hooks,
) -> Result<(Vec<report::ExperimentResult>, Option<f64>), CampaignError> {
    if indices.is_empty() {
        return Ok((Vec::new(), None));
    }
    match start {
        StartFrom::Boot => {
            let start = run::Start::Boot { scratch, record: Default::default() };
            campaign.record_baseline(run::baseline(campaign, &start));
            Ok((run::run_all_with(campaign, indices, jobs, &start, hooks), None))
        }
        StartFrom::Snapshot => {
            let clock = Instant::now();
            let snapshot = run::take_snapshot(campaign, scratch, Default::default())?;
            let secs = clock.elapsed().as_secs_f64();
            let start = run::Start::Snapshot(&snapshot);
            let clock = Instant::now();
            campaign.record_baseline(run::baseline(campaign, &start));
            log::debug!("snapshot taken in {secs:.2} s, baseline run in {:.2} s", clock.elapsed().as_secs_f64());
            Ok((run::run_all_with(campaign, indices, jobs, &start, hooks), Some(secs)))
        }
    }
}

/// Reruns experiment `index` of the campaign in `results_path` with a
/// lossless IPC trace, writes the trace as JSON lines to `trace_out`
/// (default: `experiment-N.trace.jsonl` beside the results) and returns a
/// report text and whether the expectations held. With `profile_out`,
/// the run is profiled too (`crate::observe::profile`): folded stacks go
/// to that file (speedscope JSON when it ends in `.json`) and the top-N
/// table into the report.
pub fn replay(
    results_path: &Path,
    index: u32,
    trace_out: Option<&Path>,
    profile_out: Option<&Path>,
    gdb: Option<crate::debug::GdbConfig>,
) -> Result<(String, bool), CampaignError> {
    let results = Results::load(results_path)?;
    let campaign = &results.campaign;
    validate::check_image(campaign, results_path)?;
    if index >= campaign.experiments {
        let last = campaign.experiments - 1;
        return Err(CampaignError::Results(format!("experiment {index} is not in the campaign (0 to {last})")));
    }
    let dir = results_path.parent().map(Path::to_path_buf).unwrap_or_default();
    let trace_path = trace_out.map_or_else(|| dir.join(format!("experiment-{index}.trace.jsonl")), Path::to_path_buf);
    let scratch = temp_scratch_dir("replay")?;
    let profile_hz = profile_out.map(|_| crate::observe::profile::DEFAULT_HZ);
    let record = run::Recording { trace: true, profile_hz, gdb };
    let experiment = match campaign.start {
        StartFrom::Boot => Ok(run::run_one(campaign, index, &run::Start::Boot { scratch: scratch.path(), record })),
        StartFrom::Snapshot => run::take_snapshot(campaign, scratch.path(), record)
            .map(|snapshot| run::run_one(campaign, index, &run::Start::Snapshot(&snapshot))),
    };
    drop(scratch);
    let experiment = experiment?;
    let trace = experiment.trace.as_ref().map(|t| crate::observe::decode::decode(&t.raw)).unwrap_or_default();
    let processes = experiment.trace.as_ref().map(|t| t.processes.as_slice()).unwrap_or_default();
    let analysis = crate::observe::analysis::Analysis::with_processes(&trace.records, None, processes);
    let jsonl = crate::observe::export::jsonl(&analysis);
    let written = if trace_path.as_os_str() == "-" {
        // `--out -`: the trace on stdout (the report then goes to stderr).
        use std::io::Write as _;
        let mut out = std::io::stdout().lock();
        out.write_all(jsonl.as_bytes()).and_then(|()| out.flush())
    } else {
        std::fs::write(&trace_path, jsonl)
    };
    written.map_err(|source| CampaignError::Io { path: trace_path.clone(), source })?;
    let r = &experiment.result;
    let mut text = format!(
        "experiment {index}: {}\noutcome: {} ({}), {} injection(s)\n",
        r.description,
        r.verdict.outcome.describe(),
        r.verdict.exit,
        r.faults_injected
    );
    for m in &r.swifi {
        text += &format!("mutation: {}\n", m.describe());
    }
    for f in &r.verdict.failures {
        text += &format!("failed: {f}\n");
    }
    match results.experiments.iter().find(|e| e.index == index) {
        Some(recorded) if recorded.verdict == r.verdict => text += "same outcome as recorded\n",
        Some(recorded) => {
            text += &format!(
                "DIFFERS from the recorded outcome: {} ({})\n",
                recorded.verdict.outcome.describe(),
                recorded.verdict.exit
            )
        }
        None => text += "(not in this results file's shard)\n",
    }
    let shown = if trace_path.as_os_str() == "-" { "stdout".into() } else { trace_path.display().to_string() };
    text += &format!("{} trace records written to {shown}\n", trace.records.len());
    if let (Some(path), Some(samples)) = (profile_out, &experiment.profile) {
        text += &write_profile(campaign, samples, path)?;
    }
    Ok((text, r.verdict.failures.is_empty()))
}

/// Writes a replay's profile to `path` (speedscope JSON for `*.json`,
/// pprof for `*.pb.gz` or `*.pprof`, else folded stacks); returns the
/// lines for the report.
fn write_profile(
    campaign: &Campaign,
    samples: &crate::observe::profile::Samples,
    path: &Path,
) -> Result<String, CampaignError> {
    let config = run::base_config(campaign, None)?;
    let programs = |name: &str| crate::inject::swifi::code_map::program_elf(&config.archive, name).ok();
    let profile = crate::observe::profile::report::Profile::symbolize(samples, &config.kernel, &programs);
    let name = format!("{} experiment", campaign.name);
    let io = |source| CampaignError::Io { path: path.to_path_buf(), source };
    let file_name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let bytes = if file_name.ends_with(".json") {
        profile.speedscope(&name).to_string().into_bytes()
    } else if file_name.ends_with(".pb.gz") || file_name.ends_with(".pprof") {
        profile.pprof_bytes(&name).map_err(io)?
    } else {
        profile.folded().into_bytes()
    };
    std::fs::write(path, bytes).map_err(io)?;
    Ok(format!("profile written to {}:\n{}", path.display(), profile.top(15)))
}

/// Merges shard results (`inputs`: directories or results.json files) and
/// writes the whole report into `out`.
pub fn merge_into(inputs: &[PathBuf], out: &Path) -> Result<Results, CampaignError> {
    let results = merge::merge(inputs)?;
    results.write(out)?;
    Ok(results)
}

/// The one-line summary `viv campaign` prints.
pub fn summary_line(results: &Results, out: &Path) -> String {
    let t = &results.totals;
    let classes: Vec<String> = Outcome::ALL
        .iter()
        .filter_map(|o| t.outcomes.get(o.name()).filter(|&&n| n > 0).map(|n| format!("{n} {}", o.describe())))
        .collect();
    let whole = results.campaign_failures.iter().map(|f| format!(" ({f})")).collect::<String>();
    format!(
        "campaign {}: {} experiments ({}), {} failed expectations{whole}; {:.2} experiments/s; reports in {}",
        results.campaign.name,
        t.experiments,
        classes.join(", "),
        t.failed,
        results.timing.experiments_per_second,
        out.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn scratch_directories_are_private_unpredictable_and_never_a_planted_link() {
        let out = std::env::temp_dir().join(format!("viv-scratch-unit-{}", std::process::id()));
        let elsewhere = out.join("elsewhere");
        std::fs::create_dir_all(&elsewhere).unwrap();
        // The name the old code used: a link planted there must not be used.
        std::os::unix::fs::symlink(&elsewhere, out.join(format!(".scratch-{}", std::process::id()))).unwrap();
        let a = scratch_dir(&out).unwrap();
        let b = scratch_dir(&out).unwrap();
        assert_ne!(a.path(), b.path());
        for dir in [a.path(), b.path()] {
            let meta = std::fs::symlink_metadata(dir).unwrap();
            assert!(meta.is_dir() && !meta.file_type().is_symlink(), "{}", dir.display());
            assert_eq!(meta.permissions().mode() & 0o777, 0o700);
            assert_eq!(
                std::fs::canonicalize(dir).unwrap().parent(),
                Some(std::fs::canonicalize(&out).unwrap().as_path())
            );
        }
        let t = temp_scratch_dir("replay").unwrap();
        assert!(t.path().starts_with(std::env::temp_dir()));
        assert_eq!(std::fs::metadata(t.path()).unwrap().permissions().mode() & 0o777, 0o700);
        let kept = t.path().to_path_buf();
        drop((a, b, t));
        assert!(!kept.exists(), "removed with its guard");
        assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0);
        std::fs::remove_dir_all(&out).unwrap();
    }
}
