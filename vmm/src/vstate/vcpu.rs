//! The vCPU run loop: `KVM_RUN`, then handle the exit, until the guest
//! powers off, faults, fails or runs out of time.
//!
//! Why so few exit kinds are expected: with KVM's in-kernel irqchip the
//! LAPIC, its timer and `hlt` are handled inside KVM, so the guest only
//! exits to us for port I/O (UART, power-off, bench marks; the log port
//! only when KVM's coalesced-I/O ring for it is full) and MMIO
//! outside RAM (the virtio-blk registers when a disk is attached: a disk
//! request costs one exit and is served before the guest resumes).
//! Anything else is reported as a VM error with its reason; guest
//! behaviour never panics the VMM.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use kvm_bindings::KVM_INTERNAL_ERROR_EMULATION;
use kvm_ioctls::{VcpuExit, VcpuFd};

use crate::debug::Event;
use crate::devices::limits::{HostLimits, Limit, LimitFlag};
use crate::devices::{IoAction, MmioBus, PortIo};
use crate::observe::{TraceLog, TraceRing};
use crate::vstate::outcome::{Exit, Mark};
use crate::vstate::stats::{StatsSnapshot, VcpuStats};
use abi::platform::PORT_LOG;

/// What the vCPU thread hands back.
#[derive(Debug)]
pub struct VcpuResult {
    /// How the run ended.
    pub exit: Exit,
    /// Bench marks, in order.
    pub marks: Vec<Mark>,
    /// Statistics at the end.
    pub final_stats: StatsSnapshot,
    /// The IPC trace, when the run traced.
    pub trace: Option<TraceLog>,
    /// Rule index of every fault-plan Stop event.
    pub fault_stops: Vec<u32>,
    /// The profiler's samples, when the run was profiled.
    pub profile: Option<crate::observe::profile::Samples>,
}

/// A configured vCPU with its devices, ready to run.
pub struct VcpuRunner {
    /// The vCPU.
    pub vcpu: VcpuFd,
    /// Port-I/O devices.
    pub io: PortIo,
    /// Memory-mapped devices.
    pub mmio: MmioBus,
    /// Its statistics, if KVM offers them.
    pub stats: Option<VcpuStats>,
    /// When the run started (marks are timed from here).
    pub start: Instant,
    /// Set by the watchdog when the deadline has passed.
    pub timed_out: Arc<AtomicBool>,
    /// The IPC trace ring, drained at each doorbell and at the end.
    pub trace: Option<TraceRing>,
    /// Pause ([`VcpuRunner::run_until`] returns) when the guest writes
    /// this bench mark (snapshots are taken there).
    pub pause_at_mark: Option<u32>,
    /// Called at every fault-plan Stop while the guest is paused in the
    /// doorbell exit (host-side SWIFI, `crate::inject::swifi`).
    pub on_fault_stop: Option<crate::inject::swifi::OnStop>,
    /// Experiment mode's spin tick (`crate::vstate::watchdog`), checked at kicks.
    pub spin_tick: Option<crate::vstate::watchdog::SpinTick>,
    /// The sampling profiler, which samples at every kick.
    pub profiler: Option<crate::observe::profile::Sampler>,
    /// Caps on what the guest can make the host keep.
    pub limits: HostLimits,
    /// Where the devices report a cap reached; checked after every exit.
    pub limit_reached: LimitFlag,
    /// The gdb stub (`--gdb`), which then drives the run
    /// (`crate::debug`); `None`: the plain loop.
    pub debugger: Option<Box<crate::debug::Debugger>>,
    /// Set when the debugger wants the vCPU back (checked at kicks).
    pub debug_interrupt: Option<crate::debug::InterruptFlag>,
    /// The console's capture, whose length each mark records.
    pub console: Option<Arc<std::sync::Mutex<Vec<u8>>>>,
    /// The run's kernel-instruction budget, checked after every exit.
    pub instruction_budget: Option<InstructionBudget>,
    /// The log port's writes wait in the vCPU's coalesced-I/O ring
    /// (`machine::coalesce_log_port`), drained at every exit the guest
    /// causes (never at a kick).
    pub coalesced_log: bool,
}

/// How often the watchdog kicks a vCPU with an instruction budget, so
/// that a guest which burns kernel instructions without exiting to the
/// VMM (a loop in the kernel) is still seen. A kick is not a kernel entry:
/// the guest sees nothing of it.
pub const BUDGET_KICK: std::time::Duration = std::time::Duration::from_millis(100);

/// A budget of kernel instructions (KVM's `insn_emulation`, which on
/// software KVM counts every guest kernel instruction exactly).
///
/// Why checked at exits: the VMM sees the vCPU only when it exits (port
/// and MMIO I/O, or a kick every [`BUDGET_KICK`] for a guest that makes
/// none). The run ends at the first of those past the budget, so where
/// exactly it ends may vary between runs by up to a kick's worth of guest
/// work, never how it is classed; the virtual-time budget, which the
/// kernel checks, is the one that ends a hang at the same tick every run.
#[derive(Debug, Clone, Copy)]
pub struct InstructionBudget {
    counter: crate::vstate::stats::Counter,
    limit: u64,
}

impl InstructionBudget {
    /// A budget of `limit` instructions, if `limit` is not 0 and KVM
    /// counts kernel instructions (`stats` has `insn_emulation`).
    pub fn new(stats: Option<&VcpuStats>, limit: u64) -> Option<InstructionBudget> {
        if limit == 0 {
            return None;
        }
        let counter = stats?.counter("insn_emulation");
        if counter.is_none() {
            log::warn!("KVM counts no kernel instructions here: the instruction budget is off");
        }
        Some(InstructionBudget { counter: counter?, limit })
    }

    /// Whether the vCPU has spent the budget (a failed read: not spent).
    fn spent(&self, stats: Option<&VcpuStats>) -> bool {
        stats.and_then(|s| s.read(self.counter).ok()).is_some_and(|n| n > self.limit)
    }
}

/// What a run has produced so far (kept across a pause).
#[derive(Debug, Default)]
pub struct Progress {
    /// Bench marks, in order.
    pub marks: Vec<Mark>,
    /// Rule index of every fault-plan Stop event.
    pub fault_stops: Vec<u32>,
}

/// What one exit means for the loop.
enum Step {
    /// The guest runs on after a kick (a signal: the watchdog, the
    /// profiler, the debugger), an exit the guest did not cause.
    Kicked,
    Continue,
    Mark(u32),
    FaultStop(u32),
    /// The kernel's debug-trap doorbell (`abi::debug`) for this slot.
    DebugTrap(u32),
    End(Exit),
    InternalError,
    /// A debug exit (only with the debugger's guest-debug settings).
    Debug(kvm_bindings::kvm_debug_exit_arch),
    /// A kick the debugger asked for.
    Interrupted,
}

impl VcpuRunner {
    fn snapshot(&mut self) -> StatsSnapshot {
        match self.stats.as_mut().map(|s| s.snapshot()) {
            Some(Ok(snap)) => snap,
            Some(Err(e)) => {
                log::warn!("{e}");
                StatsSnapshot::default()
            }
            None => StatsSnapshot::default(),
        }
    }

    fn rip(&self) -> String {
        match self.vcpu.get_regs() {
            Ok(regs) => format!("{:#x}", regs.rip),
            Err(_) => "?".into(),
        }
    }

    fn emulation_failed(&mut self) -> bool {
        // SAFETY: as in `internal_error`, called for KVM_EXIT_INTERNAL_ERROR.
        let internal = unsafe { self.vcpu.get_kvm_run().__bindgen_anon_1.internal };
        internal.suberror == KVM_INTERNAL_ERROR_EMULATION
    }

    fn internal_error(&mut self) -> String {
        // SAFETY: the last exit reason was KVM_EXIT_INTERNAL_ERROR, so the
        // `internal` member of the exit union is the one KVM filled in.
        let internal = unsafe { self.vcpu.get_kvm_run().__bindgen_anon_1.internal };
        let what = if internal.suberror == KVM_INTERNAL_ERROR_EMULATION {
            "instruction emulation failed".to_string()
        } else {
            format!("suberror {}", internal.suberror)
        };
        format!("KVM internal error ({what}) at rip {}", self.rip())
    }

    /// Hands what the guest wrote to the log port since the last exit to
    /// the log, before the exit itself is served (a later byte may be the
    /// exit's own, when the ring was full).
    fn drain_coalesced_log(&mut self) {
        if !self.coalesced_log {
            return;
        }
        while let Ok(Some(entry)) = self.vcpu.coalesced_mmio_read() {
            let len = (entry.len as usize).min(entry.data.len());
            self.io.write(entry.phys_addr as u16, &entry.data[..len]);
        }
    }

    fn step(&mut self) -> Step {
        let exit = match self.vcpu.run() {
            Ok(exit) => exit,
            Err(e) if e.errno() == libc::EINTR || e.errno() == libc::EAGAIN => {
                self.vcpu.set_kvm_immediate_exit(0);
                if let Some(tick) = &self.spin_tick {
                    tick.at_kick(&self.vcpu);
                }
                if let Some(profiler) = self.profiler.as_mut() {
                    profiler.sample(&self.vcpu);
                }
                if self.debug_interrupt.as_ref().is_some_and(|flag| flag.take()) {
                    return Step::Interrupted;
                }
                return Step::Kicked;
            }
            Err(e) => return Step::End(Exit::VmError(format!("KVM_RUN failed: {e}"))),
        };
        match exit {
            VcpuExit::IoIn(port, data) => {
                self.io.read(port, data);
                Step::Continue
            }
            VcpuExit::IoOut(PORT_LOG, data) if self.coalesced_log => {
                // The ring was full: what it holds came first.
                let bytes = data.to_vec();
                self.drain_coalesced_log();
                self.io.write(PORT_LOG, &bytes);
                Step::Continue
            }
            VcpuExit::IoOut(port, data) => match self.io.write(port, data) {
                IoAction::Continue => Step::Continue,
                IoAction::PowerOff(status) => Step::End(Exit::from_poweroff(status)),
                IoAction::Mark(id) => Step::Mark(id),
                IoAction::TraceDoorbell => {
                    if let Some(ring) = self.trace.as_mut() {
                        ring.doorbell();
                    }
                    Step::Continue
                }
                IoAction::FaultStop(rule) => Step::FaultStop(rule),
                IoAction::DebugTrap(slot) => Step::DebugTrap(slot),
            },
            VcpuExit::MmioRead(addr, data) => {
                self.mmio.read(addr, data);
                Step::Continue
            }
            VcpuExit::MmioWrite(addr, data) => {
                self.mmio.write(addr, data);
                Step::Continue
            }
            VcpuExit::Intr => Step::Kicked,
            VcpuExit::Shutdown => {
                log::debug!("triple fault at rip {}", self.rip());
                Step::End(Exit::TripleFault)
            }
            VcpuExit::Hlt => Step::End(Exit::VmError("guest halted with interrupts off".into())),
            VcpuExit::FailEntry(reason, cpu) => Step::End(Exit::VmError(format!(
                "KVM could not enter the guest (hardware entry failure reason {reason:#x} on host CPU {cpu})"
            ))),
            VcpuExit::InternalError => Step::InternalError,
            VcpuExit::Debug(arch) => Step::Debug(arch),
            VcpuExit::SystemEvent(kind, data) => {
                Step::End(Exit::VmError(format!("unexpected KVM system event {kind} {data:x?}")))
            }
            other => Step::End(Exit::VmError(format!("unexpected VM exit {other:?}"))),
        }
    }

    /// Runs the guest until it ends (`Some`) or writes the bench mark
    /// `pause_at_mark` (`None`: paused in that exit, which is recorded).
    /// With a debugger, the debugger drives the run.
    pub fn run_until(&mut self, progress: &mut Progress) -> Option<Exit> {
        if let Some(mut debugger) = self.debugger.take() {
            let end = debugger.serve(&mut Debuggee { runner: self, progress });
            self.debugger = Some(debugger);
            return end;
        }
        loop {
            match self.run_to_event(progress) {
                Event::Ended(end) => return end,
                Event::Interrupted | Event::FaultStop(_) | Event::UserTrap(_) => {}
                Event::Debug(exit) => return Some(Exit::VmError(format!("unexpected debug exit {exit:x?}"))),
                Event::EmulationFailed => return Some(Exit::VmError(self.internal_error())),
            }
        }
    }

    /// Runs the guest until it ends or pauses, or for the debugger: a
    /// debug exit or an interrupt it asked for.
    fn run_to_event(&mut self, progress: &mut Progress) -> Event<Option<Exit>> {
        let end = |exit| Event::Ended(Some(exit));
        loop {
            if self.timed_out.load(Ordering::Acquire) {
                return end(Exit::Timeout);
            }
            let step = self.step();
            // Not at a kick: kicks come by the wall clock, and draining
            // there would let a later log byte find room in the ring that
            // it would not find in another run (an exit to the VMM more or
            // less, which changes KVM's instruction count by one).
            if !matches!(step, Step::Kicked | Step::Interrupted) {
                self.drain_coalesced_log();
            }
            if let Some(limit) = self.limit_reached.reached() {
                return end(Exit::GuestLimit(limit));
            }
            // Only where the guest would run on: a guest that powers off
            // at its last instruction within the budget has not overrun it,
            // and a VM error stays one.
            let runs_on = matches!(step, Step::Continue | Step::Kicked | Step::Mark(_) | Step::FaultStop(_));
            if runs_on && self.instruction_budget.is_some_and(|b| b.spent(self.stats.as_ref())) {
                return end(Exit::InstructionBudget);
            }
            match step {
                Step::Continue | Step::Kicked => {}
                Step::Mark(_) if progress.marks.len() >= self.limits.marks => {
                    return end(Exit::GuestLimit(Limit::Marks));
                }
                Step::Mark(id) => {
                    let time_ns = self.start.elapsed().as_nanos() as u64;
                    let stats = self.snapshot();
                    let console_bytes =
                        self.console.as_ref().map_or(0, |c| c.lock().unwrap_or_else(|e| e.into_inner()).len());
                    progress.marks.push(Mark { id, time_ns, stats, console_bytes });
                    if self.pause_at_mark == Some(id) {
                        return Event::Ended(None);
                    }
                }
                Step::FaultStop(rule) => {
                    // The guest is paused in this exit; the trace so far is
                    // drained so the host sees what led here. It resumes.
                    log::info!("fault plan rule {rule}: guest stopped, resuming");
                    if let Some(ring) = self.trace.as_mut() {
                        ring.drain();
                    }
                    if let Some(hook) = self.on_fault_stop.as_mut() {
                        hook(&self.vcpu, rule);
                    }
                    progress.fault_stops.push(rule);
                    if self.debug_interrupt.is_some() {
                        // The debugger may stop here, after the mutation.
                        return Event::FaultStop(rule);
                    }
                }
                // Only a debugger sets the kernel's attached flag, so only
                // a debugged run rings; the verdict left in the table (not
                // the debugger's) is right for any other.
                Step::DebugTrap(slot) if self.debug_interrupt.is_some() => return Event::UserTrap(slot),
                Step::DebugTrap(_) => {}
                Step::InternalError if self.debug_interrupt.is_some() && self.emulation_failed() => {
                    return Event::EmulationFailed;
                }
                Step::InternalError => return end(Exit::VmError(self.internal_error())),
                Step::End(exit) => return end(exit),
                Step::Debug(exit) => return Event::Debug(exit),
                Step::Interrupted => return Event::Interrupted,
            }
        }
    }

    /// The result of a run that ended with `exit`.
    pub fn finish(mut self, progress: Progress, exit: Exit) -> VcpuResult {
        self.drain_coalesced_log();
        let final_stats = self.snapshot();
        let trace = self.trace.take().map(TraceRing::finish);
        let profile = self.profiler.take().map(crate::observe::profile::Sampler::finish);
        VcpuResult { exit, marks: progress.marks, final_stats, trace, fault_stops: progress.fault_stops, profile }
    }
}

/// The run loop as the debugger drives it.
struct Debuggee<'a> {
    runner: &'a mut VcpuRunner,
    progress: &'a mut Progress,
}

impl crate::debug::Guest for Debuggee<'_> {
    type End = Option<Exit>;

    fn vcpu(&self) -> &VcpuFd {
        &self.runner.vcpu
    }

    fn run(&mut self) -> Event<Option<Exit>> {
        self.runner.run_to_event(self.progress)
    }

    fn exit_status(end: &Option<Exit>) -> Option<u8> {
        end.as_ref().map(|exit| exit.status().clamp(0, 255) as u8)
    }

    fn killed(&mut self) -> Option<Exit> {
        Some(Exit::VmError("gdb killed the guest".into()))
    }

    fn failed(&mut self) -> Option<Exit> {
        Some(Exit::VmError(self.runner.internal_error()))
    }
}
