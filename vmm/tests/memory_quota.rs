//! The per-user memory quota (docs/security.md, "Memory"), end to end in
//! one boot of the `memory-hog/user` stage of `viv threats` (the
//! `threats` image, 48 MiB, 2048 frames per user):
//!
//! - a user's memory hog is stopped at its quota: its children that
//!   write past it are killed out of memory (status 112, which the hog
//!   sees through `wait`), and a fork past it is refused with ENOMEM;
//! - killing the hog's children gives every frame back to the user: a
//!   second fill gets exactly as many pages (the accounting balances
//!   over fork, copy-on-write, zero fill and exit);
//! - another user has a quota of its own, and gets the same;
//! - beside the hogs, root restarts the disk driver (RS gets its memory
//!   and DMA buffer) and the disk workload runs with intact data.
//!
//! The negative control (`viv.weaken=memory_quota`: the hog takes every
//! frame and the system dies) is the `memory-hog/user` row of `viv
//! threats`, which CI runs (`.ci/run`).

mod common;

use vmm::threats::stage::Stage;
use vmm::threats::{judge, WORKLOAD};
use vmm::Exit;

/// The frames the `threats` image gives each user (`viv.user_frames`).
const QUOTA: usize = 2048;

/// The pages each `attack_auth: hog holds N pages ...` line reports.
fn hog_fills(console: &str) -> Vec<usize> {
    console
        .lines()
        .filter_map(|l| l.strip_prefix("attack_auth: hog holds "))
        .map(|rest| rest.split_whitespace().next().and_then(|n| n.parse().ok()).expect("a page count"))
        .collect()
}

#[test]
fn a_memory_hog_stops_at_its_quota_gives_everything_back_and_the_system_goes_on() {
    let dir = common::scratch_dir("memory-quota");
    let command = format!(
        "attack_auth as 1000 hog release; attack_auth as 1001 hog; \
         service restart blk && echo blk-restarted; {WORKLOAD}"
    );
    let append = format!("{}{command}", abi::platform::CMDLINE_COMMAND_SEPARATOR.trim_start());
    let config = Stage::SmallAttackers.config(&dir.join("disk.img"), &append).expect("the hog stage");
    let outcome = vmm::run(&config).expect("booting the threats image");
    let console = outcome.console_text().replace("\r\n", "\n");
    let log = String::from_utf8_lossy(outcome.log.as_deref().unwrap_or_default()).into_owned();

    // Three fills: user 1000, user 1000 again after its children were
    // killed, user 1001. Each ends just below the quota (the hog's own
    // process and each child's page tables count too), all the same.
    let fills = hog_fills(&console);
    assert_eq!(fills.len(), 3, "console:\n{console}");
    assert!(fills.iter().all(|&n| n == fills[0]), "fills differ: {fills:?}; console:\n{console}");
    assert!((QUOTA - 256..QUOTA).contains(&fills[0]), "fills {fills:?}; console:\n{console}");
    assert!(console.contains("attack_auth: hog released "), "console:\n{console}");
    // Children were killed out of memory and reported with status 112
    // (any other status would be printed).
    assert!(console.contains("killed out of memory), then: out of memory"), "console:\n{console}");
    assert!(!console.contains("hog child ended with status"), "console:\n{console}");
    for uid in [1000, 1001] {
        let line = format!("(uid {uid} holds {QUOTA} frames, quota {QUOTA})");
        assert!(log.contains(&line), "no out-of-memory kill of uid {uid} at its quota; log:\n{log}");
    }

    // Beside both hogs, root restarts the disk driver and the disk works.
    assert!(console.lines().any(|l| l == "blk-restarted"), "console:\n{console}");
    assert_eq!(log.matches("blk: virtio-blk with").count(), 2, "blk not set up twice; log:\n{log}");
    assert!(judge::workload_intact(&console), "workload not intact; console:\n{console}");
    assert_eq!(outcome.exit, Exit::PowerOff(0), "console:\n{console}");
}
