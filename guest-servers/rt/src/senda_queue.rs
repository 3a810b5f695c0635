//! A process's asynchronous sends: one SENDA table in our own memory, plus
//! a small backlog.
//!
//! Why SENDA: a driver or server must never block on a client that may be
//! busy sending elsewhere (or never receive at all). The kernel delivers
//! each entry when its destination receives and marks it DONE; a DONE or
//! empty slot is free again. A process has one SENDA table (a new SENDA
//! call replaces the previous one), so this module owns it for the whole
//! process. Should every slot still be pending, a message waits in the
//! backlog, moved into the table when the kernel reports (a SYSTEM
//! notification with `EVENT_SENDA_DONE`, requested with `FLAG_NOTIFY`) that
//! entries completed: call [`SendaQueue::flush`] then. When the backlog
//! is full too (a destination that has not received for a long while),
//! [`SendaQueue::send`] fails with `TooMany` and the message is not sent:
//! the caller sees it, never a silent drop.
//!
//! One destination may hold at most [`PER_DESTINATION`] messages of the
//! queue (table and backlog together; 48, three quarters of the table): a client that sends requests but
//! never takes its replies fills its own share, gets `TooMany` for the
//! rest, and the others' replies still go out (without the share, one
//! such client would take the whole queue, and every other client's
//! replies would be lost until the driver was restarted;
//! `abi::weaken::REPLY_QUOTA` switches the share off, for the negative
//! control of the `viv threats` row `reply-flood/disk-client`).

use abi::senda::{SendaEntry, FLAG_DONE, FLAG_NOTIFY, FLAG_VALID, SENDA_MAX_ENTRIES};
use abi::{Endpoint, Error, Message};

const BACKLOG: usize = 64;

/// Most messages one destination may have in the queue at once: three
/// quarters of the table, so a quarter is always left for the others. An
/// honest client never has that many waiting: VFS has at most 16 console
/// requests in flight, each answered by at most an acceptance and a reply
/// (32), `ext2fs` one block request.
pub const PER_DESTINATION: usize = SENDA_MAX_ENTRIES * 3 / 4;

static mut TABLE: [SendaEntry; SENDA_MAX_ENTRIES] =
    [SendaEntry { flags: 0, dst: Endpoint::NONE, result: 0, reserved: 0, message: Message::new(0) }; SENDA_MAX_ENTRIES];

fn table() -> &'static mut [SendaEntry; SENDA_MAX_ENTRIES] {
    // SAFETY: guest programs are single-threaded and this module is the
    // only user of TABLE; the kernel writes results into it only while the
    // process is in the kernel, never concurrently with this borrow.
    unsafe { &mut *(&raw mut TABLE) }
}

fn free(e: &SendaEntry) -> bool {
    e.flags & FLAG_VALID == 0 || e.flags & FLAG_DONE != 0
}

fn place(dst: Endpoint, msg: Message) -> bool {
    match table().iter_mut().find(|e| free(e)) {
        Some(slot) => {
            *slot = SendaEntry::new(dst, msg);
            slot.flags |= FLAG_NOTIFY;
            true
        }
        None => false,
    }
}

/// The process's SENDA table and its backlog. Create one per process.
pub struct SendaQueue {
    /// Who we are, for the log.
    name: &'static str,
    backlog: [(Endpoint, Message); BACKLOG],
    backlog_len: usize,
    /// Whether [`PER_DESTINATION`] applies (read from the command line at
    /// the first send).
    shares: Option<bool>,
}

impl SendaQueue {
    /// An empty queue; `name` prefixes its log lines.
    pub const fn new(name: &'static str) -> SendaQueue {
        SendaQueue { name, backlog: [(Endpoint::NONE, Message::new(0)); BACKLOG], backlog_len: 0, shares: None }
    }

    /// Messages for `dst` waiting in the table or the backlog.
    fn waiting_for(&self, dst: Endpoint) -> usize {
        let in_table = table().iter().filter(|e| !free(e) && e.dst == dst).count();
        in_table + self.backlog[..self.backlog_len].iter().filter(|(d, _)| *d == dst).count()
    }

    /// Sends `msg` to `dst` without blocking. `TooMany` when `dst` already
    /// has its [`PER_DESTINATION`] messages waiting, or every slot and the
    /// backlog are taken (nothing was sent); the kernel's error when it
    /// refused the table.
    #[must_use = "a message that could not be queued is lost"]
    pub fn send(&mut self, dst: Endpoint, msg: Message) -> Result<(), Error> {
        let shares = *self.shares.get_or_insert_with(|| !crate::kip::weakened(abi::weaken::REPLY_QUOTA));
        if shares && self.waiting_for(dst) >= PER_DESTINATION {
            return Err(Error::TooMany);
        }
        if !place(dst, msg) {
            if self.backlog_len == BACKLOG {
                return Err(Error::TooMany);
            }
            self.backlog[self.backlog_len] = (dst, msg);
            self.backlog_len += 1;
        }
        self.submit()
    }

    /// Sends a `[request id, result]` reply of type `mtype` (the shape of
    /// the device and block protocols' replies); fails as [`Self::send`].
    #[must_use = "a reply that could not be queued is lost"]
    pub fn reply(&mut self, mtype: u32, dst: Endpoint, id: u64, result: i64) -> Result<(), Error> {
        self.send(dst, Message::with_words(mtype, &[id, result as u64]))
    }

    /// Moves backlog entries into freed slots (after `EVENT_SENDA_DONE`).
    pub fn flush(&mut self) {
        let mut moved = 0;
        while moved < self.backlog_len && place(self.backlog[moved].0, self.backlog[moved].1) {
            moved += 1;
        }
        if moved > 0 {
            self.backlog.copy_within(moved..self.backlog_len, 0);
            self.backlog_len -= moved;
            if let Err(e) = self.submit() {
                crate::println!("{}: SENDA failed: {}", self.name, e);
            }
        }
    }

    /// Hands the kernel the table up to its last pending entry: the
    /// kernel reads and checks every entry it is given at each call, and
    /// entries past the last pending one are free (a new SENDA replaces
    /// the old table, losing nothing). A reply usually sits in the first
    /// slot, so a driver's reply costs one entry's work, not
    /// `SENDA_MAX_ENTRIES`'.
    fn submit(&mut self) -> Result<(), Error> {
        let table = table();
        let used = table.iter().rposition(|e| !free(e)).map_or(0, |last| last + 1);
        crate::ipc::senda(&mut table[..used])
    }
}
