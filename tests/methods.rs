//! End-to-end tests of the sibling methods: `[method] kind = "ferm"` runs and the
//! `fairrep barycenter` post-processing command.

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

fn fairrep() -> Command {
    Command::cargo_bin("fairrep").unwrap()
}

fn json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn ferm_run_meets_its_constraint_and_lowers_deo() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let cfg = repo().join("configs/adult_ferm.toml");
    for loss in ["hinge", "logistic"] {
        fairrep()
            .args(["-q", "train", "--force", "--config"])
            .arg(&cfg)
            .arg("--out")
            .arg(&out)
            .args(["--set", &format!("method.loss={loss}")])
            .assert()
            .success()
            .stdout(predicate::str::contains("| income | FERM |"));
        let r = json(&out.join("report.json"));
        assert_eq!(r["method"], "ferm");
        let t = &r["tasks"][0];
        assert_eq!(t["task"], "income");
        assert_eq!(t["rank"], 1);
        // The constraint: equal mean decision value over the positives of both groups on the
        // training split, up to rounding; the plain model is far from it.
        let gap_ferm = t["train_positive_score_gap_ferm"].as_f64().unwrap();
        let gap_linear = t["train_positive_score_gap_linear"].as_f64().unwrap();
        assert!(gap_ferm < 1e-6, "{loss}: FERM gap {gap_ferm}");
        assert!(gap_linear > 0.1, "{loss}: linear gap {gap_linear}");
        // On the test split: equal opportunity improves, accuracy stays within a point.
        let (l, f) = (&t["linear"], &t["ferm"]);
        let deo = |m: &Value| m["deo"].as_f64().unwrap();
        let acc = |m: &Value| m["accuracy"].as_f64().unwrap();
        assert!(deo(f) < 0.5 * deo(l), "{loss}: DEO {} → {}", deo(l), deo(f));
        assert!(
            acc(f) > acc(l) - 0.01,
            "{loss}: accuracy {} → {}",
            acc(l),
            acc(f)
        );
        assert!(
            f["ci95"]["deo"].is_array(),
            "bootstrap intervals are reported"
        );
        assert!(out.join("report.md").is_file() && out.join("config.toml").is_file());
    }
    // Commands that need an encoder refuse a FERM run, naming the key.
    fairrep()
        .args(["eval", "--run"])
        .arg(&out)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("method.kind"));
}

/// A CSV of scores: two groups, the second shifted by `shift`, deterministic.
fn scores_csv(path: &Path, n: usize, shift: f64, seed: u64) {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut uniform = || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut text = String::from("id,score,group\n");
    for i in 0..n {
        let g = if i % 3 == 0 { "b" } else { "a" };
        // Sum of 4 uniforms: a bell shape; group b shifted.
        let v: f64 = (0..4).map(|_| uniform()).sum::<f64>() + if g == "b" { shift } else { 0.0 };
        text += &format!("{i},{v},{g}\n");
    }
    std::fs::write(path, text).unwrap();
}

#[test]
fn barycenter_command_equalises_the_groups_score_distributions() {
    let dir = tempfile::tempdir().unwrap();
    let (cal, app, out) = (
        dir.path().join("cal.csv"),
        dir.path().join("apply.csv"),
        dir.path().join("out.csv"),
    );
    scores_csv(&cal, 6_000, 1.0, 1);
    scores_csv(&app, 6_000, 1.0, 2);
    let run = fairrep()
        .args([
            "barycenter",
            "--score",
            "score",
            "--group",
            "group",
            "--calibrate",
        ])
        .arg(&cal)
        .arg("--apply")
        .arg(&app)
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    let summary: Value = serde_json::from_slice(&run.get_output().stdout).unwrap();
    let (before, after) = (&summary["before"], &summary["after"]);
    assert!(before["ks"].as_f64().unwrap() > 0.5, "{before}");
    assert!(after["ks"].as_f64().unwrap() < 0.05, "{after}");
    assert!(after["w1"].as_f64().unwrap() < 0.05, "{after}");
    // Weights are the calibration proportions (1/3 of rows in group b).
    let w = summary["weights"].as_array().unwrap();
    assert!((w[1].as_f64().unwrap() - 1.0 / 3.0).abs() < 1e-3);
    // The applied file, with the fair score as an extra column, in order.
    let text = std::fs::read_to_string(&out).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("id,score,group,score_fair"));
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 6_000);
    assert!(rows[5].starts_with("5,"));
    // Group means meet near the weighted mean of the two groups' means (2 and 3).
    let mean_of = |g: &str| {
        let v: Vec<f64> = rows
            .iter()
            .filter(|r| r.split(',').nth(2) == Some(g))
            .map(|r| r.split(',').nth(3).unwrap().parse::<f64>().unwrap())
            .collect();
        v.iter().sum::<f64>() / v.len() as f64
    };
    let (ma, mb) = (mean_of("a"), mean_of("b"));
    assert!((ma - mb).abs() < 0.05, "{ma} vs {mb}");
    assert!((ma - (2.0 + 1.0 / 3.0)).abs() < 0.05, "{ma}");
}

#[test]
fn barycenter_command_names_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let (cal, app, out) = (
        dir.path().join("cal.csv"),
        dir.path().join("apply.csv"),
        dir.path().join("out.csv"),
    );
    scores_csv(&cal, 100, 1.0, 1);
    let cmd = |apply_text: &str, extra: &[&str]| {
        std::fs::write(&app, apply_text).unwrap();
        let mut c = fairrep();
        c.args([
            "barycenter",
            "--score",
            "score",
            "--group",
            "group",
            "--calibrate",
        ])
        .arg(&cal)
        .arg("--apply")
        .arg(&app)
        .arg("--out")
        .arg(&out)
        .args(extra);
        c.assert()
    };
    // A group that the calibration data does not have: file, line, value.
    cmd("id,score,group\n1,0.5,a\n2,0.7,c\n", &[])
        .code(2)
        .stderr(predicate::str::contains("line 3").and(predicate::str::contains("`c`")));
    // A score that is not a number.
    cmd("id,score,group\n1,high,a\n", &[])
        .code(2)
        .stderr(predicate::str::contains("line 2").and(predicate::str::contains("score")));
    // A missing column.
    cmd("id,value,group\n1,0.5,a\n", &[])
        .code(2)
        .stderr(predicate::str::contains("--score"));
    // A negative jitter.
    cmd("id,score,group\n1,0.5,a\n", &["--jitter", "-1"])
        .code(2)
        .stderr(predicate::str::contains("--jitter"));
    // A calibration group with a single score.
    std::fs::write(&cal, "id,score,group\n1,0.5,a\n2,0.6,a\n3,0.9,b\n").unwrap();
    cmd("id,score,group\n1,0.5,a\n", &[])
        .code(2)
        .stderr(predicate::str::contains(
            "group `b` has 1 calibration score",
        ));
    assert!(!out.exists(), "nothing is written on bad input");
}

#[test]
fn barycenter_post_processing_inside_a_run() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let cfg = repo().join("configs/quickstart.toml");
    let train = |extra: &[&str]| {
        let mut c = fairrep();
        c.args(["-q", "train", "--force", "--config"])
            .arg(&cfg)
            .arg("--out")
            .arg(&out)
            .args(["--set", "training.epochs=3"])
            .args(extra);
        c.assert()
    };
    train(&[
        "--set",
        "postprocess.kind=barycenter",
        "--set",
        "postprocess.tasks=[\"income\", \"married\"]",
    ])
    .success();
    let r = json(&out.join("report.json"));
    let post = r["postprocessed"].as_array().unwrap();
    let names: Vec<&str> = post.iter().map(|p| p["task"].as_str().unwrap()).collect();
    assert_eq!(names, ["married", "income"]);
    for p in post {
        let (before, after) = (
            p["before"]["ks"].as_f64().unwrap(),
            p["after"]["ks"].as_f64().unwrap(),
        );
        assert!(
            after < 0.08 && after < before,
            "{}: KS {before} → {after}",
            p["task"]
        );
        let raw = r["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == p["task"])
            .unwrap();
        let ddp = |m: &Value| m["ddp"].as_f64().unwrap();
        assert!(ddp(&p["metrics"]) < ddp(raw).max(0.02), "{}", p["task"]);
        assert!(p["metrics"]["ci95"]["ddp"].is_array());
    }
    assert!(
        std::fs::read_to_string(out.join("report.md"))
            .unwrap()
            .contains("| income | barycenter |")
    );
    // Without calibration data, or with an unknown task: exit 2, the key named.
    train(&[
        "--set",
        "postprocess.kind=barycenter",
        "--set",
        "data.validation_fraction=0.0",
    ])
    .code(2)
    .stderr(predicate::str::contains("postprocess.kind"));
    train(&[
        "--set",
        "postprocess.kind=barycenter",
        "--set",
        "postprocess.tasks=[\"incme\"]",
    ])
    .code(2)
    .stderr(predicate::str::contains("postprocess.tasks").and(predicate::str::contains("incme")));
}

#[test]
fn ferm_on_the_learned_representation_for_transfer_heads() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    fairrep()
        .args(["-q", "train", "--force", "--config"])
        .arg(repo().join("configs/quickstart.toml"))
        .arg("--out")
        .arg(&out)
        .args(["--set", "training.epochs=2", "--set", "transfer.ferm=true"])
        .assert()
        .success();
    let heads = json(&out.join("transfer_heads.json"));
    let heads = heads.as_array().unwrap();
    assert_eq!(heads.len(), 2);
    for h in heads {
        // One constraint (two groups) on the 16-dimensional representation; the L2-regularised
        // head fitted on the projected z has no component along it (the loss cannot see that
        // direction), so the head meets the constraint on the training split.
        let u: Vec<f64> = h["ferm"]["constraints"][0]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        let w: Vec<f64> = h["model"]["weights"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        assert_eq!((u.len(), w.len()), (16, 16));
        let dot: f64 = u.iter().zip(&w).map(|(a, b)| a * b).sum();
        let norm = |v: &[f64]| v.iter().map(|a| a * a).sum::<f64>().sqrt();
        assert!(
            dot.abs() < 1e-6 * norm(&u) * norm(&w),
            "{}: ⟨w, u⟩ = {dot}",
            h["task"]
        );
    }
}

#[test]
fn report_compares_runs_with_fronts_baselines_and_plots() {
    let dir = tempfile::tempdir().unwrap();
    let runs = dir.path().join("runs");
    for lambda in ["0", "1"] {
        fairrep()
            .args(["-q", "train", "--config"])
            .arg(repo().join("configs/quickstart.toml"))
            .arg("--out")
            .arg(runs.join(format!("l{lambda}")))
            .args([
                "--set",
                "training.epochs=2",
                "--set",
                &format!("penalty.lambda={lambda}"),
            ])
            .assert()
            .success();
    }
    // The λ = 1 run is certified: its point shows the certificate and the release's accuracy.
    fairrep()
        .args(["-q", "certify", "--run"])
        .arg(runs.join("l1"))
        .args(["--cells", "4"])
        .assert()
        .success();
    let out = dir.path().join("report");
    let reference = dir.path().join("published.csv");
    std::fs::write(
        &reference,
        "method,task,dp_bound,accuracy,source\n# made-up numbers, for the test\n\
         Method A,income,0.05,0.801,Someone (2024)\nMethod B,income,0.3,0.85,Someone else\n",
    )
    .unwrap();
    fairrep()
        .arg("report")
        .arg(&runs)
        .arg("--out")
        .arg(&out)
        .arg("--reference")
        .arg(&reference)
        .assert()
        .success()
        .stdout(predicate::str::contains("## income"))
        .stdout(predicate::str::contains("Accuracy at matched parity"))
        .stdout(predicate::str::contains("| Method A (Someone (2024)) |"))
        .stdout(predicate::str::contains("DP ≤ 0.3"))
        .stdout(predicate::str::contains("## married (source task)"));
    let svg = std::fs::read_to_string(out.join("pareto-income.svg")).unwrap();
    assert!(
        svg.contains("Method A") && svg.contains("majority rate"),
        "{svg}"
    );
    // Error bars from the bootstrap intervals, and whole epochs on the curves' axis.
    assert!(svg.contains("95% interval (median run)"), "{svg}");
    let curves = std::fs::read_to_string(out.join("curves.svg")).unwrap();
    let texts: Vec<&str> = curves
        .split("</text>")
        .filter_map(|t| t.rsplit('>').next())
        .map(str::trim)
        .collect();
    assert!(texts.contains(&"2") && !texts.contains(&"2.0"), "{texts:?}");
    let r = json(&out.join("report.json"));
    let income = &r["tasks"][0];
    assert_eq!(income["task"], "income");
    assert_eq!(income["role"], "transfer");
    assert!(income["majority"].as_f64().unwrap() > 0.7);
    // Matched parity on the worst head (the default --parity) first, then on the task's head.
    let bounds = |parity: &str| -> Vec<f64> {
        income["matched"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["parity"] == parity)
            .map(|m| m["bound"].as_f64().unwrap())
            .collect()
    };
    assert_eq!(bounds("worst"), [0.02, 0.05, 0.1, 0.3]);
    assert_eq!(bounds("logistic"), [0.02, 0.05, 0.1, 0.3]);
    assert_eq!(income["matched"][0]["parity"], "worst");
    assert_eq!(r["parity"], "worst");
    // The unprocessing baseline: one point per bound and one unconstrained, over the seeds.
    let unprocessing = income["unprocessing"].as_array().unwrap();
    assert_eq!(unprocessing.len(), 4, "{unprocessing:?}");
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(
        md.contains("Accuracy at matched parity, worst-head DDP")
            && md.contains("Accuracy at matched parity, DDP of the task's own head")
            && md.contains(
                "| unprocessing: GBDT on raw features + group thresholds (needs s at prediction) |"
            ),
        "{md}"
    );
    assert!(
        md.find("worst-head DDP (the largest").unwrap()
            < md.find("DDP of the task's own head").unwrap()
    );
    // One point is certified: the table of the certified release follows, with its row.
    assert!(
        md.contains("Accuracy at matched parity, certified DP of the quantised release"),
        "{md}"
    );
    let certified: Vec<&Value> = income["matched"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["parity"] == "certified")
        .collect();
    assert_eq!(certified.len(), 4);
    // A reference naming a task no run has, or a bad number: exit 2, named.
    std::fs::write(
        &reference,
        "method,task,dp_bound,accuracy,source\nX,charlson,0.05,0.7,Y\n",
    )
    .unwrap();
    fairrep()
        .arg("report")
        .arg(&runs)
        .arg("--out")
        .arg(dir.path().join("r2"))
        .arg("--reference")
        .arg(&reference)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("`charlson`"));
    let points = income["points"].as_array().unwrap();
    assert_eq!(points.len(), 2);
    // A comparison written into the runs' own directory is not taken for a run next time.
    let inside = runs.join("comparison");
    for _ in 0..2 {
        fairrep()
            .args(["-q", "report"])
            .arg(&runs)
            .arg("--out")
            .arg(&inside)
            .assert()
            .success();
        assert_eq!(
            json(&inside.join("report.json"))["runs"]
                .as_array()
                .unwrap()
                .len(),
            2
        );
    }
    let cert = json(&runs.join("l1/certificate.json"));
    let release = cert["heads"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["task"] == "income" && h["family"] == "cell_majority")
        .unwrap();
    for p in points {
        if p["lambda"] == 1.0 {
            assert_eq!(p["certified_dp"], cert["statements"][0]["upper_bound"]);
            assert_eq!(p["release_accuracy"], release["accuracy"]);
        } else {
            assert!(p["certified_dp"].is_null(), "{p}");
        }
    }
    // Every point says whether it is on the front; one at least is, and every point off the
    // front is dominated by one on it.
    let num = |p: &Value, k: &str| p[k].as_f64().unwrap_or_else(|| panic!("{k} of {p}"));
    let on = |p: &Value| {
        p["on_front"]
            .as_bool()
            .unwrap_or_else(|| panic!("on_front of {p}"))
    };
    assert!(points.iter().any(on), "{points:?}");
    for p in points.iter().filter(|p| !on(p)) {
        assert!(
            points.iter().filter(|q| on(q)).any(|q| num(q, "accuracy") >= num(p, "accuracy")
                && num(q, "ddp") <= num(p, "ddp")),
            "{p} is off the front but not dominated"
        );
    }
    assert_eq!(income["baselines"].as_array().unwrap().len(), 2);
    for svg in ["pareto-income.svg", "pareto-degree.svg", "curves.svg"] {
        let text = std::fs::read_to_string(out.join(svg)).unwrap();
        assert!(text.starts_with("<svg") && text.contains("</svg>"), "{svg}");
    }
    // Not a run: exit 2, the path named.
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    fairrep()
        .arg("report")
        .arg(&empty)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("neither a run directory"));
}

/// A CSV file with a header as Parquet: columns whose every cell is a number as Float64, the
/// others as strings.
fn csv_to_parquet(csv: &Path, out: &Path) {
    use fairrep_data::sink::{Column, Sink, Values};
    use fairrep_data::table::{ReadOptions, Table};
    let t = Table::read(csv, &ReadOptions::default()).unwrap();
    let columns: Vec<Column> = (t.columns.iter().enumerate())
        .map(|(c, name)| {
            let numbers: Option<Vec<Option<f64>>> =
                t.rows.iter().map(|r| r[c].parse().ok().map(Some)).collect();
            Column {
                name: name.clone(),
                values: match numbers {
                    Some(v) => Values::F64(v),
                    None => Values::Text(t.rows.iter().map(|r| Some(r[c].to_string())).collect()),
                },
            }
        })
        .collect();
    let mut sink = Sink::create(out, b',').unwrap();
    sink.write(&columns).unwrap();
    sink.finish().unwrap();
}

/// `barycenter` and `audit-predictions` read Parquet and `barycenter` writes it, with the numbers
/// of the same files as CSV.
#[test]
fn barycenter_and_audit_predictions_read_and_write_parquet() {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name);
    scores_csv(&p("cal.csv"), 2_000, 1.0, 3);
    scores_csv(&p("apply.csv"), 2_000, 1.0, 4);
    csv_to_parquet(&p("cal.csv"), &p("cal.parquet"));
    csv_to_parquet(&p("apply.csv"), &p("apply.parquet"));
    let bary = |cal: &str, app: &str, out: &str| -> Value {
        let run = fairrep()
            .args(["barycenter", "--score", "score", "--group", "group"])
            .arg("--calibrate")
            .arg(p(cal))
            .arg("--apply")
            .arg(p(app))
            .arg("--out")
            .arg(p(out))
            .assert()
            .success();
        serde_json::from_slice(&run.get_output().stdout).unwrap()
    };
    let a = bary("cal.csv", "apply.csv", "fair.csv");
    let b = bary("cal.parquet", "apply.parquet", "fair.parquet");
    for key in ["weights", "before", "after", "rows"] {
        assert_eq!(a[key], b[key], "{key}");
    }
    // The Parquet output holds the same rows and fair scores as the CSV one.
    let read = |path: &Path| {
        fairrep_data::table::Table::read(path, &fairrep_data::table::ReadOptions::default())
            .unwrap()
    };
    let (c, q) = (read(&p("fair.csv")), read(&p("fair.parquet")));
    assert_eq!(c.columns, q.columns);
    assert_eq!(c.rows.len(), 2_000);
    for (x, y) in c.rows.iter().zip(&q.rows) {
        let last = x.len() - 1;
        assert_eq!(x[0], y[0]);
        let (u, v): (f64, f64) = (x[last].parse().unwrap(), y[last].parse().unwrap());
        assert_eq!(u, v);
    }
    // .npy is refused for a table.
    fairrep()
        .args(["barycenter", "--score", "score", "--group", "group"])
        .arg("--calibrate")
        .arg(p("cal.csv"))
        .arg("--apply")
        .arg(p("apply.csv"))
        .arg("--out")
        .arg(p("fair.npy"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("not .npy"));

    // audit-predictions: a thresholded score as the prediction, from CSV and from Parquet.
    let mut text = String::from("y,pred,score,group\n");
    for (i, r) in c.rows.iter().enumerate() {
        let s: f64 = r[3].parse().unwrap();
        text += &format!("{},{},{s},{}\n", (i % 5 < 2) as u8, (s > 2.4) as u8, &r[2]);
    }
    std::fs::write(p("preds.csv"), text).unwrap();
    csv_to_parquet(&p("preds.csv"), &p("preds.parquet"));
    let audit = |file: &str| -> Value {
        let run = fairrep()
            .args(["audit-predictions", "--y-true", "y", "--y-pred", "pred"])
            .args(["--score", "score", "--group", "group", "--input"])
            .arg(p(file))
            .assert()
            .success();
        serde_json::from_slice(&run.get_output().stdout).unwrap()
    };
    let (x, y) = (audit("preds.csv"), audit("preds.parquet"));
    assert!(x["demographic_parity_difference"].is_number(), "{x}");
    assert_eq!(x, y);
}
