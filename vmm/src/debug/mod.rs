//! `viv run|exec --gdb ADDR`: a GDB remote-protocol server for the guest
//! (the `gdbstub` crate, x86-64 target), on KVM's guest-debug interface.
//!
//! Why on the vCPU thread: KVM's vCPU state may only be read and set by
//! the thread that runs it, so the debugger session runs there, in
//! place of the plain run loop ([`Debugger::serve`]); the run loop
//! offers it one thing, [`Guest::run`]: run until a debug exit, an
//! interrupt or the end. Without `--gdb` nothing here exists and the run
//! loop is unchanged.
//!
//! What gdb sees (docs/gdb.md has a session and what this host can do):
//!
//! - **Threads are processes.** Each process of the kernel's process
//!   directory (`abi::profile`) is a thread named after its program
//!   ([`threads`]); the thread whose address space is loaded is the vCPU
//!   itself, the others show the registers the kernel saved for them.
//! - **Memory** is read and written at guest-virtual addresses through the
//!   selected process's page tables (`crate::observe::profile::paging`).
//! - **Breakpoints** ([`breakpoints`]): software ones patch `int3` into
//!   guest memory (through the physical page, so they hit every process
//!   mapping the code); the guest's own `int3`s (on this host the system
//!   call entry stub is one) are told apart by address and given back to
//!   the guest. Hardware breakpoints and watchpoints use the four debug
//!   registers through `KVM_SET_GUEST_DEBUG`. On a host that runs guest
//!   user mode natively (`kvm_pvm`), where KVM reports no user-mode trap,
//!   software breakpoints and single steps in user code go through the
//!   guest kernel's `#BP`/`#DB` handlers and a doorbell ([`user_traps`]).
//!   A breakpoint in user code goes only into a process whose program
//!   has that address as code, and whose symbols gdb uses ([`placement`]).
//! - **^C** interrupts a running guest: a watcher thread polls the
//!   connection while the guest runs and kicks the vCPU out of `KVM_RUN`
//!   with the watchdog's signal ([`conn`]).
//! - **`monitor`** commands ([`monitor`]): the loaded process's saved user
//!   registers, guest-physical memory, the process list, a SWIFI run's
//!   mutations ([`injection`]).
//! - **`--break-at-injection`**: a breakpoint of the debugger's own at
//!   [`INJECTION_FUNCTION`]; in a SWIFI run, a stop at the rule's Stop
//!   exit once the VMM has mutated the code ([`Event::FaultStop`]).
//! - **The end**: when the run ends, gdb is told the process exited with
//!   the status `viv` exits with (the guest's power-off status, or 122
//!   for a triple fault and so on).

pub mod breakpoints;
pub mod conn;
mod injection;
mod monitor;
mod placement;
mod session;
mod target;
pub mod threads;
pub mod user_traps;

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use kvm_bindings::kvm_debug_exit_arch;
use kvm_ioctls::VcpuFd;
use vm_memory::GuestMemoryMmap;

pub use session::Debugger;

/// Where the stub listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GdbAddr {
    /// A TCP address, `HOST:PORT`.
    Tcp(SocketAddr),
    /// A Unix socket path (anything with a `/`).
    Unix(PathBuf),
}

impl GdbAddr {
    /// Parses `127.0.0.1:1234`, `:1234` (localhost) or a socket path.
    pub fn parse(text: &str) -> Result<GdbAddr, String> {
        if text.contains('/') {
            return Ok(GdbAddr::Unix(PathBuf::from(text)));
        }
        let text = if text.starts_with(':') { format!("127.0.0.1{text}") } else { text.to_string() };
        text.parse()
            .map(GdbAddr::Tcp)
            .map_err(|_| format!("{text:?} is neither HOST:PORT nor a Unix socket path (with a '/')"))
    }
}

impl fmt::Display for GdbAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GdbAddr::Tcp(addr) => write!(f, "{addr}"),
            GdbAddr::Unix(path) => write!(f, "{}", path.display()),
        }
    }
}

/// `--gdb ADDR [--gdb-wait]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GdbConfig {
    pub addr: GdbAddr,
    /// Hold the guest before its first instruction until gdb attaches.
    pub wait: bool,
    /// Stop (SIGTRAP) the first time the kernel injects a fault of its
    /// plan ([`INJECTION_FUNCTION`]); in a SWIFI run, once the VMM has
    /// mutated the code at the rule's Stop (`monitor injection` shows
    /// the mutation).
    pub break_at_injection: bool,
}

/// The kernel function every fault-plan injection passes (it carries out
/// the rule and reports it in the trace): `--break-at-injection` stops
/// at its first instruction.
pub const INJECTION_FUNCTION: &str = "kernel_core::fault::<impl kernel_core::Kernel>::fault_common";

/// Why the debugger could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum DebugError {
    /// The kernel has no symbol for `--break-at-injection`.
    #[error("gdb: the kernel has no function {0} to break at")]
    NoSymbol(&'static str),
    /// The listening socket could not be made.
    #[error("gdb: cannot listen on {addr}: {source}")]
    Listen { addr: String, source: std::io::Error },
    /// KVM does not offer guest debugging.
    #[error("gdb: this KVM does not offer guest debugging (KVM_CAP_SET_GUEST_DEBUG)")]
    NoGuestDebug,
    /// The watcher thread could not be started.
    #[error("gdb: cannot start the connection watcher: {0}")]
    Thread(std::io::Error),
}

/// What stopped the guest, as [`Guest::run`] reports it.
#[derive(Debug)]
pub enum Event<E> {
    /// A debug exit (`KVM_EXIT_DEBUG`): breakpoint, single step, watchpoint.
    Debug(kvm_debug_exit_arch),
    /// The vCPU was kicked out for the debugger (^C, or gdb attached).
    Interrupted,
    /// KVM could not emulate the instruction at RIP: on a host that
    /// emulates guest kernel mode, this is how an `int3` in kernel code
    /// ends (docs/gdb.md); [`Guest::failed`] makes it the run's end when
    /// the `int3` is not the debugger's.
    EmulationFailed,
    /// The guest is paused at a fault-plan Stop (rule index), after the
    /// SWIFI hook mutated its target's code.
    FaultStop(u32),
    /// The kernel offers a user-mode `#BP` or `#DB` of this process slot
    /// (`abi::debug`, [`user_traps`]): the guest is in the doorbell exit.
    UserTrap(u32),
    /// The run ended (or paused for a snapshot).
    Ended(E),
}

/// The run loop, as the debugger drives it (implemented by
/// `crate::vstate::vcpu`).
pub trait Guest {
    /// How a run ends.
    type End;
    /// The vCPU (for registers and guest-debug settings).
    fn vcpu(&self) -> &VcpuFd;
    /// Runs the guest until a debug exit, an interrupt or the end.
    fn run(&mut self) -> Event<Self::End>;
    /// The exit status `viv` gives for `end` (the guest's power-off
    /// status, or one of viv's own), which gdb is told; `None` when the
    /// run did not end (paused).
    fn exit_status(end: &Self::End) -> Option<u8>;
    /// The end of a run gdb killed.
    fn killed(&mut self) -> Self::End;
    /// The end of a run whose instruction KVM could not emulate.
    fn failed(&mut self) -> Self::End;
}

/// The flag the run loop checks when `KVM_RUN` is interrupted: set by the
/// watcher thread when the debugger wants the vCPU back.
#[derive(Debug, Clone, Default)]
pub struct InterruptFlag(Arc<AtomicBool>);

impl InterruptFlag {
    /// Asks for the vCPU.
    pub fn raise(&self) {
        self.0.store(true, Ordering::Release);
    }

    /// True (once) when the debugger asked for the vCPU.
    pub fn take(&self) -> bool {
        self.0.swap(false, Ordering::AcqRel)
    }

    /// Whether a request is pending.
    pub fn pending(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

/// Everything the debugger needs from the VM besides the vCPU.
pub struct DebugSetup<'a> {
    pub config: &'a GdbConfig,
    pub mem: &'a GuestMemoryMmap,
    /// The kernel ELF (for the process directory's symbols).
    pub kernel_elf: &'a [u8],
    /// The signal that kicks the vCPU thread out of `KVM_RUN`.
    pub kick_signal: libc::c_int,
    /// `KVM_CAP_SET_GUEST_DEBUG`.
    pub has_guest_debug: bool,
    /// `KVM_CAP_SET_GUEST_DEBUG2`: the `KVM_GUESTDBG_*` flags KVM supports.
    pub guest_debug_flags: u32,
    /// The run's SWIFI mutations (`--break-at-injection` stops after the
    /// first and shows it); `None` when the run mutates nothing.
    pub swifi: Option<crate::inject::swifi::StopHook>,
    /// The host runs guest user mode natively and only emulates kernel
    /// mode (`kvm_pvm`): KVM's guest debugging then sees kernel code only.
    pub kernel_only: bool,
}

/// What `viv` says when gdb asks for a breakpoint or watchpoint that this
/// host cannot give (measured: docs/gdb.md, "What works on this host").
pub const KERNEL_ONLY: &str = "this host (kvm_pvm) runs guest user mode natively: breakpoints in user code \
     are never reported to the VMM (an int3 there would kill the process), and watchpoints do not fire \
     (the kernel's emulated writes skip the debug registers); refused";

/// What `viv` says when gdb asks this host for a hardware breakpoint in
/// user code or a watchpoint, while software breakpoints and steps in
/// user code work through the kernel ([`user_traps`]).
pub const NO_DEBUG_REGISTERS: &str = "this host (kvm_pvm) does not report the debug registers' hits: \
     use a software breakpoint (break) in user code; refused";
