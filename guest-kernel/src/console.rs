//! Kernel console output on COM1.
//!
//! Text is gathered in a buffer and written with one `rep outsb`, which is
//! one VM exit per line instead of one per byte. The UART is virtual on
//! every host we run on and always ready, so the line status is not polled.

use crate::arch::cpu::outsb;
use abi::platform::PORT_COM1;
use core::fmt::{self, Write};
use core::sync::atomic::{AtomicU16, Ordering};

/// Where the log goes: COM1 unless the command line says `viv.log=e9`.
static LOG_PORT: AtomicU16 = AtomicU16::new(PORT_COM1);

/// Sends the kernel's log (and `DiagWrite`) to the log port.
pub fn use_log_port() {
    LOG_PORT.store(abi::platform::PORT_LOG, Ordering::Relaxed);
}

fn log_port() -> u16 {
    LOG_PORT.load(Ordering::Relaxed)
}

struct LineWriter {
    buf: [u8; 256],
    len: usize,
}

impl LineWriter {
    fn flush(&mut self) {
        outsb(log_port(), self.buf.as_ptr() as u64, self.len as u64);
        self.len = 0;
    }
}

impl Write for LineWriter {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for &b in s.as_bytes() {
            if self.len == self.buf.len() {
                self.flush();
            }
            self.buf[self.len] = b;
            self.len += 1;
        }
        Ok(())
    }
}

/// Formats and writes to the console.
pub fn print(args: fmt::Arguments) {
    let mut w = LineWriter { buf: [0; 256], len: 0 };
    let _ = w.write_fmt(args);
    w.flush();
}

/// Writes raw bytes at a kernel (identity-mapped) address.
pub fn write_physical(addr: u64, len: u64) {
    outsb(log_port(), addr, len);
}

/// `print!` for the kernel.
#[macro_export]
macro_rules! kprint {
    ($($arg:tt)*) => { $crate::console::print(format_args!($($arg)*)) };
}

/// `println!` for the kernel.
#[macro_export]
macro_rules! kprintln {
    ($($arg:tt)*) => { $crate::console::print(format_args!("{}\n", format_args!($($arg)*))) };
}
