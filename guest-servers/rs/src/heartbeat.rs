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
//! periods. A check that comes more than half a period late (RS itself
//! did not run: the guest stood still) judges nobody; the next one does.

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
        // This check is due one period after the last ping. Much later
        // means RS itself did not run (the whole guest stood still: a
        // loaded host), so the service had no chance to answer either:
        // ping again and judge next time.
        let rs_late = now.saturating_sub(s.last_ping) > s.period + s.period / 2;
        let silent =
            now.saturating_sub(s.last_answer) >= 2 * s.period && !rt::kip::weakened(abi::weaken::DRIVER_HEARTBEAT);
        if silent && !rs_late && !self.waits_on_live_service(i, now) {
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
            // It is gone: the kernel's child notification follows, or, for
            // a process the kernel started, this is how RS learns of it.
            Err(Error::DeadSrcDst) => self.found_dead(i, s.endpoint, now),
            _ => {
                self.services[i].last_ping = now;
                self.timers.set(i, Kind::Heartbeat, now + s.period);
                self.tell_ds_news(i);
            }
        }
    }

    /// Whether silent service `i` is blocked in a SENDREC (directly, or
    /// through a chain of silent services each blocked in one) to a
    /// service that answers its own heartbeats, or to RS: then it is
    /// waiting, not stuck, and the wait is bounded by that service's own
    /// heartbeat and deadlines (docs/trust.md). Under the negative controls
    /// `pm_async` and `fs_async`, PM waits on VFS and VFS on ext2fs for as
    /// long as a disk driver takes to be replaced; killing them for it
    /// would turn a driver fault into a lost system. The kernel refuses
    /// SENDRECs that would close a cycle, so every chain ends.
    fn waits_on_live_service(&self, i: usize, now: u64) -> bool {
        let mut records = [rt::sys::ProcRecord::default(); 64];
        let Ok(n) = rt::sys::proc_info(&mut records) else { return false };
        let records = &records[..n];
        let mut ep = self.services[i].endpoint;
        for _ in 0..self.count {
            let Some(r) = records.iter().find(|r| r.endpoint == ep) else { return false };
            // Sending, or waiting for the reply (a RECEIVE from one
            // endpoint; a service in RECEIVE from anyone would have got
            // its pings).
            if r.state & (abi::syscall::PROC_SENDING | abi::syscall::PROC_RECEIVING) == 0 {
                return false;
            }
            if Some(r.blocked_on) == rt::service::rs() {
                return true;
            }
            let Some(j) = self.by_endpoint(r.blocked_on) else { return false };
            let t = self.services[j];
            if t.period == 0 || now.saturating_sub(t.last_answer) < 2 * t.period {
                return true;
            }
            ep = r.blocked_on;
        }
        false
    }

    /// A NOTIFY from `source`: a service answering its latest ping.
    pub fn heartbeat_answer(&mut self, source: Endpoint) {
        if let Some(i) = self.by_endpoint(source) {
            let s = &mut self.services[i];
            s.last_answer = s.last_ping;
        }
    }
}
