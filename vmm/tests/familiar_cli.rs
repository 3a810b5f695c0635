//! Issue 16: `viv` behaves like the tools its users already know (ssh,
//! docker, QEMU, make): piped input is not echoed, trailing words are the
//! command, `--out -` is stdout, `--disk --snapshot` leaves the file alone,
//! init's failures are told without `--log`, bad arguments are refused up
//! front in one line, and an empty shard is a success. Boots are few and
//! short: most checks need none.

mod common;

use std::io::Write as _;
use std::process::{Command, Output, Stdio};

const VIV: &str = env!("CARGO_BIN_EXE_viv");

fn viv(args: &[&str]) -> Output {
    Command::new(VIV).args(args).stdin(Stdio::null()).output().expect("running viv")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).replace("\r\n", "\n")
}

/// Asserts `out` is a one-line refusal (status 120) containing `what`.
fn assert_refused(out: &Output, what: &str) {
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(120), "stderr: {err}");
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    assert!(err.contains(what), "want {what:?} in: {err}");
}

/// Item 1 and 10: a pipe's bytes reach the command once (no TTY echo), and
/// words after the first are the command, as with ssh.
#[test]
fn piped_input_is_not_echoed_and_trailing_words_are_the_command() {
    let mut child = Command::new(VIV)
        .args(["exec", "--timeout", "60", "cat", ";", "echo", "hi", "there"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running viv");
    child.stdin.take().unwrap().write_all(b"a b\nc\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "a b\nc\nhi there\n");
}

/// Items 4 and 11: `--disk FILE --snapshot` serves FILE copy-on-write (its
/// bytes are the same afterwards); a disk whose `/bin/sh` is no program
/// makes init fail, which reaches stderr without `--log` with status 118;
/// too little memory and a directory as disk are refused before any boot.
#[test]
fn a_snapshot_disk_is_never_written_and_init_failures_are_told() {
    let dir = common::scratch_dir("familiar-disk");
    let disk = dir.join("disk.img");
    let image = vmm::image::embedded::find_image("system").unwrap();
    let sparse = vmm::devices::disk_image::default_for(image.archive).expect("the system image has a disk");
    vmm::devices::disk_image::write_disk(sparse, &disk).unwrap();
    let junk = dir.join("junk");
    std::fs::write(&junk, "not a program\n").unwrap();
    let requests = dir.join("requests");
    std::fs::write(&requests, format!("rm /bin/sh\nwrite {} /bin/sh\n", junk.display())).unwrap();
    let debugfs = Command::new(common::e2fs_tool("debugfs"))
        .args(["-w", "-f", requests.to_str().unwrap(), disk.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(debugfs.status.success(), "{}", text(&debugfs.stderr));
    let before = std::fs::read(&disk).unwrap();

    let out = viv(&["exec", "--timeout", "60", "--disk", disk.to_str().unwrap(), "--snapshot", "true"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(abi::platform::STATUS_INIT_FAILED as i32), "stderr: {err}");
    assert_eq!(err.trim(), "viv: init: cannot run /bin/sh: EINVAL (exit status 118)");
    assert!(std::fs::read(&disk).unwrap() == before, "--snapshot must not write the disk");

    assert_refused(&viv(&["exec", "--memory", "4", "true"]), "--memory 4: guest memory must be 8 to");
    assert_refused(&viv(&["exec", "--disk", dir.to_str().unwrap(), "true"]), "is a directory");
    let missing = dir.join("missing.img");
    assert_refused(&viv(&["exec", "--disk", missing.to_str().unwrap(), "--snapshot", "true"]), "--snapshot");
    assert!(!missing.exists(), "--snapshot creates no disk");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Item 6: a numeric parameter that is not a number is refused by the
/// host, and the guest program fails loudly when one gets through.
#[test]
fn bad_program_parameters_are_refused() {
    let out = viv(&["run", "--image", "pingpong", "--append", "pingpong.rounds=abc"]);
    assert_refused(&out, "pingpong.rounds=abc: pingpong.rounds takes a decimal number");
    assert_refused(&viv(&["exec", "--append", "viv.user=root", "true"]), "viv.user");
    // Past the host (the library boots what it is given): ping says why.
    let outcome = common::boot("pingpong", "pingpong.rounds=12x", 60.0);
    let console = outcome.console_text();
    assert!(console.contains("pingpong.rounds=12x: not a number"), "{console}");
    assert!(!console.contains("round trips OK"), "{console}");
}

/// Item 5: `--cause` is for charts only and must name a call of the
/// trace; the chart defaults to the user's command; `--list-causes`
/// lists the ids; `--out -` writes to stdout and creates no file `-`.
#[test]
fn trace_causes_are_checked_listed_and_drawn_for_the_users_command() {
    let dir = common::scratch_dir("familiar-trace");
    let out = viv(&["trace", "--format", "jsonl", "--cause", "3", "--out", "x", "true"]);
    assert_refused(&out, "--cause picks the system call a chart draws; use it with --format msc");

    let run = Command::new(VIV)
        .current_dir(&dir)
        .args(["trace", "--timeout", "60", "--format", "msc", "--list-causes", "--out", "-", "cat", "/README"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let (stdout, stderr) = (text(&run.stdout), text(&run.stderr));
    assert_eq!(run.status.code(), Some(0), "{stderr}");
    assert!(!dir.join("-").exists(), "--out - is stdout, not a file");
    assert!(stderr.contains("written to stdout"), "{stderr}");
    let default = stdout.lines().find(|l| l.ends_with("(msc default)")).expect("the default is marked");
    let words: Vec<&str> = default.split_whitespace().collect();
    assert_eq!((words[1], words[2]), ("command", "cat"), "the user's command, not init's exec: {default}");
    assert!(stdout.lines().any(|l| l.contains(" init ") && l.contains(" exec ")), "{stdout}");
    let svg = &stdout[stdout.find("<svg").expect("the chart follows the list")..];
    assert!(svg.contains(&format!("cause {}: ", words[0])) && svg.contains(" by cat "), "{svg}");

    let unknown = viv(&["trace", "--timeout", "60", "--format", "msc", "--cause", "999999", "--out", "-", "true"]);
    assert_refused(&unknown, "no system call has cause id 999999 in this trace");
    assert!(text(&unknown.stdout).is_empty(), "no chart for an unknown id");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Item 9: a `--timeout` that expires is called a timeout by every
/// subcommand, not "the command exited with status 124".
#[test]
fn an_expired_timeout_is_reported_as_a_timeout() {
    let out = viv(&["count", "--image", "spin", "--timeout", "1", "true"]);
    assert_eq!(out.status.code(), Some(abi::platform::STATUS_TIMEOUT));
    let report = text(&out.stdout);
    assert!(report.contains("warning: timeout: guest still running after 1s"), "{report}");
    assert!(!report.contains("exited with status"), "{report}");
}

/// Items 2 and 13: a shard with no experiments succeeds and says so
/// (without booting), merge takes it beside the shard that ran, and a run
/// without a terminal prints progress lines (none with `--quiet`).
#[test]
fn an_empty_shard_succeeds_and_merges() {
    let dir = common::scratch_dir("familiar-shard");
    let file = dir.join("one.toml");
    std::fs::write(
        &file,
        "name = \"one\"\nimage = \"system\"\nworkload = \"echo one\"\nexperiments = 1\nseed = 5\ntimeout = 120\n\n\
         [[fault]]\ntargets = [\"tty\"]\nactions = [\"crash\"]\nnth = 1\n\n[expect]\nexit_status = -1\nmin_injected = 0\n",
    )
    .unwrap();
    let (file, a, b, all) = (file.to_str().unwrap(), dir.join("a"), dir.join("b"), dir.join("all"));
    let empty = viv(&["campaign", file, "--shard", "2/2", "--out", b.to_str().unwrap()]);
    let err = text(&empty.stderr);
    assert_eq!(empty.status.code(), Some(0), "{err}");
    assert!(err.contains("shard 2/2 is empty (the campaign has 1 experiments)"), "{err}");

    let ran = viv(&["campaign", file, "--shard", "1/2", "--out", a.to_str().unwrap()]);
    let err = text(&ran.stderr);
    assert_eq!(ran.status.code(), Some(0), "{err}");
    assert!(err.contains("viv campaign: 1/1 experiments done ("), "a progress line without a terminal: {err}");
    let merged = viv(&["campaign", "merge", a.to_str().unwrap(), b.to_str().unwrap(), "--out", all.to_str().unwrap()]);
    assert_eq!(merged.status.code(), Some(0), "{}", text(&merged.stderr));
    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(all.join("results.json")).unwrap()).unwrap();
    assert_eq!(results["experiments"].as_array().unwrap().len(), 1);

    let quiet = viv(&["campaign", file, "--shard", "2/2", "--quiet", "--out", b.to_str().unwrap()]);
    assert!(!text(&quiet.stderr).contains("experiments done"));
    assert_refused(&viv(&["campaign", file, "--out", "-"]), "--out -:");
    std::fs::remove_dir_all(&dir).unwrap();
}
