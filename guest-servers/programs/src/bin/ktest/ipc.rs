//! Cases for the primitives: rendezvous, SENDREC, NOTIFY, SENDNB, SENDA,
//! ordering, deadlock detection, privilege and pointer checks.

use crate::{as_result, Suite};
use abi::notify::NOTIFY_MTYPE;
use abi::senda::{SendaEntry, FLAG_DONE};
use abi::syscall::Trap;
use programs::ktest_protocol::*;
use rt::{Endpoint, Error, Message};

pub fn user_process_is_confined(s: &mut Suite) {
    let user = rt::kip::endpoint_of("kt_user").expect("kt_user in the image");
    let report = s.receive_from(user);
    let expected = [
        Error::TrapDenied,
        Error::TrapDenied,
        Error::TrapDenied,
        Error::CallDenied,
        Error::CallDenied,
        Error::BadRequest,
        Error::Fault,
    ];
    for ((name, want), got) in USER_CHECKS.iter().zip(expected).zip(report.payload) {
        s.expect(name, as_result(got), Err(want));
    }
    let _ = rt::ipc::send_nonblocking(user, &Message::new(ACK));
}

pub fn run(s: &mut Suite) {
    // SENDREC: request and reply, source stamped by the kernel.
    let mut msg = Message::with_words(ECHO, &[1, 2, 3]);
    msg.source = Endpoint::new(33, 7); // forged, must be overwritten
    let r = rt::ipc::sendrec(s.echo, &mut msg);
    s.check(
        "sendrec_round_trip",
        r.is_ok() && msg.mtype == ECHO_REPLY && msg.payload[..3] == [2, 3, 4],
        format_args!("{r:?} {msg:?}"),
    );
    s.check("source_stamped_by_kernel", msg.source == s.echo, format_args!("source {}", msg.source));
    // Only the kernel builds notifications: a request typed as one is
    // refused, so it cannot pose as one.
    let mut forged = Message::new(NOTIFY_MTYPE);
    s.expect("sendrec_notify_type_refused", rt::ipc::sendrec(s.echo, &mut forged), Err(Error::Invalid));

    // NOTIFY: pends during a SENDREC, coalesces, and comes before senders.
    let mut msg = Message::new(NOTIFY_TWICE_THEN_SEND);
    let r = rt::ipc::sendrec(s.echo, &mut msg);
    s.check("notify_does_not_interrupt_sendrec", r.is_ok() && msg.mtype == ACK, format_args!("{r:?} {msg:?}"));
    let first = s.receive_from(Endpoint::ANY);
    s.check("notify_delivered_first", first.mtype == NOTIFY_MTYPE && first.source == s.echo, format_args!("{first:?}"));
    let second = s.receive_from(Endpoint::ANY);
    s.check("notify_coalesces", second.mtype == DATA && second.payload[0] == 0xDA7A, format_args!("{second:?}"));

    // Queued senders: FIFO, and RECEIVE from one source passes the others.
    let (w1, w2) = (s.spawn_waiter(), s.spawn_waiter());
    s.instruct(w1, W_SEND_TO, s.me, 1);
    s.instruct(w2, W_SEND_TO, s.me, 2);
    let m = s.receive_from(w2);
    s.check("receive_specific_source", m.source == w2 && m.payload[0] == 2, format_args!("{m:?}"));
    let m = s.receive_from(Endpoint::ANY);
    s.check("senders_fifo", m.source == w1 && m.payload[0] == 1, format_args!("{m:?}"));
    s.receive_from(w1); // its REPORT
    s.receive_from(w2);

    // SENDNB to a process that is not receiving.
    s.instruct(w1, W_SEND_TO, s.me, 3);
    s.expect("sendnb_not_ready", rt::ipc::send_nonblocking(w1, &Message::new(DATA)), Err(Error::NotReady));

    // Deadlock: w1 is blocked sending to us, so sending to w1 would close
    // a cycle of two senders.
    s.expect("deadlock_two_senders", rt::ipc::send(w1, &Message::new(DATA)), Err(Error::Locked));
    s.receive_from(w1);
    s.receive_from(w1);

    // A cycle of three: w2 -> me, w1 -> w2, me -> w1.
    s.instruct(w2, W_SEND_TO, s.me, 4);
    s.instruct(w1, W_SEND_TO, w2, 5);
    s.expect("deadlock_three_cycle", rt::ipc::send(w1, &Message::new(DATA)), Err(Error::Locked));
    s.receive_from(w2); // DATA
    s.receive_from(w2); // REPORT; then w2 takes w1's DATA
    let report = s.receive_from(w1);
    s.expect("cycle_members_unaffected", as_result(report.payload[0]), Ok(()));

    senda(s, w1);
    let _ = s.kill(w1);
    let _ = s.kill(w2);
    pointers(s);
}

static mut TABLE: [SendaEntry; 2] = [SendaEntry::new(Endpoint::NONE, Message::new(0)); 2];

fn table() -> &'static mut [SendaEntry; 2] {
    // SAFETY: only this single-threaded program touches TABLE, through this
    // one function, and no reference outlives a case.
    unsafe { &mut *(&raw mut TABLE) }
}

fn senda(s: &mut Suite, waiter: Endpoint) {
    let dead = Endpoint::new(60, 9);
    *table() = [
        SendaEntry::new(s.echo, Message::with_words(ASYNC, &[7])),
        SendaEntry::new(dead, Message::with_words(ASYNC, &[8])),
    ];
    let r = rt::ipc::senda(table());
    let t = *table();
    s.check(
        "senda_delivers_and_writes_back",
        r.is_ok() && t[0].flags & FLAG_DONE != 0 && t[0].result == 0,
        format_args!("{r:?} {:?}", t[0]),
    );
    s.check(
        "senda_dead_destination",
        t[1].flags & FLAG_DONE != 0 && t[1].result as i64 == Error::DeadSrcDst.to_return(),
        format_args!("{:?}", t[1]),
    );
    let mut msg = Message::new(ASYNC_COUNT);
    let r = rt::ipc::sendrec(s.echo, &mut msg);
    s.check("senda_delivered_once", r.is_ok() && msg.payload[..2] == [1, 7], format_args!("{r:?} {msg:?}"));

    // Pending until the receiver receives: the waiter is blocked sending.
    s.instruct(waiter, W_SEND_TO, s.me, 6);
    *table() =
        [SendaEntry::new(waiter, Message::with_words(ASYNC, &[42])), SendaEntry::new(Endpoint::NONE, Message::new(0))];
    table()[1].flags = 0;
    let r = rt::ipc::senda(&mut table()[..1]);
    s.check("senda_pends_while_busy", r.is_ok() && table()[0].flags & FLAG_DONE == 0, format_args!("{r:?}"));
    s.receive_from(waiter); // DATA
    s.receive_from(waiter); // REPORT; the waiter then receives the async message
    let got = s.receive_from(waiter);
    s.check(
        "senda_delivered_on_receive",
        got.mtype == REPORT_ASYNC
            && got.payload[0] == 42
            && table()[0].flags & FLAG_DONE != 0
            && table()[0].result == 0,
        format_args!("{got:?} {:?}", table()[0]),
    );
    // SAFETY: the kernel must refuse these before touching memory.
    s.expect("senda_too_large", unsafe { rt::ipc::senda_raw(table().as_ptr() as u64, 65) }, Err(Error::Domain));
    // SAFETY: address 0x10 is no table; the kernel must refuse it (EFAULT).
    s.expect("senda_bad_table", unsafe { rt::ipc::senda_raw(0x10, 2) }, Err(Error::Fault));
    // A table the kernel could read but not write back (an immutable
    // static, mapped read-only) is refused at call time, before any of
    // its entries is looked at.
    static READ_ONLY: [SendaEntry; 1] = [SendaEntry::new(Endpoint::NONE, Message::new(ASYNC))];
    // SAFETY: the kernel must refuse the table before writing to it.
    s.expect("senda_read_only_table", unsafe { rt::ipc::senda_raw(READ_ONLY.as_ptr() as u64, 1) }, Err(Error::Fault));
    // An entry typed as a notification fails; kt_echo (waiting) gets nothing.
    table()[0] = SendaEntry::new(s.echo, Message::new(NOTIFY_MTYPE));
    let r = rt::ipc::senda(&mut table()[..1]);
    let e = table()[0];
    s.check(
        "senda_notify_type_refused",
        r.is_ok() && e.flags & FLAG_DONE != 0 && i64::from(e.result) == Error::Invalid.to_return(),
        format_args!("{r:?} {e:?}"),
    );
    // SAFETY: count 0 withdraws the table; nothing is read.
    let _ = unsafe { rt::ipc::senda_raw(0, 0) };
}

fn pointers(s: &mut Suite) {
    // SAFETY: the kernel must refuse each pointer before touching memory.
    unsafe {
        s.expect("send_bad_pointer", rt::ipc::raw(Trap::Send, u64::from(s.echo.0), 0x8), Err(Error::Fault));
        s.expect(
            "receive_kernel_pointer",
            rt::ipc::raw(Trap::Receive, u64::from(Endpoint::ANY.0), 0x10_0000),
            Err(Error::Fault),
        );
        s.expect("unknown_trap", rt::sys::trap_number(42, 0, 0), Err(Error::BadRequest));
    }
}
