//! VFS: the file-system server (`abi::proto::vfs`).
//!
//! VFS owns every process's descriptor table ([`fdtable`]), the pipes
//! ([`pipe`]), the root file system ([`mount`]: the ext2 file server's
//! disk through [`remote`] when the image has one, with [`ramfs`]'s `/dev`
//! and `/tmp` over it; else the [`ramfs`] alone; behind the
//! [`fs::FileSystem`] trait) and the connection to the console driver
//! ([`device`]).
//!
//! Trust, as in the paper: VFS never blocks on anybody it does not trust.
//! Users are answered with SENDNB (they wait in SENDREC); a call that has
//! no answer yet is parked ([`requests`]), never waited for. The driver
//! gets requests by SENDA and answers with messages; if it dies, DS tells
//! us its new endpoint and the unanswered requests go to the new one; a
//! driver that lives but stops serving or answers garbage is reported to
//! RS ([`device`]). VFS SENDRECs only to trusted system servers that
//! answer at once: DS and RS (complaints). The file server ext2fs (trusted,
//! and bounded because it gives its own driver requests deadlines,
//! docs/trust.md) gets requests without blocking (with VFS's next
//! receive when it waits, else by SENDA) from the disk worker
//! ([`worker`]), so a slow disk holds up only the requests that need it.
//! PM (trusted too) tells VFS about forks and exits; only the endpoint DS
//! lists as "pm" may.
#![no_std]
#![no_main]

mod calls;
mod device;
mod fdtable;
mod fs;
mod io;
mod mount;
mod namecache;
mod path;
mod pipe;
mod ramfs;
mod remote;
mod requests;
mod worker;

use abi::notify::is_notification;
use abi::proto::{self, dev, vfs};
use abi::syscall::{NOTIFY_ALARM, NOTIFY_ALARM_WORD};
use abi::{Endpoint, Error, Message};
use device::Device;
use fdtable::Tables;
use mount::Mount;
use pipe::Pipes;
use requests::{ParkedTable, Wait};
use rt::coroutine::Slot;

rt::main!(run);

/// The server's state.
pub struct Vfs {
    root: Mount,
    tables: Tables,
    dev: Device,
    parked: ParkedTable,
    pm: Endpoint,
    /// Our subscription to `tty` in DS (renewed after a DS restart).
    tty_watch: rt::names::Watch,
    /// Our subscription to the file server in DS (when a disk is mounted).
    fs_watch: rt::names::Watch,
}

static mut VFS: Vfs = Vfs {
    root: Mount,
    tables: Tables::new(),
    dev: Device::new(),
    parked: ParkedTable::new(),
    pm: Endpoint::NONE,
    tty_watch: rt::names::Watch::new("tty"),
    fs_watch: rt::names::Watch::new(remote::SERVICE),
};

/// The server's state.
pub fn vfs() -> &'static mut Vfs {
    // SAFETY: single-threaded, and no two borrows taken here are alive at
    // once, not even on the two stacks: the main loop ([`Main`]) borrows
    // for one message's work (or one step of `after`) and holds nothing
    // while the disk worker runs (`worker::run_jobs` resumes it with no
    // borrow alive); the worker borrows only between its waits for the
    // file server ([`Fresh`]), never across one (`worker::wait` suspends
    // it). Between switches each side re-borrows, so neither sees state
    // through a borrow the other side's work invalidated.
    unsafe { &mut *(&raw mut VFS) }
}

/// How the calls that may ask the file server reach [`Vfs`]
/// ([`calls::call`], `io::disk_read_write`): each `get` is one step's
/// borrow.
pub trait Access {
    fn get(&mut self) -> &mut Vfs;
}

/// On the main stack: the handler's own borrow (the main stack never
/// switches to the worker inside a handler).
impl Access for Vfs {
    fn get(&mut self) -> &mut Vfs {
        self
    }
}

/// On the disk worker's stack: a fresh borrow for every step, so none is
/// alive while the worker waits for the file server and the main loop
/// serves other requests.
pub struct Fresh;

impl Access for Fresh {
    fn get(&mut self) -> &mut Vfs {
        vfs()
    }
}

/// The pipes: all zero at start, so a static of their own lands in bss
/// (fresh pages) instead of being copied from the boot image at every
/// start of VFS.
static mut PIPES: Pipes = Pipes::new();

/// The pipes.
pub fn pipes() -> &'static mut Pipes {
    // SAFETY: single-threaded, and every borrow ends within the statement
    // or call that took it (no two are alive at once).
    unsafe { &mut *(&raw mut PIPES) }
}

/// PM's endpoint once VFS knows it (PM's first fork or exit; PM's exec
/// worker asks VFS only after it: init is spawned, every other process
/// forked).
static PM: core::sync::atomic::AtomicU32 = core::sync::atomic::AtomicU32::new(Endpoint::NONE.0);

/// An answer to PM's exec worker, kept for the end of the message's work
/// ([`Vfs::answer_pm`]), and then until its REPLYRECV went out.
static PM_ANSWER: Slot<Message> = Slot::new();
static PM_ANSWER_SENT: Slot<Message> = Slot::new();

/// Answers `caller` without blocking. A user waits in SENDREC: the answer
/// leaves with VFS's next receive (`rt::server`). PM's exec worker waits
/// in PM's server loop, which may be busy: its answer leaves last, with
/// the receive that ends this message's work, and if PM was not waiting
/// for it, goes again by SENDA ([`Vfs::answer_pm`]).
fn answer(caller: Endpoint, msg: &Message) {
    if caller.0 == PM.load(core::sync::atomic::Ordering::Relaxed) && caller != Endpoint::NONE {
        PM_ANSWER.put(*msg);
    } else {
        rt::server::reply(caller, msg);
    }
}

pub fn reply(caller: Endpoint, result: Result<u64, Error>) {
    answer(caller, &proto::reply_result(result));
}

pub fn reply_words(caller: Endpoint, result: Result<calls::Words, Error>) {
    let msg = match result {
        Ok(w) => Message::with_words(proto::REPLY, &w),
        Err(e) => proto::reply(e.to_return()),
    };
    answer(caller, &msg);
}

fn run() -> i32 {
    // Static to keep the tables off the stack.
    let vfs = vfs();
    if let Err(e) = mount::ram().populate() {
        rt::println!("vfs: cannot build the root file system: {}", e);
        return 1;
    }
    if let Err(e) = vfs.dev.init() {
        rt::println!("vfs: cannot register grants: {}", e);
        return 1;
    }
    vfs.root.mount_disk();
    if rt::service::restarted("vfs") {
        vfs.power_off_after_death();
    }
    vfs.watch_tty();
    if vfs.root.has_disk() {
        if let Err(e) = vfs.fs_watch.subscribe() {
            rt::println!("vfs: cannot subscribe to {} in DS: {}", remote::SERVICE, e);
        }
        worker::enable();
    }
    rt::server::serve(&mut Main)
}

/// VFS in the runtime's server loop. Its handler answers requests itself
/// (`reply`: many answers come later, for parked calls and device
/// answers); after every message it retries the parked calls. It holds
/// nothing: each hook borrows [`Vfs`] for its own work, so no borrow is
/// alive while `after` runs the disk worker ([`vfs`]).
struct Main;

impl rt::server::Server for Main {
    fn request(&mut self, msg: &Message) -> rt::server::Answer {
        vfs().handle(msg);
        rt::server::Answer::Later
    }

    fn notification(&mut self, msg: &Message) {
        vfs().handle(msg);
    }

    fn heartbeat(&mut self) {
        // After a DS restart the new DS reports tty's entry once we
        // subscribe there.
        let vfs = vfs();
        vfs.tty_watch.renew();
        if vfs.root.has_disk() {
            vfs.fs_watch.renew();
        }
    }

    fn after(&mut self) {
        PM_ANSWER_SENT.take();
        worker::run_jobs();
        let vfs = vfs();
        vfs.retry();
        Device::forget_delivered_pm_answer();
        vfs.answer_pm();
    }

    fn reply_failed(&mut self, to: Endpoint, error: Error) {
        if error == Error::NotReady && to == vfs().pm {
            if let Some(msg) = PM_ANSWER_SENT.take() {
                Device::answer_pm_later(to, msg);
            }
        }
    }
}

impl Vfs {
    /// Sends the answer to PM's exec worker, if there is one, as the
    /// reply of the REPLYRECV that follows: nothing else is sent after it
    /// (a reply of PM's own SENDREC, PM_FORK or PM_EXIT, leaves before
    /// it), and VFS is back in RECEIVE when PM gets it, so PM's next
    /// request finds VFS waiting. When PM does not wait for it (busy, or
    /// in a SENDREC elsewhere), `reply_failed` sends it by SENDA.
    fn answer_pm(&mut self) {
        if let Some(msg) = PM_ANSWER.take() {
            PM_ANSWER_SENT.put(msg);
            rt::server::reply(self.pm, &msg);
        }
    }

    /// An earlier VFS died: every process's descriptors, the pipes and
    /// `/tmp` died with it, and no program can go on without them (MINIX 3
    /// cannot restart VFS either). The disk is still consistent (ext2fs
    /// finished every call it was given), so write out its dirty blocks
    /// and power off with the status that names the cause
    /// (docs/servers-dying.md).
    fn power_off_after_death(&mut self) -> ! {
        let status = abi::platform::STATUS_VFS_DIED;
        rt::println!("vfs: an earlier VFS died with every descriptor; syncing the disk, powering off ({})", status);
        if let Err(e) = self.root.sync() {
            rt::println!("vfs: sync failed: {}", e);
        }
        rt::sys::poweroff(status)
    }

    /// Subscribes to DS's "tty" entry and learns the driver's endpoint.
    fn watch_tty(&mut self) {
        if let Err(e) = self.tty_watch.subscribe() {
            rt::println!("vfs: cannot subscribe to tty in DS: {}", e);
        }
        if let Ok((ep, _)) = rt::names::lookup_fresh("tty") {
            self.dev.driver_changed(ep);
        }
    }

    /// DS says entries changed: look for "tty" and the file server.
    fn check_ds(&mut self) {
        let mut name = [0u8; proto::NAME_LEN];
        while let Some((changed, ep, _)) = rt::names::check(&mut name) {
            if changed == "tty" {
                self.dev.driver_changed(ep);
            } else if changed == remote::SERVICE {
                self.root.file_server_changed(ep);
            }
        }
    }

    fn is_pm(&mut self, source: Endpoint) -> bool {
        if source != self.pm {
            if let Ok((ep, _)) = rt::names::lookup_fresh("pm") {
                self.pm = ep;
            }
        }
        PM.store(self.pm.0, core::sync::atomic::Ordering::Relaxed);
        source == self.pm && source != Endpoint::NONE
    }

    /// A request or a notification (RS's heartbeats are the runtime's).
    fn handle(&mut self, msg: &Message) {
        if is_notification(msg) {
            if rt::names::ds() == Ok(msg.source) {
                self.check_ds();
            }
            if msg.source == Endpoint::SYSTEM && msg.payload[NOTIFY_ALARM_WORD] & NOTIFY_ALARM != 0 {
                let late = self.dev.alarm();
                self.device_given_up(late);
            }
            return; // SYSTEM (SENDA done): the table is rescanned anyway
        }
        let caller = msg.source;
        if msg.mtype == proto::REPLY && self.root.is_file_server(caller) {
            // The answer the disk worker waits for (anything else from the
            // file server is not a request: never answered).
            if worker::waiting() {
                worker::deliver(worker::Event::Reply(*msg));
            }
            return;
        }
        match msg.mtype {
            dev::REPLY => self.device_answer(caller, msg.payload[0], msg.payload[1] as i64),
            dev::ACCEPTED => self.dev.accepted(caller, msg.payload[0]),
            vfs::READ | vfs::WRITE => match self.disk_job(caller, msg, &worker::Paths::default()) {
                Some(job) => self.queue_job(job),
                None => self.read_write(caller, msg),
            },
            vfs::PM_FORK | vfs::PM_EXIT if !self.is_pm(caller) => reply(caller, Err(Error::CallDenied)),
            vfs::PM_FORK => {
                let (parent, child) = (Endpoint(msg.payload[0] as u32), Endpoint(msg.payload[1] as u32));
                let result = self.tables.fork(parent, child).map(|stale| {
                    for f in stale.into_iter().flatten() {
                        self.release(f);
                    }
                    0
                });
                // PM waits in SENDREC: the answer leaves with the receive.
                rt::server::reply(caller, &proto::reply_result(result));
            }
            vfs::PM_EXIT => {
                self.exited(Endpoint(msg.payload[0] as u32));
                rt::server::reply(caller, &proto::reply(0));
            }
            vfs::OPEN..=vfs::SYNC => {
                let paths = match self.paths(caller, msg) {
                    Ok(paths) => paths,
                    Err(e) => return reply(caller, Err(e)),
                };
                match self.disk_job(caller, msg, &paths) {
                    Some(job) => self.queue_job(job),
                    None => {
                        let result = calls::call(self, caller, msg, &paths);
                        reply_words(caller, result);
                    }
                }
            }
            _ => reply(caller, Err(Error::BadRequest)),
        }
    }

    /// A process ended: drop its parked calls and queued disk requests and
    /// close its descriptors (a disk request of it that is running keeps
    /// its open file until it ends; its answer is lost).
    fn exited(&mut self, ep: Endpoint) {
        self.drop_jobs_of(ep);
        loop {
            let Some(i) = self.parked.of(ep).next() else { break };
            self.dev.forget_waiter(i);
            self.parked.remove(i);
        }
        if let Some(p) = self.tables.remove(ep) {
            for f in p.fds.into_iter().flatten() {
                self.release(f);
            }
        }
    }

    /// Gives parked requests another try after something changed.
    fn retry(&mut self) {
        for wait in [Wait::Pipe, Wait::Slot] {
            for i in 0..requests::MAX_PARKED {
                if self.parked.get(i).is_some_and(|p| p.wait == wait) {
                    self.attempt(i);
                }
            }
        }
    }
}
