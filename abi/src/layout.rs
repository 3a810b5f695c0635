//! The user address space and the kernel info page (KIP).
//!
//! Every process sees the same layout: its program between [`USER_BASE`] and
//! [`USER_STACK_BOTTOM`], its stack below [`USER_STACK_TOP`], and two pages
//! shared read-only by all processes: the entry stubs ([`KIP_CODE`]) and the
//! info data ([`KIP_DATA`]). The kernel keeps all guest physical memory
//! mapped supervisor-only below 1 GiB, which is why user space starts there.

/// Size of a page.
pub const PAGE_SIZE: u64 = 4096;
/// Lowest user address; user programs are linked here.
pub const USER_BASE: u64 = 0x4000_0000;
/// One past the highest user address.
pub const USER_END: u64 = 0x8000_0000;
/// Initial stack pointer of a process.
pub const USER_STACK_TOP: u64 = 0x7FFF_0000;
/// Size of the stack the kernel maps for every process.
pub const USER_STACK_SIZE: u64 = 64 * 1024;
/// Lowest stack address.
pub const USER_STACK_BOTTOM: u64 = USER_STACK_TOP - USER_STACK_SIZE;
/// The read-only, executable page of entry stubs.
pub const KIP_CODE: u64 = 0x7FFF_F000;
/// The read-only page of boot information.
pub const KIP_DATA: u64 = 0x7FFF_E000;

/// The system-call entry stub: user code calls `KIP_CODE + ENTRY_STUB_OFFSET`.
pub const ENTRY_STUB_OFFSET: u64 = 0;
/// Stub bytes for the trap entry: `int3; ret`.
pub const STUB_TRAP: [u8; 2] = [0xCC, 0xC3];
/// Stub bytes for the syscall entry: `syscall; ret`.
pub const STUB_SYSCALL: [u8; 3] = [0x0F, 0x05, 0xC3];
/// Return address the CPU reports for a `#BP` raised by the trap stub: a
/// `#BP` with any other address is a breakpoint, not a system call.
pub const TRAP_STUB_RETURN: u64 = KIP_CODE + ENTRY_STUB_OFFSET + 1;

/// How the entry stub enters the kernel.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u32)]
pub enum EntryKind {
    /// `syscall` / `sysret`: hardware KVM, QEMU.
    Syscall = 0,
    /// `int3` / `iretq`: software KVM hosts where `syscall` is broken.
    Trap = 1,
}

/// Layout of the KIP data page (little-endian fields at fixed offsets).
pub mod kip {
    /// `u32` magic, [`MAGIC`].
    pub const MAGIC_OFFSET: usize = 0;
    /// The magic value "KIP1".
    pub const MAGIC: u32 = u32::from_le_bytes(*b"KIP1");
    /// `u32` [`super::EntryKind`] the kernel chose.
    pub const ENTRY_KIND_OFFSET: usize = 4;
    /// `u32` number of boot processes in the table.
    pub const BOOT_PROCS_OFFSET: usize = 8;
    /// `u32` length of the command line in bytes.
    pub const CMDLINE_LEN_OFFSET: usize = 12;
    /// `u64` timer ticks per second.
    pub const TICK_HZ_OFFSET: usize = 16;
    /// `u64` timer ticks since boot, kept current by the kernel (the one
    /// field that changes after boot): what the `uptime` kernel call
    /// returns, read without a kernel entry.
    pub const TICKS_OFFSET: usize = 24;
    /// Start of the boot process table.
    pub const PROC_TABLE_OFFSET: usize = 64;
    /// Size of a boot process table entry: 16-byte name, `u32` endpoint
    /// (`Endpoint::NONE` for a program not started at boot), `u8`
    /// boot-image flags (`boot_image::FLAG_*`), 3 bytes padding, `u32`
    /// heartbeat period in ms, 4 bytes reserved. Entry `i` is program `i`
    /// of the boot image.
    pub const PROC_ENTRY_SIZE: usize = 32;
    /// Offset of the endpoint in a boot process table entry.
    pub const PROC_ENDPOINT_OFFSET: usize = 16;
    /// Offset of the flags byte in a boot process table entry.
    pub const PROC_FLAGS_OFFSET: usize = 20;
    /// Offset of the `u32` heartbeat period in a boot process table entry.
    pub const PROC_HEARTBEAT_OFFSET: usize = 24;
    /// Most boot processes the table holds.
    pub const MAX_BOOT_PROCS: usize = 40;
    /// Start of the command line (not NUL-terminated; see the length).
    pub const CMDLINE_OFFSET: usize = 2048;
    /// Most command-line bytes the page holds.
    pub const CMDLINE_MAX: usize = 2048;

    const _: () = assert!(PROC_TABLE_OFFSET + MAX_BOOT_PROCS * PROC_ENTRY_SIZE <= CMDLINE_OFFSET);
    const _: () = assert!(CMDLINE_OFFSET + CMDLINE_MAX <= 4096);
}
