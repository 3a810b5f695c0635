//! ext2fs: the file server that holds the root file system on the disk.
//!
//! It serves the file-server protocol (`abi::proto::fs`) to VFS, which
//! trusts it and sends it one request at a time without blocking (with
//! its next receive when we wait in RECEIVE, else by SENDA; VFS's disk
//! worker waits for the answer while VFS serves other requests). Answers
//! to VFS go back the same way ([`disk::answer_vfs`]): with our next
//! receive in one kernel entry (REPLYRECV_IF_SENT) when VFS waits, else
//! by SENDA, whose entry waits until VFS receives; VFS may be busy, and
//! a plain reply would then be lost. Any other client (test programs) waits in
//! SENDREC and is answered with SENDNB, as the trust rule wants. The
//! ext2 logic is the `ext2` library (`fs-ext2`, tested on the host against
//! e2fsprogs); this program only supplies its block device ([`disk`], the
//! link to the untrusted, restartable disk driver `blk`) and turns
//! requests into library calls ([`ops`]).
//!
//! Why the data path is shaped so: kernel-mode copies are what costs on
//! our hosts, so file data moves with one safe copy between the grant VFS
//! passes and our staging buffer, in chunks of up to 64 KiB; whole blocks
//! go from that buffer to the driver (whose own safe copy moves them to its
//! DMA buffer) without passing through the block cache. Bytes copied and
//! driver requests are counted and printed at every SYNC.
//!
//! A disk that is not ext2, or is damaged, is refused at mount with a
//! message on the kernel console; the server then stays up and answers
//! every request `Unavailable`, so nobody depending on it crashes.
//!
//! The mounted file system with its block cache is large, and the library
//! returns it by value, so the server runs on a stack of its own
//! ([`STACK`]) rather than the 64 KiB the kernel gives every program.
#![no_std]
#![no_main]

mod disk;
mod ops;
mod readahead;

use abi::proto;
use abi::{Endpoint, Error};

rt::main!(run);

/// Blocks in the library's cache (4 KiB slots).
pub const CACHE_BLOCKS: usize = 32;
/// The mounted file system.
pub type Fs = ext2::Ext2<disk::Disk, CACHE_BLOCKS>;

/// Seconds to wait for the disk driver to appear at start.
const DRIVER_WAIT_SECS: u64 = 20;
/// Size of the server's own stack.
const STACK_SIZE: usize = 1 << 20;

#[repr(C, align(16))]
struct Stack([u8; STACK_SIZE]);

/// The server's stack (see the module documentation).
static mut STACK: Stack = Stack([0; STACK_SIZE]);

fn run() -> i32 {
    let top = (&raw mut STACK) as u64 + STACK_SIZE as u64;
    // SAFETY: `top` is the 16-byte aligned end of a static array used by
    // nothing else; `serve` never returns, so the old stack and everything
    // on it are simply abandoned, and no Rust value lives across the
    // switch.
    unsafe {
        core::arch::asm!(
            "mov rsp, {top}",
            "call {serve}",
            "ud2",
            top = in(reg) top,
            serve = sym serve,
            options(noreturn)
        )
    }
}

/// The mounted file system (or `None`: nothing usable on the disk).
static mut FS: Option<Fs> = None;

extern "C" fn serve() -> ! {
    // SAFETY: single-threaded; this is the only borrow of FS, held for the
    // life of the program (static to keep it off the stack).
    let fs = unsafe { &mut *(&raw mut FS) };
    let link = disk::link();
    link.configure();
    if let Err(e) = link.subscribe() {
        rt::println!("ext2fs: cannot subscribe to blk in DS ({}); answering Unavailable", e);
    } else if let Err(e) = link.wait_for_driver(DRIVER_WAIT_SECS) {
        rt::println!("ext2fs: no disk driver ({}); answering Unavailable", e);
    } else {
        mount(fs);
    }
    let mut server = ops::Server::new();
    let mut vfs = Endpoint::NONE;
    loop {
        let msg = disk::next_request();
        if msg.source == Endpoint::SYSTEM || abi::notify::is_notification(&msg) {
            continue;
        }
        let reply = match fs.as_mut() {
            Some(fs) => server.handle(fs, &msg),
            None => proto::reply(Error::Unavailable.to_return()),
        };
        if msg.source == vfs_endpoint(&mut vfs) {
            disk::answer_vfs(msg.source, &reply);
        } else {
            // The client waits in SENDREC; one that does not is its
            // problem. The reply leaves with the next receive
            // (`rt::server`).
            rt::server::reply(msg.source, &reply);
        }
    }
}

/// VFS's endpoint, looked up in DS until found (`NONE` in an image
/// without VFS). VFS is never replaced (its death powers the system off),
/// and the VFS that does that power-off syncs from a RECEIVE, where a
/// SENDNB reply reaches it too.
fn vfs_endpoint(known: &mut Endpoint) -> Endpoint {
    if *known == Endpoint::NONE && rt::kip::program_index("vfs").is_some() {
        if let Ok((ep, _)) = rt::names::lookup_fresh("vfs") {
            *known = ep;
        }
    }
    *known
}

fn mount(slot: &mut Option<Fs>) {
    let dev = match disk::Disk::open() {
        Ok(d) => d,
        Err(e) => {
            rt::println!("ext2fs: the disk is not available ({}); answering Unavailable", e);
            return;
        }
    };
    match ext2::Ext2::mount(dev, ops::now()) {
        Ok(mut fs) => {
            let s = fs.statfs();
            // Where the library's metadata reads go: read ahead there.
            for g in 0..s.groups {
                let Ok((first, end)) = fs.group_metadata(g) else { break };
                if !disk::link().add_metadata_area(first, end, u64::from(s.block_size)) {
                    break;
                }
            }
            rt::println!(
                "ext2fs: mounted ext2, {} blocks of {} bytes, {} free; {} inodes, {} free",
                s.blocks,
                s.block_size,
                s.free_blocks,
                s.inodes,
                s.free_inodes
            );
            *slot = Some(fs);
        }
        Err(e) => {
            rt::println!("ext2fs: refusing the disk: not a usable ext2 file system ({}); answering Unavailable", e)
        }
    }
}
