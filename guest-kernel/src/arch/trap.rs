//! Kernel entry and exit: exception and interrupt stubs, the `syscall`
//! entry, and the way back to user mode.
//!
//! As in MINIX, the state of an interrupted process is pushed straight into
//! its process-table entry: the TSS's RSP0 points just past the current
//! process's [`TrapFrame`], so the CPU and the stubs fill the frame in
//! place and nothing is copied. The Rust handler then runs on the one
//! kernel stack and returns the frame of the process to resume.

use core::arch::global_asm;

/// `TrapFrame::vector` value of an entry through `syscall`; such a process
/// is resumed with `sysretq`.
pub const SYSCALL_VECTOR: u64 = 256;
/// First vector of hardware interrupts.
pub const IRQ_BASE: u64 = 32;
/// Local APIC timer vector.
pub const TIMER_VECTOR: u64 = 32;
/// Vector of IO-APIC line 0; line `n` arrives at `IRQ_VECTOR_BASE + n`.
pub const IRQ_VECTOR_BASE: u64 = 48;
/// Local APIC spurious-interrupt vector.
pub const SPURIOUS_VECTOR: u64 = 79;
const VECTORS: usize = 80;

/// A process's saved user state, in the order the stubs push it.
#[derive(Clone, Copy, Debug, Default)]
#[repr(C, align(16))]
pub struct TrapFrame {
    pub r15: u64,
    pub r14: u64,
    pub r13: u64,
    pub r12: u64,
    pub r11: u64,
    pub r10: u64,
    pub r9: u64,
    pub r8: u64,
    pub rbp: u64,
    pub rdi: u64,
    pub rsi: u64,
    pub rdx: u64,
    pub rcx: u64,
    pub rbx: u64,
    pub rax: u64,
    /// Vector, or [`SYSCALL_VECTOR`].
    pub vector: u64,
    pub error_code: u64,
    pub rip: u64,
    pub cs: u64,
    pub rflags: u64,
    pub rsp: u64,
    pub ss: u64,
}

const _: () = assert!(core::mem::size_of::<TrapFrame>() == abi::profile::frame::SIZE);
// The host's debugger reads saved frames by the offsets in `abi::profile::frame`.
const _: () = {
    use abi::profile::frame;
    use core::mem::offset_of;
    assert!(offset_of!(TrapFrame, r15) == frame::R15 && offset_of!(TrapFrame, r8) == frame::R8);
    assert!(offset_of!(TrapFrame, rbp) == frame::RBP && offset_of!(TrapFrame, rax) == frame::RAX);
    assert!(offset_of!(TrapFrame, rdi) == frame::RDI && offset_of!(TrapFrame, rbx) == frame::RBX);
    assert!(offset_of!(TrapFrame, rip) == frame::RIP && offset_of!(TrapFrame, cs) == frame::CS);
    assert!(offset_of!(TrapFrame, rflags) == frame::RFLAGS && offset_of!(TrapFrame, rsp) == frame::RSP);
    assert!(offset_of!(TrapFrame, ss) == frame::SS && offset_of!(TrapFrame, vector) == frame::VECTOR);
};

global_asm!(
    r#"
    /* The general-purpose registers in TrapFrame order (r15 lowest). */
    .macro PUSH_GPRS
    pushq %rax
    pushq %rbx
    pushq %rcx
    pushq %rdx
    pushq %rsi
    pushq %rdi
    pushq %rbp
    pushq %r8
    pushq %r9
    pushq %r10
    pushq %r11
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    .endm
    .macro POP_GPRS
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %r11
    popq %r10
    popq %r9
    popq %r8
    popq %rbp
    popq %rdi
    popq %rsi
    popq %rdx
    popq %rcx
    popq %rbx
    popq %rax
    .endm

    .section .bss
    .p2align 12
    .global kernel_stack_top
kernel_stack_bottom:
    .skip 65536
kernel_stack_top:
    .p2align 12
    .global double_fault_stack_top
    .skip 8192
double_fault_stack_top:

    .section .data
    .p2align 3
USER_RSP_SCRATCH:
    .quad 0

    .section .text
    .irp n, 0,1,2,4,5,6,7,9,15,16,18,19,20,22,23,24,25,26,27,28,31,32,33,34,35,36,37,38,39,40,41,42,43,44,45,46,47,48,49,50,51,52,53,54,55,56,57,58,59,60,61,62,63,64,65,66,67,68,69,70,71,72,73,74,75,76,77,78,79
vector_\n:
    pushq $0
    pushq $\n
    jmp trap_common
    .endr
    .irp n, 8,10,11,12,13,14,17,21,29,30
vector_\n:
    pushq $\n
    jmp trap_common
    .endr

    /* Calls the Rust entry \entry on the kernel stack (the user's rbp
       stays, so the profiler's stack walk ends in the user's chain) and
       resumes the frame it returns. Through iretq whatever the frame's
       entry: a syscall frame (vector 256) holds a valid iret frame too
       (the SS, RSP, RFLAGS, CS, RIP syscall_entry pushed), and rcx and
       r11, which sysretq would load from RIP and RFLAGS, are the
       caller's to lose (docs/abi.md). */
    .macro CALL_ENTRY entry
    leaq kernel_stack_top(%rip), %rsp
    call \entry
    movq %rax, %rsp
    POP_GPRS
    addq $16, %rsp
    iretq
    .endm

    /* The trap entry (`int3`): trap_common inlined. A system call is
       an int3 from the KIP's entry stub (the return address is the
       stub's: docs/abi.md); the two the IPC fast path serves, SENDREC
       to a process and REPLYRECV (the trap number is still in rax, the
       first argument in edi), go to their own Rust entries (the pair
       in INT3_FAST_ENTRIES, chosen at boot: int3.rs), which try
       it first; everything else (kernel calls, the other traps, an
       int3 elsewhere: a breakpoint) goes straight to trap_entry, paying
       nothing for the fast path. The return address is tested first:
       the kernel never runs the KIP's stub, so that address means user
       mode, and only another int3 pays for the test of CS (a
       breakpoint in the kernel goes to kernel_trap). The tests read
       the CPU's iret frame (RIP at 0, CS at 8) before anything is
       pushed, because the two
       fast entries save less: a trap follows the C calling convention
       (docs/abi.md), so of the caller's registers only the ones it
       keeps (rbx, rbp, r12-r15) and the trap's arguments (rdi, rsi;
       for REPLYRECV also rdx and r10, the registers its further
       arguments come in: what the general path reads if the fast path
       falls back) go into the frame (SAVE_KEPT, addressed from the
       CPU's iret frame, which rsp points at, so rsp needs no move
       first); the slots of the others keep the process's own earlier
       values, which it may lose. The fast entries get the arguments in their registers too,
       and never return: they leave through trap::resume. */
    .macro SAVE_KEPT
    movq %rbx, {f_rbx}-{f_rip}(%rsp)
    movq %rbp, {f_rbp}-{f_rip}(%rsp)
    movq %r12, {f_r12}-{f_rip}(%rsp)
    movq %r13, {f_r13}-{f_rip}(%rsp)
    movq %r14, {f_r14}-{f_rip}(%rsp)
    movq %r15, {f_r15}-{f_rip}(%rsp)
    movq %rdi, {f_rdi}-{f_rip}(%rsp)
    movq %rsi, {f_rsi}-{f_rip}(%rsp)
    .endm
vector_3:
    cmpq ${stub_return}, (%rsp)
    jne 4f
    cmpq ${sendrec}, %rax
    jne 1f
    cmpl ${system}, %edi
    je 2f
    SAVE_KEPT
    leaq kernel_stack_top(%rip), %rsp
    call *{fast_entries}(%rip)
1:
    cmpq ${replyrecv}, %rax
    jne 2f
    SAVE_KEPT
    movq %rdx, {f_rdx}-{f_rip}(%rsp)
    movq %r10, {f_r10}-{f_rip}(%rsp)
    leaq kernel_stack_top(%rip), %rsp
    call *{fast_entries}+8(%rip)
2:
    pushq $0
    pushq $3
    PUSH_GPRS
    movq %rsp, %rdi
    CALL_ENTRY trap_entry
4:
    testb $3, 8(%rsp)
    jnz 2b
    pushq $0
    pushq $3
    PUSH_GPRS
    jmp from_kernel

trap_common:
    PUSH_GPRS
    testb $3, 144(%rsp)
    jz from_kernel
    movq %rsp, %rdi
    leaq kernel_stack_top(%rip), %rsp
    call trap_entry
    movq %rax, %rsp
    jmp return_to_user

from_kernel:
    movq %rsp, %rdi
    call kernel_trap
    POP_GPRS
    addq $16, %rsp
    iretq

    .global syscall_entry
syscall_entry:
    movq %rsp, USER_RSP_SCRATCH(%rip)
    /* The end of the current process's frame: the TSS's RSP0, where
       an int3 or an interrupt would push it too. */
    movq {tss}+4(%rip), %rsp
    pushq $0x1b
    pushq USER_RSP_SCRATCH(%rip)
    pushq %r11
    pushq $0x23
    pushq %rcx
    pushq $0
    pushq $256
    PUSH_GPRS
    movq %rsp, %rdi
    leaq kernel_stack_top(%rip), %rsp
    call syscall_trap_entry
    movq %rax, %rsp

    .global return_to_user
return_to_user:
    cmpq $256, 120(%rsp)
    je 1f
    POP_GPRS
    addq $16, %rsp
    iretq
1:
    POP_GPRS
    movq 16(%rsp), %rcx
    movq 32(%rsp), %r11
    movq 40(%rsp), %rsp
    sysretq

    .section .rodata
    .p2align 3
    .global VECTOR_TABLE
VECTOR_TABLE:
    .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32,33,34,35,36,37,38,39,40,41,42,43,44,45,46,47,48,49,50,51,52,53,54,55,56,57,58,59,60,61,62,63,64,65,66,67,68,69,70,71,72,73,74,75,76,77,78,79
    .quad vector_\n
    .endr
    "#,
    sendrec = const abi::syscall::Trap::SendRec as u64,
    replyrecv = const abi::syscall::Trap::ReplyRecv as u64,
    system = const abi::Endpoint::SYSTEM.0,
    stub_return = const abi::layout::TRAP_STUB_RETURN,
    f_rip = const abi::profile::frame::RIP,
    f_rbx = const abi::profile::frame::RBX,
    f_rbp = const abi::profile::frame::RBP,
    f_r12 = const abi::profile::frame::R12,
    f_r13 = const abi::profile::frame::R13,
    f_r14 = const abi::profile::frame::R14,
    f_r15 = const abi::profile::frame::R15,
    f_rdi = const abi::profile::frame::RDI,
    f_rsi = const abi::profile::frame::RSI,
    f_rdx = const abi::profile::frame::RDX,
    f_r10 = const abi::profile::frame::R10,
    tss = sym super::gdt::TSS,
    fast_entries = sym crate::int3::INT3_FAST_ENTRIES,
    options(att_syntax)
);

extern "C" {
    static VECTOR_TABLE: [u64; VECTORS];
    fn return_to_user() -> !;
    /// The `syscall` instruction's target (LSTAR).
    pub fn syscall_entry();
}

#[repr(C, align(16))]
struct Idt([u64; VECTORS * 2]);

static mut IDT: Idt = Idt([0; VECTORS * 2]);

/// Builds and loads the IDT. `#BP` gets DPL 3 so that `int3` works from
/// user mode (the trap entry); every other gate is kernel-only, so a user
/// `int n` faults instead of entering the kernel.
pub fn init() {
    // SAFETY: runs once at boot with interrupts off; IDT is a static that
    // stays valid forever, and the handlers in VECTOR_TABLE are the stubs
    // above.
    unsafe {
        for (vector, &handler) in VECTOR_TABLE.iter().enumerate() {
            let dpl: u64 = if vector == 3 { 3 } else { 0 };
            let ist: u64 = if vector == 8 { 1 } else { 0 };
            let low = (handler & 0xffff)
                | super::gdt::KERNEL_CS << 16
                | ist << 32
                | (0x8e | dpl << 5) << 40 // present, 64-bit interrupt gate
                | ((handler >> 16) & 0xffff) << 48;
            IDT.0[vector * 2] = low;
            IDT.0[vector * 2 + 1] = handler >> 32;
        }
        let pointer: [u16; 5] = {
            let base = &raw const IDT as u64;
            [(VECTORS * 16 - 1) as u16, base as u16, (base >> 16) as u16, (base >> 32) as u16, (base >> 48) as u16]
        };
        core::arch::asm!("lidt [{0}]", in(reg) &pointer, options(nostack, readonly, preserves_flags));
    }
}

/// Makes `frame` the place the next user-mode entry saves into: the
/// TSS's RSP0, which `syscall_entry` reads as well.
#[inline(always)]
pub fn set_current_frame(frame: *mut TrapFrame) {
    let end = frame as u64 + core::mem::size_of::<TrapFrame>() as u64;
    super::gdt::set_kernel_entry_stack(end);
}

/// Leaves the kernel into the process whose saved state is `frame`.
///
/// # Safety
/// `frame` must be a valid user frame in the process table whose address
/// space is loaded, and [`set_current_frame`] must have been called for it.
pub unsafe fn enter_user(frame: *mut TrapFrame) -> ! {
    // SAFETY: per the contract above, return_to_user pops a complete frame.
    unsafe {
        core::arch::asm!("mov rsp, {0}", "jmp {1}", in(reg) frame, sym return_to_user, options(noreturn));
    }
}

/// Leaves the kernel into the process whose saved state is `frame`, through
/// `iretq` alone: the end of the `int3` fast entries, which never return to
/// their stub (no epilogue, no return, no move of the returned frame, and
/// the pops in place, not behind a jump).
///
/// # Safety
/// As [`enter_user`]; the frame holds a valid iret frame (every frame
/// does: `syscall_entry` builds one too).
#[inline(always)]
pub unsafe fn resume(frame: *mut TrapFrame) -> ! {
    // SAFETY: per the contract above, the frame is complete: the loads
    // restore the process's registers from their TrapFrame slots, `rax`
    // (the frame's address until then) last, and iretq takes its iret
    // frame. Loads rather than pops: rsp goes straight to the iret frame,
    // one instruction fewer than moving it to the frame and past the
    // vector and error code.
    unsafe {
        core::arch::asm!(
            "mov r15, [rax + {r15}]", "mov r14, [rax + {r14}]", "mov r13, [rax + {r13}]",
            "mov r12, [rax + {r12}]", "mov r11, [rax + {r11}]", "mov r10, [rax + {r10}]",
            "mov r9, [rax + {r9}]", "mov r8, [rax + {r8}]", "mov rbp, [rax + {rbp}]",
            "mov rdi, [rax + {rdi}]", "mov rsi, [rax + {rsi}]", "mov rdx, [rax + {rdx}]",
            "mov rcx, [rax + {rcx}]", "mov rbx, [rax + {rbx}]",
            "lea rsp, [rax + {rip}]",
            "mov rax, [rax + {rax}]",
            "iretq",
            in("rax") frame,
            r15 = const abi::profile::frame::R15,
            r14 = const abi::profile::frame::R14,
            r13 = const abi::profile::frame::R13,
            r12 = const abi::profile::frame::R12,
            r11 = const abi::profile::frame::R11,
            r10 = const abi::profile::frame::R10,
            r9 = const abi::profile::frame::R9,
            r8 = const abi::profile::frame::R8,
            rbp = const abi::profile::frame::RBP,
            rdi = const abi::profile::frame::RDI,
            rsi = const abi::profile::frame::RSI,
            rdx = const abi::profile::frame::RDX,
            rcx = const abi::profile::frame::RCX,
            rbx = const abi::profile::frame::RBX,
            rip = const abi::profile::frame::RIP,
            rax = const abi::profile::frame::RAX,
            options(noreturn)
        );
    }
}
