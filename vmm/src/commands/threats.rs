//! `viv threats`: the rows, then the fuzzer; the report text (table or
//! JSON) and whether every check passed.

use super::CommandError;
use crate::threats::{self, fuzz, report::Report, Options};

/// Runs the rows whose name contains `only` (all without it) and the
/// fuzzer (unless `only` excludes it).
pub fn run(only: Option<String>, seed: u64, jobs: Option<usize>, json: bool) -> Result<(String, bool), CommandError> {
    let options = Options { only, seed, jobs: jobs.unwrap_or_else(crate::campaign::run::default_jobs) };
    let rows = threats::run_all(&options);
    let fuzz = if options.only.as_deref().is_none_or(|o| "ipc-fuzzer".contains(o)) {
        let result = fuzz::run(options.seed)?;
        eprintln!("viv threats: {} ipc-fuzzer", if result.ok { "pass" } else { "FAIL" });
        Some(result)
    } else {
        None
    };
    if rows.is_empty() && fuzz.is_none() {
        return Err(CommandError::Usage(format!("threats: no row matches {:?}", options.only.unwrap_or_default())));
    }
    let report = Report::new(&rows, fuzz.as_ref(), options.seed);
    let text = if json { format!("{}\n", report.json()) } else { report.table() };
    Ok((text, report.failed == 0))
}
