//! Virtual time for experiment mode (`viv.deterministic=1`).
//!
//! Why: with the LAPIC's wall-clock tick, when a tick lands depends on host
//! load, so timeouts, alarms, quanta and the tick in every trace record
//! differ between runs. In experiment mode the periodic timer is stopped
//! and the tick advances only with guest events: one tick per
//! [`ENTRIES_PER_TICK`] kernel entries (system calls, faults, interrupts),
//! and, when every process is blocked, a jump straight to the next
//! deadline (the earliest alarm or delayed send). The same image,
//! workload, plan and seed then make the same entries in the same order
//! and so the same trace, record for record. The price: user-mode
//! spinning without system calls neither advances time nor is preempted
//! (acceptable for IPC-driven workloads), and device interrupts (console
//! input, disk completions) must themselves be deterministic.

use crate::process::System;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Kernel entries per virtual tick.
pub const ENTRIES_PER_TICK: u64 = 64;

static ON: AtomicBool = AtomicBool::new(false);
static ENTRIES: AtomicU64 = AtomicU64::new(0);
/// Tick of the first `MARK_COMMAND_START` (the workload's start); MAX
/// before it.
static COMMAND_START: AtomicU64 = AtomicU64::new(u64::MAX);
/// The tick [`entry`] last published and checked the budget at (MAX:
/// none since the workload's start).
static PUBLISHED_TICK: AtomicU64 = AtomicU64::new(u64::MAX);

/// The first `MARK_COMMAND_START` mark (the caller takes only that one:
/// `kernel_core::CommandWatch`): the workload starts now.
pub fn command_started() {
    let _ = COMMAND_START.compare_exchange(u64::MAX, crate::ticks(), Ordering::Relaxed, Ordering::Relaxed);
    PUBLISHED_TICK.store(u64::MAX, Ordering::Relaxed);
}

/// Virtual ticks since the workload started (0 before).
fn command_ticks() -> u64 {
    match COMMAND_START.load(Ordering::Relaxed) {
        u64::MAX => 0,
        start => crate::ticks().saturating_sub(start),
    }
}

/// Whether time is virtual.
#[inline(always)]
pub fn on() -> bool {
    ON.load(Ordering::Relaxed)
}

/// Turns virtual time on when the command line asks for it (before the
/// local APIC is set up, which then never starts its timer:
/// [`crate::arch::apic::init`]).
pub fn init(cmdline: &str) -> bool {
    let on = abi::platform::cmdline_value(cmdline, abi::platform::CMDLINE_DETERMINISTIC_KEY) == Some("1");
    ON.store(on, Ordering::Relaxed);
    on
}

/// One kernel entry of `current`: every [`ENTRIES_PER_TICK`]th is a tick.
/// The entry count is published at every entry (the VMM's spin watchdog
/// reads it); the time and the budget check only when the tick moved
/// (a tick, a jump, a spin tick), since neither changes in between.
/// Returns whether the tick moved or was published at this entry: when
/// not, the entry changed nothing the scheduler looks at (no tick given
/// to `current`, no alarm come due), which lets a fast entry switch
/// straight to its partner (`crate::after_fast_entry`).
///
/// Inlined into every entry's end: the usual entry counts, publishes the
/// count and compares two ticks; [`entry_moved`] does the rest.
#[inline(always)]
pub fn entry(sys: &mut System, current: usize) -> bool {
    // One CPU, interrupts off in the kernel: a plain load and store.
    let n = ENTRIES.load(Ordering::Relaxed) + 1;
    ENTRIES.store(n, Ordering::Relaxed);
    sys.core.publish_entries(n);
    if n.is_multiple_of(ENTRIES_PER_TICK) || PUBLISHED_TICK.load(Ordering::Relaxed) != crate::ticks() {
        entry_moved(sys, current, n);
        return true;
    }
    false
}

/// [`entry`] at a tick, or when the tick moved since it was last
/// published: advances it at every [`ENTRIES_PER_TICK`]th entry (`n`),
/// publishes it and checks the budget.
#[inline(never)]
fn entry_moved(sys: &mut System, current: usize, n: u64) {
    if n.is_multiple_of(ENTRIES_PER_TICK) {
        crate::advance_ticks();
        sys.core.tick(current);
    }
    let now = crate::ticks();
    if PUBLISHED_TICK.load(Ordering::Relaxed) != now {
        PUBLISHED_TICK.store(now, Ordering::Relaxed);
        let since = command_ticks();
        sys.core.publish_ticks(now, since);
        check_budget(sys, since);
    }
}

/// The host's budget for the workload (`abi::fault::CLOCK_BUDGET`): past
/// it the experiment is hung, at the same virtual instant every run.
fn check_budget(sys: &System, since: u64) {
    let budget = sys.core.tick_budget();
    if budget != 0 && since > budget {
        crate::kprintln!("kernel: the workload ran out of its {} virtual ticks; powering off", budget);
        crate::power_off(abi::platform::STATUS_TIMEOUT as u32);
    }
}

/// The first tick past the workload's budget, when there is one: a
/// deadline like an alarm, so that an idle system that jumps through time
/// stops at the budget's end and not at whatever alarm lies beyond it.
fn budget_deadline(sys: &System) -> Option<u64> {
    let budget = sys.core.tick_budget();
    match COMMAND_START.load(Ordering::Relaxed) {
        u64::MAX => None,
        _ if budget == 0 => None,
        start => Some(start + budget + 1),
    }
}

/// The VMM raised `IRQ_SPIN_TICK` while `current` ran (set by the
/// interrupt path, taken after the entry is counted).
static SPIN_TICK: AtomicBool = AtomicBool::new(false);

/// Records a spin tick from user mode.
pub fn spin_tick_arrived() {
    SPIN_TICK.store(true, Ordering::Relaxed);
}

/// `current` spun in user mode without entering the kernel
/// (`abi::platform::IRQ_SPIN_TICK`): for everyone else the system was
/// idle, so time jumps to the next deadline (at least one tick), and the
/// spinner is charged a tick so that its equals get the CPU in turn. Why
/// this keeps runs deterministic: the VMM raises it only after a spin of
/// `SPIN_TICK_CPU_MS` of guest user time without a kernel entry, which a
/// run that makes system calls never has; a spinning run gets the same sequence of
/// jumps, wherever in the loop each lands.
pub fn after_spin_tick(sys: &mut System, current: usize) {
    if !SPIN_TICK.swap(false, Ordering::Relaxed) {
        return;
    }
    if !idle_jump(sys) {
        crate::advance_ticks();
    }
    sys.core.tick(current);
}

/// Nothing is ready: jumps time to the next deadline. Returns false when
/// there is none (then only a device interrupt can wake the system).
pub fn idle_jump(sys: &mut System) -> bool {
    let alarm = (sys.next_alarm != 0).then_some(sys.next_alarm);
    let delay = sys.core.faults.next_deadline();
    let Some(next) = [alarm, delay, budget_deadline(sys)].into_iter().flatten().min() else {
        return false;
    };
    let now = crate::ticks();
    crate::set_ticks(next.max(now + 1));
    // Published before the budget check: the host reads which budget ended
    // the run from these ticks.
    let since = command_ticks();
    sys.core.publish_clock(ENTRIES.load(Ordering::Relaxed), crate::ticks(), since);
    check_budget(sys, since);
    if sys.core.faults.enabled {
        crate::fault::after_event(sys);
    }
    true
}
