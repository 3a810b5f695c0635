//! Lending backups: memory in RS that outlives a server's restarts
//! (`abi::backup`; MINIX 3 keeps such state in its data store, we keep it
//! in RS, which outlives every server by design).
//!
//! Every program whose image entry says `backup = true` gets
//! `abi::backup::SIZE` bytes of RS's memory by a grant that only its
//! current incarnation may use. The grants are RS's first, made in image
//! order before any other, so the grant id is the program's ordinal
//! among them (`abi::backup::grant_id`, which the program computes the
//! same way from the kernel info page). A kernel-started program (DS) is
//! lent its backup at once; a service gets it at each start, before RS
//! publishes it in DS ([`Rs::move_backup`]), so before anyone can send it a
//! request. A dead incarnation's endpoint never matches a new process, so
//! it cannot write the backup again. DS keeps the names programs published
//! for themselves (guest-servers/ds/src/backup.rs), TTY the writes it has
//! served (guest-servers/tty/src/served.rs).

use crate::Rs;
use abi::backup::{MAX_BACKUPS, SIZE};
use abi::Endpoint;

/// The memory RS lends.
static mut MEMORY: [[u8; SIZE]; MAX_BACKUPS] = [[0; SIZE]; MAX_BACKUPS];

/// One lent backup: the program it belongs to and the grant.
pub struct Loan {
    program: usize,
    grant: rt::grant::GrantGuard,
}

impl Rs {
    /// Lends every program that asks for one its backup, kernel-started
    /// ones (DS) to their running incarnation. Call first of all, before
    /// any message goes out and before any other grant is made.
    pub fn lend_backups(&mut self) {
        // SAFETY: the program is single-threaded and this is the only
        // reference to MEMORY; RS itself never touches it again, only the
        // borrowers copy to and from it through the kernel.
        let memory = unsafe { &mut *(&raw mut MEMORY) };
        let mut free = memory.iter_mut();
        for (program, (name, ep)) in rt::kip::boot_processes().enumerate() {
            let Some(id) = rt::backup::grant_of(program) else { continue };
            let Some(buffer) = free.next() else { return };
            match rt::grant::writable(ep, buffer) {
                Ok(grant) if grant.id() == id => self.loans[id as usize] = Some(Loan { program, grant }),
                Ok(grant) => rt::println!("rs: {}'s backup got grant {}, not {}: no backup", name, grant.id(), id),
                Err(e) => rt::println!("rs: cannot lend {} its backup: {:?}", name, e),
            }
        }
    }

    /// Program `program` runs anew at `ep`: its backup is lent to `ep`
    /// (and no longer to the dead incarnation). A plain store: the kernel
    /// reads the grant at every copy.
    pub fn move_backup(&self, program: usize, ep: Endpoint) {
        if let Some(loan) = self.loans.iter().flatten().find(|l| l.program == program) {
            loan.grant.set_grantee(ep);
        }
    }
}
