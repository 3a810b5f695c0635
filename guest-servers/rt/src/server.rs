//! The one shape of every server loop: receive a message, answer a
//! request now or later, handle notifications, answer RS's heartbeats.
//!
//! Why a framework: the seven servers (rs, ds, pm, vfs, tty, blk, ext2fs)
//! each had a hand-written loop of RECEIVE, dispatch and SENDNB reply.
//! Here the reply to a request answered at once goes out in the same
//! kernel entry as the next RECEIVE (REPLYRECV, `docs/ipc.md`), so a
//! request/reply costs the server one trap instead of two, and every
//! server gets that for free. The reply never blocks: a caller that is
//! not waiting loses it, as with SENDNB (the paper's trust rule).
//!
//! Order of work per message: the handler (or the heartbeat answer), then
//! [`Server::after`] (timers, retries of parked work), then the reply
//! leaves with the next receive. A reply given while another waits sends
//! the waiting one first, and every other IPC wrapper of [`crate::ipc`]
//! sends a waiting reply before its own message: a server's messages keep
//! their order, and a SENDREC to a client whose reply waits cannot be
//! taken for that reply.
//!
//! A message that must arrive (VFS's request to the file server, the file
//! server's answer to VFS: [`send_with_next`]) waits in the same place and
//! leaves the same way, with REPLYRECV_IF_SENT: one kernel entry when the
//! other side waits in RECEIVE, which is the usual case. When it is busy
//! (or gone) nothing is received, and the server's `unsent` hook posts
//! the message otherwise (SENDA) before the loop receives: the sender
//! never blocks, and the message is never lost to a busy receiver.

use crate::ipc::{reply_receive, send_receive};
use abi::notify::is_notification;
use abi::{Endpoint, Error, Message};

/// What a server does with a request.
pub enum Answer {
    /// Reply with this message now (it leaves with the next receive).
    Now(Message),
    /// No reply now: the server answers later itself (a parked call, a
    /// SENDA reply), or must not answer at all.
    Later,
}

/// A server: what it does with each kind of message.
pub trait Server {
    /// A request (not a notification) from `msg.source`.
    fn request(&mut self, msg: &Message) -> Answer;

    /// A notification that is not RS's heartbeat ping or DS news (kernel
    /// events from SYSTEM, DS change notices, RS's view of heartbeat
    /// answers).
    fn notification(&mut self, msg: &Message) {
        let _ = msg;
    }

    /// RS's heartbeat was just answered (or RS announced a new DS): a
    /// server that subscribes to DS renews its subscriptions here.
    fn heartbeat(&mut self) {}

    /// After every message, before the pending reply leaves: timers and
    /// parked work that the message may have unblocked.
    fn after(&mut self) {}

    /// A reply to `to` that left with a receive failed with `error` (the
    /// caller was not waiting, or is gone): it is lost, as the trust rule
    /// wants; a server may say so.
    fn reply_failed(&mut self, to: Endpoint, error: Error) {
        let _ = (to, error);
    }

    /// Whether the runtime answers RS's heartbeat pings for this server
    /// (true for every service; RS itself says false).
    const ANSWERS_HEARTBEATS: bool = true;
}

/// What a server does with a message of [`send_with_next`] that could
/// not leave with the receive: the destination, the message, and the
/// send's error (`NotReady`: the destination is busy).
pub type Unsent = fn(Endpoint, &Message, Error);

/// The message waiting for the next receive, and the receive buffer
/// (first, and aligned to its size: it never straddles a page, which the
/// kernel's fast path requires).
#[repr(C, align(64))]
struct Mailbox {
    msg: Message,
    reply_to: Endpoint,
    /// `Some` when the waiting message must arrive ([`send_with_next`]):
    /// what to do when it cannot leave with the receive.
    unsent: Option<Unsent>,
    /// An `unsent` hook ran since the last receive: the server loop runs
    /// [`Server::after`] before it receives again.
    unsent_ran: bool,
}

/// The process's one mailbox (programs are single-threaded).
static mut MAILBOX: Mailbox =
    Mailbox { msg: Message::new(0), reply_to: Endpoint::NONE, unsent: None, unsent_ran: false };

fn mailbox() -> &'static mut Mailbox {
    // SAFETY: programs are single-threaded, and no caller keeps the
    // reference across another call of this function.
    unsafe { &mut *(&raw mut MAILBOX) }
}

/// Answers `to` with `reply` without blocking; the reply leaves with the
/// next [`next`] (REPLYRECV), or before any other message of this process
/// (the IPC wrappers in [`crate::ipc`] send it first), so replies keep
/// their order and never overtake or follow a later request. A reply
/// already waiting leaves now.
pub fn reply(to: Endpoint, reply: &Message) {
    flush();
    let m = mailbox();
    m.msg = *reply;
    m.reply_to = to;
}

/// Sends `msg` to `to`, which must get it, without ever blocking: with
/// the next [`next`] (REPLYRECV_IF_SENT, one kernel entry with the
/// receive when `to` waits in RECEIVE), or before any other message of
/// this process, as a reply would. When `to` does not take it then,
/// `unsent` gets it before anything is received, to post it by SENDA
/// (or to give up on a destination that is gone). A message already
/// waiting leaves now.
pub fn send_with_next(to: Endpoint, msg: &Message, unsent: Unsent) {
    reply(to, msg);
    mailbox().unsent = Some(unsent);
}

/// Sends the waiting message now (SENDNB), if there is one.
#[inline]
pub fn flush() {
    let m = mailbox();
    if m.reply_to != Endpoint::NONE {
        let to = core::mem::replace(&mut m.reply_to, Endpoint::NONE);
        let sent = crate::ipc::send_nonblocking_now(to, &m.msg);
        if let (Some(unsent), Err(e)) = (m.unsent.take(), sent) {
            run_unsent(unsent, to, e);
        }
    }
}

/// Hands the waiting message, which did not leave, to `unsent`.
fn run_unsent(unsent: Unsent, to: Endpoint, error: Error) {
    let m = mailbox();
    m.unsent_ran = true;
    // A copy: the hook sends by SENDA, whose wrapper looks at the mailbox.
    let msg = m.msg;
    unsent(to, &msg, error);
}

/// Sends the waiting message, if any, and receives the next message from
/// anyone, in one kernel entry. A refused receive is retried.
pub fn next() -> Message {
    loop {
        if let Some(msg) = next_reporting(|_, _| {}) {
            return msg;
        }
    }
}

/// [`next`], telling `failed` of a reply that left and failed; `None`
/// when a message of [`send_with_next`] did not leave (its `unsent` ran,
/// here or in a [`flush`] since the last receive) and nothing was
/// received.
fn next_reporting(mut failed: impl FnMut(Endpoint, Error)) -> Option<Message> {
    loop {
        let m = mailbox();
        if core::mem::replace(&mut m.unsent_ran, false) {
            return None;
        }
        let to = core::mem::replace(&mut m.reply_to, Endpoint::NONE);
        let received = match m.unsent.take() {
            Some(unsent) => match send_receive(to, &mut m.msg, Endpoint::ANY) {
                Ok(received) => received,
                Err(e) => {
                    // Nothing was received: the buffer still holds it.
                    run_unsent(unsent, to, e);
                    continue;
                }
            },
            None => {
                let (replied, received) = reply_receive(to, &mut m.msg, Endpoint::ANY);
                if let Err(e) = replied {
                    failed(to, e);
                }
                received
            }
        };
        if received.is_ok() {
            return Some(mailbox().msg);
        }
    }
}

/// Serves for ever: every message goes to `server` by kind; replies
/// leave with the next receive. [`Server::after`] runs after every
/// message, and after a message of [`send_with_next`] that had to be
/// posted otherwise (what its `unsent` did may have left it work: VFS's
/// worker learns that its request could not be delivered).
pub fn serve<S: Server>(server: &mut S) -> ! {
    loop {
        if let Some(msg) = next_reporting(|to, e| server.reply_failed(to, e)) {
            dispatch(server, &msg);
        }
        // What a hook did until now, this `after` sees; one that runs
        // inside it (a flush) calls for another.
        mailbox().unsent_ran = false;
        server.after();
    }
}

/// Hands one message to `server`; an answer given now is [`reply`]ed.
pub fn dispatch<S: Server>(server: &mut S, msg: &Message) {
    if S::ANSWERS_HEARTBEATS && crate::service::handle_heartbeat(msg) {
        server.heartbeat();
    } else if is_notification(msg) {
        server.notification(msg);
    } else if let Answer::Now(answer) = server.request(msg) {
        reply(msg.source, &answer);
    }
}
