//! A second stack in one process: a coroutine that runs until it
//! suspends itself, and is resumed later where it stopped.
//!
//! Why: a server that must wait for another server's answer in the middle
//! of a request (VFS waiting for the file server during a path walk) and
//! still serve other requests meanwhile needs somewhere to keep the
//! half-done request. A second stack keeps it exactly as the code left it
//! (MINIX 3.2's VFS does the same with worker threads): the request code
//! stays plain sequential code, and only the one call that waits changes.
//! Switching is a user-mode register swap, no kernel entry.
//!
//! The switch saves the callee-saved registers (the guest target has no
//! floating-point or vector state to keep) on the stack it leaves, stores
//! that stack pointer, and loads the other. The first switch into a fresh
//! coroutine "returns" into a trampoline that calls its entry function.
//! A canary word at the stack's lowest address tells an overflow
//! ([`Coroutine::intact`]); the guest has no guard pages here.
//!
//! Sharing state between the two stacks: no `&mut` may be live across a
//! switch (the other stack could take its own to the same place, and the
//! compiler may keep values in registers across what it sees as a plain
//! call). The sound shape is an explicit hand-over: what one side gives
//! the other goes through a [`Slot`] (a `Cell`, copied in and out, never
//! borrowed), and each side works on state of its own in between.

use core::cell::Cell;

core::arch::global_asm!(
    r#"
    .section .text.rt_coroutine, "ax"
    .global rt_coroutine_switch
rt_coroutine_switch:
    // rdi: where to save the current stack pointer; rsi: the one to load.
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret

    .global rt_coroutine_start
rt_coroutine_start:
    // A fresh coroutine: r13 is its entry, r12 the entry's argument.
    movq %r12, %rdi
    call *%r13
    ud2
    "#,
    options(att_syntax)
);

extern "C" {
    fn rt_coroutine_switch(save: *mut u64, to: u64);
    fn rt_coroutine_start();
}

/// Written at the lowest address of a coroutine's stack.
const CANARY: u64 = 0x5649_5643_4f52_4f55;

/// One coroutine and who resumed it. Lives in a `static` (both stacks
/// reach it); every field is a `Cell`, so shared references suffice.
pub struct Coroutine {
    /// The coroutine's saved stack pointer while it is suspended.
    sp: Cell<u64>,
    /// The resumer's saved stack pointer while the coroutine runs.
    back: Cell<u64>,
    /// Whether the coroutine is running now.
    inside: Cell<bool>,
    /// The canary's address (0: not prepared).
    bottom: Cell<u64>,
}

// SAFETY: guest programs are single-threaded; the cells are only touched
// by the one thread, on either of its stacks.
unsafe impl Sync for Coroutine {}

impl Coroutine {
    /// Not prepared yet.
    pub const fn new() -> Coroutine {
        Coroutine { sp: Cell::new(0), back: Cell::new(0), inside: Cell::new(false), bottom: Cell::new(0) }
    }

    /// Sets the coroutine up on `stack` to run `entry(arg)` at the first
    /// [`Coroutine::resume`]. `entry` must never return: it ends each
    /// piece of work with [`Coroutine::suspend`].
    ///
    /// # Safety
    /// `stack` is used by nothing else for the life of the program, and
    /// the coroutine is not running.
    pub unsafe fn prepare(&self, stack: &'static mut [u8], entry: extern "C" fn(u64) -> !, arg: u64) {
        let bottom = stack.as_mut_ptr() as u64;
        let top = (bottom + stack.len() as u64) & !15;
        // Six saved registers and the return address: after the `ret`
        // into the trampoline the stack is 16-byte aligned, as a call
        // expects it.
        let sp = top - 56;
        let frame: [u64; 7] = [0, 0, entry as *const () as u64, arg, 0, 0, rt_coroutine_start as *const () as u64];
        // SAFETY: `sp .. top` and the canary lie inside `stack`, which is
        // ours alone (the caller's contract), and both are 8-byte aligned.
        unsafe {
            core::ptr::write(sp as *mut [u64; 7], frame);
            core::ptr::write(bottom.next_multiple_of(8) as *mut u64, CANARY);
        }
        self.bottom.set(bottom.next_multiple_of(8));
        self.sp.set(sp);
    }

    /// Whether the caller runs on this coroutine's stack.
    pub fn inside(&self) -> bool {
        self.inside.get()
    }

    /// Runs the coroutine until it suspends.
    ///
    /// # Safety
    /// The coroutine is prepared and not running. Whatever the coroutine
    /// keeps across its suspension points must stay valid meanwhile (the
    /// caller's contract with the coroutine's code).
    pub unsafe fn resume(&self) {
        self.inside.set(true);
        // SAFETY: `sp` was saved by the coroutine's last suspend (or
        // built by `prepare`), so it points at a frame the switch pops.
        unsafe { rt_coroutine_switch(self.back.as_ptr(), self.sp.get()) };
        self.inside.set(false);
    }

    /// From inside the coroutine: back to whoever resumed it; returns at
    /// the next [`Coroutine::resume`].
    ///
    /// # Safety
    /// Called on the coroutine's own stack ([`Coroutine::inside`]).
    pub unsafe fn suspend(&self) {
        self.inside.set(false);
        // SAFETY: `back` was saved by the resume that is running us.
        unsafe { rt_coroutine_switch(self.sp.as_ptr(), self.back.get()) };
        self.inside.set(true);
    }

    /// False when the coroutine's stack overflowed its canary.
    pub fn intact(&self) -> bool {
        let bottom = self.bottom.get();
        // SAFETY: `bottom` is the canary's address in the coroutine's
        // stack (set by `prepare`), or 0 when there is none.
        bottom == 0 || unsafe { core::ptr::read_volatile(bottom as *const u64) } == CANARY
    }
}

impl Default for Coroutine {
    fn default() -> Coroutine {
        Coroutine::new()
    }
}

/// A value handed from one stack to the other: one side [`Slot::put`]s
/// it, the other [`Slot::take`]s it after the next switch. It lives in a
/// `static` that both stacks reach; nothing in it is ever borrowed.
pub struct Slot<T: Copy>(Cell<Option<T>>);

// SAFETY: guest programs are single-threaded; the cell is only touched by
// the one thread, on either of its stacks, and only copied in and out.
unsafe impl<T: Copy> Sync for Slot<T> {}

impl<T: Copy> Slot<T> {
    /// Empty.
    pub const fn new() -> Slot<T> {
        Slot(Cell::new(None))
    }

    /// Leaves `value` for the other side (replacing what was there).
    pub fn put(&self, value: T) {
        self.0.set(Some(value));
    }

    /// Takes what was left, if anything.
    pub fn take(&self) -> Option<T> {
        self.0.take()
    }

    /// A copy of what is there, left in place.
    pub fn get(&self) -> Option<T> {
        self.0.get()
    }
}

impl<T: Copy> Default for Slot<T> {
    fn default() -> Slot<T> {
        Slot::new()
    }
}
