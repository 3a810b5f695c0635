//! The character-device protocol between VFS and drivers such as TTY.
//!
//! VFS trusts no driver: it sends requests with SENDA (a driver that never
//! receives cannot block it) and drivers answer with SENDA too (VFS may be
//! busy). Every request carries an id that the reply repeats. Data moves
//! through grants on VFS's own buffers. When a driver is restarted (DS
//! announces its new endpoint), VFS sends every request that was not
//! answered again, so a driver crash costs user programs no error. A
//! request the driver never sees (lost on the way) is caught by a
//! deadline: a write must be answered, a read answered or accepted
//! ([`ACCEPTED`]) in time, or VFS has the driver restarted.
//!
//! Every request carries a check word (`payload[4]`, [`request`],
//! `super::check_word`) that the driver verifies before it acts: a
//! request garbled on the way (its grant, length or id) is answered
//! `BadRequest` without touching the console, and VFS sends it again
//! (a garbled write acted on came out wrong, or twice once VFS's
//! deadline had the driver restarted).

/// A request of type `mtype` (`[id, grant, length, user]`, zero where the
/// type has none) with its check word.
pub fn request(mtype: u32, id: u64, grant: u64, len: u64, user: u64) -> crate::Message {
    super::checked_request(mtype, [id, grant, len, user])
}

super::message_types! {
    /// Read: `payload[0]` = request id, `[1]` = grant id (VFS's buffer, write
    /// access), `[2]` = length, `[3]` = endpoint of the user process (for
    /// signals). Reply when data (a line, for the console) is available.
    READ = 0x500 => "dev.read";
    /// Write: `payload[0]` = request id, `[1]` = grant id (read access),
    /// `[2]` = length.
    WRITE = 0x501 => "dev.write";
    /// Cancel: `payload[0]` = request id of a pending read; the driver answers
    /// that read with `Interrupted` (or its data, if it was already complete).
    CANCEL = 0x502 => "dev.cancel";
    /// Reply from a driver: `payload[0]` = request id, `[1]` = result (bytes
    /// transferred, 0 = end of file, or a negated error).
    REPLY = 0x510 => "dev.reply";
    /// A READ the driver cannot answer yet is accepted: `payload[0]` =
    /// request id. Sent at once when the read has to wait (for typed
    /// input, which may take for ever); a read answered at once needs none.
    /// VFS gives the acknowledgement a deadline (MINIX's SUSPEND reply): a
    /// read neither answered nor accepted by then was lost, and the driver
    /// is reported to RS.
    ACCEPTED = 0x511 => "dev.accepted";
}
