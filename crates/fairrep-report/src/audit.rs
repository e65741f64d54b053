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
    /// One hidden layer of 128 ReLU units, Adam, 40 epochs, seeded.
    Mlp,
    /// Gradient-boosted trees (64 bins, learning rate 0.1): depth, fewest rows per leaf and
    /// rounds (up to 300) chosen on the validation split.
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
    /// Test balanced accuracy (mean of the rates right in the group and in the rest; 0.5: no
    /// better than chance, whatever the group sizes).
    #[serde(default)]
    pub balanced_accuracy: f64,
    /// Its 95% interval: Clopper–Pearson for each of the two rates at 97.5%.
    #[serde(default)]
    pub balanced_accuracy_ci95: Option<[f64; 2]>,
    /// Balanced accuracy on the validation split (what chooses the strongest probe).
    #[serde(default)]
    pub valid_balanced_accuracy: Option<f64>,
    /// The probe's settings, where chosen on the validation split (GBDT).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settings: Option<String>,
}

/// The strongest probe of one group: the one with the highest validation balanced accuracy,
/// and what its test balanced accuracy proves about the representation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StrongestProbe {
    /// The group told from the rest.
    pub group: String,
    /// The probe's model.
    pub kind: ProbeKind,
    /// Its test balanced accuracy.
    pub balanced_accuracy: f64,
    /// Its 95% interval.
    pub ci95: [f64; 2],
    /// A 95% lower bound on the total variation between the representation of the group and of
    /// the rest: `2 · lower − 1` (any classifier has TPR − FPR ≤ TV), and so on the largest
    /// demographic parity gap some downstream classifier of z reaches between them.
    pub tv_lower_bound: f64,
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
    /// A linear, an MLP and a GBDT probe per group (one group for two groups).
    pub probes: Vec<Probe>,
    /// Per group, the strongest probe and the lower bound it gives.
    #[serde(default)]
    pub strongest: Vec<StrongestProbe>,
    /// The run's warnings ([`crate::Report::warnings`]): near-constant heads, heads at the
    /// majority rate, a collapsed representation.
    #[serde(default)]
    pub warnings: Vec<String>,
}
