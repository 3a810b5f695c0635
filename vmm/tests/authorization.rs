//! Identity, authorization and quotas (docs/security.md): each attack runs
//! as an ordinary user (`viv exec --user N`, or `attack_auth as N` from the
//! root shell when the test needs root afterwards) and is refused; its
//! twin boots with `--append viv.weaken=NAME` (the one defense off) and
//! shows the same attack succeeding, so the refusal is the defense's doing.

mod common;

use std::process::{Command, Stdio};
use vmm::Exit;

const VIV: &str = env!("CARGO_BIN_EXE_viv");

/// An unprivileged uid.
const USER: &str = "1000";

/// What one `viv exec` did.
struct Run {
    /// The guest's console (the command's output).
    out: String,
    /// The guest's log (kernel and servers).
    log: String,
    status: i32,
}

impl Run {
    fn has_line(&self, line: &str) -> bool {
        self.out.lines().any(|l| l == line)
    }

    /// `service list`'s row of `name`: (state, restarts).
    fn service(&self, name: &str) -> Option<(String, u64)> {
        self.out.lines().find_map(|l| {
            let words: Vec<&str> = l.split_whitespace().collect();
            match words[..] {
                [n, _, state, restarts] if n == name => Some((state.to_string(), restarts.parse().ok()?)),
                _ => None,
            }
        })
    }
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "status {}\n--- console:\n{}--- log:\n{}", self.status, self.out, self.log)
    }
}

/// `viv exec --log [--user USER] [--append viv.weaken=WEAKEN] --image IMAGE CMD`.
fn exec(image: &str, user: Option<&str>, weaken: Option<&str>, command: &str) -> Run {
    let mut args = vec!["exec", "--log", "--image", image, "--timeout", "60"];
    if let Some(user) = user {
        args.extend(["--user", user]);
    }
    let weaken = weaken.map(|w| format!("{}={w}", abi::weaken::WEAKEN_KEY));
    if let Some(weaken) = &weaken {
        args.extend(["--append", weaken]);
    }
    args.push(command);
    let output = Command::new(VIV).args(&args).stdin(Stdio::null()).output().expect("running viv");
    Run {
        out: String::from_utf8_lossy(&output.stdout).replace("\r\n", "\n"),
        log: String::from_utf8_lossy(&output.stderr).into_owned(),
        status: output.status.code().expect("viv killed by a signal"),
    }
}

// ---- RS: service control is for the administrator -------------------------

#[test]
fn a_user_cannot_stop_or_restart_a_service_and_may_list_them() {
    let run = exec("system", Some(USER), None, "service stop tty; echo after; service restart tty; service list");
    assert_eq!(run.status, 0, "{run}");
    assert!(run.has_line("service: stop tty: permission denied (administrators only)"), "{run}");
    assert!(run.has_line("service: restart tty: permission denied (administrators only)"), "{run}");
    assert!(run.has_line("after"), "{run}");
    assert_eq!(run.service("tty"), Some(("running".into(), 0)), "{run}");
    assert!(run.log.contains("rs: refused stop tty to ") && run.log.contains("(uid 1000)"), "{run}");
}

#[test]
fn without_rs_auth_a_user_restarts_a_service() {
    let run = exec("system", Some(USER), Some(abi::weaken::RS_AUTH), "service restart tty; service list");
    assert_eq!(run.status, 0, "{run}");
    assert!(!run.out.contains("permission denied"), "{run}");
    assert_eq!(run.service("tty"), Some(("running".into(), 1)), "{run}");
    assert!(run.log.contains("rs: restarting tty"), "{run}");
}

#[test]
fn root_stops_starts_and_restarts_services() {
    let run = exec(
        "system",
        None,
        None,
        // Not vfs: a restarted VFS powers off (docs/servers-dying.md).
        "service stop tty; service start tty; service restart blk; echo after; service list",
    );
    assert_eq!(run.status, 0, "{run}");
    assert!(run.has_line("after"), "{run}");
    assert_eq!(run.service("tty"), Some(("running".into(), 0)), "{run}");
    assert_eq!(run.service("blk"), Some(("running".into(), 1)), "{run}");
    assert!(run.log.contains("rs: stopped tty") && run.log.contains("rs: starting tty"), "{run}");
}

/// The `rs-test` image's workload (a system process the kernel starts,
/// with no uid: there is no PM) controls services only because the image
/// names it in `viv.admin`; an empty `viv.admin` on the command line takes
/// that back, and the workload is then refused like a driver would be.
const NO_ADMIN: &str = "viv.admin=";

#[test]
fn a_system_process_that_is_not_an_administrator_cannot_restart_a_service() {
    // A short workload: the control requests come after it. Refused, the
    // workload then waits for a change DS never reports, so the boot ends
    // at the timeout.
    let outcome = common::boot("rs-test", &format!("{NO_ADMIN} workload.ms=1000"), 30.0);
    let console = outcome.console_text();
    assert!(console.contains("rs: refused restart steady to ") && console.contains("(no uid"), "{console}");
    assert!(console.contains("workload: FAIL: RESTART steady"), "{console}");
    assert!(!console.contains("rs: restarting steady"), "{console}");
    assert_ne!(outcome.exit, Exit::PowerOff(0), "{console}");
}

#[test]
fn without_rs_auth_a_system_process_restarts_a_service() {
    let append = format!("{NO_ADMIN} {}={}", abi::weaken::WEAKEN_KEY, abi::weaken::RS_AUTH);
    let outcome = common::boot("rs-test", &append, 120.0);
    let console = outcome.console_text();
    assert!(!console.contains("rs: refused"), "{console}");
    assert!(console.contains("rs: restarting steady"), "{console}");
    assert_eq!(outcome.exit, Exit::PowerOff(0), "{console}");
}

// ---- PM: a user signals only its own processes -----------------------------

/// pid of the shell init starts (init is 1).
const SHELL_PID: &str = "2";

#[test]
fn a_user_cannot_kill_roots_shell() {
    let run = exec("threats", None, None, &format!("attack_auth as {USER} kill {SHELL_PID}; echo alive"));
    assert_eq!(run.status, 0, "{run}");
    assert!(run.has_line(&format!("attack_auth: kill {SHELL_PID} refused: permission denied")), "{run}");
    assert!(run.has_line("alive"), "{run}");
}

#[test]
fn without_pm_kill_owner_a_user_kills_roots_shell() {
    let command = format!("attack_auth as {USER} kill {SHELL_PID}; echo alive");
    let run = exec("threats", None, Some(abi::weaken::PM_KILL_OWNER), &command);
    assert!(run.has_line(&format!("attack_auth: killed {SHELL_PID}")), "{run}");
    assert!(!run.has_line("alive"), "{run}");
    // The shell died of SIGTERM (143), which viv reports as its highest
    // guest status.
    assert_eq!(run.status, abi::platform::GUEST_STATUS_MAX as i32, "{run}");
}

#[test]
fn a_user_kills_its_own_processes_but_not_init() {
    let run = exec("system", Some(USER), None, &format!("kill 1; kill {SHELL_PID}; echo alive"));
    assert!(run.out.contains("kill: 1: permission denied"), "{run}");
    assert!(!run.has_line("alive"), "{run}");
    assert_eq!(run.status, abi::platform::GUEST_STATUS_MAX as i32, "{run}");
}

// ---- PM: process quotas keep slots for RS ---------------------------------

// `/bin/echo`, not the shell's built-in: printing "after" must take a fork.
const BOMB: &str = "attack_auth as 1000 forkbomb; service restart tty; /bin/echo after; service list";

#[test]
fn a_users_fork_bomb_stops_at_its_quota_and_root_still_restarts_a_driver() {
    let run = exec("threats", None, None, BOMB);
    // The bomber's first children start squatting (forking themselves)
    // while it still forks, so how many of the user's slots are its own
    // children depends on the host's speed; that the quota, not memory,
    // refused it does not.
    let children: usize = run
        .out
        .lines()
        .find_map(|l| l.strip_prefix("attack_auth: forked ")?.split(' ').next()?.parse().ok())
        .unwrap_or_else(|| panic!("no report from the bomb: {run}"));
    assert!((1..abi::proto::pm::MAX_PROCS_PER_USER).contains(&children), "{run}");
    let refused = format!("attack_auth: forked {children} children, then: too many open files or processes");
    assert!(run.has_line(&refused), "{run}");
    assert!(run.has_line("after"), "{run}");
    assert_eq!(run.service("tty"), Some(("running".into(), 1)), "{run}");
    assert_eq!(run.status, 0, "{run}");
}

#[test]
fn without_pm_proc_quota_a_fork_bomb_locks_out_root() {
    let run = exec("threats", None, Some(abi::weaken::PM_PROC_QUOTA), BOMB);
    let children: usize = run
        .out
        .lines()
        .find_map(|l| l.strip_prefix("attack_auth: forked ")?.split(' ').next()?.parse().ok())
        .unwrap_or_else(|| panic!("no report from the bomb: {run}"));
    assert!(children >= abi::proto::pm::MAX_PROCS_PER_USER, "{run}");
    // Whether root's shell cannot fork `service` or RS cannot start tty
    // again, the command never gets to `echo after`.
    assert!(!run.has_line("after"), "{run}");
    assert!(run.out.contains("sh: fork:") || run.log.contains("rs: cannot start tty"), "{run}");
}

// ---- DS: names are owned, and no client fills the store -------------------

#[test]
fn a_user_cannot_take_over_a_service_name() {
    let run = exec("threats", Some(USER), None, "attack_auth claim vfs; echo after");
    assert!(run.has_line("attack_auth: claim vfs refused: permission denied"), "{run}");
    assert!(run.has_line("after"), "{run}");
    assert_eq!(run.status, 0, "{run}");
}

#[test]
fn without_ds_names_a_user_takes_over_vfs() {
    let run = exec("threats", Some(USER), Some(abi::weaken::DS_NAMES), "attack_auth claim vfs; echo after");
    assert!(run.has_line("attack_auth: vfs is now mine"), "{run}");
    // Every program started afterwards finds the attacker under "vfs".
    assert!(!run.has_line("after"), "{run}");
}

/// Root stops TTY (RS deletes its name), a user claims the name while it
/// is down (its report goes to a file: the console is down too), root
/// starts TTY again and shows the report.
const CLAIM_WHILE_DOWN: &str =
    "service stop tty; attack_auth as 1000 claim tty > /tmp/out; service start tty; cat /tmp/out; service list";

#[test]
fn a_user_cannot_take_the_name_of_a_service_that_is_down() {
    let run = exec("threats", None, None, CLAIM_WHILE_DOWN);
    assert!(run.has_line("attack_auth: claim tty refused: permission denied"), "{run}");
    assert_eq!(run.service("tty"), Some(("running".into(), 0)), "{run}");
    assert_eq!(run.status, 0, "{run}");
}

#[test]
fn without_ds_names_a_user_takes_the_name_of_a_service_that_is_down() {
    let run = exec("threats", None, Some(abi::weaken::DS_NAMES), CLAIM_WHILE_DOWN);
    assert!(run.has_line("attack_auth: tty is now mine"), "{run}");
}

#[test]
fn one_client_filling_ds_leaves_room_for_another() {
    let run = exec("threats", Some(USER), None, "attack_auth fill; attack_auth claim mine");
    let most = abi::proto::ds::MAX_ENTRIES_PER_CLIENT;
    let refused = format!("attack_auth: published {most} names, then: too many open files or processes");
    assert!(run.has_line(&refused), "{run}");
    assert!(run.has_line("attack_auth: mine is now mine"), "{run}");
    assert_eq!(run.status, 0, "{run}");
}

#[test]
fn without_ds_quota_one_client_fills_ds_for_everyone() {
    // Reclaim off too: with it, DS frees the dead filler's names when full
    // and the claim succeeds for another reason than the quota.
    let weaken = format!("{},{}", abi::weaken::DS_QUOTA, abi::weaken::DS_RECLAIM);
    let run = exec("threats", Some(USER), Some(&weaken), "attack_auth fill; attack_auth claim mine");
    let published: usize = run
        .out
        .lines()
        .find_map(|l| l.strip_prefix("attack_auth: published ")?.split(' ').next()?.parse().ok())
        .unwrap_or_else(|| panic!("no report from the fill: {run}"));
    assert!(published > abi::proto::ds::MAX_ENTRIES_PER_CLIENT, "{run}");
    assert!(run.has_line("attack_auth: claim mine refused: too many open files or processes"), "{run}");
    assert_eq!(run.status, 1, "{run}");
}
