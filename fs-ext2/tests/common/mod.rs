//! Host test support: a file-backed block device and the e2fsprogs judges.
#![allow(dead_code)]

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

use ext2::{BlockDevice, Ext2};

/// Cache size used by the tests.
pub const CACHE: usize = 32;
pub type Fs = Ext2<FileDev, CACHE>;
pub const NOW: u32 = 1_700_000_000;

/// An image file as a device of 512- or 1024-byte blocks.
pub struct FileDev {
    file: File,
    bs: usize,
    blocks: u64,
}

impl FileDev {
    pub fn open(path: &Path, bs: usize) -> FileDev {
        let file = OpenOptions::new().read(true).write(true).open(path).expect("open image");
        let blocks = file.metadata().unwrap().len() / bs as u64;
        FileDev { file, bs, blocks }
    }
}

impl BlockDevice for FileDev {
    type Error = std::io::Error;
    fn block_size(&self) -> usize {
        self.bs
    }
    fn num_blocks(&self) -> u64 {
        self.blocks
    }
    fn read_block(&mut self, n: u64, buf: &mut [u8]) -> std::io::Result<()> {
        self.file.seek(SeekFrom::Start(n * self.bs as u64))?;
        self.file.read_exact(buf)
    }
    fn write_block(&mut self, n: u64, buf: &[u8]) -> std::io::Result<()> {
        self.file.seek(SeekFrom::Start(n * self.bs as u64))?;
        self.file.write_all(buf)
    }
}

pub fn tool(name: &str) -> String {
    for dir in ["/usr/sbin", "/sbin", "/usr/bin", "/bin"] {
        let p = format!("{dir}/{name}");
        if Path::new(&p).exists() {
            return p;
        }
    }
    panic!("e2fsprogs is missing: `{name}` not found. Install it (scripts/setup does: apt-get install e2fsprogs).")
}

/// A fresh path for an image in the test's scratch directory.
pub fn scratch(tag: &str) -> PathBuf {
    static SEQ: AtomicU32 = AtomicU32::new(0);
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("fs-ext2");
    std::fs::create_dir_all(&dir).unwrap();
    let n = SEQ.fetch_add(1, Ordering::Relaxed);
    dir.join(format!("{tag}-{}-{n}", std::process::id()))
}

/// `mke2fs -q -F -t ext2 ARGS IMG SIZE`.
pub fn mkfs(tag: &str, args: &[&str], size: &str) -> PathBuf {
    let img = scratch(tag);
    let _ = std::fs::remove_file(&img);
    let out = Command::new(tool("mke2fs"))
        .args(["-q", "-F", "-t", "ext2"])
        .args(args)
        .arg(&img)
        .arg(size)
        .env("MKE2FS_CONFIG", "/etc/mke2fs.conf")
        .output()
        .expect("run mke2fs");
    assert!(out.status.success(), "mke2fs failed: {}", String::from_utf8_lossy(&out.stderr));
    img
}

pub fn mount(img: &Path) -> Fs {
    Fs::mount(FileDev::open(img, 512), NOW).expect("mount")
}

/// Asserts `e2fsck -fn` finds nothing wrong.
pub fn fsck_clean(img: &Path) {
    let out = Command::new(tool("e2fsck")).arg("-fn").arg(img).output().expect("run e2fsck");
    assert!(
        out.status.code() == Some(0),
        "e2fsck -fn {} exited {:?}:\n{}\n{}",
        img.display(),
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `debugfs -R CMD IMG`, stdout.
pub fn debugfs(img: &Path, cmd: &str) -> Vec<u8> {
    let out = Command::new(tool("debugfs")).arg("-R").arg(cmd).arg(img).output().expect("run debugfs");
    assert!(out.status.success(), "debugfs failed: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

/// Asserts debugfs reads exactly `want` at `path`.
pub fn assert_cat(img: &Path, path: &str, want: &[u8]) {
    let got = debugfs(img, &format!("cat {path}"));
    assert!(
        got == want,
        "debugfs cat {path}: {} bytes, want {} (first mismatch at {:?})",
        got.len(),
        want.len(),
        got.iter().zip(want).position(|(a, b)| a != b)
    );
}

/// Deterministic test data.
pub fn pattern(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2654435761).wrapping_add(1);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

/// Reads a whole file through the crate.
pub fn read_all(fs: &mut Fs, ino: u32) -> Vec<u8> {
    let size = fs.stat(ino).unwrap().size as usize;
    let mut v = vec![0u8; size];
    let mut done = 0;
    while done < size {
        let n = fs.read(ino, done as u64, &mut v[done..]).unwrap();
        assert!(n > 0);
        done += n;
    }
    v
}

/// Names in a directory, through the crate.
pub fn names(fs: &mut Fs, dir: u32) -> Vec<String> {
    let mut v = Vec::new();
    let mut pos = 0;
    while let Some((e, next)) = fs.read_dir(dir, pos).unwrap() {
        v.push(String::from_utf8_lossy(e.name()).into_owned());
        pos = next;
    }
    v.sort();
    v
}
