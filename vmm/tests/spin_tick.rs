//! Experiment mode against spinning (issue 7, SWIFI's LOOP faults): with
//! virtual time, guest time moves only with kernel entries, so a service
//! spinning in user mode would stop it, and RS would never notice the
//! missed heartbeats. The VMM's spin tick (`abi::platform::IRQ_SPIN_TICK`)
//! lets time go on: RS kills and restarts the spinner, as with the real
//! timer.

use std::time::Duration;

use vmm::inject::fault::FaultPlan;
use vmm::RunConfig;

fn run(deterministic: bool) -> String {
    let mut config = RunConfig::for_image("spin-test").unwrap();
    config.timeout = Some(Duration::from_secs(8));
    config.capture_console = true;
    config.deterministic = deterministic;
    config.fault_plan = Some(FaultPlan { seed: 1, rules: vec![] });
    let outcome = vmm::run(&config).unwrap();
    assert_eq!(outcome.exit, vmm::Exit::Timeout, "{}", outcome.console_text());
    // Only experiment mode needs (and gets) spin ticks.
    assert_eq!(outcome.spin_ticks > 0, deterministic, "{} spin ticks", outcome.spin_ticks);
    outcome.console_text()
}

#[test]
fn rs_restarts_a_spinning_service_with_virtual_time_as_with_the_real_timer() {
    for deterministic in [true, false] {
        let console = run(deterministic);
        let kills = console.matches("rs: spinner missed 2 heartbeats").count();
        let starts = console.matches("spinner: up, spinning").count();
        assert!(kills >= 2, "deterministic={deterministic}: {kills} kills\n{console}");
        assert!(starts >= kills, "deterministic={deterministic}: restarted after the kills\n{console}");
        if deterministic {
            assert!(console.contains("virtual time true"), "{console}");
        }
    }
}

/// Boots the system image in experiment mode with an empty plan, runs
/// `command` from the disk image and returns (spin ticks, console).
fn run_command_with_spin_budget(command: &str, budget: Duration) -> (u64, String) {
    let mut config = RunConfig::for_image("system").unwrap();
    config.timeout = Some(Duration::from_secs(120));
    config.deterministic = true;
    config.fault_plan = Some(FaultPlan { seed: 1, rules: vec![] });
    config.spin_budget = budget;
    config.append = format!("{}{command}", abi::platform::CMDLINE_COMMAND_SEPARATOR.trim_start());
    let outcome = vmm::run(&config).unwrap();
    let console = outcome.console_text();
    assert_eq!(outcome.exit, vmm::Exit::PowerOff(0), "{console}");
    (outcome.spin_ticks, console)
}

/// Regression: the watchdog measured the vCPU thread's whole CPU time, which
/// also grows with the host's work for the guest (emulating a long kernel
/// entry, filling shadow page tables when a program first touches memory),
/// so a loaded host raised spin ticks in runs that never spun, at
/// host-dependent points, and two replays of one campaign experiment
/// differed (with a 2 ms budget, the old measure raised ticks during this
/// very boot). Guest time is accounted in whole clock ticks, so the budget
/// here is the real one: a run that only makes system calls gets no tick.
#[test]
fn long_kernel_entries_are_not_taken_for_a_spin() {
    let budget = Duration::from_millis(abi::platform::SPIN_TICK_CPU_MS);
    let (ticks, console) = run_command_with_spin_budget("echo tiny > /tmp/f; cat /tmp/f; cat /tmp/f", budget);
    assert_eq!(console.matches("tiny\n").count(), 2, "{console}");
    assert_eq!(ticks, 0, "spin ticks in a run that never spins\n{console}");
}
