//! The process table: PM's view of every process it created.
//!
//! The kernel knows endpoints; users know pids. The table maps one to the
//! other and holds what the kernel does not keep: the parent pid (POSIX
//! parentage, which differs from the kernel's reaper: PM reaps everything),
//! the exit status of a zombie until its parent waits for it, whether the
//! process ignores ^C, and what it is blocked on in PM (WAIT).
//!
//! It is a fixed array: PM has no heap, and the kernel's slot count bounds
//! the number of processes anyway.

use abi::proto::NAME_LEN;
use abi::Endpoint;

/// Most processes PM manages at once (zombies included).
pub const MAX_PROCS: usize = 64;

/// Pid of init.
pub const INIT_PID: u64 = 1;

/// Life state of a process.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum State {
    /// Running, ready or blocked.
    Alive,
    /// Ended; the status waits for the parent's WAIT.
    Zombie,
}

/// One process.
#[derive(Clone, Copy, Debug)]
pub struct Proc {
    pub pid: u64,
    /// Parent pid; 0 for init (its parent is PM itself).
    pub parent: u64,
    pub endpoint: Endpoint,
    /// User id (`abi::proto::pm::ROOT_UID` is the administrator).
    pub uid: u64,
    pub state: State,
    /// Exit status (valid for zombies).
    pub status: u32,
    /// Status to report instead of the kernel's when PM ended the process
    /// itself (EXIT request, signal).
    pub forced_status: Option<u32>,
    /// Program name.
    pub name: [u8; NAME_LEN],
    /// ^C does not kill it (IGNORE_INTERRUPT).
    pub ignores_interrupt: bool,
    /// Blocked in WAIT for this pid (-1 = any child).
    pub waiting_for: Option<i64>,
}

impl Proc {
    /// The name as text.
    pub fn name(&self) -> &str {
        let len = self.name.iter().position(|&b| b == 0).unwrap_or(NAME_LEN);
        core::str::from_utf8(&self.name[..len]).unwrap_or("?")
    }

    /// Sets the name (cut to [`NAME_LEN`] bytes).
    pub fn set_name(&mut self, name: &str) {
        self.name = [0; NAME_LEN];
        let n = name.len().min(NAME_LEN);
        self.name[..n].copy_from_slice(&name.as_bytes()[..n]);
    }
}

/// The table.
pub struct Table {
    slots: [Option<Proc>; MAX_PROCS],
    next_pid: u64,
}

impl Table {
    /// An empty table; the first pid handed out is [`INIT_PID`].
    pub const fn new() -> Table {
        Table { slots: [None; MAX_PROCS], next_pid: INIT_PID }
    }

    /// Adds an alive process; returns its pid, or `None` when full.
    pub fn insert(&mut self, parent: u64, endpoint: Endpoint, uid: u64, name: &[u8; NAME_LEN]) -> Option<u64> {
        let slot = self.slots.iter().position(Option::is_none)?;
        let pid = self.fresh_pid();
        self.slots[slot] = Some(Proc {
            pid,
            parent,
            endpoint,
            uid,
            state: State::Alive,
            status: 0,
            forced_status: None,
            name: *name,
            ignores_interrupt: false,
            waiting_for: None,
        });
        Some(pid)
    }

    /// Whether another process fits.
    pub fn has_room(&self) -> bool {
        self.slots.iter().any(Option::is_none)
    }

    /// How many processes (alive or zombie) there are, of every uid and
    /// of `uid`.
    pub fn counts(&self, uid: u64) -> (usize, usize) {
        (self.iter().count(), self.iter().filter(|p| p.uid == uid).count())
    }

    /// The next pid not in use (pids grow; they wrap long before 2^63).
    fn fresh_pid(&mut self) -> u64 {
        loop {
            let pid = self.next_pid;
            self.next_pid = if self.next_pid >= 99_999 { INIT_PID + 1 } else { self.next_pid + 1 };
            if self.by_pid(pid).is_none() {
                return pid;
            }
        }
    }

    /// Removes the process `pid`.
    pub fn remove(&mut self, pid: u64) -> Option<Proc> {
        let slot = self.slots.iter().position(|p| matches!(p, Some(p) if p.pid == pid))?;
        self.slots[slot].take()
    }

    /// The alive process with endpoint `ep` (zombies' endpoints are dead).
    pub fn by_endpoint(&mut self, ep: Endpoint) -> Option<&mut Proc> {
        self.iter_mut().find(|p| p.endpoint == ep && p.state == State::Alive)
    }

    /// The process `pid`.
    pub fn by_pid(&mut self, pid: u64) -> Option<&mut Proc> {
        self.iter_mut().find(|p| p.pid == pid)
    }

    /// Every process.
    pub fn iter(&self) -> impl Iterator<Item = &Proc> {
        self.slots.iter().flatten()
    }

    /// Every process, mutably.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut Proc> {
        self.slots.iter_mut().flatten()
    }

    /// The `index`-th process in pid order (for PS).
    pub fn nth_by_pid(&self, index: usize) -> Option<&Proc> {
        let mut last: Option<u64> = None;
        let mut found = None;
        for _ in 0..=index {
            found = self.iter().filter(|p| last.is_none_or(|l| p.pid > l)).min_by_key(|p| p.pid);
            last = Some(found?.pid);
        }
        found
    }

    /// A zombie child of `parent` that a WAIT for `wanted` (-1 = any)
    /// accepts.
    pub fn zombie_child(&self, parent: u64, wanted: i64) -> Option<u64> {
        self.iter()
            .find(|p| p.parent == parent && p.state == State::Zombie && (wanted == -1 || p.pid as i64 == wanted))
            .map(|p| p.pid)
    }

    /// Whether `parent` has any child a WAIT for `wanted` could ever accept.
    pub fn has_child(&self, parent: u64, wanted: i64) -> bool {
        self.iter().any(|p| p.parent == parent && (wanted == -1 || p.pid as i64 == wanted))
    }
}
