//! Answers to clients, sent with SENDA from a table in our own memory.
//!
//! Why SENDA: a driver must never block on its client (the file server
//! may be busy sending elsewhere). The kernel delivers each entry when the
//! client receives and marks it DONE; a DONE or empty slot is free again.
//! Should every slot still be pending, the answer waits in a small backlog
//! moved into the table when the kernel reports (`EVENT_SENDA_DONE`,
//! requested with `FLAG_NOTIFY`) that entries completed.

use abi::proto::blockdev;
use abi::senda::{SendaEntry, FLAG_DONE, FLAG_NOTIFY, FLAG_VALID, SENDA_MAX_ENTRIES};
use abi::{Endpoint, Message};

const BACKLOG: usize = 64;

static mut TABLE: [SendaEntry; SENDA_MAX_ENTRIES] =
    [SendaEntry { flags: 0, dst: Endpoint::NONE, result: 0, reserved: 0, message: Message::new(0) }; SENDA_MAX_ENTRIES];

/// The reply table's backlog.
pub struct Replies {
    backlog: [(Endpoint, Message); BACKLOG],
    backlog_len: usize,
}

fn table() -> &'static mut [SendaEntry; SENDA_MAX_ENTRIES] {
    // SAFETY: the driver is single-threaded and this module is the only
    // user of TABLE; the kernel writes results into it only while we are in
    // the kernel, never concurrently with this borrow.
    unsafe { &mut *(&raw mut TABLE) }
}

fn free(e: &SendaEntry) -> bool {
    e.flags & FLAG_VALID == 0 || e.flags & FLAG_DONE != 0
}

impl Replies {
    /// No answers yet.
    pub const fn new() -> Replies {
        Replies { backlog: [(Endpoint::NONE, Message::new(0)); BACKLOG], backlog_len: 0 }
    }

    /// Answers request `id` of `dst` with `result`.
    pub fn reply(&mut self, dst: Endpoint, id: u64, result: i64) {
        let msg = Message::with_words(blockdev::REPLY, &[id, result as u64]);
        if !place(dst, msg) {
            if self.backlog_len == BACKLOG {
                rt::println!("blk: reply backlog full; dropping the answer to request {}", id);
                return;
            }
            self.backlog[self.backlog_len] = (dst, msg);
            self.backlog_len += 1;
        }
        submit();
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
            submit();
        }
    }
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

fn submit() {
    if let Err(e) = rt::ipc::senda(table()) {
        rt::println!("blk: SENDA failed: {}", e);
    }
}
