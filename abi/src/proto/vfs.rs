//! VFS: the POSIX file API, file descriptors, pipes, and the root file
//! system.
//!
//! Data moves through grants: the caller grants VFS its buffer (or path)
//! and passes the grant id. Every process starts with descriptors 0, 1, 2
//! open on the console (`/dev/tty`) unless it inherited others from its
//! parent. A call that must wait (reading an empty pipe or the console) is
//! answered later; the caller simply stays in SENDREC.

/// Open: `payload[0]` = flags (`O_*`), `[1]` = grant id of the path, `[2]`
/// = path length. Reply: the new descriptor.
pub const OPEN: u32 = 0x400;
/// Close: `payload[0]` = fd. Reply: 0.
pub const CLOSE: u32 = 0x401;
/// Read: `payload[0]` = fd, `[1]` = grant id (write access), `[2]` =
/// length. Reply: bytes read, 0 at end of file.
pub const READ: u32 = 0x402;
/// Write: `payload[0]` = fd, `[1]` = grant id (read access), `[2]` =
/// length. Reply: bytes written.
pub const WRITE: u32 = 0x403;
/// Pipe. Reply: `[0, read fd, write fd]`.
pub const PIPE: u32 = 0x404;
/// Dup: `payload[0]` = fd. Reply: the lowest free descriptor, now a copy.
pub const DUP: u32 = 0x405;
/// Dup2: `payload[0]` = fd, `[1]` = target fd (closed first if open).
/// Reply: the target fd.
pub const DUP2: u32 = 0x406;
/// Chdir: `[1]` = grant id of the path, `[2]` = length. Reply: 0.
pub const CHDIR: u32 = 0x407;
/// Stat: `[1]` = grant id of the path, `[2]` = length. Reply: `[0, type
/// (`TYPE_*`), size, links, inode]`.
pub const STAT: u32 = 0x408;
/// Fstat: `payload[0]` = fd. Reply as [`STAT`].
pub const FSTAT: u32 = 0x409;
/// Getdents: `payload[0]` = fd of a directory, `[1]` = grant id, `[2]` =
/// length. Fills the buffer with records `{type: u8, name_len: u8, name}`
/// and replies with the bytes used, 0 at the end.
pub const GETDENTS: u32 = 0x40A;
/// Lseek: `payload[0]` = fd, `[1]` = offset (i64), `[2]` = whence
/// (`SEEK_*`). Reply: the new offset.
pub const LSEEK: u32 = 0x40B;
/// Mkdir: `[1]` = grant id of the path, `[2]` = length. Reply: 0.
pub const MKDIR: u32 = 0x40C;
/// Unlink: `[1]` = grant id of the path, `[2]` = length. Reply: 0.
pub const UNLINK: u32 = 0x40D;
/// Getcwd: `[1]` = grant id (write), `[2]` = length. Reply: bytes used.
pub const GETCWD: u32 = 0x40E;
/// Rmdir: `[1]` = grant id of the path, `[2]` = length. Reply: 0;
/// `NotDir`, `Exists` when not empty.
pub const RMDIR: u32 = 0x40F;
/// Rename: `[1]` = grant id of the old path, `[2]` = its length, `[3]` =
/// grant id of the new path, `[4]` = its length. Reply: 0. An existing
/// file at the new path is replaced; across file systems (the disk and
/// `/tmp` or `/dev`) it is `Invalid`.
pub const RENAME: u32 = 0x410;
/// Fsync: `payload[0]` = fd. Writes the file system's dirty blocks to the
/// disk and flushes it. Reply: 0.
pub const FSYNC: u32 = 0x411;
/// Sync: every file system's dirty blocks to the disk. Reply: 0.
pub const SYNC: u32 = 0x412;

/// From PM: `payload[0]` = parent endpoint, `[1]` = child endpoint; the
/// child gets a copy of the parent's descriptors and directory. Reply: 0.
pub const PM_FORK: u32 = 0x480;
/// From PM: `payload[0]` = endpoint of a process that ended; its
/// descriptors are closed. Reply: 0.
pub const PM_EXIT: u32 = 0x481;

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
