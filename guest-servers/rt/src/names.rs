//! Finding services by name through DS, with a small cache.
//!
//! Endpoints change when RS restarts a service. A call that fails with
//! `DeadSrcDst` never reached the old endpoint, so [`call`] looks the name
//! up again and retries once: a restarted server costs the caller nothing.

use abi::proto::{self, ds};
use abi::{Endpoint, Error, Message};

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

/// DS's endpoint (DS is started by the kernel and listed in the KIP).
pub fn ds() -> Result<Endpoint, Error> {
    crate::kip::endpoint_of("ds").ok_or(Error::Unavailable)
}

/// Asks DS for `name`, bypassing the cache. Returns (endpoint, value).
pub fn lookup_fresh(name: &str) -> Result<(Endpoint, u64), Error> {
    let mut msg = Message::new(ds::LOOKUP);
    proto::put_name(&mut msg, 2, name);
    crate::ipc::sendrec(ds()?, &mut msg)?;
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
