//! `viv export --symbols DIR`: the kernel's and every program's ELF of an
//! image, and a gdb script that loads them (docs/gdb.md).
//!
//! Why one command per program instead of all symbol files at once:
//! every program is linked at the same user address, so two programs'
//! symbol files would claim the same addresses and gdb would name (and
//! set breakpoints in) the wrong program. The script loads the kernel's
//! symbols, which are the same in every address space, and defines
//! `viv-NAME` for each program: the kernel's and that program's symbols;
//! connected, it also tells the stub which program's symbols gdb uses
//! (`monitor program NAME`: user-code breakpoints go only into processes
//! running it) and selects the thread of the process that runs NAME, as
//! `viv-thread NAME` does, so that `break FUNCTION` goes into that
//! process.

use std::fmt::Write as _;
use std::path::Path;

use super::CommandError;
use crate::image::embedded::{embedded_kernel, find_image, program_with_debug_info};

/// The gdb script's file name in the symbols directory.
pub const SCRIPT: &str = "vivarium.gdb";

/// Writes `kernel.elf`, `programs/NAME.elf` and [`SCRIPT`] for `image`
/// into `dir`; returns a summary line.
pub fn export_symbols(image: &str, dir: &Path) -> Result<String, CommandError> {
    let image = find_image(image).map_err(crate::Error::from)?;
    let kernel = embedded_kernel().map_err(crate::Error::from)?;
    let boot = abi::boot_image::BootImage::parse(image.archive)
        .map_err(|e| CommandError::Usage(format!("image {}: {e}", image.name)))?;
    let programs_dir = dir.join("programs");
    let create = |path: &Path| {
        std::fs::create_dir_all(path).map_err(|source| CommandError::File {
            what: "cannot create",
            path: path.into(),
            source,
        })
    };
    create(&programs_dir)?;
    // Absolute paths, so that the script works from any directory.
    let dir = std::fs::canonicalize(dir).map_err(|source| CommandError::File {
        what: "cannot resolve",
        path: dir.into(),
        source,
    })?;
    let write = |path: &Path, bytes: &[u8]| {
        std::fs::write(path, bytes).map_err(|source| CommandError::File {
            what: "cannot write",
            path: path.into(),
            source,
        })
    };
    let kernel_path = dir.join("kernel.elf");
    write(&kernel_path, kernel)?;
    let mut names = Vec::new();
    for entry in boot.entries() {
        // The file as built: the boot image holds a copy without debug info.
        let elf = program_with_debug_info(entry.name)
            .ok_or_else(|| CommandError::Usage(format!("image {}: no ELF of program {}", image.name, entry.name)))?;
        write(&dir.join("programs").join(format!("{}.elf", entry.name)), elf)?;
        names.push(entry.name.to_string());
    }
    write(&dir.join(SCRIPT), script(&kernel_path, &dir.join("programs"), &names).as_bytes())?;
    Ok(format!(
        "wrote the kernel and {} programs of image {} to {}; in gdb: source {}",
        names.len(),
        image.name,
        dir.display(),
        dir.join(SCRIPT).display()
    ))
}

/// The gdb script for the kernel at `kernel` and the programs `names`
/// in `programs`.
fn script(kernel: &Path, programs: &Path, names: &[String]) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# Written by `viv export --symbols` (docs/gdb.md).");
    let _ = writeln!(s, "# The kernel's symbols; `viv-NAME` adds program NAME's (all programs share");
    let _ = writeln!(s, "# one user address range, so one program at a time).");
    let _ = writeln!(s, "set confirm off");
    let _ = writeln!(s, "symbol-file {}", kernel.display());
    // `viv_drop_programs` (THREAD_COMMAND) removes the program loaded
    // before, found by this directory; the kernel's symbols stay, and so do
    // breakpoints in the kernel.
    let _ = writeln!(s, "python viv_programs = {:?}", format!("{}/", programs.display()));
    for name in names {
        let _ = writeln!(s, "define viv-{name}");
        let _ = writeln!(s, "  python viv_drop_programs()");
        let _ = writeln!(s, "  add-symbol-file {}", programs.join(format!("{name}.elf")).display());
        let _ = writeln!(s, "  python viv_select_program({name:?})");
        let _ = writeln!(s, "end");
        let _ = writeln!(s, "document viv-{name}");
        let _ = writeln!(s, "Add {name}'s symbols to the kernel's (and drop any other program's); connected,");
        let _ = writeln!(s, "select the thread of the process running {name}, where user breakpoints go.");
        let _ = writeln!(s, "end");
    }
    s.push_str(THREAD_COMMAND);
    s
}

/// `viv_drop_programs()`: removes every program's symbol file (those
/// under `viv_programs`); `viv_select_program(NAME)` (the end of
/// `viv-NAME`, connected): `monitor program NAME` and the thread of a
/// process running NAME, if one does; `viv-thread NAME`: selects the
/// thread of the process running NAME (the stub names threads "NAME
/// (endpoint N)"); `viv-break NAME LOCATION`: a
/// kernel breakpoint that stops only while NAME is current (user-code
/// breakpoints do not work on every host, so this is how to stop in a
/// server's system call);
/// `viv-static PATH [SIZE]`: a
/// static's address by its Rust path, found among the symbols (whose
/// names end in a hash), for watchpoints and `x` (with the debug info
/// gdb also prints a static by name, with its type: `print PATH`).
const THREAD_COMMAND: &str = r#"python
import re
def viv_drop_programs():
    for objfile in gdb.objfiles():
        if objfile.filename.startswith(viv_programs):
            gdb.execute("remove-symbol-file " + objfile.filename)
def viv_thread(name, from_tty):
    for line in gdb.execute("info threads", to_string=True).splitlines():
        m = re.match(r"^\*?\s*(\d+)\s+Thread \S+ \((\S+) \(endpoint", line)
        if m and m.group(2) == name:
            gdb.execute("thread " + m.group(1), from_tty)
            return True
    return False
def viv_select_program(name):
    if gdb.selected_thread() is None:
        return
    gdb.execute("monitor program " + name, to_string=True)
    if not viv_thread(name, True):
        print("viv: no process runs " + name + " now; select one with viv-thread before a breakpoint in its code")
class VivThread(gdb.Command):
    """viv-thread NAME: switch to the thread of the process running program NAME."""
    def __init__(self):
        super().__init__("viv-thread", gdb.COMMAND_USER)
    def invoke(self, arg, from_tty):
        if not viv_thread(arg.strip(), from_tty):
            raise gdb.GdbError("no process runs " + arg.strip())
VivThread()
class VivBreak(gdb.Command):
    """viv-break NAME LOCATION: a breakpoint at LOCATION (kernel code) that
stops only while process NAME is current; other processes pass it without
a stop being shown. With guest_kernel::syscall::dispatch: NAME's system
calls."""
    def __init__(self):
        super().__init__("viv-break", gdb.COMMAND_BREAKPOINTS)
    def invoke(self, arg, from_tty):
        words = arg.split(None, 1)
        if len(words) != 2:
            raise gdb.GdbError("usage: viv-break NAME LOCATION")
        ProcessBreakpoint(words[1], words[0])
class ProcessBreakpoint(gdb.Breakpoint):
    def __init__(self, spec, program):
        super().__init__(spec)
        self.program = program
    def stop(self):
        # `details` (gdb 13): the stub's "NAME (endpoint N)".
        details = getattr(gdb.selected_thread(), "details", None)
        if details is None:
            out = gdb.execute("info threads", to_string=True)
            details = next((l.split("(", 1)[1] for l in out.splitlines() if l.startswith("*") and "(" in l), "")
        return details.split(" ")[0] == self.program
VivBreak()
class VivStatic(gdb.Command):
    """viv-static PATH [SIZE]: find the static PATH (its Rust path, without the
hash its symbol carries) and set $viv_static to its address; with SIZE (1, 2,
4 or 8) print the unsigned little-endian integer stored there (`print PATH`
shows the value with its type)."""
    def __init__(self):
        super().__init__("viv-static", gdb.COMMAND_DATA)
    def invoke(self, arg, from_tty):
        words = arg.split()
        if len(words) not in (1, 2):
            raise gdb.GdbError("usage: viv-static PATH [SIZE]")
        name = words[0]
        out = gdb.execute("info variables -q ^" + name, to_string=True)
        for line in out.splitlines():
            m = re.match(r"^\s*(0x[0-9a-f]+)\s+(\S+)\s*$", line)
            if m and re.fullmatch(re.escape(name) + r"(::h[0-9a-f]{16})?", m.group(2)):
                at = int(m.group(1), 16)
                gdb.set_convenience_variable("viv_static", at)
                if len(words) == 1:
                    print("%s at %#x" % (name, at))
                    return
                raw = gdb.selected_inferior().read_memory(at, int(words[1]))
                value = int.from_bytes(bytes(raw), "little")
                print("%s at %#x = %d (%#x)" % (name, at, value, value))
                return
        raise gdb.GdbError("no static " + name)
VivStatic()
end
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_script_loads_the_kernel_and_defines_one_command_per_program() {
        let s = script(Path::new("/s/kernel.elf"), Path::new("/s/programs"), &["vfs".into(), "sh".into()]);
        assert!(s.contains("\nsymbol-file /s/kernel.elf\n"));
        assert!(s.contains("\npython viv_programs = \"/s/programs/\"\n"), "{s}");
        // `viv-vfs`: VFS's symbols instead of another program's, then (when
        // connected) the stub told and VFS's thread selected.
        let vfs = "define viv-vfs\n  python viv_drop_programs()\n  add-symbol-file /s/programs/vfs.elf\n  \
                   python viv_select_program(\"vfs\")\nend\n";
        assert!(s.contains(vfs), "{s}");
        assert!(s.contains("def viv_drop_programs():\n"), "{s}");
        let select = &s[s.find("def viv_select_program(name):\n").expect("viv_select_program")..];
        let select = &select[..select.find("\nclass ").unwrap()];
        assert!(select.contains("gdb.execute(\"monitor program \" + name"), "{select}");
        assert!(select.contains("viv_thread(name, True)"), "{select}");
        assert!(s.contains("define viv-sh\n"));
        for command in ["VivThread()\n", "VivBreak()\n", "VivStatic()\n"] {
            assert!(s.contains(command), "{command}");
        }
    }
}
