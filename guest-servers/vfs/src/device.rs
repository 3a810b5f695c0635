//! The console driver connection: requests to TTY that never block VFS.
//!
//! Why this shape (the paper's V1/V2): TTY is a driver and VFS trusts no
//! driver. Requests go out with SENDA from a table in VFS's memory, so a
//! TTY that never receives cannot block VFS; answers come back as ordinary
//! messages carrying the request id, so a TTY that never answers only
//! leaves its own requests waiting. Data moves through grants on VFS's own
//! buffers: slot `i` has buffer `i`, grant `i` and SENDA entries `1 + i`
//! (the request) and `1 + SLOTS + i` (a cancel); entry 0 is the file
//! server's ([`Device::post_fs_request`]). Each slot is one request in flight;
//! a request whose answer has not come is kept until it does, and when DS
//! announces a new TTY endpoint (RS restarted the driver) every such
//! request is sent again, with the same id, to the new one: a driver crash
//! costs the user no error. A request keeps its id for life, however
//! often it is sent: the driver recognises a write it has already served
//! by it (also across its restart: TTY keeps the writes it served in a
//! backup, `abi::proto::tty::backup`) and answers it without printing it
//! again, so a console write is printed exactly once. (`viv.weaken=tty_async` makes every request a
//! blocking SEND instead, the negative control of `viv threats`' V1 row.)
//!
//! A request lost on the way (the driver never saw it) is caught by a
//! deadline of `DEADLINE_PERIODS` heartbeat periods of the driver: a write
//! must be answered by then, a read answered or accepted (`dev::ACCEPTED`,
//! sent by the driver at once when the read must wait for typing, as
//! MINIX's TTY answers SUSPEND). Past the deadline VFS complains to RS,
//! which restarts the driver; a lost read ends with an I/O error, so a
//! reader never waits for ever on a request nobody holds. Waiting for
//! typed input itself has no deadline.

use abi::grant::{Grant, GRANT_READ, GRANT_VALID, GRANT_WRITE};
use abi::proto::dev;
use abi::senda::{SendaEntry, FLAG_DONE, FLAG_VALID};
use abi::{Endpoint, Error, Message};

/// Requests in flight at once.
pub const SLOTS: usize = 16;
// TTY keeps the last write served from each slot (by its grant id, the
// slot) to answer it again, not print it again.
const _: () = assert!(SLOTS <= abi::proto::tty::backup::SLOTS, "TTY keeps a record per slot");
/// Bytes moved per request.
pub const BUF: usize = 2048;
/// The driver's heartbeat period when the image gives it none.
const FALLBACK_PERIOD_MS: u64 = 500;

/// Read or write.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Op {
    Read,
    Write,
}

/// A request in flight.
#[derive(Clone, Copy)]
pub struct Request {
    pub id: u64,
    pub op: Op,
    /// Bytes of this request (the data of a write is in the buffer).
    pub len: usize,
    /// The parked user request it serves (`crate::requests`), `None` when
    /// that process went away and the answer will be dropped.
    pub waiter: Option<usize>,
    /// The user process (for the driver, on reads).
    pub user: Endpoint,
    /// Watchdog alarms seen while this request waited for its answer (a
    /// write) or its acceptance (a read).
    strikes: u64,
    /// The driver accepted this read (`dev::ACCEPTED`): it waits for
    /// typed input, which has no deadline.
    accepted: bool,
    /// We complained to RS about the driver for this request already.
    complained: bool,
    /// The request was sent again after a failed delivery.
    resent: bool,
    /// The request was sent again after the driver answered it with an
    /// error ([`Device::retry`]).
    retried: bool,
}

/// Grant-table entries after the driver slots' that the file-server link
/// uses ([`crate::remote`]): ids `SLOTS..SLOTS + FS_GRANTS`.
pub const FS_GRANTS: usize = 4;

/// The SENDA entry of the file-server request in flight, before the
/// driver's entries (a process has one SENDA table, so VFS's requests to
/// both servers share it): the table handed to the kernel ends at the
/// last entry in use, and the driver's first slots are the busy ones.
const FS_ENTRY: usize = 0;

/// The SENDA entry of an answer to PM that PM did not wait for in
/// RECEIVE ([`Device::answer_pm_later`]), after the driver's entries:
/// unused (and freed once delivered) it costs the driver's SENDAs nothing.
const PM_ENTRY: usize = 2 * SLOTS + 1;

/// The SENDA entry of slot `i`'s request.
const fn request_entry(i: usize) -> usize {
    1 + i
}

/// The SENDA entry of slot `i`'s cancel.
const fn cancel_entry(i: usize) -> usize {
    1 + SLOTS + i
}

struct Tables {
    grants: [Grant; SLOTS + FS_GRANTS],
    senda: [SendaEntry; 2 * SLOTS + 2],
}

static mut TABLES: Tables = Tables {
    grants: [Grant { flags: 0, grantee: 0, address: 0, size: 0 }; SLOTS + FS_GRANTS],
    senda: [SendaEntry { flags: 0, dst: Endpoint(0), result: 0, reserved: 0, message: Message::new(0) }; 2 * SLOTS + 2],
};

/// The buffers, all zero so they land in bss rather than being copied.
static mut BUFFERS: [[u8; BUF]; SLOTS] = [[0; BUF]; SLOTS];

fn tables() -> &'static mut Tables {
    // SAFETY: VFS is single-threaded and only this module touches TABLES.
    // The kernel reads the grant and SENDA tables and writes SENDA results
    // only while VFS is inside a kernel call, never during this borrow.
    unsafe { &mut *(&raw mut TABLES) }
}

fn buffers() -> &'static mut [[u8; BUF]; SLOTS] {
    // SAFETY: as for `tables`; the driver writes into a buffer only through
    // a grant, during a kernel call.
    unsafe { &mut *(&raw mut BUFFERS) }
}

/// The driver connection.
pub struct Device {
    /// TTY's current endpoint (`NONE` while it is down).
    pub tty: Endpoint,
    slots: [Option<Request>; SLOTS],
    next_id: u64,
    /// Writes have deadlines (`abi::weaken::TTY_DEADLINE` not set).
    deadlines: bool,
    /// Replies are checked (`abi::weaken::TTY_REPLY_CHECK` not set).
    pub checks: bool,
    /// Requests go out by blocking SEND (`abi::weaken::TTY_ASYNC` set).
    blocking_sends: bool,
    /// Ticks between watchdog alarms, and how many make a deadline.
    alarm_ticks: u64,
    strikes: u64,
    alarm_armed: bool,
}

impl Device {
    /// No driver yet.
    pub const fn new() -> Device {
        Device {
            tty: Endpoint::NONE,
            slots: [None; SLOTS],
            next_id: 1,
            deadlines: true,
            checks: true,
            blocking_sends: false,
            alarm_ticks: 1,
            strikes: 1,
            alarm_armed: false,
        }
    }

    /// Registers the grant table (once, at start), reads the defenses'
    /// switches and the write deadline: the watchdog alarm goes off every
    /// heartbeat period of `tty` while a write is outstanding, and a write
    /// is late at the alarm after `DEADLINE_PERIODS` of them (between
    /// `DEADLINE_PERIODS` and `DEADLINE_PERIODS + 1` periods after it was
    /// sent).
    pub fn init(&mut self) -> Result<(), abi::Error> {
        self.deadlines = !rt::kip::weakened(abi::weaken::TTY_DEADLINE);
        self.checks = !rt::kip::weakened(abi::weaken::TTY_REPLY_CHECK);
        self.blocking_sends = rt::kip::weakened(abi::weaken::TTY_ASYNC);
        let periods = abi::proto::rs::DEADLINE_PERIODS;
        self.alarm_ticks = (rt::service::deadline_ticks("tty", FALLBACK_PERIOD_MS) / periods).max(1);
        self.strikes = periods + 1;
        let t = tables();
        for (g, b) in t.grants.iter_mut().zip(buffers().iter_mut()) {
            *g = Grant { flags: 0, grantee: Endpoint::NONE.0, address: b.as_mut_ptr() as u64, size: BUF as u64 };
        }
        rt::sys::set_grant_table(&t.grants)
    }

    /// Sends `msg` to the file server `fs`: by SENDNB when the server
    /// waits in RECEIVE (the usual case, and a third of a SENDA's kernel
    /// work), else by SENDA, which waits for it however long it is busy.
    /// False when the kernel failed its delivery at once (the server is
    /// gone).
    pub fn post_fs_request(fs: Endpoint, msg: Message) -> bool {
        match rt::ipc::send_nonblocking(fs, &msg) {
            Ok(()) => true,
            Err(Error::NotReady) => Self::senda_fs_request(fs, msg),
            Err(_) => false,
        }
    }

    /// Sends `msg` to the file server `fs` by SENDA, whose entry waits
    /// for it however long it is busy. False when the kernel failed its
    /// delivery at once (the server is gone).
    pub fn senda_fs_request(fs: Endpoint, msg: Message) -> bool {
        tables().senda[FS_ENTRY] = SendaEntry::new(fs, msg);
        submit();
        let e = tables().senda[FS_ENTRY];
        e.flags & FLAG_DONE == 0 || e.result == 0
    }

    /// Answers PM's exec worker by SENDA when PM was not waiting in
    /// RECEIVE for the answer (`crate::answer`): delivered at PM's next
    /// RECEIVE (never inside PM's SENDREC of a fork or an exit), so the
    /// answer is not lost while PM is busy. PM has one such request at a
    /// time, so one entry serves.
    pub fn answer_pm_later(pm: Endpoint, msg: Message) {
        tables().senda[PM_ENTRY] = SendaEntry::new(pm, msg);
        submit();
    }

    /// Frees the entry of an answer to PM once it was delivered.
    pub fn forget_delivered_pm_answer() {
        let e = &mut tables().senda[PM_ENTRY];
        if e.flags & FLAG_DONE != 0 {
            e.flags = 0;
        }
    }

    /// Frees the file-server request's SENDA entry (its request was
    /// answered, or will never be).
    pub fn clear_fs_request() {
        tables().senda[FS_ENTRY].flags = 0;
    }

    /// File-server grant `k` (< [`FS_GRANTS`]): its id and entry.
    pub fn fs_grant(k: usize) -> (u64, &'static mut Grant) {
        ((SLOTS + k) as u64, &mut tables().grants[SLOTS + k])
    }

    /// A free slot.
    pub fn free_slot(&self) -> Option<usize> {
        self.slots.iter().position(|s| s.is_none())
    }

    /// Buffer of slot `i`.
    pub fn buffer(&mut self, i: usize) -> &mut [u8; BUF] {
        &mut buffers()[i]
    }

    /// Starts a request in slot `i` (the data of a write already in its
    /// buffer) and sends it if the driver is up.
    pub fn start(&mut self, i: usize, op: Op, len: usize, waiter: usize, user: Endpoint) {
        let req = Request {
            id: self.next_id,
            op,
            len: len.min(BUF),
            waiter: Some(waiter),
            user,
            strikes: 0,
            accepted: false,
            complained: false,
            resent: false,
            retried: false,
        };
        self.next_id += 1;
        self.slots[i] = Some(req);
        self.send(i);
        self.arm_watchdog();
    }

    /// Sends the request in slot `i`, with the id it was given at its
    /// start.
    fn send(&mut self, i: usize) {
        let Some(req) = self.slots[i].as_mut() else { return };
        req.strikes = 0;
        req.accepted = false;
        if self.tty == Endpoint::NONE {
            return; // sent when the driver appears
        }
        let t = tables();
        let rights = if req.op == Op::Read { GRANT_WRITE } else { GRANT_READ };
        t.grants[i].grantee = self.tty.0;
        t.grants[i].size = req.len as u64;
        t.grants[i].flags = GRANT_VALID | rights;
        let mtype = if req.op == Op::Read { dev::READ } else { dev::WRITE };
        let msg = dev::request(mtype, req.id, i as u64, req.len as u64, u64::from(req.user.0));
        if self.blocking_sends {
            // The V1 defense switched off: wait until the driver receives.
            if let Err(e) = rt::ipc::send(self.tty, &msg) {
                rt::println!("vfs: SEND to tty failed: {}", e);
            }
            return;
        }
        t.senda[request_entry(i)] = SendaEntry::new(self.tty, msg);
        t.senda[cancel_entry(i)].flags = 0;
        submit();
        self.check_delivery(i);
    }

    /// A request the kernel could not deliver (the driver died, or the
    /// delivery was refused) is sent once more; if that fails too, the
    /// driver is reported to RS, and the request goes to the instance RS
    /// starts. Only failures the SENDA call itself reports are seen here;
    /// a write whose later delivery fails is caught by its deadline.
    fn check_delivery(&mut self, i: usize) {
        let e = tables().senda[request_entry(i)];
        if !self.deadlines || e.flags & FLAG_DONE == 0 || e.result == 0 {
            return;
        }
        tables().senda[request_entry(i)].result = 0; // noted once
        let Some(req) = self.slots[i].as_mut() else { return };
        if !req.resent {
            req.resent = true;
            self.send(i);
        } else if !req.complained {
            req.complained = true;
            self.complain();
        }
    }

    /// Has RS kill and restart the driver; DS then announces the new one
    /// and [`Device::driver_changed`] sends every request again.
    pub fn complain(&mut self) {
        if self.tty == Endpoint::NONE {
            return;
        }
        rt::println!("vfs: console driver {} is not serving; complaining to RS", self.tty);
        if let Err(e) = rt::service::complain("tty", self.tty) {
            rt::println!("vfs: RS did not take the complaint: {}", e);
        }
    }

    fn arm_watchdog(&mut self) {
        let waiting = self.slots.iter().flatten().any(Request::has_deadline);
        if self.deadlines && !self.alarm_armed && waiting && self.tty != Endpoint::NONE {
            self.alarm_armed = rt::sys::set_alarm(self.alarm_ticks).is_ok();
        }
    }

    /// The watchdog alarm went off: every outstanding write and every
    /// read not yet accepted takes a strike. A write that reaches its
    /// deadline gets the driver reported to RS (once; the request goes to
    /// the new instance); one that reaches it again is given up. A read
    /// that reaches it was lost (the driver never saw it, or lost it): the
    /// driver is reported and the read given up at once, since what it
    /// waited for (typing) has no bound to wait out again. Returns the
    /// slots given up (a bit per slot): their callers get an I/O error.
    pub fn alarm(&mut self) -> u32 {
        self.alarm_armed = false;
        let (mut complain, mut give_up) = (false, 0u32);
        for (i, slot) in self.slots.iter_mut().enumerate() {
            let Some(r) = slot.as_mut().filter(|r| r.has_deadline()) else { continue };
            r.strikes += 1;
            if r.strikes < self.strikes || self.tty == Endpoint::NONE {
                continue;
            }
            if r.op == Op::Read {
                give_up |= 1 << i;
                complain |= !r.complained;
                r.complained = true;
            } else if r.complained {
                give_up |= 1 << i;
            } else {
                r.complained = true;
                r.strikes = 0;
                complain = true;
            }
        }
        if complain {
            self.complain();
        }
        self.arm_watchdog();
        give_up
    }

    /// Ends the request in slot `i` without an answer; returns it.
    pub fn abandon(&mut self, i: usize) -> Option<Request> {
        tables().grants[i].flags = 0;
        tables().senda[request_entry(i)].flags = 0;
        self.slots[i].take()
    }

    /// Asks the driver to end the read in slot `i` early (its process is
    /// gone); the answer still comes and frees the slot.
    pub fn cancel(&mut self, i: usize) {
        let Some(req) = self.slots[i].as_mut() else { return };
        req.waiter = None;
        if self.tty == Endpoint::NONE || req.op != Op::Read {
            return;
        }
        tables().senda[cancel_entry(i)] = SendaEntry::new(self.tty, dev::request(dev::CANCEL, req.id, 0, 0, 0));
        submit();
    }

    /// Detaches every request of parked request `waiter`.
    pub fn forget_waiter(&mut self, waiter: usize) {
        for i in 0..SLOTS {
            if self.slots[i].is_some_and(|r| r.waiter == Some(waiter)) {
                self.cancel(i);
            }
        }
    }

    /// The driver `source` accepted read `id`: it now waits for input,
    /// without a deadline.
    pub fn accepted(&mut self, source: Endpoint, id: u64) {
        if source != self.tty {
            return;
        }
        if let Some(r) = self.slots.iter_mut().flatten().find(|r| r.id == id && r.op == Op::Read) {
            r.accepted = true;
        }
    }

    /// Takes the request an answer from `source` with `id` belongs to;
    /// answers from anybody but the current driver, or for unknown ids,
    /// are ignored. Revokes the slot's grant.
    pub fn answer(&mut self, source: Endpoint, id: u64) -> Option<(usize, Request)> {
        if source != self.tty {
            return None;
        }
        let i = self.slots.iter().position(|s| s.is_some_and(|r| r.id == id))?;
        let req = self.slots[i].take()?;
        tables().grants[i].flags = 0;
        Some((i, req))
    }

    /// The driver answered `req` (taken from slot `i` by
    /// [`Device::answer`]) with an error: sends it once more, with its
    /// id, unless it was retried already. True when it went out again.
    /// A single garbled or refused message (a bit flipped in the request's
    /// grant id, a kernel call of the driver's that failed) costs the
    /// program nothing; a driver that keeps failing the request gets its
    /// error through. Safe for writes: the driver answers an error only
    /// when it wrote nothing (and then keeps no record of it), and one
    /// whose answer was garbled into an error is answered from the
    /// driver's record.
    pub fn retry(&mut self, i: usize, req: Request) -> bool {
        if req.retried || req.waiter.is_none() || self.slots[i].is_some() || !self.checks {
            return false;
        }
        self.slots[i] = Some(Request { retried: true, ..req });
        self.send(i);
        self.arm_watchdog();
        true
    }

    /// The driver has a new endpoint (or none): send every unanswered
    /// request again.
    pub fn driver_changed(&mut self, tty: Endpoint) {
        if tty == self.tty {
            return;
        }
        self.tty = tty;
        for i in 0..SLOTS {
            tables().grants[i].flags = 0;
            if self.slots[i].is_some_and(|r| r.waiter.is_none()) {
                self.slots[i] = None; // nobody waits for it any more
            } else if self.slots[i].is_some() {
                self.send(i);
            }
        }
        if tty == Endpoint::NONE {
            for e in tables().senda[FS_ENTRY + 1..PM_ENTRY].iter_mut() {
                e.flags = 0;
            }
            submit();
        }
        self.arm_watchdog();
    }

    /// True while some request in flight has this id.
    pub fn is_pending(&self, waiter: usize) -> bool {
        self.slots.iter().any(|s| s.is_some_and(|r| r.waiter == Some(waiter)))
    }
}

impl Request {
    /// Whether the watchdog counts this request's strikes: a write until
    /// it is answered, a read until it is accepted.
    fn has_deadline(&self) -> bool {
        self.op == Op::Write || !self.accepted
    }
}

fn submit() {
    let t = tables();
    // Only entries still to deliver matter; DONE ones are ignored by the
    // kernel, so the whole table can be handed over every time.
    let count = t.senda.iter().rposition(|e| e.flags & FLAG_VALID != 0).map_or(0, |i| i + 1);
    if let Err(e) = rt::ipc::senda(&mut t.senda[..count]) {
        rt::println!("vfs: SENDA to tty failed: {}", e);
    }
}
