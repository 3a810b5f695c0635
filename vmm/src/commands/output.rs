//! Where a subcommand's `--out` goes: a file, or stdout for `-` (as most
//! Unix tools do); a `--out` that names a directory refuses `-`.

use std::io::Write as _;
use std::path::Path;

use super::CommandError;

/// Whether `path` means stdout.
pub fn is_stdout(path: &Path) -> bool {
    path.as_os_str() == "-"
}

/// Writes `bytes` to `path`, or to stdout when it is `-`.
pub fn write(path: &Path, bytes: &[u8]) -> Result<(), CommandError> {
    if is_stdout(path) {
        let mut out = std::io::stdout().lock();
        return out.write_all(bytes).and_then(|()| out.flush()).map_err(|source| CommandError::File {
            what: "cannot write",
            path: path.into(),
            source,
        });
    }
    std::fs::write(path, bytes).map_err(|source| CommandError::File { what: "cannot write", path: path.into(), source })
}

/// How a message names `path`.
pub fn describe(path: &Path) -> String {
    if is_stdout(path) {
        "stdout".into()
    } else {
        path.display().to_string()
    }
}

/// Refuses `-` for a `--out` that must be a directory.
pub fn directory(path: &Path, flag: &str) -> Result<(), CommandError> {
    if is_stdout(path) {
        return Err(CommandError::Usage(format!("{flag} -: this --out is a directory of several files; name one")));
    }
    Ok(())
}
