//! Reading the kernel info page: command line, boot processes, entry kind,
//! the clock.

use abi::layout::{kip, EntryKind, KIP_DATA};
use abi::Endpoint;

fn page() -> &'static [u8; 4096] {
    // SAFETY: the kernel maps the KIP data page read-only into every
    // process at KIP_DATA, and never changes it after boot but for the
    // tick field, which only [`ticks`] reads (volatile, through a raw
    // pointer).
    unsafe { &*(KIP_DATA as *const [u8; 4096]) }
}

fn u32_at(at: usize) -> u32 {
    let p = page();
    u32::from_le_bytes([p[at], p[at + 1], p[at + 2], p[at + 3]])
}

/// The kernel command line.
pub fn cmdline() -> &'static str {
    let len = (u32_at(kip::CMDLINE_LEN_OFFSET) as usize).min(kip::CMDLINE_MAX);
    abi::platform::utf8_prefix(&page()[kip::CMDLINE_OFFSET..kip::CMDLINE_OFFSET + len])
}

/// The value of `key=value` on the kernel command line.
pub fn cmdline_value(key: &str) -> Option<&'static str> {
    abi::platform::cmdline_value(cmdline(), key)
}

/// The value of numeric parameter `key` (`abi::platform::NUMERIC_PARAMETERS`),
/// `default` when absent. A value that is not a decimal number ends the
/// program with status 2 and says so: a typo must not run the default.
pub fn cmdline_number(key: &str, default: u64) -> u64 {
    match abi::platform::cmdline_number(cmdline(), key) {
        Ok(value) => value.unwrap_or(default),
        Err(bad) => {
            crate::println!("{}={}: not a number", key, bad);
            crate::sys::exit(2)
        }
    }
}

/// The entry kind the kernel chose.
pub fn entry_kind() -> EntryKind {
    if u32_at(kip::ENTRY_KIND_OFFSET) == EntryKind::Trap as u32 {
        EntryKind::Trap
    } else {
        EntryKind::Syscall
    }
}

/// Timer ticks since boot, as the `uptime` kernel call returns them, read
/// from the page without a kernel entry (the kernel keeps the field
/// current: `abi::layout::kip::TICKS_OFFSET`).
pub fn ticks() -> u64 {
    // SAFETY: the KIP data page is mapped read-only at KIP_DATA in every
    // process; the field is an aligned u64 the kernel writes whole, and
    // volatile makes every call read it again.
    unsafe { core::ptr::read_volatile((KIP_DATA as usize + kip::TICKS_OFFSET) as *const u64) }
}

/// Timer ticks per second.
pub fn tick_hz() -> u64 {
    u64::from(u32_at(kip::TICK_HZ_OFFSET)) | u64::from(u32_at(kip::TICK_HZ_OFFSET + 4)) << 32
}

/// The boot image's programs in order: (name, endpoint at boot, or
/// `Endpoint::NONE` when the program was not started at boot).
pub fn boot_processes() -> impl Iterator<Item = (&'static str, Endpoint)> {
    (0..program_count()).map(|i| {
        let at = kip::PROC_TABLE_OFFSET + i * kip::PROC_ENTRY_SIZE;
        let raw = &page()[at..at + 16];
        let len = raw.iter().position(|&b| b == 0).unwrap_or(16);
        (core::str::from_utf8(&raw[..len]).unwrap_or("?"), Endpoint(u32_at(at + kip::PROC_ENDPOINT_OFFSET)))
    })
}

/// Number of programs in the boot image (entries of the KIP table).
pub fn program_count() -> usize {
    (u32_at(kip::BOOT_PROCS_OFFSET) as usize).min(kip::MAX_BOOT_PROCS)
}

/// The boot-image flags (`abi::boot_image::FLAG_*`) of program `index`;
/// 0 past the end.
pub fn program_flags(index: usize) -> u8 {
    if index >= program_count() {
        return 0;
    }
    page()[kip::PROC_TABLE_OFFSET + index * kip::PROC_ENTRY_SIZE + kip::PROC_FLAGS_OFFSET]
}

/// The heartbeat period in ms of program `index` (0 = none); 0 past the
/// end.
pub fn program_heartbeat_ms(index: usize) -> u32 {
    if index >= program_count() {
        return 0;
    }
    u32_at(kip::PROC_TABLE_OFFSET + index * kip::PROC_ENTRY_SIZE + kip::PROC_HEARTBEAT_OFFSET)
}

/// The endpoint of boot process `name`, if it was started at boot.
pub fn endpoint_of(name: &str) -> Option<Endpoint> {
    boot_processes().find(|(n, _)| *n == name).map(|(_, e)| e).filter(|e| *e != Endpoint::NONE)
}

/// The boot-image index of program `name` (for `sys::spawn`).
pub fn program_index(name: &str) -> Option<usize> {
    boot_processes().position(|(n, _)| n == name)
}

/// Whether the kernel command line switches defense `name` off (a negative
/// control, `abi::weaken`).
pub fn weakened(name: &str) -> bool {
    abi::weaken::weakened_in(cmdline(), name)
}
