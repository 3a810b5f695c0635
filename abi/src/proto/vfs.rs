//! VFS: the POSIX file API, file descriptors, pipes, and the root file
//! system.
//!
//! Data moves through grants: the caller grants VFS its buffer (or path)
//! and passes the grant id. Every process starts with descriptors 0, 1, 2
//! open on the console (`/dev/tty`) unless it inherited others from its
//! parent. A call that must wait (reading an empty pipe or the console) is
//! answered later; the caller simply stays in SENDREC.

super::message_types! {
    /// Open: `payload[0]` = flags (`O_*`), `[1]` = grant id of the path, `[2]`
    /// = path length (or a short path in the message, [`INLINE_PATH`];
    /// so for CHDIR, STAT, MKDIR, UNLINK and RMDIR). Reply: the new descriptor, then what [`FSTAT`] would
    /// say of it in `[1..5]` (type, size, links, inode), so an opener that
    /// needs them (PM's exec) makes no FSTAT call.
    OPEN = 0x400 => "open";
    /// Close: `payload[0]` = fd. Reply: 0.
    CLOSE = 0x401 => "close";
    /// Read: `payload[0]` = fd, `[1]` = grant id (write access), `[2]` =
    /// length. Reply: bytes read, 0 at end of file.
    READ = 0x402 => "read";
    /// Write: `payload[0]` = fd, `[1]` = grant id (read access), `[2]` =
    /// length. Reply: bytes written.
    WRITE = 0x403 => "write";
    /// Pipe. Reply: `[0, read fd, write fd]`.
    PIPE = 0x404 => "pipe";
    /// Dup: `payload[0]` = fd. Reply: the lowest free descriptor, now a copy.
    DUP = 0x405 => "dup";
    /// Dup2: `payload[0]` = fd, `[1]` = target fd (closed first if open).
    /// Reply: the target fd.
    DUP2 = 0x406 => "dup2";
    /// Chdir: `[1]` = grant id of the path, `[2]` = length. Reply: 0.
    CHDIR = 0x407 => "chdir";
    /// Stat: `[1]` = grant id of the path, `[2]` = length. Reply: `[0, type
    /// (`TYPE_*`), size, links, inode]`.
    STAT = 0x408 => "stat";
    /// Fstat: `payload[0]` = fd. Reply as [`STAT`].
    FSTAT = 0x409 => "fstat";
    /// Getdents: `payload[0]` = fd of a directory, `[1]` = grant id, `[2]` =
    /// length. Fills the buffer with records `{type: u8, name_len: u8, name}`
    /// and replies with the bytes used, 0 at the end.
    GETDENTS = 0x40A => "getdents";
    /// Lseek: `payload[0]` = fd, `[1]` = offset (i64), `[2]` = whence
    /// (`SEEK_*`). Reply: the new offset.
    LSEEK = 0x40B => "lseek";
    /// Mkdir: `[1]` = grant id of the path, `[2]` = length. Reply: 0.
    MKDIR = 0x40C => "mkdir";
    /// Unlink: `[1]` = grant id of the path, `[2]` = length. Reply: 0.
    UNLINK = 0x40D => "unlink";
    /// Getcwd: `[1]` = grant id (write), `[2]` = length. Reply: bytes used.
    GETCWD = 0x40E => "getcwd";
    /// Rmdir: `[1]` = grant id of the path, `[2]` = length. Reply: 0;
    /// `NotDir`, `Exists` when not empty.
    RMDIR = 0x40F => "rmdir";
    /// Rename: `[1]` = grant id of the old path, `[2]` = its length, `[3]` =
    /// grant id of the new path, `[4]` = its length. Reply: 0. An existing
    /// file at the new path is replaced; across file systems (the disk and
    /// `/tmp` or `/dev`) it is `Invalid`.
    RENAME = 0x410 => "rename";
    /// Fsync: `payload[0]` = fd. Writes the file system's dirty blocks to the
    /// disk and flushes it. Reply: 0.
    FSYNC = 0x411 => "fsync";
    /// Sync: every file system's dirty blocks to the disk. Reply: 0.
    SYNC = 0x412 => "sync";

    /// From PM: `payload[0]` = parent endpoint, `[1]` = child endpoint; the
    /// child gets a copy of the parent's descriptors and directory. Reply: 0.
    PM_FORK = 0x480 => "vfs.pm_fork";
    /// From PM: `payload[0]` = endpoint of a process that ended; its
    /// descriptors are closed. Reply: 0.
    PM_EXIT = 0x481 => "vfs.pm_exit";
}

/// The grant word (`[1]`) of a call that names one path ([`OPEN`],
/// [`CHDIR`], [`STAT`], [`MKDIR`], [`UNLINK`], [`RMDIR`]) when the path
/// travels in the message itself: `[2]` = its length (1 to
/// [`INLINE_PATH_MAX`]), the bytes in `[3..7]` packed as
/// [`super::fs::inline_name_words`] packs a name. Most paths are short,
/// and one in the message costs VFS no `safecopy_from` (a kernel call per
/// open of every exec) and the caller no grant. No grant id is this
/// large.
pub const INLINE_PATH: u64 = u64::MAX;
/// Longest path [`INLINE_PATH`] carries: four payload words.
pub const INLINE_PATH_MAX: usize = super::fs::INLINE_NAME_MAX;

/// Open for reading.
pub const O_RDONLY: u64 = 0;
/// Open for writing.
pub const O_WRONLY: u64 = 1;
/// Open for both.
pub const O_RDWR: u64 = 2;
/// Create when missing.
pub const O_CREAT: u64 = 0x40;
/// Truncate to length 0.
pub const O_TRUNC: u64 = 0x200;
/// Every write appends.
pub const O_APPEND: u64 = 0x400;

/// Seek from the start.
pub const SEEK_SET: u64 = 0;
/// Seek from the current offset.
pub const SEEK_CUR: u64 = 1;
/// Seek from the end.
pub const SEEK_END: u64 = 2;

/// A regular file.
pub const TYPE_FILE: u64 = 1;
/// A directory.
pub const TYPE_DIR: u64 = 2;
/// A character device.
pub const TYPE_CHAR: u64 = 3;
/// A pipe.
pub const TYPE_PIPE: u64 = 4;
