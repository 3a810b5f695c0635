//! Process exit: nobody may be left waiting on the dead process, and
//! nothing it left pending may reach anyone later.

use crate::ipc::{bit, slots_in};
use crate::{Kernel, ProcState, UserMemory};
use abi::syscall::Trap;
use abi::syscall::{NOTIFY_CHILD_EXITED, NOTIFY_CHILD_WORD};
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
    ///
    /// The exit status is 0; see [`Self::exit_with_status`].
    pub fn exit(&mut self, mem: &mut impl UserMemory, slot: usize) {
        self.exit_with_status(mem, slot, 0);
    }

    /// [`Self::exit`] with exit status `status`, and reaping:
    ///
    /// - when the process has a live reaper, its slot becomes a zombie
    ///   (endpoint refused, slot not reusable) that keeps `status` until
    ///   the reaper reaps it ([`Self::reap`]), and the reaper gets a SYSTEM
    ///   notification with `NOTIFY_CHILD_EXITED` in word
    ///   `NOTIFY_CHILD_WORD`; without one the slot is free at once;
    /// - its own zombie children are freed, and its living children have no
    ///   reaper any more.
    pub fn exit_with_status(&mut self, mem: &mut impl UserMemory, slot: usize, status: u32) {
        if self.trace.enabled {
            self.trace_exit(mem, slot, status);
        }
        if self.watching_command() {
            self.record_command_exit(slot, status);
        }
        if self.faults.enabled {
            self.fault_forget(slot);
            self.faults.dup_pending &= !bit(slot);
        }
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
            self.wake_on_death(mem, sender, ep, Error::DstDied);
        }
        self.procs[slot].senders = (None, None);
        for other in 0..self.procs.len() {
            let p = &self.procs[other];
            if other != slot && p.sending.is_none() && p.receiving.is_some_and(|r| r.from == ep) {
                self.wake_on_death(mem, other, ep, Error::SrcDied);
            }
        }
        self.procs[slot].senda_table = None;
        for sender in slots_in(self.procs[slot].async_from) {
            self.fail_senda_entries_to(mem, sender, ep, Error::DeadSrcDst);
        }
        let me = Some(slot as u16);
        for p in self.procs.iter_mut() {
            p.notify_pending &= !bit(slot);
            p.async_from &= !bit(slot);
            if p.reaper == me {
                if p.state == ProcState::Zombie {
                    *p = crate::Proc { next_generation: p.next_generation, ..crate::Proc::EMPTY };
                } else {
                    p.reaper = None;
                }
            }
        }
        let old = self.procs[slot];
        self.procs[slot] = crate::Proc { next_generation: old.next_generation, ..crate::Proc::EMPTY };
        if let Some(reaper) = old.reaper.map(usize::from) {
            if self.procs[reaper].state == ProcState::Alive {
                let p = &mut self.procs[slot];
                p.state = ProcState::Zombie;
                p.endpoint = ep;
                p.name = old.name;
                p.reaper = old.reaper;
                p.exit_status = status;
                let mut words = [0u64; NOTIFY_CHILD_WORD + 1];
                words[NOTIFY_CHILD_WORD] = NOTIFY_CHILD_EXITED;
                let _ = self.notify_from_system(mem, reaper, &words);
            }
        }
    }

    /// Ends the call of `waiter`, blocked on `dead`, with `error`, and
    /// traces it as a refused call with that result (its call ends with
    /// an error, like one refused at once). With the defense switched off
    /// (`abi::weaken::DEAD_PEER`) the waiter stays blocked for ever.
    fn wake_on_death(&mut self, mem: &mut impl UserMemory, waiter: usize, dead: abi::Endpoint, error: Error) {
        if self.weak.dead_peer {
            // Its wait names a process that is gone: nothing will end it.
            // A sender's wait was unlinked with the dead one's queue, so
            // mark it as never runnable again.
            if error == Error::DstDied {
                self.hang(waiter);
            }
            return;
        }
        if self.trace.enabled {
            let reply = self.procs[waiter].receiving.is_some_and(|w| w.reply);
            let primitive = match (reply, error) {
                (true, _) => Trap::SendRec,
                (false, Error::DstDied) => Trap::Send,
                (false, _) => Trap::Receive,
            };
            self.trace_refusal(mem, primitive as u8, waiter, dead.0, error.to_return());
        }
        self.wake(mem, waiter, error.to_return());
    }

    /// Kills process `slot`: the same as [`Self::exit`], for callers (the
    /// architecture layer on a fault, or a kill kernel call) to whom the
    /// process did not choose to end.
    pub fn kill(&mut self, mem: &mut impl UserMemory, slot: usize) {
        self.exit(mem, slot);
    }

    /// Takes one zombie child of `caller`: returns its endpoint and exit
    /// status and frees its slot. `NotReady` when there is none.
    pub fn reap(&mut self, caller: usize) -> Result<(abi::Endpoint, u32), Error> {
        self.reap_one(caller).map(|(reaped, _)| reaped)
    }

    /// [`Self::reap`], and when another zombie child of `caller` is left,
    /// a new SYSTEM notification with `NOTIFY_CHILD_EXITED`: so a reaper
    /// can reap once per notification instead of reaping until `NotReady`
    /// (a kernel call that finds nothing at every exit).
    pub fn reap_notifying(&mut self, mem: &mut impl UserMemory, caller: usize) -> Result<(abi::Endpoint, u32), Error> {
        let (reaped, more) = self.reap_one(caller)?;
        if more {
            let mut words = [0u64; NOTIFY_CHILD_WORD + 1];
            words[NOTIFY_CHILD_WORD] = NOTIFY_CHILD_EXITED;
            let _ = self.notify_from_system(mem, caller, &words);
        }
        Ok(reaped)
    }

    /// Frees the first zombie child of `caller`; its endpoint and status,
    /// and whether another zombie child is left (one scan of the table).
    fn reap_one(&mut self, caller: usize) -> Result<((abi::Endpoint, u32), bool), Error> {
        let me = Some(caller as u16);
        let is_mine = |p: &crate::Proc| p.state == ProcState::Zombie && p.reaper == me;
        let slot = self.procs.iter().position(is_mine).ok_or(Error::NotReady)?;
        let more = self.procs[slot + 1..].iter().any(is_mine);
        let p = self.procs[slot];
        self.procs[slot] = crate::Proc { next_generation: p.next_generation, ..crate::Proc::EMPTY };
        Ok(((p.endpoint, p.exit_status), more))
    }
}
