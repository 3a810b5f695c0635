//! The architecture-independent core of the Vivarium microkernel.
//!
//! Everything here is plain Rust that compiles for the guest
//! (`x86_64-unknown-none`) and for the host, where it is unit- and
//! property-tested. The guest kernel wraps it with the thin architecture
//! layer (entry stubs, page tables, interrupts) and supplies user-memory
//! access through [`UserMemory`].
//!
//! Principles (after Hubris and MINIX 3):
//!
//! 1. **No kernel buffering.** A message moves straight from the sender's
//!    memory to the receiver's at the moment both are ready (rendezvous). A
//!    blocked sender leaves its message in its own memory; the kernel only
//!    remembers where.
//! 2. **The kernel names the sender.** The `source` of every delivered
//!    message is written by the kernel; nothing a sender writes survives.
//! 3. **Identities expire.** Endpoints carry a generation; a slot reused
//!    after an exit gets a new endpoint, and the old one is refused.
//! 4. **Nobody waits for a dead peer.** When a process dies, everyone
//!    blocked on it is woken with an error that says which side died.
//! 5. **Every path is bounded and small.** Kernel instructions are the
//!    currency on software KVM hosts; the IPC path does no allocation, no
//!    unbounded search, and one message copy.
#![no_std]
#![forbid(unsafe_code)]

#[cfg(test)]
extern crate std;

mod deadlock;
mod evidence;
mod fault;
pub mod frames;
mod ipc;
mod lifecycle;
mod notify;
mod privileges;
mod proc;
pub mod quota;
mod sched;
mod senda;
mod trace;
mod weaken;

pub use evidence::CommandWatch;
pub use fault::Faults;
pub use ipc::{Fallback, Outcome, ReceivePart, SendMode, Switch};
pub use privileges::Privileges;
pub use proc::{Proc, ProcState, RecvWait, SendWait, SendaTable};
pub use sched::RunQueues;
pub use trace::Tracing;
pub use weaken::Weakened;

/// One IPC event as kernel-core reports it (see `abi::trace`).
pub type TraceEvent = abi::trace::Event;

use abi::syscall::{KernelCall, Trap};
use abi::{Endpoint, Error, Message};

/// Number of process slots.
pub const NR_PROCS: usize = 64;
/// Number of scheduling priorities (0 = highest).
pub const NR_PRIORITIES: usize = 16;
/// Timer ticks a process runs before others of its priority get a turn.
pub const QUANTUM_TICKS: u32 = 4;

/// Access to user memory, supplied by the architecture layer.
///
/// Addresses are user virtual addresses of process `slot`. Implementations
/// must refuse (with [`Error::Fault`]) any address that is not mapped
/// user-accessible (and writable, for writes) in that process.
pub trait UserMemory {
    /// Reads a whole message from process `slot`.
    fn read_message(&mut self, slot: usize, addr: u64) -> Result<Message, Error>;
    /// Writes a whole message into process `slot`.
    fn write_message(&mut self, slot: usize, addr: u64, msg: &Message) -> Result<(), Error>;
    /// Checks that a message buffer is readable (and writable when `write`)
    /// without touching it, so a call that blocks can fail early.
    fn check_message(&mut self, slot: usize, addr: u64, write: bool) -> Result<(), Error>;
    /// Sets the value the trap of a process that is not running returns
    /// when it is resumed.
    fn set_result(&mut self, slot: usize, value: i64);
    /// Reads `buf.len()` bytes at `addr` of process `slot` (SENDA tables).
    /// Fails with [`Error::Fault`] when any byte is not mapped readable.
    fn read_bytes(&mut self, slot: usize, addr: u64, buf: &mut [u8]) -> Result<(), Error>;
    /// Writes `buf` at `addr` of process `slot` (SENDA write-back). Fails
    /// with [`Error::Fault`] when any byte is not mapped writable; nothing
    /// is promised about the bytes before the faulting one.
    fn write_bytes(&mut self, slot: usize, addr: u64, buf: &[u8]) -> Result<(), Error>;
    /// Checks that the `len` bytes at `addr` of process `slot` are mapped
    /// readable and writable, resolving copy-on-write as a write would,
    /// without changing any byte (a SENDA table at call time). Fails with
    /// [`Error::Fault`] otherwise. The default reads the range and writes
    /// it back unchanged, in pieces; an implementation that can look at
    /// its page tables checks each page once instead.
    fn check_bytes(&mut self, slot: usize, addr: u64, len: usize) -> Result<(), Error> {
        let mut chunk = [0u8; 64];
        let mut done = 0;
        while done < len {
            let n = chunk.len().min(len - done);
            let at = addr.checked_add(done as u64).ok_or(Error::Fault)?;
            self.read_bytes(slot, at, &mut chunk[..n])?;
            self.write_bytes(slot, at, &chunk[..n])?;
            done += n;
        }
        Ok(())
    }
    /// Copies the message at `from_addr` of process `from` straight into
    /// the buffer at `to_addr` of process `to` (one copy, no kernel
    /// buffer), writing `source` over its source field when given. When
    /// the message's type is `refused_type` nothing is written. Returns
    /// what the checks and the trace need of the message. The default
    /// goes through [`Self::read_message`] and [`Self::write_message`].
    #[inline]
    fn copy_message(&mut self, copy: MessageCopy) -> Result<MessageHead, CopyFault> {
        copy_message_by_value(self, copy)
    }
    /// [`Self::copy_message`] for the fast path (`Kernel::fast_sendrec`,
    /// `Kernel::fast_reply_receive`), which must be able to fall back to
    /// the general path with nothing observable done: copies only when
    /// both buffers lie in one page each, mapped writable for their
    /// process (the sender's buffer too: a SENDREC's reply and a
    /// REPLYRECV's next message land in it; copy-on-write resolved as the
    /// general path's checks resolve it), and the message's type is not
    /// `refused_type` (checked before the receiver's page is touched).
    /// `None`: nothing was written, the general path takes over. The
    /// default never copies.
    #[inline(always)]
    fn copy_message_fast(&mut self, copy: MessageCopy) -> Option<MessageHead> {
        let _ = copy;
        None
    }
    /// Records one IPC event (called only while tracing is on, see
    /// [`Kernel::set_tracing`]). The default does nothing.
    #[inline(always)]
    fn trace(&mut self, event: &TraceEvent) {
        let _ = event;
    }
}

/// What the IPC checks and the trace need of a message that was copied
/// without passing through the kernel: its type and first two payload
/// words (as sent, before the source stamp).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct MessageHead {
    /// The message type.
    pub mtype: u32,
    /// Payload words 0 and 1.
    pub args: [u64; 2],
}

impl MessageHead {
    /// The head of `msg`.
    #[inline(always)]
    pub fn of(msg: &Message) -> MessageHead {
        MessageHead { mtype: msg.mtype, args: [msg.payload[0], msg.payload[1]] }
    }
}

/// Why [`UserMemory::copy_message`] copied nothing, or copied nothing
/// usable.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum CopyFault {
    /// The sender's buffer is bad: nothing was written.
    Source(Error),
    /// The message has the refused type: nothing was written.
    RefusedType,
    /// The receiver's buffer is bad: the message was not delivered.
    Destination(Error),
}

/// One message's way from a sender's buffer straight into a receiver's:
/// what every [`UserMemory`] copy needs to know.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct MessageCopy {
    /// The sending process's slot.
    pub from: usize,
    /// The message in the sender's address space.
    pub from_addr: u64,
    /// The receiving process's slot.
    pub to: usize,
    /// The receiver's buffer in its address space.
    pub to_addr: u64,
    /// Written over the message's source field when given (the kernel's
    /// stamp; `None` only when that defense is weakened).
    pub source: Option<Endpoint>,
    /// A message of this type is not delivered: nothing is written (a
    /// request posing as a notification).
    pub refused_type: Option<u32>,
}

/// [`UserMemory::copy_message`] through a message value in the kernel.
#[inline]
pub fn copy_message_by_value<M: UserMemory + ?Sized>(mem: &mut M, copy: MessageCopy) -> Result<MessageHead, CopyFault> {
    let mut msg = mem.read_message(copy.from, copy.from_addr).map_err(CopyFault::Source)?;
    if copy.refused_type == Some(msg.mtype) {
        return Err(CopyFault::RefusedType);
    }
    let head = MessageHead::of(&msg);
    if let Some(source) = copy.source {
        msg.source = source;
    }
    mem.write_message(copy.to, copy.to_addr, &msg).map_err(CopyFault::Destination)?;
    Ok(head)
}

/// The kernel's IPC and scheduling state.
pub struct Kernel {
    /// The process table, indexed by slot.
    pub procs: [Proc; NR_PROCS],
    /// Ready processes by priority.
    pub run_queues: RunQueues,
    /// IPC tracing and cause attribution (off by default).
    pub trace: Tracing,
    /// Fault injection (off until [`Kernel::set_fault_plan`]).
    pub faults: Faults,
    /// Defenses switched off for negative controls (none by default).
    pub weak: Weakened,
    /// The workload's and the check's processes, whose exits the kernel
    /// records (`evidence`).
    pub command: CommandWatch,
}

impl Default for Kernel {
    fn default() -> Self {
        Self::new()
    }
}

impl Kernel {
    /// An empty process table.
    pub const fn new() -> Kernel {
        Kernel {
            procs: [Proc::EMPTY; NR_PROCS],
            run_queues: RunQueues::new(),
            trace: Tracing::OFF,
            faults: Faults::OFF,
            weak: Weakened::NONE,
            command: CommandWatch::NONE,
        }
    }

    /// Slot of the live process `ep`, or `DeadSrcDst` when `ep` is not a live
    /// process endpoint of the current generation.
    pub fn live_slot(&self, ep: Endpoint) -> Result<usize, Error> {
        if !ep.is_process() {
            return Err(Error::DeadSrcDst);
        }
        let slot = ep.slot();
        match self.procs.get(slot) {
            Some(p) if p.state == ProcState::Alive && (p.endpoint == ep || self.weak.endpoint_generation) => Ok(slot),
            _ => Err(Error::DeadSrcDst),
        }
    }

    /// Takes a free slot for a new process of `priority` with
    /// `privileges` and makes it ready. Returns its slot; its endpoint
    /// carries the slot's next generation.
    pub fn spawn(&mut self, name: &str, priority: u8, privileges: Privileges) -> Result<usize, Error> {
        let slot = self.procs.iter().position(|p| p.state == ProcState::Free).ok_or(Error::NoMemory)?;
        self.spawn_with_id(name, priority, privileges, slot as u8)
    }

    /// As [`Self::spawn`], with privilege id `privilege_id`: the bit that
    /// other processes' send masks use to reach this process.
    pub fn spawn_with_id(
        &mut self,
        name: &str,
        priority: u8,
        privileges: Privileges,
        privilege_id: u8,
    ) -> Result<usize, Error> {
        if usize::from(privilege_id) >= NR_PROCS {
            return Err(Error::Invalid);
        }
        let slot = self.procs.iter().position(|p| p.state == ProcState::Free).ok_or(Error::NoMemory)?;
        let generation = self.procs[slot].next_generation;
        let p = &mut self.procs[slot];
        *p = Proc::EMPTY;
        p.state = ProcState::Alive;
        p.endpoint = Endpoint::new(slot, generation);
        p.next_generation = p.endpoint.next_generation().generation();
        p.set_priority(priority.min(NR_PRIORITIES as u8 - 1));
        p.set_name(name);
        p.quantum_left = QUANTUM_TICKS;
        p.privileges = privileges;
        p.privilege_id = privilege_id;
        p.user = privileges.traps == Privileges::trap_bit(Trap::SendRec);
        self.run_queues.enqueue(&mut self.procs, slot);
        Ok(slot)
    }

    /// Whether the live process `slot` may use primitive `trap`. The IPC
    /// methods check this themselves; the architecture layer needs it for
    /// the SENDREC to SYSTEM that it handles itself.
    pub fn may_trap(&self, slot: usize, trap: Trap) -> bool {
        self.procs[slot].state == ProcState::Alive
            && (self.procs[slot].privileges.allows_trap(trap) || self.weak.trap_mask)
    }

    /// Whether the live process `slot` may make kernel call `call`. Kernel
    /// calls are SENDRECs to `Endpoint::SYSTEM`, which is not a slot, so the
    /// architecture layer handles them and asks here (after
    /// [`Self::may_trap`] for SENDREC); a refusal is `Error::CallDenied`.
    pub fn may_call(&self, slot: usize, call: KernelCall) -> bool {
        self.procs[slot].state == ProcState::Alive
            && (self.procs[slot].privileges.allows_kernel_call(call) || self.weak.kernel_call_mask)
    }

    /// Lets `a` send to `b` and `b` send to `a`. Granting A→B also lets B
    /// reply to A (MINIX's rule); the image loader calls this for every
    /// grant of the configuration, after spawning both processes.
    pub fn allow_send(&mut self, a: usize, b: usize) {
        self.procs[a].privileges.send_to |= Privileges::slot_bit(self.procs[b].privilege_id.into());
        self.procs[b].privileges.send_to |= Privileges::slot_bit(self.procs[a].privilege_id.into());
    }

    /// Replaces the privileges of process `slot` (e.g. when a server
    /// such as RS starts a service with the privileges of its
    /// configuration).
    pub fn set_privileges(&mut self, slot: usize, privileges: Privileges) {
        self.procs[slot].privileges = privileges;
    }

    /// The process that should run next, if any is ready.
    pub fn pick_next(&self) -> Option<usize> {
        self.run_queues.first()
    }

    /// [`Self::pick_next`], made the running process (taken off its run
    /// queue: `RunQueues::run_first`). The architecture layer calls this
    /// when it gives the CPU to the process it returns.
    #[inline(always)]
    pub fn run_next(&mut self) -> Option<usize> {
        self.run_queues.run_first(&mut self.procs)
    }

    /// Accounts one timer tick to `current`; returns true when it used up
    /// its quantum and was moved behind its peers.
    pub fn tick(&mut self, current: usize) -> bool {
        let p = &mut self.procs[current];
        if !p.is_ready() {
            return false;
        }
        p.quantum_left = p.quantum_left.saturating_sub(1);
        if p.quantum_left > 0 {
            return false;
        }
        p.quantum_left = QUANTUM_TICKS;
        self.run_queues.rotate(&mut self.procs, current);
        true
    }
}

#[cfg(test)]
mod tests;
