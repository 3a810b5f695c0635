//! Cases for identities and dying peers: generations, SrcDied, DstDied.

use crate::{as_result, Suite};
use programs::ktest_protocol::*;
use rt::{Error, Message};

pub fn run(s: &mut Suite) {
    // A process blocked receiving from a victim learns the source died.
    let victim = s.spawn_waiter();
    let waiter = s.spawn_waiter();
    s.instruct(waiter, W_RECEIVE_FROM, victim, 0);
    s.expect("kill_process", s.kill(victim), Ok(()));
    let report = s.receive_from(waiter);
    s.expect("blocked_receiver_gets_src_died", as_result(report.payload[0]), Err(Error::SrcDied));

    // A process blocked sending to a victim learns the destination died.
    let victim = s.spawn_waiter();
    s.instruct(victim, W_SEND_TO, s.me, 0); // the victim stops receiving
    s.instruct(waiter, W_SEND_TO, victim, 0);
    let _ = s.kill(victim);
    let report = s.receive_from(waiter);
    s.expect("blocked_sender_gets_dst_died", as_result(report.payload[0]), Err(Error::DstDied));

    // The old endpoint stays dead even when its slot is reused.
    let old = waiter;
    let _ = s.kill(waiter);
    s.expect("stale_endpoint_refused", rt::ipc::send(old, &Message::new(DATA)), Err(Error::DeadSrcDst));
    let fresh = s.spawn_waiter();
    s.check(
        "reused_slot_new_generation",
        fresh != old,
        format_args!("old {old}, new {fresh} (slot {} vs {})", old.slot(), fresh.slot()),
    );
    let _ = s.kill(fresh);
}
