//! A seeded mutation fuzzer over what a user hands fairrep: the config file, the training data
//! (CSV and Parquet), `--set` strings and whole command lines of every command.
//!
//! Each case starts from a small valid experiment, applies one to four mutations (byte flips,
//! truncations, deleted / duplicated / swapped lines, huge and tiny numbers, NaN and infinities,
//! unicode, very long lines; for command lines: dropped, duplicated and replaced arguments),
//! runs the binary with a time limit and checks:
//! - the exit code is 0 (the input was still valid), 2 (bad input) or 1 only for training that
//!   diverged (a huge learning rate or λ), with an `error:` message; never a panic (101), a
//!   signal, or a run past the time limit (a case whose training is visibly progressing —
//!   `metrics.jsonl` written — is slow, not hung, and is counted apart);
//! - `train`'s output directory exists only after exit 0 (or exit 1, which keeps the last
//!   checkpoint for `--resume`).
//!
//! The corpus (`tests/fuzz_corpus/*.case`: crashes found earlier, now fixed) runs first. The
//! number of random cases and the seed come from `FAIRREP_FUZZ_CASES` (default 240) and
//! `FAIRREP_FUZZ_SEED` (default 16); `scripts/fuzz.sh N [SEED]` runs long campaigns, and writes
//! each failing case into `target/fuzz-failures/` in the corpus format.

use assert_cmd::Command;
use fairrep_data::sink::{Column, Sink, Values};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A case that is still running after this long has hung (unless its training progresses).
const CASE_LIMIT: Duration = Duration::from_secs(30);

const CONFIG: &str = r#"seed = 3

[data]
train = { path = "train.csv" }
test = { path = "test.csv" }
validation_fraction = 0.25

[data.features]
categorical = ["c"]
numeric = ["a", "b"]

[data.sensitive]
column = "s"
groups = [{ name = "female", values = ["f"] }, { name = "male", values = ["m"] }]

[[tasks]]
name = "y_task"
column = "y"
positive = { eq = "1" }
role = "source"

[[tasks]]
name = "z_task"
column = "z"
positive = { eq = "1" }
role = "transfer"

[model]
hidden = [8]
representation = 4

[penalty]
kind = "mmd"
lambda = 0.5

[training]
epochs = 2
batch_size = 16
learning_rate = 0.01
"#;

/// The valid `--set` strings that mutations start from.
const SETS: [&str; 10] = [
    "penalty.lambda=0.1",
    "penalty.kind=sinkhorn",
    "penalty.blur=0.5",
    "model.hidden=[4,4]",
    "model.representation=3",
    "training.epochs=1",
    "training.batch_size=8",
    "training.learning_rate=0.001",
    "data.validation_fraction=0.5",
    "seed=7",
];

/// Replacements for a number.
const NUMBERS: [&str; 16] = [
    "0",
    "-0",
    "-1",
    "1e308",
    "-1e308",
    "1e-320",
    "NaN",
    "nan",
    "inf",
    "-inf",
    "99999999999999999999",
    "4294967296",
    "18446744073709551616",
    "0.0000001",
    "1_000",
    "0x10",
];

/// Unicode and control characters to insert.
const ODD: [&str; 9] = [
    "é",
    "🦀",
    "\u{202e}",
    "\u{feff}",
    "\0",
    "\r",
    "\"",
    "\\",
    "\u{10ffff}",
];

/// Options the command-line mutations insert.
const FLAGS: [&str; 16] = [
    "--force",
    "--resume",
    "--backend",
    "wgpu",
    "--set",
    "--out",
    "--dtype",
    "f16",
    "--header",
    "--delimiter",
    ";",
    "--batch-rows",
    "0",
    "--task",
    "-q",
    "--evaluate",
];

/// One mutation of a text or byte buffer.
#[derive(Debug, Clone)]
enum Op {
    FlipBit { at: usize, bit: u8 },
    Truncate { at: usize },
    DeleteLine { line: usize },
    DuplicateLine { line: usize },
    SwapLines { a: usize, b: usize },
    Number { nth: usize, with: usize },
    Insert { at: usize, odd: usize },
    LongLine { line: usize, len: usize },
}

fn op() -> impl Strategy<Value = Op> {
    let at = any::<usize>();
    prop_oneof![
        (at, 0u8..8).prop_map(|(at, bit)| Op::FlipBit { at, bit }),
        at.prop_map(|at| Op::Truncate { at }),
        at.prop_map(|line| Op::DeleteLine { line }),
        at.prop_map(|line| Op::DuplicateLine { line }),
        (at, any::<usize>()).prop_map(|(a, b)| Op::SwapLines { a, b }),
        (at, 0..NUMBERS.len()).prop_map(|(nth, with)| Op::Number { nth, with }),
        (at, 0..ODD.len()).prop_map(|(at, odd)| Op::Insert { at, odd }),
        // 100,000 bytes: long, and under the 128 KiB limit of one argument (MAX_ARG_STRLEN).
        (at, prop_oneof![Just(1_000usize), Just(100_000)])
            .prop_map(|(line, len)| Op::LongLine { line, len }),
    ]
}

/// The byte ranges of the lines of `b` (each with its newline).
fn lines(b: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, &c) in b.iter().enumerate() {
        if c == b'\n' {
            out.push((start, i + 1));
            start = i + 1;
        }
    }
    if start < b.len() {
        out.push((start, b.len()));
    }
    out
}

/// The byte ranges of the numbers in `b` (digits with `.`, `-`, `e`).
fn numbers(b: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_digit() {
            let start = if i > 0 && b[i - 1] == b'-' { i - 1 } else { i };
            while i < b.len() && (b[i].is_ascii_digit() || matches!(b[i], b'.' | b'e' | b'-')) {
                i += 1;
            }
            out.push((start, i));
        } else {
            i += 1;
        }
    }
    out
}

fn apply(op: &Op, b: &mut Vec<u8>) {
    let pick = |k: usize, n: usize| if n == 0 { 0 } else { k % n };
    match *op {
        Op::FlipBit { at, bit } if !b.is_empty() => {
            let i = pick(at, b.len());
            b[i] ^= 1 << bit;
        }
        Op::Truncate { at } => b.truncate(pick(at, b.len() + 1)),
        Op::DeleteLine { line } => {
            let ls = lines(b);
            if !ls.is_empty() {
                let (s, e) = ls[pick(line, ls.len())];
                b.drain(s..e);
            }
        }
        Op::DuplicateLine { line } => {
            let ls = lines(b);
            if !ls.is_empty() {
                let (s, e) = ls[pick(line, ls.len())];
                let copy = b[s..e].to_vec();
                b.splice(e..e, copy);
            }
        }
        Op::SwapLines { a, b: c } => {
            let ls = lines(b);
            if ls.len() > 1 {
                let (i, j) = (pick(a, ls.len()), pick(c, ls.len()));
                let (i, j) = (i.min(j), i.max(j));
                if i != j {
                    let (li, lj) = (b[ls[i].0..ls[i].1].to_vec(), b[ls[j].0..ls[j].1].to_vec());
                    b.splice(ls[j].0..ls[j].1, li);
                    b.splice(ls[i].0..ls[i].1, lj);
                }
            }
        }
        Op::Number { nth, with } => {
            let ns = numbers(b);
            if !ns.is_empty() {
                let (s, e) = ns[pick(nth, ns.len())];
                b.splice(s..e, NUMBERS[with].bytes());
            }
        }
        Op::Insert { at, odd } => {
            let i = pick(at, b.len() + 1);
            b.splice(i..i, ODD[odd].bytes());
        }
        Op::LongLine { line, len } => {
            let ls = lines(b);
            let at = if ls.is_empty() {
                0
            } else {
                ls[pick(line, ls.len())].1
            };
            let long: Vec<u8> = (0..len).map(|i| b"a,1.5;x"[i % 7]).collect();
            b.splice(at..at, long.into_iter().chain([b'\n']));
        }
        Op::FlipBit { .. } => {}
    }
}

/// One mutation of a command line.
#[derive(Debug, Clone)]
enum ArgOp {
    Drop { at: usize },
    Duplicate { at: usize },
    Replace { at: usize, with: usize },
    Flag { at: usize, flag: usize },
    Text { at: usize, op: Op },
}

fn arg_op() -> impl Strategy<Value = ArgOp> {
    let at = any::<usize>();
    prop_oneof![
        at.prop_map(|at| ArgOp::Drop { at }),
        at.prop_map(|at| ArgOp::Duplicate { at }),
        (at, 0..NUMBERS.len()).prop_map(|(at, with)| ArgOp::Replace { at, with }),
        (at, 0..FLAGS.len()).prop_map(|(at, flag)| ArgOp::Flag { at, flag }),
        (at, op()).prop_map(|(at, op)| ArgOp::Text { at, op }),
    ]
}

fn apply_arg(op: &ArgOp, args: &mut Vec<Vec<u8>>) {
    // The command name (argument 0) stays: the other commands are cases of their own.
    let n = args.len();
    let pick = |k: usize| 1 + k % (n - 1).max(1);
    match op {
        ArgOp::Drop { at } if n > 1 => {
            args.remove(pick(*at).min(n - 1));
        }
        ArgOp::Duplicate { at } if n > 1 => {
            let i = pick(*at).min(n - 1);
            args.insert(i, args[i].clone());
        }
        ArgOp::Replace { at, with } if n > 1 => {
            args[pick(*at).min(n - 1)] = NUMBERS[*with].as_bytes().to_vec();
        }
        ArgOp::Flag { at, flag } => {
            let i = pick(*at).min(n);
            args.insert(i, FLAGS[*flag].as_bytes().to_vec());
        }
        ArgOp::Text { at, op } if n > 1 => {
            let i = pick(*at).min(n - 1);
            apply(op, &mut args[i]);
        }
        _ => {}
    }
}

/// What a case mutates.
#[derive(Debug, Clone)]
enum Target {
    Config(Vec<Op>),
    TrainCsv(Vec<Op>),
    TrainParquet(Vec<Op>),
    Set(usize, Vec<Op>),
    Args(usize, Vec<ArgOp>),
}

fn target() -> impl Strategy<Value = Target> {
    let ops = || prop::collection::vec(op(), 1..=4);
    prop_oneof![
        3 => ops().prop_map(Target::Config),
        3 => ops().prop_map(Target::TrainCsv),
        1 => ops().prop_map(Target::TrainParquet),
        2 => (0..SETS.len(), ops()).prop_map(|(k, ops)| Target::Set(k, ops)),
        3 => (0..BASE_ARGS.len(), prop::collection::vec(arg_op(), 1..=3))
            .prop_map(|(k, ops)| Target::Args(k, ops)),
    ]
}

/// Valid command lines; `{C}` the config, `{O}` a new output directory, `{R}` a finished run,
/// `{D}` the experiment's directory.
const BASE_ARGS: [&str; 15] = [
    "train --config {C} --out {O}",
    "train --config {C} --out {O} --set penalty.kind=sinkhorn --set penalty.blur=0.5",
    "config --check {C}",
    "divergence --x {D}/x.csv --y {D}/y.csv --kind mmd",
    "divergence --x {D}/x.csv --y {D}/y.csv --kind sinkhorn --blur 0.5 --scaling 0.9",
    "encode --run {R} --input {D}/test.csv --header --out {O}.csv",
    "predict --run {R} --input {D}/test.csv --header --out {O}.csv --evaluate",
    "export --run {R} --out {O}",
    "audit-predictions --input {D}/pred.csv --y-true y --y-pred p --group s",
    "barycenter --calibrate {D}/reg.csv --apply {D}/reg.csv --score r --group s --out {O}.csv",
    "report {R}",
    "sweep --config {C} --lambda 0,0.5 --out {O}",
    "eval --run {R}",
    "config --explain",
    "certify --run {R} --cells 4",
];

/// The small valid experiment every case starts from.
struct Experiment {
    dir: PathBuf,
    train_csv: Vec<u8>,
    train_parquet: Vec<u8>,
    run: PathBuf,
}

fn rows(n: usize, offset: usize) -> Vec<[String; 6]> {
    (0..n)
        .map(|k| {
            let i = k + offset;
            [
                format!("{:.3}", (i % 13) as f64 / 5.0),
                format!("{:.3}", ((i * 7) % 11) as f64 - 5.0),
                ["red", "green", "blue"][i % 3].to_string(),
                ["f", "m"][i % 2].to_string(),
                ((i / 2 + i % 5) % 2).to_string(),
                ((i / 3) % 2).to_string(),
            ]
        })
        .collect()
}

fn csv(rows: &[[String; 6]]) -> String {
    let mut out = String::from("a,b,c,s,y,z\n");
    for r in rows {
        out += &r.join(",");
        out.push('\n');
    }
    out
}

fn parquet(rows: &[[String; 6]], path: &Path) {
    let num = |k: usize| Values::F64(rows.iter().map(|r| r[k].parse().ok()).collect());
    let text = |k: usize| Values::Text(rows.iter().map(|r| Some(r[k].clone())).collect());
    let columns = vec![
        Column {
            name: "a".into(),
            values: num(0),
        },
        Column {
            name: "b".into(),
            values: num(1),
        },
        Column {
            name: "c".into(),
            values: text(2),
        },
        Column {
            name: "s".into(),
            values: text(3),
        },
        Column {
            name: "y".into(),
            values: text(4),
        },
        Column {
            name: "z".into(),
            values: text(5),
        },
    ];
    let mut sink = Sink::create(path, b',').unwrap();
    sink.write(&columns).unwrap();
    sink.finish().unwrap();
}

fn fairrep() -> Command {
    let mut c = Command::cargo_bin("fairrep").unwrap();
    c.env("NO_COLOR", "1").timeout(CASE_LIMIT);
    c
}

impl Experiment {
    fn new(dir: &Path) -> Experiment {
        let train = rows(64, 0);
        std::fs::write(dir.join("train.csv"), csv(&train)).unwrap();
        std::fs::write(dir.join("test.csv"), csv(&rows(32, 64))).unwrap();
        parquet(&train, &dir.join("train.parquet"));
        std::fs::write(dir.join("config.toml"), CONFIG).unwrap();
        let cloud = |shift: f64| -> String {
            (0..40)
                .map(|i| format!("{},{}\n", (i % 7) as f64 / 3.0 + shift, (i % 5) as f64))
                .collect()
        };
        std::fs::write(dir.join("x.csv"), cloud(0.0)).unwrap();
        std::fs::write(dir.join("y.csv"), cloud(0.5)).unwrap();
        let mut pred = String::from("y,p,s\n");
        let mut reg = String::from("r,s\n");
        for i in 0..40 {
            pred += &format!("{},{},{}\n", i % 2, (i / 2) % 2, ["a", "b"][i % 3 % 2]);
            reg += &format!("{},{}\n", (i * 37 % 17) as f64 / 4.0, ["a", "b"][i % 2]);
        }
        std::fs::write(dir.join("pred.csv"), pred).unwrap();
        std::fs::write(dir.join("reg.csv"), reg).unwrap();
        let run = dir.join("run");
        fairrep()
            .args(["train", "-q", "--config"])
            .arg(dir.join("config.toml"))
            .arg("--out")
            .arg(&run)
            .assert()
            .success();
        Experiment {
            dir: dir.to_path_buf(),
            train_csv: std::fs::read(dir.join("train.csv")).unwrap(),
            train_parquet: std::fs::read(dir.join("train.parquet")).unwrap(),
            run,
        }
    }
}

/// What a finished case did.
#[derive(Debug, PartialEq, Eq, Hash, Clone, Copy, PartialOrd, Ord)]
enum Outcome {
    Ok,
    Failed,
    BadInput,
    Slow,
}

#[cfg(unix)]
fn bytes_arg(b: &[u8]) -> std::ffi::OsString {
    use std::os::unix::ffi::OsStringExt;
    std::ffi::OsString::from_vec(b.to_vec())
}

/// A case made concrete: the files and the command line it runs.
#[derive(Debug, Clone)]
struct Concrete {
    config: Vec<u8>,
    train_csv: Vec<u8>,
    /// The training data as Parquet (the config then reads `train.parquet`).
    train_parquet: Option<Vec<u8>>,
    args: Vec<Vec<u8>>,
}

fn words(line: &str) -> Vec<Vec<u8>> {
    line.split(' ').map(|s| s.as_bytes().to_vec()).collect()
}

impl Concrete {
    fn of(exp: &Experiment, case: &Target) -> Concrete {
        let mut c = Concrete {
            config: CONFIG.as_bytes().to_vec(),
            train_csv: exp.train_csv.clone(),
            train_parquet: None,
            args: words(BASE_ARGS[0]),
        };
        match case {
            Target::Config(ops) => ops.iter().for_each(|o| apply(o, &mut c.config)),
            Target::TrainCsv(ops) => ops.iter().for_each(|o| apply(o, &mut c.train_csv)),
            Target::TrainParquet(ops) => {
                let mut p = exp.train_parquet.clone();
                ops.iter().for_each(|o| apply(o, &mut p));
                c.train_parquet = Some(p);
                c.config = CONFIG.replace("train.csv", "train.parquet").into_bytes();
            }
            Target::Set(k, ops) => {
                let mut s = SETS[*k].as_bytes().to_vec();
                ops.iter().for_each(|o| apply(o, &mut s));
                c.args.push(b"--set".to_vec());
                c.args.push(s);
            }
            Target::Args(k, ops) => {
                c.args = words(BASE_ARGS[*k]);
                ops.iter().for_each(|o| apply_arg(o, &mut c.args));
            }
        }
        // One argument may not exceed 128 KiB (Linux's MAX_ARG_STRLEN) nor hold a NUL byte:
        // such an argument never reaches fairrep.
        for a in &mut c.args {
            a.truncate(100_000);
            a.retain(|&b| b != 0);
        }
        c
    }

    /// Writes the case as a corpus directory: `config.toml`, `train.csv`, `train.parquet`
    /// (when used) and `args` (one argument per line, with the `{C}`… placeholders).
    fn save(&self, dir: &Path) {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(dir.join("config.toml"), &self.config).unwrap();
        std::fs::write(dir.join("train.csv"), &self.train_csv).unwrap();
        if let Some(p) = &self.train_parquet {
            std::fs::write(dir.join("train.parquet"), p).unwrap();
        }
        std::fs::write(dir.join("args"), self.args.join(&b'\n')).unwrap();
    }

    /// A corpus directory written by [`Concrete::save`] (a missing file: the valid one).
    fn load(exp: &Experiment, dir: &Path) -> Concrete {
        let read = |name: &str| std::fs::read(dir.join(name)).ok();
        Concrete {
            config: read("config.toml").unwrap_or_else(|| CONFIG.as_bytes().to_vec()),
            train_csv: read("train.csv").unwrap_or_else(|| exp.train_csv.clone()),
            train_parquet: read("train.parquet"),
            args: read("args")
                .map(|a| a.split(|&b| b == b'\n').map(<[u8]>::to_vec).collect())
                .unwrap_or_else(|| words(BASE_ARGS[0])),
        }
    }
}

/// Runs one case in a fresh directory under `exp.dir`; `Err` describes a failure.
fn run_case(exp: &Experiment, case: &Concrete, n: usize) -> Result<Outcome, String> {
    let dir = exp.dir.join(format!("case{n}"));
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("out");
    std::fs::write(dir.join("config.toml"), &case.config).unwrap();
    std::fs::write(dir.join("train.csv"), &case.train_csv).unwrap();
    if let Some(p) = &case.train_parquet {
        std::fs::write(dir.join("train.parquet"), p).unwrap();
    }
    std::fs::copy(exp.dir.join("test.csv"), dir.join("test.csv")).unwrap();
    let fill = |a: &[u8]| -> Vec<u8> {
        let s = String::from_utf8_lossy(a);
        if !s.contains('{') {
            return a.to_vec();
        }
        s.replace("{C}", &dir.join("config.toml").to_string_lossy())
            .replace("{O}", &out.to_string_lossy())
            .replace("{R}", &exp.run.to_string_lossy())
            .replace("{D}", &exp.dir.to_string_lossy())
            .into_bytes()
    };
    let is_train = case.args.first().is_some_and(|a| a == b"train");
    let argv: Vec<std::ffi::OsString> = case.args.iter().map(|a| bytes_arg(&fill(a))).collect();
    let started = Instant::now();
    let output = fairrep()
        .current_dir(&dir)
        .args(&argv)
        .output()
        .map_err(|e| format!("could not run: {e}"))?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    let outcome = match output.status.code() {
        Some(0) => Outcome::Ok,
        Some(1) => Outcome::Failed,
        Some(2) => Outcome::BadInput,
        Some(code) => return Err(format!("exit {code}: {stderr}")),
        None if started.elapsed() >= CASE_LIMIT => {
            if out.join("metrics.jsonl").exists() {
                Outcome::Slow
            } else {
                return Err(format!("no result after {CASE_LIMIT:?}: {stderr}"));
            }
        }
        None => return Err(format!("killed by a signal: {stderr}")),
    };
    if stderr.contains("panicked") {
        return Err(format!("a panic: {stderr}"));
    }
    // On this small experiment, the one failure while running that an input may cause is
    // training that diverges (a huge learning rate or λ): anything else is bad input, exit 2.
    if outcome == Outcome::Failed && !stderr.contains("error: training diverged") {
        return Err(format!("exit 1, not a diverged training: {stderr}"));
    }
    if outcome == Outcome::BadInput && !stderr.contains("error") {
        return Err(format!(
            "exit {outcome:?} without an error message: {stderr}"
        ));
    }
    if outcome == Outcome::Failed || outcome == Outcome::Slow {
        // Rare, and worth reading in a long campaign's log.
        let last = stderr
            .lines()
            .rfind(|l| l.contains("error"))
            .unwrap_or_default();
        let argv: Vec<String> = argv
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        eprintln!(
            "fuzz: case {n} exit {outcome:?}: {last}\n  fairrep {}",
            argv.join(" ").chars().take(300).collect::<String>()
        );
    }
    if is_train && outcome == Outcome::BadInput && out.exists() {
        return Err(format!("exit 2 left the run directory {}", out.display()));
    }
    // Cases leave nothing behind: the experiment directory stays small over long campaigns.
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_file(out.with_extension("csv"));
    Ok(outcome)
}

/// Replays `tests/fuzz_corpus/*/` (cases that failed once, now fixed).
fn corpus(exp: &Experiment) -> usize {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fuzz_corpus");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|d| {
            d.map(|e| e.unwrap().path())
                .filter(|p| p.is_dir())
                .collect()
        })
        .unwrap_or_default();
    cases.sort();
    for (k, case) in cases.iter().enumerate() {
        if let Err(e) = run_case(exp, &Concrete::load(exp, case), 100_000 + k) {
            panic!("corpus case {}: {e}", case.display());
        }
    }
    cases.len()
}

#[test]
fn mutated_inputs_end_with_exit_0_1_or_2() {
    let cases: u32 = std::env::var("FAIRREP_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(240);
    let seed: u64 = std::env::var("FAIRREP_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(16);
    let tmp = tempfile::tempdir().unwrap();
    let exp = Experiment::new(tmp.path());
    let replayed = corpus(&exp);
    let mut seed_bytes = [0u8; 32];
    seed_bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let mut runner = TestRunner::new_with_rng(
        Config {
            cases,
            failure_persistence: None,
            max_shrink_iters: 64,
            ..Config::default()
        },
        TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes),
    );
    let counts = std::cell::RefCell::new(std::collections::BTreeMap::<Outcome, usize>::new());
    let n = std::cell::Cell::new(0usize);
    let result = runner.run(&target(), |case| {
        n.set(n.get() + 1);
        let concrete = Concrete::of(&exp, &case);
        let outcome = run_case(&exp, &concrete, n.get()).map_err(|e| {
            // Kept in the corpus format, for `tests/fuzz_corpus/` once fixed.
            let keep = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!(
                "../../target/fuzz-failures/seed{seed}-case{}",
                n.get()
            ));
            concrete.save(&keep);
            TestCaseError::fail(format!("{e}\n(case saved in {})", keep.display()))
        })?;
        *counts.borrow_mut().entry(outcome).or_default() += 1;
        Ok(())
    });
    eprintln!(
        "fuzz: seed {seed}, {replayed} corpus cases, {} random cases: {:?}",
        n.get(),
        counts.borrow()
    );
    if let Err(e) = result {
        panic!("fuzz (seed {seed}) found a failing case: {e}");
    }
}
