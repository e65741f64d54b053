//! The shipped dataset configs against their data: every `configs/*.toml` must pass
//! `fairrep config --check` (files, columns, groups, tasks), and one single-file dataset trains.
//!
//! The datasets other than Adult are not in the repository: these tests find them through
//! `FAIRREP_DATA_DIR`, which `scripts/test.sh` sets (to ../shared/data when it exists, else to a
//! directory it fills with `scripts/fetch-datasets.sh`). Without it they fail, never skip.

use assert_cmd::Command;
use predicates::prelude::*;
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

fn data_dir() -> String {
    std::env::var("FAIRREP_DATA_DIR").unwrap_or_else(|_| {
        panic!(
            "FAIRREP_DATA_DIR is not set: run scripts/test.sh, or scripts/fetch-datasets.sh DIR \
             and export FAIRREP_DATA_DIR=DIR"
        )
    })
}

/// `fairrep train --config configs/NAME.toml --out OUT --set training.epochs=2`; its report.
fn train_two_epochs(name: &str, out: &Path) -> serde_json::Value {
    Command::cargo_bin("fairrep")
        .unwrap()
        .env("FAIRREP_DATA_DIR", data_dir())
        .args(["-q", "train", "--config"])
        .arg(repo().join(format!("configs/{name}.toml")))
        .arg("--out")
        .arg(out)
        .args(["--set", "training.epochs=2"])
        .assert()
        .success();
    serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap()
}

#[test]
fn every_shipped_config_checks_against_its_data() {
    let dir = data_dir();
    let mut configs: Vec<PathBuf> = std::fs::read_dir(repo().join("configs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    configs.sort();
    assert!(configs.len() >= 9, "{configs:?}");
    for cfg in &configs {
        let out = Command::cargo_bin("fairrep")
            .unwrap()
            .env("FAIRREP_DATA_DIR", &dir)
            .args(["-q", "config", "--check"])
            .arg(cfg)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}: {}",
            cfg.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains(": ok —"));
    }
}

#[test]
fn a_single_file_dataset_trains_with_a_seeded_test_split() {
    let tmp = tempfile::tempdir().unwrap();
    let run = |out: &str| {
        let out = tmp.path().join(out);
        let r = train_two_epochs("crime", &out);
        // The resolved config names the file actually read, the variable expanded.
        let cfg = std::fs::read_to_string(out.join("config.toml")).unwrap();
        assert!(!cfg.contains("$FAIRREP_DATA_DIR") && cfg.contains("crime.csv"));
        assert!(cfg.contains("test_fraction = 0.2"));
        r
    };
    let (a, b) = (run("a"), run("b"));
    // 1,993 rows: 399 test (20%), then 10% of the rest for validation.
    assert_eq!(a["splits"]["test"], 399);
    assert_eq!(a["splits"]["valid"], 159);
    assert_eq!(a["splits"]["train"], 1435);
    assert_eq!(a["tasks"], b["tasks"], "same seed, same split, same result");
    // The source task is a regression (squared-error head): regression metrics with intervals,
    // better than predicting the mean; the barycenter post-processing narrows the groups' gap.
    let t = &a["tasks"][0];
    assert_eq!(t["name"], "violent_crimes");
    assert_eq!(t["kind"], "regression");
    assert!(t["r2"].as_f64().unwrap() > 0.3, "{t}");
    assert!(t["ci95"]["rmse"].is_array() && t["ci95"]["ks"].is_array());
    assert!(
        t.get("accuracy").is_none(),
        "no classification metrics for a regression task"
    );
    let p = &a["postprocessed"][0];
    assert_eq!(p["task"], "violent_crimes");
    let (before, after) = (
        p["before"]["ks"].as_f64().unwrap(),
        p["after"]["ks"].as_f64().unwrap(),
    );
    assert!(after < 0.5 * before, "KS {before} → {after}");
    assert_eq!(p["after"]["ks"], p["metrics"]["ks"]);
    // Without the variable: exit 2, and the message says what to do.
    Command::cargo_bin("fairrep")
        .unwrap()
        .env_remove("FAIRREP_DATA_DIR")
        .args(["config", "--check"])
        .arg(repo().join("configs/crime.toml"))
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("FAIRREP_DATA_DIR")
                .and(predicate::str::contains("fetch-datasets.sh")),
        );
}

#[test]
fn a_regression_transfer_task_gets_a_ridge_head_and_fair_post_processing() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("law");
    let r = train_two_epochs("law", &out);
    let zfya = r["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "zfya")
        .unwrap();
    assert_eq!(zfya["role"], "transfer");
    // ZFYA is a z-score: the ridge head on the frozen representation beats the mean (RMSE ≈ 1).
    assert_eq!(zfya["kind"], "regression");
    let rmse = zfya["rmse"].as_f64().unwrap();
    assert!(rmse < 0.98, "RMSE {rmse}");
    let heads: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("transfer_heads.json")).unwrap())
            .unwrap();
    assert!(heads[0]["ridge"]["weights"].is_array(), "{heads}");
    let p = &r["postprocessed"][0];
    let (before, after) = (
        p["before"]["ks"].as_f64().unwrap(),
        p["after"]["ks"].as_f64().unwrap(),
    );
    assert!(after < 0.1 && after < 0.5 * before, "KS {before} → {after}");
}

/// CelebA's 202,599-row attribute table trains end to end (one epoch): the 80/10/10 split, nine
/// held-out attributes with their heads and the raw-feature baselines, whose inputs reveal the
/// group (the raw-feature head's DDP on `attractive` is large) while the representation's
/// bias is reported.
#[test]
fn celeba_transfer_trains_on_the_attribute_table() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("celeba");
    Command::cargo_bin("fairrep")
        .unwrap()
        .env("FAIRREP_DATA_DIR", data_dir())
        .args(["-q", "train", "--config"])
        .arg(repo().join("configs/celeba_transfer.toml"))
        .arg("--out")
        .arg(&out)
        .args(["--set", "training.epochs=1"])
        .assert()
        .success();
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    let n = |k: &str| r["splits"][k].as_u64().unwrap();
    assert_eq!(n("train") + n("valid") + n("test"), 202_599);
    assert_eq!(n("test"), 40_520);
    assert_eq!(r["features"], 21);
    let transfer: Vec<&serde_json::Value> = r["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["role"] == "transfer")
        .collect();
    assert_eq!(transfer.len(), 9);
    let raw = r["baselines"][0]["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "attractive")
        .unwrap();
    assert!(raw["ddp"].as_f64().unwrap() > 0.3, "{raw}");
    assert!(r["representation"]["mmd2"].as_f64().unwrap().is_finite());
}
