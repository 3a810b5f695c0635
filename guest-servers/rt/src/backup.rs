//! The backup RS lends this program, if its image entry asks for one
//! (`abi::backup`): memory in RS that outlives the program's restarts.
//! Only the current incarnation may copy to or from it (RS's grant names
//! it as the grantee), so nobody else can forge what a restarted program
//! reads back; what it reads back is still checked record by record.

use abi::{Endpoint, Error};

/// The grant id, in RS's grant table, of the backup of program `index`
/// (the same computation RS makes when it lends them).
pub fn grant_of(index: usize) -> Option<u64> {
    let count = crate::kip::program_count();
    abi::backup::grant_id((0..count).map(crate::kip::program_flags), index)
}

/// Where this program's backup is.
#[derive(Clone, Copy)]
pub struct Lent {
    rs: Endpoint,
    grant: u64,
}

impl Lent {
    /// The backup of program `name`; `None` when its image entry asks for
    /// none, or there is no RS.
    pub fn of(name: &str) -> Option<Lent> {
        let grant = grant_of(crate::kip::program_index(name)?)?;
        Some(Lent { rs: crate::service::rs()?, grant })
    }

    /// Copies `buf.len()` bytes at `offset` of the backup into `buf`.
    pub fn read(&self, offset: usize, buf: &mut [u8]) -> Result<(), Error> {
        crate::sys::safecopy_from(self.rs, self.grant, offset as u64, buf).map(|_| ())
    }

    /// Copies `bytes` to `offset` of the backup (one kernel call: the
    /// program's death cannot tear it).
    pub fn write(&self, offset: usize, bytes: &[u8]) -> Result<(), Error> {
        crate::sys::safecopy_to(self.rs, self.grant, offset as u64, bytes).map(|_| ())
    }
}

/// A program's use of the backup RS lends it: where it is while it can
/// be copied to and from, and whether what an earlier incarnation left
/// there is still to be taken back. The same for every program with a
/// backup (DS, TTY); what goes into it is the program's own.
pub struct InUse {
    /// The program's name in the boot image.
    name: &'static str,
    /// The backup; `None` when off or broken.
    lent: Option<Lent>,
    /// What an earlier incarnation left is still to be read (before the
    /// first request: RS moves the grant to a new incarnation before it
    /// tells anyone of it, so nobody can send it one earlier).
    to_restore: bool,
}

impl InUse {
    /// No backup yet (until [`InUse::start`]) for program `name`.
    pub const fn new(name: &'static str) -> InUse {
        InUse { name, lent: None, to_restore: false }
    }

    /// Uses the backup RS lends (unless `on` is false).
    pub fn start(&mut self, on: bool) {
        self.lent = if on { Lent::of(self.name) } else { None };
        self.to_restore = self.lent.is_some();
    }

    /// The backup, at the first call only: to take back what an earlier
    /// incarnation left, before the first request is handled.
    pub fn for_restore(&mut self) -> Option<Lent> {
        self.lent.filter(|_| core::mem::take(&mut self.to_restore))
    }

    /// The backup, while it is in use.
    pub fn lent(&self) -> Option<Lent> {
        self.lent
    }

    /// Stops using a backup that cannot be copied to or from: the program
    /// goes on without (a new incarnation would then start empty), and
    /// says so once.
    pub fn broken(&mut self, what: &str, e: Error) {
        crate::println!("{}: cannot {} its backup ({:?}); going on without it", self.name, what, e);
        self.lent = None;
    }
}
