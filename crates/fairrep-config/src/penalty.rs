//! `[penalty]`: the fairness penalty's kind, weight and options, resolved into
//! [`DivergenceSettings`] or the adversary's settings.

use fairrep_types::{Bandwidth, Condition, Estimator, KernelKind, Power, Scale};
use serde::{Deserialize, Serialize};

/// The divergence used as penalty.
#[derive(
    Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord, Hash, Default,
)]
#[serde(rename_all = "snake_case")]
pub enum PenaltyKind {
    /// MMD² (kernel, bandwidth, estimator).
    #[default]
    Mmd,
    /// Debiased Sinkhorn divergence (GeomLoss semantics).
    Sinkhorn,
    /// An adversary predicting the group from `z` (LAFTR): the penalty is its advantage over
    /// chance (`fairrep_losses::adversary`).
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
    /// `"none"`, `"batch_rms"`, `"pair_distance"` or `"whiten"`: standardise `z` by the batch's
    /// RMS entry or by its RMS distance between two rows, or whiten it by the batch's covariance,
    /// before the divergence (default:
    /// `"pair_distance"` for Sinkhorn, `"none"` for MMD, whose median bandwidth is already
    /// scale-invariant).
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
    /// Sinkhorn: target blur, ε = blur^p (default [`PAIR_DISTANCE_BLUR`] under the default
    /// `scale = "pair_distance"`, GeomLoss's 0.05 otherwise).
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
/// minimises it. The defaults follow the FFB benchmark's adversarial debiasing (two hidden
/// layers of 32, cross-entropy, many adversary updates per model update): on Adult, CelebA and
/// Heritage Health they gave fairer fronts than LAFTR's one-layer ℓ₁ adversary updated once per
/// step (the README, "The adversarial penalty at its best").
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AdversarySection {
    /// Hidden layer widths (default `[32, 32]`; `[]`: a linear adversary).
    #[serde(default = "default_adversary_hidden")]
    pub hidden: Vec<usize>,
    /// Adam learning rate of the adversary (default 0.001).
    #[serde(default = "default_adversary_learning_rate")]
    pub learning_rate: f64,
    /// Adversary updates per encoder update, on the same batch (default 10).
    #[serde(default = "default_adversary_steps")]
    pub steps: usize,
    /// What the adversary minimises (default `"cross_entropy"`).
    #[serde(default)]
    pub loss: AdversaryLoss,
}

/// The adversary's own training objective. The encoder's penalty is the adversary's advantage
/// `A` either way.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum AdversaryLoss {
    /// LAFTR's group-normalised ℓ₁ loss, `1 − A`: the game is zero-sum.
    L1,
    /// The group-balanced cross-entropy: stronger gradients when the adversary is confidently
    /// wrong.
    #[default]
    CrossEntropy,
}

fn default_adversary_hidden() -> Vec<usize> {
    vec![32, 32]
}
fn default_adversary_learning_rate() -> f64 {
    0.001
}
fn default_adversary_steps() -> usize {
    10
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
    pub fn foreign(self, key: &str) -> bool {
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
        if a.hidden.iter().any(|w| !(1..=crate::MAX_WIDTH).contains(w)) {
            return bad(
                "hidden",
                format!(
                    "= {:?}: every width must be in 1..={}",
                    a.hidden,
                    crate::MAX_WIDTH
                ),
            );
        }
        let weights: u128 = a
            .hidden
            .windows(2)
            .map(|w| w[0] as u128 * w[1] as u128)
            .sum();
        if weights > crate::MAX_PARAMETERS {
            return bad(
                "hidden",
                format!(
                    "= {:?} has {weights} weights between its layers, more than {}",
                    a.hidden,
                    crate::MAX_PARAMETERS
                ),
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

    /// The divergence this section describes (`None` for the adversarial penalty), every
    /// option resolved (defaults: [`MMD_DEFAULTS`] and [`SINKHORN_DEFAULTS`]), or
    /// `(key, message)` for a bad value.
    pub fn divergence(&self) -> Result<Option<DivergenceSettings>, (String, String)> {
        self.check_keys()?;
        match self.kind {
            PenaltyKind::Adversarial => Ok(None),
            PenaltyKind::Mmd => {
                let bw = self.bandwidth.clone().unwrap_or_default();
                Ok(Some(DivergenceSettings::Mmd {
                    kernel: self.kernel.unwrap_or(MMD_DEFAULTS.kernel),
                    estimator: self.estimator.unwrap_or(MMD_DEFAULTS.estimator),
                    bandwidth: bandwidth(&bw).map_err(|m| ("penalty.bandwidth".to_string(), m))?,
                }))
            }
            PenaltyKind::Sinkhorn => {
                let d = SINKHORN_DEFAULTS;
                let blur = self.blur.unwrap_or(match self.scale() {
                    Scale::PairDistance | Scale::Whiten => PAIR_DISTANCE_BLUR,
                    Scale::None | Scale::BatchRms => d.blur,
                });
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
                Ok(Some(DivergenceSettings::Sinkhorn {
                    p: power,
                    blur,
                    scaling,
                    debias: self.debias.unwrap_or(d.debias),
                    reach: self.reach,
                }))
            }
        }
    }

    /// The scaling of `z` before the divergence.
    pub fn scale(&self) -> Scale {
        self.scale.unwrap_or(match self.kind {
            PenaltyKind::Mmd | PenaltyKind::Adversarial => Scale::None,
            PenaltyKind::Sinkhorn => Scale::PairDistance,
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
            Ok(Some(DivergenceSettings::Mmd {
                kernel, estimator, ..
            })) => {
                s.kernel = Some(kernel);
                s.estimator = Some(estimator);
                s.bandwidth = Some(self.bandwidth.clone().unwrap_or_default());
            }
            Ok(Some(DivergenceSettings::Sinkhorn {
                p,
                blur,
                scaling,
                debias,
                ..
            })) => {
                s.blur = Some(blur);
                s.scaling = Some(scaling);
                s.p = Some(p.p());
                s.debias = Some(debias);
            }
            Ok(None) | Err(_) => {}
        }
        s
    }
}

/// The divergence of a `[penalty]` section with every option resolved: what `fairrep-run`
/// turns into `fairrep_losses::Mmd` or `fairrep_losses::Sinkhorn`.
#[derive(Debug, Clone, PartialEq)]
pub enum DivergenceSettings {
    /// MMD².
    Mmd {
        /// Kernel family.
        kernel: KernelKind,
        /// Estimator.
        estimator: Estimator,
        /// Bandwidth rule.
        bandwidth: Bandwidth,
    },
    /// The Sinkhorn divergence (GeomLoss's semantics).
    Sinkhorn {
        /// Cost exponent.
        p: Power,
        /// Target blur, ε = blur^p.
        blur: f64,
        /// ε-scaling ratio in (0, 1).
        scaling: f64,
        /// Debiased divergence (or raw entropic OT).
        debias: bool,
        /// Unbalanced transport's reach (`None`: balanced).
        reach: Option<f64>,
    },
}

/// The MMD options of a `[penalty]` section that sets none.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MmdDefaults {
    /// `penalty.kernel`.
    pub kernel: KernelKind,
    /// `penalty.estimator`.
    pub estimator: Estimator,
}

/// The MMD defaults: Gaussian kernel, biased estimator (and the median bandwidth, the default
/// [`BandwidthSetting`]); the same as `fairrep_losses::Mmd::default()` (a test of
/// `fairrep-run` checks it).
pub const MMD_DEFAULTS: MmdDefaults = MmdDefaults {
    kernel: KernelKind::Gaussian,
    estimator: Estimator::Biased,
};

/// The Sinkhorn options of a `[penalty]` section that sets none.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SinkhornDefaults {
    /// `penalty.p`.
    pub p: Power,
    /// `penalty.blur`.
    pub blur: f64,
    /// `penalty.scaling`.
    pub scaling: f64,
    /// `penalty.debias`.
    pub debias: bool,
}

/// GeomLoss's defaults: p = 2, blur 0.05, scaling 0.5, debiased; the same as
/// `fairrep_losses::Sinkhorn::default()` (a test of `fairrep-run` checks it).
pub const SINKHORN_DEFAULTS: SinkhornDefaults = SinkhornDefaults {
    p: Power::P2,
    blur: 0.05,
    scaling: 0.5,
    debias: true,
};

/// The Sinkhorn penalty's blur when `z` is scaled by its RMS distance between two rows (the
/// default): ε = 0.49 × the batch's mean squared distance between two rows, the analogue of the
/// MMD's median bandwidth. GeomLoss's 0.05 (ε = 0.0025 × that) is nearly unregularised
/// transport, whose estimate at a batch of 256 in 16 dimensions is mostly sampling noise once
/// the groups are close: on Adult it left the held-out income task's DDP at 0.07–0.13 (see the
/// README, "The Sinkhorn penalty: the cliff and its remedy").
pub const PAIR_DISTANCE_BLUR: f64 = 0.7;

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
