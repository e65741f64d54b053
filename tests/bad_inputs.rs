//! The corpus of bad inputs: each case breaks one thing (config, data file, command line) of a
//! small valid experiment and expects a non-zero exit code (2 for bad input, 1 for a failure
//! while running), a message that names the culprit, no panic, and no run directory left
//! behind.

use assert_cmd::Command;
use std::path::{Path, PathBuf};

/// A small valid dataset: numeric `a`, categorical `c`, sensitive `s` (f/m), labels `y`, `z`.
fn rows(n: usize) -> String {
    let mut out = String::from("a,c,s,y,z\n");
    for i in 0..n {
        let s = if i % 2 == 0 { "f" } else { "m" };
        let c = ["red", "green", "blue"][i % 3];
        out += &format!(
            "{},{c},{s},{},{}\n",
            i as f64 / 7.0,
            (i / 2) % 2,
            (i / 3) % 2
        );
    }
    out
}

const CONFIG: &str = r#"seed = 3

[data]
train = { path = "train.csv" }
test = { path = "test.csv" }
validation_fraction = 0.2

[data.features]
categorical = ["c"]
numeric = ["a"]

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
epochs = 1
batch_size = 16
"#;

/// One bad input.
struct Case {
    name: &'static str,
    /// (from, to) replacements in the config text.
    config: &'static [(&'static str, &'static str)],
    /// Replacement content of train.csv, as bytes.
    train: Option<Vec<u8>>,
    /// Extra arguments after `train --config C --out O`, or a whole command line (with `{C}`
    /// and `{O}` for the config and output paths) when `whole` is set.
    args: &'static [&'static str],
    whole: bool,
    code: i32,
    /// Substrings the error message must contain.
    needles: &'static [&'static str],
}

fn case(name: &'static str) -> Case {
    Case {
        name,
        config: &[],
        train: None,
        args: &[],
        whole: false,
        code: 2,
        needles: &[],
    }
}

fn setup(dir: &Path, c: &Case) -> (PathBuf, PathBuf) {
    let mut text = CONFIG.to_string();
    for (from, to) in c.config {
        assert!(
            text.contains(from),
            "{}: the base config has no `{from}`",
            c.name
        );
        text = text.replacen(from, to, 1);
    }
    let cfg = dir.join("config.toml");
    std::fs::write(&cfg, text).unwrap();
    let train = c.train.clone().unwrap_or_else(|| rows(120).into_bytes());
    std::fs::write(dir.join("train.csv"), train).unwrap();
    std::fs::write(dir.join("test.csv"), rows(60)).unwrap();
    (cfg, dir.join("out"))
}

fn run(dir: &Path, c: &Case) -> (Option<i32>, String) {
    let (cfg, out) = setup(dir, c);
    let mut cmd = Command::cargo_bin("fairrep").unwrap();
    let sub = |a: &&str| {
        a.replace("{C}", cfg.to_str().unwrap())
            .replace("{O}", out.to_str().unwrap())
    };
    if c.whole {
        cmd.args(c.args.iter().map(sub));
    } else {
        cmd.args(["-q", "train", "--config"])
            .arg(&cfg)
            .arg("--out")
            .arg(&out)
            .args(c.args.iter().map(sub));
    }
    let output = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).to_string();
    (output.status.code(), stderr)
}

fn corpus() -> Vec<Case> {
    let with_row = |extra: &str| {
        let mut t = rows(120);
        t += extra;
        Some(t.into_bytes())
    };
    let mut non_utf8 = rows(120).into_bytes();
    non_utf8.extend_from_slice(b"0.5,r\xffd,f,1,0\n");
    vec![
        Case {
            config: &[("seed = 3", "seed = 3\nsed = 4")],
            needles: &["sed", "line"],
            ..case("unknown top-level key")
        },
        Case {
            config: &[(
                "test = { path = \"test.csv\" }",
                "test = { path = \"test.csv\" }\ntest_fraction = 0.2",
            )],
            needles: &["test_fraction", "keep one"],
            ..case("test file and test fraction")
        },
        Case {
            config: &[("test = { path = \"test.csv\" }", "")],
            needles: &["test_fraction", "test file"],
            ..case("neither test file nor test fraction")
        },
        Case {
            config: &[("test = { path = \"test.csv\" }", "test_fraction = 1.5")],
            needles: &["test_fraction = 1.5", "(0, 1)"],
            ..case("test fraction out of range")
        },
        Case {
            config: &[(
                "test = { path = \"test.csv\" }",
                "test = { path = \"${FAIRREP_NOT_SET_ANYWHERE}/test.csv\" }",
            )],
            needles: &["FAIRREP_NOT_SET_ANYWHERE", "not set"],
            ..case("unset variable in a data path")
        },
        Case {
            config: &[("positive = ", "kind = \"regression\"\npositive = ")],
            needles: &["regression task", "remove `positive`"],
            ..case("regression task with a predicate")
        },
        Case {
            config: &[("positive = { eq = \"1\" }", "")],
            needles: &["needs `positive`", "regression"],
            ..case("binary task without a predicate")
        },
        Case {
            config: &[("epochs = 1", "epoch = 1")],
            needles: &["epoch", "did you mean `epochs`?"],
            ..case("misspelt key")
        },
        Case {
            config: &[("batch_size = 16", "batch_size = \"big\"")],
            needles: &["batch_size", "line"],
            ..case("wrong type")
        },
        Case {
            config: &[("lambda = 0.5", "lambda = -0.5")],
            needles: &["penalty.lambda"],
            ..case("negative lambda")
        },
        Case {
            config: &[("batch_size = 16", "batch_size = 0")],
            needles: &["training.batch_size"],
            ..case("zero batch size")
        },
        Case {
            config: &[("batch_size = 16", "batch_size = -4")],
            needles: &["batch_size"],
            ..case("negative batch size")
        },
        Case {
            config: &[("epochs = 1", "epochs = 0")],
            needles: &["training.epochs"],
            ..case("zero epochs")
        },
        Case {
            config: &[("batch_size = 16", "batch_size = 16\nlearning_rate = 0.0")],
            needles: &["training.learning_rate"],
            ..case("zero learning rate")
        },
        Case {
            config: &[("validation_fraction = 0.2", "validation_fraction = 1.5")],
            needles: &["validation_fraction"],
            ..case("validation fraction out of range")
        },
        // Found by tests/fuzz.rs: a validation split of no row (0, or a fraction that rounds
        // to no row) crashed training; a layer of 2³² units ran out of memory.
        Case {
            config: &[("validation_fraction = 0.2", "validation_fraction = 0.0")],
            needles: &["data.validation_fraction", "validation split"],
            ..case("no validation split")
        },
        Case {
            config: &[(
                "validation_fraction = 0.2",
                "validation_fraction = 0.0000001",
            )],
            needles: &["validation_fraction", "leaves no validation row"],
            ..case("a validation fraction of no row")
        },
        Case {
            config: &[(
                "batch_size = 16",
                "batch_size = 16\ncheckpoint_every_steps = 0",
            )],
            needles: &["training.checkpoint_every_steps"],
            ..case("checkpoints every 0 steps")
        },
        Case {
            config: &[(
                "batch_size = 16",
                "batch_size = 16\ncheckpoint_every_seconds = -5",
            )],
            needles: &["training.checkpoint_every_seconds", "-5"],
            ..case("checkpoints every -5 seconds")
        },
        Case {
            config: &[("column = \"s\"", "column = \"s\"\ncolumns = [\"s\", \"c\"]")],
            needles: &["both `column` and `columns`"],
            ..case("sensitive column and columns")
        },
        Case {
            config: &[
                ("column = \"s\"", "column = \"old\""),
                (
                    "groups = [{ name = \"female\", values = [\"f\"] }, { name = \"male\", values = [\"m\"] }]",
                    "[[data.derived]]\nname = \"old\"\nany = [\"a\", \"age\"]",
                ),
            ],
            needles: &["`age`", "derived column `old`", "train.csv"],
            ..case("a derived column of a column the file lacks")
        },
        Case {
            config: &[("hidden = [8]", "hidden = [8, 4294967296]")],
            needles: &["model.hidden", "4294967296", "65536"],
            ..case("a layer too wide")
        },
        Case {
            // Each layer within bounds, but 4.3 billion weights between them (16 GiB in f32).
            config: &[("hidden = [8]", "hidden = [65536, 65536]")],
            needles: &[
                "model.hidden",
                "4295294980 parameters (without the input layer)",
                "268435456",
            ],
            ..case("an encoder too large in all")
        },
        Case {
            config: &[(
                "kind = \"mmd\"\nlambda = 0.5",
                "kind = \"adversarial\"\nlambda = 0.5\n[penalty.adversary]\nhidden = [100000]",
            )],
            needles: &["penalty.adversary.hidden", "1..=65536"],
            ..case("an adversary layer too wide")
        },
        Case {
            config: &[(
                "kind = \"mmd\"\nlambda = 0.5",
                "kind = \"adversarial\"\nlambda = 0.5\n[penalty.adversary]\nhidden = [65536, 65536]",
            )],
            needles: &["penalty.adversary.hidden", "4294967296 weights"],
            ..case("an adversary too large in all")
        },
        Case {
            args: &[
                "sweep",
                "--config",
                "{C}",
                "--out",
                "{O}",
                "--lambda",
                "0,1",
                "--seeds",
                "18446744073709551615",
            ],
            whole: true,
            needles: &[
                "--seeds 18446744073709551615",
                "36893488147419103230 runs",
                "100000",
            ],
            ..case("a sweep of more seeds than memory")
        },
        Case {
            args: &["report", "{O}"],
            whole: true,
            needles: &["no such directory"],
            ..case("report of a directory that does not exist")
        },
        Case {
            config: &[("hidden = [8]", "hidden = [8]\ndropout = 1.0")],
            needles: &["model.dropout"],
            ..case("dropout of 1")
        },
        Case {
            config: &[("kind = \"mmd\"", "kind = \"wasserstein\"")],
            needles: &["wasserstein", "line"],
            ..case("unknown penalty kind")
        },
        Case {
            config: &[("lambda = 0.5", "lambda = 0.5\nblur = 0.1")],
            needles: &["penalty.blur", "kind = \"mmd\""],
            ..case("option of the other penalty kind")
        },
        Case {
            config: &[("kind = \"mmd\"", "kind = \"adversarial\"\nblur = 0.1")],
            needles: &["penalty.blur", "kind = \"adversarial\""],
            ..case("divergence option with the adversarial penalty")
        },
        Case {
            config: &[(
                "lambda = 0.5",
                "lambda = 0.5\n[penalty.adversary]\nsteps = 0",
            )],
            needles: &["penalty.adversary", "kind = \"mmd\""],
            ..case("adversary settings with a divergence penalty")
        },
        Case {
            config: &[(
                "kind = \"mmd\"\nlambda = 0.5",
                "kind = \"adversarial\"\nlambda = 0.5\n[penalty.adversary]\nsteps = 0",
            )],
            needles: &["penalty.adversary.steps"],
            ..case("adversary with zero steps")
        },
        Case {
            config: &[("kind = \"mmd\"", "kind = \"sinkhorn\"\np = 3")],
            needles: &["penalty.p"],
            ..case("sinkhorn p = 3")
        },
        Case {
            config: &[("kind = \"mmd\"", "kind = \"sinkhorn\"\nscaling = 1.5")],
            needles: &["penalty.scaling"],
            ..case("sinkhorn scaling above 1")
        },
        Case {
            config: &[(
                "lambda = 0.5",
                "lambda = 0.5\ncondition = \"equal_opportunity\"\ncondition_task = \"z_task\"",
            )],
            needles: &["z_task"],
            ..case("condition on a transfer task")
        },
        Case {
            config: &[("name = \"z_task\"", "name = \"y_task\"")],
            needles: &["y_task"],
            ..case("duplicate task names")
        },
        Case {
            config: &[(
                "positive = { eq = \"1\" }\nrole = \"source\"",
                "positive = { equals = \"1\" }\nrole = \"source\"",
            )],
            needles: &["equals", "line"],
            ..case("unknown predicate")
        },
        Case {
            config: &[("path = \"train.csv\"", "path = \"nope.csv\"")],
            needles: &["nope.csv"],
            ..case("missing data file")
        },
        Case {
            config: &[("numeric = [\"a\"]", "numeric = [\"a\", \"b\"]")],
            needles: &["`b`", "train.csv"],
            ..case("missing column")
        },
        Case {
            config: &[("column = \"s\"", "column = \"gender\"")],
            needles: &[
                "train.csv",
                "no column `gender`",
                "sensitive attribute",
                "a, c, s, y, z",
            ],
            ..case("missing sensitive column")
        },
        Case {
            train: Some(Vec::new()),
            needles: &["train.csv", "no header line"],
            ..case("empty data file")
        },
        Case {
            train: Some(b"a,c,s,y,z\n".to_vec()),
            needles: &["train.csv", "no data rows"],
            ..case("header only")
        },
        Case {
            train: with_row("0.5,red,f,1\n"),
            needles: &["train.csv", "line 122", "4 fields"],
            ..case("ragged row")
        },
        Case {
            train: Some(non_utf8),
            needles: &["train.csv", "line 122"],
            ..case("non-UTF-8 bytes")
        },
        Case {
            config: &[("numeric = [\"a\"]", "numeric = [\"A\"]")],
            needles: &["no column `A`", "did you mean `a`?", "a, c, s, y, z"],
            ..case("a column named in the wrong case")
        },
        Case {
            train: with_row("NaN,red,f,1,0\n"),
            needles: &["train.csv", "line 122", "`a`", "NaN"],
            ..case("NaN in a numeric column")
        },
        Case {
            train: with_row("abc,red,f,1,0\n"),
            needles: &["train.csv", "line 122", "`a`", "abc"],
            ..case("text in a numeric column")
        },
        Case {
            config: &[(
                "positive = { eq = \"1\" }\nrole = \"source\"",
                "positive = { eq = \"7\" }\nrole = \"source\"",
            )],
            // The values the column has, with their counts, so the user sees what to write.
            needles: &["y_task", "never true", "`0` (", "`1` ("],
            ..case("predicate never true")
        },
        Case {
            config: &[(
                "positive = { eq = \"1\" }\nrole = \"source\"",
                "positive = { in = [\"0\", \"1\"] }\nrole = \"source\"",
            )],
            needles: &["y_task", "always true", "`0` (", "`1` ("],
            ..case("predicate always true")
        },
        Case {
            config: &[(
                "groups = [{ name = \"female\", values = [\"f\"] }, { name = \"male\", values = [\"m\"] }]",
                "groups = [{ name = \"everyone\", values = [\"f\", \"m\"] }]",
            )],
            needles: &["[data.sensitive].groups", "at least 2 groups"],
            ..case("a single sensitive group")
        },
        Case {
            config: &[(
                "values = [\"m\"] }]",
                "values = [\"m\"] }, { name = \"other\", values = [\"x\"] }]",
            )],
            needles: &["group `other` has no row in the training split"],
            ..case("a group absent from the training split")
        },
        Case {
            config: &[("batch_size = 16", "batch_size = 100000")],
            needles: &["training.batch_size", "100000", "96 rows"],
            ..case("batch larger than the data")
        },
        Case {
            args: &["--set", "training.epochs"],
            needles: &["--set"],
            ..case("malformed --set")
        },
        Case {
            args: &["--set", "training.epocs=2"],
            needles: &["--set training.epocs=2", "did you mean `epochs`?"],
            ..case("--set of an unknown key")
        },
        Case {
            args: &["-q", "train", "--config", "{C}.missing", "--out", "{O}"],
            whole: true,
            needles: &["config.toml.missing"],
            ..case("missing config file")
        },
        Case {
            config: &[("[model]", "[model")],
            needles: &["config.toml", "line 28, column 7", "unclosed table"],
            ..case("config is not TOML")
        },
        Case {
            args: &["-q", "train", "--config", "{C}", "--out", "{C}"],
            whole: true,
            needles: &["output directory", "config.toml", "not a directory"],
            ..case("output directory is a file")
        },
        Case {
            args: &["--backend", "tpu"],
            needles: &["tpu"],
            ..case("unknown backend")
        },
        Case {
            args: &["--resume"],
            needles: &["not a fairrep run directory"],
            ..case("--resume without a run or checkpoint")
        },
        Case {
            args: &[
                "sweep", "--config", "{C}", "--out", "{O}", "--lambda", "0", "--seeds", "0",
            ],
            whole: true,
            needles: &["--seeds must be at least 1"],
            ..case("a sweep without seeds")
        },
        Case {
            args: &["sweep", "--config", "{C}", "--out", "{O}", "--lambda", "-1"],
            whole: true,
            needles: &["--lambda -1", "λ must be ≥ 0"],
            ..case("a negative λ in a sweep")
        },
        Case {
            args: &[
                "sweep",
                "--config",
                "{C}",
                "--out",
                "{O}",
                "--lambda-for",
                "mmd",
            ],
            whole: true,
            needles: &["--lambda-for mmd", "KIND="],
            ..case("--lambda-for without a list")
        },
        Case {
            args: &[
                "divergence",
                "--x",
                "{C}",
                "--y",
                "{C}",
                "--kind",
                "mmd",
                "--blur",
                "0.5",
            ],
            whole: true,
            needles: &["--blur does not apply to --kind mmd"],
            ..case("a Sinkhorn option of an MMD divergence")
        },
        Case {
            args: &[
                "divergence",
                "--x",
                "{C}",
                "--y",
                "{C}",
                "--kind",
                "sinkhorn",
                "--scaling",
                "1",
            ],
            whole: true,
            needles: &["--scaling", "must be in (0, 1)"],
            ..case("a divergence option out of range")
        },
    ]
}

#[test]
fn every_bad_input_is_named_and_leaves_nothing_behind() {
    let cases = corpus();
    assert!(cases.len() >= 25, "the corpus has {} cases", cases.len());
    let mut failures = Vec::new();
    for c in &cases {
        let dir = tempfile::tempdir().unwrap();
        let (code, stderr) = run(dir.path(), c);
        let mut wrong = Vec::new();
        if code != Some(c.code) {
            wrong.push(format!("exit code {code:?}, expected {}", c.code));
        }
        for n in c.needles {
            if !stderr.contains(n) {
                wrong.push(format!("no `{n}` in the message"));
            }
        }
        if stderr.contains("panicked") {
            wrong.push("a panic".into());
        }
        // Every message reads as a sentence: no empty key, no "command line" standing in for
        // a file.
        if stderr.contains("``") || stderr.contains("command line:") {
            wrong.push("an empty key or a `command line:` prefix in the message".into());
        }
        let out = dir.path().join("out");
        if out.exists() {
            wrong.push("a run directory was left behind".into());
        }
        if !wrong.is_empty() {
            failures.push(format!(
                "{}: {}\n    stderr: {}",
                c.name,
                wrong.join("; "),
                stderr.trim()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// Trains the corpus's base experiment into `dir/out`.
fn base_run(dir: &Path) {
    let c = Case {
        code: 0,
        ..case("base")
    };
    let (code, stderr) = run(dir, &c);
    assert_eq!(code, Some(0), "{stderr}");
}

/// The base experiment of the corpus is valid: each case fails because of its one change.
#[test]
fn the_corpus_base_experiment_runs() {
    let dir = tempfile::tempdir().unwrap();
    base_run(dir.path());
    assert!(dir.path().join("out/report.json").exists());
}

/// `fairrep report` on a run whose report.json lacks a field: exit 2, the file and the field
/// named (never a silent NaN or "?").
#[test]
fn a_report_with_a_missing_field_is_named() {
    let dir = tempfile::tempdir().unwrap();
    base_run(dir.path());
    let report = dir.path().join("out/report.json");
    let text = std::fs::read_to_string(&report).unwrap();
    assert!(text.contains("\"accuracy\""));
    std::fs::write(&report, text.replace("\"accuracy\"", "\"acc\"")).unwrap();
    let output = Command::cargo_bin("fairrep")
        .unwrap()
        .args(["report", "--out"])
        .arg(dir.path().join("cmp"))
        .arg(dir.path().join("out"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("out/report.json") && stderr.contains("missing field `accuracy`"),
        "{stderr}"
    );
}

/// `transfer.l2 = 0` with collinear inputs (the baseline's one-hot sensitive columns sum to the
/// intercept) makes the logistic fit singular: the user's setting, exit 2 naming the key — not
/// an internal error.
#[test]
fn a_singular_fit_at_l2_zero_names_transfer_l2() {
    let dir = tempfile::tempdir().unwrap();
    let c = Case {
        args: &["--set", "transfer.l2=0"],
        ..case("singular head")
    };
    let (code, stderr) = run(dir.path(), &c);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("transfer.l2")
            && stderr.contains("singular")
            && !stderr.contains("internal"),
        "{stderr}"
    );
}
