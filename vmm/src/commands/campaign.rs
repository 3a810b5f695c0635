//! `viv campaign` (run, replay, merge): each returns the text to print and
//! whether every expectation held.

use std::path::{Path, PathBuf};

use super::CommandError;
use crate::campaign::{self, Shard};

/// Runs the campaign in `file`, writing reports into `out` (with `resume`,
/// only the experiments its journal lacks).
pub fn run(
    file: &Path,
    out: &Path,
    jobs: Option<usize>,
    shard: Option<Shard>,
    resume: bool,
    quiet: bool,
) -> Result<(String, bool), CommandError> {
    super::output::directory(out, "--out")?;
    let run = campaign::run_campaign(file, out, jobs, shard, resume, quiet)?;
    if let (Some(s), true) = (shard, run.results.experiments.is_empty() && run.missing == 0) {
        // More shards than experiments (a fixed CI matrix over a small
        // campaign): nothing to do is a success, and merge accepts it.
        let line = format!(
            "campaign {}: shard {}/{} is empty (the campaign has {} experiments); nothing to run; reports in {}",
            run.results.campaign.name,
            s.index,
            s.count,
            run.results.campaign.experiments,
            out.display()
        );
        return Ok((line, true));
    }
    let mut line = campaign::summary_line(&run.results, out);
    if run.missing > 0 {
        let shard = shard.map(|s| format!(" --shard {}/{}", s.index, s.count)).unwrap_or_default();
        line += &format!(
            "\ninterrupted: {} experiment(s) not run; resume with: viv campaign {}{shard} --resume {}",
            run.missing,
            file.display(),
            out.display()
        );
        return Ok((line, false));
    }
    Ok((line, run.results.passed()))
}

/// Reruns one experiment of a results file with a lossless trace.
pub fn replay(
    results: &Path,
    experiment: u32,
    out: Option<&Path>,
    profile: Option<&Path>,
    gdb: Option<crate::debug::GdbConfig>,
) -> Result<(String, bool), CommandError> {
    Ok(campaign::replay(results, experiment, out, profile, gdb)?)
}

/// Joins shard results into the report of one whole run in `out`.
pub fn merge(inputs: &[PathBuf], out: &Path) -> Result<(String, bool), CommandError> {
    super::output::directory(out, "--out")?;
    let results = campaign::merge_into(inputs, out)?;
    Ok((campaign::summary_line(&results, out), results.passed()))
}
