//! Issue 7: `viv campaign` end to end on a tiny campaign: the reports'
//! shapes, the exit status with a failing expectation, shard/merge
//! equality with the unsharded run, replay, and a bad file.

mod common;

use std::path::Path;
use std::process::{Command, Output};

fn viv(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_viv")).args(args).output().expect("running viv")
}

fn status(out: &Output) -> i32 {
    out.status.code().expect("viv killed by a signal")
}

/// A 6-experiment campaign crashing or hanging TTY under an echo/cat
/// workload, at the one message the workload sends TTY (`cat`'s write);
/// `expect` is its [expect] table.
fn write_campaign(dir: &Path, name: &str, experiments: u32, expect: &str) -> String {
    let text = format!(
        "name = \"{name}\"\nimage = \"system\"\nworkload = \"echo tiny > /tmp/f; cat /tmp/f\"\n\
         experiments = {experiments}\nseed = 99\ntimeout = 120\n\n[[fault]]\ntargets = [\"tty\"]\n\
         actions = [\"crash\", \"hang\"]\nnth = 1\n\n[expect]\n{expect}"
    );
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

/// Writes `source` with `from` replaced by `to` as `dir/NAME.toml`, runs
/// it, and checks the one-line error: status 120, `viv: FILE:` then
/// `expected` (line, field, problem).
fn assert_refused(dir: &Path, name: &str, source: &str, from: &str, to: &str, expected: &str) {
    let bad = dir.join(format!("{name}.toml"));
    std::fs::write(&bad, std::fs::read_to_string(source).unwrap().replace(from, to)).unwrap();
    let out = viv(&["campaign", bad.to_str().unwrap(), "--out", dir.join(name).to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(status(&out), 120, "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with(&format!("viv: {}:{expected}", bad.display())), "{stderr}");
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn a_tiny_campaign_reports_shards_merge_and_fails_on_a_broken_expectation() {
    let dir = common::scratch_dir("campaign");
    let file = write_campaign(
        &dir,
        "tiny",
        6,
        "exit_status = 0\noutput = \"tiny\\n\"\nmin_restarts = { tty = 1 }\nmin_injected = 1.0\n",
    );
    let whole = dir.join("whole");
    let out = viv(&["campaign", &file, "--out", whole.to_str().unwrap(), "--jobs", "2"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(status(&out), 0, "stderr: {stderr}");
    assert!(stderr.contains("campaign tiny: 6 experiments"), "{stderr}");

    let results = json(&whole.join("results.json"));
    let programs = vmm::campaign::file::image_programs("system").unwrap();
    let tty = programs.iter().position(|p| p == "tty").unwrap();
    assert_eq!(results["format"], 1);
    assert_eq!(results["totals"]["experiments"], 6);
    assert_eq!(results["totals"]["failed"], 0);
    let experiments = results["experiments"].as_array().unwrap();
    assert_eq!(experiments.len(), 6);
    for (i, e) in experiments.iter().enumerate() {
        assert_eq!(e["index"], i as u64);
        let outcome = e["outcome"].as_str().unwrap();
        assert_eq!(outcome, "recovered", "experiment {i}: {e}");
        assert_eq!(e["restarts"]["tty"], 1, "{e}");
        assert_eq!(e["faults_injected"], 1, "{e}");
        assert_eq!(e["workload_status"], 0, "{e}");
        assert_eq!(e["plan"]["rules"][0]["destination"], tty, "tty's privilege id: {e}");
        assert!(e["timing"]["wall_ms"].as_u64().unwrap() > 0);
    }
    let junit = std::fs::read_to_string(whole.join("junit.xml")).unwrap();
    assert!(junit.starts_with("<?xml"), "{junit}");
    assert!(junit.contains("tests=\"7\" failures=\"0\" errors=\"0\""), "{junit}");
    assert_eq!(junit.matches("<testcase ").count(), 7);
    let summary = std::fs::read_to_string(whole.join("summary.md")).unwrap();
    assert!(summary.contains("**passed**") && summary.contains("experiments per second"), "{summary}");

    // Shards 1/3, 2/3, 3/3 merged equal the unsharded run, timing aside.
    let mut shard_dirs = Vec::new();
    for k in 1..=3 {
        let d = dir.join(format!("shard{k}"));
        let out = viv(&["campaign", &file, "--out", d.to_str().unwrap(), "--shard", &format!("{k}/3"), "--jobs", "2"]);
        assert_eq!(status(&out), 0, "shard {k}: {}", String::from_utf8_lossy(&out.stderr));
        let r = json(&d.join("results.json"));
        assert_eq!(r["shard"], serde_json::json!({"index": k, "count": 3}));
        assert_eq!(r["experiments"].as_array().unwrap().len(), 2);
        shard_dirs.push(d.to_str().unwrap().to_string());
    }
    let merged = dir.join("merged");
    let mut args = vec!["campaign", "merge"];
    args.extend(shard_dirs.iter().map(String::as_str));
    args.extend(["--out", merged.to_str().unwrap()]);
    let out = viv(&args);
    assert_eq!(status(&out), 0, "merge: {}", String::from_utf8_lossy(&out.stderr));
    // Everything but wall-clock times is equal, down to how many events
    // matched each rule after it fired and the kernel instructions each
    // experiment executed: device interrupts reach the guest at the same
    // instruction in every run (`devices::irq`).
    let merged_results = json(&merged.join("results.json"));
    assert_eq!(
        vmm::campaign::report::without_timing(merged_results.clone()),
        vmm::campaign::report::without_timing(results.clone())
    );
    let instructions = |v: &serde_json::Value| -> Vec<serde_json::Value> {
        v["experiments"].as_array().unwrap().iter().map(|e| e["timing"]["kernel_instructions"].clone()).collect()
    };
    assert_eq!(instructions(&merged_results), instructions(&results));
    assert!(instructions(&results).iter().all(|n| n.as_u64().unwrap() > 0));
    // A missing shard is refused.
    let out = viv(&["campaign", "merge", &shard_dirs[0], &shard_dirs[2], "--out", merged.to_str().unwrap()]);
    assert_eq!(status(&out), 120);
    assert!(String::from_utf8_lossy(&out.stderr).contains("2 of 6 experiments are missing"));

    // Replay writes the experiment's full trace.
    let trace = dir.join("t.jsonl");
    let out = viv(&[
        "campaign",
        "replay",
        whole.join("results.json").to_str().unwrap(),
        "3",
        "--out",
        trace.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(status(&out), 0, "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.starts_with("experiment 3: "), "{stdout}");
    let lines = std::fs::read_to_string(&trace).unwrap();
    assert!(lines.lines().count() > 100, "a whole boot has many IPC records: {}", lines.lines().count());
    assert!(lines.lines().all(|l| serde_json::from_str::<serde_json::Value>(l).is_ok()));

    // An expectation that cannot hold: exit status 1, failures in JUnit.
    let failing = write_campaign(&dir, "failing", 3, "output = \"not what cat prints\\n\"\n");
    let out_dir = dir.join("failing");
    let out = viv(&["campaign", &failing, "--out", out_dir.to_str().unwrap()]);
    assert_eq!(status(&out), 1, "{}", String::from_utf8_lossy(&out.stderr));
    let junit = std::fs::read_to_string(out_dir.join("junit.xml")).unwrap();
    // Three experiments and the "faults fired" check every campaign has
    // (without min_injected: that some fault fired), which passes.
    assert!(junit.contains("tests=\"4\" failures=\"3\" errors=\"0\""), "{junit}");
    assert!(junit.contains("name=\"campaign: faults fired\" time=\"0\"/>"), "{junit}");
    assert_eq!(junit.matches("<failure message=\"workload output").count(), 3, "{junit}");
    let r = json(&out_dir.join("results.json"));
    assert_eq!(r["experiments"][0]["outcome"], "workload_failed");
    assert!(r["experiments"][0]["detail"]["console_tail"].as_str().unwrap().contains("tiny"));
    assert!(std::fs::read_to_string(out_dir.join("summary.md")).unwrap().contains("## Failed expectations"));

    // A bad file: one line naming file, line and field; status 120.
    assert_refused(&dir, "bad", &file, "[\"tty\"]", "[\"ttx\"]", "9: fault.targets: unknown program \"ttx\"");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn experiments_start_from_a_snapshot_or_a_cold_boot_and_replays_repeat() {
    let dir = common::scratch_dir("campaign-start");
    let expect = "exit_status = 0\noutput = \"tiny\\n\"\nmin_restarts = { tty = 1 }\nmin_injected = 1.0\n";
    let snap_file = write_campaign(&dir, "snap", 3, expect);
    let boot_file = write_campaign(&dir, "boot", 3, expect);
    let boot_text =
        std::fs::read_to_string(&boot_file).unwrap().replace("timeout = 120\n", "timeout = 120\nstart = \"boot\"\n");
    std::fs::write(&boot_file, boot_text).unwrap();

    let mut runs = Vec::new();
    for (file, name) in [(&snap_file, "snap"), (&boot_file, "boot")] {
        let out_dir = dir.join(format!("{name}-out"));
        let out = viv(&["campaign", file, "--out", out_dir.to_str().unwrap(), "--jobs", "2"]);
        assert_eq!(status(&out), 0, "{name}: {}", String::from_utf8_lossy(&out.stderr));
        let results = json(&out_dir.join("results.json"));
        for e in results["experiments"].as_array().unwrap() {
            assert_eq!(e["outcome"], "recovered", "{name}: {e}");
            assert_eq!(e["faults_injected"], 1, "{name}: {e}");
        }
        runs.push((out_dir, results));
    }
    let (snap_dir, snap) = &runs[0];
    let (_, boot) = &runs[1];
    assert_eq!(snap["campaign"]["start"], "snapshot");
    assert_eq!(boot["campaign"]["start"], "boot");
    assert!(snap["timing"]["snapshot_secs"].as_f64().unwrap() > 0.0);
    assert!(boot["timing"]["snapshot_secs"].is_null());
    let summary = std::fs::read_to_string(snap_dir.join("summary.md")).unwrap();
    assert!(summary.contains("started from a snapshot"), "{summary}");
    // An experiment from the snapshot skips the boot: fewer kernel
    // instructions than the same experiment cold-booted.
    for (s, b) in snap["experiments"].as_array().unwrap().iter().zip(boot["experiments"].as_array().unwrap()) {
        let count = |e: &serde_json::Value| e["timing"]["kernel_instructions"].as_u64().unwrap();
        assert!(count(s) < count(b), "snapshot {} vs boot {}", count(s), count(b));
    }

    // Replaying a snapshot experiment twice writes the same trace, and
    // the outcome is the recorded one.
    let mut traces = Vec::new();
    for n in 0..2 {
        let trace = dir.join(format!("replay{n}.jsonl"));
        let results = snap_dir.join("results.json");
        let out = viv(&["campaign", "replay", results.to_str().unwrap(), "1", "--out", trace.to_str().unwrap()]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(status(&out), 0, "{stdout}{}", String::from_utf8_lossy(&out.stderr));
        assert!(stdout.contains("same outcome as recorded"), "{stdout}");
        // Records carry the host's TSC, which is not virtual: leave it out.
        let records: Vec<serde_json::Value> = std::fs::read_to_string(&trace)
            .unwrap()
            .lines()
            .map(|l| {
                let mut record: serde_json::Value = serde_json::from_str(l).unwrap();
                // Processes alive at the snapshot are named too (from the
                // kernel's process directory), and every message type.
                for key in ["src_name", "dst_name"] {
                    assert!(!record[key].as_str().unwrap().starts_with("ep0x"), "{l}");
                }
                assert!(!record["event"].as_str().unwrap().contains("0x"), "{l}");
                record.as_object_mut().unwrap().remove("tsc");
                record
            })
            .collect();
        traces.push(records);
    }
    assert!(traces[0].len() > 50, "{} records", traces[0].len());
    assert!(traces[0] == traces[1], "the two replays' traces differ");

    // An unknown way to start is refused with file, line and field.
    let expected = "7: start: \"warm\" is not \"snapshot\" or \"boot\"";
    assert_refused(&dir, "bad-start", &boot_file, "\"boot\"", "\"warm\"", expected);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_throughput_benchmark_runs_the_same_experiments_both_ways() {
    let smoke = vmm::bench::campaign::smoke_campaign().unwrap();
    assert_eq!(smoke.name, "smoke");
    let dir = common::scratch_dir("campaign-bench");
    let file = write_campaign(&dir, "bench", 6, "exit_status = 0\n");
    let campaign = vmm::campaign::Campaign::load(Path::new(&file)).unwrap();
    let f = vmm::bench::campaign::compare(&campaign, 2, 2, &dir).unwrap();
    assert_eq!((f.experiments, f.jobs), (2, 2));
    assert_eq!((f.snapshot.start.as_str(), f.boot.start.as_str()), ("snapshot", "boot"));
    for m in [&f.snapshot, &f.boot] {
        assert_eq!(m.outcomes.values().sum::<u32>(), 2, "{m:?}");
        assert!(m.experiments_per_second > 0.0 && m.wall_secs > 0.0, "{m:?}");
        // What each experiment cost the host is reported: the process's
        // CPU per experiment and its vCPU thread's, and per kernel
        // instruction.
        assert!(m.cpu_secs_per_experiment.is_some_and(|s| s > 0.0), "{m:?}");
        assert!(m.median_vcpu_cpu_ms.is_some_and(|ms| ms > 0), "{m:?}");
        assert!(m.vcpu_cpu_us_per_kernel_instruction.is_some_and(|us| us > 0.0), "{m:?}");
    }
    assert!(f.snapshot.snapshot_secs.is_some() && f.boot.snapshot_secs.is_none());
    let (s, b) = (f.snapshot.median_kernel_instructions.unwrap(), f.boot.median_kernel_instructions.unwrap());
    assert!(s < b, "snapshot {s} vs boot {b}");
    assert_eq!(f.kernel_instruction_ratio, Some(b as f64 / s as f64));
    let table = vmm::bench::campaign::format(&f);
    assert!(table.contains("snapshot vs cold boot: x"), "{table}");
    let _ = std::fs::remove_dir_all(&dir);
}
