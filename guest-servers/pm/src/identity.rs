//! Who a process is, and what that lets it do: uids, the setuid and
//! uid-of calls, the kill permission and the fork quotas
//! (`abi::proto::pm`, docs/security.md).
//!
//! Why PM: PM already creates every user process and sees every fork, so
//! a uid kept beside the pid is inherited without anyone's cooperation,
//! and no process can claim another's uid: requests are judged by the
//! endpoint the kernel stamped on them. Servers and drivers are not PM's
//! processes and have no uid, so they are never administrators here.
//!
//! Each defense can be switched off for a negative control
//! (`abi::weaken`); PM reads the switches once, at start.

use crate::table::{Proc, Table};
use crate::{error, value, Answer, Pm};
use abi::proto::pm::{MAX_PROCS, MAX_PROCS_PER_USER, ROOT_UID};
use abi::weaken::{PM_KILL_OWNER, PM_PROC_QUOTA};
use abi::{Endpoint, Error};

/// The defenses of this module that are on.
pub struct Defenses {
    /// KILL only of the caller's own uid (root: anyone but init).
    pub kill_owner: bool,
    /// FORK within [`MAX_PROCS_PER_USER`] and [`MAX_PROCS`].
    pub proc_quota: bool,
}

impl Defenses {
    /// Reads the kernel command line's `viv.weaken` switches.
    pub fn from_cmdline() -> Defenses {
        Defenses { kill_owner: !rt::kip::weakened(PM_KILL_OWNER), proc_quota: !rt::kip::weakened(PM_PROC_QUOTA) }
    }

    /// Whether a process of `uid` may fork once more, given `table`.
    pub fn may_fork(&self, table: &Table, uid: u64) -> Result<(), Error> {
        if !self.proc_quota {
            return Ok(());
        }
        let (all, mine) = table.counts(uid);
        if all >= MAX_PROCS || (uid != ROOT_UID && mine >= MAX_PROCS_PER_USER) {
            return Err(Error::TooMany);
        }
        Ok(())
    }

    /// Whether a caller of uid `caller` (`None`: not a process of PM)
    /// may signal `target`.
    pub fn may_kill(&self, caller: Option<u64>, target: &Proc) -> bool {
        if !self.kill_owner {
            return true;
        }
        matches!(caller, Some(uid) if uid == ROOT_UID || uid == target.uid)
    }
}

impl Pm {
    /// The uid of the live process `ep`, if it is one of PM's.
    pub fn uid_of(&mut self, ep: Endpoint) -> Option<u64> {
        self.table.by_endpoint(ep).map(|p| p.uid)
    }

    /// SETUID: root may become anyone; others may only stay who they are.
    /// The kernel learns the uid too: it charges the process's memory to
    /// that user's quota (its forks inherit it).
    pub fn setuid(&mut self, caller: Endpoint, uid: u64) -> Answer {
        let Some(p) = self.table.by_endpoint(caller) else {
            return error(Error::NoEntry);
        };
        if p.uid != ROOT_UID && p.uid != uid {
            return error(Error::Perm);
        }
        if p.uid != uid {
            if let Err(e) = rt::sys::set_uid(caller, uid) {
                return error(e);
            }
        }
        p.uid = uid;
        value(0)
    }

    /// UID_OF: anyone may ask; `NoEntry` for endpoints PM did not create.
    pub fn uid_of_request(&mut self, ep: Endpoint) -> Answer {
        match self.uid_of(ep) {
            Some(uid) => value(uid),
            None => error(Error::NoEntry),
        }
    }
}
