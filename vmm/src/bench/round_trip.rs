//! `viv bench --only ipc`: the pingpong round trip (client SENDREC +
//! server REPLYRECV) with IPC tracing off and on, alone, as a quick check
//! while working on the IPC path (the whole `viv bench` takes minutes).
//!
//! Both runs use the same image and rounds; the traced run records into a
//! lossless ring, as `viv trace` does. The figures are the same deltas
//! between the client's bench marks as the pingpong row of `viv bench`.

use serde::Serialize;

use super::{pingpong_figures, BenchError, PingpongFigures, INTERRUPTS_STAT, PINGPONG_IMAGE, PINGPONG_ROUNDS_KEY};
use crate::observe::TraceMode;
use crate::vstate::config::{EntryChoice, RunConfig};
use abi::platform::{MARK_BENCH_END, MARK_BENCH_START};

/// The round trip with tracing off and on.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RoundTripFigures {
    /// Tracing off.
    pub off: PingpongFigures,
    /// Timer ticks per round trip, tracing off (their handling is inside
    /// the figures).
    pub off_timer_interrupts_per_round_trip: Option<f64>,
    /// Tracing on (lossless ring).
    pub on: PingpongFigures,
    /// Timer ticks per round trip, tracing on.
    pub on_timer_interrupts_per_round_trip: Option<f64>,
}

/// Runs pingpong for `rounds` round trips, untraced and traced.
pub fn measure(rounds: u64, entry: EntryChoice) -> Result<RoundTripFigures, BenchError> {
    let run = |trace: Option<TraceMode>| -> Result<(PingpongFigures, Option<f64>), BenchError> {
        let mut config = RunConfig::for_image(PINGPONG_IMAGE)?;
        config.entry = entry;
        config.append = format!("{PINGPONG_ROUNDS_KEY}={rounds}");
        config.timeout = Some(super::RUN_TIMEOUT);
        config.trace = trace;
        let outcome = crate::run(&config)?;
        super::expect_clean(PINGPONG_IMAGE, &outcome)?;
        let ticks = match (outcome.mark(MARK_BENCH_START), outcome.mark(MARK_BENCH_END)) {
            (Some(s), Some(e)) => e.stats.delta(&s.stats, INTERRUPTS_STAT).map(|d| d as f64 / rounds.max(1) as f64),
            _ => None,
        };
        Ok((pingpong_figures(&outcome, rounds)?, ticks))
    };
    let (off, off_ticks) = run(None)?;
    let (on, on_ticks) = run(Some(TraceMode::Lossless))?;
    Ok(RoundTripFigures {
        off,
        off_timer_interrupts_per_round_trip: off_ticks,
        on,
        on_timer_interrupts_per_round_trip: on_ticks,
    })
}

/// The figures as a small table.
pub fn format_round_trip(r: &RoundTripFigures) -> String {
    let opt = |v: Option<f64>| v.map_or_else(|| "n/a".into(), |v| format!("{v:.1}"));
    let row = |name: &str, p: &PingpongFigures, ticks: Option<f64>| {
        format!(
            "  {:<14}{:>22}{:>12}{:>14}{:>14.0}\n",
            name,
            opt(p.kernel_instructions_per_round_trip),
            opt(p.exits_per_round_trip),
            opt(ticks),
            p.ns_per_round_trip,
        )
    };
    format!(
        "\nIPC round trip (image {PINGPONG_IMAGE}: client SENDREC + server REPLYRECV, {} rounds), per round trip\n  \
         {:<14}{:>22}{:>12}{:>14}{:>14}\n{}{}",
        r.off.rounds,
        "tracing",
        "kernel instructions",
        "VM exits",
        "timer ticks",
        "ns",
        row("off", &r.off, r.off_timer_interrupts_per_round_trip),
        row("on", &r.on, r.on_timer_interrupts_per_round_trip),
    )
}
