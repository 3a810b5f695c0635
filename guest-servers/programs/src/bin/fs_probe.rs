//! The `fs-test` image's client of the ext2 file server: talks the
//! file-server protocol (`abi::proto::fs`) straight to `ext2fs`, as VFS
//! would (SENDREC, names and data through grants on its own buffers).
//!
//! Modes (`fs_probe.mode=` on the kernel command line):
//! * `full` (default): reads a file the host put on the image, creates
//!   files of 0 bytes, 1 byte, one block and 1 MiB (through the indirect
//!   blocks) and reads them back, mkdir/rmdir, rename, unlink, readdir,
//!   stat, statfs, sync.
//! * `kill`: as `full`, but kills the disk driver `blk` in the middle of
//!   writing the 1 MiB file (between two requests to the file server);
//!   nothing may fail.
//! * `inflight`: as `full`, but spawns `blk_killer` just before the 1 MiB
//!   write, which kills the driver while the file server has a request
//!   outstanding at it; nothing may fail.
//! * `verify`: a second boot of the same disk: the files of the first boot
//!   are there with the same contents.
//! * `corrupt`: the disk holds no file system: every request is answered
//!   `Unavailable` and the server stays up.
//!
//! Prints `fs_probe: <case> ok` or `fs_probe: <case> FAILED: <why>` and
//! exits with the number of failures. File contents are pattern `tag`
//! (`pattern` below, the same formula as `vmm/tests/ext2_server.rs`).
#![no_std]
#![no_main]

use abi::proto::{self, fs, vfs};
use abi::{Endpoint, Error, Message};

rt::main!(run);

const CHUNK: usize = 64 * 1024;
const BIG: usize = 1 << 20;
const ROOT: u64 = fs::ROOT_INODE;
/// What the host puts in `/hello.txt` (repeated `HOST_REPEAT` times).
const HOST_LINE: &[u8] = b"hello from the host\n";
const HOST_REPEAT: usize = 100;

static mut BUF: [u8; CHUNK] = [0; CHUNK];

fn buf() -> &'static mut [u8; CHUNK] {
    // SAFETY: single-threaded; the server touches it only through our
    // grant while we wait in SENDREC.
    unsafe { &mut *(&raw mut BUF) }
}

/// Byte `i` of pattern `tag`.
fn pattern(tag: u8, i: usize) -> u8 {
    ((i * 31 + usize::from(tag) * 7) ^ (i >> 9)) as u8
}

/// FNV-1a, fed byte by byte.
fn fnv(mut h: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        h = (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
    }
    h
}
const FNV0: u64 = 0xcbf2_9ce4_8422_2325;

struct Probe {
    fs: Endpoint,
    failed: i32,
}

impl Probe {
    fn check(&mut self, case: &str, ok: bool, detail: core::fmt::Arguments) {
        if ok {
            rt::println!("fs_probe: {} ok", case);
        } else {
            self.failed += 1;
            rt::println!("fs_probe: {} FAILED: {}", case, detail);
        }
    }

    fn call(&self, mtype: u32, words: &[u64]) -> Result<Message, Error> {
        let mut msg = Message::with_words(mtype, words);
        rt::ipc::sendrec(self.fs, &mut msg)?;
        proto::result_of(&msg)?;
        Ok(msg)
    }

    /// A call whose words 1-2 (or `at`, `at + 1`) carry a name.
    fn named(&self, mtype: u32, words: &[u64], at: usize, name: &str) -> Result<Message, Error> {
        let g = rt::grant::read_only(self.fs, name.as_bytes())?;
        let mut w = [0u64; 7];
        w[..words.len()].copy_from_slice(words);
        w[at] = g.id();
        w[at + 1] = name.len() as u64;
        self.call(mtype, &w[..words.len().max(at + 2)])
    }

    fn lookup(&self, dir: u64, name: &str) -> Result<(u64, u64, u64), Error> {
        let m = self.named(fs::LOOKUP, &[dir], 1, name)?;
        Ok((m.payload[1], m.payload[2], m.payload[3]))
    }

    fn create(&self, dir: u64, name: &str, kind: u64) -> Result<u64, Error> {
        Ok(self.named(fs::CREATE, &[dir, 0, 0, kind], 1, name)?.payload[1])
    }

    /// (kind, size, links)
    fn stat(&self, ino: u64) -> Result<(u64, u64, u64), Error> {
        let m = self.call(fs::STAT, &[ino])?;
        Ok((m.payload[1], m.payload[2], m.payload[3]))
    }

    /// Writes `len` bytes of pattern `tag` at 0 in CHUNK-sized requests;
    /// calls `between(i)` after request `i`.
    fn write_pattern(&self, ino: u64, tag: u8, len: usize, mut between: impl FnMut(usize)) -> Result<u64, Error> {
        let mut done = 0;
        let mut i = 0;
        while done < len {
            let n = (len - done).min(CHUNK);
            for (k, b) in buf()[..n].iter_mut().enumerate() {
                *b = pattern(tag, done + k);
            }
            let g = rt::grant::read_only(self.fs, &buf()[..n])?;
            let m = self.call(fs::WRITE, &[ino, done as u64, g.id(), n as u64])?;
            if m.payload[0] != n as u64 {
                return Err(Error::Invalid);
            }
            done += n;
            between(i);
            i += 1;
        }
        Ok(done as u64)
    }

    /// Reads the whole file; returns (bytes, checksum).
    fn read_all(&self, ino: u64) -> Result<(usize, u64), Error> {
        let (mut done, mut h) = (0usize, FNV0);
        loop {
            let g = rt::grant::writable(self.fs, &mut buf()[..])?;
            let m = self.call(fs::READ, &[ino, done as u64, g.id(), CHUNK as u64])?;
            drop(g);
            let n = m.payload[0] as usize;
            if n == 0 {
                return Ok((done, h));
            }
            h = fnv(h, &buf()[..n.min(CHUNK)]);
            done += n;
        }
    }

    /// Checks file `name` in the root holds `len` bytes of pattern `tag`.
    fn verify(&mut self, case: &str, name: &str, tag: u8, len: usize) {
        let want = (0..len).fold(FNV0, |h, i| fnv(h, &[pattern(tag, i)]));
        let r = self.lookup(ROOT, name).and_then(|(ino, _, size)| Ok((size, self.read_all(ino)?)));
        self.check(case, r == Ok((len as u64, (len, want))), format_args!("{name}: {r:?}"));
    }

    /// Creates `name` in the root with `len` bytes of pattern `tag`.
    fn make(&mut self, case: &str, name: &str, tag: u8, len: usize, between: impl FnMut(usize)) -> Option<u64> {
        let r = self
            .create(ROOT, name, vfs::TYPE_FILE)
            .and_then(|ino| Ok((ino, self.write_pattern(ino, tag, len, between)?)));
        self.check(case, matches!(r, Ok((_, n)) if n == len as u64), format_args!("{name}: {r:?}"));
        r.ok().map(|(ino, _)| ino)
    }
}

/// Looks `name` up in DS until it is published (at most ~10 s).
fn wait_for(name: &str) -> Option<Endpoint> {
    for _ in 0..200 {
        if let Ok((ep, _)) = rt::names::lookup_fresh(name) {
            if ep != Endpoint::NONE {
                return Some(ep);
            }
        }
        rt::sys::sleep_ms(50);
    }
    None
}

fn run() -> i32 {
    let Some(ep) = wait_for("ext2fs") else {
        rt::println!("fs_probe: lookup FAILED: ext2fs never appeared in DS");
        return 1;
    };
    let mut p = Probe { fs: ep, failed: 0 };
    match rt::kip::cmdline_value("fs_probe.mode").unwrap_or("full") {
        "verify" => verify(&mut p),
        "corrupt" => corrupt(&mut p),
        mode => full(&mut p, mode),
    }
    rt::println!("fs_probe: done, {} failed", p.failed);
    p.failed
}

fn full(p: &mut Probe, mode: &str) {
    let kill = mode == "kill";
    let host_len = HOST_LINE.len() * HOST_REPEAT;
    let host = p.lookup(ROOT, "hello.txt").and_then(|(ino, kind, size)| {
        let g = rt::grant::writable(p.fs, &mut buf()[..])?;
        let n = p.call(fs::READ, &[ino, 0, g.id(), CHUNK as u64])?.payload[0] as usize;
        drop(g);
        let same = n == host_len && buf()[..n].chunks(HOST_LINE.len()).all(|l| l == HOST_LINE);
        Ok((kind, size, same))
    });
    p.check("host_file", host == Ok((vfs::TYPE_FILE, host_len as u64, true)), format_args!("{host:?}"));

    if let Some(ino) = p.make("empty", "empty", 0, 0, |_| {}) {
        let r = p.read_all(ino).map(|(n, _)| n).and_then(|n| Ok((n, p.stat(ino)?)));
        p.check("empty_read", r == Ok((0, (vfs::TYPE_FILE, 0, 1))), format_args!("{r:?}"));
    }
    p.make("one_byte", "one", 1, 1, |_| {});
    p.verify("one_byte_read", "one", 1, 1);
    p.make("one_block", "block", 2, 1024, |_| {});
    p.verify("one_block_read", "block", 2, 1024);

    let mut killed: Option<Result<(), Error>> = None;
    if mode == "inflight" {
        let r = rt::kip::program_index("blk_killer").ok_or(Error::NoEntry).and_then(rt::sys::spawn);
        p.check("spawned_killer", r.is_ok(), format_args!("{r:?}"));
    }
    p.make("big_write", "big", 3, BIG, |i| {
        if kill && i == 5 {
            killed = Some(rt::names::lookup_fresh("blk").and_then(|(blk, _)| rt::sys::kill(blk)));
        }
    });
    if kill {
        p.check("killed_driver", killed == Some(Ok(())), format_args!("{killed:?}"));
    }
    p.verify("big_read", "big", 3, BIG);

    // mkdir, a file inside, rmdir refused while not empty, then allowed.
    let r = (|| {
        let dir = p.create(ROOT, "dir", vfs::TYPE_DIR)?;
        let inner = p.create(dir, "inner", vfs::TYPE_FILE)?;
        let full = p.named(fs::RMDIR, &[ROOT], 1, "dir").map(|_| ());
        p.named(fs::UNLINK, &[dir], 1, "inner")?;
        let gone = p.stat(inner);
        p.named(fs::RMDIR, &[ROOT], 1, "dir")?;
        let after = p.lookup(ROOT, "dir").map(|_| ());
        Ok::<_, Error>((full, gone.map(|_| ()), after))
    })();
    let want = Ok((Err(Error::Exists), Err(Error::NoEntry), Err(Error::NoEntry)));
    p.check("mkdir_rmdir", r == want, format_args!("{r:?}"));

    // A LOOKUP of a relative path resolves every component (VFS sends
    // whole paths): the same inode as one LOOKUP per component, empty
    // components skipped, `NotDir` through a file, `NoEntry` at a missing
    // component, and nothing but separators is no name.
    let r = (|| {
        let dir = p.create(ROOT, "walk", vfs::TYPE_DIR)?;
        let sub = p.create(dir, "sub", vfs::TYPE_DIR)?;
        let leaf = p.create(sub, "leaf", vfs::TYPE_FILE)?;
        let whole = p.lookup(ROOT, "walk/sub/leaf")?;
        let doubled = p.lookup(ROOT, "walk//sub/leaf/")?.0;
        let from_dir = p.lookup(dir, "sub/leaf")?.0;
        let through_file = p.lookup(ROOT, "walk/sub/leaf/x").map(|_| ());
        let missing = p.lookup(ROOT, "walk/none/leaf").map(|_| ());
        let empty = p.lookup(ROOT, "//").map(|_| ());
        p.named(fs::UNLINK, &[sub], 1, "leaf")?;
        p.named(fs::RMDIR, &[dir], 1, "sub")?;
        p.named(fs::RMDIR, &[ROOT], 1, "walk")?;
        Ok::<_, Error>((
            whole == (leaf, vfs::TYPE_FILE, 0),
            doubled == leaf,
            from_dir == leaf,
            through_file,
            missing,
            empty,
        ))
    })();
    let want = Ok((true, true, true, Err(Error::NotDir), Err(Error::NoEntry), Err(Error::Invalid)));
    p.check("path_lookup", r == want, format_args!("{r:?}"));

    let r = (|| {
        let ino = p.create(ROOT, "tmp", vfs::TYPE_FILE)?;
        p.write_pattern(ino, 4, 3000, |_| {})?;
        let g1 = rt::grant::read_only(p.fs, b"tmp")?;
        let g2 = rt::grant::read_only(p.fs, b"renamed.txt")?;
        p.call(fs::RENAME, &[ROOT, g1.id(), 3, ROOT, g2.id(), 11])?;
        Ok::<_, Error>((p.lookup(ROOT, "tmp").map(|_| ()), p.lookup(ROOT, "renamed.txt")?.0 == ino))
    })();
    p.check("rename", r == Ok((Err(Error::NoEntry), true)), format_args!("{r:?}"));
    p.verify("rename_read", "renamed.txt", 4, 3000);

    let r = (|| {
        let ino = p.create(ROOT, "gone", vfs::TYPE_FILE)?;
        p.write_pattern(ino, 5, 5000, |_| {})?;
        p.named(fs::UNLINK, &[ROOT], 1, "gone")?;
        Ok::<_, Error>(p.lookup(ROOT, "gone").map(|_| ()))
    })();
    p.check("unlink", r == Ok(Err(Error::NoEntry)), format_args!("{r:?}"));

    readdir(p, &["hello.txt", "empty", "one", "block", "big", "renamed.txt", "lost+found"], &["gone", "dir", "tmp"]);

    let root = p.stat(ROOT);
    let big = p.lookup(ROOT, "big").and_then(|(ino, _, _)| p.stat(ino));
    p.check(
        "stat",
        matches!(root, Ok((vfs::TYPE_DIR, _, l)) if l >= 3) && big == Ok((vfs::TYPE_FILE, BIG as u64, 1)),
        format_args!("root {root:?} big {big:?}"),
    );
    let s = p.call(fs::STATFS, &[]).map(|m| (m.payload[1], m.payload[3] < m.payload[2]));
    p.check("statfs", s == Ok((1024, true)), format_args!("{s:?}"));
    let r = p.call(fs::SYNC, &[]).map(|m| m.payload[0]);
    p.check("sync", r == Ok(0), format_args!("{r:?}"));
}

/// Lists the root: every name of `want` is there, none of `absent`.
fn readdir(p: &mut Probe, want: &[&str], absent: &[&str]) {
    let mut seen = [false; 8];
    let mut stray = false;
    let mut pos = 0;
    let mut count = 0;
    let r = loop {
        let mut name = [0u8; 64];
        let g = match rt::grant::writable(p.fs, &mut name) {
            Ok(g) => g,
            Err(e) => break Err(e),
        };
        match p.call(fs::READDIR, &[ROOT, pos, g.id(), 64]) {
            Ok(m) => {
                drop(g);
                let n = (m.payload[4] as usize).min(64);
                let text = core::str::from_utf8(&name[..n]).unwrap_or("?");
                if let Some(i) = want.iter().position(|w| *w == text) {
                    seen[i] = true;
                }
                stray |= absent.contains(&text);
                pos = m.payload[1];
                count += 1;
                if count > 100 {
                    break Err(Error::TooMany);
                }
            }
            Err(Error::NoEntry) => break Ok(()),
            Err(e) => break Err(e),
        }
    };
    let all = seen[..want.len()].iter().all(|&s| s);
    p.check(
        "readdir",
        r.is_ok() && all && !stray,
        format_args!("{r:?}, {count} entries, seen {seen:?}, stray {stray}"),
    );
}

fn verify(p: &mut Probe) {
    p.verify("persist_one", "one", 1, 1);
    p.verify("persist_block", "block", 2, 1024);
    p.verify("persist_big", "big", 3, BIG);
    p.verify("persist_renamed", "renamed.txt", 4, 3000);
    let empty = p.lookup(ROOT, "empty").map(|(_, kind, size)| (kind, size));
    let gone = p.lookup(ROOT, "gone").map(|_| ());
    p.check(
        "persist_names",
        empty == Ok((vfs::TYPE_FILE, 0)) && gone == Err(Error::NoEntry),
        format_args!("empty {empty:?} gone {gone:?}"),
    );
    p.make("second_boot_write", "second", 6, 70_000, |_| {});
    let r = p.call(fs::SYNC, &[]).map(|m| m.payload[0]);
    p.check("sync", r == Ok(0), format_args!("{r:?}"));
}

fn corrupt(p: &mut Probe) {
    let a = p.lookup(ROOT, "hello.txt").map(|_| ());
    let b = p.create(ROOT, "x", vfs::TYPE_FILE).map(|_| ());
    let c = p.call(fs::SYNC, &[]).map(|_| ());
    let u = Err(Error::Unavailable);
    p.check("unavailable", a == u && b == u && c == u, format_args!("{a:?} {b:?} {c:?}"));
    // Still there a while later.
    rt::sys::sleep_ms(1500);
    let d = p.stat(ROOT).map(|_| ());
    p.check("still_up", d == Err(Error::Unavailable), format_args!("{d:?}"));
}
