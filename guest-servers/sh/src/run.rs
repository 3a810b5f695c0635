//! Running parsed command lines: and-or lists, pipelines, redirections,
//! built-ins, fork + exec + wait.

use abi::proto::vfs::{O_APPEND, O_CREAT, O_RDONLY, O_TRUNC, O_WRONLY};
use abi::Error;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use rt::errln;
use rt::vfs::{STDIN, STDOUT};
use shell_syntax::parse::{self, AndOr, Command, Connector, Pipeline, RedirectKind};

/// Status of a command that could not be run (not found, fork failed).
pub const STATUS_NOT_FOUND: i32 = 127;
/// Status of a command whose redirection failed.
const STATUS_REDIRECT: i32 = 1;

/// An error as the shell prints it.
pub use rt::errors::describe;

/// The shell's state.
pub struct Shell {
    /// `$?`: the status of the last pipeline.
    pub status: i32,
    /// `exit` ran: stop reading.
    pub exiting: bool,
    /// `sh -c`: the last command to run becomes the shell's own process
    /// (exec without a fork, as other shells do), since nothing follows it
    /// and the shell would only wait for it and pass its status on: a fork,
    /// its copy-on-write faults, a wait and an exit fewer per command line.
    pub exec_last: bool,
}

/// A command with its words expanded.
struct Expanded {
    argv: Vec<String>,
    /// (descriptor to replace, file, open flags).
    redirects: Vec<(u64, String, u64)>,
}

fn expand(command: &Command, status: i32) -> Expanded {
    let argv = command.words.iter().map(|w| w.expand(status)).collect();
    let redirects = command
        .redirects
        .iter()
        .map(|r| {
            let (fd, flags) = match r.kind {
                RedirectKind::Input => (STDIN, O_RDONLY),
                RedirectKind::Output => (STDOUT, O_WRONLY | O_CREAT | O_TRUNC),
                RedirectKind::Append => (STDOUT, O_WRONLY | O_CREAT | O_APPEND),
            };
            (fd, r.target.expand(status), flags)
        })
        .collect();
    Expanded { argv, redirects }
}

/// Built-ins run in the shell itself (no fork, no exec). `echo` is one
/// for its cost, as in other shells: as a program it was a fork, an exec
/// read from the disk and an exit for one write. `/bin/echo` is still the
/// program.
fn is_builtin(name: &str) -> bool {
    matches!(name, "cd" | "exit" | "echo")
}

impl Shell {
    pub fn new() -> Shell {
        Shell { status: 0, exiting: false, exec_last: false }
    }

    /// Parses and runs `text`; a syntax error runs nothing and sets `$?`
    /// to 2.
    pub fn run_text(&mut self, text: &str) {
        match parse::parse(text) {
            Ok(list) => {
                let items = list.items.len();
                for (i, item) in list.items.iter().enumerate() {
                    self.run_and_or(item, self.exec_last && i + 1 == items);
                    if self.exiting {
                        return;
                    }
                }
            }
            Err(e) => {
                errln!("sh: {}", e);
                self.status = crate::STATUS_USAGE;
            }
        }
    }

    /// Runs an and-or list; `last`: nothing follows it, so its last
    /// pipeline, when it runs, may replace the shell.
    fn run_and_or(&mut self, item: &AndOr, last: bool) {
        self.status = self.run_pipeline(&item.first, last && item.rest.is_empty());
        for (i, (connector, pipeline)) in item.rest.iter().enumerate() {
            if self.exiting {
                return;
            }
            let run = match connector {
                Connector::And => self.status == 0,
                Connector::Or => self.status != 0,
            };
            if run {
                self.status = self.run_pipeline(pipeline, last && i + 1 == item.rest.len());
            }
        }
    }

    /// Runs a pipeline; returns the status of its last command. `last`:
    /// the shell ends after it, so a lone external command is exec'd in
    /// the shell's place (its status becomes the shell's, as it would be).
    fn run_pipeline(&mut self, pipeline: &Pipeline, last: bool) -> i32 {
        let commands: Vec<Expanded> = pipeline.commands.iter().map(|c| expand(c, self.status)).collect();
        if let [only] = commands.as_slice() {
            // Built-ins and bare redirections change the shell itself.
            match only.argv.first() {
                Some(name) if is_builtin(name) => return self.builtin_here(only),
                None => return open_redirects(only).map_or(STATUS_REDIRECT, |_| 0),
                Some(_) if last => self.child(only, None, None),
                _ => {}
            }
        }
        let mut pids: Vec<u64> = Vec::new();
        let mut input: Option<u64> = None;
        let mut failed = false;
        for (i, command) in commands.iter().enumerate() {
            let pipe = if i + 1 < commands.len() {
                match rt::vfs::pipe() {
                    Ok(pipe) => Some(pipe),
                    Err(e) => {
                        errln!("sh: pipe: {}", describe(e));
                        failed = true;
                        break;
                    }
                }
            } else {
                None
            };
            match rt::pm::fork_command() {
                Ok(0) => self.child(command, input, pipe),
                Ok(pid) => pids.push(pid),
                Err(e) => {
                    errln!("sh: fork: {}", describe(e));
                    failed = true;
                }
            }
            // The children have their copies; the shell keeps only the
            // read end for the next command, so readers see end of file
            // when the writers are done.
            if let Some(fd) = input.take() {
                let _ = rt::vfs::close(fd);
            }
            if let Some((read, write)) = pipe {
                let _ = rt::vfs::close(write);
                input = Some(read);
            }
            if failed {
                break;
            }
        }
        if let Some(fd) = input {
            let _ = rt::vfs::close(fd);
        }
        let mut status = STATUS_NOT_FOUND;
        for (i, &pid) in pids.iter().enumerate() {
            match rt::pm::wait(pid as i64) {
                Ok((_, s)) if i + 1 == commands.len() => status = s as i32,
                Ok(_) => {}
                Err(e) => {
                    errln!("sh: wait: {}", describe(e));
                }
            }
        }
        if failed {
            STATUS_NOT_FOUND
        } else {
            status
        }
    }

    /// In a forked child: wire up the descriptors and become the command.
    fn child(&mut self, command: &Expanded, input: Option<u64>, pipe: Option<(u64, u64)>) -> ! {
        if let Some(fd) = input {
            move_fd(fd, STDIN);
        }
        if let Some((read, write)) = pipe {
            let _ = rt::vfs::close(read);
            move_fd(write, STDOUT);
        }
        if open_redirects(command).is_err() {
            rt::sys::exit(STATUS_REDIRECT as u32);
        }
        let Some(name) = command.argv.first() else {
            rt::sys::exit(0);
        };
        if is_builtin(name) {
            // In a pipeline a built-in runs in its own process, as in other
            // shells: it cannot change the shell.
            let status = self.builtin(&command.argv, STDOUT);
            rt::sys::exit(status as u32);
        }
        let path = if name.contains('/') { name.clone() } else { format!("/bin/{name}") };
        let mut argv: Vec<&str> = command.argv.iter().map(String::as_str).collect();
        argv[0] = &path;
        match rt::pm::exec(&argv) {
            // The program is there but could not be read: say so, never
            // "not found".
            Error::Io => errln!("sh: {}: {}", name, describe(Error::Io)),
            // Refusals (a service's name) read as "not found" too.
            _ => errln!("sh: {}: not found", name),
        };
        rt::sys::exit(STATUS_NOT_FOUND as u32)
    }

    /// A built-in run by the shell itself; its redirections are opened
    /// (so `>` still creates the file) and its output goes to the last
    /// one of standard output, without touching the shell's own.
    fn builtin_here(&mut self, command: &Expanded) -> i32 {
        let mut opened = Vec::new();
        let mut out = STDOUT;
        for (target, file, flags) in &command.redirects {
            match rt::vfs::open(file, *flags) {
                Ok(fd) => {
                    opened.push(fd);
                    if *target == STDOUT {
                        out = fd;
                    }
                }
                Err(e) => {
                    errln!("sh: {}: {}", file, describe(e));
                    for fd in opened {
                        let _ = rt::vfs::close(fd);
                    }
                    return STATUS_REDIRECT;
                }
            }
        }
        let status = self.builtin(&command.argv, out);
        for fd in opened {
            let _ = rt::vfs::close(fd);
        }
        status
    }

    /// Runs built-in `argv`, its output (`echo`'s) going to `out`.
    fn builtin(&mut self, argv: &[String], out: u64) -> i32 {
        match argv[0].as_str() {
            "echo" => {
                // As `/bin/echo`: the words joined by spaces and a newline
                // (none with `-n`), in one write.
                let no_newline = argv.get(1).is_some_and(|a| a == "-n");
                let mut line = argv[if no_newline { 2 } else { 1 }..].join(" ");
                if !no_newline {
                    line.push('\n');
                }
                if line.is_empty() || rt::vfs::write_all(out, line.as_bytes()).is_ok() {
                    0
                } else {
                    1
                }
            }
            "cd" => {
                let dir = argv.get(1).map_or("/", String::as_str);
                match rt::vfs::chdir(dir) {
                    Ok(()) => 0,
                    Err(e) => {
                        errln!("sh: cd: {}: {}", dir, describe(e));
                        1
                    }
                }
            }
            "exit" => {
                let status = match argv.get(1) {
                    None => self.status,
                    Some(text) => match text.parse::<i32>() {
                        Ok(n) => n & 0xFF,
                        Err(_) => {
                            errln!("sh: exit: {}: not a number", text);
                            crate::STATUS_USAGE
                        }
                    },
                };
                self.exiting = true;
                self.status = status;
                status
            }
            _ => STATUS_NOT_FOUND,
        }
    }
}

/// Makes `target` refer to what `fd` refers to and closes `fd`.
fn move_fd(fd: u64, target: u64) {
    if fd != target {
        let _ = rt::vfs::dup2(fd, target);
        let _ = rt::vfs::close(fd);
    }
}

/// Opens a command's redirections onto its descriptors (in a child, or for
/// a command of redirections only, where they just create files).
fn open_redirects(command: &Expanded) -> Result<(), Error> {
    let in_child = !command.argv.is_empty();
    for (target, file, flags) in &command.redirects {
        match rt::vfs::open(file, *flags) {
            Ok(fd) if in_child => move_fd(fd, *target),
            Ok(fd) => {
                let _ = rt::vfs::close(fd);
            }
            Err(e) => {
                errln!("sh: {}: {}", file, describe(e));
                return Err(e);
            }
        }
    }
    Ok(())
}
