//! No `unwrap`/`expect`/`panic!` on a path a user can reach, outside a short allow-list of
//! documented invariants (`tests/panic_allowlist.txt`, one site per line with its reason).
//!
//! The test reads every library and binary source file under `crates/*/src` (test modules and
//! the files of `#[cfg(test)] mod x;` left out), finds each `.unwrap()`, `.expect(`, `panic!(`,
//! `unreachable!(`, `todo!(`, `unimplemented!(` and `assert!`/`assert_eq!`/`assert_ne!` (not
//! `debug_assert!`), and fails on a site the list does not name, on a list entry that matches
//! no site or more sites than it says (an entry is one site unless its reason starts with
//! `(N sites)`), and on any `todo!`/`unimplemented!`.

use std::path::{Path, PathBuf};

const PATTERNS: [&str; 9] = [
    ".unwrap()",
    ".expect(",
    "panic!(",
    "unreachable!(",
    "todo!(",
    "unimplemented!(",
    "assert!(",
    "assert_eq!(",
    "assert_ne!(",
];

/// Whether `line` has a site: one of [`PATTERNS`], `debug_assert*!` excepted.
fn has_site(line: &str) -> bool {
    PATTERNS.iter().any(|p| {
        line.match_indices(p)
            .any(|(at, _)| !(p.starts_with("assert") && line[..at].ends_with("debug_")))
    })
}

/// One allowed site: the file, a piece of its line, and why it cannot fail.
struct Allowed {
    file: String,
    snippet: String,
    /// The sites it may match: 1 unless the reason starts with `(N sites)`.
    expected: usize,
    used: usize,
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("a readable source directory") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs")
            && path.file_name().is_some_and(|n| n != "tests.rs")
        {
            out.push(path);
        }
    }
}

/// The files of test modules declared as `#[cfg(test)] mod name;` in `files` (`name.rs` beside
/// the declaring file).
fn test_module_files(files: &[PathBuf]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(f).expect("a readable source file");
        let lines: Vec<&str> = text.lines().map(str::trim).collect();
        for w in lines.windows(2) {
            if let ("#[cfg(test)]", Some(name)) = (w[0], w[1].strip_prefix("mod "))
                && let Some(name) = name.strip_suffix(';')
            {
                out.push(f.with_file_name(format!("{name}.rs")));
            }
        }
    }
    out
}

/// The lines of `text` before its test module (`#[cfg(test)]` followed by `mod`), with
/// comments dropped.
fn code_lines(text: &str) -> Vec<(usize, String)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let t = line.trim();
        if t == "#[cfg(test)]"
            && lines[i + 1..]
                .iter()
                .map(|l| l.trim())
                .find(|l| !l.starts_with("#["))
                .is_some_and(|l| l.starts_with("mod ") || l.starts_with("pub mod "))
        {
            break;
        }
        if t.starts_with("//") {
            continue;
        }
        out.push((i + 1, t.to_string()));
    }
    out
}

#[test]
fn no_unwrap_or_expect_outside_the_allow_list() {
    let root = workspace();
    let list = std::fs::read_to_string(root.join("tests/panic_allowlist.txt"))
        .expect("tests/panic_allowlist.txt");
    let mut allowed: Vec<Allowed> = Vec::new();
    for (no, line) in list.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let parts: Vec<&str> = line.splitn(3, " | ").collect();
        assert!(
            parts.len() == 3 && !parts[2].trim().is_empty(),
            "tests/panic_allowlist.txt:{}: expected `file | snippet | reason`",
            no + 1
        );
        let reason = parts[2].trim();
        let expected = reason
            .strip_prefix('(')
            .and_then(|r| r.split_once(" sites)"))
            .and_then(|(n, _)| n.parse().ok())
            .unwrap_or(1);
        allowed.push(Allowed {
            file: parts[0].trim().to_string(),
            snippet: parts[1].trim().to_string(),
            expected,
            used: 0,
        });
    }
    let mut files = Vec::new();
    sources(&root.join("crates"), &mut files);
    files.sort();
    let test_modules = test_module_files(&files);
    files.retain(|f| !test_modules.contains(f));
    let mut unlisted = Vec::new();
    let mut sites = 0;
    for file in files {
        let rel = file
            .strip_prefix(&root)
            .expect("under the workspace")
            .to_string_lossy()
            .replace('\\', "/");
        if !rel.contains("/src/") {
            continue; // benches, examples and integration tests
        }
        let text = std::fs::read_to_string(&file).expect("a readable source file");
        for (no, line) in code_lines(&text) {
            if !has_site(&line) {
                continue;
            }
            sites += 1;
            assert!(
                !line.contains("todo!(") && !line.contains("unimplemented!("),
                "{rel}:{no}: todo!/unimplemented! is never allowed: {line}"
            );
            match allowed
                .iter_mut()
                .find(|a| a.file == rel && line.contains(&a.snippet))
            {
                Some(a) => a.used += 1,
                None => unlisted.push(format!("{rel}:{no}: {line}")),
            }
        }
    }
    assert!(sites > 0, "no site found: is the scan reading the sources?");
    assert!(
        unlisted.is_empty(),
        "unwrap/expect/panic on a path a user may reach; return an error instead, or add the site \
         with its reason to tests/panic_allowlist.txt:\n{}",
        unlisted.join("\n")
    );
    let stale: Vec<String> = allowed
        .iter()
        .filter(|a| a.used != a.expected)
        .map(|a| {
            format!(
                "{} | {} (matches {} site(s), says {})",
                a.file, a.snippet, a.used, a.expected
            )
        })
        .collect();
    assert!(
        stale.is_empty(),
        "entries of tests/panic_allowlist.txt that match no site, or more sites than they say \
         (make the snippet unique, or start the reason with `(N sites)`):\n{}",
        stale.join("\n")
    );
}

#[test]
fn the_scanner_sees_what_it_should() {
    assert!(has_site("assert!(x > 0);"));
    assert!(has_site("assert_eq!(a, b);"));
    assert!(!has_site("debug_assert!(x > 0);"));
    assert!(!has_site("debug_assert_eq!(a, b);"));
    assert!(has_site("debug_assert!(x); assert!(y);"));
    assert!(has_site("let v = r.unwrap();"));
    assert!(!has_site("let v = r.unwrap_or(0);"));
}
