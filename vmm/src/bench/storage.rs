//! The storage figures of `viv bench`: a sequential write and read of a
//! file through the whole stack (user → VFS → ext2fs → blk → virtio-blk),
//! measured by the `diskbench` program of the `system` image.
//!
//! Copies are the cost on software-KVM hosts (a kernel-mode copy of 4 KiB
//! ≈ 0.5 ms), so besides time and exact kernel instructions per KiB the
//! figures include the bytes the kernel copied per KiB moved. The kernel's
//! copy counter is inside the guest: `diskbench` reads it (MemInfo) and
//! prints it, and the host takes it from that line.

use super::BenchError;
use crate::vstate::outcome::{Mark, RunOutcome};
use abi::platform::{MARK_DISK_READ_END, MARK_DISK_READ_START, MARK_DISK_WRITE_END, MARK_DISK_WRITE_START};
use serde::Serialize;

/// The image the storage figures come from.
pub const STORAGE_IMAGE: &str = "system";
/// MiB written and read back.
pub const STORAGE_MIB: u64 = 4;

/// The shell command line that runs the benchmark in the guest.
pub fn storage_command() -> String {
    format!("-- diskbench {STORAGE_MIB}")
}

/// One direction of the storage benchmark.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoragePhase {
    /// Nanoseconds for the whole phase.
    pub ns: u64,
    /// Sequential throughput.
    pub mib_per_s: f64,
    /// Kernel instructions per KiB moved (exact, `insn_emulation`).
    pub kernel_instructions_per_kib: Option<f64>,
    /// VM exits per KiB moved.
    pub exits_per_kib: Option<f64>,
    /// Bytes copied by the kernel (safe copies) per KiB moved.
    pub kernel_copied_bytes_per_kib: f64,
}

/// The storage figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StorageFigures {
    /// Image and program used.
    pub image: String,
    /// KiB written, then read back.
    pub kib: u64,
    pub write: StoragePhase,
    pub read: StoragePhase,
}

fn phase(start: &Mark, end: &Mark, kib: u64, copied: u64) -> StoragePhase {
    let ns = end.time_ns.saturating_sub(start.time_ns).max(1);
    let per_kib = |name: &str| end.stats.delta(&start.stats, name).map(|d| d as f64 / kib as f64);
    StoragePhase {
        ns,
        mib_per_s: (kib as f64 / 1024.0) / (ns as f64 / 1e9),
        kernel_instructions_per_kib: per_kib("insn_emulation"),
        exits_per_kib: per_kib("exits"),
        kernel_copied_bytes_per_kib: copied as f64 / kib as f64,
    }
}

/// Parses `diskbench: K KiB; kernel-copied bytes: write W, read R`.
fn parse_report(console: &str) -> Option<(u64, u64, u64)> {
    let line = console.lines().find_map(|l| l.strip_prefix("diskbench: "))?;
    let (kib, rest) = line.split_once(" KiB; kernel-copied bytes: write ")?;
    let (write, read) = rest.split_once(", read ")?;
    Some((kib.trim().parse().ok()?, write.trim().parse().ok()?, read.trim().parse().ok()?))
}

/// The figures of a finished `diskbench` run.
pub fn storage_figures(outcome: &RunOutcome) -> Result<StorageFigures, BenchError> {
    let console = outcome.console_text();
    let (kib, written, read) = parse_report(&console).ok_or_else(|| BenchError::NoReport(tail(&console)))?;
    let mark = |id: u32| outcome.mark(id).ok_or(BenchError::MissingMark { image: STORAGE_IMAGE.to_string(), id });
    let kib = kib.max(1);
    Ok(StorageFigures {
        image: STORAGE_IMAGE.to_string(),
        kib,
        write: phase(mark(MARK_DISK_WRITE_START)?, mark(MARK_DISK_WRITE_END)?, kib, written),
        read: phase(mark(MARK_DISK_READ_START)?, mark(MARK_DISK_READ_END)?, kib, read),
    })
}

fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(8)..].join("\n")
}

/// The figures as table rows.
pub fn format_storage(s: &StorageFigures) -> String {
    let opt = |v: Option<f64>| v.map_or_else(|| "n/a".into(), |v| format!("{v:.1}"));
    let mut out = format!("\nstorage (image {}, diskbench: {} KiB written, then read back)\n", s.image, s.kib);
    out.push_str(&format!(
        "  {:<8}{:>12}{:>10}{:>26}{:>14}{:>28}\n",
        "", "time", "MiB/s", "kernel instructions/KiB", "exits/KiB", "kernel-copied bytes/KiB"
    ));
    for (name, p) in [("write", &s.write), ("read", &s.read)] {
        out.push_str(&format!(
            "  {:<8}{:>9.1} ms{:>10.3}{:>26}{:>14}{:>28.0}\n",
            name,
            p.ns as f64 / 1e6,
            p.mib_per_s,
            opt(p.kernel_instructions_per_kib),
            opt(p.exits_per_kib),
            p.kernel_copied_bytes_per_kib
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vstate::outcome::Exit;
    use crate::vstate::stats::StatsSnapshot;
    use std::time::Duration;

    fn mark(id: u32, time_ns: u64, insn: u64, exits: u64) -> Mark {
        let mut stats = StatsSnapshot::default();
        stats.values.insert("insn_emulation".into(), insn);
        stats.values.insert("exits".into(), exits);
        Mark { id, time_ns, stats, console_bytes: 0 }
    }

    #[test]
    fn figures_are_per_kib_deltas_between_the_marks_and_the_reported_copies() {
        let outcome = RunOutcome {
            exit: Exit::PowerOff(0),
            marks: vec![
                mark(MARK_DISK_WRITE_START, 0, 1000, 10),
                mark(MARK_DISK_WRITE_END, 1_000_000_000, 5096, 1034),
                mark(MARK_DISK_READ_START, 1_000_000_000, 6000, 2000),
                mark(MARK_DISK_READ_END, 1_500_000_000, 8048, 2512),
            ],
            final_stats: StatsSnapshot::default(),
            wall_time: Duration::from_secs(2),
            console: Some(b"boot\ndiskbench: 1024 KiB; kernel-copied bytes: write 2097152, read 3145728\n".to_vec()),
            ..RunOutcome::empty_for_tests()
        };
        let f = storage_figures(&outcome).unwrap();
        assert_eq!(f.kib, 1024);
        assert_eq!(f.write.kernel_instructions_per_kib, Some(4.0));
        assert_eq!(f.write.exits_per_kib, Some(1.0));
        assert_eq!(f.write.kernel_copied_bytes_per_kib, 2048.0);
        assert!((f.write.mib_per_s - 1.0).abs() < 1e-9);
        assert_eq!(f.read.kernel_instructions_per_kib, Some(2.0));
        assert_eq!(f.read.kernel_copied_bytes_per_kib, 3072.0);
        assert!((f.read.mib_per_s - 2.0).abs() < 1e-9);
        assert!(format_storage(&f).contains("write"));
    }

    #[test]
    fn a_run_without_the_report_or_the_marks_is_an_error() {
        let outcome = RunOutcome { console: Some(b"nothing\n".to_vec()), ..RunOutcome::empty_for_tests() };
        assert!(storage_figures(&outcome).is_err());
        let outcome = RunOutcome {
            console: Some(b"diskbench: 4 KiB; kernel-copied bytes: write 1, read 2\n".to_vec()),
            ..RunOutcome::empty_for_tests()
        };
        assert!(storage_figures(&outcome).unwrap_err().to_string().contains("bench mark"));
    }
}
