//! Heartbeats: finding services that are alive but no longer working.
//!
//! A crash is visible to the kernel; a server stuck in a loop or waiting
//! for something that never comes is not. So every service with a period
//! gets a NOTIFY from RS each period and answers with a NOTIFY back
//! (`rt::service::answer_heartbeat`). Both directions are NOTIFYs: neither
//! side can block the other, and repeated pings coalesce.
//!
//! An answer is credited to the latest ping RS sent (the send time, not
//! the arrival time), so how fast RS gets round to reading answers does
//! not matter. At each ping RS first checks: a service whose last answered
//! ping is two periods old has left the last two pings unanswered, and is
//! killed and restarted. Pings are at least one period apart, so a service
//! that stops answering is killed at its second unanswered ping: two
//! periods after the last ping it answered, plus however late RS's timer
//! runs. The documented bound, with one period of slack for that, is three
//! periods.

use crate::services::Death;
use crate::timers::{ticks_to_ms, Kind};
use crate::Rs;
use abi::proto::rs::STATE_RUNNING;
use abi::{Endpoint, Error};

impl Rs {
    /// The heartbeat timer of service `i` expired at `now`.
    pub fn heartbeat_due(&mut self, i: usize, now: u64) {
        let s = self.services[i];
        if s.state != STATE_RUNNING || s.endpoint == Endpoint::NONE || s.period == 0 {
            return;
        }
        if now.saturating_sub(s.last_answer) >= 2 * s.period {
            rt::println!(
                "rs: {} missed 2 heartbeats (last answered ping at {} ms, now {} ms); killing it",
                s.name,
                ticks_to_ms(s.last_answer),
                ticks_to_ms(now)
            );
            if self.kill_current(i) {
                self.died(i, s.endpoint, Death::Silent, now);
            }
            // Else it ended on its own meanwhile: its exit is reaped and
            // handled like any other.
            return;
        }
        match rt::ipc::notify(s.endpoint) {
            // It is gone; the kernel's child notification follows.
            Err(Error::DeadSrcDst) => {}
            _ => {
                self.services[i].last_ping = now;
                self.timers.set(i, Kind::Heartbeat, now + s.period);
            }
        }
    }

    /// A NOTIFY from `source`: a service answering its latest ping.
    pub fn heartbeat_answer(&mut self, source: Endpoint) {
        if let Some(i) = self.by_endpoint(source) {
            let s = &mut self.services[i];
            s.last_answer = s.last_ping;
        }
    }
}
