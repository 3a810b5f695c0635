//! The 16550 UART on COM1: receive interrupts in, strings out.
//!
//! Why so little: the VMM's UART (vm-superio) needs no baud-rate or FIFO
//! programming, only the "received data available" interrupt enabled in
//! IER (and OUT2 in MCR, which a real 16550 needs to drive its IRQ line).
//! Input is drained byte by byte through `DevIo` kernel calls (one per
//! register access: a key costs two). Output goes out with one
//! `DevOutString` kernel call per buffer (a `rep outsb` in the kernel), so
//! a line of output costs one kernel entry instead of one per byte; on a
//! kernel without that call we fall back to one `DevIo` per byte.

use abi::syscall::KernelCall;
use abi::Error;

/// COM1's base port.
pub const BASE: u16 = abi::platform::PORT_COM1;
/// COM1's IRQ line.
pub const IRQ: u32 = abi::platform::IRQ_COM1;

const RBR: u16 = 0; // receive buffer (read)
const IER: u16 = 1; // interrupt enable
const MCR: u16 = 4; // modem control
const LSR: u16 = 5; // line status

const IER_RECEIVED_DATA: u64 = 0x01;
const MCR_DTR_RTS_OUT2: u64 = 0x0B;
const LSR_DATA_READY: u64 = 0x01;

/// Enables the receive interrupt and routes IRQ 4 to us.
pub fn init() -> Result<(), Error> {
    rt::sys::port_out(BASE + MCR, MCR_DTR_RTS_OUT2, 1)?;
    rt::sys::port_out(BASE + IER, IER_RECEIVED_DATA, 1)?;
    rt::sys::irqctl(IRQ, abi::syscall::IRQ_ENABLE)
}

/// Reads every byte waiting in the receive FIFO into `out`; returns how
/// many (at most `out.len()`: the rest stays in the FIFO for next time).
pub fn drain(out: &mut [u8]) -> usize {
    let mut n = 0;
    while n < out.len() {
        match rt::sys::port_in(BASE + LSR, 1) {
            Ok(lsr) if lsr & LSR_DATA_READY != 0 => {}
            _ => break,
        }
        match rt::sys::port_in(BASE + RBR, 1) {
            Ok(b) => {
                out[n] = b as u8;
                n += 1;
            }
            Err(_) => break,
        }
    }
    n
}

/// Lets the IRQ line fire again after a drain.
pub fn ack() {
    let _ = rt::sys::irqctl(IRQ, abi::syscall::IRQ_ACK);
}

/// Writes `bytes` to the console. A kernel call that fails, or reports
/// another count than the chunk's, is made once more (a single lost or
/// refused call must not lose the program's text); if that fails too the
/// error is returned, so the writer learns its text did not go out
/// instead of being told it did.
pub fn write(bytes: &[u8]) -> Result<(), Error> {
    for chunk in bytes.chunks(abi::syscall::DEV_OUT_STRING_MAX as usize) {
        let words = [u64::from(BASE), chunk.as_ptr() as u64, chunk.len() as u64];
        let out = || match rt::sys::kernel_call(KernelCall::DevOutString, &words) {
            Ok(n) if n == chunk.len() as u64 => Ok(()),
            Ok(_) => Err(Error::Io),
            Err(e) => Err(e),
        };
        match out().or_else(|_| out()) {
            Ok(()) => {}
            Err(Error::BadRequest) | Err(Error::CallDenied) => {
                for &b in chunk {
                    rt::sys::port_out(BASE, u64::from(b), 1)?;
                }
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
