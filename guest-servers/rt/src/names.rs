//! Finding services by name through DS, with a small cache.
//!
//! Endpoints change when RS restarts a service. A call that fails with
//! `DeadSrcDst` never reached the old endpoint, so [`call`] looks the name
//! up again and retries once: a restarted server costs the caller nothing.
//!
//! DS itself can be restarted too (by RS, docs/servers-dying.md). Every
//! process first uses the endpoint the kernel gave DS at boot (in the KIP);
//! when DS is found dead there, [`ds_call`] asks RS where DS is now
//! (`abi::proto::rs::DS_ENDPOINT`) and retries once, so a process pays one
//! extra round trip to RS after a DS restart and none before.

use abi::proto::{self, ds};
use abi::{Endpoint, Error, Message};
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

const CACHE: usize = 8;

static mut NAMES: [([u8; proto::NAME_LEN], Endpoint); CACHE] = [([0; proto::NAME_LEN], Endpoint::NONE); CACHE];

fn cache() -> &'static mut [([u8; proto::NAME_LEN], Endpoint); CACHE] {
    // SAFETY: guest programs are single-threaded; only this module uses it.
    unsafe { &mut *(&raw mut NAMES) }
}

fn key(name: &str) -> [u8; proto::NAME_LEN] {
    let mut k = [0u8; proto::NAME_LEN];
    let n = name.len().min(proto::NAME_LEN);
    k[..n].copy_from_slice(&name.as_bytes()[..n]);
    k
}

/// DS's endpoint as last learned (0 = not yet: the KIP's boot endpoint).
static DS: AtomicU32 = AtomicU32::new(0);
/// How many times this process learned of a new DS.
static DS_GENERATION: AtomicU64 = AtomicU64::new(0);

/// DS's endpoint: the one RS last told us of, else the one the kernel
/// started at boot (listed in the KIP).
pub fn ds() -> Result<Endpoint, Error> {
    match DS.load(Ordering::Relaxed) {
        0 => crate::kip::endpoint_of("ds").ok_or(Error::Unavailable),
        ep => Ok(Endpoint(ep)),
    }
}

/// Records that DS now runs at `ep` (RS told us): the name cache is
/// emptied (every entry came from the old DS) and [`ds_generation`] moves
/// on. Nothing happens when `ep` is the DS we already use.
pub fn set_ds(ep: Endpoint) {
    if ds() == Ok(ep) {
        return;
    }
    DS.store(ep.0, Ordering::Relaxed);
    DS_GENERATION.fetch_add(1, Ordering::Relaxed);
    for entry in cache().iter_mut() {
        entry.1 = Endpoint::NONE;
    }
}

/// How many new DS incarnations this process has learned of: a server
/// that subscribed to names compares it with the value at its last
/// subscription and subscribes again when it moved (a new DS knows no
/// subscriptions).
pub fn ds_generation() -> u64 {
    DS_GENERATION.load(Ordering::Relaxed)
}

/// Asks RS where DS is now (`abi::proto::rs::DS_ENDPOINT`) and records it.
pub fn ask_rs_for_ds() -> Result<Endpoint, Error> {
    let rs = crate::service::rs().ok_or(Error::Unavailable)?;
    let mut msg = Message::new(abi::proto::rs::DS_ENDPOINT);
    crate::ipc::sendrec(rs, &mut msg)?;
    proto::result_of(&msg)?;
    let ep = Endpoint(msg.payload[1] as u32);
    set_ds(ep);
    Ok(ep)
}

/// SENDREC `msg` to DS. When DS is found dead (it died before or while we
/// called), asks RS for the current DS and tries once more there; DS's
/// requests may be repeated (a repeated PUBLISH or SUBSCRIBE changes
/// nothing more).
pub fn ds_call(msg: &mut Message) -> Result<(), Error> {
    let request = *msg;
    match crate::ipc::sendrec(ds()?, msg) {
        Err(Error::DeadSrcDst | Error::DstDied | Error::SrcDied) => {
            let ep = ask_rs_for_ds()?;
            *msg = request;
            crate::ipc::sendrec(ep, msg)
        }
        result => result,
    }
}

/// Asks DS for `name`, bypassing the cache. Returns (endpoint, value).
pub fn lookup_fresh(name: &str) -> Result<(Endpoint, u64), Error> {
    let mut msg = Message::new(ds::LOOKUP);
    proto::put_name(&mut msg, 2, name);
    ds_call(&mut msg)?;
    proto::result_of(&msg)?;
    Ok((Endpoint(msg.payload[1] as u32), msg.payload[2]))
}

/// The endpoint of service `name`, from the cache when known.
pub fn lookup(name: &str) -> Result<Endpoint, Error> {
    let k = key(name);
    if let Some((_, ep)) = cache().iter().find(|(n, ep)| *n == k && *ep != Endpoint::NONE) {
        return Ok(*ep);
    }
    let (ep, _) = lookup_fresh(name)?;
    let c = cache();
    let slot = c.iter().position(|(n, _)| *n == k).or_else(|| c.iter().position(|(_, e)| *e == Endpoint::NONE));
    c[slot.unwrap_or(0)] = (k, ep);
    Ok(ep)
}

/// Forgets the cached endpoint of `name`.
pub fn forget(name: &str) {
    let k = key(name);
    for entry in cache().iter_mut().filter(|(n, _)| *n == k) {
        entry.1 = Endpoint::NONE;
    }
}

/// SENDREC `msg` to service `name` and decode the reply's result. Retries
/// once with a fresh lookup when the cached endpoint is stale.
pub fn call(name: &str, msg: &mut Message) -> Result<u64, Error> {
    let request = *msg;
    let mut result = crate::ipc::sendrec(lookup(name)?, msg);
    if result == Err(Error::DeadSrcDst) {
        forget(name);
        *msg = request;
        result = crate::ipc::sendrec(lookup(name)?, msg);
    }
    result?;
    proto::result_of(msg)
}

/// A subscription to one name in DS that survives a restart of DS: a new
/// DS knows no subscriptions, so [`Watch::renew`] subscribes again once
/// the process has learned of a new DS (`ds_generation` moved).
pub struct Watch {
    name: &'static str,
    /// `ds_generation` at the last subscription.
    generation: u64,
}

impl Watch {
    /// A watch on `name`, not yet subscribed.
    pub const fn new(name: &'static str) -> Watch {
        Watch { name, generation: 0 }
    }

    /// Subscribes in DS. DS marks the current entry as changed at once and
    /// NOTIFYs us, so a watcher learns the state that existed before it
    /// subscribed.
    pub fn subscribe(&mut self) -> Result<(), Error> {
        let mut msg = Message::new(ds::SUBSCRIBE);
        proto::put_name(&mut msg, 2, self.name);
        ds_call(&mut msg)?;
        self.generation = ds_generation();
        proto::result_of(&msg).map(|_| ())
    }

    /// Subscribes again if a new DS took over since the last subscription;
    /// true when it did. Call it after `rt::service::handle_heartbeat`
    /// handled a message (that is how news of a new DS arrives).
    pub fn renew(&mut self) -> bool {
        if ds_generation() == self.generation {
            return false;
        }
        if let Err(e) = self.subscribe() {
            crate::println!("cannot subscribe to {} in the new DS: {}", self.name, e.name());
        }
        true
    }
}

/// Takes the next change DS has for us (CHECK): (name, endpoint, value);
/// `None` when nothing more changed (or DS cannot be reached).
pub fn check(name: &mut [u8; proto::NAME_LEN]) -> Option<(&str, Endpoint, u64)> {
    let mut msg = Message::new(ds::CHECK);
    if ds_call(&mut msg).is_err() || proto::result_of(&msg).is_err() {
        return None;
    }
    let (ep, value) = (Endpoint(msg.payload[1] as u32), msg.payload[2]);
    Some((proto::get_name(&msg, 4, name), ep, value))
}
