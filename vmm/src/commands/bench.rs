//! `viv bench`: boot time, the IPC round trip and operations, tracing,
//! storage and process figures, what a hung experiment costs, and
//! optionally a campaign's throughput from
//! a snapshot versus cold boots and the same guests under QEMU
//! (`crate::bench`).

use std::path::Path;

use super::CommandError;
use crate::bench::{self, BenchReport};
use crate::vstate::config::EntryChoice;

/// What to measure.
#[derive(Debug, Clone)]
pub struct BenchRequest<'a> {
    /// Pingpong round trips.
    pub rounds: u64,
    /// Boots of image hello to take the median of.
    pub boot_runs: usize,
    /// System-call entry selection.
    pub entry: EntryChoice,
    /// Campaign file for the campaign part (`None`: the embedded smoke campaign).
    pub campaign: Option<&'a Path>,
    /// Experiments of the campaign to run each way (0: skip that part).
    pub campaign_experiments: u32,
    /// Parallel VMs for the campaign part (`None`: one per core).
    pub jobs: Option<usize>,
    /// Also run hello and pingpong under QEMU TCG.
    pub qemu: bool,
}

/// `viv bench --only hang`: what a hung experiment costs (`bench::hang`).
pub fn hang() -> Result<bench::hang::HangFigures, CommandError> {
    let scratch = crate::campaign::temp_scratch_dir("bench")?;
    Ok(bench::hang::measure(scratch.path())?)
}

/// `viv bench --only campaign`: the campaign part alone (`bench::campaign`):
/// `experiments` of the campaign in `file` (default the embedded smoke
/// campaign) each way, on `jobs` parallel VMs (default one per core).
pub fn campaign(
    file: Option<&Path>,
    experiments: u32,
    jobs: Option<usize>,
) -> Result<bench::campaign::CampaignFigures, CommandError> {
    let campaign = match file {
        Some(path) => crate::campaign::Campaign::load(path)?,
        None => bench::campaign::smoke_campaign()?,
    };
    let scratch = crate::campaign::temp_scratch_dir("bench")?;
    let jobs = jobs.unwrap_or_else(crate::campaign::run::default_jobs);
    Ok(bench::campaign::compare(&campaign, experiments, jobs, scratch.path())?)
}

/// Runs every measurement `request` asks for.
pub fn bench(request: &BenchRequest) -> Result<BenchReport, CommandError> {
    // Read the campaign first: a bad file fails before minutes of benchmarks.
    let campaign = match (request.campaign, request.campaign_experiments) {
        (_, 0) => None,
        (Some(path), _) => Some(crate::campaign::Campaign::load(path)?),
        (None, _) => Some(bench::campaign::smoke_campaign()?),
    };
    // And QEMU: a missing one fails at once with one line.
    if request.qemu {
        bench::qemu::qemu_version()?;
    }
    let mut report = bench::run_bench(request.rounds, request.boot_runs, request.entry)?;
    if request.qemu {
        report.qemu = Some(bench::qemu::compare(&report, request.rounds, bench::RUN_TIMEOUT)?);
    }
    let scratch = crate::campaign::temp_scratch_dir("bench")?;
    report.hang = Some(bench::hang::measure(scratch.path())?);
    drop(scratch);
    if let Some(campaign) = campaign {
        let scratch = crate::campaign::temp_scratch_dir("bench")?;
        let jobs = request.jobs.unwrap_or_else(crate::campaign::run::default_jobs);
        let figures = bench::campaign::compare(&campaign, request.campaign_experiments, jobs, scratch.path());
        drop(scratch);
        report.campaign = Some(figures?);
    }
    Ok(report)
}
