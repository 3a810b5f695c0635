//! The host side of the kernel's IPC trace ring: the ring in guest memory
//! and its drain.
//!
//! Why the VMM owns the ring: the kernel must never exit per message
//! (`docs/platform.md`, "Rules that follow"), so the VMM reserves
//! the top of guest RAM (marked reserved in the PVH memory map), writes
//! the ring header before boot, tells the kernel where it is
//! (`viv.trace=0xADDR,0xSIZE`), and copies records out only when the
//! kernel rings the doorbell (ring full, lossless mode) and when the run
//! ends. Formats are `abi::trace`'s.

use abi::platform::{CMDLINE_COMMAND_SEPARATOR, CMDLINE_TRACE_KEY};
use abi::trace::{header, MODE_DROP, MODE_LOSSLESS, RECORDS_OFFSET, RECORD_SIZE, RING_MAGIC, RING_VERSION};
use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap};

use crate::devices::limits::{Limit, LimitFlag};

/// Default size of the ring at the top of guest RAM (header page plus
/// 65,472 records); `RunConfig::trace_ring_bytes` changes it.
pub const RING_BYTES: u64 = 4 << 20;
/// Smallest ring: the header page and one page of records (64).
pub const MIN_RING_BYTES: u64 = 2 * RECORDS_OFFSET;

/// Why a trace ring cannot be set up.
#[derive(Debug, thiserror::Error)]
pub enum RingError {
    /// The size asked for is not a whole number of pages, or too small.
    #[error("trace ring of {0} bytes: must be a multiple of 4096 and at least {MIN_RING_BYTES}")]
    Size(u64),
    /// The ring would leave the kernel too little memory.
    #[error("boot: the trace ring leaves less than 16 MiB of guest memory")]
    TooBig,
    /// The header could not be written.
    #[error("boot: trace ring header: {0}")]
    Header(vm_memory::GuestMemoryError),
}

/// What to do when the ring is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TraceMode {
    /// Exit to the VMM and drain: no record is lost.
    #[default]
    Lossless,
    /// Count lost records instead (no exits at all during the run).
    Drop,
}

/// Everything drained from one run.
#[derive(Debug, Clone, Default)]
pub struct TraceLog {
    /// Raw 64-byte records, in the order drained.
    pub raw: Vec<[u8; RECORD_SIZE]>,
    /// Records the kernel dropped (drop mode, or a doorbell that did not
    /// make room).
    pub dropped: u64,
    /// Doorbells the kernel rang (its count, in the ring header).
    pub doorbells: u64,
    /// Doorbell exits the VMM drained at (its own count): equal to
    /// `doorbells` when every doorbell reached the host.
    pub doorbell_drains: u64,
    /// Drains where the header made no sense (head behind tail, or more
    /// than a ring's worth): reported, never trusted.
    pub header_errors: u64,
    /// The vCPU's TSC frequency in kHz (KVM's `KVM_GET_TSC_KHZ`), which
    /// turns the records' TSC into time; `None` when KVM would not say.
    pub tsc_khz: Option<u32>,
    /// Processes alive when the trace began (endpoint, name), from the
    /// kernel's process directory: a run from a snapshot starts after
    /// their spawn and exec records, so only this names them. Empty on a
    /// cold boot.
    pub processes: Vec<(u32, String)>,
}

/// The ring of one run: where it is in guest memory, and what was drained.
pub struct TraceRing {
    mem: GuestMemoryMmap,
    base: u64,
    bytes: u64,
    capacity: u64,
    log: TraceLog,
    /// Most records kept, and where reaching that is reported.
    limit: (usize, LimitFlag),
}

impl TraceRing {
    /// Reserves a ring of `bytes` (a multiple of 4 KiB, at least
    /// [`MIN_RING_BYTES`]) at the top of `mem` (`mem_end` bytes) and writes
    /// its header.
    pub fn create(mem: &GuestMemoryMmap, mem_end: u64, mode: TraceMode, bytes: u64) -> Result<TraceRing, RingError> {
        if bytes < MIN_RING_BYTES || !bytes.is_multiple_of(RECORDS_OFFSET) {
            return Err(RingError::Size(bytes));
        }
        let base = mem_end.checked_sub(bytes).filter(|&b| b >= 16 << 20).ok_or(RingError::TooBig)?;
        let capacity = (bytes - RECORDS_OFFSET) / RECORD_SIZE as u64;
        let mode = match mode {
            TraceMode::Lossless => MODE_LOSSLESS,
            TraceMode::Drop => MODE_DROP,
        };
        let mut h = [0u8; 64];
        h[header::MAGIC as usize..][..4].copy_from_slice(&RING_MAGIC.to_le_bytes());
        h[header::VERSION as usize..][..4].copy_from_slice(&RING_VERSION.to_le_bytes());
        h[header::RECORD_SIZE as usize..][..4].copy_from_slice(&(RECORD_SIZE as u32).to_le_bytes());
        h[header::MODE as usize..][..4].copy_from_slice(&mode.to_le_bytes());
        h[header::CAPACITY as usize..][..8].copy_from_slice(&capacity.to_le_bytes());
        mem.write_slice(&h, GuestAddress(base)).map_err(RingError::Header)?;
        let limit = (crate::devices::limits::TRACE_RECORDS, LimitFlag::default());
        Ok(TraceRing { mem: mem.clone(), base, bytes, capacity, log: TraceLog::default(), limit })
    }

    /// Keeps at most `records` records; past that, drains still consume
    /// the ring but keep nothing and report [`Limit::Trace`] on `flag`.
    pub fn set_limit(&mut self, records: usize, flag: LimitFlag) {
        self.limit = (records, flag);
    }

    /// What the run knows before the first record: the TSC frequency and
    /// the processes already alive ([`TraceLog::tsc_khz`],
    /// [`TraceLog::processes`]).
    pub fn set_start(&mut self, tsc_khz: Option<u32>, processes: Vec<(u32, String)>) {
        self.log.tsc_khz = tsc_khz;
        self.log.processes = processes;
    }

    /// Guest-physical address and size of the ring.
    pub fn range(&self) -> (u64, u64) {
        (self.base, self.bytes)
    }

    /// Records the ring holds.
    pub fn capacity(&self) -> u64 {
        self.capacity
    }

    /// The kernel rang the doorbell: drains (and counts the drain).
    pub fn doorbell(&mut self) {
        self.log.doorbell_drains += 1;
        self.drain();
    }

    fn read_u64(&self, offset: u64) -> u64 {
        self.mem.read_obj::<u64>(GuestAddress(self.base + offset)).unwrap_or(0)
    }

    /// Copies every record not yet consumed and marks them consumed.
    pub fn drain(&mut self) {
        let head = self.read_u64(header::HEAD);
        let tail = self.read_u64(header::TAIL);
        let pending = head.wrapping_sub(tail);
        let (from, count) = if pending > self.capacity {
            // A header the guest scribbled on: take at most one ring.
            self.log.header_errors += 1;
            if head < tail {
                (head, 0)
            } else {
                (head - self.capacity, self.capacity)
            }
        } else {
            (tail, pending)
        };
        // Sequence numbers wrap: a tail near u64::MAX (the guest writes it)
        // must not overflow the range.
        for seq in (0..count).map(|i| from.wrapping_add(i)) {
            let at = self.base + RECORDS_OFFSET + (seq % self.capacity) * RECORD_SIZE as u64;
            let mut record = [0u8; RECORD_SIZE];
            if self.log.raw.len() >= self.limit.0 {
                self.limit.1.reach(Limit::Trace);
                break;
            }
            if self.mem.read_slice(&mut record, GuestAddress(at)).is_ok() {
                self.log.raw.push(record);
            }
        }
        let _ = self.mem.write_obj(head, GuestAddress(self.base + header::TAIL));
    }

    /// Drains the rest and returns the log.
    pub fn finish(mut self) -> TraceLog {
        self.drain();
        self.log.dropped = self.read_u64(header::DROPPED);
        self.log.doorbells = self.read_u64(header::DOORBELLS);
        self.log
    }
}

/// `cmdline` with `viv.trace=0xADDR,0xSIZE` inserted before a shell
/// command (keys after ` -- ` are not read by the kernel).
pub fn cmdline_with_ring(cmdline: &str, base: u64, size: u64) -> String {
    let key = format!("{CMDLINE_TRACE_KEY}={base:#x},{size:#x}");
    match cmdline.split_once(CMDLINE_COMMAND_SEPARATOR) {
        Some((keys, command)) => format!("{} {key}{CMDLINE_COMMAND_SEPARATOR}{command}", keys.trim_end()),
        None => format!("{} {key}", cmdline.trim_end()).trim_start().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use abi::platform::{cmdline_command, cmdline_value, parse_trace_value};

    #[test]
    fn the_ring_key_goes_before_the_command() {
        let line = cmdline_with_ring("viv.entry=trap -- echo viv.trace=1", 0x7c0_0000, RING_BYTES);
        assert_eq!(cmdline_command(&line), Some("echo viv.trace=1"));
        let value = cmdline_value(&line, CMDLINE_TRACE_KEY).unwrap();
        assert_eq!(parse_trace_value(value), Some((0x7c0_0000, RING_BYTES)));
        assert_eq!(cmdline_with_ring("", 0x1000, 0x2000), "viv.trace=0x1000,0x2000");
    }

    #[test]
    fn drains_follow_head_and_tail_and_survive_garbage_headers() {
        let mem = crate::vstate::memory::create(32 << 20).unwrap();
        let mut ring = TraceRing::create(&mem, 32 << 20, TraceMode::Lossless, RING_BYTES).unwrap();
        let (base, _) = ring.range();
        let cap = (RING_BYTES - RECORDS_OFFSET) / 64;
        for seq in 0..3u64 {
            let at = base + RECORDS_OFFSET + seq * 64;
            mem.write_obj(seq, GuestAddress(at)).unwrap();
        }
        mem.write_obj(3u64, GuestAddress(base + header::HEAD)).unwrap();
        ring.drain();
        assert_eq!(ring.log.raw.len(), 3);
        assert_eq!(mem.read_obj::<u64>(GuestAddress(base + header::TAIL)).unwrap(), 3);
        mem.write_obj(u64::MAX, GuestAddress(base + header::HEAD)).unwrap();
        ring.drain();
        assert_eq!(ring.log.header_errors, 1);
        assert_eq!(ring.log.raw.len() as u64, 3 + cap);
        let log = ring.finish();
        assert_eq!(log.dropped, 0);
        for bad in [0, 4096, 12_000, 1 << 30] {
            assert!(TraceRing::create(&mem, 32 << 20, TraceMode::Drop, bad).is_err(), "{bad}");
        }
        let small = TraceRing::create(&mem, 32 << 20, TraceMode::Drop, MIN_RING_BYTES).unwrap();
        assert_eq!((small.capacity(), small.range().1), (64, MIN_RING_BYTES));
    }

    #[test]
    fn a_tail_near_the_end_of_the_sequence_space_wraps() {
        let mem = crate::vstate::memory::create(32 << 20).unwrap();
        let mut ring = TraceRing::create(&mem, 32 << 20, TraceMode::Lossless, MIN_RING_BYTES).unwrap();
        let (base, _) = ring.range();
        mem.write_obj(u64::MAX - 1, GuestAddress(base + header::TAIL)).unwrap();
        mem.write_obj(3u64, GuestAddress(base + header::HEAD)).unwrap();
        ring.drain();
        assert_eq!(ring.log.raw.len(), 5, "u64::MAX - 1 to 2, wrapping");
        assert_eq!(ring.log.header_errors, 0);
        assert_eq!(mem.read_obj::<u64>(GuestAddress(base + header::TAIL)).unwrap(), 3);
        mem.write_obj(u64::MAX, GuestAddress(base + header::TAIL)).unwrap();
        mem.write_obj(u64::MAX, GuestAddress(base + header::HEAD)).unwrap();
        ring.drain();
        assert_eq!(ring.log.raw.len(), 5);
    }

    #[test]
    fn drains_keep_at_most_the_record_limit() {
        let mem = crate::vstate::memory::create(32 << 20).unwrap();
        let mut ring = TraceRing::create(&mem, 32 << 20, TraceMode::Lossless, MIN_RING_BYTES).unwrap();
        let flag = LimitFlag::default();
        ring.set_limit(100, flag.clone());
        let (base, _) = ring.range();
        for head in [60u64, 120, 180] {
            mem.write_obj(head, GuestAddress(base + header::HEAD)).unwrap();
            ring.doorbell();
            assert_eq!(mem.read_obj::<u64>(GuestAddress(base + header::TAIL)).unwrap(), head, "consumed");
        }
        assert_eq!(ring.log.raw.len(), 100);
        assert_eq!(flag.reached(), Some(Limit::Trace));
    }
}
