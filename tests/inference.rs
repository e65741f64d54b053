//! End-to-end tests of `fairrep encode`, `predict` and `export`, and of Parquet data, on a
//! short quickstart run (Adult).

use assert_cmd::Command;
use fairrep_data::sink::{Column, Sink, Values};
use fairrep_data::table::{ReadOptions, Table};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

fn fairrep() -> Command {
    Command::cargo_bin("fairrep").unwrap()
}

/// The quickstart config, 2 epochs, absolute data paths, with `edits`, written into `dir`.
fn config_in(dir: &Path, edits: &[(&str, &str)]) -> PathBuf {
    let data = repo().join("data/adult");
    let mut text = std::fs::read_to_string(repo().join("configs/quickstart.toml"))
        .unwrap()
        .replace("../data/adult", data.to_str().unwrap())
        .replace("epochs = 20", "epochs = 2");
    for (from, to) in edits {
        assert!(text.contains(from), "the quickstart config has no `{from}`");
        text = text.replace(from, to);
    }
    let path = dir.join("config.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn train(cfg: &Path, out: &Path) {
    fairrep()
        .args(["-q", "train", "--config"])
        .arg(cfg)
        .arg("--out")
        .arg(out)
        .assert()
        .success();
}

/// One short quickstart run shared by the tests of this file (trained once).
fn run() -> &'static Path {
    static RUN: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let (_, out) = RUN.get_or_init(|| {
        let tmp = tempfile::tempdir().unwrap();
        let cfg = config_in(tmp.path(), &[]);
        let out = tmp.path().join("run");
        train(&cfg, &out);
        (tmp, out)
    });
    out
}

fn json_file(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn task<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == name)
        .unwrap()
}

/// A CSV file as a header and rows of trimmed cells.
fn read_csv(path: &Path, header: bool, skip: usize) -> (Vec<String>, Vec<Vec<String>>) {
    let t = Table::read(
        path,
        &ReadOptions {
            delimiter: b',',
            skip_rows: skip,
            columns: None,
            header,
            null: "",
        },
    )
    .unwrap();
    let rows = t
        .rows
        .iter()
        .map(|r| r.iter().map(str::to_string).collect())
        .collect();
    (t.columns, rows)
}

const ADULT_COLUMNS: [&str; 15] = [
    "age",
    "workclass",
    "fnlwgt",
    "education",
    "education-num",
    "marital-status",
    "occupation",
    "relationship",
    "race",
    "sex",
    "capital-gain",
    "capital-loss",
    "hours-per-week",
    "native-country",
    "income",
];

fn run_predict(input: &Path, out: &Path, extra: &[&str]) -> Value {
    let o = fairrep()
        .args(["-q", "predict", "--run"])
        .arg(run())
        .arg("--input")
        .arg(input)
        .arg("--out")
        .arg(out)
        .args(extra)
        .arg("--json")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

#[test]
fn predict_reproduces_the_reports_accuracy_and_encode_the_transfer_heads_input() {
    let tmp = tempfile::tempdir().unwrap();
    let test = repo().join("data/adult/adult.test.gz");
    let preds = tmp.path().join("p.csv");
    let summary = run_predict(&test, &preds, &["--skip-rows", "1", "--evaluate"]);
    let (_, raw) = read_csv(&test, false, 1);
    let (head, out) = read_csv(&preds, true, 0);
    // No shifted rows: one output row per input row.
    assert_eq!(out.len(), raw.len());
    assert_eq!(summary["rows"]["rows"], raw.len() as u64);
    let col = |name: &str| head.iter().position(|c| c == name).unwrap();
    let report = json_file(&run().join("report.json"));
    // The rows the report counts: no "?" in any column the run uses (all but education).
    let counted: Vec<usize> = (0..raw.len())
        .filter(|&i| {
            raw[i]
                .iter()
                .enumerate()
                .all(|(c, v)| ADULT_COLUMNS[c] == "education" || v != "?")
        })
        .collect();
    assert_eq!(counted.len(), 15060);
    let income = ADULT_COLUMNS.iter().position(|&c| c == "income").unwrap();
    for (name, label) in [
        (
            "income",
            Box::new(|r: &Vec<String>| r[income].starts_with(">50K"))
                as Box<dyn Fn(&Vec<String>) -> bool>,
        ),
        (
            "married",
            Box::new(|r: &Vec<String>| r[5].starts_with("Married-")),
        ),
    ] {
        let pc = col(&format!("{name}_pred"));
        let right = counted
            .iter()
            .filter(|&&i| (out[i][pc] == "1") == label(&raw[i]))
            .count();
        let accuracy = right as f64 / counted.len() as f64;
        let reported = task(&report, name)["accuracy"].as_f64().unwrap();
        assert!(
            (accuracy - reported).abs() <= 1e-9,
            "{name}: predict {accuracy}, report {reported}"
        );
    }
    // Rows with "?" in a feature column are written with empty fields (missing = drop_rows).
    let dropped = (0..raw.len())
        .filter(|&i| [1, 13].iter().any(|&c| raw[i][c] == "?"))
        .count();
    assert!(dropped > 0);
    assert_eq!(summary["rows"]["dropped"], dropped as u64);
    let empty = out
        .iter()
        .filter(|r| r[col("income_score")].is_empty())
        .count();
    assert_eq!(empty, dropped);
    // --evaluate: income measured on every row with features and a label, as from p.csv.
    let ev = &summary["evaluation"]["income"];
    let usable: Vec<usize> = (0..raw.len())
        .filter(|&i| !out[i][col("income_pred")].is_empty())
        .collect();
    assert_eq!(ev["n"], usable.len() as u64);
    let right = usable
        .iter()
        .filter(|&&i| (out[i][col("income_pred")] == "1") == raw[i][income].starts_with(">50K"))
        .count();
    let acc = ev["accuracy"].as_f64().unwrap();
    assert!((acc - right as f64 / usable.len() as f64).abs() < 1e-12);
    assert!(ev["demographic_parity_difference"].as_f64().unwrap() >= 0.0);
    // Without --json: the same numbers as a table, a line per task.
    let o = fairrep()
        .args(["-q", "predict", "--run"])
        .arg(run())
        .arg("--input")
        .arg(&test)
        .arg("--out")
        .arg(tmp.path().join("p2.csv"))
        .args(["--skip-rows", "1", "--evaluate"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    let row = text
        .lines()
        .find(|l| l.starts_with("| income |"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        row.starts_with(&format!("| income | {} | {acc:.4} |", usable.len())),
        "{row}"
    );
    assert!(
        text.starts_with(&format!("wrote {} rows to ", raw.len())),
        "{text}"
    );
    assert!(text.lines().count() < 20, "{text}");

    // encode gives the representation the transfer heads were fitted on: the income head's
    // logistic model on encode's z reproduces predict's income score.
    let z_path = tmp.path().join("z.csv");
    fairrep()
        .args(["-q", "encode", "--run"])
        .arg(run())
        .arg("--input")
        .arg(&test)
        .args(["--skip-rows", "1", "--keep", "age", "--out"])
        .arg(&z_path)
        .assert()
        .success();
    let (zh, z) = read_csv(&z_path, true, 0);
    assert_eq!(zh[0], "age");
    assert_eq!(zh[1..].len(), 16);
    assert_eq!(z.len(), raw.len());
    let heads = json_file(&run().join("transfer_heads.json"));
    let head = heads
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["task"] == "income")
        .unwrap();
    let w: Vec<f64> = head["model"]["weights"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    let b = head["model"]["bias"].as_f64().unwrap();
    let mut checked = 0;
    for i in 0..raw.len() {
        assert_eq!(z[i][0], raw[i][0], "kept column, row {i}");
        if z[i][1].is_empty() {
            assert!(out[i][col("income_score")].is_empty());
            continue;
        }
        let logit: f64 = b
            + (0..16)
                .map(|j| w[j] * z[i][1 + j].parse::<f64>().unwrap())
                .sum::<f64>();
        let p = 1.0 / (1.0 + (-logit).exp());
        let s: f64 = out[i][col("income_score")].parse().unwrap();
        assert!((p - s).abs() < 1e-6, "row {i}: {p} vs {s}");
        checked += 1;
    }
    assert_eq!(checked, usable.len());
}

/// Writes an Adult CSV file as Parquet: numbers as Int64 columns, text as strings.
fn adult_parquet(csv: &Path, skip: usize, out: &Path) {
    let cols: Vec<String> = ADULT_COLUMNS.iter().map(|s| s.to_string()).collect();
    let t = Table::read(
        csv,
        &ReadOptions {
            delimiter: b',',
            skip_rows: skip,
            columns: Some(&cols),
            header: false,
            null: "",
        },
    )
    .unwrap();
    let numeric = [0, 2, 4, 10, 11, 12];
    let columns: Vec<Column> = (0..cols.len())
        .map(|c| Column {
            name: cols[c].clone(),
            values: if numeric.contains(&c) {
                Values::Int(t.rows.iter().map(|r| Some(r[c].parse().unwrap())).collect())
            } else {
                Values::Text(t.rows.iter().map(|r| Some(r[c].to_string())).collect())
            },
        })
        .collect();
    let mut sink = Sink::create(out, b',').unwrap();
    sink.write(&columns).unwrap();
    sink.finish().unwrap();
}

#[test]
fn the_same_run_from_parquet_gives_the_same_report() {
    let tmp = tempfile::tempdir().unwrap();
    let data = repo().join("data/adult");
    adult_parquet(
        &data.join("adult.data.gz"),
        0,
        &tmp.path().join("train.parquet"),
    );
    adult_parquet(
        &data.join("adult.test.gz"),
        1,
        &tmp.path().join("test.parquet"),
    );
    let dir = tmp.path().join("pq");
    std::fs::create_dir(&dir).unwrap();
    let train_path = tmp.path().join("train.parquet");
    let test_path = tmp.path().join("test.parquet");
    let cfg = config_in(&dir, &[]);
    // The Parquet files name their columns and have no "|1x3" first line.
    let text = std::fs::read_to_string(&cfg).unwrap();
    let start = text.find("columns = [").unwrap();
    let end = start + text[start..].find(']').unwrap() + 1;
    let text = format!("{}{}", &text[..start], &text[end..])
        .replace(
            &format!("{}/adult.data.gz", data.display()),
            train_path.to_str().unwrap(),
        )
        .replace(
            &format!("{}/adult.test.gz\", skip_rows = 1", data.display()),
            &format!("{}\"", test_path.display()),
        );
    assert!(text.contains("test.parquet\" }"), "{text}");
    std::fs::write(&cfg, text).unwrap();
    let out = dir.join("run");
    train(&cfg, &out);
    let (a, b) = (
        json_file(&run().join("report.json")),
        json_file(&out.join("report.json")),
    );
    assert_eq!(a["tasks"], b["tasks"]);
    assert_eq!(a["representation"], b["representation"]);
    assert_eq!(a["baselines"], b["baselines"]);
    assert_eq!(a["splits"], b["splits"]);

    // predict and encode read and write Parquet too, with the same numbers as CSV.
    let p_csv = tmp.path().join("p.csv");
    let p_pq = tmp.path().join("p.parquet");
    run_predict(
        &repo().join("data/adult/adult.test.gz"),
        &p_csv,
        &["--skip-rows", "1"],
    );
    run_predict(&test_path, &p_pq, &["--header"]);
    let (h1, r1) = read_csv(&p_csv, true, 0);
    let t2 = Table::read(&p_pq, &ReadOptions::default()).unwrap();
    assert_eq!(h1, t2.columns);
    assert_eq!(r1.len(), t2.rows.len());
    for (a, b) in r1.iter().zip(&t2.rows) {
        for (x, y) in a.iter().zip(b.iter()) {
            match (x.parse::<f64>(), y.parse::<f64>()) {
                (Ok(u), Ok(v)) => assert_eq!(u, v),
                _ => assert_eq!(x, y),
            }
        }
    }
}

#[test]
fn encode_writes_npy_and_parquet_with_the_same_values() {
    let tmp = tempfile::tempdir().unwrap();
    let test = repo().join("data/adult/adult.test.gz");
    let enc = |out: &Path| {
        fairrep()
            .args(["-q", "encode", "--run"])
            .arg(run())
            .arg("--input")
            .arg(&test)
            .args(["--skip-rows", "1", "--batch-rows", "1000", "--out"])
            .arg(out)
            .assert()
            .success();
    };
    let (csv, pq, npy) = (
        tmp.path().join("z.csv"),
        tmp.path().join("z.parquet"),
        tmp.path().join("z.npy"),
    );
    enc(&csv);
    enc(&pq);
    enc(&npy);
    let (_, rows) = read_csv(&csv, true, 0);
    let bytes = std::fs::read(&npy).unwrap();
    let header = String::from_utf8_lossy(&bytes[10..128]).to_string();
    assert!(
        header.contains(&format!("'shape': ({}, 16)", rows.len())),
        "{header}"
    );
    let values: Vec<f32> = bytes[128..]
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    assert_eq!(values.len(), rows.len() * 16);
    let t = Table::read(&pq, &ReadOptions::default()).unwrap();
    for (i, row) in rows.iter().enumerate() {
        for j in 0..16 {
            let v = &values[i * 16 + j];
            if row[j].is_empty() {
                assert!(v.is_nan());
                assert_eq!(&t.rows[i][j], "");
            } else {
                let x: f32 = row[j].parse().unwrap();
                assert_eq!(x, *v);
                assert_eq!(t.rows[i][j].parse::<f32>().unwrap(), x);
            }
        }
    }
}

/// Runs `fairrep encode` on a file with a header line; returns (exit code, stdout, stderr).
fn encode_rows(dir: &Path, name: &str, body: &str) -> (i32, String, String, PathBuf) {
    let input = dir.join(name);
    std::fs::write(&input, body).unwrap();
    let out = dir.join(format!("{name}.z.csv"));
    let o = fairrep()
        .args(["encode", "--run"])
        .arg(run())
        .arg("--input")
        .arg(&input)
        .args(["--header", "--batch-rows", "2", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    (
        o.status.code().unwrap(),
        String::from_utf8_lossy(&o.stdout).to_string(),
        String::from_utf8_lossy(&o.stderr).to_string(),
        out,
    )
}

const HEADER: &str =
    "age,workclass,fnlwgt,relationship,race,sex,capital-gain,capital-loss,native-country,extra\n";
const GOOD: &str = "39,State-gov,77516,Not-in-family,White,Male,2174,0,United-States,x\n";

#[test]
fn rows_a_user_will_send() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    // A category never seen in training: all-zero one-hot, counted and warned per column; a
    // missing value under drop_rows: the row keeps its place with empty fields; a column the
    // run does not use (`extra`) is ignored.
    let body = format!(
        "{HEADER}{GOOD}39,Spaceship,77516,Not-in-family,White,Male,2174,0,Atlantis,x\n\
         39,?,77516,Not-in-family,White,Male,2174,0,United-States,x\n{GOOD}39,Spaceship,77516,Not-in-family,White,Male,2174,0,United-States,x\n"
    );
    let (code, stdout, stderr, out) = encode_rows(d, "odd.csv", &body);
    assert_eq!(code, 0, "{stderr}");
    let summary: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(summary["rows"]["rows"], 5);
    assert_eq!(summary["rows"]["dropped"], 1);
    assert_eq!(summary["rows"]["dropped_by_column"]["workclass"], 1);
    assert_eq!(summary["rows"]["unseen_categories"]["workclass"], 2);
    assert_eq!(summary["rows"]["unseen_categories"]["native-country"], 1);
    assert!(
        stderr.contains("`workclass`: 2 cell(s) with a category never seen in training"),
        "{stderr}"
    );
    let (_, rows) = read_csv(&out, true, 0);
    assert_eq!(rows.len(), 5);
    assert!(rows[2].iter().all(String::is_empty));
    assert_eq!(
        rows[0], rows[3],
        "the same row encodes the same in any chunk"
    );
    assert!(rows[1].iter().all(|v| !v.is_empty()));
    assert_ne!(rows[0], rows[1]);

    // Errors: exit 2, naming the file, the line and the column.
    let cases = [
        (
            "nocol.csv",
            "age,workclass\n39,State-gov\n".to_string(),
            vec![
                "nocol.csv",
                "no column `relationship`",
                "categorical feature",
            ],
        ),
        (
            "text.csv",
            format!(
                "{HEADER}{GOOD}forty,State-gov,77516,Not-in-family,White,Male,2174,0,United-States,x\n"
            ),
            vec![
                "text.csv",
                "line 3",
                "column `age`",
                "`forty` is not a finite number",
            ],
        ),
        (
            "empty.csv",
            String::new(),
            vec!["empty.csv", "no header line"],
        ),
        (
            "header.csv",
            HEADER.to_string(),
            vec!["header.csv", "no data rows"],
        ),
        (
            "ragged.csv",
            format!("{HEADER}{GOOD}39,State-gov\n"),
            vec!["ragged.csv", "line 3", "2 fields"],
        ),
    ];
    for (name, body, needles) in cases {
        let (code, _, stderr, out) = encode_rows(d, name, &body);
        assert_eq!(code, 2, "{name}: {stderr}");
        for n in needles {
            assert!(stderr.contains(n), "{name}: `{n}` not in {stderr}");
        }
        assert!(!out.exists(), "{name}: no output on error");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

#[test]
fn export_and_the_runs_of_older_fairrep() {
    let tmp = tempfile::tempdir().unwrap();
    let exp = tmp.path().join("export");
    fairrep()
        .args(["-q", "export", "--run"])
        .arg(run())
        .arg("--out")
        .arg(&exp)
        .assert()
        .success();
    let m = json_file(&exp.join("model.json"));
    assert_eq!(m["format"], "fairrep-export");
    assert_eq!(
        m["encoder"]["layers"][0]["weight"],
        "encoder.layers.0.weight"
    );
    assert_eq!(m["encoder"]["layers"][0]["d_out"], 64);
    assert_eq!(m["encoder"]["layers"][1]["d_in"], 64);
    assert_eq!(m["encoder"]["layers"][1]["d_out"], 16);
    assert_eq!(m["transfer_heads"].as_array().unwrap().len(), 2);
    // The safetensors header: names, dtypes and PyTorch's [out, in] shapes.
    let bytes = std::fs::read(exp.join("model.safetensors")).unwrap();
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: Value = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
    let p = m["preprocessing"]["features"].as_array().unwrap().len() as u64;
    assert_eq!(
        header["encoder.layers.0.weight"]["shape"],
        serde_json::json!([64, p])
    );
    assert_eq!(header["encoder.layers.0.weight"]["dtype"], "F32");
    assert_eq!(header["heads.weight"]["shape"], serde_json::json!([3, 16]));
    assert_eq!(
        header["transfer.income.weight"]["shape"],
        serde_json::json!([1, 16])
    );
    assert!(exp.join("fairrep_encoder.py").is_file());

    // A run directory without preprocessing.json (written before it existed): a clear message,
    // then `eval` writes it.
    let old = tmp.path().join("old");
    std::fs::create_dir(&old).unwrap();
    for f in std::fs::read_dir(run()).unwrap() {
        let f = f.unwrap().path();
        if f.is_file() && f.file_name().unwrap() != "preprocessing.json" {
            std::fs::copy(&f, old.join(f.file_name().unwrap())).unwrap();
        }
    }
    let o = fairrep()
        .args(["encode", "--run"])
        .arg(&old)
        .arg("--input")
        .arg(repo().join("data/adult/adult.test.gz"))
        .args(["--skip-rows", "1", "--out"])
        .arg(tmp.path().join("z.csv"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(
        e.contains("no preprocessing.json") && e.contains("fairrep eval --run"),
        "{e}"
    );
    fairrep()
        .args(["-q", "eval", "--run"])
        .arg(&old)
        .assert()
        .success();
    assert_eq!(
        json_file(&old.join("preprocessing.json")),
        json_file(&run().join("preprocessing.json"))
    );
}

/// `[data.sensitive] columns = ["sex", "race"]`: one group per combination present, named
/// "Female × White" …; `predict --evaluate` derives the same groups from a file's `sex` and
/// `race` columns, and its parity on the Adult test file equals the report's.
#[test]
fn intersectional_groups_train_and_evaluate() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = config_in(
        tmp.path(),
        &[(
            "column = \"sex\"\ngroups = [{ name = \"female\", values = [\"Female\"] }, { name = \"male\", values = [\"Male\"] }]",
            "columns = [\"sex\", \"race\"]",
        )],
    );
    let out = tmp.path().join("run");
    fairrep()
        .args(["-q", "train", "--config"])
        .arg(&cfg)
        .arg("--out")
        .arg(&out)
        .args([
            "--set",
            "penalty.lambda=0",
            "--set",
            "transfer.baselines=false",
        ])
        .assert()
        .success();
    let pre = json_file(&out.join("preprocessing.json"));
    assert_eq!(pre["sensitive"]["column"], "sex × race");
    let groups: Vec<String> = pre["sensitive"]["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(groups.len(), 10, "{groups:?}");
    assert!(groups.contains(&"Female × White".to_string()), "{groups:?}");
    assert!(
        groups.contains(&"Male × Amer-Indian-Eskimo".to_string()),
        "{groups:?}"
    );

    let o = fairrep()
        .args(["-q", "predict", "--run"])
        .arg(&out)
        .arg("--input")
        .arg(repo().join("data/adult/adult.test.gz"))
        .arg("--out")
        .arg(tmp.path().join("p.csv"))
        .args(["--skip-rows", "1", "--evaluate", "--json"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let summary: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(
        summary["evaluation"]["income"]["demographic_parity_difference"]
            .as_f64()
            .unwrap()
            > 0.0
    );
    // The report's parity over the groups, recomputed from predict's output on the rows the
    // report counts (no "?" in a column the run uses), with the groups from `sex` and `race`.
    let (_, raw) = read_csv(&repo().join("data/adult/adult.test.gz"), false, 1);
    let (head, pred) = read_csv(&tmp.path().join("p.csv"), true, 0);
    let at = |name: &str| ADULT_COLUMNS.iter().position(|&c| c == name).unwrap();
    let pc = head.iter().position(|c| c == "income_pred").unwrap();
    let mut rates: std::collections::BTreeMap<String, (usize, usize)> = Default::default();
    for (r, p) in raw.iter().zip(&pred) {
        let used = r
            .iter()
            .enumerate()
            .all(|(c, v)| ADULT_COLUMNS[c] == "education" || v != "?");
        if used {
            let e = rates
                .entry(format!("{} × {}", r[at("sex")], r[at("race")]))
                .or_default();
            (e.0, e.1) = (e.0 + usize::from(p[pc] == "1"), e.1 + 1);
        }
    }
    assert_eq!(rates.len(), 10);
    let sel: Vec<f64> = rates.values().map(|(k, n)| *k as f64 / *n as f64).collect();
    let ddp =
        sel.iter().cloned().fold(f64::MIN, f64::max) - sel.iter().cloned().fold(f64::MAX, f64::min);
    let report = json_file(&out.join("report.json"));
    let reported = task(&report, "income")["ddp"].as_f64().unwrap();
    assert!(
        (ddp - reported).abs() < 1e-9,
        "from predict {ddp}, report {reported}"
    );
}

fn number(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

/// `[certify] enabled = true` certifies after training; `fairrep certify` does it again with
/// other settings; `encode --cells` releases the cells, and the certificate's plug-in total
/// variation, recomputed from the released cells and the test file's `sex` column, is the
/// certificate's own; `export` carries the partition. Bad input exits 2 with a message.
#[test]
fn certify_the_quantised_release_and_release_its_cells() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = config_in(tmp.path(), &[]);
    let mut text = std::fs::read_to_string(&cfg).unwrap();
    text += "\n[certify]\nenabled = true\n";
    std::fs::write(&cfg, text).unwrap();
    let out = tmp.path().join("run");
    train(&cfg, &out);
    let cert = json_file(&out.join("certificate.json"));
    let partition = json_file(&out.join("partition.json"));
    assert_eq!(cert["cells"], partition["cells"]);
    // The grid when nothing is fixed: 6 cell counts × 2 leaf sizes × 6 fairness weights, and
    // 6 bisection steps of the weight where the projected bound crosses the target.
    let n = cert["candidates"].as_array().unwrap().len();
    assert!(
        (72..=72 + 12 * 6).contains(&n) && (n - 72).is_multiple_of(6),
        "{n}"
    );
    let report = json_file(&out.join("report.json"));
    let test_rows = report["splits"]["test"].as_u64().unwrap();
    let s = &cert["samples"];
    assert_eq!(
        s["base_rate"].as_u64().unwrap()
            + s["cells"].as_u64().unwrap()
            + s["average"].as_u64().unwrap(),
        test_rows
    );
    let statements = cert["statements"].as_array().unwrap();
    // Demographic parity, then equal opportunity and equalized odds for the 5 binary tasks.
    assert_eq!(statements.len(), 11);
    let dp = &statements[0];
    assert_eq!(dp["metric"], "demographic_parity");
    let bound = number(&dp["upper_bound"]);
    assert!(bound > 0.0 && bound <= 1.0, "{dp}");
    assert_eq!(number(&dp["confidence"]), 0.95);
    // Every head of the cells is under the bound or listed as a violation.
    let violations = cert["violations"].as_array().unwrap();
    for h in cert["heads"].as_array().unwrap() {
        let listed = violations.iter().any(|v| {
            v["what"]
                == format!(
                    "{} head, {}",
                    h["family"].as_str().unwrap(),
                    h["task"].as_str().unwrap()
                )
                && v["metric"] == "demographic_parity"
        });
        assert!(number(&h["ddp"]) <= bound || listed, "{h}");
    }

    // `fairrep certify` with fixed cells: 2 leaf sizes × 6 weights (+ bisection), at most 8 cells.
    let o = fairrep()
        .args(["certify", "--run"])
        .arg(&out)
        .args(["--cells", "8"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let printed = String::from_utf8_lossy(&o.stdout);
    assert!(printed.contains("| demographic parity | – |"), "{printed}");
    assert!(printed.contains("cell_majority"), "{printed}");
    let cert = json_file(&out.join("certificate.json"));
    let n = cert["candidates"].as_array().unwrap().len();
    assert!(
        (12..=12 + 2 * 6).contains(&n) && (n - 12).is_multiple_of(6),
        "{n}"
    );
    let cells = cert["cells"].as_u64().unwrap();
    assert!((2..=8).contains(&cells), "{cells}");

    // The released cells reproduce the certificate's plug-in total variation.
    let released = tmp.path().join("cells.csv");
    fairrep()
        .args(["-q", "encode", "--run"])
        .arg(&out)
        .arg("--input")
        .arg(repo().join("data/adult/adult.test.gz"))
        .args([
            "--skip-rows",
            "1",
            "--keep",
            "sex,occupation", // the same as `--keep sex --keep occupation`
            "--cells",
            "--out",
        ])
        .arg(&released)
        .assert()
        .success();
    let (header, rows) = read_csv(&released, true, 0);
    assert_eq!(header[..4], ["sex", "occupation", "cell", "cz0"]);
    let k = cells as usize;
    let (mut female, mut male) = (vec![0.0; k], vec![0.0; k]);
    let mut n = 0;
    for r in &rows {
        // Dropped for a missing feature (empty fields), or for a missing label of the
        // `professional` task (occupation `?`): not in the test split either.
        if r[2].is_empty() || r[1] == "?" {
            continue;
        }
        let c: usize = r[2].parse().unwrap();
        match r[0].as_str() {
            "Female" => female[c] += 1.0,
            "Male" => male[c] += 1.0,
            other => panic!("sex {other}"),
        }
        n += 1;
    }
    assert_eq!(n as u64, test_rows);
    let (nf, nm): (f64, f64) = (female.iter().sum(), male.iter().sum());
    let tv = 0.5
        * (0..k)
            .map(|c| (female[c] / nf - male[c] / nm).abs())
            .sum::<f64>();
    let plug_in = number(&cert["statements"][0]["plug_in"]);
    assert!((tv - plug_in).abs() < 1e-12, "{tv} vs {plug_in}");
    // The centroid columns are the partition's.
    let p = json_file(&out.join("partition.json"));
    let first = rows.iter().find(|r| !r[2].is_empty()).unwrap();
    let c: usize = first[2].parse().unwrap();
    let cz0: f64 = first[3].parse().unwrap();
    assert!((cz0 - number(&p["centroids"][c][0])).abs() < 1e-12);

    // The export carries the partition.
    let exp = tmp.path().join("export");
    fairrep()
        .args(["-q", "export", "--run"])
        .arg(&out)
        .arg("--out")
        .arg(&exp)
        .assert()
        .success();
    assert_eq!(json_file(&exp.join("model.json"))["partition"], p);

    // Bad input: exit 2 and a message naming what is wrong.
    let expect = |args: &[&str], needles: &[&str]| {
        let o = fairrep().args(args).output().unwrap();
        let e = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {e}");
        for n in needles {
            assert!(e.contains(n), "{args:?}: `{n}` not in {e}");
        }
        assert!(!e.contains("panicked"), "{e}");
    };
    let run_dir = out.to_str().unwrap();
    expect(
        &["certify", "--run", run_dir, "--delta", "2"],
        &["--delta", "2 is not in (0, 1)"],
    );
    expect(&["certify", "--run", run_dir, "--cells", "0"], &["--cells"]);
    expect(
        &[
            "certify",
            "--run",
            tmp.path().join("nothing").to_str().unwrap(),
        ],
        &["not a fairrep run directory", "no config.toml"],
    );
    std::fs::write(out.join("partition.json"), "{\"dim\": 16}").unwrap();
    expect(
        &[
            "encode", "--run", run_dir, "--input", "x.csv", "--cells", "--out", "y.csv",
        ],
        &["partition.json", "not a fairrep partition"],
    );
    let fresh = run();
    expect(
        &[
            "encode",
            "--run",
            fresh.to_str().unwrap(),
            "--input",
            "x.csv",
            "--cells",
            "--out",
            "y.csv",
        ],
        &["no partition.json", "fairrep certify --run"],
    );
}

/// The MMD² yardstick of the report (`representation.mmd2`, the test split's Gaussian MMD² with
/// the median bandwidth) recomputed by another path: `encode` the test file, split z by group,
/// and `fairrep divergence --kind mmd` (the same statistic, GeomLoss's conventions otherwise).
/// The test split (300 rows) is under the yardstick's 4,096-row cap, so both see every row.
#[test]
fn the_reports_mmd_yardstick_equals_the_divergence_command_on_encoded_rows() {
    let tmp = tempfile::tempdir().unwrap();
    let rows = |n: usize, seed: usize| {
        let mut out = String::from("a,b,c,s,y,t\n");
        for i in 0..n {
            let k = i * 7919 + seed;
            let s = if k.is_multiple_of(3) { "f" } else { "m" };
            // `a` depends on the group: z does too unless the penalty removes it all.
            let a = (k % 97) as f64 / 97.0 + if s == "f" { 0.4 } else { 0.0 };
            let b = ((k / 7) % 89) as f64 / 89.0;
            let c = ["red", "green", "blue"][(k / 5) % 3];
            let y = u8::from(a + b > 0.9);
            let t = u8::from(b > 0.5);
            out += &format!("{a},{b},{c},{s},{y},{t}\n");
        }
        out
    };
    std::fs::write(tmp.path().join("train.csv"), rows(900, 1)).unwrap();
    std::fs::write(tmp.path().join("test.csv"), rows(300, 2)).unwrap();
    let cfg = tmp.path().join("c.toml");
    std::fs::write(
        &cfg,
        r#"seed = 5
[data]
train = { path = "train.csv" }
test = { path = "test.csv" }
[data.features]
categorical = ["c"]
numeric = ["a", "b"]
[data.sensitive]
column = "s"
[[tasks]]
name = "y"
column = "y"
positive = { eq = "1" }
role = "source"
[[tasks]]
name = "t"
column = "t"
positive = { eq = "1" }
role = "transfer"
[model]
hidden = [8]
representation = 3
[penalty]
lambda = 0.1
[training]
epochs = 2
batch_size = 64
"#,
    )
    .unwrap();
    let out = tmp.path().join("run");
    train(&cfg, &out);
    let z = tmp.path().join("z.csv");
    fairrep()
        .args(["-q", "encode", "--run"])
        .arg(&out)
        .arg("--input")
        .arg(tmp.path().join("test.csv"))
        .args(["--header", "--keep", "s", "--out"])
        .arg(&z)
        .assert()
        .success();
    let (_, zrows) = read_csv(&z, true, 0);
    let (mut female, mut male) = (String::new(), String::new());
    for r in &zrows {
        let line = r[1..].join(",") + "\n";
        match r[0].as_str() {
            "f" => female += &line,
            _ => male += &line,
        }
    }
    let (fx, mx) = (tmp.path().join("f.csv"), tmp.path().join("m.csv"));
    std::fs::write(&fx, female).unwrap();
    std::fs::write(&mx, male).unwrap();
    let o = fairrep()
        .args(["-q", "divergence", "--kind", "mmd", "--x"])
        .arg(&fx)
        .arg("--y")
        .arg(&mx)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let d: Value = serde_json::from_slice(&o.stdout).unwrap();
    let report = json_file(&out.join("report.json"));
    let rep = &report["representation"];
    assert_eq!(rep["rows"], 300);
    let (ours, theirs) = (rep["mmd2"].as_f64().unwrap(), d["value"].as_f64().unwrap());
    assert!(ours > 1e-4, "the groups' z should differ: {ours}");
    // z is written as f32 text and the report computes in f32: agreement to f32 precision.
    assert!(
        (ours - theirs).abs() <= 1e-4 * theirs,
        "report {ours} vs divergence {theirs} (σ {} vs {})",
        rep["sigma"],
        d["sigmas"]
    );
    let (s1, s2) = (
        rep["sigma"].as_f64().unwrap(),
        d["sigmas"][0].as_f64().unwrap(),
    );
    assert!((s1 - s2).abs() <= 1e-4 * s2, "{s1} vs {s2}");
}
