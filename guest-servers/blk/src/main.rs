//! blk: the virtio-blk disk driver, a restartable user-space server.
//!
//! It maps the device's register window (`MapDevice`) and a DMA area
//! (`AllocDma`), resets the device and negotiates VERSION_1 (+ FLUSH),
//! sets up one split virtqueue ([`virtio`]), enables IRQ 5 and then serves
//! the block protocol (`abi::proto::blockdev`) one request at a time: the
//! kernel says where the client's grant lies in physical memory
//! (`GrantPhys`, after the checks a safe copy makes), the request goes on
//! the ring with one data descriptor per physical run, so the device moves
//! the data straight to or from the client, and the driver polls the used
//! ring right after `QueueNotify`. A grant that spans more runs than a
//! chain holds goes through the DMA bounce buffer and a safe copy instead.
//! Answers go out by SENDA ([`replies`]).
//! RS's heartbeats are answered between requests.
//!
//! Why poll first: our device (`viv`'s) finishes a request within the
//! `QueueNotify` exit, so the completion is on the used ring before the
//! driver's next instruction. The driver keeps the device's interrupt off
//! (`VIRTQ_AVAIL_F_NO_INTERRUPT`) and finds it there: no interrupt, no
//! SYSTEM notification, no `IRQ_ACK` and no alarm: five kernel entries
//! fewer per request. Only a request still running at the first poll (a
//! device that works in the background) turns the interrupt on and waits
//! for the used-ring interrupt (a SYSTEM notification with bit 5 in word
//! `NOTIFY_IRQ_WORD`): InterruptStatus is acknowledged through
//! InterruptACK, the line with `IRQ_ACK`, and only then is the used ring
//! read, so a completion racing the acknowledgement is never stranded.
//!
//! Why one request at a time: see [`virtio`]; the wait for a completion
//! receives from SYSTEM only, with an alarm as a deadline, so a device
//! that never answers costs the client an `Unavailable` reply and the
//! driver a device reset, not a hang.
//!
//! For tests only, `blk.misbehave=MODE:N` on the kernel command line makes
//! the driver fail in ways a crash does not ([`misbehave`]).
//!
//! Restartability: the driver keeps no state worth saving. A fresh
//! instance (after a crash, a kill or a missed heartbeat) resets the
//! device (status 0) and starts with an empty ring; requests the old
//! instance had not answered are the client's to send again (block writes
//! are idempotent, see `abi::proto::blockdev`). Without a device (no
//! `--disk`), it stays up and answers every request `Unavailable`; with a
//! device but without the resources to drive it (`AllocDma` out of memory)
//! it exits with status 1, so RS restarts it with backoff and `service`
//! shows it is not running.
#![no_std]
#![no_main]

mod misbehave;
mod virtio;

use abi::grant::{GRANT_READ, GRANT_WRITE};
use abi::notify::{EVENT_SENDA_DONE, SYSTEM_EVENTS_WORD};
use abi::platform::{VIRTIO_BLK_IRQ, VIRTIO_BLK_SECTOR_SIZE};
use abi::proto::blockdev::{self, MAX_TRANSFER};
use abi::syscall::{DmaRange, IRQ_ACK, IRQ_ENABLE, NOTIFY_ALARM, NOTIFY_ALARM_WORD, NOTIFY_IRQ_WORD};
use abi::{Endpoint, Error, Message};
use misbehave::{Misbehave, Verdict};
use rt::senda_queue::SendaQueue;
use virtio::{Device, Op};

rt::main!(run);

/// Kernel command-line key: `blk.bounce=1` moves every request's data
/// through the bounce buffer and safe copies (for tests of that path).
const BOUNCE_KEY: &str = "blk.bounce";

/// How long a request may take before the device is declared stuck.
const DEADLINE_MS: u64 = 2000;

struct Blk {
    device: Option<Device>,
    replies: SendaQueue,
    /// Completions that arrived without their interrupt (found at the
    /// deadline): should stay 0.
    missed_interrupts: u64,
    /// Data moves straight to and from the client's grant (`GrantPhys`);
    /// off when the kernel refuses us the call, or for tests with
    /// [`BOUNCE_KEY`], which keep the bounce path working.
    direct: bool,
}

fn run() -> i32 {
    let device = match virtio::map().and_then(|()| Device::open(None)) {
        Ok(d) => {
            rt::println!("blk: virtio-blk with {} sectors, flush {}", d.capacity, d.flush);
            Some(d)
        }
        Err(Error::Unavailable) => {
            rt::println!("blk: no usable virtio-blk device ({}); answering Unavailable", Error::Unavailable);
            None
        }
        // There is a device but not the resources to drive it (no DMA
        // memory, the window not mappable): exit, so RS sees the failure
        // and tries again, instead of looking "running" while answering
        // Unavailable for ever.
        Err(e) => {
            rt::println!("blk: cannot set up the virtio-blk device ({}); exiting", e);
            return 1;
        }
    };
    if device.is_some() {
        if let Err(e) = rt::sys::irqctl(VIRTIO_BLK_IRQ, IRQ_ENABLE) {
            rt::println!("blk: cannot enable IRQ {}: {}", VIRTIO_BLK_IRQ, e);
            return 1;
        }
    }
    let blk = Blk {
        device,
        replies: SendaQueue::new("blk"),
        missed_interrupts: 0,
        direct: rt::kip::cmdline_value(BOUNCE_KEY) != Some("1"),
    };
    let request_checks = !rt::kip::weakened(abi::weaken::BLK_REQUEST_CHECK);
    rt::server::serve(&mut Driver { blk, misbehave: Misbehave::from_cmdline(), request_checks })
}

/// The driver in the runtime's server loop, with the misbehaviour the
/// command line may ask for (the distrust tests' faulty drivers).
struct Driver {
    blk: Blk,
    misbehave: Misbehave,
    /// Requests' check words are verified (`abi::weaken::BLK_REQUEST_CHECK`
    /// not set).
    request_checks: bool,
}

impl rt::server::Server for Driver {
    /// Every request is answered with SENDA (a trusted client that stops
    /// receiving cannot block the driver), so never "now".
    fn request(&mut self, msg: &Message) -> rt::server::Answer {
        let blk = &mut self.blk;
        let id = msg.payload[0];
        // A request garbled on the way would move the wrong sectors with
        // every count right: refused before the disk is touched.
        let judged = if !self.request_checks || blockdev::request_intact(msg) {
            self.misbehave.judge(msg)
        } else {
            Verdict::Answer(id, Error::BadRequest.to_return())
        };
        let (id, result) = match judged {
            Verdict::Serve => (id, blk.serve(msg).map_or_else(Error::to_return, |v| v as i64)),
            Verdict::Ignore => return rt::server::Answer::Later,
            Verdict::Hang => hang(),
            Verdict::Answer(id, result) => (id, result),
            Verdict::Garble { id_plus, count_times } => {
                let result = blk.serve(msg).map_or_else(Error::to_return, |v| v as i64);
                (id + id_plus, result * count_times as i64)
            }
        };
        if let Err(e) = blk.replies.reply(abi::proto::blockdev::REPLY, msg.source, id, result) {
            // The client's deadline on the request gets us restarted.
            rt::println!("blk: the reply to request {} of {} is lost: {}", id, msg.source, e);
        }
        rt::server::Answer::Later
    }

    fn notification(&mut self, msg: &Message) {
        if msg.source == Endpoint::SYSTEM {
            self.blk.system_event(msg);
        }
    }
}

/// Blocks for good, taking only messages from SYSTEM (which carry no
/// heartbeat), so RS sees the driver stop answering its pings.
fn hang() -> ! {
    let mut msg = Message::new(0);
    loop {
        let _ = rt::ipc::receive(Endpoint::SYSTEM, &mut msg);
    }
}

impl Blk {
    /// A SYSTEM notification outside a request: a late interrupt or alarm,
    /// or finished SENDA entries.
    fn system_event(&mut self, msg: &Message) {
        if msg.payload[NOTIFY_IRQ_WORD] & (1 << VIRTIO_BLK_IRQ) != 0 {
            self.interrupt();
        }
        if msg.payload[SYSTEM_EVENTS_WORD] & EVENT_SENDA_DONE != 0 {
            self.replies.flush();
        }
    }

    /// Acknowledges the device's interrupt, then the line.
    fn interrupt(&mut self) -> u32 {
        let status = self.device.as_ref().map_or(0, Device::ack_interrupt);
        let _ = rt::sys::irqctl(VIRTIO_BLK_IRQ, IRQ_ACK);
        status
    }

    fn serve(&mut self, msg: &Message) -> Result<u64, Error> {
        let w = msg.payload;
        match msg.mtype {
            blockdev::READ | blockdev::WRITE => {
                self.transfer(msg.source, msg.mtype == blockdev::WRITE, w[1], w[2], w[3])
            }
            blockdev::FLUSH => {
                let device = self.device.as_ref().ok_or(Error::Unavailable)?;
                if device.flush {
                    self.run(Op::Flush, &[])?;
                }
                Ok(0)
            }
            blockdev::GEOMETRY => Ok(self.device.as_ref().ok_or(Error::Unavailable)?.capacity_bytes()),
            _ => Err(Error::BadRequest),
        }
    }

    fn transfer(&mut self, client: Endpoint, write: bool, position: u64, grant: u64, len: u64) -> Result<u64, Error> {
        let device = self.device.as_ref().ok_or(Error::Unavailable)?;
        let end = position.checked_add(len).ok_or(Error::Invalid)?;
        if !position.is_multiple_of(VIRTIO_BLK_SECTOR_SIZE)
            || !len.is_multiple_of(VIRTIO_BLK_SECTOR_SIZE)
            || len > MAX_TRANSFER
            || end > device.capacity_bytes()
        {
            return Err(Error::Invalid);
        }
        if len == 0 {
            return Ok(0);
        }
        let sector = position / VIRTIO_BLK_SECTOR_SIZE;
        let op = if write { Op::Write { sector } } else { Op::Read { sector } };
        // The device reads the grant's memory for a disk write and writes
        // it for a disk read.
        let access = if write { GRANT_READ } else { GRANT_WRITE };
        let runs = virtio::runs();
        match self.direct.then(|| rt::sys::grant_phys(client, grant, 0, len, access, runs)) {
            Some(Ok(n)) => {
                let done = self.run(op, &runs[..n]);
                if done.is_err() && !write {
                    Self::clear(client, grant, len);
                }
                return done.map(|()| len);
            }
            // More runs than a chain holds: through the bounce buffer.
            Some(Err(Error::Domain)) | None => {}
            Some(Err(Error::CallDenied)) => self.direct = false,
            // The grant's own faults, as a safe copy would find them.
            Some(Err(e)) => return Err(e),
        }
        self.through_bounce(client, op, grant, len)
    }

    /// [`Self::transfer`] through the bounce buffer and a safe copy. Not
    /// inlined, so the common path's stack frame stays small.
    #[inline(never)]
    fn through_bounce(&mut self, client: Endpoint, op: Op, grant: u64, len: u64) -> Result<u64, Error> {
        let bounce = [self.device.as_ref().ok_or(Error::Unavailable)?.bounce(len)];
        let buffer = &mut virtio::buffer()[..len as usize];
        if matches!(op, Op::Write { .. }) {
            rt::sys::safecopy_from(client, grant, 0, buffer)?;
            self.run(op, &bounce)?;
        } else {
            self.run(op, &bounce)?;
            rt::sys::safecopy_to(client, grant, 0, &virtio::buffer()[..len as usize])?;
        }
        Ok(len)
    }

    /// After a failed read straight into the client's grant: zeroes it,
    /// so pages the kernel gave fresh frames without clearing them
    /// (`GrantPhys`) never show the client a freed frame's old bytes.
    #[cold]
    fn clear(client: Endpoint, grant: u64, len: u64) {
        let zeros = &mut virtio::buffer()[..len as usize];
        zeros.fill(0);
        let _ = rt::sys::safecopy_to(client, grant, 0, zeros);
    }

    /// Runs one request with the data runs `data` on the device and waits
    /// for its completion.
    fn run(&mut self, op: Op, data: &[DmaRange]) -> Result<(), Error> {
        let device = self.device.as_mut().ok_or(Error::Unavailable)?;
        device.submit(op, data);
        // Our device finishes a request within its QueueNotify exit: the
        // used ring already holds it, and the driver asked for no
        // interrupt, so a request costs no kernel call here.
        let result = match device.poll() {
            Some(done) => done,
            None => self.wait()?,
        };
        if self.device.as_ref().is_some_and(Device::needs_reset) {
            rt::println!("blk: the device needs a reset");
            self.reset();
            return Err(Error::Unavailable);
        }
        result
    }

    /// Waits for the request in flight of a device that did not finish it
    /// at once: with its interrupt on and an alarm as the deadline.
    fn wait(&mut self) -> Result<Result<(), Error>, Error> {
        let device = self.device.as_mut().ok_or(Error::Unavailable)?;
        device.set_interrupts(true);
        // A completion between the poll and the line above raised no
        // interrupt.
        if let Some(done) = device.poll() {
            device.set_interrupts(false);
            return Ok(done);
        }
        let ticks = (DEADLINE_MS * rt::kip::tick_hz()).div_ceil(1000).max(1);
        let _ = rt::sys::set_alarm(ticks);
        let mut msg = Message::default();
        let result = loop {
            if rt::ipc::receive(Endpoint::SYSTEM, &mut msg).is_err() {
                continue;
            }
            if msg.payload[SYSTEM_EVENTS_WORD] & EVENT_SENDA_DONE != 0 {
                self.replies.flush();
            }
            if msg.payload[NOTIFY_IRQ_WORD] & (1 << VIRTIO_BLK_IRQ) != 0 {
                self.interrupt();
                if let Some(done) = self.device.as_mut().and_then(Device::poll) {
                    break done;
                }
            }
            if msg.payload[NOTIFY_ALARM_WORD] & NOTIFY_ALARM != 0 {
                // The deadline: a completion whose interrupt went missing,
                // or a stuck device.
                if let Some(done) = self.device.as_mut().and_then(Device::poll) {
                    self.missed_interrupts += 1;
                    rt::println!("blk: completion without an interrupt ({} so far)", self.missed_interrupts);
                    break done;
                }
                rt::println!("blk: the device did not answer in {} ms; resetting it", DEADLINE_MS);
                self.reset();
                return Err(Error::Unavailable);
            }
        };
        let _ = rt::sys::set_alarm(0);
        if let Some(device) = self.device.as_ref() {
            device.set_interrupts(false);
        }
        Ok(result)
    }

    /// Resets the device and sets it up again in the same DMA memory.
    fn reset(&mut self) {
        let dma = self.device.as_ref().map(Device::dma_phys);
        self.device = match Device::open(dma) {
            Ok(d) => Some(d),
            Err(e) => {
                rt::println!("blk: the device did not come back ({}); answering Unavailable", e);
                None
            }
        };
    }
}
