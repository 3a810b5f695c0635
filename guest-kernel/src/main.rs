//! The Vivarium microkernel.
//!
//! A MINIX 3-style microkernel for x86-64: rendezvous IPC with fixed-size
//! messages, per-process address spaces in ring 3, a priority scheduler,
//! and nothing else in the kernel that a user-space server could do. The
//! IPC and scheduling logic is `kernel-core` (host-tested); this crate is
//! the thin machine layer around it.
//!
//! On software-KVM hosts every instruction run here is emulated (≈ 0.6 µs),
//! so the kernel avoids bulk copies and zeroing: programs are mapped in
//! place from the boot image and messages are copied once.
#![no_std]
#![no_main]
#![forbid(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]

mod arch;
mod console;
mod debug_trap;
mod directory;
mod events;
mod fastpath;
mod fault;
mod frames;
mod int3;
mod ipc_memory;
mod kcall;
mod kip;
mod lifecycle;
mod paging;
mod process;
mod pvh;
mod syscall;
mod trace;
mod vclock;

use abi::boot_image::{BootImage, FLAG_NO_AUTOSTART, FLAG_SERVICE};
use abi::layout::EntryKind;
use abi::platform::{
    cmdline_value, CMDLINE_ENTRY_KEY, CMDLINE_MEMZERO_KEY, MARK_FIRST_USER, PORT_BENCH_MARK, PORT_POWEROFF,
};
use arch::cpu;
use arch::trap::{self, TrapFrame, IRQ_VECTOR_BASE, SPURIOUS_VECTOR, SYSCALL_VECTOR, TIMER_VECTOR};
use core::sync::atomic::{AtomicU64, Ordering};
use process::System;

static mut SYSTEM: System = System::new();
static TICKS: AtomicU64 = AtomicU64::new(0);

/// Timer ticks since boot.
pub fn ticks() -> u64 {
    TICKS.load(Ordering::Relaxed)
}

/// Sets the tick count, and its copy in the KIP that processes read
/// instead of asking the `uptime` kernel call ([`kip::publish_ticks`]).
pub fn set_ticks(ticks: u64) {
    TICKS.store(ticks, Ordering::Relaxed);
    kip::publish_ticks(ticks);
}

/// One more tick.
pub fn advance_ticks() {
    set_ticks(ticks() + 1);
}

fn system() -> &'static mut System {
    // SAFETY: one CPU, and the kernel runs with interrupts off except in
    // the idle wait, whose interrupt handler (`kernel_trap`) does not touch
    // SYSTEM. Each entry from user mode takes this reference once and drops
    // it before returning to user mode.
    unsafe { &mut *(&raw mut SYSTEM) }
}

/// Ends the VM with `status` (see `abi::platform`).
pub fn power_off(status: u32) -> ! {
    cpu::outl(PORT_POWEROFF, status);
    cpu::halt_forever()
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    kprintln!("kernel panic: {}", info);
    power_off(abi::platform::STATUS_KERNEL_PANIC as u32)
}

#[no_mangle]
extern "C" fn kernel_main(start_info: u64) -> ! {
    arch::gdt::init();
    trap::init();
    paging::init();
    let info = pvh::parse(start_info).unwrap_or_else(|e| panic!("{e}"));
    if cmdline_value(info.cmdline, abi::platform::CMDLINE_LOG_KEY) == Some("e9") {
        console::use_log_port();
    }
    let entry = match cmdline_value(info.cmdline, CMDLINE_ENTRY_KEY) {
        Some("trap") => EntryKind::Trap,
        _ => EntryKind::Syscall,
    };
    if entry == EntryKind::Syscall {
        arch::enable_syscall_instruction();
    }
    let sys = system();
    let memzero = cmdline_value(info.cmdline, CMDLINE_MEMZERO_KEY) == Some("1");
    sys.frames.init(&info.ram[..info.ram_count], process::reserved_ranges(info.module), memzero);
    sys.kernel_root = &raw const arch::boot::BOOT_PML4 as u64;
    sys.loaded_root = sys.kernel_root;

    // SAFETY: the module range came from the start info and lies in RAM
    // below 1 GiB (checked by pvh::parse), identity-mapped; nothing writes
    // it while this shared view is alive except bss-tail clearing, which
    // touches only bytes past each segment's file data.
    let module = unsafe {
        core::slice::from_raw_parts(info.module.start as *const u8, (info.module.end - info.module.start) as usize)
    };
    let image = BootImage::parse(module).unwrap_or_else(|e| panic!("boot image: {e}"));

    sys.kip_code = sys.frames.alloc_kernel().expect("no memory for the KIP");
    sys.kip_data = sys.frames.alloc_kernel().expect("no memory for the KIP");
    kip::write_code(sys.kip_code, entry);
    kip::write_data(sys.kip_data, entry, info.cmdline, arch::apic::TICK_HZ);
    sys.boot_image = info.module;
    sys.set_image(image);
    // Negative controls only: parsed once here into flags that the
    // defenses test on their refusing paths.
    sys.core.weak = kernel_core::Weakened::from_cmdline(info.cmdline);
    paging::POINTER_CHECK_OFF.store(sys.core.weak.pointer_check, Ordering::Relaxed);
    sys.frames.set_reuse_for_contiguous(!sys.core.weak.frame_reuse);
    sys.frames.set_quota(info.cmdline, !sys.core.weak.memory_quota);
    if sys.core.weak.any() {
        kprintln!("kernel: defenses switched off (negative control): {:?}", sys.core.weak);
    }
    let tracing = trace::init(info.cmdline);
    sys.core.set_tracing(tracing);
    let faults = fault::init(sys, info.cmdline);
    let virtual_time = vclock::init(info.cmdline);
    fastpath::init(virtual_time, faults);
    int3::install(sys);
    let mut started = 0;
    for (index, program) in image.entries().enumerate() {
        // Services are started by the reincarnation server, not here.
        let endpoint = if program.flags & (FLAG_NO_AUTOSTART | FLAG_SERVICE) == 0 {
            let slot = sys.spawn_from_image(index).unwrap_or_else(|e| panic!("cannot start {}: {e}", program.name));
            started += 1;
            trace::process_event(sys, abi::trace::Kind::Spawn, abi::Endpoint::SYSTEM, slot, 0);
            sys.core.procs[slot].endpoint
        } else {
            abi::Endpoint::NONE
        };
        kip::add_boot_process(sys.kip_data, index, program.name, endpoint, program.flags, program.heartbeat_ms);
    }
    kprintln!(
        "Vivarium kernel: {} boot processes, {:?} entry, {} MiB free{}",
        started,
        entry,
        (info.ram[..info.ram_count].iter().map(|r| r.end - r.start).sum::<u64>() >> 20),
        if tracing { ", IPC tracing on" } else { "" }
    );
    if faults || virtual_time {
        kprintln!("kernel: fault plan {}, virtual time {}", faults, virtual_time);
    }
    arch::apic::init(!virtual_time);
    arch::ioapic::init();
    if virtual_time {
        arch::ioapic::unmask(abi::platform::IRQ_SPIN_TICK as usize);
    }
    let frame = sys.schedule();
    cpu::outl(PORT_BENCH_MARK, MARK_FIRST_USER);
    // SAFETY: schedule() loaded the process's address space and made its
    // frame current; the frame was built by spawn_program.
    unsafe { trap::enter_user(frame) }
}

/// Entry through `syscall` (hardware KVM, QEMU). The IPC fast path first.
#[no_mangle]
extern "C" fn syscall_trap_entry(frame: *mut TrapFrame) -> *mut TrapFrame {
    match fastpath::try_syscall(system()) {
        Some(next) => next,
        None => trap_entry(frame),
    }
}

/// Entry from user mode: `frame` is the current process's saved state.
/// Returns the frame of the process to resume. Every exception and
/// interrupt, and every system call the fast path does not take.
#[no_mangle]
extern "C" fn trap_entry(frame: *mut TrapFrame) -> *mut TrapFrame {
    let sys = system();
    let slot = sys.current;
    debug_assert!(core::ptr::eq(frame, &raw mut sys.arch[slot].frame));
    let vector = sys.arch[slot].frame.vector;
    let is_syscall =
        vector == SYSCALL_VECTOR || (vector == 3 && sys.arch[slot].frame.rip == abi::layout::TRAP_STUB_RETURN);
    if is_syscall {
        syscall::dispatch(sys, slot);
    } else {
        // An exception (a page fault, one that ends the process) may come
        // with a change of mappings, so the translation cache goes. An
        // interrupt changes none (its handlers record an event or count
        // a tick; what they deliver later goes through the same rules as
        // a send): the cache stays, and the conversation it interrupted
        // stays on the fast path.
        if vector < trap::IRQ_BASE {
            ipc_memory::forget_translations();
        }
        other_entry(sys, slot, vector);
    }
    after_entry(sys, slot)
}

/// What every entry ends with, fast or not: the virtual clock, the fault
/// plan's clock, and the choice of the process to resume.
#[inline(always)]
fn after_entry(sys: &mut System, slot: usize) -> *mut TrapFrame {
    if vclock::on() {
        vclock::entry(sys, slot);
        vclock::after_spin_tick(sys, slot);
    }
    if sys.core.faults.enabled {
        fault::after_event(sys);
    }
    sys.schedule()
}

/// [`after_entry`] for a fast entry that is not plain (a virtual clock or
/// a fault plan: `fastpath::plain_entry_end`) and left `switch`. When the
/// entry's end moves nothing (no tick, no delayed send, Crash or Stop),
/// the scheduler would pick the partner that the fast path made the
/// running process ([`kernel_core::Switch::direct`]), so it switches to
/// it directly, as a plain entry does. No spin tick to take: one arrives
/// only with its own interrupt's entry, which takes it
/// ([`vclock::after_spin_tick`]).
#[inline(always)]
fn after_fast_entry(sys: &mut System, slot: usize, switch: kernel_core::Switch) -> *mut TrapFrame {
    let mut moved = vclock::on() && vclock::entry(sys, slot);
    if sys.core.faults.enabled {
        moved |= fault::after_event(sys);
    }
    if !moved && switch.direct {
        debug_assert!(!sys.events_pending());
        return sys.switch_to_other(switch.to);
    }
    sys.schedule()
}

/// An entry from user mode that is not a system call: an interrupt or an
/// exception. Kept out of line so that the system-call path stays short.
#[inline(never)]
fn other_entry(sys: &mut System, slot: usize, vector: u64) {
    match vector {
        TIMER_VECTOR => {
            arch::apic::end_of_interrupt();
            advance_ticks();
            sys.core.tick(slot);
        }
        SPURIOUS_VECTOR => {}
        v if v == SPIN_TICK_VECTOR => {
            arch::apic::end_of_interrupt();
            vclock::spin_tick_arrived();
        }
        v if v >= trap::IRQ_BASE => device_interrupt(v),
        // A write to a present user page: copy-on-write or zero fill.
        14 if sys.arch[slot].frame.error_code & 7 == 7 => write_fault(sys, slot),
        _ => user_fault(sys, slot),
    }
}

/// A user write to a present page: a copy-on-write break or a zero-fill
/// page gets its frame; a page that cannot get one ends the process as
/// out of memory (`EXIT_STATUS_OUT_OF_MEMORY`), never anyone else.
fn write_fault(sys: &mut System, slot: usize) {
    let at = cpu::read_cr2();
    match sys.arch[slot].space.write_fault(&mut sys.frames, at) {
        paging::WriteFault::Resolved => {}
        paging::WriteFault::NotCopyOnWrite => user_fault(sys, slot),
        paging::WriteFault::OutOfMemory => {
            let p = &sys.core.procs[slot];
            let quota = &sys.frames.quota;
            kprintln!(
                "kernel: process {} ({}) killed: out of memory at address {:#x} (uid {} holds {} frames, quota {})",
                p.name(),
                p.endpoint,
                at,
                quota.uid_of(slot),
                quota.held_by_uid(quota.uid_of(slot)),
                quota.limit
            );
            sys.core.trace.kernel_cause = sys.core.procs[slot].cause;
            sys.terminate(slot, abi::syscall::EXIT_STATUS_OUT_OF_MEMORY);
            sys.core.trace.kernel_cause = 0;
        }
    }
}

/// Vector of the VMM's spin tick (`abi::platform::IRQ_SPIN_TICK`), which
/// no driver owns.
const SPIN_TICK_VECTOR: u64 = IRQ_VECTOR_BASE + abi::platform::IRQ_SPIN_TICK as u64;

/// An IO-APIC line fired: record it for its driver.
fn device_interrupt(vector: u64) {
    if vector >= IRQ_VECTOR_BASE {
        events::irq_arrived((vector - IRQ_VECTOR_BASE) as usize);
    }
    arch::apic::end_of_interrupt();
}

/// A CPU exception in user mode ends the process, never the kernel.
fn user_fault(sys: &mut System, slot: usize) {
    // The host debugger's breakpoint or step: the process goes on as the
    // debugger left it, from here (only this path pays for the check).
    if debug_trap::offered(slot, sys.arch[slot].frame.vector) {
        debug_trap::resume(sys, slot);
    }
    let f = sys.arch[slot].frame;
    let p = &sys.core.procs[slot];
    let name = exception_name(f.vector);
    if f.vector == 14 {
        kprintln!(
            "kernel: process {} ({}) killed: {} at address {:#x} (rip {:#x}, error {:#x})",
            p.name(),
            p.endpoint,
            name,
            cpu::read_cr2(),
            f.rip,
            f.error_code
        );
    } else {
        kprintln!(
            "kernel: process {} ({}) killed: {} (rip {:#x}, error {:#x})",
            p.name(),
            p.endpoint,
            name,
            f.rip,
            f.error_code
        );
    }
    sys.core.trace.kernel_cause = sys.core.procs[slot].cause;
    sys.terminate(slot, abi::syscall::EXIT_STATUS_FAULT);
    sys.core.trace.kernel_cause = 0;
}

fn exception_name(vector: u64) -> &'static str {
    match vector {
        0 => "divide error",
        1 => "debug trap",
        3 => "breakpoint",
        4 => "overflow",
        5 => "bound range exceeded",
        6 => "invalid opcode",
        7 => "device not available",
        8 => "double fault",
        13 => "general protection fault",
        14 => "page fault",
        16 => "x87 floating-point error",
        17 => "alignment check",
        19 => "SIMD floating-point error",
        _ => "CPU exception",
    }
}

/// Entry from kernel mode: interrupts while idle, or a kernel bug.
#[no_mangle]
extern "C" fn kernel_trap(frame: *mut TrapFrame) {
    // SAFETY: the stub passes the frame it just pushed on the kernel stack.
    let f = unsafe { &*frame };
    match f.vector {
        TIMER_VECTOR => {
            arch::apic::end_of_interrupt();
            advance_ticks();
        }
        SPURIOUS_VECTOR => {}
        // Idle, so nothing spins: the VMM's guess came from a halted vCPU.
        v if v == SPIN_TICK_VECTOR => arch::apic::end_of_interrupt(),
        v if v >= trap::IRQ_BASE => device_interrupt(v),
        v => panic!(
            "{} in kernel mode (vector {v}) at rip {:#x}, error {:#x}, cr2 {:#x}",
            exception_name(v),
            f.rip,
            f.error_code,
            cpu::read_cr2()
        ),
    }
}
