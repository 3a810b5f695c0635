//! SWIFI (issue 7): each MINIX fault type applied at a Stop to pong's code
//! in the pingpong image changes pong's text at the chosen address exactly
//! as documented (`vmm::inject::swifi::mutate`), as read back from guest memory at
//! the end of the run, inside one of pong's functions (checked against
//! pong's ELF apart from the injector's own code map); the same seed gives
//! the same mutation; and the run ends in a classified way (the VMM does
//! not fail).

mod common;

use std::time::Duration;

use abi::fault::{Action, Rule};
use iced_x86::{Mnemonic, OpKind};
use vmm::inject::fault::FaultPlan;
use vmm::inject::swifi::mutate::decode_one;
use vmm::inject::swifi::{FaultType, Mutation, Scope, SwifiSpec};
use vmm::{Exit, RunConfig, RunOutcome};

const PONG: u8 = 0;
const PING: u8 = 1;
const PING_TYPE: u32 = 1;

fn run(kind: FaultType, seed: u64) -> RunOutcome {
    let mut config = RunConfig::for_image("pingpong").unwrap();
    config.append = "pingpong.rounds=20".into();
    config.timeout = Some(Duration::from_secs(5));
    let mut stop = Rule::new(Action::Stop);
    (stop.source, stop.destination, stop.mtype, stop.nth) = (PING, PONG, PING_TYPE, 3);
    config.fault_plan = Some(FaultPlan { seed: 1, rules: vec![stop] });
    config.deterministic = true;
    config.swifi = Some(SwifiSpec { kind, seed });
    vmm::run(&config).unwrap()
}

fn bits_changed(m: &Mutation) -> u32 {
    m.before.iter().zip(&m.after).map(|(a, b)| (a ^ b).count_ones()).sum()
}

fn check(kind: FaultType, m: &Mutation) {
    assert_eq!(m.error, None, "{m:?}");
    assert_eq!(m.program, "pong");
    assert!((abi::layout::USER_BASE..abi::layout::KIP_DATA).contains(&m.address), "{m:?}");
    assert_eq!(m.final_bytes, m.after, "memory read back at the end: {m:?}");
    assert_eq!(m.before.len(), m.after.len());
    assert_eq!(m.scope, Scope::Functions, "{m:?}");
    let function = common::function_holding("pingpong", "pong", m.address, m.before.len() as u64);
    assert!(function.is_some(), "not inside a function of pong's ELF: {m:?}");
    assert_eq!(m.function, function, "{m:?}");
    let old = decode_one(&m.before, m.address);
    let new = decode_one(&m.after, m.address);
    match kind {
        FaultType::Text => assert_eq!(bits_changed(m), 1, "{m:?}"),
        FaultType::Nop => assert!(m.after.iter().all(|&b| b == 0x90), "{m:?}"),
        FaultType::Interface => {
            assert!(m.after.iter().all(|&b| b == 0x90), "{m:?}");
            assert!(matches!(old.mnemonic(), Mnemonic::Mov | Mnemonic::Movzx | Mnemonic::Movsx | Mnemonic::Movsxd));
        }
        FaultType::Src | FaultType::Dst => {
            let op = if kind == FaultType::Dst { 0 } else { 1 };
            if old.op_kind(op) == OpKind::Register {
                assert_eq!(new.mnemonic(), old.mnemonic(), "{m:?}");
                assert_ne!(new.op_register(op), old.op_register(op), "{m:?}");
            } else {
                assert_eq!(bits_changed(m), 1, "{m:?}");
                assert_ne!(new.immediate(op), old.immediate(op), "{m:?}");
            }
        }
        FaultType::Ptr => {
            assert_eq!(bits_changed(m), 1, "{m:?}");
            assert!((0..old.op_count()).any(|i| old.op_kind(i) == OpKind::Memory), "{m:?}");
        }
        FaultType::Loop => {
            if old.is_jcc_short_or_near() {
                let mut want = old;
                want.negate_condition_code();
                assert_eq!(new.mnemonic(), want.mnemonic(), "{m:?}");
            } else {
                assert_ne!(
                    old.has_rep_prefix() || old.has_repe_prefix(),
                    new.has_rep_prefix() || new.has_repe_prefix()
                );
            }
        }
    }
}

#[test]
fn every_fault_type_mutates_pong_as_documented_and_deterministically() {
    for kind in FaultType::ALL {
        let a = run(kind, 11);
        assert!(!matches!(a.exit, Exit::VmError(_)), "{kind:?}: {:?}", a.exit);
        assert_eq!(a.fault_stops, vec![0], "{kind:?}");
        assert_eq!(a.swifi.len(), 1, "{kind:?}");
        check(kind, &a.swifi[0]);
        let b = run(kind, 11);
        assert_eq!(a.swifi, b.swifi, "{kind:?}: same seed, same mutation");
        assert_eq!(a.exit, b.exit, "{kind:?}");
        println!("{kind:?}: {} -> {:?}", a.swifi[0].note, a.exit);
    }
}

#[test]
fn a_stop_gives_the_target_private_code_once_and_a_restarted_driver_its_own() {
    // Two Stops on pong (same instance): its code pages become private at
    // the first, and are private already at the second.
    let mut config = RunConfig::for_image("pingpong").unwrap();
    config.append = "pingpong.rounds=20".into();
    config.timeout = Some(Duration::from_secs(5));
    let stop = |nth| {
        let mut r = Rule::new(Action::Stop);
        (r.source, r.destination, r.mtype, r.nth) = (PING, PONG, PING_TYPE, nth);
        r
    };
    config.fault_plan = Some(FaultPlan { seed: 1, rules: vec![stop(3), stop(6)] });
    config.deterministic = true;
    config.swifi = Some(SwifiSpec { kind: FaultType::Nop, seed: 5 });
    let o = vmm::run(&config).unwrap();
    assert_eq!(o.swifi.len(), 2, "{:?}", o.swifi);
    assert!(o.swifi[0].private_pages > 0, "{:?}", o.swifi[0]);
    assert_eq!(o.swifi[1].private_pages, 0, "{:?}", o.swifi[1]);
    assert_eq!(o.swifi[0].cr3, o.swifi[1].cr3);

    // In the system image: a Stop on blk, blk crashed, RS restarts it from
    // the boot image, and a Stop on the new instance finds shared code
    // again (the mutation stayed with the dead instance).
    let programs = vmm::campaign::file::image_programs("system").unwrap();
    let blk = programs.iter().position(|p| p == "blk").unwrap() as u8;
    let on_blk = |action, nth| {
        let mut r = Rule::new(action);
        (r.source, r.destination, r.mtype, r.nth) = (abi::fault::ANY_PROGRAM, blk, abi::fault::ANY_TYPE, nth);
        r
    };
    let mut config = RunConfig::for_image("system").unwrap();
    config.append = format!("{}cat /bin/echo > /home/e; echo done", abi::platform::CMDLINE_COMMAND_SEPARATOR);
    config.timeout = Some(Duration::from_secs(60));
    config.separate_log = true;
    config.capture_console = true;
    config.fault_plan = Some(FaultPlan {
        seed: 1,
        rules: vec![on_blk(Action::Stop, 2), on_blk(Action::Crash, 3), on_blk(Action::Stop, 12)],
    });
    config.deterministic = true;
    config.swifi = Some(SwifiSpec { kind: FaultType::Nop, seed: 5 });
    let o = vmm::run(&config).unwrap();
    let log = String::from_utf8_lossy(o.log.as_deref().unwrap_or_default()).into_owned();
    assert!(log.contains("rs: blk") && log.contains("restarting now"), "{log}");
    assert_eq!(o.swifi.len(), 2, "{:?}\n{log}", o.swifi);
    assert!(o.swifi.iter().all(|m| m.program == "blk"), "{:?}", o.swifi);
    assert_ne!(o.swifi[0].cr3, o.swifi[1].cr3, "a new instance");
    assert!(o.swifi[0].private_pages > 0 && o.swifi[1].private_pages > 0, "{:?}", o.swifi);
}
