//! End-to-end tests of the `fairrep` binary on the embedded Adult data.

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::Value;
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

fn quickstart_text() -> String {
    std::fs::read_to_string(repo().join("configs/quickstart.toml")).unwrap()
}

/// The quickstart config with absolute data paths and the given replacements, written into
/// `dir` (so that it can be edited freely).
fn config_in(dir: &Path, edits: &[(&str, &str)]) -> PathBuf {
    let data = repo().join("data/adult");
    let mut text = quickstart_text().replace("../data/adult", data.to_str().unwrap());
    for (from, to) in edits {
        assert!(text.contains(from), "the quickstart config has no `{from}`");
        text = text.replace(from, to);
    }
    let path = dir.join("config.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn fairrep() -> Command {
    Command::cargo_bin("fairrep").unwrap()
}

/// `fairrep -q train --config cfg --out out` and `extra`.
fn train_cmd(cfg: &Path, out: &Path, extra: &[&str]) -> Command {
    let mut cmd = fairrep();
    cmd.args(["-q", "train", "--config"])
        .arg(cfg)
        .arg("--out")
        .arg(out)
        .args(extra);
    cmd
}

/// Runs `fairrep -q train --config cfg --out out`, expects success and returns its stdout.
fn train_ok(cfg: impl AsRef<Path>, out: impl AsRef<Path>) -> String {
    let done = train_cmd(cfg.as_ref(), out.as_ref(), &[])
        .assert()
        .success();
    String::from_utf8_lossy(&done.get_output().stdout).into_owned()
}

fn report(dir: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap()
}

fn task<'a>(r: &'a Value, name: &str) -> &'a Value {
    r["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == name)
        .unwrap_or_else(|| panic!("no task {name}"))
}

const SHORT: (&str, &str) = ("epochs = 20", "epochs = 2");

#[test]
fn train_writes_a_complete_run_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = config_in(tmp.path(), &[SHORT]);
    let out = tmp.path().join("run");
    train_cmd(&cfg, &out, &[])
        .assert()
        .success()
        .stdout(predicate::str::contains("| income | transfer |"));
    for f in [
        "config.toml",
        "metrics.jsonl",
        "model.bpk",
        "report.json",
        "report.md",
        "transfer_heads.json",
    ] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    let lines = std::fs::read_to_string(out.join("metrics.jsonl")).unwrap();
    let epochs: Vec<Value> = lines
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(epochs.len(), 2);
    assert!(epochs[1]["task_loss"].as_f64().unwrap() < epochs[0]["task_loss"].as_f64().unwrap());
    assert_eq!(epochs[0]["valid"].as_array().unwrap().len(), 3);
    // The quickstart's penalty is the MMD² yardstick itself (the code measures it once, so
    // comparing the two here would check nothing): the yardstick is checked against the
    // `divergence` command on encoded rows in tests/inference.rs.
    let lambda = 1.0;
    for e in &epochs {
        assert!(num(e, "valid_mmd2") > 0.0, "{e}");
        assert_valid_objective(e, lambda);
    }

    let r = report(&out);
    assert_eq!(r["lambda"].as_f64(), Some(lambda));
    let roles: Vec<(&str, &str)> = r["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["name"].as_str().unwrap(), t["role"].as_str().unwrap()))
        .collect();
    assert_eq!(
        roles,
        vec![
            ("married", "source"),
            ("long_hours", "source"),
            ("professional", "source"),
            ("income", "transfer"),
            ("degree", "transfer")
        ]
    );
    for t in r["tasks"].as_array().unwrap() {
        for k in ["accuracy", "auc", "ddp", "deo"] {
            let v = t[k]
                .as_f64()
                .unwrap_or_else(|| panic!("{k} of {} not a number", t["name"]));
            assert!((0.0..=1.0).contains(&v), "{k} = {v}");
        }
    }
    // The official split sizes of Adult after dropping rows with "?": 30,162 train, 15,060 test.
    assert_eq!(
        r["splits"]["train"].as_u64().unwrap() + r["splits"]["valid"].as_u64().unwrap(),
        30162
    );
    assert_eq!(r["splits"]["test"], 15060);
    // Baselines: the same transfer heads on the raw features, with and without sex (one more
    // input column with it).
    let b = r["baselines"].as_array().unwrap();
    assert_eq!(b.len(), 2);
    assert!(
        b[0]["inputs"]
            .as_str()
            .unwrap()
            .contains("with the sensitive")
    );
    assert!(
        b[1]["inputs"]
            .as_str()
            .unwrap()
            .contains("without the sensitive")
    );
    for base in b {
        let names: Vec<&str> = base["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["income", "degree"]);
        let acc = base["tasks"][0]["accuracy"].as_f64().unwrap();
        assert!(acc > 0.75, "raw-feature income head accuracy {acc}");
    }
    assert!(
        std::fs::read_to_string(out.join("report.md"))
            .unwrap()
            .contains(
                "## Baseline: transfer heads on the raw features without the sensitive attribute"
            )
    );
    // The resolved config is a valid config again (absolute paths) and is accepted as input.
    train_ok(out.join("config.toml"), tmp.path().join("again"));
    assert_eq!(report(&tmp.path().join("again"))["tasks"], r["tasks"]);
}

/// The epoch log is for people: four significant digits, the seconds the epoch took.
#[test]
fn the_epoch_log_is_short() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = config_in(tmp.path(), &[SHORT]);
    let done = fairrep()
        .args(["train", "--config"])
        .arg(&cfg)
        .arg("--out")
        .arg(tmp.path().join("run"))
        .assert()
        .success();
    let log = String::from_utf8_lossy(&done.get_output().stderr).into_owned();
    let lines: Vec<&str> = log.lines().filter(|l| l.contains("epoch done")).collect();
    assert_eq!(lines.len(), 2, "{log}");
    for line in lines {
        let fields = line.split_once("epoch done").unwrap().1;
        assert!(fields.contains("seconds="), "{line}");
        // No run of more than four digits after a decimal point.
        let long = fields
            .split(|c: char| !(c.is_ascii_digit() || c == '.'))
            .filter_map(|w| w.split_once('.'))
            .any(|(_, frac)| frac.len() > 4);
        assert!(!long, "{line}");
    }
}

#[test]
fn same_seed_same_result_other_seed_other_result() {
    let tmp = tempfile::tempdir().unwrap();
    let a = config_in(tmp.path(), &[SHORT]);
    let runs: Vec<Value> = [("a", &a), ("b", &a)]
        .iter()
        .map(|(name, cfg)| {
            let out = tmp.path().join(name);
            train_ok(cfg, &out);
            report(&out)
        })
        .collect();
    assert_eq!(runs[0]["tasks"], runs[1]["tasks"]);
    assert_eq!(runs[0]["representation"], runs[1]["representation"]);

    let other = tempfile::tempdir().unwrap();
    let c = config_in(other.path(), &[SHORT, ("seed = 1", "seed = 2")]);
    let out = other.path().join("c");
    train_ok(&c, &out);
    assert_ne!(report(&out)["tasks"], runs[0]["tasks"]);
}

/// The claim of the quickstart, on one seed: the penalty at the config's λ at least halves DDP on
/// the held-out income task and costs at most 3 accuracy points, against λ = 0.
#[test]
fn quickstart_penalty_halves_income_ddp_on_the_transfer_task() {
    let tmp = tempfile::tempdir().unwrap();
    let fair = config_in(tmp.path(), &[]);
    let out_fair = tmp.path().join("fair");
    let printed_fair = train_ok(&fair, &out_fair);
    let plain_dir = tempfile::tempdir().unwrap();
    let plain = config_in(plain_dir.path(), &[("lambda = 1.0", "lambda = 0.0")]);
    let out_plain = plain_dir.path().join("plain");
    let printed_plain = train_ok(&plain, &out_plain);
    // Healthy runs: no collapse, no income head at the majority rate.
    for printed in [&printed_fair, &printed_plain] {
        assert!(
            !printed.contains("collapsed") && !printed.contains("task `income`"),
            "{printed}"
        );
    }
    let (f, p) = (report(&out_fair), report(&out_plain));
    let (ff, pp) = (task(&f, "income"), task(&p, "income"));
    let ddp = |t: &Value| t["ddp"].as_f64().unwrap();
    let acc = |t: &Value| t["accuracy"].as_f64().unwrap();
    assert!(
        ddp(ff) <= 0.5 * ddp(pp),
        "DDP {} vs {} at λ = 0",
        ddp(ff),
        ddp(pp)
    );
    assert!(
        acc(ff) >= acc(pp) - 0.03,
        "accuracy {} vs {} at λ = 0",
        acc(ff),
        acc(pp)
    );
    assert!(
        f["representation"]["mmd2"].as_f64().unwrap()
            < 0.2 * p["representation"]["mmd2"].as_f64().unwrap()
    );
    // At λ = 0 the divergence is not computed on the training batches (null; the objective is
    // the task loss) but still measured on the validation split every epoch.
    for e in epochs(&out_plain) {
        assert!(e["penalty"].is_null(), "{e}");
        assert_eq!(num(&e, "objective"), num(&e, "task_loss"));
        assert!(num(&e, "valid_penalty") > 0.0 && num(&e, "valid_mmd2") > 0.0);
    }
    for e in epochs(&out_fair) {
        assert!(num(&e, "penalty") > 0.0, "{e}");
    }
    // Each head family on each transfer task, and the worst DDP among them and the head: at
    // least the head's own, and the largest family DDP.
    for t in [ff, pp] {
        let fams = t["head_families"].as_array().unwrap();
        let names: Vec<&str> = fams.iter().map(|f| f["family"].as_str().unwrap()).collect();
        assert_eq!(names, ["logistic", "mlp", "gbdt"]);
        let worst = num(t, "worst_ddp");
        let largest = fams.iter().map(|f| num(f, "ddp")).fold(ddp(t), f64::max);
        assert_eq!(worst, largest);
        // The MLP and the GBDT learned income (above the majority rate by a point): their
        // parity is evidence, and differs from the logistic head's.
        let majority = num(t, "base_rate").max(1.0 - num(t, "base_rate"));
        for f in &fams[1..] {
            assert!(
                num(f, "accuracy") > majority + 0.01,
                "{f} vs majority {majority}"
            );
            assert!((num(f, "ddp") - ddp(t)).abs() > 1e-6, "{f}");
        }
    }
    assert!(
        std::fs::read_to_string(out_fair.join("report.md"))
            .unwrap()
            .contains("## Worst-case downstream parity")
    );
}

/// The quickstart at λ = 100: every head predicts (almost) one class, every DDP is near 0 —
/// `train`, `report.md`, `eval` and `audit` must say that this parity is not fairness, and
/// suggest a smaller λ.
#[test]
fn a_collapsed_run_is_flagged_wherever_its_parity_is_printed() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = config_in(
        tmp.path(),
        &[
            ("lambda = 1.0", "lambda = 100.0"),
            ("epochs = 20", "epochs = 5"),
        ],
    );
    let out = tmp.path().join("run");
    let printed = train_ok(&cfg, &out);
    let collapse =
        "WARNING: the representation collapsed: every source task's head is near-constant";
    assert!(printed.contains(collapse), "{printed}");
    assert!(printed.contains("is not evidence of fairness"), "{printed}");
    assert!(printed.contains("--set penalty.lambda=10`"), "{printed}");
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(
        md.contains("## Warnings\n\n- the representation collapsed"),
        "{md}"
    );
    let r = report(&out);
    let rep = &r["representation"];
    assert!(
        num(rep, "spread") > 0.0 && num(rep, "initial_spread") > 0.0,
        "{rep}"
    );
    for cmd in ["eval", "audit"] {
        let done = fairrep().args([cmd, "--run"]).arg(&out).assert().success();
        let text = String::from_utf8_lossy(&done.get_output().stdout).into_owned();
        assert!(text.contains(collapse), "{cmd}: {text}");
    }
    let audit: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("audit.json")).unwrap()).unwrap();
    assert!(audit["warnings"][0].as_str().unwrap().contains("collapsed"));
}

/// Runs `fairrep train` on a config and expects exit code 2 with all `needles` in stderr.
fn expect_user_error(cfg: &Path, out: &Path, needles: &[&str]) {
    let assert = fairrep()
        .args(["train", "--config"])
        .arg(cfg)
        .arg("--out")
        .arg(out)
        .assert()
        .code(2);
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).to_string();
    for n in needles {
        assert!(stderr.contains(n), "stderr lacks `{n}`:\n{stderr}");
    }
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn unknown_config_key_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = config_in(tmp.path(), &[("[penalty]\n", "[penalty]\nlamda = 3\n")]);
    expect_user_error(
        &cfg,
        &tmp.path().join("o"),
        &["config.toml", "lamda", "line", "did you mean `lambda`?"],
    );
    assert!(
        !tmp.path().join("o").exists(),
        "no run directory on a config error"
    );
}

#[test]
fn wrong_type_and_bad_value_are_named() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = config_in(tmp.path(), &[("batch_size = 256", "batch_size = \"big\"")]);
    expect_user_error(&cfg, &tmp.path().join("o"), &["batch_size", "line"]);
    let cfg = config_in(tmp.path(), &[("lambda = 1.0", "lambda = -1.0")]);
    expect_user_error(&cfg, &tmp.path().join("o"), &["penalty.lambda", "-1"]);
}

#[test]
fn missing_files_and_columns_are_named() {
    let tmp = tempfile::tempdir().unwrap();
    expect_user_error(
        &tmp.path().join("nope.toml"),
        &tmp.path().join("o"),
        &["nope.toml"],
    );
    let cfg = config_in(tmp.path(), &[("adult.data.gz", "adult.missing.gz")]);
    expect_user_error(&cfg, &tmp.path().join("o"), &["adult.missing.gz"]);
    let cfg = config_in(
        tmp.path(),
        &[(
            "\"fnlwgt\", \"capital-gain\"",
            "\"salary\", \"capital-gain\"",
        )],
    );
    expect_user_error(
        &cfg,
        &tmp.path().join("o"),
        &["`salary`", "numeric feature", "adult.data.gz"],
    );
}

#[test]
fn existing_run_directory_needs_force() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = config_in(tmp.path(), &[SHORT, ("epochs = 2", "epochs = 1")]);
    let out = tmp.path().join("o");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("keep.txt"), "mine").unwrap();
    expect_user_error(&cfg, &out, &["already exists", "--force"]);
    assert_eq!(
        std::fs::read_to_string(out.join("keep.txt")).unwrap(),
        "mine"
    );
    train_cmd(&cfg, &out, &["--force"]).assert().success();
}

#[test]
fn the_shipped_quickstart_config_parses_as_documented() {
    let path = repo().join("configs/quickstart.toml");
    let c = fairrep_config::Config::load(&path).unwrap_or_else(|e| panic!("{e}"));
    assert!(c.penalty.lambda > 0.0);
    assert_eq!(c.penalty.kind, fairrep_config::PenaltyKind::Mmd);
    let roles = |r: fairrep_data::Role| c.tasks.iter().filter(|t| t.role == r).count();
    assert!(roles(fairrep_data::Role::Source) >= 3 && roles(fairrep_data::Role::Transfer) >= 2);
    assert!(
        c.tasks
            .iter()
            .any(|t| t.name == "income" && t.role == fairrep_data::Role::Transfer)
    );
    assert_eq!(c.data.sensitive.column, "sex");
}

/// Writes the reference point clouds (from the losses crate's fixture) as headerless CSV.
fn reference_clouds(dir: &Path) -> (PathBuf, PathBuf, Value) {
    let text = std::fs::read_to_string(
        repo().join("crates/fairrep-losses/tests/fixtures/divergences.json"),
    )
    .unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    let write = |key: &str| {
        let rows: Vec<String> = doc["inputs"][key]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                r.as_array()
                    .unwrap()
                    .iter()
                    .map(|v| format!("{:?}", v.as_f64().unwrap()))
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .collect();
        let p = dir.join(format!("{key}.csv"));
        std::fs::write(&p, rows.join("\n") + "\n").unwrap();
        p
    };
    (write("X"), write("Y"), doc)
}

fn divergence_json(args: &[&str], x: &Path, y: &Path) -> Value {
    let out = fairrep()
        .arg("divergence")
        .arg("--x")
        .arg(x)
        .arg("--y")
        .arg(y)
        .args(args)
        .assert()
        .success();
    serde_json::from_slice(&out.get_output().stdout).unwrap()
}

/// `fairrep divergence` follows GeomLoss by default (blur 0.05, scaling 0.5, the points as
/// given), whatever the penalty's defaults; `--scale` scales the pooled points as a batch is.
#[test]
fn divergence_command_defaults_are_geomloss_and_scaling_is_asked_for() {
    let tmp = tempfile::tempdir().unwrap();
    let (x, y, doc) = reference_clouds(tmp.path());
    let value = |v: &Value| v["value"].as_f64().unwrap();
    let plain = divergence_json(&["--kind", "sinkhorn"], &x, &y);
    let explicit = divergence_json(
        &[
            "--kind",
            "sinkhorn",
            "--blur",
            "0.05",
            "--scaling",
            "0.5",
            "--scale",
            "none",
        ],
        &x,
        &y,
    );
    assert_eq!(value(&plain), value(&explicit), "{plain}");
    assert_eq!(plain["scale"], "none");
    assert!(
        plain["convention"]
            .as_str()
            .unwrap()
            .contains("eps = blur^p = 0.0025"),
        "{plain}"
    );
    // The default scaling is GeomLoss's 0.5: its value at blur 0.1 to 1e-9.
    let b = divergence_json(&["--kind", "sinkhorn", "--blur", "0.1"], &x, &y);
    let r = &doc["geomloss_sinkhorn_blur_0.1"]["geomloss_scaling_0.5"]["value"];
    assert!(
        (value(&b) - r.as_f64().unwrap()).abs() < 1e-9 * r.as_f64().unwrap().abs(),
        "{b}"
    );
    // --scale batch-rms: the same as the points centred on the pooled mean and divided by the
    // pooled RMS entry on the host, then measured as given.
    let read = |p: &Path| -> Vec<Vec<f64>> {
        std::fs::read_to_string(p)
            .unwrap()
            .lines()
            .map(|l| l.split(',').map(|v| v.parse().unwrap()).collect())
            .collect()
    };
    let (xs, ys) = (read(&x), read(&y));
    let pooled: Vec<&Vec<f64>> = xs.iter().chain(&ys).collect();
    let d = xs[0].len();
    let mean: Vec<f64> = (0..d)
        .map(|j| pooled.iter().map(|r| r[j]).sum::<f64>() / pooled.len() as f64)
        .collect();
    let rms = (pooled
        .iter()
        .flat_map(|r| r.iter().zip(&mean).map(|(v, m)| (v - m).powi(2)))
        .sum::<f64>()
        / (pooled.len() * d) as f64)
        .sqrt();
    let write = |rows: &[Vec<f64>], name: &str| {
        let text: Vec<String> = rows
            .iter()
            .map(|r| {
                r.iter()
                    .zip(&mean)
                    .map(|(v, m)| format!("{:?}", (v - m) / rms))
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .collect();
        let p = tmp.path().join(name);
        std::fs::write(&p, text.join("\n") + "\n").unwrap();
        p
    };
    let (xs_path, ys_path) = (write(&xs, "xs.csv"), write(&ys, "ys.csv"));
    let scaled = divergence_json(&["--kind", "sinkhorn", "--scale", "batch-rms"], &x, &y);
    let by_hand = divergence_json(&["--kind", "sinkhorn"], &xs_path, &ys_path);
    assert!(
        (value(&scaled) - value(&by_hand)).abs() < 1e-9,
        "{scaled} vs {by_hand}"
    );
    assert_eq!(scaled["scale"], "batch_rms");
    assert!(
        (value(&scaled) - value(&plain)).abs() > 1e-3,
        "scaling changed nothing"
    );
    // pair-distance and whiten default to the penalty's blur 0.7 (ε = 0.49).
    let pd = divergence_json(&["--kind", "sinkhorn", "--scale", "pair-distance"], &x, &y);
    assert!(
        (pd["sinkhorn"]["eps"].as_f64().unwrap() - 0.49).abs() < 1e-12,
        "{pd}"
    );
    // The MMD with the median bandwidth does not depend on a common shift and scale.
    let m0 = divergence_json(&["--kind", "mmd"], &x, &y);
    let m1 = divergence_json(&["--kind", "mmd", "--scale", "batch-rms"], &x, &y);
    assert!(
        (value(&m0) - value(&m1)).abs() < 1e-9 * value(&m0),
        "{m0} vs {m1}"
    );
}

#[test]
fn divergence_command_reproduces_reference_values() {
    let tmp = tempfile::tempdir().unwrap();
    let (x, y, doc) = reference_clouds(tmp.path());
    let rel = |a: &Value, b: &Value| {
        (a.as_f64().unwrap() - b.as_f64().unwrap()).abs() / b.as_f64().unwrap().abs()
    };
    let m = divergence_json(&["--kind", "mmd", "--sigma", "1"], &x, &y);
    assert!(rel(&m["value"], &doc["mmd2_sigma1"]["value"]) < 1e-9, "{m}");
    assert!(
        rel(&m["grad_norm_x"], &doc["mmd2_sigma1"]["grad_norm"]) < 1e-9,
        "{m}"
    );
    let s = divergence_json(
        &["--kind", "sinkhorn", "--blur", "0.5", "--scaling", "0.9"],
        &x,
        &y,
    );
    let r = &doc["geomloss_sinkhorn_blur_0.5"]["geomloss_scaling_0.9"];
    assert!(rel(&s["value"], &r["value"]) < 1e-9, "{s}");
    assert!(rel(&s["grad_norm_x"], &r["grad_norm"]) < 1e-9, "{s}");
    let pot = tmp.path().join("pot.json");
    let plan = tmp.path().join("plan.csv");
    let c = divergence_json(
        &[
            "--kind",
            "sinkhorn",
            "--blur",
            "0.5",
            "--tolerance",
            "1e-12",
            "--potentials",
            pot.to_str().unwrap(),
            "--plan",
            plan.to_str().unwrap(),
        ],
        &x,
        &y,
    );
    let r = &doc["geomloss_sinkhorn_blur_0.5"]["converged_f64"];
    assert!(rel(&c["value"], &r["value"]) < 1e-6, "{c}");
    assert_eq!(c["sinkhorn"]["converged"], true);
    let p: Value = serde_json::from_str(&std::fs::read_to_string(pot).unwrap()).unwrap();
    assert_eq!(p["f"].as_array().unwrap().len(), 256);
    assert_eq!(p["g"].as_array().unwrap().len(), 300);
    let plan_text = std::fs::read_to_string(plan).unwrap();
    let total: f64 = plan_text
        .split(['\n', ','])
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<f64>().unwrap())
        .sum();
    assert_eq!(plan_text.lines().count(), 256);
    assert!((total - 1.0).abs() < 1e-9, "plan mass {total}");
    // f32 agrees to f32 precision.
    let f = divergence_json(&["--kind", "mmd", "--sigma", "1", "--dtype", "f32"], &x, &y);
    assert!(rel(&f["value"], &doc["mmd2_sigma1"]["value"]) < 1e-4, "{f}");
}

#[test]
fn divergence_command_rejects_bad_input_with_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    let (x, _, _) = reference_clouds(tmp.path());
    let narrow = tmp.path().join("narrow.csv");
    std::fs::write(&narrow, "1,2\n3,4\n").unwrap();
    let text = tmp.path().join("text.csv");
    std::fs::write(&text, "1,2\n3,abc\n").unwrap();
    for (args, y, needle) in [
        (vec!["--kind", "mmd"], &narrow, "columns"),
        (vec!["--kind", "mmd"], &text, "line 2"),
        (vec!["--kind", "sinkhorn", "--p", "3"], &x, "--p"),
        (
            vec!["--kind", "sinkhorn", "--scaling", "1.5"],
            &x,
            "--scaling",
        ),
        (vec!["--kind", "mmd", "--sigma", "-1"], &x, "--sigma"),
    ] {
        let out = fairrep()
            .arg("divergence")
            .arg("--x")
            .arg(&x)
            .arg("--y")
            .arg(y)
            .args(&args)
            .assert()
            .code(2);
        let err = String::from_utf8_lossy(&out.get_output().stderr).to_string();
        assert!(err.contains(needle), "{args:?}: {err}");
    }
}

#[test]
fn sinkhorn_and_conditioned_penalties_train() {
    let tmp = tempfile::tempdir().unwrap();
    let sk = std::fs::read_to_string(repo().join("configs/quickstart_sinkhorn.toml")).unwrap();
    let data = repo().join("data/adult");
    let cfg = tmp.path().join("sk.toml");
    std::fs::write(
        &cfg,
        sk.replace("../data/adult", data.to_str().unwrap())
            .replace("epochs = 20", "epochs = 1"),
    )
    .unwrap();
    let out = tmp.path().join("sk");
    train_ok(&cfg, &out);
    let r = report(&out);
    assert_eq!(r["penalty"]["kind"], "sinkhorn");
    assert_eq!(r["penalty"]["scale"], "pair_distance");
    let resolved = std::fs::read_to_string(out.join("config.toml")).unwrap();
    assert!(
        resolved.contains("blur = 0.7") && resolved.contains("scaling = 0.5"),
        "{resolved}"
    );
    // The validation objective uses the run's own penalty, the Sinkhorn divergence, beside
    // the MMD² yardstick.
    let lambda = r["lambda"].as_f64().unwrap();
    for e in epochs(&out) {
        let (p, m) = (num(&e, "valid_penalty"), num(&e, "valid_mmd2"));
        assert!(p > 0.0 && m > 0.0 && (p - m).abs() > 1e-6 * m, "{e}");
        assert_valid_objective(&e, lambda);
    }

    let eo = config_in(
        tmp.path(),
        &[
            SHORT,
            ("epochs = 2", "epochs = 1"),
            (
                "bandwidth = \"median\"",
                "bandwidth = \"median\"\ncondition = \"equal_opportunity\"\ncondition_task = \"married\"",
            ),
        ],
    );
    let out = tmp.path().join("eo");
    train_ok(&eo, &out);
    assert_eq!(report(&out)["penalty"]["condition"], "equal_opportunity");
}

/// The quickstart for one epoch on the ndarray backend and on `backend`: both train, the
/// report records the backend and device, and the numbers agree within `tolerance` (flex and
/// ndarray run the same host kernels for the divergences and differ only in burn's matmul
/// summation order: one epoch gave identical accuracies and DDPs, AUCs 1e-7 apart; wgpu runs
/// other kernels in f32, whose differences grow over the steps).
fn same_run_on(backend: &str, device_needle: &str, tolerance: f64) {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = config_in(tmp.path(), &[("epochs = 20", "epochs = 1")]);
    let (cpu, other) = (tmp.path().join("cpu"), tmp.path().join("other"));
    train_cmd(&cfg, &cpu, &["--backend", "ndarray"])
        .assert()
        .success();
    train_cmd(&cfg, &other, &["--backend", backend])
        .assert()
        .success();
    let (rc, ro) = (report(&cpu), report(&other));
    assert!(
        rc["backend"].as_str().unwrap().starts_with("ndarray"),
        "{}",
        rc["backend"]
    );
    assert!(
        ro["backend"].as_str().unwrap().starts_with(backend),
        "{}",
        ro["backend"]
    );
    let device = ro["device"].as_str().unwrap();
    assert!(device.contains(device_needle), "{device}");
    for name in ["married", "income", "degree"] {
        let (c, o) = (task(&rc, name), task(&ro, name));
        for key in ["accuracy", "ddp", "auc"] {
            let (a, b) = (c[key].as_f64().unwrap(), o[key].as_f64().unwrap());
            assert!(
                (a - b).abs() <= tolerance,
                "{name} {key}: ndarray {a}, {backend} {b} (tolerance {tolerance})"
            );
        }
    }
}

#[test]
#[cfg_attr(
    not(all(feature = "wgpu", feature = "ndarray")),
    ignore = "needs --features wgpu,ndarray (scripts/test.sh builds every backend)"
)]
fn the_same_run_trains_on_wgpu() {
    same_run_on("wgpu", "Cube", 0.02);
}

#[test]
#[cfg_attr(
    not(feature = "ndarray"),
    ignore = "needs --features ndarray (scripts/test.sh builds every backend)"
)]
fn the_same_run_trains_on_flex() {
    // 1e-3: 15 of the 15,060 test rows.
    same_run_on("flex", "Flex", 1e-3);
}

#[test]
#[cfg_attr(
    not(feature = "wgpu"),
    ignore = "needs --features wgpu (scripts/test.sh builds every backend)"
)]
fn divergence_command_runs_on_wgpu() {
    let tmp = tempfile::tempdir().unwrap();
    let (x, y, _) = reference_clouds(tmp.path());
    let args = ["--kind", "mmd", "--sigma", "1", "--dtype", "f32"];
    let cpu = divergence_json(&args, &x, &y);
    let gpu = divergence_json(&[&args[..], &["--backend", "wgpu"]].concat(), &x, &y);
    let (a, b) = (
        cpu["value"].as_f64().unwrap(),
        gpu["value"].as_f64().unwrap(),
    );
    assert!((a - b).abs() < 1e-5 * a.abs(), "flex {a}, wgpu {b}");
    assert_eq!(cpu["path"], "fused-cpu-f32");
    // wgpu takes the fused GPU kernels by default (f32), for both divergences.
    assert_eq!(gpu["path"], "fused-gpu");
    for kind in ["mmd", "sinkhorn"] {
        let v = divergence_json(&["--kind", kind, "--backend", "wgpu"], &x, &y);
        assert_eq!(v["path"], "fused-gpu", "{kind}: {v}");
        let portable =
            divergence_json(&["--kind", kind, "--backend", "wgpu", "--portable"], &x, &y);
        assert_eq!(portable["path"], "portable", "{kind}");
        let (f, p) = (
            v["value"].as_f64().unwrap(),
            portable["value"].as_f64().unwrap(),
        );
        assert!(
            (f - p).abs() < 1e-4 * f.abs(),
            "{kind}: fused {f}, portable {p}"
        );
    }
}

/// The median bandwidth on wgpu reads the pooled points' distances a block of rows at a time
/// (wgpu's largest buffer is smaller than the whole matrix at 8,192 points): the same σ as the
/// CPU's whole matrix.
#[test]
#[cfg_attr(
    not(feature = "wgpu"),
    ignore = "needs --features wgpu (scripts/test.sh builds every backend)"
)]
fn the_median_bandwidth_on_wgpu_equals_the_cpus() {
    let tmp = tempfile::tempdir().unwrap();
    let cloud = |shift: f64| -> String {
        (0..1500)
            .map(|i| {
                let t = i as f64 * 0.37;
                format!("{},{}\n", t.sin() * 3.0 + shift, (t * 1.7).cos() + shift)
            })
            .collect()
    };
    let (x, y) = (tmp.path().join("x.csv"), tmp.path().join("y.csv"));
    std::fs::write(&x, cloud(0.0)).unwrap();
    std::fs::write(&y, cloud(0.4)).unwrap();
    let cpu = divergence_json(&["--kind", "mmd", "--dtype", "f32"], &x, &y);
    let gpu = divergence_json(&["--kind", "mmd", "--backend", "wgpu"], &x, &y);
    let (a, b) = (
        cpu["sigmas"][0].as_f64().unwrap(),
        gpu["sigmas"][0].as_f64().unwrap(),
    );
    assert!((a - b).abs() <= 1e-6 * a, "σ: flex {a}, wgpu {b}");
    let (a, b) = (
        cpu["value"].as_f64().unwrap(),
        gpu["value"].as_f64().unwrap(),
    );
    assert!((a - b).abs() <= 1e-4 * a, "MMD²: flex {a}, wgpu {b}");
}

/// The issue-16 case: f64 on wgpu was not served by the fused kernels and the portable path's
/// n × m buffer failed as a panic (exit 101). Now f64 is refused up front (exit 2), and a
/// device allocation that fails is exit 1 with the size and what to change.
#[test]
#[cfg_attr(
    not(feature = "wgpu"),
    ignore = "needs --features wgpu (scripts/test.sh builds every backend)"
)]
fn divergence_on_wgpu_refuses_f64_and_reports_device_memory() {
    let tmp = tempfile::tempdir().unwrap();
    let (x, y, _) = reference_clouds(tmp.path());
    let out = fairrep()
        .args([
            "divergence",
            "--kind",
            "sinkhorn",
            "--backend",
            "wgpu",
            "--dtype",
            "f64",
        ])
        .arg("--x")
        .arg(&x)
        .arg("--y")
        .arg(&y)
        .assert()
        .code(2);
    let err = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(
        err.contains("--portable") && err.contains("--dtype f64"),
        "{err}"
    );
    // 16,384 points: the portable path's f64 cost matrix asks the device for 2 GiB at once,
    // more than lavapipe's largest buffer.
    let big = tmp.path().join("big.csv");
    let rows: String = (0..16_384)
        .map(|i| format!("{}\n", (i % 97) as f64 / 97.0))
        .collect();
    std::fs::write(&big, rows).unwrap();
    let out = fairrep()
        .args(["divergence", "--kind", "sinkhorn", "--backend", "wgpu"])
        .args(["--dtype", "f64", "--portable", "--blur", "1"])
        .arg("--x")
        .arg(&big)
        .arg("--y")
        .arg(&big)
        .assert()
        .code(1);
    let err = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(err.contains("2147483648 bytes"), "{err}");
    assert!(
        err.contains("--dtype f32") && err.contains("--backend flex"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn set_overrides_reach_the_run_and_its_resolved_config() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = config_in(tmp.path(), &[]);
    let out = tmp.path().join("run");
    let sets = [
        "training.epochs=1",
        "penalty.lambda=0.25",
        "model.hidden=[8]",
    ];
    train_cmd(&cfg, &out, &sets.map(|s| ["--set", s]).concat())
        .assert()
        .success();
    let resolved = std::fs::read_to_string(out.join("config.toml")).unwrap();
    assert!(resolved.contains("epochs = 1"), "{resolved}");
    assert!(resolved.contains("lambda = 0.25"), "{resolved}");
    assert_eq!(report(&out)["epochs"], 1);
    // A bad override: exit 2, the override named, no run directory.
    let bad = tmp.path().join("bad");
    train_cmd(&cfg, &bad, &["--set", "training.epocs=1"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--set training.epocs=1"));
    assert!(!bad.exists());
}

#[test]
fn config_check_and_explain() {
    fairrep()
        .args(["config", "--check"])
        .arg(repo().join("configs/quickstart.toml"))
        .assert()
        .success()
        .stdout(predicate::str::contains("ok").and(predicate::str::contains("income")));
    fairrep()
        .args(["config", "--check"])
        .arg(repo().join("configs/quickstart.toml"))
        .args(["--set", "data.sensitive.column=nope"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("nope"));
    fairrep()
        .args(["config", "--explain"])
        .assert()
        .success()
        .stdout(predicate::str::contains("penalty.blur").and(predicate::str::contains("default")));
    fairrep().args(["config"]).assert().code(2);
}

/// Kill a real run with SIGKILL after its second checkpoint, resume it, and get exactly the
/// result of an uninterrupted run with the same seed (CPU backend).
#[test]
fn a_killed_run_resumes_to_the_uninterrupted_result() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = config_in(tmp.path(), &[("epochs = 20", "epochs = 5")]);
    let (full, cut) = (tmp.path().join("full"), tmp.path().join("cut"));
    kill_and_resume(&cfg, &full, &cut, &[]);
    assert_eq!(epochs(&cut).len(), 5);
    // Only the last `keep_checkpoints` (2) are kept.
    assert!(cut.join("checkpoints/epoch-0005").is_dir());
    assert!(cut.join("checkpoints/epoch-0004").is_dir());
    assert!(!cut.join("checkpoints/epoch-0003").exists());
    assert!(cut.join("checkpoints/best/model.bpk").is_file());

    // Resuming with another config, or from a corrupt checkpoint, is refused (exit 2).
    let other = tmp.path().join("other");
    std::fs::create_dir(&other).unwrap();
    let cfg2 = config_in(
        &other,
        &[("epochs = 20", "epochs = 5"), ("seed = 1", "seed = 9")],
    );
    train_cmd(&cfg2, &cut, &["--resume"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("another config"));
    std::fs::write(cut.join("checkpoints/epoch-0005/state.json"), "{ not json").unwrap();
    train_cmd(&cfg, &cut, &["--resume"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("epoch-0005/state.json"));
}

/// The per-epoch records of a run, without their wall times.
fn epochs(dir: &Path) -> Vec<Value> {
    std::fs::read_to_string(dir.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            let mut v: Value = serde_json::from_str(l).unwrap();
            // Timings differ from run to run; each epoch has them.
            for key in ["elapsed_s", "train_s", "valid_s"] {
                let t = v.as_object_mut().unwrap().remove(key);
                assert!(t.and_then(|t| t.as_f64()).is_some_and(|t| t > 0.0), "{key}");
            }
            v
        })
        .collect()
}

/// A number of a JSON record, or a panic naming it.
fn num(v: &Value, key: &str) -> f64 {
    v[key]
        .as_f64()
        .unwrap_or_else(|| panic!("`{key}` is not a number in {v}"))
}

/// `valid_objective` = the mean validation loss (≥ 0, below the loss of a coin flip's
/// ln 2 ≈ 0.69 after an epoch on Adult) + λ · `valid_penalty`.
fn assert_valid_objective(e: &Value, lambda: f64) {
    let loss = num(e, "valid_objective") - lambda * num(e, "valid_penalty");
    assert!(
        (0.0..0.69).contains(&loss),
        "validation loss {loss} from {e}"
    );
}

/// Trains `cfg` (with `extra` arguments) into `full`; trains it again into `cut`, kills that
/// run with SIGKILL after its second checkpoint and resumes it; both must agree exactly.
fn kill_and_resume(cfg: &Path, full: &Path, cut: &Path, extra: &[&str]) {
    let second = cut.join("checkpoints/epoch-0002/state.json");
    kill_when_and_resume(cfg, full, cut, extra, |_| second.exists());
}

/// The checkpoints of `run` within an epoch (`epoch-NNNN-step-S`), complete ones only.
fn in_epoch_checkpoints(run: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(run.join("checkpoints"))
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter(|e| e.path().join("state.json").is_file())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.contains("-step-") && !n.starts_with('.'))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// Trains `full` uninterrupted; trains `cut`, kills it (SIGKILL) once `ready(cut)` holds,
/// resumes it, and checks that both ended with the same results.
fn kill_when_and_resume(
    cfg: &Path,
    full: &Path,
    cut: &Path,
    extra: &[&str],
    mut ready: impl FnMut(&Path) -> bool,
) {
    train_cmd(cfg, full, extra).assert().success();
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin!("fairrep"))
        .args(["-q", "train", "--config"])
        .arg(cfg)
        .arg("--out")
        .arg(cut)
        .args(extra)
        .spawn()
        .unwrap();
    while !ready(cut) {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before it could be killed"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(!cut.join("report.json").exists(), "killed before the end");
    let resume: Vec<&str> = extra.iter().copied().chain(["--resume"]).collect();
    train_cmd(cfg, cut, &resume).assert().success();
    let (a, b) = (report(full), report(cut));
    assert_eq!(a["tasks"], b["tasks"]);
    assert_eq!(a["representation"], b["representation"]);
    assert_eq!(epochs(full), epochs(cut));
}

/// `training.checkpoint_every_steps`: a run killed within an epoch resumes from the step of its
/// last checkpoint to the uninterrupted run's results, bit for bit (dropout masks included).
#[test]
fn a_run_killed_within_an_epoch_resumes_from_the_step() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = config_in(tmp.path(), &[("epochs = 20", "epochs = 3")]);
    let (full, cut) = (tmp.path().join("full"), tmp.path().join("cut"));
    let extra = [
        "--set",
        "training.checkpoint_every_steps=25",
        "--set",
        "model.dropout=0.2",
        "--set",
        "transfer.baselines=false",
    ];
    let within_epoch_2 = |run: &Path| {
        in_epoch_checkpoints(run)
            .iter()
            .any(|n| n.starts_with("epoch-0002-step-"))
    };
    let mut killed_at = String::new();
    kill_when_and_resume(&cfg, &full, &cut, &extra, |run| {
        let ready = within_epoch_2(run);
        if ready {
            killed_at = in_epoch_checkpoints(run).pop().unwrap();
        }
        ready
    });
    // The run was killed within epoch 2: it resumed from a step, not from an epoch's end.
    assert!(killed_at.starts_with("epoch-0002-step-"), "{killed_at}");
    assert_eq!(epochs(&cut).len(), 3);
    let state: Value = serde_json::from_str(
        &std::fs::read_to_string(
            full.join("checkpoints")
                .join(in_epoch_checkpoints(&full).pop().unwrap())
                .join("state.json"),
        )
        .unwrap(),
    )
    .unwrap();
    assert!(
        state["in_epoch"]["batches"].as_u64().unwrap() > 0,
        "{state}"
    );
}

/// The adversarial (LAFTR) penalty trains, checkpoints its adversary, resumes exactly, and
/// lowers the MMD² between the groups' representations against λ = 0.
#[test]
fn the_adversarial_penalty_trains_and_resumes() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = config_in(
        tmp.path(),
        &[
            ("epochs = 20", "epochs = 5"),
            (
                "kind = \"mmd\"\nlambda = 1.0\nbandwidth = \"median\"",
                "kind = \"adversarial\"\nlambda = 1.0",
            ),
        ],
    );
    let (full, cut) = (tmp.path().join("full"), tmp.path().join("cut"));
    let no_baselines = ["--set", "transfer.baselines=false"];
    kill_and_resume(&cfg, &full, &cut, &no_baselines);
    let r = report(&full);
    assert_eq!(r["penalty"]["kind"], "adversarial");
    assert_eq!(
        r["penalty"]["adversary"]["hidden"],
        serde_json::json!([32, 32])
    );
    assert_eq!(r["penalty"]["adversary"]["loss"], "cross_entropy");
    assert!(cut.join("checkpoints/epoch-0005/adversary.bpk").is_file());
    assert!(
        cut.join("checkpoints/epoch-0005/adversary_optim.bpk")
            .is_file()
    );
    // The penalty the encoder saw is the adversary's advantage, in [−1, 1]; so is the one of
    // the validation objective (the adversary's advantage on the validation split).
    for e in epochs(&full) {
        let p = e["penalty"].as_f64().unwrap();
        assert!((-1.0..=1.0).contains(&p), "{e}");
        let v = num(&e, "valid_penalty");
        assert!(
            (-1.0..=1.0).contains(&v) && v != num(&e, "valid_mmd2"),
            "{e}"
        );
        assert_valid_objective(&e, 1.0);
    }
    let zero = tmp.path().join("zero");
    let args: Vec<&str> = no_baselines
        .iter()
        .copied()
        .chain(["--set", "penalty.lambda=0"])
        .collect();
    train_cmd(&cfg, &zero, &args).assert().success();
    let mmd = |r: &Value| r["representation"]["mmd2"].as_f64().unwrap();
    let (adv, plain) = (mmd(&r), mmd(&report(&zero)));
    assert!(adv < 0.5 * plain, "MMD² adversarial {adv} vs λ = 0 {plain}");
}

/// `transfer.head = "mlp"`: each transfer task (and each baseline) gets an MLP head, saved in
/// transfer_heads.json, that predicts better than the majority class.
#[test]
fn mlp_transfer_heads() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = config_in(tmp.path(), &[SHORT]);
    let out = tmp.path().join("mlp");
    train_cmd(
        &cfg,
        &out,
        &[
            "--set",
            "transfer.head=mlp",
            "--set",
            "transfer.mlp.epochs=5",
        ],
    )
    .assert()
    .success();
    let heads: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("transfer_heads.json")).unwrap())
            .unwrap();
    for h in heads.as_array().unwrap() {
        assert_eq!(h["mlp"]["hidden"], 32, "{h}");
        assert!(h.get("model").is_none(), "{h}");
    }
    let r = report(&out);
    let income = task(&r, "income");
    let majority = 1.0 - income["base_rate"].as_f64().unwrap();
    assert!(
        income["accuracy"].as_f64().unwrap() > majority + 0.03,
        "{income}"
    );
    assert_eq!(r["baselines"].as_array().unwrap().len(), 2);
}

/// `eval` recomputes a run's report from its saved model; `transfer` evaluates transfer tasks,
/// including one added to the run's config.toml after training.
#[test]
fn eval_and_transfer_reuse_a_trained_run() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = config_in(tmp.path(), &[SHORT]);
    let run = tmp.path().join("run");
    train_ok(&cfg, &run);
    let before = report(&run);
    std::fs::remove_file(run.join("report.json")).unwrap();
    fairrep()
        .args(["-q", "eval", "--run"])
        .arg(&run)
        .assert()
        .success();
    let after = report(&run);
    assert_eq!(before["tasks"], after["tasks"]);
    assert_eq!(before["representation"], after["representation"]);

    // A transfer task added after training: a high-school graduate (not a feature column).
    let mut text = std::fs::read_to_string(run.join("config.toml")).unwrap();
    text += "\n[[tasks]]\nname = \"hsgrad\"\ncolumn = \"education\"\npositive = { eq = \"HS-grad\" }\nrole = \"transfer\"\n";
    std::fs::write(run.join("config.toml"), text).unwrap();
    fairrep()
        .args([
            "-q", "transfer", "--task", "hsgrad", "--task", "income", "--run",
        ])
        .arg(&run)
        .assert()
        .success()
        .stdout(predicate::str::contains("hsgrad"));
    let t: Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("transfer_report.json")).unwrap())
            .unwrap();
    let names: Vec<&str> = t["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["income", "hsgrad"]);
    assert_eq!(task(&t, "income"), task(&before, "income"));
    fairrep()
        .args(["-q", "transfer", "--task", "married", "--run"])
        .arg(&run)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no transfer task `married`"));
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    fairrep()
        .args(["-q", "eval", "--run"])
        .arg(&empty)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("not a fairrep run directory"));
}

/// A cosine schedule with warm-up, gradient clipping and early stopping: the learning rate
/// falls over the epochs, and a run that stops early does so exactly when the validation
/// objective has not improved for `patience` epochs.
#[test]
fn schedule_clipping_and_early_stopping() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = config_in(tmp.path(), &[("epochs = 20", "epochs = 6")]);
    let out = tmp.path().join("run");
    train_cmd(&cfg, &out, &[])
        .args([
            "--set",
            "training.lr_schedule=cosine",
            "--set",
            "training.warmup_steps=20",
        ])
        .args([
            "--set",
            "training.grad_clip_norm=1.0",
            "--set",
            "training.learning_rate=0.02",
        ])
        .args(["--set", "training.early_stopping_patience=2"])
        .assert()
        .success();
    let epochs: Vec<Value> = std::fs::read_to_string(out.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let lr: Vec<f64> = epochs
        .iter()
        .map(|e| e["learning_rate"].as_f64().unwrap())
        .collect();
    assert!(lr.windows(2).all(|w| w[1] < w[0]), "{lr:?}");
    let obj: Vec<f64> = epochs
        .iter()
        .map(|e| e["valid_objective"].as_f64().unwrap())
        .collect();
    let run = report(&out)["epochs"].as_u64().unwrap() as usize;
    assert_eq!(run, epochs.len());
    // Epochs since the best objective at the end of each epoch.
    let mut since = Vec::new();
    let mut best = f64::INFINITY;
    for &o in &obj {
        since.push(if o < best {
            0
        } else {
            since.last().unwrap() + 1
        });
        best = best.min(o);
    }
    let stopped_at = since.iter().position(|&s| s >= 2).map(|i| i + 1);
    assert_eq!(run, stopped_at.unwrap_or(6), "objectives {obj:?}");

    // Clipping reaches the optimiser: gradients clipped to a norm of 1e-9 make Adam's steps
    // ~1e-4 of their size (its ε = 1e-5 dominates), so the first epoch barely learns.
    let first_epoch_loss = |extra: &[&str], name: &str| {
        let out = tmp.path().join(name);
        train_cmd(&cfg, &out, &["--set", "training.epochs=1"])
            .args(extra)
            .assert()
            .success();
        self::epochs(&out)[0]["task_loss"].as_f64().unwrap()
    };
    let free = first_epoch_loss(&[], "free");
    let clipped = first_epoch_loss(&["--set", "training.grad_clip_norm=1e-9"], "clipped");
    assert!(
        clipped > free + 0.05,
        "clipped {clipped} vs unclipped {free}: clipping did not reach the optimiser"
    );
}

/// `audit-predictions` on fairlearn 0.15's reference cases (written as CSV files): every metric
/// to 1e-12, per group too.
#[test]
fn audit_predictions_matches_fairlearn() {
    let text =
        std::fs::read_to_string(repo().join("crates/fairrep-metrics/tests/fixtures/metrics.json"))
            .unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    for case in doc["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let col = |k: &str| case[k].as_array().unwrap().clone();
        let (t, p, s, g) = (
            col("y_true"),
            col("y_pred"),
            col("y_score"),
            col("sensitive"),
        );
        let mut csv = String::from("label,prediction,score,group\n");
        for i in 0..t.len() {
            let group = g[i]
                .as_str()
                .map_or_else(|| g[i].to_string(), str::to_string);
            csv += &format!("{},{},{},{group}\n", t[i], p[i], s[i]);
        }
        let path = tmp.path().join("preds.csv");
        std::fs::write(&path, csv).unwrap();
        let out = fairrep()
            .args([
                "audit-predictions",
                "--y-true",
                "label",
                "--y-pred",
                "prediction",
            ])
            .args(["--score", "score", "--group", "group", "--input"])
            .arg(&path)
            .assert()
            .success();
        let got: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
        let close = |a: &Value, b: &Value, what: &str| match (a.as_f64(), b.as_f64()) {
            (Some(x), Some(y)) => assert!((x - y).abs() < 1e-12, "{name} {what}: {x} vs {y}"),
            _ => assert_eq!(a, b, "{name} {what}"),
        };
        for key in [
            "demographic_parity_difference",
            "demographic_parity_ratio",
            "equal_opportunity_difference",
            "equal_opportunity_ratio",
            "equalized_odds_difference",
            "equalized_odds_ratio",
            "accuracy",
            "balanced_accuracy",
            "roc_auc",
        ] {
            close(&got[key], &case[key], key);
        }
        for rate in ["selection_rate", "tpr", "fpr", "accuracy"] {
            for (group, want) in case["by_group"][rate].as_object().unwrap() {
                close(
                    &got["by_group"][rate][group],
                    want,
                    &format!("{rate}[{group}]"),
                );
            }
        }
    }
    // A missing column is named, exit 2.
    let path = tmp.path().join("preds.csv");
    fairrep()
        .args([
            "audit-predictions",
            "--y-true",
            "label",
            "--y-pred",
            "nope",
            "--group",
        ])
        .args(["group", "--input"])
        .arg(&path)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("nope"));
}

/// A 2 × 2 sweep (MMD and Sinkhorn, λ = 0 and 1, one seed, one epoch): four run directories
/// with the grid's settings, `sweep.json`; run again, every run is skipped; `--emit slurm`
/// writes a job array of the same four runs.
#[test]
fn sweep_runs_a_resumable_grid_and_emits_slurm() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = config_in(tmp.path(), &[SHORT]);
    let out = tmp.path().join("sweep");
    // `fairrep -q sweep --lambda 0,1 --penalty mmd,sinkhorn` on the config, with `extra`.
    let sweep_cmd = |extra: &[&str]| {
        let mut cmd = fairrep();
        cmd.args([
            "-q",
            "sweep",
            "--lambda",
            "0,1",
            "--penalty",
            "mmd,sinkhorn",
        ])
        .args(["--set", "training.epochs=1", "--config"])
        .arg(&cfg)
        .arg("--out")
        .arg(&out)
        .args(extra);
        cmd
    };
    let sweep = |extra: &[&str]| sweep_cmd(extra).assert().success();
    sweep(&[]);
    let names = [
        "mmd-lambda0-seed1",
        "mmd-lambda1-seed1",
        "sinkhorn-lambda0-seed1",
        "sinkhorn-lambda1-seed1",
    ];
    for name in names {
        let r = report(&out.join(name));
        assert_eq!(r["epochs"], 1, "{name}");
        assert_eq!(
            r["penalty"]["kind"],
            name.split('-').next().unwrap(),
            "{name}"
        );
        assert_eq!(
            r["lambda"],
            if name.contains("lambda1") { 1.0 } else { 0.0 }
        );
    }
    let summary: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("sweep.json")).unwrap()).unwrap();
    assert_eq!(summary.as_array().unwrap().len(), 4);
    let again = sweep(&[]);
    let stderr = String::from_utf8_lossy(&again.get_output().stderr).to_string();
    assert_eq!(stderr.matches("done already").count(), 4, "{stderr}");
    sweep(&["--emit", "slurm"]);
    let script = std::fs::read_to_string(out.join("sweep.slurm")).unwrap();
    assert!(script.contains("#SBATCH --array=0-3"), "{script}");
    for name in names {
        assert!(script.contains(name), "{script}");
    }
    // A kind's own grid replaces --lambda for that kind only.
    sweep(&["--emit", "slurm", "--lambda-for", "sinkhorn=0.01,0.03,0.1"]);
    let script = std::fs::read_to_string(out.join("sweep.slurm")).unwrap();
    assert!(script.contains("#SBATCH --array=0-4"), "{script}");
    for name in [
        "mmd-lambda0-seed1",
        "mmd-lambda1-seed1",
        "sinkhorn-lambda0.01-seed1",
        "sinkhorn-lambda0.03-seed1",
        "sinkhorn-lambda0.1-seed1",
    ] {
        assert!(script.contains(name), "{script}");
    }
    assert!(!script.contains("sinkhorn-lambda1-"), "{script}");
    for (bad, needle) in [
        ("adversarial=1", "not one of --penalty"),
        ("sinkhorn", "KIND="),
        ("sinkhorn=0,-1", "λ must be ≥ 0"),
    ] {
        sweep_cmd(&["--emit", "slurm", "--lambda-for", bad])
            .assert()
            .code(2)
            .stderr(predicate::str::contains(needle));
    }
    fairrep()
        .args([
            "-q",
            "sweep",
            "--penalty",
            "mmd,sinkhorn",
            "--lambda-for",
            "mmd=0,1",
        ])
        .args(["--emit", "slurm", "--config"])
        .arg(&cfg)
        .arg("--out")
        .arg(&out)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no λ for `sinkhorn`"));
}

/// `audit`: with the penalty, the representation tells less about the group — smaller MMD² and
/// Sinkhorn divergence, and linear, MLP and tree probes closer to chance — than without it.
#[test]
fn audit_measures_what_the_representation_reveals() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = config_in(tmp.path(), &[SHORT]);
    let mut audits = Vec::new();
    for lambda in ["0", "1"] {
        let run = tmp.path().join(format!("l{lambda}"));
        train_cmd(&cfg, &run, &["--set", &format!("penalty.lambda={lambda}")])
            .assert()
            .success();
        fairrep()
            .args(["-q", "audit", "--run"])
            .arg(&run)
            .assert()
            .success()
            .stdout(predicate::str::contains("linear probe"));
        let a: Value =
            serde_json::from_str(&std::fs::read_to_string(run.join("audit.json")).unwrap())
                .unwrap();
        assert!(a["tasks"][0]["ci95"]["accuracy"].is_array(), "{a}");
        audits.push(a);
    }
    let get = |a: &Value, path: &[&str]| {
        path.iter()
            .fold(a.clone(), |v, k| match k.parse::<usize>() {
                Ok(i) => v[i].clone(),
                Err(_) => v[*k].clone(),
            })
            .as_f64()
            .unwrap()
    };
    for path in [
        &["divergences", "0", "mmd2"][..],
        &["divergences", "0", "sinkhorn"],
        &["probes", "0", "auc"],
        &["probes", "1", "auc"],
    ] {
        let (without, with) = (get(&audits[0], path), get(&audits[1], path));
        assert!(with < without, "{path:?}: λ = 1 {with}, λ = 0 {without}");
    }
    assert_eq!(audits[1]["probes"][0]["kind"], "linear");
    assert_eq!(audits[1]["probes"][1]["kind"], "mlp");
    assert_eq!(audits[1]["probes"][2]["kind"], "gbdt");
    // The trees see the group through the penalty less well too.
    let (without, with) = (
        get(&audits[0], &["probes", "2", "auc"]),
        get(&audits[1], &["probes", "2", "auc"]),
    );
    assert!(with < without, "gbdt probe: λ = 1 {with}, λ = 0 {without}");
    let auc = get(&audits[1], &["probes", "0", "auc"]);
    assert!(auc < 0.75, "linear probe AUC with the penalty: {auc}");
    // The non-linear adversary sees at least as much as the linear one without the penalty.
    let (lin, mlp) = (
        get(&audits[0], &["probes", "0", "auc"]),
        get(&audits[0], &["probes", "1", "auc"]),
    );
    assert!(mlp > lin - 0.02, "λ = 0: MLP probe AUC {mlp}, linear {lin}");
}

/// Training that explodes stops with exit 1 and a message naming the epoch, the step, the loss,
/// the checkpoint to resume from and what to change; nothing else is written. A run resumes
/// with a smaller learning rate (the optimisation may change on --resume, the experiment not).
#[test]
fn exploding_training_stops_and_resumes_with_a_smaller_learning_rate() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = config_in(tmp.path(), &[("epochs = 20", "epochs = 4")]);
    let out = tmp.path().join("boom");
    let assert = train_cmd(&cfg, &out, &["--set", "training.learning_rate=1000"])
        .assert()
        .code(1);
    let err = String::from_utf8_lossy(&assert.get_output().stderr).to_string();
    for needle in [
        "training diverged at epoch 1, step",
        "the constant predictor's",
        "no checkpoint to resume from",
        "training.learning_rate (now 1000)",
    ] {
        assert!(err.contains(needle), "`{needle}` not in: {err}");
    }
    assert!(!out.join("report.json").exists());

    // Interrupted after its second epoch, resumed with half the learning rate.
    let cut = tmp.path().join("cut");
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin!("fairrep"))
        .args(["-q", "train", "--config"])
        .arg(&cfg)
        .arg("--out")
        .arg(&cut)
        .spawn()
        .unwrap();
    let second = cut.join("checkpoints/epoch-0002/state.json");
    while !second.exists() {
        assert!(child.try_wait().unwrap().is_none(), "ended before the kill");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let other = train_cmd(&cfg, &cut, &["--resume", "--set", "model.representation=8"])
        .assert()
        .code(2);
    let err = String::from_utf8_lossy(&other.get_output().stderr).to_string();
    assert!(err.contains("only training.learning_rate"), "{err}");
    train_cmd(
        &cfg,
        &cut,
        &["--resume", "--set", "training.learning_rate=0.0005"],
    )
    .assert()
    .success();
    let resolved = std::fs::read_to_string(cut.join("config.toml")).unwrap();
    assert!(resolved.contains("learning_rate = 0.0005"), "{resolved}");
    let rates: Vec<f64> = epochs(&cut)
        .iter()
        .map(|e| num(e, "learning_rate"))
        .collect();
    assert_eq!(rates.len(), 4);
    assert!(rates[3] <= 0.0005 && rates[0] > 0.0005, "{rates:?}");
    assert!(cut.join("report.json").is_file());
}

/// Two `train` on one directory at once: the second exits 2 (with `--force`, and with
/// `--resume`), the first is untouched; a killed run's lock is gone, so `--resume` works.
#[test]
fn a_running_run_directory_is_locked() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = config_in(tmp.path(), &[("epochs = 20", "epochs = 6")]);
    let out = tmp.path().join("run");
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin!("fairrep"))
        .args(["-q", "train", "--config"])
        .arg(&cfg)
        .arg("--out")
        .arg(&out)
        .spawn()
        .unwrap();
    let first = out.join("checkpoints/epoch-0001/state.json");
    while !first.exists() {
        assert!(child.try_wait().unwrap().is_none(), "ended too early");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    for extra in [&["--force"][..], &["--resume"][..]] {
        let second = train_cmd(&cfg, &out, extra).assert().code(2);
        let err = String::from_utf8_lossy(&second.get_output().stderr).to_string();
        assert!(
            err.contains("being written by another fairrep run"),
            "{err}"
        );
    }
    assert!(
        child.try_wait().unwrap().is_none(),
        "the first run was disturbed"
    );
    child.kill().unwrap(); // SIGKILL: the operating system releases the lock
    child.wait().unwrap();
    train_cmd(&cfg, &out, &["--resume"]).assert().success();
    assert!(out.join("report.json").is_file());
    // A directory with only a lock file left in it counts as empty.
    let fresh = tmp.path().join("fresh");
    std::fs::create_dir(&fresh).unwrap();
    std::fs::write(fresh.join(".lock"), b"").unwrap();
    train_cmd(&cfg, &fresh, &["--set", "training.epochs=1"])
        .assert()
        .success();
}

/// A sweep survives one of its runs failing: the others go on, `sweep.json` records the failure
/// and its error, the sweep exits 1 naming it; run again, it retries only that one.
#[test]
fn a_sweep_survives_a_failing_run() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = config_in(tmp.path(), &[SHORT]);
    let out = tmp.path().join("sweep");
    // A directory with a checkpoints/ folder looks interrupted, but holds no run to resume.
    std::fs::create_dir_all(out.join("mmd-lambda0-seed1/checkpoints")).unwrap();
    let sweep = || {
        let mut cmd = fairrep();
        cmd.args(["-q", "sweep", "--lambda", "0,1", "--penalty", "mmd"])
            .args(["--set", "training.epochs=1", "--config"])
            .arg(&cfg)
            .arg("--out")
            .arg(&out);
        cmd
    };
    let failed = sweep().assert().code(1);
    let stderr = String::from_utf8_lossy(&failed.get_output().stderr).to_string();
    assert!(
        stderr.contains("1 of 2 runs failed: mmd-lambda0-seed1"),
        "{stderr}"
    );
    let summary: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("sweep.json")).unwrap()).unwrap();
    let entries = summary.as_array().unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0]["status"], "failed");
    assert!(
        entries[0]["error"]
            .as_str()
            .unwrap()
            .contains("not a fairrep run directory"),
        "{}",
        entries[0]
    );
    assert!(entries[0].get("report").is_none());
    assert_eq!(entries[1]["status"], "ran");
    assert!(out.join("mmd-lambda1-seed1/report.json").is_file());
    // Repaired, the sweep retries the failed run only.
    std::fs::remove_dir_all(out.join("mmd-lambda0-seed1")).unwrap();
    let again = sweep().assert().success();
    let stderr = String::from_utf8_lossy(&again.get_output().stderr).to_string();
    assert_eq!(stderr.matches("done already").count(), 1, "{stderr}");
    assert!(out.join("mmd-lambda0-seed1/report.json").is_file());
}

/// `training.validate_every = 2` over 5 epochs validates epochs 2, 4 and 5 (the last): the
/// others have null validation fields; `validation_rows` bounds the penalty's rows; report.json
/// and report.md say both. The steps are the same as with every-epoch validation (the same
/// training losses), and the last epoch's validation equals it too.
#[test]
fn validation_every_k_epochs_on_a_subsample_is_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = config_in(tmp.path(), &[("epochs = 20", "epochs = 5")]);
    let every = tmp.path().join("every");
    let sparse = tmp.path().join("sparse");
    train_cmd(&cfg, &every, &[]).assert().success();
    train_cmd(
        &cfg,
        &sparse,
        &[
            "--set",
            "training.validate_every=2",
            "--set",
            "training.validation_rows=500",
        ],
    )
    .assert()
    .success();
    let lines = |dir: &Path| -> Vec<Value> {
        std::fs::read_to_string(dir.join("metrics.jsonl"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let (a, b) = (lines(&every), lines(&sparse));
    assert_eq!((a.len(), b.len()), (5, 5));
    for (e, (x, y)) in a.iter().zip(&b).enumerate() {
        assert_eq!(x["task_loss"], y["task_loss"], "epoch {}", e + 1);
        let validated = [2, 4, 5].contains(&(e + 1));
        assert_eq!(y["valid_mmd2"].is_f64(), validated, "epoch {}: {y}", e + 1);
        assert_eq!(y["valid"].as_array().unwrap().is_empty(), !validated);
        assert!(x["valid_mmd2"].is_f64());
    }
    // The task metrics of a validation use every row, whatever validation_rows says.
    assert_eq!(a[4]["valid"], b[4]["valid"]);
    assert_ne!(a[4]["valid_mmd2"], b[4]["valid_mmd2"]);
    let r = report(&sparse);
    assert_eq!(r["validation"]["every"], 2);
    assert_eq!(r["validation"]["penalty_rows"], 500);
    assert_eq!(r["validation"]["rows"], r["splits"]["valid"]);
    assert_eq!(report(&every)["validation"]["every"], 1);
    let md = std::fs::read_to_string(sparse.join("report.md")).unwrap();
    assert!(
        md.contains("validated every 2 epoch(s), the penalty and MMD² yardstick on 500 of"),
        "{md}"
    );
    // Bad values are named.
    let e = train_cmd(
        &cfg,
        &tmp.path().join("bad"),
        &["--set", "training.validate_every=0"],
    )
    .assert()
    .code(2);
    let err = String::from_utf8_lossy(&e.get_output().stderr).into_owned();
    assert!(err.contains("training.validate_every"), "{err}");
}

/// The header-less Adult training file cut into three shards `dir/shards/part-{k}`, each written
/// by `write(path without extension, its text)`; the shards' directory.
fn adult_shards(dir: &Path, write: impl Fn(&Path, String)) -> PathBuf {
    use std::io::Read;
    let mut text = String::new();
    flate2::read::MultiGzDecoder::new(
        std::fs::File::open(repo().join("data/adult/adult.data.gz")).unwrap(),
    )
    .read_to_string(&mut text)
    .unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let shards = dir.join("shards");
    std::fs::create_dir(&shards).unwrap();
    for (k, part) in lines.chunks(lines.len() / 3 + 1).enumerate() {
        write(&shards.join(format!("part-{k}")), part.join("\n") + "\n");
    }
    shards
}

/// `[data] train` as shards: the Adult training file cut into three CSV.gz shards, named by a
/// glob pattern and by their directory, trains to the report of the single file (the same rows
/// in the same order); a pattern with no file is named.
#[test]
fn sharded_training_data_trains_as_the_single_file() {
    use std::io::Write;
    let tmp = tempfile::tempdir().unwrap();
    let whole = config_in(tmp.path(), &[SHORT]);
    let single = tmp.path().join("single");
    train_cmd(&whole, &single, &[]).assert().success();
    // Three shards of the header-less training file.
    let shards = adult_shards(tmp.path(), |path, text| {
        let f = std::fs::File::create(path.with_extension("csv.gz")).unwrap();
        let mut gz = flate2::write::GzEncoder::new(f, flate2::Compression::fast());
        gz.write_all(text.as_bytes()).unwrap();
        gz.finish().unwrap();
    });
    let data = repo().join("data/adult");
    let adult = format!("{}/adult.data.gz", data.to_str().unwrap());
    let strip = |mut r: Value| {
        for k in ["train_seconds", "total_seconds", "config"] {
            r.as_object_mut().unwrap().remove(k);
        }
        r
    };
    for (name, path) in [
        ("glob", format!("{}/part-*.csv.gz", shards.display())),
        ("dir", shards.display().to_string()),
    ] {
        let dir = tmp.path().join(name);
        std::fs::create_dir(&dir).unwrap();
        let cfg = dir.join("config.toml");
        std::fs::write(
            &cfg,
            std::fs::read_to_string(&whole)
                .unwrap()
                .replace(&adult, &path),
        )
        .unwrap();
        train_cmd(&cfg, &dir.join("run"), &[]).assert().success();
        assert_eq!(
            strip(report(&dir.join("run"))),
            strip(report(&single)),
            "{name}"
        );
    }
    // A pattern that matches nothing is named.
    let cfg = tmp.path().join("bad.toml");
    std::fs::write(
        &cfg,
        std::fs::read_to_string(&whole)
            .unwrap()
            .replace(&adult, &format!("{}/nothing-*.csv", shards.display())),
    )
    .unwrap();
    let e = train_cmd(&cfg, &tmp.path().join("bad"), &[])
        .assert()
        .failure();
    let err = String::from_utf8_lossy(&e.get_output().stderr).into_owned();
    assert!(err.contains("nothing-*.csv: no data file there"), "{err}");
}

/// `[data.stream]`: the Adult training file cut into three CSV shards trains streamed (windows
/// of 1,024 rows); a run killed within its second epoch, at a checkpoint whose window starts in
/// the middle of a shard, resumes to the uninterrupted run's results bit for bit; the report
/// says what was streamed.
#[test]
fn a_streamed_run_killed_within_a_shard_resumes_to_the_same_results() {
    let tmp = tempfile::tempdir().unwrap();
    let shards = adult_shards(tmp.path(), |path, text| {
        std::fs::write(path.with_extension("csv"), text).unwrap()
    });
    let adult = format!("{}/adult.data.gz", repo().join("data/adult").display());
    let base = config_in(tmp.path(), &[("epochs = 20", "epochs = 3")]);
    let cfg = tmp.path().join("streamed.toml");
    std::fs::write(
        &cfg,
        std::fs::read_to_string(&base)
            .unwrap()
            .replace(&adult, &shards.display().to_string())
            + "\n[data.stream]\nmode = \"always\"\nshuffle_rows = 1000\n",
    )
    .unwrap();
    let (full, cut) = (tmp.path().join("full"), tmp.path().join("cut"));
    let extra = [
        "--set",
        "training.checkpoint_every_steps=10",
        "--set",
        "training.batch_size=64",
        "--set",
        "transfer.baselines=false",
    ];
    // The last checkpoint within epoch 2 whose window starts past a shard's first row.
    let mid_shard = |run: &Path| {
        in_epoch_checkpoints(run)
            .into_iter()
            .filter(|n| n.starts_with("epoch-0002-step-"))
            .filter_map(|n| {
                let p = run.join("checkpoints").join(&n).join("state.json");
                let state: Value = serde_json::from_str(&std::fs::read_to_string(p).ok()?).ok()?;
                let w = &state["in_epoch"]["window"];
                (w["window"].as_u64()? >= 2 && w["row"].as_u64()? > 0).then_some(n)
            })
            .next_back()
    };
    kill_when_and_resume(&cfg, &full, &cut, &extra, |run| mid_shard(run).is_some());
    let r = report(&full);
    let streamed = &r["splits"]["streamed"];
    assert_eq!(streamed["shards"], 3);
    // As configured (the trainer rounds it up to 1,024, a multiple of the batch size).
    assert_eq!(streamed["shuffle_rows"], 1000);
    let rows = streamed["train_rows"].as_u64().unwrap();
    assert!((26_000..28_000).contains(&rows), "{rows}");
    assert_eq!(
        r["splits"]["train"].as_u64().unwrap(),
        rows,
        "all fitted on"
    );
    let md = std::fs::read_to_string(full.join("report.md")).unwrap();
    assert!(md.contains("streamed:"), "{md}");
    // A streamed run learns: its mean task loss falls epoch after epoch (as the in-memory run's
    // does: 0.6397, 0.6251, 0.6236 with these settings; streamed 0.6394, 0.6258, 0.6234).
    let losses: Vec<f64> = epochs(&full)
        .iter()
        .map(|e| e["task_loss"].as_f64().unwrap())
        .collect();
    assert!(losses.windows(2).all(|w| w[1] < w[0]), "{losses:?}");
    assert!(losses[2] < 0.635, "{losses:?}");
}
