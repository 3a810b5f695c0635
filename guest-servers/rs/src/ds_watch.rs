//! Keeping DS alive: RS supervises DS like a service.
//!
//! The kernel starts DS at boot (RS needs it to publish the services it
//! starts), so RS is not DS's parent and gets no child notification when
//! that first DS dies. RS adopts it instead: DS gets an entry in the
//! service table with the kernel's endpoint and a heartbeat
//! (`abi::proto::ds::HEARTBEAT_MS`), and a dead DS is found when a ping's
//! NOTIFY fails, or at once when a process finds DS dead and asks RS where
//! DS is (`abi::proto::rs::DS_ENDPOINT`: RS checks before it answers). Every
//! later DS is RS's child and reaped like any service.
//!
//! DS's table outlives DS in RS's memory: RS lends DS a backup
//! (`crate::backups`, `abi::proto::ds::backup`) by a grant that only the
//! current DS may use, moved to each new DS at its start, before anyone
//! can send it a message (guest-servers/ds/src/backup.rs); the new DS takes back the
//! names programs published for themselves. RS still publishes every
//! running service again (a service may have been restarted while DS was
//! down) and tells each one (`abi::proto::rs::DS_RESTARTED`, by SENDNB,
//! repeated at each heartbeat ping until it lands) so that servers
//! subscribe again (`rt::names::Watch`): subscriptions are not kept
//! (docs/servers-dying.md). With `abi::weaken::DS_RESTART` RS holds a
//! dead DS down instead.

use crate::services::{Death, Service};
use crate::{registry, Rs};
use abi::proto::rs::{DS_RESTARTED, STATE_RUNNING};
use abi::proto::{self, ds};
use abi::{Endpoint, Error, Message};

/// The program name of DS in every image.
pub const DS: &str = "ds";

impl Rs {
    /// Adds the kernel-started DS to the service table (call after
    /// `load_services`).
    pub fn adopt_ds(&mut self, now: u64) {
        let (Some(program), Some(endpoint)) = (rt::kip::program_index(DS), rt::kip::endpoint_of(DS)) else {
            return;
        };
        if self.count == self.services.len() {
            return;
        }
        let period = crate::timers::ms_to_ticks(ds::HEARTBEAT_MS).max(1);
        self.services[self.count] = Service {
            name: DS,
            program,
            endpoint,
            state: STATE_RUNNING,
            started_at: now,
            last_ping: now,
            last_answer: now,
            period,
            hold: rt::kip::weakened(abi::weaken::DS_RESTART),
            kernel_started: true,
            ..crate::NO_SERVICE
        };
        self.timers.set(self.count, crate::timers::Kind::Heartbeat, now + period);
        self.count += 1;
    }

    /// The index of DS in the service table.
    pub fn ds_index(&self) -> Option<usize> {
        self.by_name(DS)
    }

    /// `ep`, the current incarnation of service `i`, was found gone (a
    /// NOTIFY or SENDREC to it failed with `EDEADSRCDST`). A child of RS is
    /// reaped now; a kernel-started one (the first DS) has no child
    /// notification, so its death is handled here.
    pub fn found_dead(&mut self, i: usize, ep: Endpoint, now: u64) {
        self.reap_children(now);
        if self.services[i].endpoint == ep && self.services[i].kernel_started {
            self.died(i, ep, Death::Vanished, now);
        }
    }

    /// DS_ENDPOINT: where DS is now. A process asks when the DS it knew is
    /// dead; RS checks its own DS first (a NOTIFY: DS takes it as a
    /// heartbeat ping) and replaces a dead one before answering.
    pub fn ds_endpoint(&mut self, now: u64) -> Message {
        let Some(i) = self.ds_index() else {
            return proto::reply_result(Err(Error::Unavailable));
        };
        let ep = self.services[i].endpoint;
        if ep != Endpoint::NONE && rt::ipc::notify(ep) == Err(Error::DeadSrcDst) {
            self.found_dead(i, ep, now);
        }
        match self.services[i].endpoint {
            Endpoint::NONE => proto::reply_result(Err(Error::Unavailable)),
            ep => Message::with_words(proto::REPLY, &[0, u64::from(ep.0)]),
        }
    }

    /// A new DS runs at `ep`: use it, publish every running service in it
    /// again, and tell the services.
    pub fn ds_restarted(&mut self, ep: Endpoint) {
        rt::names::set_ds(ep);
        for i in 0..self.count {
            let s = self.services[i];
            if s.name == DS || s.state != STATE_RUNNING || s.endpoint == Endpoint::NONE {
                continue;
            }
            registry::publish(s.name, s.endpoint, s.restarts);
            self.services[i].owes_ds_news = true;
            self.tell_ds_news(i);
        }
        rt::println!("rs: new DS (ep {}) has every running service again", ep);
    }

    /// Sends service `i` the news of the new DS if it still owes it; SENDNB
    /// lands only while the service waits in RECEIVE, so this is repeated
    /// at each of its heartbeat pings until it does.
    pub fn tell_ds_news(&mut self, i: usize) {
        let s = self.services[i];
        if !s.owes_ds_news || s.endpoint == Endpoint::NONE {
            return;
        }
        let ds_ep = rt::names::ds().unwrap_or(Endpoint::NONE);
        let news = Message::with_words(DS_RESTARTED, &[u64::from(ds_ep.0)]);
        if rt::ipc::send_nonblocking(s.endpoint, &news).is_ok() {
            self.services[i].owes_ds_news = false;
        }
    }
}
