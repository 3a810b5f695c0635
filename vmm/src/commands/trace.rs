//! `viv trace`: run one shell command with a lossless IPC trace and write
//! it as JSON lines, Perfetto JSON or a message-sequence chart; and the
//! traced run `viv count` shares.
//!
//! Kept apart from the CLI so that `main.rs` only dispatches, and the
//! integration tests call the same functions.

use std::path::Path;
use std::time::Duration;

use super::CommandError;
use crate::observe::analysis::Analysis;
use crate::observe::decode::{decode, Decoded};
use crate::observe::perfetto::{perfetto, Clock};
use crate::observe::{export, TraceMode};
use crate::vstate::config::RunConfig;
use crate::vstate::outcome::RunOutcome;
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
    clock: Clock,
    out: &Path,
    timeout: Duration,
) -> Result<(String, i32), CommandError> {
    let (outcome, decoded) = run_traced(image, command, TraceMode::Lossless, timeout)?;
    let log = outcome.trace.clone().unwrap_or_default();
    let analysis = Analysis::with_processes(&decoded.records, None, &log.processes);
    let text = match format {
        Format::Jsonl => export::jsonl(&analysis),
        Format::Perfetto => perfetto(&analysis, clock, log.tsc_khz),
        Format::Msc => export::msc_svg(&analysis, cause),
    };
    let clock_note = if format == Format::Perfetto && clock == Clock::Tsc && log.tsc_khz.is_none() {
        "warning: KVM did not give the TSC frequency; the Perfetto file uses the sequence clock\n"
    } else {
        ""
    };
    std::fs::write(out, text).map_err(|source| CommandError::File {
        what: "cannot write",
        path: out.into(),
        source,
    })?;
    let summary = format!(
        "{} records ({} bad, {} missing) written to {}\n{clock_note}{}",
        decoded.records.len(),
        decoded.bad.len(),
        decoded.missing,
        out.display(),
        failure_note(&outcome)
    );
    Ok((summary, outcome.exit_status()))
}
