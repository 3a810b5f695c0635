//! The storage benchmark's measurement path: `diskbench` in the system
//! image brackets a sequential write and read with marks and reports the
//! kernel's copies; the host turns them into per-KiB figures.

use std::time::Duration;
use vmm::bench::storage::storage_figures;
use vmm::{Exit, RunConfig};

#[test]
fn diskbench_yields_per_kib_figures_with_at_least_one_kernel_copy_per_byte() {
    let mut config = RunConfig::for_image("system").unwrap();
    config.append = "-- diskbench 1".into();
    config.timeout = Some(Duration::from_secs(120));
    let outcome = vmm::run(&config).unwrap();
    assert_eq!(outcome.exit, Exit::PowerOff(0), "{}", outcome.console_text());
    let f = storage_figures(&outcome).unwrap();
    assert_eq!(f.kib, 1024);
    for (name, p) in [("write", &f.write), ("read", &f.read)] {
        // Data moves between address spaces only by safe copies, and at
        // least once (user <-> file server), so every KiB costs >= 1 KiB.
        assert!(p.kernel_copied_bytes_per_kib >= 1024.0, "{name}: {p:?}");
        assert!(p.kernel_instructions_per_kib.unwrap() > 0.0, "{name}: {p:?}");
        assert!(p.exits_per_kib.unwrap() > 0.0, "{name}: {p:?}");
        assert!(p.mib_per_s > 0.0, "{name}: {p:?}");
    }
}
