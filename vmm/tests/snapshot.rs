//! Snapshots (issue 7): experiments from one snapshot of pingpong taken
//! at ping's MARK_BENCH_START each give their expected outcome; the same
//! plan twice gives the same trace; and experiments per second from a
//! snapshot of the system image (`-- echo hi`, at MARK_COMMAND_START)
//! versus cold boots, measured side by side (printed, not asserted).

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::time::{Duration, Instant};

use abi::fault::{Action, Rule};
use abi::platform::{MARK_BENCH_START, MARK_COMMAND_START};
use vmm::inject::fault::FaultPlan;
use vmm::observe::TraceMode;
use vmm::vstate::snapshot::{ExperimentConfig, Snapshot};
use vmm::{Exit, RunConfig, RunOutcome};

mod common;

const PONG: u8 = 0;
const PING: u8 = 1;
const PING_TYPE: u32 = 1;
const PONG_TYPE: u32 = 2;

fn rule(action: Action, source: u8, destination: u8, mtype: u32, nth: u32) -> Rule {
    let mut r = Rule::new(action);
    (r.source, r.destination, r.mtype, r.nth) = (source, destination, mtype, nth);
    r
}

fn trace_hash(o: &RunOutcome) -> u64 {
    let mut h = DefaultHasher::new();
    for r in &o.trace.as_ref().unwrap().raw {
        r[..8].hash(&mut h);
        r[16..].hash(&mut h);
    }
    h.finish()
}

fn pingpong_snapshot() -> Snapshot {
    let mut config = RunConfig::for_image("pingpong").unwrap();
    config.append = "pingpong.rounds=20".into();
    config.timeout = Some(Duration::from_secs(20));
    config.trace = Some(TraceMode::Lossless);
    config.fault_plan = Some(FaultPlan { seed: 1, rules: vec![] });
    config.deterministic = true;
    Snapshot::take(&config, MARK_BENCH_START).unwrap()
}

#[test]
fn experiments_from_one_snapshot_give_their_outcomes_and_repeat() {
    let snap = pingpong_snapshot();
    let exp = |rules: Vec<Rule>, seed: u64, timeout: f64| {
        let mut e = ExperimentConfig::new(&snap, FaultPlan { seed, rules });
        e.timeout = Some(Duration::from_secs_f64(timeout));
        snap.run(&e).unwrap()
    };

    // No fault: the 20 round trips complete.
    let clean = exp(vec![], 1, 20.0);
    assert_eq!(clean.exit, Exit::PowerOff(0), "{}", clean.console_text());
    assert!(clean.console_text().contains("20 round trips OK"), "{}", clean.console_text());
    assert!(clean.mark(MARK_BENCH_START).is_some());

    // ReturnError on the 5th request: ping reports round 4 failed.
    let mut r = rule(Action::ReturnError, PING, PONG, PING_TYPE, 5);
    r.arg_a = abi::Error::NoMemory as u32;
    let o = exp(vec![r], 2, 20.0);
    assert!(o.console_text().contains("ping: round 4: sendrec failed"), "{}", o.console_text());
    assert_eq!(o.exit, Exit::PowerOff(1));
    assert_eq!(o.fault_counters, vec![(5, 1)]);

    // FlipBits in the 3rd reply: a wrong reply in round 2.
    let mut r = rule(Action::FlipBits, PONG, PING, PONG_TYPE, 3);
    r.arg_b = 1;
    let o = exp(vec![r], 3, 20.0);
    assert!(o.console_text().contains("ping: round 2: wrong reply"), "{}", o.console_text());
    assert_eq!(o.fault_counters, vec![(3, 1)]);

    // Drop of the 2nd reply: ping stays blocked until the timeout.
    let r = rule(Action::Drop, PONG, PING, PONG_TYPE, 2);
    let o = exp(vec![r], 4, 2.0);
    assert_eq!(o.exit, Exit::Timeout);

    // The same probabilistic plan twice: the same trace.
    let mut r = rule(Action::FlipBits, abi::fault::ANY_PROGRAM, abi::fault::ANY_PROGRAM, abi::fault::ANY_TYPE, 0);
    r.probability = u32::MAX / 6;
    r.limit = 3;
    r.arg_b = 0xFF;
    let a = exp(vec![r], 9, 20.0);
    let b = exp(vec![r], 9, 20.0);
    assert_eq!(a.exit, b.exit);
    assert_eq!(a.fault_counters, b.fault_counters);
    assert!(!a.trace.as_ref().unwrap().raw.is_empty());
    assert_eq!(trace_hash(&a), trace_hash(&b));
    assert_eq!(trace_hash(&clean), trace_hash(&exp(vec![], 1, 20.0)));
}

#[test]
fn experiments_per_second_snapshot_versus_cold_boot() {
    let mut config = RunConfig::for_image("system").unwrap();
    config.append = format!("{}echo hi", abi::platform::CMDLINE_COMMAND_SEPARATOR);
    config.timeout = Some(Duration::from_secs(60));
    config.fault_plan = Some(FaultPlan { seed: 1, rules: vec![] });
    config.deterministic = true;
    const N: u32 = 3;

    let t = Instant::now();
    for _ in 0..N {
        let o = vmm::run(&config).unwrap();
        assert!(o.console_text().contains("hi"), "{}", o.console_text());
    }
    let cold = t.elapsed().as_secs_f64() / f64::from(N);

    let t = Instant::now();
    let snap = Snapshot::take(&config, MARK_COMMAND_START).unwrap();
    let take = t.elapsed().as_secs_f64();
    let t = Instant::now();
    for seed in 0..N {
        let e = ExperimentConfig::new(&snap, FaultPlan { seed: u64::from(seed) + 1, rules: vec![] });
        let o = snap.run(&e).unwrap();
        assert_eq!(o.exit, Exit::PowerOff(0), "{}", o.console_text());
        assert!(o.console_text().contains("hi"), "{}", o.console_text());
    }
    let warm = t.elapsed().as_secs_f64() / f64::from(N);
    println!(
        "system -- echo hi: cold boot {:.1} ms/experiment ({:.2}/s), snapshot {:.1} ms/experiment ({:.2}/s), \
         ratio {:.1}x (snapshot taken in {:.1} ms)",
        cold * 1e3,
        1.0 / cold,
        warm * 1e3,
        1.0 / warm,
        cold / warm,
        take * 1e3
    );
}

/// Privilege id of `name` in the embedded image `image`.
fn program_id(image: &str, name: &str) -> u8 {
    let programs = vmm::campaign::file::image_programs(image).unwrap();
    programs.iter().position(|p| p == name).unwrap() as u8
}

#[test]
fn experiments_from_a_snapshot_with_a_disk_get_private_disks_and_recover_the_driver() {
    let dir = common::scratch_dir("snapshot-disk");
    let disk = dir.join("disk.img");
    let mut config = RunConfig::for_image("system").unwrap();
    // Each experiment appends to a file that exists at the snapshot: it
    // must find exactly one line of its own, whatever ran before it.
    config.append = format!("{}echo run >> /home/log; cat /home/log", abi::platform::CMDLINE_COMMAND_SEPARATOR);
    config.disk = Some(disk.clone());
    config.timeout = Some(Duration::from_secs(60));
    config.fault_plan = Some(FaultPlan { seed: 1, rules: vec![] });
    config.deterministic = true;
    config.separate_log = true;
    config.trace = Some(TraceMode::Lossless);
    let snap = Snapshot::take(&config, MARK_COMMAND_START).unwrap();
    assert!(snap.has_disk());
    let disk_at_snapshot = std::fs::read(&disk).unwrap();
    let exp = |rules: Vec<Rule>| {
        let e = ExperimentConfig::new(&snap, FaultPlan { seed: 7, rules });
        snap.run(&e).unwrap()
    };

    let a = exp(vec![]);
    let b = exp(vec![]);
    for o in [&a, &b] {
        assert_eq!(o.exit, Exit::PowerOff(0), "{}", o.console_text());
        assert_eq!(o.console_text().matches("run").count(), 1, "a private disk each: {}", o.console_text());
        assert!(o.log.as_ref().is_some_and(|l| !l.is_empty()), "the log is kept");
    }
    assert_eq!(trace_hash(&a), trace_hash(&b));
    assert_eq!(a.final_stats.insn_emulation(), b.final_stats.insn_emulation());
    assert!(a.final_stats.insn_emulation().unwrap_or(0) > 0);

    // The disk driver crashes at its 3rd message after the mark: RS
    // restarts it, the file server resends, the workload still works.
    let blk = program_id("system", "blk");
    let crash = rule(Action::Crash, abi::fault::ANY_PROGRAM, blk, abi::fault::ANY_TYPE, 3);
    let c = exp(vec![crash]);
    assert_eq!(c.faults_injected, 1);
    assert_eq!(c.exit, Exit::PowerOff(0), "{}", c.console_text());
    assert!(c.console_text().contains("run"), "{}", c.console_text());
    let log = String::from_utf8_lossy(c.log.as_deref().unwrap()).into_owned();
    assert!(log.contains("rs: blk") && log.contains("restarting now"), "{log}");
    let again = exp(vec![crash]);
    assert_eq!(trace_hash(&c), trace_hash(&again), "the fault repeats exactly");

    // The experiments wrote only their private mappings.
    assert_eq!(std::fs::read(&disk).unwrap(), disk_at_snapshot);
}
