//! The process's grant table: lets one other process copy to or from a
//! buffer of ours through the kernel (SAFECOPY).
//!
//! The table lives in this process's memory and is registered with the
//! kernel on first use; creating and revoking a grant are plain stores, no
//! kernel call. A [`GrantGuard`] revokes its grant when dropped, so a grant
//! never outlives the call it was made for.

use abi::grant::{Grant, GRANT_READ, GRANT_VALID, GRANT_WRITE};
use abi::{Endpoint, Error};

const SLOTS: usize = 32;

static mut TABLE: [Grant; SLOTS] = [Grant { flags: 0, grantee: 0, address: 0, size: 0 }; SLOTS];
static mut REGISTERED: bool = false;

fn table() -> &'static mut [Grant; SLOTS] {
    // SAFETY: guest programs are single-threaded and this module is the
    // only user of TABLE; the kernel only reads it during safe copies made
    // while we are blocked in a call.
    unsafe { &mut *(&raw mut TABLE) }
}

fn ensure_registered() -> Result<(), Error> {
    // SAFETY: single-threaded, see `table`.
    unsafe {
        if !REGISTERED {
            crate::sys::set_grant_table(&*(&raw const TABLE))?;
            REGISTERED = true;
        }
    }
    Ok(())
}

/// A live grant; revoked on drop.
pub struct GrantGuard {
    id: usize,
}

impl GrantGuard {
    /// The grant id to pass to the grantee.
    pub fn id(&self) -> u64 {
        self.id as u64
    }

    /// Lends the memory to `grantee` instead (a plain store: the kernel
    /// reads the entry at every copy). For a grant that outlives one call:
    /// RS moves DS's backup to each new DS.
    pub fn set_grantee(&self, grantee: Endpoint) {
        table()[self.id].grantee = grantee.0;
    }
}

impl Drop for GrantGuard {
    fn drop(&mut self) {
        table()[self.id].flags = 0;
    }
}

fn create(grantee: Endpoint, address: u64, size: u64, flags: u32) -> Result<GrantGuard, Error> {
    ensure_registered()?;
    let id = table().iter().position(|g| g.flags & GRANT_VALID == 0).ok_or(Error::TooMany)?;
    table()[id] = Grant { flags: GRANT_VALID | flags, grantee: grantee.0, address, size };
    Ok(GrantGuard { id })
}

/// Lets `grantee` read `buf`.
pub fn read_only(grantee: Endpoint, buf: &[u8]) -> Result<GrantGuard, Error> {
    create(grantee, buf.as_ptr() as u64, buf.len() as u64, GRANT_READ)
}

/// Lets `grantee` write (and read) `buf`.
pub fn writable(grantee: Endpoint, buf: &mut [u8]) -> Result<GrantGuard, Error> {
    create(grantee, buf.as_mut_ptr() as u64, buf.len() as u64, GRANT_READ | GRANT_WRITE)
}
