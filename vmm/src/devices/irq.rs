//! Interrupt lines of the emulated devices.
//!
//! Why not irqfds: KVM injects an irqfd's interrupt into the in-kernel
//! IOAPIC/PIC from a kernel workqueue (only MSIs are injected at once), so
//! the moment the guest sees a completion or a transmit-ready interrupt
//! depends on host scheduling. That broke experiment mode: two runs of the
//! same plan took the serial and disk interrupts at different guest
//! instructions, and counters, ticks and traces diverged. `KVM_IRQ_LINE`
//! sets the line in the irqchip before the ioctl returns; raised from the
//! vCPU thread during an exit, the interrupt is pending when the guest
//! resumes, at the same instruction every run. The stdin forwarder may
//! raise it from its own thread too (interactive input is not
//! deterministic anyway).
//!
//! An [`IrqLine::Event`] (a plain eventfd) stands in for the VM in device
//! unit tests, which read the eventfd to see the interrupt.

use std::io;
use std::sync::Arc;

use kvm_ioctls::VmFd;
use vmm_sys_util::eventfd::EventFd;

/// One edge-triggered interrupt line into the guest.
#[derive(Debug)]
pub enum IrqLine {
    /// The VM's in-kernel irqchip, line `gsi`.
    Kvm { vm: Arc<VmFd>, gsi: u32 },
    /// An eventfd written once per interrupt (device tests).
    Event(EventFd),
}

impl IrqLine {
    /// Line `gsi` of `vm`.
    pub fn kvm(vm: &Arc<VmFd>, gsi: u32) -> IrqLine {
        IrqLine::Kvm { vm: vm.clone(), gsi }
    }

    /// Raises one interrupt: a rising and a falling edge, as an irqfd does.
    pub fn raise(&self) -> io::Result<()> {
        match self {
            IrqLine::Kvm { vm, gsi } => {
                vm.set_irq_line(*gsi, true).map_err(|e| io::Error::from_raw_os_error(e.errno()))?;
                vm.set_irq_line(*gsi, false).map_err(|e| io::Error::from_raw_os_error(e.errno()))
            }
            IrqLine::Event(fd) => fd.write(1),
        }
    }
}
