//! The debugger session on the vCPU thread: waits for gdb (or lets the
//! guest run until gdb attaches), then alternates between serving gdb's
//! packets while the guest is stopped and running the guest until
//! something stops it, with `gdbstub`'s state machine.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use gdbstub::common::Signal;
use gdbstub::stub::state_machine::GdbStubStateMachine;
use gdbstub::stub::{DisconnectReason, GdbStub, MultiThreadStopReason};
use vm_memory::GuestMemoryMmap;

use super::breakpoints::{Breakpoints, DebugStop};
use super::conn::{Listener, Shared, Stream, Watcher};
use super::target::{watch_kind, State, Stub, UserStopAt};
use super::threads::{ProcessTable, FIRST_SLOT_TID};
use super::user_traps::{self, UserStop, UserTraps};
use super::{DebugError, DebugSetup, Event, GdbConfig, Guest, InterruptFlag};

/// The debugger of one run (`--gdb`).
pub struct Debugger {
    config: GdbConfig,
    listener: Arc<Listener>,
    mem: GuestMemoryMmap,
    procs: ProcessTable,
    supported: u32,
    kernel_only: bool,
    kick_signal: libc::c_int,
    interrupt: InterruptFlag,
    /// Where `--break-at-injection` stops (kernel code), in a run
    /// without SWIFI.
    injection: Option<u64>,
    /// The run's SWIFI mutations: `--break-at-injection` then stops after
    /// the first Stop's mutation instead.
    swifi: Option<crate::inject::swifi::StopHook>,
    /// The kernel's debugger table, on a host whose KVM does not report
    /// user-mode traps (`kernel_only`): user breakpoints and steps then go
    /// through the kernel.
    user_traps: Option<UserTraps>,
}

/// How a resume ended.
enum Resumed<E> {
    Stop(MultiThreadStopReason<u64>),
    Interrupted,
    Ended(E),
}

impl Debugger {
    /// Listens on the configured address (an error if KVM cannot debug
    /// guests or the address is taken).
    pub fn new(setup: DebugSetup<'_>) -> Result<Debugger, DebugError> {
        if !setup.has_guest_debug {
            return Err(DebugError::NoGuestDebug);
        }
        let injection = match setup.config.break_at_injection && setup.swifi.is_none() {
            true => Some(
                crate::observe::profile::symbols::SymbolTable::from_elf(setup.kernel_elf)
                    .function(super::INJECTION_FUNCTION)
                    .ok_or(DebugError::NoSymbol(super::INJECTION_FUNCTION))?,
            ),
            false => None,
        };
        let listener = Listener::bind(&setup.config.addr)?;
        let waits = if setup.config.wait { "; the guest waits for it" } else { "" };
        eprintln!("viv: gdb: listening on {}{waits}", setup.config.addr);
        Ok(Debugger {
            config: setup.config.clone(),
            listener: Arc::new(listener),
            mem: setup.mem.clone(),
            procs: ProcessTable::new(setup.kernel_elf),
            supported: setup.guest_debug_flags,
            kernel_only: setup.kernel_only,
            kick_signal: setup.kick_signal,
            interrupt: InterruptFlag::default(),
            injection,
            swifi: setup.swifi,
            user_traps: if setup.kernel_only { UserTraps::find(setup.kernel_elf) } else { None },
        })
    }

    /// The flag the run loop checks at a kick.
    pub fn interrupt_flag(&self) -> InterruptFlag {
        self.interrupt.clone()
    }

    /// Runs `guest` to its end under the debugger.
    pub fn serve<G: Guest>(&mut self, guest: &mut G) -> G::End {
        // SAFETY: pthread_self has no preconditions.
        let vcpu_thread = unsafe { libc::pthread_self() };
        let start = |listener: Option<Arc<Listener>>, stream: Option<Stream>| {
            Watcher::start(listener, stream, self.interrupt.clone(), vcpu_thread, self.kick_signal)
        };
        let (stream, mut watcher) = if self.config.wait {
            let stream = match self.listener.accept() {
                Ok(s) => s,
                Err(e) => {
                    log::warn!("gdb: accept failed ({e}); the guest runs without the debugger");
                    return run_free(guest);
                }
            };
            match stream.try_clone().map_err(DebugError::Thread).and_then(|c| start(None, Some(c))) {
                Ok(w) => (stream, w),
                Err(e) => {
                    log::warn!("{e}; the guest runs without the debugger");
                    return run_free(guest);
                }
            }
        } else {
            let watcher = match start(Some(self.listener.clone()), None) {
                Ok(w) => w,
                Err(e) => {
                    log::warn!("{e}; the guest runs without the debugger");
                    return run_free(guest);
                }
            };
            loop {
                watcher.shared.running.store(true, Ordering::Release);
                let event = guest.run();
                watcher.shared.running.store(false, Ordering::Release);
                match event {
                    Event::Ended(end) => return end,
                    Event::Interrupted => {
                        let accepted = watcher.shared.accepted.lock().unwrap_or_else(|e| e.into_inner()).take();
                        if let Some(stream) = accepted {
                            watcher.shared.stops.fetch_add(1, Ordering::AcqRel);
                            break (stream, watcher);
                        }
                    }
                    Event::Debug(_) | Event::FaultStop(_) | Event::UserTrap(_) => {}
                    Event::EmulationFailed => return guest.failed(),
                }
            }
        };
        log::info!("gdb attached");
        let end = self.session(guest, stream, &watcher.shared);
        watcher.stop();
        end
    }

    /// Serves gdb on `stream` until the run ends, gdb kills it or detaches.
    fn session<G: Guest>(&mut self, guest: &mut G, stream: Stream, shared: &Shared) -> G::End {
        let mut st = State {
            mem: self.mem.clone(),
            procs: self.procs.clone(),
            bps: Breakpoints::new(self.supported),
            step: false,
            last_tid: None,
            kernel_only: self.kernel_only,
            internal: None,
            stop_after_mutation: self.config.break_at_injection && self.swifi.is_some(),
            swifi: self.swifi.clone(),
            user_traps: self.user_traps,
            user_stop: None,
            user_step: None,
            symbols: None,
        };
        if let Some(traps) = &st.user_traps {
            traps.set_attached(&st.mem, true);
        }
        // The kernel is identity-mapped: its code's address is physical.
        if let Some(at) = self.injection {
            if st.bps.add_sw(&st.mem, at, at) {
                st.internal = Some(at);
            }
        }
        let mut stub = Stub { guest, st: &mut st };
        let mut ended: Option<G::End> = None;
        let mut sm = match GdbStub::new(stream).run_state_machine(&mut stub) {
            Ok(sm) => sm,
            Err(e) => {
                log::warn!("gdb: {e}; the guest runs without the debugger");
                return detach(&mut stub);
            }
        };
        loop {
            let next = match sm {
                GdbStubStateMachine::Idle(mut g) => match g.borrow_conn().read_byte() {
                    Ok(byte) => g.incoming_data(&mut stub, byte),
                    Err(e) => {
                        log::warn!("gdb: connection lost ({e}); the guest runs on");
                        break;
                    }
                },
                GdbStubStateMachine::Running(mut g) => match g.borrow_conn().try_read() {
                    Ok(Some(byte)) => g.incoming_data(&mut stub, byte),
                    Ok(None) => match resume(&mut stub, shared) {
                        Resumed::Stop(reason) => g.report_stop(&mut stub, reason),
                        Resumed::Interrupted => Ok(GdbStubStateMachine::Running(g)),
                        Resumed::Ended(end) => {
                            let status = G::exit_status(&end);
                            ended = Some(end);
                            let Some(status) = status else { break };
                            g.report_stop(&mut stub, MultiThreadStopReason::Exited(status))
                        }
                    },
                    Err(e) => {
                        log::warn!("gdb: connection lost ({e}); the guest runs on");
                        break;
                    }
                },
                GdbStubStateMachine::CtrlCInterrupt(g) => {
                    // A step the ^C came before is not taken later.
                    cancel_user_step(&mut stub);
                    let tid = stub.current_tid();
                    g.interrupt_handled(
                        &mut stub,
                        Some(MultiThreadStopReason::SignalWithThread { tid, signal: Signal::SIGINT }),
                    )
                }
                GdbStubStateMachine::Disconnected(g) => {
                    if let Some(end) = ended {
                        return end;
                    }
                    if g.get_reason() == DisconnectReason::Kill {
                        log::info!("gdb killed the guest");
                        return stub.guest.killed();
                    }
                    log::info!("gdb detached; the guest runs on");
                    break;
                }
            };
            sm = match next {
                Ok(sm) => sm,
                Err(e) => {
                    log::warn!("gdb: {e}; the guest runs on without the debugger");
                    break;
                }
            };
        }
        match ended {
            Some(end) => end,
            None => detach(&mut stub),
        }
    }
}

/// Runs the guest until something stops it for gdb; the guest's own
/// `int3`s are handed back to it on the way.
fn resume<G: Guest>(stub: &mut Stub<'_, G>, shared: &Shared) -> Resumed<G::End> {
    // Set when the last exit was the guest's own #BP, to give back.
    let mut inject = false;
    // A process stopped at a user trap steps through the kernel (the trap
    // flag in its frame), not with KVM's single step (which would stop at
    // the kernel's next instruction).
    let stepping = match stub.st.user_stop.take() {
        Some(stopped) if stub.st.step => {
            user_traps::set_trap_flag(&stub.st.mem, stopped.frame, true);
            stub.st.user_step = Some(stopped);
            false
        }
        _ => stub.st.step,
    };
    let resumed = loop {
        if let Err(e) = stub.st.bps.apply(stub.guest.vcpu(), stepping, inject) {
            log::warn!("gdb: KVM_SET_GUEST_DEBUG failed: {e}");
            let tid = stub.current_tid();
            break Resumed::Stop(MultiThreadStopReason::SignalWithThread { tid, signal: Signal::SIGSEGV });
        }
        shared.running.store(true, Ordering::Release);
        let event = stub.guest.run();
        shared.running.store(false, Ordering::Release);
        let mut regs = match stub.guest.vcpu().get_regs() {
            Ok(r) => r,
            Err(e) => {
                log::warn!("gdb: KVM_GET_REGS failed: {e}");
                break Resumed::Ended(stub.guest.failed());
            }
        };
        let stop = match event {
            Event::Ended(end) => break Resumed::Ended(end),
            Event::Interrupted => break Resumed::Interrupted,
            Event::FaultStop(_) if !stub.st.stop_after_mutation => continue,
            Event::FaultStop(rule) => {
                // `--break-at-injection` in a SWIFI run: once, with the
                // mutation shown (and kept for `monitor injection`).
                stub.st.stop_after_mutation = false;
                eprint!("viv: gdb: stopped after fault-plan rule {rule}'s mutation:\n{}", stub.injections());
                let tid = stub.current_tid();
                break Resumed::Stop(MultiThreadStopReason::SignalWithThread { tid, signal: Signal::SIGTRAP });
            }
            // A user-mode #BP or #DB the kernel offers (kvm_pvm).
            Event::UserTrap(slot) => match user_trap(stub, slot) {
                Some(reason) => break Resumed::Stop(reason),
                None => continue,
            },
            // Emulated kernel code cannot run int3: the emulator gives up
            // at it, with the vCPU still before it.
            Event::EmulationFailed if stub.st.bps.is_sw(regs.rip) => DebugStop::SwBreak(regs.rip),
            Event::EmulationFailed => break Resumed::Ended(stub.guest.failed()),
            Event::Debug(exit) => {
                let stop = stub.st.bps.classify(&exit, regs.rip, stepping);
                log::debug!("gdb: debug exit {exit:x?} at rip {:#x}: {stop:?}", regs.rip);
                stop
            }
        };
        let tid = stub.current_tid();
        let reason = match stop {
            DebugStop::GuestBreakpoint => {
                inject = true;
                continue;
            }
            DebugStop::SwBreak(at) => {
                if regs.rip != at {
                    regs.rip = at;
                    if let Err(e) = stub.guest.vcpu().set_regs(&regs) {
                        log::warn!("gdb: KVM_SET_REGS failed: {e}");
                    }
                }
                if stub.st.internal == Some(at) {
                    // `--break-at-injection`: once, and not gdb's own.
                    stub.st.internal = None;
                    stub.st.bps.remove_sw(&stub.st.mem, at);
                    eprintln!("viv: gdb: the fault plan's first injection (at {})", super::INJECTION_FUNCTION);
                    MultiThreadStopReason::SignalWithThread { tid, signal: Signal::SIGTRAP }
                } else {
                    MultiThreadStopReason::SwBreak(tid)
                }
            }
            DebugStop::HwBreak => MultiThreadStopReason::HwBreak(tid),
            DebugStop::Watch(slot) => {
                MultiThreadStopReason::Watch { tid, kind: watch_kind(slot.kind), addr: slot.addr }
            }
            DebugStop::Step | DebugStop::Other => {
                MultiThreadStopReason::SignalWithThread { tid, signal: Signal::SIGTRAP }
            }
        };
        break Resumed::Stop(reason);
    };
    // A step asked of a process that another stop came before: the
    // process is not stepped later behind gdb's back.
    if let Resumed::Stop(_) = resumed {
        cancel_user_step(stub);
    }
    // A request the watcher made meanwhile is answered by this stop.
    shared.interrupt.take();
    shared.stops.fetch_add(1, Ordering::AcqRel);
    resumed
}

/// The kernel offers a user-mode trap of process `slot` (`abi::debug`):
/// the stop to report when it is the debugger's (the process then resumes
/// from its frame as gdb leaves it), `None` when the kernel is to handle
/// it (the verdict the kernel left in its table).
fn user_trap<G: Guest>(stub: &mut Stub<'_, G>, slot: u32) -> Option<MultiThreadStopReason<u64>> {
    let traps = stub.st.user_traps?;
    let mem = stub.st.mem.clone();
    let trap = traps.trap(&mem).filter(|t| t.slot == u64::from(slot))?;
    let tid = slot as usize + FIRST_SLOT_TID;
    let process = stub.st.procs.processes(&mem).into_iter().find(|p| p.tid == tid)?;
    let frame = process.frame?;
    let rip = user_traps::saved_rip(&mem, frame)?;
    let stepping = stub.st.user_step.is_some_and(|s| s.frame == frame);
    let ours = |at: u64| {
        crate::observe::profile::paging::translate(&mem, process.root, at)
            .is_some_and(|pa| stub.st.bps.is_sw_at(at, pa))
    };
    let stop = user_traps::classify(&trap, rip, ours, stepping);
    log::debug!("gdb: user trap {trap:x?} of slot {slot} at rip {rip:#x}: {stop:?}");
    let gdb_tid = super::target::tid(tid);
    let reason = match stop {
        UserStop::Guest => return None,
        UserStop::Breakpoint(at) => {
            user_traps::set_saved_rip(&mem, frame, at);
            MultiThreadStopReason::SwBreak(gdb_tid)
        }
        UserStop::Step => MultiThreadStopReason::SignalWithThread { tid: gdb_tid, signal: Signal::SIGTRAP },
    };
    traps.set_verdict(&mem, true);
    stub.st.user_stop = Some(UserStopAt { tid, frame });
    Some(reason)
}

/// Clears the trap flag of a process asked to step that has not taken
/// its step (another stop, a ^C or the detach came first), so that it is
/// not stepped, and shown stopped with SIGTRAP, behind gdb's back.
fn cancel_user_step<G: Guest>(stub: &mut Stub<'_, G>) {
    if let Some(stepped) = stub.st.user_step.take() {
        user_traps::set_trap_flag(&stub.st.mem, stepped.frame, false);
    }
}

/// gdb went away: its breakpoints out of the guest, debugging off, and
/// the guest runs to its end.
fn detach<G: Guest>(stub: &mut Stub<'_, G>) -> G::End {
    cancel_user_step(stub);
    if let Some(traps) = &stub.st.user_traps {
        traps.set_attached(&stub.st.mem, false);
    }
    stub.st.bps.clear(&stub.st.mem);
    if let Err(e) = stub.st.bps.disable(stub.guest.vcpu()) {
        log::warn!("gdb: cannot switch guest debugging off: {e}");
    }
    run_free(stub.guest)
}

/// Runs the guest to its end, ignoring the debugger.
fn run_free<G: Guest>(guest: &mut G) -> G::End {
    loop {
        match guest.run() {
            Event::Ended(end) => return end,
            Event::EmulationFailed => return guest.failed(),
            Event::Interrupted | Event::Debug(_) | Event::FaultStop(_) | Event::UserTrap(_) => {}
        }
    }
}
