//! Round trips of the run-directory types, and the errors of files that are not what fairrep
//! writes.

use super::*;
use fairrep_config::PenaltySection;
use fairrep_data::Role;
use fairrep_metrics::regression::summarize_regression;
use fairrep_metrics::summarize_binary;

fn groups() -> Vec<String> {
    vec!["a".into(), "b".into()]
}

fn sample_report() -> Report {
    let y = [true, false, true, false, true, true];
    let p = [0.9, 0.2, 0.4, 0.6, 0.8, 0.7];
    let s = [0, 0, 0, 1, 1, 1];
    let mut binary = TaskMetrics::binary(
        "income",
        Role::Transfer,
        4.0 / 6.0,
        summarize_binary(&y, &p, 0.5, &s, &groups()).unwrap(),
    );
    if let TaskOutcome::Binary(b) = &mut binary.outcome {
        b.ci95 =
            Some(fairrep_metrics::bootstrap_intervals(&y, &p, 0.5, &s, &groups(), 20, 3).unwrap());
    }
    // A constant target: R² is NaN (written as null).
    let t = [1.0, 1.0, 1.0, 1.0, 1.0, 1.0];
    let regression = TaskMetrics::regression(
        "score",
        Role::Source,
        1.0,
        summarize_regression(&t, &p, &s, &groups(), Some((10, 1))),
    );
    Report {
        fairrep_version: "0.1.0".into(),
        config: "c.toml".into(),
        seed: 1,
        backend: "flex (CPU)".into(),
        device: "Flex".into(),
        burn_version: "0.22.1".into(),
        penalty: PenaltySection::default().resolved(),
        lambda: 0.5,
        groups: groups(),
        features: 3,
        splits: SplitSizes {
            train: 10,
            valid: 2,
            test: 6,
            dropped: [0, 1],
            streamed: None,
        },
        epochs: 2,
        train_seconds: 0.25,
        validation: None,
        total_seconds: 0.5,
        representation: RepresentationBias {
            mmd2: 0.125,
            sigma: f64::NAN,
            rows: 6,
            spread: None,
            initial_spread: None,
        },
        tasks: vec![regression, binary],
        postprocessed: vec![],
        baselines: vec![],
        unprocessing: vec![],
    }
}

/// Two JSON documents with the same keys, strings and nulls, and numbers equal to 1e-15
/// relative.
fn same_document(a: &serde_json::Value, b: &serde_json::Value, at: &str) {
    use serde_json::Value::*;
    match (a, b) {
        (Number(x), Number(y)) => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            assert!(
                (x - y).abs() <= 1e-15 * x.abs().max(1e-300),
                "{at}: {x} vs {y}"
            );
        }
        (Object(x), Object(y)) => {
            let keys = |m: &serde_json::Map<std::string::String, serde_json::Value>| {
                m.keys().cloned().collect::<Vec<_>>()
            };
            assert_eq!(keys(x), keys(y), "{at}");
            for (k, v) in x {
                same_document(v, &y[k], &format!("{at}.{k}"));
            }
        }
        (Array(x), Array(y)) => {
            assert_eq!(x.len(), y.len(), "{at}");
            for (i, (v, w)) in x.iter().zip(y).enumerate() {
                same_document(v, w, &format!("{at}[{i}]"));
            }
        }
        _ => assert_eq!(a, b, "{at}"),
    }
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn a_report_round_trips_with_its_task_kinds_and_nan() {
    let dir = tempfile::tempdir().unwrap();
    let r = sample_report();
    let text = serde_json::to_string_pretty(&r).unwrap();
    let path = write(dir.path(), "report.json", &text);
    let RunReport::Deep(back) = read_run_report(&path).unwrap() else {
        panic!("a deep report")
    };
    // Written again, the report is the same document: every field survived, every number to
    // the last bits serde_json's parser keeps (it may round the 17th digit).
    let again: serde_json::Value = serde_json::to_value(&back).unwrap();
    let first: serde_json::Value = serde_json::from_str(&text).unwrap();
    same_document(&first, &again, "report");
    assert!(back.representation.sigma.is_nan());
    let reg = back.tasks[0].as_regression().expect("a regression task");
    assert!(reg.summary.r2.is_nan());
    let bin = back.tasks[1].as_binary().expect("a binary task");
    assert_eq!(
        bin.summary.accuracy,
        r.tasks[1].as_binary().unwrap().summary.accuracy
    );
    assert!(text.contains("\"kind\": \"regression\"") && text.contains("\"kind\": \"binary\""));
}

#[test]
fn a_missing_or_renamed_field_names_the_file_and_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let text = serde_json::to_string_pretty(&sample_report()).unwrap();
    for (field, renamed) in [
        ("\"accuracy\"", "\"acc\""),
        ("\"rmse\"", "\"RMSE\""),
        ("\"train_seconds\"", "\"train_s\""),
        ("\"mmd2\"", "\"mmd\""),
    ] {
        let path = write(dir.path(), "report.json", &text.replacen(field, renamed, 1));
        let e = read_run_report(&path).unwrap_err().to_string();
        let name = field.trim_matches('"');
        assert!(
            e.contains("report.json") && e.contains(&format!("missing field `{name}`")),
            "{field}: {e}"
        );
    }
    // A null where a number is required is an error too, not a silent default.
    let path = write(
        dir.path(),
        "report.json",
        &text.replacen("\"seed\": 1", "\"seed\": null", 1),
    );
    assert!(read_run_report(&path).is_err());
}

#[test]
fn epoch_records_name_the_bad_line() {
    let dir = tempfile::tempdir().unwrap();
    let record = EpochRecord {
        epoch: 1,
        step: 4,
        task_loss: 0.5,
        penalty: f64::NAN,
        objective: 0.5,
        batches_without_pairs: 0,
        valid_penalty: f64::NAN,
        valid_mmd2: 0.2,
        valid_objective: f64::NAN,
        learning_rate: 1e-3,
        valid: vec![],
        elapsed_s: 0.1,
        train_s: 0.07,
        valid_s: 0.02,
    };
    let line = serde_json::to_string(&record).unwrap();
    assert!(line.contains("\"penalty\":null"), "{line}");
    // A line of an older fairrep, without the epoch's seconds.
    let older = line.replace(",\"train_s\":0.07,\"valid_s\":0.02", "");
    assert_ne!(older, line);
    let path = write(dir.path(), "metrics.jsonl", &format!("{line}\n{older}\n"));
    let back: Vec<EpochRecord> = read_json_lines(&path, "metrics file").unwrap();
    assert_eq!(back.len(), 2);
    assert!(back[0].valid_penalty.is_nan() && back[0].valid_mmd2 == 0.2);
    assert!(back[0].penalty.is_nan() && back[0].train_s == 0.07 && back[0].valid_s == 0.02);
    assert_eq!((back[1].train_s, back[1].valid_s), (0.0, 0.0));
    let broken = line.replace("\"step\"", "\"steps\"");
    let path = write(dir.path(), "metrics.jsonl", &format!("{line}\n{broken}\n"));
    let e = read_json_lines::<EpochRecord>(&path, "metrics file")
        .unwrap_err()
        .to_string();
    assert!(e.contains("line 2") && e.contains("`step`"), "{e}");
}

#[test]
fn transfer_heads_round_trip_and_predict_alike() {
    let x: Vec<f32> = vec![0.0, 1.0, 1.0, 0.0, 2.0, 1.0, -1.0, 0.5];
    let y = [true, false, true, false];
    let model = fairrep_heads::LogisticRegression::fit(&x, 2, &y, 1e-2).unwrap();
    let heads = vec![
        TransferHead {
            task: "t".into(),
            fitted: FittedHead::Logistic { model, ferm: None },
        },
        TransferHead {
            task: "r".into(),
            fitted: FittedHead::Ridge {
                ridge: fairrep_heads::RidgeRegression::fit(&x, 2, &[1.0, 2.0, 3.0, 4.0], 1e-3)
                    .unwrap(),
                scale: (10.0, 2.0),
            },
        },
    ];
    let text = serde_json::to_string(&heads).unwrap();
    let back: Vec<TransferHead> = serde_json::from_str(&text).unwrap();
    for (a, b) in heads.iter().zip(&back) {
        assert_eq!(a.task, b.task);
        for (p, q) in a.predict(&x).iter().zip(b.predict(&x)) {
            assert!((p - q).abs() <= 1e-14 * p.abs().max(1.0), "{p} vs {q}");
        }
    }
    assert!(matches!(back[1].fitted, FittedHead::Ridge { .. }));
}

#[test]
fn a_checkpoint_state_round_trips() {
    let s = CheckpointState {
        epoch: 3,
        step: 30,
        rng_word_pos: 1 << 70,
        best_objective: Some(0.25),
        since_best: 1,
        in_epoch: None,
    };
    let back: CheckpointState = serde_json::from_str(&serde_json::to_string(&s).unwrap()).unwrap();
    assert_eq!(back, s);
    let within = CheckpointState {
        in_epoch: Some(crate::EpochProgress {
            batches: 7,
            task: 4.5,
            penalty: None,
            without_pairs: 1,
            seconds: 0.25,
            window: Some(fairrep_data::WindowStart {
                window: 2,
                shard: 1,
                row: 4_096,
            }),
        }),
        ..s.clone()
    };
    let text = serde_json::to_string(&within).unwrap();
    assert_eq!(
        serde_json::from_str::<CheckpointState>(&text).unwrap(),
        within
    );
    // A checkpoint written before `in_epoch` existed is one at the end of an epoch.
    let old = r#"{"epoch": 3, "step": 30, "rng_word_pos": 5}"#;
    assert_eq!(
        serde_json::from_str::<CheckpointState>(old)
            .unwrap()
            .in_epoch,
        None
    );
}

/// The test table shows the worst head family's DDP and its family beside the task's own DDP,
/// and report.md shows the unprocessing baseline; both round-trip through report.json.
#[test]
fn the_worst_head_and_the_unprocessing_baseline_are_shown() {
    let mut r = sample_report();
    if let TaskOutcome::Binary(b) = &mut r.tasks[1].outcome {
        b.head_families = vec![
            FamilyMetrics {
                family: "logistic".into(),
                accuracy: Some(0.8),
                auc: None,
                ddp: b.summary.ddp,
            },
            FamilyMetrics {
                family: "mlp".into(),
                accuracy: Some(0.81),
                auc: None,
                ddp: Some(0.9123),
            },
        ];
        // The largest DDP of the task's head (0.6667) and the families.
        b.worst_ddp = Some(0.9123);
    }
    r.unprocessing = vec![Unprocessed {
        task: "income".into(),
        model: "GBDT".into(),
        points: vec![UnprocessedPoint {
            bound: Some(0.05),
            accuracy: 0.8123,
            ddp: 0.0456,
            tuning_ddp: 0.0499,
            thresholds: vec![0.4, 0.6],
        }],
    }];
    let table = task_table(&r.tasks);
    assert!(table.contains("| DDP | worst-head DDP |"), "{table}");
    let row = table.lines().find(|l| l.starts_with("| income")).unwrap();
    // The DDP with its bootstrap interval, then the worst head with its family.
    let ci = r.tasks[1]
        .as_binary()
        .unwrap()
        .ci95
        .as_ref()
        .unwrap()
        .ddp
        .unwrap();
    assert!(
        row.contains(&format!(
            "| 0.6667 [{:.4}, {:.4}] | 0.9123 (mlp) |",
            ci[0], ci[1]
        )),
        "{row}"
    );
    assert!(
        table.contains("[lo, hi]: 95% bootstrap interval"),
        "{table}"
    );
    let md = r.markdown();
    assert!(
        md.contains("| income | DDP ≤ 0.05 | 0.8123 | 0.0456 | 0.0499 |"),
        "{md}"
    );
    let back: Report = serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
    assert_eq!(back.unprocessing, r.unprocessing);
}

/// A binary transfer task of `n` rows whose head predicts positive for `positives` of them
/// (labels: `labels_pos` positives first), two groups alternating.
fn task_with(n: usize, positives: usize, labels_pos: usize) -> TaskMetrics {
    let y: Vec<bool> = (0..n).map(|i| i < labels_pos).collect();
    let p: Vec<f64> = (0..n)
        .map(|i| if i < positives { 0.9 } else { 0.1 })
        .collect();
    let s: Vec<usize> = (0..n).map(|i| i % 2).collect();
    let summary = summarize_binary(&y, &p, 0.5, &s, &groups()).unwrap();
    TaskMetrics::binary(
        "income",
        Role::Transfer,
        labels_pos as f64 / n as f64,
        summary,
    )
}

#[test]
fn a_head_that_predicts_one_class_is_flagged_with_its_share() {
    // 1,000 rows, 3 predicted positive: 99.7% negative (> 99%), DDP ≈ 0.
    let w = health::task_warnings(&[task_with(1000, 3, 250)]);
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(
        w[0].contains("predicts negative for 99.7% of the test rows"),
        "{w:?}"
    );
    assert!(w[0].contains("not evidence of fairness"), "{w:?}");
    // 11 positives: 98.9% negative, not near-constant; accuracy 0.761 vs majority 0.75 is
    // 0.011 above: no warning either.
    assert!(health::task_warnings(&[task_with(1000, 11, 250)]).is_empty());
}

#[test]
fn a_head_at_the_majority_rate_is_flagged_and_a_useful_one_is_not() {
    // 1,000 rows, 25% positive labels; the head gets the first 100 positives right and nothing
    // else: accuracy 0.85 (majority 0.75), selection rate 0.10. No warning.
    assert!(health::task_warnings(&[task_with(1000, 100, 250)]).is_empty());
    // 15 right: accuracy 0.765, more than 0.01 above the majority rate: no warning.
    assert!(health::task_warnings(&[task_with(1000, 15, 250)]).is_empty());
    // 9 right: accuracy 0.759, but 99.1% of the rows get one class: near-constant first.
    let w = health::task_warnings(&[task_with(1000, 9, 250)]);
    assert!(w[0].contains("99.1%"), "{w:?}");
    // 20 predicted positive, all wrong (the positive labels are the last 250 rows): accuracy
    // 0.730 under the majority rate, selection rate 0.02.
    let y: Vec<bool> = (0..1000).map(|i| i >= 750).collect();
    let p: Vec<f64> = (0..1000).map(|i| if i < 20 { 0.9 } else { 0.1 }).collect();
    let s: Vec<usize> = (0..1000).map(|i| i % 2).collect();
    let summary = summarize_binary(&y, &p, 0.5, &s, &groups()).unwrap();
    let t = TaskMetrics::binary("income", Role::Transfer, 0.25, summary);
    let w = health::task_warnings(&[t]);
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(
        w[0].contains("accuracy 0.7300 is not more than 0.01 above the majority rate 0.7500"),
        "{w:?}"
    );
}

#[test]
fn a_collapsed_representation_is_flagged_and_the_advice_names_a_smaller_lambda() {
    let mut r = sample_report();
    r.tasks.clear();
    r.representation.spread = Some(0.09);
    r.representation.initial_spread = Some(2.69);
    let w = r.warnings();
    assert_eq!(w.len(), 2, "{w:?}");
    assert!(
        w[0].contains("spread fell below 0.1")
            && w[0].contains("0.0900; the untrained encoder's 2.6900"),
        "{w:?}"
    );
    assert!(w[1].contains("penalty.lambda=0.05"), "{w:?}");
    assert!(
        r.markdown()
            .contains("## Warnings\n\n- the representation collapsed")
    );
    // A tenth of the spread is the line: 0.27 of 2.69 is not a collapse.
    r.representation.spread = Some(0.27);
    assert!(r.warnings().is_empty());
    // At λ = 0 there is no penalty to weaken: the warning without the advice.
    r.representation.spread = Some(0.09);
    r.lambda = 0.0;
    assert_eq!(r.warnings().len(), 1);
    assert_eq!(
        health::warning_lines(&r.warnings()),
        format!("WARNING: {}\n", r.warnings()[0])
    );
}

#[test]
fn source_heads_that_learned_nothing_mean_a_collapsed_representation() {
    let mut source = task_with(1000, 2, 250);
    source.role = Role::Source;
    let useful = task_with(1000, 100, 250);
    // One source task, near-constant: collapsed, whatever the spread.
    let w = health::run_warnings(std::slice::from_ref(&source), None, 1.0);
    assert!(
        w[0].starts_with("the representation collapsed: every source task's head"),
        "{w:?}"
    );
    assert_eq!(w.len(), 3, "{w:?}"); // collapse, the head, the advice
    // A useful transfer head does not change it; a useful source head does.
    let w = health::run_warnings(&[source.clone(), useful.clone()], None, 1.0);
    assert!(w[0].contains("collapsed"), "{w:?}");
    let mut useful_source = useful.clone();
    useful_source.role = Role::Source;
    let w = health::run_warnings(&[source, useful_source], None, 1.0);
    assert!(!w.iter().any(|w| w.contains("collapsed")), "{w:?}");
}

#[test]
fn the_sample_report_at_the_majority_rate_says_so_in_report_md() {
    // income: accuracy 4/6 with 4/6 positive labels.
    let md = sample_report().markdown();
    assert!(md.contains("## Warnings"), "{md}");
    assert!(
        md.contains(
            "task `income`: accuracy 0.6667 is not more than 0.01 above the majority rate 0.6667"
        ),
        "{md}"
    );
}
