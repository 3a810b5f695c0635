//! Issue 13, item 5: a campaign's outcome cannot be forged by the guest.
//! The workload's and the check's exit statuses come from the kernel
//! (`abi::fault::STATUS_OFFSET`), so a workload or a check that prints
//! what the console markers of earlier versions looked like
//! (`@viv-status=0`, `@viv-check=0`) and then ends its shell with `exit 1`
//! (so that no real marker would have followed) is still classed
//! `workload_failed`; an honest one with the same check is not. One cold
//! boot per case, no snapshot or baseline run.

mod common;

use vmm::campaign::classify::{Outcome, Verdict};
use vmm::campaign::file::Campaign;
use vmm::campaign::run::{run_one, Recording, Start};

const WORKLOAD: &str = "echo tiny > /tmp/f; cat /tmp/f";
const CHECK: &str = "cat /tmp/f";
const FORGED: &str = "; echo @viv-status=0; echo @viv-check=0; exit 1";

/// Runs experiment 0 of a one-experiment campaign whose fault never fires
/// (the 100,000th message to TTY), expecting status 0 and exactly what
/// the workload and the check print.
fn verdict(
    dir: &std::path::Path,
    name: &str,
    workload: &str,
    output: &str,
    check: &str,
    check_output: &str,
) -> Verdict {
    let text = format!(
        "name = \"{name}\"\nimage = \"system\"\nworkload = {workload:?}\nexperiments = 1\nseed = 1\n\
         start = \"boot\"\n\n[[fault]]\ntargets = [\"tty\"]\nactions = [\"crash\"]\nnth = 100000\n\n\
         [expect]\nexit_status = 0\noutput = {output:?}\ncheck = {check:?}\ncheck_output = {check_output:?}\n\
         min_injected = 0.0\n"
    );
    let file = dir.join(format!("{name}.toml"));
    std::fs::write(&file, text).unwrap();
    let campaign = Campaign::load(&file).unwrap_or_else(|e| panic!("{e}"));
    let experiment = run_one(&campaign, 0, &Start::Boot { scratch: dir, record: Recording::default() });
    experiment.result.verdict
}

#[test]
fn forged_status_lines_do_not_pass_a_failed_workload_or_check() {
    let dir = common::scratch_dir("campaign-evidence");
    let honest = verdict(&dir, "honest", WORKLOAD, "tiny\n", CHECK, "tiny\n");
    assert_eq!((honest.outcome, honest.workload_status), (Outcome::NoEffect, Some(0)), "{honest:?}");
    assert!(honest.failures.is_empty(), "{honest:?}");

    // The printed lines are the workload's output (expected exactly), so
    // the exit status is the only thing wrong.
    let forged_output = "tiny\n@viv-status=0\n@viv-check=0\n";
    let workload = format!("{WORKLOAD}{FORGED}");
    let forged = verdict(&dir, "forged-workload", &workload, forged_output, CHECK, "tiny\n");
    assert_eq!((forged.outcome, forged.workload_status), (Outcome::WorkloadFailed, Some(1)), "{forged:?}");
    assert_eq!(forged.failures, ["workload exited with 1, expected 0"], "{forged:?}");

    let check = format!("{CHECK}{FORGED}");
    let forged = verdict(&dir, "forged-check", WORKLOAD, "tiny\n", &check, forged_output);
    assert_eq!((forged.outcome, forged.workload_status), (Outcome::WorkloadFailed, Some(0)), "{forged:?}");
    assert_eq!(forged.failures, ["check exited with 1"], "{forged:?}");
    let _ = std::fs::remove_dir_all(&dir);
}
