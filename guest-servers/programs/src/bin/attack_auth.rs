//! Attacker (`images/threats`, docs/security.md): the identity,
//! authorization and quota threats, one subcommand each.
//!
//! ```text
//! attack_auth [as UID] forkbomb   fork until refused
//! attack_auth [as UID] kill PID   signal (TERM) process PID
//! attack_auth [as UID] claim NAME publish NAME in DS for itself, over its owner
//! attack_auth [as UID] fill       publish names in DS until refused
//! attack_auth [as UID] keep       fill, wait for a new DS, check the names
//! attack_auth [as UID] hog [release]  take memory until refused, and keep it
//! ```
//!
//! `as UID` first becomes user UID (only uid 0 may switch), so a root
//! shell can attack as a user and still act as root afterwards.
//!
//! forkbomb: forks until PM refuses, reports how many children it got and
//! exits. Each child sleeps and tries to fork again every [`SQUAT_MS`], so
//! any slot that frees up (a restarted driver's old incarnation, a finished
//! command) is taken at once: the attack that leaves RS no slot to restart
//! a driver in. PM's per-user limit stops it at
//! `abi::proto::pm::MAX_PROCS_PER_USER` processes (`viv.weaken=pm_proc_quota`
//! lets it fill the machine).
//!
//! kill: PM lets a user signal only its own processes
//! (`viv.weaken=pm_kill_owner` lets it signal anyone's).
//!
//! claim, fill: DS refuses a service's name and another program's name to
//! anyone but their owner, and limits the names one client may own
//! (`viv.weaken=ds_names`, `viv.weaken=ds_quota`). Fills one after
//! another leave names of dead processes, which DS frees when it runs out
//! of room (`viv.weaken=ds_reclaim` keeps them: the `ds-churn/user` row).
//!
//! keep: subscribes to `tty` in DS, publishes names until DS refuses, has
//! a child publish a name and end, waits (asking DS every [`KEEP_POLL_MS`], at most [`KEEP_POLLS`]
//! times) until DS has been restarted (the `death-test` image's `killer`
//! kills it: `vmm/tests/server_death.rs`), then looks each name up in the
//! new DS, checks its subscription (RS publishes `tty` in the new DS: a
//! subscription that came back reports it) and tries one name more: DS's
//! backup brings the names and the subscription back, and with them the
//! limit, but not the dead child's name (`viv.weaken=ds_state`: the names
//! and the subscription are gone and the limit starts from zero).
//!
//! hog: takes all the memory it can and keeps it. Children write pages
//! of their (zero-fill) arena, one child per chunk, and then sleep for
//! ever holding them; a child the kernel kills for want of a frame
//! (`EXIT_STATUS_OUT_OF_MEMORY`) gave its pages back, so the next child
//! tries half as much: memory ends full to the last page the user may
//! have. The kernel's per-user quota stops it at the quota, with a
//! reserve left for the system (docs/security.md, "Memory");
//! `viv.weaken=memory_quota` lets it take every frame. `hog release`
//! then kills its children and fills again: the same amount, when every
//! frame went back to the user's account.
//!
//! Exit status 0 when the attack got what it wanted (a claim) or ran (a
//! bomb, a fill), 1 when it was refused, 2 on a usage error. One program
//! for all: a boot image holds at most 40 programs (`abi::boot_image::MAX_PROGRAMS`).
#![no_std]
#![no_main]

use abi::proto::{self, ds, NAME_LEN};
use abi::{Endpoint, Error, Message};
use rt::outln;

rt::main!(run);

/// How often a bomb child tries to fork again.
const SQUAT_MS: u64 = 500;

/// Pages the hog's first child writes; each child killed for want of
/// memory halves it.
const HOG_FIRST_CHUNK: usize = 2048;
/// A hog child's arena: zero-fill pages (bss) until written.
static mut HOG_ARENA: [u8; HOG_FIRST_CHUNK * 4096] = [0; HOG_FIRST_CHUNK * 4096];

/// This process's endpoint (a forked process is not in the KIP: PM's
/// process list has it).
fn my_endpoint() -> Result<Endpoint, Error> {
    let (pid, _) = rt::pm::getpid()?;
    for index in 0.. {
        let p = rt::pm::ps(index)?;
        if p.pid == pid {
            return Ok(p.endpoint);
        }
    }
    Err(Error::NoEntry)
}

/// Publishes `name` for `me`.
fn publish(name: &str, me: Endpoint) -> Result<u64, Error> {
    let mut msg = Message::with_words(ds::PUBLISH, &[u64::from(me.0), 0]);
    proto::put_name(&mut msg, 2, name);
    rt::ipc::sendrec(rt::names::ds()?, &mut msg)?;
    proto::result_of(&msg)
}

fn claim(name: &str, me: Endpoint) -> i32 {
    // Print first: our own output goes through VFS, whose endpoint is
    // then cached, whatever happens to the name "vfs".
    outln!("attack_auth: claiming {}", name);
    if let Err(e) = publish(name, me) {
        outln!("attack_auth: claim {} refused: {}", name, rt::errors::describe(e));
        return 1;
    }
    match rt::names::lookup_fresh(name) {
        Ok((ep, _)) if ep == me => {
            outln!("attack_auth: {} is now mine", name);
            0
        }
        other => {
            outln!("attack_auth: claim {} accepted, but DS says {:?}", name, other.map(|(ep, _)| ep));
            1
        }
    }
}

fn fill(me: Endpoint) -> i32 {
    let pid = rt::pm::getpid().map_or(0, |(pid, _)| pid);
    let mut published = 0;
    for i in 0..ds::MAX_ENTRIES {
        let mut name = [0u8; NAME_LEN];
        let text = format_name(&mut name, 'f', pid, i);
        if let Err(e) = publish(text, me) {
            outln!("attack_auth: published {} names, then: {}", published, rt::errors::describe(e));
            return 0;
        }
        published += 1;
    }
    outln!("attack_auth: published {} names", published);
    0
}

/// `<prefix><pid>.<i>` in `buf`: names no other filler uses.
fn format_name(buf: &mut [u8; NAME_LEN], prefix: char, pid: u64, i: usize) -> &str {
    struct Cursor<'a>(&'a mut [u8; NAME_LEN], usize);
    impl core::fmt::Write for Cursor<'_> {
        fn write_str(&mut self, s: &str) -> core::fmt::Result {
            let end = self.1 + s.len();
            self.0.get_mut(self.1..end).ok_or(core::fmt::Error)?.copy_from_slice(s.as_bytes());
            self.1 = end;
            Ok(())
        }
    }
    let mut cursor = Cursor(buf, 0);
    let _ = core::fmt::write(&mut cursor, format_args!("{}{}.{}", prefix, pid, i));
    let len = cursor.1;
    core::str::from_utf8(&buf[..len]).unwrap_or("f")
}

/// How often `keep` asks DS whether it has been restarted.
const KEEP_POLL_MS: u64 = 20;
/// Most times `keep` asks.
const KEEP_POLLS: usize = 500;

/// `keep`'s child: publishes `name` for itself and ends (status 0 when
/// DS took the name).
fn publish_and_end(name: &str) -> ! {
    let published = my_endpoint().and_then(|me| publish(name, me));
    rt::sys::exit(u32::from(published.is_err()))
}

fn keep(me: Endpoint) -> i32 {
    let pid = rt::pm::getpid().map_or(0, |(pid, _)| pid);
    let mut tty = rt::names::Watch::new("tty");
    if let Err(e) = tty.subscribe() {
        outln!("attack_auth: cannot subscribe to tty: {}", rt::errors::describe(e));
    }
    // What is there already (tty's entry) is reported at once: take it,
    // so that a report after the restart is the new DS's.
    let mut changed = [0u8; NAME_LEN];
    while rt::names::check(&mut changed).is_some() {}
    let mut names = [[0u8; NAME_LEN]; ds::MAX_ENTRIES];
    let mut published = 0;
    while published < ds::MAX_ENTRIES {
        let text = format_name(&mut names[published], 'k', pid, published);
        if let Err(e) = publish(text, me) {
            outln!("attack_auth: published {} names, then: {}", published, rt::errors::describe(e));
            break;
        }
        published += 1;
    }
    if published == 0 {
        return 1;
    }
    // Then a child publishes a name and ends while DS lives (nobody tells
    // DS, and the refusal above has passed: DS reclaims dead clients'
    // names only when it runs out of room): its record stays in the
    // backup, and a new DS must not take it back.
    let mut orphan = [0u8; NAME_LEN];
    let orphan = format_name(&mut orphan, 'c', pid, 0);
    match rt::pm::fork() {
        Ok(0) => publish_and_end(orphan),
        Ok(child) => match rt::pm::wait(child as i64) {
            Ok((_, 0)) => outln!("attack_auth: a child published {} and ended", orphan),
            other => outln!("attack_auth: the child that was to publish {} ended: {:?}", orphan, other),
        },
        Err(e) => outln!("attack_auth: cannot fork: {}", rt::errors::describe(e)),
    };
    let first = as_text(&names[0]);
    for _ in 0..KEEP_POLLS {
        if rt::names::ds_generation() > 0 {
            break;
        }
        let _ = rt::pm::sleep_ms(KEEP_POLL_MS);
        // Through the runtime: a dead DS sends it to RS for the new one.
        let _ = rt::names::lookup_fresh(first);
    }
    if rt::names::ds_generation() == 0 {
        outln!("attack_auth: DS was not restarted");
        return 1;
    }
    let mut kept = 0;
    for name in names[..published].iter().map(as_text) {
        match rt::names::lookup_fresh(name) {
            Ok((ep, _)) if ep == me => kept += 1,
            Ok((ep, _)) => {
                outln!("attack_auth: {} is now {}'s", name, ep);
            }
            Err(e) => {
                outln!("attack_auth: {} is gone: {}", name, rt::errors::describe(e));
            }
        }
    }
    outln!("attack_auth: {} of {} names still mine after the restart", kept, published);
    let mut reported = false;
    while let Some((name, _, _)) = rt::names::check(&mut changed) {
        reported |= name == "tty";
    }
    outln!("attack_auth: my subscription to tty {}", if reported { "came back" } else { "is gone" });
    match rt::names::lookup_fresh(orphan) {
        Ok((ep, _)) => outln!("attack_auth: the dead child's {} is still {}'s", orphan, ep),
        Err(e) => outln!("attack_auth: the dead child's {}: {}", orphan, rt::errors::describe(e)),
    };
    let mut extra = [0u8; NAME_LEN];
    match publish(format_name(&mut extra, 'k', pid, published), me) {
        Ok(_) => outln!("attack_auth: one name more: accepted"),
        Err(e) => outln!("attack_auth: one name more: {}", rt::errors::describe(e)),
    };
    0
}

/// The NUL-padded name `name` as text.
fn as_text(name: &[u8; NAME_LEN]) -> &str {
    let len = name.iter().position(|&b| b == 0).unwrap_or(NAME_LEN);
    core::str::from_utf8(&name[..len]).unwrap_or("")
}

/// A bomb child: never returns, and its children do the same.
fn squat() -> ! {
    loop {
        let _ = rt::pm::sleep_ms(SQUAT_MS);
        let _ = rt::pm::fork();
    }
}

fn forkbomb() -> i32 {
    let mut children = 0u64;
    loop {
        match rt::pm::fork() {
            Ok(0) => squat(),
            Ok(_) => children += 1,
            Err(e) => {
                outln!("attack_auth: forked {} children, then: {}", children, rt::errors::describe(e));
                return 0;
            }
        }
    }
}

/// A hog child: writes `pages` pages of its arena (the kernel kills it if
/// one gets no frame), says so on `done`, and holds them for ever.
fn hog_child(pages: usize, done: u64) -> ! {
    let arena = &raw mut HOG_ARENA;
    for page in 0..pages.min(HOG_FIRST_CHUNK) {
        // SAFETY: the offset lies inside the arena; this process is the
        // only one that touches its copy.
        unsafe { core::ptr::write_volatile(arena.cast::<u8>().add(page * 4096), 1) };
    }
    let _ = rt::vfs::write(done, b"h");
    loop {
        let _ = rt::pm::sleep_ms(u64::from(u32::MAX));
    }
}

/// One hog child of `pages` pages: `Ok(Some(pid))` when it holds them,
/// `Ok(None)` when the kernel killed it for want of memory, `Err` when no
/// child could be made (the fork's refusal).
fn hog_one(pages: usize) -> Result<Option<u64>, Error> {
    let (read_end, write_end) = rt::vfs::pipe()?;
    let pid = match rt::pm::fork() {
        Ok(0) => {
            let _ = rt::vfs::close(read_end);
            hog_child(pages, write_end)
        }
        Ok(pid) => pid,
        Err(e) => {
            let _ = rt::vfs::close(read_end);
            let _ = rt::vfs::close(write_end);
            return Err(e);
        }
    };
    let _ = rt::vfs::close(write_end);
    let mut byte = [0u8; 1];
    let held = rt::vfs::read(read_end, &mut byte) == Ok(1);
    let _ = rt::vfs::close(read_end);
    if held {
        return Ok(Some(pid));
    }
    match rt::pm::wait(pid as i64) {
        Ok((_, abi::syscall::EXIT_STATUS_OUT_OF_MEMORY)) => Ok(None),
        Ok((_, status)) => {
            outln!("attack_auth: hog child ended with status {}", status);
            Err(Error::Invalid)
        }
        Err(e) => Err(e),
    }
}

/// Most hog children held at once (PM's per-user limit is lower).
const HOG_MAX_CHILDREN: usize = 64;

/// Fills memory with hog children (their pids in `pids`); reports and
/// returns how many.
fn hog_fill(pids: &mut [u64; HOG_MAX_CHILDREN]) -> usize {
    let (mut chunk, mut held, mut children, mut killed) = (HOG_FIRST_CHUNK, 0usize, 0usize, 0usize);
    let stop = loop {
        if chunk == 0 || children == HOG_MAX_CHILDREN {
            break "no page more";
        }
        match hog_one(chunk) {
            Ok(Some(pid)) => {
                pids[children] = pid;
                held += chunk;
                children += 1;
            }
            Ok(None) => {
                killed += 1;
                chunk /= 2;
            }
            Err(e) => break rt::errors::describe(e),
        }
    };
    outln!(
        "attack_auth: hog holds {} pages in {} children ({} killed out of memory), then: {}",
        held,
        children,
        killed,
        stop
    );
    children
}

/// `hog`: fills memory and keeps it. `hog release`: fills it, kills
/// every child (their frames go back to the user), and fills it again,
/// which must get exactly as much (the accounting balances).
fn hog(release: bool) -> i32 {
    let mut pids = [0u64; HOG_MAX_CHILDREN];
    let children = hog_fill(&mut pids);
    if !release {
        return 0;
    }
    for &pid in &pids[..children] {
        let _ = rt::pm::kill(pid, abi::proto::pm::SIGKILL);
        let _ = rt::pm::wait(pid as i64);
    }
    outln!("attack_auth: hog released {} children", children);
    hog_fill(&mut pids);
    0
}

fn kill(pid: &str) -> i32 {
    let Ok(pid) = pid.parse::<u64>() else {
        outln!("attack_auth: {}: not a pid", pid);
        return 2;
    };
    match rt::pm::kill(pid, abi::proto::pm::SIGTERM) {
        Ok(()) => {
            outln!("attack_auth: killed {}", pid);
            0
        }
        Err(e) => {
            outln!("attack_auth: kill {} refused: {}", pid, rt::errors::describe(e));
            1
        }
    }
}

/// Becomes user `uid` (text).
fn become_user(uid: &str) -> Result<(), i32> {
    let Ok(uid) = uid.parse::<u64>() else {
        outln!("attack_auth: {}: not a uid", uid);
        return Err(2);
    };
    rt::pm::setuid(uid).map_err(|e| {
        outln!("attack_auth: cannot become uid {}: {}", uid, rt::errors::describe(e));
        1
    })
}

fn run() -> i32 {
    let mut args = rt::args().skip(1).peekable();
    if args.peek() == Some(&"as") {
        args.next();
        if let Err(status) = become_user(args.next().unwrap_or("")) {
            return status;
        }
    }
    let (verb, arg) = (args.next(), args.next());
    if args.next().is_some() {
        outln!("{}", USAGE);
        return 2;
    }
    match (verb, arg) {
        (Some("forkbomb"), None) => return forkbomb(),
        (Some("hog"), None) => return hog(false),
        (Some("hog"), Some("release")) => return hog(true),
        (Some("kill"), Some(pid)) => return kill(pid),
        _ => {}
    }
    let me = match my_endpoint() {
        Ok(me) => me,
        Err(e) => {
            outln!("attack_auth: who am I? {}", rt::errors::describe(e));
            return 2;
        }
    };
    match (verb, arg) {
        (Some("claim"), Some(name)) => claim(name, me),
        (Some("fill"), None) => fill(me),
        (Some("keep"), None) => keep(me),
        _ => {
            outln!("{}", USAGE);
            2
        }
    }
}

const USAGE: &str = "usage: attack_auth [as UID] forkbomb | kill PID | claim NAME | fill | keep | hog [release]";
