//! User-code debugging through the guest kernel (`viv run --gdb`).
//!
//! Why the kernel takes part: on a host that runs guest user mode natively
//! and only emulates kernel mode (`kvm_pvm`), a `#BP` or `#DB` in user
//! mode goes straight to the guest's IDT and never exits to the VMM, so a
//! breakpoint the VMM patches into user code, or a single step, would
//! reach the kernel as a stray exception (which ends the process). So the
//! kernel asks the VMM first: it keeps one table, [`DEBUGGER_SYMBOL`],
//! which the VMM finds in the kernel ELF's symbol table (the kernel is
//! identity-mapped: the symbol's address is guest-physical), and
//!
//! 1. the VMM sets [`ATTACHED`] while a debugger is attached (the kernel
//!    never writes it);
//! 2. at a `#BP` from user mode that is not the system-call stub's, or a
//!    `#DB` from user mode, with [`ATTACHED`] set, the kernel writes the
//!    process slot, the vector and DR6 into the table, sets [`VERDICT`] to
//!    [`VERDICT_GUEST`] and writes the slot to [`crate::platform::PORT_DEBUG_TRAP`]
//!    (a VM exit: the process's registers are in its trap frame,
//!    `crate::profile::frame`, which the VMM reads and may change);
//! 3. before it resumes the guest the VMM sets [`VERDICT`]: [`VERDICT_RESUME`]
//!    when the trap was the debugger's (its breakpoint or step; the kernel
//!    then resumes the process from its frame, as the VMM left it, and
//!    counts no kernel entry: virtual time and the fault plan's clock do
//!    not move), [`VERDICT_GUEST`] when it was not (the kernel handles the
//!    exception as without a debugger).
//!
//! Offsets are in bytes; every field is a little-endian `u64`.

/// Symbol of the table in the kernel ELF (its size is [`SIZE`]).
pub const DEBUGGER_SYMBOL: &str = "VIV_DEBUGGER";
/// Non-zero while a debugger is attached (written by the VMM only).
pub const ATTACHED: usize = 0;
/// The process slot of the last trap (written by the kernel).
pub const SLOT: usize = 8;
/// Its vector: 1 (`#DB`) or 3 (`#BP`) (written by the kernel).
pub const VECTOR: usize = 16;
/// DR6 at a `#DB` (0 at a `#BP`) (written by the kernel).
pub const DR6: usize = 24;
/// What the kernel does with the trap (written by the kernel before the
/// exit, by the VMM during it).
pub const VERDICT: usize = 32;
/// Size of the table.
pub const SIZE: usize = 40;

/// [`VERDICT`]: not the debugger's; handle the exception as usual.
pub const VERDICT_GUEST: u64 = 0;
/// [`VERDICT`]: the debugger's; resume the process from its frame.
pub const VERDICT_RESUME: u64 = 1;

/// The trap flag in RFLAGS: a single step.
pub const RFLAGS_TF: u64 = 1 << 8;
