//! The COM1 16550 UART: vm-superio's `Serial` with our output sink,
//! interrupt line and input flow control.
//!
//! Why these pieces:
//! - Output goes to `viv`'s stdout one byte at a time and is flushed at
//!   once: every byte already cost the guest a VM exit, so an extra
//!   `write(2)` is cheap, and interactive output appears promptly. It can
//!   also be captured for tests.
//! - The interrupt is line `abi::platform::IRQ_COM1` of the in-kernel
//!   irqchip, raised synchronously ([`super::irq`] says why); the stdin
//!   thread can raise it without stopping the vCPU.
//! - Flow control: the 16550 FIFO holds 64 bytes. When stdin has more, the
//!   forwarder waits until the guest has drained the FIFO; vm-superio's
//!   `in_buffer_empty` event wakes it through [`RoomNotifier`].

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use vm_superio::serial::SerialEvents;
use vm_superio::{Serial, Trigger};
use vmm_sys_util::eventfd::EventFd;

use super::irq::IrqLine;

/// Number of consecutive ports the UART decodes.
pub const SERIAL_PORTS: u16 = 8;

/// Raises the UART's interrupt line.
#[derive(Debug)]
pub struct IrqTrigger(pub IrqLine);

impl Trigger for IrqTrigger {
    type E = io::Error;

    fn trigger(&self) -> io::Result<()> {
        self.0.raise()
    }
}

/// Signals the stdin forwarder when the guest has emptied the receive FIFO
/// while the forwarder has bytes waiting.
#[derive(Debug)]
pub struct RoomNotifier {
    /// Written (1) when there is room again.
    pub room: EventFd,
    /// Set by the forwarder (under the serial lock) when it holds bytes the
    /// FIFO could not take.
    pub waiting: AtomicBool,
}

impl RoomNotifier {
    /// A notifier with a fresh event fd.
    pub fn new() -> io::Result<RoomNotifier> {
        Ok(RoomNotifier { room: EventFd::new(libc::EFD_NONBLOCK)?, waiting: AtomicBool::new(false) })
    }
}

impl SerialEvents for RoomNotifier {
    fn buffer_read(&self) {}
    fn out_byte(&self) {}
    fn tx_lost_byte(&self) {
        log::debug!("serial: lost an output byte");
    }
    fn in_buffer_empty(&self) {
        if self.waiting.swap(false, Ordering::AcqRel) {
            if let Err(e) = self.room.write(1) {
                log::warn!("serial: cannot wake the stdin forwarder: {e}");
            }
        }
    }
}

/// Where the guest's console output goes.
#[derive(Debug, Clone, Default)]
pub struct ConsoleSink {
    /// Copy to stdout (stderr with `to_stderr`).
    pub echo: bool,
    /// Echo to stderr instead of stdout (the guest's log, kept apart from
    /// program output).
    pub to_stderr: bool,
    /// Keep a copy here, up to `limit`'s cap.
    pub capture: Option<Arc<Mutex<Vec<u8>>>>,
    /// Keep only the last [`TAIL_BYTES`] in `capture` instead (no cap to
    /// reach): what `viv exec` shows when init fails without `--log`.
    pub tail_only: bool,
    /// The cap on the copy, which limit reaching it is, and where to
    /// report it ([`super::limits`]).
    pub limit: (usize, super::limits::Limit, super::limits::LimitFlag),
}

/// Bytes a [`ConsoleSink::tail_only`] capture keeps.
pub const TAIL_BYTES: usize = 4096;

impl ConsoleSink {
    /// Takes bytes the guest wrote to its log port.
    pub fn write_log(&mut self, data: &[u8]) {
        let _ = self.write(data);
    }
}

impl Write for ConsoleSink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if let Some(capture) = &self.capture {
            let mut kept = capture.lock().unwrap_or_else(|e| e.into_inner());
            if self.tail_only {
                kept.extend_from_slice(buf);
                let excess = kept.len().saturating_sub(TAIL_BYTES);
                kept.drain(..excess);
            } else {
                let (cap, limit, flag) = &self.limit;
                super::limits::append_capped(&mut kept, buf, *cap, flag, *limit);
            }
        }
        if self.echo && self.to_stderr {
            let mut err = io::stderr().lock();
            if err.write_all(buf).and_then(|()| err.flush()).is_err() {
                log::debug!("log: stderr is closed; output dropped");
            }
        } else if self.echo {
            let mut out = io::stdout().lock();
            // A closed stdout (e.g. `viv run | head`) must not stop the guest.
            if out.write_all(buf).and_then(|()| out.flush()).is_err() {
                log::debug!("console: stdout is closed; output dropped");
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.echo {
            let _ = io::stdout().flush();
        }
        Ok(())
    }
}

/// The UART as the VM uses it.
pub type SerialDevice = Serial<IrqTrigger, Arc<RoomNotifier>, ConsoleSink>;

/// Creates the UART with `irq` as its interrupt line.
pub fn new_serial(irq: IrqLine, room: Arc<RoomNotifier>, sink: ConsoleSink) -> SerialDevice {
    Serial::with_events(IrqTrigger(irq), room, sink)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_is_captured_and_input_wakes_the_forwarder_when_drained() {
        let capture = Arc::new(Mutex::new(Vec::new()));
        let irq = EventFd::new(libc::EFD_NONBLOCK).unwrap();
        let room = Arc::new(RoomNotifier::new().unwrap());
        let sink = ConsoleSink {
            echo: false,
            to_stderr: false,
            capture: Some(capture.clone()),
            tail_only: false,
            limit: (usize::MAX, crate::devices::limits::Limit::Console, Default::default()),
        };
        let mut serial = new_serial(IrqLine::Event(irq.try_clone().unwrap()), room.clone(), sink);
        for &b in b"ok\n" {
            serial.write(0, b).unwrap();
        }
        assert_eq!(&*capture.lock().unwrap(), b"ok\n");

        serial.write(1, 1).unwrap(); // IER: received-data interrupt
        assert_eq!(serial.enqueue_raw_bytes(b"hi").unwrap(), 2);
        assert_eq!(irq.read().unwrap(), 1);
        room.waiting.store(true, Ordering::Release);
        assert_eq!(serial.read(0), b'h');
        assert!(room.room.read().is_err(), "not empty yet");
        assert_eq!(serial.read(0), b'i');
        assert_eq!(room.room.read().unwrap(), 1);
        assert!(!room.waiting.load(Ordering::Acquire));
    }
}
