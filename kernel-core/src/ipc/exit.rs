//! Process exit: nobody may be left waiting on the dead process, and
//! nothing it left pending may reach anyone later.

use crate::ipc::{bit, slots_in};
use crate::{Kernel, UserMemory};
use abi::Error;

impl Kernel {
    /// Removes process `slot` from the system and frees the slot:
    ///
    /// - processes blocked sending to it (SEND, or the send half of
    ///   SENDREC) are woken with `DstDied`; processes waiting to receive
    ///   from it (RECEIVE(it), or the reply wait of SENDREC) with `SrcDied`;
    /// - its pending notifications to others are withdrawn, and those to it
    ///   dropped;
    /// - its SENDA table is forgotten (entries not yet delivered never will
    ///   be), and entries of other processes' tables still aimed at it are
    ///   completed now with `-EDEADSRCDST` and DONE (notifying their
    ///   senders when the entry asks for it), so no sender waits on an
    ///   entry that can never be delivered.
    pub fn exit(&mut self, mem: &mut impl UserMemory, slot: usize) {
        let ep = self.procs[slot].endpoint;
        self.block(slot);
        if let Some(wait) = self.procs[slot].sending.take() {
            self.unlink_sender(wait.dst, slot);
        }
        self.procs[slot].receiving = None;
        let mut cur = self.procs[slot].senders.0;
        while let Some(s) = cur {
            let sender = s as usize;
            cur = self.procs[sender].next_sender;
            self.procs[sender].next_sender = None;
            self.procs[sender].sending = None;
            self.wake(mem, sender, Error::DstDied.to_return());
        }
        self.procs[slot].senders = (None, None);
        for other in 0..self.procs.len() {
            let p = &self.procs[other];
            if other != slot && p.sending.is_none() && p.receiving.is_some_and(|r| r.from == ep) {
                self.wake(mem, other, Error::SrcDied.to_return());
            }
        }
        self.procs[slot].senda_table = None;
        for sender in slots_in(self.procs[slot].async_from) {
            self.fail_senda_entries_to(mem, sender, ep, Error::DeadSrcDst);
        }
        for p in self.procs.iter_mut() {
            p.notify_pending &= !bit(slot);
            p.async_from &= !bit(slot);
        }
        let next_generation = self.procs[slot].next_generation;
        self.procs[slot] = crate::Proc::EMPTY;
        self.procs[slot].next_generation = next_generation;
    }

    /// Kills process `slot`: the same as [`Self::exit`], for callers (the
    /// architecture layer on a fault, or a kill kernel call) to whom the
    /// process did not choose to end.
    pub fn kill(&mut self, mem: &mut impl UserMemory, slot: usize) {
        self.exit(mem, slot);
    }
}
