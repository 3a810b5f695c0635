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
//! holding the count it saw, and the vCPU thread raises `IRQ_SPIN_TICK`
//! only if the guest is in user mode there *and* the count is still the
//! one the watchdog saw. The vCPU thread's *guest* CPU time (what the host
//! accounts to running guest code natively), not wall time, so that a vCPU
//! the host did not schedule is never taken for a spinning one, and not
//! its whole CPU time, which also grows with the host's work for the guest
//! (emulating guest kernel code, filling shadow page tables after a restore
//! when a program first touches its memory): that work grows with host
//! load, and a busy host made a program that touched fresh pages look like
//! a spinner. User mode only,
//! because the kernel's own long stretches (boot, exec copying a program,
//! a halted idle loop, KVM rebuilding its page tables after a restore) are
//! not spinning, and a tick there would change the run.
//!
//! Why the count is checked again at the kick: the kernel publishes its
//! count at the *end* of each entry, so the CPU time the watchdog measured
//! may be one long kernel entry, and by the time the signal lands that
//! entry may have returned to user mode. Seen alone, "user mode at the
//! kick" would then raise a tick at a host-dependent point of a run that
//! never spun, and two replays of one experiment would differ. With the
//! count unchanged and the guest in user mode, no entry has completed
//! since the watchdog's sample, so the whole measured stretch was user
//! mode: a real spin.

use std::os::unix::thread::JoinHandleExt;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering};
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
    /// CPU time without a kernel entry that counts as a spin.
    pub budget: Duration,
    /// The vCPU thread's kernel thread id (0 until it starts), for its
    /// guest time in `/proc`.
    pub vcpu_tid: Arc<AtomicI32>,
    /// Shared with the vCPU thread's [`SpinTick`].
    pub suspect: Arc<AtomicU64>,
    /// Spin ticks raised (by the [`SpinTick`]).
    pub raised: Arc<AtomicU64>,
}

/// [`SpinTick::suspect`] when the watchdog suspects nothing.
const NO_SUSPICION: u64 = u64::MAX;

/// The vCPU thread's half: at a kick with a suspicion, raise `line` if the
/// guest is in user mode and its kernel entry count is still the one the
/// watchdog saw.
pub struct SpinTick {
    /// The entry count the watchdog saw unchanged for a whole CPU budget,
    /// or [`NO_SUSPICION`].
    pub suspect: Arc<AtomicU64>,
    /// Guest memory and the address of the kernel's entry count.
    pub mem: GuestMemoryMmap,
    pub entries_at: u64,
    /// The `IRQ_SPIN_TICK` line.
    pub line: IrqLine,
    pub raised: Arc<AtomicU64>,
}

impl SpinTick {
    /// Called by the vCPU thread when `KVM_RUN` was interrupted.
    pub fn at_kick(&self, vcpu: &kvm_ioctls::VcpuFd) {
        let seen = self.suspect.swap(NO_SUSPICION, Ordering::AcqRel);
        if seen == NO_SUSPICION {
            return;
        }
        let still_spinning = read_entries(&self.mem, self.entries_at) == seen;
        let in_user_mode = vcpu.get_sregs().is_ok_and(|s| s.cs.selector & 3 == 3);
        if still_spinning && in_user_mode {
            let rip = vcpu.get_regs().map_or(0, |r| r.rip);
            log::debug!("spin tick at user rip {rip:#x}: no kernel entry for the spin budget");
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
        config: &super::config::RunConfig,
        mem: &GuestMemoryMmap,
        plan: Option<&crate::inject::fault::PlanRegion>,
        vm: &Arc<kvm_ioctls::VmFd>,
    ) -> Option<(SpinGuard, SpinTick)> {
        let plan = plan.filter(|_| config.deterministic)?;
        let budget = config.spin_budget.max(Duration::from_millis(1));
        let suspect = Arc::new(AtomicU64::new(NO_SUSPICION));
        let raised = Arc::new(AtomicU64::new(0));
        let entries_at = plan.base + abi::fault::HEADER_KERNEL_ENTRIES as u64;
        let guard = SpinGuard {
            mem: mem.clone(),
            entries_at,
            budget,
            vcpu_tid: Arc::new(AtomicI32::new(0)),
            suspect: suspect.clone(),
            raised: raised.clone(),
        };
        let line = IrqLine::kvm(vm, abi::platform::IRQ_SPIN_TICK);
        Some((guard, SpinTick { suspect, mem: mem.clone(), entries_at, line, raised }))
    }

    /// Spin ticks raised so far.
    pub fn raised(&self) -> u64 {
        self.raised.load(Ordering::Relaxed)
    }

    fn entries(&self) -> u64 {
        read_entries(&self.mem, self.entries_at)
    }

    /// The vCPU thread's guest CPU time, or its whole CPU time where the
    /// host does not report guest time.
    fn cpu(&self, pthread: libc::pthread_t) -> Option<Duration> {
        match self.vcpu_tid.load(Ordering::Acquire) {
            0 => None,
            tid => thread_guest_time(tid).or_else(|| thread_cpu_time(pthread)),
        }
    }
}

/// Guest time of thread `tid` of this process (`guest_time`, field 43 of
/// `/proc/self/task/TID/stat`, in clock ticks).
fn thread_guest_time(tid: i32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")).ok()?;
    guest_time_of(&stat)
}

/// The guest time in a `stat` line. Fields count from 1; the second is
/// the thread's name in parentheses, which may hold spaces, so fields are
/// counted from after its closing parenthesis (field 3 onwards).
fn guest_time_of(stat: &str) -> Option<Duration> {
    const GUEST_TIME_FIELD: usize = 43;
    let (_, rest) = stat.rsplit_once(')')?;
    let ticks: u64 = rest.split_whitespace().nth(GUEST_TIME_FIELD - 3)?.parse().ok()?;
    // SAFETY: sysconf only reads a configuration value.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    let per_second = u64::try_from(per_second).ok().filter(|&n| n > 0)?;
    Some(Duration::from_nanos(ticks.saturating_mul(1_000_000_000 / per_second)))
}

/// The kernel's published entry count (0 if the address is not in RAM).
fn read_entries(mem: &GuestMemoryMmap, at: u64) -> u64 {
    mem.read_obj::<u64>(GuestAddress(at)).unwrap_or(0)
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
    let budget = spin.map_or(Duration::MAX, |s| s.budget);
    let pthread = vcpu.as_pthread_t();
    let mut last = spin.map(|s| (s.entries(), s.cpu(pthread)));
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
            let now = (guard.entries(), guard.cpu(pthread));
            if now.0 != *entries || cpu.is_none() {
                (*entries, *cpu) = now;
            } else if let (Some(before), Some(after)) = (*cpu, now.1) {
                if after.saturating_sub(before) >= budget {
                    guard.suspect.store(now.0, Ordering::Release);
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
    fn guest_time_is_read_after_the_name_whatever_it_holds() {
        // 52 fields, as Linux prints them; guest_time (43) is 250 ticks.
        let mut fields: Vec<String> = (3..=52).map(|n| n.to_string()).collect();
        fields[43 - 3] = "250".into();
        let line = format!("4242 (viv) vcpu (0)) {}", fields.join(" "));
        // SAFETY: sysconf only reads a configuration value.
        let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as u64;
        assert_eq!(guest_time_of(&line), Some(Duration::from_millis(250 * 1000 / per_second)));
        assert_eq!(guest_time_of("4242 (viv) R 1 2"), None);
        assert_eq!(guest_time_of("no parenthesis"), None);
    }

    #[test]
    fn this_threads_guest_time_is_readable() {
        // SAFETY: gettid has no preconditions.
        let tid = unsafe { libc::gettid() };
        assert_eq!(thread_guest_time(tid), Some(Duration::ZERO), "a host thread never runs a guest");
    }

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
