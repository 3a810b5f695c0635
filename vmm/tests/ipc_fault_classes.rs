//! Issue 11, item 4: the classes of single IPC faults that
//! `ci/campaigns/ipc-faults.toml` found reaching programs, each as an
//! explicit fault plan (docs/trust.md, "Campaign: single IPC faults").
//! One boot per driver carries all of that driver's faults (each rule
//! fires once), so the test costs two boots.
//!
//! - `blk`: a dropped safe copy of the driver (the kernel answers a
//!   dropped call with 0, so the copy "succeeded" with nothing copied and
//!   the driver answered a READ with a full count over stale data), and a
//!   flipped bit in a READ's position (the driver read the wrong sectors
//!   with every count right). Both must cost the copy nothing. In the
//!   same boot a reply of the driver is held back (Delay on its SENDA
//!   entry, shorter than `ext2fs`'s deadline): it reaches `ext2fs` that
//!   much later, and costs nothing else.
//! - `tty`: a failed delivery of the driver's reply (VFS's deadline then
//!   restarted the driver and the text came out twice), a failed console
//!   output call (the text was lost and the writer told it went out), and a
//!   dropped safe copy of the written text (zeros went out). Each must
//!   cost the program nothing, without a restart of the driver.
//! - `tty` restarted: the driver's reply to a console write dropped after
//!   the text went out (experiment 55 of the campaign): VFS's deadline
//!   has the driver restarted and VFS sends the write again, with its
//!   request id, to the new one, which finds the write in the backup RS
//!   lends the driver (`abi::proto::tty::backup`) and answers it without
//!   printing it again. With `viv.weaken=tty_backup` (the negative
//!   control) the new driver prints it again: the text appears twice.

mod common;

use std::path::Path;
use std::time::Duration;

use abi::fault::{Action, Rule, SYSTEM_PROGRAM};
use abi::syscall::{KernelCall, Trap};
use abi::trace::{Kind, Record};
use vmm::inject::fault::FaultPlan;
use vmm::observe::decode::decode;
use vmm::observe::TraceMode;
use vmm::{RunConfig, RunOutcome};

struct Run {
    outcome: RunOutcome,
    console: String,
    log: String,
}

impl Run {
    fn context(&self) -> String {
        format!("exit {:?}\nconsole:\n{}\nlog:\n{}", self.outcome.exit, self.console, self.log)
    }

    /// The trace's records.
    fn records(&self) -> Vec<Record> {
        let raw = &self.outcome.trace.as_ref().expect("a trace").raw;
        let decoded = decode(raw);
        assert!(decoded.bad.is_empty() && decoded.missing == 0, "a lossless trace");
        decoded.records
    }

    /// Results (`args[1]`) of the delivered SENDA messages of type `mtype`.
    fn delivered_results(&self, mtype: u32) -> Vec<i64> {
        let records = self.records();
        let delivered = records.iter().filter(|r| r.kind == Kind::SendaDelivered && r.event.mtype == mtype);
        delivered.map(|r| r.event.args[1] as i64).collect()
    }

    /// The SENDA message of type `mtype` that a Delay held: the virtual
    /// ticks from the injection to its delivery (the next delivery of that
    /// type between the same ends), and its result (`args[1]`).
    fn delayed_senda(&self, mtype: u32) -> Option<(u64, i64)> {
        let records = self.records();
        let held = records.iter().position(|r| {
            r.kind == Kind::FaultInjected
                && r.event.primitive == Trap::SendA as u8
                && r.event.mtype == mtype
                && r.event.args[1] == Action::Delay as u64
        })?;
        let (src, dst) = (records[held].event.src, records[held].event.dst);
        let delivered = records[held..].iter().find(|r| {
            r.kind == Kind::SendaDelivered && r.event.mtype == mtype && (r.event.src, r.event.dst) == (src, dst)
        })?;
        Some((u64::from(delivered.ticks - records[held].ticks), delivered.event.args[1] as i64))
    }

    /// How many times RS started `service` (its boot start is the first).
    fn starts_of(&self, service: &str) -> usize {
        let prefix = format!("rs: started {service} (ep ");
        self.log.lines().filter(|l| l.starts_with(&prefix)).count()
    }
}

/// Boots `system` on `disk`, runs `command` under fault plan `rules`,
/// with kernel command-line `keys`.
fn boot(disk: &Path, keys: &str, command: &str, rules: Vec<Rule>) -> Run {
    let mut config = RunConfig::for_image("system").unwrap();
    config.append = format!("{keys} -- {command}").trim_start().to_string();
    config.disk = Some(disk.to_path_buf());
    config.timeout = Some(Duration::from_secs(240));
    config.separate_log = true;
    config.capture_console = true;
    config.deterministic = true;
    config.fault_plan = Some(FaultPlan { seed: 1, rules });
    config.trace = Some(TraceMode::Lossless);
    let outcome = vmm::run(&config).expect("the VMM runs the guest");
    let console = outcome.console_text();
    let log = outcome.log.as_deref().map(|l| String::from_utf8_lossy(l).into_owned()).unwrap_or_default();
    Run { outcome, console, log }
}

/// How long a Delay holds a reply (virtual ticks).
const DELAY_TICKS: u32 = 40;

/// A rule on the `nth` kernel call `call` of `program`.
fn kernel_call(program: &str, call: KernelCall, action: Action, nth: u32) -> Rule {
    let mut r = Rule::new(action);
    r.source = common::program_id("system", program);
    r.destination = SYSTEM_PROGRAM;
    r.mtype = call as u32;
    r.nth = nth;
    r
}

#[test]
fn single_faults_in_the_disk_driver_and_its_messages_cost_the_copy_nothing() {
    let disk = common::scratch_dir("ipc-fault-classes-blk").join("disk.img");
    // The 3rd translation of ext2fs's buffer for the device (blk moves
    // data by DMA straight into and out of it) does not happen, yet says
    // 0 ranges: the driver must neither program the device with what its
    // array held before nor answer with a full count.
    let dropped_copy = kernel_call("blk", KernelCall::GrantPhys, Action::Drop, 3);
    // Bit 15 of the position of ext2fs's 20th READ: 32 KiB off.
    let mut garbled = Rule::new(Action::FlipBits);
    garbled.source = common::program_id("system", "ext2fs");
    garbled.destination = common::program_id("system", "blk");
    garbled.mtype = abi::proto::blockdev::READ;
    garbled.nth = 20;
    garbled.arg_a = 8;
    garbled.arg_b = 1 << 15;
    // The driver's 10th reply to ext2fs waits 40 ticks in its SENDA table
    // (ext2fs's deadline is 2-3 heartbeat periods, 100-150 ticks).
    let mut delayed_reply = Rule::new(Action::Delay);
    delayed_reply.source = common::program_id("system", "blk");
    delayed_reply.destination = common::program_id("system", "ext2fs");
    delayed_reply.primitives = 1 << Trap::SendA as u8;
    delayed_reply.mtype = abi::proto::blockdev::REPLY;
    delayed_reply.nth = 10;
    delayed_reply.arg_a = DELAY_TICKS;
    let command = "fill 200000 /home/a; cp /home/a /home/b; sum /home/a /home/b; sync";
    let run = boot(&disk, "", command, vec![dropped_copy, garbled, delayed_reply]);

    assert_eq!(run.outcome.faults_injected, 3, "{}", run.context());
    assert_eq!(run.outcome.exit_status(), 0, "{}", run.context());
    let crc = |name: &str| {
        let suffix = format!(" 200000 {name}");
        run.console.lines().find(|l| l.ends_with(&suffix)).map(|l| l[..8].to_string())
    };
    assert!(crc("/home/a").is_some() && crc("/home/a") == crc("/home/b"), "sums: {}", run.context());
    assert_eq!(run.console.lines().count(), 2, "nothing but the sums: {}", run.context());
    // Each fault made the request fail (a short copy, a refused request),
    // had the driver restarted, and the request sent again.
    assert_eq!(run.log.matches("complaining to RS").count(), 2, "{}", run.context());
    assert_eq!(run.starts_of("blk"), 3, "{}", run.context());
    // The driver's answers to the two faulted requests: the short copy
    // (EFAULT) and the garbled READ (EBADREQUEST); no other error.
    let errors: Vec<i64> = run.delivered_results(abi::proto::blockdev::REPLY).into_iter().filter(|&r| r < 0).collect();
    assert_eq!(errors, [abi::Error::Fault.to_return(), abi::Error::BadRequest.to_return()], "{}", run.context());
    // The held reply came that much later (the injection's record may
    // carry a tick one ahead of the plan's clock), whole, and before any
    // deadline: it caused neither of the two complaints above.
    let (late_by, result) = run.delayed_senda(abi::proto::blockdev::REPLY).expect("a delayed reply, delivered");
    let period = 50;
    assert!(late_by + 1 >= u64::from(DELAY_TICKS) && late_by < 2 * period, "{late_by} ticks: {}", run.context());
    assert!(result > 0, "the held reply's result: {result}");
    common::assert_fsck_clean(&disk);
    assert!(common::debugfs_cat(&disk, "/home/b") == common::pattern(200_000), "the copy's bytes differ");
}

#[test]
fn single_faults_in_the_console_driver_and_its_messages_cost_the_program_nothing() {
    let disk = common::scratch_dir("ipc-fault-classes-tty").join("disk.img");
    let tty = common::program_id("system", "tty");
    // The first reply of tty to VFS is not delivered (`EDSTDIED`).
    let mut lost_reply = Rule::new(Action::ReturnError);
    lost_reply.source = tty;
    lost_reply.destination = common::program_id("system", "vfs");
    lost_reply.mtype = abi::proto::dev::REPLY;
    lost_reply.nth = 1;
    lost_reply.arg_a = abi::Error::DstDied as u32;
    // The second line's output call fails; the third line's copy out of
    // VFS's buffer is dropped (0 bytes, no error).
    let failed_output = kernel_call("tty", KernelCall::DevOutString, Action::ReturnError, 2);
    let failed_output = Rule { arg_a: abi::Error::Fault as u32, ..failed_output };
    let dropped_copy = kernel_call("tty", KernelCall::SafeCopyFrom, Action::Drop, 3);
    // VFS's fifth WRITE (the last line; the third line's is sent twice)
    // reaches tty twice: the kernel delivers a copy of the SENDA entry.
    // tty answers the copy with the first answer and writes nothing.
    let mut duplicated_write = Rule::new(Action::Duplicate);
    duplicated_write.source = common::program_id("system", "vfs");
    duplicated_write.destination = tty;
    duplicated_write.mtype = abi::proto::dev::WRITE;
    duplicated_write.nth = 5;
    let run = boot(
        &disk,
        "",
        "echo one; echo two; echo three; echo status $?",
        vec![lost_reply, failed_output, dropped_copy, duplicated_write],
    );

    assert_eq!(run.outcome.faults_injected, 4, "{}", run.context());
    assert_eq!(run.outcome.exit_status(), 0, "{}", run.context());
    assert_eq!(run.console, "one\ntwo\nthree\nstatus 0\n", "{}", run.context());
    assert_eq!(run.starts_of("tty"), 1, "no restart: {}", run.context());
    assert!(!run.log.contains("complaining to RS"), "{}", run.context());
    // Every reply reached VFS (the lost one on its second delivery); the
    // one error is the dropped copy's EFAULT, which VFS answered by
    // sending the write again.
    let replies = run.delivered_results(abi::proto::dev::REPLY);
    let errors: Vec<i64> = replies.iter().copied().filter(|&r| r < 0).collect();
    assert_eq!(errors, [abi::Error::Fault.to_return()], "{replies:?} {}", run.context());
    assert_eq!(replies.len(), 6, "four writes, one sent again, one copy answered again: {replies:?}");
}

/// Boots with tty's first reply to VFS (the answer to `echo one`'s
/// write, after the text went out) dropped, under kernel command-line
/// `keys`.
fn lost_reply_after_the_text_went_out(name: &str, keys: &str) -> Run {
    let disk = common::scratch_dir(name).join("disk.img");
    let mut dropped = Rule::new(Action::Drop);
    dropped.source = common::program_id("system", "tty");
    dropped.destination = common::program_id("system", "vfs");
    dropped.primitives = 1 << Trap::SendA as u8;
    dropped.mtype = abi::proto::dev::REPLY;
    dropped.nth = 1;
    boot(&disk, keys, "echo one; echo two; echo status $?", vec![dropped])
}

#[test]
fn a_write_a_restarted_console_driver_finds_in_its_backup_is_printed_once() {
    let run = lost_reply_after_the_text_went_out("ipc-fault-classes-tty-once", "");
    assert_eq!(run.outcome.faults_injected, 1, "{}", run.context());
    assert_eq!(run.outcome.exit_status(), 0, "{}", run.context());
    assert_eq!(run.console, "one\ntwo\nstatus 0\n", "each line once: {}", run.context());
    // The deadline had the driver restarted, and the new one answered the
    // write from its predecessor's record.
    assert_eq!(run.log.matches("complaining to RS").count(), 1, "{}", run.context());
    assert_eq!(run.starts_of("tty"), 2, "{}", run.context());
    assert!(run.log.contains("tty: took back 1 served writes of the earlier driver"), "{}", run.context());
    // VFS got an answer to the write it sent again: the count of "one\n".
    let replies = run.delivered_results(abi::proto::dev::REPLY);
    assert!(replies.iter().all(|&r| r > 0) && replies.contains(&4), "{replies:?} {}", run.context());

    let weak = lost_reply_after_the_text_went_out("ipc-fault-classes-tty-once-weak", "viv.weaken=tty_backup");
    assert_eq!(weak.outcome.exit_status(), 0, "{}", weak.context());
    assert_eq!(weak.starts_of("tty"), 2, "{}", weak.context());
    assert_eq!(weak.console, "one\none\ntwo\nstatus 0\n", "without the backup, twice: {}", weak.context());
}
