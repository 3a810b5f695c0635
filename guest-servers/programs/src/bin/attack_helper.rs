//! kernel-attacks helper: the partner `attack_kernel` needs for each attack
//! (an echo that reports what the kernel delivered, one side of a cycle, a
//! watchdog, a grantee). Protocol: `programs::attack_protocol`.
#![no_std]
#![no_main]

use programs::attack_protocol::*;
use rt::{Endpoint, Message};

rt::main!(run);

fn run() -> i32 {
    // Answers go to the attacker, whatever source a message claims: with
    // the kernel's source stamp switched off, the claimed one is a lie.
    let Some(attacker) = rt::kip::endpoint_of("attack_kernel") else { return 2 };
    let mut msg = Message::default();
    loop {
        if rt::ipc::receive(Endpoint::ANY, &mut msg).is_err() || msg.source == Endpoint::SYSTEM {
            continue;
        }
        let claimed = msg.source;
        let answer = |words: &[u64]| {
            // The attacker waits in SENDREC; after a NOTIFY it does not,
            // and the answer is dropped.
            let _ = rt::ipc::send_nonblocking(attacker, &Message::with_words(H_ANSWER, words));
        };
        match msg.mtype {
            H_SEND_BACK => {
                answer(&[]);
                let _ = rt::ipc::send(attacker, &Message::new(H_DATA));
            }
            H_WATCHDOG => {
                answer(&[]);
                let (ticks, target) = (msg.payload[0], Endpoint(msg.payload[1] as u32));
                if rt::sys::set_alarm(ticks).is_ok() {
                    let _ = rt::ipc::receive(Endpoint::SYSTEM, &mut msg);
                    let _ = rt::sys::kill(target);
                }
            }
            H_COPY => {
                let mut buf = [0u8; 8];
                let len = (msg.payload[2] as usize).min(buf.len());
                let result =
                    rt::sys::safecopy_from(Endpoint(msg.payload[0] as u32), msg.payload[1], 0, &mut buf[..len]);
                let code = result.map_or_else(|e| e.to_return(), |n| n as i64);
                answer(&[code as u64, u64::from_le_bytes(buf)]);
            }
            H_EXIT => {
                answer(&[]);
                return 0;
            }
            _ => answer(&[u64::from(claimed.0), u64::from(msg.mtype), msg.payload[0]]),
        }
    }
}
