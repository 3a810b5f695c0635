//! The virtual platform: I/O ports, guest physical layout, kernel command
//! line keys and `viv`'s exit statuses.

/// COM1 16550 UART base port.
pub const PORT_COM1: u16 = 0x3F8;
/// COM1 interrupt line.
pub const IRQ_COM1: u32 = 4;
/// Interrupt line (IOAPIC pin, edge) the VMM raises in experiment mode
/// when the guest has made no kernel entry while its vCPU ran guest user
/// code for [`SPIN_TICK_CPU_MS`] of CPU time: user code spinning without
/// system calls. Virtual time advances only with kernel entries, so
/// without it a spinning process would stop guest time (and with it RS's
/// heartbeats) for good; at this interrupt the kernel advances virtual
/// time to the next deadline and charges the spinner a tick.
pub const IRQ_SPIN_TICK: u32 = 9;
/// Guest CPU time (ms) of the vCPU (as the host accounts it: guest code
/// running, not the host's work for it) without a kernel entry that counts
/// as spinning ([`IRQ_SPIN_TICK`]). Small, so that a spinning service is
/// caught quickly; no IPC-driven program computes this long between two
/// system calls.
pub const SPIN_TICK_CPU_MS: u64 = 20;

/// Guest-physical base of the virtio-blk device's register window
/// (virtio-mmio transport, version 2 "modern" layout; virtio 1.x spec
/// §4.2.2). Present only when `viv` attaches a disk (`--disk FILE`): a
/// driver finds it by reading `VIRTIO_MMIO_MAGIC` at this address (an absent
/// device reads as all-ones). It lies above guest RAM (at most
/// [`MAX_GUEST_MEMORY`]) and below the IOAPIC/LAPIC windows; the guest
/// kernel maps it uncached. It is where QEMU's `microvm` machine puts its
/// first virtio-mmio transport (with `acpi=off`, its interrupt is line
/// [`VIRTIO_BLK_IRQ`] too), so the same driver finds the disk under `viv`
/// and under QEMU (`viv export`, `docs/platform.md`).
pub const VIRTIO_BLK_MMIO_BASE: u64 = 0xFEB0_0000;
/// Size of the virtio-blk register window (registers at 0x000..0x100,
/// device configuration from 0x100).
pub const VIRTIO_BLK_MMIO_SIZE: u64 = 0x1000;
/// Interrupt line (IOAPIC pin, edge) of the virtio-blk device: raised when
/// it has put finished requests on the used ring (InterruptStatus bit 0) or
/// needs a reset (bit 1).
pub const VIRTIO_BLK_IRQ: u32 = 5;
/// The virtio-mmio `MagicValue` register: "virt" in little-endian.
pub const VIRTIO_MMIO_MAGIC: u32 = 0x7472_6976;
/// The virtio-mmio `VendorID` register of `viv`'s devices: "VIVA" in
/// little-endian.
pub const VIRTIO_VENDOR_ID: u32 = 0x4156_4956;
/// Size of a virtio-blk sector: request offsets and the capacity in the
/// device configuration are counted in these, whatever the block size.
pub const VIRTIO_BLK_SECTOR_SIZE: u64 = 512;
/// Entries in the virtio-blk request queue (queue 0), the largest
/// `QueueNum` the device accepts (`QueueNumMax`).
pub const VIRTIO_BLK_QUEUE_SIZE: u16 = 256;

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

// Marks of the `ipcbench` image (`viv bench`, "IPC operations"). Each phase
// of the client is bracketed by its START and END mark; `viv bench` divides
// the vCPU-statistics deltas between them by the number of operations. The
// ids are START = 16 + 2 * phase, END = START + 1, in the order below.

/// `ipcbench` phase 0 start: nothing between START and END, so the delta
/// is the cost of the bench-mark kernel call itself (the rest of the START
/// call after its port write, and the END call up to its port write) that
/// every other phase's delta also contains once.
pub const MARK_IPC_EMPTY_START: u32 = 16;
/// `ipcbench` phase 0 end.
pub const MARK_IPC_EMPTY_END: u32 = 17;
/// `ipcbench` phase 1 start: N SENDs, each to a higher-priority server
/// already waiting in RECEIVE; per operation the client's SEND (delivers,
/// switches to the server) and the server's RECEIVE re-entry (blocks,
/// switches back).
pub const MARK_IPC_SEND_START: u32 = 18;
/// `ipcbench` phase 1 end.
pub const MARK_IPC_SEND_END: u32 = 19;
/// `ipcbench` phase 2 start: N RECEIVEs by a lower-priority server, each
/// taking the message of the client already blocked in SEND; per operation
/// the server's RECEIVE (takes the queued message, wakes and switches to
/// the client) and the client's next SEND (blocks, switches back).
pub const MARK_IPC_RECEIVE_START: u32 = 20;
/// `ipcbench` phase 2 end.
pub const MARK_IPC_RECEIVE_END: u32 = 21;
/// `ipcbench` phase 3 start: N SENDREC round trips to the higher-priority
/// server; per operation the client's SENDREC, the server's SENDNB reply
/// and its RECEIVE re-entry.
pub const MARK_IPC_SENDREC_START: u32 = 22;
/// `ipcbench` phase 3 end.
pub const MARK_IPC_SENDREC_END: u32 = 23;
/// `ipcbench` phase 4 start: N NOTIFYs to the higher-priority server waiting
/// in RECEIVE; per operation the client's NOTIFY (delivers, switches) and
/// the server's RECEIVE re-entry.
pub const MARK_IPC_NOTIFY_START: u32 = 24;
/// `ipcbench` phase 4 end.
pub const MARK_IPC_NOTIFY_END: u32 = 25;
/// `ipcbench` phase 5 start: N SENDAs of a one-entry table to the
/// higher-priority server waiting in RECEIVE, each entry delivered during
/// the call; per operation the client's SENDA and the server's RECEIVE
/// re-entry.
pub const MARK_IPC_SENDA_START: u32 = 26;
/// `ipcbench` phase 5 end.
pub const MARK_IPC_SENDA_END: u32 = 27;

/// Bench mark id init writes just before it execs the shell: the end of
/// boot ("boot to shell prompt") and the start of the command in `viv
/// count` and `viv trace`.
pub const MARK_COMMAND_START: u32 = 3;

/// Bench mark id init writes just before it execs the shell that runs a
/// campaign's check (after the workload's shell ended;
/// [`CMDLINE_CHECK_KEY`]). The kernel takes it only from init (a process
/// with the privilege id of the first [`MARK_COMMAND_START`]'s writer),
/// once, and refuses it to anyone else with `EPERM` (no port write): the
/// VMM splits the console there, and the kernel records the check's exit
/// status (`fault::STATUS_CHECK`).
pub const MARK_CHECK_START: u32 = 4;

/// `diskbench`: before its sequential write of a file.
pub const MARK_DISK_WRITE_START: u32 = 30;
/// `diskbench`: after the write and `fsync`.
pub const MARK_DISK_WRITE_END: u32 = 31;
/// `diskbench`: before reading the file back.
pub const MARK_DISK_READ_START: u32 = 32;
/// `diskbench`: after the read.
pub const MARK_DISK_READ_END: u32 = 33;

/// Trace doorbell port: a 32-bit write (any value) asks the VMM to drain
/// the IPC trace ring now (`abi::trace`, lossless mode, ring full). The VMM
/// consumes every record before the guest resumes. Other hosts ignore it
/// (the kernel traces only when the VMM described a ring).
pub const PORT_TRACE_DOORBELL: u16 = 0x701;

/// Fault-stop doorbell port: the kernel writes the index of the fault-plan
/// rule (`abi::fault`, action Stop) that fired; the VMM records the stop
/// (the guest is paused for the length of the exit, so the host may act on
/// guest memory) and resumes the guest. Other hosts ignore it.
pub const PORT_FAULT_STOP: u16 = 0x702;

/// Debug-trap doorbell port: the kernel writes a process slot at a user
/// `#BP` or `#DB` while a debugger is attached, and reads the VMM's
/// verdict from its debugger table afterwards (`crate::debug`). Other
/// hosts never see it (nothing sets the table's attached flag).
pub const PORT_DEBUG_TRAP: u16 = 0x703;

/// Kernel command-line key for experiment mode: `viv.deterministic=1`
/// makes the kernel's time virtual (ticks count kernel entries and jump to
/// the next deadline when every process is blocked; see
/// `guest-kernel/src/vclock.rs`), so the same image, workload, fault plan
/// and seed give the same IPC trace record for record. The kernel does not
/// virtualize the time-stamp counter: a workload that reads it itself
/// (`rdtsc` in user mode) and lets the value reach a message (for example
/// by printing it) is not deterministic; `ping` leaves its cycle count out
/// in this mode for that reason.
pub const CMDLINE_DETERMINISTIC_KEY: &str = "viv.deterministic";

/// Kernel command-line key describing the IPC trace ring:
/// `viv.trace=0xADDR,0xSIZE` (guest-physical, page-aligned, reserved in
/// the memory map). Absent (QEMU, or `viv` without tracing): tracing off.
pub const CMDLINE_TRACE_KEY: &str = "viv.trace";

/// Parses a `viv.trace` value: `(address, size)`.
pub fn parse_trace_value(value: &str) -> Option<(u64, u64)> {
    let (addr, size) = value.split_once(',')?;
    let hex = |s: &str| u64::from_str_radix(s.strip_prefix("0x")?, 16).ok();
    Some((hex(addr)?, hex(size)?))
}

/// Largest status a guest may power off with; larger values are clamped so
/// they cannot be mistaken for the statuses below.
pub const GUEST_STATUS_MAX: u32 = 119;
/// Power-off status after PM died: its process table (pids, parents,
/// uids, exit statuses) cannot be rebuilt, so the system cannot go on
/// (MINIX 3 cannot restart PM either). The new PM incarnation RS starts,
/// or init when PM no longer knows it, syncs the disk and powers off with
/// this status (docs/servers-dying.md).
pub const STATUS_PM_DIED: u32 = 116;
/// Power-off status after VFS died: every process's descriptors, the
/// pipes and the in-memory `/tmp` are lost with it. The new VFS
/// incarnation syncs the disk and powers off with this status
/// (docs/servers-dying.md).
pub const STATUS_VFS_DIED: u32 = 117;

/// Power-off status when init could not start the shell: the fork, the
/// change of uid (`viv.user`) or the exec of `/bin/sh` failed (for
/// example with too little memory), or `viv.user` is not a number. init
/// says why in the log; `viv` repeats it on stderr.
pub const STATUS_INIT_FAILED: u32 = 118;

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
/// `viv` exit status: the guest made the host keep more than a cap allows
/// (console, log, bench marks, trace; the VMM's `devices::limits`).
pub const STATUS_GUEST_LIMIT: i32 = 125;

/// Guest physical address where the kernel is linked and loaded.
pub const KERNEL_LOAD_ADDR: u64 = 0x10_0000;
/// Least guest memory `viv` boots. The `system` image needs 6 MiB to
/// start its shell (below that, PM's fork of the shell fails with ENOMEM
/// and init powers off with [`STATUS_INIT_FAILED`]); 8 MiB leaves room for
/// a small command. Every image boots in it.
pub const MIN_GUEST_MEMORY: u64 = 8 << 20;
/// Most guest memory the kernel maps (its identity map covers 1 GiB).
pub const MAX_GUEST_MEMORY: u64 = 1 << 30;

/// Kernel command-line key choosing the system-call entry:
/// `viv.entry=trap` or `viv.entry=syscall` (the default when absent).
pub const CMDLINE_ENTRY_KEY: &str = "viv.entry";

/// Kernel command-line key by which a VMM promises that all guest RAM
/// outside the kernel and the boot image is zero at boot (`viv.memzero=1`),
/// so the kernel need not zero fresh frames.
pub const CMDLINE_MEMZERO_KEY: &str = "viv.memzero";

/// Kernel command-line key: the uid (a decimal number) init runs the shell
/// as (`viv exec|run --user N`); without it the shell runs as uid 0, the
/// administrator.
pub const CMDLINE_USER_KEY: &str = "viv.user";
/// Kernel command-line key: comma-separated names of boot processes the
/// kernel starts that RS treats as administrators (an image grants it in
/// its `cmdline`, e.g. the `rs-test` image's workload, which runs without
/// PM). Only the incarnation the kernel started at boot qualifies.
pub const CMDLINE_ADMIN_KEY: &str = "viv.admin";

/// Kernel command-line key: the frames (4 KiB each) the processes of one
/// user other than uid 0 may hold together, a decimal number; an image
/// sets it in its `cmdline`. Without it: [`DEFAULT_USER_MEMORY_SHARE`] of
/// the frames free at boot (docs/security.md, "Memory").
pub const CMDLINE_USER_FRAMES_KEY: &str = "viv.user_frames";
/// The default per-user memory quota, as a fraction (1/N) of the frames
/// free when the kernel starts: one user may hold half the memory.
pub const DEFAULT_USER_MEMORY_SHARE: u64 = 2;
/// Frames kept free for the system (uid 0 and the processes PM did not
/// create): a user allocation that would leave fewer is refused, so RS
/// can always restart a driver (blk: its image, stack and DMA buffer).
pub const MEMORY_RESERVE_FRAMES: u64 = 512;

/// Separates the kernel's own command line from a shell command for init:
/// everything after the first occurrence is the command (`viv exec "CMD"`
/// appends ` -- CMD`; init runs `sh -c CMD` and powers off with its
/// status). Keys ([`cmdline_value`]) are only read before it, so the
/// command's words are never mistaken for them.
pub const CMDLINE_COMMAND_SEPARATOR: &str = " -- ";

/// The command after [`CMDLINE_COMMAND_SEPARATOR`], if there is one.
pub fn cmdline_command(cmdline: &str) -> Option<&str> {
    cmdline.split_once(CMDLINE_COMMAND_SEPARATOR).map(|(_, command)| command)
}

/// Kernel command-line key: `viv.echo=0` makes the console driver (TTY)
/// not echo what it receives. `viv` sets it when its stdin is not a
/// terminal (a pipe, a file), so piped input is not printed back, as with
/// `ssh host cmd` or `docker run -i`; typed input is echoed as before.
pub const CMDLINE_ECHO_KEY: &str = "viv.echo";

/// Kernel command-line keys whose value is a decimal number (`u64`), with
/// the programs that read them: `viv` refuses a command line that gives
/// one of them anything else, and the guest program ends with an error
/// instead of using its default.
pub const NUMERIC_PARAMETERS: &[&str] = &[
    CMDLINE_USER_KEY,
    CMDLINE_USER_FRAMES_KEY,
    CMDLINE_CHECK_KEY,
    "pingpong.rounds",
    "ipcbench.ops",
    "workload.ms",
    "ttykiller.ms",
    "killer.ticks",
];

/// The value of numeric parameter `key` on `cmdline`: `Ok(None)` when
/// absent, `Err(value)` when it is not a decimal number.
pub fn cmdline_number<'a>(cmdline: &'a str, key: &str) -> Result<Option<u64>, &'a str> {
    match cmdline_value(cmdline, key) {
        None => Ok(None),
        Some(v) => v.parse::<u64>().map(Some).map_err(|_| v),
    }
}

/// Kernel command-line key: the command is a workload followed by a check
/// (`viv campaign`'s `expect.check`), which init runs as two shells, one
/// after the other, so that the kernel records each one's exit status
/// apart (`fault::STATUS_OFFSET`). The value is the check's length in
/// bytes: the command ends in [`CMDLINE_COMMAND_SEPARATOR`] and that many
/// bytes. A length, not a second separator, so that no workload text can
/// be mistaken for the boundary.
pub const CMDLINE_CHECK_KEY: &str = "viv.check";

/// The command init runs for `workload` and `check` (the value of
/// [`CMDLINE_CHECK_KEY`] is `check.len()`).
#[cfg(feature = "std")]
pub fn command_with_check(workload: &str, check: &str) -> std::string::String {
    std::format!("{workload}{CMDLINE_COMMAND_SEPARATOR}{check}")
}

/// Splits a command into (workload, check) by the check's length (the
/// value of [`CMDLINE_CHECK_KEY`]); `None` when the command does not end
/// in the separator and `check_len` bytes.
pub fn split_check(command: &str, check_len: usize) -> Option<(&str, &str)> {
    let check_at = command.len().checked_sub(check_len)?;
    let check = command.get(check_at..)?;
    let workload = command.get(..check_at)?.strip_suffix(CMDLINE_COMMAND_SEPARATOR)?;
    Some((workload, check))
}

/// The log port: a byte write appends to the kernel's log. It is the
/// Bochs/QEMU debug-console port (QEMU's `-debugcon`), so the same kernel
/// logs the same way under QEMU.
pub const PORT_LOG: u16 = 0xE9;

/// Kernel command-line key routing the kernel's log (its own messages and
/// every `DiagWrite`, which servers use for theirs) to [`PORT_LOG`] instead
/// of COM1: `viv.log=e9`. `viv exec` uses it so that its standard output
/// carries only what the command printed.
pub const CMDLINE_LOG_KEY: &str = "viv.log";

/// The longest valid UTF-8 prefix of `bytes`: a command line cut inside a
/// character keeps everything before it instead of becoming empty.
pub fn utf8_prefix(bytes: &[u8]) -> &str {
    match core::str::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => core::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap_or(""),
    }
}

/// Finds `key=value` in a space-separated command line (before the
/// command, see [`CMDLINE_COMMAND_SEPARATOR`]).
pub fn cmdline_value<'a>(cmdline: &'a str, key: &str) -> Option<&'a str> {
    let keys = cmdline.split_once(CMDLINE_COMMAND_SEPARATOR).map_or(cmdline, |(keys, _)| keys);
    keys.split_ascii_whitespace().rev().find_map(|word| {
        let (k, v) = word.split_once('=')?;
        (k == key).then_some(v)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_parameters_parse_or_say_why_not() {
        assert_eq!(cmdline_number("pingpong.rounds=5 -- x", "pingpong.rounds"), Ok(Some(5)));
        assert_eq!(cmdline_number("a=1", "pingpong.rounds"), Ok(None));
        assert_eq!(cmdline_number("pingpong.rounds=abc", "pingpong.rounds"), Err("abc"));
        assert_eq!(cmdline_number("pingpong.rounds=-1", "pingpong.rounds"), Err("-1"));
    }

    #[test]
    fn a_line_cut_inside_a_character_keeps_its_prefix() {
        let line = "viv.trace=0x1,0x2 -- echo é".as_bytes();
        assert_eq!(utf8_prefix(&line[..line.len() - 1]), "viv.trace=0x1,0x2 -- echo ");
        assert_eq!(utf8_prefix(line), "viv.trace=0x1,0x2 -- echo é");
        assert_eq!(utf8_prefix(&[0xff, b'a']), "");
    }

    #[test]
    fn last_occurrence_of_a_key_wins() {
        let line = "viv.entry=syscall console=ttyS0 viv.entry=trap pingpong.rounds=7";
        assert_eq!(cmdline_value(line, "viv.entry"), Some("trap"));
        assert_eq!(cmdline_value(line, "pingpong.rounds"), Some("7"));
        assert_eq!(cmdline_value(line, "missing"), None);
        assert_eq!(cmdline_value(line, "console"), Some("ttyS0"));
    }

    #[test]
    fn the_command_follows_the_first_separator_and_hides_no_keys() {
        let line = "viv.entry=trap -- X=1 viv.entry=syscall && echo -- a";
        assert_eq!(cmdline_command(line), Some("X=1 viv.entry=syscall && echo -- a"));
        assert_eq!(cmdline_value(line, "viv.entry"), Some("trap"));
        assert_eq!(cmdline_value(line, "X"), None);
        assert_eq!(cmdline_command("viv.entry=trap"), None);
    }

    #[test]
    fn a_check_is_split_off_by_its_length() {
        let command = "echo a -- b; cp x y -- cat y -- z";
        assert_eq!(split_check(command, 10), Some(("echo a -- b; cp x y", "cat y -- z")));
        assert_eq!(split_check(command, 0), None);
        assert_eq!(split_check(command, 9), None);
        assert_eq!(split_check(command, 1000), None);
        assert_eq!(split_check(" -- ", 0), Some(("", "")));
        // Never inside a character.
        assert_eq!(split_check("a -- é", 1), None);
    }

    #[test]
    fn trace_values_parse() {
        assert_eq!(parse_trace_value("0x7c00000,0x400000"), Some((0x7c0_0000, 0x40_0000)));
        assert_eq!(parse_trace_value("0x10"), None);
        assert_eq!(parse_trace_value("16,0x10"), None);
    }
}
