//! Answers to VFS, sent with SENDA from a table in our own memory.
//!
//! Why SENDA: the driver must never block on VFS (VFS may be busy sending
//! to somebody else), and one answer may wait for VFS while we go on
//! reading the keyboard. The kernel delivers each entry when VFS receives
//! and marks it DONE; a DONE or empty slot is free again. The table is
//! bounded (the kernel's limit); should every slot still be pending, the
//! answer waits in a small backlog that is moved into the table when the
//! kernel tells us (a SYSTEM notification with `EVENT_SENDA_DONE`,
//! requested with `FLAG_NOTIFY`) that entries completed.

use abi::senda::{SendaEntry, FLAG_DONE, FLAG_NOTIFY, FLAG_VALID, SENDA_MAX_ENTRIES};
use abi::{Endpoint, Message};

const BACKLOG: usize = 64;

static mut TABLE: [SendaEntry; SENDA_MAX_ENTRIES] =
    [SendaEntry { flags: 0, dst: Endpoint::NONE, result: 0, reserved: 0, message: Message::new(0) }; SENDA_MAX_ENTRIES];

/// The reply table and the backlog.
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

    /// Sends the reply `result` to request `id` of `dst`.
    pub fn reply(&mut self, dst: Endpoint, id: u64, result: i64) {
        let msg = Message::with_words(abi::proto::dev::REPLY, &[id, result as u64]);
        if !self.place(dst, msg) {
            if self.backlog_len == BACKLOG {
                rt::println!("tty: reply backlog full; dropping the answer to request {}", id);
                return;
            }
            self.backlog[self.backlog_len] = (dst, msg);
            self.backlog_len += 1;
        }
        self.submit();
    }

    fn place(&mut self, dst: Endpoint, msg: Message) -> bool {
        match table().iter_mut().find(|e| free(e)) {
            Some(slot) => {
                *slot = SendaEntry::new(dst, msg);
                slot.flags |= FLAG_NOTIFY;
                true
            }
            None => false,
        }
    }

    /// Moves backlog entries into freed slots (after `EVENT_SENDA_DONE`).
    pub fn flush(&mut self) {
        let mut moved = 0;
        while moved < self.backlog_len {
            let (dst, msg) = self.backlog[moved];
            if !self.place(dst, msg) {
                break;
            }
            moved += 1;
        }
        if moved > 0 {
            self.backlog.copy_within(moved..self.backlog_len, 0);
            self.backlog_len -= moved;
            self.submit();
        }
    }

    fn submit(&mut self) {
        if let Err(e) = rt::ipc::senda(table()) {
            rt::println!("tty: SENDA failed: {}", e);
        }
    }
}
