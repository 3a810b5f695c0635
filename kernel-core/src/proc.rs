//! Process-table entries.
//!
//! Everything the IPC primitives need to know about a process lives here,
//! in fixed-size fields: blocked states, the sender FIFO threaded through
//! the table, and bitmaps of pending notifications and asynchronous
//! messages (one bit per source slot, so "is anything pending?" is one
//! compare and the plain SEND/RECEIVE path never scans the table).

use crate::privileges::Privileges;
use abi::message::PAYLOAD_WORDS;
use abi::Endpoint;

/// Whether a slot holds a process.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ProcState {
    /// Unused slot.
    Free,
    /// A live process.
    Alive,
    /// An ended process whose reaper has not reaped it yet: the slot is
    /// not reusable, its endpoint is refused like a dead one, and only its
    /// exit status and reaper are kept.
    Zombie,
}

/// A process blocked in the send half of SEND or SENDREC.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct SendWait {
    /// Slot of the destination (its endpoint was checked when blocking).
    pub dst: usize,
    /// Address of the message in the sender's memory.
    pub msg_addr: u64,
}

/// A process blocked in RECEIVE or in the reply half of SENDREC.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct RecvWait {
    /// The endpoint it waits for, or `Endpoint::ANY`.
    pub from: Endpoint,
    /// Where the message goes in the receiver's memory.
    pub msg_addr: u64,
    /// The receive half of a SENDREC: only a message sent by `from` (SEND
    /// or SENDNB) completes it; notifications and SENDA messages wait.
    pub reply: bool,
}

/// Where a process's current SENDA table lives in its own memory.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct SendaTable {
    /// User address of entry 0.
    pub addr: u64,
    /// Number of entries (at most `abi::senda::SENDA_MAX_ENTRIES`).
    pub count: usize,
    /// Cause id of the SENDA call that set the table (tracing).
    pub cause: u32,
}

/// One process-table entry: identity, IPC state, scheduling state.
#[derive(Clone, Copy, Debug)]
pub struct Proc {
    /// Free or alive.
    pub state: ProcState,
    /// Current endpoint (slot + generation).
    pub endpoint: Endpoint,
    /// Generation the slot's next process gets.
    pub next_generation: u32,
    /// Name, NUL-padded (for reports).
    pub name: [u8; 16],
    /// Scheduling priority (0 = highest); set with [`Proc::set_priority`].
    pub priority: u8,
    /// The run queues this process, woken now, would wait behind: its
    /// priority's and every higher one's, as bits of the run queues'
    /// non-empty map; kept with `priority` so the IPC fast path's test
    /// of whether its partner runs next is one load (`RunQueues`).
    pub queues_ahead: u32,
    /// Blocked sending, if so.
    pub sending: Option<SendWait>,
    /// Blocked receiving, if so. With `sending` also set, the process is in
    /// a SENDREC whose request has not been taken yet.
    pub receiving: Option<RecvWait>,
    /// Head and tail of the FIFO of processes blocked sending to this one.
    pub senders: (Option<u16>, Option<u16>),
    /// Next process in the sender FIFO this process waits in.
    pub next_sender: Option<u16>,
    /// Next process in this process's run queue (`sched::NO_SLOT`: none).
    pub next_ready: u8,
    /// Previous process in this process's run queue (`sched::NO_SLOT`:
    /// none), so that leaving the queue needs no walk.
    pub prev_ready: u8,
    /// Whether the process is in a run queue.
    pub queued: bool,
    /// Ticks left in the current quantum.
    pub quantum_left: u32,
    /// What the process may do.
    pub privileges: Privileges,
    /// The bit other processes' send masks use for this process (MINIX's
    /// privilege id): the slot for processes from [`crate::Kernel::spawn`],
    /// the program's image index for boot programs, so that every copy or
    /// restart of a program is reachable under the same grant.
    pub privilege_id: u8,
    /// Bit `s`: the process in slot `s` notified this one and the
    /// notification has not been received yet.
    pub notify_pending: u64,
    /// OR of the payloads of SYSTEM notifications not received yet.
    pub system_notify_pending: Option<[u64; PAYLOAD_WORDS]>,
    /// Bit `s`: the process in slot `s` may have a pending SENDA entry for
    /// this one. A hint: set when such an entry is left pending, cleared
    /// when a scan of that table finds none.
    pub async_from: u64,
    /// The process's SENDA table, while it may hold pending entries.
    pub senda_table: Option<SendaTable>,
    /// Slot of the process that reaps this one when it ends (the caller
    /// of the spawn or fork that created it); `None` for boot processes
    /// and orphans.
    pub reaper: Option<u16>,
    /// Exit status, kept while a zombie.
    pub exit_status: u32,
    /// Of kind "user": its requests open new cause ids (tracing).
    pub user: bool,
    /// Cause id of the last message it received, or of its own last
    /// request when a user process (tracing).
    pub cause: u32,
    /// Hung by the fault plan: never queued to run again (until killed).
    pub hung: bool,
}

// The pending bitmaps hold one bit per slot.
const _: () = assert!(crate::NR_PROCS <= 64);

impl Proc {
    /// A free slot.
    pub const EMPTY: Proc = Proc {
        state: ProcState::Free,
        endpoint: Endpoint::NONE,
        next_generation: 0,
        name: [0; 16],
        priority: 0,
        queues_ahead: 1,
        sending: None,
        receiving: None,
        senders: (None, None),
        next_sender: None,
        next_ready: crate::sched::NO_SLOT,
        prev_ready: crate::sched::NO_SLOT,
        queued: false,
        quantum_left: 0,
        privileges: Privileges::NONE,
        privilege_id: 0,
        notify_pending: 0,
        system_notify_pending: None,
        async_from: 0,
        senda_table: None,
        reaper: None,
        exit_status: 0,
        user: false,
        cause: 0,
        hung: false,
    };

    /// Runnable: alive and blocked on nothing.
    pub fn is_ready(&self) -> bool {
        self.state == ProcState::Alive && self.sending.is_none() && self.receiving.is_none()
    }

    /// Sets the scheduling priority (below `NR_PRIORITIES`).
    pub(crate) fn set_priority(&mut self, priority: u8) {
        debug_assert!(usize::from(priority) < crate::NR_PRIORITIES);
        self.priority = priority;
        self.queues_ahead = (2u32 << priority) - 1;
    }

    /// The name as text.
    pub fn name(&self) -> &str {
        let len = self.name.iter().position(|&b| b == 0).unwrap_or(self.name.len());
        core::str::from_utf8(&self.name[..len]).unwrap_or("?")
    }

    pub(crate) fn set_name(&mut self, name: &str) {
        self.name = [0; 16];
        let n = name.len().min(16);
        self.name[..n].copy_from_slice(&name.as_bytes()[..n]);
    }
}
