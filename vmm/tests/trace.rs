//! IPC observation end to end: the system image traced under KVM, counts
//! and causes checked against relations the protocols fix.
mod common;

use std::time::Duration;

use abi::trace::Kind;
use vmm::config::RunConfig;
use vmm::trace::analysis::Analysis;
use vmm::trace::decode::decode;
use vmm::trace::TraceMode;

fn traced(image: &str, append: &str, mode: TraceMode) -> vmm::RunOutcome {
    let mut config = RunConfig::for_image(image).unwrap();
    config.append = append.to_string();
    config.timeout = Some(Duration::from_secs(120));
    config.trace = Some(mode);
    vmm::run(&config).unwrap()
}

#[test]
fn echo_hi_write_is_user_vfs_tty_vfs_user() {
    let outcome = traced("system", " -- echo hi", TraceMode::Lossless);
    assert_eq!(outcome.exit_status(), 0, "{}", outcome.console_text());
    assert!(outcome.console_text().contains("hi"));
    let log = outcome.trace.expect("a trace");
    assert_eq!(log.dropped, 0);
    let decoded = decode(&log.raw);
    assert!(decoded.bad.is_empty(), "{:?}", &decoded.bad[..decoded.bad.len().min(5)]);
    assert_eq!(decoded.missing, 0);
    let a = Analysis::new(&decoded.records, None);
    assert!(a.mark.is_some(), "no command-start mark");
    let report = a.count_report();
    eprintln!("{}", report.table());
    let write = a.command_calls().find(|c| c.name == "write" && c.caller == "echo").expect("echo's write");
    let msgs: Vec<_> = (0..a.records.len())
        .filter(|&i| a.records[i].event.cause == write.cause && a.records[i].kind.is_message())
        .map(|i| (a.names[i].0.as_str(), a.names[i].1.as_str()))
        .collect();
    eprintln!("{msgs:?}");
    assert_eq!(msgs.first(), Some(&("echo", "vfs")));
    assert_eq!(msgs.last(), Some(&("vfs", "echo")));
    assert!(msgs.contains(&("vfs", "tty")));
    assert!(msgs.contains(&("tty", "vfs")));
    assert_eq!(msgs.len() as u64, write.messages);
    let stats = report.calls.iter().find(|c| c.name == "write").unwrap();
    assert!(stats.min >= 4, "{stats:?}");
    // Every message record of a cause that a user opened starts at that user.
    assert!(report.boot_to_prompt_messages.unwrap() > 20);
    assert!(decoded.records.iter().any(|r| r.kind == Kind::Spawn));
}

#[test]
fn tracing_costs_little_and_exits_only_when_the_ring_fills() {
    let t = vmm::trace::run::trace_overhead(300, vmm::EntryChoice::Auto, Duration::from_secs(120)).unwrap();
    eprintln!("{}", serde_json::to_string_pretty(&t).unwrap());
    // ipcbench's phases move at least one message per operation each.
    assert!(t.traced_messages >= 5 * 300, "{t:?}");
    if let Some(ratio) = t.sendrec_ratio {
        assert!(ratio < 1.25, "tracing costs x{ratio:.3} per SENDREC round trip");
    }
    // A 4 MiB ring holds 65,472 records: this run never fills it.
    assert_eq!(t.doorbells, 0);
}
