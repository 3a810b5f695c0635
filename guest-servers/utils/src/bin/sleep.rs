//! `sleep SECONDS`: waits (PM's SLEEP). Fractions are allowed: `sleep
//! 0.25` sleeps 250 ms (digits past milliseconds are ignored).
#![no_std]
#![no_main]

use rt::errln;

rt::main!(run);

/// Milliseconds of `text` (`S`, `S.F`, `.F`), or `None` when malformed.
fn millis(text: &str) -> Option<u64> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if whole.is_empty() && fraction.is_empty() {
        return None;
    }
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(whole) || !all_digits(fraction) {
        return None;
    }
    let seconds: u64 = if whole.is_empty() { 0 } else { whole.parse().ok()? };
    let mut ms = 0;
    for (i, b) in fraction.bytes().take(3).enumerate() {
        ms += u64::from(b - b'0') * [100, 10, 1][i];
    }
    seconds.checked_mul(1000)?.checked_add(ms)
}

fn run() -> i32 {
    let mut args = rt::args().skip(1);
    let (Some(arg), None) = (args.next(), args.next()) else {
        errln!("usage: sleep SECONDS");
        return 2;
    };
    let Some(ms) = millis(arg) else {
        errln!("sleep: invalid time {}", arg);
        return 2;
    };
    match rt::pm::sleep_ms(ms) {
        Ok(()) => 0,
        Err(e) => {
            errln!("sleep: {}", utils::describe(e));
            1
        }
    }
}
