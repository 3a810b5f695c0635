//! threats: the console driver gone bad. With TTY's exact privileges (its
//! entry in images/threats copies TTY's), it tries what a driver must never
//! do: start a program, kill RS and DS (nobody restarts them) and power
//! the machine off. Prints `attack_tty: WHAT refused: WHY` or `attack_tty:
//! WHAT SUCCEEDED` per attempt and exits with the number that succeeded;
//! the last attempt, a successful power-off, ends the machine with status
//! [`POWEROFF_STATUS`] instead.
#![no_std]
#![no_main]

rt::main!(run);

/// The status the power-off attempt asks for.
const POWEROFF_STATUS: u32 = 77;

fn report(what: &str, result: Result<(), rt::Error>) -> i32 {
    match result {
        Ok(()) => {
            rt::println!("attack_tty: {what} SUCCEEDED");
            1
        }
        Err(e) => {
            rt::println!("attack_tty: {what} refused: {e:?}");
            0
        }
    }
}

fn run() -> i32 {
    let mut succeeded = 0;
    let program = rt::kip::program_index("true").unwrap_or(0);
    succeeded += report("spawn", rt::sys::spawn(program).map(|_| ()));
    for victim in ["rs", "ds"] {
        let Some(target) = rt::kip::endpoint_of(victim) else { continue };
        let what = if victim == "rs" { "kill rs" } else { "kill ds" };
        succeeded += report(what, rt::sys::kill(target));
    }
    let off = rt::sys::kernel_call(abi::syscall::KernelCall::PowerOff, &[u64::from(POWEROFF_STATUS)]);
    succeeded += report("poweroff", off.map(|_| ()));
    succeeded
}
