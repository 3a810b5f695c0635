//! The reincarnation server under fire: boots the `rs-test` image once
//! (RS, DS, a crashing service, a service that stops answering heartbeats,
//! a healthy one, a held one and a workload) and checks from the console
//! what RS did and when.

mod common;

use common::boot;
use std::sync::OnceLock;
use vmm::vstate::outcome::Exit;

/// The heartbeat period of `silent` in images/rs-test/image.toml.
const PERIOD_MS: u64 = 200;
/// One timer tick (100 Hz): RS measures time in ticks.
const TICK_MS: u64 = 10;
const BACKOFF_BASE_MS: u64 = abi::proto::rs::BACKOFF_BASE_MS;
const BACKOFF_MAX_MS: u64 = abi::proto::rs::BACKOFF_MAX_MS;

/// The console of the one boot all tests share, after checking that the
/// workload finished and the machine powered off with 0.
fn console() -> &'static str {
    static CONSOLE: OnceLock<String> = OnceLock::new();
    CONSOLE.get_or_init(|| {
        let outcome = boot("rs-test", "", 120.0);
        let console = outcome.console_text();
        assert_eq!(outcome.exit, Exit::PowerOff(0), "console:\n{console}");
        console
    })
}

fn lines() -> Vec<&'static str> {
    console().lines().collect()
}

/// The number right after `key` in `line` (`"at 120 ms"`, key `"at "`).
fn number_after(line: &str, key: &str) -> u64 {
    let rest = &line[line.find(key).unwrap_or_else(|| panic!("no {key:?} in {line:?}")) + key.len()..];
    let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    digits.parse().unwrap_or_else(|_| panic!("no number after {key:?} in {line:?}"))
}

/// Index of the first line at or after `from` that starts with `prefix`.
fn find_from(lines: &[&str], from: usize, prefix: &str) -> Option<usize> {
    lines.iter().skip(from).position(|l| l.starts_with(prefix)).map(|i| i + from)
}

/// The workload's final LIST line for `name`: (state, restarts).
fn listed(name: &str) -> (String, u64) {
    let prefix = format!("workload: service {name} ep ");
    let line = lines()
        .into_iter()
        .find(|l| l.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no LIST line for {name} in:\n{}", console()));
    let state = line.split(" state ").nth(1).and_then(|r| r.split(' ').next()).unwrap().to_string();
    (state, number_after(line, " restarts "))
}

#[test]
fn a_silent_service_is_killed_within_three_periods_and_restarted() {
    let lines = lines();
    let all = console();
    // silent stops answering; RS notices within the bound.
    let quiet = find_from(&lines, 0, "silent: answered ").unwrap_or_else(|| panic!("silent never went quiet:\n{all}"));
    let quiet_at = number_after(lines[quiet], "ignoring them from ");
    let missed = find_from(&lines, quiet, "rs: silent missed 2 heartbeats")
        .unwrap_or_else(|| panic!("RS never noticed the silent service:\n{all}"));
    let line = lines[missed];
    let (last, now) = (number_after(line, "last answered ping at "), number_after(line, "now "));
    assert!(line.ends_with("; killing it"), "{line}");
    // Two periods without an answer, and at most one period of slack.
    assert!(now >= last + 2 * PERIOD_MS, "killed too early: {line}");
    assert!(now <= last + 3 * PERIOD_MS, "killed too late: {line}");
    assert!(now >= quiet_at && now <= quiet_at + 3 * PERIOD_MS, "went quiet at {quiet_at} ms: {line}");
    // Killed, then restarted at once under a new endpoint.
    let killed = find_from(&lines, missed, "rs: silent (ep ").unwrap();
    assert!(lines[killed].contains("killed for missing heartbeats"), "{}", lines[killed]);
    assert!(lines[killed].contains("; restarting now (restart 1)"), "{}", lines[killed]);
    let restarted = find_from(&lines, killed, "rs: started silent (ep ").expect("silent restarted");
    let old_ep = lines[killed].split("(ep ").nth(1).unwrap().split(')').next().unwrap();
    let new_ep = lines[restarted].split("(ep ").nth(1).unwrap().split(')').next().unwrap();
    assert_ne!(old_ep, new_ep);
    assert!(number_after(lines[restarted], ") at ").saturating_sub(now) <= TICK_MS, "{}", lines[restarted]);
    // RS's own count agrees; the healthy service was never touched.
    let (state, restarts) = listed("silent");
    assert!(restarts >= 1 && state == "running", "silent: {state} {restarts}");
    assert_eq!(listed("steady"), ("running".to_string(), 0));
    assert!(!all.contains("rs: steady missed"), "{all}");
    assert_eq!(lines.iter().filter(|l| l.starts_with("rs: started steady ")).count(), 1 + 2, "{all}");
}

#[test]
fn a_crash_loop_backs_off_with_growing_capped_delays_while_work_goes_on() {
    let lines = lines();
    let all = console();
    let exits: Vec<usize> = (0..lines.len())
        .filter(|&i| lines[i].starts_with("rs: crashy (ep ") && lines[i].contains(" exited with status 3 at "))
        .collect();
    assert!(exits.len() >= 6, "too few crashes:\n{all}");
    // The first restart is immediate.
    assert!(lines[exits[0]].ends_with("; restarting now (restart 1)"), "{}", lines[exits[0]]);
    // Then every quick death waits, base << n, capped, never shrinking.
    let mut delays = Vec::new();
    for (n, &i) in exits.iter().enumerate().skip(1) {
        let died_at = number_after(lines[i], " exited with status 3 at ");
        let Some(next) = lines.get(i + 1).filter(|l| l.starts_with("rs: crash loop: crashy restarts in ")) else {
            panic!("no backoff after {:?}:\n{all}", lines[i]);
        };
        let delay = number_after(next, "restarts in ");
        assert_eq!(number_after(next, "(restart "), n as u64 + 1, "{next}");
        // It really waited that long before starting it again (or the
        // workload stopped the loop meanwhile).
        if let Some(start) = find_from(&lines, i, "rs: started crashy (ep ") {
            let started_at = number_after(lines[start], ") at ");
            assert!(started_at + TICK_MS >= died_at + delay, "started at {started_at} after {next}");
        }
        delays.push(delay);
    }
    assert_eq!(delays[0], BACKOFF_BASE_MS, "{delays:?}");
    assert!(delays.windows(2).all(|w| w[0] <= w[1]), "delays shrink: {delays:?}");
    assert!(delays.iter().all(|&d| d <= BACKOFF_MAX_MS), "delays above the cap: {delays:?}");
    assert!(delays.windows(2).all(|w| w[1] == (2 * w[0]).min(BACKOFF_MAX_MS)), "not doubling: {delays:?}");
    assert!(delays.contains(&BACKOFF_MAX_MS), "the cap was never reached: {delays:?}");
    // The workload was not starved by the crash loop.
    let done = lines.iter().find(|l| l.starts_with("workload: 100 steps done in ")).expect("workload finished");
    let took = number_after(done, " done in ");
    assert!((10_000..15_000).contains(&took), "{done}");
    assert!(all.contains("workload: all checks passed"), "{all}");
    // The held service died once and stayed down.
    assert_eq!(lines.iter().filter(|l| l.starts_with("rs: started held ")).count(), 1, "{all}");
    let held = lines.iter().find(|l| l.starts_with("rs: held (ep ")).expect("held's exit");
    assert!(held.contains("exited with status 4") && held.ends_with("; restart = hold, staying down"), "{held}");
    assert_eq!(listed("held"), ("stopped".to_string(), 0));
}

#[test]
fn list_restart_stop_and_start_do_what_they_say() {
    let lines = lines();
    let all = console();
    let line = |prefix: &str| {
        lines.iter().position(|l| l.starts_with(prefix)).unwrap_or_else(|| panic!("no {prefix:?} in:\n{all}"))
    };
    // RESTART: new endpoint, one restart, DS updated.
    let restart = lines[line("workload: restart steady: ep ")];
    let eps: Vec<&str> =
        restart["workload: restart steady: ep ".len()..].split(", ").next().unwrap().split(" -> ").collect();
    assert_ne!(eps[0], eps[1], "{restart}");
    assert!(restart.contains("restarts 0 -> 1") && restart.ends_with(&format!("DS has Ok({})", eps[1])), "{restart}");
    let rs_restart = line("rs: restarting steady (ep ");
    assert!(lines[rs_restart].contains(&format!("(ep {})", eps[0])) && lines[rs_restart].ends_with("(restart 1)"));
    assert!(lines[rs_restart + 1].starts_with(&format!("rs: started steady (ep {}) at ", eps[1])));
    // STOP: down and out of DS; START: back, and a second START is refused.
    assert_eq!(lines[line("workload: stop steady: ")], "workload: stop steady: state stopped, DS Err(NoEntry)");
    let start = line("workload: start steady: ");
    assert_eq!(lines[start], "workload: start steady: Ok(0) then Err(Exists), state running");
    assert!(line("rs: stopped steady (ep ") < line("rs: starting steady at "));
    // DS told the subscriber about every change, deletion included.
    let seen = format!("workload: ds saw steady as {} -> {} -> NONE -> ", eps[0], eps[1]);
    assert!(lines[line("workload: ds saw steady as ")].starts_with(&seen), "{all}");
    let permissions =
        "workload: ds permissions: hijack Err(Perm), forge Err(Perm), delete Err(Perm); own name Ok(0) Ok(true) Ok(0)";
    assert_eq!(lines[line("workload: ds permissions: ")], permissions);
    assert_eq!(lines[line("workload: nosuch: ")], "workload: nosuch: [Err(NoEntry), Err(NoEntry), Err(NoEntry)]");
    // STOP ends the crash loop for good.
    let stopped = line("rs: stopped crashy ");
    assert!(find_from(&lines, stopped, "rs: started crashy ").is_none(), "{all}");
    assert_eq!(lines[line("workload: stop crashy: ")], "workload: stop crashy: state stopped");
    assert!(!all.contains("workload: FAIL"), "{all}");
}
