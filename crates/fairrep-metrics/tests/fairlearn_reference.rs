//! Every metric against fairlearn 0.15 / scikit-learn 1.9 values (tests/fixtures/metrics.json,
//! copied from the project's shared reference set). Tolerance: 1e-12 absolute (the values are
//! ratios of small integers, so only float rounding separates the two).

use fairrep_metrics::*;
use serde_json::Value;

const TOL: f64 = 1e-12;

fn close(name: &str, case: &str, got: Option<f64>, want: &Value) {
    let want = want
        .as_f64()
        .unwrap_or_else(|| panic!("{case}/{name}: not a number"));
    let got = got.unwrap_or_else(|| panic!("{case}/{name}: undefined, fairlearn gives {want}"));
    assert!(
        (got - want).abs() <= TOL,
        "{case}/{name}: got {got}, fairlearn {want}"
    );
}

#[test]
fn all_three_cases_match_fairlearn() {
    let text = include_str!("fixtures/metrics.json");
    let doc: Value = serde_json::from_str(text).unwrap();
    let cases = doc["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 3);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let groups: Vec<String> = case["groups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g.as_str().unwrap().to_string())
            .collect();
        let bools = |key: &str| -> Vec<bool> {
            case[key]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_i64().unwrap() == 1)
                .collect()
        };
        let y_true = bools("y_true");
        let y_pred = bools("y_pred");
        let score: Vec<f64> = case["y_score"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        let group: Vec<usize> = case["sensitive"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| {
                groups
                    .iter()
                    .position(|g| g == v.as_str().unwrap())
                    .unwrap()
            })
            .collect();
        let f = MetricFrame::new(&y_true, &y_pred, &group, &groups).unwrap();

        for (rate, key) in [
            (Rate::SelectionRate, "selection_rate"),
            (Rate::Tpr, "tpr"),
            (Rate::Fpr, "fpr"),
            (Rate::Accuracy, "accuracy"),
        ] {
            for (g, v) in groups.iter().zip(f.rate_by_group(rate)) {
                close(key, name, v, &case["by_group"][key][g]);
            }
        }
        close(
            "overall selection",
            name,
            f.overall.selection_rate(),
            &case["overall"]["selection_rate"],
        );
        close(
            "overall tpr",
            name,
            f.overall.tpr(),
            &case["overall"]["tpr"],
        );
        close(
            "overall fpr",
            name,
            f.overall.fpr(),
            &case["overall"]["fpr"],
        );
        close(
            "dpd",
            name,
            demographic_parity_difference(&f),
            &case["demographic_parity_difference"],
        );
        close(
            "dpr",
            name,
            demographic_parity_ratio(&f),
            &case["demographic_parity_ratio"],
        );
        close(
            "eod",
            name,
            equalized_odds_difference(&f),
            &case["equalized_odds_difference"],
        );
        close(
            "eor",
            name,
            equalized_odds_ratio(&f),
            &case["equalized_odds_ratio"],
        );
        close(
            "eopd",
            name,
            equal_opportunity_difference(&f),
            &case["equal_opportunity_difference"],
        );
        close(
            "eopr",
            name,
            equal_opportunity_ratio(&f),
            &case["equal_opportunity_ratio"],
        );
        close("accuracy", name, f.overall.accuracy(), &case["accuracy"]);
        close(
            "balanced",
            name,
            f.overall.balanced_accuracy(),
            &case["balanced_accuracy"],
        );
        close(
            "auc",
            name,
            roc_auc(&y_true, &score).unwrap(),
            &case["roc_auc"],
        );

        // The report summary is the same engine: check it agrees.
        let s = summarize_binary(&y_true, &score, 0.5, &group, &groups).unwrap();
        close("summary auc", name, s.auc, &case["roc_auc"]);
    }
}
