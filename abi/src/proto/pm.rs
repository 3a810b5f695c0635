//! PM, the process manager: process ids, fork, exec, exit, wait, signals.
//!
//! PM is a service started by RS; it starts `init` (pid 1). Every process
//! PM creates is reaped by PM (kernel zombies), so PM learns of every exit,
//! including deaths by fault or kill.
//!
//! Identity: PM gives every process a uid (user id). init runs as uid 0,
//! the administrator; a fork inherits its parent's uid; exec keeps it;
//! only uid 0 may change it ([`SETUID`]). Servers that must know who asks
//! (RS, for its service control) ask PM with [`UID_OF`] about the endpoint
//! the kernel stamped on the request, which nobody can forge. Processes PM
//! did not create (the kernel's boot processes, RS's services: servers and
//! drivers) have no uid: `UID_OF` answers `NoEntry` for them.

super::message_types! {
    /// Fork. Reply to the parent: the child's pid; to the child: 0. The child
    /// has the parent's uid. `TooMany` when the caller's uid already has
    /// [`MAX_PROCS_PER_USER`] processes (uid 0 excepted) or PM has
    /// [`MAX_PROCS`] (`abi::weaken::PM_PROC_QUOTA`). `payload[0]` = flags
    /// ([`FORK_TAKES_INTERRUPT`]); 0 for a plain fork.
    FORK = 0x300 => "fork";
    /// Exec: `payload[0]` = address of an argument block (`abi::args`) in the
    /// caller's memory, `[1]` = its length. `argv[0]`'s last path component
    /// names the program. No reply on success: the new program starts.
    ///
    /// Addition: words 2-3 carry that program name (`proto::put_name`), since
    /// PM cannot read the caller's memory (the kernel's `Exec` copies the block
    /// from the target itself). PM reads `/bin/NAME` through VFS (the disk)
    /// and execs it from memory (`KernelCall::ExecElf`); without such a file
    /// (no disk) the boot image's program of that name is used. The program
    /// gets the privileges of the boot-image program of that name, or, for a
    /// program only on the disk, those of `sh` (an ordinary user program).
    /// Names of boot programs that are not user programs (started at boot,
    /// services, init) are refused with `Perm`; `NoEntry` when neither the
    /// disk nor the image has the program; `Invalid` for a malformed ELF.
    EXEC = 0x301 => "exec";
    /// Exit: `payload[0]` = status. No reply.
    EXIT = 0x302 => "exit";
    /// Wait: `payload[0]` = pid as i64 (-1 = any child). Reply when a child
    /// has exited: `[pid, status]`; `NoChild` when there is none.
    WAIT = 0x303 => "wait";
    /// Kill: `payload[0]` = pid, `[1]` = signal. Reply: 0 or `NoEntry`.
    /// Addition: `Perm` for init (pid 1), `Invalid` for a signal other than
    /// [`SIGINT`], [`SIGKILL`], [`SIGTERM`]. `Perm` also when the caller is
    /// not a process of PM (a server or driver) or, unless its uid is 0, when
    /// the target has another uid (`abi::weaken::PM_KILL_OWNER`).
    KILL = 0x304 => "kill";
    /// Getpid. Reply: `[pid, parent pid, uid]`.
    GETPID = 0x305 => "getpid";
    /// Sleep: `payload[0]` = milliseconds. Reply when the time has passed.
    SLEEP = 0x306 => "sleep";
    /// Process list: `payload[0]` = index. Reply: `[0, pid, parent pid,
    /// endpoint, state, name (words 5-6)]`, or `NoEntry` past the end.
    PS = 0x307 => "ps";
    /// From TTY: deliver `payload[0]` (a signal) to every process that does
    /// not ignore it (^C). Reply: number of processes signalled.
    SIGNAL_FOREGROUND = 0x308 => "signal_foreground";
    /// Ignore SIGINT (`payload[0]` = 1) or not (0); cleared by exec. Shells and
    /// init ignore it so that ^C reaches only the programs they run. Reply: 0.
    IGNORE_INTERRUPT = 0x309 => "ignore_interrupt";

    /// Setuid: `payload[0]` = the new uid of the caller. Only a caller with
    /// uid 0 may change its uid (setting its own uid again is allowed to
    /// anyone). Reply: 0, `Perm`, or `NoEntry` (not a process of PM).
    SETUID = 0x30A => "setuid";
    /// Uid of: `payload[0]` = an endpoint. Reply: its uid, or `NoEntry` when
    /// it is not a live process of PM (servers, drivers, processes started by
    /// the kernel). Anyone may ask.
    UID_OF = 0x30B => "uid_of";
}

/// The administrator's uid.
pub const ROOT_UID: u64 = 0;

/// Most processes (alive or zombie) of one uid other than [`ROOT_UID`].
pub const MAX_PROCS_PER_USER: usize = 16;
/// Most processes PM manages at once, all uids together. The kernel has
/// 64 process slots; the rest (24) stay for the kernel's boot processes,
/// RS's services and their restarts, so no fork bomb, not even root's,
/// can leave RS without a slot.
pub const MAX_PROCS: usize = 40;

/// [`FORK`] flag: the child does not inherit its parent's ignoring of ^C
/// (a shell's command). POSIX shells reset SIGINT in the child between
/// fork and exec; done in the fork itself, a ^C or `kill -INT` that
/// arrives before the command's exec is not lost to the shell's setting.
pub const FORK_TAKES_INTERRUPT: u64 = 1;

/// Interrupt (^C).
pub const SIGINT: u64 = 2;
/// Kill.
pub const SIGKILL: u64 = 9;
/// Terminate.
pub const SIGTERM: u64 = 15;
/// Exit status of a process ended by signal `s`: `128 + s`.
pub const fn signal_status(signal: u64) -> u32 {
    128 + signal as u32
}

/// `PS` state: running or ready.
pub const STATE_ALIVE: u64 = 1;
/// `PS` state: exited, not yet waited for.
pub const STATE_ZOMBIE: u64 = 2;
