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
//!
//! An entry the kernel could not deliver (its result an error: the
//! destination was dead, or refused it, or a fault plan failed the
//! delivery) is sent once more ([`SendaQueue::retry_failed`]): a single
//! failed delivery of a driver's reply would otherwise cost the client a
//! deadline and the driver a restart, and the console's client its text
//! twice (VFS sends a write whose answer never came again, to the new
//! driver). A second failure frees the entry.

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

/// Puts `msg` in a free slot; returns the slot's index.
fn place(dst: Endpoint, msg: Message) -> Option<usize> {
    let (i, slot) = table().iter_mut().enumerate().find(|(_, e)| free(e))?;
    *slot = SendaEntry::new(dst, msg);
    slot.flags |= FLAG_NOTIFY;
    Some(i)
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
    /// A bit per table slot: its entry failed once and was sent again.
    retried: u64,
}

const _: () = assert!(SENDA_MAX_ENTRIES <= 64, "one bit of `retried` per slot");

impl SendaQueue {
    /// An empty queue; `name` prefixes its log lines.
    pub const fn new(name: &'static str) -> SendaQueue {
        SendaQueue {
            name,
            backlog: [(Endpoint::NONE, Message::new(0)); BACKLOG],
            backlog_len: 0,
            shares: None,
            retried: 0,
        }
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
        self.retry_failed();
        if !self.place(dst, msg) {
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
        let again = self.retry_failed();
        let mut moved = 0;
        while moved < self.backlog_len && self.place(self.backlog[moved].0, self.backlog[moved].1) {
            moved += 1;
        }
        if moved > 0 || again {
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
        let result = submit_table();
        // Deliveries the call itself failed show at once; later ones
        // come with `EVENT_SENDA_DONE` ([`Self::flush`]).
        if self.retry_failed() {
            return submit_table();
        }
        result
    }

    /// [`place`], forgetting the slot's earlier retry.
    fn place(&mut self, dst: Endpoint, msg: Message) -> bool {
        let Some(i) = place(dst, msg) else { return false };
        self.retried &= !(1 << i);
        true
    }

    /// Makes every entry whose delivery failed, and that was not sent
    /// again yet, pending again; true if there was one (the table must
    /// then be handed to the kernel again).
    pub fn retry_failed(&mut self) -> bool {
        let mut again = false;
        for (i, e) in table().iter_mut().enumerate() {
            let failed = e.flags & FLAG_VALID != 0 && e.flags & FLAG_DONE != 0 && e.result != 0;
            if failed && self.retried & (1 << i) == 0 {
                e.flags &= !FLAG_DONE;
                e.result = 0;
                self.retried |= 1 << i;
                again = true;
            }
        }
        again
    }
}

/// Hands the kernel the table up to its last pending entry.
fn submit_table() -> Result<(), Error> {
    let table = table();
    let used = table.iter().rposition(|e| !free(e)).map_or(0, |last| last + 1);
    crate::ipc::senda(&mut table[..used])
}
