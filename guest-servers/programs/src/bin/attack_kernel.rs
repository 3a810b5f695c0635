//! kernel-attacks: tries, one by one, what each kernel defense must refuse
//! and prints `attack_kernel: NAME refused: WHY` or `attack_kernel: NAME
//! SUCCEEDED: WHAT`; exits with the number of attacks that succeeded (100
//! when one could not be set up: `NAME UNTESTED: WHY`). The
//! names are those of `abi::weaken`, so `--append viv.weaken=NAME` (the
//! defense switched off) must turn exactly that line into SUCCEEDED.
//!
//! Its privileges (images/kernel-attacks) are a compromised server's: all
//! traps but NOTIFY, destinations only its helpers (`attack_helper`
//! copies it spawns), no `kill`. `kt_echo` is a bystander nobody may reach.
#![no_std]
#![no_main]

use abi::grant::{Grant, GRANT_READ, GRANT_VALID};
use abi::notify::NOTIFY_MTYPE;
use abi::senda::{SendaEntry, SENDA_MAX_ENTRIES};
use abi::syscall::Trap;
use programs::attack_protocol::*;
use programs::ktest_protocol::ECHO;
use rt::{Endpoint, Error, Message};

rt::main!(run);

/// How one attack ended.
enum Outcome {
    /// The kernel stopped it.
    Refused(Error),
    /// The kernel stopped it without an error (it changed the message).
    Neutralized(&'static str),
    /// The attack did what the defense exists to prevent.
    Succeeded(&'static str),
    /// The attack could not be set up, so it shows nothing.
    Untested(&'static str),
}

struct Attacker {
    me: Endpoint,
    helper_program: usize,
}

impl Attacker {
    fn spawn_helper(&self) -> Endpoint {
        rt::sys::spawn(self.helper_program).expect("spawning attack_helper")
    }

    /// Tells helper `h` to exit and reaps it.
    fn dismiss(&self, h: Endpoint) {
        let _ = ask(h, &[u64::from(H_EXIT)]);
        for _ in 0..1000 {
            match rt::process::reap() {
                Ok((ep, _)) if ep == h => return,
                Ok(_) => {}
                Err(_) => {
                    let mut msg = Message::default();
                    let _ = rt::ipc::receive(Endpoint::SYSTEM, &mut msg);
                }
            }
        }
    }
}

/// SENDREC to `h` with type `words[0]` and payload `words[1..]`.
fn ask(h: Endpoint, words: &[u64]) -> Result<Message, Error> {
    let mut msg = Message::with_words(words[0] as u32, &words[1..]);
    rt::ipc::sendrec(h, &mut msg).map(|()| msg)
}

fn refused_or<T>(result: Result<T, Error>, what: &'static str) -> Outcome {
    match result {
        Ok(_) => Outcome::Succeeded(what),
        Err(e) => Outcome::Refused(e),
    }
}

fn run() -> i32 {
    let (Some(me), Some(helper_program), Some(bystander)) = (
        rt::kip::endpoint_of("attack_kernel"),
        rt::kip::program_index("attack_helper"),
        rt::kip::endpoint_of("kt_echo"),
    ) else {
        rt::println!("attack_kernel: not in the kernel-attacks image");
        return 100;
    };
    let a = Attacker { me, helper_program };
    let helper = a.spawn_helper();
    let attacks: [(&str, &dyn Fn() -> Outcome); 10] = [
        (abi::weaken::TRAP_MASK, &|| refused_or(rt::ipc::notify(helper), "NOTIFY outside the trap mask")),
        (abi::weaken::SEND_MASK, &|| {
            refused_or(ask(bystander, &[u64::from(ECHO)]), "a bystander outside the send mask answered")
        }),
        (abi::weaken::KERNEL_CALL_MASK, &|| refused_or(rt::sys::kill(bystander), "killed a bystander without kill")),
        (abi::weaken::SOURCE_STAMP, &|| source_stamp(helper)),
        (abi::weaken::NOTIFY_TYPE, &|| notify_type(helper)),
        (abi::weaken::ENDPOINT_GENERATION, &|| endpoint_generation(&a)),
        (abi::weaken::DEADLOCK, &|| deadlock(&a)),
        (abi::weaken::POINTER_CHECK, &|| {
            // SAFETY: the kernel must refuse the pointer (its own memory)
            // before touching it; switched off, it only reads there.
            let sent = unsafe { rt::ipc::raw(Trap::Send, u64::from(helper.0), 0x10_0000) };
            refused_or(sent, "the kernel sent 64 bytes of its own memory")
        }),
        (abi::weaken::GRANT_CHECK, &|| grant_check(a.me, helper, bystander)),
        (abi::weaken::SENDA_BOUND, &senda_bound),
    ];
    let (mut succeeded, mut untested) = (0, 0);
    for (name, attack) in attacks {
        match attack() {
            Outcome::Refused(e) => rt::println!("attack_kernel: {name} refused: {e:?}"),
            Outcome::Neutralized(how) => rt::println!("attack_kernel: {name} refused: {how}"),
            Outcome::Succeeded(what) => {
                succeeded += 1;
                rt::println!("attack_kernel: {name} SUCCEEDED: {what}");
            }
            Outcome::Untested(why) => {
                untested += 1;
                rt::println!("attack_kernel: {name} UNTESTED: {why}");
            }
        }
    }
    // Not an attack: an unknown trap, for the trace test (it must leave a
    // Refused record with EBADREQUEST).
    // SAFETY: an unknown trap takes no pointers.
    let unknown = unsafe { rt::sys::trap_number(42, 0, 0) };
    rt::println!("attack_kernel: probe unknown_trap: {unknown:?}");
    rt::println!("attack_kernel: {succeeded} attacks succeeded, {untested} untested");
    if untested > 0 {
        return 100;
    }
    succeeded
}

/// A forged `source`: the helper reports what arrived.
fn source_stamp(helper: Endpoint) -> Outcome {
    let forged = Endpoint::new(33, 7);
    let mut msg = Message::new(H_ECHO);
    msg.source = forged;
    if let Err(e) = rt::ipc::sendrec(helper, &mut msg) {
        return Outcome::Refused(e);
    }
    if msg.payload[0] == u64::from(forged.0) {
        Outcome::Succeeded("the helper saw the forged source")
    } else {
        Outcome::Neutralized("the kernel stamped the real source")
    }
}

/// A request typed as a notification, by SENDREC and as a SENDA entry.
fn notify_type(helper: Endpoint) -> Outcome {
    let sendrec = ask(helper, &[u64::from(NOTIFY_MTYPE)]);
    let mut table = [SendaEntry::new(helper, Message::new(NOTIFY_MTYPE))];
    let senda = rt::ipc::senda(&mut table);
    let entry = Error::from_return(i64::from(table[0].result));
    match (sendrec, senda, entry) {
        (Ok(m), _, _) if m.payload[1] == u64::from(NOTIFY_MTYPE) => {
            Outcome::Succeeded("the helper got a request typed as a notification")
        }
        (_, Ok(()), Ok(_)) => Outcome::Succeeded("a SENDA entry typed as a notification was delivered"),
        (Err(e), _, Err(_)) => Outcome::Refused(e),
        _ => Outcome::Neutralized("not delivered"),
    }
}

/// A stale endpoint after its slot was reused.
fn endpoint_generation(a: &Attacker) -> Outcome {
    let old = a.spawn_helper();
    a.dismiss(old);
    let new = a.spawn_helper();
    let outcome = if new.slot() != old.slot() {
        Outcome::Untested("the slot was not reused")
    } else {
        // A SEND, not a SENDREC: the reply would come from the new
        // endpoint, which a reply wait for the old one does not accept.
        let sent = rt::ipc::send(old, &Message::new(H_ECHO));
        refused_or(sent, "the stale endpoint reached the slot's new process")
    };
    a.dismiss(new);
    outcome
}

/// A cycle of two senders; a watchdog kills the partner if the kernel
/// lets the cycle close.
fn deadlock(a: &Attacker) -> Outcome {
    let partner = a.spawn_helper();
    let watchdog = a.spawn_helper();
    if ask(watchdog, &[u64::from(H_WATCHDOG), 50, u64::from(partner.0)]).is_err()
        || ask(partner, &[u64::from(H_SEND_BACK)]).is_err()
    {
        return Outcome::Untested("the watchdog or the partner did not answer");
    }
    // The partner now waits in SEND to us.
    let outcome = match rt::ipc::send(partner, &Message::new(H_DATA)) {
        Ok(()) => Outcome::Succeeded("the cycle's SEND was taken (no refusal)"),
        Err(Error::DstDied) => Outcome::Succeeded("blocked in a cycle until the watchdog killed the partner"),
        Err(e) => {
            let mut msg = Message::default();
            let _ = rt::ipc::receive(partner, &mut msg);
            Outcome::Refused(e)
        }
    };
    a.dismiss(partner);
    a.dismiss(watchdog);
    outcome
}

static SECRET: [u8; 8] = *b"secret!!";

/// A grant of `me` made to someone else, used by the helper.
fn grant_check(me: Endpoint, helper: Endpoint, grantee: Endpoint) -> Outcome {
    let table =
        [Grant { flags: GRANT_VALID | GRANT_READ, grantee: grantee.0, address: SECRET.as_ptr() as u64, size: 8 }];
    if let Err(e) = rt::sys::set_grant_table(&table) {
        return Outcome::Refused(e);
    }
    let answer = ask(helper, &[u64::from(H_COPY), u64::from(me.0), 0, 8]);
    let _ = rt::sys::set_grant_table(&[]);
    match answer {
        Ok(m) if m.payload[0] == 8 && m.payload[1] == u64::from_le_bytes(SECRET) => {
            Outcome::Succeeded("the helper copied a grant made to someone else")
        }
        Ok(m) => match Error::from_return(m.payload[0] as i64) {
            Err(e) => Outcome::Refused(e),
            Ok(_) => Outcome::Neutralized("copied, but not the granted bytes"),
        },
        Err(e) => Outcome::Refused(e),
    }
}

static mut LONG_TABLE: [SendaEntry; SENDA_MAX_ENTRIES + 1] = {
    let mut entry = SendaEntry::new(Endpoint::NONE, Message::new(0));
    entry.flags = 0;
    [entry; SENDA_MAX_ENTRIES + 1]
};

/// A SENDA table one entry longer than the bound (no entry valid).
fn senda_bound() -> Outcome {
    // SAFETY: the table is a static of SENDA_MAX_ENTRIES + 1 entries that
    // only this function uses; the kernel reads and writes inside it.
    let result = unsafe { rt::ipc::senda_raw(&raw const LONG_TABLE as u64, SENDA_MAX_ENTRIES as u64 + 1) };
    refused_or(result, "the kernel walked a table longer than the bound")
}
