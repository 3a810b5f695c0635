//! The block-device protocol between a file server and a disk driver
//! (`blk`, the virtio-blk driver).
//!
//! Trust is asymmetric, and both directions use SENDA for different
//! reasons. The file server is trusted by the driver; the driver is not
//! trusted by anyone (it is the component we expect to crash or be
//! restarted). So the file server sends its requests with SENDA: a driver
//! that never receives, or dies, cannot block it. The driver answers with
//! SENDA too: the file server may be busy sending elsewhere, and a driver
//! must never wait on a client. So a client sends with SENDA and then
//! RECEIVEs (from ANY, or from the driver); it must not wait in SENDREC:
//! a SENDA reply is not delivered to a SENDREC's reply wait (found with
//! the `blk_probe` test program, which hung there).
//!
//! Every request carries an id chosen by the client, which the reply
//! repeats; data moves through a grant on the client's own buffer
//! (`crate::grant`), copied by the driver with safe copies, so the driver
//! never touches client memory otherwise. Positions are in bytes and must
//! be multiples of [`SECTOR_SIZE`]; lengths too, at most [`MAX_TRANSFER`].
//!
//! Distrust: the client checks every reply (it comes from the current
//! driver endpoint, carries the id of the outstanding request, and a
//! result that fits the request) and gives every request a deadline of
//! `crate::proto::rs::DEADLINE_PERIODS` heartbeat periods of the driver.
//! A reply that fails a check, a passed deadline or a failed delivery is
//! the driver's fault: the client complains to RS
//! (`crate::proto::rs::COMPLAIN`), which restarts the driver, and sends
//! the request again. An error result is retried the same way; after
//! [`ATTEMPTS`] failed tries the request fails with `Error::Io`.
//!
//! Garbled requests: a request's payload carries a check word
//! ([`CHECK_WORD`], [`request_check`]) over its type and its four words,
//! which the driver verifies before it acts ([`request_intact`]). The
//! driver cannot otherwise tell a request garbled on the way (a flipped
//! bit in the position) from a real one, and would read or write the
//! wrong sectors with every count right: a wrong read passes as the data,
//! a wrong write damages the file system. A request that fails the check
//! is answered `BadRequest` without touching the disk, which the client
//! takes as a failed try (above). Replies need no check word: their two
//! words are checked against the request by the client.
//!
//! Restarts: a new driver instance resets the device and starts with no
//! requests. Requests that were in flight when the old one died are never
//! answered; the client learns the new endpoint from DS and sends them
//! again. This is safe because block writes are idempotent: writing the
//! same bytes to the same sectors twice leaves the disk as writing them
//! once, and a read has no effect, so a resent request can never be
//! "applied twice" in a way the file server can see. (The client must not
//! reuse a buffer, nor issue an overlapping write, until the earlier
//! request is answered.)

/// Payload word of a request that holds its check word.
pub const CHECK_WORD: usize = super::CHECK_WORD;

/// The check word of a request of type `mtype` with payload words
/// `[id, position, grant, length]` (zero where the type has none).
pub const fn request_check(mtype: u32, words: &[u64; 4]) -> u64 {
    super::check_word(mtype, words)
}

/// A request of type `mtype` with its check word.
pub fn request(mtype: u32, id: u64, position: u64, grant: u64, len: u64) -> crate::Message {
    super::checked_request(mtype, [id, position, grant, len])
}

/// Whether `msg` is a request as its sender made it (its check word fits).
pub fn request_intact(msg: &crate::Message) -> bool {
    super::request_intact(msg)
}

/// Tries of one request (each to a fresh driver instance after the
/// first) before the client gives up with `Error::Io`.
pub const ATTEMPTS: u32 = 3;

/// Size of a sector: positions and lengths are multiples of it.
pub const SECTOR_SIZE: u64 = 512;
/// Largest READ or WRITE (the size of the driver's DMA bounce buffer).
pub const MAX_TRANSFER: u64 = 64 * 1024;

super::message_types! {
    /// Read: `payload[0]` = request id, `[1]` = position in bytes, `[2]` =
    /// grant id (the client's buffer, write access for the driver), `[3]` =
    /// length in bytes. The reply's result is the length read.
    READ = 0x600 => "blockdev.read";
    /// Write: payload as [`READ`]; the grant gives read access. The reply's
    /// result is the length written (in the host's page cache, not yet
    /// durable: see [`FLUSH`]).
    WRITE = 0x601 => "blockdev.write";
    /// Flush: `payload[0]` = request id. Every write answered before makes it
    /// to stable storage. Result 0.
    FLUSH = 0x602 => "blockdev.flush";
    /// Geometry: `payload[0]` = request id. The result is the capacity in
    /// bytes.
    GEOMETRY = 0x603 => "blockdev.geometry";
    /// Reply from the driver: `payload[0]` = request id, `[1]` = result (a
    /// value ≥ 0 or a negated [`crate::Error`]: `Invalid` for a misaligned or
    /// oversized request, `Perm`/`Fault` from the client's grant, `Unavailable`
    /// when the device fails the request or cannot be set up).
    REPLY = 0x610 => "blockdev.reply";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_is_intact_and_any_flipped_bit_or_overwrite_is_caught() {
        let msg = request(WRITE, 7, 0x8000, 3, 1024);
        assert!(request_intact(&msg));
        for bit in 0..64 * (CHECK_WORD + 1) {
            let mut m = msg;
            m.payload[bit / 64] ^= 1 << (bit % 64);
            assert!(!request_intact(&m), "bit {bit}");
        }
        // The fault plans' overwrite: 8 bytes at a payload byte offset
        // (those touching the five words a request uses).
        for offset in 0..8 * (CHECK_WORD + 1) {
            let mut bytes = crate::senda::message_to_bytes(&msg);
            bytes[8 + offset..16 + offset].copy_from_slice(&0x0123_4567_89AB_CDEFu64.to_le_bytes());
            assert!(!request_intact(&crate::senda::message_from_bytes(&bytes)), "offset {offset}");
        }
        let mut other = msg;
        other.mtype = READ;
        assert!(!request_intact(&other));
    }
}
