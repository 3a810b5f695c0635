//! The connection to gdb (TCP or a Unix socket) and the watcher thread
//! that interrupts a running guest when gdb attaches or sends ^C.
//!
//! Why a thread: while the guest runs, the vCPU thread is inside
//! `KVM_RUN` and cannot read the socket. The watcher polls it (and, before
//! gdb attaches, accepts the connection); when there is something for the
//! debugger it raises the [`InterruptFlag`] and sends the vCPU thread the
//! kick signal, repeating every [`KICK_EVERY`] until the vCPU thread has
//! taken the flag (a signal that lands between two `KVM_RUN`s is lost).

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use gdbstub::conn::{Connection, ConnectionExt};

use super::{DebugError, GdbAddr, InterruptFlag};

/// How often the watcher polls and re-kicks.
pub const KICK_EVERY: Duration = Duration::from_millis(10);

/// A listening socket.
pub enum Listener {
    Tcp(TcpListener),
    Unix(UnixListener, std::path::PathBuf),
}

/// A connection to gdb.
pub enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Listener {
    /// Listens on `addr` (a stale Unix socket file is replaced).
    pub fn bind(addr: &GdbAddr) -> Result<Listener, DebugError> {
        let err = |source| DebugError::Listen { addr: addr.to_string(), source };
        match addr {
            GdbAddr::Tcp(a) => TcpListener::bind(a).map(Listener::Tcp).map_err(err),
            GdbAddr::Unix(path) => {
                if std::fs::symlink_metadata(path).is_ok_and(|m| {
                    use std::os::unix::fs::FileTypeExt;
                    m.file_type().is_socket()
                }) {
                    let _ = std::fs::remove_file(path);
                }
                UnixListener::bind(path).map(|l| Listener::Unix(l, path.clone())).map_err(err)
            }
        }
    }

    /// Waits for gdb.
    pub fn accept(&self) -> io::Result<Stream> {
        let stream = match self {
            Listener::Tcp(l) => {
                let (s, _) = l.accept()?;
                s.set_nodelay(true)?;
                Stream::Tcp(s)
            }
            Listener::Unix(l, _) => Stream::Unix(l.accept()?.0),
        };
        Ok(stream)
    }

    fn fd(&self) -> BorrowedFd<'_> {
        match self {
            Listener::Tcp(l) => l.as_fd(),
            Listener::Unix(l, _) => l.as_fd(),
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        if let Listener::Unix(_, path) = self {
            let _ = std::fs::remove_file(path);
        }
    }
}

impl Stream {
    fn fd(&self) -> BorrowedFd<'_> {
        match self {
            Stream::Tcp(s) => s.as_fd(),
            Stream::Unix(s) => s.as_fd(),
        }
    }

    /// A second handle on the same connection (for the watcher).
    pub fn try_clone(&self) -> io::Result<Stream> {
        Ok(match self {
            Stream::Tcp(s) => Stream::Tcp(s.try_clone()?),
            Stream::Unix(s) => Stream::Unix(s.try_clone()?),
        })
    }

    fn io(&mut self) -> &mut dyn ReadWrite {
        match self {
            Stream::Tcp(s) => s,
            Stream::Unix(s) => s,
        }
    }

    fn set_nonblocking(&self, on: bool) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.set_nonblocking(on),
            Stream::Unix(s) => s.set_nonblocking(on),
        }
    }

    pub fn read_byte(&mut self) -> io::Result<u8> {
        let mut byte = [0u8];
        loop {
            match self.io().read(&mut byte) {
                Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                Ok(_) => return Ok(byte[0]),
                // The kick signal has no SA_RESTART.
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// The next byte if one is waiting, without blocking.
    pub fn try_read(&mut self) -> io::Result<Option<u8>> {
        self.set_nonblocking(true)?;
        let got = self.read_byte();
        self.set_nonblocking(false)?;
        match got {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
            Err(e) => Err(e),
        }
    }
}

trait ReadWrite: Read + Write {}
impl<T: Read + Write> ReadWrite for T {}

impl Connection for Stream {
    type Error = io::Error;

    fn write(&mut self, byte: u8) -> io::Result<()> {
        self.write_all(&[byte])
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        // `Write::write_all` retries an interrupted write.
        Write::write_all(self.io(), buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Write::flush(self.io())
    }
}

impl ConnectionExt for Stream {
    fn read(&mut self) -> io::Result<u8> {
        self.read_byte()
    }

    fn peek(&mut self) -> io::Result<Option<u8>> {
        // The state machine only needs `read`; `peek` is for the blocking
        // event loop, which we do not use.
        Ok(None)
    }
}

/// True when `fd` has something to read within `timeout`.
fn readable(fd: BorrowedFd<'_>, timeout: Duration) -> bool {
    let mut pfd = libc::pollfd { fd: fd.as_raw_fd(), events: libc::POLLIN, revents: 0 };
    // SAFETY: one valid pollfd for the duration of the call; `fd` stays
    // open (borrowed) meanwhile.
    let n = unsafe { libc::poll(&mut pfd, 1, timeout.as_millis() as libc::c_int) };
    n > 0 && pfd.revents != 0
}

/// What the watcher and the vCPU thread share.
#[derive(Default)]
pub struct Shared {
    /// The guest is running (the watcher may interrupt it).
    pub running: AtomicBool,
    /// The session is over: the watcher ends.
    pub done: AtomicBool,
    /// Times the guest stopped for the debugger (the watcher waits for
    /// the stop its request caused before it watches again).
    pub stops: AtomicU64,
    /// A connection the watcher accepted, for the vCPU thread to take.
    pub accepted: Mutex<Option<Stream>>,
    pub interrupt: InterruptFlag,
}

/// The watcher thread.
pub struct Watcher {
    pub shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

/// Sends the kick signal to `thread` (the vCPU thread, alive while the
/// watcher runs: it joins the watcher before it ends).
fn kick(thread: libc::pthread_t, signal: libc::c_int) {
    // SAFETY: `thread` is the vCPU thread, which outlives the watcher; the
    // signal has a handler (the watchdog's), so it only interrupts KVM_RUN.
    unsafe { libc::pthread_kill(thread, signal) };
}

impl Watcher {
    /// Starts watching: for a connection on `listener` if `stream` is
    /// `None`, then for data on the connection while the guest runs.
    pub fn start(
        listener: Option<Arc<Listener>>,
        stream: Option<Stream>,
        interrupt: InterruptFlag,
        vcpu_thread: libc::pthread_t,
        signal: libc::c_int,
    ) -> Result<Watcher, DebugError> {
        let shared = Arc::new(Shared { interrupt, ..Shared::default() });
        let theirs = shared.clone();
        let thread = std::thread::Builder::new()
            .name("viv-gdb-watch".into())
            .spawn(move || watch(&theirs, listener, stream, vcpu_thread, signal))
            .map_err(DebugError::Thread)?;
        Ok(Watcher { shared, thread: Some(thread) })
    }

    /// Ends the watcher and waits for it.
    pub fn stop(&mut self) {
        self.shared.done.store(true, Ordering::Release);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.stop();
    }
}

fn watch(
    shared: &Shared,
    listener: Option<Arc<Listener>>,
    mut stream: Option<Stream>,
    vcpu_thread: libc::pthread_t,
    signal: libc::c_int,
) {
    let done = || shared.done.load(Ordering::Acquire);
    while !done() {
        let wants_vcpu = match (&stream, &listener) {
            (Some(s), _) => shared.running.load(Ordering::Acquire) && readable(s.fd(), KICK_EVERY),
            (None, Some(l)) => {
                if readable(l.fd(), KICK_EVERY) {
                    match l.accept().and_then(|s| Ok((s.try_clone()?, s))) {
                        Ok((mine, theirs)) => {
                            *shared.accepted.lock().unwrap_or_else(|e| e.into_inner()) = Some(theirs);
                            stream = Some(mine);
                            true
                        }
                        Err(e) => {
                            log::warn!("gdb: accept failed: {e}");
                            false
                        }
                    }
                } else {
                    false
                }
            }
            (None, None) => return,
        };
        if !wants_vcpu {
            if !shared.running.load(Ordering::Acquire) {
                std::thread::sleep(KICK_EVERY);
            }
            continue;
        }
        let stops = shared.stops.load(Ordering::Acquire);
        shared.interrupt.raise();
        // Kick until the guest has stopped, then let the vCPU thread read
        // the connection until it resumes.
        while shared.stops.load(Ordering::Acquire) == stops && !done() {
            if shared.running.load(Ordering::Acquire) {
                kick(vcpu_thread, signal);
            }
            std::thread::sleep(KICK_EVERY);
        }
        while !shared.running.load(Ordering::Acquire) && !done() {
            std::thread::sleep(KICK_EVERY);
        }
    }
}
