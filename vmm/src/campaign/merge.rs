//! Joining shard results into the report of one whole run.
//!
//! A CI matrix or a Kubernetes Indexed Job runs `--shard K/N` in separate
//! jobs; each writes its own `results.json`. Because each experiment's
//! plan depends only on (seed, index), the shards' experiments are exactly
//! those of an unsharded run, and merging is a union: the campaigns must
//! be identical, no experiment may appear twice, and every experiment of
//! the campaign must be present (a lost shard must fail CI, not shrink the
//! campaign silently).

use std::path::{Path, PathBuf};

use super::file::Campaign;
use super::report::{Results, Timing};
use super::CampaignError;

/// The first field in which two shards' campaigns differ (`None`: the
/// same campaign). The campaign file's path is left out: shards read the
/// same file by different paths (a relative one here, an absolute one in
/// another job), and every setting it holds is compared field by field.
/// The disk image's directory may differ too (shards on machines with
/// different checkout paths); its name may not.
pub(crate) fn campaign_difference(a: &Campaign, b: &Campaign) -> Option<String> {
    // An empty shard ran no baseline; the shards that ran measured the same.
    let no_baseline = a.baseline_ticks.is_none() || b.baseline_ticks.is_none();
    let comparable = |c: &Campaign| {
        let mut c = c.clone();
        c.file = String::new();
        if no_baseline {
            c.baseline_ticks = None;
            c.baseline_kernel_instructions = None;
        }
        c.disk = c.disk.as_ref().map(|d| d.file_name().map(PathBuf::from).unwrap_or_default());
        serde_json::to_value(c).unwrap_or_default()
    };
    first_difference(&comparable(a), &comparable(b), "campaign")
}

/// The path of the first value that differs between `a` and `b`, with
/// both values.
fn first_difference(a: &serde_json::Value, b: &serde_json::Value, at: &str) -> Option<String> {
    use serde_json::Value;
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            keys.into_iter().find_map(|k| {
                let none = Value::Null;
                first_difference(x.get(k).unwrap_or(&none), y.get(k).unwrap_or(&none), &format!("{at}.{k}"))
            })
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            x.iter().zip(y).enumerate().find_map(|(i, (p, q))| first_difference(p, q, &format!("{at}[{i}]")))
        }
        _ if a == b => None,
        _ => Some(format!("{at} differs: {a} here, {b} in the first")),
    }
}

/// Merges the `results.json` of each directory (or file) in `inputs`.
pub fn merge(inputs: &[PathBuf]) -> Result<Results, CampaignError> {
    let Some(first) = inputs.first() else {
        return Err(CampaignError::Results("merge: name at least one results directory".into()));
    };
    let path_of = |p: &Path| if p.is_dir() { p.join("results.json") } else { p.to_path_buf() };
    let mut all = Vec::new();
    let mut wall_secs: f64 = 0.0;
    let mut jobs = 0;
    let mut snapshot_secs: Option<f64> = None;
    let mut inputs_cpu = Some(0.0);
    let mut baseline_ticks = None;
    let mut baseline_kernel_instructions = None;
    let base = Results::load(&path_of(first))?;
    for input in inputs {
        let path = path_of(input);
        let results = if input == first { base.clone() } else { Results::load(&path)? };
        if let Some(difference) = campaign_difference(&results.campaign, &base.campaign) {
            return Err(CampaignError::Results(format!(
                "{}: a different campaign than {} ({difference})",
                path.display(),
                path_of(first).display()
            )));
        }
        baseline_ticks = baseline_ticks.or(results.campaign.baseline_ticks);
        baseline_kernel_instructions = baseline_kernel_instructions.or(results.campaign.baseline_kernel_instructions);
        wall_secs = wall_secs.max(results.timing.wall_secs);
        jobs += results.timing.jobs;
        inputs_cpu = inputs_cpu.zip(results.timing.process_cpu_secs).map(|(sum, secs)| sum + secs);
        if let Some(secs) = results.timing.snapshot_secs {
            snapshot_secs = Some(snapshot_secs.map_or(secs, |s: f64| s.max(secs)));
        }
        all.extend(results.experiments);
    }
    all.sort_by_key(|e| e.index);
    if let Some(pair) = all.windows(2).find(|w| w[0].index == w[1].index) {
        return Err(CampaignError::Results(format!("experiment {} appears in more than one input", pair[0].index)));
    }
    let missing: Vec<u32> = {
        let mut have = all.iter().map(|e| e.index).peekable();
        (0..base.campaign.experiments).filter(|i| have.next_if_eq(i).is_none()).collect()
    };
    if let Some(extra) = all.iter().find(|e| e.index >= base.campaign.experiments) {
        return Err(CampaignError::Results(format!(
            "experiment {} is beyond the campaign's {}",
            extra.index, base.campaign.experiments
        )));
    }
    if !missing.is_empty() {
        let list: Vec<String> = missing.iter().take(10).map(u32::to_string).collect();
        let more = if missing.len() > 10 { format!(" and {} more", missing.len() - 10) } else { String::new() };
        return Err(CampaignError::Results(format!(
            "{} of {} experiments are missing (a shard did not finish?): {}{more}",
            missing.len(),
            base.campaign.experiments,
            list.join(", ")
        )));
    }
    let mut timing = Timing::of(&all, wall_secs, jobs, snapshot_secs);
    // Shards ran side by side: throughput is the whole over the slowest.
    timing.experiments_per_second = if wall_secs > 0.0 { all.len() as f64 / wall_secs } else { 0.0 };
    // CPU is spent by every shard: the sum, if every shard measured it.
    timing.process_cpu_secs = inputs_cpu;
    let mut campaign = base.campaign;
    campaign.baseline_ticks = baseline_ticks;
    campaign.baseline_kernel_instructions = baseline_kernel_instructions;
    Ok(Results::new(campaign, None, all, timing))
}
