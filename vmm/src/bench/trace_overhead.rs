//! The tracing figures of `viv bench`: kernel instructions per IPC with
//! tracing on versus off, and exits per million traced messages.

use std::time::Duration;

use serde::Serialize;

use super::BenchError;
use super::{IPC_IMAGE, IPC_OPS_KEY, IPC_PHASES};
use crate::observe::decode::decode;
use crate::observe::TraceMode;
use crate::vstate::config::{EntryChoice, RunConfig};
use crate::vstate::outcome::RunOutcome;

/// `viv bench`'s `trace_overhead` object.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TraceOverhead {
    /// Operations per phase measured.
    pub ops: u64,
    /// Kernel instructions per SENDREC round trip, tracing off.
    pub sendrec_kernel_instructions_off: Option<f64>,
    /// The same with tracing on (lossless ring).
    pub sendrec_kernel_instructions_on: Option<f64>,
    /// on / off (what tracing adds is a fixed cost per record, ≈ 80
    /// kernel instructions per SENDREC round trip, so the ratio grows as
    /// the untraced path gets shorter).
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
pub fn trace_overhead(ops: u64, entry: EntryChoice, timeout: Duration) -> Result<TraceOverhead, BenchError> {
    let run = |trace: Option<TraceMode>| -> Result<RunOutcome, BenchError> {
        let mut config = RunConfig::for_image(IPC_IMAGE)?;
        config.entry = entry;
        config.append = format!("{IPC_OPS_KEY}={ops}");
        config.timeout = Some(timeout);
        config.trace = trace;
        Ok(crate::run(&config)?)
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
