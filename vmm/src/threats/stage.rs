//! Where a row runs: the image, the memory, the disk and the run's
//! settings. Shared with the integration tests that check the same
//! scenarios in more detail (`vmm/tests/server_death.rs`,
//! `vmm/tests/driver_churn.rs`), so a row and its test boot the same
//! system the same way.

use std::path::{Path, PathBuf};

use crate::inject::fault::FaultPlan;
use crate::vstate::config::RunConfig;

/// The system a row attacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// The `threats` image: the system plus the attacker programs; the
    /// attack and the workload run from the shell.
    Attackers,
    /// The `death-test` image: the system plus `killer`, a service that
    /// kills `killer.target=NAME` a few ticks after the workload's `cp`
    /// starts (docs/servers-dying.md).
    Killer,
    /// The `blk-test` image with [`CHURN_MEMORY_MIB`] of RAM and a blank
    /// disk: `blk_probe` churns processes until the kernel has no
    /// never-used frames left, kills `blk`, and uses the restarted driver
    /// (no shell, no file system).
    Churn,
    /// The `threats` image with [`HOG_MEMORY_MIB`] of RAM: a memory hog's
    /// fill, and with the quota off its fill of every frame, stay short.
    SmallAttackers,
}

/// RAM of a [`Stage::SmallAttackers`] run.
pub const HOG_MEMORY_MIB: u64 = 48;

/// RAM of a [`Stage::Churn`] run: small, so the churn is short.
pub const CHURN_MEMORY_MIB: u64 = 32;
/// Size of a [`Stage::Churn`] run's blank disk.
pub const CHURN_DISK_BYTES: usize = 4 << 20;
/// Kernel command-line key that makes `blk_probe` churn processes first.
pub const CHURN_KEY: &str = "blk_probe.churn=1";
/// Kernel command-line key naming the server `killer` kills.
pub const KILLER_TARGET_KEY: &str = "killer.target";

impl Stage {
    /// The image it boots.
    pub fn image(self) -> &'static str {
        match self {
            Stage::Attackers | Stage::SmallAttackers => super::IMAGE,
            Stage::Killer => "death-test",
            Stage::Churn => "blk-test",
        }
    }

    /// Whether the shell runs a command (the attack and the workload).
    pub fn has_shell(self) -> bool {
        self != Stage::Churn
    }

    /// Whether the disk holds the system's ext2 file system (which
    /// `e2fsck -fn` then judges).
    pub fn has_file_system(self) -> bool {
        self != Stage::Churn
    }

    /// The run's settings: `append` on the kernel command line, the disk
    /// at `disk` (made blank here when the stage needs it; otherwise the
    /// VMM builds the image's file system there).
    pub fn config(self, disk: &Path, append: &str) -> Result<RunConfig, super::ThreatsError> {
        let mut config = experiment_config(self.image(), disk.to_path_buf(), append)?;
        if self == Stage::Churn {
            std::fs::write(disk, vec![0u8; CHURN_DISK_BYTES]).map_err(super::ThreatsError::Scratch)?;
            config.memory_mib = CHURN_MEMORY_MIB;
            // No console driver: the probe and the driver write through
            // the kernel's log, which is then the console.
            config.separate_log = false;
        }
        if self == Stage::SmallAttackers {
            config.memory_mib = HOG_MEMORY_MIB;
        }
        Ok(config)
    }
}

/// A run in experiment mode (virtual time, deterministic, an empty fault
/// plan), its console and the kernel's log kept apart, on the private
/// disk `disk`: a run that hangs ends after [`super::TICK_BUDGET`] ticks
/// of guest time, at the same point on any host; the wall-clock
/// [`super::RUN_TIMEOUT`] is a last resort.
pub fn experiment_config(image: &str, disk: PathBuf, append: &str) -> Result<RunConfig, super::ThreatsError> {
    let mut config = RunConfig::for_image(image)?;
    config.append = append.trim().to_string();
    config.timeout = Some(super::RUN_TIMEOUT);
    config.separate_log = true;
    config.capture_console = true;
    config.deterministic = true;
    config.fault_plan = Some(FaultPlan { seed: 1, rules: Vec::new() });
    config.tick_budget = super::TICK_BUDGET;
    config.disk = Some(disk);
    Ok(config)
}
