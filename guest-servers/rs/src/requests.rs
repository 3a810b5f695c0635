//! RS's requests (`abi::proto::rs`): LIST, RESTART, STOP, START.
//! LIST is for everyone; the others for administrators (`authorize`).
//!
//! The callers (the `service` utility, test programs) are untrusted: RS
//! answers with SENDNB (in `main`), so a caller that does not wait for its
//! reply cannot block RS. Each request is handled to completion before the
//! reply, so a LIST after a RESTART already shows the new incarnation.

use crate::timers::{ticks_to_ms, Kind};
use crate::Rs;
use crate::{authorize, registry};
use abi::proto::rs::{self as proto_rs, STATE_RESTARTING, STATE_RUNNING, STATE_STOPPED};
use abi::proto::{self, NAME_LEN};
use abi::{Endpoint, Error, Message};

impl Rs {
    /// Handles request `msg`; returns the reply.
    pub fn request(&mut self, msg: &Message, now: u64) -> Message {
        if msg.mtype == proto_rs::LIST {
            return self.list(msg.payload[0]);
        }
        if msg.mtype == proto_rs::COMPLAIN {
            return self.complain(msg, now);
        }
        if msg.mtype == proto_rs::DS_ENDPOINT {
            return self.ds_endpoint(now);
        }
        let mut buf = [0u8; NAME_LEN];
        let name = proto::get_name(msg, 2, &mut buf);
        let verb = match msg.mtype {
            proto_rs::RESTART => Some("restart"),
            proto_rs::STOP => Some("stop"),
            proto_rs::START => Some("start"),
            _ => None,
        };
        if let Some(verb) = verb {
            let pm = self.by_name("pm").map(|i| self.services[i].endpoint).filter(|ep| *ep != Endpoint::NONE);
            if let Err(e) = authorize::check(msg.source, pm, verb, name) {
                return proto::reply_result(Err(e));
            }
        }
        let Some(i) = self.by_name(name) else {
            let known = matches!(msg.mtype, proto_rs::RESTART | proto_rs::STOP | proto_rs::START);
            return proto::reply_result(Err(if known { Error::NoEntry } else { Error::BadRequest }));
        };
        let result = match msg.mtype {
            proto_rs::RESTART => self.restart_on_request(i, msg.source, now),
            proto_rs::STOP => self.stop_on_request(i, msg.source, now),
            proto_rs::START => self.start_on_request(i, msg.source, now),
            _ => Err(Error::BadRequest),
        };
        proto::reply_result(result)
    }

    fn list(&self, index: u64) -> Message {
        let Some(s) = self.services[..self.count].get(index as usize) else {
            return proto::reply_result(Err(Error::NoEntry));
        };
        let mut reply = Message::with_words(proto::REPLY, &[0, u64::from(s.endpoint.0), s.state, s.restarts]);
        proto::put_name(&mut reply, 4, s.name);
        reply
    }

    /// Kills the service (if running) and starts it again at once.
    fn restart_on_request(&mut self, i: usize, by: Endpoint, now: u64) -> Result<u64, Error> {
        let old = self.services[i].endpoint;
        // If the kill is refused the old incarnation already ended; it is
        // forgotten either way (its zombie is reaped and ignored).
        self.kill_current(i);
        self.timers.cancel_all(i);
        let s = &mut self.services[i];
        s.endpoint = Endpoint::NONE;
        s.quick_deaths = 0;
        s.restarts += 1;
        rt::println!(
            "rs: restarting {} (ep {}) at {} ms on request of {} (restart {})",
            s.name,
            old,
            ticks_to_ms(now),
            by,
            s.restarts
        );
        self.start(i, now).map(|()| 0)
    }

    /// Kills the service and holds it down.
    fn stop_on_request(&mut self, i: usize, by: Endpoint, now: u64) -> Result<u64, Error> {
        let old = self.services[i].endpoint;
        let refused = !self.kill_current(i);
        self.timers.cancel_all(i);
        let s = &mut self.services[i];
        s.state = STATE_STOPPED;
        if refused {
            // It ended on its own: `died` sees STOPPED and keeps it down.
        } else {
            s.endpoint = Endpoint::NONE;
        }
        rt::println!("rs: stopped {} (ep {}) at {} ms on request of {}", s.name, old, ticks_to_ms(now), by);
        let name = s.name;
        registry::delete(name);
        Ok(0)
    }

    /// Starts a stopped (or backing-off) service now.
    fn start_on_request(&mut self, i: usize, by: Endpoint, now: u64) -> Result<u64, Error> {
        let s = &mut self.services[i];
        if s.state == STATE_RUNNING || s.endpoint != Endpoint::NONE {
            return Err(Error::Exists);
        }
        debug_assert!(matches!(s.state, STATE_STOPPED | STATE_RESTARTING));
        s.quick_deaths = 0;
        rt::println!("rs: starting {} at {} ms on request of {}", s.name, ticks_to_ms(now), by);
        self.timers.cancel(i, Kind::Restart);
        self.start(i, now).map(|()| 0)
    }
}
