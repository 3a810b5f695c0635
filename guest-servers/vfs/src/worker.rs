//! The disk worker: requests that need the file server run on a second
//! stack, one at a time, so that VFS serves everything else while the
//! file server works.
//!
//! Why: `ext2fs` may take up to a few heartbeat periods to answer when
//! its disk driver hangs, drops a request or is restarted (its request
//! deadlines bound that, docs/trust.md). VFS used to wait for it in a
//! SENDREC, and the console, `/tmp`, pipes and PM's fork and exit
//! bookkeeping waited with it. Now a request that needs the disk runs on
//! the worker's stack (`rt::coroutine`, MINIX 3.2's worker threads in
//! miniature): its code stays the plain sequential code of every other
//! request, and the one call that waits ([`crate::remote`]) leaves its
//! message to the file server in the server loop's mailbox and suspends
//! the worker; the loop's next receive sends it in the same kernel entry
//! (`rt::server::send_with_next`: REPLYRECV_IF_SENT when the server waits
//! in RECEIVE, else SENDA before the receive). VFS's
//! server loop goes on receiving; the file server's reply (or DS's news
//! that the file server was replaced) resumes the worker where it
//! stopped.
//!
//! Which requests need the disk is decided before they run
//! ([`Vfs::disk_job`]): a READ, WRITE, FSTAT, GETDENTS or `SEEK_END` of
//! a disk file, a call naming a path outside the memory mounts (`/dev`,
//! `/tmp`), SYNC and FSYNC. Every other request (the console, `/tmp`,
//! pipes, CLOSE, DUP, PM's FORK and EXIT) is served at once on the main
//! stack and never calls the file server, so it never waits for it.
//!
//! Disk requests run one at a time, in the order they arrived (the file
//! server serves one request at a time anyway): a later request on a file
//! never overtakes an earlier one, and the file server's grants and name
//! buffers ([`crate::remote`]) belong to the one request in flight. A
//! job keeps a reference on the open file it works on, so a close or an
//! exit meanwhile cannot free it under the worker; an exiting process's
//! queued jobs are dropped.
//!
//! Sharing: the worker's request code and the main loop both work on
//! the one `Vfs`, in turn (one single-threaded program with two stacks),
//! and neither keeps a borrow of it across a switch. The main loop's
//! server ([`crate::Main`]) holds none: each hook borrows `Vfs` for its
//! own work, and [`run_jobs`] resumes the worker with no borrow alive.
//! The worker takes a fresh borrow for each step between its waits
//! ([`crate::Fresh`], through [`crate::Access`]); across a wait
//! ([`wait`]) its frames hold only its own locals (the job, paths, inode
//! numbers, offsets), the [`crate::mount::Mount`] (which holds no state)
//! and the file server's link ([`crate::remote::RemoteFs`], a static of
//! its own used only through shared references: its state is in cells).
//! After a wait it re-reads what it uses from the tables (an open file's
//! offset, a process's working directory), and the state a suspended job
//! relies on is held for it (the file reference above; a process's one
//! outstanding call).
//!
//! `viv.weaken=fs_async` (`abi::weaken::FS_ASYNC`) runs every request on
//! the main stack again, waiting for the file server in a RECEIVE: the
//! negative control of `vmm/tests/stall_bound.rs`.

use crate::path::PathBuf;
use crate::{Fresh, Vfs};
use abi::{Endpoint, Error, Message};
use core::mem::MaybeUninit;
use rt::coroutine::Coroutine;

/// Disk requests waiting for the worker (one per process at most).
pub const QUEUE: usize = 64;
/// The worker's stack (the main stack is 64 KiB too).
const STACK_SIZE: usize = 64 * 1024;

#[repr(C, align(16))]
struct Stack([u8; STACK_SIZE]);

/// All zero: it lands in bss.
static mut STACK: Stack = Stack([0; STACK_SIZE]);

static WORKER: Coroutine = Coroutine::new();

/// The paths a request names, copied from the caller before the request
/// is classified (so they are copied once).
#[derive(Clone, Copy, Default)]
pub struct Paths {
    pub first: Option<PathBuf>,
    pub second: Option<PathBuf>,
}

/// A request that needs the disk.
#[derive(Clone, Copy)]
pub struct Job {
    pub caller: Endpoint,
    pub msg: Message,
    pub paths: Paths,
    /// The open file the request works on; the job holds a reference.
    pub filp: Option<u16>,
}

/// What ended the worker's wait for the file server.
#[derive(Clone, Copy)]
pub enum Event {
    /// The file server's reply.
    Reply(Message),
    /// DS lists another file-server endpoint (or none): the request in
    /// flight went to a server that is gone.
    ServerChanged,
    /// The request could not be delivered at all (the server is gone).
    Undelivered,
}

/// The queued jobs: a ring of [`QUEUE`] entries, of which the `len` from
/// `head` on are written. Uninitialised, so it lands in bss instead of
/// the boot image.
static mut QUEUED: [MaybeUninit<Job>; QUEUE] = [const { MaybeUninit::uninit() }; QUEUE];

fn queued() -> &'static mut [MaybeUninit<Job>; QUEUE] {
    // SAFETY: single-threaded; borrowed as `shared` is.
    unsafe { &mut *(&raw mut QUEUED) }
}

/// The state both stacks share: borrowed for a statement at a time, never
/// across a switch.
struct Shared {
    head: usize,
    len: usize,
    /// The job handed to the worker and not yet taken by it.
    next: Option<Job>,
    /// The worker has a job (running or waiting).
    busy: bool,
    /// The worker waits for the file server.
    waiting: bool,
    event: Option<Event>,
    prepared: bool,
    /// Disk requests go to the worker (a disk is mounted and
    /// `abi::weaken::FS_ASYNC` is not set).
    enabled: bool,
}

static mut SHARED: Shared =
    Shared { head: 0, len: 0, next: None, busy: false, waiting: false, event: None, prepared: false, enabled: false };

fn shared() -> &'static mut Shared {
    // SAFETY: single-threaded; every caller uses the borrow within one
    // statement or a few with no switch between stacks (`resume` and
    // `suspend` are never called while it is held).
    unsafe { &mut *(&raw mut SHARED) }
}

/// Switches the worker on (a disk is mounted); `viv.weaken=fs_async`
/// leaves it off.
pub fn enable() {
    shared().enabled = !rt::kip::weakened(abi::weaken::FS_ASYNC);
}

/// Whether disk requests go to the worker.
pub fn enabled() -> bool {
    shared().enabled
}

/// Whether the caller runs on the worker's stack.
pub fn inside() -> bool {
    WORKER.inside()
}

/// Whether the worker waits for the file server.
pub fn waiting() -> bool {
    shared().waiting
}

/// Hands the waiting worker what ended its wait (it runs at the next
/// [`run_jobs`]).
pub fn deliver(event: Event) {
    let s = shared();
    if s.waiting && s.event.is_none() {
        s.event = Some(event);
    }
}

/// From the worker: waits (suspended) until the main loop delivers the
/// file server's reply or news of a new file server.
pub fn wait() -> Event {
    shared().waiting = true;
    loop {
        // SAFETY: only the worker's request code waits (`inside`), on
        // the worker's stack.
        unsafe { WORKER.suspend() };
        if let Some(event) = shared().event.take() {
            shared().waiting = false;
            return event;
        }
    }
}

/// Queues a disk request; `TooMany` when the queue is full.
pub fn push(job: Job) -> Result<(), Error> {
    let s = shared();
    if s.len == QUEUE {
        return Err(Error::TooMany);
    }
    queued()[(s.head + s.len) % QUEUE].write(job);
    s.len += 1;
    Ok(())
}

/// Queued job `k` (counted from the oldest, `k < len`).
fn queued_job(k: usize) -> Job {
    let at = (shared().head + k) % QUEUE;
    // SAFETY: the `len` entries from `head` on were written by `push`.
    unsafe { queued()[at].assume_init_read() }
}

fn pop() -> Option<Job> {
    if shared().len == 0 {
        return None;
    }
    let job = queued_job(0);
    let s = shared();
    s.head = (s.head + 1) % QUEUE;
    s.len -= 1;
    Some(job)
}

/// Takes one queued (not running) job of `caller` out of the queue.
pub fn take_queued_of(caller: Endpoint) -> Option<Job> {
    let len = shared().len;
    let at = (0..len).find(|&k| queued_job(k).caller == caller)?;
    let job = queued_job(at);
    let head = shared().head;
    for k in at..len - 1 {
        let next = queued_job(k + 1);
        queued()[(head + k) % QUEUE].write(next);
    }
    shared().len -= 1;
    Some(job)
}

/// The worker's entry: runs the jobs it is handed, one by one.
extern "C" fn worker_main(_: u64) -> ! {
    loop {
        if let Some(job) = shared().next.take() {
            run_job(job);
        }
        shared().busy = false;
        // SAFETY: this is the worker's stack.
        unsafe { WORKER.suspend() };
    }
}

impl Vfs {
    /// Whether request `msg` of `caller` needs the file server: `Some`
    /// with the open file it works on (referenced for the job), else
    /// `None` (served at once). `paths` are the paths it names.
    pub fn disk_job(&mut self, caller: Endpoint, msg: &Message, paths: &Paths) -> Option<Job> {
        use abi::proto::vfs::*;
        if !enabled() {
            return None;
        }
        let on_disk = |p: &Option<PathBuf>| p.as_ref().is_some_and(|p| self.root.path_on_disk(p));
        let w = msg.payload;
        let filp = match msg.mtype {
            READ | WRITE | FSTAT | GETDENTS => self.disk_filp(caller, w[0])?,
            LSEEK if w[2] == SEEK_END => self.disk_filp(caller, w[0])?,
            OPEN | CHDIR | STAT | MKDIR | UNLINK | RMDIR if on_disk(&paths.first) => None,
            RENAME if on_disk(&paths.first) || on_disk(&paths.second) => None,
            FSYNC | SYNC => None,
            _ => return None,
        };
        if let Some(f) = filp {
            self.tables.filp(f).refs += 1;
        }
        Some(Job { caller, msg: *msg, paths: *paths, filp })
    }

    /// `Some(Some(filp))` when descriptor `fd` of `caller` is a disk file.
    fn disk_filp(&mut self, caller: Endpoint, fd: u64) -> Option<Option<u16>> {
        let f = self.tables.filp_of(caller, fd).ok()?;
        match self.tables.filp(f).object {
            crate::fdtable::Object::Node(ino) if self.root.on_disk(ino) => Some(Some(f)),
            _ => None,
        }
    }

    /// Queues a disk request (answering `TooMany` when the queue is full).
    pub fn queue_job(&mut self, job: Job) {
        if let Err(e) = push(job) {
            if let Some(f) = job.filp {
                self.release(f);
            }
            crate::reply(job.caller, Err(e));
        }
    }

    /// Drops the queued disk requests of `caller` (it exited).
    pub fn drop_jobs_of(&mut self, caller: Endpoint) {
        while let Some(job) = take_queued_of(caller) {
            if let Some(f) = job.filp {
                self.release(f);
            }
        }
    }
}

/// On the main stack, after every message: resumes the worker when
/// what it waits for came, and hands it the next queued job when it
/// is free.
pub fn run_jobs() {
    loop {
        let s = shared();
        if s.busy && !(s.waiting && s.event.is_some()) {
            return;
        }
        if !s.busy {
            let Some(job) = pop() else { return };
            let s = shared();
            s.next = Some(job);
            s.busy = true;
            if !s.prepared {
                s.prepared = true;
                // SAFETY: the stack is the worker's alone, and the
                // worker has not run yet.
                unsafe { WORKER.prepare(&mut (*(&raw mut STACK)).0, worker_main, 0) };
            }
        }
        // SAFETY: the worker is prepared and suspended (this is the
        // main stack, and no borrow of `Vfs` is alive on it: the server
        // loop's `after` calls this holding none, `crate::vfs`); what the
        // worker's job relies on is held for it (module documentation).
        unsafe { WORKER.resume() };
        assert!(WORKER.intact(), "vfs: the disk worker overflowed its stack");
    }
}

/// On the worker's stack: serves one disk request and answers it.
fn run_job(job: Job) {
    use abi::proto::vfs::{READ, WRITE};
    let Job { caller, msg, paths, filp } = job;
    if matches!(msg.mtype, READ | WRITE) {
        let result = crate::io::disk_read_write(&mut Fresh, caller, &msg);
        crate::reply(caller, result);
    } else {
        let result = crate::calls::call(&mut Fresh, caller, &msg, &paths);
        crate::reply_words(caller, result);
    }
    if let Some(f) = filp {
        crate::vfs().release(f);
    }
}
