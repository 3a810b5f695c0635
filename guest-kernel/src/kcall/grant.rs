//! Grant tables and safe copies (SAFECOPY).
//!
//! The kernel reads the granter's table entry at every copy, so a grant is
//! revoked the moment the granter clears it, and a wrong grantee, a range
//! outside the grant or missing rights is refused with `Perm` before a byte
//! moves. An indirect grant (`GRANT_INDIRECT`) is followed one level: the
//! copy then goes straight between the final grantee and the memory's
//! owner, so a server passing a client's buffer on costs no extra copy.

use crate::process::{Memory, System};
use abi::grant::{Grant, GRANT_ENTRY_SIZE, GRANT_INDIRECT, GRANT_READ, GRANT_VALID, GRANT_WRITE, MAX_GRANTS};
use abi::{Endpoint, Error};
use core::sync::atomic::{AtomicU64, Ordering};

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

/// Bytes moved by safe copies since boot (`mem_info` with selector
/// `MEM_INFO_SAFECOPY_BYTES`), and the number of successful copies.
static COPIED_BYTES: AtomicU64 = AtomicU64::new(0);
static COPIES: AtomicU64 = AtomicU64::new(0);

/// (bytes copied, copies) by safe copies since boot.
pub fn copy_counters() -> (u64, u64) {
    (COPIED_BYTES.load(Ordering::Relaxed), COPIES.load(Ordering::Relaxed))
}

/// Reads entry `id` of `granter`'s table; a missing table or entry, or
/// one the kernel cannot read, is `Perm`.
fn read_entry(sys: &mut System, granter: usize, id: u64) -> Result<Grant, Error> {
    let (table, entries) = sys.arch[granter].grant_table;
    if id >= entries {
        return Err(Error::Perm);
    }
    let mut raw = [0u8; GRANT_ENTRY_SIZE];
    let mut mem = Memory { arch: &mut sys.arch, frames: &mut sys.frames };
    mem.copy_in(granter, table + id * GRANT_ENTRY_SIZE as u64, &mut raw).map_err(|_| Error::Perm)?;
    Ok(Grant::from_bytes(&raw))
}

/// Whether `grant` is valid, names `grantee` (or ANY), carries `right` and
/// contains `offset..offset + len` (`size` is the grant's extent). With the
/// grant check switched off (`lax`, a negative control) grantee and right
/// are not looked at.
fn allows(grant: &Grant, grantee: Endpoint, right: u32, offset: u64, len: u64, size: u64, lax: bool) -> bool {
    let fits = offset.checked_add(len).is_some_and(|end| end <= size);
    let named = grant.grantee == grantee.0 || grant.grantee == Endpoint::ANY.0;
    grant.flags & GRANT_VALID != 0 && ((grant.flags & right != 0 && named) || lax) && fits
}

/// Resolves grant `id` of `granter` for `grantee` copying `len` bytes at
/// `offset` with `right`: returns the slot owning the memory and the
/// address there. An indirect entry is followed once: its target entry
/// must be a direct grant to `granter` with the same right containing the
/// window (an indirect target is `Perm`).
fn resolve(
    sys: &mut System,
    granter: usize,
    id: u64,
    grantee: Endpoint,
    right: u32,
    offset: u64,
    len: u64,
) -> Result<(usize, u64), Error> {
    let lax = sys.core.weak.grant_check;
    let grant = read_entry(sys, granter, id)?;
    if grant.flags & GRANT_INDIRECT == 0 {
        if !allows(&grant, grantee, right, offset, len, grant.size, lax) {
            return Err(Error::Perm);
        }
        return Ok((granter, grant.address.checked_add(offset).ok_or(Error::Perm)?));
    }
    let (target_ep, target_id, window_offset, window_len) = grant.indirect_target();
    if !allows(&grant, grantee, right, offset, len, u64::from(window_len), lax) {
        return Err(Error::Perm);
    }
    let owner = sys.core.live_slot(Endpoint(target_ep)).map_err(|_| Error::Perm)?;
    let target = read_entry(sys, owner, u64::from(target_id))?;
    let inner = u64::from(window_offset) + offset;
    let middle = sys.core.procs[granter].endpoint;
    if target.flags & GRANT_INDIRECT != 0 || !allows(&target, middle, right, inner, len, target.size, lax) {
        return Err(Error::Perm);
    }
    Ok((owner, target.address.checked_add(inner).ok_or(Error::Perm)?))
}

/// Checks that `caller` may move `len` bytes at `offset` of grant `id` of
/// `granter_ep` with `right` (`GRANT_READ`: out of the granter's memory,
/// `GRANT_WRITE`: into it), the one check safe copies and `GrantPhys`
/// share: the granter alive in this generation of its endpoint, then
/// [`resolve`]. Returns the slot owning the memory and the address there.
pub fn check(
    sys: &mut System,
    caller: usize,
    granter_ep: Endpoint,
    id: u64,
    right: u32,
    offset: u64,
    len: u64,
) -> Result<(usize, u64), Error> {
    let granter = sys.core.live_slot(granter_ep)?;
    let caller_ep = sys.core.procs[caller].endpoint;
    resolve(sys, granter, id, caller_ep, right, offset, len)
}

/// Payload: granter endpoint, grant id, offset, local address, length.
pub fn safecopy(sys: &mut System, caller: usize, w: &[u64; 7], direction: Direction) -> Result<u64, Error> {
    let (granter_ep, id, offset, local, len) = (Endpoint(w[0] as u32), w[1], w[2], w[3], w[4]);
    let right = if direction == Direction::FromGranter { GRANT_READ } else { GRANT_WRITE };
    let (owner, remote) = check(sys, caller, granter_ep, id, right, offset, len)?;
    let mut mem = Memory { arch: &mut sys.arch, frames: &mut sys.frames };
    match direction {
        Direction::FromGranter => mem.copy_between(owner, remote, caller, local, len)?,
        Direction::ToGranter => mem.copy_between(caller, local, owner, remote, len)?,
    }
    COPIED_BYTES.fetch_add(len, Ordering::Relaxed);
    COPIES.fetch_add(1, Ordering::Relaxed);
    Ok(len)
}
