//! Negative controls: switching one defense off.
//!
//! A test that shows an attack failing proves nothing unless the same test
//! shows the attack succeeding when the defense is absent (otherwise the
//! check could not have failed). Every defense against an IPC threat
//! therefore has a name here, and the kernel command-line key
//! [`WEAKEN_KEY`] (`viv.weaken=NAME,NAME`) switches the named defenses off
//! in the kernel and in the servers that read it. Only `viv threats` and
//! tests set it; an ordinary boot has every defense on.
//!
//! Names are plain strings so that a new defense needs one constant here,
//! one check where the defense lives, and one row in `docs/threats.md`.

/// Kernel command-line key whose value is a comma-separated list of
/// defense names (the constants below) to switch off.
pub const WEAKEN_KEY: &str = "viv.weaken";

// ---- kernel defenses -------------------------------------------------------
// The kernel reads these once at boot (`kernel_core::Weakened`); what each
// one lets through is listed in docs/threats-kernel.md.

/// Trap mask: a process may use primitives outside its mask (`ETRAPDENIED`).
pub const TRAP_MASK: &str = "trap_mask";
/// Send mask: a process may send to destinations outside its mask
/// (`ECALLDENIED`).
pub const SEND_MASK: &str = "send_mask";
/// Kernel-call mask: a process may make kernel calls outside its mask
/// (`ECALLDENIED`): a driver could kill RS or power the machine off.
pub const KERNEL_CALL_MASK: &str = "kcall_mask";
/// Kernel-stamped source: a message's `source` is what the sender wrote
/// (spoofing).
pub const SOURCE_STAMP: &str = "source_stamp";
/// Endpoint generation: a stale endpoint reaches the process now in its
/// slot (`EDEADSRCDST`).
pub const ENDPOINT_GENERATION: &str = "endpoint_generation";
/// Deadlock detection: a call closing a cycle of blocked processes blocks
/// for ever (`ELOCKED`).
pub const DEADLOCK: &str = "deadlock";
/// Pointer validation: the kernel accepts user pointers to its own pages
/// (`EFAULT`).
pub const POINTER_CHECK: &str = "pointer_check";
/// Grant checks: a safe copy ignores grantee, rights and bounds (`EPERM`).
pub const GRANT_CHECK: &str = "grant_check";
/// SENDA size bound: SENDA walks tables of any length (`EDOM`).
pub const SENDA_BOUND: &str = "senda_bound";
/// Notification type: a process may send a message typed as a
/// notification (`EINVAL`), posing as one.
pub const NOTIFY_TYPE: &str = "notify_type";
/// Frame reuse: contiguous (DMA) allocations take never-used frames only,
/// so after enough process churn a restarted driver gets no DMA buffer.
pub const FRAME_REUSE: &str = "frame_reuse";

/// Memory quota: the frames of each user but root are bounded
/// (`crate::platform::CMDLINE_USER_FRAMES_KEY`), and user allocations
/// leave `crate::platform::MEMORY_RESERVE_FRAMES` for the system. Off: one
/// user may take every frame, and a driver RS restarts then gets none.
pub const MEMORY_QUOTA: &str = "memory_quota";

/// Dead peers: when a process ends, the kernel wakes every process
/// blocked sending to it (`EDSTDIED`) or receiving from it, a SENDREC's
/// reply wait included (`ESRCDIED`). Off: they stay blocked for ever.
pub const DEAD_PEER: &str = "dead_peer";

/// Every kernel defense name, for tools that list them.
pub const KERNEL_DEFENSES: [&str; 13] = [
    TRAP_MASK,
    SEND_MASK,
    KERNEL_CALL_MASK,
    SOURCE_STAMP,
    ENDPOINT_GENERATION,
    DEADLOCK,
    POINTER_CHECK,
    GRANT_CHECK,
    SENDA_BOUND,
    NOTIFY_TYPE,
    FRAME_REUSE,
    DEAD_PEER,
    MEMORY_QUOTA,
];

// ---- server defenses: identity, authorization and quotas --------------------

/// RS serves STOP, RESTART and START only to an administrator: a process
/// PM knows with uid 0, or a boot process the image names in
/// [`crate::platform::CMDLINE_ADMIN_KEY`]. Off: RS serves them to anyone.
pub const RS_AUTH: &str = "rs_auth";
/// PM's KILL signals only processes of the caller's uid (any but init for
/// uid 0), and only for callers in PM's table. Off: any process may
/// signal any process but init.
pub const PM_KILL_OWNER: &str = "pm_kill_owner";
/// PM's FORK keeps to the per-user and total process limits
/// (`proto::pm::MAX_PROCS_PER_USER`, `proto::pm::MAX_PROCS`), so the
/// kernel slots beyond them stay free for RS. Off: fork until the kernel
/// or PM's table is full.
pub const PM_PROC_QUOTA: &str = "pm_proc_quota";
/// DS names are owned: a service's name is RS's alone (even while the
/// service is down), any other name its first publisher's; only the owner
/// (or RS) may replace or delete it. Off: any process may publish any
/// name for itself and delete any name.
pub const DS_NAMES: &str = "ds_names";
/// DS's per-client limits (`proto::ds::MAX_ENTRIES_PER_CLIENT`,
/// `proto::ds::MAX_SUBSCRIPTIONS_PER_CLIENT`) and the entries reserved for
/// RS (`proto::ds::RESERVED_FOR_RS`). Off: one client may fill the table.
pub const DS_QUOTA: &str = "ds_quota";
/// DS frees the names and subscriptions of clients that have died when it
/// runs out of room (it asks the kernel which endpoints are alive; an
/// endpoint carries a generation, so a dead client's never names a new
/// process). Off: a dead client's names stay until the table is full, and
/// a churn of short-lived publishers fills DS for everyone after them.
pub const DS_RECLAIM: &str = "ds_reclaim";

// ---- server defenses: distrust of drivers and users -------------------------

/// ext2fs checks every reply of the disk driver before using it: it must
/// come from the current `blk` endpoint, carry the id of the outstanding
/// request, and a result that fits the request (READ/WRITE: exactly the
/// length asked; GEOMETRY: a whole number of sectors). A reply that fails
/// is the driver's fault: ext2fs complains to RS and sends the request
/// again to the new instance. Weakened: the first reply from the driver
/// is taken as it comes (any id, any count; a short count is an error for
/// the client, a long one is believed).
pub const BLK_REPLY_CHECK: &str = "blk_reply_check";
/// The disk driver checks every request's check word
/// (`crate::proto::blockdev::request_intact`) and refuses a garbled one
/// with `BadRequest` before it touches the disk, so ext2fs tries again.
/// Weakened: the driver acts on the request as it comes (a flipped bit in
/// a WRITE's position writes the file server's block elsewhere, damaging
/// the file system: the negative control of `vmm/tests/campaign_fsck.rs`).
pub const BLK_REQUEST_CHECK: &str = "blk_request_check";
/// ext2fs gives every request to the disk driver a deadline of
/// `abi::proto::rs::DEADLINE_PERIODS` heartbeat periods of `blk`;
/// when it passes, ext2fs complains to RS, which restarts the driver, and
/// the request goes to the new instance. Weakened: ext2fs waits as it did
/// before (a driver that answers heartbeats but not requests holds every
/// request up to 30 s, then fails it).
pub const BLK_DEADLINE: &str = "blk_deadline";
/// VFS checks every reply of the console driver: a byte count larger than
/// the request is an I/O error for the one caller, and VFS complains to
/// RS, which restarts the driver. Weakened: VFS passes the count on as it
/// comes (the caller's `write_all` then walks past its buffer).
pub const TTY_REPLY_CHECK: &str = "tty_reply_check";
/// VFS gives every WRITE to the console driver a deadline of
/// `abi::proto::rs::DEADLINE_PERIODS` heartbeat periods of `tty`, and resends a request
/// whose SENDA delivery failed; when a deadline passes VFS complains to
/// RS and resends to the new instance, and fails the write with an I/O
/// error after a second deadline. Weakened: VFS waits for the answer
/// however long it takes (a lost request leaves the writer waiting
/// forever).
pub const TTY_DEADLINE: &str = "tty_deadline";
/// VFS sends its requests to the console driver by SENDA, from a table
/// in its own memory, so a driver that never receives cannot block it
/// (the paper's V1). Weakened: VFS sends each request with a blocking
/// SEND, and a console driver that stops receiving (while still
/// answering RS's heartbeats) blocks VFS, and with it every program.
pub const TTY_ASYNC: &str = "tty_async";
/// VFS runs every request that needs the file server on its disk worker
/// (a second stack) and sends the request by SENDA, so while `ext2fs`
/// waits for a faulty disk driver, VFS serves the console, `/tmp`, pipes
/// and PM. Weakened: VFS serves every request in its main loop and waits
/// for `ext2fs`'s answer in a RECEIVE from it (as the SENDREC it used
/// before), and everything behind VFS stalls with the disk.
pub const FS_ASYNC: &str = "fs_async";
/// PM loads an exec's file (its reads through VFS) on its exec worker (a
/// second stack), sending each request without waiting for the answer,
/// so while VFS waits for a faulty disk PM serves every other process's
/// fork, exit, wait, kill and getpid. Weakened: PM loads in its main loop
/// and waits for VFS in a SENDREC, and every PM call of every process
/// stalls with the exec's disk read.
pub const PM_ASYNC: &str = "pm_async";
/// PM answers its clients with SENDNB, so a client that sent a request
/// but does not wait for the reply cannot block PM. Weakened: PM replies
/// with a blocking SEND and waits for such a client for ever (until RS
/// finds PM silent and the system powers off).
pub const PM_REPLY_NB: &str = "pm_reply_nb";
/// A driver's reply queue (`rt::senda_queue`) gives each destination at
/// most three quarters of its table (`rt::senda_queue::PER_DESTINATION`), so a client
/// that never takes its replies cannot fill the queue for the others.
/// Weakened: one destination may take the whole queue; every other
/// client's replies are then lost (reported, `TooMany`) until the client's
/// deadline has the driver restarted.
pub const REPLY_QUOTA: &str = "reply_quota";
/// RS accepts COMPLAIN only from running system services other than the
/// one named. Weakened: anybody may complain (a user program can have a
/// driver killed).
pub const COMPLAIN_AUTH: &str = "complain_auth";

// ---- server defenses: surviving the death of a server ------------------------
// docs/servers-dying.md lists what happens when each server dies.

/// RS heartbeats PM and VFS (their `heartbeat_ms`), so a PM or VFS that
/// hangs is killed and its death handled (a clean power-off: their state
/// cannot be rebuilt). Weakened: RS never pings them, and a hung PM or VFS
/// hangs the system.
pub const SERVER_HEARTBEAT: &str = "server_heartbeat";
/// RS watches DS (kernel-started) and starts a new DS when it dies or
/// stops answering its heartbeat, then publishes every running service in
/// it again and tells the services (`abi::proto::rs::DS_RESTARTED`) so
/// they subscribe again; processes find the new DS by asking RS
/// (`abi::proto::rs::DS_ENDPOINT`). Weakened: a dead DS stays dead, and
/// every name lookup after its death fails.
pub const DS_RESTART: &str = "ds_restart";
/// DS keeps a backup of its table in memory RS lends it
/// (`proto::ds::backup`), and a restarted DS takes back every name whose
/// owner still lives, within the limits. Weakened: DS neither writes nor
/// reads the backup, so a new DS starts empty: the names programs
/// published for themselves are lost (RS publishes the services again),
/// and so is what they count against their limits.
pub const DS_STATE: &str = "ds_state";
/// TTY keeps the writes it has served in a backup RS lends it
/// (`proto::tty::backup`), so a restarted TTY answers a write VFS sends
/// again (its reply was lost after the text went out) with the count its
/// predecessor answered, and prints nothing. Weakened: TTY neither
/// writes nor reads the backup, and such a write is printed twice (the
/// console is at-least-once).
pub const TTY_BACKUP: &str = "tty_backup";
/// RS kills a service that leaves two heartbeat pings unanswered (then
/// restarts it). Weakened: RS still pings but judges nobody, so a hung
/// driver stays hung (the negative control of the `hung-driver` row of
/// `viv threats`, with `blk_deadline` so ext2fs does not complain either).
pub const DRIVER_HEARTBEAT: &str = "driver_heartbeat";
/// RS restarts a service that dies (unless its image entry says
/// `restart = "hold"`). Weakened: RS holds every dead service down, as if
/// each said `restart = "hold"` (the negative control of the
/// `death/tty`, `death/blk` and `death/ext2fs` rows of `viv threats`).
pub const RS_RESTART: &str = "rs_restart";

/// Whether `name` appears in the comma-separated `value` of [`WEAKEN_KEY`].
pub fn is_weakened(value: Option<&str>, name: &str) -> bool {
    value.is_some_and(|v| v.split(',').any(|n| n == name))
}

/// Whether the kernel command line `cmdline` switches defense `name` off.
pub fn weakened_in(cmdline: &str, name: &str) -> bool {
    is_weakened(crate::platform::cmdline_value(cmdline, WEAKEN_KEY), name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_matched_whole() {
        let line = "viv.entry=trap viv.weaken=rs_auth,trap_mask -- echo viv.weaken=x";
        assert!(weakened_in(line, "rs_auth"));
        assert!(weakened_in(line, "trap_mask"));
        assert!(!weakened_in(line, "rs"));
        assert!(!weakened_in(line, "x"));
        assert!(!weakened_in("viv.entry=trap", "rs_auth"));
    }
}
