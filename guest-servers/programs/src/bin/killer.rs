//! Kills one server while a workload runs, the way a crash would: the
//! `death-test` image uses it to show what happens when each server dies
//! (`vmm/tests/server_death.rs`, docs/servers-dying.md).
//!
//! Command-line keys: `killer.target=NAME` (rs, ds, pm, vfs, tty, blk,
//! ext2fs, ...), `killer.when=PROGRAM` (default `cp`): the kill comes
//! `killer.ticks=N` clock ticks (default 2) after a process of that name
//! first shows in the process table, i.e. while the workload's copy runs.
//! It watches the table at every tick (it runs above every server, so its
//! alarm preempts them). RS and DS are found where every process finds
//! them (the KIP, RS's answer), the services in DS.
#![no_std]
#![no_main]

use abi::{Endpoint, Error};
use rt::sys::ProcRecord;

rt::main!(run);

/// Most ticks to wait for the workload before giving up.
const PATIENCE_TICKS: u32 = 6000;

/// Whether a process named `name` is alive.
fn running(name: &str) -> bool {
    let mut table = [ProcRecord::default(); 64];
    let n = rt::sys::proc_info(&mut table).unwrap_or(0);
    table[..n].iter().any(|r| r.name() == name)
}

/// The current endpoint of `target`.
fn endpoint_of(target: &str) -> Result<Endpoint, Error> {
    match target {
        "rs" => rt::service::rs().ok_or(Error::NoEntry),
        "ds" => rt::names::ask_rs_for_ds(),
        _ => rt::names::lookup_fresh(target).map(|(ep, _)| ep),
    }
}

fn run() -> i32 {
    let Some(target) = rt::kip::cmdline_value("killer.target") else {
        rt::println!("killer: no killer.target; nothing to do");
        return 0;
    };
    let when = rt::kip::cmdline_value("killer.when").unwrap_or("cp");
    let delay = u32::try_from(rt::kip::cmdline_number("killer.ticks", 2)).unwrap_or(u32::MAX);
    let mut seen_for = None;
    for _ in 0..PATIENCE_TICKS {
        rt::sys::sleep_ticks(1);
        seen_for = match seen_for {
            None if running(when) => Some(0),
            Some(n) => Some(n + 1),
            None => None,
        };
        if seen_for.is_some_and(|n| n >= delay) {
            break;
        }
    }
    if seen_for.is_none() {
        rt::println!("killer: {} never ran", when);
        return 1;
    }
    let ms = rt::sys::uptime() * 1000 / rt::kip::tick_hz().max(1);
    let result = endpoint_of(target).and_then(|ep| rt::sys::kill(ep).map(|()| ep));
    match result {
        Ok(ep) => {
            rt::println!("killer: killed {} (ep {}) at {} ms while {} ran", target, ep, ms, when);
            0
        }
        Err(e) => {
            rt::println!("killer: cannot kill {}: {}", target, e);
            1
        }
    }
}
