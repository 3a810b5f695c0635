//! Segments: the GDT every mode switch and privilege change refers to, and
//! the TSS that tells the CPU where to push a user process's state.
//!
//! Selector layout is fixed by `syscall`/`sysret`, which derive the user
//! selectors from STAR: kernel code 0x08, kernel data 0x10, user data 0x18,
//! user code 0x20, TSS 0x28.

use core::arch::{asm, global_asm};

/// Kernel code selector.
pub const KERNEL_CS: u64 = 0x08;
/// User data/stack selector (RPL 3).
pub const USER_SS: u64 = 0x18 | 3;
/// User code selector (RPL 3).
pub const USER_CS: u64 = 0x20 | 3;
const TSS_SELECTOR: u16 = 0x28;

global_asm!(
    r#"
    .section .data
    .p2align 4
    .global GDT
GDT:
    .quad 0
    .quad 0x00af9a000000ffff
    .quad 0x00cf92000000ffff
    .quad 0x00cff2000000ffff
    .quad 0x00affa000000ffff
    .quad 0, 0
GDT_END:
    .p2align 3
    .global GDT_POINTER
GDT_POINTER:
    .word GDT_END - GDT - 1
    .quad GDT
    "#,
    options(att_syntax)
);

/// The 64-bit task-state segment.
#[repr(C, packed)]
pub struct Tss {
    reserved0: u32,
    /// Stack the CPU switches to on an interrupt from user mode.
    pub rsp0: u64,
    rsp1: u64,
    rsp2: u64,
    reserved1: u64,
    /// Interrupt stacks; IST1 is used for double faults.
    pub ist: [u64; 7],
    reserved2: u64,
    reserved3: u16,
    iomap_base: u16,
}

/// The one TSS (uniprocessor).
pub static mut TSS: Tss = Tss {
    reserved0: 0,
    rsp0: 0,
    rsp1: 0,
    rsp2: 0,
    reserved1: 0,
    ist: [0; 7],
    reserved2: 0,
    reserved3: 0,
    // Past the end of the segment: no I/O bitmap, so user port I/O faults.
    iomap_base: core::mem::size_of::<Tss>() as u16,
};

extern "C" {
    static mut GDT: [u64; 7];
    static double_fault_stack_top: u8;
}

/// Installs the TSS descriptor and loads the task register.
pub fn init() {
    // SAFETY: runs once at boot with interrupts off, before anything else
    // uses the GDT's TSS slot or the TSS; the addresses are of statics.
    unsafe {
        let tss = &raw const TSS as u64;
        TSS.ist[0] = &raw const double_fault_stack_top as u64;
        let limit = core::mem::size_of::<Tss>() as u64 - 1;
        let low = (limit & 0xffff)
            | (tss & 0xff_ffff) << 16
            | 0x89 << 40 // present, 64-bit available TSS
            | ((limit >> 16) & 0xf) << 48
            | ((tss >> 24) & 0xff) << 56;
        GDT[5] = low;
        GDT[6] = tss >> 32;
        asm!("ltr {0:x}", in(reg) TSS_SELECTOR, options(nostack, preserves_flags));
    }
}

/// Points the CPU at the stack to use on the next entry from user mode.
#[inline(always)]
pub fn set_kernel_entry_stack(top: u64) {
    // SAFETY: plain store to the TSS; the CPU reads it only on a privilege
    // change, which cannot happen while the kernel runs with interrupts off.
    unsafe { TSS.rsp0 = top };
}
