//! Error numbers returned by traps and kernel calls.
//!
//! A trap returns a signed 64-bit value in `rax`: zero or positive on
//! success, the negated error number on failure. Names follow MINIX 3 so the
//! paper's defenses can be read off the code; numbers are ours.

/// A failure reported by the kernel to a user process.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u32)]
pub enum Error {
    /// The destination or source endpoint is not a live process (stale
    /// generation, empty slot, or malformed value).
    DeadSrcDst = 1,
    /// The process being received from died while the caller waited.
    SrcDied = 2,
    /// The process being sent to died while the caller waited.
    DstDied = 3,
    /// The trap number is not allowed for this process.
    TrapDenied = 4,
    /// The destination or kernel call is not allowed for this process.
    CallDenied = 5,
    /// A non-blocking send found the receiver not waiting.
    NotReady = 6,
    /// The operation would close a cycle of blocked processes.
    Locked = 7,
    /// A user pointer does not point at mapped, accessible memory.
    Fault = 8,
    /// A memory grant does not allow the access.
    Perm = 9,
    /// An argument is out of its domain (e.g. an oversized table).
    Domain = 10,
    /// Unknown trap or kernel call number.
    BadRequest = 11,
    /// An argument is invalid.
    Invalid = 12,
    /// The kernel ran out of a resource (frames, slots).
    NoMemory = 13,
    /// No such file, directory, program, process or name (servers).
    NoEntry = 14,
    /// Not an open file descriptor (VFS).
    BadFd = 15,
    /// Write to a pipe nobody reads (VFS).
    BrokenPipe = 16,
    /// Not a directory (VFS).
    NotDir = 17,
    /// Is a directory (VFS).
    IsDir = 18,
    /// Already exists (VFS, DS).
    Exists = 19,
    /// No child to wait for (PM).
    NoChild = 20,
    /// Interrupted (a read ended by ^C, a call cut short by a restart).
    Interrupted = 21,
    /// Too many open files, processes or subscriptions (servers).
    TooMany = 22,
    /// A server or driver it depends on is not available.
    Unavailable = 23,
    /// Input/output error: the disk (or its driver) failed a transfer
    /// every time it was tried, or returned data that cannot be right.
    Io = 24,
}

impl Error {
    /// All errors, for tables and tests.
    pub const ALL: [Error; 24] = [
        Error::DeadSrcDst,
        Error::SrcDied,
        Error::DstDied,
        Error::TrapDenied,
        Error::CallDenied,
        Error::NotReady,
        Error::Locked,
        Error::Fault,
        Error::Perm,
        Error::Domain,
        Error::BadRequest,
        Error::Invalid,
        Error::NoMemory,
        Error::NoEntry,
        Error::BadFd,
        Error::BrokenPipe,
        Error::NotDir,
        Error::IsDir,
        Error::Exists,
        Error::NoChild,
        Error::Interrupted,
        Error::TooMany,
        Error::Unavailable,
        Error::Io,
    ];

    /// The value a trap returns in `rax` for this error.
    pub const fn to_return(self) -> i64 {
        -(self as u32 as i64)
    }

    /// Decodes a trap return value: `Ok(value)` when non-negative.
    pub fn from_return(value: i64) -> Result<u64, Error> {
        if value >= 0 {
            return Ok(value as u64);
        }
        let code = value.unsigned_abs();
        Err(Error::ALL.iter().copied().find(|e| *e as u64 == code).unwrap_or(Error::BadRequest))
    }

    /// MINIX-style name, e.g. `EDEADSRCDST`.
    pub const fn name(self) -> &'static str {
        match self {
            Error::DeadSrcDst => "EDEADSRCDST",
            Error::SrcDied => "ESRCDIED",
            Error::DstDied => "EDSTDIED",
            Error::TrapDenied => "ETRAPDENIED",
            Error::CallDenied => "ECALLDENIED",
            Error::NotReady => "ENOTREADY",
            Error::Locked => "ELOCKED",
            Error::Fault => "EFAULT",
            Error::Perm => "EPERM",
            Error::Domain => "EDOM",
            Error::BadRequest => "EBADREQUEST",
            Error::Invalid => "EINVAL",
            Error::NoMemory => "ENOMEM",
            Error::NoEntry => "ENOENT",
            Error::BadFd => "EBADF",
            Error::BrokenPipe => "EPIPE",
            Error::NotDir => "ENOTDIR",
            Error::IsDir => "EISDIR",
            Error::Exists => "EEXIST",
            Error::NoChild => "ECHILD",
            Error::Interrupted => "EINTR",
            Error::TooMany => "EMFILE",
            Error::Unavailable => "EAGAIN",
            Error::Io => "EIO",
        }
    }
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_round_trips_through_rax() {
        for e in Error::ALL {
            assert_eq!(Error::from_return(e.to_return()), Err(e));
        }
        assert_eq!(Error::from_return(42), Ok(42));
    }
}
