//! The kernel info page (KIP): two pages mapped read-only into every
//! process, the system-call entry stub and the boot information.
//!
//! User code never contains a trap instruction of its own; it calls the
//! stub, so one program binary runs with either entry kind.

use abi::layout::{kip, EntryKind, ENTRY_STUB_OFFSET, STUB_SYSCALL, STUB_TRAP};
use core::sync::atomic::{AtomicU64, Ordering};

/// The data page's frame, once [`write_data`] has written it (0 before).
static DATA_FRAME: AtomicU64 = AtomicU64::new(0);

fn bytes_of(frame: u64) -> &'static mut [u8; 4096] {
    // SAFETY: the KIP frames are allocated once at boot, identity-mapped,
    // and written only here, before any process runs.
    unsafe { &mut *(frame as *mut [u8; 4096]) }
}

/// Writes the entry stub for `kind` into the code page.
pub fn write_code(frame: u64, kind: EntryKind) {
    let page = bytes_of(frame);
    // Fill with int3 so a jump anywhere else in the page is a breakpoint,
    // not a system call.
    page.fill(0xCC);
    let at = ENTRY_STUB_OFFSET as usize;
    match kind {
        EntryKind::Trap => page[at..at + STUB_TRAP.len()].copy_from_slice(&STUB_TRAP),
        EntryKind::Syscall => page[at..at + STUB_SYSCALL.len()].copy_from_slice(&STUB_SYSCALL),
    }
}

/// Writes the header and command line of the data page.
pub fn write_data(frame: u64, kind: EntryKind, cmdline: &str, tick_hz: u64) {
    let page = bytes_of(frame);
    page[kip::MAGIC_OFFSET..][..4].copy_from_slice(&kip::MAGIC.to_le_bytes());
    page[kip::ENTRY_KIND_OFFSET..][..4].copy_from_slice(&(kind as u32).to_le_bytes());
    page[kip::TICK_HZ_OFFSET..][..8].copy_from_slice(&tick_hz.to_le_bytes());
    let line = &cmdline.as_bytes()[..cmdline.len().min(kip::CMDLINE_MAX)];
    page[kip::CMDLINE_LEN_OFFSET..][..4].copy_from_slice(&(line.len() as u32).to_le_bytes());
    page[kip::CMDLINE_OFFSET..][..line.len()].copy_from_slice(line);
    DATA_FRAME.store(frame, Ordering::Relaxed);
}

/// Copies the tick count into the data page (`kip::TICKS_OFFSET`), so
/// that a server reading the clock at every message (RS, ext2fs's time
/// stamps) needs no kernel call: on our hosts a kernel entry costs
/// hundreds of emulated instructions, a load costs one.
#[inline]
pub fn publish_ticks(ticks: u64) {
    let frame = DATA_FRAME.load(Ordering::Relaxed);
    if frame != 0 {
        // SAFETY: the data frame is identity-mapped kernel memory for the
        // kernel's lifetime; TICKS_OFFSET is an aligned u64 inside it that
        // only this function writes (processes map the page read-only).
        unsafe { ((frame + kip::TICKS_OFFSET as u64) as *mut u64).write_volatile(ticks) };
    }
}

/// Adds boot process `index` to the data page's table: its name, endpoint
/// (or NONE), boot-image flags and heartbeat period.
pub fn add_boot_process(frame: u64, index: usize, name: &str, endpoint: abi::Endpoint, flags: u8, heartbeat_ms: u32) {
    if index >= kip::MAX_BOOT_PROCS {
        return;
    }
    let page = bytes_of(frame);
    let at = kip::PROC_TABLE_OFFSET + index * kip::PROC_ENTRY_SIZE;
    let n = name.len().min(16);
    page[at..at + 16].fill(0);
    page[at..at + n].copy_from_slice(&name.as_bytes()[..n]);
    page[at + kip::PROC_ENDPOINT_OFFSET..][..4].copy_from_slice(&endpoint.0.to_le_bytes());
    page[at + kip::PROC_FLAGS_OFFSET] = flags;
    page[at + kip::PROC_HEARTBEAT_OFFSET..][..4].copy_from_slice(&heartbeat_ms.to_le_bytes());
    page[kip::BOOT_PROCS_OFFSET..][..4].copy_from_slice(&(index as u32 + 1).to_le_bytes());
}
