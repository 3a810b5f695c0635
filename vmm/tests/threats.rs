//! `viv threats` end to end on one row of each shape: the defense holds
//! (with the trace record that shows it and an intact workload) and its
//! negative control shows the attack getting through. The whole table
//! runs in CI as `viv threats` (.ci/run).

use vmm::threats::{run_row, Expect, THREATS};

mod common;

fn row(name: &str) -> &'static vmm::threats::Threat {
    THREATS.iter().find(|t| t.name == name).unwrap_or_else(|| panic!("no row {name}"))
}

#[test]
fn a_server_refusal_row_passes_with_its_control() {
    let threat = row("service-control/user");
    assert!(matches!(threat.defended, Expect::LineAndRefusal(..)));
    let result = run_row(threat, 1);
    assert!(result.passed(), "{result:#?}");
    assert_eq!(result.defended.workload_ok, Some(true));
    assert!(!result.defended.records.is_empty(), "no evidence: {result:#?}");
    assert!(result.control.observed.contains("attack-got-through"), "{result:#?}");
}

#[test]
fn a_kernel_refusal_row_passes_with_its_control() {
    let threat = row("forbidden-primitive/user");
    let result = run_row(threat, 1);
    assert!(result.passed(), "{result:#?}");
    assert_eq!(result.defended.observed, "defended: ETRAPDENIED");
    assert!(result.control.observed.starts_with("succeeded"), "{result:#?}");
}

#[test]
fn the_fuzzer_leaves_the_system_whole() {
    let result = vmm::threats::fuzz::run(7).expect("fuzz run");
    assert!(result.ok, "{result:#?}");
    assert_eq!(result.summaries.len(), 2, "{result:#?}");
    assert_eq!(result.fsck_clean, Some(true));
}

#[test]
fn a_reply_not_taken_is_dropped_and_pm_goes_on_and_without_sendnb_pm_is_stuck() {
    let result = run_row(row("reply-not-taken/driver"), 1);
    assert!(result.passed(), "{result:#?}");
    assert!(result.defended.observed.contains("went on"), "{result:#?}");
    // The evidence is PM's refused SENDNB to the attacker's child.
    assert!(!result.defended.records.is_empty(), "{result:#?}");
    assert_eq!(result.control.workload_ok, None);
    assert!(result.control.observed.contains("workload failed") || result.control.observed == "hung", "{result:#?}");
}

#[test]
fn a_call_blocked_on_a_dying_peer_ends_with_an_error_and_without_the_wakeup_hangs() {
    let result = run_row(row("peer-death/driver"), 1);
    assert!(result.passed(), "{result:#?}");
    assert_eq!(result.defended.observed, "defended: EDSTDIED");
    assert!(!result.defended.records.is_empty(), "{result:#?}");
    assert_eq!(result.control.observed, "hung", "{result:#?}");
}

#[test]
fn a_deaf_console_driver_cannot_block_vfs_but_a_blocking_send_to_it_does() {
    let result = run_row(row("deaf-driver/driver"), 1);
    assert!(result.passed(), "{result:#?}");
    assert_eq!(result.defended.workload_ok, Some(true));
    // A complaint to RS and the driver's new incarnation.
    assert!(result.defended.records.len() >= 2, "{result:#?}");
    assert!(result.control.problems.is_empty(), "{result:#?}");
}

#[test]
fn a_client_that_never_takes_its_replies_loses_only_its_own_and_the_driver_says_so() {
    // The row's defended run, with blk's log: of the 130 replies, the
    // client's share of the queue (48) waits, the other 82 are refused
    // and reported one by one, and blk serves the file system throughout.
    let dir = common::scratch_dir("reply-flood");
    let append = format!(
        "{}=1000 -- attack_disk reply-flood; echo after-the-flood > /home/x; cat /home/x",
        vmm::threats::USER_KEY
    );
    let config = vmm::threats::stage::experiment_config("threats", dir.join("disk.img"), &append).unwrap();
    let outcome = vmm::run(&config).expect("the VMM runs the guest");
    let console = outcome.console_text();
    let log = String::from_utf8_lossy(outcome.log.as_deref().unwrap_or_default()).into_owned();
    assert_eq!(outcome.command_status, Some(0), "{console}\n{log}");
    assert!(console.contains("attack: reply-flood: defended: blk kept serving"), "{console}");
    assert!(console.lines().any(|l| l.trim_end() == "after-the-flood"), "{console}");
    let lost: Vec<&str> = log.lines().filter(|l| l.starts_with("blk: the reply to request ")).collect();
    assert_eq!(lost.len(), 82, "{log}");
    assert!(lost.iter().all(|l| l.ends_with(" is lost: EMFILE")), "{lost:?}");
    assert_eq!(log.lines().filter(|l| l.starts_with("rs: started blk (ep ")).count(), 1, "blk restarted:\n{log}");
}
