//! RS, the reincarnation server: starts the services of the boot image
//! (programs with `abi::boot_image::FLAG_SERVICE`) with their privileges,
//! publishes them in DS, heartbeats those with a period, and restarts a
//! service that crashes, is killed, or stays silent for two periods.
//!
//! Heartbeat: RS NOTIFYs a service every period; the service answers with a
//! NOTIFY back to RS (the runtime does this for servers:
//! `rt::service::is_heartbeat`). A service that has not answered for two
//! periods is killed and restarted.
//!
//! A service that answers heartbeats but stops serving is caught by the
//! servers that depend on it: they COMPLAIN when a request's deadline
//! passes or a reply cannot be right, and RS kills and restarts it.
//!
//! Restart policy: the first restart is immediate; a service that dies
//! again within [`BACKOFF_WINDOW_MS`] of being started waits
//! `BACKOFF_BASE_MS << n` (capped at [`BACKOFF_MAX_MS`]) before the next
//! start, so a crash loop cannot starve the rest of the system. With
//! `restart = "hold"` (`FLAG_RESTART_HOLD`) a dead service stays down.

super::message_types! {
    /// List: `payload[0]` = index (0, 1, …). Reply: `[0, endpoint, state,
    /// restarts, name (words 4-5)]`, or `NoEntry` past the last service.
    LIST = 0x200 => "rs.list";
    /// Restart: name in words 2-3. Kills the service (if running) and starts
    /// it again at once. Reply: 0 or `NoEntry`.
    ///
    /// RESTART, STOP and START are for administrators only (`Perm` for anyone
    /// else, checked before the name): a process PM knows with uid 0
    /// (`pm::UID_OF` of the request's kernel-stamped source), or a boot
    /// process the image names in `platform::CMDLINE_ADMIN_KEY`. Servers and
    /// drivers have no uid, so they are refused too (`abi::weaken::RS_AUTH`).
    /// LIST is for everyone.
    RESTART = 0x201 => "rs.restart";
    /// Stop: name in words 2-3. Kills the service and holds it down. Reply: 0
    /// or `NoEntry`.
    STOP = 0x202 => "rs.stop";
    /// Start: name in words 2-3. Starts a stopped service. Reply: 0,
    /// `NoEntry`, or `Exists` when it is running.
    START = 0x203 => "rs.start";

    /// Complain: a system server reports that a service it depends on is
    /// misbehaving (a request's deadline passed, or a reply failed the
    /// server's checks). `payload[0]` = the endpoint of the incarnation
    /// complained about, name in words 2-3. RS kills that incarnation and
    /// applies its restart policy, as for a missed heartbeat. Only a running
    /// system service other than the one named may complain (else
    /// `CallDenied`); a complaint about an incarnation that is no longer the
    /// current one is answered 1 and changes nothing (it was already
    /// replaced); 0 means killed and restarted (or scheduled to be). This is
    /// MINIX 3's "defects detected by dependent components": the driver may
    /// keep answering heartbeats while it no longer serves anybody.
    COMPLAIN = 0x204 => "rs.complain";

    /// Where is DS: no arguments. Reply: `[0, endpoint of DS's current
    /// incarnation]`. For everyone. The kernel starts DS, and its boot endpoint
    /// (in the KIP) is where every process looks first; after RS started a new
    /// DS that endpoint is dead (`EDEADSRCDST`), and the runtime asks RS here
    /// (`rt::names`). RS checks DS is alive before it answers, and starts a new
    /// one first when it is not, so the answer is never a DS RS knows is dead.
    DS_ENDPOINT = 0x205 => "rs.ds_endpoint";
    /// RS to a service, after RS started a new DS: `payload[0]` = the new DS's
    /// endpoint. The new DS's table holds only what RS published again (every
    /// running service); a service that subscribed to names or published its
    /// own must do so again. Sent with SENDNB (RS never blocks on a service),
    /// again at each heartbeat ping until it lands; the runtime handles it with
    /// the heartbeat (`rt::service::handle_heartbeat`) and counts it
    /// (`rt::names::ds_generation`). Never answered.
    DS_RESTARTED = 0x206 => "rs.ds_restarted";
}

/// How many heartbeat periods of a driver a dependent server waits for
/// the answer to one request before it complains. Two periods is what RS
/// itself allows a service to leave its pings unanswered, so a driver
/// that stops serving is caught about as fast as one that stops answering
/// heartbeats: detected after two periods, restarted at once.
pub const DEADLINE_PERIODS: u64 = 2;

/// Service state: running.
pub const STATE_RUNNING: u64 = 1;
/// Service state: dead, waiting for its (backed-off) restart.
pub const STATE_RESTARTING: u64 = 2;
/// Service state: stopped (hold policy, or `service stop`).
pub const STATE_STOPPED: u64 = 3;

/// A service that dies within this long after starting counts as crash
/// looping.
pub const BACKOFF_WINDOW_MS: u64 = 1000;
/// First backoff delay.
pub const BACKOFF_BASE_MS: u64 = 100;
/// Longest backoff delay.
pub const BACKOFF_MAX_MS: u64 = 3200;

/// The state's name for listings.
pub const fn state_name(state: u64) -> &'static str {
    match state {
        STATE_RUNNING => "running",
        STATE_RESTARTING => "restarting",
        STATE_STOPPED => "stopped",
        _ => "unknown",
    }
}
