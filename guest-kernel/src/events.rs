//! Asynchronous events for user space: device interrupts and alarms, both
//! delivered as notifications from SYSTEM.
//!
//! Interrupt handlers only record what happened (a pending-IRQ bit, the
//! tick count); [`System::deliver_events`] turns the record into
//! notifications when the kernel schedules, so the idle loop, which runs
//! while the system state is borrowed, never touches it from an interrupt.

use crate::arch::ioapic;
use crate::process::{Memory, System};
use abi::message::PAYLOAD_WORDS;
use abi::syscall::{NOTIFY_ALARM, NOTIFY_ALARM_WORD, NOTIFY_IRQ_WORD};
use core::sync::atomic::{AtomicU32, Ordering};

static PENDING_IRQS: AtomicU32 = AtomicU32::new(0);

/// Called by the interrupt path: masks `line` until its driver
/// acknowledges it, and records it for delivery.
pub fn irq_arrived(line: usize) {
    if line < ioapic::IRQ_LINES {
        ioapic::mask(line);
        PENDING_IRQS.fetch_or(1 << line, Ordering::Relaxed);
    }
}

impl System {
    /// Whether [`Self::deliver_events`] has anything to do: an IRQ line
    /// recorded or an alarm due. Two loads and compares, so that the
    /// scheduler's common path skips the delivery altogether.
    #[inline(always)]
    pub fn events_pending(&self) -> bool {
        PENDING_IRQS.load(Ordering::Relaxed) != 0 || (self.next_alarm != 0 && crate::ticks() >= self.next_alarm)
    }

    /// Delivers pending IRQs to their drivers and fired alarms to their
    /// owners.
    pub fn deliver_events(&mut self) {
        let irqs = PENDING_IRQS.swap(0, Ordering::Relaxed);
        if irqs != 0 {
            for line in 0..ioapic::IRQ_LINES {
                if irqs & (1 << line) != 0 {
                    if let Some(owner) = self.irq_owner[line] {
                        // Tracing: the interrupt answers the request its
                        // driver was serving, so it carries the driver's
                        // cause (a disk read's reply chain stays the read's).
                        // Alarms carry none: they are timers.
                        let before = self.core.trace.kernel_cause;
                        self.core.trace.kernel_cause = self.core.procs[owner].cause;
                        self.notify_from_system(owner, NOTIFY_IRQ_WORD, 1 << line);
                        self.core.trace.kernel_cause = before;
                    }
                }
            }
        }
        let now = crate::ticks();
        if self.next_alarm != 0 && now >= self.next_alarm {
            for slot in 0..self.arch.len() {
                let at = self.arch[slot].alarm_at;
                if at != 0 && at <= now {
                    self.arch[slot].alarm_at = 0;
                    self.notify_from_system(slot, NOTIFY_ALARM_WORD, NOTIFY_ALARM);
                }
            }
            self.recompute_next_alarm();
        }
    }

    /// Earliest armed alarm.
    pub fn recompute_next_alarm(&mut self) {
        self.next_alarm = self.arch.iter().map(|a| a.alarm_at).filter(|&at| at != 0).min().unwrap_or(0);
    }

    fn notify_from_system(&mut self, slot: usize, word: usize, bits: u64) {
        let mut words = [0u64; PAYLOAD_WORDS];
        words[word] = bits;
        let System { core, arch, frames, .. } = self;
        let _ = core.notify_from_system(&mut Memory { arch, frames }, slot, &words);
    }
}
