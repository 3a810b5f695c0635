//! Unit tests of the report shapes: JUnit XML, Markdown, JSON without
//! timing, shards.

use super::*;
use crate::campaign::classify::{Budget, Ending, Observation};
use crate::campaign::draw::plan;
use crate::campaign::file::tests_support::campaign_with;
use crate::inject::swifi::Mutation;

fn results() -> Results {
    let mut c = campaign_with("");
    c.expect.output = Some("hi\n".into());
    let experiments: Vec<ExperimentResult> = (0..4)
        .map(|i| {
            let p = plan(&c, i);
            let (ending, console, status) = match i {
                0 => (Ending::PowerOff(0), "hi\n", Some(0)),
                1 => (Ending::PowerOff(0), "<b>&\"\u{1}\n", Some(1)),
                2 => (Ending::Hung(Budget::WallClock), "", None),
                _ => (Ending::VmmError("KVM_RUN failed".into()), "", None),
            };
            let obs = Observation {
                console: console.into(),
                workload_status: status,
                faults_injected: 1,
                ..Observation::nothing(ending)
            };
            let verdict = crate::campaign::classify::judge(&c, &p, &obs);
            let detail = (!verdict.failures.is_empty()).then(|| Detail::new(&obs.console, &obs.log));
            ExperimentResult {
                index: 3 - i,
                description: p.describe(),
                plan: p,
                verdict,
                faults_injected: 1,
                fault_counters: vec![(1, 1)],
                detail,
                swifi: Vec::new(),
                timing: ExperimentTiming {
                    wall_ms: 1000 + u64::from(i),
                    kernel_instructions: Some(10 * u64::from(i)),
                    vm_exits: None,
                    vcpu_cpu_ms: (i > 0).then(|| 5 * u64::from(i)),
                },
            }
        })
        .collect();
    let timing = Timing::of(&experiments, 2.0, 2, None);
    Results::new(c, None, experiments, timing)
}

#[test]
fn totals_and_order() {
    let r = results();
    assert_eq!(r.experiments.iter().map(|e| e.index).collect::<Vec<_>>(), [0, 1, 2, 3]);
    assert_eq!((r.totals.experiments, r.totals.failed, r.totals.injected), (4, 3, 4));
    assert_eq!(r.totals.outcomes["no_effect"], 1);
    assert_eq!(r.totals.outcomes["workload_failed"], 1);
    assert_eq!(r.totals.outcomes["hung"], 1);
    assert_eq!(r.totals.outcomes["vmm_error"], 1);
    assert_eq!(r.totals.outcomes["kernel_panic"], 0);
    assert!(!r.passed());
    assert_eq!(r.timing.experiments_per_second, 2.0);
    assert_eq!(r.timing.median_kernel_instructions, Some(20));
}

#[test]
fn junit_shape() {
    // Four experiments and the "faults fired" check every campaign has.
    let x = results().junit();
    assert!(x.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"viv campaign t\" tests=\"5\" failures=\"2\" errors=\"1\""), "{x}");
    assert!(x.contains("<testsuite name=\"t\" tests=\"5\" failures=\"2\" errors=\"1\" skipped=\"0\" time=\"2.000\">"));
    assert_eq!(x.matches("<testcase ").count(), 5);
    assert_eq!(x.matches("<failure ").count(), 2);
    assert_eq!(x.matches("<error ").count(), 1);
    assert!(x.contains("name=\"experiment 0: "), "{x}");
    assert!(x.contains("<property name=\"seed\" value=\"42\"/>"));
    // Escaped, and the control character is gone.
    assert!(x.contains("&lt;b&gt;&amp;&quot;"), "{x}");
    assert!(!x.contains('\u{1}'));
    assert!(x.contains("replay: viv campaign replay results.json 1"));
    assert!(x.trim_end().ends_with("</testsuite>\n</testsuites>"));
    // Balanced testcase elements.
    assert_eq!(x.matches("<testcase ").count(), x.matches("/>\n").count() - 4 + x.matches("</testcase>").count());
}

#[test]
fn markdown_shape() {
    let m = results().markdown();
    assert!(
        m.starts_with("# Campaign `t`\n\n**failed** (3 experiments): 4 experiments, 4 with an injected fault."),
        "{m}"
    );
    assert!(m.contains("| outcome | experiments | share |"));
    for o in Outcome::ALL {
        assert!(m.contains(&format!("| {} | ", o.describe())), "{m}");
    }
    assert!(m.contains("| guest hung (a budget ran out) | 1 | 25.0 % |"));
    assert!(m.contains("| experiments per second | 2.00 |"));
    assert!(m.contains("| median kernel instructions per experiment | 20 |"));
    assert!(m.contains("cold-boots"));
    assert!(m.contains("## Failed expectations"));
    assert_eq!(m.matches("\n| 0 | ").count() + m.matches("\n| 1 | ").count() + m.matches("\n| 2 | ").count(), 3);
}

#[test]
fn json_round_trips_and_timing_can_be_dropped() {
    let r = results();
    let json = serde_json::to_value(&r).unwrap();
    let back: Results = serde_json::from_value(json.clone()).unwrap();
    assert_eq!(back, r);
    let stripped = without_timing(json);
    assert!(stripped.get("timing").is_none());
    assert!(stripped["experiments"][0].get("timing").is_none());
    assert_eq!(stripped["experiments"][3]["outcome"], "no_effect");
    let mut slower = r.clone();
    slower.timing.wall_secs = 99.0;
    slower.experiments[0].timing.wall_ms = 5;
    assert_eq!(without_timing(serde_json::to_value(&slower).unwrap()), stripped);
}

#[test]
fn shards_partition_the_experiments() {
    assert_eq!(Shard::parse("2/3").unwrap(), Shard { index: 2, count: 3 });
    for bad in ["0/3", "4/3", "1/0", "x", "1/", "/2", "-1/2"] {
        assert!(Shard::parse(bad).is_err(), "{bad}");
    }
    let mut all: Vec<u32> = (1..=3).flat_map(|k| Shard { index: k, count: 3 }.indices(10)).collect();
    all.sort();
    assert_eq!(all, (0..10).collect::<Vec<_>>());
    assert_eq!(Shard { index: 1, count: 3 }.indices(10), [0, 3, 6, 9]);
    assert!(Shard { index: 5, count: 5 }.indices(3).is_empty());
}

#[test]
fn merge_checks_coverage_and_identity() {
    let dir = std::env::temp_dir().join(format!("viv-merge-unit-{}", std::process::id()));
    let mut whole = results();
    whole.campaign.experiments = 4;
    let shard = |k: u32| {
        let s = Shard { index: k, count: 2 };
        let mine: Vec<_> = whole.experiments.iter().filter(|e| e.index % 2 == k - 1).cloned().collect();
        let timing = Timing::of(&mine, 1.0, 1, None);
        Results::new(whole.campaign.clone(), Some(s), mine, timing)
    };
    let (a, b) = (dir.join("a"), dir.join("b"));
    shard(1).write(&a).unwrap();
    shard(2).write(&b).unwrap();
    let merged = crate::campaign::merge::merge(&[a.clone(), b.clone()]).unwrap();
    let strip = |r: &Results| without_timing(serde_json::to_value(r).unwrap());
    assert_eq!(strip(&merged), strip(&whole));
    // Shards checked out in different directories still merge.
    let mut moved = shard(2);
    moved.campaign.disk = Some("/elsewhere/disk.img".into());
    let mut here = shard(1);
    here.campaign.disk = Some("/here/disk.img".into());
    let (c, d) = (dir.join("c"), dir.join("d"));
    here.write(&c).unwrap();
    moved.write(&d).unwrap();
    assert_eq!(crate::campaign::merge::merge(&[c.clone(), d.clone()]).unwrap().experiments.len(), 4);
    // The same campaign file reached by another path (relative here,
    // absolute in the other job) merges too.
    let mut relative = shard(1);
    relative.campaign.file = "ci/campaigns/t.toml".into();
    let mut absolute = shard(2);
    absolute.campaign.file = "/home/ci/repo/ci/campaigns/t.toml".into();
    relative.write(&c).unwrap();
    absolute.write(&d).unwrap();
    assert_eq!(crate::campaign::merge::merge(&[c, d]).unwrap().experiments.len(), 4);
    let missing = crate::campaign::merge::merge(std::slice::from_ref(&a)).unwrap_err().to_string();
    assert!(missing.starts_with("2 of 4 experiments are missing"), "{missing}");
    let twice = crate::campaign::merge::merge(&[a.clone(), a.join("results.json")]).unwrap_err().to_string();
    assert!(twice.contains("more than one input"), "{twice}");
    let mut other = shard(2);
    other.campaign.seed += 1;
    other.write(&b).unwrap();
    let differs = crate::campaign::merge::merge(&[a, b]).unwrap_err().to_string();
    assert!(differs.contains("a different campaign"), "{differs}");
    // The error names the field that differs and both values.
    let seed = shard(1).campaign.seed;
    assert!(differs.contains(&format!("campaign.seed differs: {} here, {seed} in the first", seed + 1)), "{differs}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_share_of_fired_faults_is_a_campaign_expectation() {
    let r = results();
    let mut c = r.campaign.clone();
    c.expect.min_injected = Some(1.0);
    let mut experiments = r.experiments.clone();
    let timing = r.timing.clone();
    assert!(Results::new(c.clone(), None, experiments.clone(), timing.clone()).campaign_failures.is_empty());
    experiments[0].faults_injected = 0;
    let r = Results::new(c, None, experiments, timing);
    assert_eq!(r.campaign_failures, ["faults fired in 3 of 4 experiments (75.0 %), expected at least 100.0 %"]);
    assert!(!r.passed());
    let x = r.junit();
    assert!(x.contains("tests=\"5\" failures=\"3\" errors=\"1\""), "{x}");
    assert!(x.contains("name=\"campaign: faults fired\""));
    assert!(r.markdown().contains("- campaign expectation failed: faults fired in 3 of 4"));
}

/// A campaign without `min_injected` still fails when no fault fired at
/// all; an empty shard has nothing to judge and passes.
#[test]
fn a_campaign_that_injects_nothing_fails_by_default() {
    let r = results();
    let mut c = r.campaign.clone();
    c.expect.min_injected = None;
    let mut experiments = r.experiments.clone();
    experiments[0].faults_injected = 0;
    let some = Results::new(c.clone(), None, experiments.clone(), r.timing.clone());
    assert!(some.campaign_failures.is_empty(), "{:?}", some.campaign_failures);
    for e in &mut experiments {
        e.faults_injected = 0;
    }
    let none = Results::new(c.clone(), None, experiments, r.timing.clone());
    assert_eq!(none.campaign_failures.len(), 1);
    assert!(
        none.campaign_failures[0].starts_with("no fault fired in any of the 4 experiments"),
        "{:?}",
        none.campaign_failures
    );
    let empty = Results::new(c, Some(Shard { index: 15, count: 20 }), Vec::new(), r.timing.clone());
    assert!(empty.campaign_failures.is_empty() && empty.totals.failed == 0);
    assert!(empty.passed());
    assert_eq!(empty.junit().matches("<testcase ").count(), 0);
}

/// The replay hints name results.json by the path the user gave.
#[test]
fn replay_hints_run_from_where_the_user_is() {
    let dir = std::env::temp_dir().join(format!("viv-hint-{}", std::process::id()));
    let out = dir.join("my results");
    results().write(&out).unwrap();
    let quoted = format!("'{}'", out.join("results.json").display());
    let junit = std::fs::read_to_string(out.join("junit.xml")).unwrap();
    assert!(junit.contains(&format!("replay: viv campaign replay {} 1", super::xml(&quoted))), "{junit}");
    let summary = std::fs::read_to_string(out.join("summary.md")).unwrap();
    assert!(summary.contains(&format!("`viv campaign replay {quoted} EXPERIMENT`")), "{summary}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A mutation of `kind` as the injector records it (`error`: none made).
fn mutation(error: Option<&str>) -> Mutation {
    Mutation {
        kind: crate::inject::swifi::FaultType::Nop,
        rule: 0,
        program: "tty".into(),
        endpoint: 4,
        cr3: 0x20_0000,
        address: 0x4000_1234,
        before: if error.is_some() { vec![] } else { vec![0x48, 0x89, 0xfb] },
        after: if error.is_some() { vec![] } else { vec![0x90; 3] },
        function: error.is_none().then(|| "tty::Tty<T>::run".into()),
        function_offset: error.is_none().then_some(0x1c),
        scope: crate::inject::swifi::Scope::Functions,
        private_pages: 8,
        note: "Mov (3 bytes) replaced by NOPs".into(),
        error: error.map(Into::into),
        final_bytes: vec![0x90; 3],
    }
}

#[test]
fn swifi_mutations_are_reported_everywhere() {
    let r = results();
    // Without SWIFI nothing changes: no key in the JSON, no section.
    assert!(serde_json::to_value(&r).unwrap()["experiments"][0].get("swifi").is_none());
    assert!(!r.markdown().contains("SWIFI"));
    let mut experiments = r.experiments.clone();
    experiments[0].swifi = vec![mutation(None)];
    experiments[1].swifi = vec![mutation(Some("no nop candidate in the target's code"))];
    let r = Results::new(r.campaign.clone(), None, experiments, r.timing.clone());
    // A Stop at which nothing was mutated injected nothing.
    assert_eq!(r.totals.injected, 3);
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["experiments"][0]["swifi"][0]["function"], "tty::Tty<T>::run");
    assert_eq!(serde_json::from_value::<Results>(json).unwrap(), r);
    let x = r.junit();
    let line = "mutation: nop in tty at 0x40001234 (tty::Tty&lt;T&gt;::run+0x1c): 48 89 fb -&gt; 90 90 90";
    assert!(x.contains(&format!("<system-out>{line}\n</system-out>")), "{x}");
    assert!(x.contains("mutation: nop at rule 0: nothing mutated: no nop candidate"), "{x}");
    assert_eq!(x.matches("<testcase ").count(), x.matches("/>\n").count() - 4 + x.matches("</testcase>").count());
    let m = r.markdown();
    assert!(m.contains("## SWIFI mutations"), "{m}");
    assert!(
        m.contains(
            "| 0 | nop | tty | `tty::Tty<T>::run`+0x1c | 0x40001234 | `48 89 fb` → `90 90 90` | VMM error | – |"
        ),
        "{m}"
    );
    assert!(m.contains("| 1 | nop | tty | (functions) | 0x40001234 | nothing mutated: no nop candidate"), "{m}");
}

#[test]
fn outcomes_are_broken_down_by_fault() {
    let mut r = results();
    for (i, e) in r.experiments.iter_mut().enumerate() {
        let rule = &mut e.plan.rules[0];
        (rule.target, rule.action) = if i < 2 { ("tty".into(), "crash".into()) } else { ("blk".into(), "hang".into()) };
    }
    // Sorted by index: vmm error, hung (tty crash); workload failed, no effect (blk hang).
    let m = r.markdown();
    assert!(m.contains("## Outcomes by fault\n\n| fault | experiments | no effect |"), "{m}");
    assert!(m.contains("\n| blk hang | 2 | 1 | 0 | 0 | 1 | 0 | 0 | 0 | 0 |"), "{m}");
    assert!(m.contains("\n| tty crash | 2 | 0 | 0 | 0 | 0 | 0 | 1 | 0 | 1 |"), "{m}");
    // One kind of fault only: the outcome table says it all.
    for e in r.experiments.iter_mut() {
        (e.plan.rules[0].target, e.plan.rules[0].action) = ("tty".into(), "crash".into());
    }
    assert!(!r.markdown().contains("## Outcomes by fault"));
}

#[test]
fn xml_drops_what_xml_cannot_carry() {
    // A guest printing U+FFFE used to make junit.xml ill-formed.
    assert_eq!(xml("a\u{FFFE}b\u{FFFF}c\u{1}d\re<\u{FFFD}\u{10000}"), "abcde&lt;\u{FFFD}\u{10000}");
    assert_eq!(xml("tab\there\nnext"), "tab\there\nnext");
}

#[test]
fn host_cpu_is_reported_per_experiment_and_summed_over_shards() {
    let mut r = results();
    // Experiments 1-3 carry 5, 10 and 15 ms of vCPU CPU for 10, 20 and 30
    // kernel instructions; experiment 0 has no CPU figure and is left out.
    assert_eq!(r.timing.median_vcpu_cpu_ms, Some(10));
    assert_eq!(r.timing.vcpu_cpu_us_per_kernel_instruction, Some(500.0));
    assert_eq!(r.timing.process_cpu_secs, None);
    let m = r.markdown();
    assert!(m.contains("| median host CPU per experiment (its vCPU thread) | 10 ms |"), "{m}");
    assert!(m.contains("| host CPU per kernel instruction (vCPU threads) | 500.00 µs |"), "{m}");
    assert!(!m.contains("host CPU of the run"), "{m}");
    r.timing.process_cpu_secs = Some(6.0);
    assert!(r.markdown().contains("| 6.0 s (1.50 s per experiment) |"));
    // A journal line of an older viv has no CPU figure: it still loads.
    let mut json = serde_json::to_value(&r.experiments[1]).unwrap();
    json["timing"].as_object_mut().unwrap().remove("vcpu_cpu_ms");
    let old: ExperimentResult = serde_json::from_value(json).unwrap();
    assert_eq!(old.timing.vcpu_cpu_ms, None);

    let dir = std::env::temp_dir().join(format!("viv-merge-cpu-unit-{}", std::process::id()));
    r.campaign.experiments = 4;
    let shard = |k: u32, cpu: Option<f64>| {
        let mine: Vec<_> = r.experiments.iter().filter(|e| e.index % 2 == k - 1).cloned().collect();
        let mut timing = Timing::of(&mine, 1.0, 1, None);
        timing.process_cpu_secs = cpu;
        Results::new(r.campaign.clone(), Some(Shard { index: k, count: 2 }), mine, timing)
    };
    let (a, b) = (dir.join("a"), dir.join("b"));
    shard(1, Some(1.5)).write(&a).unwrap();
    shard(2, Some(2.0)).write(&b).unwrap();
    let merged = crate::campaign::merge::merge(&[a.clone(), b.clone()]).unwrap();
    assert_eq!(merged.timing.process_cpu_secs, Some(3.5));
    assert_eq!(merged.timing.median_vcpu_cpu_ms, Some(10));
    shard(2, None).write(&b).unwrap();
    assert_eq!(crate::campaign::merge::merge(&[a, b]).unwrap().timing.process_cpu_secs, None);
    std::fs::remove_dir_all(&dir).unwrap();
}
