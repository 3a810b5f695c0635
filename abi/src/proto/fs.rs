//! The file-server protocol between VFS and a file server (the ext2 server
//! that holds the root file system on the disk).
//!
//! VFS trusts its file servers. It sends them one request at a time by
//! SENDA, from its disk worker, and the file server answers VFS by SENDA
//! (other callers, which wait in SENDREC, by SENDNB), so VFS serves other
//! requests while the file server works; a file server in turn trusts no
//! disk driver (see [`super::blockdev`]) and survives a
//! driver restart by resending its outstanding block requests, so a driver
//! crash costs VFS and the user programs no error.
//!
//! Files are named by inode number; names travel through grants on VFS's
//! buffers, except a LOOKUP's short name, which travels in the message
//! ([`INLINE_NAME`]). File data travels through a grant VFS passes along: usually an
//! indirect grant (`crate::grant::GRANT_INDIRECT`) that lets the file
//! server copy straight to or from the user's own buffer, so one copy
//! moves the data between the file server's cache and the user.
//!
//! Every reply is a [`super::REPLY`] with the result in `payload[0]`.

super::message_types! {
    /// Lookup: `[0]` = directory inode, `[1]` = grant id of the name, `[2]` =
    /// name length; or `[1]` = [`INLINE_NAME`] and the name (at most
    /// [`INLINE_NAME_MAX`] bytes) in `[3..7]` ([`inline_name_words`]).
    /// The name may be a relative path, components separated by `/`: the
    /// server resolves all of them from the directory, as MINIX 3's file
    /// servers resolve the rest of a path, so a path costs one request
    /// instead of one per component ([`PATH_SEPARATOR`]). Reply: `[0,
    /// inode, kind (vfs::TYPE_*), size, links]` of the last component
    /// (what STAT would say, so a path walk needs no STAT); `NoEntry`,
    /// `NotDir` (a component before the last is not a directory).
    LOOKUP = 0x700 => "fs.lookup";
    /// Stat: `[0]` = inode. Reply: `[0, kind, size, links, inode, mode]`.
    STAT = 0x701 => "fs.stat";
    /// Read: `[0]` = inode, `[1]` = offset, `[2]` = grant id (write access),
    /// `[3]` = length. Reply: bytes read (0 at the end of the file).
    READ = 0x702 => "fs.read";
    /// Write: `[0]` = inode, `[1]` = offset, `[2]` = grant id (read access),
    /// `[3]` = length. Reply: bytes written.
    WRITE = 0x703 => "fs.write";
    /// Truncate: `[0]` = inode, `[1]` = new size. Reply: 0.
    TRUNCATE = 0x704 => "fs.truncate";
    /// Create: `[0]` = directory inode, `[1]` = grant id of the name, `[2]` =
    /// name length, `[3]` = kind (`vfs::TYPE_FILE` or `vfs::TYPE_DIR`).
    /// Reply: `[0, inode]`; `Exists` when the name is taken.
    CREATE = 0x705 => "fs.create";
    /// Unlink a file: `[0]` = directory inode, `[1]` = grant id of the name,
    /// `[2]` = length. Reply: 0; `IsDir` for a directory.
    UNLINK = 0x706 => "fs.unlink";
    /// Remove an empty directory: payload as [`UNLINK`]. Reply: 0; `NotDir`,
    /// `Exists` (not empty).
    RMDIR = 0x707 => "fs.rmdir";
    /// Rename: `[0]` = old directory inode, `[1]` = grant id of the old name,
    /// `[2]` = its length, `[3]` = new directory inode, `[4]` = grant id of the
    /// new name, `[5]` = its length. Reply: 0.
    RENAME = 0x708 => "fs.rename";
    /// Hard link: `[0]` = inode, `[1]` = directory inode, `[2]` = grant id of
    /// the name, `[3]` = its length. Reply: 0.
    LINK = 0x709 => "fs.link";
    /// Read a directory entry: `[0]` = directory inode, `[1]` = position (0 to
    /// start), `[2]` = grant id (write access) for the name, `[3]` = its
    /// capacity. Reply: `[0, next position, inode, kind, name length]`, or
    /// `NoEntry` past the last entry.
    READDIR = 0x70A => "fs.readdir";
    /// Write every dirty block to the disk and flush it. Reply: 0.
    SYNC = 0x70B => "fs.sync";
    /// Usage: Reply `[0, block size, blocks, free blocks, inodes, free inodes]`.
    STATFS = 0x70C => "fs.statfs";
}

/// The inode of the root directory.
pub const ROOT_INODE: u64 = 2;

/// What separates the components of a [`LOOKUP`] path. VFS sends the
/// path normalised (no `.` or `..`, no empty component) and only the part
/// below its mount points, so the file server has no mount point, no
/// parent above its root and no symbolic link to stop at: it resolves
/// every component as a name in the directory before it (and skips empty
/// ones).
pub const PATH_SEPARATOR: u8 = b'/';

/// [`LOOKUP`]'s grant word when the name travels in the message itself:
/// a path component is short, and a name in the message costs the file
/// server no `safecopy_from` (a kernel call per component of every path).
/// No grant id is this large.
pub const INLINE_NAME: u64 = u64::MAX;
/// Longest name [`INLINE_NAME`] carries: four payload words.
pub const INLINE_NAME_MAX: usize = 32;

/// `name` packed into the four words of an inline name (little-endian,
/// zero-padded); `None` when it is longer than [`INLINE_NAME_MAX`].
pub fn inline_name_words(name: &[u8]) -> Option<[u64; 4]> {
    if name.len() > INLINE_NAME_MAX {
        return None;
    }
    let mut bytes = [0u8; INLINE_NAME_MAX];
    bytes[..name.len()].copy_from_slice(name);
    let mut words = [0u64; 4];
    for (word, chunk) in words.iter_mut().zip(bytes.chunks_exact(8)) {
        let mut w = [0u8; 8];
        w.copy_from_slice(chunk);
        *word = u64::from_le_bytes(w);
    }
    Some(words)
}

/// The inline name of `len` bytes in `words` (as [`inline_name_words`]
/// packed it), copied into `buf`; `None` when `len` is 0 or too long for
/// either.
pub fn inline_name<'a>(words: &[u64; 4], len: u64, buf: &'a mut [u8]) -> Option<&'a [u8]> {
    let len = usize::try_from(len).ok().filter(|&n| n > 0 && n <= INLINE_NAME_MAX && n <= buf.len())?;
    let mut bytes = [0u8; INLINE_NAME_MAX];
    for (chunk, word) in bytes.chunks_exact_mut(8).zip(words) {
        chunk.copy_from_slice(&word.to_le_bytes());
    }
    buf[..len].copy_from_slice(&bytes[..len]);
    Some(&buf[..len])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_inline_name_comes_back_as_it_went() {
        let mut buf = [0u8; 64];
        for name in [&b"a"[..], b"true", b"a-name-of-exactly-thirty-two-by!"] {
            let words = inline_name_words(name).unwrap();
            assert_eq!(inline_name(&words, name.len() as u64, &mut buf), Some(name));
        }
        assert_eq!(inline_name_words(&[b'x'; 33]), None);
        let words = inline_name_words(b"abc").unwrap();
        assert_eq!(inline_name(&words, 0, &mut buf), None);
        assert_eq!(inline_name(&words, 33, &mut buf), None);
        assert_eq!(inline_name(&words, 3, &mut [0u8; 2]), None);
    }
}
