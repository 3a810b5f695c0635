//! Test-only misbehaviour: a console driver that stops receiving.
//!
//! The paper's V1 threat is a callee that never receives: a server that
//! sent it a request synchronously would wait for ever. VFS sends to TTY
//! by SENDA for that reason (docs/trust.md); `viv threats` shows it with a
//! driver that goes deaf, and shows VFS blocked when it sends with a
//! blocking SEND instead (`viv.weaken=tty_async`). The kernel
//! command-line key `tty.misbehave=deaf:N` turns it on; without it (every
//! ordinary boot) this module does nothing.
//!
//! `deaf:N`: after serving its Nth WRITE, the driver receives nothing but
//! RS's heartbeats, which it still answers, so RS sees it alive and only
//! VFS's deadline can catch it. Only the first incarnation misbehaves
//! (DS's restart count for `tty` is 0), so a restarted driver serves.

/// Kernel command-line key.
pub const KEY: &str = "tty.misbehave";

/// The parsed mode and the WRITE counter.
pub struct Misbehave {
    /// Go deaf after this many WRITEs (`None`: never).
    deaf_after: Option<u64>,
    writes: u64,
}

impl Misbehave {
    /// No misbehaviour (before the command line is read).
    pub const OFF: Misbehave = Misbehave { deaf_after: None, writes: 0 };

    /// Reads [`KEY`] from the kernel command line.
    pub fn from_cmdline() -> Misbehave {
        let value = rt::kip::cmdline_value(KEY);
        let deaf_after = value.and_then(|v| v.strip_prefix("deaf:")).and_then(|n| n.parse().ok());
        match (value, deaf_after) {
            (None, _) => {}
            (Some(v), Some(_)) => rt::println!("tty: test-only misbehaviour {} is on", v),
            (Some(v), None) => rt::println!("tty: unknown {} mode {:?}; ignored", KEY, v),
        }
        Misbehave { deaf_after, writes: 0 }
    }

    /// Called after each WRITE is served; once the Nth is, the first
    /// incarnation goes deaf and never returns.
    pub fn after_write(&mut self) {
        let Some(n) = self.deaf_after else { return };
        self.writes += 1;
        if self.writes < n {
            return;
        }
        self.deaf_after = None;
        if rt::names::lookup_fresh("tty").is_ok_and(|(_, restarts)| restarts == 0) {
            deaf_forever();
        }
    }
}

/// Receives from RS only, answering its heartbeats, for ever.
fn deaf_forever() -> ! {
    rt::println!("tty: test-only: deaf from now on (heartbeats only)");
    let rs = rt::service::rs().unwrap_or(abi::Endpoint::NONE);
    let mut msg = abi::Message::default();
    loop {
        if rt::ipc::receive(rs, &mut msg).is_ok() {
            rt::service::handle_heartbeat(&msg);
        }
    }
}
