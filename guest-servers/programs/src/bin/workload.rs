//! The `rs-test` image's driver: does a fixed amount of work spread over
//! several seconds (`workload.ms`, default 10000) while RS deals with
//! crashing and silent services, then reports every service from RS LIST
//! and checks RS's RESTART, STOP and START semantics (and DS's view of
//! them). Prints `workload: FAIL: ...` per failed check and exits 1 if
//! any failed, else 0 (the image powers off with that status).
#![no_std]
#![no_main]

use abi::notify::is_notification;
use abi::proto::{self, ds, rs, NAME_LEN};
use abi::syscall::{NOTIFY_ALARM, NOTIFY_ALARM_WORD};
use abi::{Endpoint, Error, Message};
use core::sync::atomic::{AtomicBool, Ordering};

rt::main!(run);

/// Length of one work step.
const STEP_MS: u64 = 100;

fn ms(ticks: u64) -> u64 {
    ticks * 1000 / rt::kip::tick_hz().max(1)
}

/// Sleeps `ms` milliseconds on the kernel alarm.
fn sleep_ms(ms: u64) {
    let ticks = (ms * rt::kip::tick_hz().max(1)).div_ceil(1000).max(1);
    if rt::sys::set_alarm(ticks).is_err() {
        return;
    }
    let mut msg = Message::new(0);
    loop {
        if rt::ipc::receive(Endpoint::ANY, &mut msg).is_err() || !is_notification(&msg) {
            continue;
        }
        if Ok(msg.source) == rt::names::ds() {
            DS_NOTIFIED.store(true, Ordering::Relaxed);
        } else if msg.source == Endpoint::SYSTEM && msg.payload[NOTIFY_ALARM_WORD] & NOTIFY_ALARM != 0 {
            return;
        }
    }
}

/// A DS notification arrived while sleeping.
static DS_NOTIFIED: AtomicBool = AtomicBool::new(false);

/// One service as RS lists it.
#[derive(Clone, Copy, Debug)]
struct Listed {
    endpoint: Endpoint,
    state: u64,
    restarts: u64,
}

fn rs_call(msg: &mut Message) -> Result<u64, Error> {
    rt::ipc::sendrec(rt::service::rs().ok_or(Error::Unavailable)?, msg)?;
    proto::result_of(msg)
}

/// Calls `f(name, entry)` for every service RS lists; false on an error.
fn list(mut f: impl FnMut(&str, Listed)) -> bool {
    for index in 0.. {
        let mut msg = Message::with_words(rs::LIST, &[index]);
        match rs_call(&mut msg) {
            Ok(_) => {}
            Err(Error::NoEntry) => return true,
            Err(e) => {
                rt::println!("workload: FAIL: LIST {}: {:?}", index, e);
                return false;
            }
        }
        let mut buf = [0u8; NAME_LEN];
        let name = proto::get_name(&msg, 4, &mut buf);
        f(name, Listed { endpoint: Endpoint(msg.payload[1] as u32), state: msg.payload[2], restarts: msg.payload[3] });
    }
    true
}

fn listed(name: &str) -> Option<Listed> {
    let mut found = None;
    list(|n, l| {
        if n == name {
            found = Some(l);
        }
    });
    found
}

fn control(mtype: u32, name: &str) -> Result<u64, Error> {
    let mut msg = Message::new(mtype);
    proto::put_name(&mut msg, 2, name);
    rs_call(&mut msg)
}

fn ds_lookup(name: &str) -> Result<Endpoint, Error> {
    let mut msg = Message::new(ds::LOOKUP);
    proto::put_name(&mut msg, 2, name);
    rt::ipc::sendrec(rt::names::ds()?, &mut msg)?;
    proto::result_of(&msg)?;
    Ok(Endpoint(msg.payload[1] as u32))
}

fn ds_call(msg: &mut Message) -> Result<u64, Error> {
    rt::ipc::sendrec(rt::names::ds()?, msg)?;
    proto::result_of(msg)
}

fn ds_named(mtype: u32, name: &str, words: &[u64]) -> Result<u64, Error> {
    let mut msg = Message::with_words(mtype, words);
    proto::put_name(&mut msg, 2, name);
    ds_call(&mut msg)
}

/// DS CHECK: the next changed (name, endpoint) for us.
fn ds_check() -> Result<([u8; NAME_LEN], Endpoint), Error> {
    let mut msg = Message::new(ds::CHECK);
    ds_call(&mut msg)?;
    let mut buf = [0u8; NAME_LEN];
    let len = proto::get_name(&msg, 4, &mut buf).len();
    let mut name = [0u8; NAME_LEN];
    name[..len].copy_from_slice(&buf[..len]);
    Ok((name, Endpoint(msg.payload[1] as u32)))
}

/// Waits for DS's change notification, then CHECKs: steady's endpoint
/// (`NONE` when deleted). Nothing else may be pending afterwards.
fn ds_changed(c: &mut Checks, after: &str) -> Endpoint {
    let mut msg = Message::new(0);
    let notified = if DS_NOTIFIED.swap(false, Ordering::Relaxed) {
        Ok(())
    } else {
        rt::names::ds().and_then(|ds| rt::ipc::receive(ds, &mut msg))
    };
    c.check(notified.is_ok(), format_args!("DS notification after {}: {:?}", after, notified));
    let change = ds_check();
    let mut steady = [0u8; NAME_LEN];
    steady[..6].copy_from_slice(b"steady");
    let ep = match change {
        Ok((name, ep)) if name == steady => ep,
        other => {
            c.check(false, format_args!("DS CHECK after {}: {:?}", after, other.map(|(_, ep)| ep)));
            Endpoint::NONE
        }
    };
    let rest = ds_check();
    c.check(rest.is_err_and(|e| e == Error::NoEntry), format_args!("one change after {}", after));
    ep
}

struct Checks {
    failed: u32,
}

impl Checks {
    fn check(&mut self, ok: bool, what: core::fmt::Arguments) {
        if !ok {
            self.failed += 1;
            rt::println!("workload: FAIL: {}", what);
        }
    }
}

fn work(total_ms: u64) {
    let start = rt::sys::uptime();
    let steps = total_ms / STEP_MS;
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for _ in 0..steps {
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
        }
        sleep_ms(STEP_MS);
    }
    rt::println!("workload: {} steps done in {} ms (checksum {:#x})", steps, ms(rt::sys::uptime() - start), x);
}

fn semantics(c: &mut Checks) {
    // Subscribing reports the entry that exists already.
    let subscribed = ds_named(ds::SUBSCRIBE, "steady", &[]);
    c.check(subscribed == Ok(0), format_args!("SUBSCRIBE steady: {:?}", subscribed));
    let mut seen = [Endpoint::NONE; 4];
    seen[0] = ds_changed(c, "subscribing");

    // RESTART: a new incarnation, one more restart, republished in DS.
    let before = listed("steady");
    c.check(control(rs::RESTART, "steady") == Ok(0), format_args!("RESTART steady"));
    let after = listed("steady");
    if let (Some(b), Some(a)) = (before, after) {
        let in_ds = ds_lookup("steady");
        c.check(a.state == rs::STATE_RUNNING, format_args!("steady running after RESTART: {:?}", a));
        c.check(a.restarts == b.restarts + 1, format_args!("steady restarts {} -> {}", b.restarts, a.restarts));
        c.check(a.endpoint != b.endpoint, format_args!("steady got a new endpoint: {:?}", a));
        c.check(in_ds == Ok(a.endpoint), format_args!("DS has steady's new endpoint: {:?}", in_ds));
        rt::println!(
            "workload: restart steady: ep {} -> {}, restarts {} -> {}, DS has {:?}",
            b.endpoint,
            a.endpoint,
            b.restarts,
            a.restarts,
            in_ds
        );
        seen[1] = ds_changed(c, "RESTART");
        c.check(seen[0] == b.endpoint && seen[1] == a.endpoint, format_args!("DS changes {:?}", seen));
    } else {
        c.check(false, format_args!("steady listed"));
    }

    // STOP: down, out of DS, stays down.
    c.check(control(rs::STOP, "steady") == Ok(0), format_args!("STOP steady"));
    sleep_ms(500);
    let stopped = listed("steady");
    let in_ds = ds_lookup("steady");
    let ok = matches!(stopped, Some(l) if l.state == rs::STATE_STOPPED && l.endpoint == Endpoint::NONE);
    c.check(ok, format_args!("steady stopped: {:?}", stopped));
    c.check(in_ds == Err(Error::NoEntry), format_args!("steady gone from DS: {:?}", in_ds));
    rt::println!("workload: stop steady: state {}, DS {:?}", rs::state_name(stopped.map_or(0, |l| l.state)), in_ds);
    seen[2] = ds_changed(c, "STOP");
    c.check(seen[2] == Endpoint::NONE, format_args!("DS reports the deletion: {:?}", seen[2]));

    // START: running again; a second START finds it running.
    let first = control(rs::START, "steady");
    let second = control(rs::START, "steady");
    let started = listed("steady");
    let in_ds = ds_lookup("steady");
    c.check(first == Ok(0), format_args!("START steady: {:?}", first));
    c.check(second == Err(Error::Exists), format_args!("second START steady: {:?}", second));
    let ok = matches!(started, Some(l) if l.state == rs::STATE_RUNNING && Ok(l.endpoint) == in_ds);
    c.check(ok, format_args!("steady running and in DS: {:?} {:?}", started, in_ds));
    rt::println!(
        "workload: start steady: {:?} then {:?}, state {}",
        first,
        second,
        rs::state_name(started.map_or(0, |l| l.state))
    );

    seen[3] = ds_changed(c, "START");
    c.check(Some(seen[3]) == started.map(|l| l.endpoint), format_args!("DS reports the start: {:?}", seen[3]));
    rt::println!("workload: ds saw steady as {} -> {} -> {} -> {}", seen[0], seen[1], seen[2], seen[3]);

    // Only RS publishes or deletes for others; anyone may publish itself.
    let me = rt::kip::endpoint_of("workload").unwrap_or(Endpoint::NONE);
    let hijack = ds_named(ds::PUBLISH, "steady", &[u64::from(me.0), 0]);
    let forge = ds_named(ds::PUBLISH, "fake", &[u64::from(seen[3].0), 0]);
    let unpublish = ds_named(ds::DELETE, "steady", &[]);
    let own = ds_named(ds::PUBLISH, "workload", &[u64::from(me.0), 7]);
    let found = ds_lookup("workload");
    let gone = ds_named(ds::DELETE, "workload", &[]);
    c.check(hijack == Err(Error::Perm), format_args!("PUBLISH over steady: {:?}", hijack));
    c.check(forge == Err(Error::Perm), format_args!("PUBLISH for steady's endpoint: {:?}", forge));
    c.check(unpublish == Err(Error::Perm), format_args!("DELETE steady: {:?}", unpublish));
    c.check(
        own == Ok(0) && found == Ok(me) && gone == Ok(0),
        format_args!("own name: {:?} {:?} {:?}", own, found, gone),
    );
    rt::println!(
        "workload: ds permissions: hijack {:?}, forge {:?}, delete {:?}; own name {:?} {:?} {:?}",
        hijack,
        forge,
        unpublish,
        own,
        found.map(|ep| ep == me),
        gone
    );

    // Unknown names.
    let unknown = [control(rs::RESTART, "nosuch"), control(rs::STOP, "nosuch"), control(rs::START, "nosuch")];
    c.check(unknown.iter().all(|r| *r == Err(Error::NoEntry)), format_args!("unknown service: {:?}", unknown));
    rt::println!("workload: nosuch: {:?}", unknown);

    // STOP ends a crash loop for good.
    let looping = listed("crashy");
    c.check(control(rs::STOP, "crashy") == Ok(0), format_args!("STOP crashy"));
    sleep_ms(500);
    let later = listed("crashy");
    let ok = matches!((looping, later), (Some(a), Some(b)) if b.state == rs::STATE_STOPPED && b.restarts == a.restarts);
    c.check(ok, format_args!("crashy stays stopped: {:?} -> {:?}", looping, later));
    rt::println!("workload: stop crashy: state {}", rs::state_name(later.map_or(0, |l| l.state)));
}

fn run() -> i32 {
    let total = rt::kip::cmdline_number("workload.ms", 10_000u64);
    rt::println!("workload: working for {} ms", total);
    work(total);

    let mut c = Checks { failed: 0 };
    let complete = list(|name, l| {
        rt::println!(
            "workload: service {} ep {} state {} restarts {}",
            name,
            l.endpoint,
            rs::state_name(l.state),
            l.restarts
        );
    });
    c.check(complete, format_args!("LIST"));
    semantics(&mut c);
    if c.failed == 0 {
        rt::println!("workload: all checks passed");
        0
    } else {
        rt::println!("workload: {} checks failed", c.failed);
        1
    }
}
