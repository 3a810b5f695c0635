//! SLEEP: a sorted list of wake-up times under one kernel alarm.
//!
//! The kernel gives each process one alarm. PM keeps its sleepers sorted by
//! deadline and arms the alarm for the earliest only; when it fires, every
//! sleeper whose deadline has passed is answered and the alarm is re-armed
//! for the next one. So any number of sleepers cost one kernel timer.

use abi::Endpoint;

/// Most sleepers at once.
pub const MAX_TIMERS: usize = 64;

/// Sleepers sorted by deadline (ticks since boot).
pub struct Timers {
    list: [(u64, Endpoint); MAX_TIMERS],
    len: usize,
    /// Deadline the kernel alarm is armed for (0 = none).
    armed: u64,
}

impl Timers {
    /// No sleepers.
    pub const fn new() -> Timers {
        Timers { list: [(0, Endpoint::NONE); MAX_TIMERS], len: 0, armed: 0 }
    }

    /// Adds `who`, to be woken at tick `deadline`; false when full.
    pub fn add(&mut self, deadline: u64, who: Endpoint) -> bool {
        if self.len == MAX_TIMERS {
            return false;
        }
        let at = self.list[..self.len].iter().position(|(d, _)| *d > deadline).unwrap_or(self.len);
        self.list.copy_within(at..self.len, at + 1);
        self.list[at] = (deadline, who);
        self.len += 1;
        true
    }

    /// Forgets `who` (it died while sleeping).
    pub fn remove(&mut self, who: Endpoint) {
        let mut kept = 0;
        for i in 0..self.len {
            if self.list[i].1 != who {
                self.list[kept] = self.list[i];
                kept += 1;
            }
        }
        self.len = kept;
    }

    /// Takes the first sleeper whose deadline is at or before `now`.
    pub fn pop_expired(&mut self, now: u64) -> Option<Endpoint> {
        if self.len == 0 || self.list[0].0 > now {
            return None;
        }
        let who = self.list[0].1;
        self.list.copy_within(1..self.len, 0);
        self.len -= 1;
        Some(who)
    }

    /// Arms (or cancels) the kernel alarm for the earliest deadline, when it
    /// is not already armed for it.
    pub fn rearm(&mut self, now: u64) {
        let next = if self.len == 0 { 0 } else { self.list[0].0 };
        if next == self.armed {
            return;
        }
        let ticks = if next == 0 { 0 } else { next.saturating_sub(now).max(1) };
        if rt::sys::set_alarm(ticks).is_ok() {
            self.armed = next;
        }
    }

    /// The alarm fired: it is no longer armed.
    pub fn fired(&mut self) {
        self.armed = 0;
    }
}
