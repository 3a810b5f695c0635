//! What a run produced: how it ended, its bench marks and statistics.
//!
//! The outcome is plain data so that the CLI, the integration tests and
//! `viv bench` all judge a run the same way, and [`RunOutcome::exit_status`]
//! is the single place where an ending becomes `viv`'s exit status.

use std::time::Duration;

use abi::platform::{
    GUEST_STATUS_MAX, STATUS_GUEST_LIMIT, STATUS_KERNEL_PANIC, STATUS_TIMEOUT, STATUS_TRIPLE_FAULT, STATUS_VM_ERROR,
};

use crate::vstate::stats::StatsSnapshot;

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exit {
    /// The guest wrote this status to the power-off port (already clamped
    /// to `GUEST_STATUS_MAX`).
    PowerOff(u32),
    /// The guest kernel panicked (it powered off with `STATUS_KERNEL_PANIC`).
    KernelPanic,
    /// The guest triple-faulted (`KVM_EXIT_SHUTDOWN`).
    TripleFault,
    /// The guest was still running at the deadline and was stopped; or,
    /// in experiment mode, the kernel powered off past the workload's
    /// virtual-time budget (`abi::fault::CLOCK_BUDGET`).
    Timeout,
    /// The vCPU executed more kernel instructions than the run's budget
    /// (`RunConfig::instruction_budget`); the VMM stopped it.
    InstructionBudget,
    /// KVM could not run the guest; the text says why.
    VmError(String),
    /// The guest made the host keep more than a cap allows (a log or
    /// console flood, marks in a loop, ...: `crate::devices::limits`); the
    /// run was ended there.
    GuestLimit(crate::devices::limits::Limit),
}

impl Exit {
    /// The ending for a write of `status` to the power-off port.
    pub fn from_poweroff(status: u32) -> Exit {
        if status == STATUS_KERNEL_PANIC as u32 {
            Exit::KernelPanic
        } else if status == STATUS_TIMEOUT as u32 {
            // Only the kernel can write it (programs' statuses are clamped
            // to GUEST_STATUS_MAX): the workload's virtual-time budget ran
            // out (`abi::fault::CLOCK_BUDGET`).
            Exit::Timeout
        } else {
            Exit::PowerOff(status.min(GUEST_STATUS_MAX))
        }
    }

    /// `viv`'s exit status for this ending (`abi::platform::STATUS_*`; a
    /// guest power-off status passes through).
    pub fn status(&self) -> i32 {
        match self {
            Exit::PowerOff(s) => (*s).min(GUEST_STATUS_MAX) as i32,
            Exit::KernelPanic => STATUS_KERNEL_PANIC,
            Exit::TripleFault => STATUS_TRIPLE_FAULT,
            Exit::Timeout | Exit::InstructionBudget => STATUS_TIMEOUT,
            Exit::VmError(_) => STATUS_VM_ERROR,
            Exit::GuestLimit(_) => STATUS_GUEST_LIMIT,
        }
    }
}

/// A bench mark: the guest wrote `id` to `PORT_BENCH_MARK`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mark {
    /// The id written (`abi::platform::MARK_*`).
    pub id: u32,
    /// Time since the VMM started the run (before creating the VM).
    pub time_ns: u64,
    /// vCPU statistics at the mark (empty if KVM has no stats fd).
    pub stats: StatsSnapshot,
    /// Console bytes captured before the mark (0 without a capture): where
    /// a campaign's check output begins (`abi::platform::MARK_CHECK_START`).
    pub console_bytes: usize,
}

/// Everything a run produced.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    /// How it ended.
    pub exit: Exit,
    /// Every bench mark, in order.
    pub marks: Vec<Mark>,
    /// vCPU statistics when the run ended.
    pub final_stats: StatsSnapshot,
    /// Time from the start of the run (before VM creation) to its end.
    pub wall_time: Duration,
    /// Console output, if the run config asked for it to be captured.
    pub console: Option<Vec<u8>>,
    /// The guest's log, when it was kept apart (`RunConfig::separate_log`):
    /// all of it when the console is captured, else its last
    /// `devices::serial::TAIL_BYTES` (why init failed, for `viv exec`).
    pub log: Option<Vec<u8>>,
    /// The IPC trace, if the run config asked for one (`RunConfig::trace`).
    pub trace: Option<crate::observe::TraceLog>,
    /// (matched, injected) per fault-plan rule, read back at the end
    /// (empty without a plan).
    pub fault_counters: Vec<(u32, u32)>,
    /// Total injections the kernel counted (the plan header's total).
    pub faults_injected: u64,
    /// Restarts per boot-image program (index = privilege id) the kernel
    /// counted in the plan region (empty without a plan): evidence no
    /// user program can forge.
    pub restart_counts: Vec<u32>,
    /// Rule index of every Stop event, in order (the guest was paused at
    /// each and resumed).
    pub fault_stops: Vec<u32>,
    /// Code mutations SWIFI made at Stop events (`RunConfig::swifi`), in
    /// order (empty without SWIFI).
    pub swifi: Vec<crate::inject::swifi::Mutation>,
    /// Virtual ticks from the workload's start to the end of the run
    /// (experiment mode with a fault plan; `None` otherwise).
    pub command_ticks: Option<u64>,
    /// The exit status of the command's process (the shell init started
    /// after `MARK_COMMAND_START`), as the kernel recorded it in the plan
    /// region (`abi::fault::STATUS_WORKLOAD`); `None` without a plan or
    /// while it had not ended. Evidence no program can forge.
    pub command_status: Option<u32>,
    /// The same for the check's shell (`abi::fault::STATUS_CHECK`).
    pub check_status: Option<u32>,
    /// Spin ticks the VMM raised (experiment mode: user code ran for
    /// `abi::platform::SPIN_TICK_CPU_MS` of guest time without entering
    /// the kernel).
    pub spin_ticks: u64,
    /// The profiler's samples (`RunConfig::profile_hz`), when profiled.
    pub profile: Option<crate::observe::profile::Samples>,
    /// Host CPU the vCPU thread used (`None` if the host would not say).
    /// Host-dependent, like `wall_time`: what a run costs the host, not
    /// what the guest did.
    pub vcpu_cpu: Option<ThreadCpu>,
}

/// CPU time one host thread used, from `getrusage(RUSAGE_THREAD)`.
///
/// Why the vCPU thread's: a run's vCPU lives on its own thread, so its
/// CPU time is that run's cost to the host even when several runs share
/// the cores (a campaign's `--jobs`), where wall time is not. On software
/// KVM the system time is KVM's work for the guest (almost all of it
/// emulating kernel instructions, `docs/campaigns.md`) and the user time
/// the guest's user mode and the VMM's handling of exits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ThreadCpu {
    pub user: Duration,
    pub system: Duration,
    /// Times the host took the CPU from the thread (a busy host's mark).
    pub involuntary_switches: u64,
}

impl ThreadCpu {
    /// The calling thread's CPU time so far.
    pub fn of_this_thread() -> Option<ThreadCpu> {
        let usage = rusage(libc::RUSAGE_THREAD)?;
        let time = |t: libc::timeval| Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64);
        Some(ThreadCpu {
            user: time(usage.ru_utime),
            system: time(usage.ru_stime),
            involuntary_switches: usage.ru_nivcsw as u64,
        })
    }

    /// User and system time together.
    pub fn total(&self) -> Duration {
        self.user + self.system
    }
}

/// `getrusage(who)`: `RUSAGE_THREAD` (the calling thread) or
/// `RUSAGE_SELF` (the whole process).
pub fn rusage(who: libc::c_int) -> Option<libc::rusage> {
    // SAFETY: `rusage` is a plain C struct of integers: all zeros is a
    // valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: a valid pointer; the call writes only `usage`.
    (unsafe { libc::getrusage(who, &mut usage) } == 0).then_some(usage)
}

impl RunOutcome {
    /// `viv`'s exit status for this run.
    pub fn exit_status(&self) -> i32 {
        self.exit.status()
    }

    /// The first mark with `id`.
    pub fn mark(&self, id: u32) -> Option<&Mark> {
        self.marks.iter().find(|m| m.id == id)
    }

    /// The captured console output as text (lossy), or "" if not captured.
    pub fn console_text(&self) -> String {
        self.console.as_deref().map(|c| String::from_utf8_lossy(c).into_owned()).unwrap_or_default()
    }
}

#[cfg(test)]
impl RunOutcome {
    /// A clean power-off with nothing recorded, for tests to fill in.
    pub(crate) fn empty_for_tests() -> RunOutcome {
        RunOutcome {
            exit: Exit::PowerOff(0),
            marks: Vec::new(),
            final_stats: StatsSnapshot::default(),
            wall_time: Duration::ZERO,
            console: None,
            log: None,
            trace: None,
            fault_counters: Vec::new(),
            faults_injected: 0,
            restart_counts: Vec::new(),
            fault_stops: Vec::new(),
            swifi: Vec::new(),
            command_ticks: None,
            command_status: None,
            check_status: None,
            spin_ticks: 0,
            profile: None,
            vcpu_cpu: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_statuses_follow_the_abi() {
        assert_eq!(Exit::PowerOff(0).status(), 0);
        assert_eq!(Exit::PowerOff(7).status(), 7);
        assert_eq!(Exit::PowerOff(1000).status(), GUEST_STATUS_MAX as i32);
        assert_eq!(Exit::KernelPanic.status(), 123);
        assert_eq!(Exit::TripleFault.status(), 122);
        assert_eq!(Exit::Timeout.status(), 124);
        assert_eq!(Exit::InstructionBudget.status(), 124);
        assert_eq!(Exit::VmError("x".into()).status(), 121);
    }

    #[test]
    fn poweroff_statuses_are_clamped_and_panic_is_recognised() {
        assert_eq!(Exit::from_poweroff(5), Exit::PowerOff(5));
        assert_eq!(Exit::from_poweroff(123), Exit::KernelPanic);
        assert_eq!(Exit::from_poweroff(120), Exit::PowerOff(GUEST_STATUS_MAX));
        assert_eq!(Exit::from_poweroff(u32::MAX), Exit::PowerOff(GUEST_STATUS_MAX));
        // Only the kernel writes 124: the workload's virtual-time budget ran out.
        assert_eq!(Exit::from_poweroff(124), Exit::Timeout);
        // No other guest status can be mistaken for a host status.
        for s in [0u32, 1, 119, 120, 121, 122, 255, 256, u32::MAX] {
            let status = Exit::from_poweroff(s).status();
            assert!(status <= GUEST_STATUS_MAX as i32, "{s} -> {status}");
        }
    }
}
