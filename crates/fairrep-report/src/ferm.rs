//! `report.json` of a FERM run (`[method] kind = "ferm"`): for every task, the plain linear
//! model and linear FERM side by side.

use crate::run::{TaskMetrics, cell};
use fairrep_config::LinearLoss;
use serde::{Deserialize, Serialize};

/// One task: the plain linear model and FERM side by side.
#[derive(Debug, Clone, Serialize, Deserialize)]
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
    #[serde(deserialize_with = "fairrep_metrics::nan::f64")]
    pub train_positive_score_gap_linear: f64,
    /// The same with FERM (0 up to rounding: the constraint).
    #[serde(deserialize_with = "fairrep_metrics::nan::f64")]
    pub train_positive_score_gap_ferm: f64,
    /// Training split DEO (thresholded predictions), raw features.
    #[serde(deserialize_with = "Option::deserialize")]
    pub train_deo_linear: Option<f64>,
    /// Training split DEO, FERM.
    #[serde(deserialize_with = "Option::deserialize")]
    pub train_deo_ferm: Option<f64>,
}

/// `report.json` of a FERM run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FermReport {
    /// `"ferm"`.
    pub method: String,
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
    pub fairrep_version: String,
    /// Every task.
    pub tasks: Vec<FermTask>,
    /// Wall time of the fits and evaluations, seconds.
    pub seconds: f64,
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
                let m = m.as_binary().map(|b| &b.summary);
                s += &format!(
                    "| {} | {} | {} | {} | {} | {} | {} | {} | {:.2e} |\n",
                    t.task,
                    name,
                    cell(m.and_then(|m| m.accuracy)),
                    cell(m.and_then(|m| m.auc)),
                    cell(m.and_then(|m| m.ddp)),
                    cell(m.and_then(|m| m.deo)),
                    cell(m.and_then(|m| m.equalized_odds)),
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
