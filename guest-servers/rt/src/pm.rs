//! Process calls: requests to PM (see `abi::proto::pm`).

use crate::names::call;
use abi::proto::{self, pm};
use abi::{Error, Message};

const PM: &str = "pm";

/// Forks: returns the child's pid in the parent and 0 in the child.
pub fn fork() -> Result<u64, Error> {
    call(PM, &mut Message::new(pm::FORK))
}

/// Fork for a shell's command: as [`fork`], but the child takes ^C even
/// when this process ignores it (`pm::FORK_TAKES_INTERRUPT`).
pub fn fork_command() -> Result<u64, Error> {
    call(PM, &mut Message::with_words(pm::FORK, &[pm::FORK_TAKES_INTERRUPT]))
}

/// Replaces this program with the one named by `args[0]` (its last path
/// component). Returns only on failure.
pub fn exec(args: &[&str]) -> Error {
    // As large as the kernel accepts, so any command line viv accepts
    // (at most `kip::CMDLINE_MAX` bytes) reaches the shell.
    let mut block = [0u8; abi::args::MAX_ARGS_LEN];
    let Some(len) = abi::args::encode(args, &mut block) else {
        return Error::Domain;
    };
    let mut msg = Message::with_words(pm::EXEC, &[block.as_ptr() as u64, len as u64]);
    let program = args.first().map_or("", |a| a.rsplit('/').next().unwrap_or(a));
    proto::put_name(&mut msg, 2, program);
    match call(PM, &mut msg) {
        Err(e) => e,
        Ok(_) => Error::Invalid,
    }
}

/// Waits for child `pid` (or any child with -1); returns (pid, status).
pub fn wait(pid: i64) -> Result<(u64, u32), Error> {
    let mut msg = Message::with_words(pm::WAIT, &[pid as u64]);
    let child = call(PM, &mut msg)?;
    Ok((child, msg.payload[1] as u32))
}

/// Sends `signal` to process `pid`.
pub fn kill(pid: u64, signal: u64) -> Result<(), Error> {
    call(PM, &mut Message::with_words(pm::KILL, &[pid, signal])).map(|_| ())
}

/// (pid, parent pid) of the caller.
pub fn getpid() -> Result<(u64, u64), Error> {
    let mut msg = Message::new(pm::GETPID);
    let pid = call(PM, &mut msg)?;
    Ok((pid, msg.payload[1]))
}

/// The caller's uid (`abi::proto::pm::ROOT_UID` is the administrator).
pub fn getuid() -> Result<u64, Error> {
    let mut msg = Message::new(pm::GETPID);
    call(PM, &mut msg)?;
    Ok(msg.payload[2])
}

/// Changes the caller's uid (only uid 0 may).
pub fn setuid(uid: u64) -> Result<(), Error> {
    call(PM, &mut Message::with_words(pm::SETUID, &[uid])).map(|_| ())
}

/// The uid of process `ep`; `NoEntry` for servers, drivers and other
/// processes PM did not create.
pub fn uid_of(ep: abi::Endpoint) -> Result<u64, Error> {
    call(PM, &mut Message::with_words(pm::UID_OF, &[u64::from(ep.0)]))
}

/// Sleeps `ms` milliseconds.
pub fn sleep_ms(ms: u64) -> Result<(), Error> {
    call(PM, &mut Message::with_words(pm::SLEEP, &[ms])).map(|_| ())
}

/// Makes the caller ignore (or stop ignoring) ^C.
pub fn ignore_interrupt(ignore: bool) -> Result<(), Error> {
    call(PM, &mut Message::with_words(pm::IGNORE_INTERRUPT, &[u64::from(ignore)])).map(|_| ())
}

/// One row of the process list.
#[derive(Clone, Copy, Debug, Default)]
pub struct ProcessInfo {
    pub pid: u64,
    pub parent: u64,
    pub endpoint: abi::Endpoint,
    /// `abi::proto::pm::STATE_*`.
    pub state: u64,
    pub name: [u8; proto::NAME_LEN],
}

impl ProcessInfo {
    /// The program name.
    pub fn name(&self) -> &str {
        let len = self.name.iter().position(|&b| b == 0).unwrap_or(proto::NAME_LEN);
        core::str::from_utf8(&self.name[..len]).unwrap_or("?")
    }
}

/// Row `index` of the process list; `NoEntry` past the end.
pub fn ps(index: u64) -> Result<ProcessInfo, Error> {
    let mut msg = Message::with_words(pm::PS, &[index]);
    call(PM, &mut msg)?;
    let mut name = [0u8; proto::NAME_LEN];
    proto::get_name(&msg, 5, &mut name);
    Ok(ProcessInfo {
        pid: msg.payload[1],
        parent: msg.payload[2],
        endpoint: abi::Endpoint(msg.payload[3] as u32),
        state: msg.payload[4],
        name,
    })
}
