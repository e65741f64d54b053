//! The sections of the config besides `[data]`, `[[tasks]]` and `[penalty]`: `[model]`,
//! `[training]`, `[transfer]`, `[method]`, `[postprocess]` and `[certify]`, each with its `Default`.

use fairrep_types::Activation;
use fairrep_types::MlpSettings;
use serde::{Deserialize, Serialize};

/// `[postprocess]`: a post-processing of the predicted probabilities of some tasks, fitted on
/// the validation split (as unlabeled calibration data) and evaluated on the test split next to
/// the unprocessed scores.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PostprocessSection {
    /// `none` or `barycenter` (Chzhen et al., 2020: each group's scores mapped to the groups'
    /// Wasserstein barycenter, strong demographic parity).
    #[serde(default)]
    pub kind: PostprocessKind,
    /// The tasks to post-process (default: every task).
    #[serde(default)]
    pub tasks: Option<Vec<String>>,
    /// Half-width of the uniform jitter that breaks ties between scores.
    #[serde(default = "default_jitter")]
    pub jitter: f64,
}

fn default_jitter() -> f64 {
    1e-5
}

impl Default for PostprocessSection {
    fn default() -> Self {
        Self {
            kind: PostprocessKind::None,
            tasks: None,
            jitter: default_jitter(),
        }
    }
}

/// A post-processing of scores.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum PostprocessKind {
    /// No post-processing.
    #[default]
    None,
    /// Wasserstein-barycenter post-processing.
    Barycenter,
}

/// `[certify]`: the certificate of the run's quantised release, computed after training (as
/// `fairrep certify` does), so that every point of a sweep has its `certificate.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CertifySection {
    /// Certify after training.
    #[serde(default)]
    pub enabled: bool,
    /// The number of cells (default: chosen on the validation split).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cells: Option<usize>,
    /// The fewest training rows per cell (default: chosen on the validation split).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_leaf: Option<usize>,
    /// The tree's fairness weight γ (default: chosen on the validation split).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fairness_weight: Option<f64>,
    /// The error probability δ of each bound.
    #[serde(default = "default_certify_delta")]
    pub delta: f64,
    /// The demographic parity bound the partition's choice aims at.
    #[serde(default = "default_certify_target")]
    pub target: f64,
    /// How to bound: `"auto"` (the method with the smaller projected bound on the validation
    /// split), `"fare"` or `"direct"`.
    #[serde(default = "default_certify_method")]
    pub method: String,
}

fn default_certify_method() -> String {
    "auto".into()
}

fn default_certify_delta() -> f64 {
    0.05
}

fn default_certify_target() -> f64 {
    0.05
}

impl Default for CertifySection {
    fn default() -> Self {
        Self {
            enabled: false,
            cells: None,
            min_leaf: None,
            fairness_weight: None,
            delta: default_certify_delta(),
            target: default_certify_target(),
            method: default_certify_method(),
        }
    }
}

/// `[method]`: which method the run uses.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MethodSection {
    /// `deep` (the encoder of `[model]` under `[penalty]`) or `ferm` (linear FERM).
    #[serde(default)]
    pub kind: MethodKind,
    /// FERM's linear classifier.
    #[serde(default)]
    pub loss: LinearLoss,
}

/// The method of a run.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum MethodKind {
    /// A shared encoder trained on the source tasks under the fairness penalty; fresh heads
    /// on the frozen representation for the transfer tasks.
    #[default]
    Deep,
    /// Linear FERM (Donini et al., 2018): for every task, a linear classifier on the raw
    /// features and one on the FERM-projected features (equal opportunity), side by side.
    /// `[model]`, `[penalty]` and `[training]` are not used.
    Ferm,
}

/// A linear classifier's loss.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum LinearLoss {
    /// Logistic regression (L2 weight `transfer.l2`).
    #[default]
    Logistic,
    /// Linear SVM (hinge loss, L2 weight `transfer.l2`, dual coordinate descent).
    Hinge,
}

/// The most weights and biases an encoder may have: 2²⁸ = 268,435,456, 1 GiB in f32 — 4 GiB
/// with their gradients and Adam's two moments. More is a typo, not a model.
pub const MAX_PARAMETERS: u128 = 1 << 28;

/// `[model]`: the encoder MLP.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ModelSection {
    /// Hidden layer widths.
    #[serde(default = "default_hidden")]
    pub hidden: Vec<usize>,
    /// Size of the representation `z`.
    #[serde(default = "default_representation")]
    pub representation: usize,
    /// Activation of the hidden layers.
    #[serde(default)]
    pub activation: Activation,
    /// Activation applied to `z`.
    #[serde(default = "default_repr_activation")]
    pub representation_activation: Activation,
    /// Dropout after hidden layers, in `[0, 1)`.
    #[serde(default)]
    pub dropout: f64,
}

impl ModelSection {
    /// The encoder's weights and biases for `features` inputs (`None`: unknown yet, counted
    /// from the first hidden layer on).
    pub fn parameters(&self, features: Option<usize>) -> u128 {
        let widths: Vec<u128> = features
            .into_iter()
            .chain(self.hidden.iter().copied())
            .chain(std::iter::once(self.representation))
            .map(|w| w as u128)
            .collect();
        widths.windows(2).map(|w| w[0] * w[1] + w[1]).sum()
    }

    /// An error message when the encoder for `features` inputs (`None`: unknown yet) has more
    /// than [`MAX_PARAMETERS`] parameters.
    pub fn check_parameters(&self, features: Option<usize>) -> Result<(), String> {
        let n = self.parameters(features);
        let inputs = match features {
            Some(p) => format!("with {p} input features"),
            None => "without the input layer".into(),
        };
        match n > MAX_PARAMETERS {
            false => Ok(()),
            true => Err(format!(
                "= {:?} and a representation of {} give an encoder of {n} parameters \
                 ({inputs}), more than {MAX_PARAMETERS} (1 GiB in f32, 4 GiB with gradients \
                 and Adam's moments)",
                self.hidden, self.representation
            )),
        }
    }
}

fn default_hidden() -> Vec<usize> {
    vec![64]
}
fn default_representation() -> usize {
    16
}
fn default_repr_activation() -> Activation {
    Activation::Identity
}

impl Default for ModelSection {
    fn default() -> Self {
        Self {
            hidden: default_hidden(),
            representation: default_representation(),
            activation: Activation::default(),
            representation_activation: default_repr_activation(),
            dropout: 0.0,
        }
    }
}

/// `[training]`: Adam on the mean task loss plus the penalty.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TrainingSection {
    /// Passes over the training split.
    #[serde(default = "default_epochs")]
    pub epochs: usize,
    /// Rows per batch (≥ 2; the last, smaller batch of an epoch is kept if it has ≥ 2 rows).
    #[serde(default = "default_batch")]
    pub batch_size: usize,
    /// Adam's learning rate.
    #[serde(default = "default_lr")]
    pub learning_rate: f64,
    /// L2 weight decay (Adam's coupled form).
    #[serde(default)]
    pub weight_decay: f64,
    /// Learning-rate schedule over the optimiser steps.
    #[serde(default)]
    pub lr_schedule: LrSchedule,
    /// Steps of linear warm-up from `learning_rate / warmup_steps` to `learning_rate`.
    #[serde(default)]
    pub warmup_steps: usize,
    /// The floor of the cosine schedule.
    #[serde(default)]
    pub min_learning_rate: f64,
    /// Clip each parameter's gradient to this L2 norm (burn's `GradientClipping::Norm`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grad_clip_norm: Option<f64>,
    /// Stop when the validation objective (mean validation loss of the source tasks + λ · the
    /// run's own penalty on the validation split, `valid_objective` in `metrics.jsonl`) has not
    /// improved for this many epochs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub early_stopping_patience: Option<usize>,
    /// Validate every this many epochs, and after the last: the validation metrics, penalty and
    /// yardstick in `metrics.jsonl` (`null` in the epochs between), early stopping (its
    /// patience counts validations) and the best checkpoint.
    #[serde(default = "default_validate_every")]
    pub validate_every: usize,
    /// Rows of the validation split that the run's penalty and the MMD² yardstick are measured
    /// on at each validation: a seeded subsample, the same rows every time (0: every row). The
    /// task metrics and losses use every row.
    #[serde(default = "default_validation_rows")]
    pub validation_rows: usize,
    /// Checkpoints kept in the run directory (one is written after every epoch).
    #[serde(default = "default_keep")]
    pub keep_checkpoints: usize,
    /// Also write a checkpoint within an epoch every this many optimiser steps, so a kill
    /// loses at most these steps (`--resume` continues from the step, bit-identical).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint_every_steps: Option<usize>,
    /// Also write a checkpoint within an epoch when this many seconds have passed since the
    /// last one (checked after each step).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint_every_seconds: Option<f64>,
}

/// How the learning rate moves over the steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum LrSchedule {
    /// `learning_rate` throughout (after any warm-up).
    #[default]
    Constant,
    /// Cosine decay from `learning_rate` to `min_learning_rate` over the steps after warm-up.
    Cosine,
}

impl TrainingSection {
    /// The learning rate of optimiser step `step` (1-based) of `total`.
    pub fn learning_rate_at(&self, step: usize, total: usize) -> f64 {
        let lr = self.learning_rate;
        if step <= self.warmup_steps {
            return lr * step as f64 / self.warmup_steps as f64;
        }
        match self.lr_schedule {
            LrSchedule::Constant => lr,
            LrSchedule::Cosine => {
                let span = total.saturating_sub(self.warmup_steps).max(1) as f64;
                let t = ((step - self.warmup_steps - 1) as f64 / span).min(1.0);
                let min = self.min_learning_rate;
                min + 0.5 * (lr - min) * (1.0 + (std::f64::consts::PI * t).cos())
            }
        }
    }
}

fn default_keep() -> usize {
    2
}
fn default_validate_every() -> usize {
    1
}
/// The default of `training.validation_rows`: the yardstick's cost is quadratic in the rows
/// (1,024 rows: 0.5 M distances, against 4.5 M for Adult's 3,016 validation rows).
pub const DEFAULT_VALIDATION_ROWS: usize = 1024;
fn default_validation_rows() -> usize {
    DEFAULT_VALIDATION_ROWS
}
fn default_epochs() -> usize {
    10
}
fn default_batch() -> usize {
    256
}
fn default_lr() -> f64 {
    1e-3
}

impl Default for TrainingSection {
    fn default() -> Self {
        Self {
            epochs: default_epochs(),
            batch_size: default_batch(),
            learning_rate: default_lr(),
            keep_checkpoints: default_keep(),
            lr_schedule: LrSchedule::default(),
            warmup_steps: 0,
            min_learning_rate: 0.0,
            grad_clip_norm: None,
            early_stopping_patience: None,
            validate_every: default_validate_every(),
            validation_rows: default_validation_rows(),
            weight_decay: 0.0,
            checkpoint_every_steps: None,
            checkpoint_every_seconds: None,
        }
    }
}

/// `[transfer]`: the head fitted per transfer task on the frozen representation (logistic or
/// MLP for a binary task, ridge regression for a regression task).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TransferSection {
    /// L2 weight of the transfer heads (> 0 keeps the logistic and ridge fits well-posed).
    #[serde(default = "default_l2")]
    pub l2: f64,
    /// Decision threshold on the predicted probability.
    #[serde(default = "default_threshold")]
    pub threshold: f64,
    /// Fit each binary transfer head on the FERM projection of the representation (linear
    /// FERM on `z`: equal opportunity of the head on the training split).
    #[serde(default)]
    pub ferm: bool,
    /// Also fit the transfer heads on the raw features, with and without the sensitive
    /// attribute, and report them as baselines.
    #[serde(default = "default_baselines")]
    pub baselines: bool,
    /// The head of each binary transfer task: `"logistic"` (default) or `"mlp"` (regression
    /// tasks always get ridge regression).
    #[serde(default)]
    pub head: HeadKind,
    /// `[transfer.mlp]`: the MLP head's settings (with `head = "mlp"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mlp: Option<MlpHeadSection>,
    /// Head families also fitted on each binary transfer task to report the worst-case
    /// downstream parity (`[]`: none).
    #[serde(default = "default_head_families")]
    pub head_families: Vec<HeadFamily>,
}

/// A family of heads a downstream user might fit on the representation.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum HeadFamily {
    /// L2-regularised logistic regression (`transfer.l2`).
    Logistic,
    /// The MLP of `[transfer.mlp]`.
    Mlp,
    /// Gradient-boosted trees (`fairrep_heads::GbdtSettings` defaults: 100 trees of depth 4).
    Gbdt,
}

impl std::fmt::Display for HeadFamily {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            HeadFamily::Logistic => "logistic",
            HeadFamily::Mlp => "mlp",
            HeadFamily::Gbdt => "gbdt",
        })
    }
}

fn default_head_families() -> Vec<HeadFamily> {
    vec![HeadFamily::Logistic, HeadFamily::Mlp, HeadFamily::Gbdt]
}

/// The kind of a binary transfer head.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum HeadKind {
    /// L2-regularised logistic regression, fitted exactly (Newton).
    #[default]
    Logistic,
    /// One hidden ReLU layer, sigmoid output, Adam on mini-batches, seeded
    /// (`fairrep_heads::MlpClassifier`).
    Mlp,
}

/// `[transfer.mlp]`: the MLP transfer head (its L2 weight is `transfer.l2`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MlpHeadSection {
    /// Hidden ReLU units (default 32).
    #[serde(default = "default_mlp_hidden")]
    pub hidden: usize,
    /// Passes over the training split (default 30).
    #[serde(default = "default_mlp_epochs")]
    pub epochs: usize,
    /// Rows per Adam step (default 256).
    #[serde(default = "default_mlp_batch")]
    pub batch_size: usize,
    /// Adam's step size (default 0.01).
    #[serde(default = "default_mlp_lr")]
    pub learning_rate: f64,
}

// The defaults are the audit's MLP probe's.
fn default_mlp_hidden() -> usize {
    MlpSettings::default().hidden
}
fn default_mlp_epochs() -> usize {
    MlpSettings::default().epochs
}
fn default_mlp_batch() -> usize {
    MlpSettings::default().batch
}
fn default_mlp_lr() -> f64 {
    MlpSettings::default().learning_rate
}

impl Default for MlpHeadSection {
    fn default() -> Self {
        Self {
            hidden: default_mlp_hidden(),
            epochs: default_mlp_epochs(),
            batch_size: default_mlp_batch(),
            learning_rate: default_mlp_lr(),
        }
    }
}

impl TransferSection {
    /// The MLP head's settings with defaults filled in, when `head = "mlp"`.
    pub fn mlp_settings(&self) -> Option<MlpHeadSection> {
        (self.head == HeadKind::Mlp).then(|| self.mlp.clone().unwrap_or_default())
    }
}

fn default_baselines() -> bool {
    true
}

fn default_l2() -> f64 {
    1e-4
}
fn default_threshold() -> f64 {
    0.5
}

impl Default for TransferSection {
    fn default() -> Self {
        Self {
            l2: default_l2(),
            threshold: default_threshold(),
            ferm: false,
            baselines: default_baselines(),
            head: HeadKind::default(),
            mlp: None,
            head_families: default_head_families(),
        }
    }
}
