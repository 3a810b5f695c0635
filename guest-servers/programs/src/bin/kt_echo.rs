//! kernel-test helper: a server that answers `ktest_protocol` requests.
#![no_std]
#![no_main]

use abi::grant::Grant;
use programs::ktest_protocol::*;
use rt::{Endpoint, Message};

rt::main!(run);

fn run() -> i32 {
    let mut async_count = 0u64;
    let mut async_sum = 0u64;
    let mut msg = Message::default();
    loop {
        if rt::ipc::receive(Endpoint::ANY, &mut msg).is_err() {
            continue;
        }
        let client = msg.source;
        let reply = match msg.mtype {
            ECHO => {
                let mut reply = Message::new(ECHO_REPLY);
                for (out, word) in reply.payload.iter_mut().zip(msg.payload) {
                    *out = word.wrapping_add(1);
                }
                reply
            }
            NOTIFY_TWICE_THEN_SEND => {
                let _ = rt::ipc::notify(client);
                let _ = rt::ipc::notify(client);
                let _ = rt::ipc::send_nonblocking(client, &Message::new(ACK));
                let _ = rt::ipc::send(client, &Message::with_words(DATA, &[0xDA7A]));
                continue;
            }
            ASYNC => {
                async_count += 1;
                async_sum += msg.payload[0];
                continue;
            }
            ASYNC_COUNT => Message::with_words(ACK, &[async_count, async_sum]),
            GRANT_COPY => grant_copy(&msg),
            GRANT_INDIRECT_SET => grant_indirect_set(&msg),
            _ => continue,
        };
        // Replies never block a server: the client waits in SENDREC.
        let _ = rt::ipc::send_nonblocking(client, &reply);
    }
}

static mut TABLE: [Grant; 4] = [Grant { flags: 0, grantee: 0, address: 0, size: 0 }; 4];

/// Installs (or clears) one indirect grant in kt_echo's table.
fn grant_indirect_set(msg: &Message) -> Message {
    let w = msg.payload;
    // SAFETY: single-threaded; the kernel only reads the table during
    // safe copies of other processes, never concurrently with this store.
    let table = unsafe { &mut *(&raw mut TABLE) };
    let entry = (w[6] as usize).min(table.len() - 1);
    table[entry] = if w[5] == 0 {
        Grant::default()
    } else {
        Grant::indirect(w[0] as u32, w[1] as u32, w[2] as u32, w[3] as u32, w[4] as u32, w[5] as u32)
    };
    let result = rt::sys::set_grant_table(table).map_or_else(|e| e.to_return(), |_| 0);
    Message::with_words(ACK, &[result as u64])
}

fn grant_copy(msg: &Message) -> Message {
    let [granter, id, offset, len, direction, fill, _] = msg.payload;
    let granter = Endpoint(granter as u32);
    let mut buf = [0u8; 256];
    let len = (len as usize).min(buf.len());
    let result = if direction == 0 {
        rt::sys::safecopy_from(granter, id, offset, &mut buf[..len])
    } else {
        buf[..len].fill(fill as u8);
        rt::sys::safecopy_to(granter, id, offset, &buf[..len])
    };
    let value = match result {
        Ok(n) => n as i64,
        Err(e) => e.to_return(),
    };
    let sum: u64 = buf[..len].iter().map(|&b| u64::from(b)).sum();
    Message::with_words(ACK, &[value as u64, sum])
}
