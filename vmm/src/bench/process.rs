//! The process figure of `viv bench`: what one more `true` from the disk
//! costs the shell: its fork, the child's exec of `/bin/true` (PM reads
//! the file through VFS and ext2fs), the program's exit, PM's reap and the
//! shell's wait.
//!
//! Why a difference of two runs: a shell command line cannot be bracketed
//! by marks from inside, and each run also pays fixed costs (the shell's
//! start, init's sync and power-off). So the `system` image runs `true`
//! N times (`true; true; …`) and 2N times, each counted from
//! `MARK_COMMAND_START` to power-off, and (2N-run − N-run) / N is one
//! more `true`. Both runs are in experiment mode (virtual time): ticks,
//! alarms and heartbeats then follow guest work instead of host speed, so
//! a repeated run gives the same counts and the difference is exact.
//! Messages come from two more runs with a lossless IPC trace (tracing
//! costs kernel instructions, so those runs give no instruction counts):
//! the message records after the mark, all of them and those caused by a
//! system call (not by timers or heartbeats).

use super::BenchError;
use crate::observe::analysis::Analysis;
use crate::observe::decode::decode;
use crate::observe::TraceMode;
use crate::vstate::config::{EntryChoice, RunConfig};
use crate::vstate::outcome::RunOutcome;
use abi::platform::{CMDLINE_COMMAND_SEPARATOR, MARK_COMMAND_START};
use serde::Serialize;

/// The image the figure comes from.
pub const PROCESS_IMAGE: &str = "system";
/// The program run from the disk.
pub const PROCESS_PROGRAM: &str = "true";
/// `true`s in the smaller run (the larger runs twice as many).
pub const DEFAULT_PROCESSES: u64 = 10;

/// Fork + exec + exit of one `true`, from the difference of two runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProcessFigures {
    /// The image ([`PROCESS_IMAGE`]).
    pub image: String,
    /// The program ([`PROCESS_PROGRAM`]).
    pub program: String,
    /// `true`s in the smaller run; the larger ran twice as many.
    pub n: u64,
    /// Kernel instructions (`insn_emulation`) per `true`.
    pub kernel_instructions: Option<f64>,
    /// VM exits per `true`.
    pub exits: Option<f64>,
    /// Messages (delivered messages and kernel calls) per `true`.
    pub messages: f64,
    /// Of those, messages caused by a system call.
    pub attributed_messages: f64,
}

/// The shell command line of `n` `true`s.
pub fn process_command(n: u64) -> String {
    vec![PROCESS_PROGRAM; n as usize].join("; ")
}

/// Kernel instructions and exits from the command-start mark to the end
/// of a run.
fn command_counts(outcome: &RunOutcome) -> Result<(Option<u64>, Option<u64>), BenchError> {
    let start = outcome
        .mark(MARK_COMMAND_START)
        .ok_or(BenchError::MissingMark { image: PROCESS_IMAGE.to_string(), id: MARK_COMMAND_START })?;
    let delta = |name: &str| outcome.final_stats.delta(&start.stats, name);
    Ok((delta("insn_emulation"), delta("exits")))
}

/// Message records after the command-start mark of a traced run: all of
/// them, and those a system call caused.
fn command_messages(outcome: &RunOutcome) -> (u64, u64) {
    let decoded = decode(outcome.trace.as_ref().map_or(&[][..], |t| &t.raw));
    let analysis = Analysis::new(&decoded.records, None);
    let report = analysis.count_report();
    let attributed = analysis.command_calls().map(|c| c.messages).sum();
    (report.command_messages, attributed)
}

/// The figures from the runs of `n` and `2n` `true`s: untraced (`small`,
/// `large`) and traced (`small_traced`, `large_traced`).
pub fn process_figures(
    n: u64,
    small: &RunOutcome,
    large: &RunOutcome,
    small_traced: &RunOutcome,
    large_traced: &RunOutcome,
) -> Result<ProcessFigures, BenchError> {
    let n = n.max(1);
    let (small_insn, small_exits) = command_counts(small)?;
    let (large_insn, large_exits) = command_counts(large)?;
    let per = |s: Option<u64>, l: Option<u64>| Some((l? as f64 - s? as f64) / n as f64);
    let (small_msgs, small_attr) = command_messages(small_traced);
    let (large_msgs, large_attr) = command_messages(large_traced);
    Ok(ProcessFigures {
        image: PROCESS_IMAGE.to_string(),
        program: PROCESS_PROGRAM.to_string(),
        n,
        kernel_instructions: per(small_insn, large_insn),
        exits: per(small_exits, large_exits),
        messages: (large_msgs as f64 - small_msgs as f64) / n as f64,
        attributed_messages: (large_attr as f64 - small_attr as f64) / n as f64,
    })
}

/// One run of `count` `true`s in experiment mode, traced or not.
fn run_trues(count: u64, entry: EntryChoice, traced: bool) -> Result<RunOutcome, BenchError> {
    let mut config = RunConfig::for_image(PROCESS_IMAGE)?;
    config.entry = entry;
    config.append = format!("{CMDLINE_COMMAND_SEPARATOR}{}", process_command(count));
    config.timeout = Some(super::RUN_TIMEOUT);
    config.capture_console = true;
    config.deterministic = true;
    if traced {
        config.trace = Some(TraceMode::Lossless);
    }
    let outcome = crate::run(&config)?;
    super::expect_clean(PROCESS_IMAGE, &outcome)?;
    Ok(outcome)
}

/// Measures fork + exec + exit of `true` with `n` and `2n` of them.
pub fn measure(n: u64, entry: EntryChoice) -> Result<ProcessFigures, BenchError> {
    let n = n.max(1);
    let small = run_trues(n, entry, false)?;
    let large = run_trues(2 * n, entry, false)?;
    let small_traced = run_trues(n, entry, true)?;
    let large_traced = run_trues(2 * n, entry, true)?;
    process_figures(n, &small, &large, &small_traced, &large_traced)
}

/// The figures as a table row.
pub fn format_process(p: &ProcessFigures) -> String {
    let opt = |v: Option<f64>| v.map_or_else(|| "n/a".into(), |v| format!("{v:.0}"));
    format!(
        "\nprocesses (image {}, experiment mode: {} vs {} `{}`s from the disk, the difference per `{}`)\n  \
         {:<30}{:>22}{:>12}{:>12}{:>22}\n  {:<30}{:>22}{:>12}{:>12.1}{:>22.1}\n",
        p.image,
        p.n,
        2 * p.n,
        p.program,
        p.program,
        "",
        "kernel instructions",
        "VM exits",
        "messages",
        "caused by a call",
        format!("fork + exec + exit of {}", p.program),
        opt(p.kernel_instructions),
        opt(p.exits),
        p.messages,
        p.attributed_messages,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vstate::outcome::Mark;
    use crate::vstate::stats::StatsSnapshot;

    fn snap(insn: u64, exits: u64) -> StatsSnapshot {
        let mut s = StatsSnapshot::default();
        s.values.insert("insn_emulation".into(), insn);
        s.values.insert("exits".into(), exits);
        s
    }

    fn run(mark: (u64, u64), end: (u64, u64)) -> RunOutcome {
        RunOutcome {
            marks: vec![Mark { id: MARK_COMMAND_START, time_ns: 1, stats: snap(mark.0, mark.1), console_bytes: 0 }],
            final_stats: snap(end.0, end.1),
            ..RunOutcome::empty_for_tests()
        }
    }

    #[test]
    fn one_more_true_is_the_difference_of_the_runs_over_n() {
        // Boot costs differ (before the mark) and cancel; fixed costs after
        // the mark (1,000 instructions, 10 exits) cancel in the difference.
        let small = run((5_000, 50), (5_000 + 1_000 + 4 * 300, 50 + 10 + 4 * 7));
        let large = run((6_000, 60), (6_000 + 1_000 + 8 * 300, 60 + 10 + 8 * 7));
        let untraced = RunOutcome::empty_for_tests();
        let f = process_figures(4, &small, &large, &untraced, &untraced).unwrap();
        assert_eq!(f.kernel_instructions, Some(300.0));
        assert_eq!(f.exits, Some(7.0));
        assert_eq!((f.messages, f.attributed_messages), (0.0, 0.0));
        let row = format_process(&f);
        assert!(row.contains("fork + exec + exit of true") && row.contains("300"), "{row}");
        assert_eq!(process_command(3), "true; true; true");
    }

    #[test]
    fn a_run_without_the_command_mark_is_an_error() {
        let small = RunOutcome::empty_for_tests();
        let large = run((1, 1), (2, 2));
        assert!(process_figures(1, &small, &large, &small, &small).is_err());
    }
}
