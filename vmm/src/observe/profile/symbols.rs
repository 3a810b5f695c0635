//! Naming addresses: the function symbols of the kernel ELF and of each
//! program's ELF (the boot image holds every program; programs run from
//! the disk's `/bin` are the same files), demangled. The caller finds a
//! program's ELF ([`ProgramElf`]): SWIFI's lookup, from a layer above.
//!
//! Why the symbol table and not debug info: the programs in the boot
//! image (and on the disk) are copies without debug info (it would grow
//! what the kernel maps and PM reads; `crate::image::strip`), and their
//! symbols name every function that was not inlined. With LTO the
//! kernel's IPC path is a handful of large functions; a sample in an
//! inlined helper is charged to the function it was inlined into.

use std::collections::HashMap;

use object::{Object, ObjectSymbol, SymbolKind};

/// Farthest a label without a size reaches.
pub const LABEL_REACH: u64 = 4096;

/// The functions of one ELF, by address.
#[derive(Debug, Default, Clone)]
pub struct SymbolTable {
    /// (start, end, demangled name), sorted by start, not overlapping.
    functions: Vec<(u64, u64, String)>,
}

impl SymbolTable {
    /// The function symbols of `elf` (none if it is not a readable ELF).
    /// Labels without a size (the assembly entry stubs: `_start`, the
    /// kernel's `trap_common`) reach to the next symbol, at most
    /// [`LABEL_REACH`] bytes.
    pub fn from_elf(elf: &[u8]) -> SymbolTable {
        let Ok(file) = object::File::parse(elf) else { return SymbolTable::default() };
        let mut functions: Vec<(u64, u64, String)> = file
            .symbols()
            .filter(|s| matches!(s.kind(), SymbolKind::Text | SymbolKind::Unknown) && s.section_index().is_some())
            .filter_map(|s| {
                let name = s.name().ok().filter(|n| !n.is_empty() && !n.starts_with(['$', '.']))?;
                Some((s.address(), s.address().saturating_add(s.size()), demangle(name)))
            })
            .collect();
        functions.sort_by(|a, b| (a.0, b.1).cmp(&(b.0, a.1)));
        let starts: Vec<u64> = functions.iter().map(|f| f.0).collect();
        for f in functions.iter_mut().filter(|f| f.0 == f.1) {
            let next = starts.iter().find(|&&s| s > f.0).copied().unwrap_or(u64::MAX);
            f.1 = next.min(f.0.saturating_add(LABEL_REACH));
        }
        functions.sort_by(|a, b| (a.0, b.1).cmp(&(b.0, a.1)));
        functions.dedup_by(|later, earlier| later.0 < earlier.1);
        SymbolTable { functions }
    }

    /// The function containing `address`.
    pub fn lookup(&self, address: u64) -> Option<&str> {
        let i = self.functions.partition_point(|f| f.0 <= address);
        let (start, end, name) = self.functions.get(i.checked_sub(1)?)?;
        (*start..*end).contains(&address).then_some(name.as_str())
    }

    /// The start of the function whose demangled name (without hash) is `name`.
    pub fn function(&self, name: &str) -> Option<u64> {
        self.functions.iter().find(|f| f.2 == name).map(|f| f.0)
    }

    /// The address of the data or code symbol `name` and its size.
    pub fn symbol(elf: &[u8], name: &str) -> Option<(u64, u64)> {
        let file = object::File::parse(elf).ok()?;
        let symbol = file.symbols().find(|s| s.name() == Ok(name))?;
        Some((symbol.address(), symbol.size()))
    }
}

/// `name` demangled, without the hash; `;` (which separates frames in
/// folded stacks, and appears in array types) becomes `:`.
fn demangle(name: &str) -> String {
    format!("{:#}", rustc_demangle::demangle(name)).replace(';', ":")
}

/// Finds the ELF of a program by the name the process directory gives
/// (`crate::inject::swifi::code_map::program_elf` in the boot image,
/// which also knows the names exec shortens).
pub type ProgramElf<'a> = &'a dyn Fn(&str) -> Option<&'a [u8]>;

/// The kernel's and the programs' symbols of one run.
pub struct Symbolizer<'a> {
    kernel: SymbolTable,
    program_elf: ProgramElf<'a>,
    programs: HashMap<String, Option<SymbolTable>>,
}

impl<'a> Symbolizer<'a> {
    /// Symbols from the kernel ELF and the programs `program_elf` finds.
    pub fn new(kernel_elf: &[u8], program_elf: ProgramElf<'a>) -> Symbolizer<'a> {
        Symbolizer { kernel: SymbolTable::from_elf(kernel_elf), program_elf, programs: HashMap::new() }
    }

    /// The kernel function at `address`.
    pub fn kernel(&self, address: u64) -> Option<&str> {
        self.kernel.lookup(address)
    }

    /// The function at `address` in program `name`.
    pub fn user(&mut self, name: &str, address: u64) -> Option<&str> {
        let program_elf = self.program_elf;
        let table =
            self.programs.entry(name.to_string()).or_insert_with(|| program_elf(name).map(SymbolTable::from_elf));
        table.as_ref()?.lookup(address)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups_find_the_enclosing_function_only() {
        let table = SymbolTable {
            functions: vec![(0x100, 0x110, "a".into()), (0x110, 0x120, "b".into()), (0x200, 0x210, "c".into())],
        };
        assert_eq!(table.lookup(0x100), Some("a"));
        assert_eq!(table.lookup(0x10f), Some("a"));
        assert_eq!(table.lookup(0x110), Some("b"));
        assert_eq!(table.lookup(0x150), None);
        assert_eq!(table.lookup(0x0), None);
        assert_eq!(table.lookup(u64::MAX), None);
        assert_eq!((table.function("b"), table.function("d")), (Some(0x110), None));
    }

    #[test]
    fn names_are_demangled_without_hash_or_semicolons() {
        assert_eq!(demangle("_ZN4core3fmt5write17h0123456789abcdefE"), "core::fmt::write");
        assert_eq!(demangle("plain"), "plain");
        assert_eq!(demangle("a;b"), "a:b");
    }

    #[test]
    fn garbage_is_no_elf() {
        assert!(SymbolTable::from_elf(b"not an elf").lookup(0).is_none());
        assert!(SymbolTable::symbol(&[0x7f, b'E', b'L', b'F'], "x").is_none());
    }
}
