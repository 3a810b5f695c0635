//! Host tests of the IPC core against an in-memory model of user memory.
//!
//! `FakeMemory` is byte-addressed and paged like the real thing: addresses
//! from `READ_ONLY` are readable but not writable, addresses from `BAD` are
//! unmapped. Every `write_message` is a delivery (kernel-core writes
//! messages only to deliver them), so the memory also logs them.

mod deadlock;
mod defenses;
mod evidence;
mod exit;
mod fast;
mod if_sent;
mod notify;
mod privileges;
mod process;
mod property;
mod rendezvous;
mod reply;
mod sched;
mod senda;

use super::*;
use abi::senda::{message_from_bytes, message_to_bytes, SendaEntry, SENDA_ENTRY_SIZE};
use std::boxed::Box;
use std::collections::HashMap;
use std::vec::Vec;

pub(crate) const BUF: u64 = 0x1000;
pub(crate) const TABLE: u64 = 0x10_0000;
pub(crate) const READ_ONLY: u64 = 0xc000_0000;
pub(crate) const BAD: u64 = 0xdead_0000;
const PAGE: u64 = 4096;

#[derive(Default)]
pub(crate) struct FakeMemory {
    pub pages: HashMap<(usize, u64), Box<[u8; PAGE as usize]>>,
    pub results: HashMap<usize, i64>,
    /// Every delivered message: (receiver slot, address, message).
    pub deliveries: Vec<(usize, u64, Message)>,
    /// Every trace event reported (with tracing on).
    pub events: Vec<TraceEvent>,
}

fn in_range(addr: u64, len: usize, limit: u64) -> bool {
    addr.checked_add(len as u64).is_some_and(|end| end <= limit)
}

impl FakeMemory {
    fn raw_read(&mut self, slot: usize, addr: u64, buf: &mut [u8]) {
        for (i, b) in buf.iter_mut().enumerate() {
            let a = addr + i as u64;
            *b = self.pages.get(&(slot, a / PAGE)).map_or(0, |p| p[(a % PAGE) as usize]);
        }
    }
    fn raw_write(&mut self, slot: usize, addr: u64, buf: &[u8]) {
        for (i, b) in buf.iter().enumerate() {
            let a = addr + i as u64;
            self.pages.entry((slot, a / PAGE)).or_insert_with(|| Box::new([0; PAGE as usize]))[(a % PAGE) as usize] =
                *b;
        }
    }
    pub fn put(&mut self, slot: usize, mtype: u32, word: u64) {
        self.put_message(slot, BUF, &Message::with_words(mtype, &[word]));
    }
    pub fn put_message(&mut self, slot: usize, addr: u64, msg: &Message) {
        self.raw_write(slot, addr, &message_to_bytes(msg));
    }
    pub fn get(&mut self, slot: usize) -> Message {
        let mut b = [0u8; 64];
        self.raw_read(slot, BUF, &mut b);
        message_from_bytes(&b)
    }
    /// Whether the fast path may copy the message at `addr`: within one
    /// page, writable.
    fn fast_page(addr: u64) -> bool {
        addr / PAGE == (addr + 63) / PAGE && in_range(addr, 64, READ_ONLY)
    }
    pub fn take_result(&mut self, slot: usize) -> Option<i64> {
        self.results.remove(&slot)
    }
    pub fn put_table(&mut self, slot: usize, addr: u64, entries: &[SendaEntry]) {
        for (i, e) in entries.iter().enumerate() {
            self.raw_write(slot, addr + (i * SENDA_ENTRY_SIZE) as u64, &e.to_bytes());
        }
    }
    pub fn table(&mut self, slot: usize, addr: u64, count: usize) -> Vec<SendaEntry> {
        (0..count)
            .map(|i| {
                let mut b = [0u8; SENDA_ENTRY_SIZE];
                self.raw_read(slot, addr + (i * SENDA_ENTRY_SIZE) as u64, &mut b);
                SendaEntry::from_bytes(&b)
            })
            .collect()
    }
}

impl UserMemory for FakeMemory {
    fn read_message(&mut self, slot: usize, addr: u64) -> Result<Message, Error> {
        let mut b = [0u8; 64];
        self.read_bytes(slot, addr, &mut b)?;
        Ok(message_from_bytes(&b))
    }
    fn write_message(&mut self, slot: usize, addr: u64, msg: &Message) -> Result<(), Error> {
        self.write_bytes(slot, addr, &message_to_bytes(msg))?;
        self.deliveries.push((slot, addr, *msg));
        Ok(())
    }
    fn check_message(&mut self, _slot: usize, addr: u64, write: bool) -> Result<(), Error> {
        let limit = if write { READ_ONLY } else { BAD };
        if in_range(addr, 64, limit) {
            Ok(())
        } else {
            Err(Error::Fault)
        }
    }
    fn set_result(&mut self, slot: usize, value: i64) {
        self.results.insert(slot, value);
    }
    fn read_bytes(&mut self, slot: usize, addr: u64, buf: &mut [u8]) -> Result<(), Error> {
        if !in_range(addr, buf.len(), BAD) {
            return Err(Error::Fault);
        }
        self.raw_read(slot, addr, buf);
        Ok(())
    }
    fn write_bytes(&mut self, slot: usize, addr: u64, buf: &[u8]) -> Result<(), Error> {
        if !in_range(addr, buf.len(), READ_ONLY) {
            return Err(Error::Fault);
        }
        self.raw_write(slot, addr, buf);
        Ok(())
    }
    fn copy_message_fast(&mut self, copy: MessageCopy) -> Option<MessageHead> {
        if !Self::fast_page(copy.from_addr) || !Self::fast_page(copy.to_addr) {
            return None;
        }
        copy_message_by_value(self, copy).ok()
    }
    fn trace(&mut self, event: &TraceEvent) {
        self.events.push(*event);
    }
}

/// `n` processes with every privilege.
pub(crate) fn system(n: usize) -> (Kernel, FakeMemory, Vec<usize>) {
    let mut k = Kernel::new();
    let slots = (0..n).map(|i| k.spawn(&std::format!("p{i}"), 4, Privileges::all()).unwrap()).collect();
    (k, FakeMemory::default(), slots)
}

pub(crate) fn ep(k: &Kernel, slot: usize) -> Endpoint {
    k.procs[slot].endpoint
}

pub(crate) fn err(e: Error) -> Outcome {
    Outcome::Done(e.to_return())
}
