//! Outcome evidence: the kernel records how the workload's and the
//! check's processes ended, and no other process can take their place.

use crate::tests::{system, FakeMemory};
use crate::{Kernel, Privileges};
use abi::fault::{exit_status_of, header, REGION_END, STATUS_CHECK, STATUS_WORKLOAD};
use std::vec;
use std::vec::Vec;

fn install(k: &mut Kernel) {
    let mut region = vec![0u8; REGION_END];
    region[..64].copy_from_slice(&header(0, 1));
    assert!(k.set_fault_plan(Vec::leak(region)));
}

fn status(k: &Kernel, at: usize) -> Option<u32> {
    exit_status_of(u64::from_le_bytes(k.faults_region().unwrap()[at..at + 8].try_into().unwrap()))
}

/// init's two children (privilege id 7), a workload program (8).
fn init_and_children() -> (Kernel, FakeMemory, [usize; 3]) {
    let (mut k, m, _) = system(0);
    install(&mut k);
    let spawn = |k: &mut Kernel, name, id| k.spawn_with_id(name, 4, Privileges::all(), id).unwrap();
    let workload = spawn(&mut k, "init", 7);
    let check = spawn(&mut k, "init", 7);
    let program = spawn(&mut k, "prog", 8);
    (k, m, [workload, check, program])
}

#[test]
fn the_workload_and_the_check_statuses_are_recorded_at_their_exits() {
    let (mut k, mut m, [workload, check, program]) = init_and_children();
    assert!(k.mark_workload_start(workload));
    // A later command mark changes nothing; a check mark from another
    // program is refused.
    assert!(!k.mark_workload_start(program));
    assert!(!k.mark_check_start(program));
    // Other processes' exits are not the workload's.
    k.exit_with_status(&mut m, program, 0);
    assert_eq!(status(&k, STATUS_WORKLOAD), None);
    k.exit_with_status(&mut m, workload, 1);
    assert_eq!(status(&k, STATUS_WORKLOAD), Some(1));
    assert!(k.mark_check_start(check));
    assert!(!k.mark_check_start(check), "the check mark is taken once");
    assert_eq!(status(&k, STATUS_CHECK), None);
    k.kill(&mut m, check);
    assert_eq!((status(&k, STATUS_WORKLOAD), status(&k, STATUS_CHECK)), (Some(1), Some(0)));
}

#[test]
fn a_check_mark_before_the_workload_mark_is_refused() {
    let (mut k, mut m, [workload, check, _]) = init_and_children();
    assert!(!k.mark_check_start(check));
    assert!(k.mark_workload_start(workload));
    // A process that reuses the workload's slot is not the workload.
    k.exit_with_status(&mut m, workload, 3);
    let again = k.spawn_with_id("again", 4, Privileges::all(), 8).unwrap();
    assert_eq!(again, workload);
    k.exit_with_status(&mut m, again, 0);
    assert_eq!(status(&k, STATUS_WORKLOAD), Some(3));
}

#[test]
fn without_a_region_nothing_is_written_and_nothing_breaks() {
    let (mut k, mut m, s) = system(1);
    assert!(k.mark_workload_start(s[0]));
    k.exit_with_status(&mut m, s[0], 5);
    assert!(k.faults_region().is_none());
}
