//! Processes of the `system` image: PM, init and the shell, driven through
//! the command line `viv exec "CMD"` uses (` -- CMD`: init runs
//! `sh -c CMD` and powers off with its status).
//!
//! Pids are deterministic: init is 1, its shell 2, and the shell's
//! children are numbered in the order it forks them (a pipeline left to
//! right). The shell (priority 6) forks every command of a pipeline before
//! the utilities (priority 7) get to run, which makes `kill PID | sleep 10`
//! a reliable way to kill a running process.

mod common;

use vmm::vstate::outcome::Exit;

/// Runs `command` in the system image; returns (console text, ending).
fn exec(command: &str) -> (String, Exit) {
    let outcome = common::boot("system", &format!(" -- {command}"), 60.0);
    (outcome.console_text().replace("\r\n", "\n"), outcome.exit)
}

/// Runs `command`, expecting power-off with `status`; returns the console.
fn exec_status(command: &str, status: u32) -> String {
    let (console, exit) = exec(command);
    assert_eq!(exit, Exit::PowerOff(status), "`{command}`; console:\n{console}");
    console
}

fn has_line(console: &str, line: &str) -> bool {
    console.lines().any(|l| l.trim_end() == line)
}

/// A row of `ps`: (pid, parent pid, state, name).
type Row = (u64, u64, String, String);

fn ps_rows(console: &str) -> Vec<Row> {
    console
        .lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            match f.as_slice() {
                [pid, ppid, state, name] if matches!(*state, "alive" | "zombie") => {
                    Some((pid.parse().ok()?, ppid.parse().ok()?, state.to_string(), name.to_string()))
                }
                _ => None,
            }
        })
        .collect()
}

fn row<'a>(rows: &'a [Row], name: &str, console: &str) -> &'a Row {
    rows.iter().find(|r| r.3 == name).unwrap_or_else(|| panic!("no {name} in ps output:\n{console}"))
}

#[test]
fn ps_lists_init_the_shell_and_itself_with_their_parents() {
    // `exit` keeps the shell there while `ps` runs: `sh -c`'s last
    // command would replace it (below).
    let console = exec_status("ps; exit", 0);
    assert!(has_line(&console, "  PID  PPID STATE  NAME"), "console:\n{console}");
    let rows = ps_rows(&console);
    let init = row(&rows, "init", &console);
    let sh = row(&rows, "sh", &console);
    let ps = row(&rows, "ps", &console);
    assert_eq!((init.0, init.1, init.2.as_str()), (1, 0, "alive"), "console:\n{console}");
    assert_eq!((sh.1, sh.2.as_str()), (1, "alive"), "console:\n{console}");
    assert_eq!((ps.1, ps.2.as_str()), (sh.0, "alive"), "console:\n{console}");
    assert_eq!(rows.len(), 3, "only PM's processes are listed:\n{console}");
}

#[test]
fn the_last_command_of_sh_c_replaces_the_shell() {
    // Nothing follows it, so the shell execs it in its own process instead
    // of forking: `ps` is init's child, pid 2, and no shell is left.
    let console = exec_status("ps", 0);
    let rows = ps_rows(&console);
    let ps = row(&rows, "ps", &console);
    assert_eq!((ps.0, ps.1, ps.2.as_str()), (2, 1, "alive"), "console:\n{console}");
    assert!(rows.iter().all(|r| r.3 != "sh"), "a shell is left:\n{console}");
    assert_eq!(rows.len(), 2, "console:\n{console}");
}

#[test]
fn the_commands_of_a_pipeline_run_at_the_same_time() {
    let console = exec_status("sleep 0.5 | ps", 0);
    let rows = ps_rows(&console);
    let sh = row(&rows, "sh", &console);
    let sleep = row(&rows, "sleep", &console);
    let ps = row(&rows, "ps", &console);
    assert_eq!((sleep.1, sleep.2.as_str()), (sh.0, "alive"), "console:\n{console}");
    assert_eq!(ps.1, sh.0, "console:\n{console}");
    assert!(sleep.0 < ps.0, "forked left to right:\n{console}");
}

#[test]
fn sleep_then_echo() {
    let started = std::time::Instant::now();
    let console = exec_status("sleep 0.2; echo done", 0);
    assert!(has_line(&console, "done"), "console:\n{console}");
    assert!(started.elapsed().as_millis() >= 200);
}

#[test]
fn exit_statuses_reach_the_shell_and_the_host() {
    exec_status("false", 1);
    exec_status("true", 0);
    exec_status("exit 7", 7);
    let console =
        exec_status("false; echo a $?; true; echo b $?; nosuch; echo c $?; true | false; echo d $?; exit 5", 5);
    for line in ["a 1", "b 0", "sh: nosuch: not found", "c 127", "d 1"] {
        assert!(has_line(&console, line), "no {line:?} in:\n{console}");
    }
}

#[test]
fn killed_processes_end_with_128_plus_the_signal() {
    // Pipeline 1: kill = 3, sleep = 4 (`echo` is a built-in: no
    // process); pipeline 2: 5, 6; pipeline 3: 7, 8.
    let console = exec_status(
        "kill -KILL 4 | sleep 10; echo kill $?; kill 6 | sleep 10; echo term $?; \
         kill -INT 8 | sleep 10; echo int $?",
        0,
    );
    for line in ["kill 137", "term 143", "int 130"] {
        assert!(has_line(&console, line), "no {line:?} in:\n{console}");
    }
}

#[test]
fn kill_refuses_init_and_unknown_pids() {
    let console = exec_status("kill 1; echo init $?; kill 999; echo none $?; kill -HUP 2; echo sig $?", 0);
    for line in ["kill: 1: permission denied", "init 1", "kill: 999: no such process", "none 1", "sig 2"] {
        assert!(has_line(&console, line), "no {line:?} in:\n{console}");
    }
}

#[test]
fn a_program_that_faults_ends_with_status_111() {
    let console = exec_status("/bin/nullderef; echo fault $?", 0);
    assert!(has_line(&console, &format!("fault {}", abi::syscall::EXIT_STATUS_FAULT)), "console:\n{console}");
}

/// Exec from the disk shares the whole read-only pages of the program
/// with PM's copy of the file (`exec_elf`): a write into them is a fault
/// like any other, and the next execs from the same buffer (the same
/// program again, then another one) run their code as it is on the disk.
#[test]
fn a_write_into_exec_shared_code_faults_and_changes_nothing() {
    let console = exec_status(
        "/bin/nullderef text; echo first $?; /bin/nullderef text; echo again $?; /bin/true; echo true $?",
        0,
    );
    let fault = abi::syscall::EXIT_STATUS_FAULT;
    for line in [format!("first {fault}"), format!("again {fault}"), "true 0".to_string()] {
        assert!(has_line(&console, &line), "no {line:?} in:\n{console}");
    }
    assert_eq!(console.matches("nullderef: writing into my code").count(), 2, "console:\n{console}");
    assert!(!console.contains("which must not happen"), "console:\n{console}");
}

#[test]
fn servers_cannot_be_execed() {
    let console = exec_status("pm; echo pm $?; init; echo init $?", 0);
    for line in ["sh: pm: not found", "pm 127", "sh: init: not found", "init 127"] {
        assert!(has_line(&console, line), "no {line:?} in:\n{console}");
    }
}

#[test]
fn arguments_arrive_as_the_shell_split_them() {
    let console = exec_status(r#"false; echo "a  b" 'c|d;e' x\ y "[$?]" '$?'; echo -n no; echo ' newline'"#, 0);
    assert!(has_line(&console, "a  b c|d;e x y [1] $?"), "console:\n{console}");
    assert!(has_line(&console, "no newline"), "console:\n{console}");
}

#[test]
fn syntax_errors_run_nothing() {
    let console = exec_status("echo never; echo 'open", 2);
    assert!(has_line(&console, "sh: syntax error: unterminated '"), "console:\n{console}");
    assert!(!has_line(&console, "never"), "console:\n{console}");
}
