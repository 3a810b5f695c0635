//! Bounded resources: after enough process churn that the kernel has no
//! never-used frames left, a restarted disk driver still gets its
//! contiguous DMA buffer (freed frames are reused for it) and serves the
//! disk. The negative control (`viv.weaken=frame_reuse`: contiguous
//! allocations take never-used frames only) shows the churn really
//! exhausted them: the driver cannot get its buffer, and then exits with
//! an error (RS sees it fail) instead of sitting "running" answering
//! Unavailable. The `frame-churn-then-blk-dies/driver` row of `viv
//! threats` runs the same stage.

mod common;

use vmm::threats::stage::{self, Stage};
use vmm::Exit;

/// Boots the churn stage of `viv threats` (blk-test, a fresh 4 MiB
/// disk, 32 MiB of RAM, `blk_probe.churn=1`) plus `append`; returns the
/// console.
fn churn_then_restart(append: &str) -> (String, Exit) {
    let dir = common::scratch_dir(&format!("churn{}", append.len()));
    let keys = format!("{} {append}", stage::CHURN_KEY);
    let config = Stage::Churn.config(&dir.join("disk.img"), &keys).expect("the churn stage");
    let outcome = vmm::run(&config).expect("booting blk-test");
    (outcome.console_text().replace("\r\n", "\n"), outcome.exit)
}

fn has_line(console: &str, line: &str) -> bool {
    console.lines().any(|l| l == line)
}

#[test]
fn a_driver_restarted_after_long_churn_gets_its_dma_buffer_and_serves_the_disk() {
    let (console, exit) = churn_then_restart("");
    for case in ["churn", "restarted", "after_restart"] {
        assert!(has_line(&console, &format!("blk_probe: {case} ok")), "{case} not ok; console:\n{console}");
    }
    // The restarted instance set the device up: two instances did.
    assert_eq!(console.matches("blk: virtio-blk with 8192 sectors").count(), 2, "console:\n{console}");
    assert!(has_line(&console, "blk_probe: done, 0 failed"), "console:\n{console}");
    assert_eq!(exit, Exit::PowerOff(0), "console:\n{console}");
}

#[test]
fn without_frame_reuse_the_restarted_driver_gets_no_dma_buffer_and_exits() {
    let (console, exit) = churn_then_restart("viv.weaken=frame_reuse");
    assert!(has_line(&console, "blk_probe: churn ok"), "console:\n{console}");
    assert!(
        has_line(&console, "blk: cannot set up the virtio-blk device (ENOMEM); exiting"),
        "the restarted driver got its buffer; console:\n{console}"
    );
    assert!(console.contains("exited with status 1"), "RS did not see the driver fail; console:\n{console}");
    assert!(console.contains("blk_probe: after_restart FAILED"), "console:\n{console}");
    assert_eq!(exit, Exit::PowerOff(1), "console:\n{console}");
}
