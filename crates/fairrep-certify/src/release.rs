//! Classifiers of the released cells, measured against the certificate: each head family fitted
//! on the training split's one-hot cell ids, the cell-majority lookup table, and the group
//! adversary (the cell classifier with the largest demographic parity gap on the training
//! split). Their test gaps must sit below the certified bounds; one above is a violation.

use fairrep_heads::{Gbdt, GbdtSettings, LogisticRegression, MlpClassifier, MlpSettings};
use fairrep_metrics::{
    MetricFrame, demographic_parity_difference, equal_opportunity_difference,
    equalized_odds_difference,
};
use serde::{Deserialize, Serialize};

/// A head fitted on the cells, measured on the test split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CellHead {
    /// The task.
    pub task: String,
    /// `cell_majority`, `logistic`, `mlp` or `gbdt`.
    pub family: String,
    /// Test accuracy.
    pub accuracy: f64,
    /// The test split's majority rate (a constant head's accuracy).
    pub majority_rate: f64,
    /// Test demographic parity difference.
    pub ddp: f64,
    /// Test equal opportunity difference.
    pub deo: Option<f64>,
    /// Test equalized odds difference.
    pub equalized_odds: Option<f64>,
}

/// One-hot rows of cell ids, `[n, k]`.
pub fn one_hot(k: usize, cells: &[usize]) -> Vec<f32> {
    let mut x = vec![0f32; cells.len() * k];
    for (i, &c) in cells.iter().enumerate() {
        x[i * k + c] = 1.0;
    }
    x
}

/// The labelled rows of one split.
#[derive(Debug, Clone, Copy)]
pub struct Rows<'a> {
    /// Cell ids.
    pub cells: &'a [usize],
    /// Group ids.
    pub group: &'a [usize],
}

/// Every head family on each binary task (`(name, train labels, test labels)`).
pub fn heads(
    k: usize,
    train: Rows,
    test: Rows,
    names: &[String],
    tasks: &[(String, &[bool], &[bool])],
    seed: u64,
) -> Vec<CellHead> {
    let (xtr, xte) = (one_hot(k, train.cells), one_hot(k, test.cells));
    let mut out = Vec::new();
    for (t, (task, ytr, yte)) in tasks.iter().enumerate() {
        let mut scores: Vec<(&str, Vec<f64>)> = Vec::new();
        // The lookup table: each cell's majority label on the training split.
        let (mut pos, mut cnt) = (vec![0usize; k], vec![0usize; k]);
        for (&c, &y) in train.cells.iter().zip(ytr.iter()) {
            cnt[c] += 1;
            pos[c] += usize::from(y);
        }
        let overall = ytr.iter().filter(|&&y| y).count() * 2 >= ytr.len();
        let lookup: Vec<f64> = (0..k)
            .map(|c| {
                let p = if cnt[c] == 0 {
                    overall
                } else {
                    pos[c] * 2 >= cnt[c]
                };
                f64::from(u8::from(p))
            })
            .collect();
        scores.push((
            "cell_majority",
            test.cells.iter().map(|&c| lookup[c]).collect(),
        ));
        if let Ok(m) = LogisticRegression::fit(&xtr, k, ytr, 1e-4) {
            scores.push(("logistic", m.predict_proba(&xte)));
        }
        let mlp = MlpClassifier::fit(
            &xtr,
            k,
            ytr,
            MlpSettings {
                seed: seed.wrapping_add(t as u64),
                ..MlpSettings::default()
            },
        );
        scores.push(("mlp", mlp.predict_proba(&xte)));
        scores.push((
            "gbdt",
            Gbdt::fit(&xtr, k, ytr, GbdtSettings::default()).predict_proba(&xte),
        ));
        let positives = yte.iter().filter(|&&y| y).count() as f64 / yte.len().max(1) as f64;
        let majority_rate = positives.max(1.0 - positives);
        for (family, p) in scores {
            let pred: Vec<bool> = p.iter().map(|&v| v >= 0.5).collect();
            let Ok(frame) = MetricFrame::new(yte, &pred, test.group, names) else {
                continue;
            };
            out.push(CellHead {
                task: task.clone(),
                family: family.into(),
                accuracy: frame.overall.accuracy().unwrap_or(f64::NAN),
                majority_rate,
                ddp: demographic_parity_difference(&frame).unwrap_or(0.0),
                deo: equal_opportunity_difference(&frame),
                equalized_odds: equalized_odds_difference(&frame),
            });
        }
    }
    out
}

/// The group adversary's test demographic parity gap: for each pair of groups, the cells
/// where group a's share of its rows exceeds group b's on the training split are predicted 1;
/// the largest test gap over the pairs.
pub fn adversary_ddp(k: usize, train: Rows, test: Rows, groups: usize) -> f64 {
    let share = |rows: Rows, g: usize| {
        let mut c = vec![0.0; k];
        let mut n = 0.0;
        for (&cell, &gr) in rows.cells.iter().zip(rows.group) {
            if gr == g {
                c[cell] += 1.0;
                n += 1.0;
            }
        }
        (c, n)
    };
    let mut worst: f64 = 0.0;
    for a in 0..groups {
        for b in a + 1..groups {
            let ((ta, na), (tb, nb)) = (share(train, a), share(train, b));
            if na == 0.0 || nb == 0.0 {
                continue;
            }
            let h: Vec<bool> = (0..k).map(|c| ta[c] / na > tb[c] / nb).collect();
            let ((ea, ma), (eb, mb)) = (share(test, a), share(test, b));
            if ma == 0.0 || mb == 0.0 {
                continue;
            }
            let rate = |e: &[f64], m: f64| (0..k).filter(|&c| h[c]).map(|c| e[c]).sum::<f64>() / m;
            worst = worst.max((rate(&ea, ma) - rate(&eb, mb)).abs());
        }
    }
    worst
}
