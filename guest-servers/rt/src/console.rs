//! Formatted console output through the kernel's diagnostic write.
//!
//! Output is buffered per `print!` call so a line costs one kernel call.

use core::fmt::{self, Write};

/// A `fmt::Write` that gathers text and writes it to the console.
pub struct Console {
    buf: [u8; 512],
    len: usize,
}

impl Console {
    /// An empty buffer.
    pub const fn new() -> Console {
        Console { buf: [0; 512], len: 0 }
    }

    /// Writes what was gathered.
    pub fn flush(&mut self) {
        if self.len > 0 {
            let _ = crate::sys::diag_write(&self.buf[..self.len]);
            self.len = 0;
        }
    }
}

impl Default for Console {
    fn default() -> Self {
        Self::new()
    }
}

impl Write for Console {
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

/// Formats `args` to the console.
pub fn print(args: fmt::Arguments) {
    let mut c = Console::new();
    let _ = c.write_fmt(args);
    c.flush();
}

/// Prints to the console.
#[macro_export]
macro_rules! print {
    ($($arg:tt)*) => { $crate::console::print(format_args!($($arg)*)) };
}

/// Prints a line to the console.
#[macro_export]
macro_rules! println {
    () => { $crate::console::print(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::console::print(format_args!("{}\n", format_args!($($arg)*))) };
}
