//! Publishing services in DS.
//!
//! RS is the only process DS lets publish names for other endpoints. It
//! publishes a service at every start (value = its restart count, so a
//! subscriber can tell incarnations apart) and deletes it when the service
//! is held down, so callers stop finding a dead endpoint. DS is trusted
//! (started by the kernel, replies at once), so RS may SENDREC it.

use abi::proto::{self, ds};
use abi::{Endpoint, Message};

fn call(msg: &mut Message, what: &str, name: &str) {
    let result = rt::names::ds().and_then(|ds| rt::ipc::sendrec(ds, msg)).and_then(|()| proto::result_of(msg));
    // A dead DS is replaced by `ds_watch` at its next ping or query, and the
    // new one gets every running service again: nothing to retry here.
    if let Err(e) = result {
        rt::println!("rs: cannot {} {} in DS: {:?}", what, name, e);
    }
}

/// Publishes `name` → `endpoint` with `value`.
pub fn publish(name: &str, endpoint: Endpoint, value: u64) {
    let mut msg = Message::with_words(ds::PUBLISH, &[u64::from(endpoint.0), value]);
    proto::put_name(&mut msg, 2, name);
    call(&mut msg, "publish", name);
}

/// Deletes `name` (a missing entry is fine: nothing to delete).
pub fn delete(name: &str) {
    let mut msg = Message::new(ds::DELETE);
    proto::put_name(&mut msg, 2, name);
    let result = rt::names::ds().and_then(|ds| rt::ipc::sendrec(ds, &mut msg)).and_then(|()| proto::result_of(&msg));
    if let Err(e) = result.map(|_| ()) {
        if e != abi::Error::NoEntry {
            rt::println!("rs: cannot delete {} in DS: {:?}", name, e);
        }
    }
}
