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
    /// `REPLYRECV(dst | NONE, &mut msg, src | ANY)`: a SENDNB of `msg` to
    /// `dst` (skipped for `NONE`), then a RECEIVE from `src` into the same
    /// buffer, in one kernel entry. The reply never blocks: when `dst` is
    /// not waiting it fails as SENDNB would and the receive still happens.
    /// The receive's result is in `rax`, the reply's in `rdx`. Allowed to
    /// whoever may SENDNB and RECEIVE; traced and matched by fault plans as
    /// the SENDNB and the RECEIVE it is made of. `r10` holds flags
    /// ([`REPLYRECV_IF_SENT`]; other bits reserved, pass 0).
    ReplyRecv = 7,
}

/// REPLYRECV flag (in `r10`): the receive happens only if the send part
/// delivered. A send that fails (`NotReady`: the destination is busy;
/// or gone, refused) ends the call at once, its error in both `rax` and
/// `rdx`, nothing received: the caller can still post the message by
/// SENDA before it waits. For messages that must arrive (a request to a
/// trusted server, an answer to one) without the sender ever blocking,
/// in one kernel entry with the next receive when the other side waits.
/// The send part is SENDNB as without the flag: it never blocks.
pub const REPLYRECV_IF_SENT: u64 = 1;

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
            7 => Trap::ReplyRecv,
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
            Trap::ReplyRecv => "REPLYRECV",
        }
    }
}

/// Kernel calls: the message type of a SENDREC to `Endpoint::SYSTEM`.
///
/// Payload words are listed per call. The kernel answers in the trap's
/// return value and leaves the message buffer as it was. Each call is
/// checked against the caller's kernel-call mask (`CallDenied`).
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
    /// Start a new process from boot-image program `payload[0]` (its index)
    /// with that program's privileges and priority. Returns the new
    /// endpoint.
    Spawn = 6,
    /// End process `payload[0]` (an endpoint) with status
    /// [`EXIT_STATUS_KILLED`].
    Kill = 7,
    /// Register the caller's grant table: `payload[0]` = address,
    /// `payload[1]` = number of entries (at most
    /// [`crate::grant::MAX_GRANTS`]); 0 entries revokes every grant.
    SetGrantTable = 8,
    /// Copy from a grant into the caller's memory: `payload[0]` = granter
    /// endpoint, `[1]` = grant id, `[2]` = offset in the grant, `[3]` =
    /// local address, `[4]` = length. Wrong grantee, range, rights or a
    /// revoked grant → `Perm`.
    SafeCopyFrom = 9,
    /// Copy from the caller's memory into a grant; payload as
    /// [`KernelCall::SafeCopyFrom`].
    SafeCopyTo = 10,
    /// Port I/O for drivers: `payload[0]` = port, `[1]` = value (for
    /// output), `[2]` = [`DEVIO_IN`] or [`DEVIO_OUT`] | width in bytes (1, 2
    /// or 4). Returns the value read. A port outside the caller's ranges →
    /// `Perm`.
    DevIo = 11,
    /// IRQ control: `payload[0]` = IRQ line, `[1]` = [`IRQ_ENABLE`],
    /// [`IRQ_DISABLE`] or [`IRQ_ACK`]. An enabled IRQ arrives as a
    /// notification from SYSTEM with bit `irq` set in payload word
    /// [`NOTIFY_IRQ_WORD`]; the line stays masked until the driver
    /// acknowledges it.
    IrqCtl = 12,
    /// Arm the caller's alarm `payload[0]` ticks from now (0 cancels). It
    /// arrives as a notification from SYSTEM with [`NOTIFY_ALARM`] set in
    /// payload word [`NOTIFY_ALARM_WORD`].
    SetAlarm = 13,
    /// Copy the process table into the caller's buffer: `payload[0]` =
    /// address, `payload[1]` = capacity in entries of
    /// [`PROC_INFO_SIZE`] bytes. Returns the number of live processes
    /// written.
    ProcInfo = 14,
    /// Fork (for the process manager): `payload[0]` = parent endpoint. The
    /// parent must be blocked in the reply wait of a SENDREC to the caller
    /// (else `Invalid`). Creates a child in a new slot running the same
    /// program (privileges, privilege id, priority, name; the power-off
    /// flag cleared) with a copy of the parent's registers and the same IPC
    /// state: it too waits for the caller's reply to a SENDREC, with the
    /// same message buffer, so the caller replies to both. The address
    /// space is copied copy-on-write. The child's reaper is the caller.
    /// Returns the child's endpoint.
    Fork = 15,
    /// Exec (for the process manager): `payload[0]` = target endpoint,
    /// `[1]` = boot-image program index, `[2]` = address of an argument
    /// block ([`crate::args`]) in the target's memory, `[3]` = its length
    /// (at most [`EXEC_ARGS_MAX`], else `Domain`). The target must be
    /// blocked in the reply wait of a SENDREC to the caller (else
    /// `Invalid`). Its address space is replaced by a fresh one for the
    /// program, the block is copied to the top of the new stack (16-byte
    /// aligned below `USER_STACK_TOP`), and the program starts at its entry
    /// with `rsp` = `rdi` = the block's address, `rsi` = its length. Its
    /// IPC wait ends (it becomes ready); its endpoint, slot, reaper,
    /// priority and power-off flag are kept; privileges, privilege id and
    /// name become the new program's; its grant table and SENDA table are
    /// dropped. Returns 0.
    Exec = 16,
    /// Reap one zombie child of the caller (a process it spawned or forked
    /// that has ended): returns `endpoint | status << 32` and frees the
    /// child's slot; `NotReady` when no child has ended. An ending child
    /// notifies its reaper: a notification from SYSTEM with
    /// [`NOTIFY_CHILD_EXITED`] in payload word [`NOTIFY_CHILD_WORD`]; so
    /// does a reap that leaves another zombie child, so one reap per
    /// notification reaps them all.
    Reap = 17,
    /// Write bytes to an output port: `payload[0]` = port, `[1]` = address,
    /// `[2]` = length (at most [`DEV_OUT_STRING_MAX`], else `Domain`). One
    /// `rep outsb` per page. The port must be in the caller's I/O ranges
    /// (`Perm`). Returns the length.
    DevOutString = 18,
    /// Memory and copy counters, chosen by `payload[0]`:
    /// [`MEM_INFO_FRAMES`] (0, the default) the physical frames in use
    /// (allocated and not freed), for leak checks; [`MEM_INFO_SAFECOPY_BYTES`]
    /// the bytes moved by `SafeCopyFrom`/`SafeCopyTo` since boot;
    /// [`MEM_INFO_SAFECOPIES`] the number of those copies;
    /// [`MEM_INFO_FRESH_FRAMES`] the never-used frames left (after those,
    /// every allocation reuses freed frames). Other selectors: `Invalid`.
    MemInfo = 19,
    /// Map a device's MMIO window into the caller (for drivers):
    /// `payload[0]` = physical base, `[1]` = length, `[2]` = user address;
    /// all three page-aligned, the length non-zero (else `Invalid`). The
    /// user range must lie inside [`DEVICE_MAP_BASE`]..[`DEVICE_MAP_END`]
    /// and be unmapped (else `Invalid`); the physical range must lie wholly
    /// inside one of the caller's MMIO windows (`mmio` in the image
    /// definition, else `Perm`). The pages are mapped writable, not
    /// executable and uncached (PCD | PWT). They are not RAM: the kernel
    /// refuses them as buffers of other calls (`Fault`) and never frees
    /// them. Returns 0.
    MapDevice = 20,
    /// Allocate DMA memory (for drivers): `payload[0]` = pages (1 to
    /// [`ALLOC_DMA_MAX_PAGES`], else `Domain`), `[1]` = user address
    /// (page-aligned, the whole range unmapped and inside
    /// [`DEVICE_MAP_BASE`]..[`DEVICE_MAP_END`], else `Invalid`). The
    /// frames are physically contiguous and zeroed, mapped writable and not
    /// executable, and freed with the process. Returns the physical address
    /// of the first page (what a device is given); `NoMemory` when no run
    /// of free frames (never-used ones first, then freed ones) is long
    /// enough.
    AllocDma = 21,
    /// Exec from memory (for the process manager, which read the program
    /// from the disk): `payload[0]` = target endpoint (blocked as for
    /// [`KernelCall::Exec`]), `[1]` = template boot-image program index
    /// (its privileges and privilege id, its name by default), `[2]` =
    /// address of the ELF file in the caller, `[3]` = its length (≤
    /// [`EXEC_ELF_MAX`], else `Domain`), `[4]` = argument-block address (in
    /// the target), `[5]` = its length, `[6]` = name (≤ 8 bytes,
    /// NUL-padded little-endian; 0 = the template's). Every PT_LOAD page
    /// gets a fresh frame with the file bytes copied from the caller; a
    /// malformed ELF (segments outside the file or the program area,
    /// overlapping pages) is `Invalid`. Returns 0.
    ExecElf = 22,
    /// Charge a process's memory to a user (for the process manager, when
    /// a uid changes): `payload[0]` = endpoint, `[1]` = uid (0: the
    /// system, outside the quota). What it holds moves to that user's
    /// account; its forks inherit it. Returns 0 (docs/security.md,
    /// "Memory").
    SetUid = 23,
    /// The physical memory behind a grant, for a device to DMA into or
    /// out of it (for drivers; MINIX 3's `sys_vumap`): `payload[0]` =
    /// granter endpoint, `[1]` = grant id, `[2]` = offset in the grant,
    /// `[3]` = length, `[4]` = the access the device needs
    /// ([`crate::grant::GRANT_WRITE`] when it writes the memory, a disk
    /// read; [`crate::grant::GRANT_READ`] when it reads it, a disk write;
    /// else `Invalid`), `[5]` = address of the caller's [`DmaRange`]
    /// array, `[6]` = its capacity in entries (at most
    /// [`GRANT_PHYS_MAX_RANGES`], else `Domain`). The grant is checked as
    /// `SafeCopyTo` (write) or `SafeCopyFrom` (read) checks it, with the
    /// same errors (`Perm`, a dead granter's error, `Fault` for memory
    /// that is not there); for write access every page of the range is
    /// first made present, writable and the granter's alone (copy-on-write
    /// and zero-fill pages broken; a page the range covers whole is not
    /// copied or zeroed first: the device overwrites it). Physically
    /// contiguous pages merge into one range. `Domain` when the range
    /// spans more pages than the capacity, before anything changes. The
    /// caller must also hold `AllocDma` (a driver that can DMA at all),
    /// else `CallDenied`. Returns the number of ranges written.
    GrantPhys = 24,
}

impl KernelCall {
    /// Every kernel call.
    pub const ALL: [KernelCall; 24] = [
        KernelCall::Exit,
        KernelCall::DiagWrite,
        KernelCall::PowerOff,
        KernelCall::BenchMark,
        KernelCall::Uptime,
        KernelCall::Spawn,
        KernelCall::Kill,
        KernelCall::SetGrantTable,
        KernelCall::SafeCopyFrom,
        KernelCall::SafeCopyTo,
        KernelCall::DevIo,
        KernelCall::IrqCtl,
        KernelCall::SetAlarm,
        KernelCall::ProcInfo,
        KernelCall::Fork,
        KernelCall::Exec,
        KernelCall::Reap,
        KernelCall::DevOutString,
        KernelCall::MemInfo,
        KernelCall::MapDevice,
        KernelCall::AllocDma,
        KernelCall::ExecElf,
        KernelCall::SetUid,
        KernelCall::GrantPhys,
    ];

    /// The name used in image definitions (`kernel_calls = [...]`).
    pub const fn name(self) -> &'static str {
        match self {
            KernelCall::Exit => "exit",
            KernelCall::DiagWrite => "diag_write",
            KernelCall::PowerOff => "poweroff",
            KernelCall::BenchMark => "bench_mark",
            KernelCall::Uptime => "uptime",
            KernelCall::Spawn => "spawn",
            KernelCall::Kill => "kill",
            KernelCall::SetGrantTable => "set_grant_table",
            KernelCall::SafeCopyFrom => "safecopy_from",
            KernelCall::SafeCopyTo => "safecopy_to",
            KernelCall::DevIo => "devio",
            KernelCall::IrqCtl => "irqctl",
            KernelCall::SetAlarm => "set_alarm",
            KernelCall::ProcInfo => "proc_info",
            KernelCall::Fork => "fork",
            KernelCall::Exec => "exec",
            KernelCall::Reap => "reap",
            KernelCall::DevOutString => "dev_out_string",
            KernelCall::MemInfo => "mem_info",
            KernelCall::MapDevice => "map_device",
            KernelCall::AllocDma => "alloc_dma",
            KernelCall::ExecElf => "exec_elf",
            KernelCall::SetUid => "set_uid",
            KernelCall::GrantPhys => "grant_phys",
        }
    }

    /// The call named `name`.
    pub fn from_name(name: &str) -> Option<KernelCall> {
        Self::ALL.iter().copied().find(|c| c.name() == name)
    }

    /// Decodes a kernel call number.
    pub fn from_number(n: u32) -> Option<KernelCall> {
        Self::ALL.iter().copied().find(|c| *c as u32 == n)
    }
}

/// `DevIo` direction: read the port.
pub const DEVIO_IN: u64 = 0x100;
/// `DevIo` direction: write the port.
pub const DEVIO_OUT: u64 = 0x200;

/// `IrqCtl`: route the IRQ to the caller and unmask it.
pub const IRQ_ENABLE: u64 = 1;
/// `IrqCtl`: mask the IRQ and forget its owner.
pub const IRQ_DISABLE: u64 = 2;
/// `IrqCtl`: unmask the IRQ again after handling it.
pub const IRQ_ACK: u64 = 3;

/// Payload word of a SYSTEM notification holding pending IRQ lines (word 0
/// is kernel-core's, see [`crate::notify`]).
pub const NOTIFY_IRQ_WORD: usize = 1;
/// Payload word of a SYSTEM notification holding alarm bits.
pub const NOTIFY_ALARM_WORD: usize = 2;
/// Bit in word [`NOTIFY_ALARM_WORD`]: the receiver's alarm fired.
pub const NOTIFY_ALARM: u64 = 1;
/// Payload word of a SYSTEM notification holding child events.
pub const NOTIFY_CHILD_WORD: usize = 3;
/// Bit in word [`NOTIFY_CHILD_WORD`]: a child of the receiver ended and
/// waits to be reaped (`KernelCall::Reap`).
pub const NOTIFY_CHILD_EXITED: u64 = 1;

/// `MemInfo` selector: physical frames in use.
pub const MEM_INFO_FRAMES: u64 = 0;
/// `MemInfo` selector: bytes copied by safe copies since boot.
pub const MEM_INFO_SAFECOPY_BYTES: u64 = 1;
/// `MemInfo` selector: successful safe copies since boot.
pub const MEM_INFO_SAFECOPIES: u64 = 2;
/// `MemInfo` selector: never-used physical frames left.
pub const MEM_INFO_FRESH_FRAMES: u64 = 3;

/// Largest ELF file of `KernelCall::ExecElf`.
pub const EXEC_ELF_MAX: u64 = 1 << 20;

/// Largest argument block of `KernelCall::Exec`.
pub const EXEC_ARGS_MAX: u64 = crate::args::MAX_ARGS_LEN as u64;
/// Largest single `KernelCall::DevOutString`.
pub const DEV_OUT_STRING_MAX: u64 = 4096;

/// Size of one `ProcInfo` record: endpoint `u32`, priority `u8`, blocked
/// state `u8` ([`PROC_READY`], [`PROC_SENDING`], [`PROC_RECEIVING`] bits),
/// 2 bytes padding, the endpoint it is blocked on `u32`, 4 bytes padding,
/// name `[u8; 16]`.
pub const PROC_INFO_SIZE: usize = 32;
/// `ProcInfo` state bit: runnable.
pub const PROC_READY: u8 = 1;
/// `ProcInfo` state bit: blocked sending.
pub const PROC_SENDING: u8 = 2;
/// `ProcInfo` state bit: blocked receiving.
pub const PROC_RECEIVING: u8 = 4;

/// Exit status of a process ended by `Kill`.
pub const EXIT_STATUS_KILLED: u32 = 109;

/// Lowest user address of `MapDevice` and `AllocDma` mappings: a window
/// of the program area far above any program image and below the stack.
pub const DEVICE_MAP_BASE: u64 = 0x7000_0000;
/// One past the highest user address of `MapDevice` and `AllocDma`
/// mappings.
pub const DEVICE_MAP_END: u64 = 0x7800_0000;
/// Most pages one `AllocDma` allocates (256 KiB).
pub const ALLOC_DMA_MAX_PAGES: u64 = 64;

/// Most ranges one `GrantPhys` writes: a [`crate::proto::blockdev::
/// MAX_TRANSFER`] request at any page offset spans 17 pages, and a
/// driver's descriptor chain holds this many data descriptors.
pub const GRANT_PHYS_MAX_RANGES: u64 = 30;

/// One physically contiguous run of a `GrantPhys` answer (16 bytes:
/// physical address, then length, little-endian).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DmaRange {
    /// Physical address of the run's first byte.
    pub phys: u64,
    /// Bytes in the run.
    pub len: u64,
}

/// Largest single `DiagWrite`.
pub const DIAG_WRITE_MAX: u64 = 4096;

/// Exit status of a process the kernel killed because of a CPU exception.
pub const EXIT_STATUS_FAULT: u32 = 111;
/// Exit status of a process the kernel killed because a page it wrote
/// could get no frame: its user holds its memory quota, or memory is
/// exhausted (`docs/security.md`, "Memory").
pub const EXIT_STATUS_OUT_OF_MEMORY: u32 = 112;
/// Exit status of a program that panicked (the runtime's panic handler).
pub const EXIT_STATUS_PANIC: u32 = 101;
