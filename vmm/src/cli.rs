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
  116    (from the system image) PM died; 117: VFS died (docs/servers-dying.md)
  118    (from the system image) init could not start the shell (fork, setuid or exec of /bin/sh
         failed, e.g. too little --memory); viv prints init's reason on stderr
  120    host error: bad arguments, unknown image, /dev/kvm missing or not accessible
  121    VM error: KVM could not run the guest (failed entry, internal error, unexpected exit)
  122    the guest triple-faulted
  123    the guest kernel panicked
  124    the guest was still running at --timeout and was stopped
  125    the guest made the host keep more than a cap allows (console, log, marks, trace)";

/// The exit statuses of subcommands that boot no guest whose status they
/// return (`images`, `export`, `bench`).
pub const HOST_STATUS_HELP: &str = "\
Exit status:
  0      done
  120    host error: bad arguments, unknown image, cannot write, /dev/kvm missing";

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
    #[command(after_help = HOST_STATUS_HELP)]
    Images,
    /// Write the kernel and an image to a directory and print the QEMU
    /// command line that boots them (QEMU exits with 2*status+1).
    #[command(after_help = HOST_STATUS_HELP)]
    Export(ExportArgs),
    /// Measure boot time and the IPC round trip (time, kernel instructions
    /// and VM exits, counted by KVM).
    #[command(after_help = HOST_STATUS_HELP)]
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
    /// the stacks with --out (folded, speedscope or pprof).
    #[command(after_help = EXIT_STATUS_HELP)]
    Profile(ProfileArgs),
}

/// `viv profile`.
#[derive(Debug, Args)]
pub struct ProfileArgs {
    #[command(flatten)]
    pub vm: VmArgs,
    /// File to write the stacks to (default: none, only the table; `-`:
    /// stdout, and the table goes to stderr).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Format of --out: folded (flamegraph.pl, inferno), speedscope (JSON
    /// for speedscope.app) or pprof (gzipped profile.proto, for `go tool
    /// pprof`, `pprof -http`, Pyroscope, Grafana).
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
    #[command(flatten)]
    pub command: CommandWords,
}

/// `viv profile --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProfileFormatArg {
    /// `process;frame;...;frame count` lines.
    Folded,
    /// speedscope's JSON file format.
    Speedscope,
    /// pprof's gzipped protobuf (profile.proto).
    Pprof,
}

impl From<ProfileFormatArg> for vmm::commands::profile::Format {
    fn from(f: ProfileFormatArg) -> vmm::commands::profile::Format {
        use vmm::commands::profile::Format;
        match f {
            ProfileFormatArg::Folded => Format::Folded,
            ProfileFormatArg::Speedscope => Format::Speedscope,
            ProfileFormatArg::Pprof => Format::Pprof,
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
    /// No progress on stderr (by default a bar on a terminal, else a line
    /// every 5 % of the experiments and at least every 30 s: count, rate,
    /// time left, failures so far).
    #[arg(long)]
    pub quiet: bool,
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
        /// Trace file (default: experiment-N.trace.jsonl beside RESULTS.json;
        /// `-`: stdout, and the report goes to stderr).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Also profile the experiment (as `viv profile`, docs/profiling.md):
        /// folded stacks to FILE (speedscope JSON if FILE ends in .json),
        /// the top-N table in the report.
        #[arg(long, value_name = "FILE")]
        profile: Option<PathBuf>,
        /// Serve gdb on ADDR for the experiment (as `run --gdb`,
        /// docs/gdb.md): it waits for gdb at its start, with no timeout.
        #[arg(long, value_name = "ADDR", value_parser = vmm::debug::GdbAddr::parse)]
        gdb: Option<vmm::debug::GdbAddr>,
        /// With --gdb: stop the first time the kernel injects the
        /// experiment's fault (SIGTRAP in its fault_common); for SWIFI,
        /// once the code is mutated (`monitor injection` shows it).
        #[arg(long, requires = "gdb")]
        break_at_injection: bool,
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
    #[command(flatten)]
    pub vm: VmArgs,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub command: CommandWords,
}

/// `viv trace`.
#[derive(Debug, Args)]
pub struct TraceArgs {
    #[command(flatten)]
    pub vm: VmArgs,
    /// File to write (`-`: stdout).
    #[arg(long, value_name = "FILE", required_unless_present = "list_causes")]
    pub out: Option<PathBuf>,
    /// jsonl, perfetto or msc.
    #[arg(long, value_enum, default_value_t = FormatArg::Jsonl)]
    pub format: FormatArg,
    /// For --format msc only: the cause id (system call) to draw; default
    /// the first system call of the user's command (--list-causes lists
    /// them). An id not in the trace is an error.
    #[arg(long, value_name = "ID")]
    pub cause: Option<u32>,
    /// For perfetto: place events by the records' TSC (time) or by their
    /// sequence numbers (order only; the same for the same trace).
    #[arg(long, value_enum, default_value_t = ClockArg::Tsc)]
    pub clock: ClockArg,
    /// Print every system call of the trace with its cause id, caller and
    /// message count (on stdout; --out is then optional).
    #[arg(long)]
    pub list_causes: bool,
    #[command(flatten)]
    pub command: CommandWords,
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

/// `viv trace --clock`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ClockArg {
    /// The records' time stamp counter, as time.
    Tsc,
    /// Record n at n µs.
    Seq,
}

impl From<ClockArg> for vmm::observe::perfetto::Clock {
    fn from(c: ClockArg) -> vmm::observe::perfetto::Clock {
        use vmm::observe::perfetto::Clock;
        match c {
            ClockArg::Tsc => Clock::Tsc,
            ClockArg::Seq => Clock::Seq,
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

/// The options of every subcommand that boots a VM (`run`, `exec`,
/// `count`, `trace`, `profile`): one struct, flattened into each, so a flag
/// means the same everywhere.
#[derive(Debug, Clone, Args)]
pub struct VmArgs {
    /// Boot image to run (see `viv images`).
    #[arg(long, default_value = vmm::DEFAULT_IMAGE, value_name = "NAME")]
    pub image: String,
    /// Guest memory in MiB (8 to 1024; 8 is the least the system boots in).
    #[arg(long, value_name = "MIB", default_value_t = vmm::vstate::config::DEFAULT_MEMORY_MIB)]
    pub memory: u64,
    /// Disk image for the virtio-blk device; its writes persist. A missing
    /// FILE is created: from the image's default disk when it has one (the
    /// system image's ext2 disk), else zero-filled (32 MiB). Without
    /// --disk, an image with a default disk gets a temporary copy of it
    /// (deleted at the end) and other images get no disk.
    #[arg(long, value_name = "FILE")]
    pub disk: Option<PathBuf>,
    /// With --disk: copy-on-write, as QEMU's -snapshot. The guest's writes
    /// are kept in memory and dropped at the end; FILE is never written
    /// (and must exist).
    #[arg(long, requires = "disk")]
    pub snapshot: bool,
    /// Text appended to the kernel command line (after the image's default
    /// and viv.entry=...; a later key=value overrides an earlier one).
    /// Numeric parameters (pingpong.rounds=N, viv.user=N, ...) must be
    /// numbers.
    #[arg(long, value_name = "CMDLINE", default_value = "", allow_hyphen_values = true)]
    pub append: String,
    /// Run the shell as this uid, an ordinary user (viv.user=N); without
    /// it the shell is uid 0, the administrator (docs/security.md).
    #[arg(long, value_name = "UID")]
    pub user: Option<u32>,
    /// System-call entry passed to the kernel as viv.entry=...
    #[arg(long, value_enum, default_value_t = EntryArg::Auto)]
    pub syscall_entry: EntryArg,
    /// Stop the guest after this many seconds (fractions allowed) and exit
    /// with status 124, saying it timed out (default: never for `run`, 120
    /// for the others).
    #[arg(long, value_name = "SECS", value_parser = parse_seconds)]
    pub timeout: Option<Duration>,
}

impl VmArgs {
    /// The library's options, with `default_timeout` when --timeout is absent.
    pub fn options(&self, default_timeout: Option<Duration>) -> vmm::commands::VmOptions {
        vmm::commands::VmOptions {
            image: self.image.clone(),
            memory_mib: self.memory,
            disk: self.disk.clone(),
            disk_snapshot: self.snapshot,
            append: vmm::vstate::config::with_user(&self.append, self.user),
            entry: self.syscall_entry.into(),
            timeout: self.timeout.or(default_timeout),
            gdb: None,
        }
    }
}

/// The shell command of `exec`, `count`, `trace` and `profile`: one
/// argument ("echo hi | cat") or several words, joined with spaces as ssh
/// does (`viv exec ls -l /bin`); quote it for the guest shell's operators.
#[derive(Debug, Clone, Args)]
pub struct CommandWords {
    /// The shell command line: one quoted argument, or words joined with
    /// spaces (as ssh does: `viv exec ls -l /` runs "ls -l /"). Quote
    /// anything the host shell would interpret (|, >, ;, $).
    #[arg(value_name = "CMD", required = true, num_args = 1.., trailing_var_arg = true, allow_hyphen_values = true)]
    pub words: Vec<String>,
}

impl CommandWords {
    /// The command line the guest shell runs.
    pub fn line(&self) -> String {
        self.words.join(" ")
    }
}

/// `viv run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub vm: VmArgs,
    #[command(flatten)]
    pub gdb: GdbArgs,
}

/// The debugger options of `run` and `exec` (docs/gdb.md).
#[derive(Debug, Args)]
pub struct GdbArgs {
    /// Serve the GDB remote protocol on ADDR (HOST:PORT, :PORT for
    /// 127.0.0.1, or a Unix socket path); `target remote ADDR` in gdb
    /// attaches and stops the guest (docs/gdb.md). No --timeout applies.
    #[arg(long, value_name = "ADDR", value_parser = vmm::debug::GdbAddr::parse)]
    pub gdb: Option<vmm::debug::GdbAddr>,
    /// With --gdb: hold the guest before its first instruction until gdb attaches.
    #[arg(long, requires = "gdb")]
    pub gdb_wait: bool,
}

impl GdbArgs {
    /// Sets `vm` up for the debugger, if asked: a debugged guest may stop
    /// for as long as its user likes, so no timeout applies.
    pub fn apply(&self, vm: &mut vmm::commands::VmOptions) {
        if let Some(addr) = &self.gdb {
            vm.gdb = Some(vmm::debug::GdbConfig { addr: addr.clone(), wait: self.gdb_wait, break_at_injection: false });
            vm.timeout = None;
        }
    }
}

/// Default `--timeout` of the subcommands that run one command.
pub const EXEC_DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);

/// `viv exec`.
#[derive(Debug, Args)]
pub struct ExecArgs {
    #[command(flatten)]
    pub vm: VmArgs,
    /// Also show the guest's log (kernel and server messages) on stderr;
    /// without it, only what the command printed appears (and why init
    /// failed, when it did).
    #[arg(long)]
    pub log: bool,
    #[command(flatten)]
    pub gdb: GdbArgs,
    #[command(flatten)]
    pub command: CommandWords,
}

/// `viv export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Boot image to export (see `viv images`).
    #[arg(long, value_name = "NAME")]
    pub image: String,
    /// Directory to write kernel.elf, NAME.img and the image's disk into
    /// (created if needed).
    #[arg(long, value_name = "DIR", required_unless_present = "symbols")]
    pub out: Option<PathBuf>,
    /// Directory to write the kernel's and every program's ELF into, as
    /// built, with their debug info, and vivarium.gdb, a gdb script that
    /// loads their symbols (docs/gdb.md).
    #[arg(long, value_name = "DIR")]
    pub symbols: Option<PathBuf>,
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
    /// A hung experiment's kernel instructions beside a completed one's
    /// (ci/campaigns/hang.toml).
    Hang,
    /// The pingpong round trip, with IPC tracing off and on.
    Ipc,
    /// The campaign's throughput from a snapshot and by cold boots, with
    /// the host CPU each experiment costs (`--campaign`,
    /// `--campaign-experiments`, `--jobs`).
    Campaign,
}

#[cfg(test)]
mod tests;
