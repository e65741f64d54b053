//! The experiment file: a TOML document read into [`Config`] (unknown keys are errors), then
//! validated once, in [`Config::validate`], before any work starts.

use fairrep_data::{DataSpec, Role, TaskSpec};
use fairrep_heads::MlpSettings;
use fairrep_losses::penalty::{Condition, GroupDivergence, Scale};
use fairrep_losses::{Bandwidth, Estimator, KernelKind, Mmd, Power, Sinkhorn};
use fairrep_model::Activation;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// A whole experiment.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Seed of everything random: the validation split, weight initialisation, batch order.
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// The dataset.
    pub data: DataSpec,
    /// Source and transfer tasks.
    pub tasks: Vec<TaskSpec>,
    /// The encoder.
    #[serde(default)]
    pub model: ModelSection,
    /// The fairness penalty.
    #[serde(default)]
    pub penalty: PenaltySection,
    /// The optimisation.
    #[serde(default)]
    pub training: TrainingSection,
    /// The heads fitted on the frozen representation for transfer tasks.
    #[serde(default)]
    pub transfer: TransferSection,
    /// The method: the deep fair representation (default) or linear FERM.
    #[serde(default)]
    pub method: MethodSection,
    /// Post-processing of the tasks' scores (deep runs).
    #[serde(default)]
    pub postprocess: PostprocessSection,
}

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

fn default_seed() -> u64 {
    0
}

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

/// The divergence used as penalty.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum PenaltyKind {
    /// MMD² (kernel, bandwidth, estimator).
    #[default]
    Mmd,
    /// Debiased Sinkhorn divergence (GeomLoss semantics).
    Sinkhorn,
    /// An adversary predicting the group from `z` (LAFTR): the penalty is its advantage over
    /// chance, see [`fairrep_losses::adversary`].
    Adversarial,
}

impl std::fmt::Display for PenaltyKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            PenaltyKind::Mmd => "mmd",
            PenaltyKind::Sinkhorn => "sinkhorn",
            PenaltyKind::Adversarial => "adversarial",
        })
    }
}

/// A bandwidth as written in the config: `"median"`, one σ, or a list of σ values.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum BandwidthSetting {
    /// One fixed σ.
    One(f64),
    /// Several σ values, summed.
    Many(Vec<f64>),
    /// A named rule: only `"median"`.
    Named(String),
}

impl Default for BandwidthSetting {
    fn default() -> Self {
        BandwidthSetting::Named("median".into())
    }
}

/// `[penalty]`: loss = task loss + λ · penalty. Options of the other kind are errors.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct PenaltySection {
    /// The divergence.
    #[serde(default)]
    pub kind: PenaltyKind,
    /// λ ≥ 0; 0 trains without the penalty (it is still measured).
    #[serde(default)]
    pub lambda: f64,
    /// `"none"` (demographic parity), `"equal_opportunity"` or `"equalized_odds"`.
    #[serde(default)]
    pub condition: Condition,
    /// `"none"` or `"batch_rms"`: standardise `z` by the batch's RMS before the divergence
    /// (default: `"batch_rms"` for Sinkhorn, `"none"` for MMD, whose median bandwidth is
    /// already scale-invariant).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale: Option<Scale>,
    /// The source task whose label conditions the penalty (with `condition`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition_task: Option<String>,
    /// MMD: Gaussian/Laplacian bandwidth (`"median"`, σ or [σ, …]; default `"median"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bandwidth: Option<BandwidthSetting>,
    /// MMD: `"gaussian"` (default), `"laplacian"` or `"energy"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernel: Option<KernelKind>,
    /// MMD: `"biased"` (default), `"unbiased"` or `"linear"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimator: Option<Estimator>,
    /// Sinkhorn: target blur, ε = blur^p (default 0.05).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blur: Option<f64>,
    /// Sinkhorn: ε-scaling ratio in (0, 1) (default 0.5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scaling: Option<f64>,
    /// Sinkhorn: cost exponent, 1 or 2 (default 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p: Option<f64>,
    /// Sinkhorn: debiased divergence (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub debias: Option<bool>,
    /// Sinkhorn: reach of unbalanced transport (default: balanced).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reach: Option<f64>,
    /// Adversarial: the adversary network and its optimiser (`[penalty.adversary]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adversary: Option<AdversarySection>,
}

/// `[penalty.adversary]`: the adversary of `kind = "adversarial"`, an MLP `z ↦` one logit per
/// group, trained with its own Adam optimiser to maximise its advantage while the encoder
/// minimises it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AdversarySection {
    /// Hidden layer widths (default `[32]`; `[]`: a linear adversary).
    #[serde(default = "default_adversary_hidden")]
    pub hidden: Vec<usize>,
    /// Adam learning rate of the adversary (default 0.001).
    #[serde(default = "default_adversary_learning_rate")]
    pub learning_rate: f64,
    /// Adversary updates per encoder update, on the same batch (default 1).
    #[serde(default = "default_adversary_steps")]
    pub steps: usize,
    /// What the adversary minimises (default `"l1"`).
    #[serde(default)]
    pub loss: AdversaryLoss,
}

/// The adversary's own training objective. The encoder's penalty is the adversary's advantage
/// `A` either way.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum AdversaryLoss {
    /// LAFTR's group-normalised ℓ₁ loss, `1 − A`: the game is zero-sum.
    #[default]
    L1,
    /// The group-balanced cross-entropy: stronger gradients when the adversary is confidently
    /// wrong.
    CrossEntropy,
}

fn default_adversary_hidden() -> Vec<usize> {
    vec![32]
}
fn default_adversary_learning_rate() -> f64 {
    0.001
}
fn default_adversary_steps() -> usize {
    1
}

impl Default for AdversarySection {
    fn default() -> Self {
        Self {
            hidden: default_adversary_hidden(),
            learning_rate: default_adversary_learning_rate(),
            steps: default_adversary_steps(),
            loss: AdversaryLoss::default(),
        }
    }
}

const MMD_KEYS: [&str; 3] = ["bandwidth", "kernel", "estimator"];
const SINKHORN_KEYS: [&str; 5] = ["blur", "scaling", "p", "debias", "reach"];

impl PenaltyKind {
    /// Whether the `[penalty]` key `key` is an option of other kinds only (`scale` belongs to
    /// both divergences, `adversary` to the adversarial penalty).
    fn foreign(self, key: &str) -> bool {
        let (mmd, sinkhorn) = (MMD_KEYS.contains(&key), SINKHORN_KEYS.contains(&key));
        match self {
            PenaltyKind::Mmd => sinkhorn || key == "adversary",
            PenaltyKind::Sinkhorn => mmd || key == "adversary",
            PenaltyKind::Adversarial => mmd || sinkhorn || key == "scale",
        }
    }
}

impl PenaltySection {
    fn keys_set(&self) -> Vec<&'static str> {
        let mut k = vec![];
        let set = [
            ("bandwidth", self.bandwidth.is_some()),
            ("kernel", self.kernel.is_some()),
            ("estimator", self.estimator.is_some()),
            ("blur", self.blur.is_some()),
            ("scaling", self.scaling.is_some()),
            ("p", self.p.is_some()),
            ("debias", self.debias.is_some()),
            ("reach", self.reach.is_some()),
            ("adversary", self.adversary.is_some()),
            ("scale", self.scale.is_some()),
        ];
        for (name, on) in set {
            if on {
                k.push(name);
            }
        }
        k
    }

    /// Checks that every key set belongs to this kind, or `(key, message)`.
    fn check_keys(&self) -> Result<(), (String, String)> {
        match self.keys_set().into_iter().find(|k| self.kind.foreign(k)) {
            Some(k) => Err((
                format!("penalty.{k}"),
                format!("does not apply to kind = \"{}\"", self.kind),
            )),
            None => Ok(()),
        }
    }

    /// The adversary's settings (defaults filled in) for `kind = "adversarial"`, `None` for
    /// the divergences, or `(key, message)` for a bad value.
    pub fn adversary(&self) -> Result<Option<AdversarySection>, (String, String)> {
        self.check_keys()?;
        if self.kind != PenaltyKind::Adversarial {
            return Ok(None);
        }
        let a = self.adversary.clone().unwrap_or_default();
        let bad = |k: &str, m: String| Err((format!("penalty.adversary.{k}"), m));
        if a.hidden.contains(&0) {
            return bad(
                "hidden",
                format!("= {:?}: every width must be ≥ 1", a.hidden),
            );
        }
        if !(a.learning_rate.is_finite() && a.learning_rate > 0.0) {
            return bad(
                "learning_rate",
                format!("= {} must be > 0", a.learning_rate),
            );
        }
        if a.steps == 0 {
            return bad("steps", "= 0 must be ≥ 1".into());
        }
        Ok(Some(a))
    }

    /// The divergence this section describes (`None` for the adversarial penalty), or
    /// `(key, message)` for a bad value.
    pub fn divergence(&self) -> Result<Option<GroupDivergence>, (String, String)> {
        self.check_keys()?;
        match self.kind {
            PenaltyKind::Adversarial => Ok(None),
            PenaltyKind::Mmd => Ok(Some(GroupDivergence::Mmd(Mmd {
                kernel: self.kernel.unwrap_or_default(),
                estimator: self.estimator.unwrap_or_default(),
                bandwidth: bandwidth(
                    self.bandwidth
                        .as_ref()
                        .unwrap_or(&BandwidthSetting::default()),
                )
                .map_err(|m| ("penalty.bandwidth".to_string(), m))?,
            }))),
            PenaltyKind::Sinkhorn => {
                let d = Sinkhorn::default();
                let blur = self.blur.unwrap_or(d.blur);
                let scaling = self.scaling.unwrap_or(d.scaling);
                let p = self.p.unwrap_or(d.p.p());
                let bad = |k: &str, m: String| Err((format!("penalty.{k}"), m));
                if !(blur.is_finite() && blur > 0.0) {
                    return bad("blur", format!("= {blur} must be > 0"));
                }
                if !(scaling > 0.0 && scaling < 1.0) {
                    return bad("scaling", format!("= {scaling} must be in (0, 1)"));
                }
                let Some(power) = Power::from_p(p) else {
                    return bad("p", format!("= {p} must be 1 or 2"));
                };
                if let Some(r) = self.reach
                    && !(r.is_finite() && r > 0.0)
                {
                    return bad("reach", format!("= {r} must be > 0"));
                }
                Ok(Some(GroupDivergence::Sinkhorn(Sinkhorn {
                    p: power,
                    blur,
                    scaling,
                    debias: self.debias.unwrap_or(d.debias),
                    reach: self.reach,
                    ..d
                })))
            }
        }
    }

    /// The scaling of `z` before the divergence.
    pub fn scale(&self) -> Scale {
        self.scale.unwrap_or(match self.kind {
            PenaltyKind::Mmd | PenaltyKind::Adversarial => Scale::None,
            PenaltyKind::Sinkhorn => Scale::BatchRms,
        })
    }

    /// The section with every option of its kind written out (for the resolved config).
    pub fn resolved(&self) -> PenaltySection {
        let mut s = self.clone();
        if self.kind == PenaltyKind::Adversarial {
            s.adversary = self.adversary().ok().flatten();
            return s;
        }
        s.scale = Some(self.scale());
        match self.divergence() {
            Ok(Some(GroupDivergence::Mmd(m))) => {
                s.kernel = Some(m.kernel);
                s.estimator = Some(m.estimator);
                s.bandwidth = Some(self.bandwidth.clone().unwrap_or_default());
            }
            Ok(Some(GroupDivergence::Sinkhorn(k))) => {
                s.blur = Some(k.blur);
                s.scaling = Some(k.scaling);
                s.p = Some(k.p.p());
                s.debias = Some(k.debias);
            }
            Ok(None) | Err(_) => {}
        }
        s
    }
}

/// The bandwidth rule of a setting.
pub fn bandwidth(setting: &BandwidthSetting) -> Result<Bandwidth, String> {
    let ok = |v: &[f64]| v.iter().all(|s| s.is_finite() && *s > 0.0) && !v.is_empty();
    match setting {
        BandwidthSetting::Named(n) if n == "median" => Ok(Bandwidth::Median),
        BandwidthSetting::Named(n) => Err(format!(
            "= \"{n}\" is not a bandwidth: use \"median\", a number or a list of numbers"
        )),
        BandwidthSetting::One(s) if ok(&[*s]) => Ok(Bandwidth::Fixed(vec![*s])),
        BandwidthSetting::Many(v) if ok(v) => Ok(Bandwidth::Fixed(v.clone())),
        _ => Err("values must be finite and > 0".into()),
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
    /// Stop when the validation objective (mean validation log-loss of the source tasks +
    /// λ · the validation MMD², see [`crate::report::EpochRecord`]) has not improved for this
    /// many epochs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub early_stopping_patience: Option<usize>,
    /// Checkpoints kept in the run directory (one is written after every epoch).
    #[serde(default = "default_keep")]
    pub keep_checkpoints: usize,
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
            weight_decay: 0.0,
        }
    }
}

/// `[transfer]`: the logistic head fitted per transfer task on the frozen representation.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TransferSection {
    /// L2 weight of the logistic head (> 0 keeps the fit well-posed).
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
}

/// The kind of a binary transfer head.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum HeadKind {
    /// L2-regularised logistic regression, fitted exactly (Newton).
    #[default]
    Logistic,
    /// One hidden ReLU layer, sigmoid output, Adam on mini-batches, seeded
    /// ([`fairrep_heads::MlpClassifier`]).
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
        }
    }
}

/// A config that cannot be used, with the file and the key it is about.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("cannot read config file {path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Not valid TOML for this schema (unknown key, wrong type, …); the message has the line.
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message, with line, column and key.
        message: String,
    },
    /// A value out of its range.
    #[error("{path}: `{key}` {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The dotted key.
        key: String,
        /// What is wrong.
        message: String,
    },
}

/// One `--set key=value` override: a dotted key (array elements by index, `tasks.0.name`) and a
/// TOML value (`0.5`, `true`, `[32, 16]`, `"text"`; anything that is not TOML is a string).
#[derive(Debug, Clone, PartialEq)]
pub struct Override {
    /// The dotted key.
    pub key: String,
    /// The value.
    pub value: toml::Value,
    /// As written, for messages.
    pub text: String,
}

impl std::str::FromStr for Override {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let (key, raw) = text
            .split_once('=')
            .ok_or_else(|| format!("`{text}` is not key=value"))?;
        let key = key.trim();
        if key.is_empty() || key.split('.').any(str::is_empty) {
            return Err(format!("`{text}`: `{key}` is not a dotted key"));
        }
        let raw = raw.trim();
        let value = toml::from_str::<toml::Table>(&format!("v = {raw}"))
            .ok()
            .and_then(|mut t| t.remove("v"))
            .unwrap_or_else(|| toml::Value::String(raw.to_string()));
        Ok(Override {
            key: key.to_string(),
            value,
            text: text.to_string(),
        })
    }
}

impl Override {
    /// Writes the value into a parsed document (a TOML table), creating tables on the way.
    /// Setting `penalty.kind` also drops the other kinds' options from `[penalty]` (an MMD
    /// config's `bandwidth` means nothing to the Sinkhorn divergence), so one config can be run
    /// with any penalty.
    fn apply(&self, doc: &mut toml::Value) -> Result<(), String> {
        if self.key == "penalty.kind"
            && let (Some(kind), Some(toml::Value::Table(pen))) =
                (self.value.as_str(), doc.get_mut("penalty"))
        {
            // An unknown kind is left for the config's own check to name.
            if let Ok(kind) = toml::Value::String(kind.to_string()).try_into::<PenaltyKind>() {
                pen.retain(|k, _| !kind.foreign(k));
            }
        }
        let parts: Vec<&str> = self.key.split('.').collect();
        let mut node = doc;
        for (depth, part) in parts.iter().enumerate() {
            let last = depth + 1 == parts.len();
            let here = parts[..depth].join(".");
            node = match node {
                toml::Value::Table(t) => {
                    if last {
                        t.insert(part.to_string(), self.value.clone());
                        return Ok(());
                    }
                    t.entry(part.to_string())
                        .or_insert_with(|| toml::Value::Table(toml::Table::new()))
                }
                toml::Value::Array(items) => {
                    let len = items.len();
                    let i: usize = part.parse().map_err(|_| {
                        format!("`{here}` is a list: index it by number, e.g. `{here}.0`")
                    })?;
                    let item = items
                        .get_mut(i)
                        .ok_or_else(|| format!("`{here}` has {len} entries: no index {i}"))?;
                    if last {
                        *item = self.value.clone();
                        return Ok(());
                    }
                    item
                }
                _ => return Err(format!("`{here}` is a value, not a table")),
            };
        }
        Ok(())
    }
}

impl Config {
    /// Reads and validates a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        Self::load_with(path, &[])
    }

    /// Reads a config file, applies `--set` overrides in order, and validates the result. An
    /// override that breaks the config is named in the error.
    pub fn load_with(path: &Path, overrides: &[Override]) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse_with(&text, path, overrides)
    }

    /// [`Config::load_with`] on the text of a config file (`path` is only used in messages).
    pub fn parse_with(
        text: &str,
        path: &Path,
        overrides: &[Override],
    ) -> Result<Config, ConfigError> {
        let parse = |message: String| ConfigError::Parse {
            path: path.to_path_buf(),
            message: with_suggestion(message.trim_end()),
        };
        if overrides.is_empty() {
            let config: Config = toml::from_str(text).map_err(|e| parse(e.to_string()))?;
            config.validate(path)?;
            return Ok(config);
        }
        let doc: toml::Value = toml::from_str(text).map_err(|e| parse(e.to_string()))?;
        let decode = |v: &toml::Value| Config::deserialize(v.clone()).map_err(|e| e.to_string());
        let base_ok = decode(&doc).is_ok();
        let mut current = doc;
        for o in overrides {
            let mut next = current.clone();
            o.apply(&mut next)
                .map_err(|m| parse(format!("--set {}: {m}", o.text)))?;
            if base_ok && let Err(m) = decode(&next) {
                return Err(parse(format!("--set {}: {m}", o.text)));
            }
            current = next;
        }
        let config =
            decode(&current).map_err(|m| parse(format!("with the --set overrides: {m}")))?;
        let shown = PathBuf::from(format!(
            "{} (with {})",
            path.display(),
            overrides
                .iter()
                .map(|o| format!("--set {}", o.text))
                .collect::<Vec<_>>()
                .join(" ")
        ));
        config.validate(&shown)?;
        Ok(config)
    }

    /// Checks every value range. `path` is only used in messages.
    pub fn validate(&self, path: &Path) -> Result<(), ConfigError> {
        let bad = |key: &str, message: String| {
            Err(ConfigError::Invalid {
                path: path.to_path_buf(),
                key: key.to_string(),
                message,
            })
        };
        let p = &self.penalty;
        if !(p.lambda.is_finite() && p.lambda >= 0.0) {
            return bad(
                "penalty.lambda",
                format!("= {} must be a finite number ≥ 0", p.lambda),
            );
        }
        p.divergence()
            .and_then(|_| p.adversary())
            .map_err(|(key, message)| ConfigError::Invalid {
                path: path.to_path_buf(),
                key,
                message,
            })?;
        match (p.condition, &p.condition_task) {
            (Condition::None, Some(_)) => {
                return bad(
                    "penalty.condition_task",
                    "is set but penalty.condition is \"none\"".into(),
                );
            }
            (Condition::None, None) => {}
            (_, None) => {
                return bad(
                    "penalty.condition_task",
                    "must name the source task whose label conditions the penalty".into(),
                );
            }
            (_, Some(t)) => {
                if !self.tasks.iter().any(|k| {
                    &k.name == t
                        && k.role == Role::Source
                        && k.kind == fairrep_data::TaskKind::Binary
                }) {
                    return bad(
                        "penalty.condition_task",
                        format!("= \"{t}\" is not a binary source task"),
                    );
                }
            }
        }
        if self.method.kind == MethodKind::Ferm
            && let Some(t) = self
                .tasks
                .iter()
                .find(|t| t.kind == fairrep_data::TaskKind::Regression)
        {
            return bad(
                "method.kind",
                format!(
                    "is \"ferm\", which needs binary tasks; `{}` is a regression task",
                    t.name
                ),
            );
        }
        let pp = &self.postprocess;
        if !(pp.jitter.is_finite() && pp.jitter >= 0.0) {
            return bad(
                "postprocess.jitter",
                format!("= {} must be a finite number ≥ 0", pp.jitter),
            );
        }
        if pp.kind != PostprocessKind::None {
            if self.method.kind != MethodKind::Deep {
                return bad(
                    "postprocess.kind",
                    "works on runs of method.kind = \"deep\" only".into(),
                );
            }
            if self.data.validation_fraction <= 0.0 {
                return bad(
                    "postprocess.kind",
                    "needs calibration data: set data.validation_fraction > 0 (the validation split calibrates the post-processing)".into(),
                );
            }
        }
        for name in pp.tasks.iter().flatten() {
            if !self.tasks.iter().any(|k| &k.name == name) {
                return bad(
                    "postprocess.tasks",
                    format!("names `{name}`, which is not a task of this config"),
                );
            }
        }
        let t = &self.training;
        if t.epochs == 0 {
            return bad("training.epochs", "must be at least 1".into());
        }
        if t.keep_checkpoints == 0 {
            return bad("training.keep_checkpoints", "must be at least 1".into());
        }
        if !(t.min_learning_rate.is_finite()
            && t.min_learning_rate >= 0.0
            && t.min_learning_rate <= t.learning_rate)
        {
            return bad(
                "training.min_learning_rate",
                format!(
                    "= {} must be in [0, learning_rate = {}]",
                    t.min_learning_rate, t.learning_rate
                ),
            );
        }
        if let Some(c) = t.grad_clip_norm
            && !(c.is_finite() && c > 0.0)
        {
            return bad("training.grad_clip_norm", format!("= {c} must be > 0"));
        }
        if t.early_stopping_patience == Some(0) {
            return bad(
                "training.early_stopping_patience",
                "must be at least 1".into(),
            );
        }
        if t.batch_size < 2 {
            return bad(
                "training.batch_size",
                format!("= {} must be at least 2", t.batch_size),
            );
        }
        if !(t.learning_rate.is_finite() && t.learning_rate > 0.0) {
            return bad(
                "training.learning_rate",
                format!("= {} must be > 0", t.learning_rate),
            );
        }
        if !(t.weight_decay.is_finite() && t.weight_decay >= 0.0) {
            return bad(
                "training.weight_decay",
                format!("= {} must be ≥ 0", t.weight_decay),
            );
        }
        let m = &self.model;
        if m.representation == 0 {
            return bad("model.representation", "must be at least 1".into());
        }
        if m.hidden.contains(&0) {
            return bad("model.hidden", "widths must be at least 1".into());
        }
        if !(0.0..1.0).contains(&m.dropout) {
            return bad(
                "model.dropout",
                format!("= {} must be in [0, 1)", m.dropout),
            );
        }
        let tr = &self.transfer;
        if !(tr.l2.is_finite() && tr.l2 >= 0.0) {
            return bad("transfer.l2", format!("= {} must be ≥ 0", tr.l2));
        }
        if !(0.0..=1.0).contains(&tr.threshold) {
            return bad(
                "transfer.threshold",
                format!("= {} must be in [0, 1]", tr.threshold),
            );
        }
        match (tr.head, &tr.mlp) {
            (HeadKind::Logistic, Some(_)) => {
                return bad(
                    "transfer.mlp",
                    "is set but transfer.head is \"logistic\" (set head = \"mlp\")".into(),
                );
            }
            (HeadKind::Mlp, _) if tr.ferm => {
                return bad(
                    "transfer.ferm",
                    "needs transfer.head = \"logistic\": FERM constrains a linear head".into(),
                );
            }
            (HeadKind::Mlp, Some(m)) => {
                if m.hidden == 0 {
                    return bad("transfer.mlp.hidden", "= 0 must be ≥ 1".into());
                }
                if m.epochs == 0 {
                    return bad("transfer.mlp.epochs", "= 0 must be ≥ 1".into());
                }
                if m.batch_size == 0 {
                    return bad("transfer.mlp.batch_size", "= 0 must be ≥ 1".into());
                }
                if !(m.learning_rate.is_finite() && m.learning_rate > 0.0) {
                    return bad(
                        "transfer.mlp.learning_rate",
                        format!("= {} must be > 0", m.learning_rate),
                    );
                }
            }
            _ => {}
        }
        if !self.tasks.iter().any(|t| t.role == Role::Source) {
            return bad(
                "tasks",
                "needs at least one task with role = \"source\"".into(),
            );
        }
        fairrep_data::validate_schema(&self.data, &self.tasks).map_err(|e| ConfigError::Invalid {
            path: path.to_path_buf(),
            key: "data".into(),
            message: e.to_string(),
        })
    }

    /// The config with data paths made absolute (relative ones are taken from `base_dir`), as
    /// written into a run directory so the run can be repeated from anywhere.
    pub fn with_absolute_paths(&self, base_dir: &Path) -> Config {
        let mut c = self.clone();
        c.penalty = c.penalty.resolved();
        for f in std::iter::once(&mut c.data.train).chain(c.data.test.as_mut()) {
            // Environment variables are expanded (an unset one was already refused when the
            // data was read), so the resolved config names the files actually read.
            let expanded = fairrep_data::spec::expand_path(&f.path).unwrap_or(f.path.clone());
            let joined = base_dir.join(expanded);
            f.path = std::path::absolute(&joined).unwrap_or(joined);
        }
        c
    }
}

/// Adds "did you mean `…`?" to serde's "unknown field `x`, expected one of `a`, `b`, …" (or
/// "unknown variant") when one of the expected names is close to the unknown one.
pub fn with_suggestion(message: &str) -> String {
    let quoted = |text: &str| -> Vec<String> {
        text.split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_string)
            .collect()
    };
    let found = ["unknown field", "unknown variant"]
        .iter()
        .find_map(|marker| message.find(marker).map(|at| &message[at..]));
    let Some(tail) = found else {
        return message.to_string();
    };
    let line = tail.lines().next().unwrap_or(tail);
    let names = quoted(line);
    let Some((unknown, expected)) = names.split_first() else {
        return message.to_string();
    };
    let best = expected
        .iter()
        .map(|e| (strsim::damerau_levenshtein(unknown, e), e))
        .min();
    match best {
        Some((d, e)) if d <= 2.max(unknown.len() / 3) => {
            format!("{message}\n  did you mean `{e}`?")
        }
        _ => message.to_string(),
    }
}

/// Every config key: dotted key, type, default (`required` where there is none), meaning.
/// `fairrep config --explain` prints it; a test sets every key with a TOML default to that
/// default on the quickstart config, so the table cannot name a key the parser does not know.
pub const KEYS: &[(&str, &str, &str, &str)] = &[
    (
        "seed",
        "integer",
        "0",
        "seed of the validation split, initial weights and batch order",
    ),
    (
        "data.train.path",
        "path",
        "required",
        "training CSV (gzip if it ends in .gz); relative to the config's directory; $NAME or ${NAME} is an environment variable",
    ),
    (
        "data.train.skip_rows",
        "integer",
        "0",
        "lines to skip at the top of the training file",
    ),
    (
        "data.test.path",
        "path",
        "required unless data.test_fraction",
        "test CSV ($NAME / ${NAME}: environment variables, e.g. $FAIRREP_DATA_DIR)",
    ),
    (
        "data.test_fraction",
        "number in (0, 1)",
        "none",
        "without a test file: the seeded fraction of the training file held out as the test split",
    ),
    (
        "data.test.skip_rows",
        "integer",
        "0",
        "lines to skip at the top of the test file",
    ),
    (
        "data.columns",
        "list of strings",
        "the header line",
        "column names for files without a header",
    ),
    (
        "data.delimiter",
        "character",
        "\",\"",
        "field delimiter (one ASCII character)",
    ),
    (
        "data.missing_values",
        "list of strings",
        "[\"?\", \"\"]",
        "cells that mean missing",
    ),
    (
        "data.missing",
        "\"drop_rows\" | \"impute\" | \"error\"",
        "\"drop_rows\"",
        "what to do with missing cells",
    ),
    (
        "data.validation_fraction",
        "number in (0, 1)",
        "0.1",
        "share of the training file held out for validation (seeded)",
    ),
    (
        "data.features.categorical",
        "list of columns",
        "[]",
        "one-hot encoded over the training categories",
    ),
    (
        "data.features.numeric",
        "list of columns",
        "[]",
        "standardised with training statistics",
    ),
    (
        "data.sensitive.column",
        "column",
        "required",
        "the sensitive attribute",
    ),
    (
        "data.sensitive.groups",
        "list of {name, values}",
        "each distinct value",
        "named groups of values (2 or more)",
    ),
    (
        "data.sensitive.include_as_feature",
        "bool",
        "false",
        "also feed the sensitive attribute to the encoder",
    ),
    (
        "tasks",
        "list of tables",
        "required",
        "binary tasks: name, column, positive (predicate), role",
    ),
    ("tasks.N.name", "string", "required", "task name (unique)"),
    (
        "tasks.N.column",
        "column",
        "required",
        "the column the label comes from",
    ),
    (
        "tasks.N.kind",
        "\"binary\" | \"regression\"",
        "\"binary\"",
        "binary: label from `positive`; regression: the column's number (squared-error head, RMSE/MAE/R², KS/W1 parity)",
    ),
    (
        "tasks.N.positive",
        "predicate",
        "required for binary tasks",
        "{eq|ne = v}, {in|not_in = [..]}, {gt|ge|lt|le = x}",
    ),
    (
        "tasks.N.role",
        "\"source\" | \"transfer\"",
        "required",
        "source tasks train the encoder; transfer tasks only evaluate it",
    ),
    (
        "model.hidden",
        "list of integers",
        "[64]",
        "hidden widths of the encoder MLP",
    ),
    (
        "model.representation",
        "integer",
        "16",
        "size of the representation z",
    ),
    (
        "model.activation",
        "relu | tanh | sigmoid | gelu | identity",
        "\"relu\"",
        "activation of the hidden layers",
    ),
    (
        "model.representation_activation",
        "same as activation",
        "\"identity\"",
        "activation applied to z",
    ),
    (
        "model.dropout",
        "number in [0, 1)",
        "0.0",
        "dropout after hidden layers",
    ),
    (
        "penalty.kind",
        "\"mmd\" | \"sinkhorn\" | \"adversarial\"",
        "\"mmd\"",
        "the divergence between the groups' representations, or an adversary (LAFTR)",
    ),
    (
        "penalty.lambda",
        "number ≥ 0",
        "0.0",
        "weight of the penalty (0: measured, not trained on)",
    ),
    (
        "penalty.condition",
        "\"none\" | \"equal_opportunity\" | \"equalized_odds\"",
        "\"none\"",
        "demographic parity, or conditioned on a task's label",
    ),
    (
        "penalty.condition_task",
        "source task name",
        "none",
        "the task whose label conditions the penalty",
    ),
    (
        "penalty.scale",
        "\"none\" | \"batch_rms\"",
        "\"batch_rms\" for sinkhorn, \"none\" for mmd",
        "standardise z by the batch RMS before the divergence",
    ),
    (
        "penalty.bandwidth",
        "\"median\" | σ | [σ, …]",
        "\"median\"",
        "MMD: Gaussian bandwidth(s), kernels summed",
    ),
    (
        "penalty.kernel",
        "\"gaussian\" | \"laplacian\" | \"energy\"",
        "\"gaussian\"",
        "MMD: kernel",
    ),
    (
        "penalty.estimator",
        "\"biased\" | \"unbiased\" | \"linear\"",
        "\"biased\"",
        "MMD: estimator",
    ),
    ("penalty.blur", "number > 0", "0.05", "Sinkhorn: ε = blur^p"),
    (
        "penalty.scaling",
        "number in (0, 1)",
        "0.5",
        "Sinkhorn: ε-scaling ratio",
    ),
    ("penalty.p", "1 | 2", "2", "Sinkhorn: cost |x − y|^p / p"),
    (
        "penalty.debias",
        "bool",
        "true",
        "Sinkhorn: debiased divergence (or raw entropic OT)",
    ),
    (
        "penalty.reach",
        "number > 0",
        "balanced",
        "Sinkhorn: unbalanced transport with ρ = reach^p",
    ),
    (
        "penalty.adversary.hidden",
        "list of integers ≥ 1",
        "[32]",
        "adversarial: hidden widths of the adversary MLP z ↦ group logits",
    ),
    (
        "penalty.adversary.learning_rate",
        "number > 0",
        "0.001",
        "adversarial: the adversary's Adam learning rate",
    ),
    (
        "penalty.adversary.steps",
        "integer ≥ 1",
        "1",
        "adversarial: adversary updates per encoder update",
    ),
    (
        "penalty.adversary.loss",
        "\"l1\" | \"cross_entropy\"",
        "\"l1\"",
        "adversarial: what the adversary minimises (LAFTR's ℓ₁, or balanced cross-entropy)",
    ),
    (
        "training.epochs",
        "integer ≥ 1",
        "10",
        "passes over the training split",
    ),
    ("training.batch_size", "integer ≥ 1", "256", "rows per step"),
    (
        "training.learning_rate",
        "number > 0",
        "0.001",
        "Adam's learning rate",
    ),
    (
        "training.weight_decay",
        "number ≥ 0",
        "0.0",
        "L2 weight decay",
    ),
    (
        "transfer.l2",
        "number ≥ 0",
        "0.0001",
        "L2 weight of the transfer tasks' logistic heads",
    ),
    (
        "transfer.threshold",
        "number in (0, 1)",
        "0.5",
        "decision threshold of every head",
    ),
    (
        "method.kind",
        "\"deep\" | \"ferm\"",
        "\"deep\"",
        "deep: encoder + penalty + transfer heads; ferm: linear FERM (equal opportunity) next to the plain linear model, for every task",
    ),
    (
        "transfer.ferm",
        "boolean",
        "false",
        "fit each binary transfer head on the FERM projection of z (equal opportunity on the training split)",
    ),
    (
        "transfer.baselines",
        "boolean",
        "true",
        "also fit the transfer heads on the raw features, with and without the sensitive attribute (baselines in the report)",
    ),
    (
        "transfer.head",
        "\"logistic\" | \"mlp\"",
        "\"logistic\"",
        "head of each binary transfer task (regression tasks: ridge)",
    ),
    (
        "transfer.mlp.hidden",
        "integer ≥ 1",
        "32",
        "MLP head: hidden ReLU units",
    ),
    (
        "transfer.mlp.epochs",
        "integer ≥ 1",
        "30",
        "MLP head: passes over the training split",
    ),
    (
        "transfer.mlp.batch_size",
        "integer ≥ 1",
        "256",
        "MLP head: rows per Adam step",
    ),
    (
        "transfer.mlp.learning_rate",
        "number > 0",
        "0.01",
        "MLP head: Adam's step size",
    ),
    (
        "postprocess.kind",
        "\"none\" | \"barycenter\"",
        "\"none\"",
        "barycenter: map each group's test scores to the groups' Wasserstein barycenter, calibrated on the validation split (strong demographic parity); reported next to the raw scores",
    ),
    (
        "postprocess.tasks",
        "list of task names",
        "every task",
        "the tasks to post-process",
    ),
    (
        "postprocess.jitter",
        "number ≥ 0",
        "1e-05",
        "half-width of the uniform jitter that breaks ties between scores",
    ),
    (
        "method.loss",
        "\"logistic\" | \"hinge\"",
        "\"logistic\"",
        "ferm: the linear classifier (hinge: a linear SVM); regularised by transfer.l2",
    ),
];

/// The text of `fairrep config --explain`.
pub fn explain() -> String {
    let width = KEYS.iter().map(|k| k.0.len()).max().unwrap_or(0);
    let mut out = String::from(
        "Config keys (TOML; unknown keys are errors; `fairrep train --set KEY=VALUE` overrides any):\n\n",
    );
    for (key, ty, default, meaning) in KEYS {
        out += &format!(
            "{key:width$}  {meaning}\n{:width$}  type: {ty}; default: {default}\n",
            ""
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
[data]
train = { path = "a.csv" }
test = { path = "b.csv" }
[data.features]
numeric = ["x"]
[data.sensitive]
column = "s"
[[tasks]]
name = "t"
column = "y"
positive = { eq = 1 }
role = "source"
"#;

    fn parse(extra: &str) -> Result<Config, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.toml");
        std::fs::write(&p, format!("{MINIMAL}\n{extra}")).unwrap();
        Config::load(&p)
    }

    #[test]
    fn defaults_fill_every_section() {
        let c = parse("").unwrap();
        assert_eq!(c.seed, 0);
        assert_eq!(c.penalty.lambda, 0.0);
        assert_eq!(
            c.penalty.divergence().unwrap(),
            Some(GroupDivergence::Mmd(Mmd::default()))
        );
        assert_eq!(c.training, TrainingSection::default());
        assert_eq!(c.model, ModelSection::default());
        assert_eq!(c.data.validation_fraction, 0.1);
    }

    fn bw(c: &Config) -> Bandwidth {
        match c.penalty.divergence().unwrap() {
            Some(GroupDivergence::Mmd(m)) => m.bandwidth,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn bandwidth_forms() {
        let c = parse("[penalty]\nbandwidth = 2.0").unwrap();
        assert_eq!(bw(&c), Bandwidth::Fixed(vec![2.0]));
        let c = parse("[penalty]\nbandwidth = [0.5, 1.0]").unwrap();
        assert_eq!(bw(&c), Bandwidth::Fixed(vec![0.5, 1.0]));
        let e = parse("[penalty]\nbandwidth = \"mean\"")
            .unwrap_err()
            .to_string();
        assert!(e.contains("penalty.bandwidth") && e.contains("mean"), "{e}");
        let e = parse("[penalty]\nbandwidth = -1.0")
            .unwrap_err()
            .to_string();
        assert!(e.contains("penalty.bandwidth"), "{e}");
    }

    #[test]
    fn out_of_range_values_name_their_key() {
        for (extra, key) in [
            ("[penalty]\nlambda = -0.5", "penalty.lambda"),
            ("[training]\nbatch_size = 1", "training.batch_size"),
            ("[training]\nepochs = 0", "training.epochs"),
            ("[training]\nlearning_rate = 0.0", "training.learning_rate"),
            ("[model]\ndropout = 1.0", "model.dropout"),
            ("[model]\nrepresentation = 0", "model.representation"),
            ("[model]\nhidden = [8, 0]", "model.hidden"),
            ("[transfer]\nthreshold = 2.0", "transfer.threshold"),
        ] {
            let e = parse(extra).unwrap_err().to_string();
            assert!(e.contains(key) && e.contains("c.toml"), "{extra}: {e}");
        }
    }

    #[test]
    fn unknown_keys_and_bad_types_name_key_and_line() {
        let e = parse("[training]\nepoch = 3").unwrap_err().to_string();
        assert!(e.contains("epoch") && e.contains("line"), "{e}");
        let e = parse("[model]\nactivation = \"swish\"")
            .unwrap_err()
            .to_string();
        assert!(e.contains("swish") && e.contains("line"), "{e}");
        let e = parse("seed = \"one\"").unwrap_err().to_string();
        assert!(e.contains("line"), "{e}");
    }

    #[test]
    fn sinkhorn_options_and_foreign_keys() {
        let c = parse("[penalty]\nkind = \"sinkhorn\"\nblur = 0.1\nscaling = 0.9\np = 1").unwrap();
        match c.penalty.divergence().unwrap() {
            Some(GroupDivergence::Sinkhorn(s)) => {
                assert_eq!(
                    (s.blur, s.scaling, s.p, s.debias),
                    (0.1, 0.9, Power::P1, true)
                )
            }
            other => panic!("{other:?}"),
        }
        for (extra, key) in [
            ("kind = \"sinkhorn\"\nbandwidth = 1.0", "penalty.bandwidth"),
            ("kind = \"mmd\"\nblur = 1.0", "penalty.blur"),
            ("kind = \"sinkhorn\"\nscaling = 1.0", "penalty.scaling"),
            ("kind = \"sinkhorn\"\np = 3", "penalty.p"),
            ("kind = \"sinkhorn\"\nreach = 0.0", "penalty.reach"),
            (
                "condition = \"equal_opportunity\"",
                "penalty.condition_task",
            ),
            (
                "condition = \"equal_opportunity\"\ncondition_task = \"nope\"",
                "penalty.condition_task",
            ),
            ("condition_task = \"t\"", "penalty.condition_task"),
        ] {
            let e = parse(&format!("[penalty]\n{extra}"))
                .unwrap_err()
                .to_string();
            assert!(e.contains(key), "{extra}: {e}");
        }
        let c = parse("[penalty]\ncondition = \"equalized_odds\"\ncondition_task = \"t\"").unwrap();
        assert_eq!(c.penalty.condition, Condition::EqualizedOdds);
    }

    #[test]
    fn a_source_task_is_required() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.toml");
        std::fs::write(
            &p,
            MINIMAL.replace("role = \"source\"", "role = \"transfer\""),
        )
        .unwrap();
        let e = Config::load(&p).unwrap_err().to_string();
        assert!(e.contains("tasks") && e.contains("source"), "{e}");
    }

    fn with_sets(sets: &[&str]) -> Result<Config, ConfigError> {
        let o: Vec<Override> = sets.iter().map(|t| t.parse().unwrap()).collect();
        Config::parse_with(MINIMAL, Path::new("c.toml"), &o)
    }

    #[test]
    fn set_overrides_keys_tables_and_list_entries() {
        let c = with_sets(&[
            "penalty.lambda=0.5",
            "model.hidden=[32, 16]",
            "tasks.0.name=renamed",
            "penalty.kind=sinkhorn",
            "penalty.blur = 0.2",
            "seed=7",
        ])
        .unwrap();
        assert_eq!(c.penalty.lambda, 0.5);
        assert_eq!(c.model.hidden, vec![32, 16]);
        assert_eq!(c.tasks[0].name, "renamed");
        assert_eq!(c.penalty.kind, PenaltyKind::Sinkhorn);
        assert_eq!(c.penalty.blur, Some(0.2));
        assert_eq!(c.seed, 7);
        // A bare word is a string.
        let c = with_sets(&["data.sensitive.column=sex"]).unwrap();
        assert_eq!(c.data.sensitive.column, "sex");
    }

    #[test]
    fn unknown_keys_get_a_suggestion() {
        let m = with_suggestion("unknown field `lamda`, expected one of `kind`, `lambda`, `p`");
        assert!(m.ends_with("did you mean `lambda`?"), "{m}");
        let m = with_suggestion("unknown field `zzzzzz`, expected one of `kind`, `lambda`");
        assert!(!m.contains("did you mean"), "{m}");
        let e = with_sets(&["penalty.knid=mmd"]).unwrap_err().to_string();
        assert!(e.contains("did you mean `kind`?"), "{e}");
    }

    #[test]
    fn switching_the_penalty_kind_drops_the_other_kinds_options() {
        let c = with_sets(&[
            "penalty.bandwidth=2.0",
            "penalty.kind=sinkhorn",
            "penalty.blur=0.3",
        ])
        .unwrap();
        assert_eq!(c.penalty.kind, PenaltyKind::Sinkhorn);
        assert_eq!((c.penalty.bandwidth, c.penalty.blur), (None, Some(0.3)));
        let c = with_sets(&[
            "penalty.kind=sinkhorn",
            "penalty.blur=0.3",
            "penalty.kind=mmd",
        ])
        .unwrap();
        assert_eq!((c.penalty.kind, c.penalty.blur), (PenaltyKind::Mmd, None));
    }

    #[test]
    fn the_adversarial_penalty_takes_only_its_own_options() {
        let c = parse("[penalty]\nkind = \"adversarial\"\nlambda = 1.0").unwrap();
        assert_eq!(c.penalty.divergence().unwrap(), None);
        let a = c.penalty.adversary().unwrap().unwrap();
        assert_eq!(
            (a.hidden, a.steps, a.loss),
            (vec![32], 1, AdversaryLoss::L1)
        );
        let c = parse(
            "[penalty]\nkind = \"adversarial\"\n[penalty.adversary]\nhidden = []\nsteps = 3\n\
             loss = \"cross_entropy\"\nlearning_rate = 0.01",
        )
        .unwrap();
        let a = c.penalty.resolved().adversary.unwrap();
        assert_eq!(
            (a.hidden.len(), a.steps, a.loss, a.learning_rate),
            (0, 3, AdversaryLoss::CrossEntropy, 0.01)
        );
        assert!(
            parse("[penalty]\nkind = \"mmd\"")
                .unwrap()
                .penalty
                .adversary()
                .unwrap()
                .is_none()
        );
        for (extra, key) in [
            (
                "[penalty]\nkind = \"adversarial\"\nbandwidth = 1.0",
                "penalty.bandwidth",
            ),
            (
                "[penalty]\nkind = \"adversarial\"\nscale = \"batch_rms\"",
                "penalty.scale",
            ),
            (
                "[penalty]\nkind = \"sinkhorn\"\n[penalty.adversary]\nsteps = 2",
                "penalty.adversary",
            ),
            (
                "[penalty]\nkind = \"adversarial\"\n[penalty.adversary]\nsteps = 0",
                "penalty.adversary.steps",
            ),
            (
                "[penalty]\nkind = \"adversarial\"\n[penalty.adversary]\nhidden = [4, 0]",
                "penalty.adversary.hidden",
            ),
            (
                "[penalty]\nkind = \"adversarial\"\n[penalty.adversary]\nlearning_rate = -1.0",
                "penalty.adversary.learning_rate",
            ),
        ] {
            let e = parse(extra).unwrap_err().to_string();
            assert!(e.contains(key) && e.contains("c.toml"), "{extra}: {e}");
        }
        let e = parse("[penalty]\nkind = \"adversarial\"\n[penalty.adversary]\nstep = 2")
            .unwrap_err()
            .to_string();
        assert!(e.contains("step") && e.contains("line"), "{e}");
        // Switching kinds by override drops the other kinds' options.
        let c = with_sets(&["penalty.bandwidth=2.0", "penalty.kind=adversarial"]).unwrap();
        assert_eq!(
            (c.penalty.kind, c.penalty.bandwidth),
            (PenaltyKind::Adversarial, None)
        );
        let c = with_sets(&[
            "penalty.kind=adversarial",
            "penalty.adversary.steps=2",
            "penalty.kind=mmd",
        ])
        .unwrap();
        assert_eq!(c.penalty.adversary, None);
    }

    #[test]
    fn the_mlp_transfer_head_is_configured_and_checked() {
        let c = parse("[transfer]\nhead = \"mlp\"").unwrap();
        assert_eq!(c.transfer.mlp_settings(), Some(MlpHeadSection::default()));
        let c =
            parse("[transfer]\nhead = \"mlp\"\n[transfer.mlp]\nhidden = 8\nepochs = 2").unwrap();
        let m = c.transfer.mlp_settings().unwrap();
        assert_eq!((m.hidden, m.epochs, m.batch_size), (8, 2, 256));
        assert_eq!(parse("").unwrap().transfer.mlp_settings(), None);
        for (extra, key) in [
            ("[transfer]\n[transfer.mlp]\nhidden = 8", "transfer.mlp"),
            ("[transfer]\nhead = \"mlp\"\nferm = true", "transfer.ferm"),
            (
                "[transfer]\nhead = \"mlp\"\n[transfer.mlp]\nhidden = 0",
                "transfer.mlp.hidden",
            ),
            (
                "[transfer]\nhead = \"mlp\"\n[transfer.mlp]\nepochs = 0",
                "transfer.mlp.epochs",
            ),
            (
                "[transfer]\nhead = \"mlp\"\n[transfer.mlp]\nbatch_size = 0",
                "transfer.mlp.batch_size",
            ),
            (
                "[transfer]\nhead = \"mlp\"\n[transfer.mlp]\nlearning_rate = 0.0",
                "transfer.mlp.learning_rate",
            ),
        ] {
            let e = parse(extra).unwrap_err().to_string();
            assert!(e.contains(key) && e.contains("c.toml"), "{extra}: {e}");
        }
        let e = parse("[transfer]\nhead = \"forest\"")
            .unwrap_err()
            .to_string();
        assert!(e.contains("forest") && e.contains("line"), "{e}");
    }

    #[test]
    fn a_bad_override_is_named() {
        let msg = |sets: &[&str]| with_sets(sets).unwrap_err().to_string();
        let m = msg(&["penalty.lambda=1", "penalty.lamda=1"]);
        assert!(
            m.contains("--set penalty.lamda=1") && m.contains("lamda"),
            "{m}"
        );
        let m = msg(&["training.epochs=many"]);
        assert!(m.contains("--set training.epochs=many"), "{m}");
        let m = msg(&["tasks.3.name=x"]);
        assert!(m.contains("no index 3"), "{m}");
        let m = msg(&["tasks.name=x"]);
        assert!(m.contains("index it by number"), "{m}");
        let m = msg(&["data.train.path.x=1"]);
        assert!(m.contains("not a table"), "{m}");
        let m = msg(&["penalty.lambda=-1"]);
        assert!(
            m.contains("penalty.lambda") && m.contains("--set penalty.lambda=-1"),
            "{m}"
        );
        assert!("novalue".parse::<Override>().is_err());
        assert!("a..b=1".parse::<Override>().is_err());
    }

    /// Every key of `KEYS` with a TOML default accepts that default: the table names only keys
    /// the parser knows, with values of the right type.
    #[test]
    fn explained_defaults_parse() {
        let mut checked = 0;
        for (key, _, default, _) in KEYS {
            let Ok(v) = toml::from_str::<toml::Table>(&format!("v = {default}")) else {
                continue; // "required", "none", … are descriptions
            };
            // The minimal config's only feature is numeric: an empty list leaves none.
            if *key == "data.features.numeric" {
                continue;
            }
            let _ = v;
            let sinkhorn_only = [
                "penalty.blur",
                "penalty.scaling",
                "penalty.p",
                "penalty.debias",
            ];
            // `tasks.N.…` keys: set on the first task.
            let key = key.replace(".N.", ".0.");
            let key = key.as_str();
            let mut sets = vec![format!("{key}={default}")];
            if sinkhorn_only.contains(&key) {
                sets.insert(0, "penalty.kind=sinkhorn".into());
            }
            if key.starts_with("penalty.adversary.") {
                sets.insert(0, "penalty.kind=adversarial".into());
            }
            if key.starts_with("transfer.mlp.") {
                sets.insert(0, "transfer.head=mlp".into());
            }
            let sets: Vec<&str> = sets.iter().map(String::as_str).collect();
            with_sets(&sets).unwrap_or_else(|e| panic!("{key} = {default}: {e}"));
            checked += 1;
        }
        assert!(checked >= 30, "only {checked} keys checked");
        assert!(explain().contains("penalty.lambda"));
    }

    #[test]
    fn learning_rate_schedules() {
        let mut t = TrainingSection {
            learning_rate: 0.1,
            ..TrainingSection::default()
        };
        assert_eq!(t.learning_rate_at(1, 100), 0.1);
        assert_eq!(t.learning_rate_at(100, 100), 0.1);
        t.lr_schedule = LrSchedule::Cosine;
        t.min_learning_rate = 0.02;
        assert!((t.learning_rate_at(1, 100) - 0.1).abs() < 1e-15);
        // Halfway through the decay: the mean of the two ends.
        assert!((t.learning_rate_at(51, 100) - 0.06).abs() < 1e-12);
        assert!((t.learning_rate_at(101, 100) - 0.02).abs() < 1e-12);
        t.warmup_steps = 10;
        assert!((t.learning_rate_at(5, 110) - 0.05).abs() < 1e-15);
        assert!((t.learning_rate_at(10, 110) - 0.1).abs() < 1e-15);
        assert!((t.learning_rate_at(11, 110) - 0.1).abs() < 1e-15);
        assert!((t.learning_rate_at(61, 110) - 0.06).abs() < 1e-12);
        let e = with_sets(&["training.min_learning_rate=1.0"]).unwrap_err();
        assert!(e.to_string().contains("training.min_learning_rate"), "{e}");
        let e = with_sets(&["training.early_stopping_patience=0"]).unwrap_err();
        assert!(e.to_string().contains("early_stopping_patience"), "{e}");
        let e = with_sets(&["training.grad_clip_norm=-1"]).unwrap_err();
        assert!(e.to_string().contains("grad_clip_norm"), "{e}");
    }
}
