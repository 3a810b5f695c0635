//! The attacks of `viv threats` against the kernel's IPC defenses.
//!
//! Each attack is one function that tries one thing the threat table of
//! `docs/threats.md` says must fail, and reports in one line what
//! happened, in a shape the host parses:
//!
//! ```text
//! attack: NAME: defended: DETAIL     (the defense held; DETAIL names how)
//! attack: NAME: succeeded: DETAIL    (the attack got through)
//! ```
//!
//! The same code runs under several sets of privileges: `attack` is an
//! ordinary user program, `attack_drv` has a driver's privileges (the
//! console driver's traps, destinations and kernel calls, plus a grant
//! table and its own program as a destination), `attack_disk` a client's
//! of the disk driver (see `images/threats/image.toml`). Attacks use only
//! the primitives a driver has (no blocking SEND: a driver's blocking
//! call is SENDREC), so a driver row shows what a real driver can do. An attack that needs a privilege its
//! runner lacks says so (`defended` by the earlier check is still a
//! defended attack, and the trace shows which check refused it).
//!
//! The attacks are honest: with the defense switched off
//! (`viv.weaken=NAME`, `abi::weaken`) each one must print `succeeded`, or
//! the row could not fail.

use abi::proto::{self, pm};
use abi::syscall::{KernelCall, Trap};
use abi::{Endpoint, Error, Message};

/// One attack: its name on the command line and what it does.
struct Attack {
    name: &'static str,
    run: fn() -> Verdict,
}

/// What an attack saw.
enum Verdict {
    Defended(Detail),
    Succeeded(Detail),
}

/// Why: the error the attack got, or a sentence.
enum Detail {
    Error(Error),
    Text(&'static str),
}

impl core::fmt::Display for Detail {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Detail::Error(e) => write!(f, "{e}"),
            Detail::Text(t) => f.write_str(t),
        }
    }
}

/// `Defended` with the error when `result` is one, else `Succeeded`.
fn refused<T>(result: Result<T, Error>, success: &'static str) -> Verdict {
    match result {
        Err(e) => Verdict::Defended(Detail::Error(e)),
        Ok(_) => Verdict::Succeeded(Detail::Text(success)),
    }
}

const ATTACKS: &[Attack] = &[
    Attack { name: "send", run: send_primitive },
    Attack { name: "destination", run: forbidden_destination },
    Attack { name: "kernel-call", run: forbidden_kernel_call },
    Attack { name: "kill-rs", run: kill_rs },
    Attack { name: "spoof", run: spoof_source },
    Attack { name: "fake-notify", run: fake_notification },
    Attack { name: "bad-pointer", run: bad_pointer },
    Attack { name: "grant", run: foreign_grant },
    Attack { name: "grant-dma", run: foreign_grant_dma },
    Attack { name: "ds-backup", run: ds_backup },
    Attack { name: "tty-backup", run: tty_backup },
    Attack { name: "senda-flood", run: senda_flood },
    Attack { name: "deadlock", run: deadlock },
    Attack { name: "stale-endpoint", run: stale_endpoint },
    Attack { name: "reply-not-taken", run: reply_not_taken },
    Attack { name: "peer-death", run: peer_death },
    Attack { name: "unknown-trap", run: unknown_trap },
    Attack { name: "unknown-kcall", run: unknown_kernel_call },
    Attack { name: "notify-flood", run: notify_flood },
    Attack { name: "reply-flood", run: reply_flood },
];

/// Runs the attack named by the first argument; the status is 0 when it
/// was defended, 1 when it succeeded, 2 for a usage error.
pub fn main(program: &str) -> i32 {
    let Some(name) = rt::args().nth(1) else {
        usage(program);
        return 2;
    };
    let Some(attack) = ATTACKS.iter().find(|a| a.name == name) else {
        rt::errln!("{}: unknown attack {}", program, name);
        usage(program);
        return 2;
    };
    match (attack.run)() {
        Verdict::Defended(d) => {
            rt::outln!("attack: {}: defended: {}", attack.name, d);
            0
        }
        Verdict::Succeeded(d) => {
            rt::outln!("attack: {}: succeeded: {}", attack.name, d);
            1
        }
    }
}

fn usage(program: &str) {
    rt::errln!("usage: {} ATTACK", program);
    for a in ATTACKS {
        rt::errln!("  {}", a.name);
    }
}

fn boot_endpoint(name: &str) -> Endpoint {
    rt::kip::endpoint_of(name).unwrap_or(Endpoint::NONE)
}

fn service(name: &str) -> Endpoint {
    rt::names::lookup_fresh(name).map(|(ep, _)| ep).unwrap_or(Endpoint::NONE)
}

/// Forbidden primitive: ordinary programs may only SENDREC; a SEND that a
/// server answers with SENDNB would otherwise leave the reply undelivered.
fn send_primitive() -> Verdict {
    let msg = Message::with_words(pm::GETPID, &[]);
    refused(rt::ipc::send(service("pm"), &msg), "PM took a plain SEND")
}

/// Forbidden destination: the send mask lets a program reach only the
/// processes its image entry names; the disk driver is not among a
/// program's (only the file server may ask it for blocks).
fn forbidden_destination() -> Verdict {
    let mut msg = Message::with_words(abi::proto::blockdev::GEOMETRY, &[]);
    refused(rt::ipc::sendrec(service("blk"), &mut msg), "the disk driver answered a program directly")
}

/// An unknown trap number: the kernel must refuse it with EBADREQUEST
/// (and trace the refusal with that result), never take it for another
/// trap or ignore it.
fn unknown_trap() -> Verdict {
    // SAFETY: an unknown trap takes no pointers.
    refused(unsafe { rt::sys::trap_number(UNKNOWN_TRAP, 0, 0) }, "the kernel took an unknown trap")
}

/// A trap number no `Trap` has.
const UNKNOWN_TRAP: u64 = 42;

/// An unknown kernel call number, from a program that may make kernel
/// calls: the kernel must refuse it with EBADREQUEST (before the
/// kernel-call mask, which has no bit for it) and trace the call with
/// that result, never run another call or ignore it.
fn unknown_kernel_call() -> Verdict {
    refused(rt::sys::kernel_call_number(UNKNOWN_KERNEL_CALL, &[77]), "the kernel took an unknown kernel call")
}

/// A kernel call number no `KernelCall` has.
const UNKNOWN_KERNEL_CALL: u32 = 999;

/// Forbidden kernel call: powering the machine off (status 77, so a host
/// that sees the machine go down knows who did it).
fn forbidden_kernel_call() -> Verdict {
    refused(rt::sys::kernel_call(KernelCall::PowerOff, &[77]), "the kernel powered the machine off")
}

/// Forbidden kernel call against a server: killing RS, which nobody
/// restarts.
fn kill_rs() -> Verdict {
    refused(rt::sys::kill(boot_endpoint("rs")), "the kernel killed RS")
}

/// Spoofing: a message whose `source` names the parent shell. PM answers
/// GETPID for whoever the kernel says sent it; if the forged source were
/// believed, PM would answer with the shell's pid.
fn spoof_source() -> Verdict {
    let Ok((me, parent)) = rt::pm::getpid() else {
        return Verdict::Defended(Detail::Text("could not ask PM for our pid"));
    };
    let Some(shell) = (0..64).map_while(|i| rt::pm::ps(i).ok()).find(|p| p.pid == parent) else {
        return Verdict::Defended(Detail::Text("parent not found in ps"));
    };
    let mut msg = Message::with_words(pm::GETPID, &[]);
    msg.source = shell.endpoint;
    if let Err(e) = rt::ipc::sendrec(service("pm"), &mut msg) {
        return Verdict::Defended(Detail::Error(e));
    }
    match msg.payload[0] {
        pid if pid == me => Verdict::Defended(Detail::Text("PM saw the real sender")),
        pid if pid == parent => Verdict::Succeeded(Detail::Text("PM answered for the forged sender")),
        _ => Verdict::Defended(Detail::Text("PM answered for neither")),
    }
}

/// Spoofing a notification: a request whose type is the notification type
/// would reach a server as if the kernel or a driver had notified it.
fn fake_notification() -> Verdict {
    let mut msg = Message::with_words(abi::notify::NOTIFY_MTYPE, &[u64::MAX]);
    refused(rt::ipc::sendrec(service("pm"), &mut msg), "PM took a forged notification")
}

/// Bad message pointer: a SENDREC whose message lies in kernel memory
/// (the kernel's image at 1 MiB) would make the kernel copy its own
/// memory to the receiver.
fn bad_pointer() -> Verdict {
    const KERNEL_MEMORY: u64 = 0x10_0000;
    // SAFETY: the pointer is not a Rust reference; the kernel validates it.
    refused(
        unsafe { rt::ipc::raw(Trap::SendRec, u64::from(service("pm").0), KERNEL_MEMORY) },
        "the kernel read a message from kernel memory",
    )
}

/// Memory beyond a message: copying from a grant made for someone else
/// (our own buffer, granted to VFS) must be refused to us.
fn foreign_grant() -> Verdict {
    let secret = *b"grant for VFS only";
    let Ok(grant) = rt::grant::read_only(service("vfs"), &secret) else {
        return Verdict::Defended(Detail::Text("could not make a grant"));
    };
    let mut copy = [0u8; 18];
    let me = rt::pm::getpid().map_or(Endpoint::NONE, |_| own_endpoint());
    match rt::sys::safecopy_from(me, grant.id(), 0, &mut copy) {
        Err(e) => Verdict::Defended(Detail::Error(e)),
        Ok(_) if copy == secret => Verdict::Succeeded(Detail::Text("copied from a grant made for VFS")),
        Ok(_) => Verdict::Defended(Detail::Text("the copy returned other bytes")),
    }
}

/// Unauthorized memory access by DMA: the physical address of a grant made
/// to VFS (read-only), for the device to write (`GrantPhys`), which a
/// driver with DMA would hand its device. The kernel checks the grant as
/// a safe copy does.
fn foreign_grant_dma() -> Verdict {
    let secret = *b"grant for VFS only";
    let Ok(grant) = rt::grant::read_only(service("vfs"), &secret) else {
        return Verdict::Defended(Detail::Text("could not make a grant"));
    };
    let me = own_endpoint();
    let mut runs = [abi::syscall::DmaRange::default(); 2];
    let len = secret.len() as u64;
    match rt::sys::grant_phys(me, grant.id(), 0, len, abi::grant::GRANT_WRITE, &mut runs) {
        Err(e) => Verdict::Defended(Detail::Error(e)),
        Ok(n) if runs[..n].iter().map(|r| r.len).sum::<u64>() == len => {
            Verdict::Succeeded(Detail::Text("got the physical address of a grant made for VFS, for writing"))
        }
        Ok(_) => Verdict::Defended(Detail::Text("the ranges do not cover the grant")),
    }
}

/// Forged server state: a record of our own written into DS's backup in
/// RS's memory (`abi::proto::ds::backup`), which a restarted DS would take
/// back. RS grants that memory to the current DS alone.
fn ds_backup() -> Verdict {
    use abi::proto::ds::backup::Record;
    let mut name = [0u8; proto::NAME_LEN];
    name[..6].copy_from_slice(b"forged");
    let record = Record { name, endpoint: own_endpoint(), value: 0 }.encode(0);
    forge_backup("ds", &record, "wrote a record into DS's backup")
}

/// Forged server state: a record in TTY's backup (`abi::proto::tty::backup`)
/// saying a write of VFS was served, which TTY would then answer without
/// printing it. RS grants that memory to the current TTY alone. (The id
/// is one VFS reaches only after 2^40 requests, so that with the defense
/// off the verdict itself still gets printed.)
fn tty_backup() -> Verdict {
    use abi::proto::tty::backup::Served;
    let record = Served { client: service("vfs"), id: 1 << 40, count: 0, grant: 0 }.encode();
    forge_backup("tty", &record, "wrote a record into TTY's backup")
}

/// Writes `record` at the start of the backup RS lends `server`.
fn forge_backup(server: &str, record: &[u8], success: &'static str) -> Verdict {
    let (Some(rs), Some(grant)) = (rt::service::rs(), rt::kip::program_index(server).and_then(rt::backup::grant_of))
    else {
        return Verdict::Defended(Detail::Text("no backup to attack"));
    };
    refused(rt::sys::safecopy_to(rs, grant, 0, record), success)
}

/// Our own endpoint, from PM's process list.
fn own_endpoint() -> Endpoint {
    let Ok((me, _)) = rt::pm::getpid() else {
        return Endpoint::NONE;
    };
    (0..64).map_while(|i| rt::pm::ps(i).ok()).find(|p| p.pid == me).map_or(Endpoint::NONE, |p| p.endpoint)
}

/// Resource exhaustion: a SENDA table larger than the kernel's bound.
fn senda_flood() -> Verdict {
    const OVERSIZED: usize = abi::senda::SENDA_MAX_ENTRIES * 4;
    static mut TABLE: [abi::senda::SendaEntry; OVERSIZED] =
        [abi::senda::SendaEntry { flags: 0, dst: Endpoint::NONE, result: 0, reserved: 0, message: Message::new(0) };
            OVERSIZED];
    // SAFETY: the program is single-threaded and nothing else borrows TABLE.
    let table = unsafe { &mut *(&raw mut TABLE) };
    let result = rt::ipc::senda(table);
    // Withdraw the table again whatever happened.
    // SAFETY: a zero-length table makes the kernel forget the old one.
    let _ = unsafe { rt::ipc::senda_raw(0, 0) };
    refused(result, "the kernel took an oversized SENDA table")
}

/// Deadlock: two processes sending to each other. The child blocks in
/// the send half of a SENDREC to us; our SENDREC to the child would close
/// the cycle, and the kernel must refuse it (`Locked`) instead of
/// blocking both forever. Needs a runner allowed to send to its own
/// program (`attack_drv`); for anyone else the send mask refuses first.
fn deadlock() -> Verdict {
    let me = own_endpoint();
    let Ok(child_pid) = rt::pm::fork() else {
        return Verdict::Defended(Detail::Text("could not fork"));
    };
    if child_pid == 0 {
        let mut msg = Message::with_words(proto::REPLY, &[]);
        let status = match rt::ipc::sendrec(me, &mut msg) {
            Ok(()) => 0,
            Err(_) => 1,
        };
        rt::sys::exit(status);
    }
    let child = endpoint_of_pid(child_pid);
    // Let the child block in its SENDREC to us first (it runs while we sleep).
    let _ = rt::pm::sleep_ms(50);
    rt::outln!("attack: deadlock: sending to a process that is sending to us");
    let result = rt::ipc::sendrec(child, &mut Message::with_words(proto::REPLY, &[]));
    // Take the child's request and answer it so that it can end, then
    // reap it.
    let mut msg = Message::new(0);
    if rt::ipc::receive(child, &mut msg).is_ok() {
        let _ = rt::ipc::send_nonblocking(child, &Message::with_words(proto::REPLY, &[]));
    }
    let _ = rt::pm::wait(child_pid as i64);
    refused(result, "the cycle closed and was later broken")
}

/// The endpoint of our child `pid`, from PM's process list.
fn endpoint_of_pid(pid: u64) -> Endpoint {
    (0..64).map_while(|i| rt::pm::ps(i).ok()).find(|p| p.pid == pid).map_or(Endpoint::NONE, |p| p.endpoint)
}

/// Stale identity: keep the endpoint of a child that ended, start another
/// child in the same process slot, and send to the old endpoint. The
/// generation in the endpoint must make the kernel refuse
/// (`DeadSrcDst`) instead of delivering to the slot's new occupant.
fn stale_endpoint() -> Verdict {
    let Ok(first) = rt::pm::fork() else {
        return Verdict::Defended(Detail::Text("could not fork"));
    };
    if first == 0 {
        rt::sys::exit(0);
    }
    let old = endpoint_of_pid(first);
    let _ = rt::pm::wait(first as i64);
    // The next child takes the lowest free slot: the one just freed.
    let Ok(second) = rt::pm::fork() else {
        return Verdict::Defended(Detail::Text("could not fork again"));
    };
    if second == 0 {
        // Take one message, whoever sends it.
        let mut msg = Message::new(0);
        let _ = rt::ipc::receive(Endpoint::ANY, &mut msg);
        rt::sys::exit(0);
    }
    let new = endpoint_of_pid(second);
    if new.slot() != old.slot() || new == old {
        let _ = rt::pm::kill(second, pm::SIGKILL);
        let _ = rt::pm::wait(second as i64);
        return Verdict::Defended(Detail::Text("the slot was not reused; nothing to show"));
    }
    // Let the second child reach its RECEIVE.
    let _ = rt::pm::sleep_ms(50);
    // A SENDNB, not a SENDREC: a reply would come from the new endpoint,
    // which a reply wait for the old one would not accept.
    let result = rt::ipc::send_nonblocking(old, &Message::with_words(proto::REPLY, &[]));
    let _ = rt::pm::kill(second, pm::SIGKILL);
    let _ = rt::pm::wait(second as i64);
    refused(result, "a stale endpoint reached the slot's new process")
}

/// A child that blocks for ever in a RECEIVE from SYSTEM (nothing the
/// kernel sends it ends that): it never takes a message from anyone else.
fn never_receiving_child() -> Result<u64, Error> {
    let pid = rt::pm::fork()?;
    if pid == 0 {
        let mut msg = Message::new(0);
        loop {
            let _ = rt::ipc::receive(Endpoint::SYSTEM, &mut msg);
        }
    }
    Ok(pid)
}

/// A client that never takes its reply: a child sends PM a request by
/// SENDA (a driver may; PM takes it when it next receives) and then waits
/// only for SYSTEM, so PM's reply finds it not waiting. PM replies with
/// SENDNB, loses the reply and goes on: we ask it for our pid afterwards.
/// A server that replied with a blocking SEND would wait for that child
/// for ever.
fn reply_not_taken() -> Verdict {
    let Ok(child) = rt::pm::fork() else {
        return Verdict::Defended(Detail::Text("could not fork"));
    };
    if child == 0 {
        static mut REQUEST: [abi::senda::SendaEntry; 1] =
            [abi::senda::SendaEntry::new(Endpoint::NONE, Message::new(0))];
        // SAFETY: this process is single-threaded and nothing else
        // borrows REQUEST; it lives as long as the process, as the
        // kernel's later delivery needs.
        let table = unsafe { &mut *(&raw mut REQUEST) };
        table[0] = abi::senda::SendaEntry::new(service("pm"), Message::with_words(pm::GETPID, &[]));
        let _ = rt::ipc::senda(table);
        let mut msg = Message::new(0);
        loop {
            let _ = rt::ipc::receive(Endpoint::SYSTEM, &mut msg);
        }
    }
    // Let the child send and PM answer it first.
    let _ = rt::pm::sleep_ms(50);
    let answered = rt::pm::getpid();
    let _ = rt::pm::kill(child, pm::SIGKILL);
    let _ = rt::pm::wait(child as i64);
    match answered {
        Ok(_) => Verdict::Defended(Detail::Text("PM dropped the reply its client did not take and went on")),
        Err(e) => Verdict::Succeeded(Detail::Error(e)),
    }
}

/// Blocks us on a child that never receives (in the send half of a
/// SENDREC to it when `sending`, else in a RECEIVE from it) while a second child has PM kill
/// the first 50 ms later; the result our call ends with.
fn blocked_on_dying_child(sending: bool) -> Result<(), Error> {
    let victim = never_receiving_child()?;
    let victim_ep = endpoint_of_pid(victim);
    let killer = rt::pm::fork()?;
    if killer == 0 {
        let _ = rt::pm::sleep_ms(50);
        let status = if rt::pm::kill(victim, pm::SIGKILL).is_ok() { 0 } else { 1 };
        rt::sys::exit(status);
    }
    let mut msg = Message::with_words(proto::REPLY, &[]);
    let result = if sending { rt::ipc::sendrec(victim_ep, &mut msg) } else { rt::ipc::receive(victim_ep, &mut msg) };
    let _ = rt::pm::wait(killer as i64);
    let _ = rt::pm::kill(victim, pm::SIGKILL);
    let _ = rt::pm::wait(victim as i64);
    result
}

/// A peer dying mid-IPC: we are blocked sending to a process (the send
/// half of a SENDREC), then receiving from one, when it is killed. The
/// kernel must end our call with an error (`DstDied`, `SrcDied`) instead
/// of leaving us blocked on a process that is gone.
fn peer_death() -> Verdict {
    let send = blocked_on_dying_child(true);
    let name = |r: &Result<(), Error>| r.map_or_else(|e| e.name(), |()| "delivered");
    rt::outln!("attack: peer-death: blocked in SENDREC's send: {}", name(&send));
    let receive = blocked_on_dying_child(false);
    rt::outln!("attack: peer-death: blocked in RECEIVE: {}", name(&receive));
    match (send, receive) {
        (Err(Error::DstDied), Err(Error::SrcDied)) => Verdict::Defended(Detail::Error(Error::DstDied)),
        _ => Verdict::Succeeded(Detail::Text("a call on a dead peer did not end with its death")),
    }
}

/// Notifications in one flood.
const NOTIFY_FLOOD: usize = 100;

/// A notification flood. First at PM: a user program may not NOTIFY at
/// all (the trap mask refuses the first one); a driver may, and PM, which
/// ignores notifications from processes, goes on. Then the kernel's
/// bound: a notification is one pending bit per source, so a flood at a
/// process that is busy (our child, waiting for PM's answer to a SLEEP)
/// costs the kernel no memory, and the child, when it next receives,
/// sees exactly one notification from us (not a hundred, and not none:
/// no lost wakeup) and then the message we sent after the flood.
fn notify_flood() -> Verdict {
    let pm = service("pm");
    for _ in 0..NOTIFY_FLOOD {
        if let Err(e) = rt::ipc::notify(pm) {
            return Verdict::Defended(Detail::Error(e));
        }
    }
    match notifications_seen_by_busy_child() {
        Ok(1) => Verdict::Defended(Detail::Text("100 notifications to a busy process arrived as one")),
        Ok(0) => Verdict::Succeeded(Detail::Text("the notifications were lost (no wakeup)")),
        Ok(_) => Verdict::Succeeded(Detail::Text("the notifications were queued one by one")),
        // We may notify PM but not our own child: PM took the flood.
        Err(_) => Verdict::Succeeded(Detail::Text("PM took every notification of the flood")),
    }
}

/// Forks a child that sleeps (busy in a SENDREC to PM, not receiving),
/// floods it with notifications, then SENDRECs it one message; the child
/// counts the notifications it receives before that message, answers it
/// and exits with the count.
fn notifications_seen_by_busy_child() -> Result<u32, Error> {
    let child = rt::pm::fork()?;
    if child == 0 {
        let _ = rt::pm::sleep_ms(100);
        let mut seen = 0;
        let mut msg = Message::new(0);
        while rt::ipc::receive(Endpoint::ANY, &mut msg).is_ok() && msg.mtype == abi::notify::NOTIFY_MTYPE {
            seen += 1;
        }
        let _ = rt::ipc::send_nonblocking(msg.source, &Message::with_words(proto::REPLY, &[]));
        rt::sys::exit(seen);
    }
    let child_ep = endpoint_of_pid(child);
    let flood = (0..NOTIFY_FLOOD).try_for_each(|_| rt::ipc::notify(child_ep));
    let sent = flood.and_then(|()| rt::ipc::sendrec(child_ep, &mut Message::with_words(proto::REPLY, &[])));
    if let Err(e) = sent {
        let _ = rt::pm::kill(child, pm::SIGKILL);
        let _ = rt::pm::wait(child as i64);
        return Err(e);
    }
    rt::pm::wait(child as i64).map(|(_, status)| status)
}

/// Requests in a reply flood: more than a driver's whole reply queue
/// (`rt::senda_queue`: a SENDA table of 64 entries and a backlog of 64).
const REPLY_FLOOD: u64 = 130;

/// A client that never takes its replies: we SEND the disk driver
/// `REPLY_FLOOD` GEOMETRY requests (each taken when the driver next
/// receives) and never receive, so every answer waits in the driver's
/// reply queue. Then, with our replies still waiting, we use the disk
/// through the file system (a file written and synced: block writes
/// whose replies go to `ext2fs`). The driver must never block, refuse
/// (and report) our replies beyond our share of its queue, and go on
/// answering the file system: DS's restart count of `blk` must not move.
/// With one queue for all (`viv.weaken=reply_quota`) our replies fill it,
/// the file system's are lost, and only its deadline, which has RS
/// restart the driver, saves the write.
fn reply_flood() -> Verdict {
    let Ok((blk, restarts)) = rt::names::lookup_fresh("blk") else {
        return Verdict::Defended(Detail::Text("could not find blk"));
    };
    for id in 0..REPLY_FLOOD {
        if let Err(e) = rt::ipc::send(blk, &Message::with_words(abi::proto::blockdev::GEOMETRY, &[1_000_000 + id])) {
            return Verdict::Defended(Detail::Error(e));
        }
    }
    rt::outln!("attack: reply-flood: {} requests sent, no reply taken; now writing a file", REPLY_FLOOD);
    if let Err(e) = write_and_sync("/reply-flood", b"written while blk's replies to us wait\n") {
        return Verdict::Succeeded(Detail::Error(e));
    }
    match rt::names::lookup_fresh("blk") {
        Ok((_, now)) if now == restarts => {
            Verdict::Defended(Detail::Text("blk kept serving the file system (not restarted)"))
        }
        Ok(_) => Verdict::Succeeded(Detail::Text("the file system's replies were lost behind ours: blk was restarted")),
        Err(e) => Verdict::Succeeded(Detail::Error(e)),
    }
}

/// Writes `data` to a new file at `path` and syncs the disk.
fn write_and_sync(path: &str, data: &[u8]) -> Result<(), Error> {
    let fd = rt::vfs::open(path, abi::proto::vfs::O_CREAT | abi::proto::vfs::O_WRONLY | abi::proto::vfs::O_TRUNC)?;
    let written = rt::vfs::write_all(fd, data);
    let _ = rt::vfs::close(fd);
    written?;
    rt::vfs::sync()
}
