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
