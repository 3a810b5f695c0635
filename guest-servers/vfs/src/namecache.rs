//! What the file server's LOOKUPs found, by path: a few recent answers,
//! so a path looked up again (the shell's `/bin/cat` in a command and in
//! its check, a file opened by `cp` and then by `cat`) costs no request.
//!
//! Why it can be exact: only VFS changes the file system (the same fact
//! `RemoteFs`'s `found` relies on), so an answer is stale only after a
//! request VFS itself sends, and [`NameCache::before`] drops what each
//! request may change: a WRITE or TRUNCATE the sizes of its inode, a
//! CREATE (a file or a directory) the size and links of its directory;
//! an UNLINK, RMDIR, RENAME or LINK may remove or replace any name, so
//! they empty the cache. Only found names are kept (a name a CREATE adds
//! can make no kept answer wrong), only paths short enough to travel in
//! the LOOKUP message, and a new file server (which may have lost what
//! the old one had not written out) empties it too.

use crate::fs::{Ino, Stat};
use abi::proto::fs;

/// Answers kept.
const ENTRIES: usize = 8;
/// Longest path kept: one that travels in the LOOKUP message.
const PATH_MAX: usize = fs::INLINE_NAME_MAX;

#[derive(Clone, Copy)]
struct Entry {
    dir: Ino,
    len: usize,
    path: [u8; PATH_MAX],
    stat: Stat,
    /// [`NameCache::clock`] when last found or used.
    used: u64,
}

impl Entry {
    fn is(&self, dir: Ino, path: &[u8]) -> bool {
        self.dir == dir && self.path[..self.len] == *path
    }
}

/// Recent LOOKUP answers: (directory, relative path) → what STAT says.
pub struct NameCache {
    entries: [Option<Entry>; ENTRIES],
    clock: u64,
}

impl NameCache {
    /// Empty.
    pub const fn new() -> NameCache {
        NameCache { entries: [None; ENTRIES], clock: 0 }
    }

    /// What `path` from `dir` named when last looked up, if still known.
    pub fn get(&mut self, dir: Ino, path: &[u8]) -> Option<Stat> {
        self.clock += 1;
        let clock = self.clock;
        let e = self.entries.iter_mut().flatten().find(|e| e.is(dir, path))?;
        e.used = clock;
        Some(e.stat)
    }

    /// Keeps the answer `stat` for `path` from `dir` (in place of the
    /// least recently used one when full).
    pub fn put(&mut self, dir: Ino, path: &[u8], stat: Stat) {
        if path.len() > PATH_MAX {
            return;
        }
        self.clock += 1;
        let slot = match self.entries.iter().position(|e| e.is_some_and(|e| e.is(dir, path))) {
            Some(same) => same,
            None => match self.entries.iter().position(Option::is_none) {
                Some(free) => free,
                None => (0..ENTRIES).min_by_key(|&i| self.entries[i].map_or(0, |e| e.used)).unwrap_or(0),
            },
        };
        let mut e = Entry { dir, len: path.len(), path: [0; PATH_MAX], stat, used: self.clock };
        e.path[..path.len()].copy_from_slice(path);
        self.entries[slot] = Some(e);
    }

    /// Forgets everything.
    pub fn clear(&mut self) {
        self.entries = [None; ENTRIES];
    }

    /// Request `mtype` with `words` is going to the file server: drops the
    /// answers it may make wrong.
    pub fn before(&mut self, mtype: u32, words: &[u64]) {
        match mtype {
            fs::LOOKUP | fs::STAT | fs::READ | fs::READDIR | fs::SYNC | fs::STATFS => {}
            // The inode written or cut, or the directory a name goes into.
            fs::WRITE | fs::TRUNCATE | fs::CREATE => {
                let ino = words.first().copied().unwrap_or(0);
                for slot in self.entries.iter_mut() {
                    if slot.is_some_and(|e| u64::from(e.stat.ino) == ino) {
                        *slot = None;
                    }
                }
            }
            _ => self.clear(),
        }
    }
}
