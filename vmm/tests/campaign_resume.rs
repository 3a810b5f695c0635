//! Issue 13: a campaign never loses a result. `viv campaign` appends each
//! finished experiment to `experiments.jsonl`; a run stopped by `^C` writes
//! the reports of what finished and says how to resume; a run killed with
//! SIGKILL keeps its journal; `--resume DIR` runs only what is missing and
//! ends with the reports of an uninterrupted run.

mod common;

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const VIV: &str = env!("CARGO_BIN_EXE_viv");

fn viv(args: &[&str]) -> Output {
    Command::new(VIV).args(args).output().expect("running viv")
}

fn spawn(args: &[&str]) -> Child {
    Command::new(VIV).args(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("running viv")
}

/// Results finished so far in the journal of `dir` (whole lines after the header).
fn journaled(dir: &Path) -> usize {
    let text = std::fs::read_to_string(dir.join("experiments.jsonl")).unwrap_or_default();
    text.matches('\n').count().saturating_sub(1)
}

/// Waits until the journal of `dir` holds at least `n` results.
fn wait_for_results(dir: &Path, n: usize, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(600);
    while journaled(dir) < n {
        assert!(child.try_wait().unwrap().is_none(), "the campaign ended before {n} results");
        assert!(Instant::now() < deadline, "no {n} results in time");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn signal(child: &Child, sig: i32) {
    // SAFETY: kill(2) on the pid of a child this test started.
    assert_eq!(unsafe { libc::kill(child.id() as i32, sig) }, 0);
}

fn results_without_timing(dir: &Path) -> serde_json::Value {
    let value = serde_json::from_str(&std::fs::read_to_string(dir.join("results.json")).unwrap()).unwrap();
    vmm::campaign::report::without_timing(value)
}

#[test]
fn an_interrupted_or_killed_campaign_resumes_to_the_same_reports() {
    let dir = common::scratch_dir("resume");
    let text = "name = \"resume\"\nimage = \"system\"\nworkload = \"echo tiny > /tmp/f; cat /tmp/f\"\n\
                experiments = 6\nseed = 7\ntimeout = 120\n\n[[fault]]\ntargets = [\"tty\"]\n\
                actions = [\"crash\", \"hang\"]\nnth = 1\n\n[expect]\nexit_status = -1\n";
    let file = dir.join("resume.toml");
    std::fs::write(&file, text).unwrap();
    let file = file.to_str().unwrap();
    let (whole, part) = (dir.join("whole"), dir.join("part"));
    let out = viv(&["campaign", file, "--out", whole.to_str().unwrap(), "--jobs", "1"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(journaled(&whole), 6);

    // ^C after the first result: a clean stop with the reports so far.
    let mut child = spawn(&["campaign", file, "--out", part.to_str().unwrap(), "--jobs", "1"]);
    wait_for_results(&part, 1, &mut child);
    signal(&child, libc::SIGINT);
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(&format!("resume with: viv campaign {file} --resume {}", part.display())), "{stderr}");
    let stopped = results_without_timing(&part);
    let done = stopped["experiments"].as_array().unwrap().len();
    assert!((1..6).contains(&done), "{done} experiments in the reports of the stopped run");

    // Resumed, then killed outright after one more result.
    let mut child = spawn(&["campaign", file, "--resume", part.to_str().unwrap(), "--jobs", "1"]);
    wait_for_results(&part, done + 1, &mut child);
    signal(&child, libc::SIGKILL);
    child.wait().unwrap();
    let kept = journaled(&part);
    assert!(kept > done && kept < 6, "{kept} results kept after SIGKILL");

    // Resumed to the end: the reports of the uninterrupted run.
    let out = viv(&["campaign", file, "--resume", part.to_str().unwrap(), "--jobs", "1"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(results_without_timing(&part), results_without_timing(&whole));
    assert_eq!(journaled(&part), 6);

    // A journal of another campaign is refused, in one line.
    let other = dir.join("other.toml");
    std::fs::write(&other, text.replace("seed = 7", "seed = 8")).unwrap();
    let out = viv(&["campaign", other.to_str().unwrap(), "--resume", part.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!((out.status.code(), stderr.lines().count()), (Some(120), 1), "{stderr}");
    assert!(stderr.contains("different campaign"), "{stderr}");
    std::fs::remove_dir_all(&dir).unwrap();
}
