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
