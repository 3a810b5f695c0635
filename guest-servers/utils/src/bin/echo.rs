//! `echo [-n] [ARG...]`: prints its arguments separated by spaces and a
//! newline (none with `-n`).
//!
//! The whole line is formatted into one write, so `echo` costs one VFS
//! call however many arguments it has.
#![no_std]
#![no_main]

use core::fmt;

rt::main!(run);

/// The arguments after the program name and the options, joined by spaces.
struct Joined {
    skip: usize,
    newline: bool,
}

impl fmt::Display for Joined {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        for (i, arg) in rt::args().skip(self.skip).enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            f.write_str(arg)?;
        }
        if self.newline {
            f.write_str("\n")?;
        }
        Ok(())
    }
}

fn run() -> i32 {
    let no_newline = rt::args().nth(1) == Some("-n");
    let line = Joined { skip: if no_newline { 2 } else { 1 }, newline: !no_newline };
    if rt::out!("{}", line) {
        0
    } else {
        1
    }
}
