//! Helpers for servers and drivers: answering RS's heartbeat.

use abi::notify::is_notification;
use abi::{Endpoint, Message};

/// RS's endpoint (RS is started by the kernel and listed in the KIP).
pub fn rs() -> Option<Endpoint> {
    crate::kip::endpoint_of("rs")
}

/// True when `msg` is RS's heartbeat ping. Answer it with [`answer_heartbeat`].
pub fn is_heartbeat(msg: &Message) -> bool {
    is_notification(msg) && Some(msg.source) == rs()
}

/// Tells RS we are alive (a NOTIFY: never blocks, coalesces).
pub fn answer_heartbeat() {
    if let Some(rs) = rs() {
        let _ = crate::ipc::notify(rs);
    }
}

/// Handles `msg` if it is a heartbeat; returns true when it was.
pub fn handle_heartbeat(msg: &Message) -> bool {
    if is_heartbeat(msg) {
        answer_heartbeat();
        true
    } else {
        false
    }
}
