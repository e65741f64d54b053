//! What a run reports: per-epoch records (`metrics.jsonl`) and the final report
//! (`report.json`, `report.md`).

use fairrep_metrics::BinarySummary;
use serde::Serialize;

/// One line of `metrics.jsonl`.
#[derive(Debug, Clone, Serialize)]
pub struct EpochRecord {
    /// 1-based epoch.
    pub epoch: usize,
    /// Optimiser steps so far.
    pub step: usize,
    /// Mean task loss over the epoch's batches.
    pub task_loss: f64,
    /// Mean penalty over the epoch's batches.
    pub penalty: f64,
    /// Mean of task loss + λ · penalty.
    pub objective: f64,
    /// Batches in which fewer than two groups were present (penalty 0).
    pub batches_without_pairs: usize,
    /// The Gaussian MMD² (median bandwidth) between the groups' representations on the
    /// validation split (at most 4,096 rows), whatever the training penalty: one yardstick for
    /// every penalty kind.
    pub valid_penalty: f64,
    /// Mean validation log-loss of the source tasks + λ · `valid_penalty` (the early-stopping
    /// and best-checkpoint criterion).
    pub valid_objective: f64,
    /// The learning rate of the epoch's last step.
    pub learning_rate: f64,
    /// Validation metrics of each source task.
    pub valid: Vec<TaskMetrics>,
    /// Seconds since the start of training.
    pub elapsed_s: f64,
}

/// The metrics of one task on one split. In JSON the summary's fields (`accuracy`, `auc`,
/// `ddp`, `deo`, `equalized_odds`, `balanced_accuracy`, `dp_ratio`, `by_group`) sit beside
/// `name`, `role` and `base_rate`.
#[derive(Debug, Clone, Serialize)]
pub struct TaskMetrics {
    /// Task name.
    pub name: String,
    /// `source` or `transfer`.
    pub role: String,
    /// Fraction of positive labels in the split.
    pub base_rate: f64,
    /// Accuracy, AUC, fairness gaps and per-group rates.
    #[serde(flatten)]
    pub metrics: BinarySummary,
    /// 95% bootstrap intervals of accuracy, AUC, DDP, DEO and equalized odds (test split).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ci95: Option<fairrep_metrics::Intervals>,
    /// A regression task's metrics (RMSE, MAE, R², KS and W1 between groups, with intervals);
    /// its classification fields are empty and `base_rate` is the mean target.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub regression: Option<fairrep_metrics::regression::RegressionSummary>,
}

impl TaskMetrics {
    /// Builds the record from a metrics summary.
    pub fn new(name: &str, role: &str, base_rate: f64, metrics: BinarySummary) -> Self {
        Self {
            name: name.to_string(),
            role: role.to_string(),
            base_rate,
            metrics,
            ci95: None,
            regression: None,
        }
    }
}

/// Sizes of the splits.
#[derive(Debug, Clone, Serialize)]
pub struct SplitSizes {
    /// Training rows.
    pub train: usize,
    /// Validation rows.
    pub valid: usize,
    /// Test rows.
    pub test: usize,
    /// Rows dropped for missing values (train file, test file).
    pub dropped: [usize; 2],
}

/// How much the representation still reveals the group, on the test split.
#[derive(Debug, Clone, Serialize)]
pub struct RepresentationBias {
    /// Penalty (mean pairwise MMD², median bandwidth) between the groups' test representations.
    pub mmd2: f64,
    /// The bandwidth used.
    pub sigma: f64,
    /// Rows used (a seeded subsample when the test split is larger than the cap).
    pub rows: usize,
}

/// `report.json`.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// fairrep's version.
    pub fairrep_version: String,
    /// The config file the run was started from.
    pub config: String,
    /// The seed.
    pub seed: u64,
    /// The backend and device.
    pub backend: String,
    /// The device the run used (burn's description of it).
    pub device: String,
    /// The burn version the binary was built with.
    pub burn_version: String,
    /// The penalty's settings, every option of its kind written out.
    pub penalty: crate::config::PenaltySection,
    /// λ.
    pub lambda: f64,
    /// Sensitive groups.
    pub groups: Vec<String>,
    /// Number of encoded features.
    pub features: usize,
    /// Split sizes.
    pub splits: SplitSizes,
    /// Epochs trained.
    pub epochs: usize,
    /// Wall time of training (seconds).
    pub train_seconds: f64,
    /// Wall time of the whole run (seconds).
    pub total_seconds: f64,
    /// Representation bias on the test split.
    pub representation: RepresentationBias,
    /// Test metrics of every task, source tasks first.
    pub tasks: Vec<TaskMetrics>,
    /// `[postprocess]`: the post-processed tasks (empty without post-processing).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub postprocessed: Vec<PostprocessedTask>,
    /// `transfer.baselines`: the transfer tasks' heads fitted on the raw features instead of
    /// the representation, with and without the sensitive attribute.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub baselines: Vec<Baseline>,
}

/// The transfer tasks evaluated with the same heads on other inputs than the representation.
#[derive(Debug, Clone, Serialize)]
pub struct Baseline {
    /// What the heads see.
    pub inputs: String,
    /// Test metrics of each transfer task.
    pub tasks: Vec<TaskMetrics>,
}

/// A task's scores before and after the post-processing (test split).
#[derive(Debug, Clone, Serialize)]
pub struct PostprocessedTask {
    /// Task name.
    pub task: String,
    /// The post-processing.
    pub kind: crate::config::PostprocessKind,
    /// Calibration rows (validation split).
    pub calibration_rows: usize,
    /// Score parity (KS, W1 between the groups' predicted probabilities) before.
    pub before: fairrep_metrics::regression::ScoreParity,
    /// Score parity after.
    pub after: fairrep_metrics::regression::ScoreParity,
    /// Test metrics of the post-processed scores (thresholded at `transfer.threshold`).
    pub metrics: TaskMetrics,
}

pub(crate) fn cell(v: Option<f64>) -> String {
    v.map_or_else(|| "–".to_string(), |x| format!("{x:.4}"))
}

/// The task table shown at the end of a run and in `report.md`.
pub fn task_table(tasks: &[TaskMetrics]) -> String {
    let mut s = String::from(
        "| task | role | accuracy | AUC | DDP | DEO | eq. odds |\n|---|---|---|---|---|---|---|\n",
    );
    for t in tasks.iter().filter(|t| t.regression.is_none()) {
        let m = &t.metrics;
        s += &format!(
            "| {} | {} | {} | {} | {} | {} | {} |\n",
            t.name,
            t.role,
            cell(m.accuracy),
            cell(m.auc),
            cell(m.ddp),
            cell(m.deo),
            cell(m.equalized_odds)
        );
    }
    let regression: Vec<&TaskMetrics> = tasks.iter().filter(|t| t.regression.is_some()).collect();
    if !regression.is_empty() {
        s += "\n| regression task | role | RMSE | MAE | R² | KS between groups | W1 between groups |\n\
              |---|---|---|---|---|---|---|\n";
        for t in regression {
            s += &regression_row(&t.name, &t.role, t.regression.as_ref().expect("filtered"));
        }
    }
    s
}

/// One row of the regression table, with 95% intervals where computed.
pub(crate) fn regression_row(
    name: &str,
    role: &str,
    r: &fairrep_metrics::regression::RegressionSummary,
) -> String {
    let ci = |v: f64, i: Option<Option<[f64; 2]>>| match i.flatten() {
        Some([lo, hi]) => format!("{v:.4} [{lo:.4}, {hi:.4}]"),
        None => format!("{v:.4}"),
    };
    let c = r.ci95.as_ref();
    format!(
        "| {name} | {role} | {} | {} | {} | {} | {} |\n",
        ci(r.rmse, c.map(|c| c.rmse)),
        ci(r.mae, c.map(|c| c.mae)),
        ci(r.r2, c.map(|c| c.r2)),
        ci(r.ks, c.map(|c| c.ks)),
        ci(r.w1, c.map(|c| c.w1)),
    )
}

impl Report {
    /// `report.md`.
    pub fn markdown(&self) -> String {
        format!(
            "# fairrep run\n\n\
             - config: `{}`\n- seed: {}\n- backend: {} ({}; fairrep {}, burn {})\n- penalty: {} (λ = {}, condition: {:?})\n\
             - groups: {}\n- splits: train {}, validation {}, test {} ({} + {} rows dropped for missing values)\n\
             - epochs: {}, training time {:.1} s, total {:.1} s\n\
             - representation bias on test: MMD² between groups = {:.5} (σ = {:.4}, {} rows)\n\n\
             ## Test metrics\n\n{}\n\
             DDP: demographic parity difference; DEO: equal opportunity difference (TPR gap); \
             eq. odds: max of TPR and FPR gaps. Source tasks use the heads trained with the encoder; \
             transfer tasks use a logistic head fitted on the frozen representation of the training split.\n",
            self.config,
            self.seed,
            self.backend,
            self.device,
            self.fairrep_version,
            self.burn_version,
            self.penalty.kind,
            self.lambda,
            self.penalty.condition,
            self.groups.join(", "),
            self.splits.train,
            self.splits.valid,
            self.splits.test,
            self.splits.dropped[0],
            self.splits.dropped[1],
            self.epochs,
            self.train_seconds,
            self.total_seconds,
            self.representation.mmd2,
            self.representation.sigma,
            self.representation.rows,
            task_table(&self.tasks)
        ) + &self.baselines_markdown()
            + &self.postprocessed_markdown()
    }

    fn baselines_markdown(&self) -> String {
        let mut s = String::new();
        for b in &self.baselines {
            s += &format!(
                "\n## Baseline: transfer heads on {}\n\n{}",
                b.inputs,
                task_table(&b.tasks)
            );
        }
        s
    }

    fn postprocessed_markdown(&self) -> String {
        if self.postprocessed.is_empty() {
            return String::new();
        }
        let raw = |name: &str| self.tasks.iter().find(|t| t.name == name);
        let (regression, binary): (Vec<&PostprocessedTask>, Vec<&PostprocessedTask>) = self
            .postprocessed
            .iter()
            .partition(|p| p.metrics.regression.is_some());
        let mut s = String::from("\n## Post-processed scores (test split)\n");
        if !binary.is_empty() {
            s += "\n| task | scores | accuracy | AUC | DDP | DEO | KS between groups | W1 between groups |\n|---|---|---|---|---|---|---|---|\n";
            for p in binary {
                for (label, m, parity) in [
                    ("raw", raw(&p.task), &p.before),
                    ("barycenter", Some(&p.metrics), &p.after),
                ] {
                    let m = m.map(|t| &t.metrics);
                    s += &format!(
                        "| {} | {} | {} | {} | {} | {} | {:.4} | {:.4} |\n",
                        p.task,
                        label,
                        cell(m.and_then(|m| m.accuracy)),
                        cell(m.and_then(|m| m.auc)),
                        cell(m.and_then(|m| m.ddp)),
                        cell(m.and_then(|m| m.deo)),
                        parity.ks,
                        parity.w1
                    );
                }
            }
        }
        if !regression.is_empty() {
            s += "\n| regression task | predictions | RMSE | MAE | R² | KS between groups | W1 between groups |\n|---|---|---|---|---|---|---|\n";
            for p in regression {
                if let Some(r) = raw(&p.task).and_then(|t| t.regression.as_ref()) {
                    s += &regression_row(&p.task, "raw", r);
                }
                if let Some(r) = &p.metrics.regression {
                    s += &regression_row(&p.task, "barycenter", r);
                }
            }
        }
        s + "\nBarycenter: each group's scores mapped to the Wasserstein barycenter of the groups' \
             score distributions (Chzhen et al., 2020), calibrated on the validation split without \
             its labels; KS and W1: the largest distance between two groups' score distributions \
             (95% bootstrap intervals in brackets).\n"
    }
}
