//! Fault injection end to end (issue 7): each action on the pingpong
//! image, seen in the trace ("fault injected" records), on the console and
//! in the exit status; and determinism: the same run twice gives the same
//! trace hash.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::time::Duration;

use abi::fault::{Action, Rule};
use vmm::inject::fault::FaultPlan;
use vmm::observe::TraceMode;
use vmm::{Exit, RunConfig, RunOutcome};

/// Privilege ids of the pingpong image (its program indexes).
const PONG: u8 = 0;
const PING: u8 = 1;
/// Message types of ping.rs / pong.rs.
const PING_TYPE: u32 = 1;
const PONG_TYPE: u32 = 2;

fn run(rules: Vec<Rule>, seed: u64, rounds: u32, deterministic: bool, timeout: f64) -> RunOutcome {
    let mut config = RunConfig::for_image("pingpong").unwrap();
    config.append = format!("pingpong.rounds={rounds}");
    config.timeout = Some(Duration::from_secs_f64(timeout));
    config.trace = Some(TraceMode::Lossless);
    config.fault_plan = Some(FaultPlan { seed, rules });
    config.deterministic = deterministic;
    vmm::run(&config).unwrap()
}

fn rule(action: Action, source: u8, destination: u8, mtype: u32, nth: u32) -> Rule {
    let mut r = Rule::new(action);
    (r.source, r.destination, r.mtype, r.nth) = (source, destination, mtype, nth);
    r
}

/// Raw records of kind "fault injected": (rule index, action).
fn injections(o: &RunOutcome) -> Vec<(u64, u64)> {
    let raw = &o.trace.as_ref().unwrap().raw;
    raw.iter()
        .filter(|r| r[20] == abi::trace::Kind::FaultInjected as u8)
        .map(|r| {
            let w = |i: usize| u64::from_le_bytes(r[i * 8..i * 8 + 8].try_into().unwrap());
            (w(6), w(7))
        })
        .collect()
}

/// Hash of the records without their TSC word.
fn trace_hash(o: &RunOutcome) -> u64 {
    let mut h = DefaultHasher::new();
    for r in &o.trace.as_ref().unwrap().raw {
        r[..8].hash(&mut h);
        r[16..].hash(&mut h);
    }
    h.finish()
}

#[test]
fn return_error_on_pings_sendrec_is_what_ping_sees() {
    let mut r = rule(Action::ReturnError, PING, PONG, PING_TYPE, 5);
    r.arg_a = abi::Error::NoMemory as u32;
    let o = run(vec![r], 1, 20, false, 20.0);
    let console = o.console_text();
    assert!(console.contains("ping: round 4: sendrec failed"), "{console}");
    assert_eq!(o.exit, Exit::PowerOff(1));
    assert_eq!(o.fault_counters, vec![(5, 1)]);
    assert_eq!(o.faults_injected, 1);
    assert_eq!(injections(&o), vec![(0, Action::ReturnError as u64)]);
}

#[test]
fn flip_bits_in_the_reply_makes_ping_report_a_wrong_reply() {
    let mut r = rule(Action::FlipBits, PONG, PING, PONG_TYPE, 3);
    r.arg_b = 1;
    let o = run(vec![r], 1, 20, false, 20.0);
    assert!(o.console_text().contains("ping: round 2: wrong reply"), "{}", o.console_text());
    assert_eq!(o.fault_counters, vec![(3, 1)]);
    assert_eq!(injections(&o).len(), 1);
}

#[test]
fn duplicate_request_gives_pong_one_extra_request() {
    // Request 4 arrives twice: pong (higher priority) takes the copy right
    // after answering the original, while ping has not asked again, so its
    // second answer finds nobody waiting. Ping itself is unaffected.
    let r = rule(Action::Duplicate, PING, PONG, PING_TYPE, 4);
    let o = run(vec![r], 1, 20, false, 20.0);
    let console = o.console_text();
    assert_eq!(console.matches("pong: reply to").count(), 1, "{console}");
    assert!(console.contains("failed: ENOTREADY") && console.contains("20 round trips OK"), "{console}");
    assert_eq!(o.fault_counters, vec![(20, 1)]);
}

#[test]
fn drop_of_the_reply_leaves_ping_blocked() {
    let r = rule(Action::Drop, PONG, PING, PONG_TYPE, 2);
    let o = run(vec![r], 1, 20, false, 3.0);
    assert_eq!(o.exit, Exit::Timeout);
    assert!(!o.console_text().contains("round trips OK"));
    assert_eq!(o.fault_counters[0].1, 1);
}

#[test]
fn crash_of_pong_is_reported_and_ping_sees_it_die() {
    let r = rule(Action::Crash, PING, PONG, PING_TYPE, 3);
    let o = run(vec![r], 1, 20, false, 20.0);
    let console = o.console_text();
    assert!(console.contains("kernel: process pong") && console.contains("killed: injected fault"), "{console}");
    assert!(console.contains("ping: round 2: sendrec failed"), "{console}");
    assert_eq!(o.exit, Exit::PowerOff(1));
    let raw = &o.trace.as_ref().unwrap().raw;
    let exit = raw.iter().find(|r| r[20] == abi::trace::Kind::Exit as u8).expect("an exit record");
    assert_eq!(i32::from_le_bytes(exit[36..40].try_into().unwrap()), abi::syscall::EXIT_STATUS_FAULT as i32);
}

#[test]
fn stop_pauses_reports_and_resumes() {
    let r = rule(Action::Stop, PING, PONG, PING_TYPE, 10);
    let o = run(vec![r], 1, 20, false, 20.0);
    assert_eq!(o.exit, Exit::PowerOff(0), "{}", o.console_text());
    assert_eq!(o.fault_stops, vec![0]);
    assert_eq!(o.fault_counters, vec![(20, 1)]);
}

#[test]
fn delay_holds_the_request_for_its_ticks() {
    let mut r = rule(Action::Delay, PING, PONG, PING_TYPE, 5);
    r.arg_a = 50;
    let o = run(vec![r], 1, 20, true, 20.0);
    assert_eq!(o.exit, Exit::PowerOff(0), "{}", o.console_text());
    assert_eq!(o.fault_counters, vec![(20, 1)]);
    // The delivery of the delayed request comes >= 50 ticks after its send.
    let raw = &o.trace.as_ref().unwrap().raw;
    let tick = |r: &[u8; 64]| u32::from_le_bytes(r[16..20].try_into().unwrap());
    let at = raw.iter().position(|r| r[20] == abi::trace::Kind::FaultInjected as u8).unwrap();
    let later = raw[at..].iter().find(|r| r[20] == abi::trace::Kind::Receive as u8).expect("delivery");
    assert!(tick(later) >= tick(&raw[at]) + 50, "{} -> {}", tick(&raw[at]), tick(later));
}

#[test]
fn the_same_experiment_twice_gives_the_same_trace() {
    for (seed, action) in [(1, Action::FlipBits), (2, Action::Drop), (3, Action::Delay), (4, Action::ReturnError)] {
        let mut r = rule(action, abi::fault::ANY_PROGRAM, abi::fault::ANY_PROGRAM, abi::fault::ANY_TYPE, 0);
        r.probability = u32::MAX / 8;
        r.limit = 3;
        r.arg_a = 7;
        let a = run(vec![r], seed, 100, true, 20.0);
        let b = run(vec![r], seed, 100, true, 20.0);
        assert_eq!(a.fault_counters, b.fault_counters, "{action:?}");
        assert_eq!(a.exit, b.exit, "{action:?}");
        assert_eq!((a.spin_ticks, b.spin_ticks), (0, 0), "{action:?} seed {seed}: nothing spins");
        assert_eq!(trace_hash(&a), trace_hash(&b), "{action:?} seed {seed}");
    }
}

#[test]
fn overwrite_of_request_bytes_makes_ping_report_a_wrong_reply() {
    // The third request's first payload word is overwritten on its way to
    // pong, so pong's answer no longer matches what ping sent.
    let mut r = rule(Action::Overwrite, PING, PONG, PING_TYPE, 3);
    (r.arg_a, r.arg_b) = (0, 0x0BAD_F00D);
    let o = run(vec![r], 1, 20, false, 20.0);
    let console = o.console_text();
    assert!(console.contains("ping: round 2: wrong reply"), "{console}");
    let reply = console.lines().find(|l| l.contains("wrong reply")).unwrap();
    // pong answers every word inverted: the overwritten word comes back as !0x0BADF00D.
    assert!(reply.contains(&format!("{}", !0x0BAD_F00Du64)), "{reply}");
    assert_eq!(o.fault_counters, vec![(3, 1)]);
    assert_eq!(injections(&o), vec![(0, Action::Overwrite as u64)]);
}

#[test]
fn hang_of_the_console_driver_is_caught_by_its_heartbeat_and_it_restarts() {
    // In the system image, TTY hangs at the second heartbeat RS sends it;
    // RS must kill it after two silent periods and restart it, and the
    // shell's output (held by VFS) still arrives through the new driver.
    let image = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../images/system/image.toml");
    let programs = vmm::image::definition::ImageConfig::load(&image).unwrap().programs;
    let id = |name: &str| programs.iter().position(|p| p.name.get_ref() == name).unwrap() as u8;
    let mut r = rule(Action::Hang, id("rs"), id("tty"), abi::fault::ANY_TYPE, 2);
    r.primitives = 1 << abi::syscall::Trap::Notify as u8;
    r.limit = 1;
    let mut config = RunConfig::for_image("system").unwrap();
    config.append = "-- sleep 3; echo done".into();
    config.timeout = Some(Duration::from_secs(60));
    config.fault_plan = Some(FaultPlan { seed: 1, rules: vec![r] });
    let o = vmm::run(&config).unwrap();
    let console = o.console_text();
    assert_eq!(o.fault_counters[0].1, 1, "{console}");
    let missed = console.find("rs: tty missed 2 heartbeats").unwrap_or_else(|| panic!("{console}"));
    let killed = console.find("killed for missing heartbeats").unwrap_or_else(|| panic!("{console}"));
    let restarted =
        console[killed..].find("rs: started tty").map(|i| i + killed).unwrap_or_else(|| panic!("{console}"));
    assert!(missed < killed && killed < restarted);
    assert!(console.lines().any(|l| l.ends_with("done")), "{console}");
    assert_eq!(o.exit, Exit::PowerOff(0), "{console}");
}
