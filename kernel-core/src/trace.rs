//! IPC observation: the events kernel-core reports, and the cause ids that
//! attribute every message to the user system call that caused it.
//!
//! Why here and not in the architecture layer: only the IPC core knows
//! when a message really moves (at once, from a sender queue, as a pending
//! notification, as a SENDA entry), so it reports each event through
//! [`crate::UserMemory::trace`], whose default body does nothing. The
//! architecture layer turns events into records in the shared ring.
//!
//! The attribution rule (`docs/abi.md`, "IPC trace", causes): a process of
//! kind "user" opens a new cause id with every primitive it calls (and
//! every kernel call); any other process sends with the cause of the last
//! message it received. Each delivered message carries its sender's cause
//! to the receiver. Pending notifications and SENDA tables remember the
//! cause they were sent with; kernel-built notifications carry
//! [`Tracing::kernel_cause`] (the cause of the kernel call being served;
//! 0 for timers; for a device interrupt the architecture layer sets it to
//! the driver's cause, the request the driver was serving).
//!
//! Cost: with tracing off every hook is one test of [`Tracing::enabled`].

use crate::{Kernel, UserMemory, NR_PROCS};
use abi::trace::{Event, Kind};
use abi::{Endpoint, Message};

/// Trace state of the kernel.
#[derive(Clone, Copy, Debug)]
pub struct Tracing {
    /// Report events and track causes.
    pub enabled: bool,
    /// The last cause id handed out (ids start at 1; 0 = no cause).
    pub last_cause: u32,
    /// The cause of kernel-built messages now (set by the architecture
    /// layer around a kernel call).
    pub kernel_cause: u32,
    /// `notify_cause[dst][src]`: the cause of the notification pending from
    /// `src` to `dst` (the last one when several coalesced).
    notify_cause: [[u32; NR_PROCS]; NR_PROCS],
    /// The cause of the SYSTEM notification pending at each slot.
    system_notify_cause: [u32; NR_PROCS],
}

impl Tracing {
    /// Tracing off.
    pub const OFF: Tracing = Tracing {
        enabled: false,
        last_cause: 0,
        kernel_cause: 0,
        notify_cause: [[0; NR_PROCS]; NR_PROCS],
        system_notify_cause: [0; NR_PROCS],
    };
}

/// The two argument words a record keeps of a message.
#[inline(always)]
pub(crate) fn args_of(msg: &Message) -> [u64; 2] {
    [msg.payload[0], msg.payload[1]]
}

impl Kernel {
    /// Turns tracing on or off.
    pub fn set_tracing(&mut self, enabled: bool) {
        self.trace.enabled = enabled;
    }

    /// Marks process `slot` as of kind "user" (its requests open causes)
    /// or not. Processes start with the kind their trap mask suggests
    /// (SENDREC only = user); the architecture layer overrides it from the
    /// boot image's explicit flag.
    pub fn set_user(&mut self, slot: usize, user: bool) {
        self.procs[slot].user = user;
    }

    /// The cause `slot` sends with now: a new id when it is a user
    /// process, else the cause of the last message it received.
    #[inline]
    pub fn open_cause(&mut self, slot: usize) -> u32 {
        if self.procs[slot].user {
            self.trace.last_cause = self.trace.last_cause.wrapping_add(1).max(1);
            self.procs[slot].cause = self.trace.last_cause;
        }
        self.procs[slot].cause
    }

    /// Reports `kind` for a message from `src` to `dst` (slots), passing
    /// the sender's cause to the receiver when `delivered`. Inlined: with
    /// the kind and primitive constant at each call site, the record's
    /// header word is an immediate (tracing cost counts per message).
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    pub(crate) fn trace_message(
        &mut self,
        mem: &mut impl UserMemory,
        kind: Kind,
        primitive: u8,
        src: usize,
        dst: usize,
        msg: crate::MessageHead,
        delivered: bool,
    ) {
        let cause = self.procs[src].cause;
        if delivered {
            self.procs[dst].cause = cause;
        }
        let event = Event {
            kind: kind as u8,
            primitive,
            src: self.procs[src].endpoint.0,
            dst: self.procs[dst].endpoint.0,
            mtype: msg.mtype,
            result: 0,
            cause,
            args: msg.args,
        };
        mem.trace(&event);
    }

    /// Refuses a trap of `caller` that the architecture layer handles
    /// itself with `error`, leaving a Refused record when tracing (the trap
    /// opens a cause like any other): a SENDREC to SYSTEM outside the trap
    /// mask (`primitive` SENDREC), or an unknown trap (`primitive` 0, its
    /// number in the record's message type, since the primitive field holds
    /// only known traps).
    pub fn refuse(
        &mut self,
        mem: &mut impl UserMemory,
        caller: usize,
        primitive: u8,
        mtype: u32,
        peer: Endpoint,
        error: abi::Error,
    ) -> crate::Outcome {
        let result = error.to_return();
        if self.trace.enabled {
            let cause = self.open_cause(caller);
            let event = Event {
                kind: Kind::Refused as u8,
                primitive,
                src: self.procs[caller].endpoint.0,
                dst: peer.0,
                mtype,
                result: result as i32,
                cause,
                ..Event::default()
            };
            mem.trace(&event);
        }
        crate::Outcome::Done(result)
    }

    /// Reports a refused primitive of `caller` aimed at `peer`.
    pub(crate) fn trace_refusal(
        &self,
        mem: &mut impl UserMemory,
        primitive: u8,
        caller: usize,
        peer: u32,
        result: i64,
    ) {
        let event = Event {
            kind: Kind::Refused as u8,
            primitive,
            src: self.procs[caller].endpoint.0,
            dst: peer,
            result: result as i32,
            cause: self.procs[caller].cause,
            ..Event::default()
        };
        mem.trace(&event);
    }

    /// Reports a notification from `src` (a slot, or `None` for SYSTEM)
    /// to `dst`: delivered now (`kind` Notify or NotifyReceived, the cause
    /// passes to `dst`) or left pending (NotifyPended, the cause is kept).
    #[inline(always)]
    pub(crate) fn trace_notification(
        &mut self,
        mem: &mut impl UserMemory,
        kind: Kind,
        src: Option<usize>,
        dst: usize,
        msg: &Message,
    ) {
        let cause = match (kind, src) {
            (Kind::NotifyReceived, Some(s)) => self.trace.notify_cause[dst][s],
            (Kind::NotifyReceived, None) => self.trace.system_notify_cause[dst],
            (_, Some(s)) => self.procs[s].cause,
            (_, None) => self.trace.kernel_cause,
        };
        if kind == Kind::NotifyPended {
            match src {
                Some(s) => self.trace.notify_cause[dst][s] = cause,
                None => self.trace.system_notify_cause[dst] = cause,
            }
        } else {
            self.procs[dst].cause = cause;
        }
        let event = Event {
            kind: kind as u8,
            primitive: if src.is_some() && kind != Kind::NotifyReceived { abi::syscall::Trap::Notify as u8 } else { 0 },
            src: src.map_or(Endpoint::SYSTEM.0, |s| self.procs[s].endpoint.0),
            dst: self.procs[dst].endpoint.0,
            mtype: msg.mtype,
            result: 0,
            cause,
            args: args_of(msg),
        };
        mem.trace(&event);
    }

    /// Reports a SENDA entry of `sender` for `dst`, delivered or left
    /// pending, with `cause` (the cause of the SENDA call).
    #[inline(always)]
    pub(crate) fn trace_senda(
        &mut self,
        mem: &mut impl UserMemory,
        kind: Kind,
        sender: usize,
        dst: usize,
        msg: &Message,
        cause: u32,
    ) {
        if kind == Kind::SendaDelivered {
            self.procs[dst].cause = cause;
        }
        let event = Event {
            kind: kind as u8,
            primitive: abi::syscall::Trap::SendA as u8,
            src: self.procs[sender].endpoint.0,
            dst: self.procs[dst].endpoint.0,
            mtype: msg.mtype,
            result: 0,
            cause,
            args: args_of(msg),
        };
        mem.trace(&event);
    }

    /// Reports the end of process `slot` with `status`.
    pub(crate) fn trace_exit(&self, mem: &mut impl UserMemory, slot: usize, status: u32) {
        let cause = if self.trace.kernel_cause != 0 { self.trace.kernel_cause } else { self.procs[slot].cause };
        let ep = self.procs[slot].endpoint.0;
        let event =
            Event { kind: Kind::Exit as u8, src: ep, dst: ep, result: status as i32, cause, ..Event::default() };
        mem.trace(&event);
    }
}
