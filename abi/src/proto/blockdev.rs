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
//! Restarts: a new driver instance resets the device and starts with no
//! requests. Requests that were in flight when the old one died are never
//! answered; the client learns the new endpoint from DS and sends them
//! again. This is safe because block writes are idempotent: writing the
//! same bytes to the same sectors twice leaves the disk as writing them
//! once, and a read has no effect, so a resent request can never be
//! "applied twice" in a way the file server can see. (The client must not
//! reuse a buffer, nor issue an overlapping write, until the earlier
//! request is answered.)

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
