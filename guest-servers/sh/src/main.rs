//! sh, the shell: `sh` reads commands from standard input (with a `$ `
//! prompt when that is a terminal), `sh -c COMMAND` runs one command line,
//! `sh FILE` runs a script.
//!
//! The language is parsed by the library half of this crate
//! (`shell_syntax::parse`, unit-tested on the host); this half runs it the Unix way:
//! every external command is a `fork` whose child rearranges its
//! descriptors (pipes, redirections) and `exec`s the program, and the shell
//! `wait`s for every process of a pipeline. A bare name means `/bin/NAME`;
//! PM picks the boot-image program by the last path component.
//!
//! The shell ignores ^C (PM `IGNORE_INTERRUPT`), so ^C ends only the
//! programs it runs; `exec` clears the flag for them.
//!
//! Built-ins: `cd [DIR]`, `exit [STATUS]` and `echo [-n] [ARG...]` (as
//! `/bin/echo`, without a fork and an exec). Exit statuses: a command's
//! own; 127 when it cannot be run; 2 for a syntax error or bad usage.
#![no_std]
#![no_main]

extern crate alloc;

mod heap;
mod run;

use alloc::string::String;
use alloc::vec::Vec;
use rt::{errln, out};

rt::main!(main);

/// Status of a syntax error or a usage error.
pub const STATUS_USAGE: i32 = 2;

fn main() -> i32 {
    if let Err(e) = rt::pm::ignore_interrupt(true) {
        errln!("sh: cannot ignore ^C: {}", run::describe(e));
    }
    let args: Vec<&str> = rt::args().collect();
    let mut shell = run::Shell::new();
    match args.get(1..).unwrap_or(&[]) {
        [] => shell.read_from(rt::vfs::STDIN),
        ["-c", command, ..] => {
            shell.exec_last = true;
            shell.run_text(command)
        }
        ["-c"] => {
            errln!("sh: -c: a command is required");
            return STATUS_USAGE;
        }
        [script, ..] => match rt::vfs::open(script, abi::proto::vfs::O_RDONLY) {
            Ok(fd) => {
                shell.read_from(fd);
                let _ = rt::vfs::close(fd);
            }
            Err(e) => {
                errln!("sh: {}: {}", script, run::describe(e));
                return run::STATUS_NOT_FOUND;
            }
        },
    }
    shell.status
}

impl run::Shell {
    /// Runs the lines of descriptor `fd` until its end or `exit`.
    fn read_from(&mut self, fd: u64) {
        let interactive = rt::vfs::fstat(fd).is_ok_and(|s| s.kind == abi::proto::vfs::TYPE_CHAR);
        let mut line: Vec<u8> = Vec::new();
        let mut buf = [0u8; 256];
        while !self.exiting {
            if interactive && line.is_empty() {
                out!("$ ");
            }
            match rt::vfs::read(fd, &mut buf) {
                Ok(0) => {
                    if !line.is_empty() {
                        self.run_bytes(&line);
                    }
                    if interactive {
                        out!("\n");
                    }
                    return;
                }
                Ok(n) => {
                    for &b in &buf[..n] {
                        line.push(b);
                        if b == b'\n' && !self.exiting {
                            self.run_bytes(&line);
                            line.clear();
                        }
                    }
                }
                // ^C while reading a line: drop it, start afresh.
                Err(abi::Error::Interrupted) => {
                    line.clear();
                    if interactive {
                        out!("\n");
                    }
                }
                Err(e) => {
                    errln!("sh: read: {}", run::describe(e));
                    return;
                }
            }
        }
    }

    fn run_bytes(&mut self, bytes: &[u8]) {
        match core::str::from_utf8(bytes) {
            Ok(text) => self.run_text(text),
            Err(_) => {
                let text = String::from_utf8_lossy(bytes);
                self.run_text(&text);
            }
        }
    }
}
