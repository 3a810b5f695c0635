//! `viv bench`: boot time and the IPC round trip, with exact counts.
//!
//! Why counts and not only time: on software KVM every kernel instruction
//! costs ≈ 0.6 µs and KVM counts them exactly (`insn_emulation`), and every
//! VM exit costs ≈ 10 µs (`exits`), so "kernel instructions per round trip"
//! and "exits per round trip" are repeatable figures that compare across
//! runs and hosts, where wall time is not. Every figure is reported with
//! the host kind and the entry kind it was measured with.
//!
//! Boot: image `hello`, several runs, median time from VMM start to mark
//! `MARK_FIRST_USER` (the kernel's first return to user mode) and to
//! power-off. Pingpong: image `pingpong` with `pingpong.rounds=N`; the
//! client writes `MARK_BENCH_START` before its loop and `MARK_BENCH_END`
//! after it, and the deltas between those marks are divided by N.

use std::time::Duration;

use abi::platform::{MARK_BENCH_END, MARK_BENCH_START, MARK_FIRST_USER};
use serde::Serialize;

use crate::config::{entry_word, EntryChoice, HostKind, RunConfig};
use crate::outcome::{Exit, RunOutcome};

use crate::Error;

/// Image measured for boot time.
pub const BOOT_IMAGE: &str = "hello";
/// Image measured for the IPC round trip.
pub const PINGPONG_IMAGE: &str = "pingpong";
/// Command-line key for the number of pingpong rounds.
pub const PINGPONG_ROUNDS_KEY: &str = "pingpong.rounds";
/// Default number of pingpong rounds.
pub const DEFAULT_ROUNDS: u64 = 10_000;
/// Default number of boots measured.
pub const DEFAULT_BOOT_RUNS: usize = 5;
/// Per-run time limit.
pub const RUN_TIMEOUT: Duration = Duration::from_secs(120);

/// Boot figures (medians over the runs).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct BootFigures {
    /// Number of boots.
    pub runs: usize,
    /// VMM start to the first user instruction, ns.
    pub first_user_ns: u64,
    /// VMM start to power-off, ns.
    pub poweroff_ns: u64,
    /// Kernel instructions (`insn_emulation`) to the first user instruction.
    pub first_user_kernel_instructions: Option<u64>,
    /// VM exits to the first user instruction.
    pub first_user_exits: Option<u64>,
    /// Kernel instructions to power-off.
    pub poweroff_kernel_instructions: Option<u64>,
    /// VM exits to power-off.
    pub poweroff_exits: Option<u64>,
}

/// Pingpong figures, per round trip.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PingpongFigures {
    /// Round trips measured.
    pub rounds: u64,
    /// Wall time per round trip, ns.
    pub ns_per_round_trip: f64,
    /// Kernel instructions per round trip.
    pub kernel_instructions_per_round_trip: Option<f64>,
    /// VM exits per round trip.
    pub exits_per_round_trip: Option<f64>,
}

/// Everything `viv bench` reports.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct BenchReport {
    /// "hardware KVM" or "software KVM (kvm_pvm)".
    pub host: String,
    /// "syscall" or "trap".
    pub entry: String,
    /// Boot figures.
    pub boot: BootFigures,
    /// Round-trip figures.
    pub pingpong: PingpongFigures,
}

/// The median of `values` (the lower middle one for an even count).
pub fn median(mut values: Vec<u64>) -> Option<u64> {
    values.sort_unstable();
    values.get(values.len().saturating_sub(1) / 2).copied()
}

fn median_opt(values: Vec<Option<u64>>) -> Option<u64> {
    let known: Option<Vec<u64>> = values.into_iter().collect();
    median(known?)
}

/// Checks that a bench run powered off cleanly.
fn expect_clean(image: &str, outcome: &RunOutcome) -> Result<(), Error> {
    if outcome.exit != Exit::PowerOff(0) {
        return Err(Error::Host(format!(
            "bench: image {image} ended with {:?} (exit status {}) instead of powering off with 0",
            outcome.exit,
            outcome.exit_status()
        )));
    }
    Ok(())
}

fn run_image(image: &str, entry: EntryChoice, append: String) -> Result<RunOutcome, Error> {
    let mut config = RunConfig::for_image(image)?;
    config.entry = entry;
    config.append = append;
    config.timeout = Some(RUN_TIMEOUT);
    config.capture_console = true;
    let outcome = crate::run(&config)?;
    expect_clean(image, &outcome)?;
    Ok(outcome)
}

fn missing_mark(image: &str, id: u32) -> Error {
    Error::Host(format!("bench: image {image} never wrote bench mark {id}"))
}

/// Boot figures from finished `hello` runs.
pub fn boot_figures(outcomes: &[RunOutcome]) -> Result<BootFigures, Error> {
    let mut first = Vec::new();
    for o in outcomes {
        first.push(o.mark(MARK_FIRST_USER).ok_or_else(|| missing_mark(BOOT_IMAGE, MARK_FIRST_USER))?);
    }
    Ok(BootFigures {
        runs: outcomes.len(),
        first_user_ns: median(first.iter().map(|m| m.time_ns).collect()).unwrap_or(0),
        poweroff_ns: median(outcomes.iter().map(|o| o.wall_time.as_nanos() as u64).collect()).unwrap_or(0),
        first_user_kernel_instructions: median_opt(first.iter().map(|m| m.stats.insn_emulation()).collect()),
        first_user_exits: median_opt(first.iter().map(|m| m.stats.exits()).collect()),
        poweroff_kernel_instructions: median_opt(outcomes.iter().map(|o| o.final_stats.insn_emulation()).collect()),
        poweroff_exits: median_opt(outcomes.iter().map(|o| o.final_stats.exits()).collect()),
    })
}

/// Round-trip figures from a finished `pingpong` run of `rounds` rounds.
pub fn pingpong_figures(outcome: &RunOutcome, rounds: u64) -> Result<PingpongFigures, Error> {
    let start = outcome.mark(MARK_BENCH_START).ok_or_else(|| missing_mark(PINGPONG_IMAGE, MARK_BENCH_START))?;
    let end = outcome.mark(MARK_BENCH_END).ok_or_else(|| missing_mark(PINGPONG_IMAGE, MARK_BENCH_END))?;
    let n = rounds.max(1) as f64;
    let per = |name: &str| end.stats.delta(&start.stats, name).map(|d| d as f64 / n);
    Ok(PingpongFigures {
        rounds,
        ns_per_round_trip: end.time_ns.saturating_sub(start.time_ns) as f64 / n,
        kernel_instructions_per_round_trip: per("insn_emulation"),
        exits_per_round_trip: per("exits"),
    })
}

/// Runs the whole benchmark.
pub fn run_bench(rounds: u64, boot_runs: usize, entry: EntryChoice) -> Result<BenchReport, Error> {
    let host = HostKind::detect();
    let mut boots = Vec::new();
    for _ in 0..boot_runs.max(1) {
        boots.push(run_image(BOOT_IMAGE, entry, String::new())?);
    }
    let boot = boot_figures(&boots)?;
    let pingpong_run = run_image(PINGPONG_IMAGE, entry, format!("{PINGPONG_ROUNDS_KEY}={rounds}"))?;
    let pingpong = pingpong_figures(&pingpong_run, rounds)?;
    Ok(BenchReport {
        host: host.describe().to_string(),
        entry: entry_word(entry.resolve(host)).to_string(),
        boot,
        pingpong,
    })
}

fn opt(v: Option<u64>) -> String {
    v.map_or_else(|| "n/a".into(), |v| v.to_string())
}

fn opt_f(v: Option<f64>) -> String {
    v.map_or_else(|| "n/a".into(), |v| format!("{v:.1}"))
}

/// The report as a table.
pub fn format_table(r: &BenchReport) -> String {
    let b = &r.boot;
    let p = &r.pingpong;
    let ms = |ns: u64| format!("{:.3} ms", ns as f64 / 1e6);
    let mut out = String::new();
    out.push_str(&format!("host: {}, system-call entry: {}\n\n", r.host, r.entry));
    out.push_str(&format!("boot (image {BOOT_IMAGE}, median of {} runs)\n", b.runs));
    out.push_str(&format!("  {:<28}{:>14}{:>22}{:>12}\n", "", "time", "kernel instructions", "VM exits"));
    out.push_str(&format!(
        "  {:<28}{:>14}{:>22}{:>12}\n",
        "to first user instruction",
        ms(b.first_user_ns),
        opt(b.first_user_kernel_instructions),
        opt(b.first_user_exits)
    ));
    out.push_str(&format!(
        "  {:<28}{:>14}{:>22}{:>12}\n\n",
        "to power-off",
        ms(b.poweroff_ns),
        opt(b.poweroff_kernel_instructions),
        opt(b.poweroff_exits)
    ));
    out.push_str(&format!("IPC round trip (image {PINGPONG_IMAGE}, {} rounds), per round trip\n", p.rounds));
    out.push_str(&format!("  {:<28}{:>14.0} ns\n", "time", p.ns_per_round_trip));
    out.push_str(&format!("  {:<28}{:>14}\n", "kernel instructions", opt_f(p.kernel_instructions_per_round_trip)));
    out.push_str(&format!("  {:<28}{:>14}\n", "VM exits", opt_f(p.exits_per_round_trip)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::Mark;
    use crate::stats::StatsSnapshot;

    fn snap(insn: u64, exits: u64) -> StatsSnapshot {
        let mut s = StatsSnapshot::default();
        s.values.insert("insn_emulation".into(), insn);
        s.values.insert("exits".into(), exits);
        s
    }

    fn outcome(marks: Vec<Mark>, wall_ms: u64, final_stats: StatsSnapshot) -> RunOutcome {
        RunOutcome {
            exit: Exit::PowerOff(0),
            marks,
            final_stats,
            wall_time: Duration::from_millis(wall_ms),
            console: None,
        }
    }

    #[test]
    fn medians() {
        assert_eq!(median(vec![]), None);
        assert_eq!(median(vec![5, 1, 3]), Some(3));
        assert_eq!(median(vec![4, 1, 3, 2]), Some(2));
        assert_eq!(median_opt(vec![Some(1), None]), None);
    }

    #[test]
    fn figures_come_from_marks_and_deltas() {
        let boots: Vec<_> = [(10, 100), (30, 300), (20, 200)]
            .into_iter()
            .map(|(t, insn)| {
                outcome(vec![Mark { id: MARK_FIRST_USER, time_ns: t, stats: snap(insn, 4) }], t, snap(insn * 2, 9))
            })
            .collect();
        let b = boot_figures(&boots).unwrap();
        assert_eq!((b.first_user_ns, b.first_user_kernel_instructions, b.first_user_exits), (20, Some(200), Some(4)));
        assert_eq!((b.poweroff_ns, b.poweroff_kernel_instructions), (20_000_000, Some(400)));

        let run = outcome(
            vec![
                Mark { id: MARK_FIRST_USER, time_ns: 1, stats: snap(0, 0) },
                Mark { id: MARK_BENCH_START, time_ns: 1_000, stats: snap(1_000, 10) },
                Mark { id: MARK_BENCH_END, time_ns: 101_000, stats: snap(51_000, 30) },
            ],
            1,
            snap(0, 0),
        );
        let p = pingpong_figures(&run, 100).unwrap();
        assert_eq!(p.ns_per_round_trip, 1000.0);
        assert_eq!(p.kernel_instructions_per_round_trip, Some(500.0));
        assert_eq!(p.exits_per_round_trip, Some(0.2));
        let report = BenchReport { host: "h".into(), entry: "trap".into(), boot: b, pingpong: p };
        let table = format_table(&report);
        assert!(table.contains("kernel instructions") && table.contains("500.0"), "{table}");
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["pingpong"]["exits_per_round_trip"], 0.2);
    }

    #[test]
    fn missing_marks_and_bad_endings_are_errors() {
        assert!(boot_figures(&[outcome(vec![], 1, snap(0, 0))]).is_err());
        assert!(pingpong_figures(&outcome(vec![], 1, snap(0, 0)), 10).is_err());
        let mut o = outcome(vec![], 1, snap(0, 0));
        o.exit = Exit::Timeout;
        assert!(expect_clean("x", &o).is_err());
    }
}
