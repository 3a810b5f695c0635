//! Hostile input to the host tool (issue 13): absurd command-line values,
//! edited campaign files, special files as disks, over-long command lines.
//! Each test runs the real `viv` binary and checks what it reports and how
//! it exits: a one-line error and a non-zero status, or a normal run.

mod common;

use std::process::{Command, Output, Stdio};

const VIV: &str = env!("CARGO_BIN_EXE_viv");

/// Runs `viv ARGS` with no input and returns its output.
fn viv(args: &[&str]) -> Output {
    Command::new(VIV).args(args).stdin(Stdio::null()).output().expect("running viv")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn a_timeout_beyond_the_clock_runs_instead_of_panicking() {
    let out = viv(&["exec", "--timeout", "1e19", "echo survived"]);
    assert_eq!(out.status.code(), Some(0), "stderr:\n{}", text(&out.stderr));
    assert!(text(&out.stdout).lines().any(|l| l == "survived"), "stdout:\n{}", text(&out.stdout));
}

/// Runs `viv ARGS`, killing it (and failing the test) if it has not ended
/// after `secs` seconds of wall time: for inputs that used to hang.
fn viv_within(args: &[&str], secs: u64) -> Output {
    let child = Command::new(VIV)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running viv");
    let id = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(std::time::Duration::from_secs(secs)) {
        Ok(output) => output.expect("waiting for viv"),
        Err(_) => {
            // SAFETY: kill(2) on the pid of the child this test started.
            unsafe { libc::kill(id as i32, libc::SIGKILL) };
            panic!("viv {args:?} still running after {secs} s");
        }
    }
}

fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("viv-hostile-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn a_fifo_as_the_disk_is_refused_at_once() {
    let dir = scratch("fifo");
    let fifo = dir.join("disk.fifo");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: mkfifo(3) with a NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let fifo_arg = fifo.to_str().unwrap();
    // The system image checks its root file system first; hello has no
    // default disk, so the device opens the file directly.
    let runs: [&[&str]; 2] =
        [&["exec", "--disk", fifo_arg, "true"], &["run", "--image", "hello", "--timeout", "20", "--disk", fifo_arg]];
    for args in runs {
        let image = args[0];
        let out = viv_within(args, 60);
        let err = text(&out.stderr);
        assert_ne!(out.status.code(), Some(0), "{image}: stderr:\n{err}");
        assert!(err.contains("disk.fifo") && err.contains("not a regular file"), "{image}: stderr:\n{err}");
        assert_eq!(err.trim().lines().count(), 1, "{image}: one line:\n{err}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// An `echo` of `n` bytes of command line whose last character is 'é' (two
/// bytes), so a cut at most limits falls inside it.
fn long_echo(n: usize) -> String {
    let word = "x".repeat(n - "echo ".len() - 'é'.len_utf8());
    format!("echo {word}é")
}

#[test]
fn a_command_viv_accepts_reaches_the_shell() {
    // 1,900 bytes of command: the kernel command line still fits, so the
    // shell must run it (init used to fail: "cannot run /bin/sh: EDOM").
    let command = long_echo(1900);
    let out = viv(&["exec", "--timeout", "60", &command]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "stderr:\n{}", text(&out.stderr));
    assert!(stdout.lines().any(|l| l == &command["echo ".len()..]), "stdout:\n{stdout}");
}

#[test]
fn every_booting_subcommand_refuses_an_over_long_command_line_in_one_line() {
    let command = long_echo(2100);
    let append = format!("x={}", "é".repeat(1100));
    let dir = scratch("long-line");
    let trace_out = dir.join("t.jsonl");
    let runs: [&[&str]; 4] = [
        &["exec", "--timeout", "60", &command],
        &["count", "--timeout", "60", &command],
        &["trace", "--timeout", "60", "--out", trace_out.to_str().unwrap(), &command],
        &["run", "--timeout", "60", "--append", &append],
    ];
    for args in runs {
        let out = viv_within(args, 60);
        let err = text(&out.stderr);
        assert!(!matches!(out.status.code(), Some(0) | None), "{}: status {:?}\n{err}", args[0], out.status);
        assert!(err.contains("kernel command line") && err.contains("2048"), "{}: stderr:\n{err}", args[0]);
        assert_eq!(err.trim().lines().count(), 1, "{}: one line:\n{err}", args[0]);
        assert!(text(&out.stdout).trim().is_empty(), "{}: nothing ran:\n{}", args[0], text(&out.stdout));
    }
    assert!(!trace_out.exists(), "no trace of a run that did not happen");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `/bin/echo` of the system image's disk with its ELF entry point
/// replaced by `entry`, written to the disk as `/bin/NAME`.
fn plant_echo_with_entry(disk: &std::path::Path, name: &str, entry: u64) {
    let mut elf = common::debugfs_cat(disk, "/bin/echo");
    assert_eq!(&elf[..4], b"\x7fELF", "/bin/echo on the disk");
    elf[24..32].copy_from_slice(&entry.to_le_bytes());
    let host = disk.with_file_name(name);
    std::fs::write(&host, &elf).unwrap();
    common::debugfs_write(disk, &host, "/bin", name);
}

/// The first PT_LOAD segment of `elf` that is not executable: its address.
fn data_segment(elf: &[u8]) -> u64 {
    let u64_at = |at: usize| u64::from_le_bytes(elf[at..at + 8].try_into().unwrap());
    let u32_at = |at: usize| u32::from_le_bytes(elf[at..at + 4].try_into().unwrap());
    let (phoff, phnum) = (u64_at(32) as usize, u16::from_le_bytes([elf[56], elf[57]]) as usize);
    (0..phnum)
        .map(|i| phoff + i * 56)
        .find(|&ph| u32_at(ph) == 1 && u32_at(ph + 4) & 1 == 0)
        .map(|ph| u64_at(ph + 16))
        .expect("a data segment")
}

#[test]
fn exec_refuses_an_entry_point_outside_the_program_code() {
    let dir = scratch("entry");
    let disk = dir.join("disk.img");
    let out = viv(&["exec", "--disk", disk.to_str().unwrap(), "true"]);
    assert_eq!(out.status.code(), Some(0), "making the disk: {}", text(&out.stderr));
    let data = data_segment(&common::debugfs_cat(&disk, "/bin/echo"));
    plant_echo_with_entry(&disk, "noncanon", 0x0000_8000_0000_0000);
    plant_echo_with_entry(&disk, "kernelent", 0xFFFF_8000_0000_0000);
    plant_echo_with_entry(&disk, "dataent", data);
    let command = "noncanon a; echo s1 $?; kernelent b; echo s2 $?; dataent c; echo s3 $?; echo after";
    let out = viv(&["exec", "--timeout", "120", "--disk", disk.to_str().unwrap(), command]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "the kernel survives:\n{stdout}\n{}", text(&out.stderr));
    for (program, line) in [("noncanon", "s1 "), ("kernelent", "s2 "), ("dataent", "s3 ")] {
        assert!(stdout.contains(&format!("{program}: ")), "the shell reports the refused exec:\n{stdout}");
        let status = stdout.lines().find_map(|l| l.strip_prefix(line)).expect(line);
        assert_ne!(status, "0", "{program}:\n{stdout}");
    }
    assert!(stdout.lines().any(|l| l == "after"), "{stdout}");
    common::assert_fsck_clean(&disk);
    std::fs::remove_dir_all(&dir).unwrap();
}
