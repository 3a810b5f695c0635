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
//!
//! IPC operations: image `ipcbench` with `ipcbench.ops=N`. Its client
//! brackets each phase of N operations of one primitive with the phase's
//! START and END marks (`abi::platform::MARK_IPC_*`, see [`IPC_PHASES`]);
//! each figure is (END − START) / N. A primitive cannot be measured alone
//! when its peer must also enter the kernel for the next operation to find
//! the same state, so every phase is named for everything it contains (for
//! SEND: the client's SEND *and* the server's RECEIVE re-entry) and nothing
//! is subtracted. Two quantities are reported beside the phases, not taken
//! out of them: the cost of the bench-mark call itself (phase "empty": its
//! START and END marks with nothing between, contained once in every
//! phase's delta, i.e. divided by N in a per-operation figure) and the timer
//! interrupts that fell inside each phase (`irq_injections`; the kernel
//! ticks at 100 Hz and its tick handler's instructions are in the delta).
//!
//! JSON (`viv bench --json`) is the [`BenchReport`] below, serialized with
//! serde: field names are the struct fields, an unknown statistic is
//! `null`. Shape, stable across versions (fields are only ever added):
//!
//! ```text
//! { "host": str, "entry": str,
//!   "boot":     { "runs", "first_user_ns", "poweroff_ns",
//!                 "first_user_kernel_instructions", "first_user_exits",
//!                 "poweroff_kernel_instructions", "poweroff_exits" },
//!   "pingpong": { "rounds", "ns_per_round_trip",
//!                 "kernel_instructions_per_round_trip", "exits_per_round_trip" },
//!   "ipc":      { "image": "ipcbench", "ops": N,
//!                 "mark_overhead": { "ns", "kernel_instructions", "exits" },
//!                 "phases": [ { "name", "measures", "kernel_entries_per_op",
//!                               "ns_per_op", "kernel_instructions_per_op",
//!                               "exits_per_op", "timer_interrupts_per_op" } ] },
//!   "trace_overhead": { "ops", "sendrec_kernel_instructions_off",
//!                 "sendrec_kernel_instructions_on", "sendrec_ratio",
//!                 "phase_ratios": [[name, ratio]], "traced_messages",
//!                 "doorbells", "exits_per_million_messages" },
//!   "storage":  { ... (`bench::storage`) },
//!   "process":  { "image", "program", "n", "kernel_instructions", "exits",
//!                 "messages", "attributed_messages" } (`bench::process`),
//!   "qemu":     { "version", "hello_ns", "hello_ratio", "pingpong_rounds",
//!                 "pingpong_ns_per_round_trip", "pingpong_ratio" } or null
//!               (`viv bench --qemu`, `bench::qemu`),
//!   "campaign": { "campaign", "file", "experiments", "jobs",
//!                 "snapshot": { "start", "wall_secs", "experiments_per_second",
//!                               "snapshot_secs", "median_kernel_instructions",
//!                               "median_vm_exits", "outcomes": { class: n },
//!                               "cpu_secs_per_experiment", "median_vcpu_cpu_ms",
//!                               "vcpu_cpu_us_per_kernel_instruction" },
//!                 "boot": { same }, "speedup", "kernel_instruction_ratio" },
//!   "hang":     { "file", "completed_kernel_instructions",
//!                 "hung_kernel_instructions", "ratio", "ended_by", "hung_ticks",
//!                 "tick_budget", "instruction_budget" } (`bench::hang`) }
//! ```
//!
//! `phases` lists, in this order, the names `send`, `receive`, `sendrec`,
//! `notify`, `senda` (see [`IPC_PHASES`] for what each contains).

pub mod campaign;
mod error;
pub mod hang;
pub mod process;
pub mod qemu;
pub mod round_trip;
pub mod storage;
pub mod trace_overhead;

use std::time::Duration;

use abi::platform::{
    MARK_BENCH_END, MARK_BENCH_START, MARK_FIRST_USER, MARK_IPC_EMPTY_END, MARK_IPC_EMPTY_START, MARK_IPC_NOTIFY_END,
    MARK_IPC_NOTIFY_START, MARK_IPC_RECEIVE_END, MARK_IPC_RECEIVE_START, MARK_IPC_SENDA_END, MARK_IPC_SENDA_START,
    MARK_IPC_SENDREC_END, MARK_IPC_SENDREC_START, MARK_IPC_SEND_END, MARK_IPC_SEND_START,
};
use serde::Serialize;

use crate::vstate::config::{entry_word, EntryChoice, HostKind, RunConfig};
use crate::vstate::outcome::{Exit, RunOutcome};

pub use error::BenchError;

/// Image measured for boot time.
pub const BOOT_IMAGE: &str = "hello";
/// Image measured for the IPC round trip.
pub const PINGPONG_IMAGE: &str = "pingpong";
/// Command-line key for the number of pingpong rounds.
pub const PINGPONG_ROUNDS_KEY: &str = "pingpong.rounds";
/// Default number of pingpong rounds.
pub const DEFAULT_ROUNDS: u64 = 10_000;
/// Image measured for the IPC operations.
pub const IPC_IMAGE: &str = "ipcbench";
/// Command-line key for the number of operations per `ipcbench` phase.
pub const IPC_OPS_KEY: &str = "ipcbench.ops";
/// Default number of operations per `ipcbench` phase (about 1 s per phase
/// on a software-KVM host).
pub const DEFAULT_IPC_OPS: u64 = 1_000;
/// The KVM statistic counting injected interrupts (timer ticks here).
pub const INTERRUPTS_STAT: &str = "irq_injections";
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

/// One measured phase of image `ipcbench`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpcPhase {
    /// Short stable name (the JSON `name`).
    pub name: &'static str,
    /// What one operation of the phase contains.
    pub measures: &'static str,
    /// Kernel entries (traps) per operation, both sides counted.
    pub kernel_entries_per_op: u32,
    /// Mark written before the phase's first operation.
    pub start: u32,
    /// Mark written after its last operation.
    pub end: u32,
}

/// The phases of `ipcbench`, in the order they run and are reported.
/// "Higher" and "lower" are the server's priority relative to the client.
pub const IPC_PHASES: [IpcPhase; 5] = [
    IpcPhase {
        name: "send",
        measures: "SEND + RECEIVE, one message both sides: SEND to a higher-priority server waiting in \
                   RECEIVE (delivers, switches to it) + the server's RECEIVE re-entry (blocks, switches back)",
        kernel_entries_per_op: 2,
        start: MARK_IPC_SEND_START,
        end: MARK_IPC_SEND_END,
    },
    IpcPhase {
        name: "receive",
        measures: "RECEIVE + SEND, one message both sides: a lower-priority server's RECEIVE taking the \
                   message of a client blocked in SEND (wakes it, switches to it) + the client's next SEND \
                   (server busy: blocks in its queue, switches back)",
        kernel_entries_per_op: 2,
        start: MARK_IPC_RECEIVE_START,
        end: MARK_IPC_RECEIVE_END,
    },
    IpcPhase {
        name: "sendrec",
        measures: "SENDREC round trip: client SENDREC + higher-priority server's SENDNB reply + its RECEIVE \
                   re-entry",
        kernel_entries_per_op: 3,
        start: MARK_IPC_SENDREC_START,
        end: MARK_IPC_SENDREC_END,
    },
    IpcPhase {
        name: "notify",
        measures: "NOTIFY + RECEIVE: NOTIFY to a higher-priority server waiting in RECEIVE (delivers, switches) \
                   + the server's RECEIVE re-entry",
        kernel_entries_per_op: 2,
        start: MARK_IPC_NOTIFY_START,
        end: MARK_IPC_NOTIFY_END,
    },
    IpcPhase {
        name: "senda",
        measures: "SENDA + RECEIVE: SENDA of a one-entry table to a higher-priority server waiting in RECEIVE \
                   (entry delivered and marked DONE during the call, switches) + the server's RECEIVE re-entry",
        kernel_entries_per_op: 2,
        start: MARK_IPC_SENDA_START,
        end: MARK_IPC_SENDA_END,
    },
];

/// Figures of one `ipcbench` phase, per operation.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct IpcPhaseFigures {
    /// [`IpcPhase::name`].
    pub name: String,
    /// [`IpcPhase::measures`].
    pub measures: String,
    /// [`IpcPhase::kernel_entries_per_op`].
    pub kernel_entries_per_op: u32,
    /// Wall time per operation, ns.
    pub ns_per_op: f64,
    /// Kernel instructions (`insn_emulation`) per operation.
    pub kernel_instructions_per_op: Option<f64>,
    /// VM exits per operation.
    pub exits_per_op: Option<f64>,
    /// Interrupts injected (timer ticks) per operation; their handling is
    /// inside the two figures above.
    pub timer_interrupts_per_op: Option<f64>,
}

/// The bench-mark call's own cost: the delta between two marks with
/// nothing between them. Every phase's delta contains it once.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct MarkOverhead {
    /// Wall time, ns.
    pub ns: u64,
    /// Kernel instructions.
    pub kernel_instructions: Option<u64>,
    /// VM exits.
    pub exits: Option<u64>,
}

/// `ipcbench` figures.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct IpcFigures {
    /// The image measured ([`IPC_IMAGE`]).
    pub image: String,
    /// Operations per phase.
    pub ops: u64,
    /// Cost of one pair of marks, contained once in every phase.
    pub mark_overhead: MarkOverhead,
    /// One entry per [`IPC_PHASES`] entry, in that order.
    pub phases: Vec<IpcPhaseFigures>,
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
    /// Per-primitive IPC figures.
    pub ipc: IpcFigures,
    /// IPC tracing: kernel instructions with tracing on versus off, exits
    /// per million traced messages (`crate::bench::trace_overhead::trace_overhead`).
    pub trace_overhead: Option<crate::bench::trace_overhead::TraceOverhead>,
    /// Sequential write and read through the storage stack
    /// (`crate::bench::storage`).
    pub storage: Option<crate::bench::storage::StorageFigures>,
    /// Fork + exec + exit of `true` from the disk (`crate::bench::process`).
    pub process: Option<crate::bench::process::ProcessFigures>,
    /// Campaign throughput from a snapshot versus cold boots
    /// (`crate::bench::campaign`; `None` when skipped).
    #[serde(default)]
    pub campaign: Option<crate::bench::campaign::CampaignFigures>,
    /// The same hello and pingpong under QEMU TCG (`crate::bench::qemu`;
    /// `None` without `--qemu`).
    pub qemu: Option<crate::bench::qemu::QemuFigures>,
    /// What a hung experiment costs beside a completed one
    /// (`crate::bench::hang`).
    #[serde(default)]
    pub hang: Option<crate::bench::hang::HangFigures>,
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
fn expect_clean(image: &str, outcome: &RunOutcome) -> Result<(), BenchError> {
    if outcome.exit != Exit::PowerOff(0) {
        return Err(BenchError::Unclean {
            image: image.to_string(),
            exit: format!("{:?}", outcome.exit),
            status: outcome.exit_status(),
        });
    }
    Ok(())
}

fn run_image(image: &str, entry: EntryChoice, append: String) -> Result<RunOutcome, BenchError> {
    let mut config = RunConfig::for_image(image)?;
    config.entry = entry;
    config.append = append;
    config.timeout = Some(RUN_TIMEOUT);
    config.capture_console = true;
    let outcome = crate::run(&config)?;
    expect_clean(image, &outcome)?;
    Ok(outcome)
}

fn missing_mark(image: &str, id: u32) -> BenchError {
    BenchError::MissingMark { image: image.to_string(), id }
}

/// Boot figures from finished `hello` runs.
pub fn boot_figures(outcomes: &[RunOutcome]) -> Result<BootFigures, BenchError> {
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
pub fn pingpong_figures(outcome: &RunOutcome, rounds: u64) -> Result<PingpongFigures, BenchError> {
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

/// The marks `start` and `end` of `image` in `outcome`, in that order.
fn mark_pair<'a>(
    outcome: &'a RunOutcome,
    image: &str,
    start: u32,
    end: u32,
) -> Result<(&'a crate::vstate::outcome::Mark, &'a crate::vstate::outcome::Mark), BenchError> {
    let s = outcome.mark(start).ok_or_else(|| missing_mark(image, start))?;
    let e = outcome.mark(end).ok_or_else(|| missing_mark(image, end))?;
    if e.time_ns < s.time_ns {
        return Err(BenchError::MarkOrder { image: image.to_string(), start, end });
    }
    Ok((s, e))
}

/// IPC figures from a finished `ipcbench` run of `ops` operations per phase.
pub fn ipc_figures(outcome: &RunOutcome, ops: u64) -> Result<IpcFigures, BenchError> {
    let (s, e) = mark_pair(outcome, IPC_IMAGE, MARK_IPC_EMPTY_START, MARK_IPC_EMPTY_END)?;
    let mark_overhead = MarkOverhead {
        ns: e.time_ns - s.time_ns,
        kernel_instructions: e.stats.delta(&s.stats, "insn_emulation"),
        exits: e.stats.delta(&s.stats, "exits"),
    };
    let n = ops.max(1) as f64;
    let mut phases = Vec::new();
    for phase in &IPC_PHASES {
        let (s, e) = mark_pair(outcome, IPC_IMAGE, phase.start, phase.end)?;
        let per = |name: &str| e.stats.delta(&s.stats, name).map(|d| d as f64 / n);
        phases.push(IpcPhaseFigures {
            name: phase.name.to_string(),
            measures: phase.measures.to_string(),
            kernel_entries_per_op: phase.kernel_entries_per_op,
            ns_per_op: (e.time_ns - s.time_ns) as f64 / n,
            kernel_instructions_per_op: per("insn_emulation"),
            exits_per_op: per("exits"),
            timer_interrupts_per_op: per(INTERRUPTS_STAT),
        });
    }
    Ok(IpcFigures { image: IPC_IMAGE.to_string(), ops, mark_overhead, phases })
}

/// Runs the whole benchmark with [`DEFAULT_IPC_OPS`] operations per IPC
/// phase.
pub fn run_bench(rounds: u64, boot_runs: usize, entry: EntryChoice) -> Result<BenchReport, BenchError> {
    run_bench_with(rounds, DEFAULT_IPC_OPS, boot_runs, entry)
}

/// Runs the whole benchmark: `rounds` pingpong round trips, `ipc_ops`
/// operations per `ipcbench` phase, `boot_runs` boots.
pub fn run_bench_with(
    rounds: u64,
    ipc_ops: u64,
    boot_runs: usize,
    entry: EntryChoice,
) -> Result<BenchReport, BenchError> {
    let host = HostKind::detect();
    let mut boots = Vec::new();
    for _ in 0..boot_runs.max(1) {
        boots.push(run_image(BOOT_IMAGE, entry, String::new())?);
    }
    let boot = boot_figures(&boots)?;
    let pingpong_run = run_image(PINGPONG_IMAGE, entry, format!("{PINGPONG_ROUNDS_KEY}={rounds}"))?;
    let pingpong = pingpong_figures(&pingpong_run, rounds)?;
    let ipc_ops = ipc_ops.max(1);
    let ipc_run = run_image(IPC_IMAGE, entry, format!("{IPC_OPS_KEY}={ipc_ops}"))?;
    let ipc = ipc_figures(&ipc_run, ipc_ops)?;
    let trace_overhead = Some(crate::bench::trace_overhead::trace_overhead(ipc_ops, entry, RUN_TIMEOUT)?);
    let storage_run = run_image(crate::bench::storage::STORAGE_IMAGE, entry, crate::bench::storage::storage_command())?;
    let storage = Some(crate::bench::storage::storage_figures(&storage_run)?);
    let process = Some(crate::bench::process::measure(crate::bench::process::DEFAULT_PROCESSES, entry)?);
    Ok(BenchReport {
        host: host.describe().to_string(),
        entry: entry_word(entry.resolve(host)).to_string(),
        boot,
        pingpong,
        ipc,
        trace_overhead,
        storage,
        process,
        campaign: None,
        qemu: None,
        hang: None,
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
    out.push_str(&format!("  {:<28}{:>14}\n\n", "VM exits", opt_f(p.exits_per_round_trip)));
    out.push_str(&format_ipc(&r.ipc));
    if let Some(t) = &r.trace_overhead {
        out.push_str(&format!(
            "\nIPC tracing: SENDREC round trip {} -> {} kernel instructions (x{}), {} exits per million traced messages\n",
            opt_f(t.sendrec_kernel_instructions_off),
            opt_f(t.sendrec_kernel_instructions_on),
            t.sendrec_ratio.map_or_else(|| "n/a".into(), |r| format!("{r:.3}")),
            t.exits_per_million_messages
        ));
    }
    if let Some(s) = &r.storage {
        out.push_str(&crate::bench::storage::format_storage(s));
    }
    if let Some(p) = &r.process {
        out.push_str(&crate::bench::process::format_process(p));
    }
    if let Some(c) = &r.campaign {
        out.push_str(&crate::bench::campaign::format(c));
    }
    if let Some(h) = &r.hang {
        out.push_str(&crate::bench::hang::format(h));
    }
    if let Some(q) = &r.qemu {
        out.push_str(&crate::bench::qemu::format(q, r));
    }
    out
}

/// The IPC phases as a table, each phase's contents spelled out below it.
pub fn format_ipc(ipc: &IpcFigures) -> String {
    let mut out = String::new();
    out.push_str(&format!("IPC operations (image {}, {} per phase), per operation\n", ipc.image, ipc.ops));
    out.push_str(&format!(
        "  {:<10}{:>9}{:>12}{:>22}{:>10}{:>12}\n",
        "phase", "traps", "time", "kernel instructions", "VM exits", "timer ints"
    ));
    for p in &ipc.phases {
        out.push_str(&format!(
            "  {:<10}{:>9}{:>9.3} ms{:>22}{:>10}{:>12}\n",
            p.name,
            p.kernel_entries_per_op,
            p.ns_per_op / 1e6,
            opt_f(p.kernel_instructions_per_op),
            opt_f(p.exits_per_op),
            p.timer_interrupts_per_op.map_or_else(|| "n/a".into(), |v| format!("{v:.2}")),
        ));
    }
    let m = &ipc.mark_overhead;
    out.push_str(&format!(
        "  bench-mark call (in every phase once, not per operation): {} kernel instructions, {} VM exits",
        opt(m.kernel_instructions),
        opt(m.exits)
    ));
    if let Some(k) = m.kernel_instructions {
        out.push_str(&format!(" = {:.2} per operation at this N", k as f64 / ipc.ops.max(1) as f64));
    }
    out.push_str("\n  what one operation contains (traps = kernel entries, both sides):\n");
    for p in &ipc.phases {
        out.push_str(&format!("    {:<8}{}\n", p.name, p.measures));
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::vstate::outcome::Mark;
    use crate::vstate::stats::StatsSnapshot;

    /// A report with every figure zero and no optional part.
    pub(crate) fn report_for_tests() -> BenchReport {
        BenchReport {
            host: "h".into(),
            entry: "trap".into(),
            boot: boot_figures(&[outcome(
                vec![Mark { id: MARK_FIRST_USER, time_ns: 0, stats: snap(0, 0), console_bytes: 0 }],
                0,
                snap(0, 0),
            )])
            .unwrap(),
            pingpong: PingpongFigures {
                rounds: 1,
                ns_per_round_trip: 0.0,
                kernel_instructions_per_round_trip: None,
                exits_per_round_trip: None,
            },
            ipc: ipc_figures(&ipc_run(1), 1).unwrap(),
            trace_overhead: None,
            storage: None,
            process: None,
            campaign: None,
            qemu: None,
            hang: None,
        }
    }

    fn snap(insn: u64, exits: u64) -> StatsSnapshot {
        let mut s = StatsSnapshot::default();
        s.values.insert("insn_emulation".into(), insn);
        s.values.insert("exits".into(), exits);
        s
    }

    fn outcome(marks: Vec<Mark>, wall_ms: u64, final_stats: StatsSnapshot) -> RunOutcome {
        RunOutcome { marks, final_stats, wall_time: Duration::from_millis(wall_ms), ..RunOutcome::empty_for_tests() }
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
                outcome(
                    vec![Mark { id: MARK_FIRST_USER, time_ns: t, stats: snap(insn, 4), console_bytes: 0 }],
                    t,
                    snap(insn * 2, 9),
                )
            })
            .collect();
        let b = boot_figures(&boots).unwrap();
        assert_eq!((b.first_user_ns, b.first_user_kernel_instructions, b.first_user_exits), (20, Some(200), Some(4)));
        assert_eq!((b.poweroff_ns, b.poweroff_kernel_instructions), (20_000_000, Some(400)));

        let run = outcome(
            vec![
                Mark { id: MARK_FIRST_USER, time_ns: 1, stats: snap(0, 0), console_bytes: 0 },
                Mark { id: MARK_BENCH_START, time_ns: 1_000, stats: snap(1_000, 10), console_bytes: 0 },
                Mark { id: MARK_BENCH_END, time_ns: 101_000, stats: snap(51_000, 30), console_bytes: 0 },
            ],
            1,
            snap(0, 0),
        );
        let p = pingpong_figures(&run, 100).unwrap();
        assert_eq!(p.ns_per_round_trip, 1000.0);
        assert_eq!(p.kernel_instructions_per_round_trip, Some(500.0));
        assert_eq!(p.exits_per_round_trip, Some(0.2));
        let ipc = ipc_figures(&ipc_run(10), 10).unwrap();
        let report = BenchReport {
            host: "h".into(),
            entry: "trap".into(),
            boot: b,
            pingpong: p,
            ipc,
            trace_overhead: None,
            storage: None,
            process: None,
            campaign: None,
            qemu: None,
            hang: None,
        };
        let table = format_table(&report);
        assert!(table.contains("kernel instructions") && table.contains("500.0"), "{table}");
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["pingpong"]["exits_per_round_trip"], 0.2);
    }

    fn snap3(insn: u64, exits: u64, irqs: u64) -> StatsSnapshot {
        let mut s = snap(insn, exits);
        s.values.insert(INTERRUPTS_STAT.into(), irqs);
        s
    }

    /// An `ipcbench` run of `ops` operations per phase: the empty phase
    /// costs 300 instructions and 3 exits; phase k (0-based) costs
    /// (k + 1) * 100 instructions, k + 4 exits and one interrupt per
    /// operation, and 1 µs per operation.
    fn ipc_run(ops: u64) -> RunOutcome {
        let mut marks = vec![
            Mark { id: MARK_FIRST_USER, time_ns: 1, stats: snap3(10, 1, 0), console_bytes: 0 },
            Mark { id: MARK_IPC_EMPTY_START, time_ns: 100, stats: snap3(1_000, 10, 0), console_bytes: 0 },
            Mark { id: MARK_IPC_EMPTY_END, time_ns: 150, stats: snap3(1_300, 13, 0), console_bytes: 0 },
        ];
        let (mut t, mut insn, mut exits, mut irqs) = (1_000, 2_000, 20, 0);
        for (k, phase) in IPC_PHASES.iter().enumerate() {
            let k = k as u64;
            marks.push(Mark { id: phase.start, time_ns: t, stats: snap3(insn, exits, irqs), console_bytes: 0 });
            t += ops * 1_000;
            insn += ops * (k + 1) * 100;
            exits += ops * (k + 4);
            irqs += ops;
            marks.push(Mark { id: phase.end, time_ns: t, stats: snap3(insn, exits, irqs), console_bytes: 0 });
            // Work between phases (warm-ups) is in no figure.
            t += 77;
            insn += 777;
            exits += 7;
        }
        outcome(marks, 1, snap(0, 0))
    }

    #[test]
    fn ipc_figures_are_per_operation_deltas_between_each_phases_marks() {
        let f = ipc_figures(&ipc_run(50), 50).unwrap();
        assert_eq!(f.image, IPC_IMAGE);
        assert_eq!(f.ops, 50);
        assert_eq!(f.mark_overhead, MarkOverhead { ns: 50, kernel_instructions: Some(300), exits: Some(3) });
        let names: Vec<_> = f.phases.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["send", "receive", "sendrec", "notify", "senda"]);
        for (k, p) in f.phases.iter().enumerate() {
            let k = k as f64;
            assert_eq!(p.ns_per_op, 1_000.0, "{}", p.name);
            assert_eq!(p.kernel_instructions_per_op, Some((k + 1.0) * 100.0), "{}", p.name);
            assert_eq!(p.exits_per_op, Some(k + 4.0), "{}", p.name);
            assert_eq!(p.timer_interrupts_per_op, Some(1.0), "{}", p.name);
            assert_eq!(p.kernel_entries_per_op, IPC_PHASES[k as usize].kernel_entries_per_op);
        }
        // A host without the interrupt statistic reports null, not zero.
        let mut run = ipc_run(5);
        for m in &mut run.marks {
            m.stats.values.remove(INTERRUPTS_STAT);
        }
        let f = ipc_figures(&run, 5).unwrap();
        assert!(f.phases.iter().all(|p| p.timer_interrupts_per_op.is_none() && p.exits_per_op.is_some()));
        let table = format_ipc(&f);
        assert!(table.contains("n/a") && table.contains("senda") && table.contains("60.00 per operation"), "{table}");
    }

    #[test]
    fn ipc_phase_marks_are_distinct_and_paired() {
        let mut ids = vec![MARK_FIRST_USER, MARK_BENCH_START, MARK_BENCH_END, MARK_IPC_EMPTY_START, MARK_IPC_EMPTY_END];
        for p in &IPC_PHASES {
            assert_eq!(p.end, p.start + 1, "{}", p.name);
            ids.extend([p.start, p.end]);
        }
        let count = ids.len();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), count, "mark ids collide");
    }

    #[test]
    fn ipc_json_has_the_documented_shape() {
        let json = serde_json::to_value(ipc_figures(&ipc_run(10), 10).unwrap()).unwrap();
        let keys = |v: &serde_json::Value| {
            let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
            k.sort();
            k
        };
        assert_eq!(keys(&json), ["image", "mark_overhead", "ops", "phases"]);
        assert_eq!(keys(&json["mark_overhead"]), ["exits", "kernel_instructions", "ns"]);
        let phases = json["phases"].as_array().unwrap();
        assert_eq!(phases.len(), IPC_PHASES.len());
        for p in phases {
            assert_eq!(
                keys(p),
                [
                    "exits_per_op",
                    "kernel_entries_per_op",
                    "kernel_instructions_per_op",
                    "measures",
                    "name",
                    "ns_per_op",
                    "timer_interrupts_per_op"
                ]
            );
        }
        assert_eq!(json["phases"][2]["name"], "sendrec");
        assert_eq!(json["phases"][2]["kernel_instructions_per_op"], 300.0);
        assert_eq!(json["phases"][2]["kernel_entries_per_op"], 3);
        assert_eq!(json["ops"], 10);
    }

    #[test]
    fn missing_marks_and_bad_endings_are_errors() {
        let mut run = ipc_run(3);
        run.marks.retain(|m| m.id != MARK_IPC_SENDA_END);
        assert!(ipc_figures(&run, 3).is_err());
        let mut run = ipc_run(3);
        run.marks.retain(|m| m.id != MARK_IPC_EMPTY_START);
        assert!(ipc_figures(&run, 3).is_err());
        // An END before its START is refused, not turned into a huge delta.
        let mut run = ipc_run(3);
        for m in &mut run.marks {
            if m.id == MARK_IPC_NOTIFY_END {
                m.time_ns = 0;
            }
        }
        assert!(ipc_figures(&run, 3).is_err());
        assert!(boot_figures(&[outcome(vec![], 1, snap(0, 0))]).is_err());
        assert!(pingpong_figures(&outcome(vec![], 1, snap(0, 0)), 10).is_err());
        let mut o = outcome(vec![], 1, snap(0, 0));
        o.exit = Exit::Timeout;
        assert!(expect_clean("x", &o).is_err());
    }
}
