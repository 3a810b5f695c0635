//! `wc [FILE...]`: prints lines, words and bytes of each file (standard
//! input when none), and a total line for several.
#![no_std]
#![no_main]

use abi::proto::vfs::O_RDONLY;
use rt::vfs::STDIN;
use rt::{errln, outln};

rt::main!(run);

#[derive(Default, Clone, Copy)]
struct Counts {
    lines: u64,
    words: u64,
    bytes: u64,
    in_word: bool,
}

impl Counts {
    fn feed(&mut self, data: &[u8]) {
        for &b in data {
            self.bytes += 1;
            if b == b'\n' {
                self.lines += 1;
            }
            let space = b == b' ' || b == b'\n' || b == b'\t' || b == b'\r';
            if !space && !self.in_word {
                self.words += 1;
            }
            self.in_word = !space;
        }
    }
}

fn count(fd: u64) -> Result<Counts, abi::Error> {
    let mut c = Counts::default();
    utils::for_each_chunk(fd, |chunk| {
        c.feed(chunk);
        Ok(())
    })?;
    Ok(c)
}

fn run() -> i32 {
    let mut status = 0;
    let mut total = Counts::default();
    let mut files = 0;
    for name in rt::args().skip(1) {
        files += 1;
        let r = rt::vfs::open(name, O_RDONLY).and_then(|fd| {
            let r = count(fd);
            let _ = rt::vfs::close(fd);
            r
        });
        match r {
            Ok(c) => {
                outln!("{:>7} {:>7} {:>7} {}", c.lines, c.words, c.bytes, name);
                total.lines += c.lines;
                total.words += c.words;
                total.bytes += c.bytes;
            }
            Err(e) => {
                errln!("wc: {}: {}", name, utils::describe(e));
                status = 1;
            }
        }
    }
    if files == 0 {
        match count(STDIN) {
            Ok(c) => {
                outln!("{:>7} {:>7} {:>7}", c.lines, c.words, c.bytes);
            }
            Err(e) => {
                errln!("wc: {}", utils::describe(e));
                status = 1;
            }
        }
    } else if files > 1 {
        outln!("{:>7} {:>7} {:>7} total", total.lines, total.words, total.bytes);
    }
    status
}
