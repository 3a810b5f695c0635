//! The IPC fast path: a SENDREC to a server already waiting in RECEIVE,
//! and a server's REPLYRECV to a client waiting for its reply whose
//! receive then finds nothing and blocks. These two make every
//! request/reply conversation, and on our hosts every kernel instruction
//! is emulated, so they are worth a path of their own (seL4's fastpath,
//! L4's short IPC).
//!
//! Why it cannot change behaviour: the fast path first checks everything
//! the general path would check (none of the checks has an effect, so
//! their order does not matter), and falls back ([`Fallback`]) without
//! having changed anything as soon as one check would take the general
//! path anywhere but its common case (a refusal,
//! a queue, a fault rule that may match, a message or notification
//! waiting for the receive, a buffer that is not simply a writable
//! page). Only when
//! every check passed does it move the message and make exactly the state
//! changes, trace record and cause the general path would make:
//! - SENDREC: the caller waits for the reply, the message moves to the
//!   waiting receiver, which wakes with 0; one Send record (primitive
//!   SENDREC).
//! - REPLYRECV: the reply moves to the waiting caller, which wakes with
//!   0 (the reply's result is 0), then the server blocks in RECEIVE from
//!   ANY; one Send record (primitive SENDNB), nothing for the receive.
//!   The same for REPLYRECV with `abi::syscall::REPLYRECV_IF_SENT`
//!   ([`crate::ReceivePart::IfSent`]: VFS's requests to the file server
//!   and its answers): the flag only matters when the send fails, and a
//!   send that would fail is one the fast path falls back on
//!   ([`Fallback::NotWaiting`], [`Fallback::Peer`]), so it never reads it.
//!
//! What it saves: the general path's calls and re-checks, the separate
//! buffer check (one translation per buffer, kept in the architecture
//! layer's cache across entries: [`UserMemory::copy_message_fast`]), the
//! receive's scan for pending
//! work (five compares here), and the run-queue work when the partner is
//! the scheduler's next choice (`RunQueues::pass_running`: the caller, the
//! running process, is in no run queue, and the partner becomes the
//! running one without entering its queue), which also tells the
//! architecture layer it may switch to the partner without asking the
//! scheduler ([`Switch::direct`]). The host tests
//! (`kernel-core/src/tests/fast.rs`) run both paths side by side and
//! compare everything they leave, and make every fallback happen.

use crate::proc::{ProcState, RecvWait};
use crate::{Kernel, MessageCopy, MessageHead, Privileges, TraceEvent, UserMemory};
use abi::notify::NOTIFY_MTYPE;
use abi::syscall::Trap;
use abi::trace::Kind;
use abi::Endpoint;

/// Why a trap takes the general path. Nothing has changed when the fast
/// path answers one of these.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Fallback {
    /// The caller may not use the primitive (the general path refuses).
    TrapDenied,
    /// The peer is no process of its generation or lies outside the
    /// caller's send mask (refused); also a
    /// REPLYRECV with no reply (`Endpoint::NONE`, a plain receive), whose
    /// peer is no process.
    Peer,
    /// The peer does not wait for a message from the caller (the general
    /// path queues the SENDREC, or refuses the reply with `NotReady`), or
    /// is a zombie or the caller itself (the general path refuses both).
    NotWaiting,
    /// The fault plan's pre-filter admits the send: a rule may fire.
    FaultRule,
    /// The receive part would not simply block: it names a source other
    /// than ANY, or a notification, a queued sender, a SENDA message or an
    /// injected duplicate waits for the caller.
    ReceiveReady,
    /// A buffer straddles a page or is not mapped writable, or the
    /// message claims the notification type (the general path refuses or
    /// reports the fault).
    Buffer,
    /// A defense that changes what is delivered (the source stamp, the
    /// notification-type refusal) is switched off: a negative control,
    /// which the general path serves.
    Weakened,
}

/// Where the fast path leaves the CPU.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Switch {
    /// The partner, now ready (the caller is blocked).
    pub to: usize,
    /// The partner is the running process now and the scheduler's choice
    /// (every run queue of its priority and higher is empty): the
    /// architecture layer may switch to it without asking, when nothing
    /// else is due at the entry's end.
    pub direct: bool,
}

impl Kernel {
    /// SENDREC of `caller` to `dst` with the message at `msg_addr`, when
    /// `dst` already waits for it. On `Ok` the message was delivered,
    /// `dst` woken and made ready, and the caller blocked for the reply,
    /// exactly as [`Kernel::sendrec`] would have; on `Err` nothing changed.
    #[inline(always)]
    pub fn fast_sendrec(
        &mut self,
        mem: &mut impl UserMemory,
        caller: usize,
        dst: Endpoint,
        msg_addr: u64,
    ) -> Result<Switch, Fallback> {
        // A defense switched off (`Kernel::weak`, negative controls) only
        // lets through what a check here refuses, and the fast path falls
        // back on every refusal; the two that change a delivered message
        // (the source stamp, the notification type) send the call to the
        // general path ([`Fallback::Weakened`], in the copy).
        if !self.procs[caller].privileges.allows_trap(Trap::SendRec) {
            return Err(Fallback::TrapDenied);
        }
        let may_hang = self.may_hang();
        let receiver = self.deliver_to_waiting(mem, caller, dst, Trap::SendRec, msg_addr)?;
        // The state the general path leaves: the caller waits for the
        // reply (set before the send there, which is the same here since
        // nothing between reads it).
        self.procs[caller].receiving = Some(RecvWait { from: dst, msg_addr, reply: true });
        Ok(self.switch_queues(caller, receiver, may_hang))
    }

    /// REPLYRECV of `caller`: the reply at `msg_addr` to `reply_to`, which
    /// waits for it, then RECEIVE from `from` (which must be ANY) with
    /// nothing to receive. On `Ok` the reply was delivered, `reply_to`
    /// woken and made ready, and the caller blocked in the receive, exactly
    /// as [`Kernel::reply_receive`] would have (the reply's result is 0);
    /// on `Err` nothing changed.
    #[inline(always)]
    pub fn fast_reply_receive(
        &mut self,
        mem: &mut impl UserMemory,
        caller: usize,
        reply_to: Endpoint,
        msg_addr: u64,
        from: Endpoint,
    ) -> Result<Switch, Fallback> {
        // No reply (`Endpoint::NONE`: a plain receive) needs no test of
        // its own: NONE is no live process's endpoint (`Fallback::Peer`).
        // First the receive's test: a server with work waiting (a
        // notification, a queued request) is common, and this is the
        // cheapest way out.
        if from != Endpoint::ANY || self.has_work_to_receive(caller) {
            return Err(Fallback::ReceiveReady);
        }
        let traps = Privileges::trap_bit(Trap::SendNb) | Privileges::trap_bit(Trap::Receive);
        if self.procs[caller].privileges.traps & traps != traps {
            return Err(Fallback::TrapDenied);
        }
        let may_hang = self.may_hang();
        let client = self.deliver_to_waiting(mem, caller, reply_to, Trap::SendNb, msg_addr)?;
        // The receive blocks; its buffer is the reply's, whose page the
        // copy found writable, so its check passes.
        self.procs[caller].receiving = Some(RecvWait { from, msg_addr, reply: false });
        Ok(self.switch_queues(caller, client, may_hang))
    }

    /// The send half both fast traps share: the message at `msg_addr` of
    /// `caller` goes to `dst`, which must wait for it, as `primitive` (no
    /// fault rule may match it); `dst` is woken with result 0 and the
    /// delivery traced. Returns `dst`'s slot; on `Err` nothing changed.
    #[inline(always)]
    fn deliver_to_waiting(
        &mut self,
        mem: &mut impl UserMemory,
        caller: usize,
        dst: Endpoint,
        primitive: Trap,
        msg_addr: u64,
    ) -> Result<usize, Fallback> {
        let receiver = self.peer(caller, dst)?;
        let Some(to_addr) = self.waits_for_fast(receiver, caller) else {
            return Err(Fallback::NotWaiting);
        };
        if self.faults.enabled && self.fault_may_match(caller, Some(receiver), primitive) {
            return Err(Fallback::FaultRule);
        }
        let caller_endpoint = self.procs[caller].endpoint;
        // Read before the copy, past whose stores the compiler cannot
        // carry what an entry told it of the flag (fixed at boot).
        let traced = self.trace.enabled;
        let head = self.copy_to_waiting(mem, caller, caller_endpoint, msg_addr, receiver, to_addr)?;
        self.procs[receiver].receiving = None;
        mem.set_result(receiver, 0);
        if traced {
            self.trace_delivered(mem, primitive, (caller, caller_endpoint), (receiver, dst), head);
        }
        Ok(receiver)
    }

    /// The slot of `peer` when [`Kernel::destination_slot`] finds it
    /// without the help of a switched-off defense, or a process the
    /// caller's next test refuses: a process of that very generation,
    /// inside the caller's send mask. That it is alive and not the caller
    /// needs no test of its own, since the fast path's next test (the peer
    /// waits in RECEIVE: [`Self::waits_for_fast`]) fails for both: a
    /// zombie, which keeps its endpoint, waits for nothing (`exit` ends
    /// its wait), and the caller, which is running, waits for nothing
    /// either.
    #[inline(always)]
    fn peer(&self, caller: usize, peer: Endpoint) -> Result<usize, Fallback> {
        debug_assert!(self.procs[caller].is_ready());
        // A process's endpoint names its own slot, so the equality below
        // also rules out a `peer` whose slot lies beyond the table: the
        // mask only spares a bounds check.
        let slot = peer.slot() & (crate::NR_PROCS - 1);
        let p = &self.procs[slot];
        // A process's endpoint is a process endpoint (a free slot's is
        // NONE), so equality also rules out ANY, NONE and SYSTEM.
        if p.endpoint != peer {
            return Err(Fallback::Peer);
        }
        debug_assert!(p.state == ProcState::Alive || p.receiving.is_none());
        // `allows_send_to` without its bounds test: a privilege id is
        // below NR_PROCS (`spawn_with_id` refuses others, `fork` copies
        // one, `exec` takes a boot program's index: `Kernel::exec`).
        let id = usize::from(p.privilege_id) & (crate::NR_PROCS - 1);
        if self.procs[caller].privileges.send_to & Privileges::slot_bit(id) == 0 {
            return Err(Fallback::Peer);
        }
        Ok(slot)
    }

    /// [`Kernel::waits_for`], inlined: the buffer `receiver` waits with
    /// when it waits for a message from `sender`.
    #[inline(always)]
    fn waits_for_fast(&self, receiver: usize, sender: usize) -> Option<u64> {
        let r = &self.procs[receiver];
        match r.receiving {
            Some(w) if r.sending.is_none() && (w.from == self.procs[sender].endpoint || w.from == Endpoint::ANY) => {
                Some(w.msg_addr)
            }
            _ => None,
        }
    }

    /// The run-queue half of the caller blocking and its partner waking
    /// ([`Kernel::wake`], [`Kernel::block`]): the partner simply becomes
    /// the running process when the caller was it and the partner is the
    /// scheduler's next choice. A hung partner is never made ready; only
    /// the fault plan and the dead-peer negative control hang processes
    /// (`Kernel::hang`), so without both (the plain entries tell the
    /// compiler so) that test goes.
    /// `may_hang`: [`Self::may_hang`], read before the copy (past whose
    /// stores the compiler cannot carry what the plain entries told it).
    #[inline(always)]
    fn switch_queues(&mut self, caller: usize, partner: usize, may_hang: bool) -> Switch {
        let hung = may_hang && self.procs[partner].hung;
        let direct = !hung && self.run_queues.pass_running(&self.procs, caller, partner);
        if !direct {
            self.run_queues.enqueue(&mut self.procs, partner);
            self.block(caller);
        }
        Switch { to: partner, direct }
    }

    /// Whether some process may be hung (`Kernel::hang`): only the fault
    /// plan and the dead-peer negative control hang processes.
    #[inline(always)]
    fn may_hang(&self) -> bool {
        self.faults.enabled || self.weak.dead_peer
    }

    /// Whether a RECEIVE of `slot` would find something without waiting:
    /// a notification, a queued sender, a SENDA message, an injected
    /// duplicate. One compare each, as in `receive`; duplicates exist
    /// only with a fault plan (`fault_store_duplicate`), so without one
    /// (`Faults::enabled`, which the plain entries tell the compiler is
    /// false) their test goes.
    #[inline(always)]
    fn has_work_to_receive(&self, slot: usize) -> bool {
        let p = &self.procs[slot];
        // The two bitmaps in one test.
        (p.notify_pending | p.async_from) != 0
            || p.system_notify_pending.is_some()
            || p.senders.0.is_some()
            || (self.faults.enabled && self.faults.dup_pending & crate::ipc::bit(slot) != 0)
    }

    /// The Send record of a message the fast path delivered, with the
    /// cause the caller opens: what `open_cause` and `trace_message`
    /// (delivered) make, from the endpoints the checks already hold
    /// (`peer` checked the partner's equal to the one the caller named),
    /// so nothing is read again.
    #[inline(always)]
    fn trace_delivered(
        &mut self,
        mem: &mut impl UserMemory,
        primitive: Trap,
        (caller, caller_endpoint): (usize, Endpoint),
        (partner, partner_endpoint): (usize, Endpoint),
        head: MessageHead,
    ) {
        let cause = self.open_cause(caller);
        self.procs[partner].cause = cause;
        mem.trace(&TraceEvent {
            kind: Kind::Send as u8,
            primitive: primitive as u8,
            src: caller_endpoint.0,
            dst: partner_endpoint.0,
            mtype: head.mtype,
            result: 0,
            cause,
            args: head.args,
        });
    }

    /// Copies the message at `msg_addr` of `sender` (whose endpoint is
    /// `source`) into the buffer at `to_addr` of `receiver`, which waits
    /// for it, stamped as the general path stamps it, when both buffers
    /// are writable pages ([`UserMemory::copy_message_fast`]); the last
    /// check, so nothing has changed when it fails.
    #[inline(always)]
    fn copy_to_waiting(
        &self,
        mem: &mut impl UserMemory,
        sender: usize,
        source: Endpoint,
        msg_addr: u64,
        receiver: usize,
        to_addr: u64,
    ) -> Result<MessageHead, Fallback> {
        if self.weak.source_stamp | self.weak.notify_type {
            return Err(Fallback::Weakened);
        }
        // What `Kernel::message_copy` gives with every defense on, built
        // from constants: no test of the weakenings left in the copy.
        let copy = MessageCopy {
            from: sender,
            from_addr: msg_addr,
            to: receiver,
            to_addr,
            source: Some(source),
            refused_type: Some(NOTIFY_MTYPE),
        };
        mem.copy_message_fast(copy).ok_or(Fallback::Buffer)
    }
}
