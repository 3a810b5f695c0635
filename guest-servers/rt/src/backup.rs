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
