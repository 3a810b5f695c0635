//! The one error type of the crate.
//!
//! Every failure, whether it comes from the device, from a damaged or
//! foreign image, or from a request that the file system refuses, is a
//! value of [`Error`]: nothing in this crate panics on bad on-disk data.
//! The variants map one-to-one onto the POSIX errors a VFS server would
//! return (see [`Error::errno_name`]).

/// What went wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// The block device reported a failure.
    Io,
    /// The image is not ext2 (bad superblock magic).
    BadMagic,
    /// The image uses a feature or layout this implementation does not
    /// support (unknown INCOMPAT/RO_COMPAT feature, block size, revision).
    Unsupported(&'static str),
    /// The image is inconsistent (a check on the on-disk data failed).
    Corrupt(&'static str),
    /// The image is larger than the device holding it.
    Truncated,
    /// No such file or directory.
    NotFound,
    /// A path component that must be a directory is not one.
    NotDir,
    /// The operation needs a non-directory but got a directory.
    IsDir,
    /// The name already exists.
    Exists,
    /// The directory to remove is not empty.
    NotEmpty,
    /// No free blocks left.
    NoSpace,
    /// No free inodes left.
    NoInodes,
    /// A name is longer than 255 bytes.
    NameTooLong,
    /// A name is empty, contains `/` or NUL, or is `.`/`..` where that is
    /// not allowed; or another argument is invalid (e.g. moving a directory
    /// into itself).
    Invalid,
    /// The file would exceed the largest size the block map can address.
    FileTooLarge,
    /// The inode already has the maximum number of links.
    TooManyLinks,
}

impl Error {
    /// The POSIX error name a VFS would report for this error.
    pub fn errno_name(&self) -> &'static str {
        match self {
            Error::Io | Error::Corrupt(_) | Error::Truncated => "EIO",
            Error::BadMagic | Error::Unsupported(_) => "EINVAL",
            Error::NotFound => "ENOENT",
            Error::NotDir => "ENOTDIR",
            Error::IsDir => "EISDIR",
            Error::Exists => "EEXIST",
            Error::NotEmpty => "ENOTEMPTY",
            Error::NoSpace | Error::NoInodes => "ENOSPC",
            Error::NameTooLong => "ENAMETOOLONG",
            Error::Invalid => "EINVAL",
            Error::FileTooLarge => "EFBIG",
            Error::TooManyLinks => "EMLINK",
        }
    }
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Error::Unsupported(w) => write!(f, "unsupported: {w}"),
            Error::Corrupt(w) => write!(f, "corrupt file system: {w}"),
            other => write!(f, "{} ({other:?})", other.errno_name()),
        }
    }
}

/// The crate's result type.
pub type Result<T> = core::result::Result<T, Error>;
