//! The campaign throughput benchmark (`viv bench`, its `campaign` part):
//! the same experiments of one campaign started from a snapshot and by
//! cold boots, side by side in one run.
//!
//! Why side by side: wall-clock throughput depends on the host and its
//! load, so only a ratio measured in one run, on the same experiments with
//! the same number of parallel VMs, says what snapshots buy. Kernel
//! instructions (KVM's exact count) and VM exits per experiment are
//! reported beside it; they do not depend on load. The experiments are
//! the campaign's first N (by index), so both modes draw the same faults;
//! their outcomes may still differ, since from the snapshot a fault's
//! `nth` counts events from the start of the workload and in a cold boot
//! from the start of the boot.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::campaign::file::{Campaign, StartFrom};
use crate::campaign::report::{median, process_cpu_secs, ExperimentResult};
use crate::campaign::CampaignError;

/// The smoke campaign of `.ci/run`, the default workload of the benchmark.
pub const SMOKE_CAMPAIGN: &str = include_str!("../../../ci/campaigns/smoke.toml");
/// Experiments per mode by default.
pub const DEFAULT_EXPERIMENTS: u32 = 8;

/// One way of starting experiments, measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModeFigures {
    /// "snapshot" or "boot".
    pub start: String,
    /// Wall-clock seconds for all the experiments (snapshot included).
    pub wall_secs: f64,
    pub experiments_per_second: f64,
    /// Seconds to boot to the workload and take the snapshot.
    pub snapshot_secs: Option<f64>,
    pub median_kernel_instructions: Option<u64>,
    pub median_vm_exits: Option<u64>,
    /// Experiments per outcome class.
    pub outcomes: BTreeMap<String, u32>,
    /// Host CPU seconds (user + system, every thread of `viv`) per
    /// experiment, snapshot and baseline included: what an experiment
    /// costs the host, less sensitive to load than wall time.
    #[serde(default)]
    pub cpu_secs_per_experiment: Option<f64>,
    /// Median host CPU milliseconds of an experiment's vCPU thread.
    #[serde(default)]
    pub median_vcpu_cpu_ms: Option<u64>,
    /// The vCPU threads' CPU over their kernel instructions (µs).
    #[serde(default)]
    pub vcpu_cpu_us_per_kernel_instruction: Option<f64>,
}

/// The benchmark's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CampaignFigures {
    /// The campaign's name and file.
    pub campaign: String,
    pub file: String,
    /// Experiments run in each mode.
    pub experiments: u32,
    /// Parallel VMs in each mode.
    pub jobs: usize,
    pub snapshot: ModeFigures,
    pub boot: ModeFigures,
    /// Experiments per second from the snapshot over cold boots.
    pub speedup: f64,
    /// Median kernel instructions per experiment, cold boot over snapshot.
    pub kernel_instruction_ratio: Option<f64>,
}

/// The embedded smoke campaign, checked against the embedded images.
pub fn smoke_campaign() -> Result<Campaign, CampaignError> {
    Campaign::parse(
        SMOKE_CAMPAIGN,
        "ci/campaigns/smoke.toml",
        "smoke",
        Path::new("."),
        crate::campaign::file::image_programs,
    )
    .map_err(|e| CampaignError::InFile { path: "ci/campaigns/smoke.toml".into(), source: Box::new(e) })
}

fn mode_figures(
    start: StartFrom,
    results: &[ExperimentResult],
    wall_secs: f64,
    cpu_secs: Option<f64>,
    snapshot_secs: Option<f64>,
) -> ModeFigures {
    let timing = crate::campaign::report::Timing::of(results, wall_secs, 1, snapshot_secs);
    let mut outcomes = BTreeMap::new();
    for e in results {
        *outcomes.entry(e.verdict.outcome.name().to_string()).or_insert(0) += 1;
    }
    ModeFigures {
        start: start.name().to_string(),
        wall_secs,
        experiments_per_second: if wall_secs > 0.0 { results.len() as f64 / wall_secs } else { 0.0 },
        snapshot_secs,
        median_kernel_instructions: median(results.iter().filter_map(|e| e.timing.kernel_instructions).collect()),
        median_vm_exits: median(results.iter().filter_map(|e| e.timing.vm_exits).collect()),
        outcomes,
        cpu_secs_per_experiment: cpu_secs.filter(|_| !results.is_empty()).map(|s| s / results.len() as f64),
        median_vcpu_cpu_ms: timing.median_vcpu_cpu_ms,
        vcpu_cpu_us_per_kernel_instruction: timing.vcpu_cpu_us_per_kernel_instruction,
    }
}

/// Runs the first `experiments` experiments of `campaign` from a snapshot,
/// then by cold boots, each on `jobs` parallel VMs; `scratch` holds disk
/// copies.
pub fn compare(
    campaign: &Campaign,
    experiments: u32,
    jobs: usize,
    scratch: &Path,
) -> Result<CampaignFigures, CampaignError> {
    let n = experiments.min(campaign.experiments).max(1);
    let indices: Vec<u32> = (0..n).collect();
    let measure = |start: StartFrom| -> Result<ModeFigures, CampaignError> {
        let clock = Instant::now();
        let cpu = process_cpu_secs();
        let mut campaign = campaign.clone();
        let (results, snapshot_secs) =
            crate::campaign::run_indices(&mut campaign, &indices, jobs, scratch, start, &Default::default())?;
        let cpu = cpu.zip(process_cpu_secs()).map(|(before, after)| after - before);
        Ok(mode_figures(start, &results, clock.elapsed().as_secs_f64(), cpu, snapshot_secs))
    };
    let snapshot = measure(StartFrom::Snapshot)?;
    let boot = measure(StartFrom::Boot)?;
    let speedup = if boot.experiments_per_second > 0.0 {
        snapshot.experiments_per_second / boot.experiments_per_second
    } else {
        0.0
    };
    let kernel_instruction_ratio = match (boot.median_kernel_instructions, snapshot.median_kernel_instructions) {
        (Some(b), Some(s)) if s > 0 => Some(b as f64 / s as f64),
        _ => None,
    };
    Ok(CampaignFigures {
        campaign: campaign.name.clone(),
        file: campaign.file.clone(),
        experiments: n,
        jobs,
        snapshot,
        boot,
        speedup,
        kernel_instruction_ratio,
    })
}

/// The figures as a table.
pub fn format(f: &CampaignFigures) -> String {
    let opt = |v: Option<u64>| v.map_or("n/a".to_string(), |v| v.to_string());
    let mut out = format!(
        "\ncampaign {} ({}): first {} experiments, {} parallel VMs, each way in this run\n\
         {:<10} {:>14} {:>10} {:>12} {:>22} {:>16} {:>14} {:>14} {:>12}\n",
        f.campaign,
        f.file,
        f.experiments,
        f.jobs,
        "start",
        "experiments/s",
        "wall s",
        "snapshot s",
        "median kernel insns",
        "median exits",
        "CPU s/exp",
        "vCPU CPU ms",
        "µs/insn"
    );
    let fixed = |v: Option<f64>, digits: usize| v.map_or("n/a".to_string(), |v| format!("{v:.digits$}"));
    for m in [&f.snapshot, &f.boot] {
        out += &format!(
            "{:<10} {:>14.2} {:>10.1} {:>12} {:>22} {:>16} {:>14} {:>14} {:>12}\n",
            m.start,
            m.experiments_per_second,
            m.wall_secs,
            m.snapshot_secs.map_or("-".to_string(), |s| format!("{s:.2}")),
            opt(m.median_kernel_instructions),
            opt(m.median_vm_exits),
            fixed(m.cpu_secs_per_experiment, 3),
            opt(m.median_vcpu_cpu_ms),
            fixed(m.vcpu_cpu_us_per_kernel_instruction, 2)
        );
    }
    out += "(CPU s/exp: host CPU of every viv thread per experiment, snapshot and baseline included; vCPU CPU ms: \
            median host CPU of an experiment's vCPU thread; µs/insn: that CPU over its kernel instructions)\n";
    out += &format!("snapshot vs cold boot: x{:.2} experiments/s", f.speedup);
    if let Some(r) = f.kernel_instruction_ratio {
        out += &format!(", x{r:.2} fewer kernel instructions per experiment");
    }
    let classes = |m: &ModeFigures| m.outcomes.iter().map(|(k, v)| format!("{v} {k}")).collect::<Vec<_>>().join(", ");
    out += &format!("\noutcomes: snapshot {}; boot {}\n", classes(&f.snapshot), classes(&f.boot));
    out
}
