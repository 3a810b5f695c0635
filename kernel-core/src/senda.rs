//! SENDA: asynchronous sends from a bounded table in the sender's memory.
//!
//! A trusted server must be able to send to an untrusted process without
//! blocking on it (the paper's V1). The table stays in the sender's memory
//! (layout in `abi::senda`), so the kernel buffers nothing; it remembers
//! only where the table is. The call delivers at once to every destination
//! already waiting; each other entry is delivered when its destination
//! next RECEIVEs and finds nothing else (MINIX's order).
//!
//! Finding pending entries cheaply: when an entry for `R` is left pending,
//! the sender's bit is set in `R`'s `async_from` hint bitmap. RECEIVE
//! scans only the tables whose bits are set (at most `NR_PROCS` tables of at
//! most `SENDA_MAX_ENTRIES` entries), and clears a bit when that table has
//! nothing left for it; a RECEIVE with no bit set does no work.
//!
//! The whole table is checked (readable and writable) at call time, so a
//! bad pointer is `Fault` at once. If it becomes unreadable later (the
//! sender unmapped it), the kernel drops the table. Entries aimed at a
//! process that dies are completed with `-EDEADSRCDST` by the exit.

use crate::fault::SendaFault;
use crate::ipc::{bit, slots_in};
use crate::proc::SendaTable;
use crate::{Kernel, Outcome, UserMemory};
use abi::notify::{EVENT_SENDA_DONE, NOTIFY_MTYPE, SYSTEM_EVENTS_WORD};
use abi::senda::{
    message_from_bytes, SendaEntry, FLAGS_KNOWN, FLAG_DONE, FLAG_NOTIFY, FLAG_VALID, OFFSET_MESSAGE, SENDA_ENTRY_SIZE,
    SENDA_HEADER_SIZE, SENDA_MAX_ENTRIES,
};
use abi::syscall::Trap;
use abi::trace::Kind;
use abi::{Endpoint, Error, Message};

/// The user address of entry `index` of a table at `addr`.
fn entry_addr(addr: u64, index: usize) -> Result<u64, Error> {
    addr.checked_add((index * SENDA_ENTRY_SIZE) as u64).ok_or(Error::Fault)
}

/// Whether a completion happens inside the SENDA call (the caller sees it
/// on return) or later (the caller may ask to be notified).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Completion {
    DuringCall,
    Later,
}

impl Kernel {
    /// SENDA(`table_addr`, `count`) of `caller`: replaces the caller's
    /// table and delivers what it can now. Never blocks. `Domain` when
    /// `count` exceeds `SENDA_MAX_ENTRIES`, `Fault` when any byte of the
    /// table is not readable and writable (the previous table is dropped
    /// either way).
    pub fn senda(&mut self, mem: &mut impl UserMemory, caller: usize, table_addr: u64, count: usize) -> Outcome {
        if self.trace.enabled {
            self.open_cause(caller);
            let outcome = self.senda_inner(mem, caller, table_addr, count);
            if let Outcome::Done(r @ ..=-1) = outcome {
                self.trace_refusal(mem, Trap::SendA as u8, caller, Endpoint::NONE.0, r);
            }
            return outcome;
        }
        self.senda_inner(mem, caller, table_addr, count)
    }

    fn senda_inner(&mut self, mem: &mut impl UserMemory, caller: usize, table_addr: u64, count: usize) -> Outcome {
        if let Err(e) = self.check_trap(caller, Trap::SendA) {
            return Outcome::err(e);
        }
        if count > SENDA_MAX_ENTRIES && !self.weak.senda_bound {
            return Outcome::err(Error::Domain);
        }
        self.procs[caller].senda_table = None;
        if self.faults.enabled {
            self.faults.senda_holds.table_replaced(caller, table_addr, count);
        }
        // Check the whole table first, so that a bad table is refused before
        // anything is delivered (one look per page, not per entry).
        if let Err(e) =
            entry_addr(table_addr, count).and_then(|_| mem.check_bytes(caller, table_addr, count * SENDA_ENTRY_SIZE))
        {
            return Outcome::err(e);
        }
        let mut any_pending = false;
        for index in 0..count {
            match self.start_entry(mem, caller, entry_addr(table_addr, index).unwrap_or(0)) {
                Ok(pending) => any_pending |= pending,
                Err(e) => return Outcome::err(e),
            }
        }
        if any_pending {
            self.procs[caller].senda_table =
                Some(SendaTable { addr: table_addr, count, cause: self.procs[caller].cause });
        }
        Outcome::Done(0)
    }

    /// Handles one entry at call time; returns whether it stays pending.
    fn start_entry(&mut self, mem: &mut impl UserMemory, caller: usize, addr: u64) -> Result<bool, Error> {
        // The header and the message in one read: most entries are sent now.
        let mut bytes = [0u8; SENDA_ENTRY_SIZE];
        mem.read_bytes(caller, addr, &mut bytes)?;
        let (header, message) = bytes.split_at(SENDA_HEADER_SIZE);
        let entry = SendaEntry::header_from_bytes(header.try_into().unwrap_or(&[0; SENDA_HEADER_SIZE]));
        if !entry.is_pending() {
            return Ok(false);
        }
        if entry.flags & !FLAGS_KNOWN != 0 {
            self.complete_entry(mem, caller, addr, entry, Err(Error::Invalid), Completion::DuringCall)?;
            return Ok(false);
        }
        let dst_slot = match self.destination_slot(caller, entry.dst) {
            Ok(slot) => slot,
            Err(e) => {
                self.complete_entry(mem, caller, addr, entry, Err(e), Completion::DuringCall)?;
                return Ok(false);
            }
        };
        if self.accepts_kernel_message(dst_slot, self.procs[caller].endpoint) {
            let mut msg = self.stamped(caller, message.try_into().unwrap_or(&[0; 64]));
            if self.refuses_type(&msg) {
                self.complete_entry(mem, caller, addr, entry, Err(Error::Invalid), Completion::DuringCall)?;
                return Ok(false);
            }
            let verdict = if self.faults.enabled {
                self.fault_senda(mem, caller, addr, dst_slot, &mut msg)
            } else {
                SendaFault::Deliver(None)
            };
            match verdict {
                SendaFault::Complete(result) => {
                    self.complete_entry(mem, caller, addr, entry, result, Completion::DuringCall)?;
                    return Ok(false);
                }
                SendaFault::Deliver(duplicate) if self.deliver(mem, dst_slot, &msg).is_ok() => {
                    self.fault_senda_delivered(duplicate, dst_slot, &msg);
                    if self.trace.enabled {
                        let cause = self.procs[caller].cause;
                        self.trace_senda(mem, Kind::SendaDelivered, caller, dst_slot, &msg, cause);
                    }
                    self.complete_entry(mem, caller, addr, entry, Ok(()), Completion::DuringCall)?;
                    return Ok(false);
                }
                // Not taken (the receiver's buffer went bad), or held: pending.
                SendaFault::Deliver(_) | SendaFault::Hold => {}
            }
        }
        self.procs[dst_slot].async_from |= bit(caller);
        if self.trace.enabled {
            let cause = self.procs[caller].cause;
            let msg = Message { source: self.procs[caller].endpoint, mtype: 0, payload: [0; 7] };
            self.trace_senda(mem, Kind::SendaPended, caller, dst_slot, &msg, cause);
        }
        Ok(true)
    }

    /// RECEIVE's last step: delivers the first pending SENDA entry for the
    /// caller that `from` accepts (lowest sender slot first, table order
    /// within a table). `None` when there is none.
    pub(crate) fn receive_async(
        &mut self,
        mem: &mut impl UserMemory,
        caller: usize,
        from: Endpoint,
        msg_addr: u64,
    ) -> Option<Outcome> {
        'retry: loop {
            let hints = match from {
                Endpoint::ANY => self.procs[caller].async_from,
                Endpoint::SYSTEM => 0,
                _ => self.procs[caller].async_from & bit(from.slot()),
            };
            let me = self.procs[caller].endpoint;
            for sender in slots_in(hints) {
                if !self.procs[sender].privileges.allows_send_to(self.procs[caller].privilege_id.into()) {
                    // The grant was withdrawn after the call: what is left for
                    // the caller is refused, not delivered.
                    self.fail_senda_entries_to(mem, sender, me, Error::CallDenied);
                    self.procs[caller].async_from &= !bit(sender);
                    continue;
                }
                let found = match self.find_pending_entry(mem, sender, me) {
                    Ok(found) => found,
                    Err(_) => {
                        // The table became unreadable: drop it.
                        self.procs[sender].senda_table = None;
                        None
                    }
                };
                let Some((addr, entry)) = found else {
                    // A held entry keeps the hint: the exit of either end
                    // must still find it.
                    if !self.faults.senda_holds.waiting_for(sender, me) {
                        self.procs[caller].async_from &= !bit(sender);
                    }
                    continue;
                };
                let mut msg = match self.entry_message(mem, sender, addr) {
                    Ok(msg) => msg,
                    Err(_) => {
                        self.procs[sender].senda_table = None;
                        self.procs[caller].async_from &= !bit(sender);
                        continue;
                    }
                };
                if self.refuses_type(&msg) {
                    if self.complete_entry(mem, sender, addr, entry, Err(Error::Invalid), Completion::Later).is_err() {
                        self.procs[sender].senda_table = None;
                    }
                    continue 'retry;
                }
                let mut duplicate = None;
                if self.faults.enabled {
                    match self.fault_senda(mem, sender, addr, caller, &mut msg) {
                        SendaFault::Deliver(rule) => duplicate = rule,
                        SendaFault::Complete(result) => {
                            // Completed without delivery: look again from the start.
                            if self.complete_entry(mem, sender, addr, entry, result, Completion::Later).is_err() {
                                self.procs[sender].senda_table = None;
                            }
                            continue 'retry;
                        }
                        // Held: the scan passes it over from now on.
                        SendaFault::Hold => continue 'retry,
                    }
                }
                if let Err(e) = mem.write_message(caller, msg_addr, &msg) {
                    return Some(Outcome::err(e));
                }
                self.fault_senda_delivered(duplicate, caller, &msg);
                if self.trace.enabled {
                    let cause = self.procs[sender].senda_table.map_or(0, |t| t.cause);
                    self.trace_senda(mem, Kind::SendaDelivered, sender, caller, &msg, cause);
                }
                // Delivered; a write-back the sender made impossible only costs
                // the sender its table.
                if self.complete_entry(mem, sender, addr, entry, Ok(()), Completion::Later).is_err() {
                    self.procs[sender].senda_table = None;
                }
                return Some(Outcome::Done(0));
            }
            return None;
        }
    }

    /// Completes with `error` every pending entry of `sender`'s table aimed
    /// at `dst` (used when `dst` dies).
    pub(crate) fn fail_senda_entries_to(
        &mut self,
        mem: &mut impl UserMemory,
        sender: usize,
        dst: Endpoint,
        error: Error,
    ) {
        let Some(table) = self.procs[sender].senda_table else { return };
        for index in 0..table.count {
            let Ok(addr) = entry_addr(table.addr, index) else { break };
            let entry = match read_header(mem, sender, addr) {
                Ok(entry) => entry,
                Err(_) => {
                    self.procs[sender].senda_table = None;
                    return;
                }
            };
            if entry.is_pending()
                && entry.dst == dst
                && self.complete_entry(mem, sender, addr, entry, Err(error), Completion::Later).is_err()
            {
                self.procs[sender].senda_table = None;
                return;
            }
        }
    }

    /// The address and header of the first pending entry of `sender`'s
    /// table aimed at `dst`.
    fn find_pending_entry(
        &self,
        mem: &mut impl UserMemory,
        sender: usize,
        dst: Endpoint,
    ) -> Result<Option<(u64, SendaEntry)>, Error> {
        let Some(table) = self.procs[sender].senda_table else { return Ok(None) };
        for index in 0..table.count {
            let addr = entry_addr(table.addr, index)?;
            let entry = read_header(mem, sender, addr)?;
            if entry.is_pending()
                && entry.dst == dst
                && entry.flags & !FLAGS_KNOWN == 0
                && !self.faults.senda_holds.is_waiting(sender, addr)
            {
                return Ok(Some((addr, entry)));
            }
        }
        Ok(None)
    }

    /// The message of the entry at `addr` of `sender`, source stamped.
    fn entry_message(&self, mem: &mut impl UserMemory, sender: usize, addr: u64) -> Result<Message, Error> {
        let mut bytes = [0u8; 64];
        mem.read_bytes(sender, addr + OFFSET_MESSAGE as u64, &mut bytes)?;
        Ok(self.stamped(sender, &bytes))
    }

    /// The message in `bytes`, an entry of `sender`'s, source stamped.
    fn stamped(&self, sender: usize, bytes: &[u8; 64]) -> Message {
        let mut msg = message_from_bytes(bytes);
        if !self.weak.source_stamp {
            msg.source = self.procs[sender].endpoint;
        }
        msg
    }

    /// Whether a SENDA entry's message poses as a notification, which only
    /// the kernel builds (`abi::notify::NOTIFY_MTYPE`).
    fn refuses_type(&self, msg: &Message) -> bool {
        msg.mtype == NOTIFY_MTYPE && !self.weak.notify_type
    }

    /// Writes `outcome` and DONE into the entry at `addr` of `sender`; a
    /// later completion of an entry with NOTIFY notifies the sender.
    fn complete_entry(
        &mut self,
        mem: &mut impl UserMemory,
        sender: usize,
        addr: u64,
        mut entry: SendaEntry,
        outcome: Result<(), Error>,
        when: Completion,
    ) -> Result<(), Error> {
        entry.result = match outcome {
            Ok(()) => 0,
            Err(e) => e.to_return() as i32,
        };
        if self.trace.enabled && entry.result != 0 {
            // Every entry that fails leaves a record with its real result.
            self.trace_refusal(mem, Trap::SendA as u8, sender, entry.dst.0, i64::from(entry.result));
        }
        entry.flags |= FLAG_DONE;
        self.faults.senda_holds.completed(sender, addr);
        mem.write_bytes(sender, addr, &entry.header_to_bytes())?;
        if when == Completion::Later && entry.flags & FLAG_NOTIFY != 0 {
            let mut words = [0u64; SYSTEM_EVENTS_WORD + 1];
            words[SYSTEM_EVENTS_WORD] = EVENT_SENDA_DONE;
            // The sender is alive: it owns the table being scanned.
            let _ = self.notify_from_system(mem, sender, &words);
        }
        Ok(())
    }
}

/// The header of the entry at `addr` of `slot`.
fn read_header(mem: &mut impl UserMemory, slot: usize, addr: u64) -> Result<SendaEntry, Error> {
    let mut bytes = [0u8; SENDA_HEADER_SIZE];
    mem.read_bytes(slot, addr, &mut bytes)?;
    Ok(SendaEntry::header_from_bytes(&bytes))
}

// An entry is pending while it has VALID and not DONE.
const _: () = assert!(FLAG_VALID & FLAG_DONE == 0);
