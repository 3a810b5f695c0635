//! The command line parses as documented.
use super::*;
use clap::CommandFactory;

#[test]
fn the_command_is_well_formed() {
    Cli::command().debug_assert();
}

#[test]
fn every_help_lists_the_exit_statuses() {
    use abi::platform::*;
    let statuses = [STATUS_HOST_ERROR, STATUS_VM_ERROR, STATUS_TRIPLE_FAULT, STATUS_KERNEL_PANIC, STATUS_TIMEOUT];
    let mut cmd = Cli::command();
    let mut helps = vec![cmd.render_long_help().to_string()];
    let mut names = Vec::new();
    for sub in cmd.get_subcommands_mut().filter(|s| s.get_name() != "help") {
        names.push(sub.get_name().to_string());
        if sub.get_name() == "campaign" {
            // A campaign's status is its verdict, not a guest's.
            assert!(sub.render_long_help().to_string().contains(CAMPAIGN_STATUS_HELP));
            continue;
        }
        if sub.get_name() == "threats" {
            // Its status is the rows' verdict.
            assert!(sub.render_long_help().to_string().contains(THREATS_STATUS_HELP));
            continue;
        }
        if ["images", "export", "bench"].contains(&sub.get_name()) {
            // No guest's status becomes theirs.
            let help = sub.render_long_help().to_string();
            assert!(help.contains(HOST_STATUS_HELP) && !help.contains("0-119"), "{help}");
            continue;
        }
        helps.push(sub.render_long_help().to_string());
    }
    for expected in ["run", "exec", "images", "export", "bench", "count", "trace", "campaign", "threats", "profile"] {
        assert!(names.iter().any(|n| n == expected), "no subcommand {expected}: {names:?}");
    }
    for help in helps {
        for s in statuses {
            assert!(help.contains(&format!("  {s} ")), "status {s} missing from:\n{help}");
        }
        assert!(help.contains(&format!("0-{GUEST_STATUS_MAX}")));
    }
}

#[test]
fn run_arguments_parse() {
    let cli = Cli::try_parse_from(["viv", "run"]).unwrap();
    let Command::Run(run) = cli.command else { panic!() };
    assert_eq!(run.vm.image, "system");
    assert_eq!(run.vm.memory, 128);
    assert_eq!(run.vm.timeout, None);
    assert_eq!(run.vm.syscall_entry, EntryArg::Auto);
    assert_eq!(run.vm.disk, None);
    let cli = Cli::try_parse_from(["viv", "run", "--disk", "/tmp/d.img", "--snapshot"]).unwrap();
    let Command::Run(run) = cli.command else { panic!() };
    assert_eq!(run.vm.disk, Some(PathBuf::from("/tmp/d.img")));
    assert!(run.vm.options(None).disk_snapshot);
    assert!(Cli::try_parse_from(["viv", "run", "--snapshot"]).is_err(), "--snapshot needs --disk");

    let cli = Cli::try_parse_from([
        "viv",
        "-v",
        "run",
        "--image",
        "pingpong",
        "--timeout",
        "0.5",
        "--append",
        "a=1 b=2",
        "--memory",
        "64",
        "--syscall-entry",
        "trap",
    ])
    .unwrap();
    assert_eq!(cli.verbose, 1);
    let Command::Run(run) = cli.command else { panic!() };
    assert_eq!(run.vm.image, "pingpong");
    assert_eq!(run.vm.timeout, Some(Duration::from_millis(500)));
    assert_eq!(run.vm.append, "a=1 b=2");
    assert_eq!(run.vm.memory, 64);
    assert_eq!(EntryChoice::from(run.vm.syscall_entry), EntryChoice::Trap);

    assert!(Cli::try_parse_from(["viv", "run", "--timeout", "0"]).is_err());
    assert!(Cli::try_parse_from(["viv", "run", "--timeout", "-1"]).is_err());
    assert!(Cli::try_parse_from(["viv", "run", "--timeout", "soon"]).is_err());
    assert!(Cli::try_parse_from(["viv", "run", "--syscall-entry", "sysenter"]).is_err());
    assert!(Cli::try_parse_from(["viv", "export", "--image", "hello"]).is_err());
    assert!(Cli::try_parse_from(["viv", "bench", "--rounds", "0"]).is_err());
}

/// Every subcommand that boots a VM takes the same VM options.
#[test]
fn every_booting_subcommand_takes_the_vm_options() {
    for sub in ["run", "exec", "count", "trace", "profile"] {
        let mut args = vec![
            "viv",
            sub,
            "--image",
            "hello",
            "--memory",
            "64",
            "--disk",
            "d.img",
            "--snapshot",
            "--append",
            "a=1",
            "--user",
            "7",
            "--syscall-entry",
            "trap",
            "--timeout",
            "9",
        ];
        if sub == "trace" {
            args.extend(["--out", "-"]);
        }
        if sub != "run" {
            args.push("true");
        }
        let cli = Cli::try_parse_from(&args).unwrap_or_else(|e| panic!("{sub}: {e}"));
        let vm = match cli.command {
            Command::Run(a) => a.vm,
            Command::Exec(a) => a.vm,
            Command::Count(a) => a.vm,
            Command::Trace(a) => a.vm,
            Command::Profile(a) => a.vm,
            _ => unreachable!(),
        };
        let o = vm.options(Some(EXEC_DEFAULT_TIMEOUT));
        assert_eq!(
            (o.image.as_str(), o.memory_mib, o.disk_snapshot, o.append.as_str(), o.timeout),
            ("hello", 64, true, "a=1 viv.user=7", Some(Duration::from_secs(9))),
            "{sub}"
        );
        assert_eq!(o.entry, EntryChoice::Trap, "{sub}");
    }
}

#[test]
fn exec_arguments_parse() {
    let cli = Cli::try_parse_from(["viv", "exec", "echo hi | cat"]).unwrap();
    let Command::Exec(e) = cli.command else { panic!() };
    assert_eq!((e.vm.image.as_str(), e.command.line().as_str()), ("system", "echo hi | cat"));
    assert_eq!(e.vm.options(Some(EXEC_DEFAULT_TIMEOUT)).timeout, Some(Duration::from_secs(120)));
    let cli = Cli::try_parse_from(["viv", "exec", "--image", "x", "--timeout", "5", "exit 3"]).unwrap();
    let Command::Exec(e) = cli.command else { panic!() };
    assert_eq!(
        (e.vm.image.as_str(), e.vm.timeout, e.command.line().as_str()),
        ("x", Some(Duration::from_secs(5)), "exit 3")
    );
    assert!(Cli::try_parse_from(["viv", "exec"]).is_err());
    let cli = Cli::try_parse_from(["viv", "exec", "--user", "1000", "--append", "viv.weaken=x", "id"]).unwrap();
    let Command::Exec(e) = cli.command else { panic!() };
    assert_eq!((e.vm.user, e.vm.append.as_str()), (Some(1000), "viv.weaken=x"));
    assert!(Cli::try_parse_from(["viv", "exec", "--user", "-1", "id"]).is_err());
    // Words after the first are the command's, as with ssh.
    let cli = Cli::try_parse_from(["viv", "exec", "--log", "ls", "-l", "/bin", "--log"]).unwrap();
    let Command::Exec(e) = cli.command else { panic!() };
    assert!(e.log);
    assert_eq!(e.command.line(), "ls -l /bin --log");
    let long = Cli::command().render_long_help().to_string() + &run_help();
    assert!(long.contains("^]"), "{long}");
}

/// Each flag's description is its own (`--log` and `--disk` were
/// swapped), and `--disk` tells what happens without it.
#[test]
fn help_texts_describe_their_own_flags() {
    let mut cmd = Cli::command();
    let exec = cmd.find_subcommand_mut("exec").unwrap().render_long_help().to_string();
    let after = |flag: &str| {
        let at = exec.find(&format!("      {flag}")).unwrap_or_else(|| panic!("{flag} in:\n{exec}"));
        exec[at..].lines().nth(1).unwrap_or_default().to_string()
    };
    assert!(after("--log").contains("guest's log"), "{exec}");
    assert!(after("--disk <FILE>").starts_with("          Disk image"), "{exec}");
    let run = run_help();
    assert!(!run.contains("without it there is no disk") && run.contains("temporary copy"), "{run}");
    assert!(run.contains("zero-filled (32 MiB)"));
    assert_eq!(vmm::devices::virtio_blk::DEFAULT_DISK_BYTES, 32 << 20);
}

fn run_help() -> String {
    let mut cmd = Cli::command();
    cmd.find_subcommand_mut("run").unwrap().render_long_help().to_string()
}

#[test]
fn bench_and_export_arguments_parse() {
    let cli = Cli::try_parse_from(["viv", "bench", "--json", "--rounds", "7"]).unwrap();
    let Command::Bench(b) = cli.command else { panic!() };
    assert!(b.json);
    assert_eq!((b.rounds, b.boot_runs), (7, 5));
    let cli = Cli::try_parse_from(["viv", "export", "--image", "hello", "--out", "/tmp/x"]).unwrap();
    let Command::Export(e) = cli.command else { panic!() };
    assert_eq!(e.out, Some(PathBuf::from("/tmp/x")));
    // --symbols alone will do; neither is an error.
    let cli = Cli::try_parse_from(["viv", "export", "--image", "system", "--symbols", "/tmp/s"]).unwrap();
    let Command::Export(e) = cli.command else { panic!() };
    assert_eq!((e.out, e.symbols), (None, Some(PathBuf::from("/tmp/s"))));
    assert!(Cli::try_parse_from(["viv", "export", "--image", "system"]).is_err());
}

#[test]
fn gdb_arguments_parse() {
    let cli = Cli::try_parse_from(["viv", "exec", "--gdb", ":1234", "--gdb-wait", "true"]).unwrap();
    let Command::Exec(e) = cli.command else { panic!() };
    let addr: std::net::SocketAddr = "127.0.0.1:1234".parse().unwrap();
    assert_eq!((e.gdb.gdb, e.gdb.gdb_wait), (Some(vmm::debug::GdbAddr::Tcp(addr)), true));
    let cli = Cli::try_parse_from(["viv", "run", "--gdb", "/tmp/g.sock"]).unwrap();
    let Command::Run(r) = cli.command else { panic!() };
    assert_eq!(r.gdb.gdb, Some(vmm::debug::GdbAddr::Unix(PathBuf::from("/tmp/g.sock"))));
    // --gdb-wait needs --gdb; an address must be one.
    assert!(Cli::try_parse_from(["viv", "run", "--gdb-wait"]).is_err());
    assert!(Cli::try_parse_from(["viv", "run", "--gdb", "nonsense"]).is_err());
}

#[test]
fn campaign_arguments_parse() {
    let cli = Cli::try_parse_from(["viv", "campaign", "c.toml", "--jobs", "3", "--shard", "2/3"]).unwrap();
    let Command::Campaign(c) = cli.command else { panic!() };
    assert_eq!((c.file, c.jobs, c.out), (Some(PathBuf::from("c.toml")), Some(3), PathBuf::from("campaign-results")));
    assert_eq!(c.shard, Some(vmm::campaign::Shard { index: 2, count: 3 }));
    let cli = Cli::try_parse_from(["viv", "campaign", "replay", "r.json", "7"]).unwrap();
    let Command::Campaign(c) = cli.command else { panic!() };
    assert!(matches!(c.action, Some(CampaignAction::Replay { experiment: 7, .. })));
    let cli = Cli::try_parse_from(["viv", "campaign", "merge", "a", "b", "--out", "m"]).unwrap();
    let Command::Campaign(c) = cli.command else { panic!() };
    let Some(CampaignAction::Merge { inputs, out }) = c.action else { panic!() };
    assert_eq!((inputs.len(), out), (2, PathBuf::from("m")));
    for bad in [
        &["viv", "campaign"][..],
        &["viv", "campaign", "c.toml", "--shard", "4/3"],
        &["viv", "campaign", "c.toml", "--shard", "0/3"],
        &["viv", "campaign", "c.toml", "--jobs", "0"],
        &["viv", "campaign", "merge", "--out", "m"],
    ] {
        assert!(Cli::try_parse_from(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn seconds_parse() {
    assert_eq!(parse_seconds("5").unwrap(), Duration::from_secs(5));
    assert_eq!(parse_seconds("0.25").unwrap(), Duration::from_millis(250));
    assert!(parse_seconds("nan").is_err());
    assert!(parse_seconds("inf").is_err());
    assert!(parse_seconds("1e30").is_err());
}
