//! `docs/privileges.md` is exactly what `vmm::image::privileges_doc` renders from
//! `images/*/image.toml`; `VIV_BLESS=1` rewrites it. Also checks what the
//! table says about the untrusted drivers.

use std::path::PathBuf;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

#[test]
fn the_privilege_table_matches_the_image_definitions() {
    let generated = vmm::image::privileges_doc::render_dir(&root().join("images")).unwrap();
    let path = root().join("docs/privileges.md");
    if std::env::var_os("VIV_BLESS").is_some_and(|v| v == "1") {
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "docs/privileges.md is stale: regenerate it with `VIV_BLESS=1 cargo test -p vivarium-vmm --test privileges_doc`"
    );
}

#[test]
fn no_driver_of_the_system_image_may_kill_spawn_or_power_off() {
    let config = vmm::image::definition::ImageConfig::load(&root().join("images/system/image.toml")).unwrap();
    let privileges = config.resolved_privileges().unwrap();
    use abi::syscall::KernelCall::{Exec, ExecElf, Fork, Kill, PowerOff, Spawn};
    for driver in ["tty", "blk", "ext2fs"] {
        let index = config.programs.iter().position(|p| p.name.get_ref() == driver).unwrap();
        for call in [Kill, PowerOff, Spawn, Fork, Exec, ExecElf] {
            assert_eq!(privileges[index].kernel_calls & 1 << call as u32, 0, "{driver} holds {}", call.name());
        }
    }
}
