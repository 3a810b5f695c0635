//! Helpers for servers and drivers: answering RS's heartbeat, and
//! complaining to RS about a service that no longer serves us.

use abi::notify::is_notification;
use abi::{Endpoint, Message};

/// RS's endpoint (RS is started by the kernel and listed in the KIP).
pub fn rs() -> Option<Endpoint> {
    crate::kip::endpoint_of("rs")
}

/// True when `msg` is RS's heartbeat ping. Answer it with [`answer_heartbeat`].
pub fn is_heartbeat(msg: &Message) -> bool {
    is_notification(msg) && Some(msg.source) == rs()
}

/// Tells RS we are alive (a NOTIFY: never blocks, coalesces).
pub fn answer_heartbeat() {
    if let Some(rs) = rs() {
        let _ = crate::ipc::notify(rs);
    }
}

/// Handles `msg` if it is from RS to every service: a heartbeat ping
/// (answered), or the news that RS started a new DS
/// (`abi::proto::rs::DS_RESTARTED`: recorded in `names`, whose
/// `ds_generation` then moves on). Returns true when it was either; a
/// server calls this first on every message it receives.
pub fn handle_heartbeat(msg: &Message) -> bool {
    if is_heartbeat(msg) {
        answer_heartbeat();
        true
    } else if msg.mtype == abi::proto::rs::DS_RESTARTED && Some(msg.source) == rs() {
        crate::names::set_ds(Endpoint(msg.payload[0] as u32));
        true
    } else {
        false
    }
}

/// Whether this process is a restarted incarnation of service `name`: RS
/// publishes a service before it first runs (RS outranks every service),
/// with its restart count as the value, so a count above 0 means an
/// earlier incarnation died (or was restarted on request).
pub fn restarted(name: &str) -> bool {
    crate::names::lookup_fresh(name).is_ok_and(|(_, restarts)| restarts > 0)
}

/// Tells RS that service `name`, incarnation `endpoint`, no longer serves
/// us (a deadline passed, or its reply cannot be right;
/// `abi::proto::rs::COMPLAIN`). `Ok(0)`: RS killed it and restarts it (DS
/// will announce the new endpoint); `Ok(1)`: that incarnation was already
/// replaced. RS is trusted and answers at once, so the SENDREC is safe.
pub fn complain(name: &str, endpoint: Endpoint) -> Result<u64, abi::Error> {
    let rs = rs().ok_or(abi::Error::Unavailable)?;
    let mut msg = Message::with_words(abi::proto::rs::COMPLAIN, &[u64::from(endpoint.0)]);
    abi::proto::put_name(&mut msg, 2, name);
    crate::ipc::sendrec(rs, &mut msg)?;
    abi::proto::result_of(&msg)
}

/// The deadline, in timer ticks, for one request to boot-image service
/// `name`: `abi::proto::rs::DEADLINE_PERIODS` of its heartbeat periods
/// (the tolerance RS itself gives its pings), or of `fallback_ms` when it
/// has no heartbeat.
pub fn deadline_ticks(name: &str, fallback_ms: u64) -> u64 {
    let period_ms = match crate::kip::program_index(name).map(crate::kip::program_heartbeat_ms) {
        Some(ms) if ms > 0 => u64::from(ms),
        _ => fallback_ms,
    };
    let ms = abi::proto::rs::DEADLINE_PERIODS * period_ms;
    (ms * crate::kip::tick_hz().max(1)).div_ceil(1000).max(1)
}
