//! `viv profile` on the real guest: the samples name kernel and program
//! functions, both output formats parse, and profiling does not change
//! what the guest does (experiment mode: the same IPC trace).

use std::time::Duration;

use vmm::commands::profile::{run_profiled, ProfileRequest};
use vmm::observe::decode::decode;
use vmm::observe::profile::report::{Profile, KERNEL_SUFFIX};
use vmm::observe::profile::Mode;
use vmm::observe::TraceMode;
use vmm::RunConfig;

const HZ: u32 = 1000;

fn pingpong() -> (vmm::RunOutcome, Profile) {
    let mut vm = vmm::commands::VmOptions::image("pingpong");
    vm.timeout = Some(Duration::from_secs(120));
    let req = ProfileRequest { vm, command: "", hz: HZ, top: 20, deterministic: false };
    let (outcome, profile) = run_profiled(&req).unwrap();
    assert_eq!(outcome.exit_status(), 0, "{}", outcome.console_text());
    assert!(outcome.console_text().contains("round trips OK"), "{}", outcome.console_text());
    (outcome, profile)
}

/// True when some stack of `process` has a frame named `name` on the
/// kernel (`kernel`) or the user side.
fn has_frame(profile: &Profile, process: &str, name: &str, kernel: bool) -> bool {
    profile
        .stacks
        .iter()
        .filter(|s| s.process == process)
        .any(|s| s.frames.iter().any(|f| f.kernel == kernel && f.name == name))
}

#[test]
fn pingpong_samples_name_kernel_and_program_functions() {
    let (outcome, profile) = pingpong();
    let n = profile.stacks.len() as f64;
    // Samples are taken only while the vCPU runs, which is less than the
    // whole run; a loaded host delays the kicks, hence the wide margin.
    let most = HZ as f64 * outcome.wall_time.as_secs_f64();
    assert!(n <= most * 1.2 + 5.0 && n >= most / 20.0, "{n} samples in {:?}", outcome.wall_time);
    // Both programs are seen, in the kernel's IPC path and in their own
    // code. A pingpong round trip takes the IPC fast path, inlined into
    // the system-call entries (`int3_sendrec` and `int3_reply_receive`
    // on software KVM, `syscall_trap_entry` with the syscall entry); the
    // general path (`trap_entry`, with the dispatcher inlined) serves the
    // rest.
    let entries = ["int3_sendrec", "int3_reply_receive", "syscall_trap_entry", "trap_entry"];
    for process in ["ping", "pong"] {
        let entered = entries.iter().any(|e| has_frame(&profile, process, e, true));
        assert!(entered, "{process}: no kernel entry\n{}", profile.top(30));
        assert!(has_frame(&profile, process, "rt_user_main", false), "{process}: no rt_user_main\n{}", profile.top(30));
    }
    // Kernel frames sit above user frames, never below.
    for s in &profile.stacks {
        let first_kernel = s.frames.iter().position(|f| f.kernel).unwrap_or(s.frames.len());
        assert!(s.frames[first_kernel..].iter().all(|f| f.kernel), "{s:?}");
        assert_eq!(s.mode == Mode::User, first_kernel == s.frames.len(), "{s:?}");
    }
    let table = profile.top(20);
    assert!(table.starts_with(&format!("{} samples at {HZ} Hz", profile.stacks.len())), "{table}");
    assert!(table.lines().any(|l| l.starts_with("pong ")), "{table}");
}

#[test]
fn folded_and_speedscope_outputs_parse() {
    let (_, profile) = pingpong();
    // Folded: "frame;frame;... count", counts adding up to the samples.
    let folded = profile.folded();
    let mut total = 0;
    for line in folded.lines() {
        let (stack, count) = line.rsplit_once(' ').expect("a count");
        let count: u64 = count.parse().expect("a number");
        assert!(count > 0);
        let frames: Vec<&str> = stack.split(';').collect();
        assert!(frames.iter().all(|f| !f.is_empty()), "{line}");
        assert!(["ping", "pong", "(kernel)", "(idle)"].contains(&frames[0]), "{line}");
        total += count;
    }
    assert_eq!(total, profile.stacks.len() as u64);
    assert!(folded.contains(&format!(";trap_entry{KERNEL_SUFFIX}")));
    // speedscope: the file format's required fields, indices in range.
    let text = serde_json::to_string(&profile.speedscope("pingpong")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["$schema"], "https://www.speedscope.app/file-format-schema.json");
    let frames = v["shared"]["frames"].as_array().unwrap();
    assert!(frames.iter().all(|f| f["name"].is_string()));
    let profiles = v["profiles"].as_array().unwrap();
    assert!(profiles.len() >= 2);
    let mut samples = 0;
    for p in profiles {
        assert_eq!(p["type"], "sampled");
        assert!(p["name"].is_string() && p["unit"].is_string());
        let stacks = p["samples"].as_array().unwrap();
        let weights = p["weights"].as_array().unwrap();
        assert_eq!(stacks.len(), weights.len());
        assert_eq!(p["endValue"].as_u64().unwrap() - p["startValue"].as_u64().unwrap(), stacks.len() as u64);
        for stack in stacks {
            assert!(stack.as_array().unwrap().iter().all(|i| (i.as_u64().unwrap() as usize) < frames.len()));
        }
        samples += stacks.len();
    }
    assert_eq!(samples, profile.stacks.len());
    // pprof: every sample's locations resolve to named functions, the
    // process outermost, and the labels name the process.
    let p = profile.pprof("pingpong");
    assert_eq!(p.sample.len(), profile.stacks.len());
    assert_eq!(p.string_table[0], "");
    let name = |i: i64| p.string_table[i as usize].as_str();
    for (sample, stack) in p.sample.iter().zip(&profile.stacks) {
        let names: Vec<&str> = sample
            .location_id
            .iter()
            .map(|&id| {
                let line = &p.location.iter().find(|l| l.id == id).expect("a location").line[0];
                name(p.function.iter().find(|f| f.id == line.function_id).expect("a function").name)
            })
            .collect();
        let mut expected: Vec<&str> = stack.frames.iter().rev().map(|f| f.name.as_str()).collect();
        expected.push(&stack.process);
        assert_eq!(names, expected);
        assert_eq!((name(sample.label[0].key), name(sample.label[0].str)), ("process", stack.process.as_str()));
    }
}

/// The trace of `command` in experiment mode, without TSC, with or
/// without the profiler; and the number of samples.
fn experiment_trace(command: &str, profile_hz: Option<u32>) -> (Vec<(u64, u32, abi::trace::Event)>, usize) {
    let mut config = RunConfig::for_image("system").unwrap();
    config.append = format!("{}{command}", abi::platform::CMDLINE_COMMAND_SEPARATOR);
    config.timeout = Some(Duration::from_secs(120));
    config.deterministic = true;
    config.fault_plan = Some(vmm::inject::fault::FaultPlan { seed: 1, rules: vec![] });
    config.trace = Some(TraceMode::Lossless);
    config.profile_hz = profile_hz;
    let outcome = vmm::run(&config).unwrap();
    assert_eq!(outcome.exit_status(), 0, "{}", outcome.console_text());
    let decoded = decode(&outcome.trace.as_ref().expect("a trace").raw);
    assert!(decoded.bad.is_empty() && decoded.missing == 0);
    let records = decoded.records.iter().map(|r| (r.seq, r.ticks, r.event)).collect();
    // A spin tick would change the run (experiment mode raises one only
    // for user code that spins, which this command does not).
    assert_eq!(outcome.spin_ticks, 0, "profile_hz {profile_hz:?}");
    (records, outcome.profile.map_or(0, |p| p.samples.len()))
}

#[test]
fn profiling_does_not_change_the_trace_in_experiment_mode() {
    let command = "cp /README /x; cat /x";
    let (plain, none) = experiment_trace(command, None);
    let (profiled, samples) = experiment_trace(command, Some(2000));
    assert_eq!(none, 0);
    assert!(samples > 10, "only {samples} samples");
    assert!(plain.len() > 100, "{} records", plain.len());
    assert_eq!(plain.len(), profiled.len());
    if let Some(i) = (0..plain.len()).find(|&i| plain[i] != profiled[i]) {
        panic!("record {i} differs: {:?} vs {:?}", plain[i], profiled[i]);
    }
}

fn viv(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_viv")).args(args).output().expect("running viv")
}

#[test]
fn a_campaign_replay_writes_its_profile() {
    let dir = std::env::temp_dir().join(format!("viv-test-{}-profile-replay", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let campaign = dir.join("tiny.toml");
    std::fs::write(
        &campaign,
        "name = \"tiny\"\nimage = \"system\"\nworkload = \"echo tiny > /tmp/f; cat /tmp/f\"\n\
         experiments = 1\nseed = 99\ntimeout = 120\n\n[[fault]]\ntargets = [\"tty\"]\n\
         actions = [\"crash\"]\nnth = [1, 1]\n\n[expect]\nexit_status = 0\n",
    )
    .unwrap();
    let results = dir.join("out");
    let out = viv(&["campaign", campaign.to_str().unwrap(), "--out", results.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let folded = dir.join("replay.folded");
    let results_json = results.join("results.json");
    let trace = dir.join("t.jsonl");
    let args = ["campaign", "replay", results_json.to_str().unwrap(), "0", "--out", trace.to_str().unwrap()];
    let out = viv(&[&args[..], &["--profile", folded.to_str().unwrap()]].concat());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("same outcome as recorded"), "{stdout}");
    assert!(stdout.contains(&format!("profile written to {}", folded.display())), "{stdout}");
    assert!(stdout.contains("top 15 functions by self samples"), "{stdout}");
    let text = std::fs::read_to_string(&folded).unwrap();
    let samples: u64 = text.lines().map(|l| l.rsplit_once(' ').unwrap().1.parse::<u64>().unwrap()).sum();
    assert!(samples > 0 && stdout.starts_with("experiment 0: "), "{stdout}");
    assert!(stdout.contains(&format!("{samples} samples at 1000 Hz")), "{stdout}");
    // The workload's programs were seen, with names from their ELF files.
    assert!(text.lines().any(|l| l.contains(";trap_entry_[k]")), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn viv_profile_prints_the_table_and_writes_speedscope_and_pprof() {
    let out_file = std::env::temp_dir().join(format!("viv-test-{}-profile.json", std::process::id()));
    let out =
        viv(&["profile", "--format", "speedscope", "--out", out_file.to_str().unwrap(), "--top", "5", "cat /README"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("samples at 1000 Hz") && stdout.contains("top 5 functions by self samples"), "{stdout}");
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&out_file).unwrap()).unwrap();
    let profiles = v["profiles"].as_array().unwrap();
    assert!(profiles.iter().all(|p| p["type"] == "sampled"));
    // The table's first number is the sample count; the file holds them all.
    let samples: usize = stdout.split_whitespace().next().unwrap().parse().unwrap();
    assert_eq!(profiles.iter().map(|p| p["samples"].as_array().unwrap().len()).sum::<usize>(), samples);
    let _ = std::fs::remove_file(&out_file);
    // pprof: a gzipped profile.proto with one sample per table sample.
    let pprof_file = std::env::temp_dir().join(format!("viv-test-{}-profile.pb.gz", std::process::id()));
    let out =
        viv(&["profile", "--format", "pprof", "--out", pprof_file.to_str().unwrap(), "--top", "5", "cat /README"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    let mut raw = Vec::new();
    let gz = std::fs::read(&pprof_file).unwrap();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&gz[..]), &mut raw).expect("gzip");
    let p = <vmm::observe::profile::pprof::PprofProfile as prost::Message>::decode(&raw[..]).expect("profile.proto");
    let samples: usize = stdout.split_whitespace().next().unwrap().parse().unwrap();
    assert_eq!(p.sample.len(), samples);
    assert!(p.string_table.iter().any(|s| s == "trap_entry"), "{:?}", p.string_table);
    let _ = std::fs::remove_file(&pprof_file);
    // A bad rate is refused before anything runs.
    let out = viv(&["profile", "--hz", "0", "true"]);
    assert_eq!(out.status.code(), Some(120));
}
