//! A well-behaved service: waits for messages and answers every RS
//! heartbeat; requests get a `BadRequest` reply by SENDNB (`rs-test`
//! image).
#![no_std]
#![no_main]

use abi::notify::is_notification;
use abi::{Endpoint, Error, Message};

rt::main!(run);

fn run() -> i32 {
    rt::println!("steady: up");
    let mut msg = Message::new(0);
    loop {
        if rt::ipc::receive(Endpoint::ANY, &mut msg).is_err() {
            continue;
        }
        if is_notification(&msg) {
            rt::service::handle_heartbeat(&msg);
        } else {
            let reply = abi::proto::reply_result(Err(Error::BadRequest));
            let _ = rt::ipc::send_nonblocking(msg.source, &reply);
        }
    }
}
