//! Who may stop, restart and start services (`abi::proto::rs`).
//!
//! The paper's RS trusts requests from the administrator only. The
//! requester is the endpoint the kernel stamped on the message, which no
//! process can forge; RS turns it into an identity two ways:
//!
//! * a boot process the kernel started, named by the image in
//!   `viv.admin` (`abi::platform::CMDLINE_ADMIN_KEY`): an administrator
//!   granted by the image (test drivers in images without PM);
//! * otherwise PM's uid of that endpoint (`abi::proto::pm::UID_OF`): uid 0
//!   is the administrator. Servers and drivers are not PM's processes and
//!   have no uid, so they are refused: a driver is a system process, not
//!   an administrator.
//!
//! Asking PM is a SENDREC from RS: PM is trusted here as in MINIX 3 (it
//! never calls RS and blocks only on VFS), and RS asks only for the rare
//! control requests, never for LIST, heartbeats or restarts after deaths.
//! `abi::weaken::RS_AUTH` switches the check off (a negative control).

use abi::platform::CMDLINE_ADMIN_KEY;
use abi::proto::pm::ROOT_UID;
use abi::{Endpoint, Error};
use core::sync::atomic::{AtomicBool, Ordering};

/// Whether the check is on (read once at start: [`init`]).
static ENFORCED: AtomicBool = AtomicBool::new(true);

/// Reads the `viv.weaken` switch.
pub fn init() {
    ENFORCED.store(!rt::kip::weakened(abi::weaken::RS_AUTH), Ordering::Relaxed);
}

/// Whether `caller` is a boot process the image made an administrator.
fn granted_by_image(caller: Endpoint) -> bool {
    rt::kip::cmdline_value(CMDLINE_ADMIN_KEY)
        .is_some_and(|names| names.split(',').any(|name| rt::kip::endpoint_of(name) == Some(caller)))
}

/// `Ok` when `caller` may control services; `Perm` otherwise (logged).
pub fn check(caller: Endpoint, what: &str, name: &str) -> Result<(), Error> {
    if !ENFORCED.load(Ordering::Relaxed) || granted_by_image(caller) {
        return Ok(());
    }
    match rt::pm::uid_of(caller) {
        Ok(ROOT_UID) => Ok(()),
        Ok(uid) => {
            rt::println!("rs: refused {} {} to {} (uid {})", what, name, caller, uid);
            Err(Error::Perm)
        }
        Err(_) => {
            rt::println!("rs: refused {} {} to {} (no uid: not a user process)", what, name, caller);
            Err(Error::Perm)
        }
    }
}
