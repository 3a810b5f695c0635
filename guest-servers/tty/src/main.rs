//! TTY: the console driver (COM1) with a line discipline.
//!
//! Requests come from VFS (`abi::proto::dev`) by SENDA and are answered by
//! SENDA ([`replies`]), so neither side can block the other. A READ waits
//! in a bounded FIFO until the line discipline ([`line`]) completes a line,
//! and is acknowledged at once (`dev::ACCEPTED`, MINIX's SUSPEND reply) so
//! that VFS can tell a read waiting for typing from one that was lost;
//! a WRITE is copied out of VFS's grant and written at once. Keyboard input
//! arrives as IRQ 4 notifications ([`uart`]).
//!
//! The driver is restartable. When RS restarts it (after a crash, a kill,
//! or a missed heartbeat) it comes up clean but for the writes it served,
//! which it keeps in a backup RS lends it ([`served`]), and VFS, which
//! learns the new endpoint from DS, sends every unanswered request again
//! with its request id: a write the old instance printed is answered
//! from the record, not printed again. Typed input that was not yet read
//! is lost with the old instance, as on a real terminal whose driver
//! restarts.
#![no_std]
#![no_main]

mod line;
mod misbehave;
mod served;
mod uart;

use abi::notify::{EVENT_SENDA_DONE, SYSTEM_EVENTS_WORD};
use abi::proto::{dev, pm};
use abi::syscall::NOTIFY_IRQ_WORD;
use abi::{Endpoint, Error, Message};
use line::{Echo, Event, Line, Ready};
use rt::senda_queue::SendaQueue;

rt::main!(run);

/// Most reads waiting for input at once (VFS sends at most one per
/// process blocked on the console).
const MAX_READS: usize = 32;
/// Bytes of a WRITE copied and written per kernel call.
const OUT_CHUNK: usize = abi::syscall::DEV_OUT_STRING_MAX as usize;

/// A READ waiting for a line.
#[derive(Clone, Copy)]
struct Read {
    /// Who asked (VFS), and thus who granted the buffer.
    from: Endpoint,
    id: u64,
    grant: u64,
    len: u64,
    /// Arrival order: the oldest read gets the next line.
    seq: u64,
}

struct Tty {
    line: Line,
    ready: Ready,
    echo: Echo,
    reads: [Option<Read>; MAX_READS],
    next_seq: u64,
    replies: SendaQueue,
    out: [u8; OUT_CHUNK],
    /// The last writes served: a WRITE that comes again with an id
    /// already served (a copy of the message, or VFS sending it again to
    /// a restarted driver) is answered again with its result and not
    /// written twice.
    served: served::Served,
    /// Test-only misbehaviour (`tty.misbehave`), off by default.
    misbehave: misbehave::Misbehave,
}

static mut TTY: Tty = Tty {
    line: Line::new(),
    ready: Ready::new(),
    echo: Echo::new(),
    reads: [None; MAX_READS],
    next_seq: 0,
    replies: SendaQueue::new("tty"),
    out: [0; OUT_CHUNK],
    served: served::Served::new(),
    misbehave: misbehave::Misbehave::OFF,
};

fn run() -> i32 {
    // SAFETY: single-threaded; `run` is the only place that borrows TTY,
    // once, for the life of the program (it is static only to keep its
    // buffers out of the 64 KiB stack).
    let tty = unsafe { &mut *(&raw mut TTY) };
    if let Err(e) = uart::init() {
        rt::println!("tty: cannot set up COM1: {}", e);
        return 1;
    }
    tty.echo.on = rt::kip::cmdline_value(abi::platform::CMDLINE_ECHO_KEY) != Some("0");
    // Bytes typed before we enabled the interrupt.
    tty.input();
    tty.misbehave = misbehave::Misbehave::from_cmdline();
    tty.served.start(!rt::kip::weakened(abi::weaken::TTY_BACKUP));
    rt::server::serve(tty)
}

/// TTY in the runtime's server loop: requests are answered later, with
/// SENDA (VFS is trusted but TTY is not, and a reply must never block it).
impl rt::server::Server for Tty {
    fn request(&mut self, msg: &Message) -> rt::server::Answer {
        self.served.restore();
        if matches!(msg.mtype, dev::READ | dev::WRITE | dev::CANCEL) && !abi::proto::request_intact(msg) {
            // Garbled on the way: acted on, it would write the wrong
            // bytes or take the wrong grant. VFS sends it again.
            if msg.mtype != dev::CANCEL {
                self.answer(msg.source, msg.payload[0], Error::BadRequest.to_return());
            }
            return rt::server::Answer::Later;
        }
        match msg.mtype {
            dev::READ => self.read(msg),
            dev::WRITE => {
                self.write(msg);
                self.misbehave.after_write();
            }
            dev::CANCEL => self.cancel(msg),
            _ => {}
        }
        rt::server::Answer::Later
    }

    fn notification(&mut self, msg: &Message) {
        if msg.source == Endpoint::SYSTEM {
            if msg.payload[NOTIFY_IRQ_WORD] & (1 << uart::IRQ) != 0 {
                self.input();
            }
            if msg.payload[SYSTEM_EVENTS_WORD] & EVENT_SENDA_DONE != 0 {
                self.replies.flush();
            }
        }
    }
}

impl Tty {
    /// Answers request `id` of `to` with `result`. A reply that cannot be
    /// queued (VFS has not received for a long while) is lost and said so;
    /// VFS's deadline on the request then gets us restarted.
    fn answer(&mut self, to: Endpoint, id: u64, result: i64) {
        if let Err(e) = self.replies.reply(dev::REPLY, to, id, result) {
            rt::println!("tty: the reply to request {} of {} is lost: {}", id, to, e);
        }
    }

    /// Drains the UART, runs the line discipline, answers reads.
    fn input(&mut self) {
        let mut bytes = [0u8; 64];
        loop {
            let n = uart::drain(&mut bytes);
            if n == 0 {
                // Ack, then look once more: a byte that arrived between the
                // last drain and the ack raises a fresh interrupt only after
                // the ack, so it is never stranded.
                uart::ack();
                if uart::drain(&mut bytes[..1]) == 0 {
                    break;
                }
                self.feed(bytes[0]);
                continue;
            }
            for &b in &bytes[..n] {
                self.feed(b);
            }
        }
        self.echo.flush();
        self.serve();
    }

    fn feed(&mut self, byte: u8) {
        if self.line.feed(byte, &mut self.ready, &mut self.echo) == Event::Interrupt {
            // Reads pending now end; reads made after the ^C wait anew.
            self.echo.flush();
            self.interrupt();
        }
    }

    /// ^C: pending reads end with `Interrupted`; PM signals the foreground.
    fn interrupt(&mut self) {
        for i in 0..MAX_READS {
            if let Some(r) = self.reads[i].take() {
                self.answer(r.from, r.id, Error::Interrupted.to_return());
            }
        }
        let mut m = Message::with_words(pm::SIGNAL_FOREGROUND, &[pm::SIGINT]);
        // PM is trusted: a SENDREC to it cannot hang us. Without PM (a test
        // image) there is nobody to signal.
        let _ = rt::names::call("pm", &mut m);
    }

    /// Gives completed input to the oldest pending reads.
    fn serve(&mut self) {
        while !self.ready.is_empty() {
            let Some(i) = self.oldest() else { return };
            let Some(r) = self.reads[i].take() else { return };
            let want = (r.len as usize).min(OUT_CHUNK);
            let n = self.ready.take(&mut self.out[..want]).unwrap_or(0);
            let result = if n == 0 {
                0
            } else {
                match rt::sys::safecopy_to(r.from, r.grant, 0, &self.out[..n]) {
                    Ok(_) => n as i64,
                    Err(e) => e.to_return(),
                }
            };
            self.answer(r.from, r.id, result);
        }
    }

    fn oldest(&self) -> Option<usize> {
        self.reads.iter().enumerate().filter_map(|(i, r)| r.map(|r| (i, r.seq))).min_by_key(|&(_, s)| s).map(|(i, _)| i)
    }

    fn read(&mut self, msg: &Message) {
        let (id, grant, len) = (msg.payload[0], msg.payload[1], msg.payload[2]);
        if len == 0 {
            self.answer(msg.source, id, 0);
            return;
        }
        let Some(slot) = self.reads.iter().position(|r| r.is_none()) else {
            self.answer(msg.source, id, Error::TooMany.to_return());
            return;
        };
        self.reads[slot] = Some(Read { from: msg.source, id, grant, len, seq: self.next_seq });
        self.next_seq += 1;
        self.serve();
        if self.reads[slot].is_some_and(|r| r.id == id) {
            // It waits for input (for as long as nobody types): tell VFS
            // we have it, so its deadline on the request ends here.
            if let Err(e) = self.replies.reply(dev::ACCEPTED, msg.source, id, 0) {
                rt::println!("tty: the acceptance of request {} of {} is lost: {}", id, msg.source, e);
            }
        }
    }

    fn write(&mut self, msg: &Message) {
        let (id, grant, len) = (msg.payload[0], msg.payload[1], msg.payload[2]);
        if let Some(count) = self.served.find(msg.source, id, grant, len) {
            self.answer(msg.source, id, count as i64);
            return;
        }
        let mut done = 0u64;
        let mut result = 0i64;
        while done < len {
            let n = ((len - done) as usize).min(OUT_CHUNK);
            let copied = rt::sys::safecopy_from(msg.source, grant, done, &mut self.out[..n]);
            // Counted only once it is out: a chunk that did not go out
            // ends the write with what did (or the error).
            match copied.and_then(|_| uart::write(&self.out[..n])) {
                Ok(()) => {
                    done += n as u64;
                    result = done as i64;
                }
                Err(e) => {
                    if done == 0 {
                        result = e.to_return();
                    }
                    break;
                }
            }
        }
        if result >= 0 {
            // Only what went out: a write answered with an error wrote
            // nothing and may be sent again.
            self.served.record(msg.source, id, grant, result as u64);
        }
        self.answer(msg.source, id, result);
    }

    fn cancel(&mut self, msg: &Message) {
        let id = msg.payload[0];
        if let Some(i) = self.reads.iter().position(|r| r.is_some_and(|r| r.id == id && r.from == msg.source)) {
            self.reads[i] = None;
            self.answer(msg.source, id, Error::Interrupted.to_return());
        }
    }
}
