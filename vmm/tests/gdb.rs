//! `viv exec --gdb` and `viv campaign replay --gdb`: real gdb, in batch
//! mode, debugging the guest through the stub (`vmm::debug`,
//! docs/gdb.md) with the symbols and debug info `viv export --symbols`
//! writes. One boot serves every assertion of the first test: a
//! kernel breakpoint by name for one process (`viv-break`), `bt` with
//! arguments and source lines, registers, a single step, the processes
//! as threads, statics read by name (`viv-static`, `print`), a blocked
//! server's user stack with its source lines, a server's source line
//! resolved (`info line`, `list`, `break FILE:LINE`), a breakpoint in a
//! server's code by function name with `bt`, arguments, `stepi` and
//! `next` there (on kvm_pvm through the guest kernel's `#BP`/`#DB`
//! handlers), the refusal of what this host cannot do (a watchpoint),
//! and the exit status at power-off. The second replays a one-experiment
//! campaign into gdb, stopped at its injection, prints the kernel's
//! arguments there and a blocked server's argument and local, each
//! checked against the trace, stops and steps in VFS's code, and
//! compares its trace with the undebugged replay's (breakpoints and
//! steps in user code included); the third does so for a SWIFI
//! experiment, stopped after its mutation, which gdb is shown; the
//! fourth interrupts a running guest with ^C and kills it from gdb; the
//! last checks that a program's own `int3` under gdb still ends it.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const VIV: &str = env!("CARGO_BIN_EXE_viv");
/// Generous bounds for a loaded host; nothing here measures speed.
const WAIT: Duration = Duration::from_secs(300);

/// The `rip` value in `info registers rip` output after `marker`.
fn rip_after(out: &str, marker: &str) -> u64 {
    let rest = &out[out.find(marker).unwrap_or_else(|| panic!("no {marker:?} in:\n{out}"))..];
    let line =
        rest.lines().find(|l| l.starts_with("rip ")).unwrap_or_else(|| panic!("no rip after {marker:?}:\n{out}"));
    let hex = line.split_whitespace().nth(1).unwrap();
    u64::from_str_radix(hex.trim_start_matches("0x"), 16).unwrap()
}

fn wait_for(child: &mut Child, what: &str) -> std::process::ExitStatus {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{what} still running after {WAIT:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn wait_for_socket(path: &Path, viv: &mut Child) {
    let deadline = Instant::now() + WAIT;
    while !path.exists() {
        if let Some(status) = viv.try_wait().unwrap() {
            panic!("viv ended ({status}) before listening on {}", path.display());
        }
        assert!(Instant::now() < deadline, "viv never listened on {}", path.display());
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Starts `viv ARGS` (its output piped) and waits until it listens on
/// `socket`.
fn start_viv<I: AsRef<std::ffi::OsStr>>(args: impl IntoIterator<Item = I>, socket: &Path) -> Child {
    let mut viv = Command::new(VIV)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_socket(socket, &mut viv);
    viv
}

/// The 1-based number of the first line of the guest's source file `path`
/// (under `guest-servers/`) that contains `text`: a breakpoint by line
/// without a line number written into the test.
fn source_line(path: &str, text: &str) -> usize {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("../guest-servers").join(path);
    let source = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    1 + source.lines().position(|l| l.contains(text)).unwrap_or_else(|| panic!("no {text:?} in {path}"))
}

/// The text of `out` from `start` up to `end` (or its end).
fn section<'a>(out: &'a str, start: &str, end: Option<&str>) -> &'a str {
    let from = out.find(start).unwrap_or_else(|| panic!("no {start:?} in:\n{out}"));
    let to = end.map_or(out.len(), |e| out[from..].find(e).map_or(out.len(), |i| from + i));
    &out[from..to]
}

fn require_gdb() {
    assert!(Command::new("gdb").arg("--version").output().is_ok(), "gdb not found: run scripts/setup (installs gdb)");
}

/// Starts gdb in batch mode with one `-ex` per command (each runs even
/// when one before it failed).
fn spawn_gdb(commands: &[String]) -> Child {
    let mut gdb = Command::new("gdb");
    gdb.args(["-batch", "-nx"]);
    for c in commands {
        gdb.arg("-ex").arg(c);
    }
    gdb.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap()
}

/// gdb's stdout and stderr once it has ended.
fn gdb_output(gdb: Child) -> String {
    let out = gdb.wait_with_output().unwrap();
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// Runs gdb (as [`spawn_gdb`]) to its end; returns what it printed.
fn run_gdb(commands: &[String]) -> String {
    let mut gdb = spawn_gdb(commands);
    wait_for(&mut gdb, "gdb");
    gdb_output(gdb)
}

#[test]
fn gdb_breaks_steps_lists_processes_and_sees_the_power_off() {
    require_gdb();
    let dir = common::scratch_dir("gdb");
    let symbols = dir.join("symbols");
    let export = Command::new(VIV).args(["export", "--image", "system", "--symbols"]).arg(&symbols).output().unwrap();
    assert!(export.status.success(), "viv export --symbols: {}", String::from_utf8_lossy(&export.stderr));
    let socket = dir.join("gdb.sock");
    // The commands open files, so that VFS resolves paths after the
    // kernel breakpoint below (the user-code breakpoint's hit). ext2fs's
    // first system call on the general path may come as late as the
    // first `cat`'s read (most of its traps take the fast path, which
    // has no breakpoint), so more `cat`s follow: each execs from the
    // disk and opens a file, both through `path_at`.
    let command = "echo gdb-was-here; cat /etc/motd; cat /etc/motd; cat /etc/motd; exit 7";
    let exec = ["exec", "--gdb", &socket.display().to_string(), "--gdb-wait", command].map(String::from);
    let mut viv = start_viv(exec, &socket);

    let kernel_only = Path::new(vmm::vstate::config::KVM_PVM_SYSFS).exists();
    // A line of VFS's request path: its call to the file server.
    let remote_line = source_line("vfs/src/remote.rs", "let mut result = exchange(");
    let not_code = data_address(&symbols.join("programs/vfs.elf"));
    // Each -ex runs even when one before it failed (the refused breakpoint).
    let commands = [
        "set pagination off".to_string(),
        format!("source {}", symbols.join("vivarium.gdb").display()),
        format!("target remote {}", socket.display()),
        // A kernel breakpoint that stops only for ext2fs's system calls,
        // past its first ones, so that the servers exist and VFS waits
        // for ext2fs.
        "viv-break ext2fs guest_kernel::syscall::dispatch".into(),
        "ignore 1 100".into(),
        "continue".into(),
        "bt".into(),
        "echo ==args\\n".into(),
        "info args".into(),
        "echo ==before-step\\n".into(),
        "info registers rip".into(),
        "stepi".into(),
        "echo ==after-step\\n".into(),
        "info registers rip".into(),
        "info threads".into(),
        // Statics by name: through the symbol table, and (debug info)
        // with their types.
        "echo ==statics\\n".into(),
        "viv-static guest_kernel::console::LOG_PORT 2".into(),
        "viv-static VIV_PROCESS_DIRECTORY".into(),
        "x/s $viv_static + 16".into(),
        "print guest_kernel::console::LOG_PORT".into(),
        // A watchpoint on the kernel's tick counter: refused on kvm_pvm.
        "echo ==watch\\n".into(),
        "set language c".into(),
        "viv-static guest_kernel::TICKS".into(),
        "watch *(unsigned long *)$viv_static".into(),
        "continue".into(),
        "echo ==after-watch\\n".into(),
        "set language auto".into(),
        "delete".into(),
        // VFS's symbols; `viv-vfs` also selects VFS's thread (no
        // `viv-thread vfs`), whose stack `bt` shows.
        "viv-vfs".into(),
        "echo ==vfs-bt\\n".into(),
        "bt".into(),
        // VFS's source, by line and by function.
        "echo ==vfs-source\\n".into(),
        format!("info line vfs/src/remote.rs:{remote_line}"),
        "list vfs::remote::RemoteFs::call".into(),
        // User code, by file and line (resolved, then deleted), and by
        // function name: VFS resolving a request's path. On kvm_pvm it
        // goes through the kernel's #BP and #DB handlers (abi::debug).
        "echo ==user-break\\n".into(),
        format!("break vfs/src/remote.rs:{remote_line}"),
        "delete".into(),
        // An address that is VFS's but not code: the stub refuses it when
        // gdb inserts its breakpoints at the next `continue` (below).
        "echo ==refused\\n".into(),
        format!("break *{not_code:#x}"),
        // ext2fs selected while gdb has VFS's symbols: the breakpoint at
        // VFS's function still goes into VFS, never into ext2fs.
        "viv-thread ext2fs".into(),
    ]
    .into_iter()
    .chain(user_stop_commands())
    .collect::<Vec<_>>();
    let out = run_gdb(&commands);
    let status = wait_for(&mut viv, "viv");
    let viv_out = viv.wait_with_output().unwrap();
    let viv_err = String::from_utf8_lossy(&viv_out.stderr);
    let context = format!("gdb said:\n{out}\nviv said:\n{viv_err}");

    // A kernel breakpoint by name, with its arguments, its source line
    // and a backtrace through the trap entry.
    assert!(out.contains("hit Breakpoint 1, guest_kernel::syscall::dispatch (slot="), "{context}");
    // `dispatch` is inlined into `trap_entry` (the IPC fast path), so
    // gdb may print the caller as an inlined frame, without an address.
    assert!(out.contains("guest_kernel::trap_entry (") && out.contains(" at src/main.rs:"), "{context}");
    // Stopped in ext2fs (the current thread), none of the others.
    let current = out
        .lines()
        .find(|l| l.starts_with('*') && l.contains("(ext2fs (endpoint "))
        .unwrap_or_else(|| panic!("ext2fs is not the current thread\n{context}"));
    // The argument `slot` is ext2fs's process slot: thread 1.N is slot N - 2.
    let thread: usize = current.split("Thread 1.").nth(1).and_then(|t| t.split(' ').next()).unwrap().parse().unwrap();
    let args = section(&out, "==args", Some("==before-step"));
    assert!(args.contains(&format!("\nslot = {}\n", thread - 2)), "{context}");
    // One instruction further.
    let (before, after) = (rip_after(&out, "==before-step"), rip_after(&out, "==after-step"));
    assert!(after > before && after - before < 16, "stepi went from {before:#x} to {after:#x}\n{context}");
    // Every server is a thread named after its program.
    for name in ["rs", "ds", "pm", "vfs", "tty", "blk", "ext2fs", "init"] {
        assert!(out.contains(&format!("({name} (endpoint ")), "no thread {name}\n{context}");
    }
    // A blocked server's user stack, from its saved registers, with
    // source lines (the programs' debug info).
    let vfs_bt = section(&out, "==vfs-bt", Some("==vfs-source"));
    // VFS waits in its mount, in its request handling or for the next
    // request in the runtime's server loop (`vfs::run` hands over to
    // `rt::server::serve`), depending on where the breakpoint caught it
    // (the host's speed decides how far it got): always in `vfs::run`.
    assert!(vfs_bt.contains("vfs::run () at vfs/src/main.rs:"), "{context}");
    assert!(vfs_bt.contains("rt_user_main () at rt/src/lib.rs:"), "{context}");
    // The server's source: a line's address, a function's lines.
    let source = section(&out, "==vfs-source", Some("==user-break"));
    let line = format!("Line {remote_line} of \"vfs/src/remote.rs\"");
    assert!(source.contains(&line) && source.contains("<_ZN3vfs6remote8RemoteFs4call"), "{context}");
    assert!(source.contains("fn call(&self, mtype: u32, words: &[u64]) -> Result<Message, Error> {"), "{context}");
    // A breakpoint by file and line in VFS resolves to VFS's code (gdb
    // takes the first line with code from there on).
    let user_break = section(&out, "==user-break", Some("==user-stop"));
    let resolved = user_break
        .lines()
        .find(|l| l.starts_with("Breakpoint ") && l.contains(": file vfs/src/remote.rs, line "))
        .unwrap_or_else(|| panic!("the breakpoint did not resolve\n{context}"));
    assert!(resolved.contains(" at 0x4"), "{context}");
    // Statics read by their names: the kernel's log port (COM1 in the
    // ELF, switched at boot to the log port that `viv exec` asks for with
    // viv.log=e9) and the first process directory entry's name (rs).
    let statics = &out[out.find("==statics").unwrap()..out.find("==watch").unwrap()];
    let port = abi::platform::PORT_LOG;
    assert!(statics.contains(&format!(" = {port} ({port:#x})\n")), "{context}");
    assert!(statics.contains("<VIV_PROCESS_DIRECTORY+16>:\t\"rs\""), "{context}");
    assert!(
        statics
            .contains(&format!("core::sync::atomic::AtomicU16 {{v: core::cell::UnsafeCell<u16> {{value: {port}}}}}")),
        "{context}"
    );
    let watch = &out[out.find("==watch").unwrap()..out.find("==after-watch").unwrap()];
    if kernel_only {
        // Measured on kvm_pvm (docs/gdb.md): the emulator's writes skip
        // the debug registers, and user mode does not report their hits,
        // so the stub refuses watchpoints and says why.
        eprintln!(
            "skipped: a watchpoint (this host, kvm_pvm, reports no debug-register hits); checked that it is refused"
        );
        assert!(viv_err.contains("gdb: watchpoint: this host (kvm_pvm)"), "{context}");
        // (gdb says so on its stderr.)
        assert!(out.contains("Could not insert hardware watchpoint 2."), "{context}");
    } else {
        // Hardware KVM: debug registers through KVM_SET_GUEST_DEBUG.
        assert!(watch.contains("Hardware watchpoint 2") && watch.contains("New value"), "{context}");
    }
    // The breakpoint at VFS's data: refused, and viv says why and what
    // to type. (gdb 13 shows nothing: a failed insertion in a file
    // loaded by add-symbol-file is a "shared library" breakpoint, which
    // it disables quietly and resumes.) It never hits, nothing else
    // does but the breakpoint in VFS, and the run ends as it should.
    let refused = section(&out, "==refused", Some("==user-stop"));
    assert!(refused.contains(&format!("Breakpoint 4 at {not_code:#x}")), "{context}");
    let why = format!("gdb: breakpoint at {not_code:#x} refused: it is not code of vfs (Thread 1.");
    assert!(viv_err.contains(&why) && viv_err.contains("type viv-NAME"), "{context}");
    assert!(!out.contains("hit Breakpoint 4"), "{context}");
    check_user_stop(&out, &context);
    // The power-off, as gdb and viv see it.
    assert!(out.contains("exited with code 07"), "{context}");
    assert_eq!(status.code(), Some(7), "{context}");
    assert!(String::from_utf8_lossy(&viv_out.stdout).contains("gdb-was-here"), "{context}");
}

/// The address of the first loadable segment of the program ELF at
/// `path` that is not code (its read-only data, say).
fn data_address(path: &Path) -> u64 {
    use object::{Object, ObjectSegment, SegmentFlags};
    let executable = |flags| matches!(flags, SegmentFlags::Elf { p_flags, .. } if p_flags.0 & object::elf::PF_X.0 != 0);
    let elf = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let file = object::File::parse(&*elf).unwrap();
    let segment = file
        .segments()
        .find(|s| s.size() > 0 && !executable(s.flags()))
        .unwrap_or_else(|| panic!("{} has no data segment", path.display()));
    assert!((abi::layout::USER_BASE..abi::layout::USER_END).contains(&segment.address()));
    segment.address()
}

/// A VFS function by name, in user code: it resolves the path of a
/// request (open, exec), so it runs whenever a command starts.
const USER_FUNCTION: &str = "vfs::Vfs::path_at";

/// The value of `rip` printed between `start` and `end`.
fn rip_between(out: &str, start: &str, end: &str) -> u64 {
    rip_after(section(out, start, Some(end)), start)
}

/// A breakpoint at [`USER_FUNCTION`], and at its hit: `bt`, the threads,
/// the arguments; then the breakpoint goes, `stepi` and `next`, and the
/// guest runs to its end. [`check_user_stop`] checks what gdb said.
fn user_stop_commands() -> Vec<String> {
    [
        &format!("break {USER_FUNCTION}"),
        "continue",
        "echo ==user-stop\\n",
        "bt",
        "info threads",
        "echo ==user-args\\n",
        "info args",
        // The breakpoint goes before the steps: gdb 13 stepping off a
        // breakpoint of its own (its step-over) now and then stops on an
        // internal assertion (`finish_step_over: trap_expected`).
        "delete",
        "echo ==user-before-step\\n",
        "info registers rip",
        "stepi",
        "echo ==user-after-stepi\\n",
        "info registers rip",
        "next",
        "echo ==user-after-next\\n",
        "info registers rip",
        "echo ==user-end\\n",
        "continue",
    ]
    .map(String::from)
    .to_vec()
}

/// The stop at [`USER_FUNCTION`]'s breakpoint ([`user_stop_commands`]).
fn check_user_stop(out: &str, context: &str) {
    let stop = section(out, "==user-stop", Some("==user-args"));
    assert!(out.contains(&format!(", {USER_FUNCTION} (self=")), "the user breakpoint hit\n{context}");
    // Its callers, with source lines, down to VFS's main loop.
    assert!(stop.contains(&format!("#0  {USER_FUNCTION} (")) && stop.contains(" at vfs/src/calls.rs:"), "{context}");
    assert!(stop.contains(" in vfs::run () at vfs/src/main.rs:"), "{context}");
    // VFS is the thread that stopped.
    let current = stop
        .lines()
        .find(|l| l.starts_with('*'))
        .unwrap_or_else(|| panic!("no current thread at the user stop\n{context}"));
    assert!(current.contains("(vfs (endpoint "), "{context}");
    // Its arguments: the caller is a process gdb lists as a thread.
    let args = section(out, "==user-args", Some("==user-before-step"));
    let caller = args
        .lines()
        .find_map(|l| l.strip_prefix("caller = abi::endpoint::Endpoint ("))
        .and_then(|rest| rest.strip_suffix(')'))
        .unwrap_or_else(|| panic!("no caller argument\n{context}"));
    assert!(stop.contains(&format!(" (endpoint {caller}))")), "the caller {caller} is no thread\n{context}");
    assert!(args.lines().any(|l| l.starts_with("len = ")), "{context}");
    // One instruction, then one source line, further in VFS's code.
    let before = rip_between(out, "==user-before-step", "==user-after-stepi");
    let stepped = rip_between(out, "==user-after-stepi", "==user-after-next");
    let next = rip_between(out, "==user-after-next", "==user-end");
    let user = abi::layout::USER_BASE..abi::layout::USER_END;
    assert!(user.contains(&before) && user.contains(&stepped) && user.contains(&next), "{context}");
    assert!(before != stepped && stepped != next, "stepi {before:#x} -> {stepped:#x}, next -> {next:#x}\n{context}");
    let after_next = section(out, "==user-after-stepi", Some("==user-after-next"));
    assert!(after_next.contains(&format!("<{USER_FUNCTION}+")), "{context}");
}

/// The trace lines without the host's timestamps (`tsc`), which differ
/// from run to run.
fn without_tsc(trace: &str) -> Vec<String> {
    trace
        .lines()
        .map(|l| {
            let mut record: serde_json::Value = serde_json::from_str(l).unwrap();
            record.as_object_mut().unwrap().remove("tsc");
            record.to_string()
        })
        .collect()
}

/// Runs a one-experiment campaign of the system image (the workload
/// copies a file on the disk) with `faults` (its `[[fault]]` and
/// `[expect]` tables) in `dir`; returns its results.json.
fn run_campaign(dir: &Path, faults: &str) -> PathBuf {
    let campaign = dir.join("c.toml");
    // VFS serves the disk in its main loop (`fs_async` off): the
    // request it waits on is then on the stack of VFS's thread, not on
    // its disk worker's, which gdb does not see.
    let head = "name = \"gdb-replay\"\nimage = \"system\"\n\
                workload = \"echo vivarium > /home/f; cp /home/f /home/g; cat /home/g\"\n\
                experiments = 1\nseed = 7\ntimeout = 120\nweaken = [\"fs_async\"]\n\n";
    std::fs::write(&campaign, format!("{head}{faults}")).unwrap();
    let out = dir.join("out");
    let ran = Command::new(VIV).arg("campaign").arg(&campaign).arg("--out").arg(&out).output().unwrap();
    assert!(ran.status.success(), "campaign: {}", String::from_utf8_lossy(&ran.stderr));
    out.join("results.json")
}

/// Starts `viv campaign replay RESULTS 0 --gdb SOCKET --break-at-injection`
/// (its trace into `dir/debugged.jsonl`) and waits until it listens.
fn start_debugged_replay(dir: &Path, results: &Path, socket: &Path) -> Child {
    let replay = [
        "campaign".into(),
        "replay".into(),
        results.to_path_buf(),
        "0".into(),
        "--out".into(),
        dir.join("debugged.jsonl"),
        "--gdb".into(),
        socket.to_path_buf(),
        "--break-at-injection".into(),
    ];
    start_viv(replay, socket)
}

/// Writes the system image's symbols into `dir` (`viv export --symbols`).
fn export_symbols(dir: &Path) {
    let export = Command::new(VIV).args(["export", "--image", "system", "--symbols"]).arg(dir).output().unwrap();
    assert!(export.status.success(), "viv export --symbols: {}", String::from_utf8_lossy(&export.stderr));
}

#[test]
fn a_replayed_experiment_stops_at_its_injection_and_keeps_its_trace() {
    require_gdb();
    let dir = common::scratch_dir("gdb-replay");
    // One experiment: blk crashes at its third matching message (the
    // workload's disk I/O), RS restarts it, the workload succeeds.
    let results = run_campaign(
        &dir,
        "[[fault]]\ntargets = [\"blk\"]\nactions = [\"crash\"]\nnth = [3, 3]\n\n\
         [expect]\nexit_status = 0\noutput = \"vivarium\\n\"\n",
    );
    let plain_trace = dir.join("plain.jsonl");
    let plain = Command::new(VIV)
        .args(["campaign", "replay"])
        .arg(&results)
        .args(["0", "--out"])
        .arg(&plain_trace)
        .output()
        .unwrap();
    assert!(plain.status.success(), "replay: {}", String::from_utf8_lossy(&plain.stderr));

    let socket = dir.join("gdb.sock");
    let debugged_trace = dir.join("debugged.jsonl");
    let mut viv = start_debugged_replay(&dir, &results, &socket);
    export_symbols(&dir);
    let commands = [
        "set pagination off".to_string(),
        format!("source {}", dir.join("vivarium.gdb").display()),
        format!("target remote {}", socket.display()),
        "continue".into(),
        "bt".into(),
        "echo ==args\\n".into(),
        "info args".into(),
        "monitor processes".into(),
        // VFS, blocked in its request to the file server: the request's
        // type (an argument) and first word (a local) in its frame.
        // `viv-vfs` alone: VFS's symbols and VFS's thread.
        "viv-vfs".into(),
        "echo ==vfs\\n".into(),
        "bt".into(),
        "echo ==vfs-values\\n".into(),
        "frame apply all -s -q print mtype".into(),
        "frame apply all -s -q print request.payload[0]".into(),
        "echo ==end\\n".into(),
    ]
    .into_iter()
    // On to a breakpoint in VFS's code and steps there: the trace below
    // must not change for them either.
    .chain(user_stop_commands())
    .collect::<Vec<_>>();
    let out = run_gdb(&commands);
    let status = wait_for(&mut viv, "viv");
    let viv_out = viv.wait_with_output().unwrap();
    let report = String::from_utf8_lossy(&viv_out.stdout);
    let context = format!("gdb said:\n{out}\nviv said:\n{report}{}", String::from_utf8_lossy(&viv_out.stderr));

    // Stopped where the kernel carries the rule out, on the way from the
    // file server's request to the driver.
    assert!(out.contains("received signal SIGTRAP"), "{context}");
    assert!(out.contains("#0  kernel_core::Kernel::fault_common"), "{context}");
    assert!(out.contains("guest_kernel::syscall::dispatch (slot=") && out.contains("at src/syscall.rs:"), "{context}");
    assert!(out.contains(" blk\n") && out.contains(" ext2fs\n"), "{context}");
    // The kernel's arguments there are the injection the trace records.
    let trace: Vec<serde_json::Value> =
        std::fs::read_to_string(&plain_trace).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let fired = trace.iter().position(|r| r["kind"] == "fault_injected").expect("the trace has the injection");
    let (src, dst, mtype) = (&trace[fired]["src"], &trace[fired]["dst"], &trace[fired]["mtype"]);
    let args = section(&out, "==args", Some("==vfs"));
    let site = format!("site = kernel_core::fault::Site {{src: {src}, dst: core::option::Option<usize>::Some({dst}), ");
    assert!(args.contains(&site) && args.contains(&format!(", mtype: {mtype}}}\n")), "{context}");
    assert!(
        args.contains("fired = kernel_core::fault::Fired {rule: 0, action: abi::fault::Action::Crash, "),
        "{context}"
    );
    // VFS's stack, with source lines, and the request it waits on: the
    // last message VFS sent the file server before the injection.
    let vfs = section(&out, "==vfs", Some("==vfs-values"));
    assert!(vfs.contains("vfs::remote::RemoteFs::call (self=") && vfs.contains(" at vfs/src/remote.rs:"), "{context}");
    let request = trace[..fired]
        .iter()
        .rev()
        .find(|r| {
            r["src_name"] == "vfs"
                && r["dst_name"] == "ext2fs"
                && (r["kind"] == "send" || r["kind"] == "senda_delivered")
        })
        .expect("VFS asked the file server");
    let values = section(&out, "==vfs-values", Some("==end"));
    let printed: Vec<&str> = values.lines().filter_map(|l| l.split_once(" = ").map(|(_, v)| v)).collect();
    assert_eq!(printed, [request["mtype"].to_string(), request["args"][0].to_string()], "{context}");
    check_user_stop(&out, &context);
    assert!(out.contains("exited normally"), "{context}");
    assert!(status.success() && report.contains("same outcome as recorded"), "{context}");
    // The debugger changed nothing the guest did.
    let plain = without_tsc(&std::fs::read_to_string(&plain_trace).unwrap());
    let debugged = without_tsc(&std::fs::read_to_string(&debugged_trace).unwrap());
    assert!(!plain.is_empty());
    assert_eq!(plain, debugged, "the debugged replay's trace differs from the plain one");
}

#[test]
fn ctrl_c_stops_a_running_guest_and_kill_ends_it() {
    require_gdb();
    let dir = common::scratch_dir("gdb-interrupt");
    let socket = dir.join("gdb.sock");
    // The guest says it is ready, then sleeps far longer than the test
    // (and is killed from gdb).
    let exec = ["exec", "--gdb", &socket.display().to_string(), "echo ready-for-gdb; sleep 100000"].map(String::from);
    let mut viv = start_viv(exec, &socket);
    let commands = [
        "set pagination off".to_string(),
        format!("target remote {}", socket.display()),
        "continue".into(),
        "info threads".into(),
        "kill".into(),
    ];
    let mut gdb = spawn_gdb(&commands);
    // ^C once the guest has printed its line (so it is running the
    // workload, past gdb's attach stop): gdb forwards SIGINT as ^C.
    let mut console = std::io::BufReader::new(viv.stdout.take().unwrap());
    let mut line = String::new();
    loop {
        line.clear();
        let n = std::io::BufRead::read_line(&mut console, &mut line).unwrap();
        assert!(n > 0, "viv's console ended before the guest was ready");
        if line.contains("ready-for-gdb") {
            break;
        }
    }
    // Repeated until gdb has stopped the guest: a SIGINT that lands before
    // gdb resumed it after attaching would find it stopped already.
    let deadline = Instant::now() + WAIT;
    while gdb.try_wait().unwrap().is_none() {
        // SAFETY: kill(2) on our own child process.
        unsafe { libc::kill(gdb.id() as libc::pid_t, libc::SIGINT) };
        assert!(Instant::now() < deadline, "gdb never stopped the guest");
        std::thread::sleep(Duration::from_millis(500));
    }
    let out = gdb_output(gdb);
    let status = wait_for(&mut viv, "viv");
    let viv_err = String::from_utf8_lossy(&viv.wait_with_output().unwrap().stderr).into_owned();
    let context = format!("gdb said:\n{out}\nviv said:\n{viv_err}");
    assert!(out.contains("received signal SIGINT"), "{context}");
    assert!(out.contains("(sh (endpoint "), "the shell is a thread\n{context}");
    assert_eq!(status.code(), Some(abi::platform::STATUS_VM_ERROR), "{context}");
    assert!(viv_err.contains("gdb killed the guest"), "{context}");
}

/// `bytes` as the reports write them ("48 83 f8 e8").
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(" ")
}

#[test]
fn a_replayed_swifi_experiment_stops_after_its_mutation_and_shows_it() {
    require_gdb();
    let dir = common::scratch_dir("gdb-swifi");
    // One experiment: blk's code is mutated (NOP) at its third message.
    let results = run_campaign(
        &dir,
        "[[fault]]\ntargets = [\"blk\"]\nactions = [\"swifi\"]\nswifi = [\"nop\"]\nnth = [3, 3]\n\n\
         [expect]\nexit_status = -1\nno_panic = true\n",
    );
    let recorded: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&results).unwrap()).unwrap();
    let m = &recorded["experiments"][0]["swifi"][0];
    let bytes = |v: &serde_json::Value| -> Vec<u8> {
        v.as_array().unwrap().iter().map(|b| b.as_u64().unwrap() as u8).collect()
    };
    let (before, after) = (bytes(&m["before"]), bytes(&m["after"]));
    let address = m["address"].as_u64().unwrap();
    let function = format!("{}+{:#x}", m["function"].as_str().unwrap(), m["function_offset"].as_u64().unwrap());
    assert!(m["error"].is_null() && !before.is_empty() && before != after, "{m}");

    let socket = dir.join("gdb.sock");
    let mut viv = start_debugged_replay(&dir, &results, &socket);
    export_symbols(&dir);
    let commands = [
        "set pagination off".to_string(),
        format!("source {}", dir.join("vivarium.gdb").display()),
        format!("target remote {}", socket.display()),
        "continue".into(),
        "bt 1".into(),
        "monitor injection".into(),
        // The code as blk's address space holds it now: mutated already.
        "viv-thread blk".into(),
        "echo ==memory\\n".into(),
        format!("x/{}xb {address:#x}", after.len()),
        format!("x/i {address:#x}"),
        "continue".into(),
    ];
    let out = run_gdb(&commands);
    let status = wait_for(&mut viv, "viv");
    let viv_out = viv.wait_with_output().unwrap();
    let (report, viv_err) = (String::from_utf8_lossy(&viv_out.stdout), String::from_utf8_lossy(&viv_out.stderr));
    let context = format!("recorded: {m}\ngdb said:\n{out}\nviv said:\n{report}{viv_err}");

    // Stopped in the kernel, at the Stop of the rule, after the mutation.
    assert!(out.contains("received signal SIGTRAP"), "{context}");
    assert!(out.contains("#0  guest_kernel::fault::"), "{context}");
    // The mutation shown is the one results.json records, with both
    // instructions disassembled (a NOP mutation: nops only after).
    // (gdb prints what `monitor` answers on its stderr.)
    let shown = &out;
    let line = format!("nop in blk at {address:#x} ({function}): {} -> {}", hex(&before), hex(&after));
    assert!(shown.contains(&line), "{context}");
    assert!(shown.contains(&format!("before: {}    ", hex(&before))), "{context}");
    let nops = vec!["nop"; after.len()].join("; ");
    assert!(shown.contains(&format!("after:  {}    {nops}\n", hex(&after))), "{context}");
    assert!(viv_err.contains(&line), "viv says it too\n{context}");
    // gdb reads the mutated bytes in blk's address space.
    let memory = &out[out.find("==memory").unwrap()..];
    // gdb prints 8 bytes per line: a longer instruction takes two lines.
    let first = memory
        .lines()
        .position(|l| l.starts_with(&format!("{address:#x}:")))
        .unwrap_or_else(|| panic!("no x/xb line\n{context}"));
    let read: Vec<u8> = memory
        .lines()
        .skip(first)
        .take(after.len().div_ceil(8))
        .flat_map(|l| l.split_once(':').map_or("", |(_, bytes)| bytes).split_whitespace())
        .map(|b| u8::from_str_radix(b.trim_start_matches("0x"), 16).unwrap())
        .collect();
    assert_eq!(read, after, "{context}");
    assert!(memory.contains(&format!("{address:#x}")) && memory.contains(":\tnop"), "{context}");
    assert!(status.success() && report.contains("same outcome as recorded"), "{context}");
    // Stopping there changed nothing the guest did.
    let plain_trace = dir.join("plain.jsonl");
    let plain =
        Command::new(VIV).args(["campaign", "replay"]).arg(&results).args(["0", "--out"]).arg(&plain_trace).output();
    assert!(plain.unwrap().status.success());
    let read = |p: &Path| without_tsc(&std::fs::read_to_string(p).unwrap());
    assert_eq!(read(&plain_trace), read(&dir.join("debugged.jsonl")), "the debugged replay's trace differs");
}

#[test]
fn a_stray_int3_under_gdb_still_ends_its_process() {
    require_gdb();
    let dir = common::scratch_dir("gdb-stray-int3");
    let socket = dir.join("gdb.sock");
    // The faults image: `breakpoint` executes an int3 of its own, which
    // is not the debugger's; the kernel must end it as without gdb.
    let mut viv = Command::new(VIV)
        .args(["run", "--image", "faults", "--gdb"])
        .arg(&socket)
        .arg("--gdb-wait")
        // The stub's account of the trap the kernel offered it.
        .env("RUST_LOG", "vmm::debug=debug")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_socket(&socket, &mut viv);
    let out = run_gdb(&[format!("target remote {}", socket.display()), "continue".into()]);
    let status = wait_for(&mut viv, "viv");
    let viv_out = viv.wait_with_output().unwrap();
    let (console, viv_err) = (String::from_utf8_lossy(&viv_out.stdout), String::from_utf8_lossy(&viv_out.stderr));
    let context = format!("gdb said:\n{out}\nviv said:\n{console}{viv_err}");
    assert!(console.contains("kernel: process breakpoint (1.0) killed: breakpoint (rip "), "{context}");
    assert!(console.contains("survivor: finished") && !console.contains("must not happen"), "{context}");
    assert!(out.contains("exited normally") && status.success(), "{context}");
    if Path::new(vmm::vstate::config::KVM_PVM_SYSFS).exists() {
        // On kvm_pvm the kernel asked the stub first, and got it back.
        let offered = viv_err.lines().filter(|l| l.contains("gdb: user trap ") && l.contains(": Guest")).count();
        assert_eq!(offered, 1, "{context}");
    }
}
