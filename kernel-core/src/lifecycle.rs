//! Process creation and replacement for the process manager: fork copies a
//! process's identity-free state (program, privileges, IPC wait) into a new
//! slot; exec resets a process for a new program. Memory is the
//! architecture layer's business.

use crate::proc::Proc;
use crate::{Kernel, Privileges, ProcState, NR_PROCS, QUANTUM_TICKS};
use abi::{Endpoint, Error};

// `exec` gives a process a boot program's index as its privilege id, and
// privilege ids lie below NR_PROCS (the IPC fast path relies on it).
const _: () = assert!(abi::boot_image::MAX_PROGRAMS <= NR_PROCS);

impl Kernel {
    /// `Ok` when `target` is a live process blocked in the reply wait of a
    /// SENDREC to `caller` (its request taken), else `Invalid`.
    pub fn check_reply_wait(&self, target: usize, caller: usize) -> Result<(), Error> {
        let p = &self.procs[target];
        match p.receiving {
            Some(w)
                if p.state == ProcState::Alive
                    && p.sending.is_none()
                    && w.reply
                    && target != caller
                    && w.from == self.procs[caller].endpoint =>
            {
                Ok(())
            }
            _ => Err(Error::Invalid),
        }
    }

    /// Forks `parent`, which must wait for `caller`'s reply to a SENDREC
    /// (else `Invalid`): a new slot (`NoMemory` when none is free) gets the
    /// parent's name, priority, privileges and privilege id, and the same
    /// reply wait (same message buffer), so `caller` replies to both. The
    /// child is blocked like the parent; its reaper is `caller`. Returns
    /// the child's slot.
    pub fn fork(&mut self, caller: usize, parent: usize) -> Result<usize, Error> {
        self.check_reply_wait(parent, caller)?;
        let slot = self.procs.iter().position(|p| p.state == ProcState::Free).ok_or(Error::NoMemory)?;
        let from = self.procs[parent];
        let generation = self.procs[slot].next_generation;
        let endpoint = Endpoint::new(slot, generation);
        self.procs[slot] = Proc {
            state: ProcState::Alive,
            endpoint,
            next_generation: endpoint.next_generation().generation(),
            name: from.name,
            priority: from.priority,
            queues_ahead: from.queues_ahead,
            receiving: from.receiving,
            quantum_left: QUANTUM_TICKS,
            privileges: from.privileges,
            privilege_id: from.privilege_id,
            reaper: Some(caller as u16),
            user: from.user,
            cause: from.cause,
            ..Proc::EMPTY
        };
        Ok(slot)
    }

    /// Frees `slot`, a process made by [`Self::fork`] that never ran (the
    /// architecture layer could not give it memory). Nobody can have
    /// reached it yet.
    pub fn discard(&mut self, slot: usize) {
        let next_generation = self.procs[slot].next_generation;
        self.procs[slot] = Proc { next_generation, ..Proc::EMPTY };
    }

    /// Makes `reaper` the process that reaps `slot`.
    pub fn set_reaper(&mut self, slot: usize, reaper: usize) {
        self.procs[slot].reaper = Some(reaper as u16);
    }

    /// Exec's part of the process table: `target` (checked with
    /// [`Self::check_reply_wait`] by the caller) runs program `name` with
    /// `privileges` and `privilege_id` now; its IPC wait ends without a
    /// result (its registers are the new program's) and it becomes ready;
    /// its SENDA table, which lay in the old memory, is forgotten. Its
    /// endpoint, reaper, priority and pending notifications stay.
    pub fn exec(&mut self, target: usize, name: &str, privileges: Privileges, privilege_id: u8) {
        // The IPC fast path relies on it (`Kernel::peer`): a boot
        // program's index is below `abi::boot_image::MAX_PROGRAMS`.
        debug_assert!(usize::from(privilege_id) < NR_PROCS);
        let p = &mut self.procs[target];
        p.receiving = None;
        p.senda_table = None;
        p.privileges = privileges;
        p.privilege_id = privilege_id;
        p.set_name(name);
        p.user = privileges.traps == Privileges::trap_bit(abi::syscall::Trap::SendRec);
        self.run_queues.enqueue(&mut self.procs, target);
    }
}
