//! The virtual platform: I/O ports, guest physical layout, kernel command
//! line keys and `viv`'s exit statuses.

/// COM1 16550 UART base port.
pub const PORT_COM1: u16 = 0x3F8;
/// COM1 interrupt line.
pub const IRQ_COM1: u32 = 4;

/// Power-off port: a 32-bit write of the status ends the VM.
///
/// The same port and width as QEMU's `isa-debug-exit` device at `iobase=0xf4`
/// (which makes QEMU exit with `status << 1 | 1`), so the guest powers off
/// the same way under both.
pub const PORT_POWEROFF: u16 = 0xF4;

/// Benchmark mark port: a 32-bit write of a mark id; `viv` samples the vCPU
/// statistics there. Other hosts ignore the write.
pub const PORT_BENCH_MARK: u16 = 0x700;

/// Bench mark id the kernel writes just before its first return to user
/// mode (boot time is measured to here).
pub const MARK_FIRST_USER: u32 = 0;
/// Bench mark id a benchmark program writes before its measured loop.
pub const MARK_BENCH_START: u32 = 1;
/// Bench mark id a benchmark program writes after its measured loop.
pub const MARK_BENCH_END: u32 = 2;

/// Largest status a guest may power off with; larger values are clamped so
/// they cannot be mistaken for the statuses below.
pub const GUEST_STATUS_MAX: u32 = 119;
/// `viv` exit status: a host-side error (bad arguments, missing image, KVM
/// unavailable).
pub const STATUS_HOST_ERROR: i32 = 120;
/// `viv` exit status: KVM reported an error running the guest (failed
/// entry, internal error, unhandled exit).
pub const STATUS_VM_ERROR: i32 = 121;
/// `viv` exit status: the guest triple-faulted (KVM_EXIT_SHUTDOWN).
pub const STATUS_TRIPLE_FAULT: i32 = 122;
/// `viv` exit status, and the power-off status the kernel writes after a
/// kernel panic.
pub const STATUS_KERNEL_PANIC: i32 = 123;
/// `viv` exit status: the guest ran past `--timeout`.
pub const STATUS_TIMEOUT: i32 = 124;

/// Guest physical address where the kernel is linked and loaded.
pub const KERNEL_LOAD_ADDR: u64 = 0x10_0000;
/// Most guest memory the kernel maps (its identity map covers 1 GiB).
pub const MAX_GUEST_MEMORY: u64 = 1 << 30;

/// Kernel command-line key choosing the system-call entry:
/// `viv.entry=trap` or `viv.entry=syscall` (the default when absent).
pub const CMDLINE_ENTRY_KEY: &str = "viv.entry";

/// Kernel command-line key by which a VMM promises that all guest RAM
/// outside the kernel and the boot image is zero at boot (`viv.memzero=1`),
/// so the kernel need not zero fresh frames.
pub const CMDLINE_MEMZERO_KEY: &str = "viv.memzero";

/// Finds `key=value` in a space-separated command line.
pub fn cmdline_value<'a>(cmdline: &'a str, key: &str) -> Option<&'a str> {
    cmdline.split_ascii_whitespace().rev().find_map(|word| {
        let (k, v) = word.split_once('=')?;
        (k == key).then_some(v)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_occurrence_of_a_key_wins() {
        let line = "viv.entry=syscall console=ttyS0 viv.entry=trap pingpong.rounds=7";
        assert_eq!(cmdline_value(line, "viv.entry"), Some("trap"));
        assert_eq!(cmdline_value(line, "pingpong.rounds"), Some("7"));
        assert_eq!(cmdline_value(line, "missing"), None);
        assert_eq!(cmdline_value(line, "console"), Some("ttyS0"));
    }
}
