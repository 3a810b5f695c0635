//! The IPC primitives.

use crate::sys::trap2;
use abi::syscall::Trap;
use abi::{Endpoint, Error, Message};

fn result(ret: i64) -> Result<(), Error> {
    Error::from_return(ret).map(|_| ())
}

/// SEND: blocks until `dst` takes the message.
pub fn send(dst: Endpoint, msg: &Message) -> Result<(), Error> {
    // SAFETY: the kernel only reads the message.
    result(unsafe { trap2(Trap::Send, dst.0 as u64, msg as *const Message as u64) })
}

/// SENDNB: delivers only if `dst` is waiting, else `Error::NotReady`.
pub fn send_nonblocking(dst: Endpoint, msg: &Message) -> Result<(), Error> {
    // SAFETY: the kernel only reads the message.
    result(unsafe { trap2(Trap::SendNb, dst.0 as u64, msg as *const Message as u64) })
}

/// RECEIVE from `from` (or `Endpoint::ANY`) into `msg`.
pub fn receive(from: Endpoint, msg: &mut Message) -> Result<(), Error> {
    // SAFETY: `msg` is exclusively borrowed for the call.
    result(unsafe { trap2(Trap::Receive, from.0 as u64, msg as *mut Message as u64) })
}

/// SENDREC: sends `msg` to `dst` and receives the reply into `msg`.
pub fn sendrec(dst: Endpoint, msg: &mut Message) -> Result<(), Error> {
    // SAFETY: `msg` is exclusively borrowed for the call.
    result(unsafe { trap2(Trap::SendRec, dst.0 as u64, msg as *mut Message as u64) })
}
