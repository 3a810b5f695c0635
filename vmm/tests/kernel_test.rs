//! Runs the in-guest kernel test suite (`kernel-test` image) and requires
//! every case to report ok, under KVM (trap entry on software-KVM hosts)
//! and under QEMU (syscall entry).

mod common;

use vmm::vstate::outcome::Exit;

/// Every case the suite must report, in the order it runs them.
const CASES: &[&str] = &[
    "user_send_trap_denied",
    "user_notify_trap_denied",
    "user_senda_trap_denied",
    "user_forbidden_destination",
    "user_forbidden_kernel_call",
    "unknown_kernel_call",
    "user_bad_message_pointer",
    "sendrec_round_trip",
    "source_stamped_by_kernel",
    "sendrec_notify_type_refused",
    "notify_does_not_interrupt_sendrec",
    "notify_delivered_first",
    "notify_coalesces",
    "receive_specific_source",
    "senders_fifo",
    "sendnb_not_ready",
    "deadlock_two_senders",
    "deadlock_three_cycle",
    "cycle_members_unaffected",
    "senda_delivers_and_writes_back",
    "senda_dead_destination",
    "senda_delivered_once",
    "senda_pends_while_busy",
    "senda_delivered_on_receive",
    "senda_too_large",
    "senda_bad_table",
    "senda_read_only_table",
    "senda_notify_type_refused",
    "send_bad_pointer",
    "receive_kernel_pointer",
    "unknown_trap",
    "kill_process",
    "blocked_receiver_gets_src_died",
    "blocked_sender_gets_dst_died",
    "stale_endpoint_refused",
    "reused_slot_new_generation",
    "set_grant_table",
    "safecopy_from_grant",
    "safecopy_to_grant",
    "safecopy_wrong_grantee",
    "safecopy_out_of_range",
    "safecopy_wrong_rights",
    "safecopy_revoked_entry",
    "safecopy_bad_grant_id",
    "safecopy_after_revoke",
    "indirect_table",
    "indirect_grant_copy_from",
    "indirect_grant_copy_to",
    "indirect_outside_window",
    "indirect_window_beyond_target",
    "indirect_wrong_rights",
    "indirect_read_only_entry",
    "indirect_target_not_to_granter",
    "indirect_invalid_target",
    "indirect_revoked_target",
    "indirect_of_indirect",
    "indirect_wrong_grantee",
    "devio_allowed_port",
    "devio_denied_port",
    "irq_allowed_line",
    "irq_denied_line",
    "set_alarm",
    "alarm_notification",
    "proc_info_lists_processes",
    "fork_returns_to_both",
    "cow_isolation",
    "reap_reports_status",
    "frames_released",
    "zombie_endpoint_refused",
    "exec_passes_args",
    "dev_out_string_writes",
    "map_device_denied",
    "map_device_reads_magic",
    "alloc_dma_contiguous",
    "grant_phys_ranges",
];

/// The line `dev_out_string_writes` writes straight to the UART.
const DEV_OUT_LINE: &str = "kt-dev-out: written with rep outsb";

fn check_report(console: &str) {
    let ok: Vec<&str> = console.lines().filter_map(|l| l.strip_prefix("ktest: ")?.strip_suffix(" ok")).collect();
    let failed: Vec<&str> = console.lines().filter(|l| l.contains(" FAILED")).collect();
    assert!(failed.is_empty(), "failed cases:\n{}", failed.join("\n"));
    let missing: Vec<&&str> = CASES.iter().filter(|c| !ok.contains(c)).collect();
    assert!(missing.is_empty(), "cases that did not report ok: {missing:?}\nconsole:\n{console}");
    assert_eq!(ok, CASES, "cases ran in another order or more than once");
    assert!(console.lines().any(|l| l == DEV_OUT_LINE), "no line {DEV_OUT_LINE:?} from DevOutString");
    let summary = format!("ktest: summary: {} cases passed, 0 cases failed", CASES.len());
    assert!(console.lines().any(|l| l == summary), "no summary line {summary:?}");
}

#[test]
fn every_kernel_test_case_passes_under_kvm() {
    let outcome = common::boot("kernel-test", "", 120.0);
    check_report(&outcome.console_text());
    assert_eq!(outcome.exit, Exit::PowerOff(0));
}

#[test]
fn every_kernel_test_case_passes_under_qemu() {
    let (console, status) = common::boot_qemu("kernel-test", "");
    check_report(&console);
    assert_eq!(status, 0);
}
