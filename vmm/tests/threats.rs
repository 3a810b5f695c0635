//! `viv threats` end to end on one row of each shape: the defense holds
//! (with the trace record that shows it and an intact workload) and its
//! negative control shows the attack getting through. The whole table
//! runs in CI as `viv threats` (.ci/run).

use vmm::threats::{run_row, Expect, THREATS};

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
