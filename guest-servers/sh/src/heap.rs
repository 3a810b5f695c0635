//! The shell's heap: power-of-two size classes with free lists over a
//! static arena.
//!
//! The parser builds ordinary `Vec`s and `String`s, so the shell needs an
//! allocator; the runtime has none (servers must not depend on a heap).
//! Blocks are never split or merged: a freed block goes on its class's
//! free list and is reused by the next allocation of that class. A shell
//! allocates the same few shapes for every line, so this stays small, is
//! obviously correct, and a fork child (copy-on-write) simply continues
//! with its copy.

use core::alloc::{GlobalAlloc, Layout};
use core::ptr::null_mut;

/// Arena size: far more than a command line's syntax tree needs.
const ARENA_SIZE: usize = 128 * 1024;
/// Smallest block (holds the free-list link).
const MIN_CLASS: u32 = 4;
/// Number of classes: 16 bytes to the whole arena.
const CLASSES: usize = 18;

#[repr(C, align(4096))]
struct Arena([u8; ARENA_SIZE]);

static mut ARENA: Arena = Arena([0; ARENA_SIZE]);

struct Heap;

/// Allocator state; only touched through [`state`].
struct State {
    /// Bytes of the arena handed out so far.
    used: usize,
    /// Head of each class's free list (0 = empty); a free block stores the
    /// address of the next one in its first word.
    free: [usize; CLASSES],
}

static mut STATE: State = State { used: 0, free: [0; CLASSES] };

fn state() -> &'static mut State {
    // SAFETY: guest programs are single-threaded and the allocator is not
    // re-entered (it calls nothing that allocates), so this is the only
    // live reference.
    unsafe { &mut *(&raw mut STATE) }
}

/// The class of a layout: log2 of the block size (at least the alignment).
fn class_of(layout: Layout) -> Option<usize> {
    let size = layout.size().max(layout.align()).max(1 << MIN_CLASS);
    let class = size.next_power_of_two().trailing_zeros();
    let index = (class - MIN_CLASS) as usize;
    (index < CLASSES).then_some(index)
}

// SAFETY: blocks are disjoint ranges of the arena, each at least as large
// and as aligned as its layout (a block of class `c` is `1 << c` bytes at
// an offset that is a multiple of `min(1 << c, 4096)`, in an arena aligned
// to 4096; layouts with larger alignment are refused).
unsafe impl GlobalAlloc for Heap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.align() > 4096 {
            return null_mut();
        }
        let Some(class) = class_of(layout) else {
            return null_mut();
        };
        let s = state();
        let head = s.free[class];
        if head != 0 {
            // SAFETY: `head` is a free block of this class; its first word
            // holds the next free block (written by `dealloc`).
            s.free[class] = unsafe { *(head as *const usize) };
            return head as *mut u8;
        }
        let size = 1usize << (class as u32 + MIN_CLASS);
        let start = s.used.next_multiple_of(size.min(4096));
        if start + size > ARENA_SIZE {
            return null_mut();
        }
        s.used = start + size;
        // SAFETY: `start + size` is within the arena.
        unsafe { (&raw mut ARENA.0).cast::<u8>().add(start) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let Some(class) = class_of(layout) else {
            return;
        };
        let s = state();
        // SAFETY: `ptr` came from `alloc` with this layout, so it is a block
        // of this class, at least 16 bytes and 8-aligned, no longer in use.
        unsafe { *(ptr as *mut usize) = s.free[class] };
        s.free[class] = ptr as usize;
    }
}

#[global_allocator]
static HEAP: Heap = Heap;
