//! Grant tables and safe copies (SAFECOPY).
//!
//! The kernel reads the granter's table entry at every copy, so a grant is
//! revoked the moment the granter clears it, and a wrong grantee, a range
//! outside the grant or missing rights is refused with `Perm` before a byte
//! moves.

use crate::process::{Memory, System};
use abi::grant::{Grant, GRANT_ENTRY_SIZE, GRANT_READ, GRANT_VALID, GRANT_WRITE, MAX_GRANTS};
use abi::{Endpoint, Error};

/// Which way a safe copy goes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// From the granter's memory into the caller's (needs READ).
    FromGranter,
    /// From the caller's memory into the granter's (needs WRITE).
    ToGranter,
}

/// Registers (or, with 0 entries, drops) the caller's grant table.
pub fn set_table(sys: &mut System, slot: usize, addr: u64, entries: u64) -> Result<u64, Error> {
    if entries > MAX_GRANTS {
        return Err(Error::Domain);
    }
    if entries > 0 {
        let last = addr.checked_add(entries * GRANT_ENTRY_SIZE as u64 - 1).ok_or(Error::Fault)?;
        let space = sys.arch[slot].space;
        space.translate(addr, false).ok_or(Error::Fault)?;
        space.translate(last, false).ok_or(Error::Fault)?;
    }
    sys.arch[slot].grant_table = (addr, entries);
    Ok(0)
}

/// Payload: granter endpoint, grant id, offset, local address, length.
pub fn safecopy(sys: &mut System, caller: usize, w: &[u64; 7], direction: Direction) -> Result<u64, Error> {
    let (granter_ep, id, offset, local, len) = (Endpoint(w[0] as u32), w[1], w[2], w[3], w[4]);
    let granter = sys.core.live_slot(granter_ep)?;
    let (table, entries) = sys.arch[granter].grant_table;
    if id >= entries {
        return Err(Error::Perm);
    }
    let mut raw = [0u8; GRANT_ENTRY_SIZE];
    let mut mem = Memory { arch: &mut sys.arch, frames: &mut sys.frames };
    mem.copy_in(granter, table + id * GRANT_ENTRY_SIZE as u64, &mut raw).map_err(|_| Error::Perm)?;
    let grant = Grant::from_bytes(&raw);
    let caller_ep = sys.core.procs[caller].endpoint;
    let right = if direction == Direction::FromGranter { GRANT_READ } else { GRANT_WRITE };
    let end = offset.checked_add(len).ok_or(Error::Perm)?;
    if grant.flags & GRANT_VALID == 0
        || grant.flags & right == 0
        || (grant.grantee != caller_ep.0 && grant.grantee != Endpoint::ANY.0)
        || end > grant.size
    {
        return Err(Error::Perm);
    }
    let remote = grant.address.checked_add(offset).ok_or(Error::Perm)?;
    match direction {
        Direction::FromGranter => mem.copy_between(granter, remote, caller, local, len)?,
        Direction::ToGranter => mem.copy_between(caller, local, granter, remote, len)?,
    }
    Ok(len)
}
