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
            let how = commands::run::Attached {
                image: args.image,
                memory_mib: args.memory,
                timeout: args.timeout,
                entry: args.syscall_entry.into(),
                disk: args.disk,
            };
            let append = vmm::vstate::config::with_user(&args.append, args.user);
            Ok(ended(&commands::run::run(&how, &append)?, how.timeout))
        }
        Command::Exec(args) => {
            let how = commands::run::Attached {
                image: args.image,
                memory_mib: args.memory,
                timeout: Some(args.timeout),
                entry: args.syscall_entry.into(),
                disk: args.disk,
            };
            let append = vmm::vstate::config::with_user(&args.append, args.user);
            Ok(ended(&commands::run::exec(&how, &append, &args.command, args.log)?, how.timeout))
        }
        Command::Images => {
            print!("{}", commands::images::listing());
            Ok(0)
        }
        Command::Export(args) => {
            println!("{}", commands::export::export(&args.image, &args.out, &args.append)?);
            Ok(0)
        }
        Command::Bench(args) if args.only == Some(cli::BenchPart::Process) => {
            let figures =
                vmm::bench::process::measure(vmm::bench::process::DEFAULT_PROCESSES, args.syscall_entry.into())
                    .map_err(commands::CommandError::from)?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&figures).map_err(commands::CommandError::from)?);
            } else {
                print!("{}", vmm::bench::process::format_process(&figures));
            }
            Ok(0)
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
            let (text, status) = commands::count::count(&args.image, &args.command, args.json, args.timeout)?;
            print!("{text}");
            Ok(status)
        }
        Command::Threats(args) => {
            let (text, passed) = commands::threats::run(args.only, args.seed, args.jobs, args.json)?;
            print!("{text}");
            Ok(if passed { 0 } else { 1 })
        }
        Command::Profile(args) => {
            let req = commands::profile::ProfileRequest {
                image: &args.image,
                command: &args.command,
                hz: args.hz,
                timeout: args.timeout,
                top: args.top,
                deterministic: args.experiment,
            };
            let out = args.out.as_deref().map(|path| (path, args.format.into()));
            let (text, status) = commands::profile::profile(&req, out)?;
            print!("{text}");
            Ok(status)
        }
        Command::Trace(args) => {
            let (summary, status) = commands::trace::trace_to_file(
                &args.image,
                &args.command,
                args.format.into(),
                args.cause,
                &args.out,
                args.timeout,
            )?;
            eprint!("{summary}");
            Ok(status)
        }
        Command::Campaign(args) => {
            // 0 when every expectation held, 1 when one failed, 120 for a
            // host error (`cli::CAMPAIGN_STATUS_HELP`).
            let (text, passed) = match args.action {
                Some(CampaignAction::Replay { results, experiment, out, profile }) => {
                    let (text, passed) =
                        commands::campaign::replay(&results, experiment, out.as_deref(), profile.as_deref())?;
                    print!("{text}");
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
                    let (line, passed) = commands::campaign::run(&file, out, args.jobs, args.shard, resume)?;
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
fn ended(outcome: &RunOutcome, timeout: Option<std::time::Duration>) -> i32 {
    if let Some(message) = commands::run::end_message(outcome, timeout) {
        eprintln!("viv: {message}");
    }
    outcome.exit_status()
}
