//! Notifications: the message the kernel builds for NOTIFY.
//!
//! NOTIFY never blocks and never buffers a message: the kernel keeps one
//! pending bit per (source, destination) pair and builds the message only
//! when the destination receives it. Repeated notifies from one source
//! before the destination receives coalesce into one message, so a
//! hostile or buggy notifier cannot exhaust kernel memory (MINIX 3's
//! answer to resource exhaustion).
//!
//! A notification message has `source` = the notifier's endpoint (stamped
//! by the kernel, like every source), `mtype` = [`NOTIFY_MTYPE`] and, for
//! notifications between processes, an all-zero payload: the fact that it
//! arrived is the whole content.
//!
//! Notifications whose source is [`crate::Endpoint::SYSTEM`] come from the
//! kernel itself (alarms, interrupts, kernel events). Their payload words
//! are bitmaps that the kernel ORs together while the notification is
//! pending, so several events of one kind still cost one message and none
//! is lost. Word [`SYSTEM_EVENTS_WORD`] holds the kernel-core event bits
//! below; the other words belong to the architecture layer, which documents
//! its own use of them (e.g. expired alarms, pending IRQ lines).

use crate::Message;

/// The message type of every notification. Bit 31 is set so that it never
/// collides with a protocol's own request or reply types, which must stay
/// below it.
pub const NOTIFY_MTYPE: u32 = 0x8000_0000;

/// Payload word of a SYSTEM notification that holds the `EVENT_*` bits of
/// kernel-core.
pub const SYSTEM_EVENTS_WORD: usize = 0;

/// Event bit: at least one entry of the receiver's SENDA table that had
/// `senda::FLAG_NOTIFY` was completed (delivered or failed) after the SENDA
/// call returned. The receiver should scan its table for `FLAG_DONE`.
pub const EVENT_SENDA_DONE: u64 = 1 << 0;

/// True when `msg` is a kernel-built notification.
pub const fn is_notification(msg: &Message) -> bool {
    msg.mtype == NOTIFY_MTYPE
}
