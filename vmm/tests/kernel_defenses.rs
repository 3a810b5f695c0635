//! The kernel's defenses against IPC threats, each shown twice: refusing
//! its attack in an ordinary boot, and letting exactly that attack through
//! when switched off with `viv.weaken=NAME` (the negative control that
//! proves the first run could have failed). Attackers: `attack_kernel`
//! (images/kernel-attacks) and `attack_tty`, the console driver's exact
//! privileges (images/threats). Also: every refusal leaves a trace record
//! with its real result.

mod common;

use std::time::Duration;

use abi::syscall::{KernelCall, Trap};
use abi::trace::Kind;
use abi::Error;
use vmm::observe::analysis::Analysis;
use vmm::observe::decode::decode;
use vmm::observe::TraceMode;
use vmm::vstate::config::RunConfig;
use vmm::Exit;

/// The defenses `attack_kernel` attacks, in its order (frame reuse has its
/// own test in driver_churn.rs).
const ATTACKED: [&str; 10] = [
    abi::weaken::TRAP_MASK,
    abi::weaken::SEND_MASK,
    abi::weaken::KERNEL_CALL_MASK,
    abi::weaken::SOURCE_STAMP,
    abi::weaken::NOTIFY_TYPE,
    abi::weaken::ENDPOINT_GENERATION,
    abi::weaken::DEADLOCK,
    abi::weaken::POINTER_CHECK,
    abi::weaken::GRANT_CHECK,
    abi::weaken::SENDA_BOUND,
];

/// Boots kernel-attacks with `append`; returns (console, per attack in
/// ATTACKED order: whether it succeeded).
fn attack(append: &str) -> (String, Exit, Vec<bool>) {
    let outcome = common::boot("kernel-attacks", append, 60.0);
    let console = outcome.console_text().replace("\r\n", "\n");
    let results = ATTACKED
        .iter()
        .map(|name| {
            let refused = format!("attack_kernel: {name} refused: ");
            let succeeded = format!("attack_kernel: {name} SUCCEEDED: ");
            match console.lines().find(|l| l.starts_with(&refused) || l.starts_with(&succeeded)) {
                Some(line) => line.starts_with(&succeeded),
                None => panic!("no line for {name} (append {append:?}); console:\n{console}"),
            }
        })
        .collect();
    (console, outcome.exit, results)
}

#[test]
fn every_kernel_defense_refuses_its_attack() {
    let (console, exit, results) = attack("");
    assert_eq!(results, [false; 10], "console:\n{console}");
    assert_eq!(exit, Exit::PowerOff(0), "console:\n{console}");
    assert!(console.contains("attack_kernel: 0 attacks succeeded, 0 untested"), "{console}");
}

#[test]
fn each_weakened_kernel_defense_lets_exactly_its_attack_through() {
    for (i, name) in ATTACKED.iter().enumerate() {
        let (console, exit, results) = attack(&format!("viv.weaken={name}"));
        let mut expected = [false; 10];
        expected[i] = true;
        assert_eq!(results, expected, "viv.weaken={name}; console:\n{console}");
        assert_eq!(exit, Exit::PowerOff(1), "viv.weaken={name}; console:\n{console}");
    }
}

/// Runs `attack_tty` from the shell of the threats image.
fn attack_tty(weaken: &str) -> (String, Exit) {
    let outcome = common::boot("threats", &format!("{weaken} -- attack_tty"), 90.0);
    (outcome.console_text().replace("\r\n", "\n"), outcome.exit)
}

const TTY_ATTEMPTS: [&str; 4] = ["spawn", "kill rs", "kill ds", "poweroff"];

#[test]
fn the_console_driver_may_not_spawn_kill_rs_or_ds_or_power_off() {
    let (console, exit) = attack_tty("");
    for what in TTY_ATTEMPTS {
        let line = format!("attack_tty: {what} refused: CallDenied");
        assert!(console.lines().any(|l| l == line), "no {line:?}; console:\n{console}");
    }
    assert_eq!(exit, Exit::PowerOff(0), "console:\n{console}");
}

#[test]
fn without_the_kernel_call_mask_the_console_driver_kills_rs_and_powers_off() {
    let (console, exit) = attack_tty("viv.weaken=kcall_mask");
    assert!(console.lines().any(|l| l == "attack_tty: spawn SUCCEEDED"), "console:\n{console}");
    // The kill of RS went through: RS's death powers the machine off at
    // once with RS's status, killed (docs/servers-dying.md), before the
    // driver can say so. It took the whole system down.
    assert_eq!(exit, Exit::PowerOff(abi::syscall::EXIT_STATUS_KILLED), "console:\n{console}");
}

#[test]
fn refusals_leave_trace_records_with_their_real_results() {
    let mut config = RunConfig::for_image("kernel-attacks").unwrap();
    config.timeout = Some(Duration::from_secs(60));
    config.trace = Some(TraceMode::Lossless);
    let outcome = vmm::run(&config).unwrap();
    let console = outcome.console_text();
    assert_eq!(outcome.exit_status(), 0, "{console}");
    let log = outcome.trace.clone().expect("a trace");
    let decoded = decode(&log.raw);
    assert!(decoded.bad.is_empty() && decoded.missing == 0, "{:?} {}", decoded.bad, decoded.missing);
    let a = Analysis::new(&decoded.records, None);
    // (kind, primitive, destination, message type or 0, result) of every
    // record the attacker's refused calls left.
    let of_attacker: Vec<(Kind, u8, &str, u32, i32)> = a
        .records
        .iter()
        .zip(&a.names)
        .filter(|(r, (src, _))| src == "attack_kernel" && (r.kind == Kind::Refused || r.event.result < 0))
        .map(|(r, (_, dst))| (r.kind, r.event.primitive, dst.as_str(), r.event.mtype, r.event.result))
        .collect();
    let e = |e: Error| e.to_return() as i32;
    let (send, sendrec, notify, senda) = (Trap::Send as u8, Trap::SendRec as u8, Trap::Notify as u8, Trap::SendA as u8);
    let want: Vec<(Kind, u8, &str, u32, i32)> = vec![
        (Kind::Refused, notify, "attack_helper", 0, e(Error::TrapDenied)),
        (Kind::Refused, sendrec, "kt_echo", 0, e(Error::CallDenied)),
        // The refused kill is recorded with its refusal, not before it ran.
        (Kind::KernelCall, sendrec, "SYSTEM", KernelCall::Kill as u32, e(Error::CallDenied)),
        // A request typed as a notification: SENDREC and a SENDA entry.
        (Kind::Refused, sendrec, "attack_helper", 0, e(Error::Invalid)),
        (Kind::Refused, senda, "attack_helper", 0, e(Error::Invalid)),
        (Kind::Refused, send, "attack_helper", 0, e(Error::DeadSrcDst)),
        (Kind::Refused, send, "attack_helper", 0, e(Error::Locked)),
        (Kind::Refused, send, "attack_helper", 0, e(Error::Fault)),
        (Kind::Refused, senda, "NONE", 0, e(Error::Domain)),
        // An unknown trap: primitive 0, its number as the message type.
        (Kind::Refused, 0, "NONE", 42, e(Error::BadRequest)),
    ];
    assert_eq!(of_attacker, want, "console:\n{console}");
}
