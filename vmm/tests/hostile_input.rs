//! Hostile input to the host tool (issue 13): absurd command-line values,
//! edited campaign files, special files as disks, over-long command lines.
//! Each test runs the real `viv` binary and checks what it reports and how
//! it exits: a one-line error and a non-zero status, or a normal run.

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
