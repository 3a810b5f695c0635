//! One run of a guest: build the VM (`machine`), boot it, supervise it,
//! collect the outcome.
//!
//! The vCPU runs
//! on its own thread so that the watchdog (this thread) can signal it; the
//! guest memory lives on this thread's stack frame until the vCPU thread
//! has been joined (the disk device's clone of the memory map is dropped
//! with that thread).

use std::io::Write;
use std::sync::atomic::AtomicBool;
use std::sync::{mpsc, Arc};
use std::time::Instant;

use super::watchdog;
use crate::devices::stdin::StdinThread;
use crate::devices::PortIo;
use crate::vstate::config::RunConfig;
use crate::vstate::machine::{take_capture, Machine};
use crate::vstate::outcome::RunOutcome;
use crate::vstate::stats::VcpuStats;
use crate::vstate::vcpu::VcpuRunner;
use crate::Error;

/// Boots `config` and runs it to its end.
pub fn run(config: &RunConfig) -> Result<RunOutcome, Error> {
    let start = Instant::now();
    let machine = Machine::build(config)?;
    let stats = match VcpuStats::open(&machine.vcpu) {
        Ok(stats) => Some(stats),
        Err(e) => {
            log::warn!("{e}; runs will have no statistics");
            None
        }
    };
    watchdog::install()?;

    let stdin = if config.forward_stdin {
        let stdin = StdinThread::spawn(libc::STDIN_FILENO, machine.serial.clone(), machine.room.clone());
        Some(stdin.map_err(|e| Error::Host(format!("stdin thread: {e}")))?)
    } else {
        None
    };

    let timed_out = Arc::new(AtomicBool::new(false));
    let on_fault_stop =
        crate::inject::swifi::stop_hook(config.swifi, &config.archive, &machine.mem, machine.plan.as_ref());
    let (spin_guard, spin_tick) =
        watchdog::SpinGuard::for_run(config.deterministic, &machine.mem, machine.plan.as_ref(), &machine.vm).unzip();
    let runner = VcpuRunner {
        vcpu: machine.vcpu,
        io: PortIo::new(machine.serial, machine.log_sink),
        mmio: machine.mmio,
        stats,
        start,
        timed_out: timed_out.clone(),
        trace: machine.trace,
        pause_at_mark: None,
        on_fault_stop: on_fault_stop.as_ref().map(|h| h.boxed()),
        spin_tick,
    };
    let result = run_vcpu_thread(runner, config.timeout, &timed_out, spin_guard.as_ref())?;
    let wall_time = start.elapsed();
    if let Some(stdin) = stdin {
        stdin.stop();
    }
    if config.echo_console {
        let _ = std::io::stdout().flush();
    }
    let counters = machine.plan.map(|region| region.counters(&machine.mem)).unwrap_or_default();
    // The VM and its memory go away together, after the vCPU thread; a
    // temporary disk after both.
    drop(machine.vm);
    drop(machine.mem);
    drop(machine.temp_disk);

    Ok(RunOutcome {
        exit: result.exit,
        marks: result.marks,
        final_stats: result.final_stats,
        wall_time,
        console: machine.console.as_ref().map(take_capture),
        log: machine.log.as_ref().map(take_capture),
        trace: result.trace,
        fault_counters: counters.per_rule,
        faults_injected: counters.total,
        fault_stops: result.fault_stops,
        swifi: on_fault_stop.map(|h| h.mutations()).unwrap_or_default(),
        spin_ticks: spin_guard.map_or(0, |g| g.raised()),
    })
}

/// Runs `runner` on its own thread under the watchdog until the guest ends
/// (or `timeout` passes, which sets `timed_out` and kicks the vCPU out).
pub(crate) fn run_vcpu_thread(
    runner: VcpuRunner,
    timeout: Option<std::time::Duration>,
    timed_out: &Arc<AtomicBool>,
    spin: Option<&watchdog::SpinGuard>,
) -> Result<crate::vstate::vcpu::VcpuResult, Error> {
    let (done_tx, done_rx) = mpsc::channel();
    let handle = std::thread::Builder::new()
        .name("viv-vcpu0".into())
        .spawn(move || {
            let result = runner.run();
            let _ = done_tx.send(());
            result
        })
        .map_err(|e| Error::Host(format!("vCPU thread: {e}")))?;
    watchdog::supervise(&handle, timeout, timed_out, &done_rx, spin);
    handle.join().map_err(|_| Error::Host("the vCPU thread panicked".into()))
}
