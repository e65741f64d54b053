//! `audit.json`: a run's bias audit — the outcome metrics of its tasks and what the
//! representation itself reveals about the sensitive group.

use crate::run::TaskMetrics;
use serde::{Deserialize, Serialize};

/// The model of a probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProbeKind {
    /// Logistic regression.
    Linear,
    /// One hidden layer of 32 ReLU units, Adam, 30 epochs, seeded.
    Mlp,
    /// Gradient-boosted trees (100 trees of depth 4, 64 bins, learning rate 0.1).
    Gbdt,
}

impl std::fmt::Display for ProbeKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ProbeKind::Linear => "linear",
            ProbeKind::Mlp => "mlp",
            ProbeKind::Gbdt => "gbdt",
        })
    }
}

/// The divergences between two groups' representations on the test split.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PairDivergence {
    /// First group.
    pub a: String,
    /// Second group.
    pub b: String,
    /// Biased MMD², Gaussian kernel, median-heuristic bandwidth (see `sigma`).
    #[serde(deserialize_with = "fairrep_metrics::nan::f64")]
    pub mmd2: f64,
    /// The bandwidth.
    #[serde(deserialize_with = "fairrep_metrics::nan::f64")]
    pub sigma: f64,
    /// Debiased Sinkhorn divergence, p = 2, blur 0.5 · RMS of z, GeomLoss's ε-schedule with
    /// scaling 0.9.
    #[serde(deserialize_with = "fairrep_metrics::nan::f64")]
    pub sinkhorn: f64,
}

/// A probe (an adversary) of one group against the rest.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Probe {
    /// The probe's model.
    pub kind: ProbeKind,
    /// The group told from the rest.
    pub group: String,
    /// Test accuracy.
    pub accuracy: f64,
    /// Test ROC AUC (0.5: the representation says nothing about the group).
    #[serde(deserialize_with = "Option::deserialize")]
    pub auc: Option<f64>,
    /// Accuracy of always answering the training split's majority class.
    pub majority_baseline: f64,
}

/// `audit.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Audit {
    /// The run directory.
    pub run: String,
    /// Outcome metrics of every task on the test split, with 95% bootstrap intervals.
    pub tasks: Vec<TaskMetrics>,
    /// Divergences between each pair of groups' test representations (at most 4,096 rows).
    pub divergences: Vec<PairDivergence>,
    /// A linear and an MLP probe per group (one group for two groups).
    pub probes: Vec<Probe>,
}
