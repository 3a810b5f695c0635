//! `viv count`: run one shell command with a lossless trace and count, per
//! system call, the calls and the messages each took.

use super::trace::{failure_note, run_traced};
use super::vm::VmOptions;
use super::CommandError;
use crate::observe::analysis::Analysis;
use crate::observe::TraceMode;

/// `viv count`: the report text (or JSON) and the guest's exit status.
pub fn count(vm: &VmOptions, command: &str, json: bool) -> Result<(String, i32), CommandError> {
    let (outcome, decoded) = run_traced(vm, command, TraceMode::Lossless)?;
    let processes = outcome.trace.as_ref().map(|t| t.processes.as_slice()).unwrap_or_default();
    let analysis = Analysis::with_processes(&decoded.records, None, processes);
    let report = analysis.count_report();
    let text = if json {
        let mut v = serde_json::to_value(&report)?;
        v["bad_records"] = decoded.bad.len().into();
        v["missing_records"] = decoded.missing.into();
        v["dropped_records"] = outcome.trace.as_ref().map_or(0, |t| t.dropped).into();
        v["exit_status"] = outcome.exit_status().into();
        format!("{v}\n")
    } else {
        let mut t = report.table();
        if !decoded.bad.is_empty() || decoded.missing != 0 {
            t += &format!("warning: {} bad records, {} missing\n", decoded.bad.len(), decoded.missing);
        }
        t += &failure_note(&outcome, vm.timeout);
        t
    };
    Ok((text, outcome.exit_status()))
}
