//! The `ipcbench` image under KVM: every phase writes its marks, and the
//! figures `viv bench` derives from them are sane and keep a real relation.

mod common;

use vmm::bench::{ipc_figures, IPC_IMAGE, IPC_OPS_KEY, IPC_PHASES};
use vmm::vstate::outcome::Exit;

#[test]
fn ipcbench_measures_every_phase_and_a_round_trip_costs_more_than_a_notify() {
    let ops = 40;
    let outcome = common::boot(IPC_IMAGE, &format!("{IPC_OPS_KEY}={ops}"), 120.0);
    let console = outcome.console_text();
    // The client checked that the servers got every operation exactly once.
    assert_eq!(outcome.exit, Exit::PowerOff(0), "console:\n{console}");
    for phase in &IPC_PHASES {
        assert!(outcome.mark(phase.start).is_some(), "no start mark for {}", phase.name);
        assert!(outcome.mark(phase.end).is_some(), "no end mark for {}", phase.name);
    }
    let figures = ipc_figures(&outcome, ops).expect("figures");
    let insn = |name: &str| {
        let phase = figures.phases.iter().find(|p| p.name == name).unwrap_or_else(|| panic!("no phase {name}"));
        phase.kernel_instructions_per_op.expect("this host's KVM has no insn_emulation statistic")
    };
    for phase in &figures.phases {
        assert!(insn(&phase.name) > 0.0, "{}: {phase:?}", phase.name);
        // Every trap is at least one exit on any host.
        assert!(phase.exits_per_op.unwrap_or(f64::MAX) >= 1.0, "{phase:?}");
    }
    // A round trip is three kernel entries (SENDREC, SENDNB reply, RECEIVE),
    // a notification two (NOTIFY, RECEIVE).
    assert!(insn("sendrec") > insn("notify"), "{figures:#?}");
    // The marks bracket the loops: their own cost is a fraction of one
    // operation's, not a multiple.
    let overhead = figures.mark_overhead.kernel_instructions.expect("mark overhead");
    assert!(overhead > 0 && (overhead as f64) < insn("notify"), "{figures:#?}");
}
