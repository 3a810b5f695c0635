//! Paths: joining with the working directory, normalising, walking.
//!
//! Every path is made absolute and normalised first (`.` dropped, `..`
//! taken back, repeated slashes merged; `..` at the root stays at the
//! root), then resolved from the root: the part on the file server's
//! disk in one request (as MINIX 3's VFS hands a file server the rest of
//! a path), the memory file system's one component at a time. Working directories are
//! kept as such normalised text, which makes `getcwd` a copy and keeps
//! the file system free of parent pointers.

use crate::fs::{FileSystem, Ino, Kind};
use abi::Error;

/// Longest path (after joining with the working directory).
pub const PATH_MAX: usize = 256;

/// An absolute, normalised path.
#[derive(Clone, Copy)]
pub struct PathBuf {
    buf: [u8; PATH_MAX],
    len: usize,
}

impl PathBuf {
    /// `/`.
    pub const fn root() -> PathBuf {
        let mut buf = [0; PATH_MAX];
        buf[0] = b'/';
        PathBuf { buf, len: 1 }
    }

    /// The text.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    fn push(&mut self, component: &[u8]) -> Result<(), Error> {
        let sep = usize::from(self.len > 1);
        if self.len + sep + component.len() > PATH_MAX {
            return Err(Error::Invalid);
        }
        if sep == 1 {
            self.buf[self.len] = b'/';
            self.len += 1;
        }
        self.buf[self.len..self.len + component.len()].copy_from_slice(component);
        self.len += component.len();
        Ok(())
    }

    fn pop(&mut self) {
        while self.len > 1 && self.buf[self.len - 1] != b'/' {
            self.len -= 1;
        }
        if self.len > 1 {
            self.len -= 1;
        }
    }

    /// `path` taken relative to `self` (a directory), normalised.
    pub fn join(&self, path: &[u8]) -> Result<PathBuf, Error> {
        if path.is_empty() {
            return Err(Error::NoEntry);
        }
        let mut out = if path[0] == b'/' { PathBuf::root() } else { *self };
        for component in path.split(|&b| b == b'/') {
            match component {
                b"" | b"." => {}
                b".." => out.pop(),
                c => out.push(c)?,
            }
        }
        Ok(out)
    }

    /// The path below the root, without the leading `/` (empty for the
    /// root itself).
    fn below_root(&self) -> &[u8] {
        &self.as_bytes()[1..]
    }

    /// The parent directory's path and the last component (`Invalid` for
    /// the root itself).
    pub fn split_last(&self) -> Result<(PathBuf, &[u8]), Error> {
        let at = self.as_bytes().iter().rposition(|&b| b == b'/').ok_or(Error::Invalid)?;
        let name = &self.buf[at + 1..self.len];
        if name.is_empty() {
            return Err(Error::Invalid);
        }
        let mut parent = *self;
        parent.len = at.max(1);
        Ok((parent, name))
    }
}

/// The inode `path` names: resolved from the root by the file system,
/// whole (the file server resolves the part on its disk in one request).
pub fn walk(fs: &dyn FileSystem, path: &PathBuf) -> Result<Ino, Error> {
    let below = path.below_root();
    if below.is_empty() {
        return Ok(fs.root());
    }
    fs.resolve(fs.root(), below)
}

/// The inode the relative `path` names from directory `dir`, one
/// [`FileSystem::lookup`] per component (`dir` must be a directory; each
/// later one is checked).
pub fn walk_components<F: FileSystem + ?Sized>(fs: &F, dir: Ino, path: &[u8]) -> Result<Ino, Error> {
    let mut ino = dir;
    for component in path.split(|&b| b == b'/').filter(|c| !c.is_empty()) {
        if ino != dir && fs.stat(ino)?.kind != Kind::Dir {
            return Err(Error::NotDir);
        }
        ino = fs.lookup(ino, component)?;
    }
    Ok(ino)
}

/// The directory holding the last component of `path`, and that name.
pub fn walk_parent<'p>(fs: &dyn FileSystem, path: &'p PathBuf) -> Result<(Ino, &'p [u8]), Error> {
    let (parent, name) = path.split_last()?;
    let dir = walk(fs, &parent)?;
    if fs.stat(dir)?.kind != Kind::Dir {
        return Err(Error::NotDir);
    }
    Ok((dir, name))
}
