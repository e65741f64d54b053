//! The docs cannot drift from the code: the config and CLI references are generated (and must
//! equal the pages in `docs/reference/`), every `fairrep` command in a fenced `sh` block of the
//! README or `docs/` must parse with the real parser, every relative link must resolve (to a
//! file, and to a heading where it names one), and the README stays a five-minute read.
//!
//! `FAIRREP_UPDATE_DOCS=1 cargo test --release --workspace docs_check` rewrites the generated
//! pages instead of comparing them.

use crate::Cli;
use clap::{CommandFactory, Parser};
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `docs/reference/config.md`: `fairrep config --explain`, verbatim.
fn config_reference() -> String {
    format!(
        "# Config reference\n\n\
         Generated from `fairrep config --explain` (a test checks that this page equals it; \
         `FAIRREP_UPDATE_DOCS=1 cargo test --release --workspace docs_check` rewrites it). \
         Every key of a config file, its type, its default and its meaning; `fairrep train \
         --set KEY=VALUE` overrides any of them. The shipped configs in `configs/` are worked \
         examples.\n\n```text\n{}```\n",
        fairrep_config::explain()
    )
}

/// `docs/reference/cli.md`: every command's `--help`, as clap renders it.
fn cli_reference() -> String {
    let mut cmd = Cli::command();
    cmd.build();
    let mut out = String::from(
        "# CLI reference\n\n\
         Generated from the parser (a test checks that this page equals it; \
         `FAIRREP_UPDATE_DOCS=1 cargo test --release --workspace docs_check` rewrites it): \
         what `fairrep <command> --help` prints.\n\n",
    );
    out += &format!(
        "## fairrep\n\n```text\n{}```\n",
        cmd.render_long_help().to_string().trim_end().to_string() + "\n"
    );
    let names: Vec<String> = cmd
        .get_subcommands()
        .map(|s| s.get_name().to_string())
        .filter(|n| n != "help")
        .collect();
    for name in names {
        let sub = cmd.find_subcommand_mut(&name).expect("listed above");
        let help = sub.render_long_help().to_string();
        out += &format!("\n## fairrep {name}\n\n```text\n{}\n```\n", help.trim_end());
    }
    out
}

/// Compares a generated page with the file, or writes it with `FAIRREP_UPDATE_DOCS=1`.
fn check_generated(relative: &str, generated: &str) {
    let path = repo().join(relative);
    if std::env::var_os("FAIRREP_UPDATE_DOCS").is_some() {
        std::fs::write(&path, generated).unwrap();
        return;
    }
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    if on_disk != generated {
        let line = on_disk
            .lines()
            .zip(generated.lines())
            .position(|(a, b)| a != b)
            .map_or(
                on_disk.lines().count().min(generated.lines().count()),
                |l| l,
            );
        panic!(
            "{relative} is not what the code generates (first difference at line {}: {:?} vs \
             {:?}); run FAIRREP_UPDATE_DOCS=1 cargo test --release --workspace docs_check",
            line + 1,
            on_disk.lines().nth(line),
            generated.lines().nth(line)
        );
    }
}

#[test]
fn the_config_reference_is_generated() {
    check_generated("docs/reference/config.md", &config_reference());
}

#[test]
fn the_cli_reference_is_generated() {
    check_generated("docs/reference/cli.md", &cli_reference());
}

/// The README and every Markdown file under `docs/` (not the evidence folders' own files).
fn pages() -> Vec<PathBuf> {
    let mut out = vec![repo().join("README.md")];
    let mut stack = vec![repo().join("docs")];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                if !p.ends_with("evidence") {
                    stack.push(p);
                }
            } else if p.extension().is_some_and(|x| x == "md") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// The commands of the fenced `sh` blocks of a page: lines joined across trailing `\`, comments
/// dropped, split into words (single and double quotes kept together).
fn sh_commands(text: &str) -> Vec<(usize, Vec<String>)> {
    let mut out = Vec::new();
    let mut in_sh = false;
    let mut pending: Option<(usize, String)> = None;
    for (i, line) in text.lines().enumerate() {
        let t = line.trim_start();
        if t.starts_with("```") {
            in_sh = !in_sh && (t == "```sh" || t == "```bash" || t == "```shell");
            continue;
        }
        if !in_sh {
            continue;
        }
        let code = strip_comment(line);
        let (start, mut joined) = pending.take().unwrap_or((i + 1, String::new()));
        let continued = code.trim_end().ends_with('\\');
        joined += code.trim_end().trim_end_matches('\\');
        joined.push(' ');
        if continued {
            pending = Some((start, joined));
        } else if !joined.trim().is_empty() {
            out.push((start, words(&joined)));
        }
    }
    out
}

/// The line without a `#` comment (a `#` at the start or after a space, outside quotes).
fn strip_comment(line: &str) -> &str {
    let (mut single, mut double, mut prev) = (false, false, ' ');
    for (i, c) in line.char_indices() {
        match c {
            '\'' if !double => single = !single,
            '"' if !single => double = !double,
            '#' if !single && !double && prev.is_whitespace() => return &line[..i],
            _ => {}
        }
        prev = c;
    }
    line
}

/// Shell words: whitespace-separated, quotes removed and their contents kept whole.
fn words(s: &str) -> Vec<String> {
    let (mut out, mut cur, mut quote, mut any) = (Vec::new(), String::new(), None, false);
    for c in s.chars() {
        match (quote, c) {
            (None, '\'' | '"') => (quote, any) = (Some(c), true),
            (Some(q), c) if c == q => quote = None,
            (None, c) if c.is_whitespace() => {
                if any {
                    out.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            (_, c) => {
                cur.push(c);
                any = true;
            }
        }
    }
    if any {
        out.push(cur);
    }
    out
}

/// The `fairrep` invocations of a command line: `fairrep …`, `target/release/fairrep …` and
/// `cargo run --release -- …`, each up to a `|`, `&&`, `;` or redirection.
fn invocations(words: &[String]) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < words.len() {
        let w = words[i].as_str();
        let start = if w == "fairrep" || w.ends_with("/fairrep") {
            Some(i + 1)
        } else if w == "cargo"
            && words.get(i + 1).is_some_and(|x| x == "run")
            && let Some(dd) = words[i..].iter().position(|x| x == "--")
        {
            Some(i + dd + 1)
        } else {
            None
        };
        let Some(start) = start else {
            i += 1;
            continue;
        };
        let end = words[start..]
            .iter()
            .position(|x| ["|", "&&", ";", ">", "2>", "&", "||"].contains(&x.as_str()))
            .map_or(words.len(), |e| start + e);
        let mut args = vec!["fairrep".to_string()];
        args.extend(words[start..end].iter().cloned());
        out.push(args);
        i = end;
    }
    out
}

#[test]
fn every_documented_command_parses() {
    let mut checked = 0;
    let mut failures = Vec::new();
    for page in pages() {
        let text = std::fs::read_to_string(&page).unwrap();
        for (line, words) in sh_commands(&text) {
            for args in invocations(&words) {
                checked += 1;
                if let Err(e) = Cli::try_parse_from(&args) {
                    // `--help` and `--version` "fail" with their own output: they parse.
                    if !matches!(
                        e.kind(),
                        clap::error::ErrorKind::DisplayHelp
                            | clap::error::ErrorKind::DisplayVersion
                    ) {
                        failures.push(format!(
                            "{}:{line}: `{}`: {}",
                            page.strip_prefix(repo()).unwrap_or(&page).display(),
                            args.join(" "),
                            e.to_string().lines().next().unwrap_or("")
                        ));
                    }
                }
            }
        }
    }
    assert!(checked >= 20, "only {checked} documented commands found");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// GitHub's anchor of a heading: lower case, punctuation dropped, spaces as `-`.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

fn anchors(text: &str) -> Vec<String> {
    let mut fence = false;
    text.lines()
        .filter(|l| {
            if l.trim_start().starts_with("```") {
                fence = !fence;
            }
            !fence && l.starts_with('#')
        })
        .map(|l| slug(l.trim_start_matches('#')))
        .collect()
}

#[test]
fn every_relative_link_resolves() {
    let link = |s: &str| -> Vec<String> {
        let mut out = Vec::new();
        let mut rest = s;
        while let Some(at) = rest.find("](") {
            let tail = &rest[at + 2..];
            let Some(end) = tail.find(')') else { break };
            out.push(tail[..end].to_string());
            rest = &tail[end..];
        }
        out
    };
    let mut failures = Vec::new();
    for page in pages() {
        let text = std::fs::read_to_string(&page).unwrap();
        let dir = page.parent().unwrap();
        for target in link(&text) {
            if target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            let (path, frag) = target.split_once('#').unwrap_or((&target, ""));
            let file = if path.is_empty() {
                page.clone()
            } else {
                dir.join(path)
            };
            let name = page
                .strip_prefix(repo())
                .unwrap_or(&page)
                .display()
                .to_string();
            if !file.exists() {
                failures.push(format!("{name}: `{target}`: no such file"));
                continue;
            }
            if !frag.is_empty() && file.is_file() {
                let t = std::fs::read_to_string(&file).unwrap_or_default();
                if !anchors(&t).iter().any(|a| a == frag) {
                    failures.push(format!("{name}: `{target}`: no heading `#{frag}`"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_readme_is_a_five_minute_read() {
    let text = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let lines = text.lines().count();
    assert!(lines <= 300, "README.md has {lines} lines (at most 300)");
}

#[test]
fn shell_words_and_comments_split_as_a_shell_would() {
    assert_eq!(
        words(r#"fairrep train --set 'model.hidden=[32, 16]' --out "a b""#),
        [
            "fairrep",
            "train",
            "--set",
            "model.hidden=[32, 16]",
            "--out",
            "a b"
        ]
    );
    assert_eq!(
        strip_comment("fairrep eval --run x   # recompute"),
        "fairrep eval --run x   "
    );
    assert_eq!(strip_comment("echo 'a # b'"), "echo 'a # b'");
    let cmds = sh_commands("```sh\nfairrep encode --run r \\\n  --out z.csv\n```\n");
    assert_eq!(cmds.len(), 1);
    assert_eq!(
        invocations(&cmds[0].1),
        [["fairrep", "encode", "--run", "r", "--out", "z.csv"]]
    );
    assert_eq!(
        invocations(&words(
            "cargo run --release -- train --config c.toml | tee log"
        )),
        [["fairrep", "train", "--config", "c.toml"]]
    );
    assert_eq!(
        slug("Heritage Health under FARE's protocol, against the published anchors"),
        "heritage-health-under-fares-protocol-against-the-published-anchors"
    );
}

/// The internal crates (`fairrep-*`) and whether burn is a direct dependency, from each
/// crate's `Cargo.toml` `[dependencies]`.
fn crate_graph() -> std::collections::BTreeMap<String, (bool, Vec<String>)> {
    let mut out = std::collections::BTreeMap::new();
    for e in std::fs::read_dir(repo().join("crates")).unwrap() {
        let dir = e.unwrap().path();
        let Ok(toml) = std::fs::read_to_string(dir.join("Cargo.toml")) else {
            continue;
        };
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let deps = toml
            .split("\n[")
            .find(|s| s.starts_with("dependencies]"))
            .unwrap_or("");
        let names: Vec<String> = deps
            .lines()
            .skip(1)
            .filter_map(|l| l.split('=').next())
            .map(|n| n.trim().to_string())
            .filter(|n| !n.is_empty() && !n.starts_with('#'))
            .collect();
        let burn = names.iter().any(|n| n.starts_with("burn"));
        let internal = names
            .into_iter()
            .filter(|n| n.starts_with("fairrep-"))
            .collect();
        out.insert(name, (burn, internal));
    }
    out
}

/// docs/architecture.md's promise: anything that reads or studies run directories needs no
/// tensor library — these crates reach burn through no dependency.
#[test]
fn the_crates_without_burn_reach_no_burn() {
    const WITHOUT_BURN: [&str; 9] = [
        "fairrep-types",
        "fairrep-data",
        "fairrep-heads",
        "fairrep-metrics",
        "fairrep-methods",
        "fairrep-certify",
        "fairrep-config",
        "fairrep-report",
        "fairrep-study",
    ];
    let graph = crate_graph();
    assert!(graph.len() >= 12, "{:?}", graph.keys());
    assert!(
        graph["fairrep-run"].0,
        "the parse must see fairrep-run's burn"
    );
    for start in WITHOUT_BURN {
        let mut stack = vec![(start.to_string(), vec![start.to_string()])];
        while let Some((name, path)) = stack.pop() {
            let (burn, deps) = graph
                .get(&name)
                .unwrap_or_else(|| panic!("no crate {name}"));
            assert!(!burn, "{start} reaches burn: {}", path.join(" → "));
            for d in deps {
                let mut p = path.clone();
                p.push(d.clone());
                stack.push((d.clone(), p));
            }
        }
    }
    // And the config crate imports no estimator: `MlpSettings` is a vocabulary type.
    assert!(
        !graph["fairrep-config"]
            .1
            .iter()
            .any(|d| d == "fairrep-heads"),
        "{:?}",
        graph["fairrep-config"]
    );
}
