//! `viv images`: the boot images embedded in `viv`, with their programs.

use std::fmt::Write as _;

use crate::image::embedded::embedded_images;

/// The listing `viv images` prints.
pub fn listing() -> String {
    let images = embedded_images();
    if images.is_empty() {
        return "no images embedded (viv was built with VIV_SKIP_GUEST)\n".to_string();
    }
    let mut out = String::new();
    for image in images {
        let programs = match abi::boot_image::BootImage::parse(image.archive) {
            Ok(parsed) => parsed.entries().map(|e| e.name).collect::<Vec<_>>().join(" "),
            Err(e) => format!("(unreadable: {e})"),
        };
        let _ = writeln!(out, "{:<12} {}", image.name, image.description);
        let _ = writeln!(out, "{:<12}   programs: {programs}", "");
        if !image.cmdline.is_empty() {
            let _ = writeln!(out, "{:<12}   command line: {}", "", image.cmdline);
        }
    }
    out
}
