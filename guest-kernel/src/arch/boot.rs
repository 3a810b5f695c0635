//! From the PVH 32-bit entry to Rust in long mode.
//!
//! Both our VMM and QEMU enter here in 32-bit protected mode with paging off
//! and `ebx` pointing at the PVH start info. The code builds the kernel's
//! one page-table tree, the identity map of the first GiB (supervisor only;
//! with a single 1 GiB page where the CPU has them, because every kernel
//! instruction is emulated on software-KVM hosts and a 512-entry loop costs
//! milliseconds), plus the local-APIC/IO-APIC window, then enters long mode.

use core::arch::global_asm;

// PVH note: the 32-bit entry point (XEN_ELFNOTE_PHYS32_ENTRY = 18).
global_asm!(
    r#"
    .section .note.Xen, "a", @note
    .p2align 2
    .long 4
    .long 4
    .long 18
    .asciz "Xen"
    .p2align 2
    .long pvh_start32
    .p2align 2
    "#,
    options(att_syntax)
);

global_asm!(
    r#"
    .section .text.boot, "ax"
    .code32
    .global pvh_start32
pvh_start32:
    cli
    cld
    movl %ebx, %edi

    /* PML4[0] -> PDPT; PDPT[3] -> device PD (3-4 GiB) */
    movl $BOOT_PDPT, %eax
    orl $0x3, %eax
    movl %eax, BOOT_PML4
    movl $BOOT_DEVICE_PD, %eax
    orl $0x3, %eax
    movl %eax, BOOT_PDPT + 24
    /* IO-APIC (0xFEC00000) and local APIC (0xFEE00000): 2 MiB, uncached */
    movl $0xFEC0009B, BOOT_DEVICE_PD + 502 * 8
    movl $0xFEE0009B, BOOT_DEVICE_PD + 503 * 8

    /* 1 GiB pages available? (CPUID 0x80000001: EDX bit 26) */
    movl $0x80000001, %eax
    cpuid
    movl %edx, %esi
    testl $(1 << 26), %edx
    jz 1f
    movl $0x183, BOOT_PDPT          /* 1 GiB page at 0: P|W|PS|G */
    jmp 3f
1:  movl $BOOT_KERNEL_PD, %eax
    orl $0x3, %eax
    movl %eax, BOOT_PDPT
    xorl %ecx, %ecx
2:  movl %ecx, %eax
    shll $21, %eax
    orl $0x183, %eax               /* 2 MiB page: P|W|PS|G */
    movl %eax, BOOT_KERNEL_PD(,%ecx,8)
    incl %ecx
    cmpl $512, %ecx
    jne 2b
3:
    movl $BOOT_PML4, %eax
    movl %eax, %cr3
    movl %cr4, %eax
    orl $0xA0, %eax                /* PAE | PGE */
    movl %eax, %cr4
    movl $0xC0000080, %ecx         /* EFER */
    rdmsr
    orl $0x100, %eax               /* LME */
    testl $(1 << 20), %esi         /* NX available? */
    jz 4f
    orl $0x800, %eax               /* NXE */
4:  wrmsr
    movl %cr0, %eax
    orl $0x80010001, %eax          /* PG | WP | PE */
    movl %eax, %cr0
    lgdt GDT_POINTER
    ljmp $0x08, $long_mode_entry

    .code64
long_mode_entry:
    movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    xorl %eax, %eax
    movw %ax, %fs
    movw %ax, %gs
    leaq kernel_stack_top(%rip), %rsp
    movl %edi, %edi
    call kernel_main
5:  hlt
    jmp 5b
    "#,
    options(att_syntax)
);

/// Page-aligned page-table page.
#[repr(C, align(4096))]
pub struct PageTable(pub [u64; 512]);

/// The kernel's top-level table, used until the first process runs.
#[no_mangle]
pub static mut BOOT_PML4: PageTable = PageTable([0; 512]);
/// First-GiB directory pointer table; its entries 0 and 3 are shared by
/// every process's address space.
#[no_mangle]
pub static mut BOOT_PDPT: PageTable = PageTable([0; 512]);
/// 2 MiB pages of the first GiB, used only without 1 GiB page support.
#[no_mangle]
pub static mut BOOT_KERNEL_PD: PageTable = PageTable([0; 512]);
/// The APIC window.
#[no_mangle]
pub static mut BOOT_DEVICE_PD: PageTable = PageTable([0; 512]);
