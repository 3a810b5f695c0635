//! Per-process privileges: which primitives, destinations and kernel calls
//! a process may use.
//!
//! MINIX 3 counters unauthorized access with three masks per process,
//! loaded from the boot image's configuration: a *trap mask* (ordinary user
//! processes may only SENDREC, so they can never leave a server blocked on
//! a reply they do not take), a *send mask* over destinations, and a
//! *kernel-call mask*. Masks are bitmaps so that every check on the IPC
//! path is one AND.
//!
//! The send mask is indexed by privilege id (as MINIX's is), not by
//! endpoint: each process has one (`Proc::privilege_id`), which is its slot
//! by default and its program's boot-image index for programs started from
//! the image, so a restarted or second copy of a program is reachable
//! under the grants others already hold. Granting A→B should normally also let B
//! reply to A; [`crate::Kernel::allow_send`] sets both directions, and the
//! image loader uses it for every `ipc` grant of the configuration.

use abi::syscall::{KernelCall, Trap};

/// The privileges of one process.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Privileges {
    /// Bit `n` set: trap number `n` (an [`abi::syscall::Trap`]) is allowed.
    pub traps: u8,
    /// Bit `s` set: the process may send to (SEND, SENDNB, SENDREC,
    /// NOTIFY, SENDA) the process in slot `s`.
    pub send_to: u64,
    /// Bit `n` set: kernel call number `n` (an
    /// [`abi::syscall::KernelCall`]) is allowed.
    pub kernel_calls: u64,
}

// Trap numbers must fit the 8-bit trap mask.
const _: () = assert!((Trap::SendA as u64) < 8 && (Trap::Send as u64) < 8);
// Kernel-call numbers must fit the 64-bit kernel-call mask.
const _: () = assert!((KernelCall::Uptime as u32) < 64);

impl Privileges {
    /// Nothing allowed (a free slot).
    pub const NONE: Privileges = Privileges { traps: 0, send_to: 0, kernel_calls: 0 };

    /// Every IPC primitive.
    pub const ALL_TRAPS: u8 = Self::trap_bit(Trap::Send)
        | Self::trap_bit(Trap::Receive)
        | Self::trap_bit(Trap::SendRec)
        | Self::trap_bit(Trap::Notify)
        | Self::trap_bit(Trap::SendNb)
        | Self::trap_bit(Trap::SendA);

    /// The mask bit of `trap`.
    pub const fn trap_bit(trap: Trap) -> u8 {
        1 << (trap as u64)
    }

    /// The mask bit of `call`.
    pub const fn kernel_call_bit(call: KernelCall) -> u64 {
        1 << (call as u32)
    }

    /// The mask bit of slot `slot`.
    pub const fn slot_bit(slot: usize) -> u64 {
        1 << slot
    }

    /// An ordinary user process: SENDREC only (MINIX's rule), to the
    /// destinations in `send_to`, and no kernel calls (add some with
    /// [`Self::with_kernel_calls`]).
    pub const fn user(send_to: u64) -> Privileges {
        Privileges { traps: Self::trap_bit(Trap::SendRec), send_to, kernel_calls: 0 }
    }

    /// A system process (server or driver): every primitive, the given
    /// destinations and kernel calls.
    pub const fn system(send_to: u64, kernel_calls: u64) -> Privileges {
        Privileges { traps: Self::ALL_TRAPS, send_to, kernel_calls }
    }

    /// Everything allowed (tests, and the first process of a boot image
    /// that has no configuration).
    pub const fn all() -> Privileges {
        Privileges { traps: Self::ALL_TRAPS, send_to: u64::MAX, kernel_calls: u64::MAX }
    }

    /// The same privileges with `kernel_calls` as the kernel-call mask.
    pub const fn with_kernel_calls(self, kernel_calls: u64) -> Privileges {
        Privileges { kernel_calls, ..self }
    }

    /// Whether `trap` is allowed.
    pub const fn allows_trap(&self, trap: Trap) -> bool {
        self.traps & Self::trap_bit(trap) != 0
    }

    /// Whether sending to slot `slot` is allowed.
    pub const fn allows_send_to(&self, slot: usize) -> bool {
        slot < 64 && self.send_to & Self::slot_bit(slot) != 0
    }

    /// Whether kernel call `call` is allowed.
    pub const fn allows_kernel_call(&self, call: KernelCall) -> bool {
        self.kernel_calls & Self::kernel_call_bit(call) != 0
    }
}
