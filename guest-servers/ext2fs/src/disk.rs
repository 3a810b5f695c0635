//! The file server's side of the block-device protocol
//! (`abi::proto::blockdev`): the link to the disk driver `blk`, and the
//! [`Disk`] that the ext2 library reads and writes through.
//!
//! Why it looks like this: the driver is not trusted and is expected to
//! crash, hang, be restarted, or answer garbage. So requests go out by
//! SENDA (a driver that never receives cannot block us), each with a fresh
//! request id and a grant on our own buffer made out to the driver
//! instance it is sent to, and the answer is awaited in a RECEIVE loop
//! that also answers RS's heartbeats, follows DS's notifications about
//! `blk`, and sets client requests aside for later
//! ([`Link::next_request`]).
//!
//! Nothing the driver says is believed unchecked: an answer counts only
//! from the current driver endpoint, with the id of the outstanding
//! request, and with a result that fits it (a READ or WRITE moves exactly
//! the bytes asked). Every request has a deadline of
//! `abi::proto::rs::DEADLINE_PERIODS` heartbeat periods of `blk` (see
//! [`Link::configure`]). A passed deadline, a failed delivery, a reply to
//! an id never issued, a wrong count or an error result is the driver's
//! fault: we complain to RS (`abi::proto::rs::COMPLAIN`), which kills and
//! restarts it, and send the request again to the new instance, with a new
//! id and a new grant. Block reads and writes are idempotent, so resending
//! can never be seen, and any single fault of the driver or its messages
//! costs the file server's clients nothing but time. A request that fails
//! `abi::proto::blockdev::ATTEMPTS` times (a disk that really fails) ends
//! with `Error::Io`; one that finds no driver for [`GIVE_UP_SECS`] seconds
//! with `Unavailable`. So every client request is answered within a bound
//! (docs/trust.md), and VFS's SENDREC to us never waits forever.

//! Writes of consecutive sectors are gathered into one request of up to
//! `MAX_TRANSFER` bytes ([`Link::write`]); the server sends them
//! ([`Link::flush_writes`]) before it answers its own client, and a read
//! that overlaps them sends them first, so nothing is reordered or lost.
//!
//! Reads that continue the previous read are served from one read-ahead
//! request of up to `MAX_TRANSFER` bytes (the library reads file data one
//! block at a time, and every driver request has a fixed cost); a write to
//! those sectors goes into the read-ahead data too, so it is never stale. While
//! the server reads a file for a client it says how many bytes the client
//! still wants ([`Link::expect_reads`]): the read-ahead then starts at the
//! request's first block and stops at the file's end, so a small program
//! costs one driver request and stays whole in one of the read-ahead
//! windows ([`crate::readahead`]) for the next execs of it. A read in a
//! block group's bitmaps or inode table fetches the aligned
//! [`METADATA_WINDOW`] around it (a path, an open or a create reads a
//! few scattered blocks there); other metadata reads (directories,
//! indirect blocks) fetch just what is asked, since every byte the driver
//! copies costs kernel time.
//!
//! All of it lives in one static ([`link`]): the SENDA table must stay in
//! place while the kernel holds it, and the server reaches the link both
//! through the [`Disk`] it gave the library and directly.

use abi::notify::is_notification;
use abi::proto::{self, blockdev};
use abi::senda::{SendaEntry, FLAG_DONE, FLAG_NOTIFY};
use abi::syscall::{NOTIFY_ALARM, NOTIFY_ALARM_WORD};
use abi::{Endpoint, Error, Message};

use crate::readahead::{self, ReadAhead};

/// Device sector size.
const SECTOR: u64 = blockdev::SECTOR_SIZE;
/// Largest request.
const MAX: usize = blockdev::MAX_TRANSFER as usize;
/// Metadata read ahead per driver request: aligned windows of this many
/// bytes of a group's bitmaps and inode table. Resolving a path, opening
/// and creating a file each read a few blocks of that area, scattered
/// (the inode of every directory on the path, the bitmaps); one request
/// for 16 of them replaces a request per block, at the cost of copying
/// 16 KiB once.
const METADATA_WINDOW: u64 = 16 * 1024;
/// Block groups whose metadata is read ahead (the first ones; a larger
/// disk's other groups are read block by block).
const METADATA_AREAS: usize = 8;
/// Client requests set aside while we wait for the driver.
const DEFERRED: usize = 8;
/// Period of the watchdog alarm with deadlines switched off (weakened).
const WATCHDOG_MS: u64 = 2000;
/// Seconds without a new driver (after a death or a complaint) before a
/// request fails; without deadlines (weakened), also seconds without an
/// answer.
pub const GIVE_UP_SECS: u64 = 30;
/// The driver's heartbeat period when the image gives it none.
const FALLBACK_PERIOD_MS: u64 = 500;
/// Deadline of a request, in heartbeat periods of the driver.
const DEADLINE_PERIODS: u64 = abi::proto::rs::DEADLINE_PERIODS;
/// SENDA table entries: the driver request, the reply to VFS.
const REQUEST: usize = 0;
const REPLY: usize = 1;

/// Counters for benchmarks (printed at every SYNC).
#[derive(Clone, Copy, Default)]
pub struct LinkStats {
    /// Requests answered by the driver.
    pub requests: u64,
    /// Requests sent again to a new driver instance.
    pub resends: u64,
    /// Bytes the driver moved for us (both directions).
    pub bytes: u64,
    /// Driver instances we have seen come up after the first.
    pub restarts: u64,
}

/// The driver connection and everything that waits on it.
pub struct Link {
    /// The driver's current endpoint (`NONE`: not published, or dead).
    blk: Endpoint,
    /// The last instance we know to be dead (ignored if DS still lists it).
    dead: Endpoint,
    next_id: u64,
    /// Our SENDA table: the request to the driver in flight (entry
    /// [`REQUEST`]) and the last reply to VFS ([`REPLY`]); a process has
    /// one table, so both share it.
    table: [SendaEntry; 2],
    deferred: [Message; DEFERRED],
    deferred_len: usize,
    /// Sector and length of the gathered writes (in [`GATHER`]).
    gather_at: u64,
    gather_len: usize,
    /// What the read-ahead windows hold, and the sector after the last
    /// read (a read starting there is sequential).
    ahead: ReadAhead,
    last_end: u64,
    /// Bytes the client request being served still wants from the disk
    /// (`None`: no such hint, outside a file READ).
    wanted: Option<u64>,
    /// Disk size in sectors.
    sectors: u64,
    /// Sectors of the block groups' bitmaps and inode tables
    /// ([`Link::add_metadata_area`]; `(0, 0)`: none), read ahead
    /// [`METADATA_WINDOW`] bytes at a time.
    metadata: [(u64, u64); METADATA_AREAS],
    watchdog_armed: bool,
    /// Ticks between watchdog alarms while a request is outstanding, and
    /// how many alarms make its deadline ([`Link::configure`]).
    alarm_ticks: u64,
    strikes: u64,
    /// Our SENDA entry to the current driver came back undelivered.
    delivery_failed: bool,
    /// Replies are checked (`abi::weaken::BLK_REPLY_CHECK` not set).
    checks: bool,
    /// Requests have deadlines (`abi::weaken::BLK_DEADLINE` not set).
    deadlines: bool,
    /// Our subscription to `blk` in DS (renewed after a DS restart).
    watch: rt::names::Watch,
    pub stats: LinkStats,
}

static mut LINK: Link = Link {
    blk: Endpoint::NONE,
    dead: Endpoint::NONE,
    next_id: 1,
    table: [SendaEntry { flags: 0, dst: Endpoint::NONE, result: 0, reserved: 0, message: Message::new(0) }; 2],
    deferred: [Message::new(0); DEFERRED],
    deferred_len: 0,
    gather_at: 0,
    gather_len: 0,
    ahead: ReadAhead::new(),
    last_end: u64::MAX,
    wanted: None,
    sectors: 0,
    metadata: [(0, 0); METADATA_AREAS],
    watchdog_armed: false,
    alarm_ticks: 1,
    strikes: 1,
    delivery_failed: false,
    checks: true,
    deadlines: true,
    watch: rt::names::Watch::new("blk"),
    stats: LinkStats { requests: 0, resends: 0, bytes: 0, restarts: 0 },
};

/// The link. The server is single-threaded and never holds the reference
/// across a call that takes it again (the library calls [`Disk`]'s methods
/// only from inside the server's calls into the library, while the server
/// holds no borrow of its own).
pub fn link() -> &'static mut Link {
    // SAFETY: single-threaded, and by the rule above no two live `&mut`
    // to LINK overlap; the kernel writes the SENDA table's result fields
    // only while we are inside a trap.
    unsafe { &mut *(&raw mut LINK) }
}

/// The next client request: one set aside earlier, or the next message
/// that is not the link's own business. No borrow of the link is held
/// across the receive, where an answer to VFS may be posted by SENDA
/// ([`answer_vfs`]).
pub fn next_request() -> Message {
    if let Some(msg) = link().take_deferred() {
        // An answer to VFS waiting in the mailbox leaves now, before the
        // link's own traffic for this request (where its SENDA would
        // need the link we hold).
        rt::server::flush();
        return msg;
    }
    loop {
        // With the last request's answer, if one waits (REPLYRECV).
        let msg = rt::server::next();
        let link = link();
        match link.classify(&msg) {
            Some(Seen::Alarm) => link.watchdog_armed = false,
            Some(_) => {}
            None => return msg,
        }
    }
}

/// Answers VFS without blocking (the trust rule holds for VFS too): the
/// answer leaves with our next receive (REPLYRECV_IF_SENT, one kernel
/// entry, when VFS waits in RECEIVE, the usual case), else by SENDA
/// ([`answer_unsent`]). Either way a busy VFS cannot lose it.
pub fn answer_vfs(vfs: Endpoint, reply: &Message) {
    rt::server::send_with_next(vfs, reply, answer_unsent);
}

/// An answer to VFS that did not leave with our receive (VFS was busy, or
/// is gone): posted by SENDA before we receive. It runs inside
/// [`next_request`]'s receive or its flush, where nothing holds the link.
fn answer_unsent(vfs: Endpoint, reply: &Message, _: Error) {
    link().reply_by_senda(vfs, *reply);
}

/// Buffer of one request.
enum Data<'a> {
    None,
    /// The driver writes into it (READ).
    Into(&'a mut [u8]),
    /// The driver reads from it (WRITE).
    From(&'a [u8]),
}

/// How one try of a request ended.
enum Try {
    /// The driver's answer (not yet checked).
    Answer(i64),
    /// The instance died or was replaced: send again to the next one.
    NewDriver,
    /// The driver failed us (a passed deadline, a failed delivery, a reply
    /// to a request never sent): complain and try again.
    Failed(&'static str),
    /// Without deadlines (weakened): no answer for `GIVE_UP_SECS`.
    GiveUp,
}

/// What an incoming message was, for the wait loops.
enum Seen {
    /// Dealt with here (heartbeat, DS change, kernel event, stale reply).
    Handled,
    /// The driver's answer: (request id, result).
    Reply(u64, i64),
    /// The watchdog alarm went off.
    Alarm,
}

impl Link {
    /// Reads the defenses' switches and the deadline. The watchdog alarm
    /// goes off every heartbeat period of `blk` while a request is
    /// outstanding, and a request is late at the alarm that follows
    /// `DEADLINE_PERIODS` of them: between `DEADLINE_PERIODS` and
    /// `DEADLINE_PERIODS + 1` periods after it was sent (an alarm may be
    /// due just after the send). One alarm per period, not one per
    /// request, keeps the fast path free of kernel calls.
    pub fn configure(&mut self) {
        self.checks = !rt::kip::weakened(abi::weaken::BLK_REPLY_CHECK);
        self.deadlines = !rt::kip::weakened(abi::weaken::BLK_DEADLINE);
        let hz = rt::kip::tick_hz().max(1);
        if self.deadlines {
            let deadline = rt::service::deadline_ticks("blk", FALLBACK_PERIOD_MS);
            self.alarm_ticks = (deadline / DEADLINE_PERIODS).max(1);
            self.strikes = DEADLINE_PERIODS + 1;
        } else {
            self.alarm_ticks = (WATCHDOG_MS * hz).div_ceil(1000).max(1);
            self.strikes = GIVE_UP_SECS * 1000 / WATCHDOG_MS;
        }
    }

    /// Subscribes to `blk` in DS (DS reports its current entry at once).
    pub fn subscribe(&mut self) -> Result<(), Error> {
        self.watch.subscribe()
    }

    /// Waits (serving heartbeats, setting requests aside) until DS has
    /// published a driver, at most `secs` seconds.
    pub fn wait_for_driver(&mut self, secs: u64) -> Result<(), Error> {
        let mut alarms = 0;
        while !self.driver_known() {
            match self.wait_one() {
                Seen::Alarm => {
                    alarms += 1;
                    if alarms * self.alarm_ticks >= secs * rt::kip::tick_hz().max(1) {
                        self.watchdog_armed = false;
                        return Err(Error::Unavailable);
                    }
                    self.arm_watchdog();
                }
                Seen::Handled | Seen::Reply(..) => self.arm_watchdog(),
            }
        }
        Ok(())
    }

    fn driver_known(&self) -> bool {
        self.blk != Endpoint::NONE && self.blk != self.dead
    }

    /// Takes the oldest client request set aside earlier, if any.
    fn take_deferred(&mut self) -> Option<Message> {
        if self.deferred_len == 0 {
            return None;
        }
        let msg = self.deferred[0];
        self.deferred.copy_within(1..self.deferred_len, 0);
        self.deferred_len -= 1;
        Some(msg)
    }

    /// Receives one message while waiting for the driver; client requests
    /// are set aside (answered `TooMany` when the queue is full).
    fn wait_one(&mut self) -> Seen {
        let mut msg = Message::default();
        loop {
            if rt::ipc::receive(Endpoint::ANY, &mut msg).is_err() {
                continue;
            }
            if let Some(seen) = self.classify(&msg) {
                return seen;
            }
            if self.deferred_len < DEFERRED {
                self.deferred[self.deferred_len] = msg;
                self.deferred_len += 1;
            } else {
                let _ = rt::ipc::send_nonblocking(msg.source, &proto::reply(Error::TooMany.to_return()));
            }
        }
    }

    /// Handles the link's own messages; `None` for a client request.
    fn classify(&mut self, msg: &Message) -> Option<Seen> {
        if rt::service::handle_heartbeat(msg) {
            // A new DS (its news comes with the heartbeats) reports the
            // driver's entry again once we subscribe there.
            self.watch.renew();
            return Some(Seen::Handled);
        }
        if is_notification(msg) {
            if msg.source == Endpoint::SYSTEM {
                self.check_senda();
                if msg.payload[NOTIFY_ALARM_WORD] & NOTIFY_ALARM != 0 {
                    return Some(Seen::Alarm);
                }
            } else if Some(msg.source) == rt::names::ds().ok() {
                self.check_ds();
            }
            return Some(Seen::Handled);
        }
        if msg.mtype == blockdev::REPLY {
            // Only the current driver's answers count; anything else
            // claiming to be one is dropped.
            if msg.source == self.blk {
                return Some(Seen::Reply(msg.payload[0], msg.payload[1] as i64));
            }
            return Some(Seen::Handled);
        }
        None
    }

    /// Notes that our SENDA entry to the current driver failed (it died,
    /// or the delivery was refused); the wait loop acts on it.
    fn check_senda(&mut self) {
        let e = &mut self.table[REQUEST];
        if e.flags & FLAG_DONE != 0 && e.result != 0 && e.dst == self.blk {
            e.result = 0; // noted once
            self.delivery_failed = true;
        }
    }

    /// Posts an answer to VFS by SENDA, whose entry waits until VFS
    /// receives, however busy VFS is. VFS sends its next request only
    /// once it has this reply, so one entry is enough; a reply VFS never
    /// took (it died) is replaced.
    fn reply_by_senda(&mut self, vfs: Endpoint, reply: Message) {
        self.table[REPLY] = SendaEntry::new(vfs, reply);
        if let Err(e) = rt::ipc::senda(&mut self.table) {
            rt::println!("ext2fs: SENDA of a reply to VFS failed: {}", e);
        }
    }

    /// Reads every change DS has for us.
    fn check_ds(&mut self) {
        let mut buf = [0u8; proto::NAME_LEN];
        while let Some((name, ep, _)) = rt::names::check(&mut buf) {
            if name == "blk" {
                if ep != self.blk && ep != Endpoint::NONE && self.blk != Endpoint::NONE {
                    self.stats.restarts += 1;
                    rt::println!("ext2fs: disk driver now at {:#x}", ep.0);
                }
                self.blk = ep;
            }
        }
    }

    fn arm_watchdog(&mut self) {
        if !self.watchdog_armed {
            self.watchdog_armed = rt::sys::set_alarm(self.alarm_ticks).is_ok();
        }
    }

    /// One request, sent again to every new driver instance until one
    /// answers it, and retried on a fresh instance when the driver fails
    /// it (at most `ATTEMPTS` tries). Returns the driver's checked result.
    fn call(&mut self, mtype: u32, position: u64, mut data: Data, len: u64) -> Result<u64, Error> {
        let mut failures = 0;
        loop {
            if !self.driver_known() {
                self.wait_for_driver(GIVE_UP_SECS)?;
            }
            let blk = self.blk;
            let id = self.next_id;
            self.next_id += 1;
            let grant = match &mut data {
                Data::None => None,
                Data::Into(buf) => Some(rt::grant::writable(blk, buf)?),
                Data::From(buf) => Some(rt::grant::read_only(blk, buf)?),
            };
            let gid = grant.as_ref().map_or(0, |g| g.id());
            let attempt = self.send_and_wait(blk, id, blockdev::request(mtype, id, position, gid, len));
            // The grant is revoked here; a late copy by a dying or
            // replaced instance fails harmlessly.
            drop(grant);
            let why = match attempt {
                Try::NewDriver => {
                    self.stats.resends += 1;
                    continue;
                }
                Try::GiveUp => {
                    rt::println!("ext2fs: the disk driver has not answered for {} s", GIVE_UP_SECS);
                    return Err(Error::Unavailable);
                }
                Try::Failed(why) => why,
                Try::Answer(result) => match self.check_result(mtype, len, result) {
                    Ok(r) => {
                        self.stats.requests += 1;
                        if r.is_ok() {
                            self.stats.bytes += len;
                        }
                        return r;
                    }
                    Err(why) => why,
                },
            };
            failures += 1;
            rt::println!(
                "ext2fs: disk driver {} failed request {} ({}; try {} of {}); complaining to RS",
                blk,
                id,
                why,
                failures,
                blockdev::ATTEMPTS
            );
            self.complain(blk);
            if failures >= blockdev::ATTEMPTS {
                return Err(Error::Io);
            }
            self.stats.resends += 1;
        }
    }

    /// Sends request `msg` (id `id`) to driver instance `blk` and waits for
    /// its answer, a new instance, or the deadline.
    fn send_and_wait(&mut self, blk: Endpoint, id: u64, msg: Message) -> Try {
        self.table[REQUEST] = SendaEntry::new(blk, msg);
        self.table[REQUEST].flags |= FLAG_NOTIFY;
        self.delivery_failed = false;
        if rt::ipc::senda(&mut self.table).is_err() {
            return Try::Failed("the kernel refused the request");
        }
        self.check_senda();
        self.arm_watchdog();
        let mut strikes = 0;
        loop {
            if self.delivery_failed {
                self.delivery_failed = false;
                if self.deadlines {
                    return Try::Failed("the request could not be delivered");
                }
                self.dead = blk; // as before the deadline: wait for DS
            }
            if self.blk != blk || self.dead == blk {
                return Try::NewDriver;
            }
            match self.wait_one() {
                Seen::Reply(rid, result) if rid == id => return Try::Answer(result),
                // An id we never issued: garbage (an older one is a late
                // or duplicated answer, harmless to drop).
                Seen::Reply(rid, _) if rid > id && self.checks => {
                    return Try::Failed("a reply to a request never sent")
                }
                Seen::Reply(..) | Seen::Handled => {}
                Seen::Alarm => {
                    self.watchdog_armed = false;
                    strikes += 1;
                    if strikes >= self.strikes {
                        if !self.deadlines {
                            return Try::GiveUp;
                        }
                        return Try::Failed("no answer by the deadline");
                    }
                    self.arm_watchdog();
                }
            }
        }
    }

    /// Checks a driver result against the request; `Err` says why it
    /// cannot be right (an error result counts: it may be garbage, and a
    /// real device error stays one on every try).
    fn check_result(&self, mtype: u32, len: u64, result: i64) -> Result<Result<u64, Error>, &'static str> {
        let r = Error::from_return(result);
        if !self.checks {
            return Ok(r);
        }
        match (mtype, r) {
            // No device behind the driver: final, nothing to retry.
            (blockdev::GEOMETRY, Err(e)) => Ok(Err(e)),
            (_, Err(_)) => Err("an error result"),
            (blockdev::READ | blockdev::WRITE, Ok(n)) if n != len => Err("a wrong byte count"),
            (blockdev::FLUSH, Ok(n)) if n != 0 => Err("a wrong flush result"),
            (blockdev::GEOMETRY, Ok(n)) if n == 0 || n % SECTOR != 0 => Err("an impossible capacity"),
            (_, Ok(n)) => Ok(Ok(n)),
        }
    }

    /// Has RS kill and restart driver instance `blk`; DS then announces the
    /// next one. When RS refuses, the same instance is tried again.
    fn complain(&mut self, blk: Endpoint) {
        match rt::service::complain("blk", blk) {
            Ok(_) => self.dead = blk,
            Err(e) => rt::println!("ext2fs: RS did not take the complaint ({}); trying the same driver", e),
        }
    }

    /// The disk's capacity in bytes.
    pub fn geometry(&mut self) -> Result<u64, Error> {
        let bytes = self.call(blockdev::GEOMETRY, 0, Data::None, 0)?;
        self.sectors = bytes / SECTOR;
        Ok(bytes)
    }

    /// Until the next call, reads are for a client that wants `bytes`
    /// more of a file (`None`: no hint); every read counts against it.
    pub fn expect_reads(&mut self, bytes: Option<u64>) {
        self.wanted = bytes;
    }

    /// Marks blocks `first..end` (of `block_size` bytes) as a group's
    /// metadata area, read ahead in [`METADATA_WINDOW`] windows; false
    /// (and ignored) once [`METADATA_AREAS`] are known.
    pub fn add_metadata_area(&mut self, first: u64, end: u64, block_size: u64) -> bool {
        let per_block = (block_size / SECTOR).max(1);
        let Some(slot) = self.metadata.iter_mut().find(|a| a.1 == 0) else { return false };
        *slot = (first * per_block, end * per_block);
        true
    }

    /// The metadata window holding a read of sectors `sector..end`: its
    /// first sector and its bytes, when the read lies in a metadata area
    /// and the window is larger than the read.
    fn metadata_window(&self, sector: u64, end: u64) -> Option<(u64, usize)> {
        let &(first, last) = self.metadata.iter().find(|a| a.0 <= sector && end <= a.1)?;
        let window = METADATA_WINDOW / SECTOR;
        let at = (sector - sector % window).max(first);
        let stop = (at + window).min(last).min(self.sectors);
        (stop >= end && stop - at > end - sector).then_some((at, ((stop - at) * SECTOR) as usize))
    }

    /// How many bytes to read ahead from `sector` for a read of `len`
    /// bytes: up to what the client still wants when it said so, else a
    /// whole request when the read continues the last one, else none
    /// (0); never past the disk's end.
    fn read_ahead_len(&self, sector: u64, len: usize, sequential: bool) -> usize {
        let limit = match self.wanted {
            Some(bytes) => bytes.div_ceil(SECTOR) * SECTOR,
            None if sequential => MAX as u64,
            None => 0,
        };
        let n = limit.min(MAX as u64).min(self.sectors.saturating_sub(sector) * SECTOR) as usize;
        if n > len {
            n
        } else {
            0
        }
    }

    /// Reads sectors `sector ..` into `buf`.
    pub fn read(&mut self, sector: u64, buf: &mut [u8]) -> Result<(), Error> {
        let end = sector + (buf.len() as u64).div_ceil(SECTOR);
        let sequential = sector == self.last_end;
        self.last_end = end;
        let (fetch_at, ahead_bytes) = match self.metadata_window(sector, end) {
            Some(window) => window,
            None => (sector, self.read_ahead_len(sector, buf.len(), sequential)),
        };
        // Gathered writes the driver has not seen yet go out before it
        // reads any of their sectors, read-ahead included.
        let fetch_end = end.max(fetch_at + ahead_bytes as u64 / SECTOR);
        let gathered_end = self.gather_at + (self.gather_len as u64) / SECTOR;
        if self.gather_len > 0 && fetch_at < gathered_end && self.gather_at < fetch_end {
            self.flush_writes()?;
        }
        if let Some(bytes) = self.wanted.as_mut() {
            *bytes = bytes.saturating_sub(buf.len() as u64);
        }
        if let Some((window, from)) = self.ahead.find(sector, end, SECTOR) {
            buf.copy_from_slice(&readahead::buffer(window)[from..from + buf.len()]);
            return Ok(());
        }
        if ahead_bytes > 0 {
            // Read ahead: one request for what the reader will ask for
            // next (the library reads file data block by block).
            let n = ahead_bytes;
            let window = self.ahead.take();
            let data = &mut readahead::buffer(window)[..n];
            let got = self.call(blockdev::READ, fetch_at * SECTOR, Data::Into(data), n as u64)?;
            if got != n as u64 {
                return Err(Error::Io);
            }
            self.ahead.filled(window, fetch_at, n as u64 / SECTOR);
            let from = ((sector - fetch_at) * SECTOR) as usize;
            buf.copy_from_slice(&readahead::buffer(window)[from..from + buf.len()]);
            return Ok(());
        }
        let mut done = 0;
        while done < buf.len() {
            let n = (buf.len() - done).min(MAX);
            let pos = (sector * SECTOR) + done as u64;
            let got = self.call(blockdev::READ, pos, Data::Into(&mut buf[done..done + n]), n as u64)?;
            if got != n as u64 {
                return Err(Error::Io);
            }
            done += n;
        }
        Ok(())
    }

    /// Writes `buf` to sectors `sector ..`, gathered with the writes before
    /// it when they are consecutive (sent by [`Link::flush_writes`]).
    pub fn write(&mut self, sector: u64, buf: &[u8]) -> Result<(), Error> {
        self.ahead.write_through(sector, buf, SECTOR);
        let mut done = 0;
        while done < buf.len() {
            let at = sector + (done as u64) / SECTOR;
            let follows = self.gather_len > 0 && self.gather_at + (self.gather_len as u64) / SECTOR == at;
            if !follows || self.gather_len == MAX {
                self.flush_writes()?;
                self.gather_at = at;
            }
            let n = (buf.len() - done).min(MAX - self.gather_len);
            gather()[self.gather_len..self.gather_len + n].copy_from_slice(&buf[done..done + n]);
            self.gather_len += n;
            done += n;
        }
        Ok(())
    }

    /// Sends the gathered writes.
    pub fn flush_writes(&mut self) -> Result<(), Error> {
        if self.gather_len == 0 {
            return Ok(());
        }
        let len = self.gather_len;
        let r = self.call(blockdev::WRITE, self.gather_at * SECTOR, Data::From(&gather()[..len]), len as u64);
        self.gather_len = 0;
        match r {
            Ok(n) if n == len as u64 => Ok(()),
            Ok(_) => Err(Error::Io),
            Err(e) => Err(e),
        }
    }

    /// Makes every write answered so far durable.
    pub fn flush(&mut self) -> Result<(), Error> {
        self.flush_writes()?;
        self.call(blockdev::FLUSH, 0, Data::None, 0).map(|_| ())
    }
}

/// Consecutive writes waiting to go out as one request; apart from
/// [`LINK`] so a WRITE can grant it while the link waits for the answer.
static mut GATHER: [u8; MAX] = [0; MAX];

fn gather() -> &'static mut [u8; MAX] {
    // SAFETY: single-threaded; `Link::write` fills it and `flush_writes`
    // grants it, and neither runs inside the other, so the borrows never
    // overlap (the driver reads it only through the grant while we wait).
    unsafe { &mut *(&raw mut GATHER) }
}

/// The block device the ext2 library mounts: 512-byte sectors of the disk
/// behind `blk`.
pub struct Disk {
    sectors: u64,
}

impl Disk {
    /// Asks the driver for the disk's size.
    pub fn open() -> Result<Disk, Error> {
        Ok(Disk { sectors: link().geometry()? / SECTOR })
    }
}

impl ext2::BlockDevice for Disk {
    type Error = Error;

    fn block_size(&self) -> usize {
        SECTOR as usize
    }

    fn num_blocks(&self) -> u64 {
        self.sectors
    }

    fn read_block(&mut self, n: u64, buf: &mut [u8]) -> Result<(), Error> {
        link().read(n, buf)
    }

    fn write_block(&mut self, n: u64, buf: &[u8]) -> Result<(), Error> {
        link().write(n, buf)
    }
}
