//! NOTIFY: a non-blocking, coalescing signal whose message the kernel
//! builds.
//!
//! A server must be able to signal a client or driver it does not trust
//! without ever blocking on it, and without the kernel buffering messages
//! on the untrusted party's behalf. So a notification is one pending bit
//! per source slot in the destination's `notify_pending` bitmap: delivered
//! at once when the destination is waiting for it, otherwise remembered;
//! repeated notifies before the destination receives coalesce. The message
//! (`source` = notifier, `mtype` = [`NOTIFY_MTYPE`], zero payload) is built
//! by the kernel at delivery, so it cannot be forged.
//!
//! The kernel itself notifies with source `Endpoint::SYSTEM` (alarms, IRQs,
//! SENDA completion); those carry a payload of event bitmaps that the
//! kernel ORs together while the notification is pending.
//!
//! A notification never ends the reply wait of a SENDREC: it stays pending
//! until the process receives again.

use crate::ipc::{bit, slots_in};
use crate::{Kernel, Outcome, ProcState, UserMemory};
use abi::message::PAYLOAD_WORDS;
use abi::notify::NOTIFY_MTYPE;
use abi::syscall::Trap;
use abi::trace::Kind;
use abi::{Endpoint, Error, Message};

/// The message of a notification from `source` with `payload`.
fn notification(source: Endpoint, payload: [u64; PAYLOAD_WORDS]) -> Message {
    Message { source, mtype: NOTIFY_MTYPE, payload }
}

impl Kernel {
    /// NOTIFY from `caller` to `dst`. Never blocks.
    pub fn notify(&mut self, mem: &mut impl UserMemory, caller: usize, dst: Endpoint) -> Outcome {
        if self.trace.enabled {
            self.open_cause(caller);
            let outcome = self.notify_inner(mem, caller, dst);
            if let Outcome::Done(r @ ..=-1) = outcome {
                self.trace_refusal(mem, Trap::Notify as u8, caller, dst.0, r);
            }
            return outcome;
        }
        self.notify_inner(mem, caller, dst)
    }

    #[inline(always)]
    fn notify_inner(&mut self, mem: &mut impl UserMemory, caller: usize, dst: Endpoint) -> Outcome {
        if let Err(e) = self.check_trap(caller, Trap::Notify) {
            return Outcome::err(e);
        }
        let dst_slot = match self.destination_slot(caller, dst) {
            Ok(slot) => slot,
            Err(e) => return Outcome::err(e),
        };
        if self.faults.enabled {
            if let Some(outcome) = self.fault_notify(mem, caller, dst_slot) {
                return outcome;
            }
        }
        let source = self.procs[caller].endpoint;
        if self.accepts_kernel_message(dst_slot, source) {
            let msg = notification(source, [0; PAYLOAD_WORDS]);
            if self.deliver(mem, dst_slot, &msg).is_ok() {
                if self.trace.enabled {
                    self.trace_notification(mem, Kind::Notify, Some(caller), dst_slot, &msg);
                }
                return Outcome::Done(0);
            }
        }
        self.procs[dst_slot].notify_pending |= bit(caller);
        if self.trace.enabled {
            let msg = notification(source, [0; PAYLOAD_WORDS]);
            self.trace_notification(mem, Kind::NotifyPended, Some(caller), dst_slot, &msg);
        }
        Outcome::Done(0)
    }

    /// A notification from the kernel (source `Endpoint::SYSTEM`) to the
    /// live process `dst` whose payload ORs `words` (at most
    /// `PAYLOAD_WORDS`, the rest are taken as zero) into any SYSTEM
    /// notification still pending there. Delivered at once when `dst`
    /// waits for ANY or SYSTEM. `DeadSrcDst` when `dst` is a free slot.
    pub fn notify_from_system(&mut self, mem: &mut impl UserMemory, dst: usize, words: &[u64]) -> Result<(), Error> {
        if self.procs.get(dst).is_none_or(|p| p.state != ProcState::Alive) {
            return Err(Error::DeadSrcDst);
        }
        let mut payload = self.procs[dst].system_notify_pending.unwrap_or([0; PAYLOAD_WORDS]);
        for (word, new) in payload.iter_mut().zip(words) {
            *word |= new;
        }
        if self.accepts_kernel_message(dst, Endpoint::SYSTEM) {
            let msg = notification(Endpoint::SYSTEM, payload);
            if self.deliver(mem, dst, &msg).is_ok() {
                self.procs[dst].system_notify_pending = None;
                if self.trace.enabled {
                    self.trace_notification(mem, Kind::Notify, None, dst, &msg);
                }
                return Ok(());
            }
        }
        self.procs[dst].system_notify_pending = Some(payload);
        if self.trace.enabled {
            let msg = notification(Endpoint::SYSTEM, payload);
            self.trace_notification(mem, Kind::NotifyPended, None, dst, &msg);
        }
        Ok(())
    }

    /// RECEIVE's first step: delivers the pending notification `from`
    /// accepts (SYSTEM's first, then the lowest source slot) into the
    /// caller's buffer. `None` when there is none.
    pub(crate) fn receive_notification(
        &mut self,
        mem: &mut impl UserMemory,
        caller: usize,
        from: Endpoint,
        msg_addr: u64,
    ) -> Option<Outcome> {
        let p = &self.procs[caller];
        let (msg, source_slot) = match (p.system_notify_pending, from) {
            (Some(payload), Endpoint::ANY | Endpoint::SYSTEM) => (notification(Endpoint::SYSTEM, payload), None),
            (_, Endpoint::SYSTEM) => return None,
            _ => {
                let accepted =
                    if from == Endpoint::ANY { p.notify_pending } else { p.notify_pending & bit(from.slot()) };
                let source = slots_in(accepted).next()?;
                (notification(self.procs[source].endpoint, [0; PAYLOAD_WORDS]), Some(source))
            }
        };
        // The bit is cleared only once the message is in the caller's
        // buffer: a bad buffer leaves the notification pending.
        if let Err(e) = mem.write_message(caller, msg_addr, &msg) {
            return Some(Outcome::err(e));
        }
        match source_slot {
            Some(source) => self.procs[caller].notify_pending &= !bit(source),
            None => self.procs[caller].system_notify_pending = None,
        }
        if self.trace.enabled {
            self.trace_notification(mem, Kind::NotifyReceived, source_slot, caller, &msg);
        }
        Some(Outcome::Done(0))
    }
}
