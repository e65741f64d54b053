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

use crate::config::{Config, LinearLoss};
use crate::error::TrainError;
use crate::report::{TaskMetrics, cell};
use crate::train::task_metrics;
use fairrep_data::{Prepared, Split};
use fairrep_heads::LogisticRegression;
use fairrep_methods::{Ferm, LinearSvm};
use serde::Serialize;

/// One task: the plain linear model and FERM side by side.
#[derive(Debug, Clone, Serialize)]
pub struct FermTask {
    /// Task name.
    pub task: String,
    /// Constraint directions removed from the features (groups − 1 unless dependent).
    pub rank: usize,
    /// Test metrics of the linear model on the raw features.
    pub linear: TaskMetrics,
    /// Test metrics of the linear model on the FERM features.
    pub ferm: TaskMetrics,
    /// Training split: max − min over groups of the mean decision value over positives
    /// (raw features).
    pub train_positive_score_gap_linear: f64,
    /// The same with FERM (0 up to rounding: the constraint).
    pub train_positive_score_gap_ferm: f64,
    /// Training split DEO (thresholded predictions), raw features.
    pub train_deo_linear: Option<f64>,
    /// Training split DEO, FERM.
    pub train_deo_ferm: Option<f64>,
}

/// `report.json` of a FERM run.
#[derive(Debug, Clone, Serialize)]
pub struct FermReport {
    /// `"ferm"`.
    pub method: &'static str,
    /// The linear classifier.
    pub loss: LinearLoss,
    /// The config file.
    pub config: String,
    /// Seed.
    pub seed: u64,
    /// Sensitive groups.
    pub groups: Vec<String>,
    /// Encoded features.
    pub features: usize,
    /// Rows of the training and test splits.
    pub rows: [usize; 2],
    /// fairrep's version.
    pub fairrep_version: &'static str,
    /// Every task.
    pub tasks: Vec<FermTask>,
    /// Wall time of the fits and evaluations, seconds.
    pub seconds: f64,
}

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
            LinearLoss::Logistic => {
                Linear::Logistic(LogisticRegression::fit(x, p, y, l2).map_err(|source| {
                    TrainError::Transfer {
                        task: task.to_string(),
                        source,
                    }
                })?)
            }
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
        let seed = config.seed ^ (t as u64).wrapping_mul(0x9E37_79B9);
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
                    .metrics
                    .deo,
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
        method: "ferm",
        loss,
        config: config_name.to_string(),
        seed: config.seed,
        groups: data.groups.clone(),
        features: p,
        rows: [train.n, test.n],
        fairrep_version: env!("CARGO_PKG_VERSION"),
        tasks,
        seconds: started.elapsed().as_secs_f64(),
    })
}

impl FermReport {
    /// `report.md`.
    pub fn markdown(&self) -> String {
        let mut s = format!(
            "# fairrep run: linear FERM\n\n\
             - config: `{}`\n- seed: {}\n- classifier: {:?} on {} features\n- groups: {}\n\
             - rows: train {}, test {}\n- time: {:.1} s\n\n## Test metrics\n\n\
             | task | model | accuracy | AUC | DDP | DEO | eq. odds | train DEO | train positive-score gap |\n\
             |---|---|---|---|---|---|---|---|---|\n",
            self.config,
            self.seed,
            self.loss,
            self.features,
            self.groups.join(", "),
            self.rows[0],
            self.rows[1],
            self.seconds
        );
        for t in &self.tasks {
            for (name, m, deo, gap) in [
                (
                    "linear",
                    &t.linear,
                    t.train_deo_linear,
                    t.train_positive_score_gap_linear,
                ),
                (
                    "FERM",
                    &t.ferm,
                    t.train_deo_ferm,
                    t.train_positive_score_gap_ferm,
                ),
            ] {
                let m = &m.metrics;
                s += &format!(
                    "| {} | {} | {} | {} | {} | {} | {} | {} | {:.2e} |\n",
                    t.task,
                    name,
                    cell(m.accuracy),
                    cell(m.auc),
                    cell(m.ddp),
                    cell(m.deo),
                    cell(m.equalized_odds),
                    cell(deo),
                    gap
                );
            }
        }
        s += "\nFERM: the features projected onto the orthogonal complement of the differences \
              between the groups' mean feature vectors over the positives (training split), so any \
              linear model has equal mean scores over the positives of every group there \
              (the positive-score gap; 0 up to rounding). DEO: equal opportunity difference.\n";
        s
    }
}
