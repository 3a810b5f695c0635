//! `viv`: the Vivarium command-line tool. Parses the command line
//! (`cli.rs`), calls the subcommand (`vmm::commands`) and prints.
//!
//! Every failure ends in one line on stderr and a documented exit status
//! (`cli::EXIT_STATUS_HELP`); user errors never produce a Rust panic.

#![forbid(unsafe_code)]

mod cli;

use std::io::Write as _;
use std::process::ExitCode;

use abi::platform::STATUS_HOST_ERROR;
use clap::Parser;
use vmm::commands;
use vmm::RunOutcome;

use cli::{CampaignAction, Cli, Command};

/// A failure of `viv` itself: message and exit status.
struct Failure(String, i32);

impl From<commands::CommandError> for Failure {
    fn from(e: commands::CommandError) -> Failure {
        Failure(e.to_string(), STATUS_HOST_ERROR)
    }
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
        Command::Run(args) => {
            let mut vm = args.vm.options(None);
            args.gdb.apply(&mut vm);
            Ok(ended(&commands::run::run(&vm)?, vm.timeout))
        }
        Command::Exec(args) => {
            let mut vm = args.vm.options(Some(cli::EXEC_DEFAULT_TIMEOUT));
            args.gdb.apply(&mut vm);
            Ok(ended(&commands::run::exec(&vm, &args.command.line(), args.log)?, vm.timeout))
        }
        Command::Images => {
            print!("{}", commands::images::listing());
            Ok(0)
        }
        Command::Export(args) => {
            if let Some(out) = &args.out {
                commands::output::directory(out, "--out")?;
                println!("{}", commands::export::export(&args.image, out, &args.append)?);
            }
            if let Some(dir) = &args.symbols {
                commands::output::directory(dir, "--symbols")?;
                eprintln!("{}", commands::symbols::export_symbols(&args.image, dir)?);
            }
            Ok(0)
        }
        Command::Bench(args) if args.only.is_some() => {
            let json = args.json;
            match args.only {
                Some(cli::BenchPart::Process) => print_part(
                    json,
                    &vmm::bench::process::measure(vmm::bench::process::DEFAULT_PROCESSES, args.syscall_entry.into())
                        .map_err(commands::CommandError::from)?,
                    vmm::bench::process::format_process,
                ),
                Some(cli::BenchPart::Hang) => print_part(json, &commands::bench::hang()?, vmm::bench::hang::format),
                Some(cli::BenchPart::Ipc) => print_part(
                    json,
                    &vmm::bench::round_trip::measure(args.rounds, args.syscall_entry.into())
                        .map_err(commands::CommandError::from)?,
                    vmm::bench::round_trip::format_round_trip,
                ),
                Some(cli::BenchPart::Campaign) => print_part(
                    json,
                    &commands::bench::campaign(args.campaign.as_deref(), args.campaign_experiments.max(1), args.jobs)?,
                    vmm::bench::campaign::format,
                ),
                None => unreachable!("guarded by the match arm"),
            }
        }
        Command::Bench(args) => {
            let report = commands::bench::bench(&commands::bench::BenchRequest {
                rounds: args.rounds,
                boot_runs: args.boot_runs,
                entry: args.syscall_entry.into(),
                campaign: args.campaign.as_deref(),
                campaign_experiments: args.campaign_experiments,
                jobs: args.jobs,
                qemu: args.qemu,
            })?;
            if args.json {
                let json = serde_json::to_string_pretty(&report).map_err(commands::CommandError::from)?;
                println!("{json}");
            } else {
                print!("{}", vmm::bench::format_table(&report));
            }
            Ok(0)
        }
        Command::Count(args) => {
            let vm = args.vm.options(Some(cli::EXEC_DEFAULT_TIMEOUT));
            let (text, status) = commands::count::count(&vm, &args.command.line(), args.json)?;
            print!("{text}");
            Ok(status)
        }
        Command::Threats(args) => {
            let (text, passed) = commands::threats::run(args.only, args.seed, args.jobs, args.json)?;
            print!("{text}");
            Ok(if passed { 0 } else { 1 })
        }
        Command::Profile(args) => {
            let command = args.command.line();
            let req = commands::profile::ProfileRequest {
                vm: args.vm.options(Some(cli::EXEC_DEFAULT_TIMEOUT)),
                command: &command,
                hz: args.hz,
                top: args.top,
                deterministic: args.experiment,
            };
            let out = args.out.as_deref().map(|path| (path, args.format.into()));
            let (text, status) = commands::profile::profile(&req, out)?;
            // With the stacks on stdout, the table goes to stderr.
            if args.out.as_deref().is_some_and(commands::output::is_stdout) {
                eprint!("{text}");
            } else {
                print!("{text}");
            }
            Ok(status)
        }
        Command::Trace(args) => {
            let vm = args.vm.options(Some(cli::EXEC_DEFAULT_TIMEOUT));
            let req = commands::trace::TraceRequest {
                format: args.format.into(),
                cause: args.cause,
                clock: args.clock.into(),
                out: args.out.as_deref(),
                list_causes: args.list_causes,
            };
            let (listing, summary, status) = commands::trace::trace(&vm, &args.command.line(), &req)?;
            print!("{listing}");
            eprint!("{summary}");
            Ok(status)
        }
        Command::Campaign(args) => {
            // 0 when every expectation held, 1 when one failed, 120 for a
            // host error (`cli::CAMPAIGN_STATUS_HELP`).
            let (text, passed) = match args.action {
                Some(CampaignAction::Replay { results, experiment, out, profile, gdb, break_at_injection }) => {
                    let gdb = gdb.map(|addr| vmm::debug::GdbConfig { addr, wait: true, break_at_injection });
                    let (text, passed) =
                        commands::campaign::replay(&results, experiment, out.as_deref(), profile.as_deref(), gdb)?;
                    if out.as_deref().is_some_and(commands::output::is_stdout) {
                        eprint!("{text}");
                    } else {
                        print!("{text}");
                    }
                    (None, passed)
                }
                Some(CampaignAction::Merge { inputs, out }) => {
                    let (line, passed) = commands::campaign::merge(&inputs, &out)?;
                    (Some(line), passed)
                }
                None => {
                    let file =
                        args.file.ok_or_else(|| Failure("campaign: name a campaign file".into(), STATUS_HOST_ERROR))?;
                    // `--resume DIR` continues the run whose output is DIR.
                    let out = args.resume.as_ref().unwrap_or(&args.out);
                    let resume = args.resume.is_some();
                    let (line, passed) =
                        commands::campaign::run(&file, out, args.jobs, args.shard, resume, args.quiet)?;
                    (Some(line), passed)
                }
            };
            if let Some(line) = text {
                eprintln!("{line}");
            }
            Ok(if passed { 0 } else { vmm::campaign::STATUS_EXPECTATION_FAILED })
        }
    }
}

/// Prints how the run ended, if not by a power-off; `viv`'s exit status.
/// Prints one `viv bench --only` part as JSON or as its table.
fn print_part<T: serde::Serialize>(json: bool, figures: &T, table: fn(&T) -> String) -> Result<i32, Failure> {
    if json {
        println!("{}", serde_json::to_string_pretty(figures).map_err(commands::CommandError::from)?);
    } else {
        print!("{}", table(figures));
    }
    Ok(0)
}

fn ended(outcome: &RunOutcome, timeout: Option<std::time::Duration>) -> i32 {
    if let Some(message) = commands::run::end_message(outcome, timeout) {
        eprintln!("viv: {message}");
    }
    outcome.exit_status()
}
