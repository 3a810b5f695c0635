//! `viv bench --qemu`: the same `hello` and `pingpong` under QEMU's TCG
//! (a full software emulator) in the same run, and the wall-time ratio
//! of ours to QEMU's beside our figures.
//!
//! Why: on our hosts kernel mode is emulated, so a reader wants to know
//! whether Vivarium on this KVM beats simply emulating the whole machine.
//! QEMU cannot write our bench marks to the host, so its figures come from
//! process wall times: `hello` from starting QEMU to its exit (ours: VMM
//! start to power-off), and the pingpong round trip as the difference of
//! two runs of N and 2N rounds divided by N (start-up and boot cancel).
//! Wall times on a loaded host vary; the ratio is a rough guide, unlike
//! the exact instruction counts.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::Serialize;

use super::BenchError;
use crate::image::embedded::{embedded_kernel, find_image};
use crate::vstate::qemu::{guest_status, qemu_args, QEMU_BINARY};

/// Fewest pingpong rounds measured under QEMU (its round trip is short,
/// so fewer rounds would drown in start-up noise).
pub const MIN_QEMU_ROUNDS: u64 = 50_000;

/// Runs of each pingpong size: the fastest of each is the one least
/// disturbed by other work on the host, and a single pair on a busy host
/// can come out with the longer run no slower than the shorter.
const PINGPONG_REPEATS: usize = 3;

/// QEMU's figures and the ratios of ours to them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QemuFigures {
    /// `qemu-system-x86_64 --version`'s first line.
    pub version: String,
    /// QEMU start to exit, booting `hello`, ns.
    pub hello_ns: u64,
    /// Ours (VMM start to power-off, the boot median) / QEMU's.
    pub hello_ratio: f64,
    /// Rounds of the smaller QEMU pingpong run (the larger ran twice as many).
    pub pingpong_rounds: u64,
    /// QEMU's round trip, ns.
    pub pingpong_ns_per_round_trip: f64,
    /// Ours / QEMU's, per round trip.
    pub pingpong_ratio: f64,
}

/// The first line of `qemu-system-x86_64 --version`, or the one-line
/// error that QEMU is missing.
pub fn qemu_version() -> Result<String, BenchError> {
    let output = Command::new(QEMU_BINARY).arg("--version").output().map_err(|_| BenchError::QemuMissing)?;
    if !output.status.success() {
        return Err(BenchError::QemuMissing);
    }
    Ok(String::from_utf8_lossy(&output.stdout).lines().next().unwrap_or("").trim().to_string())
}

/// Boots `image` under QEMU TCG with `append`; returns the wall time from
/// starting QEMU to its exit. The guest must power off with 0.
fn run_qemu(dir: &Path, image: &str, append: &str, timeout: Duration) -> Result<Duration, BenchError> {
    let found = find_image(image).map_err(crate::Error::from)?;
    let kernel = embedded_kernel().map_err(crate::Error::from)?;
    let kernel_path = dir.join("kernel.elf");
    let image_path = dir.join(format!("{image}.img"));
    for (path, bytes) in [(&kernel_path, kernel), (&image_path, found.archive)] {
        std::fs::write(path, bytes).map_err(|e| BenchError::Qemu(format!("cannot write {}: {e}", path.display())))?;
    }
    let mut command = Command::new(QEMU_BINARY);
    command
        .args(qemu_args(&kernel_path, &image_path, found.cmdline, append, None))
        .args(["-cpu", "max"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let start = Instant::now();
    let mut child = command.spawn().map_err(|_| BenchError::QemuMissing)?;
    let status = loop {
        if let Some(status) = child.try_wait().map_err(|e| BenchError::Qemu(e.to_string()))? {
            break status;
        }
        if start.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            return Err(BenchError::Qemu(format!("{image} did not power off within {} s", timeout.as_secs())));
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    let elapsed = start.elapsed();
    match status.code().and_then(guest_status) {
        Some(0) => Ok(elapsed),
        _ => Err(BenchError::Qemu(format!("{image} ended with {status} instead of powering off with 0"))),
    }
}

/// What the QEMU runs measured.
#[derive(Debug, Clone, PartialEq)]
pub struct QemuRuns {
    /// [`qemu_version`].
    pub version: String,
    /// Starting QEMU to its exit, booting `hello`.
    pub hello: Duration,
    /// Rounds of the smaller pingpong run (the larger ran twice as many).
    pub rounds: u64,
    /// The pingpong round trip, ns: (fastest 2N-run − fastest N-run) / N;
    /// NaN when the 2N-run was no slower (the host was too busy to tell).
    pub ns_per_round_trip: f64,
}

/// Boots `hello`, then the pingpong with `rounds` and twice as many
/// rounds, under QEMU TCG.
pub fn measure(rounds: u64, timeout: Duration) -> Result<QemuRuns, BenchError> {
    let version = qemu_version()?;
    let scratch = tempfile::tempdir().map_err(|e| BenchError::Qemu(format!("cannot make a scratch directory: {e}")))?;
    let hello = run_qemu(scratch.path(), super::BOOT_IMAGE, "", timeout)?;
    let n = rounds.max(1);
    let key = super::PINGPONG_ROUNDS_KEY;
    let (mut small, mut large) = (Duration::MAX, Duration::MAX);
    for _ in 0..PINGPONG_REPEATS {
        small = small.min(run_qemu(scratch.path(), super::PINGPONG_IMAGE, &format!("{key}={n}"), timeout)?);
        large = large.min(run_qemu(scratch.path(), super::PINGPONG_IMAGE, &format!("{key}={}", 2 * n), timeout)?);
    }
    let ns_per_round_trip = round_trip_ns(small, large, n);
    Ok(QemuRuns { version, hello, rounds: n, ns_per_round_trip })
}

/// The round trip from an N-round and a 2N-round run: their difference
/// over N, or NaN when the longer run was not slower.
fn round_trip_ns(small: Duration, large: Duration, n: u64) -> f64 {
    if large > small {
        (large - small).as_nanos() as f64 / n as f64
    } else {
        f64::NAN
    }
}

/// Runs `hello` and the pingpong (`rounds`, at least [`MIN_QEMU_ROUNDS`],
/// and twice as many) under QEMU and compares them with our figures.
pub fn compare(ours: &super::BenchReport, rounds: u64, timeout: Duration) -> Result<QemuFigures, BenchError> {
    Ok(figures(measure(rounds.max(MIN_QEMU_ROUNDS), timeout)?, ours))
}

/// QEMU's figures beside ours.
pub fn figures(runs: QemuRuns, ours: &super::BenchReport) -> QemuFigures {
    let ratio = |ours: f64, theirs: f64| if theirs > 0.0 { ours / theirs } else { f64::NAN };
    QemuFigures {
        version: runs.version,
        hello_ns: runs.hello.as_nanos() as u64,
        hello_ratio: ratio(ours.boot.poweroff_ns as f64, runs.hello.as_nanos() as f64),
        pingpong_rounds: runs.rounds,
        pingpong_ns_per_round_trip: runs.ns_per_round_trip,
        pingpong_ratio: ratio(ours.pingpong.ns_per_round_trip, runs.ns_per_round_trip),
    }
}

/// The comparison as table rows.
pub fn format(q: &QemuFigures, ours: &super::BenchReport) -> String {
    let ms = |ns: f64| if ns.is_finite() { format!("{:.3} ms", ns / 1e6) } else { "not measured".to_string() };
    let times = |ratio: f64| if ratio.is_finite() { format!("x{ratio:.2}") } else { "-".to_string() };
    let mut out = format!("\nunder QEMU TCG ({}), wall time; ratio = ours / QEMU's\n", q.version);
    out.push_str(&format!("  {:<34}{:>14}{:>14}{:>10}\n", "", "ours", "QEMU", "ratio"));
    out.push_str(&format!(
        "  {:<34}{:>14}{:>14}{:>10}\n",
        "hello: start to power-off",
        ms(ours.boot.poweroff_ns as f64),
        ms(q.hello_ns as f64),
        times(q.hello_ratio)
    ));
    out.push_str(&format!(
        "  {:<34}{:>14}{:>14}{:>10}\n",
        format!("pingpong round trip ({} vs {})", q.pingpong_rounds, 2 * q.pingpong_rounds),
        ms(ours.pingpong.ns_per_round_trip),
        ms(q.pingpong_ns_per_round_trip),
        times(q.pingpong_ratio)
    ));
    if !q.pingpong_ns_per_round_trip.is_finite() {
        out.push_str(
            "  (the longer QEMU pingpong run was not slower than the shorter: the host was too busy to tell)\n",
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratios_are_ours_over_qemus() {
        let mut ours = crate::bench::tests::report_for_tests();
        ours.boot.poweroff_ns = 40_000_000;
        ours.pingpong.ns_per_round_trip = 2_000.0;
        let runs = QemuRuns {
            version: "QEMU emulator version 9".into(),
            hello: Duration::from_millis(200),
            rounds: 50_000,
            ns_per_round_trip: 500.0,
        };
        let q = figures(runs, &ours);
        assert_eq!(q.hello_ns, 200_000_000);
        assert!((q.hello_ratio - 0.2).abs() < 1e-9, "{q:?}");
        assert!((q.pingpong_ratio - 4.0).abs() < 1e-9, "{q:?}");
        let table = format(&q, &ours);
        assert!(table.contains("x4.00") && table.contains("x0.20") && table.contains("version 9"), "{table}");
    }

    #[test]
    fn a_longer_run_that_is_not_slower_is_not_a_round_trip_of_zero() {
        let n = 50_000;
        assert!(round_trip_ns(Duration::from_millis(300), Duration::from_millis(290), n).is_nan());
        assert!((round_trip_ns(Duration::from_millis(300), Duration::from_millis(350), n) - 1_000.0).abs() < 1e-9);
        let ours = crate::bench::tests::report_for_tests();
        let runs = QemuRuns {
            version: "QEMU emulator version 9".into(),
            hello: Duration::from_millis(200),
            rounds: n,
            ns_per_round_trip: f64::NAN,
        };
        let table = format(&figures(runs, &ours), &ours);
        assert!(table.contains("not measured") && table.contains("too busy") && !table.contains("NaN"), "{table}");
    }

    #[test]
    fn a_missing_qemu_is_one_line() {
        let text = BenchError::QemuMissing.to_string();
        assert!(!text.contains('\n') && text.contains(QEMU_BINARY), "{text}");
    }
}
