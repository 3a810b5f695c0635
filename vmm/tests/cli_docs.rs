//! Issue 16, item 15: the `--help` texts, docs/cli.md and the README's
//! usage lines name the same flags, so none can drift from the others:
//! every flag a subcommand's `--help` lists is documented in its section
//! of docs/cli.md (or the VM options table it shares), every flag those
//! sections name exists, and every flag on a README `viv ...` line exists.
//! No VM is booted.

use std::collections::BTreeSet;
use std::process::Command;

const VIV: &str = env!("CARGO_BIN_EXE_viv");

/// Subcommands (with `campaign`'s actions) and whether they boot a guest
/// with the shared VM options.
const SUBCOMMANDS: &[(&str, bool)] = &[
    ("run", true),
    ("exec", true),
    ("images", false),
    ("export", false),
    ("bench", false),
    ("count", true),
    ("trace", true),
    ("profile", true),
    ("campaign", false),
    ("campaign replay", false),
    ("campaign merge", false),
    ("threats", false),
];

/// Flags every subcommand has; docs/cli.md names them once, at the top.
const GLOBAL: &[&str] = &["--help", "--version", "--verbose"];

fn repo_file(path: &str) -> String {
    let at = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path);
    std::fs::read_to_string(&at).unwrap_or_else(|e| panic!("{}: {e}", at.display()))
}

/// The `--long` flags in `text`.
fn flags(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while let Some(at) = text[i..].find("--") {
        let start = i + at;
        let before_ok = start == 0 || !(bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'-');
        let mut end = start + 2;
        while end < bytes.len() && (bytes[end].is_ascii_lowercase() || bytes[end] == b'-') {
            end += 1;
        }
        let word = text[start..end].trim_end_matches('-');
        if before_ok && word.len() > 2 && bytes[start + 2].is_ascii_lowercase() {
            found.insert(word.to_string());
        }
        i = end.max(start + 2);
    }
    found.retain(|f| !GLOBAL.contains(&f.as_str()));
    found
}

/// The flags `viv SUB --help` lists (its option lines only).
fn help_flags(sub: &str) -> BTreeSet<String> {
    let out = Command::new(VIV).args(sub.split(' ')).arg("--help").output().unwrap();
    assert!(out.status.success(), "viv {sub} --help");
    let help = String::from_utf8(out.stdout).unwrap();
    let options: String = help
        .lines()
        .filter(|l| l.trim_start().starts_with('-'))
        .map(|l| l.trim_start().split("  ").next().unwrap_or("").to_string() + "\n")
        .collect();
    flags(&options)
}

/// The text of docs/cli.md's section `## heading`.
fn section<'a>(doc: &'a str, heading: &str) -> &'a str {
    let start = doc.find(&format!("\n## {heading}\n")).unwrap_or_else(|| panic!("docs/cli.md has no `## {heading}`"));
    let body = &doc[start + 4 + heading.len()..];
    &body[..body.find("\n## ").unwrap_or(body.len())]
}

#[test]
fn help_docs_and_readme_name_the_same_flags() {
    let doc = repo_file("docs/cli.md");
    let vm_table: String =
        section(&doc, "VM options").lines().filter(|l| l.starts_with("| `--")).map(|l| l.to_string() + "\n").collect();
    let vm_flags = flags(&vm_table);
    assert!(vm_flags.contains("--snapshot") && vm_flags.contains("--timeout"), "{vm_flags:?}");
    let readme = repo_file("README.md");
    let usage = readme_usage(&readme);
    for &(sub, boots) in SUBCOMMANDS {
        let help = help_flags(sub);
        let own = flags(section(&doc, &format!("`viv {sub}`")));
        let documented: BTreeSet<String> = if boots { own.union(&vm_flags).cloned().collect() } else { own.clone() };
        let undocumented: Vec<&String> = help.difference(&documented).collect();
        assert!(undocumented.is_empty(), "viv {sub}: --help has {undocumented:?}, docs/cli.md does not");
        let stale: Vec<&String> = own.difference(&help).collect();
        assert!(stale.is_empty(), "viv {sub}: docs/cli.md names {stale:?}, --help does not have them");
        if boots {
            let missing: Vec<&String> = vm_flags.difference(&help).collect();
            assert!(missing.is_empty(), "viv {sub} lacks the VM options {missing:?}");
        }
        for (line, used) in usage.iter().filter(|(line, _)| subcommand_of(line) == Some(sub)) {
            let unknown: Vec<&String> = used.difference(&help).collect();
            assert!(unknown.is_empty(), "README: `{line}` uses {unknown:?}, which viv {sub} --help lacks");
        }
    }
    // The README's VM OPTIONS lines name exactly the shared options.
    let vm_usage: BTreeSet<String> =
        readme.lines().skip_while(|l| !l.starts_with("# VM OPTIONS")).take(2).flat_map(flags).collect();
    assert_eq!(vm_usage, vm_flags, "README's VM OPTIONS and docs/cli.md's table");
}

/// The `viv ...` lines of the README's `sh` blocks (comments cut off),
/// with their flags.
fn readme_usage(readme: &str) -> Vec<(String, BTreeSet<String>)> {
    let mut lines = Vec::new();
    let mut in_sh = false;
    for line in readme.lines() {
        if line.starts_with("```") {
            in_sh = line == "```sh";
            continue;
        }
        if in_sh && line.starts_with("viv ") {
            let command = line.split("  #").next().unwrap_or(line).trim().to_string();
            let used = flags(&command);
            lines.push((command, used));
        }
    }
    assert!(lines.len() >= 10, "the README's usage lines: {lines:?}");
    lines
}

/// The subcommand a README line runs (the longest name that matches).
fn subcommand_of(line: &str) -> Option<&'static str> {
    SUBCOMMANDS
        .iter()
        .map(|(s, _)| *s)
        .filter(|s| line.strip_prefix("viv ").is_some_and(|rest| rest == *s || rest.starts_with(&format!("{s} "))))
        .max_by_key(|s| s.len())
}

#[test]
fn the_flag_scanner_finds_long_flags_only() {
    let found = flags("`--out FILE` a--b x --list-causes, -- -v --help --x-");
    assert_eq!(found.into_iter().collect::<Vec<_>>(), ["--list-causes", "--out", "--x"]);
}
