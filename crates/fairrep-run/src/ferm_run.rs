//! `[method] kind = "ferm"`: linear FERM for every task of a config, next to the plain linear
//! model on the same features, splits and metrics.
//!
//! For each task: a linear classifier (`[method] loss`: logistic or hinge, L2 weight
//! `transfer.l2`) on the encoded features of the training split, and the same classifier on
//! the FERM-projected features ([`fairrep_methods::Ferm`], fitted on the training split with
//! the task's labels and the sensitive groups); both evaluated on the test split with the
//! report's metrics and bootstrap intervals. The training split's gap in mean decision value
//! over the positives of each group — the quantity FERM's constraint sets to zero — is reported
//! for both.

use crate::error::TrainError;
use crate::metrics::task_metrics;
use crate::seeds::{Stream, derive_seed};
use crate::transfer::logistic;
use fairrep_config::{Config, LinearLoss};
use fairrep_data::{Prepared, Split};
use fairrep_heads::LogisticRegression;
use fairrep_methods::{Ferm, LinearSvm};
use fairrep_report::{FermReport, FermTask};

/// A fitted linear classifier.
enum Linear {
    Logistic(LogisticRegression),
    Hinge(LinearSvm),
}

impl Linear {
    fn fit(
        loss: LinearLoss,
        x: &[f32],
        p: usize,
        y: &[bool],
        l2: f64,
        seed: u64,
        task: &str,
    ) -> Result<Self, TrainError> {
        Ok(match loss {
            LinearLoss::Logistic => Linear::Logistic(logistic(x, p, y, l2, task)?),
            // λ must be > 0 for the dual solver's box; transfer.l2 = 0 falls back to 1e-6.
            LinearLoss::Hinge => Linear::Hinge(LinearSvm::fit(x, p, y, l2.max(1e-6), seed)),
        })
    }

    /// `⟨w, x_i⟩ + b` for each row of `x`.
    fn decision(&self, x: &[f32]) -> Vec<f64> {
        match self {
            Linear::Hinge(svm) => svm.decision(x),
            Linear::Logistic(m) => x
                .chunks_exact(m.weights.len().max(1))
                .map(|r| {
                    r.iter()
                        .zip(&m.weights)
                        .map(|(&v, w)| f64::from(v) * w)
                        .sum::<f64>()
                        + m.bias
                })
                .collect(),
        }
    }
}

fn sigmoid(v: &[f64]) -> Vec<f64> {
    v.iter().map(|z| 1.0 / (1.0 + (-z).exp())).collect()
}

/// max − min over groups of the mean of `score` over the positives of each group.
fn positive_gap(score: &[f64], split: &Split, t: usize, groups: usize) -> f64 {
    let mut sums = vec![(0.0, 0usize); groups];
    for ((&v, &l), &g) in score.iter().zip(&split.labels[t]).zip(&split.s) {
        if l {
            sums[g].0 += v;
            sums[g].1 += 1;
        }
    }
    let means: Vec<f64> = sums
        .iter()
        .filter(|(_, c)| *c > 0)
        .map(|(s, c)| s / *c as f64)
        .collect();
    let (lo, hi) = means
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &m| {
            (lo.min(m), hi.max(m))
        });
    hi - lo
}

/// Runs linear FERM and the plain linear model for every task of `config`.
pub fn run(config: &Config, data: &Prepared, config_name: &str) -> Result<FermReport, TrainError> {
    let started = std::time::Instant::now();
    let (train, test) = (&data.train, &data.test);
    let (p, groups) = (train.p, data.groups.len());
    let (l2, threshold, loss) = (
        config.transfer.l2,
        config.transfer.threshold,
        config.method.loss,
    );
    let mut tasks = Vec::new();
    for (t, info) in data.tasks.iter().enumerate() {
        let y = &train.labels[t];
        let ferm =
            Ferm::fit(&train.x, p, y, &train.s, groups).map_err(|source| TrainError::Ferm {
                task: info.name.clone(),
                source,
            })?;
        let (xf_train, xf_test) = (ferm.transform(&train.x), ferm.transform(&test.x));
        let seed = derive_seed(config.seed, Stream::Task(t));
        let plain = Linear::fit(loss, &train.x, p, y, l2, seed, &info.name)?;
        let fair = Linear::fit(loss, &xf_train, p, y, l2, seed, &info.name)?;
        let evaluate = |m: &Linear, x_train: &[f32], x_test: &[f32]| {
            let d_train = m.decision(x_train);
            let test_probs = sigmoid(&m.decision(x_test));
            let train_probs = sigmoid(&d_train);
            (
                task_metrics(data, test, t, &test_probs, threshold, Some(seed)),
                positive_gap(&d_train, train, t, groups),
                task_metrics(data, train, t, &train_probs, threshold, None)
                    .as_binary()
                    .and_then(|b| b.summary.deo),
            )
        };
        let (linear, gap_linear, deo_linear) = evaluate(&plain, &train.x, &test.x);
        let (ferm_metrics, gap_ferm, deo_ferm) = evaluate(&fair, &xf_train, &xf_test);
        tasks.push(FermTask {
            task: info.name.clone(),
            rank: ferm.rank(),
            linear,
            ferm: ferm_metrics,
            train_positive_score_gap_linear: gap_linear,
            train_positive_score_gap_ferm: gap_ferm,
            train_deo_linear: deo_linear,
            train_deo_ferm: deo_ferm,
        });
    }
    Ok(FermReport {
        method: "ferm".into(),
        loss,
        config: config_name.to_string(),
        seed: config.seed,
        groups: data.groups.clone(),
        features: p,
        rows: [train.n, test.n],
        fairrep_version: env!("CARGO_PKG_VERSION").into(),
        tasks,
        seconds: started.elapsed().as_secs_f64(),
    })
}
