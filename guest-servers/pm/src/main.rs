//! PM, the process manager: pids, fork, exec, exit, wait, kill, sleep and
//! the process list (protocol: `abi::proto::pm`).
//!
//! Why a server: in a multiserver system the kernel knows only endpoints
//! and address spaces. POSIX process semantics (pids, parentage, exit
//! statuses kept until the parent waits, signals, orphans adopted by init)
//! are policy, so they live here, in user space, as in MINIX 3.
//!
//! How it stays dependable:
//!
//! * PM is the reaper of every process it creates (it spawns init, and the
//!   kernel makes PM the reaper of every fork), so it learns of every end —
//!   a normal `exit`, a fault, a kill — from one kernel notification and
//!   the `Reap` call, never from the dying process's cooperation.
//! * Replies go out with SENDNB: a client that stops receiving cannot block
//!   PM. Requests that must wait (WAIT, SLEEP) are simply answered later;
//!   the client stays in its SENDREC.
//! * The only blocking calls PM makes are to VFS, a trusted server that
//!   never calls PM and never waits for the disk in its server loop: a
//!   SENDREC for fork, exit and an exec's CLOSE (answered at once). An
//!   exec's file requests leave with PM's next receive, or by SENDA.
//! * Exec runs `/bin/NAME` from the disk (`disk_exec`), else the boot
//!   image's user program of that name, always with a user program's
//!   privileges: nobody can turn a process into a server. The file is
//!   read on the exec worker's stack (`exec_worker`): while VFS waits for
//!   a slow disk, PM serves every other request.
//! * Every process has a uid (`identity`): a user may signal only its own
//!   processes, and forks stop at a per-user and a total limit, so the
//!   kernel slots RS needs to restart services are never all taken.
#![no_std]
#![no_main]

mod disk_exec;
mod exec_worker;
mod identity;
mod table;
mod timers;

use abi::boot_image::{FLAG_NO_AUTOSTART, FLAG_SERVICE};
use abi::proto::{self, pm, vfs, NAME_LEN};
use abi::syscall::{NOTIFY_ALARM, NOTIFY_ALARM_WORD, NOTIFY_CHILD_EXITED, NOTIFY_CHILD_WORD};
use abi::{Endpoint, Error, Message};
use core::sync::atomic::{AtomicBool, Ordering};
use rt::server::Answer;
use table::{State, Table, INIT_PID};
use timers::Timers;

rt::main!(run);

/// How long PM waits at boot for VFS to be published before starting init
/// anyway.
const VFS_WAIT_MS: u64 = 5000;

fn run() -> i32 {
    let mut pm = Pm { table: Table::new(), timers: Timers::new(), defenses: identity::Defenses::from_cmdline() };
    BLOCKING_REPLIES.store(rt::kip::weakened(abi::weaken::PM_REPLY_NB), Ordering::Relaxed);
    exec_worker::init();
    wait_for_service("vfs");
    if rt::service::restarted("pm") {
        power_off_after_death();
    }
    pm.start_init();
    rt::server::serve(&mut pm)
}

/// PM in the runtime's server loop: requests, VFS's answers to the exec
/// worker, and the kernel's notifications (children ended, the alarm
/// fired).
impl rt::server::Server for Pm {
    fn request(&mut self, msg: &Message) -> Answer {
        if exec_worker::answer(msg) {
            // It resumes the worker in `after`; nobody is answered.
            return Answer::Later;
        }
        match Pm::request(self, msg) {
            // The defense switched off: the answer goes out with a
            // blocking SEND, which waits for a client that never receives.
            Answer::Now(reply) if BLOCKING_REPLIES.load(Ordering::Relaxed) => {
                send(msg.source, &reply);
                Answer::Later
            }
            answer => answer,
        }
    }

    fn notification(&mut self, msg: &Message) {
        if msg.source == Endpoint::SYSTEM {
            self.system_event(msg);
        }
    }

    fn heartbeat(&mut self) {
        exec_worker::check_vfs();
    }

    fn after(&mut self) {
        while let Some((job, loaded)) = exec_worker::step() {
            self.finish_exec(job, loaded);
        }
    }
}

fn value(v: u64) -> Answer {
    Answer::Now(proto::reply(v as i64))
}

fn error(e: Error) -> Answer {
    Answer::Now(proto::reply(e.to_return()))
}

/// Replies go out with a blocking SEND: the defense `abi::weaken::PM_REPLY_NB`
/// switched off, for its negative control only.
static BLOCKING_REPLIES: AtomicBool = AtomicBool::new(false);

/// Replies without blocking (with PM's next receive, `rt::server`); a
/// client that is not waiting loses its reply.
fn send(to: Endpoint, msg: &Message) {
    if BLOCKING_REPLIES.load(Ordering::Relaxed) {
        let _ = rt::ipc::send(to, msg);
        return;
    }
    rt::server::reply(to, msg);
}

/// Polls DS until `name` is published (services start in parallel with
/// PM), for at most [`VFS_WAIT_MS`], answering RS's heartbeats meanwhile
/// (nobody else knows PM yet: init is not started).
fn wait_for_service(name: &str) {
    let hz = rt::kip::tick_hz().max(1);
    let deadline = rt::sys::uptime() + VFS_WAIT_MS * hz / 1000;
    while rt::names::lookup_fresh(name).is_err() && rt::sys::uptime() < deadline {
        if rt::sys::set_alarm((hz / 100).max(1)).is_err() {
            return;
        }
        let mut msg = Message::new(0);
        loop {
            if rt::ipc::receive(Endpoint::ANY, &mut msg).is_ok() {
                if msg.source == Endpoint::SYSTEM {
                    break;
                }
                rt::service::handle_heartbeat(&msg);
            }
        }
    }
}

/// An earlier PM died, and its process table with it: pids, parents,
/// uids and exit statuses cannot be rebuilt from what the kernel knows, so
/// no process can fork, wait or exit properly again (MINIX 3 cannot
/// restart PM either). Fail cleanly: write the disk's dirty blocks out
/// through VFS and power off with the status that names the cause
/// (docs/servers-dying.md).
fn power_off_after_death() -> ! {
    let status = abi::platform::STATUS_PM_DIED;
    rt::println!("pm: an earlier PM died with the process table; syncing the disk, powering off ({})", status);
    if let Err(e) = rt::vfs::sync() {
        rt::println!("pm: sync failed: {}", e.name());
    }
    rt::sys::poweroff(status)
}

/// The boot-image index of user program `name`, if a process may become
/// it: programs the kernel starts at boot, services and init are refused.
fn exec_target(name: &str) -> Result<usize, Error> {
    let index = rt::kip::program_index(name).ok_or(Error::NoEntry)?;
    let flags = rt::kip::program_flags(index);
    if name == "init" || flags & FLAG_SERVICE != 0 || flags & FLAG_NO_AUTOSTART == 0 {
        return Err(Error::Perm);
    }
    Ok(index)
}

fn name_bytes(name: &str) -> [u8; NAME_LEN] {
    let mut bytes = [0u8; NAME_LEN];
    let n = name.len().min(NAME_LEN);
    bytes[..n].copy_from_slice(&name.as_bytes()[..n]);
    bytes
}

struct Pm {
    table: Table,
    timers: Timers,
    defenses: identity::Defenses,
}

impl Pm {
    /// Spawns init (pid 1, parent 0 = PM).
    fn start_init(&mut self) {
        let Some(index) = rt::kip::program_index("init") else {
            rt::println!("pm: no init in the boot image");
            return;
        };
        match rt::sys::spawn(index) {
            Ok(ep) => {
                self.table.insert(0, ep, pm::ROOT_UID, &name_bytes("init"));
            }
            Err(e) => rt::println!("pm: cannot start init: {}", e.name()),
        }
    }

    /// A request of `msg.source`; an answer given now leaves with PM's
    /// next receive.
    fn request(&mut self, msg: &Message) -> Answer {
        let caller = msg.source;
        match msg.mtype {
            pm::FORK => self.fork(caller, msg.payload[0]),
            pm::EXEC => self.exec(caller, msg),
            pm::EXIT => self.exit(caller, msg.payload[0] as u32),
            pm::WAIT => self.wait(caller, msg.payload[0] as i64),
            pm::KILL => self.kill_request(caller, msg.payload[0], msg.payload[1]),
            pm::GETPID => self.getpid(caller),
            pm::SLEEP => self.sleep(caller, msg.payload[0]),
            pm::PS => self.ps(msg.payload[0]),
            pm::SIGNAL_FOREGROUND => self.signal_foreground(caller, msg.payload[0]),
            pm::IGNORE_INTERRUPT => self.ignore_interrupt(caller, msg.payload[0] != 0),
            pm::SETUID => self.setuid(caller, msg.payload[0]),
            pm::UID_OF => self.uid_of_request(Endpoint(msg.payload[0] as u32)),
            _ => error(Error::BadRequest),
        }
    }

    /// FORK: the kernel copies the caller; VFS copies its descriptors
    /// before either process runs again; both get a reply.
    fn fork(&mut self, caller: Endpoint, flags: u64) -> Answer {
        let Some(parent) = self.table.by_endpoint(caller) else {
            return error(Error::NoEntry);
        };
        let ignores = parent.ignores_interrupt && flags & pm::FORK_TAKES_INTERRUPT == 0;
        let (ppid, name, uid) = (parent.pid, parent.name, parent.uid);
        if !self.table.has_room() {
            return error(Error::TooMany);
        }
        if let Err(e) = self.defenses.may_fork(&self.table, uid) {
            return error(e);
        }
        let child = match rt::process::fork_child(caller) {
            Ok(child) => child,
            Err(e) => return error(e),
        };
        let mut tell = Message::with_words(vfs::PM_FORK, &[u64::from(caller.0), u64::from(child.0)]);
        if let Err(e) = rt::names::call("vfs", &mut tell) {
            // Without descriptors the child is useless: end it (its reap
            // finds no table entry and is only passed on to VFS).
            let _ = rt::sys::kill(child);
            return error(if e == Error::NoEntry { Error::Unavailable } else { e });
        }
        let Some(pid) = self.table.insert(ppid, child, uid, &name) else {
            let _ = rt::sys::kill(child);
            return error(Error::TooMany);
        };
        if let Some(p) = self.table.by_pid(pid) {
            p.ignores_interrupt = ignores;
        }
        send(caller, &proto::reply(pid as i64));
        send(child, &proto::reply(0));
        Answer::Later
    }

    /// EXEC: the kernel reads the argument block from the caller's memory
    /// itself; PM only picks the program (named in words 2-3). The file is
    /// loaded on the exec worker (`exec_worker`), which answers later;
    /// with `viv.weaken=pm_async`, here, waiting for VFS.
    fn exec(&mut self, caller: Endpoint, msg: &Message) -> Answer {
        if self.table.by_endpoint(caller).is_none() {
            return error(Error::NoEntry);
        }
        let mut buf = [0u8; NAME_LEN];
        match exec_target(proto::get_name(msg, 2, &mut buf)) {
            // Not in the boot image: it may be on the disk.
            Ok(_) | Err(Error::NoEntry) => {}
            Err(e) => return error(e),
        }
        let job = exec_worker::Job { caller, msg: *msg };
        if exec_worker::enabled() {
            return match exec_worker::push(job) {
                Ok(()) => Answer::Later,
                Err(e) => error(e),
            };
        }
        let mut name = [0u8; NAME_LEN];
        let loaded = match disk_exec::load(job.name(&mut name)) {
            Some(Ok(elf)) => exec_worker::Loaded::Elf(elf.len()),
            Some(Err(e)) => exec_worker::Loaded::Failed(e),
            None => exec_worker::Loaded::NotOnDisk,
        };
        self.finish_exec(job, loaded);
        Answer::Later
    }

    /// The exec `job`, whose file `loaded` gave what it says: the kernel
    /// replaces the caller's program (no reply then: the caller is a new
    /// program), or the caller gets the error. A caller that ended while
    /// its file was loaded is left alone.
    fn finish_exec(&mut self, job: exec_worker::Job, loaded: exec_worker::Loaded) {
        use exec_worker::Loaded;
        let caller = job.caller;
        if self.table.by_endpoint(caller).is_none() {
            return;
        }
        let mut buf = [0u8; NAME_LEN];
        let name = job.name(&mut buf);
        let template = exec_target(name).ok();
        let (args, len) = (job.msg.payload[0], job.msg.payload[1]);
        let result = match loaded {
            Loaded::Elf(size) => match template.or_else(|| exec_target(disk_exec::TEMPLATE).ok()) {
                Some(t) => rt::process::exec_elf(caller, t, disk_exec::loaded(size), args, len, name),
                None => Err(Error::NoEntry),
            },
            Loaded::Failed(e) => Err(e),
            Loaded::NotOnDisk => match template {
                Some(index) => rt::process::exec_image(caller, index, args, len),
                None => Err(Error::NoEntry),
            },
        };
        if let Err(e) = result {
            send(caller, &proto::reply(e.to_return()));
            return;
        }
        if let Some(p) = self.table.by_endpoint(caller) {
            p.set_name(name);
            p.ignores_interrupt = false;
        }
    }

    /// EXIT: end the caller with its status (reported when it is reaped).
    fn exit(&mut self, caller: Endpoint, status: u32) -> Answer {
        if let Some(p) = self.table.by_endpoint(caller) {
            p.forced_status = Some(status);
            let _ = rt::sys::kill(caller);
        }
        Answer::Later
    }

    /// WAIT: answer at once with a zombie child, or later when one ends.
    fn wait(&mut self, caller: Endpoint, wanted: i64) -> Answer {
        let wanted = if wanted <= 0 { -1 } else { wanted };
        let Some(p) = self.table.by_endpoint(caller) else {
            return error(Error::NoEntry);
        };
        let pid = p.pid;
        if !self.table.has_child(pid, wanted) {
            return error(Error::NoChild);
        }
        if let Some(p) = self.table.by_pid(pid) {
            p.waiting_for = Some(wanted);
        }
        self.deliver(pid);
        Answer::Later
    }

    /// KILL from a process: any process but init (pid 1) may be signalled,
    /// by its own uid or by root (`identity`).
    fn kill_request(&mut self, caller: Endpoint, pid: u64, signal: u64) -> Answer {
        if !matches!(signal, pm::SIGINT | pm::SIGKILL | pm::SIGTERM) {
            return error(Error::Invalid);
        }
        let caller_uid = self.uid_of(caller);
        match self.table.by_pid(pid) {
            Some(p) if p.state == State::Alive => {
                if p.pid == INIT_PID || !self.defenses.may_kill(caller_uid, p) {
                    return error(Error::Perm);
                }
                let target = p.endpoint;
                self.signal(pid, signal);
                if target == caller {
                    // It killed itself: nobody is left to answer.
                    return Answer::Later;
                }
                value(0)
            }
            _ => error(Error::NoEntry),
        }
    }

    /// Delivers `signal` to `pid`: every signal we have terminates, except
    /// SIGINT for a process that ignores it. Returns whether it was ended.
    fn signal(&mut self, pid: u64, signal: u64) -> bool {
        let Some(p) = self.table.by_pid(pid) else {
            return false;
        };
        if p.state != State::Alive || (signal == pm::SIGINT && p.ignores_interrupt) {
            return false;
        }
        p.forced_status = Some(pm::signal_status(signal));
        rt::sys::kill(p.endpoint).is_ok()
    }

    fn getpid(&mut self, caller: Endpoint) -> Answer {
        match self.table.by_endpoint(caller) {
            Some(p) => Answer::Now(Message::with_words(proto::REPLY, &[p.pid, p.parent, p.uid])),
            None => error(Error::NoEntry),
        }
    }

    /// SLEEP: any process may sleep (servers included); the reply comes
    /// from the alarm handler.
    fn sleep(&mut self, caller: Endpoint, ms: u64) -> Answer {
        if ms == 0 {
            return value(0);
        }
        let hz = rt::kip::tick_hz().max(1);
        let now = rt::sys::uptime();
        let ticks = ms.saturating_mul(hz).div_ceil(1000).max(1);
        if !self.timers.add(now.saturating_add(ticks), caller) {
            return error(Error::TooMany);
        }
        self.timers.rearm(now);
        Answer::Later
    }

    fn ps(&mut self, index: u64) -> Answer {
        let Some(p) = self.table.nth_by_pid(index as usize) else {
            return error(Error::NoEntry);
        };
        let state = match p.state {
            State::Alive => pm::STATE_ALIVE,
            State::Zombie => pm::STATE_ZOMBIE,
        };
        let mut reply = Message::with_words(proto::REPLY, &[0, p.pid, p.parent, u64::from(p.endpoint.0), state]);
        proto::put_name(&mut reply, 5, p.name());
        Answer::Now(reply)
    }

    /// SIGNAL_FOREGROUND (^C): only TTY may ask. Servers are not in PM's
    /// table, and init is never signalled.
    fn signal_foreground(&mut self, caller: Endpoint, signal: u64) -> Answer {
        if !is_service(caller, "tty") {
            return error(Error::Perm);
        }
        if !matches!(signal, pm::SIGINT | pm::SIGKILL | pm::SIGTERM) {
            return error(Error::Invalid);
        }
        let mut pids = [0u64; table::MAX_PROCS];
        let mut n = 0;
        for p in self.table.iter().filter(|p| p.state == State::Alive && p.pid != INIT_PID) {
            pids[n] = p.pid;
            n += 1;
        }
        let signalled = pids[..n].iter().filter(|&&pid| self.signal(pid, signal)).count();
        value(signalled as u64)
    }

    fn ignore_interrupt(&mut self, caller: Endpoint, ignore: bool) -> Answer {
        match self.table.by_endpoint(caller) {
            Some(p) => {
                p.ignores_interrupt = ignore;
                value(0)
            }
            None => error(Error::NoEntry),
        }
    }

    /// A notification from the kernel: children ended, or the alarm fired.
    fn system_event(&mut self, msg: &Message) {
        if msg.payload[NOTIFY_CHILD_WORD] & NOTIFY_CHILD_EXITED != 0 {
            // One per notification: the kernel notifies again while zombie
            // children are left, so no reap comes back empty.
            if let Ok((ep, status)) = rt::process::reap() {
                self.ended(ep, status);
            }
        }
        if msg.payload[NOTIFY_ALARM_WORD] & NOTIFY_ALARM != 0 {
            self.timers.fired();
            let now = rt::sys::uptime();
            while let Some(who) = self.timers.pop_expired(now) {
                send(who, &proto::reply(0));
            }
            self.timers.rearm(now);
        }
    }

    /// Process `ep` ended with `status` (the kernel's: exit status, killed,
    /// fault): make it a zombie, give its children to init, tell VFS, and
    /// answer a parent waiting for it.
    fn ended(&mut self, ep: Endpoint, kernel_status: u32) {
        let mut tell = Message::with_words(vfs::PM_EXIT, &[u64::from(ep.0)]);
        let _ = rt::names::call("vfs", &mut tell);
        self.timers.remove(ep);
        exec_worker::forget(ep);
        let Some(p) = self.table.by_endpoint(ep) else {
            return;
        };
        p.state = State::Zombie;
        p.status = p.forced_status.unwrap_or(kernel_status);
        p.waiting_for = None;
        let (pid, parent) = (p.pid, p.parent);
        // Orphans go to init (or, if init itself ended, to nobody).
        let heir = if pid == INIT_PID { 0 } else { INIT_PID };
        for child in self.table.iter_mut().filter(|c| c.parent == pid) {
            child.parent = heir;
        }
        self.deliver(parent);
        self.deliver(heir);
    }

    /// Answers `parent`'s pending WAIT if a matching zombie child exists.
    /// Zombies without a parent (children of PM itself) are dropped.
    fn deliver(&mut self, parent: u64) {
        if parent == 0 {
            while let Some(z) = self.table.zombie_child(0, -1) {
                self.table.remove(z);
            }
            return;
        }
        let Some(p) = self.table.by_pid(parent) else {
            return;
        };
        let Some(wanted) = p.waiting_for else {
            return;
        };
        let waiter = p.endpoint;
        let Some(zpid) = self.table.zombie_child(parent, wanted) else {
            return;
        };
        let Some(z) = self.table.remove(zpid) else {
            return;
        };
        if let Some(p) = self.table.by_pid(parent) {
            p.waiting_for = None;
        }
        send(waiter, &Message::with_words(proto::REPLY, &[z.pid, u64::from(z.status)]));
    }
}

/// Whether `ep` is the service published in DS as `name` (asking DS again
/// when the cached endpoint does not match: the service may have been
/// restarted).
fn is_service(ep: Endpoint, name: &str) -> bool {
    if rt::names::lookup(name) == Ok(ep) {
        return true;
    }
    rt::names::forget(name);
    rt::names::lookup(name) == Ok(ep)
}
