//! `viv campaign` (run, replay, merge): each returns the text to print and
//! whether every expectation held.

use std::path::{Path, PathBuf};

use crate::campaign::{self, Shard};
use crate::Error;

/// Runs the campaign in `file`, writing reports into `out`.
pub fn run(file: &Path, out: &Path, jobs: Option<usize>, shard: Option<Shard>) -> Result<(String, bool), Error> {
    let results = campaign::run_campaign(file, out, jobs, shard).map_err(Error::Host)?;
    Ok((campaign::summary_line(&results, out), results.passed()))
}

/// Reruns one experiment of a results file with a lossless trace.
pub fn replay(results: &Path, experiment: u32, out: Option<&Path>) -> Result<(String, bool), Error> {
    campaign::replay(results, experiment, out).map_err(Error::Host)
}

/// Joins shard results into the report of one whole run in `out`.
pub fn merge(inputs: &[PathBuf], out: &Path) -> Result<(String, bool), Error> {
    let results = campaign::merge_into(inputs, out).map_err(Error::Host)?;
    Ok((campaign::summary_line(&results, out), results.passed()))
}
