//! Stopping a guest that runs too long.
//!
//! Why a signal: a vCPU thread spends its time inside `KVM_RUN`, which only
//! returns on a VM exit. A guest spinning in user mode (which runs natively)
//! or sleeping in `hlt` with the in-kernel irqchip may never exit. A signal
//! delivered to the vCPU thread makes `KVM_RUN` return `EINTR`. The handler
//! itself does nothing; the run loop sees the `timed_out` flag and stops.
//!
//! A signal that lands while the vCPU thread is between two `KVM_RUN`s is
//! consumed by the handler without effect, so the watchdog repeats it every
//! [`KICK_INTERVAL`] until the vCPU thread reports that it has stopped.
//!
//! The same kick, at a fixed rate, gives the profiler its samples
//! (`crate::observe::profile`): a kick exit is not a kernel entry, so it
//! changes nothing the guest sees.
//!
//! The same thread guards experiment mode against spinning ([`SpinGuard`]):
//! guest time is virtual there and advances only with kernel entries, so
//! user code looping without system calls would freeze it (and RS, which
//! should notice the missing heartbeats). When the vCPU thread has used
//! `abi::platform::SPIN_TICK_CPU_MS` of CPU since the kernel's entry count
//! last changed, the watchdog kicks the vCPU out with [`SpinTick::suspect`]
//! set, and the vCPU thread raises `IRQ_SPIN_TICK` if the guest is in user
//! mode there. CPU time, not wall time, so that a vCPU the host did not
//! schedule is never taken for a spinning one; user mode only, because the
//! kernel's own long stretches (boot, a halted idle loop, KVM rebuilding
//! its page tables after a restore) are not spinning, and a tick there
//! would change the run.

use std::os::unix::thread::JoinHandleExt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap};

use vmm_sys_util::signal::{register_signal_handler, Killable, SIGRTMIN};

use super::error::{Error, RunError};
use crate::devices::irq::IrqLine;

/// How often the watchdog re-sends the kick signal.
pub const KICK_INTERVAL: Duration = Duration::from_millis(10);

/// The signal that kicks a vCPU out of `KVM_RUN`.
pub fn kick_signal() -> libc::c_int {
    SIGRTMIN()
}

extern "C" fn on_kick(_: libc::c_int, _: *mut libc::siginfo_t, _: *mut libc::c_void) {}

/// Installs the (empty) kick handler once per process.
pub fn install() -> Result<(), Error> {
    // The errno, kept: every later run reports the same failure.
    static INSTALLED: OnceLock<Result<(), i32>> = OnceLock::new();
    let installed = INSTALLED.get_or_init(|| register_signal_handler(kick_signal(), on_kick).map_err(|e| e.errno()));
    installed.map_err(|errno| RunError::Signal(std::io::Error::from_raw_os_error(errno)).into())
}

/// Watches for a vCPU that runs without kernel entries.
pub struct SpinGuard {
    /// Guest memory and the address of the kernel's entry count
    /// (`abi::fault::HEADER_KERNEL_ENTRIES` in the plan region).
    pub mem: GuestMemoryMmap,
    pub entries_at: u64,
    /// Shared with the vCPU thread's [`SpinTick`].
    pub suspect: Arc<AtomicBool>,
    /// Spin ticks raised (by the [`SpinTick`]).
    pub raised: Arc<AtomicU64>,
}

/// The vCPU thread's half: at a kick with `suspect` set, raise `line` if
/// the guest is in user mode.
pub struct SpinTick {
    pub suspect: Arc<AtomicBool>,
    /// The `IRQ_SPIN_TICK` line.
    pub line: IrqLine,
    pub raised: Arc<AtomicU64>,
}

impl SpinTick {
    /// Called by the vCPU thread when `KVM_RUN` was interrupted.
    pub fn at_kick(&self, vcpu: &kvm_ioctls::VcpuFd) {
        if !self.suspect.swap(false, Ordering::AcqRel) {
            return;
        }
        let in_user_mode = vcpu.get_sregs().is_ok_and(|s| s.cs.selector & 3 == 3);
        if in_user_mode {
            log::debug!("spin tick: the guest ran in user mode without entering its kernel");
            self.raised.fetch_add(1, Ordering::Relaxed);
            if let Err(e) = self.line.raise() {
                log::warn!("cannot raise the spin tick: {e}");
            }
        }
    }
}

/// CPU time the thread `pthread` has used.
fn thread_cpu_time(pthread: libc::pthread_t) -> Option<Duration> {
    let mut clock: libc::clockid_t = 0;
    // SAFETY: `pthread` is a live thread (not joined yet); the call writes
    // only `clock`.
    if unsafe { libc::pthread_getcpuclockid(pthread, &mut clock) } != 0 {
        return None;
    }
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `clock` is the thread's CPU clock; the call writes only `ts`.
    if unsafe { libc::clock_gettime(clock, &mut ts) } != 0 {
        return None;
    }
    Some(Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32))
}

impl SpinGuard {
    /// The guard of a run in experiment mode (`deterministic`) with a fault
    /// plan, whose header the kernel publishes its entry count in; `None`
    /// otherwise (with the LAPIC's timer, time passes anyway).
    pub fn for_run(
        deterministic: bool,
        mem: &GuestMemoryMmap,
        plan: Option<&crate::inject::fault::PlanRegion>,
        vm: &Arc<kvm_ioctls::VmFd>,
    ) -> Option<(SpinGuard, SpinTick)> {
        let plan = plan.filter(|_| deterministic)?;
        let suspect = Arc::new(AtomicBool::new(false));
        let raised = Arc::new(AtomicU64::new(0));
        let guard = SpinGuard {
            mem: mem.clone(),
            entries_at: plan.base + abi::fault::HEADER_KERNEL_ENTRIES as u64,
            suspect: suspect.clone(),
            raised: raised.clone(),
        };
        Some((guard, SpinTick { suspect, line: IrqLine::kvm(vm, abi::platform::IRQ_SPIN_TICK), raised }))
    }

    /// Spin ticks raised so far.
    pub fn raised(&self) -> u64 {
        self.raised.load(Ordering::Relaxed)
    }

    fn entries(&self) -> u64 {
        self.mem.read_obj::<u64>(GuestAddress(self.entries_at)).unwrap_or(0)
    }
}

/// Kicks the vCPU thread out of `KVM_RUN`.
fn kick<T>(vcpu: &JoinHandle<T>) {
    if let Err(e) = vcpu.kill(kick_signal()) {
        log::warn!("cannot signal the vCPU thread: {e}");
    }
}

/// Waits for `done` until `deadline` (forever with `None`), raising spin
/// ticks when `spin` says so and kicking the vCPU every `sample_every`
/// for the profiler. True when the vCPU thread reported.
fn wait_guarding<T>(
    vcpu: &JoinHandle<T>,
    deadline: Option<Instant>,
    sample_every: Option<Duration>,
    done: &Receiver<()>,
    spin: Option<&SpinGuard>,
) -> bool {
    let budget = Duration::from_millis(abi::platform::SPIN_TICK_CPU_MS);
    let pthread = vcpu.as_pthread_t();
    let mut last = spin.map(|s| (s.entries(), thread_cpu_time(pthread)));
    let mut next_spin_check = spin.map(|_| Instant::now() + budget);
    let mut next_sample = sample_every.map(|every| Instant::now() + every);
    loop {
        let wake = [deadline, next_spin_check, next_sample].into_iter().flatten().min();
        let result = match wake {
            None => done.recv().map_err(|_| RecvTimeoutError::Disconnected),
            Some(at) => done.recv_timeout(at.saturating_duration_since(Instant::now())),
        };
        match result {
            Ok(()) | Err(RecvTimeoutError::Disconnected) => return true,
            Err(RecvTimeoutError::Timeout) => {}
        }
        let now = Instant::now();
        if deadline.is_some_and(|d| now >= d) {
            return false;
        }
        if let (Some(every), Some(at)) = (sample_every, next_sample.as_mut()) {
            if now >= *at {
                kick(vcpu);
                // A late wake-up skips samples rather than bunching them.
                *at = (*at + every).max(now + every / 2);
            }
        }
        match next_spin_check.as_mut() {
            Some(at) if now >= *at => *at = now + budget,
            _ => continue,
        }
        if let (Some(guard), Some((entries, cpu))) = (spin, last.as_mut()) {
            let now = (guard.entries(), thread_cpu_time(pthread));
            if now.0 != *entries {
                (*entries, *cpu) = now;
            } else if let (Some(before), Some(after)) = (*cpu, now.1) {
                if after.saturating_sub(before) >= budget {
                    guard.suspect.store(true, Ordering::Release);
                    kick(vcpu);
                    *cpu = now.1;
                }
            }
        }
    }
}

/// The instant `timeout` from now; `None` (no deadline) when there is no
/// timeout or it lies beyond what the clock can represent (`--timeout 1e19`
/// means "practically never", not a panic).
pub fn deadline_after(timeout: Option<Duration>) -> Option<Instant> {
    timeout.and_then(|t| Instant::now().checked_add(t))
}

/// Why the watchdog kicks the vCPU: the run's deadline, and the
/// profiler's sampling period.
#[derive(Debug, Clone, Copy, Default)]
pub struct Kicks {
    /// Stop the run after this long (`None`: never).
    pub timeout: Option<Duration>,
    /// Kick this often for a profiler sample (`None`: no profiling).
    pub sample_every: Option<Duration>,
}

/// Waits until the vCPU thread `vcpu` reports on `done`; if
/// `kicks.timeout` passes first, sets `timed_out` and kicks the thread
/// until it reports. With `spin`, raises spin ticks meanwhile; with
/// `kicks.sample_every`, kicks for the profiler.
pub fn supervise<T>(
    vcpu: &JoinHandle<T>,
    kicks: Kicks,
    timed_out: &AtomicBool,
    done: &Receiver<()>,
    spin: Option<&SpinGuard>,
) {
    let deadline = deadline_after(kicks.timeout);
    if wait_guarding(vcpu, deadline, kicks.sample_every, done, spin) {
        return;
    }
    timed_out.store(true, Ordering::Release);
    loop {
        // The thread has not reported yet, so it has not been joined and
        // its pthread handle is valid.
        kick(vcpu);
        match done.recv_timeout(KICK_INTERVAL) {
            Err(RecvTimeoutError::Timeout) => continue,
            _ => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_timeout_beyond_the_clock_means_no_deadline() {
        let huge = Duration::try_from_secs_f64(1e19).unwrap();
        assert_eq!(deadline_after(Some(huge)), None);
        assert_eq!(deadline_after(Some(Duration::MAX)), None);
        assert_eq!(deadline_after(None), None);
        let soon = deadline_after(Some(Duration::from_secs(5))).unwrap();
        assert!(soon > Instant::now());
    }
}
