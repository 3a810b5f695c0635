//! Issue 4: killing the TTY driver while the shell sits idle at its prompt.
//! RS must restart TTY, the shell must keep working through the new driver,
//! and `service` must show exactly one restart of tty.

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn wait_for(output: &Arc<Mutex<Vec<u8>>>, needle: &str, deadline: Instant) -> String {
    loop {
        let text = String::from_utf8_lossy(&output.lock().unwrap()).into_owned();
        if text.contains(needle) {
            return text;
        }
        assert!(Instant::now() < deadline, "no {needle:?} in time; console so far:\n{text}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn tty_killed_while_the_shell_is_idle_comes_back_and_the_shell_keeps_working() {
    let mut viv = Command::new(env!("CARGO_BIN_EXE_viv"))
        .args(["run", "--image", "system-test", "--timeout", "60", "--append", "ttykiller.ms=800"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("starting viv");
    let output = Arc::new(Mutex::new(Vec::new()));
    let mut stdout = viv.stdout.take().unwrap();
    let sink = output.clone();
    let reader = std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock().unwrap().extend_from_slice(&buf[..n]);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(50);
    let mut stdin = viv.stdin.take().unwrap();

    // The shell is up and idle at its prompt when the driver is killed.
    let before_kill = wait_for(&output, "ttykiller: killed tty", deadline);
    let prompt = before_kill.find("$ ").expect("the shell printed its prompt");
    let killed = before_kill.find("rs: tty (ep ").expect("RS saw tty die");
    assert!(prompt < killed, "the shell must be idle at its prompt before tty dies:\n{before_kill}");
    wait_for(&output, "restarting now (restart 1)", deadline);

    stdin.write_all(b"echo after the restart\nservice\nexit 5\n").unwrap();
    stdin.flush().unwrap();
    let status = loop {
        if let Some(status) = viv.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = viv.kill();
            panic!("viv did not end; console:\n{}", String::from_utf8_lossy(&output.lock().unwrap()));
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    reader.join().unwrap();
    let console = String::from_utf8_lossy(&output.lock().unwrap()).into_owned();
    assert_eq!(status.code(), Some(5), "console:\n{console}");
    assert!(console.lines().any(|l| l == "after the restart"), "console:\n{console}");
    let tty_row = console.lines().find(|l| l.starts_with("tty ")).expect("service lists tty");
    let columns: Vec<&str> = tty_row.split_whitespace().collect();
    assert_eq!(columns[2..], ["running", "1"], "tty row: {tty_row}");
    assert_ne!(columns[1], "4.0", "tty must run under a fresh endpoint: {tty_row}");
    assert_eq!(console.matches("rs: tty (ep ").count(), 1, "tty must die exactly once:\n{console}");
}
