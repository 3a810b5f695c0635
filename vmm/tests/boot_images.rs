//! Boots the real guest images under KVM (and QEMU) and checks what the
//! guest did: its console output and its power-off status.

mod common;

use common::{boot, boot_qemu, normalized_lines};
use vmm::vstate::config::entry_word;
use vmm::vstate::outcome::Exit;

#[test]
fn hello_prints_its_line_and_powers_off_with_status_0() {
    let outcome = boot("hello", "", 60.0);
    let console = outcome.console_text();
    assert_eq!(outcome.exit, Exit::PowerOff(0), "console:\n{console}");
    assert_eq!(outcome.exit_status(), 0);
    let config = vmm::vstate::config::RunConfig::for_image("hello").unwrap();
    let entry = entry_word(config.entry_kind());
    let expected = format!("Hello from Vivarium: user mode, {}{} entry", &entry[..1].to_uppercase(), &entry[1..]);
    assert!(console.lines().any(|l| l == expected), "missing {expected:?} in:\n{console}");
    assert!(console.starts_with("Vivarium kernel: 1 boot processes,"), "console:\n{console}");
    // The kernel wrote the first-user-instruction mark before entering
    // user mode, and it emulated kernel instructions to get there.
    let mark = outcome.mark(abi::platform::MARK_FIRST_USER).expect("mark 0");
    assert!(
        mark.stats.insn_emulation().unwrap_or(0) > 0 || !matches!(config.entry_kind(), abi::layout::EntryKind::Trap)
    );
}

#[test]
fn pingpong_completes_every_round_trip_with_the_right_reply() {
    let outcome = boot("pingpong", "pingpong.rounds=300", 120.0);
    let console = outcome.console_text();
    assert_eq!(outcome.exit, Exit::PowerOff(0), "console:\n{console}");
    let line = console.lines().find(|l| l.starts_with("ping: ")).expect("ping's report");
    assert!(line.starts_with("ping: 300 round trips OK, "), "{line}");
    assert!(!console.contains("wrong reply") && !console.contains("failed"), "console:\n{console}");
    let start = outcome.mark(abi::platform::MARK_BENCH_START).expect("start mark");
    let end = outcome.mark(abi::platform::MARK_BENCH_END).expect("end mark");
    assert!(end.time_ns > start.time_ns);
}

#[test]
fn faulting_processes_are_killed_and_the_system_goes_on() {
    let outcome = boot("faults", "", 120.0);
    let console = outcome.console_text();
    assert_eq!(outcome.exit, Exit::PowerOff(0), "console:\n{console}");
    let position = |needle: &str| console.find(needle).unwrap_or_else(|| panic!("missing {needle:?} in:\n{console}"));
    let null = position("kernel: process nullderef (0.0) killed: page fault at address 0x0 ");
    let bp = position("kernel: process breakpoint (1.0) killed: breakpoint (rip ");
    let finished = position("survivor: finished");
    assert!(null < finished && bp < finished);
    assert!(!console.contains("must not happen"), "console:\n{console}");
}

#[test]
fn a_spinning_guest_is_stopped_by_the_timeout() {
    let started = std::time::Instant::now();
    let outcome = boot("spin", "", 1.0);
    assert_eq!(outcome.exit, Exit::Timeout);
    assert_eq!(outcome.exit_status(), abi::platform::STATUS_TIMEOUT);
    assert!(outcome.console_text().contains("spin: spinning forever"));
    assert!(started.elapsed().as_secs_f64() < 10.0);
}

#[test]
fn viv_run_reports_a_timeout_with_its_status_and_one_line() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_viv"))
        .args(["run", "--image", "spin", "--timeout", "1"])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(abi::platform::STATUS_TIMEOUT));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "stderr: {stderr}");
    assert!(stderr.contains("124"), "stderr: {stderr}");
    assert!(String::from_utf8_lossy(&output.stdout).contains("spin: spinning forever"));
}

#[test]
fn viv_run_returns_the_guest_status_and_refuses_unknown_images() {
    let viv = env!("CARGO_BIN_EXE_viv");
    let output = std::process::Command::new(viv).args(["run", "--image", "hello", "--timeout", "60"]).output().unwrap();
    assert_eq!(output.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&output.stdout).contains("Hello from Vivarium"));
    let output = std::process::Command::new(viv).args(["run", "--image", "nosuch"]).output().unwrap();
    assert_eq!(output.status.code(), Some(abi::platform::STATUS_HOST_ERROR));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "stderr: {stderr}");
    assert!(stderr.contains("nosuch") && stderr.contains("hello"), "stderr: {stderr}");
}

#[test]
fn hello_and_pingpong_say_the_same_under_qemu_with_the_syscall_entry() {
    for (image, append) in [("hello", ""), ("pingpong", "pingpong.rounds=200")] {
        let kvm = boot(image, append, 120.0);
        assert_eq!(kvm.exit, Exit::PowerOff(0));
        let (qemu_console, qemu_status) = boot_qemu(image, append);
        assert_eq!(qemu_status, 0, "QEMU console:\n{qemu_console}");
        assert!(qemu_console.contains("Syscall entry"), "QEMU must use the syscall entry:\n{qemu_console}");
        assert_eq!(normalized_lines(&kvm.console_text()), normalized_lines(&qemu_console), "{image}");
    }
}
