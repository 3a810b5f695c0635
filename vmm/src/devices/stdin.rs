//! Feeds `viv`'s stdin into the UART, on its own thread.
//!
//! Why a thread with an event loop: the vCPU thread spends its time inside
//! `KVM_RUN` and must not block on the terminal. This thread waits (with
//! rust-vmm's event-manager) for stdin, for "the FIFO has room again"
//! ([`super::serial::RoomNotifier`]) and for a stop request, enqueues bytes
//! into the UART and raises its interrupt line.
//!
//! stdin can be anything: a terminal, a pipe, a regular file, `/dev/null`,
//! or closed (CI). Files and `/dev/null` cannot be polled (epoll refuses
//! them with `EPERM`); their reads never block, so for them the forwarder
//! simply reads whenever the FIFO has room. End of file is passed on as
//! the terminal would: ^D (two after a partial line: the first ends the
//! line, the second is end of file), so `echo x | viv exec cat` ends like
//! `echo x | cat`. A closed or broken stdin just ends forwarding; the
//! guest keeps running.

use std::io;
use std::os::unix::io::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use event_manager::{EventManager, EventOps, EventSet, Events, MutEventSubscriber, SubscriberOps};
use vmm_sys_util::eventfd::EventFd;

use super::serial::{RoomNotifier, SerialDevice};

/// Bytes read from stdin at a time.
const CHUNK: usize = 256;
const TOKEN_STDIN: u32 = 0;
const TOKEN_ROOM: u32 = 1;
const TOKEN_STOP: u32 = 2;

/// The event-manager subscriber that moves bytes from an fd to the UART.
pub struct StdinForwarder {
    input: RawFd,
    serial: Arc<Mutex<SerialDevice>>,
    room: Arc<RoomNotifier>,
    stop: EventFd,
    stopped: Arc<AtomicBool>,
    /// epoll accepted `input`.
    pollable: bool,
    /// `input` is currently in the epoll set.
    registered: bool,
    eof: bool,
    pending: Vec<u8>,
    /// The last byte read from `input` (a partial line needs two ^D).
    last: Option<u8>,
}

/// The terminal's end-of-file character, which the guest's TTY reads as
/// end of file at the start of a line.
const CTRL_D: u8 = 0x04;

impl StdinForwarder {
    fn read_input(&mut self) {
        let mut buf = [0u8; CHUNK];
        // SAFETY: `buf` is a writable buffer of CHUNK bytes; `input` is an
        // fd number (a closed one just makes read fail with EBADF).
        let n = unsafe { libc::read(self.input, buf.as_mut_ptr().cast(), CHUNK) };
        match n {
            0 => {
                log::debug!("stdin: end of file; sending ^D");
                self.eof = true;
                if self.last.is_some_and(|b| b != b'\n' && b != CTRL_D) {
                    self.pending.push(CTRL_D);
                }
                self.pending.push(CTRL_D);
            }
            n if n > 0 => {
                let bytes = &buf[..n as usize];
                // On a raw terminal ^] ends the VM (`crate::devices::terminal`).
                if bytes.contains(&crate::devices::terminal::ESCAPE_BYTE) && crate::devices::terminal::is_raw() {
                    crate::devices::terminal::leave();
                }
                self.pending.extend_from_slice(bytes);
                self.last = bytes.last().copied();
            }
            _ => {
                let err = io::Error::last_os_error();
                match err.kind() {
                    io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted => {}
                    _ => {
                        log::debug!("stdin: {err}; no more input");
                        self.eof = true;
                    }
                }
            }
        }
    }

    /// Moves pending bytes into the FIFO; returns true if all went in.
    fn push_pending(&mut self) -> bool {
        if self.pending.is_empty() {
            return true;
        }
        let mut serial = self.serial.lock().unwrap_or_else(|e| e.into_inner());
        let taken = match serial.enqueue_raw_bytes(&self.pending) {
            Ok(n) => n,
            Err(vm_superio::serial::Error::FullFifo) => 0,
            Err(e) => {
                // The bytes went in; only the interrupt failed.
                log::warn!("serial: {e}");
                self.pending.len().min(serial.fifo_capacity())
            }
        };
        self.pending.drain(..taken);
        if self.pending.is_empty() {
            return true;
        }
        // Still under the serial lock, so the guest cannot drain the FIFO
        // between this check and the flag: the wake-up is never lost.
        self.room.waiting.store(true, Ordering::Release);
        false
    }

    /// Reads and forwards until the FIFO is full or the input has no more.
    fn pump(&mut self, ops: &mut EventOps) {
        loop {
            if !self.push_pending() {
                if self.registered {
                    let _ = ops.remove(Events::empty_raw(self.input));
                    self.registered = false;
                }
                return;
            }
            if self.eof {
                if self.registered {
                    let _ = ops.remove(Events::empty_raw(self.input));
                    self.registered = false;
                }
                return;
            }
            if self.pollable {
                if !self.registered {
                    if let Err(e) = ops.add(Events::with_data_raw(self.input, TOKEN_STDIN, EventSet::IN)) {
                        log::debug!("stdin: cannot poll again: {e:?}");
                        self.eof = true;
                        return;
                    }
                    self.registered = true;
                }
                return;
            }
            self.read_input();
        }
    }
}

impl MutEventSubscriber for StdinForwarder {
    fn init(&mut self, ops: &mut EventOps) {
        for (fd, token) in [(self.room.room.as_raw_fd(), TOKEN_ROOM), (self.stop.as_raw_fd(), TOKEN_STOP)] {
            if let Err(e) = ops.add(Events::with_data_raw(fd, token, EventSet::IN)) {
                log::warn!("stdin: cannot register event fd: {e:?}");
                self.stopped.store(true, Ordering::Release);
            }
        }
        match ops.add(Events::with_data_raw(self.input, TOKEN_STDIN, EventSet::IN)) {
            Ok(()) => {
                self.pollable = true;
                self.registered = true;
            }
            Err(event_manager::Error::Epoll(e)) if e.errno() == libc::EPERM => {
                // A regular file or /dev/null: reads never block.
                log::debug!("stdin cannot be polled; reading it as the FIFO drains");
                self.pump(ops);
            }
            Err(e) => {
                log::debug!("stdin unusable ({e:?}); no console input");
                self.eof = true;
            }
        }
    }

    fn process(&mut self, events: Events, ops: &mut EventOps) {
        match events.data() {
            TOKEN_STOP => {
                let _ = self.stop.read();
                self.stopped.store(true, Ordering::Release);
            }
            TOKEN_ROOM => {
                let _ = self.room.room.read();
                self.pump(ops);
            }
            _ => {
                // A pipe whose writer closed reports HANG_UP without IN: the
                // read then says whether it is end of file or an error.
                if events.event_set().intersects(EventSet::IN | EventSet::HANG_UP | EventSet::ERROR) {
                    self.read_input();
                }
                self.pump(ops);
            }
        }
    }
}

/// The running forwarder thread.
pub struct StdinThread {
    stop: EventFd,
    handle: Option<JoinHandle<()>>,
}

impl StdinThread {
    /// Starts forwarding `input` (normally 0, stdin) to `serial`.
    pub fn spawn(input: RawFd, serial: Arc<Mutex<SerialDevice>>, room: Arc<RoomNotifier>) -> io::Result<StdinThread> {
        let stop = EventFd::new(libc::EFD_NONBLOCK)?;
        let stopped = Arc::new(AtomicBool::new(false));
        let forwarder = StdinForwarder {
            input,
            serial,
            room,
            stop: stop.try_clone()?,
            stopped: stopped.clone(),
            pollable: false,
            registered: false,
            eof: false,
            pending: Vec::new(),
            last: None,
        };
        let mut manager = EventManager::<StdinForwarder>::new().map_err(|e| io::Error::other(format!("{e:?}")))?;
        let handle = std::thread::Builder::new().name("viv-stdin".into()).spawn(move || {
            manager.add_subscriber(forwarder);
            while !stopped.load(Ordering::Acquire) {
                if let Err(e) = manager.run() {
                    log::warn!("stdin event loop: {e:?}");
                    break;
                }
            }
        })?;
        Ok(StdinThread { stop, handle: Some(handle) })
    }

    /// Stops the thread and waits for it.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if let Some(handle) = self.handle.take() {
            let _ = self.stop.write(1);
            let _ = handle.join();
        }
    }
}

impl Drop for StdinThread {
    fn drop(&mut self) {
        self.shutdown();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::devices::serial::{new_serial, ConsoleSink};
    use std::time::{Duration, Instant};

    fn new_uart() -> (Arc<Mutex<SerialDevice>>, Arc<RoomNotifier>) {
        let room = Arc::new(RoomNotifier::new().unwrap());
        let irq = EventFd::new(libc::EFD_NONBLOCK).unwrap();
        (
            Arc::new(Mutex::new(new_serial(
                crate::devices::irq::IrqLine::Event(irq),
                room.clone(),
                ConsoleSink::default(),
            ))),
            room,
        )
    }

    /// Reads bytes from the UART as a guest would until `want` arrived.
    fn drain(serial: &Mutex<SerialDevice>, want: usize) -> Vec<u8> {
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut got = Vec::new();
        while got.len() < want && Instant::now() < deadline {
            let mut s = serial.lock().unwrap();
            if s.read(5) & 1 != 0 {
                got.push(s.read(0));
            } else {
                drop(s);
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        got
    }

    #[test]
    fn a_pipe_larger_than_the_fifo_arrives_whole() {
        let mut fds = [0; 2];
        // SAFETY: `fds` has room for the two descriptors pipe() returns.
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        let data: Vec<u8> = (0..1000u32).map(|i| (i % 251) as u8).collect();
        // SAFETY: writing our buffer to the pipe's write end.
        let n = unsafe { libc::write(fds[1], data.as_ptr().cast(), data.len()) };
        assert_eq!(n, data.len() as isize);
        // SAFETY: closing the write end we own, so the reader sees EOF.
        unsafe { libc::close(fds[1]) };
        let (serial, room) = new_uart();
        let thread = StdinThread::spawn(fds[0], serial.clone(), room).unwrap();
        let mut want = data.clone();
        want.extend_from_slice(&[CTRL_D, CTRL_D]);
        assert_eq!(drain(&serial, want.len()), want);
        thread.stop();
        // SAFETY: closing the read end we own.
        unsafe { libc::close(fds[0]) };
    }

    #[test]
    fn a_regular_file_and_dev_null_work() {
        let path = std::env::temp_dir().join(format!("viv-stdin-test-{}", std::process::id()));
        std::fs::write(&path, b"0123456789".repeat(20)).unwrap();
        let file = std::fs::File::open(&path).unwrap();
        let (serial, room) = new_uart();
        let thread = StdinThread::spawn(file.as_raw_fd(), serial.clone(), room).unwrap();
        // A partial last line: ^D ends it, a second ^D is end of file.
        let mut want = b"0123456789".repeat(20);
        want.extend_from_slice(&[CTRL_D, CTRL_D]);
        assert_eq!(drain(&serial, 202), want);
        thread.stop();
        std::fs::remove_file(&path).unwrap();

        let null = std::fs::File::open("/dev/null").unwrap();
        let (serial, room) = new_uart();
        let thread = StdinThread::spawn(null.as_raw_fd(), serial.clone(), room).unwrap();
        assert_eq!(drain(&serial, 1), [CTRL_D], "end of file at once");
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(serial.lock().unwrap().read(5) & 1, 0, "and nothing more");
        thread.stop();
    }

    #[test]
    fn a_closed_fd_is_no_input() {
        let (serial, room) = new_uart();
        let thread = StdinThread::spawn(1_000_000, serial, room).unwrap();
        thread.stop();
    }
}
