//! `viv`'s command line (clap derive).
//!
//! The exit statuses are part of the interface (CI scripts test them), so
//! every `--help` lists them; a unit test checks that the text names every
//! `abi::platform::STATUS_*` value.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use vmm::EntryChoice;

/// The exit-status table printed after every help text.
pub const EXIT_STATUS_HELP: &str = "\
Exit status:
  0-119  the guest powered off with this status (larger guest statuses are clamped to 119)
  120    host error: bad arguments, unknown image, /dev/kvm missing or not accessible
  121    VM error: KVM could not run the guest (failed entry, internal error, unexpected exit)
  122    the guest triple-faulted
  123    the guest kernel panicked
  124    the guest was still running at --timeout and was stopped
  125    the guest made the host keep more than a cap allows (console, log, marks, trace)";

/// Vivarium: a KVM virtual machine monitor that boots the Vivarium
/// microkernel and its servers.
#[derive(Debug, Parser)]
#[command(name = "viv", version, after_help = EXIT_STATUS_HELP, propagate_version = true)]
pub struct Cli {
    /// Print log messages (-v: info, -vv: debug, -vvv: trace; default: warnings only).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Boot an image and attach the console (stdin to the guest's serial
    /// port, its output to stdout) until the guest powers off. On a
    /// terminal, keys go to the guest one by one (raw mode; ^C and ^D are
    /// the guest's); type ^] (Ctrl-]) to stop the VM at once (exit status 0).
    #[command(after_help = EXIT_STATUS_HELP)]
    Run(RunArgs),
    /// Boot an image (default: system) and run one shell command in it:
    /// init runs `sh -c CMD` and powers off with its exit status, which
    /// becomes viv's. The guest's console output goes to stdout; stdin is
    /// forwarded as for `run` (^] stops the VM on a terminal).
    #[command(after_help = EXIT_STATUS_HELP)]
    Exec(ExecArgs),
    /// List the boot images embedded in viv, with their programs.
    #[command(after_help = EXIT_STATUS_HELP)]
    Images,
    /// Write the kernel and an image to a directory and print the QEMU
    /// command line that boots them (QEMU exits with 2*status+1).
    #[command(after_help = EXIT_STATUS_HELP)]
    Export(ExportArgs),
    /// Measure boot time and the IPC round trip (time, kernel instructions
    /// and VM exits, counted by KVM).
    #[command(after_help = EXIT_STATUS_HELP)]
    Bench(BenchArgs),
    /// Run one shell command with IPC tracing on and print, per system
    /// call type, the calls and messages per call (min/median/max), plus
    /// the messages from boot to the shell prompt and of the whole command.
    #[command(after_help = EXIT_STATUS_HELP)]
    Count(CountArgs),
    /// Run one shell command with IPC tracing on and write the trace:
    /// JSON lines, Perfetto (Chrome trace-event JSON) or a message-sequence
    /// chart (SVG) of one system call.
    #[command(after_help = EXIT_STATUS_HELP)]
    Trace(TraceArgs),
    /// Run a fault-injection campaign (docs/campaigns.md): every experiment
    /// boots its own VM with one fault drawn from (seed, index), runs the
    /// workload and checks the expectations; writes results.json,
    /// junit.xml and summary.md. Also: `campaign replay RESULTS.json N`
    /// (rerun one experiment with its full trace) and `campaign merge
    /// DIR... --out DIR` (join shard results).
    #[command(after_help = CAMPAIGN_STATUS_HELP)]
    Campaign(CampaignArgs),
    /// Attack the system once per IPC threat class (docs/threats.md):
    /// each row runs an attack with a user's or a driver's privileges
    /// beside a workload, checks that the defense refuses it (with the
    /// trace records that show it), then runs it again with that one
    /// defense switched off and checks that the attack gets through.
    #[command(after_help = THREATS_STATUS_HELP)]
    Threats(ThreatsArgs),
    /// Run one shell command under a sampling profiler of the whole guest
    /// (docs/profiling.md): the VMM stops the vCPU --hz times a second,
    /// walks the kernel and user stacks by their frame pointers and names
    /// the functions from the ELF files. Prints the top-N table (self and
    /// total share per function, per process, kernel and user) and writes
    /// the stacks with --out (folded or speedscope; pprof is not offered).
    #[command(after_help = EXIT_STATUS_HELP)]
    Profile(ProfileArgs),
}

/// `viv profile`.
#[derive(Debug, Args)]
pub struct ProfileArgs {
    /// Boot image to run.
    #[arg(long, default_value = vmm::DEFAULT_IMAGE, value_name = "NAME")]
    pub image: String,
    /// File to write the stacks to (default: none, only the table).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Format of --out: folded (flamegraph.pl, inferno) or speedscope
    /// (JSON for speedscope.app). pprof is not offered.
    #[arg(long, value_enum, default_value_t = ProfileFormatArg::Folded)]
    pub format: ProfileFormatArg,
    /// Samples per second (1 to 10000).
    #[arg(long, value_name = "N", default_value_t = vmm::observe::profile::DEFAULT_HZ,
          value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub hz: u32,
    /// Functions in the table.
    #[arg(long, value_name = "N", default_value_t = 25)]
    pub top: usize,
    /// Experiment mode: virtual guest time (viv.deterministic=1), as in
    /// campaigns; the IPC trace is the same as without the profiler.
    #[arg(long)]
    pub experiment: bool,
    /// Stop the guest after this many seconds.
    #[arg(long, value_name = "SECS", value_parser = parse_seconds, default_value = EXEC_DEFAULT_TIMEOUT)]
    pub timeout: Duration,
    /// The shell command.
    #[arg(value_name = "CMD")]
    pub command: String,
}

/// `viv profile --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProfileFormatArg {
    /// `process;frame;...;frame count` lines.
    Folded,
    /// speedscope's JSON file format.
    Speedscope,
}

impl From<ProfileFormatArg> for vmm::commands::profile::Format {
    fn from(f: ProfileFormatArg) -> vmm::commands::profile::Format {
        use vmm::commands::profile::Format;
        match f {
            ProfileFormatArg::Folded => Format::Folded,
            ProfileFormatArg::Speedscope => Format::Speedscope,
        }
    }
}

/// The exit statuses of `viv threats`.
pub const THREATS_STATUS_HELP: &str = "\
Exit status:
  0      every row passed
  1      a row failed (a defense did not hold, or its negative control did not show the attack)
  120    host error: bad arguments, /dev/kvm missing";

/// `viv threats`.
#[derive(Debug, Args)]
pub struct ThreatsArgs {
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Seed of the fuzzer rows.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub seed: u64,
    /// Run only the rows whose name contains TEXT.
    #[arg(long, value_name = "TEXT")]
    pub only: Option<String>,
    /// Rows run in parallel (default: the number of cores).
    #[arg(long, value_name = "N", value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=64))]
    pub jobs: Option<usize>,
}

/// The exit statuses of `viv campaign`.
pub const CAMPAIGN_STATUS_HELP: &str = "\
Exit status:
  0      every experiment met the campaign's expectations (replay: this one did)
  1      an expectation failed (see summary.md, junit.xml)
  120    host error: bad campaign file, arguments or results, /dev/kvm missing, missing shards";

/// `viv campaign`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct CampaignArgs {
    /// replay or merge (without one: run the campaign FILE).
    #[command(subcommand)]
    pub action: Option<CampaignAction>,
    /// The campaign file (TOML).
    #[arg(value_name = "FILE", required = true)]
    pub file: Option<PathBuf>,
    /// Directory for results.json, junit.xml and summary.md.
    #[arg(long, value_name = "DIR", default_value = "campaign-results")]
    pub out: PathBuf,
    /// Experiments run in parallel (default: the number of cores).
    #[arg(long, value_name = "N", value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=1024))]
    pub jobs: Option<usize>,
    /// Run only shard K of N (experiments whose index % N == K-1).
    #[arg(long, value_name = "K/N", value_parser = vmm::campaign::Shard::parse)]
    pub shard: Option<vmm::campaign::Shard>,
    /// Continue the interrupted run whose output directory is DIR: run
    /// only the experiments its journal (experiments.jsonl) lacks, then
    /// write the reports into DIR.
    #[arg(long, value_name = "DIR", conflicts_with = "out")]
    pub resume: Option<PathBuf>,
}

/// `viv campaign replay|merge`.
#[derive(Debug, Subcommand)]
pub enum CampaignAction {
    /// Rerun one experiment of a results.json with a lossless IPC trace
    /// (JSON lines) and say whether it ends as recorded.
    #[command(after_help = CAMPAIGN_STATUS_HELP)]
    Replay {
        /// results.json of a campaign run.
        #[arg(value_name = "RESULTS.json")]
        results: PathBuf,
        /// The experiment index.
        #[arg(value_name = "EXPERIMENT")]
        experiment: u32,
        /// Trace file (default: experiment-N.trace.jsonl beside RESULTS.json).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Also profile the experiment (as `viv profile`, docs/profiling.md):
        /// folded stacks to FILE (speedscope JSON if FILE ends in .json),
        /// the top-N table in the report.
        #[arg(long, value_name = "FILE")]
        profile: Option<PathBuf>,
    },
    /// Join the results of shards into the report of one whole run.
    #[command(after_help = CAMPAIGN_STATUS_HELP)]
    Merge {
        /// Shard result directories (or results.json files).
        #[arg(value_name = "DIR", required = true)]
        inputs: Vec<PathBuf>,
        /// Directory for the merged reports.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
}

/// `viv count`.
#[derive(Debug, Args)]
pub struct CountArgs {
    /// Boot image to run.
    #[arg(long, default_value = vmm::DEFAULT_IMAGE, value_name = "NAME")]
    pub image: String,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Stop the guest after this many seconds.
    #[arg(long, value_name = "SECS", value_parser = parse_seconds, default_value = EXEC_DEFAULT_TIMEOUT)]
    pub timeout: Duration,
    /// The shell command.
    #[arg(value_name = "CMD")]
    pub command: String,
}

/// `viv trace`.
#[derive(Debug, Args)]
pub struct TraceArgs {
    /// Boot image to run.
    #[arg(long, default_value = vmm::DEFAULT_IMAGE, value_name = "NAME")]
    pub image: String,
    /// File to write.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// jsonl, perfetto or msc.
    #[arg(long, value_enum, default_value_t = FormatArg::Jsonl)]
    pub format: FormatArg,
    /// For msc: the cause id (system call) to draw; default the first
    /// system call of the command.
    #[arg(long, value_name = "ID")]
    pub cause: Option<u32>,
    /// Stop the guest after this many seconds.
    #[arg(long, value_name = "SECS", value_parser = parse_seconds, default_value = EXEC_DEFAULT_TIMEOUT)]
    pub timeout: Duration,
    /// The shell command.
    #[arg(value_name = "CMD")]
    pub command: String,
}

/// `viv trace --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    /// One JSON object per record.
    Jsonl,
    /// Chrome trace-event JSON for ui.perfetto.dev.
    Perfetto,
    /// Message-sequence chart (SVG) of one system call.
    Msc,
}

impl From<FormatArg> for vmm::commands::trace::Format {
    fn from(f: FormatArg) -> vmm::commands::trace::Format {
        use vmm::commands::trace::Format;
        match f {
            FormatArg::Jsonl => Format::Jsonl,
            FormatArg::Perfetto => Format::Perfetto,
            FormatArg::Msc => Format::Msc,
        }
    }
}

/// The system-call entry the guest kernel uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EntryArg {
    /// `trap` on software KVM (/sys/module/kvm_pvm exists), else `syscall`.
    Auto,
    /// syscall/sysret (hardware KVM, QEMU).
    Syscall,
    /// int3/iretq (software KVM, where syscall does not work).
    Trap,
}

impl From<EntryArg> for EntryChoice {
    fn from(e: EntryArg) -> EntryChoice {
        match e {
            EntryArg::Auto => EntryChoice::Auto,
            EntryArg::Syscall => EntryChoice::Syscall,
            EntryArg::Trap => EntryChoice::Trap,
        }
    }
}

/// Parses a positive number of seconds ("5", "0.5").
pub fn parse_seconds(text: &str) -> Result<Duration, String> {
    let secs: f64 = text.trim().parse().map_err(|_| format!("{text:?} is not a number of seconds"))?;
    if secs.is_nan() || secs <= 0.0 {
        return Err(format!("{text:?}: the timeout must be more than 0 seconds"));
    }
    Duration::try_from_secs_f64(secs).map_err(|_| format!("{text:?}: timeout too large"))
}

/// `viv run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Boot image to run (see `viv images`).
    #[arg(long, default_value = vmm::DEFAULT_IMAGE, value_name = "NAME")]
    pub image: String,
    /// Stop the guest after this many seconds (fractions allowed) and exit
    /// with status 124.
    #[arg(long, value_name = "SECS", value_parser = parse_seconds)]
    pub timeout: Option<Duration>,
    /// Text appended to the kernel command line (after the image's default
    /// and viv.entry=...; a later key=value overrides an earlier one).
    #[arg(long, value_name = "CMDLINE", default_value = "", allow_hyphen_values = true)]
    pub append: String,
    /// Run the shell as this uid, an ordinary user (viv.user=N); without
    /// it the shell is uid 0, the administrator (docs/security.md).
    #[arg(long, value_name = "UID")]
    pub user: Option<u32>,
    /// Guest memory in MiB (4 to 1024).
    #[arg(long, value_name = "MIB", default_value_t = vmm::vstate::config::DEFAULT_MEMORY_MIB)]
    pub memory: u64,
    /// System-call entry passed to the kernel as viv.entry=...
    #[arg(long, value_enum, default_value_t = EntryArg::Auto)]
    pub syscall_entry: EntryArg,
    /// Raw disk image to attach as the virtio-blk device (created
    /// zero-filled, 32 MiB, if it does not exist; without it there is no disk).
    #[arg(long, value_name = "FILE")]
    pub disk: Option<PathBuf>,
}

/// Default `--timeout` of `viv exec`, in seconds.
pub const EXEC_DEFAULT_TIMEOUT: &str = "120";

/// `viv exec`.
#[derive(Debug, Args)]
pub struct ExecArgs {
    /// Boot image to run (see `viv images`); its init must run the command.
    #[arg(long, default_value = vmm::DEFAULT_IMAGE, value_name = "NAME")]
    pub image: String,
    /// Stop the guest after this many seconds and exit with status 124.
    #[arg(long, value_name = "SECS", value_parser = parse_seconds, default_value = EXEC_DEFAULT_TIMEOUT)]
    pub timeout: Duration,
    /// Run the command as this uid, an ordinary user (viv.user=N); without
    /// it the command runs as uid 0, the administrator (docs/security.md).
    #[arg(long, value_name = "UID")]
    pub user: Option<u32>,
    /// Text appended to the kernel command line before the command (as for
    /// `run`, e.g. viv.weaken=NAME).
    #[arg(long, value_name = "CMDLINE", default_value = "", allow_hyphen_values = true)]
    pub append: String,
    /// Guest memory in MiB (4 to 1024).
    #[arg(long, value_name = "MIB", default_value_t = vmm::vstate::config::DEFAULT_MEMORY_MIB)]
    pub memory: u64,
    /// System-call entry passed to the kernel as viv.entry=...
    #[arg(long, value_enum, default_value_t = EntryArg::Auto)]
    pub syscall_entry: EntryArg,
    /// Raw disk image to attach as the virtio-blk device (as for `run`).
    /// Also show the guest's log (kernel and server messages) on stderr;
    /// without it, only what the command printed appears.
    #[arg(long)]
    pub log: bool,
    #[arg(long, value_name = "FILE")]
    pub disk: Option<PathBuf>,
    /// The shell command, passed on the kernel command line after
    /// abi::platform::CMDLINE_COMMAND_SEPARATOR (" -- ").
    #[arg(value_name = "CMD")]
    pub command: String,
}

/// `viv export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Boot image to export (see `viv images`).
    #[arg(long, value_name = "NAME")]
    pub image: String,
    /// Directory to write kernel.elf and NAME.img into (created if needed).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Text appended to the kernel command line in the printed command.
    #[arg(long, value_name = "CMDLINE", default_value = "", allow_hyphen_values = true)]
    pub append: String,
}

/// `viv bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Pingpong round trips to measure.
    #[arg(long, value_name = "N", default_value_t = vmm::bench::DEFAULT_ROUNDS,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub rounds: u64,
    /// Boots of image hello to take the median of.
    #[arg(long, value_name = "N", default_value_t = vmm::bench::DEFAULT_BOOT_RUNS,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=1000))]
    pub boot_runs: usize,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// System-call entry passed to the kernel as viv.entry=...
    #[arg(long, value_enum, default_value_t = EntryArg::Auto)]
    pub syscall_entry: EntryArg,
    /// Campaign whose throughput is measured from a snapshot and by cold
    /// boots (default: the embedded ci/campaigns/smoke.toml).
    #[arg(long, value_name = "FILE")]
    pub campaign: Option<PathBuf>,
    /// Experiments of that campaign to run each way (0: skip this part).
    #[arg(long, value_name = "N", default_value_t = vmm::bench::campaign::DEFAULT_EXPERIMENTS)]
    pub campaign_experiments: u32,
    /// Parallel VMs for the campaign part (default: one per core).
    #[arg(long, value_name = "N", value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=1024))]
    pub jobs: Option<usize>,
    /// Also run hello and pingpong under QEMU TCG (qemu-system-x86_64)
    /// and print the wall-time ratio of ours to QEMU's.
    #[arg(long, conflicts_with = "only")]
    pub qemu: bool,
    /// Measure only this part (a quick check while working on it).
    #[arg(long, value_enum, value_name = "PART")]
    pub only: Option<BenchPart>,
}

/// A part of `viv bench` that runs alone (`--only`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BenchPart {
    /// Fork + exec + exit of `true` from the disk.
    Process,
}

#[cfg(test)]
mod tests {
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
            helps.push(sub.render_long_help().to_string());
        }
        for expected in ["run", "exec", "images", "export", "bench", "count", "trace", "campaign", "threats", "profile"]
        {
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
        assert_eq!(run.image, "system");
        assert_eq!(run.memory, 128);
        assert_eq!(run.timeout, None);
        assert_eq!(run.syscall_entry, EntryArg::Auto);
        assert_eq!(run.disk, None);
        let cli = Cli::try_parse_from(["viv", "run", "--disk", "/tmp/d.img"]).unwrap();
        let Command::Run(run) = cli.command else { panic!() };
        assert_eq!(run.disk, Some(PathBuf::from("/tmp/d.img")));

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
        assert_eq!(run.image, "pingpong");
        assert_eq!(run.timeout, Some(Duration::from_millis(500)));
        assert_eq!(run.append, "a=1 b=2");
        assert_eq!(run.memory, 64);
        assert_eq!(EntryChoice::from(run.syscall_entry), EntryChoice::Trap);

        assert!(Cli::try_parse_from(["viv", "run", "--timeout", "0"]).is_err());
        assert!(Cli::try_parse_from(["viv", "run", "--timeout", "-1"]).is_err());
        assert!(Cli::try_parse_from(["viv", "run", "--timeout", "soon"]).is_err());
        assert!(Cli::try_parse_from(["viv", "run", "--syscall-entry", "sysenter"]).is_err());
        assert!(Cli::try_parse_from(["viv", "export", "--image", "hello"]).is_err());
        assert!(Cli::try_parse_from(["viv", "bench", "--rounds", "0"]).is_err());
    }

    #[test]
    fn exec_arguments_parse() {
        let cli = Cli::try_parse_from(["viv", "exec", "echo hi | cat"]).unwrap();
        let Command::Exec(e) = cli.command else { panic!() };
        assert_eq!((e.image.as_str(), e.command.as_str()), ("system", "echo hi | cat"));
        assert_eq!(e.timeout, Duration::from_secs(120));
        let cli = Cli::try_parse_from(["viv", "exec", "--image", "x", "--timeout", "5", "exit 3"]).unwrap();
        let Command::Exec(e) = cli.command else { panic!() };
        assert_eq!((e.image.as_str(), e.timeout, e.command.as_str()), ("x", Duration::from_secs(5), "exit 3"));
        assert!(Cli::try_parse_from(["viv", "exec"]).is_err());
        let cli = Cli::try_parse_from(["viv", "exec", "--user", "1000", "--append", "viv.weaken=x", "id"]).unwrap();
        let Command::Exec(e) = cli.command else { panic!() };
        assert_eq!((e.user, e.append.as_str()), (Some(1000), "viv.weaken=x"));
        assert!(Cli::try_parse_from(["viv", "exec", "--user", "-1", "id"]).is_err());
        let long = Cli::command().render_long_help().to_string() + &run_help();
        assert!(long.contains("^]"), "{long}");
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
        assert_eq!(e.out, PathBuf::from("/tmp/x"));
    }

    #[test]
    fn campaign_arguments_parse() {
        let cli = Cli::try_parse_from(["viv", "campaign", "c.toml", "--jobs", "3", "--shard", "2/3"]).unwrap();
        let Command::Campaign(c) = cli.command else { panic!() };
        assert_eq!(
            (c.file, c.jobs, c.out),
            (Some(PathBuf::from("c.toml")), Some(3), PathBuf::from("campaign-results"))
        );
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
}
