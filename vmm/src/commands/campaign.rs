//! `viv campaign` (run, replay, merge): each returns the text to print and
//! whether every expectation held.

use std::path::{Path, PathBuf};

use super::CommandError;
use crate::campaign::{self, Shard};

/// Runs the campaign in `file`, writing reports into `out`.
pub fn run(file: &Path, out: &Path, jobs: Option<usize>, shard: Option<Shard>) -> Result<(String, bool), CommandError> {
    let results = campaign::run_campaign(file, out, jobs, shard)?;
    Ok((campaign::summary_line(&results, out), results.passed()))
}

/// Reruns one experiment of a results file with a lossless trace.
pub fn replay(
    results: &Path,
    experiment: u32,
    out: Option<&Path>,
    profile: Option<&Path>,
) -> Result<(String, bool), CommandError> {
    Ok(campaign::replay(results, experiment, out, profile)?)
}

/// Joins shard results into the report of one whole run in `out`.
pub fn merge(inputs: &[PathBuf], out: &Path) -> Result<(String, bool), CommandError> {
    let results = campaign::merge_into(inputs, out)?;
    Ok((campaign::summary_line(&results, out), results.passed()))
}
