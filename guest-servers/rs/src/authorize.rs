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
//! Asking PM is a SENDREC from RS to the PM incarnation RS itself started
//! (not a name looked up in DS): PM is trusted here as in MINIX 3 (it
//! never calls RS and blocks only on VFS), and RS asks only for the rare
//! control requests, never for LIST, heartbeats or restarts after deaths.
//! Without a running PM only image-granted administrators are served.
//! `abi::weaken::RS_AUTH` switches the check off (a negative control).

use abi::platform::CMDLINE_ADMIN_KEY;
use abi::proto;
use abi::proto::pm::{self, ROOT_UID};
use abi::{Endpoint, Error, Message};
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

/// The uid PM gives `caller` (`NoEntry` when it is not PM's process).
fn uid_of(pm: Endpoint, caller: Endpoint) -> Result<u64, Error> {
    let mut msg = Message::with_words(pm::UID_OF, &[u64::from(caller.0)]);
    rt::ipc::sendrec(pm, &mut msg)?;
    proto::result_of(&msg)
}

/// `Ok` when `caller` may control services; `Perm` otherwise (logged).
/// `pm` is PM's current incarnation, if it runs.
pub fn check(caller: Endpoint, pm: Option<Endpoint>, what: &str, name: &str) -> Result<(), Error> {
    if !ENFORCED.load(Ordering::Relaxed) || granted_by_image(caller) {
        return Ok(());
    }
    match pm.map_or(Err(Error::Unavailable), |pm| uid_of(pm, caller)) {
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
