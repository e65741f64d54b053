//! What a deep run reports: per-epoch records (`metrics.jsonl`) and the final report
//! (`report.json`, `report.md`).

use fairrep_config::{PenaltySection, PostprocessKind};
use fairrep_data::Role;
use fairrep_metrics::regression::{RegressionSummary, ScoreParity};
use fairrep_metrics::{BinarySummary, Intervals};
use serde::{Deserialize, Serialize};

/// One line of `metrics.jsonl`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EpochRecord {
    /// 1-based epoch.
    pub epoch: usize,
    /// Optimiser steps so far.
    pub step: usize,
    /// Mean task loss over the epoch's batches.
    #[serde(deserialize_with = "fairrep_metrics::nan::f64")]
    pub task_loss: f64,
    /// Mean penalty over the epoch's batches; for a divergence at λ = 0 it is not computed
    /// (`null`, NaN here): it would not change a single weight (`valid_penalty` still measures
    /// it every epoch).
    #[serde(deserialize_with = "fairrep_metrics::nan::f64")]
    pub penalty: f64,
    /// Mean of task loss + λ · penalty (the mean task loss when λ = 0).
    #[serde(deserialize_with = "fairrep_metrics::nan::f64")]
    pub objective: f64,
    /// Batches in which fewer than two groups were present (penalty 0).
    pub batches_without_pairs: usize,
    /// The run's own penalty (the configured MMD², Sinkhorn divergence or adversary's
    /// advantage) between the groups' representations on the validation split (on
    /// `training.validation_rows` rows); NaN with fewer than two validation rows, and in an epoch
    /// not validated (`training.validate_every`).
    #[serde(deserialize_with = "fairrep_metrics::nan::f64")]
    pub valid_penalty: f64,
    /// The Gaussian MMD² (median bandwidth) between the groups' representations on the
    /// validation split, whatever the training penalty: one yardstick for every penalty kind.
    #[serde(deserialize_with = "fairrep_metrics::nan::f64")]
    pub valid_mmd2: f64,
    /// Mean validation loss of the source tasks (log-loss; squared error of standardised
    /// targets for regression tasks) + λ · `valid_penalty`: the early-stopping and
    /// best-checkpoint criterion.
    #[serde(deserialize_with = "fairrep_metrics::nan::f64")]
    pub valid_objective: f64,
    /// The learning rate of the epoch's last step.
    pub learning_rate: f64,
    /// Validation metrics of each source task.
    pub valid: Vec<TaskMetrics>,
    /// Seconds since the start of training.
    pub elapsed_s: f64,
    /// Seconds of this epoch's optimiser steps (batches, forward, backward, Adam); 0 in files
    /// written before fairrep recorded it.
    #[serde(default)]
    pub train_s: f64,
    /// Seconds of this epoch's validation.
    #[serde(default)]
    pub valid_s: f64,
}

/// The metrics of one task on one split: its name, role and kind (`"binary"` or
/// `"regression"`), and the kind's metrics beside them in JSON.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TaskMetrics {
    /// Task name.
    pub name: String,
    /// Source or transfer.
    pub role: Role,
    /// The metrics of the task's kind.
    #[serde(flatten)]
    pub outcome: TaskOutcome,
}

/// A task's metrics by its kind.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TaskOutcome {
    /// A binary task: accuracy, AUC, fairness gaps, per-group rates.
    Binary(BinaryMetrics),
    /// A regression task: RMSE, MAE, R², KS and W1 between groups.
    Regression(RegressionMetrics),
}

/// A binary task's metrics. In JSON the summary's fields (`accuracy`, `auc`, `ddp`, `deo`,
/// `equalized_odds`, `balanced_accuracy`, `dp_ratio`, `by_group`) sit beside `base_rate`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BinaryMetrics {
    /// Fraction of positive labels in the split.
    pub base_rate: f64,
    /// Accuracy, AUC, fairness gaps and per-group rates.
    #[serde(flatten)]
    pub summary: BinarySummary,
    /// 95% bootstrap intervals of accuracy, AUC, DDP, DEO and equalized odds (test split).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ci95: Option<Intervals>,
    /// A transfer task: the same task by each head family of `transfer.head_families` fitted on
    /// the frozen representation (what other downstream users would get).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub head_families: Vec<FamilyMetrics>,
    /// The largest DDP of this head and the head families: the parity an unknown downstream
    /// user would see at worst.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worst_ddp: Option<f64>,
}

/// One head family's test metrics on a transfer task.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FamilyMetrics {
    /// `logistic`, `mlp` or `gbdt`.
    pub family: String,
    /// Test accuracy.
    pub accuracy: Option<f64>,
    /// Test AUC.
    pub auc: Option<f64>,
    /// Test demographic parity difference.
    pub ddp: Option<f64>,
}

/// A regression task's metrics (with their intervals on the test split).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RegressionMetrics {
    /// Mean target in the split.
    pub mean_target: f64,
    /// RMSE, MAE, R², KS and W1 between groups, per group, intervals.
    #[serde(flatten)]
    pub summary: RegressionSummary,
}

impl TaskMetrics {
    /// A binary task's record.
    pub fn binary(name: &str, role: Role, base_rate: f64, summary: BinarySummary) -> Self {
        Self {
            name: name.to_string(),
            role,
            outcome: TaskOutcome::Binary(BinaryMetrics {
                base_rate,
                summary,
                ci95: None,
                head_families: Vec::new(),
                worst_ddp: None,
            }),
        }
    }

    /// A regression task's record.
    pub fn regression(
        name: &str,
        role: Role,
        mean_target: f64,
        summary: RegressionSummary,
    ) -> Self {
        Self {
            name: name.to_string(),
            role,
            outcome: TaskOutcome::Regression(RegressionMetrics {
                mean_target,
                summary,
            }),
        }
    }

    /// The binary metrics (`None` for a regression task).
    pub fn as_binary(&self) -> Option<&BinaryMetrics> {
        match &self.outcome {
            TaskOutcome::Binary(b) => Some(b),
            TaskOutcome::Regression(_) => None,
        }
    }

    /// The regression metrics (`None` for a binary task).
    pub fn as_regression(&self) -> Option<&RegressionMetrics> {
        match &self.outcome {
            TaskOutcome::Regression(r) => Some(r),
            TaskOutcome::Binary(_) => None,
        }
    }
}

/// Sizes of the splits.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SplitSizes {
    /// Training rows.
    pub train: usize,
    /// Validation rows.
    pub valid: usize,
    /// Test rows.
    pub test: usize,
    /// Rows dropped for missing values (train file, test file).
    pub dropped: [usize; 2],
    /// A streamed run (`[data.stream]`): the rows trained on each epoch, read from the shards;
    /// `train` is then the seeded sample the preprocessing was fitted on, which the evaluation
    /// (transfer heads, baselines, audits) uses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub streamed: Option<fairrep_data::StreamSummary>,
}

/// How much the representation still reveals the group, on the test split.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RepresentationBias {
    /// Penalty (mean pairwise MMD², median bandwidth) between the groups' test representations.
    #[serde(deserialize_with = "fairrep_metrics::nan::f64")]
    pub mmd2: f64,
    /// The bandwidth used.
    #[serde(deserialize_with = "fairrep_metrics::nan::f64")]
    pub sigma: f64,
    /// Rows used (a seeded subsample when the test split is larger than the cap).
    pub rows: usize,
    /// The representation's spread on the test split: the root mean squared distance of z to
    /// its mean (absent in reports written before fairrep measured it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spread: Option<f64>,
    /// The same spread for the untrained encoder (the run's seed, same rows): the reference
    /// of the collapse check ([`crate::health::collapse_warning`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_spread: Option<f64>,
}

/// How training validated (`training.validate_every`, `training.validation_rows`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValidationSettings {
    /// Validated every this many epochs, and after the last.
    pub every: usize,
    /// Rows of the validation split the penalty and the MMD² yardstick were measured on (a
    /// seeded subsample, the same rows each time).
    pub penalty_rows: usize,
    /// Rows of the validation split (the task metrics use them all).
    pub rows: usize,
}

/// `report.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
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
    pub penalty: PenaltySection,
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
    /// Wall time of training (seconds): every epoch's steps, validations and checkpoints.
    pub train_seconds: f64,
    /// How the validation split was measured during training (absent in reports written
    /// before fairrep recorded it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation: Option<ValidationSettings>,
    /// Wall time of the whole run (seconds).
    pub total_seconds: f64,
    /// Representation bias on the test split.
    pub representation: RepresentationBias,
    /// Test metrics of every task, source tasks first.
    pub tasks: Vec<TaskMetrics>,
    /// `[postprocess]`: the post-processed tasks (empty without post-processing).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub postprocessed: Vec<PostprocessedTask>,
    /// `transfer.baselines`: the transfer tasks' heads fitted on the raw features instead of
    /// the representation, with and without the sensitive attribute.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub baselines: Vec<Baseline>,
    /// The unprocessing baseline of each binary transfer task (with `baselines`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unprocessing: Vec<Unprocessed>,
}

/// The transfer tasks evaluated with the same heads on other inputs than the representation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Baseline {
    /// What the heads see.
    pub inputs: String,
    /// Test metrics of each transfer task.
    pub tasks: Vec<TaskMetrics>,
}

/// The DDP bounds of "accuracy at matched parity" (`fairrep report`) and of the unprocessing
/// baseline.
pub const MATCHED_BOUNDS: [f64; 3] = [0.02, 0.05, 0.10];

/// The unprocessing baseline of one binary transfer task (Cruz and Hardt, ICLR 2024): an
/// unconstrained model's scores thresholded per group within each DDP bound. Needs the
/// sensitive attribute at prediction time.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Unprocessed {
    /// The task.
    pub task: String,
    /// The unconstrained model.
    pub model: String,
    /// One point per bound (and one unconstrained, `bound: null`).
    pub points: Vec<UnprocessedPoint>,
}

/// The unprocessing baseline at one DDP bound.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct UnprocessedPoint {
    /// The bound on the validation split's DDP the thresholds were tuned to (`None`: the
    /// accuracy-maximising thresholds, unconstrained).
    pub bound: Option<f64>,
    /// Test accuracy.
    pub accuracy: f64,
    /// Test DDP (the bound holds on the tuning rows; the test split may exceed it by sampling).
    pub ddp: f64,
    /// The validation split's DDP.
    pub tuning_ddp: f64,
    /// Each group's score threshold.
    pub thresholds: Vec<f64>,
}

/// A task's scores before and after the post-processing (test split).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PostprocessedTask {
    /// Task name.
    pub task: String,
    /// The post-processing.
    pub kind: PostprocessKind,
    /// Calibration rows (validation split).
    pub calibration_rows: usize,
    /// Score parity (KS, W1 between the groups' predicted probabilities) before.
    pub before: ScoreParity,
    /// Score parity after.
    pub after: ScoreParity,
    /// Test metrics of the post-processed scores (thresholded at `transfer.threshold`).
    pub metrics: TaskMetrics,
}

/// A number of a table cell (4 decimals), or "–" when undefined.
pub fn cell(v: Option<f64>) -> String {
    v.map_or_else(|| "–".to_string(), |x| format!("{x:.4}"))
}

/// A number with its 95% interval (`0.8017 [0.7953, 0.8079]`) where there is one.
pub fn cell_ci(v: Option<f64>, ci: Option<[f64; 2]>) -> String {
    match (v, ci) {
        (Some(x), Some([lo, hi])) => format!("{x:.4} [{lo:.4}, {hi:.4}]"),
        _ => cell(v),
    }
}

/// The task table shown at the end of a run and in `report.md`.
pub fn task_table(tasks: &[TaskMetrics]) -> String {
    let mut s = String::from(
        "| task | role | accuracy | AUC | DDP | worst-head DDP | DEO | eq. odds |\n|---|---|---|---|---|---|---|---|\n",
    );
    for t in tasks {
        let Some(b) = t.as_binary() else { continue };
        let m = &b.summary;
        let ci = b.ci95.as_ref();
        s += &format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} |\n",
            t.name,
            t.role,
            cell_ci(m.accuracy, ci.and_then(|c| c.accuracy)),
            cell_ci(m.auc, ci.and_then(|c| c.auc)),
            cell_ci(m.ddp, ci.and_then(|c| c.ddp)),
            worst_head_cell(b),
            cell_ci(m.deo, ci.and_then(|c| c.deo)),
            cell_ci(m.equalized_odds, ci.and_then(|c| c.equalized_odds))
        );
    }
    if tasks
        .iter()
        .any(|t| t.as_binary().is_some_and(|b| b.ci95.is_some()))
    {
        s += "\n[lo, hi]: 95% bootstrap interval over the test rows.\n";
    }
    let regression: Vec<(&TaskMetrics, &RegressionMetrics)> = tasks
        .iter()
        .filter_map(|t| t.as_regression().map(|r| (t, r)))
        .collect();
    if !regression.is_empty() {
        s += "\n| regression task | role | RMSE | MAE | R² | KS between groups | W1 between groups |\n\
              |---|---|---|---|---|---|---|\n";
        for (t, r) in regression {
            s += &regression_row(&t.name, &t.role.to_string(), &r.summary);
        }
    }
    s
}

/// The worst DDP over a transfer task's head families, with the family that has it ("–"
/// where no family was fitted: source tasks, `transfer.head_families = []`).
fn worst_head_cell(b: &BinaryMetrics) -> String {
    let worst = b
        .head_families
        .iter()
        .filter_map(|f| f.ddp.map(|d| (d, f.family.as_str())))
        .fold(None, |acc: Option<(f64, &str)>, (d, f)| match acc {
            Some((w, _)) if w >= d => acc,
            _ => Some((d, f)),
        });
    match (b.worst_ddp, worst) {
        (Some(w), Some((d, family))) if (w - d).abs() < 1e-12 => format!("{w:.4} ({family})"),
        (Some(w), _) => format!("{w:.4}"),
        (None, _) => "–".into(),
    }
}

/// One row of the regression table, with 95% intervals where computed.
pub fn regression_row(name: &str, role: &str, r: &RegressionSummary) -> String {
    let ci = |v: f64, i: Option<Option<[f64; 2]>>| cell_ci(Some(v), i.flatten());
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
    /// The run's warnings: near-constant heads, heads at the majority rate, a collapsed
    /// representation ([`crate::health`]).
    pub fn warnings(&self) -> Vec<String> {
        crate::health::run_warnings(&self.tasks, Some(&self.representation), self.lambda)
    }

    /// `report.md`.
    pub fn markdown(&self) -> String {
        format!(
            "# fairrep run\n\n\
             - config: `{}`\n- seed: {}\n- backend: {} ({}; fairrep {}, burn {})\n- penalty: {} (λ = {}, condition: {:?})\n\
             - groups: {}\n- splits: train {}, validation {}, test {} ({} + {} rows dropped for missing values){}\n\
             - epochs: {}, training time {:.1} s, total {:.1} s{}\n\
             - representation bias on test: MMD² between groups = {:.5} (σ = {:.4}, {} rows)\n\n\
             ## Test metrics\n\n{}\n\
             DDP: demographic parity difference (the table's head); worst-head DDP: the largest DDP of \
             the head families fitted on the same frozen representation (the parity an unknown downstream \
             model would show); DEO: equal opportunity difference (TPR gap); \
             eq. odds: max of TPR and FPR gaps. Source tasks use the heads trained with the encoder; \
             transfer tasks use a fresh head (`transfer.head`; ridge for regression tasks) fitted on the frozen representation of the training split.\n",
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
            self.splits.streamed.as_ref().map_or(String::new(), |s| format!(
                "; streamed: {} training rows from {} shards in windows of {} rows, the \
                 evaluation's training split the {}-row sample the preprocessing was fitted on",
                s.train_rows, s.shards, s.shuffle_rows, s.fit_rows
            )),
            self.epochs,
            self.train_seconds,
            self.total_seconds,
            self.validation.map_or(String::new(), |v| format!(
                "; validated every {} epoch(s), the penalty and MMD² yardstick on {} of {} validation rows",
                v.every, v.penalty_rows, v.rows
            )),
            self.representation.mmd2,
            self.representation.sigma,
            self.representation.rows,
            task_table(&self.tasks)
        ) + &crate::health::warnings_markdown(&self.warnings())
            + &self.families_markdown()
            + &self.baselines_markdown()
            + &self.unprocessing_markdown()
            + &self.postprocessed_markdown()
    }

    /// The worst-case downstream parity: per transfer task, each head family's accuracy and
    /// DDP and the largest DDP.
    fn families_markdown(&self) -> String {
        let rows: Vec<String> = self
            .tasks
            .iter()
            .filter_map(|t| {
                let b = t.as_binary()?;
                (!b.head_families.is_empty()).then(|| {
                    let fams: Vec<String> = b
                        .head_families
                        .iter()
                        .map(|f| format!("{} {} / {}", f.family, cell(f.accuracy), cell(f.ddp)))
                        .collect();
                    format!(
                        "| {} | {} | {} |\n",
                        t.name,
                        fams.join("; "),
                        cell(b.worst_ddp)
                    )
                })
            })
            .collect();
        if rows.is_empty() {
            return String::new();
        }
        format!(
            "\n## Worst-case downstream parity\n\nEach transfer task by every head family \
             (`transfer.head_families`) fitted on the frozen representation: accuracy / DDP, and \
             the largest DDP of them and the table's head — what an unknown downstream user would \
             see at worst.\n\n| task | head families (accuracy / DDP) | worst DDP |\n|---|---|---|\n{}",
            rows.concat()
        )
    }

    fn unprocessing_markdown(&self) -> String {
        let mut s = String::new();
        for u in &self.unprocessing {
            if s.is_empty() {
                s += "\n## Baseline: unprocessing (needs the sensitive attribute at prediction time)\n\n\
                      An unconstrained GBDT on the raw features with the sensitive attribute, its scores \
                      thresholded per group (tuned on the validation split) so that the groups' selection \
                      rates differ by at most the bound (Cruz and Hardt, ICLR 2024).\n\n\
                      | task | bound | test accuracy | test DDP | validation DDP |\n|---|---|---|---|---|\n";
            }
            for p in &u.points {
                s += &format!(
                    "| {} | {} | {:.4} | {:.4} | {:.4} |\n",
                    u.task,
                    p.bound.map_or("none".to_string(), |b| format!("DDP ≤ {b}")),
                    p.accuracy,
                    p.ddp,
                    p.tuning_ddp
                );
            }
        }
        s
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
            .partition(|p| p.metrics.as_regression().is_some());
        let mut s = String::from("\n## Post-processed scores (test split)\n");
        if !binary.is_empty() {
            s += "\n| task | scores | accuracy | AUC | DDP | DEO | KS between groups | W1 between groups |\n|---|---|---|---|---|---|---|---|\n";
            for p in binary {
                for (label, m, parity) in [
                    ("raw", raw(&p.task), &p.before),
                    ("barycenter", Some(&p.metrics), &p.after),
                ] {
                    let m = m.and_then(TaskMetrics::as_binary).map(|b| &b.summary);
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
                if let Some(r) = raw(&p.task).and_then(TaskMetrics::as_regression) {
                    s += &regression_row(&p.task, "raw", &r.summary);
                }
                if let Some(r) = p.metrics.as_regression() {
                    s += &regression_row(&p.task, "barycenter", &r.summary);
                }
            }
        }
        s + "\nBarycenter: each group's scores mapped to the Wasserstein barycenter of the groups' \
             score distributions (Chzhen et al., 2020), calibrated on the validation split without \
             its labels; KS and W1: the largest distance between two groups' score distributions \
             (95% bootstrap intervals in brackets).\n"
    }
}
