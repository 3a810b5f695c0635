//! The exec worker: the file reads of an exec run on a second stack, so
//! that PM serves everybody else while VFS waits for the disk.
//!
//! Why: an exec reads `/bin/NAME` through VFS (`disk_exec`). VFS answers
//! a read of the disk only when `ext2fs` does, and `ext2fs` waits up to a
//! few heartbeat periods when its driver answers heartbeats but not
//! requests (until its deadline has the driver restarted, docs/trust.md).
//! PM used to wait for each read in a SENDREC to VFS, and every fork,
//! exit, wait, kill and getpid of every other process waited with it.
//! Now the loading part of an exec (open, reads, close) runs on the
//! worker's stack (`rt::coroutine`, as VFS's disk worker): its code stays
//! the plain sequential code of `disk_exec`, and only the call that waits
//! ([`call_vfs`]) changes: it hands the request to PM's server loop
//! without waiting for the answer and suspends the worker. The request
//! leaves with the loop's next receive (`rt::server::send_with_next`:
//! REPLYRECV_IF_SENT, one kernel entry for the send and the receive when
//! VFS waits in RECEIVE, the usual case; a plain SEND and a receive were
//! two). When VFS is busy the send fails without receiving, and the
//! request is posted by SENDA before the loop receives: VFS gets it at
//! its next receive, and PM never blocks on VFS. PM's server loop goes
//! on; VFS's answer (a message from VFS in PM's loop) resumes the worker
//! where it stopped.
//! VFS sends its answer as the reply of its next REPLYRECV, and by SENDA
//! when PM was not waiting for it, so the answer is not lost while PM is
//! busy, and a SENDA entry cannot reach PM inside the SENDREC of a fork
//! or an exit to VFS (the kernel delivers SENDA messages only to a plain
//! RECEIVE). The CLOSE at the end is a SENDREC: VFS answers it at once.
//!
//! Sharing: the worker never touches PM's table. It gets the job through
//! a [`Slot`], loads the file into `disk_exec`'s buffer and hands back
//! only what the load gave ([`Loaded`]); the main loop, on its own stack
//! with its own `&mut Pm`, does the exec and the bookkeeping
//! (`Pm::finish_exec`). The cells here are all the two stacks share.
//!
//! One exec loads at a time; later ones queue in arrival order. One
//! worker is enough: its buffer is 256 KiB (one per worker would be
//! several), and VFS serves disk requests one at a time anyway (its own
//! disk worker), so a second exec's reads would wait behind the first's
//! at VFS all the same. A process has at most one exec outstanding (it
//! waits in SENDREC), so the queue holds at most one per process.
//!
//! When the exec'ing process is killed meanwhile, its queued exec is
//! dropped, and a running one still loads (its VFS request is out) but is
//! not executed: `finish_exec` finds the caller gone (endpoints carry a
//! generation, so a reused slot is another endpoint). When VFS is gone
//! as the request leaves, the worker learns it at once, looks VFS up
//! again and asks once more. When VFS dies while the worker waits, PM
//! learns it at its next heartbeat (DS lists another VFS, or none) and
//! the exec fails with `Unavailable` (a new VFS powers the system off
//! anyway, docs/servers-dying.md).
//!
//! `viv.weaken=pm_async` (`abi::weaken::PM_ASYNC`) loads on the main
//! stack again, waiting for VFS in a SENDREC: the negative control of
//! `vmm/tests/stall_bound.rs`.

use abi::proto::{self, NAME_LEN};
use abi::senda::{SendaEntry, FLAG_DONE, FLAG_EMPTY};
use abi::{Endpoint, Error, Message};
use core::cell::Cell;
use rt::coroutine::{Coroutine, Slot};

/// The worker's stack: `disk_exec` needs little (a path and a few calls).
const STACK_SIZE: usize = 16 * 1024;

/// Execs waiting for the worker: one per process at most.
const QUEUE: usize = crate::table::MAX_PROCS;

#[repr(C, align(16))]
struct Stack([u8; STACK_SIZE]);

/// All zero: it lands in bss.
static mut STACK: Stack = Stack([0; STACK_SIZE]);

static WORKER: Coroutine = Coroutine::new();

/// An EXEC request waiting for, or at, the worker.
#[derive(Clone, Copy)]
pub struct Job {
    pub caller: Endpoint,
    pub msg: Message,
}

impl Job {
    /// The program name the request names (words 2-3).
    pub fn name<'a>(&self, buf: &'a mut [u8; NAME_LEN]) -> &'a str {
        proto::get_name(&self.msg, 2, buf)
    }
}

/// What loading `/bin/NAME` gave.
#[derive(Clone, Copy)]
pub enum Loaded {
    /// The file's first `len` bytes are in `disk_exec`'s buffer.
    Elf(usize),
    /// No usable file: the boot image's program of that name, if any.
    NotOnDisk,
    /// The file is there but could not be read, or VFS is gone.
    Failed(Error),
}

/// What ended the worker's wait for VFS.
#[derive(Clone, Copy)]
enum Event {
    Answer(Message),
    VfsGone,
    /// The request could not be delivered (`DeadSrcDst`: VFS is gone).
    Undelivered(Error),
}

/// The state both stacks share (cells only: nothing is borrowed across
/// a switch).
struct Shared {
    /// Execs waiting, in arrival order: `len` of them from `head` on.
    queue: [Slot<Job>; QUEUE],
    head: Cell<usize>,
    len: Cell<usize>,
    /// The job at the worker, from the main loop's view (until finished).
    running: Slot<Job>,
    /// The job handed to the worker and not yet taken by it.
    handed: Slot<Job>,
    /// What the worker's load gave, for the main loop.
    loaded: Slot<Loaded>,
    /// The VFS endpoint the worker's request went to while it waits for
    /// the answer (`NONE`: not waiting).
    waiting_on: Cell<Endpoint>,
    event: Slot<Event>,
    prepared: Cell<bool>,
    /// Loads go to the worker (`abi::weaken::PM_ASYNC` not set).
    enabled: Cell<bool>,
}

// SAFETY: PM is single-threaded; the cells are only copied in and out,
// on either stack.
unsafe impl Sync for Shared {}

static SHARED: Shared = Shared {
    queue: [const { Slot::new() }; QUEUE],
    head: Cell::new(0),
    len: Cell::new(0),
    running: Slot::new(),
    handed: Slot::new(),
    loaded: Slot::new(),
    waiting_on: Cell::new(Endpoint::NONE),
    event: Slot::new(),
    prepared: Cell::new(false),
    enabled: Cell::new(false),
};

/// Reads the switch once at start.
pub fn init() {
    SHARED.enabled.set(!rt::kip::weakened(abi::weaken::PM_ASYNC));
}

/// Whether execs load on the worker.
pub fn enabled() -> bool {
    SHARED.enabled.get()
}

/// Whether the caller runs on the worker's stack.
pub fn inside() -> bool {
    WORKER.inside()
}

/// Queues an exec; `TooMany` when the queue is full (it cannot be: one
/// per process).
pub fn push(job: Job) -> Result<(), Error> {
    let s = &SHARED;
    if s.len.get() == QUEUE {
        return Err(Error::TooMany);
    }
    s.queue[(s.head.get() + s.len.get()) % QUEUE].put(job);
    s.len.set(s.len.get() + 1);
    Ok(())
}

fn pop() -> Option<Job> {
    let s = &SHARED;
    if s.len.get() == 0 {
        return None;
    }
    let job = s.queue[s.head.get()].take();
    s.head.set((s.head.get() + 1) % QUEUE);
    s.len.set(s.len.get() - 1);
    job
}

/// Process `ep` ended: its queued exec (if any) is dropped; one at the
/// worker is left to finish its load (`Pm::finish_exec` then finds the
/// caller gone).
pub fn forget(ep: Endpoint) {
    let s = &SHARED;
    let (head, len) = (s.head.get(), s.len.get());
    let mut kept = 0;
    for k in 0..len {
        let Some(job) = s.queue[(head + k) % QUEUE].take() else { continue };
        if job.caller != ep {
            s.queue[(head + kept) % QUEUE].put(job);
            kept += 1;
        }
    }
    s.len.set(kept);
}

/// A message that is not a request: the answer the worker waits for, if
/// it comes from the VFS it asked. True when it was taken.
pub fn answer(msg: &Message) -> bool {
    let s = &SHARED;
    let from = s.waiting_on.get();
    if from == Endpoint::NONE || msg.source != from || msg.mtype != proto::REPLY {
        return false;
    }
    s.event.put(Event::Answer(*msg));
    true
}

/// PM's heartbeat: when the worker waits for a VFS that DS no longer
/// lists (it died; RS started another, or none), the wait ends with
/// `Unavailable`. A DS lookup per heartbeat period, only while an exec
/// waits.
pub fn check_vfs() {
    let from = SHARED.waiting_on.get();
    if from == Endpoint::NONE || SHARED.event.get().is_some() {
        return;
    }
    match rt::names::lookup_fresh("vfs") {
        Ok((ep, _)) if ep == from => {}
        Ok(_) | Err(Error::NoEntry) => {
            rt::names::forget("vfs");
            SHARED.event.put(Event::VfsGone);
        }
        // DS cannot say now (it is being restarted): ask again at the
        // next heartbeat.
        Err(_) => {}
    }
}

/// From the worker: sends `msg` to VFS without waiting for the answer
/// and suspends until the main loop hands it VFS's answer. Returns the
/// answer's result, the answer in `msg`. A request that could not be
/// delivered because VFS is gone goes once more to the VFS DS lists
/// now; any other failure fails the exec with `Unavailable`.
pub fn call_vfs(msg: &mut Message) -> Result<u64, Error> {
    let mut event = exchange(rt::names::lookup("vfs")?, msg);
    if let Event::Undelivered(Error::DeadSrcDst) = event {
        rt::names::forget("vfs");
        event = exchange(rt::names::lookup("vfs")?, msg);
    }
    match event {
        Event::Answer(answer) => {
            *msg = answer;
            proto::result_of(msg)
        }
        Event::VfsGone | Event::Undelivered(_) => Err(Error::Unavailable),
    }
}

/// Sends `msg` to `vfs` with the server loop's next receive
/// (`rt::server::send_with_next`: REPLYRECV_IF_SENT, one kernel entry
/// with the receive when VFS waits in RECEIVE, the usual case), else by
/// SENDA ([`request_unsent`]), and suspends until the answer or the news
/// that it will not come.
fn exchange(vfs: Endpoint, msg: &Message) -> Event {
    SHARED.waiting_on.set(vfs);
    rt::server::send_with_next(vfs, msg, request_unsent);
    let event = loop {
        // SAFETY: only the worker's load calls VFS this way (`inside`),
        // on the worker's stack.
        unsafe { WORKER.suspend() };
        if let Some(event) = SHARED.event.take() {
            break event;
        }
    };
    SHARED.waiting_on.set(Endpoint::NONE);
    // Delivered, or never to be: the entry is free for the next request.
    request_entry().flags = FLAG_EMPTY;
    event
}

/// The SENDA table of the worker's request: one entry, as the worker has
/// one request out at a time. PM sends nothing else by SENDA.
static mut REQUEST: [SendaEntry; 1] =
    [SendaEntry { flags: FLAG_EMPTY, dst: Endpoint::NONE, result: 0, reserved: 0, message: Message::new(0) }];

fn request_entry() -> &'static mut SendaEntry {
    // SAFETY: PM is single-threaded; the kernel writes the entry's result
    // only while PM is in the kernel, and no caller keeps the reference
    // across another call of this function.
    unsafe { &mut (*(&raw mut REQUEST))[0] }
}

/// The worker's request did not leave with the server loop's receive
/// (it runs there, on the main stack, before anything is received): VFS
/// is busy (then the request is posted by SENDA, delivered at VFS's next
/// receive however long it is busy, and PM never waits for it), or it is
/// gone, or the kernel refused the table (then the waiting worker learns
/// it in the loop's `after`).
fn request_unsent(vfs: Endpoint, msg: &Message, error: Error) {
    let error = if error == Error::NotReady { post(vfs, msg) } else { Err(error) };
    if let Err(e) = error {
        SHARED.event.put(Event::Undelivered(e));
    }
}

/// Sends `msg` to `vfs` by SENDA; `DeadSrcDst` when the kernel failed its
/// delivery at once (VFS is gone).
fn post(vfs: Endpoint, msg: &Message) -> Result<(), Error> {
    *request_entry() = SendaEntry::new(vfs, *msg);
    // SAFETY: the table is static; the kernel writes results into it
    // later, which a static allows.
    rt::ipc::senda(unsafe { &mut *(&raw mut REQUEST) })?;
    let entry = request_entry();
    if entry.flags & FLAG_DONE != 0 && entry.result != 0 {
        return Err(Error::DeadSrcDst);
    }
    Ok(())
}

/// The worker's entry: loads the programs it is handed, one by one.
extern "C" fn worker_main(_: u64) -> ! {
    loop {
        if let Some(job) = SHARED.handed.take() {
            let mut buf = [0u8; NAME_LEN];
            let loaded = match crate::disk_exec::load(job.name(&mut buf)) {
                Some(Ok(elf)) => Loaded::Elf(elf.len()),
                Some(Err(e)) => Loaded::Failed(e),
                None => Loaded::NotOnDisk,
            };
            SHARED.loaded.put(loaded);
        }
        // SAFETY: this is the worker's stack.
        unsafe { WORKER.suspend() };
    }
}

/// On the main stack, after every message: resumes the worker when VFS's
/// answer came, hands it the next queued exec when it is free, and
/// returns an exec whose load has ended (the caller finishes it; call
/// again until `None`).
pub fn step() -> Option<(Job, Loaded)> {
    let s = &SHARED;
    loop {
        if let Some(loaded) = s.loaded.take() {
            let job = s.running.take()?;
            return Some((job, loaded));
        }
        match s.running.get() {
            Some(_) if s.event.get().is_none() => return None,
            Some(_) => {}
            None => {
                let job = pop()?;
                s.running.put(job);
                s.handed.put(job);
                if !s.prepared.get() {
                    s.prepared.set(true);
                    // SAFETY: the stack is the worker's alone, and the
                    // worker has not run yet.
                    unsafe { WORKER.prepare(&mut (*(&raw mut STACK)).0, worker_main, 0) };
                }
            }
        }
        // SAFETY: the worker is prepared and suspended (this is the main
        // stack); it shares only the cells above with us.
        unsafe { WORKER.resume() };
        assert!(WORKER.intact(), "pm: the exec worker overflowed its stack");
    }
}
