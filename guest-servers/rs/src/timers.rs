//! RS's timers: a small list of deadlines multiplexed onto the one kernel
//! alarm a process has.
//!
//! Why one alarm: the kernel gives each process a single alarm
//! (`KernelCall::SetAlarm`), and a kernel call costs thousands of emulated
//! instructions on our hosts. RS keeps every deadline (heartbeat pings,
//! backed-off restarts) in a fixed table, asks the kernel only for the
//! earliest one, and re-arms only when that earliest deadline changes.
//! Deadlines are in timer ticks (`rt::kip::tick_hz()` per second).

use crate::services::MAX_SERVICES;

/// What a timer does when it expires.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    /// Check the service's last answer, then ping it again.
    Heartbeat,
    /// Start the service after its backoff delay.
    Restart,
}

#[derive(Clone, Copy)]
struct Timer {
    deadline: u64,
    service: usize,
    kind: Kind,
}

/// At most one timer of each kind per service.
const CAPACITY: usize = 2 * MAX_SERVICES;

/// The timer list and the state of the kernel alarm.
pub struct Timers {
    list: [Option<Timer>; CAPACITY],
    /// The deadline the kernel alarm is set for, if any.
    armed: Option<u64>,
}

impl Timers {
    /// No timers, alarm off.
    pub const fn new() -> Timers {
        Timers { list: [None; CAPACITY], armed: None }
    }

    /// Sets (or moves) the `kind` timer of `service` to `deadline`.
    pub fn set(&mut self, service: usize, kind: Kind, deadline: u64) {
        self.cancel(service, kind);
        if let Some(free) = self.list.iter_mut().find(|t| t.is_none()) {
            *free = Some(Timer { deadline, service, kind });
        }
    }

    /// Removes the `kind` timer of `service`.
    pub fn cancel(&mut self, service: usize, kind: Kind) {
        for t in self.list.iter_mut() {
            if matches!(t, Some(x) if x.service == service && x.kind == kind) {
                *t = None;
            }
        }
    }

    /// Removes every timer of `service`.
    pub fn cancel_all(&mut self, service: usize) {
        self.cancel(service, Kind::Heartbeat);
        self.cancel(service, Kind::Restart);
    }

    /// Removes and returns one timer that expired at `now`, earliest first.
    pub fn pop_expired(&mut self, now: u64) -> Option<(usize, Kind)> {
        let (at, _) = self
            .list
            .iter()
            .enumerate()
            .filter_map(|(i, t)| t.map(|t| (i, t.deadline)))
            .filter(|&(_, d)| d <= now)
            .min_by_key(|&(_, d)| d)?;
        let t = self.list[at].take()?;
        Some((t.service, t.kind))
    }

    fn earliest(&self) -> Option<u64> {
        self.list.iter().flatten().map(|t| t.deadline).min()
    }

    /// The kernel reported that the alarm fired.
    pub fn alarm_fired(&mut self) {
        self.armed = None;
    }

    /// Points the kernel alarm at the earliest deadline (one kernel call,
    /// and only when that deadline changed).
    pub fn rearm(&mut self, now: u64) {
        let want = self.earliest();
        if want == self.armed {
            return;
        }
        let ticks = match want {
            Some(deadline) => deadline.saturating_sub(now).max(1),
            None => 0,
        };
        if rt::sys::set_alarm(ticks).is_ok() {
            self.armed = want;
        }
    }
}

/// Timer ticks per second (100 if the KIP says nothing).
pub fn hz() -> u64 {
    match rt::kip::tick_hz() {
        0 => 100,
        hz => hz,
    }
}

/// `ms` milliseconds in ticks, rounded up.
pub fn ms_to_ticks(ms: u64) -> u64 {
    (ms * hz()).div_ceil(1000)
}

/// `ticks` in milliseconds.
pub fn ticks_to_ms(ticks: u64) -> u64 {
    ticks * 1000 / hz()
}
