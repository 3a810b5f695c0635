//! The rows of `viv threats`: one attack each, the defense that must stop
//! it, and the switch that removes that defense for the negative control.
//!
//! The threat classes are the paper's (Herder et al., PRDC 2008) and
//! MINIX 3's defenses against them (`docs/threats.md`). Attacks run from
//! the shell: `attack NAME` with an ordinary user's privileges and
//! `attack_drv NAME` with a driver's (`guest-servers/programs/src/attacks.rs`).

use abi::Error;

use super::row::{death, row, Expect, Runner, Threat};
use super::stage::Stage;
use super::stall::StallAt;

/// Every row, in report order.
pub const THREATS: &[Threat] = &[
    row(
        "forbidden-primitive/user",
        "forbidden primitive",
        Runner::User,
        "attack send",
        "trap mask: ordinary programs may only SENDREC",
        Expect::Refused(Error::TrapDenied),
        abi::weaken::TRAP_MASK,
        Expect::Succeeded,
    ),
    row(
        "forbidden-destination/user",
        "unauthorized access: destination",
        Runner::User,
        "attack destination",
        "send mask: a program reaches only the processes its image entry names",
        Expect::Refused(Error::CallDenied),
        abi::weaken::SEND_MASK,
        Expect::DeliveredTo("blk"),
    ),
    row(
        "forbidden-destination/driver",
        "unauthorized access: destination",
        Runner::Driver,
        "attack_drv destination",
        "send mask: a driver reaches only the processes its image entry names",
        Expect::Refused(Error::CallDenied),
        abi::weaken::SEND_MASK,
        Expect::DeliveredTo("blk"),
    ),
    row(
        "forbidden-kernel-call/user",
        "unauthorized access: kernel call",
        Runner::User,
        "attack kernel-call",
        "kernel-call mask: no power-off for programs",
        Expect::Refused(Error::CallDenied),
        abi::weaken::KERNEL_CALL_MASK,
        Expect::PoweredOff(77),
    ),
    row(
        "forbidden-kernel-call/driver",
        "unauthorized access: kernel call",
        Runner::Driver,
        "attack_drv kill-rs",
        "kernel-call mask: a driver may not kill (RS, which nobody restarts)",
        Expect::Refused(Error::CallDenied),
        abi::weaken::KERNEL_CALL_MASK,
        // RS's death powers the machine off with its exit status (killed).
        Expect::PoweredOff(109),
    ),
    row(
        "spoofed-source/user",
        "spoofing: sender identity",
        Runner::User,
        "attack spoof",
        "the kernel stamps the real sender into every message",
        Expect::DefendedBecause("real sender"),
        abi::weaken::SOURCE_STAMP,
        // PM answers the forged sender, so the attacker never hears back.
        Expect::Hung,
    ),
    row(
        "spoofed-source/driver",
        "spoofing: sender identity",
        Runner::Driver,
        "attack_drv spoof",
        "the kernel stamps the real sender into every message",
        Expect::DefendedBecause("real sender"),
        abi::weaken::SOURCE_STAMP,
        Expect::Hung,
    ),
    row(
        "spoofed-notification/user",
        "spoofing: notification",
        Runner::User,
        "attack fake-notify",
        "only the kernel builds notifications: the notification type is refused in sends",
        Expect::Refused(Error::Invalid),
        abi::weaken::NOTIFY_TYPE,
        Expect::Hung,
    ),
    row(
        "spoofed-notification/driver",
        "spoofing: notification",
        Runner::Driver,
        "attack_drv fake-notify",
        "only the kernel builds notifications: the notification type is refused in sends",
        Expect::Refused(Error::Invalid),
        abi::weaken::NOTIFY_TYPE,
        Expect::Hung,
    ),
    row(
        "bad-pointer/user",
        "unauthorized access: memory",
        Runner::User,
        "attack bad-pointer",
        "pointer validation: messages only from the caller's user memory",
        Expect::Refused(Error::Fault),
        abi::weaken::POINTER_CHECK,
        Expect::Succeeded,
    ),
    row(
        "bad-pointer/driver",
        "unauthorized access: memory",
        Runner::Driver,
        "attack_drv bad-pointer",
        "pointer validation: messages only from the caller's user memory",
        Expect::Refused(Error::Fault),
        abi::weaken::POINTER_CHECK,
        Expect::Succeeded,
    ),
    row(
        "foreign-grant/driver",
        "unauthorized access: memory beyond a message",
        Runner::Driver,
        "attack_drv grant",
        "grants: only the grantee may copy, within range and rights",
        Expect::Refused(Error::Perm),
        abi::weaken::GRANT_CHECK,
        Expect::Succeeded,
    ),
    row(
        "foreign-grant-dma/driver",
        "unauthorized access: memory beyond a message, by DMA",
        Runner::Driver,
        "attack_drv grant-dma",
        "grant_phys (a grant's physical ranges, for a driver's DMA) checks the grant as a safe copy does",
        Expect::Refused(Error::Perm),
        abi::weaken::GRANT_CHECK,
        Expect::Succeeded,
    ),
    row(
        "ds-backup/driver",
        "unauthorized access: another server's state",
        Runner::Driver,
        "attack_drv ds-backup",
        "DS's backup in RS's memory is granted to the current DS alone",
        Expect::Refused(Error::Perm),
        abi::weaken::GRANT_CHECK,
        Expect::Succeeded,
    ),
    row(
        "tty-backup/driver",
        "unauthorized access: another server's state",
        Runner::Driver,
        "attack_drv tty-backup",
        "TTY's backup of served writes in RS's memory is granted to the current TTY alone",
        Expect::Refused(Error::Perm),
        abi::weaken::GRANT_CHECK,
        Expect::Succeeded,
    ),
    row(
        "senda-flood/driver",
        "resource exhaustion",
        Runner::Driver,
        "attack_drv senda-flood",
        "SENDA tables are bounded (and live in the sender's memory)",
        Expect::Refused(Error::Domain),
        abi::weaken::SENDA_BOUND,
        Expect::Succeeded,
    ),
    row(
        "deadlock/driver",
        "deadlock",
        Runner::Driver,
        "attack_drv deadlock",
        "cycle detection over blocked sends and receives",
        Expect::Refused(Error::Locked),
        abi::weaken::DEADLOCK,
        Expect::Hung,
    ),
    row(
        "stale-endpoint/driver",
        "stale identity after a restart",
        Runner::Driver,
        "attack_drv stale-endpoint",
        "endpoints carry a generation: an old one no longer names the slot's new process",
        Expect::Refused(Error::DeadSrcDst),
        abi::weaken::ENDPOINT_GENERATION,
        Expect::Succeeded,
    ),
    // ---- blocking IPC: who may wait on whom (docs/trust.md) ---------------
    row(
        "reply-not-taken/driver",
        "a client that never takes its reply",
        Runner::Driver,
        "attack_drv reply-not-taken",
        "servers reply with SENDNB: a reply nobody waits for is dropped (ENOTREADY), the server goes on",
        Expect::DefendedWith("went on", Error::NotReady),
        abi::weaken::PM_REPLY_NB,
        // PM waits for the child for ever; RS finds PM silent and the
        // system powers off (PM cannot be restarted).
        Expect::WorkloadBroken,
    ),
    row(
        "peer-death/driver",
        "a peer dying mid-IPC",
        Runner::Driver,
        "attack_drv peer-death",
        "the kernel ends every call blocked on a dying process: EDSTDIED (sending), ESRCDIED (receiving)",
        Expect::Refused(Error::DstDied),
        abi::weaken::DEAD_PEER,
        Expect::Hung,
    ),
    Threat {
        stage: Stage::Attackers,
        name: "deaf-driver/driver",
        class: "V1: a callee that never receives (but answers heartbeats)",
        runner: Runner::Driver,
        keys: "tty.misbehave=deaf:1",
        command: "true",
        defense: "VFS sends to the console driver by SENDA, so a driver that never receives cannot block it; \
                  the write's deadline has RS restart the driver, and VFS sends the write again",
        defended: Expect::Recovered("tty"),
        weaken: abi::weaken::TTY_ASYNC,
        // VFS blocks in its SEND, and every program with it.
        undefended: Expect::WorkloadBroken,
    },
    Threat {
        stage: Stage::Attackers,
        name: "hung-driver/driver",
        class: "V2: a driver that stops answering, heartbeats included",
        runner: Runner::Driver,
        keys: "blk.misbehave=hang:1",
        command: "true",
        defense: "RS kills a driver that leaves 2 heartbeat pings unanswered and restarts it \
                  (before ext2fs's request deadline of 2 periods passes); ext2fs sends the request again",
        defended: Expect::RestartedForSilence("blk"),
        // RS judges nobody and ext2fs never complains: the driver stays
        // hung, and the workload with it.
        weaken: "driver_heartbeat,blk_deadline",
        undefended: Expect::WorkloadBroken,
    },
    row(
        "unknown-trap/user",
        "bad request: an unknown trap number",
        Runner::User,
        "attack unknown-trap",
        "the kernel refuses a trap number it does not know with EBADREQUEST, traced with that result",
        Expect::Refused(Error::BadRequest),
        "",
        Expect::NoControl(
            "an unknown trap has no handler to switch on; the kernel's own checks have controls in docs/threats-kernel.md",
        ),
    ),
    row(
        "unknown-trap/driver",
        "bad request: an unknown trap number",
        Runner::Driver,
        "attack_drv unknown-trap",
        "the kernel refuses a trap number it does not know with EBADREQUEST, traced with that result",
        Expect::Refused(Error::BadRequest),
        "",
        Expect::NoControl(
            "an unknown trap has no handler to switch on; the kernel's own checks have controls in docs/threats-kernel.md",
        ),
    ),
    row(
        "unknown-kcall/driver",
        "bad request: an unknown kernel call number",
        Runner::Driver,
        "attack_drv unknown-kcall",
        "the kernel refuses a kernel call number it does not know with EBADREQUEST (before the kernel-call mask), \
         traced as the kernel call with that result",
        Expect::Refused(Error::BadRequest),
        "",
        Expect::NoControl(
            "an unknown kernel call has no handler to switch on; the kernel's own checks have controls in docs/threats-kernel.md",
        ),
    ),
    row(
        "notify-flood/user",
        "resource exhaustion: notifications",
        Runner::User,
        "attack notify-flood",
        "trap mask: ordinary programs may not NOTIFY at all",
        Expect::Refused(Error::TrapDenied),
        abi::weaken::TRAP_MASK,
        // PM takes the hundred notifications (and ignores them).
        Expect::Succeeded,
    ),
    row(
        "notify-flood/driver",
        "resource exhaustion: notifications",
        Runner::Driver,
        "attack_drv notify-flood",
        "a pending notification is one bit per source: a hundred notifications to a busy process cost the kernel \
         no memory and arrive as one (no lost wakeup)",
        Expect::DefendedBecause("arrived as one"),
        "",
        Expect::NoControl(
            "the pending bit is the only representation of a notification (no queue to switch on); \
             kernel-core's repeated_notifies_coalesce_into_one_pending_bit tests the bit",
        ),
    ),
    // ---- servers: identity, authorization, quotas (docs/security.md) ------
    row(
        "service-control/user",
        "unauthorized access: service control",
        Runner::User,
        "service restart tty && echo attack-got-through",
        "RS restarts, stops and starts services for the administrator only",
        Expect::LineAndRefusal("service: restart tty: permission denied (administrators only)", Error::Perm),
        abi::weaken::RS_AUTH,
        Expect::Line("attack-got-through"),
    ),
    row(
        "kill-others/user",
        "unauthorized access: processes",
        Runner::UserBesideRoot,
        "attack_auth as 1000 kill 2",
        "PM lets a user kill only its own processes",
        Expect::LineAndRefusal("attack_auth: kill 2 refused: permission denied", Error::Perm),
        abi::weaken::PM_KILL_OWNER,
        Expect::Line("attack_auth: killed 2"),
    ),
    row(
        "name-takeover/user",
        "spoofing: service names",
        Runner::User,
        "attack_auth claim vfs",
        "DS: a service's name is RS's; other names their first publisher's",
        Expect::LineAndRefusal("attack_auth: claim vfs refused: permission denied", Error::Perm),
        abi::weaken::DS_NAMES,
        Expect::Line("attack_auth: vfs is now mine"),
    ),
    row(
        "ds-fill/user",
        "resource exhaustion: names",
        Runner::User,
        "attack_auth fill; attack_auth claim mine",
        "DS: at most 4 names per client, and room kept for RS",
        Expect::LineAndRefusal(
            "attack_auth: published 4 names, then: too many open files or processes",
            Error::TooMany,
        ),
        // With the quota off the filler's names are its own until it
        // exits; DS would then free them for the next claim.
        "ds_quota,ds_reclaim",
        Expect::Line("attack_auth: claim mine refused: too many open files or processes"),
    ),
    row(
        "ds-churn/user",
        "resource exhaustion: names of the dead",
        Runner::User,
        "attack_auth fill; attack_auth fill; attack_auth fill; attack_auth fill; attack_auth fill; attack_auth fill; attack_auth fill; attack_auth fill; attack_auth fill; attack_auth fill; attack_auth fill; attack_auth claim mine",
        "DS frees the names of clients that died when it runs out of room",
        Expect::Line("attack_auth: mine is now mine"),
        abi::weaken::DS_RECLAIM,
        // Eleven publishers of 4 names each, all gone: their 44 names fill
        // the 40 entries clients may hold.
        Expect::Line("attack_auth: claim mine refused: too many open files or processes"),
    ),
    Threat {
        stage: Stage::Attackers,
        name: "fork-bomb/user",
        class: "resource exhaustion: processes, then a driver failure",
        runner: Runner::UserBesideRoot,
        // The disk driver hangs on the workload's first WRITE, while the
        // bomb's children still squat in every process slot they got.
        keys: "blk.misbehave=hang:1",
        command: "attack_auth as 1000 forkbomb",
        defense: "PM: at most 16 processes per user, slots kept for services: RS restarts the hung disk driver \
                  while the bomb's children hold their quota, and root's disk workload goes on",
        defended: Expect::RefusedThenRestarted(
            "attack_auth: forked 15 children, then: too many open files or processes",
            Error::TooMany,
            "blk",
        ),
        weaken: abi::weaken::PM_PROC_QUOTA,
        // The children take every slot that frees up: root's shell cannot
        // fork the workload's commands (nor could RS start a driver).
        undefended: Expect::WorkloadBroken,
    },
    // ---- drivers are not trusted (docs/trust.md) -------------------------
    Threat {
        stage: Stage::Attackers,
        name: "silent-driver/driver",
        class: "V2: a driver that never replies (but answers heartbeats)",
        runner: Runner::Driver,
        keys: "blk.misbehave=silent:1",
        command: "true",
        defense: "ext2fs gives each disk request a deadline of 2 heartbeat periods, complains to RS, resends",
        defended: Expect::Recovered("blk"),
        weaken: abi::weaken::BLK_DEADLINE,
        undefended: Expect::WorkloadBroken,
    },
    Threat {
        stage: Stage::Attackers,
        name: "disk-stall/vfs-serves-others",
        class: "V2 once removed: a driver that answers heartbeats but not requests holds up the file server",
        runner: Runner::Driver,
        keys: StallAt::Vfs.workload().0,
        command: StallAt::Vfs.workload().1,
        defense: "VFS runs disk requests on its disk worker (a second stack): the console, /tmp and PM's calls \
                  are answered while ext2fs waits for the driver",
        defended: Expect::ServedDuringStall(StallAt::Vfs),
        weaken: abi::weaken::FS_ASYNC,
        // VFS waits for ext2fs in its loop: PM's exit call waits too.
        undefended: Expect::WaitedForStall(StallAt::Vfs),
    },
    Threat {
        stage: Stage::Attackers,
        name: "disk-stall/pm-serves-others",
        class: "V2 twice removed: the stalled file server holds up an exec, and with it PM",
        runner: Runner::Driver,
        keys: StallAt::Pm.workload().0,
        command: StallAt::Pm.workload().1,
        defense: "PM loads an exec's file on its exec worker (a second stack): other processes' forks, sleeps \
                  and exits are served while the exec's read waits for the disk",
        defended: Expect::ServedDuringStall(StallAt::Pm),
        weaken: abi::weaken::PM_ASYNC,
        // PM waits for the read in a SENDREC: a sleep due meanwhile is
        // answered only after the stall.
        undefended: Expect::WaitedForStall(StallAt::Pm),
    },
    Threat {
        stage: Stage::Attackers,
        name: "wrong-id-reply/driver",
        class: "garbage from a driver: a reply to a request never sent",
        runner: Runner::Driver,
        keys: "blk.misbehave=wrong-id:1",
        command: "true",
        defense: "ext2fs checks every reply's sender, id and size (and its deadline catches what slips by)",
        defended: Expect::Recovered("blk"),
        weaken: "blk_reply_check,blk_deadline",
        // The request is failed only after 30 s of guest time.
        undefended: Expect::Slower(2_000),
    },
    Threat {
        stage: Stage::Attackers,
        name: "wrong-count-reply/driver",
        class: "garbage from a driver: a wrong byte count",
        runner: Runner::Driver,
        keys: "blk.misbehave=bad-count:r1",
        command: "true",
        defense: "ext2fs checks every reply's byte count against its request",
        defended: Expect::Recovered("blk"),
        weaken: abi::weaken::BLK_REPLY_CHECK,
        undefended: Expect::WorkloadBroken,
    },
    row(
        "reply-flood/disk-client",
        "resource exhaustion: a driver's reply queue",
        Runner::DiskClient,
        "attack_disk reply-flood",
        "drivers reply by SENDA from a bounded queue (never blocking); one client may hold at most three quarters of its table, \
         the rest is refused (TooMany) and reported, and the other clients' replies still go out",
        Expect::DefendedBecause("kept serving"),
        abi::weaken::REPLY_QUOTA,
        // The flood fills the queue, the file system's replies are lost,
        // and its deadline has RS restart the driver.
        Expect::Succeeded,
    ),
    row(
        "forged-complaint/user",
        "unauthorized access: having a driver killed",
        Runner::User,
        "complainer blk",
        "RS takes complaints only from system services that depend on the driver",
        Expect::LineAndRefusal("", Error::CallDenied),
        abi::weaken::COMPLAIN_AUTH,
        Expect::Restarted("blk"),
    ),
    // ---- the death of each server (docs/servers-dying.md) -----------------
    death(
        "death/rs",
        "killer.target=rs",
        "true",
        "nobody can restart RS: the kernel powers off with RS's exit status (killed: 109)",
        Expect::DiedAndPoweredOff { status: abi::syscall::EXIT_STATUS_KILLED, synced: false },
        "",
        Expect::NoControl("the power-off is the outcome by design (MINIX 3 cannot restart RS either)"),
    ),
    death(
        "death/ds",
        "killer.target=ds",
        "true",
        "RS starts a new DS, which takes back its table from the backup RS lends it; RS publishes every service in it again; servers subscribe again",
        Expect::Restarted("ds"),
        abi::weaken::DS_RESTART,
        Expect::WorkloadBroken,
    ),
    death(
        "death/pm",
        "killer.target=pm",
        "true",
        "PM's table cannot be rebuilt: the new PM syncs the disk and powers off with 116",
        Expect::DiedAndPoweredOff { status: abi::platform::STATUS_PM_DIED, synced: true },
        "",
        Expect::NoControl("the clean power-off is the outcome by design (MINIX 3 cannot restart PM either)"),
    ),
    death(
        "death/vfs",
        "killer.target=vfs",
        "true",
        "VFS's descriptors cannot be rebuilt: the new VFS syncs the disk and powers off with 117",
        Expect::DiedAndPoweredOff { status: abi::platform::STATUS_VFS_DIED, synced: true },
        "",
        Expect::NoControl("the clean power-off is the outcome by design (MINIX 3 cannot restart VFS either)"),
    ),
    death(
        "death/tty",
        "killer.target=tty",
        "true",
        "RS restarts the console driver at once; VFS sends unanswered writes to the new one",
        Expect::Restarted("tty"),
        abi::weaken::RS_RESTART,
        Expect::WorkloadBroken,
    ),
    death(
        "death/blk",
        "killer.target=blk",
        "true",
        "RS restarts the disk driver at once; ext2fs sends the request in flight again",
        Expect::Restarted("blk"),
        abi::weaken::RS_RESTART,
        Expect::WorkloadBroken,
    ),
    death(
        "death/ext2fs",
        "killer.target=ext2fs",
        "{workload}; echo ext2fs-serves-again > /threat-c; cat /threat-c",
        "RS restarts ext2fs, which mounts the disk again; the call in flight and unsynced writes are lost",
        Expect::RestartedThen("ext2fs", "ext2fs-serves-again"),
        abi::weaken::RS_RESTART,
        Expect::Missing("ext2fs-serves-again"),
    ),
    // ---- bounded frames: a driver restarted after churn --------------------
    Threat {
        name: "frame-churn-then-blk-dies/driver",
        stage: Stage::Churn,
        class: "resource exhaustion: physical memory, then a driver restart",
        runner: Runner::Churner,
        keys: super::stage::CHURN_KEY,
        command: "",
        defense: "freed frames are reused for contiguous allocations: the restarted driver gets its DMA buffer",
        // Every check of the probe passed: the churn used up the
        // never-used frames, and the new driver served the disk.
        defended: Expect::RestartedThen("blk", "blk_probe: done, 0 failed"),
        weaken: abi::weaken::FRAME_REUSE,
        undefended: Expect::Line("blk: cannot set up the virtio-blk device (ENOMEM); exiting"),
    },
    // ---- bounded frames per user: a driver restarted after a memory hog ---
    Threat {
        name: "memory-hog/user",
        stage: Stage::SmallAttackers,
        class: "resource exhaustion: physical memory, then a driver restart",
        runner: Runner::UserBesideRoot,
        keys: "",
        command: "attack_auth as 1000 hog; service restart blk",
        defense: "the kernel charges every frame to its user: a user gets at most its quota (the threats image: \
                  2048 frames), and a reserve stays for the system",
        defended: Expect::Restarted("blk"),
        weaken: abi::weaken::MEMORY_QUOTA,
        // The hog takes every frame: the next process that needs a page
        // (the shell, VFS, a restarted blk) gets none.
        undefended: Expect::WorkloadBroken,
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_every_control_shows_the_attack() {
        for (i, a) in THREATS.iter().enumerate() {
            assert_eq!(a.weaken.is_empty(), !a.has_control(), "{}: a switch exactly when a control", a.name);
            assert!(
                matches!(
                    a.undefended,
                    Expect::Succeeded
                        | Expect::PoweredOff(_)
                        | Expect::Hung
                        | Expect::Line(_)
                        | Expect::Missing(_)
                        | Expect::Restarted(_)
                        | Expect::WorkloadBroken
                        | Expect::DeliveredTo(_)
                        | Expect::Slower(_)
                        | Expect::WaitedForStall(_)
                        | Expect::NoControl(_)
                ),
                "{}: the control must show the attack getting through",
                a.name
            );
            assert!(THREATS[i + 1..].iter().all(|b| b.name != a.name), "{} twice", a.name);
        }
    }
}
