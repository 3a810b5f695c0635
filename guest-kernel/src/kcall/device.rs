//! Driver support: port I/O, IRQ control, alarms, device MMIO windows and
//! DMA memory.
//!
//! MMIO windows and DMA memory live in one user window
//! (`DEVICE_MAP_BASE..DEVICE_MAP_END`), far above any program image, so a
//! driver's layout never collides with its program; nothing is ever
//! remapped there (a page already mapped is refused), which keeps the calls
//! free of unmapping and TLB shootdown logic.

use crate::arch::{cpu, ioapic};
use crate::process::System;
use abi::layout::PAGE_SIZE;
use abi::syscall::{
    ALLOC_DMA_MAX_PAGES, DEVICE_MAP_BASE, DEVICE_MAP_END, DEVIO_IN, DEVIO_OUT, DEV_OUT_STRING_MAX, IRQ_ACK,
    IRQ_DISABLE, IRQ_ENABLE,
};
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
    let old = sys.arch[slot].alarm_at;
    let new = if ticks == 0 { 0 } else { crate::ticks() + ticks };
    sys.arch[slot].alarm_at = new;
    // The scan of every process's alarm is needed only when this one was
    // the earliest and moves later or goes: a driver arms and disarms its
    // deadline around every request.
    if new != 0 && (sys.next_alarm == 0 || new <= sys.next_alarm) {
        sys.next_alarm = new;
    } else if old != 0 && old == sys.next_alarm {
        sys.recompute_next_alarm();
    }
    Ok(0)
}

/// Checks that `vaddr..vaddr + len` is page-aligned, inside the device
/// window and wholly unmapped in `slot`.
fn free_device_range(sys: &System, slot: usize, vaddr: u64, len: u64) -> Result<(), Error> {
    let end = vaddr.checked_add(len).ok_or(Error::Invalid)?;
    if !vaddr.is_multiple_of(PAGE_SIZE) || vaddr < DEVICE_MAP_BASE || end > DEVICE_MAP_END {
        return Err(Error::Invalid);
    }
    let space = &sys.arch[slot].space;
    if (vaddr..end).step_by(PAGE_SIZE as usize).any(|page| space.is_mapped(page)) {
        return Err(Error::Invalid);
    }
    Ok(())
}

/// Maps the physical MMIO window `phys..phys + len` (inside one of the
/// caller's MMIO ranges) at `vaddr`, uncached.
pub fn map_device(sys: &mut System, slot: usize, phys: u64, len: u64, vaddr: u64) -> Result<u64, Error> {
    if len == 0 || !phys.is_multiple_of(PAGE_SIZE) || !len.is_multiple_of(PAGE_SIZE) {
        return Err(Error::Invalid);
    }
    if !sys.arch[slot].privileges.allows_mmio(phys, len) {
        return Err(Error::Perm);
    }
    free_device_range(sys, slot, vaddr, len)?;
    let System { arch, frames, .. } = sys;
    let space = &mut arch[slot].space;
    for offset in (0..len).step_by(PAGE_SIZE as usize) {
        // Out of page-table frames: the pages mapped so far stay (they are
        // the caller's and harmless); the caller sees the failure.
        space.map_device(frames, vaddr + offset, phys + offset).ok_or(Error::NoMemory)?;
    }
    Ok(0)
}

/// Allocates `pages` contiguous zeroed frames, maps them at `vaddr`
/// (owned: freed with the process) and returns the first one's physical
/// address.
pub fn alloc_dma(sys: &mut System, slot: usize, pages: u64, vaddr: u64) -> Result<u64, Error> {
    if pages == 0 || pages > ALLOC_DMA_MAX_PAGES {
        return Err(Error::Domain);
    }
    free_device_range(sys, slot, vaddr, pages * PAGE_SIZE)?;
    let System { arch, frames, .. } = sys;
    let first = frames.alloc_contiguous(pages, slot).ok_or(Error::NoMemory)?;
    let space = &mut arch[slot].space;
    for i in 0..pages {
        if space.map_dma(frames, vaddr + i * PAGE_SIZE, first + i * PAGE_SIZE).is_none() {
            // Out of page-table frames: the frames not yet mapped go back;
            // the mapped ones are the process's and freed with it.
            for j in i..pages {
                frames.free(first + j * PAGE_SIZE, slot);
            }
            return Err(Error::NoMemory);
        }
    }
    Ok(first)
}
