//! `viv`: the Vivarium command-line tool.
//!
//! Every failure ends in one line on stderr and a documented exit status
//! (`cli::EXIT_STATUS_HELP`); user errors never produce a Rust panic.

mod cli;

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;
use std::process::ExitCode;

use abi::layout::EntryKind;
use abi::platform::STATUS_HOST_ERROR;
use clap::Parser;
use vmm::config::{build_cmdline, embedded_images, embedded_kernel, find_image, RunConfig};
use vmm::{Exit, RunOutcome};

use cli::{BenchArgs, Cli, Command, ExecArgs, ExportArgs, RunArgs};

/// A failure of `viv` itself: message and exit status.
struct Failure(String, i32);

impl From<vmm::Error> for Failure {
    fn from(e: vmm::Error) -> Failure {
        Failure(e.to_string(), STATUS_HOST_ERROR)
    }
}

fn host_error(message: String) -> Failure {
    Failure(message, STATUS_HOST_ERROR)
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            // --help and --version are not errors.
            return ExitCode::from(if e.use_stderr() { STATUS_HOST_ERROR as u8 } else { 0 });
        }
    };
    let level = match cli.verbose {
        // A campaign's guests misbehave on purpose, and what they did is in
        // its reports: the device warnings of hundreds of VMs would bury
        // the progress bar.
        0 if matches!(cli.command, Command::Campaign(_)) => "error",
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or(level)).init();
    let status = match dispatch(cli.command) {
        Ok(status) => status,
        Err(Failure(message, status)) => {
            eprintln!("viv: {message}");
            status
        }
    };
    let _ = std::io::stdout().flush();
    ExitCode::from(status.clamp(0, 255) as u8)
}

fn dispatch(command: Command) -> Result<i32, Failure> {
    match command {
        Command::Run(args) => run(args),
        Command::Exec(args) => exec(args),
        Command::Images => images(),
        Command::Export(args) => export(args),
        Command::Bench(args) => bench(args),
        Command::Count(args) => {
            let (text, status) = vmm::trace::run::count(&args.image, &args.command, args.json, args.timeout)?;
            print!("{text}");
            Ok(status)
        }
        Command::Campaign(args) => campaign(args),
        Command::Trace(args) => {
            let format = vmm::trace::run::Format::parse(&args.format).unwrap_or(vmm::trace::run::Format::Jsonl);
            let (summary, status) = vmm::trace::run::trace_to_file(
                &args.image,
                &args.command,
                format,
                args.cause,
                &args.out,
                args.timeout,
            )?;
            eprint!("{summary}");
            Ok(status)
        }
    }
}

/// `viv campaign` (run, replay, merge): 0 when every expectation held,
/// 1 when one failed, 120 for a host error (`cli::CAMPAIGN_STATUS_HELP`).
fn campaign(args: cli::CampaignArgs) -> Result<i32, Failure> {
    use vmm::campaign::{self, STATUS_EXPECTATION_FAILED};
    let verdict = |passed: bool| if passed { 0 } else { STATUS_EXPECTATION_FAILED };
    match args.action {
        Some(cli::CampaignAction::Replay { results, experiment, out }) => {
            let (text, passed) = campaign::replay(&results, experiment, out.as_deref()).map_err(host_error)?;
            print!("{text}");
            Ok(verdict(passed))
        }
        Some(cli::CampaignAction::Merge { inputs, out }) => {
            let results = campaign::merge_into(&inputs, &out).map_err(host_error)?;
            eprintln!("{}", campaign::summary_line(&results, &out));
            Ok(verdict(results.passed()))
        }
        None => {
            let file = args.file.ok_or_else(|| host_error("campaign: name a campaign file".into()))?;
            let results = campaign::run_campaign(&file, &args.out, args.jobs, args.shard).map_err(host_error)?;
            eprintln!("{}", campaign::summary_line(&results, &args.out));
            Ok(verdict(results.passed()))
        }
    }
}

fn run(args: RunArgs) -> Result<i32, Failure> {
    let mut config = RunConfig::for_image(&args.image)?;
    config.append = vmm::config::with_user(&args.append, args.user);
    config.memory_mib = args.memory;
    config.memory_bytes()?;
    config.timeout = args.timeout;
    config.entry = args.syscall_entry.into();
    config.echo_console = true;
    config.capture_console = false;
    config.forward_stdin = true;
    config.disk = args.disk;
    let outcome = run_attached(&config)?;
    report_end(&outcome, args.timeout.map(|t| t.as_secs_f64()));
    Ok(outcome.exit_status())
}

/// Runs `config` with the console attached: a terminal on stdin is in raw
/// mode for the run and restored afterwards (the guard also covers errors;
/// panics and ^] restore it through `vmm::terminal`).
fn run_attached(config: &RunConfig) -> Result<RunOutcome, Failure> {
    let raw = vmm::terminal::RawTerminal::enable(libc::STDIN_FILENO)
        .map_err(|e| host_error(format!("cannot put the terminal in raw mode: {e}")))?;
    let outcome = vmm::run(config);
    drop(raw);
    Ok(outcome?)
}

/// `viv exec "CMD"`: the command goes on the kernel command line after
/// `abi::platform::CMDLINE_COMMAND_SEPARATOR`; init runs it with `sh -c`
/// and powers off with its status.
fn exec(args: ExecArgs) -> Result<i32, Failure> {
    if args.command.trim().is_empty() {
        return Err(host_error("exec: the command is empty".into()));
    }
    let mut config = RunConfig::for_image(&args.image)?;
    config.append = format!("{} {}", vmm::config::with_user(&args.append, args.user), exec_append(&args.command));
    config.memory_mib = args.memory;
    config.memory_bytes()?;
    config.timeout = Some(args.timeout);
    config.entry = args.syscall_entry.into();
    config.echo_console = true;
    config.capture_console = false;
    config.forward_stdin = true;
    config.disk = args.disk;
    // The kernel's and servers' messages go to the log port, so stdout
    // carries only the command's own output.
    config.separate_log = true;
    config.echo_log = args.log;
    let length = config.cmdline().len();
    if length > abi::layout::kip::CMDLINE_MAX {
        return Err(host_error(format!(
            "exec: the command is too long ({length} bytes of kernel command line; at most {})",
            abi::layout::kip::CMDLINE_MAX
        )));
    }
    let outcome = run_attached(&config)?;
    report_end(&outcome, Some(args.timeout.as_secs_f64()));
    Ok(outcome.exit_status())
}

/// What `viv exec` appends to the kernel command line for `command`
/// (`build_cmdline` joins it with a space, giving " -- CMD").
fn exec_append(command: &str) -> String {
    format!("{}{}", abi::platform::CMDLINE_COMMAND_SEPARATOR.trim_start(), command.trim())
}

/// The one-line message for an ending other than a power-off.
fn report_end(outcome: &RunOutcome, timeout_secs: Option<f64>) {
    let status = outcome.exit_status();
    match &outcome.exit {
        Exit::PowerOff(s) => log::info!("guest powered off with status {s}"),
        Exit::KernelPanic => eprintln!("viv: guest kernel panic"),
        Exit::TripleFault => eprintln!("viv: guest triple fault (exit status {status})"),
        Exit::Timeout => eprintln!(
            "viv: guest still running after {}s; stopped (exit status {status})",
            timeout_secs.unwrap_or_default()
        ),
        Exit::VmError(why) => eprintln!("viv: VM error: {why} (exit status {status})"),
    }
}

fn images() -> Result<i32, Failure> {
    let images = embedded_images();
    if images.is_empty() {
        println!("no images embedded (viv was built with VIV_SKIP_GUEST)");
        return Ok(0);
    }
    let mut out = String::new();
    for image in images {
        let programs = match abi::boot_image::BootImage::parse(image.archive) {
            Ok(parsed) => parsed.entries().map(|e| e.name).collect::<Vec<_>>().join(" "),
            Err(e) => format!("(unreadable: {e})"),
        };
        let _ = writeln!(out, "{:<12} {}", image.name, image.description);
        let _ = writeln!(out, "{:<12}   programs: {programs}", "");
        if !image.cmdline.is_empty() {
            let _ = writeln!(out, "{:<12}   command line: {}", "", image.cmdline);
        }
    }
    print!("{out}");
    Ok(0)
}

/// Quotes `text` for a POSIX shell when it needs it.
fn shell_quote(text: &str) -> String {
    let safe = !text.is_empty() && text.bytes().all(|b| b.is_ascii_alphanumeric() || b"/._-+=,:@".contains(&b));
    if safe {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

fn export(args: ExportArgs) -> Result<i32, Failure> {
    let image = find_image(&args.image)?;
    let kernel = embedded_kernel()?;
    let dir: &Path = &args.out;
    std::fs::create_dir_all(dir).map_err(|e| host_error(format!("cannot create {}: {e}", dir.display())))?;
    let kernel_path = dir.join("kernel.elf");
    let image_path = dir.join(format!("{}.img", image.name));
    for (path, bytes) in [(&kernel_path, kernel), (&image_path, image.archive)] {
        std::fs::write(path, bytes).map_err(|e| host_error(format!("cannot write {}: {e}", path.display())))?;
    }
    // QEMU (TCG or hardware KVM) runs the syscall entry.
    let cmdline = build_cmdline(image.cmdline, EntryKind::Syscall, &args.append);
    println!(
        "qemu-system-x86_64 -kernel {} -initrd {} -append {} -device isa-debug-exit,iobase=0xf4,iosize=0x04 \
         -serial stdio -display none -no-reboot -m {}",
        shell_quote(&kernel_path.display().to_string()),
        shell_quote(&image_path.display().to_string()),
        format_args!(
            "\"{}\"",
            cmdline.replace('\\', "\\\\").replace('"', "\\\"").replace('$', "\\$").replace('`', "\\`")
        ),
        vmm::config::DEFAULT_MEMORY_MIB
    );
    Ok(0)
}

fn bench(args: BenchArgs) -> Result<i32, Failure> {
    // Read the campaign first: a bad file fails before minutes of benchmarks.
    let campaign = match (&args.campaign, args.campaign_experiments) {
        (_, 0) => None,
        (Some(path), _) => Some(vmm::campaign::Campaign::load(path).map_err(host_error)?),
        (None, _) => Some(vmm::campaign::bench::smoke_campaign().map_err(host_error)?),
    };
    let mut report = vmm::bench::run_bench(args.rounds, args.boot_runs, args.syscall_entry.into())?;
    if let Some(campaign) = campaign {
        let scratch = vmm::campaign::scratch_dir(&std::env::temp_dir().join("viv-bench")).map_err(host_error)?;
        let jobs = args.jobs.unwrap_or_else(vmm::campaign::run::default_jobs);
        let figures = vmm::campaign::bench::compare(&campaign, args.campaign_experiments, jobs, &scratch);
        let _ = std::fs::remove_dir_all(&scratch);
        report.campaign = Some(figures.map_err(host_error)?);
    }
    if args.json {
        let json = serde_json::to_string_pretty(&report).map_err(|e| host_error(format!("JSON: {e}")))?;
        println!("{json}");
    } else {
        print!("{}", vmm::bench::format_table(&report));
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_puts_the_command_after_the_separator() {
        let line = build_cmdline("a=1", EntryKind::Trap, &exec_append("  echo x=1 -- y  "));
        assert_eq!(line, "a=1 viv.entry=trap -- echo x=1 -- y");
        assert_eq!(abi::platform::cmdline_command(&line), Some("echo x=1 -- y"));
        assert_eq!(abi::platform::cmdline_value(&line, "a"), Some("1"));
    }

    #[test]
    fn shell_quoting() {
        assert_eq!(shell_quote("/tmp/out/kernel.elf"), "/tmp/out/kernel.elf");
        assert_eq!(shell_quote("/tmp/my dir/k"), "'/tmp/my dir/k'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
    }
}
