//! Judging a guest's disk after a run: `e2fsck -fn` (force a full check,
//! change nothing) on the disk image. `viv threats` and campaigns with
//! `expect.fsck` use it; the file system is the guest's ext2 (made by
//! `mke2fs -d` at build time, written by `ext2fs`).

use std::path::Path;
use std::process::Command;

/// Runs `e2fsck -fn` on `disk`: `Some(clean)`, or `None` when e2fsck is
/// not installed (looked up on `PATH`, then in `/sbin` and `/usr/sbin`).
pub fn fsck(disk: &Path) -> Option<bool> {
    let output = ["e2fsck", "/sbin/e2fsck", "/usr/sbin/e2fsck"]
        .iter()
        .find_map(|cmd| Command::new(cmd).arg("-fn").arg(disk).output().ok())?;
    Some(output.status.success())
}
