//! The `gdbstub` target: registers, memory, threads and breakpoints of the
//! guest, for the session loop ([`super::session`]) that runs it.

use gdbstub::common::{Signal, Tid};
use gdbstub::target::ext::base::multithread::{
    MultiThreadBase, MultiThreadResume, MultiThreadResumeOps, MultiThreadSchedulerLocking,
    MultiThreadSchedulerLockingOps, MultiThreadSingleStep, MultiThreadSingleStepOps,
};
use gdbstub::target::ext::base::BaseOps;
use gdbstub::target::ext::breakpoints::{
    Breakpoints as GdbBreakpoints, BreakpointsOps, HwBreakpoint, HwBreakpointOps, HwWatchpoint, HwWatchpointOps,
    SwBreakpoint, SwBreakpointOps, WatchKind,
};
use gdbstub::target::ext::thread_extra_info::{ThreadExtraInfo, ThreadExtraInfoOps};
use gdbstub::target::{Target, TargetError, TargetResult};
use gdbstub_arch::x86::reg::X86_64CoreRegs;
use gdbstub_arch::x86::X86_64_SSE;
use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap};

use super::breakpoints::{Breakpoints, HwKind, HwSlot};
use super::placement::{self, Candidate, Refusal, Request};
use super::threads::{read_frame, write_frame, ProcessTable, SavedRegs, KERNEL_TID};
use super::Guest;
use crate::observe::profile::paging::translate;

/// What the session keeps between stops.
pub struct State {
    pub mem: GuestMemoryMmap,
    pub procs: ProcessTable,
    pub bps: Breakpoints,
    /// The resume action gdb asked for: single step (else continue).
    pub step: bool,
    /// The thread whose memory or registers gdb last accessed: gdb reads
    /// the code at a breakpoint in the selected thread before it inserts
    /// one, and the insertion itself names no thread, so a user-space
    /// breakpoint goes into this thread's address space.
    pub last_tid: Option<Tid>,
    /// Only kernel code can be debugged (`super::DebugSetup::kernel_only`).
    pub kernel_only: bool,
    /// The debugger's own breakpoint (`--break-at-injection`), not gdb's.
    pub internal: Option<u64>,
    /// `--break-at-injection` in a SWIFI run: stop at the next fault-plan
    /// Stop, after its mutation.
    pub stop_after_mutation: bool,
    /// The run's SWIFI mutations, for `monitor injection`.
    pub swifi: Option<crate::inject::swifi::StopHook>,
    /// User breakpoints and steps through the kernel (`kvm_pvm`).
    pub user_traps: Option<super::user_traps::UserTraps>,
    /// The process stopped at a user trap: gdb sees and changes the
    /// registers of its frame, not the vCPU's (the kernel's, in its exit).
    pub user_stop: Option<UserStopAt>,
    /// The process asked to step (the trap flag set in its frame).
    pub user_step: Option<UserStopAt>,
    /// The program whose symbols gdb uses (`monitor program NAME`, which
    /// the generated script's `viv-NAME` issues): user-code breakpoints
    /// go only into processes running it ([`super::placement`]).
    pub symbols: Option<String>,
}

/// A process stopped at a user trap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserStopAt {
    /// Its thread id.
    pub tid: usize,
    /// Guest-physical address of its trap frame.
    pub frame: u64,
}

impl State {
    /// False (with the reason logged) for a breakpoint at `addr` (a
    /// `software` one or not) or any watchpoint (`addr` None) that this
    /// host cannot give. On `kvm_pvm` software breakpoints in user code go
    /// through the kernel ([`super::user_traps`]); the debug registers'
    /// hits are never reported there.
    fn can_debug(&self, addr: Option<u64>, software: bool) -> bool {
        let user = addr.is_none_or(is_user);
        if !self.kernel_only || !user || (software && self.user_traps.is_some()) {
            return true;
        }
        let why = if self.user_traps.is_some() { super::NO_DEBUG_REGISTERS } else { super::KERNEL_ONLY };
        match addr {
            Some(a) => log::warn!("gdb: breakpoint at {a:#x}: {why}"),
            None => log::warn!("gdb: watchpoint: {why}"),
        }
        false
    }
}

/// The target gdbstub drives: the guest's vCPU and the session's state.
pub struct Stub<'a, G: Guest> {
    pub guest: &'a mut G,
    pub st: &'a mut State,
}

/// An error of the target (the vCPU's registers could not be read).
#[derive(Debug, thiserror::Error)]
#[error("gdb: {what}: {source}")]
pub struct TargetFailure {
    what: &'static str,
    source: kvm_ioctls::Error,
}

fn kvm(what: &'static str) -> impl FnOnce(kvm_ioctls::Error) -> TargetError<TargetFailure> {
    move |source| TargetError::Fatal(TargetFailure { what, source })
}

const PAGE: u64 = 4096;

impl<G: Guest> Stub<'_, G> {
    /// CR3 of the loaded address space.
    pub fn cr3(&self) -> u64 {
        self.guest.vcpu().get_sregs().map_or(0, |s| s.cr3)
    }

    /// The thread whose address space is loaded.
    pub fn current_tid(&self) -> Tid {
        tid(self.st.procs.current_tid(&self.st.mem, self.cr3()))
    }

    /// The page-table root to translate `tid`'s addresses with; `None`
    /// while paging is off (boot), when addresses are physical.
    fn root_of(&self, tid: Tid) -> Option<u64> {
        const CR0_PG: u64 = 1 << 31;
        let sregs = self.guest.vcpu().get_sregs().ok()?;
        if sregs.cr0 & CR0_PG == 0 {
            return None;
        }
        if tid == self.current_tid() {
            return Some(sregs.cr3);
        }
        let procs = self.st.procs.processes(&self.st.mem);
        Some(procs.iter().find(|p| p.tid == tid.get()).map_or(sregs.cr3, |p| p.root))
    }

    /// Whether gdb sees `tid`'s registers in the vCPU: the thread that
    /// runs, unless it is stopped at a user trap (the vCPU is then in the
    /// kernel's doorbell exit, the process's registers in its frame).
    fn runs_on_vcpu(&self, tid: Tid) -> bool {
        tid == self.current_tid() && self.st.user_stop.is_none_or(|s| s.tid != tid.get())
    }

    /// The saved frame of a thread that is not running.
    fn frame_of(&self, tid: Tid) -> Option<u64> {
        let procs = self.st.procs.processes(&self.st.mem);
        procs.iter().find(|p| p.tid == tid.get()).and_then(|p| p.frame)
    }

    /// The guest-physical address of `virt` in `tid`'s address space.
    pub fn phys(&self, tid: Tid, virt: u64) -> Option<u64> {
        to_phys(&self.st.mem, self.root_of(tid), virt)
    }

    fn live_registers(&self, regs: &mut X86_64CoreRegs) -> TargetResult<(), Self> {
        let vcpu = self.guest.vcpu();
        let r = vcpu.get_regs().map_err(kvm("KVM_GET_REGS"))?;
        let s = vcpu.get_sregs().map_err(kvm("KVM_GET_SREGS"))?;
        regs.regs = [
            r.rax, r.rbx, r.rcx, r.rdx, r.rsi, r.rdi, r.rbp, r.rsp, r.r8, r.r9, r.r10, r.r11, r.r12, r.r13, r.r14,
            r.r15,
        ];
        regs.rip = r.rip;
        regs.eflags = r.rflags as u32;
        regs.segments.cs = s.cs.selector as u32;
        regs.segments.ss = s.ss.selector as u32;
        regs.segments.ds = s.ds.selector as u32;
        regs.segments.es = s.es.selector as u32;
        regs.segments.fs = s.fs.selector as u32;
        regs.segments.gs = s.gs.selector as u32;
        if let Ok(fpu) = vcpu.get_fpu() {
            for (x, raw) in regs.xmm.iter_mut().zip(fpu.xmm.iter()) {
                *x = u128::from_le_bytes(*raw);
            }
            regs.mxcsr = fpu.mxcsr;
        }
        Ok(())
    }

    fn write_live_registers(&self, regs: &X86_64CoreRegs) -> TargetResult<(), Self> {
        let vcpu = self.guest.vcpu();
        let mut r = vcpu.get_regs().map_err(kvm("KVM_GET_REGS"))?;
        let g = regs.regs;
        (r.rax, r.rbx, r.rcx, r.rdx, r.rsi, r.rdi, r.rbp, r.rsp) = (g[0], g[1], g[2], g[3], g[4], g[5], g[6], g[7]);
        (r.r8, r.r9, r.r10, r.r11, r.r12, r.r13, r.r14, r.r15) = (g[8], g[9], g[10], g[11], g[12], g[13], g[14], g[15]);
        r.rip = regs.rip;
        r.rflags = (r.rflags & !0xFFFF_FFFF) | u64::from(regs.eflags);
        vcpu.set_regs(&r).map_err(kvm("KVM_SET_REGS"))?;
        Ok(())
    }
}

/// `va` through the page tables at `root`, or as it is with paging off.
fn to_phys(mem: &GuestMemoryMmap, root: Option<u64>, va: u64) -> Option<u64> {
    match root {
        Some(root) => translate(mem, root, va),
        None => Some(va),
    }
}

/// A thread id (ids are never 0).
pub fn tid(id: usize) -> Tid {
    Tid::new(id).unwrap_or(Tid::new(KERNEL_TID).expect("KERNEL_TID is not 0"))
}

impl<G: Guest> Target for Stub<'_, G> {
    type Arch = X86_64_SSE;
    type Error = TargetFailure;

    fn base_ops(&mut self) -> BaseOps<'_, Self::Arch, Self::Error> {
        BaseOps::MultiThread(self)
    }

    fn support_breakpoints(&mut self) -> Option<BreakpointsOps<'_, Self>> {
        Some(self)
    }

    fn support_monitor_cmd(&mut self) -> Option<gdbstub::target::ext::monitor_cmd::MonitorCmdOps<'_, Self>> {
        Some(self)
    }
}

impl<G: Guest> MultiThreadBase for Stub<'_, G> {
    fn read_registers(&mut self, regs: &mut X86_64CoreRegs, tid: Tid) -> TargetResult<(), Self> {
        self.st.last_tid = Some(tid);
        if self.runs_on_vcpu(tid) {
            return self.live_registers(regs);
        }
        let saved = self.frame_of(tid).and_then(|at| read_frame(&self.st.mem, at)).ok_or(TargetError::Errno(14))?;
        regs.regs = saved.gprs;
        regs.rip = saved.rip;
        regs.eflags = saved.rflags as u32;
        regs.segments.cs = saved.cs as u32;
        regs.segments.ss = saved.ss as u32;
        Ok(())
    }

    fn write_registers(&mut self, regs: &X86_64CoreRegs, tid: Tid) -> TargetResult<(), Self> {
        if self.runs_on_vcpu(tid) {
            return self.write_live_registers(regs);
        }
        let at = self.frame_of(tid).ok_or(TargetError::Errno(14))?;
        let saved = SavedRegs { gprs: regs.regs, rip: regs.rip, rflags: u64::from(regs.eflags), cs: 0, ss: 0 };
        if write_frame(&self.st.mem, at, &saved) {
            Ok(())
        } else {
            Err(TargetError::Errno(14))
        }
    }

    fn read_addrs(&mut self, start: u64, data: &mut [u8], tid: Tid) -> TargetResult<usize, Self> {
        self.st.last_tid = Some(tid);
        let root = self.root_of(tid);
        let mut done = 0;
        while done < data.len() {
            let va = start.wrapping_add(done as u64);
            let Some(pa) = to_phys(&self.st.mem, root, va) else { break };
            let n = ((PAGE - va % PAGE) as usize).min(data.len() - done);
            if self.st.mem.read_slice(&mut data[done..done + n], GuestAddress(pa)).is_err() {
                break;
            }
            done += n;
        }
        if done == 0 && !data.is_empty() {
            return Err(TargetError::Errno(14));
        }
        Ok(done)
    }

    fn write_addrs(&mut self, start: u64, data: &[u8], tid: Tid) -> TargetResult<(), Self> {
        let root = self.root_of(tid);
        let mut done = 0;
        while done < data.len() {
            let va = start.wrapping_add(done as u64);
            let pa = to_phys(&self.st.mem, root, va).ok_or(TargetError::Errno(14))?;
            let n = ((PAGE - va % PAGE) as usize).min(data.len() - done);
            self.st.mem.write_slice(&data[done..done + n], GuestAddress(pa)).map_err(|_| TargetError::Errno(14))?;
            done += n;
        }
        Ok(())
    }

    fn list_active_threads(&mut self, thread_is_active: &mut dyn FnMut(Tid)) -> Result<(), Self::Error> {
        let current = self.current_tid();
        if current.get() == KERNEL_TID {
            thread_is_active(current);
        }
        for p in self.st.procs.processes(&self.st.mem) {
            thread_is_active(tid(p.tid));
        }
        Ok(())
    }

    fn support_resume(&mut self) -> Option<MultiThreadResumeOps<'_, Self>> {
        Some(self)
    }

    fn support_thread_extra_info(&mut self) -> Option<ThreadExtraInfoOps<'_, Self>> {
        Some(self)
    }
}

impl<G: Guest> ThreadExtraInfo for Stub<'_, G> {
    fn thread_extra_info(&self, tid: Tid, buf: &mut [u8]) -> Result<usize, Self::Error> {
        let procs = self.st.procs.processes(&self.st.mem);
        let text = match procs.iter().find(|p| p.tid == tid.get()) {
            Some(p) => format!("{} (endpoint {})", p.name, p.endpoint),
            None => "kernel".to_string(),
        };
        let n = text.len().min(buf.len());
        buf[..n].copy_from_slice(&text.as_bytes()[..n]);
        Ok(n)
    }
}

/// There is one vCPU: whatever thread gdb resumes, the vCPU runs (and
/// with it whichever process the kernel schedules).
impl<G: Guest> MultiThreadResume for Stub<'_, G> {
    fn resume(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }

    fn clear_resume_actions(&mut self) -> Result<(), Self::Error> {
        self.st.step = false;
        Ok(())
    }

    fn set_resume_action_continue(&mut self, _tid: Tid, _signal: Option<Signal>) -> Result<(), Self::Error> {
        Ok(())
    }

    fn support_single_step(&mut self) -> Option<MultiThreadSingleStepOps<'_, Self>> {
        Some(self)
    }

    fn support_scheduler_locking(&mut self) -> Option<MultiThreadSchedulerLockingOps<'_, Self>> {
        Some(self)
    }
}

/// gdb locks the scheduler while it steps: with one vCPU only the running
/// thread moves anyway.
impl<G: Guest> MultiThreadSchedulerLocking for Stub<'_, G> {
    fn set_resume_action_scheduler_lock(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

impl<G: Guest> MultiThreadSingleStep for Stub<'_, G> {
    fn set_resume_action_step(&mut self, _tid: Tid, _signal: Option<Signal>) -> Result<(), Self::Error> {
        self.st.step = true;
        Ok(())
    }
}

impl<G: Guest> GdbBreakpoints for Stub<'_, G> {
    fn support_sw_breakpoint(&mut self) -> Option<SwBreakpointOps<'_, Self>> {
        Some(self)
    }

    fn support_hw_breakpoint(&mut self) -> Option<HwBreakpointOps<'_, Self>> {
        Some(self)
    }

    fn support_hw_watchpoint(&mut self) -> Option<HwWatchpointOps<'_, Self>> {
        Some(self)
    }
}

impl<G: Guest> SwBreakpoint for Stub<'_, G> {
    fn add_sw_breakpoint(&mut self, addr: u64, _kind: usize) -> TargetResult<bool, Self> {
        if !self.st.can_debug(Some(addr), true) {
            return Ok(false);
        }
        // Kernel code is the same in every address space; user code is
        // the selected process's (and that of every process sharing its
        // physical pages: the boot image's programs are mapped in place).
        let tid = self.st.last_tid.unwrap_or_else(|| self.current_tid());
        let pa = if is_user(addr) {
            match self.user_placement(addr, tid) {
                Ok(target) => self.phys(target, addr),
                Err(refusal) => {
                    log::warn!("gdb: {refusal}");
                    return Ok(false);
                }
            }
        } else {
            self.phys(tid, addr).or_else(|| self.phys(self.current_tid(), addr))
        };
        let Some(pa) = pa else { return Ok(false) };
        Ok(self.st.bps.add_sw(&self.st.mem, addr, pa))
    }

    fn remove_sw_breakpoint(&mut self, addr: u64, _kind: usize) -> TargetResult<bool, Self> {
        Ok(self.st.bps.remove_sw(&self.st.mem, addr))
    }
}

/// Whether `addr` is in the user range (each process's own code).
fn is_user(addr: u64) -> bool {
    (abi::layout::USER_BASE..abi::layout::USER_END).contains(&addr)
}

impl<G: Guest> Stub<'_, G> {
    /// The thread whose process a breakpoint at the user address `addr`
    /// goes into, gdb having last looked at `selected`
    /// ([`super::placement`]).
    fn user_placement(&self, addr: u64, selected: Tid) -> Result<Tid, Refusal> {
        let procs = self.st.procs.processes(&self.st.mem);
        let candidates: Vec<Candidate> =
            procs.iter().map(|p| Candidate { tid: p.tid, program: p.name.as_str() }).collect();
        let request = Request {
            addr,
            selected: candidates.iter().copied().find(|c| c.tid == selected.get()),
            processes: &candidates,
            symbols: self.st.symbols.as_deref(),
        };
        let in_code = |program: &str| {
            crate::image::embedded::program_with_debug_info(program).and_then(|elf| placement::is_code(elf, addr))
        };
        let target = placement::choose(&request, in_code)?;
        if target != selected.get() {
            log::info!("gdb: breakpoint at {addr:#x} goes into Thread 1.{target}, which runs gdb's symbols' program");
        }
        Ok(tid(target))
    }
}

impl<G: Guest> HwBreakpoint for Stub<'_, G> {
    fn add_hw_breakpoint(&mut self, addr: u64, _kind: usize) -> TargetResult<bool, Self> {
        if !self.st.can_debug(Some(addr), false) {
            return Ok(false);
        }
        Ok(self.st.bps.add_hw(HwSlot { addr, len: 1, kind: HwKind::Execute }))
    }

    fn remove_hw_breakpoint(&mut self, addr: u64, _kind: usize) -> TargetResult<bool, Self> {
        Ok(self.st.bps.remove_hw(HwSlot { addr, len: 1, kind: HwKind::Execute }))
    }
}

fn watch_slot(addr: u64, len: u64, kind: WatchKind) -> Option<HwSlot> {
    let kind = match kind {
        WatchKind::Write => HwKind::Write,
        // x86 has no read-only watchpoints: read/write stands in.
        WatchKind::Read | WatchKind::ReadWrite => HwKind::ReadWrite,
    };
    // The CPU watches aligned 1, 2, 4 or 8 bytes.
    (matches!(len, 1 | 2 | 4 | 8) && addr.is_multiple_of(len)).then_some(HwSlot { addr, len, kind })
}

impl<G: Guest> HwWatchpoint for Stub<'_, G> {
    fn add_hw_watchpoint(&mut self, addr: u64, len: u64, kind: WatchKind) -> TargetResult<bool, Self> {
        if !self.st.can_debug(None, false) {
            return Ok(false);
        }
        Ok(watch_slot(addr, len, kind).is_some_and(|slot| self.st.bps.add_hw(slot)))
    }

    fn remove_hw_watchpoint(&mut self, addr: u64, len: u64, kind: WatchKind) -> TargetResult<bool, Self> {
        Ok(watch_slot(addr, len, kind).is_some_and(|slot| self.st.bps.remove_hw(slot)))
    }
}

/// gdb's name for a watchpoint's kind.
pub fn watch_kind(kind: HwKind) -> WatchKind {
    match kind {
        HwKind::Write => WatchKind::Write,
        _ => WatchKind::ReadWrite,
    }
}
