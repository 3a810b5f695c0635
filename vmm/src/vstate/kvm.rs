//! Opening KVM, and the fixed addresses KVM itself needs in the guest's
//! physical address space.

use kvm_ioctls::Kvm;

use super::error::Error;

/// Address of the three-page TSS region KVM needs on Intel (below 4 GiB,
/// outside RAM and the LAPIC/IOAPIC windows).
pub const KVM_TSS_ADDRESS: usize = 0xfffb_d000;

/// Opens `/dev/kvm`, turning the usual failures into one clear line.
pub fn open_kvm() -> Result<Kvm, Error> {
    Kvm::new().map_err(|e| {
        let why = match e.errno() {
            libc::ENOENT => "/dev/kvm does not exist (is KVM enabled in the kernel and the BIOS?)".to_string(),
            libc::EACCES | libc::EPERM => {
                "/dev/kvm is not accessible to this user (add yourself to the kvm group)".to_string()
            }
            _ => format!("cannot open /dev/kvm: {e}"),
        };
        Error::KvmUnavailable(why)
    })
}
