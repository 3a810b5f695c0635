//! `viv trace`: run one shell command with a lossless IPC trace and write
//! it as JSON lines, Perfetto JSON or a message-sequence chart; and the
//! traced run `viv count` shares.
//!
//! Kept apart from the CLI so that `main.rs` only dispatches, and the
//! integration tests call the same functions.

use std::path::Path;
use std::time::Duration;

use super::vm::VmOptions;
use super::CommandError;
use crate::observe::analysis::Analysis;
use crate::observe::decode::{decode, Decoded};
use crate::observe::perfetto::{perfetto, Clock};
use crate::observe::{export, TraceMode};
use crate::vstate::outcome::RunOutcome;
use crate::Error;

/// Boots `vm` with the shell command `command` and tracing on; returns
/// the run and its decoded trace.
pub fn run_traced(vm: &VmOptions, command: &str, mode: TraceMode) -> Result<(RunOutcome, Decoded), Error> {
    let mut config = vm.config(command)?;
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

/// Lines saying that the command failed or the run did not end by a
/// power-off (a timeout is called one), with the end of the guest's
/// console (where the shell and the utilities print why), or nothing when
/// it succeeded. A failed command makes calls that never happen (a `cat`
/// whose `open` fails never reads), so the table alone would mislead.
pub fn failure_note(outcome: &RunOutcome, timeout: Option<Duration>) -> String {
    let status = outcome.exit_status();
    let ending = super::run::end_message(outcome, timeout);
    if status == 0 && ending.is_none() {
        return String::new();
    }
    let console = outcome.console_text();
    let lines: Vec<&str> = console.lines().filter(|l| !l.trim().is_empty()).collect();
    let mut note = match ending {
        Some(why) => format!("warning: {why}; the guest's console ended with:\n"),
        None => format!("warning: the command exited with status {status}; the guest's console ended with:\n"),
    };
    for line in &lines[lines.len().saturating_sub(4)..] {
        note += &format!("  | {line}\n");
    }
    note
}

/// What `viv trace` writes.
#[derive(Debug, Clone)]
pub struct TraceRequest<'a> {
    /// The export format.
    pub format: Format,
    /// For [`Format::Msc`]: the cause id to draw (default [`user_cause`]).
    pub cause: Option<u32>,
    /// For [`Format::Perfetto`]: time by TSC or by sequence number.
    pub clock: Clock,
    /// Where (`-`: stdout); `None` with `list_causes` only.
    pub out: Option<&'a Path>,
    /// Print the system calls of the trace with their cause ids.
    pub list_causes: bool,
}

/// The cause `viv trace --format msc` draws by default: the first system
/// call of the user's command, that is of a process neither init nor the
/// shell (whose first calls are init's exec of the shell and the shell's
/// fork); the command's first call when there is none (a shell builtin).
pub fn user_cause(analysis: &Analysis) -> Option<u32> {
    let mut calls = analysis.command_calls();
    let first = calls.next()?;
    let own = std::iter::once(first).chain(calls).find(|c| c.caller != "init" && c.caller != "sh").unwrap_or(first);
    Some(own.cause)
}

/// The table `--list-causes` prints: every system call of the trace with
/// its cause id, caller and messages, those of the command marked.
pub fn cause_list(analysis: &Analysis) -> String {
    let command: std::collections::BTreeSet<u32> = analysis.command_calls().map(|c| c.cause).collect();
    let default = user_cause(analysis);
    let mut text = format!("{:>8}  {:<8} {:<14} {:<22} {:>8}\n", "cause", "when", "caller", "call", "messages");
    for call in analysis.calls.values() {
        let when = if command.contains(&call.cause) { "command" } else { "boot" };
        let mark = if Some(call.cause) == default { "  (msc default)" } else { "" };
        text += &format!(
            "{:>8}  {:<8} {:<14} {:<22} {:>8}{mark}\n",
            call.cause, when, call.caller, call.name, call.messages
        );
    }
    text
}

/// Checks what `req` asks of the trace before the guest runs.
fn check_request(req: &TraceRequest) -> Result<(), CommandError> {
    if req.cause.is_some() && req.format != Format::Msc {
        return Err(CommandError::Usage(
            "trace: --cause picks the system call a chart draws; use it with --format msc".into(),
        ));
    }
    if req.out.is_none() && !req.list_causes {
        return Err(CommandError::Usage("trace: name a file with --out FILE (or - for stdout)".into()));
    }
    Ok(())
}

/// `viv trace`: writes the export to `req.out`; returns what to print on
/// stdout (the cause list), a one-line summary for stderr and the guest's
/// exit status.
pub fn trace(vm: &VmOptions, command: &str, req: &TraceRequest) -> Result<(String, String, i32), CommandError> {
    check_request(req)?;
    let (outcome, decoded) = run_traced(vm, command, TraceMode::Lossless)?;
    let log = outcome.trace.clone().unwrap_or_default();
    let analysis = Analysis::with_processes(&decoded.records, None, &log.processes);
    let listing = if req.list_causes { cause_list(&analysis) } else { String::new() };
    let mut summary =
        format!("{} records ({} bad, {} missing)", decoded.records.len(), decoded.bad.len(), decoded.missing);
    if let Some(out) = req.out {
        let text = match req.format {
            Format::Jsonl => export::jsonl(&analysis),
            Format::Perfetto => perfetto(&analysis, req.clock, log.tsc_khz),
            Format::Msc => {
                let cause = match req.cause {
                    Some(id) if !analysis.calls.contains_key(&id) => {
                        return Err(CommandError::Usage(format!(
                            "trace: no system call has cause id {id} in this trace (--list-causes lists them)"
                        )))
                    }
                    Some(id) => Some(id),
                    None => user_cause(&analysis),
                };
                export::msc_svg(&analysis, cause)
            }
        };
        super::output::write(out, text.as_bytes())?;
        summary += &format!(" written to {}", super::output::describe(out));
    }
    summary += "\n";
    if req.format == Format::Perfetto && req.clock == Clock::Tsc && log.tsc_khz.is_none() && req.out.is_some() {
        summary += "warning: KVM did not give the TSC frequency; the Perfetto file uses the sequence clock\n";
    }
    summary += &failure_note(&outcome, vm.timeout);
    Ok((listing, summary, outcome.exit_status()))
}
