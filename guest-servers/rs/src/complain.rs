//! COMPLAIN (`abi::proto::rs::COMPLAIN`): a dependent server reports a
//! service that no longer serves it.
//!
//! Why: heartbeats catch a service that stops answering RS, not one that
//! keeps answering RS while it ignores or garbles its clients' requests.
//! Only the clients can see that (MINIX 3: defects detected by dependent
//! components), so a system server whose request to a driver missed its
//! deadline, or got a reply that cannot be right, complains here, and RS
//! treats the driver as if it had missed its heartbeats: kill, then the
//! restart policy (immediate, or backed off when it keeps dying).
//!
//! Who may complain: only the current incarnation of a running system
//! service (one in RS's table), and not about itself; a user program's
//! complaint is refused with `CallDenied`, so users cannot have drivers
//! killed. The complaint names the incarnation it is about, so a late
//! complaint about an instance RS already replaced kills nobody.

use crate::services::Death;
use crate::Rs;
use abi::proto::rs::STATE_RUNNING;
use abi::proto::{self, NAME_LEN};
use abi::{Endpoint, Error, Message};

impl Rs {
    /// Handles COMPLAIN `msg` at `now`; returns the reply.
    pub fn complain(&mut self, msg: &Message, now: u64) -> Message {
        proto::reply_result(self.complaint(msg, now))
    }

    fn complaint(&mut self, msg: &Message, now: u64) -> Result<u64, Error> {
        let mut buf = [0u8; NAME_LEN];
        let name = proto::get_name(msg, 2, &mut buf);
        let i = self.by_name(name).ok_or(Error::NoEntry)?;
        let complainer = self.by_endpoint(msg.source);
        if !self.complain_unchecked && complainer.is_none_or(|c| c == i) {
            rt::println!(
                "rs: complaint about {} from {} refused: not a system service that depends on it",
                name,
                msg.source
            );
            return Err(Error::CallDenied);
        }
        let accused = Endpoint(msg.payload[0] as u32);
        let s = self.services[i];
        if s.state != STATE_RUNNING || s.endpoint == Endpoint::NONE || s.endpoint != accused {
            return Ok(1); // that incarnation is already gone or replaced
        }
        rt::println!("rs: {} (ep {}) complained about by {}; killing it", s.name, s.endpoint, msg.source);
        if self.kill_current(i) {
            self.died(i, accused, Death::Complained, now);
        }
        // Else it ended on its own meanwhile: its exit is reaped and handled
        // like any other.
        Ok(0)
    }
}
