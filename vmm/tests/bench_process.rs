//! The process row of `viv bench` (fork + exec + exit of `true` from the
//! disk, from runs of N and 2N `true`s) and the QEMU comparison's runs.

use std::time::Duration;

use vmm::bench::process::{format_process, measure, PROCESS_PROGRAM};
use vmm::vstate::config::EntryChoice;

#[test]
fn one_more_true_costs_a_plausible_exact_number_of_instructions_exits_and_messages() {
    let f = measure(2, EntryChoice::Auto).expect("process figures");
    assert_eq!((f.program.as_str(), f.n), (PROCESS_PROGRAM, 2));
    let insn = f.kernel_instructions.expect("this host's KVM has no insn_emulation statistic");
    // A fork, an exec from the disk and an exit each enter the kernel
    // several times: thousands of kernel instructions, not millions.
    assert!((1_000.0..2_000_000.0).contains(&insn), "{f:?}");
    // Every kernel entry is at least one exit.
    assert!(f.exits.unwrap_or(0.0) >= 10.0, "{f:?}");
    // At least: FORK request and its two replies, EXEC with VFS's open and
    // read, the exit's kernel call and the WAIT reply.
    assert!(f.attributed_messages >= 10.0, "{f:?}");
    // The rest is background work (heartbeats, the disk's alarms) whose
    // count does not grow in step with the number of `true`s: where a run
    // ends can add or save one round of it, so the two figures differ by a
    // few messages at most, either way.
    assert!((f.messages - f.attributed_messages).abs() <= 4.0, "{f:?}");
    let row = format_process(&f);
    assert!(row.contains("fork + exec + exit of true"), "{row}");
}

#[test]
fn qemu_boots_hello_and_runs_the_pingpong_twice() {
    let runs =
        vmm::bench::qemu::measure(500, Duration::from_secs(120)).expect("QEMU runs (scripts/setup installs QEMU)");
    assert!(runs.version.contains("QEMU"), "{runs:?}");
    assert!(runs.hello > Duration::ZERO && runs.rounds == 500, "{runs:?}");
    // Wall times: only their sign is certain on a loaded host. 500 more
    // round trips take QEMU ≈ 5 ms, less than its boot's jitter on a
    // busy host, so a 2N-run no slower than the N-run is reported as NaN
    // ("not measured", `bench::qemu::round_trip_ns`); that was seen in
    // CI. What it may never be is zero, negative or infinite.
    let ns = runs.ns_per_round_trip;
    assert!(ns.is_nan() || (ns.is_finite() && ns > 0.0), "{runs:?}");
}
