//! DS, the data store (`abi::proto::ds`): a registry of names to an
//! endpoint and a value, with change notifications.
//!
//! RS publishes every service it starts and republishes it after a
//! restart; clients look names up, or subscribe and learn of changes. The
//! protocol keeps DS safe from its clients:
//!
//! * every reply is a SENDNB: a client waits in SENDREC, so the reply lands
//!   at once, and a client that does not wait simply loses its reply: DS
//!   never blocks on anyone;
//! * a change is announced with a NOTIFY (never blocks, coalesces) and the
//!   subscriber pulls what changed with CHECK, so DS buffers one bit per
//!   (subscriber, entry) and no more;
//! * only RS publishes or deletes names for other endpoints: a process may
//!   publish only itself, only over a name that is its own, and never a
//!   service's name (RS's, even while the service is down), so no client
//!   can hijack "vfs";
//! * each client owns a few names and subscriptions at most, and part of
//!   the table is RS's alone, so one client cannot fill DS for the others
//!   or for the services (`store`, docs/security.md);
//! * what a client that died held is freed when room runs out, so a churn
//!   of short-lived publishers cannot fill DS either (`reclaim_dead`).
//!
//! The kernel starts the first DS, not RS; RS watches it all the same
//! (DS answers its heartbeat) and starts a new DS when it dies. The table
//! survives: DS keeps a backup of the names clients published for
//! themselves in memory RS lends it, and a new DS takes back every name
//! whose owner still lives, within the limits (`backup`); RS publishes
//! every service in it again and tells the services, which subscribe
//! again (`guest-servers/rs/src/ds_watch.rs`, docs/servers-dying.md).
#![no_std]
#![no_main]

mod backup;
mod store;

use abi::boot_image::FLAG_SERVICE;
use abi::proto::{self, ds, NAME_LEN};
use abi::weaken::{DS_NAMES, DS_QUOTA, DS_RECLAIM, DS_STATE};
use abi::{Endpoint, Error, Message};
use backup::Backup;
use store::{Caller, Name, Policy, Store};

rt::main!(run);

fn name_at(msg: &Message, word: usize) -> Name {
    let mut buf = [0u8; NAME_LEN];
    buf[..8].copy_from_slice(&msg.payload[word].to_le_bytes());
    buf[8..].copy_from_slice(&msg.payload[word + 1].to_le_bytes());
    buf
}

fn put_raw_name(msg: &mut Message, word: usize, name: &Name) {
    let mut w = [0u8; 8];
    w.copy_from_slice(&name[..8]);
    msg.payload[word] = u64::from_le_bytes(w);
    w.copy_from_slice(&name[8..]);
    msg.payload[word + 1] = u64::from_le_bytes(w);
}

/// NOTIFYs each subscriber in `who`; one that is gone loses its
/// subscriptions.
fn notify_all(store: &mut Store, who: &[Endpoint]) {
    for &ep in who.iter().filter(|e| **e != Endpoint::NONE) {
        if let Err(Error::DeadSrcDst) = rt::ipc::notify(ep) {
            store.unsubscribe_all(ep);
        }
    }
}

/// Whether `name` is the name of a boot-image service: RS's to publish.
fn is_service_name(name: &Name) -> bool {
    let len = name.iter().position(|&b| b == 0).unwrap_or(NAME_LEN);
    let name = core::str::from_utf8(&name[..len]).unwrap_or("");
    rt::kip::program_index(name).is_some_and(|i| rt::kip::program_flags(i) & FLAG_SERVICE != 0)
}

/// Most processes [`reclaim_dead`] (and `backup`) read from the kernel:
/// every process slot the kernel has.
const MAX_PROCESSES: usize = 64;

/// Frees the names and subscriptions of clients that have died; returns
/// whether anything was freed.
///
/// Why DS asks the kernel, and only when it is full: nobody tells DS of a
/// death. PM learns of every exit, but telling DS too would add a message
/// to every exit (and make PM wait on DS) for the few processes that
/// publish. Instead DS checks its owners when a request finds no room:
/// the kernel's process table lists the live endpoints, and an endpoint
/// carries a generation, so a dead client's endpoint never matches the
/// slot's next process. A request that fits costs nothing extra.
fn reclaim_dead(store: &mut Store) -> bool {
    if !store.policy().reclaim {
        return false;
    }
    let mut table = [rt::sys::ProcRecord::default(); MAX_PROCESSES];
    let Ok(n) = rt::sys::proc_info(&mut table) else {
        return false;
    };
    let live = &table[..n];
    let (who, freed) = store.reclaim(|ep| live.iter().any(|r| r.endpoint == ep));
    if freed > 0 {
        rt::println!("ds: freed {} names of clients that died", freed);
    }
    notify_all(store, &who);
    freed > 0
}

/// Runs `op`; when it finds no room, frees what dead clients held and
/// runs it once more.
fn with_room<T>(store: &mut Store, mut op: impl FnMut(&mut Store) -> Result<T, Error>) -> Result<T, Error> {
    match op(store) {
        Err(Error::TooMany) if reclaim_dead(store) => op(store),
        other => other,
    }
}

/// Handles one request; returns the reply.
fn handle(store: &mut Store, msg: &Message) -> Message {
    let caller = Caller { endpoint: msg.source, trusted: Some(msg.source) == rt::service::rs() };
    match msg.mtype {
        ds::PUBLISH => {
            let endpoint = Endpoint(msg.payload[0] as u32);
            let name = name_at(msg, 2);
            let reserved = is_service_name(&name);
            match with_room(store, |s| s.publish(caller, reserved, name, endpoint, msg.payload[1])) {
                Ok(who) => {
                    notify_all(store, &who);
                    proto::reply(0)
                }
                Err(e) => proto::reply_result(Err(e)),
            }
        }
        ds::LOOKUP => match store.lookup(&name_at(msg, 2)) {
            Some(e) => Message::with_words(proto::REPLY, &[0, u64::from(e.endpoint.0), e.value]),
            None => proto::reply_result(Err(Error::NoEntry)),
        },
        ds::SUBSCRIBE => match with_room(store, |s| s.subscribe(caller, name_at(msg, 2))) {
            Ok(pending) => {
                if pending {
                    // The subscriber waits for this reply in SENDREC,
                    // which a notification does not interrupt: the NOTIFY
                    // stays pending until it next receives.
                    let _ = rt::ipc::notify(caller.endpoint);
                }
                proto::reply(0)
            }
            Err(e) => proto::reply_result(Err(e)),
        },
        ds::CHECK => match store.check(caller.endpoint) {
            Some(e) => {
                let mut reply = Message::with_words(proto::REPLY, &[0, u64::from(e.endpoint.0), e.value]);
                put_raw_name(&mut reply, 4, &e.name);
                reply
            }
            None => proto::reply_result(Err(Error::NoEntry)),
        },
        ds::DELETE => match store.delete(caller, &name_at(msg, 2)) {
            Ok(who) => {
                notify_all(store, &who);
                proto::reply(0)
            }
            Err(e) => proto::reply_result(Err(e)),
        },
        _ => proto::reply_result(Err(Error::BadRequest)),
    }
}

/// All of DS's state: the table and its backup.
struct Ds {
    store: Store,
    backup: Backup,
}

/// DS as a server of the runtime's loop: every request is answered at
/// once, after the entries it changed are in the backup; notifications
/// other than RS's heartbeat mean nothing to it.
impl rt::server::Server for Ds {
    fn request(&mut self, msg: &Message) -> rt::server::Answer {
        self.backup.restore(&mut self.store, is_service_name);
        let reply = handle(&mut self.store, msg);
        self.backup.save(&mut self.store);
        // A client that is not waiting for its reply loses it.
        rt::server::Answer::Now(reply)
    }
}

fn run() -> i32 {
    static mut DS: Ds = Ds { store: Store::new(), backup: Backup::new() };
    // SAFETY: the program is single-threaded and this is the only reference
    // to DS (kept in a static: the table is too big for comfort on the
    // 64 KiB stack).
    let ds = unsafe { &mut *(&raw mut DS) };
    ds.store.set_policy(Policy {
        names: !rt::kip::weakened(DS_NAMES),
        quota: !rt::kip::weakened(DS_QUOTA),
        reclaim: !rt::kip::weakened(DS_RECLAIM),
    });
    ds.backup.start(!rt::kip::weakened(DS_STATE));
    rt::server::serve(ds)
}
