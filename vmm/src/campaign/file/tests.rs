//! Unit tests of the campaign file parser: a good file, and every kind of
//! bad field refused with its line.

use super::tests_support::parse;
use super::*;

const GOOD: &str = r#"# a campaign
name = "tty-smoke"
image = "system"
workload = "echo hello > /tmp/a; cat /tmp/a;"
experiments = 40
seed = 7
timeout = 15
memory = 64

[[fault]]
targets = ["tty", "vfs"]
side = "destination"
peers = ["pm"]
primitives = ["sendrec", "notify"]
message_types = [0x402, 7]
nth = [1, 30]
ticks = 5
window = 100
probability = [0.5, 1]
actions = ["crash", "hang"]
arg_a = [0, 48]
limit = 2

[[fault]]
targets = ["tty"]
actions = ["flip_bits"]
bits = 2

[expect]
exit_status = 0
output = "hello\n"
check = "cat /tmp/a"
check_output = "hello\n"
no_hang = false
min_restarts = { target = 1, tty = 0 }
min_injected = 0.5
"#;

#[test]
fn a_good_file_parses_completely() {
    let c = parse(GOOD).unwrap();
    assert_eq!((c.name.as_str(), c.image.as_str(), c.file.as_str()), ("tty-smoke", "system", "t.toml"));
    assert_eq!(c.workload, "echo hello > /tmp/a; cat /tmp/a");
    assert_eq!((c.experiments, c.seed, c.timeout_secs, c.memory_mib), (40, 7, 15.0, 64));
    assert_eq!(c.disk, None);
    let f = &c.faults[0];
    assert_eq!(f.targets, [Program { name: "tty".into(), id: 4 }, Program { name: "vfs".into(), id: 3 }]);
    assert_eq!(f.peers, [Program { name: "pm".into(), id: 2 }]);
    assert_eq!(f.side, Side::Destination);
    assert_eq!(f.primitives, 1 << 3 | 1 << 4);
    assert_eq!(f.message_types, [0x402, 7]);
    assert_eq!((f.nth, f.ticks, f.window, f.probability), ((1, 30), (5, 5), 100, (0.5, 1.0)));
    assert_eq!((f.arg_a, f.arg_b, f.bits, f.limit), ((0, 48), (0, 0), None, 2));
    assert_eq!(f.actions, ["crash", "hang"]);
    assert_eq!((c.faults[1].bits, c.faults[1].limit, c.faults[1].nth), (Some(2), 1, (1, 1)));
    let e = &c.expect;
    assert_eq!(e.exit_status, Some(0));
    assert_eq!(e.output.as_deref(), Some("hello\n"));
    assert_eq!((e.check.as_deref(), e.check_output.as_deref()), (Some("cat /tmp/a"), Some("hello\n")));
    assert!(e.no_panic && !e.no_hang);
    assert_eq!(e.min_restarts.get("target"), Some(&1));
    assert_eq!(e.min_injected, Some(0.5));
    // Round trip through results.json.
    let json = serde_json::to_string(&c).unwrap();
    assert_eq!(serde_json::from_str::<Campaign>(&json).unwrap(), c);
}

#[test]
fn defaults() {
    let c = parse("image = \"system\"\nworkload = \"true\"\nexperiments = 1\nseed = 0\n[[fault]]\ntargets = [\"tty\"]\nactions = [\"drop\"]\n").unwrap();
    assert_eq!((c.name.as_str(), c.timeout_secs, c.memory_mib), ("t", DEFAULT_TIMEOUT_SECS, 128));
    assert_eq!(c.expect.exit_status, Some(0));
    assert!(c.expect.no_panic && c.expect.no_hang);
    let f = &c.faults[0];
    assert_eq!((f.side, f.primitives, f.nth, f.probability, f.limit), (Side::Destination, 0, (1, 1), (1.0, 1.0), 1));
}

#[test]
fn weakened_defenses_are_names_and_reach_the_command_line() {
    let c =
        parse(&GOOD.replace("memory = 64", "memory = 64\nweaken = [\"blk_request_check\", \"tty_deadline\"]")).unwrap();
    assert_eq!(c.weaken, ["blk_request_check", "tty_deadline"]);
    let json = serde_json::to_string(&c).unwrap();
    assert_eq!(serde_json::from_str::<Campaign>(&json).unwrap(), c);
    let e = parse(&GOOD.replace("memory = 64", "memory = 64\nweaken = [\"a b\"]")).unwrap_err();
    assert!(e.contains("weaken") && e.contains("\"a b\" is not a defense name"), "{e}");
    assert!(parse(GOOD).unwrap().weaken.is_empty());
}

#[test]
fn the_budgets_come_from_the_file_or_the_baseline() {
    let mut c = parse(GOOD).unwrap();
    // Before the baseline is known: no budgets.
    assert_eq!((c.tick_budget(), c.kernel_instruction_budget()), (0, 0));
    c.record_baseline(Baseline { ticks: Some(300), kernel_instructions: Some(1_000_000) });
    assert_eq!((c.tick_budget(), c.kernel_instruction_budget()), (3000, 1_000_000 * INSTRUCTION_BUDGET_BASELINES));
    // Where KVM does not count kernel instructions, no default.
    c.record_baseline(Baseline { ticks: Some(3), kernel_instructions: None });
    assert_eq!((c.tick_budget(), c.kernel_instruction_budget()), (MIN_TICK_BUDGET, 0));
    // Given in the file: that, baseline or not.
    let c = parse(&GOOD.replace("memory = 64", "memory = 64\ninstruction_budget = 5000")).unwrap();
    assert_eq!((c.instruction_budget, c.kernel_instruction_budget()), (Some(5000), 5000));
    let json = serde_json::to_string(&c).unwrap();
    assert_eq!(serde_json::from_str::<Campaign>(&json).unwrap(), c);
}

/// The error for GOOD with `from` replaced by `to`.
fn error_with(from: &str, to: &str) -> String {
    assert!(GOOD.contains(from), "{from}");
    parse(&GOOD.replacen(from, to, 1)).unwrap_err()
}

#[test]
fn bad_fields_are_refused_with_line_and_field() {
    let cases: &[(&str, &str, &str)] = &[
        ("image = \"system\"", "image = \"nope\"", "3: image: unknown image \"nope\""),
        ("image = \"system\"", "image = 3", "3: image: invalid type: integer `3`, expected a string"),
        ("seed = 7", "seed = -7", "6: seed: invalid value: integer `-7`, expected u64"),
        ("seed = 7", "sed = 7", "6: sed: unknown field `sed`"),
        ("experiments = 40", "experiments = 0", "5: experiments: must be 1 to"),
        ("timeout = 15", "timeout = 0", "7: timeout: want seconds"),
        ("timeout = 15", "timeout = \"soon\"", "7: timeout: want seconds"),
        ("memory = 64", "memory = 2", "8: memory: want 8 to"),
        ("memory = 64", "memory = 64\ninstruction_budget = 0", "9: instruction_budget: want a number"),
        ("memory = 64", "memory = 64\ninstruction_budget = -1", "9: instruction_budget: invalid value"),
        ("workload = \"echo hello > /tmp/a; cat /tmp/a;\"", "workload = \" \"", "4: workload: must be a non-empty"),
        ("targets = [\"tty\", \"vfs\"]", "targets = [\"tty\", \"vsf\"]", "11: fault.targets: unknown program \"vsf\""),
        ("targets = [\"tty\", \"vfs\"]", "targets = []", "11: fault.targets: name at least one program"),
        ("side = \"destination\"", "side = \"middle\"", "12: fault.side: \"middle\" is not"),
        ("peers = [\"pm\"]", "peers = [\"pn\"]", "13: fault.peers: unknown program \"pn\""),
        ("\"sendrec\", \"notify\"", "\"sendrec\", \"yield\"", "14: fault.primitives: unknown primitive \"yield\""),
        ("message_types = [0x402, 7]", "message_types = [-1]", "15: fault.message_types: invalid value"),
        ("nth = [1, 30]", "nth = [30, 1]", "16: fault.nth: want N or [LO, HI]"),
        ("nth = [1, 30]", "nth = [1, 2, 3]", "16: fault.nth: want N or [LO, HI]"),
        ("nth = [1, 30]", "nth = \"1\"", "16: fault.nth: want N or [LO, HI]"),
        ("ticks = 5", "ticks = -5", "17: fault.ticks: want N or [LO, HI]"),
        ("probability = [0.5, 1]", "probability = 1.5", "19: fault.probability: want P or [LO, HI]"),
        (
            "actions = [\"crash\", \"hang\"]",
            "actions = [\"crash\", \"explode\"]",
            "20: fault.actions: unknown action \"explode\"",
        ),
        ("actions = [\"crash\", \"hang\"]", "actions = []", "20: fault.actions: name at least one of: drop"),
        ("arg_a = [0, 48]", "arg_a = [0, 5000000000]", "21: fault.arg_a: want N or [LO, HI]"),
        ("limit = 2", "limit = \"x\"", "22: fault.limit: invalid type"),
        ("bits = 2", "bits = 65", "27: fault.bits: want 1 to 64 bits"),
        ("bits = 2", "bits = 2\narg_b = 3", "27: fault.bits: give bits or arg_b, not both"),
        ("exit_status = 0", "exit_status = 300", "30: expect.exit_status: want 0 to 119"),
        ("check = \"cat /tmp/a\"\n", "", "32: expect.check_output: needs expect.check"),
        ("check_output = \"hello\\n\"\n", "", "32: expect.check: needs expect.check_output"),
        ("no_hang = false", "no_hang = \"no\"", "34: expect.no_hang: invalid type"),
        ("tty = 0 }", "tyy = 0 }", "35: expect.min_restarts: unknown program \"tyy\""),
        ("min_injected = 0.5", "min_injected = 2", "36: expect.min_injected: want P or [LO, HI]"),
        ("min_injected = 0.5", "min_injected = [0.1, 0.2]", "36: expect.min_injected: want one share"),
        ("[expect]", "[expectations]", "29: expectations: unknown field `expectations`"),
        ("seed = 7", "seed = 7\nseed = 8", "7: seed: duplicate key `seed`"),
    ];
    let mut wrong = Vec::new();
    for (from, to, want) in cases {
        let error = error_with(from, to);
        if !error.starts_with(want) || error.contains('\n') {
            wrong.push(format!("{from:?} -> {to:?}:\n  got  {error}\n  want {want}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert!(parse("image = \"system\"\nworkload = \"x\"\nexperiments = 1\nseed = 1\n")
        .unwrap_err()
        .contains("fault: no [[fault]] tables"));
    assert!(
        parse("image = \"system\"\n").unwrap_err().starts_with("1: "),
        "{}",
        parse("image = \"system\"\n").unwrap_err()
    );
    assert!(parse("x = [").unwrap_err().starts_with("1: "));
}

#[test]
fn load_names_the_file_and_resolves_the_disk() {
    let dir = std::env::temp_dir().join(format!("viv-campaign-file-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("disk.img"), [0u8; 512]).unwrap();
    let text = GOOD.replace("memory = 64", "memory = 64\ndisk = \"disk.img\"");
    let file = dir.join("c.toml");
    std::fs::write(&file, text.replace("image = \"system\"", "image = \"no-such-image\"")).unwrap();
    let error = Campaign::load(&file).unwrap_err().to_string();
    assert!(error.starts_with(&format!("{}:3: image: unknown image \"no-such-image\"", file.display())), "{error}");
    std::fs::write(&file, text.replace("disk.img", "missing.img")).unwrap();
    let error = Campaign::load(&file).unwrap_err();
    assert!(matches!(&error, CampaignError::InFile { .. }), "{error}");
    let error = error.to_string();
    assert!(error.contains(":9: disk: ") && error.contains("missing.img is not a file"), "{error}");
    if crate::image::embedded::find_image("system").is_ok() {
        std::fs::write(&file, &text).unwrap();
        let c = Campaign::load(&file).unwrap();
        assert_eq!(c.disk, Some(std::fs::canonicalize(&dir).unwrap().join("disk.img")));
    }
    let missing = Campaign::load(&dir.join("none.toml")).unwrap_err();
    assert!(matches!(missing, CampaignError::Io { .. }) && missing.to_string().contains("none.toml"), "{missing}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn swifi_templates() {
    use crate::inject::swifi::FaultType;
    let base = "image = \"system\"\nworkload = \"true\"\nexperiments = 1\nseed = 0\n[[fault]]\ntargets = [\"tty\"]\n";
    let with = |fault: &str| parse(&format!("{base}{fault}"));
    let c = with("actions = [\"swifi\"]\n").unwrap();
    assert_eq!(c.faults[0].swifi, FaultType::ALL);
    let c = with("actions = [\"swifi\"]\nswifi = [\"nop\", \"loop\"]\n").unwrap();
    assert_eq!(c.faults[0].swifi, [FaultType::Nop, FaultType::Loop]);
    let json = serde_json::to_string(&c).unwrap();
    assert_eq!(serde_json::from_str::<Campaign>(&json).unwrap(), c);
    assert!(with("actions = [\"stop\"]\n").unwrap().faults[0].swifi.is_empty());
    let cases = [
        (
            "actions = [\"swifi\"]\nswifi = [\"nop\", \"rot\"]\n",
            "8: fault.swifi: unknown SWIFI fault type \"rot\" (text, nop, src, dst, ptr, interface, loop)",
        ),
        ("actions = [\"swifi\"]\nswifi = []\n", "8: fault.swifi: name at least one of: text, nop"),
        ("actions = [\"crash\", \"swifi\"]\n", "7: fault.actions: \"swifi\" is drawn alone"),
        ("actions = [\"crash\"]\nswifi = [\"nop\"]\n", "8: fault.swifi: needs actions = [\"swifi\"]"),
        ("actions = [\"swifty\"]\n", "7: fault.actions: unknown action \"swifty\" (drop, "),
    ];
    for (fault, want) in cases {
        let error = with(fault).unwrap_err();
        assert!(error.starts_with(want) && !error.contains('\n'), "{fault:?}: {error}");
    }
    assert!(with("actions = [\"swifty\"]\n").unwrap_err().ends_with(", stop, swifi)"));
}
