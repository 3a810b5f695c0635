//! `diskbench [MIB]`: the storage figures of `viv bench`. Writes a file of
//! MIB MiB (default 4) sequentially in 64 KiB calls, fsyncs it, reads it
//! back, and brackets both phases with bench marks so the host measures
//! kernel instructions, VM exits and time; it prints how many bytes the
//! kernel copied (safe copies) in each phase, which the host cannot see.
#![no_std]
#![no_main]

use abi::platform::{MARK_DISK_READ_END, MARK_DISK_READ_START, MARK_DISK_WRITE_END, MARK_DISK_WRITE_START};
use abi::proto::vfs::{O_CREAT, O_RDONLY, O_TRUNC, O_WRONLY};

rt::main!(run);

const CHUNK: usize = 64 * 1024;
const PATH: &str = "/diskbench.tmp";

static mut BUFFER: [u8; CHUNK] = [0; CHUNK];

fn buffer() -> &'static mut [u8; CHUNK] {
    // SAFETY: single-threaded program; the only reference to BUFFER.
    unsafe { &mut *(&raw mut BUFFER) }
}

fn copied() -> u64 {
    rt::process::safecopy_counters().map(|(bytes, _)| bytes).unwrap_or(0)
}

fn run() -> i32 {
    let mib: usize = rt::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(4).clamp(1, 16);
    let chunks = mib * 1024 * 1024 / CHUNK;
    for (i, b) in buffer().iter_mut().enumerate() {
        *b = (i * 7 + 3) as u8;
    }
    let fd = match rt::vfs::open(PATH, O_WRONLY | O_CREAT | O_TRUNC) {
        Ok(fd) => fd,
        Err(e) => {
            rt::errln!("diskbench: {PATH}: {e}");
            return 1;
        }
    };
    let before = copied();
    rt::sys::bench_mark(MARK_DISK_WRITE_START);
    for _ in 0..chunks {
        if let Err(e) = rt::vfs::write_all(fd, buffer()) {
            rt::errln!("diskbench: write: {e}");
            return 1;
        }
    }
    if let Err(e) = rt::vfs::fsync(fd) {
        rt::errln!("diskbench: fsync: {e}");
        return 1;
    }
    rt::sys::bench_mark(MARK_DISK_WRITE_END);
    let written = copied() - before;
    let _ = rt::vfs::close(fd);

    let fd = match rt::vfs::open(PATH, O_RDONLY) {
        Ok(fd) => fd,
        Err(e) => {
            rt::errln!("diskbench: {PATH}: {e}");
            return 1;
        }
    };
    let before = copied();
    rt::sys::bench_mark(MARK_DISK_READ_START);
    let mut total = 0usize;
    loop {
        match rt::vfs::read(fd, buffer()) {
            Ok(0) => break,
            Ok(n) => total += n,
            Err(e) => {
                rt::errln!("diskbench: read: {e}");
                return 1;
            }
        }
    }
    rt::sys::bench_mark(MARK_DISK_READ_END);
    let read = copied() - before;
    let _ = rt::vfs::close(fd);
    let _ = rt::vfs::unlink(PATH);
    if total != chunks * CHUNK {
        rt::errln!("diskbench: read back {total} bytes of {}", chunks * CHUNK);
        return 1;
    }
    rt::outln!("diskbench: {} KiB; kernel-copied bytes: write {}, read {}", total / 1024, written, read);
    0
}
