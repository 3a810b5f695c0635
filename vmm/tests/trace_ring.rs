//! The trace ring when it fills: a small ring (`RunConfig::trace_ring_bytes`)
//! under `ipcbench`, whose record count does not depend on timing (no
//! timers, no heartbeats: every record is one of the client's operations
//! or a server's answer).
//!
//! Lossless: no record is lost, and the only exits tracing causes are the
//! doorbells, exactly one each time the ring is full: for N records in a
//! ring of C, ⌊(N − 1) / C⌋. Drop: the host never drains before the end,
//! so it gets the first C records and the kernel reports the other N − C
//! as dropped.
mod common;

use std::time::Duration;

use vmm::observe::decode::decode;
use vmm::observe::{TraceLog, TraceMode};
use vmm::vstate::config::RunConfig;

/// Header page plus 128 records.
const RING: u64 = 4096 + 128 * 64;
const CAPACITY: u64 = 128;

fn run(mode: TraceMode, ring_bytes: u64) -> TraceLog {
    let mut config = RunConfig::for_image("ipcbench").unwrap();
    config.append = "ipcbench.ops=300".into();
    config.timeout = Some(Duration::from_secs(120));
    config.trace = Some(mode);
    config.trace_ring_bytes = ring_bytes;
    let outcome = vmm::run(&config).unwrap();
    assert_eq!(outcome.exit_status(), 0, "{}", outcome.console_text());
    outcome.trace.expect("a trace")
}

/// (kind, source, destination, type) of each record: what must not depend
/// on the ring.
fn events(log: &TraceLog) -> Vec<(u8, u32, u32, u32)> {
    let d = decode(&log.raw);
    assert!(d.bad.is_empty(), "{:?}", &d.bad[..d.bad.len().min(3)]);
    d.records.iter().map(|r| (r.kind as u8, r.event.src, r.event.dst, r.event.mtype)).collect()
}

#[test]
fn a_full_ring_rings_the_doorbell_in_lossless_mode_and_drops_in_drop_mode() {
    // Reference: the default ring never fills here.
    let big = run(TraceMode::Lossless, vmm::observe::RING_BYTES);
    assert_eq!((big.dropped, big.doorbells, big.doorbell_drains), (0, 0, 0));
    let all = events(&big);
    let n = all.len() as u64;
    assert!(n > 10 * CAPACITY, "only {n} records");

    let lossless = run(TraceMode::Lossless, RING);
    assert_eq!(lossless.dropped, 0);
    assert_eq!(decode(&lossless.raw).missing, 0);
    assert_eq!(events(&lossless), all, "the small ring lost or changed records");
    assert!(lossless.doorbells > 0);
    assert_eq!(lossless.doorbells, (n - 1) / CAPACITY, "one doorbell per full ring, no more");
    assert_eq!(lossless.doorbell_drains, lossless.doorbells, "every doorbell reached the host, nothing else drained");
    assert_eq!(lossless.header_errors, 0);

    let dropping = run(TraceMode::Drop, RING);
    assert_eq!(dropping.doorbells, 0);
    assert_eq!(dropping.doorbell_drains, 0);
    assert_eq!(dropping.raw.len() as u64, CAPACITY);
    assert_eq!(events(&dropping), all[..CAPACITY as usize], "the first records are the ones kept");
    assert_eq!(dropping.dropped, n - dropping.raw.len() as u64, "dropped = written - received");
}
