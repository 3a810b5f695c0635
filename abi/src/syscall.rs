//! Trap numbers, kernel calls and the register convention of the user/kernel
//! boundary.
//!
//! User code enters the kernel only by calling the entry stub in the kernel
//! info page (see [`crate::layout`]); the stub is `syscall` or `int3`
//! depending on the host, so user code is the same on every platform.
//!
//! Register convention (both entry kinds): `rax` = trap number, arguments in
//! `rdi`, `rsi`, `rdx`, `r10`, `r8`; result in `rax` (negative = `-Error`).
//! `rcx` and `r11` are clobbered; every other register is preserved.
//!
//! Kernel calls are not traps of their own: as in MINIX 3, a process makes a
//! kernel call by SENDREC to [`crate::Endpoint::SYSTEM`] with the call number
//! as the message type, so kernel calls are messages like any other and can
//! be counted and filtered the same way.

/// IPC primitives (the value in `rax`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u64)]
pub enum Trap {
    /// `SEND(dst, &msg)`: block until `dst` receives the message.
    Send = 1,
    /// `RECEIVE(src | ANY, &mut msg)`: block until a message arrives.
    Receive = 2,
    /// `SENDREC(dst, &mut msg)`: send, then receive the reply from `dst` into
    /// the same buffer, atomically.
    SendRec = 3,
    /// `NOTIFY(dst)`: non-blocking, coalescing notification.
    Notify = 4,
    /// `SENDNB(dst, &msg)`: send only if `dst` is waiting, else `NotReady`.
    SendNb = 5,
    /// `SENDA(&table, count)`: asynchronous sends from a table in the
    /// sender's memory.
    SendA = 6,
}

impl Trap {
    /// Decodes a trap number from `rax`.
    pub const fn from_number(n: u64) -> Option<Trap> {
        Some(match n {
            1 => Trap::Send,
            2 => Trap::Receive,
            3 => Trap::SendRec,
            4 => Trap::Notify,
            5 => Trap::SendNb,
            6 => Trap::SendA,
            _ => return None,
        })
    }

    /// The MINIX name of the primitive.
    pub const fn name(self) -> &'static str {
        match self {
            Trap::Send => "SEND",
            Trap::Receive => "RECEIVE",
            Trap::SendRec => "SENDREC",
            Trap::Notify => "NOTIFY",
            Trap::SendNb => "SENDNB",
            Trap::SendA => "SENDA",
        }
    }
}

/// Kernel calls: the message type of a SENDREC to `Endpoint::SYSTEM`.
///
/// Payload words are listed per call. The kernel answers in the trap's
/// return value and leaves the message buffer as it was.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u32)]
pub enum KernelCall {
    /// End the calling process. `payload[0]` = exit status.
    Exit = 1,
    /// Write bytes to the kernel console. `payload[0]` = address,
    /// `payload[1]` = length (at most [`DIAG_WRITE_MAX`]).
    DiagWrite = 2,
    /// Power the machine off. `payload[0]` = status (clamped to
    /// [`crate::platform::GUEST_STATUS_MAX`]).
    PowerOff = 3,
    /// Tell the host a benchmark mark was reached. `payload[0]` = mark id.
    /// The host samples its counters there; other hosts ignore it.
    BenchMark = 4,
    /// Returns the number of timer ticks since boot.
    Uptime = 5,
}

impl KernelCall {
    /// Every kernel call.
    pub const ALL: [KernelCall; 5] =
        [KernelCall::Exit, KernelCall::DiagWrite, KernelCall::PowerOff, KernelCall::BenchMark, KernelCall::Uptime];

    /// The name used in image definitions (`kernel_calls = [...]`).
    pub const fn name(self) -> &'static str {
        match self {
            KernelCall::Exit => "exit",
            KernelCall::DiagWrite => "diag_write",
            KernelCall::PowerOff => "poweroff",
            KernelCall::BenchMark => "bench_mark",
            KernelCall::Uptime => "uptime",
        }
    }

    /// The call named `name`.
    pub fn from_name(name: &str) -> Option<KernelCall> {
        Self::ALL.iter().copied().find(|c| c.name() == name)
    }

    /// Decodes a kernel call number.
    pub const fn from_number(n: u32) -> Option<KernelCall> {
        Some(match n {
            1 => KernelCall::Exit,
            2 => KernelCall::DiagWrite,
            3 => KernelCall::PowerOff,
            4 => KernelCall::BenchMark,
            5 => KernelCall::Uptime,
            _ => return None,
        })
    }
}

/// Largest single `DiagWrite`.
pub const DIAG_WRITE_MAX: u64 = 4096;

/// Exit status of a process the kernel killed because of a CPU exception.
pub const EXIT_STATUS_FAULT: u32 = 111;
/// Exit status of a program that panicked (the runtime's panic handler).
pub const EXIT_STATUS_PANIC: u32 = 101;
