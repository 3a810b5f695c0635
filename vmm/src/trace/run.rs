//! Running a traced guest: `viv count`, `viv trace`, and the tracing
//! figures of `viv bench` (kernel instructions per IPC with tracing on
//! versus off, and exits per million traced messages).
//!
//! Kept apart from the CLI so that `main.rs` only dispatches, and the
//! integration tests call the same functions.

use std::path::Path;
use std::time::Duration;

use serde::Serialize;

use super::analysis::{Analysis, CountReport};
use super::decode::{decode, Decoded};
use super::{export, TraceMode};
use crate::bench::{IPC_IMAGE, IPC_OPS_KEY, IPC_PHASES};
use crate::config::{EntryChoice, RunConfig};
use crate::outcome::RunOutcome;
use crate::Error;

/// Boots `image` with the shell command `command` and tracing on;
/// returns the run and its decoded trace.
pub fn run_traced(
    image: &str,
    command: &str,
    mode: TraceMode,
    timeout: Duration,
) -> Result<(RunOutcome, Decoded), Error> {
    let mut config = RunConfig::for_image(image)?;
    if !command.is_empty() {
        config.append = format!("{}{command}", abi::platform::CMDLINE_COMMAND_SEPARATOR);
    }
    config.timeout = Some(timeout);
    config.trace = Some(mode);
    let outcome = crate::run(&config)?;
    let decoded = decode(outcome.trace.as_ref().map_or(&[][..], |t| &t.raw));
    Ok((outcome, decoded))
}

/// Export formats of `viv trace`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// One JSON object per record.
    Jsonl,
    /// Chrome trace-event JSON for ui.perfetto.dev.
    Perfetto,
    /// Message-sequence chart (SVG) of one system call.
    Msc,
}

impl Format {
    /// Parses a `--format` value.
    pub fn parse(s: &str) -> Option<Format> {
        match s {
            "jsonl" => Some(Format::Jsonl),
            "perfetto" => Some(Format::Perfetto),
            "msc" => Some(Format::Msc),
            _ => None,
        }
    }
}

/// `viv count`: the report text (or JSON) and the guest's exit status.
pub fn count(image: &str, command: &str, json: bool, timeout: Duration) -> Result<(String, i32), Error> {
    let (outcome, decoded) = run_traced(image, command, TraceMode::Lossless, timeout)?;
    let analysis = Analysis::new(&decoded.records, None);
    let report = analysis.count_report();
    let text = if json {
        let mut v = serde_json::to_value(&report).map_err(|e| Error::Host(e.to_string()))?;
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
        t += &failure_note(&outcome);
        t
    };
    Ok((text, outcome.exit_status()))
}

/// Lines saying that the command failed, with the end of the guest's
/// console (where the shell and the utilities print why), or nothing when
/// it succeeded. A failed command makes calls that never happen (a `cat`
/// whose `open` fails never reads), so the table alone would mislead.
pub fn failure_note(outcome: &RunOutcome) -> String {
    let status = outcome.exit_status();
    if status == 0 {
        return String::new();
    }
    let console = outcome.console_text();
    let lines: Vec<&str> = console.lines().filter(|l| !l.trim().is_empty()).collect();
    let mut note = format!("warning: the command exited with status {status}; the guest's console ended with:\n");
    for line in &lines[lines.len().saturating_sub(4)..] {
        note += &format!("  | {line}\n");
    }
    note
}

/// `viv trace`: writes the export to `out`; returns a one-line summary and
/// the guest's exit status.
pub fn trace_to_file(
    image: &str,
    command: &str,
    format: Format,
    cause: Option<u32>,
    out: &Path,
    timeout: Duration,
) -> Result<(String, i32), Error> {
    let (outcome, decoded) = run_traced(image, command, TraceMode::Lossless, timeout)?;
    let analysis = Analysis::new(&decoded.records, None);
    let text = match format {
        Format::Jsonl => export::jsonl(&analysis),
        Format::Perfetto => export::perfetto(&analysis),
        Format::Msc => export::msc_svg(&analysis, cause),
    };
    std::fs::write(out, text).map_err(|e| Error::Host(format!("{}: {e}", out.display())))?;
    let summary = format!(
        "{} records ({} bad, {} missing) written to {}\n{}",
        decoded.records.len(),
        decoded.bad.len(),
        decoded.missing,
        out.display(),
        failure_note(&outcome)
    );
    Ok((summary, outcome.exit_status()))
}

/// `viv bench`'s `trace_overhead` object.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TraceOverhead {
    /// Operations per phase measured.
    pub ops: u64,
    /// Kernel instructions per SENDREC round trip, tracing off.
    pub sendrec_kernel_instructions_off: Option<f64>,
    /// The same with tracing on (lossless ring).
    pub sendrec_kernel_instructions_on: Option<f64>,
    /// on / off (goal ≤ 1.10).
    pub sendrec_ratio: Option<f64>,
    /// Per phase: (name, on / off).
    pub phase_ratios: Vec<(String, Option<f64>)>,
    /// Messages traced in the traced run.
    pub traced_messages: u64,
    /// Doorbell exits of the traced run.
    pub doorbells: u64,
    /// VM exits caused by tracing per million traced messages.
    pub exits_per_million_messages: f64,
}

/// Measures `ipcbench` with tracing off and on.
pub fn trace_overhead(ops: u64, entry: EntryChoice, timeout: Duration) -> Result<TraceOverhead, Error> {
    let run = |trace: Option<TraceMode>| -> Result<RunOutcome, Error> {
        let mut config = RunConfig::for_image(IPC_IMAGE)?;
        config.entry = entry;
        config.append = format!("{IPC_OPS_KEY}={ops}");
        config.timeout = Some(timeout);
        config.trace = trace;
        crate::run(&config)
    };
    let off = crate::bench::ipc_figures(&run(None)?, ops)?;
    let traced = run(Some(TraceMode::Lossless))?;
    let on = crate::bench::ipc_figures(&traced, ops)?;
    let ratio = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(on), Some(off)) if off > 0.0 => Some(on / off),
        _ => None,
    };
    let index = IPC_PHASES.iter().position(|p| p.name == "sendrec").unwrap_or(0);
    let (s_off, s_on) = (off.phases[index].kernel_instructions_per_op, on.phases[index].kernel_instructions_per_op);
    let phase_ratios = off
        .phases
        .iter()
        .zip(&on.phases)
        .map(|(a, b)| (a.name.clone(), ratio(b.kernel_instructions_per_op, a.kernel_instructions_per_op)))
        .collect();
    let log = traced.trace.unwrap_or_default();
    let messages = decode(&log.raw).records.iter().filter(|r| r.kind.is_message()).count() as u64;
    Ok(TraceOverhead {
        ops,
        sendrec_kernel_instructions_off: s_off,
        sendrec_kernel_instructions_on: s_on,
        sendrec_ratio: ratio(s_on, s_off),
        phase_ratios,
        traced_messages: messages,
        doorbells: log.doorbells,
        exits_per_million_messages: if messages == 0 { 0.0 } else { log.doorbells as f64 * 1e6 / messages as f64 },
    })
}

/// The report as printed by `viv count` without `--json`.
pub fn table(report: &CountReport) -> String {
    report.table()
}
