//! The service table and the restart policy.
//!
//! RS is the parent (reaper) of every service it spawns, so the kernel
//! tells it when one ends (a SYSTEM notification with
//! `NOTIFY_CHILD_EXITED`) and keeps the dead child as a zombie until RS
//! reaps it and learns its exit status. RS matches the reaped endpoint to
//! the service's current incarnation: an old incarnation that RS itself
//! killed (for a missed heartbeat or on request) has already been dealt
//! with and is only reaped.
//!
//! Policy (`abi::proto::rs`): the first restart after a run that lasted
//! at least `BACKOFF_WINDOW_MS` is immediate; a service that keeps dying
//! within that window waits `BACKOFF_BASE_MS << n` before its next start
//! (capped at `BACKOFF_MAX_MS`), so a crash loop cannot eat the machine.
//! `restart = "hold"` services and stopped ones stay down.

use crate::timers::{ms_to_ticks, ticks_to_ms, Kind};
use crate::{registry, Rs};
use abi::boot_image::{FLAG_RESTART_HOLD, FLAG_SERVICE};
use abi::proto::rs::{
    BACKOFF_BASE_MS, BACKOFF_MAX_MS, BACKOFF_WINDOW_MS, STATE_RESTARTING, STATE_RUNNING, STATE_STOPPED,
};
use abi::{Endpoint, Error};

/// Most services RS manages (the boot image's program table limit).
pub const MAX_SERVICES: usize = abi::layout::kip::MAX_BOOT_PROCS;

/// One service of the boot image.
#[derive(Clone, Copy)]
pub struct Service {
    pub name: &'static str,
    /// Boot-image program index (for `Spawn`).
    pub program: usize,
    /// The current incarnation, `Endpoint::NONE` while down.
    pub endpoint: Endpoint,
    /// `abi::proto::rs::STATE_*`.
    pub state: u64,
    /// Restarts so far (after deaths, missed heartbeats and requests).
    pub restarts: u64,
    /// Tick of the current incarnation's start.
    pub started_at: u64,
    /// Consecutive deaths within the backoff window.
    pub quick_deaths: u32,
    /// `restart = "hold"`.
    pub hold: bool,
    /// Heartbeat period in ticks (0 = none).
    pub period: u64,
    /// Tick at which the latest heartbeat ping was sent (or the start).
    pub last_ping: u64,
    /// Send tick of the latest ping that was answered (or the start).
    pub last_answer: u64,
    /// Started by the kernel, not by RS (the first DS: `ds_watch`), so no
    /// child notification tells RS of its death.
    pub kernel_started: bool,
    /// RS started a new DS and has not yet got the news to this service
    /// (`ds_watch::tell_ds_news`).
    pub owes_ds_news: bool,
}

/// How an incarnation ended.
#[derive(Clone, Copy)]
pub enum Death {
    /// It exited (or the kernel killed it) with this status.
    Exited(u32),
    /// RS killed it for missing heartbeats.
    Silent,
    /// RS killed it because a server depending on it complained
    /// (`crate::complain`).
    Complained,
    /// It was found gone, with no exit status (a kernel-started process
    /// RS is not the parent of: `crate::ds_watch`).
    Vanished,
}

/// How and when an incarnation ended, as console text.
struct Ended {
    death: Death,
    at_ms: u64,
}

impl core::fmt::Display for Ended {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.death {
            Death::Exited(status) => write!(f, "exited with status {} at {} ms", status, self.at_ms),
            Death::Silent => write!(f, "killed for missing heartbeats at {} ms", self.at_ms),
            Death::Complained => write!(f, "killed on a complaint at {} ms", self.at_ms),
            Death::Vanished => write!(f, "found dead at {} ms", self.at_ms),
        }
    }
}

/// The delay before restarting a service that has died `quick` times in a
/// row within the backoff window (the first restart is immediate).
pub fn backoff_ms(quick: u32) -> u64 {
    match quick {
        0 => 0,
        n => (BACKOFF_BASE_MS << (n - 1).min(32)).min(BACKOFF_MAX_MS),
    }
}

impl Rs {
    /// Reads the boot-image services (in image order) from the KIP.
    pub fn load_services(&mut self) {
        for (program, (name, _)) in rt::kip::boot_processes().enumerate() {
            let flags = rt::kip::program_flags(program);
            if flags & FLAG_SERVICE == 0 || self.count == MAX_SERVICES {
                continue;
            }
            let heartbeat_ms = u64::from(rt::kip::program_heartbeat_ms(program));
            let unwatched = rt::kip::weakened(abi::weaken::SERVER_HEARTBEAT) && matches!(name, "pm" | "vfs");
            self.services[self.count] = Service {
                name,
                program,
                hold: flags & FLAG_RESTART_HOLD != 0 || rt::kip::weakened(abi::weaken::RS_RESTART),
                period: if heartbeat_ms == 0 || unwatched { 0 } else { ms_to_ticks(heartbeat_ms).max(1) },
                ..crate::NO_SERVICE
            };
            self.count += 1;
        }
    }

    /// The index of the service whose current incarnation is `ep`.
    pub fn by_endpoint(&self, ep: Endpoint) -> Option<usize> {
        self.services[..self.count].iter().position(|s| s.endpoint == ep && ep != Endpoint::NONE)
    }

    /// The index of service `name`.
    pub fn by_name(&self, name: &str) -> Option<usize> {
        self.services[..self.count].iter().position(|s| s.name == name)
    }

    /// Spawns service `i`, publishes it in DS and starts its heartbeat. On
    /// failure (no free slot, no memory) it retries after the longest
    /// backoff.
    pub fn start(&mut self, i: usize, now: u64) -> Result<(), Error> {
        self.timers.cancel_all(i);
        let s = &mut self.services[i];
        match rt::sys::spawn(s.program) {
            Ok(ep) => {
                s.endpoint = ep;
                s.state = STATE_RUNNING;
                s.started_at = now;
                s.last_ping = now;
                s.last_answer = now;
                s.kernel_started = false;
                s.owes_ds_news = false;
                let (name, restarts, period, program) = (s.name, s.restarts, s.period, s.program);
                rt::println!("rs: started {} (ep {}) at {} ms", name, ep, ticks_to_ms(now));
                // Before anyone can know of it: it reads its backup then.
                self.move_backup(program, ep);
                if name == crate::ds_watch::DS {
                    self.ds_restarted(ep);
                } else {
                    registry::publish(name, ep, restarts);
                }
                if period > 0 {
                    self.timers.set(i, Kind::Heartbeat, now + period);
                }
                Ok(())
            }
            Err(e) => {
                s.endpoint = Endpoint::NONE;
                s.state = STATE_RESTARTING;
                rt::println!("rs: cannot start {}: {:?}; retrying in {} ms", s.name, e, BACKOFF_MAX_MS);
                self.timers.set(i, Kind::Restart, now + ms_to_ticks(BACKOFF_MAX_MS));
                Err(e)
            }
        }
    }

    /// Starts every service, in image order (DS, adopted, already runs).
    pub fn start_all(&mut self, now: u64) {
        for i in 0..self.count {
            if self.services[i].endpoint == Endpoint::NONE {
                let _ = self.start(i, now);
            }
        }
    }

    /// Kills the current incarnation of service `i` (if any) and forgets
    /// it; its zombie is reaped later and ignored. False when the kernel
    /// refused because it already ended: then its exit is still to be
    /// reaped and handled, so the endpoint is kept.
    pub fn kill_current(&mut self, i: usize) -> bool {
        self.timers.cancel(i, Kind::Heartbeat);
        let s = &mut self.services[i];
        if s.endpoint == Endpoint::NONE {
            return true;
        }
        match rt::sys::kill(s.endpoint) {
            Ok(()) => {
                s.endpoint = Endpoint::NONE;
                true
            }
            Err(_) => false,
        }
    }

    /// Applies the restart policy to service `i`, whose incarnation `ep`
    /// has ended.
    pub fn died(&mut self, i: usize, ep: Endpoint, death: Death, now: u64) {
        self.timers.cancel_all(i);
        let s = &mut self.services[i];
        s.endpoint = Endpoint::NONE;
        let what = Ended { death, at_ms: ticks_to_ms(now) };
        if s.hold || s.state == STATE_STOPPED {
            let why = if s.state == STATE_STOPPED { "stopped" } else { "restart = hold" };
            s.state = STATE_STOPPED;
            rt::println!("rs: {} (ep {}) {}; {}, staying down", s.name, ep, what, why);
            let name = s.name;
            registry::delete(name);
            return;
        }
        let quick = now.saturating_sub(s.started_at) < ms_to_ticks(BACKOFF_WINDOW_MS);
        let delay = if quick {
            let d = backoff_ms(s.quick_deaths);
            s.quick_deaths = s.quick_deaths.saturating_add(1);
            d
        } else {
            s.quick_deaths = 0;
            0
        };
        s.restarts += 1;
        if delay == 0 {
            rt::println!("rs: {} (ep {}) {}; restarting now (restart {})", s.name, ep, what, s.restarts);
            let _ = self.start(i, now);
        } else {
            s.state = STATE_RESTARTING;
            rt::println!("rs: {} (ep {}) {}", s.name, ep, what);
            rt::println!("rs: crash loop: {} restarts in {} ms (restart {})", s.name, delay, s.restarts);
            self.timers.set(i, Kind::Restart, now + ms_to_ticks(delay));
        }
    }

    /// Reaps every ended child and handles the ones that are current
    /// incarnations.
    pub fn reap_children(&mut self, now: u64) {
        loop {
            match rt::process::reap() {
                Ok((ep, status)) => {
                    if let Some(i) = self.by_endpoint(ep) {
                        self.died(i, ep, Death::Exited(status), now);
                    }
                }
                Err(_) => return,
            }
        }
    }
}
