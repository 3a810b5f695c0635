//! Driver support: port I/O, IRQ control, alarms.

use crate::arch::{cpu, ioapic};
use crate::process::System;
use abi::layout::PAGE_SIZE;
use abi::syscall::{DEVIO_IN, DEVIO_OUT, DEV_OUT_STRING_MAX, IRQ_ACK, IRQ_DISABLE, IRQ_ENABLE};
use abi::Error;

/// One port access of width 1, 2 or 4 inside the caller's port ranges.
pub fn devio(sys: &System, slot: usize, port: u64, value: u64, mode: u64) -> Result<u64, Error> {
    let width = mode & 0xff;
    if !matches!(width, 1 | 2 | 4) || port > u64::from(u16::MAX) - (width - 1) {
        return Err(Error::Invalid);
    }
    let privileges = &sys.arch[slot].privileges;
    if !(port..port + width).all(|p| privileges.allows_port(p as u16)) {
        return Err(Error::Perm);
    }
    let port = port as u16;
    match mode & !0xff {
        DEVIO_IN => Ok(match width {
            1 => u64::from(cpu::inb(port)),
            2 => u64::from(cpu::inw(port)),
            _ => u64::from(cpu::inl(port)),
        }),
        DEVIO_OUT => {
            match width {
                1 => cpu::outb(port, value as u8),
                2 => cpu::outw(port, value as u16),
                _ => cpu::outl(port, value as u32),
            }
            Ok(0)
        }
        _ => Err(Error::Invalid),
    }
}

/// Writes `len` bytes of the caller's memory at `addr` to `port`: one
/// `rep outsb` (one VM exit) per page.
pub fn dev_out_string(sys: &System, slot: usize, port: u64, addr: u64, len: u64) -> Result<u64, Error> {
    if len > DEV_OUT_STRING_MAX {
        return Err(Error::Domain);
    }
    if port > u64::from(u16::MAX) {
        return Err(Error::Invalid);
    }
    if !sys.arch[slot].privileges.allows_port(port as u16) {
        return Err(Error::Perm);
    }
    let space = sys.arch[slot].space;
    let mut done = 0;
    while done < len {
        let va = addr.checked_add(done).ok_or(Error::Fault)?;
        let phys = space.translate(va, false).ok_or(Error::Fault)?;
        let chunk = (PAGE_SIZE - (va & (PAGE_SIZE - 1))).min(len - done);
        cpu::outsb(port as u16, phys, chunk);
        done += chunk;
    }
    Ok(len)
}

/// Enables, disables or acknowledges an IRQ line the caller may use.
pub fn irqctl(sys: &mut System, slot: usize, irq: u64, op: u64) -> Result<u64, Error> {
    if irq >= ioapic::IRQ_LINES as u64 {
        return Err(Error::Invalid);
    }
    if sys.arch[slot].privileges.irqs & (1 << irq) == 0 {
        return Err(Error::Perm);
    }
    let line = irq as usize;
    let owner = sys.irq_owner[line];
    match op {
        IRQ_ENABLE if owner.is_none_or(|o| o == slot) => {
            sys.irq_owner[line] = Some(slot);
            ioapic::unmask(line);
        }
        IRQ_DISABLE | IRQ_ACK if owner != Some(slot) => return Err(Error::Perm),
        IRQ_DISABLE => {
            sys.irq_owner[line] = None;
            ioapic::mask(line);
        }
        IRQ_ACK => ioapic::unmask(line),
        IRQ_ENABLE => return Err(Error::Perm),
        _ => return Err(Error::Invalid),
    }
    Ok(0)
}

/// Arms (or with 0 cancels) the caller's alarm.
pub fn set_alarm(sys: &mut System, slot: usize, ticks: u64) -> Result<u64, Error> {
    sys.arch[slot].alarm_at = if ticks == 0 { 0 } else { crate::ticks() + ticks };
    sys.recompute_next_alarm();
    Ok(0)
}
