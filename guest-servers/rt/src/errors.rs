//! Errors as user programs print them (`cat: FILE: no such file or
//! directory`): one table, so the shell and the utilities say the same.

use abi::Error;

/// The message for `e` (its ABI name when there is no better one).
pub fn describe(e: Error) -> &'static str {
    match e {
        Error::NoEntry => "no such file or directory",
        Error::NotDir => "not a directory",
        Error::IsDir => "is a directory",
        Error::Perm => "permission denied",
        Error::Exists => "file exists",
        Error::BadFd => "bad file descriptor",
        Error::BrokenPipe => "broken pipe",
        Error::TooMany => "too many open files or processes",
        Error::NoMemory => "out of memory",
        Error::Unavailable => "service unavailable",
        Error::Interrupted => "interrupted",
        Error::Io => "I/O error",
        e => e.name(),
    }
}
