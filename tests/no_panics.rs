//! No `unwrap`/`expect`/`panic!` on a path a user can reach, outside a short allow-list of
//! documented invariants (`tests/panic_allowlist.txt`, one site per line with its reason).
//!
//! The test reads every library and binary source file under `crates/*/src` (test modules and
//! files left out), finds each `.unwrap()`, `.expect(`, `panic!(`, `unreachable!(`, `todo!(`
//! and `unimplemented!(`, and fails on a site the list does not name, on a list entry that no
//! longer matches a site (so the list stays true), and on any `todo!`/`unimplemented!`.

use std::path::{Path, PathBuf};

const PATTERNS: [&str; 6] = [
    ".unwrap()",
    ".expect(",
    "panic!(",
    "unreachable!(",
    "todo!(",
    "unimplemented!(",
];

/// One allowed site: the file, a piece of its line, and why it cannot fail.
struct Allowed {
    file: String,
    snippet: String,
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
        allowed.push(Allowed {
            file: parts[0].trim().to_string(),
            snippet: parts[1].trim().to_string(),
            used: 0,
        });
    }
    let mut files = Vec::new();
    sources(&root.join("crates"), &mut files);
    files.sort();
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
            if !PATTERNS.iter().any(|p| line.contains(p)) {
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
        .filter(|a| a.used == 0)
        .map(|a| format!("{} | {}", a.file, a.snippet))
        .collect();
    assert!(
        stale.is_empty(),
        "entries of tests/panic_allowlist.txt that match no site (remove them):\n{}",
        stale.join("\n")
    );
}
