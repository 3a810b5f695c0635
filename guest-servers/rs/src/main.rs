//! RS, the reincarnation server (`abi::proto::rs`).
//!
//! The kernel starts RS and DS; RS starts every program of the boot image
//! marked as a service (`FLAG_SERVICE`), in image order, publishes each in
//! DS, and from then on keeps them alive: it restarts a service that
//! exits, crashes or is killed (`services`), kills and restarts one that
//! stops answering its heartbeat (`heartbeat`), serves LIST, RESTART,
//! STOP and START (`requests`; the last three for administrators only:
//! `authorize`), and restarts a service that a server depending on it
//! complains about (`complain`). All its deadlines share the one kernel
//! alarm (`timers`).
//!
//! RS only ever blocks in RECEIVE and in its SENDRECs to DS, the kernel
//! and (to authorize a control request) PM, all trusted; clients get
//! SENDNB replies and services get NOTIFYs, so no service or client can
//! stall it. Each lifecycle event is
//! one line on the kernel console, starting `rs: `.
#![no_std]
#![no_main]

mod authorize;
mod backups;
mod complain;
mod ds_watch;
mod heartbeat;
mod registry;
mod requests;
mod services;
mod timers;

use abi::syscall::{NOTIFY_ALARM, NOTIFY_ALARM_WORD, NOTIFY_CHILD_EXITED, NOTIFY_CHILD_WORD};
use abi::{Endpoint, Message};
use services::{Service, MAX_SERVICES};
use timers::{Kind, Timers};

rt::main!(run);

/// All of RS's state.
pub struct Rs {
    services: [Service; MAX_SERVICES],
    /// How many entries of `services` are used.
    count: usize,
    timers: Timers,
    /// `abi::weaken::COMPLAIN_AUTH`: accept complaints from anybody.
    complain_unchecked: bool,
    /// The uptime when the message being handled arrived.
    now: u64,
    /// The backups lent to the programs that ask for one (`backups`), by
    /// grant id.
    loans: [Option<backups::Loan>; abi::backup::MAX_BACKUPS],
}

const NO_SERVICE: Service = Service {
    name: "",
    program: 0,
    endpoint: Endpoint::NONE,
    state: abi::proto::rs::STATE_RESTARTING,
    restarts: 0,
    started_at: 0,
    quick_deaths: 0,
    hold: false,
    period: 0,
    last_ping: 0,
    last_answer: 0,
    kernel_started: false,
    owes_ds_news: false,
};

impl Rs {
    /// A notification received at `now`: a service's heartbeat answer, or
    /// the kernel's alarm and child-exit events.
    fn notified(&mut self, msg: &Message, now: u64) {
        if msg.source != Endpoint::SYSTEM {
            self.heartbeat_answer(msg.source);
            return;
        }
        if msg.payload[NOTIFY_ALARM_WORD] & NOTIFY_ALARM != 0 {
            self.timers.alarm_fired();
        }
        if msg.payload[NOTIFY_CHILD_WORD] & NOTIFY_CHILD_EXITED != 0 {
            self.reap_children(now);
        }
    }

    /// Runs every timer that expired by `now`.
    fn run_timers(&mut self, now: u64) {
        while let Some((i, kind)) = self.timers.pop_expired(now) {
            match kind {
                Kind::Heartbeat => self.heartbeat_due(i, now),
                // Only a service still waiting for its backed-off start
                // (a request may have started or stopped it meanwhile).
                Kind::Restart if self.services[i].state == abi::proto::rs::STATE_RESTARTING => {
                    let _ = self.start(i, now);
                }
                Kind::Restart => {}
            }
        }
    }
}

fn run() -> i32 {
    static mut RS: Rs = Rs {
        services: [NO_SERVICE; MAX_SERVICES],
        count: 0,
        timers: Timers::new(),
        complain_unchecked: false,
        now: 0,
        loans: [const { None }; abi::backup::MAX_BACKUPS],
    };
    // SAFETY: the program is single-threaded and this is the only reference
    // to RS (a static: the tables would crowd the 64 KiB stack).
    let rs = unsafe { &mut *(&raw mut RS) };
    rs.lend_backups();
    authorize::init();
    rs.complain_unchecked = rt::kip::weakened(abi::weaken::COMPLAIN_AUTH);
    rs.load_services();
    let now = rt::kip::ticks();
    rs.adopt_ds(now);
    rt::println!("rs: {} services, tick {} Hz", rs.count, timers::hz());
    rs.start_all(now);
    rs.timers.rearm(now);
    rt::server::serve(rs)
}

/// RS in the runtime's server loop. RS pings the others, so it answers no
/// heartbeat itself; after every message it runs the timers that expired.
impl rt::server::Server for Rs {
    const ANSWERS_HEARTBEATS: bool = false;

    fn request(&mut self, msg: &Message) -> rt::server::Answer {
        self.now = rt::kip::ticks();
        if msg.mtype == abi::proto::REPLY {
            // Never answer a reply (a service that took RS's news for a
            // request): two servers must not bounce errors for ever.
            return rt::server::Answer::Later;
        }
        // An untrusted caller that is not waiting loses its reply.
        rt::server::Answer::Now(Rs::request(self, msg, self.now))
    }

    fn notification(&mut self, msg: &Message) {
        self.now = rt::kip::ticks();
        self.notified(msg, self.now);
    }

    fn after(&mut self) {
        self.run_timers(self.now);
        self.timers.rearm(self.now);
    }
}
