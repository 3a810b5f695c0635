//! vfs_probe: exercises VFS and TTY without PM or a shell (image
//! `vfs-test`), printing `vfs_probe: <case> ok` through VFS for each case
//! that passed, or `vfs_probe: <case> FAILED: why` and exit status 1.
//!
//! Cases: files (open, write, read, lseek, stat, fstat), directories
//! (getdents, mkdir, chdir, getcwd, relative paths), pipes (data, end of
//! file, broken pipe), dup/dup2, unlink, permission errors, and a TTY
//! restart: with a read pending on the console, a helper copy of this
//! program kills TTY; RS restarts it, DS announces the new endpoint, VFS
//! re-sends the read, and the line the host then types must still arrive.
//!
//! Roles: the copy started at boot publishes `vfs_probe.main` in DS under
//! its own endpoint (from the kernel info page); a spawned copy's publish
//! of that endpoint is refused, which is how it knows it is the helper.
//! The helper never exits (its exit would power the machine off).
#![no_std]
#![no_main]

use abi::proto::{self, ds, vfs};
use abi::{Endpoint, Error, Message};
use rt::outln;
use rt::vfs as f;

rt::main!(run);

/// One probe: passes, or says what went wrong.
type Case = fn() -> Result<(), &'static str>;

/// Sleeps `ms` milliseconds on the kernel alarm.
fn sleep_ms(ms: u64) {
    let ticks = (ms * rt::kip::tick_hz()).div_ceil(1000).max(1);
    if rt::sys::set_alarm(ticks).is_err() {
        return;
    }
    let mut m = Message::default();
    while rt::ipc::receive(Endpoint::SYSTEM, &mut m).is_ok() {
        if m.payload[abi::syscall::NOTIFY_ALARM_WORD] & abi::syscall::NOTIFY_ALARM != 0 {
            return;
        }
    }
}

/// Publishes `name` for `ep` in DS.
fn publish(name: &str, ep: Endpoint) -> Result<u64, Error> {
    let mut m = Message::with_words(ds::PUBLISH, &[u64::from(ep.0), 0]);
    proto::put_name(&mut m, 2, name);
    rt::ipc::sendrec(rt::names::ds()?, &mut m)?;
    proto::result_of(&m)
}

fn run() -> i32 {
    let me = rt::kip::endpoint_of("vfs_probe").unwrap_or(Endpoint::NONE);
    if publish("vfs_probe.main", me) == Err(Error::Perm) {
        helper();
    }
    // RS starts VFS and TTY after we start: wait for VFS in DS.
    let mut waited = 0;
    while rt::names::lookup_fresh("vfs").is_err() {
        if waited > 10_000 {
            rt::println!("vfs_probe: VFS never appeared");
            return 1;
        }
        sleep_ms(10);
        waited += 10;
    }
    let cases: [(&str, Case); 9] = [
        ("write_read", write_read),
        ("lseek", lseek),
        ("stat", stat),
        ("getdents", getdents),
        ("pipe", pipe),
        ("dup2", dup2),
        ("dirs", dirs),
        ("unlink", unlink),
        ("errors", errors),
    ];
    let mut failed = 0;
    for (name, case) in cases {
        match case() {
            Ok(()) => {
                outln!("vfs_probe: {} ok", name);
            }
            Err(why) => {
                outln!("vfs_probe: {} FAILED: {}", name, why);
                failed += 1;
            }
        }
    }
    match tty_restart() {
        Ok(n) => {
            outln!("vfs_probe: tty_restart ok ({} bytes)", n);
        }
        Err(why) => {
            outln!("vfs_probe: tty_restart FAILED: {}", why);
            failed += 1;
        }
    }
    outln!("vfs_probe: done, {} failed", failed);
    i32::from(failed > 0)
}

fn check(ok: bool, why: &'static str) -> Result<(), &'static str> {
    if ok {
        Ok(())
    } else {
        Err(why)
    }
}

fn write_read() -> Result<(), &'static str> {
    let fd = f::open("/tmp/a", vfs::O_CREAT | vfs::O_RDWR).map_err(|_| "open O_CREAT")?;
    check(f::write(fd, b"hello vfs") == Ok(9), "write")?;
    check(f::lseek(fd, 0, vfs::SEEK_SET) == Ok(0), "lseek to 0")?;
    let mut buf = [0u8; 32];
    check(f::read(fd, &mut buf) == Ok(9) && &buf[..9] == b"hello vfs", "read back")?;
    check(f::read(fd, &mut buf) == Ok(0), "end of file")?;
    f::close(fd).map_err(|_| "close")?;
    check(f::close(fd) == Err(Error::BadFd), "double close")
}

fn lseek() -> Result<(), &'static str> {
    let fd = f::open("/tmp/a", vfs::O_RDONLY).map_err(|_| "open")?;
    check(f::lseek(fd, -3, vfs::SEEK_END) == Ok(6), "SEEK_END")?;
    let mut buf = [0u8; 8];
    check(f::read(fd, &mut buf) == Ok(3) && &buf[..3] == b"vfs", "read at 6")?;
    check(f::lseek(fd, -1, vfs::SEEK_SET) == Err(Error::Invalid), "negative offset")?;
    check(f::lseek(fd, 2, vfs::SEEK_SET) == Ok(2) && f::lseek(fd, 1, vfs::SEEK_CUR) == Ok(3), "SEEK_CUR")?;
    f::close(fd).map_err(|_| "close")
}

fn stat() -> Result<(), &'static str> {
    let s = f::stat("/tmp/a").map_err(|_| "stat /tmp/a")?;
    check(s.kind == vfs::TYPE_FILE && s.size == 9 && s.links == 1, "file stat")?;
    let fd = f::open("/tmp/a", vfs::O_RDONLY).map_err(|_| "open")?;
    check(f::fstat(fd).map(|t| t.inode) == Ok(s.inode), "fstat inode")?;
    f::close(fd).map_err(|_| "close")?;
    check(f::stat("/dev/tty").map(|s| s.kind) == Ok(vfs::TYPE_CHAR), "/dev/tty is a char device")?;
    check(f::stat("/bin").map(|s| s.kind) == Ok(vfs::TYPE_DIR), "/bin is a directory")?;
    check(f::stat("/tmp/missing") == Err(Error::NoEntry), "missing file")?;
    check(f::stat("/tmp/a/x") == Err(Error::NotDir), "file as directory")?;
    check(f::fstat(1).map(|s| s.kind) == Ok(vfs::TYPE_CHAR), "stdout is the console")
}

fn getdents() -> Result<(), &'static str> {
    let fd = f::open("/bin", vfs::O_RDONLY).map_err(|_| "open /bin")?;
    let mut buf = [0u8; 512];
    let (mut probe, mut tty, mut total) = (false, false, 0);
    loop {
        let n = f::getdents(fd, &mut buf).map_err(|_| "getdents")?;
        if n == 0 {
            break;
        }
        for (kind, name) in f::dir_entries(&buf[..n]) {
            probe |= name == "vfs_probe" && kind == vfs::TYPE_FILE;
            tty |= name == "tty";
            total += 1;
        }
    }
    f::close(fd).map_err(|_| "close")?;
    check(probe && tty && total == rt::kip::boot_processes().count(), "one entry per boot program")
}

fn pipe() -> Result<(), &'static str> {
    let (r, w) = f::pipe().map_err(|_| "pipe")?;
    check(f::write(w, b"through a pipe") == Ok(14), "write")?;
    check(f::fstat(r).map(|s| (s.kind, s.size)) == Ok((vfs::TYPE_PIPE, 14)), "fstat")?;
    let mut buf = [0u8; 32];
    check(f::read(r, &mut buf) == Ok(14) && &buf[..14] == b"through a pipe", "read")?;
    check(f::read(w, &mut buf) == Err(Error::BadFd), "read of the write end")?;
    f::close(w).map_err(|_| "close w")?;
    check(f::read(r, &mut buf) == Ok(0), "end of file once writers are gone")?;
    f::close(r).map_err(|_| "close r")?;
    let (r, w) = f::pipe().map_err(|_| "pipe 2")?;
    f::close(r).map_err(|_| "close r 2")?;
    check(f::write(w, b"x") == Err(Error::BrokenPipe), "broken pipe")?;
    f::close(w).map_err(|_| "close w 2")
}

fn dup2() -> Result<(), &'static str> {
    let fd = f::open("/tmp/b", vfs::O_CREAT | vfs::O_WRONLY | vfs::O_TRUNC).map_err(|_| "open")?;
    check(f::dup2(fd, 5) == Ok(5), "dup2")?;
    check(f::write(5, b"via five ") == Ok(9), "write via 5")?;
    let d = f::dup(fd).map_err(|_| "dup")?;
    check(f::write(d, b"and dup") == Ok(7), "write via dup (shared offset)")?;
    for x in [fd, 5, d] {
        f::close(x).map_err(|_| "close")?;
    }
    let fd = f::open("/tmp/b", vfs::O_RDONLY).map_err(|_| "reopen")?;
    let mut buf = [0u8; 32];
    check(f::read(fd, &mut buf) == Ok(16) && &buf[..16] == b"via five and dup", "content")?;
    f::close(fd).map_err(|_| "close")
}

fn dirs() -> Result<(), &'static str> {
    f::mkdir("/tmp/d").map_err(|_| "mkdir")?;
    check(f::mkdir("/tmp/d") == Err(Error::Exists), "mkdir twice")?;
    f::chdir("/tmp/d").map_err(|_| "chdir")?;
    let mut buf = [0u8; 64];
    check(f::getcwd(&mut buf) == Ok("/tmp/d"), "getcwd")?;
    let fd = f::open("x", vfs::O_CREAT | vfs::O_WRONLY).map_err(|_| "relative open")?;
    f::close(fd).map_err(|_| "close")?;
    check(f::stat("../d/./x").is_ok() && f::stat("/tmp/d/x").is_ok(), "relative paths")?;
    f::chdir("/").map_err(|_| "chdir /")
}

fn unlink() -> Result<(), &'static str> {
    let fd = f::open("/tmp/a", vfs::O_RDONLY).map_err(|_| "open")?;
    f::unlink("/tmp/a").map_err(|_| "unlink")?;
    check(f::stat("/tmp/a") == Err(Error::NoEntry), "gone after unlink")?;
    let mut buf = [0u8; 16];
    check(f::read(fd, &mut buf) == Ok(9), "still readable while open")?;
    f::close(fd).map_err(|_| "close")?;
    check(f::unlink("/tmp/d") == Err(Error::IsDir), "unlink of a directory")?;
    check(f::unlink("/bin/vfs") == Err(Error::Perm), "unlink of a program")
}

fn errors() -> Result<(), &'static str> {
    check(f::open("/bin/vfs", vfs::O_WRONLY) == Err(Error::Perm), "programs are read-only")?;
    check(f::open("/tmp", vfs::O_WRONLY) == Err(Error::IsDir), "directories are not written")?;
    check(f::open("/nope/x", vfs::O_CREAT | vfs::O_WRONLY) == Err(Error::NoEntry), "missing directory")?;
    let mut buf = [0u8; 4];
    check(f::read(9, &mut buf) == Err(Error::BadFd), "bad descriptor")?;
    check(f::dup2(0, 99) == Err(Error::BadFd), "dup2 out of range")
}

/// Reads a line from the console while the helper kills TTY.
fn tty_restart() -> Result<usize, &'static str> {
    let index = rt::kip::program_index("vfs_probe").ok_or("no vfs_probe in the image")?;
    rt::sys::spawn(index).map_err(|_| "spawn the helper")?;
    outln!("vfs_probe: reading the console");
    let mut buf = [0u8; 64];
    let n = f::read(f::STDIN, &mut buf).map_err(|_| "read failed")?;
    check(&buf[..n] == b"after restart\n", "wrong line")?;
    Ok(n)
}

/// The helper: lets the probe's read reach TTY, kills TTY, waits forever.
fn helper() -> ! {
    sleep_ms(300);
    match rt::names::lookup_fresh("tty") {
        Ok((tty, _)) => match rt::sys::kill(tty) {
            Ok(()) => rt::println!("vfs_probe: helper killed tty"),
            Err(e) => rt::println!("vfs_probe: helper cannot kill tty: {}", e),
        },
        Err(e) => rt::println!("vfs_probe: helper finds no tty: {}", e),
    }
    let mut m = Message::default();
    loop {
        let _ = rt::ipc::receive(Endpoint::ANY, &mut m);
    }
}
