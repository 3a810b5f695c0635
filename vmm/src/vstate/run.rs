//! The one run loop around a built [`Machine`]: a cold boot ([`run`]), a
//! snapshot's boot up to its mark ([`Snapshot::take`]) and an experiment
//! from a snapshot ([`Snapshot::run`]) all build their VM with
//! `Machine::build` and run it with [`supervise`], and the two that run
//! to the end make their [`RunOutcome`] in [`finish`].
//!
//! The vCPU runs on its own thread so that the watchdog (this thread) can
//! signal it; the guest memory lives on this thread's stack frame until
//! the vCPU thread has been joined (the disk device's clone of the memory
//! map is dropped with that thread).

use std::io::Write;
use std::sync::atomic::AtomicBool;
use std::sync::{mpsc, Arc};
use std::time::Duration;

use vm_memory::{Bytes, GuestAddress};

use super::config::RunConfig;
use super::error::{Error, MemoryError, RunError, SnapshotError};
use super::machine::{take_capture, Machine};
use super::outcome::{Exit, RunOutcome, ThreadCpu};
use super::snapshot::{state, ExperimentConfig, Snapshot};
use super::vcpu::{Progress, VcpuRunner};
use super::{memory, watchdog};
use crate::devices::stdin::StdinThread;
use crate::inject::swifi::StopHook;

/// Boots `config` and runs it to its end.
pub fn run(config: &RunConfig) -> Result<RunOutcome, Error> {
    run_to_end(Machine::build(config, None)?, config)
}

impl Snapshot {
    /// Boots `config` and snapshots it when the guest writes bench mark
    /// `at_mark` (an error if it ends first, or has no plan).
    pub fn take(config: &RunConfig, at_mark: u32) -> Result<Snapshot, Error> {
        if config.fault_plan.is_none() {
            return Err(SnapshotError::NoPlan.into());
        }
        // The console and log up to the mark belong to every experiment's.
        let mut config = config.clone();
        config.capture_console = true;
        config.forward_stdin = false;
        // A debugger is for the experiments run from the snapshot.
        let gdb = config.gdb.take();
        let mut machine = Machine::build(&config, None)?;
        machine.runner.pause_at_mark = Some(at_mark);
        let plan_base = machine.plan.as_ref().map_or(0, |p| p.base);
        let trace_range = machine.runner.trace.as_ref().map(|r| r.range());
        let (mut machine, ran) = supervise(machine, &config)?;
        let console = machine.console.as_ref().map(take_capture).unwrap_or_default();
        if let Some(exit) = ran.ended {
            let console = String::from_utf8_lossy(&console).into_owned();
            return Err(SnapshotError::EndedEarly { exit: format!("{exit:?}"), mark: at_mark, console }.into());
        }
        let runner = &mut machine.runner;
        // KVM completes a port write only at the next KVM_RUN: enter with
        // `immediate_exit` so the vCPU state we read is consistent (KVM API
        // documentation, "KVM_RUN": complete pending I/O before saving state).
        runner.vcpu.set_kvm_immediate_exit(1);
        let _ = runner.vcpu.run();
        runner.vcpu.set_kvm_immediate_exit(0);
        // Records before the mark are not part of any experiment: consume them.
        if let Some(ring) = runner.trace.as_mut() {
            ring.drain();
        }

        let vcpu = state::capture_vcpu(&machine.kvm, &runner.vcpu)?;
        let vm = state::capture_vm(&machine.vm)?;
        let serial = machine.serial.lock().unwrap_or_else(|e| e.into_inner()).state();
        let mem = &machine.mem;
        let mem_size = memory::size(mem);
        let mem_file = memory::sparse_memfd(c"vivarium-snapshot", mem_size, |buf, at| {
            mem.read_slice(buf, GuestAddress(at))
                .map_err(|source| MemoryError::Access { what: "snapshot read", source })
        })?;
        let disk = match &machine.disk_path {
            Some(path) => Some(state::save_disk(path, &runner.mmio)?),
            None => None,
        };
        config.gdb = gdb;
        Ok(Snapshot {
            config,
            at_mark,
            mem_file: Arc::new(mem_file),
            mem_size,
            plan_base,
            trace_range,
            vcpu,
            vm,
            serial,
            disk,
            marks: ran.progress.marks,
            console,
            log: machine.log.as_ref().map(take_capture).unwrap_or_default(),
            boot_time: machine.start.elapsed(),
        })
    }

    /// Runs one experiment from the snapshot to its end. The outcome's
    /// console, log and marks start with the snapshot's; its statistics and
    /// trace count from the restore.
    pub fn run(&self, exp: &ExperimentConfig) -> Result<RunOutcome, Error> {
        let config = exp.run_config(self)?;
        let clock = std::time::Instant::now();
        let machine = Machine::build(&config, Some(self))?;
        log::debug!("experiment: restore and build {:.1} ms", ms(clock.elapsed()));
        run_to_end(machine, &config)
    }
}

/// Runs `machine` to its end (with stdin forwarded if `config` says so)
/// and collects the outcome.
fn run_to_end(machine: Machine, config: &RunConfig) -> Result<RunOutcome, Error> {
    let stdin = if config.forward_stdin {
        let stdin = StdinThread::spawn(libc::STDIN_FILENO, machine.serial.clone(), machine.room.clone());
        Some(stdin.map_err(|source| RunError::Thread { what: "stdin", source })?)
    } else {
        None
    };
    let clock = std::time::Instant::now();
    let (machine, ran) = supervise(machine, config)?;
    log::debug!("run: guest ran {:.1} ms", ms(clock.elapsed()));
    if let Some(stdin) = stdin {
        stdin.stop();
    }
    if let Some(path) = &config.disk_out {
        if let Some(disk) = machine.runner.mmio.disk() {
            disk.device().write_out(path)?;
        }
    }
    if config.echo_console {
        let _ = std::io::stdout().flush();
    }
    let clock = std::time::Instant::now();
    let outcome = finish(machine, ran);
    log::debug!("run: outcome and teardown {:.1} ms", ms(clock.elapsed()));
    Ok(outcome)
}

/// `d` in milliseconds, for the phase timings at debug level.
fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// What [`supervise`] hands back besides the machine.
struct Ran {
    progress: Progress,
    /// How the guest ended; `None`: paused at `pause_at_mark`.
    ended: Option<Exit>,
    stop_hook: Option<StopHook>,
    spin_guard: Option<watchdog::SpinGuard>,
    /// The vCPU thread's host CPU time.
    vcpu_cpu: Option<ThreadCpu>,
}

/// Runs the machine's vCPU on its own thread under the watchdog until the
/// guest ends (or `config.timeout` passes, which sets `timed_out` and
/// kicks the vCPU out) or writes `pause_at_mark`; the machine comes back
/// with the runner in it. SWIFI's Stop hook and experiment mode's spin tick are
/// attached here, from `config`.
fn supervise(mut machine: Machine, config: &RunConfig) -> Result<(Machine, Ran), Error> {
    watchdog::install()?;
    let stop_hook = config.swifi.and_then(|spec| {
        crate::inject::swifi::stop_hook(spec, config.archive.clone(), &machine.mem, machine.plan.as_ref())
    });
    let (spin_guard, spin_tick) =
        watchdog::SpinGuard::for_run(config, &machine.mem, machine.plan.as_ref(), &machine.vm).unzip();
    machine.runner.on_fault_stop = stop_hook.as_ref().map(|h| h.boxed());
    machine.runner.spin_tick = spin_tick;
    machine.runner.profiler =
        config.profile_hz.map(|hz| crate::observe::profile::Sampler::new(&machine.mem, &config.kernel, hz));
    if let Some(gdb) = &config.gdb {
        let setup = debug_setup(gdb, &machine, config, stop_hook.clone());
        let debugger = Box::new(crate::debug::Debugger::new(setup)?);
        machine.runner.debug_interrupt = Some(debugger.interrupt_flag());
        machine.runner.debugger = Some(debugger);
    }
    let kicks = watchdog::Kicks {
        timeout: config.timeout,
        // The profiler's rate, or with an instruction budget at least
        // one kick every `BUDGET_KICK` (`vcpu::InstructionBudget`).
        sample_every: match (config.profile_hz, machine.runner.instruction_budget.is_some()) {
            (Some(hz), _) => Some(Duration::from_secs(1) / hz.max(1)),
            (None, true) => Some(super::vcpu::BUDGET_KICK),
            (None, false) => None,
        },
    };
    let timed_out = machine.runner.timed_out.clone();
    let (runner, progress, ended, vcpu_cpu) = run_vcpu_thread(machine.runner, kicks, &timed_out, spin_guard.as_ref())?;
    machine.runner = runner;
    Ok((machine, Ran { progress, ended, stop_hook, spin_guard, vcpu_cpu }))
}

/// What the gdb stub needs of `machine`: its memory, the kernel ELF, the
/// run's SWIFI mutations and what this KVM's guest debugging offers.
fn debug_setup<'a>(
    gdb: &'a crate::debug::GdbConfig,
    machine: &'a Machine,
    config: &'a RunConfig,
    swifi: Option<StopHook>,
) -> crate::debug::DebugSetup<'a> {
    use kvm_ioctls::Cap;
    crate::debug::DebugSetup {
        config: gdb,
        mem: &machine.mem,
        kernel_elf: &config.kernel,
        kick_signal: watchdog::kick_signal(),
        swifi,
        has_guest_debug: machine.vm.check_extension(Cap::SetGuestDebug),
        guest_debug_flags: machine.vm.check_extension_raw(kvm_bindings::KVM_CAP_SET_GUEST_DEBUG2.into()).max(0) as u32,
        kernel_only: super::config::HostKind::detect() == super::config::HostKind::SoftwarePvm,
    }
}

/// The outcome of a run that ended: the run loop's result, the fault
/// counters read back from the plan region, SWIFI's mutations.
fn finish(machine: Machine, ran: Ran) -> RunOutcome {
    let Machine { vm, mem, console, log, plan, temp_disk, start, mut earlier_marks, runner, .. } = machine;
    let wall_time = start.elapsed();
    let exit = ran.ended.unwrap_or(Exit::VmError("the run paused and was not resumed".into()));
    let result = runner.finish(ran.progress, exit);
    let counters = plan.map(|region| region.counters(&mem));
    let command_ticks = counters.as_ref().map(|c| c.command_ticks);
    let counters = counters.unwrap_or_default();
    // The VM and its memory go away together, after the vCPU thread; a
    // temporary disk after both.
    drop(vm);
    drop(mem);
    drop(temp_disk);
    earlier_marks.extend(result.marks);
    RunOutcome {
        exit: result.exit,
        marks: earlier_marks,
        final_stats: result.final_stats,
        wall_time,
        console: console.as_ref().map(take_capture),
        log: log.as_ref().map(take_capture),
        trace: result.trace,
        fault_counters: counters.per_rule,
        faults_injected: counters.total,
        restart_counts: counters.restarts,
        fault_stops: result.fault_stops,
        swifi: ran.stop_hook.map(|h| h.mutations()).unwrap_or_default(),
        command_ticks,
        command_status: counters.command_status,
        check_status: counters.check_status,
        spin_ticks: ran.spin_guard.map_or(0, |g| g.raised()),
        profile: result.profile,
        vcpu_cpu: ran.vcpu_cpu,
    }
}

/// Runs `runner` on its own thread under the watchdog until the guest ends
/// or pauses at its mark; hands the runner back with what the run produced
/// and the CPU time the thread used.
fn run_vcpu_thread(
    runner: VcpuRunner,
    kicks: watchdog::Kicks,
    timed_out: &Arc<AtomicBool>,
    spin: Option<&watchdog::SpinGuard>,
) -> Result<(VcpuRunner, Progress, Option<Exit>, Option<ThreadCpu>), Error> {
    let (done_tx, done_rx) = mpsc::channel();
    let tid_slot = spin.map(|s| s.vcpu_tid.clone());
    let handle = std::thread::Builder::new()
        .name("viv-vcpu0".into())
        .spawn(move || {
            if let Some(slot) = tid_slot {
                // SAFETY: gettid has no preconditions.
                slot.store(unsafe { libc::gettid() }, std::sync::atomic::Ordering::Release);
            }
            let mut runner = runner;
            let mut progress = Progress::default();
            let ended = runner.run_until(&mut progress);
            let cpu = thread_cpu();
            let _ = done_tx.send(());
            (runner, progress, ended, cpu)
        })
        .map_err(|source| RunError::Thread { what: "vCPU", source })?;
    watchdog::supervise(&handle, kicks, timed_out, &done_rx, spin);
    handle.join().map_err(|_| RunError::VcpuPanicked.into())
}

/// The CPU the calling vCPU thread used, logged at debug level: system
/// time is KVM's work for the guest (on software KVM almost all of it
/// emulating kernel instructions), user time the guest's user mode and
/// the exits' handling. Beside the run's wall time it says how long the
/// vCPU waited for a host CPU (`docs/campaigns.md`, "Where an
/// experiment's wall time goes").
fn thread_cpu() -> Option<ThreadCpu> {
    let cpu = ThreadCpu::of_this_thread();
    if let Some(cpu) = cpu {
        log::debug!(
            "vCPU thread: {:.1} ms user, {:.1} ms system, {} involuntary context switches",
            ms(cpu.user),
            ms(cpu.system),
            cpu.involuntary_switches
        );
    }
    cpu
}
