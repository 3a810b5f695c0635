//! SWIFI as a campaign fault type, end to end: the committed example
//! `ci/campaigns/swifi-blk.toml` cut to 6 experiments runs on 2 jobs; every
//! experiment records its mutations of blk's code (kind as drawn, bytes
//! before and after, inside a function of blk's ELF), the outcomes are
//! among those the campaign accepts, the reports show the mutations, a
//! replay reports the same mutation, and a bad SWIFI fault type in a file
//! is one line naming file, line and field (status 120).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn viv(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_viv")).args(args).output().expect("running viv")
}

fn status(out: &Output) -> i32 {
    out.status.code().expect("viv killed by a signal")
}

/// The example campaign's text with `experiments` experiments.
fn example(experiments: u32) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../ci/campaigns/swifi-blk.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("\nexperiments = 40\n"), "{}", path.display());
    text.replace("\nexperiments = 40\n", &format!("\nexperiments = {experiments}\n"))
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn bytes(v: &serde_json::Value) -> Vec<u8> {
    v.as_array().unwrap().iter().map(|b| b.as_u64().unwrap() as u8).collect()
}

#[test]
fn a_swifi_campaign_records_every_mutation_inside_blks_functions() {
    let dir = common::scratch_dir("campaign-swifi");
    let file = write(&dir, "swifi.toml", &example(6));
    let out_dir = dir.join("out");
    let out = viv(&["campaign", file.to_str().unwrap(), "--out", out_dir.to_str().unwrap(), "--jobs", "2"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(status(&out), 0, "stderr: {stderr}");

    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out_dir.join("results.json")).unwrap()).unwrap();
    let experiments = results["experiments"].as_array().unwrap();
    assert_eq!(experiments.len(), 6);
    for e in experiments {
        let outcome = e["outcome"].as_str().unwrap();
        assert!(["no_effect", "recovered", "workload_failed"].contains(&outcome), "{e}");
        let kind = e["plan"]["swifi"]["kind"].as_str().unwrap();
        assert_eq!(e["plan"]["rules"][0]["action"], "stop", "{e}");
        assert!(e["description"].as_str().unwrap().starts_with(&format!("swifi {kind} blk")), "{e}");
        let mutations = e["swifi"].as_array().unwrap();
        assert!(!mutations.is_empty() && mutations.len() as u64 == e["faults_injected"].as_u64().unwrap(), "{e}");
        for m in mutations {
            assert_eq!(m["error"], serde_json::Value::Null, "{m}");
            assert_eq!((m["kind"].as_str(), m["program"].as_str()), (Some(kind), Some("blk")), "{m}");
            assert_eq!(m["scope"], "functions", "{m}");
            let (before, after) = (bytes(&m["before"]), bytes(&m["after"]));
            assert!(!before.is_empty() && before.len() == after.len() && before != after, "{m}");
            let address = m["address"].as_u64().unwrap();
            let function = common::function_holding("system", "blk", address, before.len() as u64);
            assert!(function.is_some(), "not inside a function of blk's ELF: {m}");
            assert_eq!(m["function"].as_str(), function.as_deref(), "{m}");
        }
    }
    let junit = std::fs::read_to_string(out_dir.join("junit.xml")).unwrap();
    assert_eq!(junit.matches("<system-out>mutation: ").count(), 6, "{junit}");
    let summary = std::fs::read_to_string(out_dir.join("summary.md")).unwrap();
    assert!(summary.contains("## SWIFI mutations") && summary.contains(" | blk | `"), "{summary}");

    // A replay mutates the same bytes and ends the same way.
    let first = &experiments[0]["swifi"][0];
    let results_path = out_dir.join("results.json");
    let trace = dir.join("t.jsonl");
    let out = viv(&["campaign", "replay", results_path.to_str().unwrap(), "0", "--out", trace.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(status(&out), 0, "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    let line =
        format!("mutation: {} in blk at {:#x}", first["kind"].as_str().unwrap(), first["address"].as_u64().unwrap());
    assert!(stdout.contains(&line) && stdout.contains("same outcome as recorded"), "{stdout}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_unknown_swifi_fault_type_is_one_line_naming_file_line_and_field() {
    let dir = common::scratch_dir("campaign-swifi-bad");
    let text = example(6).replace("\"interface\", \"loop\"]", "\"interface\", \"loops\"]");
    let line = 1 + text[..text.find("\"loops\"").unwrap()].matches('\n').count();
    let bad = write(&dir, "bad.toml", &text);
    let out = viv(&["campaign", bad.to_str().unwrap(), "--out", dir.join("out").to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(status(&out), 120, "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    let want = format!("viv: {}:{line}: fault.swifi: unknown SWIFI fault type \"loops\" (text, nop, ", bad.display());
    assert!(stderr.starts_with(&want), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}
