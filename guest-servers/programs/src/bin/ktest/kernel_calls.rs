//! Cases for the SYSTEM task: grants and safe copies, port I/O, IRQs,
//! alarms, the process table.

use crate::{as_result, Suite};
use abi::grant::{Grant, GRANT_READ, GRANT_VALID, GRANT_WRITE};
use abi::notify::NOTIFY_MTYPE;
use abi::syscall::{IRQ_DISABLE, IRQ_ENABLE, NOTIFY_ALARM, NOTIFY_ALARM_WORD};
use programs::ktest_protocol::*;
use rt::{Endpoint, Error, Message};

pub fn run(s: &mut Suite) {
    grants(s);
    devices(s);
    alarm(s);
    process_table(s);
}

static mut BUFFER: [u8; 256] = [0; 256];
static mut GRANTS: [Grant; 4] = [Grant { flags: 0, grantee: 0, address: 0, size: 0 }; 4];

fn buffer() -> &'static mut [u8; 256] {
    // SAFETY: single-threaded; only kt_echo's safe copies (through the
    // kernel, while we are blocked in SENDREC) touch it otherwise.
    unsafe { &mut *(&raw mut BUFFER) }
}

fn grants_table() -> &'static mut [Grant; 4] {
    // SAFETY: as for `buffer`; the kernel reads it during safe copies.
    unsafe { &mut *(&raw mut GRANTS) }
}

/// Asks kt_echo to safe-copy through our grant `id`; returns (result, sum).
fn copy(s: &Suite, id: u64, offset: u64, len: u64, to_granter: bool) -> (Result<(), Error>, u64) {
    let words = [u64::from(s.me.0), id, offset, len, u64::from(to_granter), 0xAB];
    let mut msg = Message::with_words(GRANT_COPY, &words);
    rt::ipc::sendrec(s.echo, &mut msg).expect("kt_echo");
    let result = if (msg.payload[0] as i64) < 0 { as_result(msg.payload[0]) } else { Ok(()) };
    (result, msg.payload[1])
}

fn grants(s: &mut Suite) {
    for (i, b) in buffer().iter_mut().enumerate() {
        *b = i as u8;
    }
    let base = buffer().as_ptr() as u64;
    let other = rt::kip::endpoint_of("kt_user").unwrap_or(Endpoint::NONE);
    *grants_table() = [
        Grant { flags: GRANT_VALID | GRANT_READ, grantee: s.echo.0, address: base, size: 128 },
        Grant { flags: GRANT_VALID | GRANT_WRITE, grantee: s.echo.0, address: base + 128, size: 128 },
        Grant { flags: GRANT_VALID | GRANT_READ, grantee: other.0, address: base, size: 128 },
        Grant { flags: 0, grantee: s.echo.0, address: base, size: 128 },
    ];
    s.expect("set_grant_table", rt::sys::set_grant_table(grants_table()), Ok(()));
    let expected_sum: u64 = (0..64u64).sum();
    let (r, sum) = copy(s, 0, 0, 64, false);
    s.check("safecopy_from_grant", r.is_ok() && sum == expected_sum, format_args!("{r:?} sum {sum}"));
    let (r, _) = copy(s, 1, 0, 32, true);
    let written = buffer()[128..160].iter().all(|&b| b == 0xAB) && buffer()[160] == 160;
    s.check("safecopy_to_grant", r.is_ok() && written, format_args!("{r:?}"));
    s.expect("safecopy_wrong_grantee", copy(s, 2, 0, 16, false).0, Err(Error::Perm));
    s.expect("safecopy_out_of_range", copy(s, 0, 100, 64, false).0, Err(Error::Perm));
    s.expect("safecopy_wrong_rights", copy(s, 0, 0, 16, true).0, Err(Error::Perm));
    s.expect("safecopy_revoked_entry", copy(s, 3, 0, 16, false).0, Err(Error::Perm));
    s.expect("safecopy_bad_grant_id", copy(s, 99, 0, 16, false).0, Err(Error::Perm));
    grants_table()[0].flags = 0;
    s.expect("safecopy_after_revoke", copy(s, 0, 0, 16, false).0, Err(Error::Perm));
    indirect(s);
    let _ = rt::sys::set_grant_table(&[]);
}

/// Asks kt_echo to make entry `entry` of its table an indirect grant to
/// ktest onto ktest's own grant `target` (window `offset`, `len`).
fn set_indirect(s: &Suite, entry: u64, target_granter: Endpoint, target: u64, offset: u64, len: u64, rights: u32) {
    set_indirect_for(s, s.me, entry, target_granter, target, offset, len, rights);
}

/// As [`set_indirect`] with grantee `grantee`.
#[allow(clippy::too_many_arguments)]
fn set_indirect_for(
    s: &Suite,
    grantee: Endpoint,
    entry: u64,
    target_granter: Endpoint,
    target: u64,
    offset: u64,
    len: u64,
    rights: u32,
) {
    let words = [u64::from(grantee.0), u64::from(target_granter.0), target, offset, len, u64::from(rights), entry];
    let mut msg = Message::with_words(GRANT_INDIRECT_SET, &words);
    rt::ipc::sendrec(s.echo, &mut msg).expect("kt_echo");
    assert_eq!(msg.payload[0], 0, "kt_echo could not set its grant table");
}

/// Indirect grants: ktest (the memory's owner) grants kt_echo a window of
/// its buffer; kt_echo passes a part of it back to ktest (the final
/// grantee) through an indirect entry; ktest copies through kt_echo's
/// entry, which reaches ktest's buffer with one copy.
fn indirect(s: &mut Suite) {
    for (i, b) in buffer().iter_mut().enumerate() {
        *b = i as u8;
    }
    let base = buffer().as_ptr() as u64;
    *grants_table() = [
        Grant { flags: GRANT_VALID | GRANT_READ | GRANT_WRITE, grantee: s.echo.0, address: base, size: 128 },
        Grant { flags: GRANT_VALID | GRANT_READ, grantee: s.echo.0, address: base + 128, size: 128 },
        Grant { flags: GRANT_VALID | GRANT_READ, grantee: s.me.0, address: base, size: 128 },
        Grant { flags: 0, grantee: s.echo.0, address: base, size: 128 },
    ];
    s.expect("indirect_table", rt::sys::set_grant_table(grants_table()), Ok(()));
    let echo = s.echo;
    // Entry 0 of kt_echo: bytes 16..80 of ktest's grant 0, read and write.
    set_indirect(s, 0, s.me, 0, 16, 64, GRANT_READ | GRANT_WRITE);
    let mut got = [0u8; 32];
    let r = rt::sys::safecopy_from(echo, 0, 8, &mut got);
    let ok = got.iter().enumerate().all(|(i, &b)| b == (24 + i) as u8);
    s.check("indirect_grant_copy_from", r == Ok(32) && ok, format_args!("{r:?} {got:?}"));
    let r = rt::sys::safecopy_to(echo, 0, 0, &[0xCD; 8]);
    let ok = buffer()[16..24].iter().all(|&b| b == 0xCD) && buffer()[15] == 15 && buffer()[24] == 24;
    s.check("indirect_grant_copy_to", r == Ok(8) && ok, format_args!("{r:?}"));
    s.expect("indirect_outside_window", rt::sys::safecopy_from(echo, 0, 60, &mut got[..8]), Err(Error::Perm));
    // The window must also lie inside the target grant.
    set_indirect(s, 1, s.me, 0, 100, 64, GRANT_READ);
    s.expect("indirect_window_beyond_target", rt::sys::safecopy_from(echo, 1, 30, &mut got[..8]), Err(Error::Perm));
    // Target grant 1 is read-only: an indirect write grant onto it fails.
    set_indirect(s, 1, s.me, 1, 0, 64, GRANT_WRITE);
    s.expect("indirect_wrong_rights", rt::sys::safecopy_to(echo, 1, 0, &[1; 8]), Err(Error::Perm));
    // The indirect entry itself lacks the right asked for.
    set_indirect(s, 1, s.me, 1, 0, 64, GRANT_READ);
    s.expect("indirect_read_only_entry", rt::sys::safecopy_to(echo, 1, 0, &[1; 8]), Err(Error::Perm));
    // Target grant 2 is granted to ktest, not to kt_echo.
    set_indirect(s, 1, s.me, 2, 0, 64, GRANT_READ);
    s.expect("indirect_target_not_to_granter", rt::sys::safecopy_from(echo, 1, 0, &mut got[..8]), Err(Error::Perm));
    // Target entry 3 is not valid; then entry 0 is revoked.
    set_indirect(s, 1, s.me, 3, 0, 64, GRANT_READ);
    s.expect("indirect_invalid_target", rt::sys::safecopy_from(echo, 1, 0, &mut got[..8]), Err(Error::Perm));
    grants_table()[0].flags = 0;
    s.expect("indirect_revoked_target", rt::sys::safecopy_from(echo, 0, 0, &mut got[..8]), Err(Error::Perm));
    // One level only: kt_echo's entry 2 points at its own indirect entry
    // 1 (granted to kt_echo, so only the indirection is wrong).
    grants_table()[0].flags = GRANT_VALID | GRANT_READ | GRANT_WRITE;
    set_indirect_for(s, echo, 1, s.me, 0, 0, 64, GRANT_READ);
    set_indirect(s, 2, echo, 1, 0, 32, GRANT_READ);
    s.expect("indirect_of_indirect", rt::sys::safecopy_from(echo, 2, 0, &mut got[..8]), Err(Error::Perm));
    // An indirect entry for another grantee (kt_echo) is not ktest's.
    s.expect("indirect_wrong_grantee", rt::sys::safecopy_from(echo, 1, 0, &mut got[..8]), Err(Error::Perm));
    for entry in 0..3 {
        set_indirect(s, entry, s.me, 0, 0, 0, 0);
    }
}

fn devices(s: &mut Suite) {
    s.check("devio_allowed_port", rt::sys::port_in(0x3FB, 1).is_ok(), format_args!("reading the UART LCR"));
    s.expect("devio_denied_port", rt::sys::port_in(0x60, 1), Err(Error::Perm));
    let enabled = rt::sys::irqctl(4, IRQ_ENABLE);
    let disabled = rt::sys::irqctl(4, IRQ_DISABLE);
    s.check("irq_allowed_line", enabled.is_ok() && disabled.is_ok(), format_args!("{enabled:?} {disabled:?}"));
    s.expect("irq_denied_line", rt::sys::irqctl(5, IRQ_ENABLE), Err(Error::Perm));
}

fn alarm(s: &mut Suite) {
    let start = rt::sys::uptime();
    s.expect("set_alarm", rt::sys::set_alarm(2), Ok(()));
    let msg = s.receive_from(Endpoint::ANY);
    let waited = rt::sys::uptime() - start;
    s.check(
        "alarm_notification",
        msg.mtype == NOTIFY_MTYPE
            && msg.source == Endpoint::SYSTEM
            && msg.payload[NOTIFY_ALARM_WORD] & NOTIFY_ALARM != 0
            && waited >= 2,
        format_args!("{msg:?} after {waited} ticks"),
    );
}

fn process_table(s: &mut Suite) {
    let mut records = [rt::sys::ProcRecord::default(); 64];
    let n = rt::sys::proc_info(&mut records).unwrap_or(0);
    let records = &records[..n];
    let has = |name: &str, ep: Endpoint| records.iter().any(|r| r.name() == name && r.endpoint == ep);
    s.check("proc_info_lists_processes", has("ktest", s.me) && has("kt_echo", s.echo), format_args!("{n} records"));
}
