//! The guest's virtio-blk driver end to end under KVM: the `blk-test`
//! image boots with a disk file, `blk_probe` writes, flushes and reads
//! through the `blk` service, kills it and uses the instance RS restarts.
//! Checked from both sides: the probe's report on the console, and the
//! bytes in the disk file on the host. The driver polls the device (whose
//! requests finish within their `QueueNotify` exit); a completion found
//! only at the driver's deadline would be reported on the console and
//! fails the test.

mod common;

use abi::syscall::KernelCall;
use abi::trace::Kind;
use abi::Error;
use std::time::Duration;
use vmm::observe::analysis::Analysis;
use vmm::observe::decode::decode;
use vmm::observe::TraceMode;
use vmm::vstate::config::RunConfig;
use vmm::vstate::outcome::Exit;

/// Byte `i` of pattern `tag`, as in `guest-servers/programs/src/bin/blk_probe.rs`.
fn pattern(tag: u8, i: usize) -> u8 {
    ((i * 31 + usize::from(tag) * 7) ^ (i >> 9)) as u8
}

/// (tag, position, length) of what the probe writes.
const PATTERNS: [(u8, u64, usize); 3] = [(1, 0x10_0200, 8192), (2, 0x20_0000, 65536), (3, 0x30_0000, 4096)];

const CASES: &[&str] =
    &["geometry", "write", "flush", "read", "large", "bad_requests", "bad_grant", "restarted", "after_restart"];

#[test]
fn the_driver_reads_writes_flushes_and_survives_a_restart() {
    let calls = probe_the_driver("blk-driver", "");
    // Data moved by DMA straight to and from the probe's grants: no safe
    // copy, and every bad grant refused by GrantPhys itself.
    let perm = Error::Perm.to_return() as i32;
    assert!(
        calls.iter().all(|&(call, _)| call != KernelCall::SafeCopyFrom && call != KernelCall::SafeCopyTo),
        "{calls:?}"
    );
    assert_eq!(calls.iter().filter(|&&(call, r)| call == KernelCall::GrantPhys && r == perm).count(), 3, "{calls:?}");
    assert!(calls.iter().filter(|&&(call, r)| call == KernelCall::GrantPhys && r > 0).count() >= 6, "{calls:?}");
}

/// The same through the bounce buffer and safe copies (`blk.bounce=1`),
/// the path a grant of more runs than a chain holds takes: the same
/// answers, bad grants refused alike.
#[test]
fn the_driver_works_the_same_through_its_bounce_buffer() {
    let calls = probe_the_driver("blk-driver-bounce", "blk.bounce=1");
    let perm = Error::Perm.to_return() as i32;
    assert!(calls.iter().all(|&(call, _)| call != KernelCall::GrantPhys), "{calls:?}");
    assert_eq!(
        calls.iter().filter(|&&(call, r)| call.name().starts_with("safecopy") && r == perm).count(),
        3,
        "{calls:?}"
    );
}

/// Boots blk-test with `append`, checks the probe's report and the disk
/// file; returns (call, result) of every kernel call the driver made.
fn probe_the_driver(scratch: &str, append: &str) -> Vec<(KernelCall, i32)> {
    let dir = common::scratch_dir(scratch);
    let disk = dir.join("disk.img");
    std::fs::write(&disk, vec![0u8; 4 << 20]).unwrap();
    let mut config = RunConfig::for_image("blk-test").unwrap();
    config.disk = Some(disk.clone());
    config.append = append.to_string();
    config.trace = Some(TraceMode::Lossless);
    config.timeout = Some(Duration::from_secs(120));
    let outcome = vmm::run(&config).expect("booting blk-test");
    let console = outcome.console_text();

    let ok: Vec<&str> = console.lines().filter_map(|l| l.strip_prefix("blk_probe: ")?.strip_suffix(" ok")).collect();
    assert_eq!(ok, CASES, "cases reported ok, in order\nconsole:\n{console}");
    assert!(console.lines().any(|l| l == "blk_probe: done, 0 failed"), "console:\n{console}");
    assert_eq!(outcome.exit, Exit::PowerOff(0), "console:\n{console}");
    assert!(!console.contains("without an interrupt"), "completions were found by polling\nconsole:\n{console}");
    // Two instances set the device up: the first and the restarted one.
    assert_eq!(console.matches("blk: virtio-blk with 8192 sectors, flush true").count(), 2, "console:\n{console}");

    let bytes = std::fs::read(&disk).unwrap();
    assert_eq!(bytes.len(), 4 << 20, "the disk changed size");
    for (tag, pos, len) in PATTERNS {
        let at = pos as usize;
        let want: Vec<u8> = (0..len).map(|i| pattern(tag, i)).collect();
        assert!(bytes[at..at + len] == want[..], "pattern {tag} is not at {pos:#x} in the disk file");
        assert!(bytes[at - 512..at].iter().all(|&b| b == 0), "bytes before pattern {tag} were written");
        assert!(bytes[at + len..at + len + 512].iter().all(|&b| b == 0), "bytes after pattern {tag} were written");
    }

    let decoded = decode(&outcome.trace.clone().expect("a trace").raw);
    let a = Analysis::new(&decoded.records, None);
    a.records
        .iter()
        .zip(&a.names)
        .filter(|(r, (src, dst))| r.kind == Kind::KernelCall && src == "blk" && dst == "SYSTEM")
        .filter_map(|(r, _)| Some((KernelCall::from_number(r.event.mtype)?, r.event.result)))
        .collect()
}

#[test]
fn without_a_disk_the_driver_answers_unavailable() {
    let outcome = common::boot("blk-test", "", 60.0);
    let console = outcome.console_text();
    assert!(console.contains("blk: no usable virtio-blk device (EAGAIN)"), "console:\n{console}");
    assert!(console.contains("blk_probe: geometry FAILED: Err(Unavailable)"), "console:\n{console}");
}
