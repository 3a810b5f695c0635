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

use crate::ipc::reply_receive;
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

/// The reply waiting for the next receive, and the receive buffer.
struct Mailbox {
    msg: Message,
    reply_to: Endpoint,
}

/// The process's one mailbox (programs are single-threaded).
static mut MAILBOX: Mailbox = Mailbox { msg: Message::new(0), reply_to: Endpoint::NONE };

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

/// Sends the waiting reply now (SENDNB), if there is one.
#[inline]
pub fn flush() {
    let m = mailbox();
    if m.reply_to != Endpoint::NONE {
        let to = core::mem::replace(&mut m.reply_to, Endpoint::NONE);
        let _ = crate::ipc::send_nonblocking_now(to, &m.msg);
    }
}

/// Sends the waiting reply, if any, and receives the next message from
/// anyone, in one kernel entry. A refused receive is retried.
pub fn next() -> Message {
    next_reporting(|_, _| {})
}

/// [`next`], telling `failed` of a reply that left and failed.
fn next_reporting(mut failed: impl FnMut(Endpoint, Error)) -> Message {
    loop {
        let m = mailbox();
        let to = core::mem::replace(&mut m.reply_to, Endpoint::NONE);
        let (replied, received) = reply_receive(to, &mut m.msg, Endpoint::ANY);
        if let Err(e) = replied {
            failed(to, e);
        }
        if received.is_ok() {
            return mailbox().msg;
        }
    }
}

/// Serves for ever: every message goes to `server` by kind; replies
/// leave with the next receive.
pub fn serve<S: Server>(server: &mut S) -> ! {
    loop {
        let msg = next_reporting(|to, e| server.reply_failed(to, e));
        dispatch(server, &msg);
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
