//! The vocabulary of fairrep: the enums that name a choice — a kernel, an estimator, a
//! bandwidth rule, the rows a penalty compares, the scaling of `z`, a cost exponent, an
//! activation. They are plain serde types without burn, so that the config (`fairrep-config`)
//! and the run directory's files (`fairrep-report`) can name them without a tensor library;
//! the numerical crates (`fairrep-losses`, `fairrep-model`) re-export them and give them
//! meaning.

use serde::{Deserialize, Serialize};

/// The kernel family of the MMD.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum KernelKind {
    /// `exp(−|x−y|² / (2σ²))`
    #[default]
    Gaussian,
    /// `exp(−|x−y| / σ)`
    Laplacian,
    /// `−|x−y|` (no bandwidth)
    Energy,
}

/// How MMD² is estimated from the samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Estimator {
    /// V-statistic, all pairs (biased, ≥ 0).
    #[default]
    Biased,
    /// U-statistic, diagonal pairs removed (unbiased, may be < 0).
    Unbiased,
    /// Linear-time statistic over disjoint consecutive pairs (unbiased, high variance). Uses
    /// uniform weights: the point weights are ignored.
    Linear,
}

/// The bandwidth rule of a Gaussian or Laplacian kernel. The kernel is
/// `k(x, y) = Σ_σ exp(−|x − y|² / (2σ²))` over the chosen σ values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Bandwidth {
    /// Fixed values of σ (the kernel is the sum over them).
    Fixed(Vec<f64>),
    /// σ = median of the pairwise distances `|z_i − z_j|` (i < j) of the batch, recomputed for
    /// every batch on detached values (the median is treated as a constant by autodiff).
    Median,
}

/// Which rows a fairness penalty compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Condition {
    /// All rows: demographic parity.
    #[default]
    None,
    /// Rows with label 1: equal opportunity.
    EqualOpportunity,
    /// Rows with label 1 and rows with label 0, separately, averaged: equalized odds.
    EqualizedOdds,
}

/// How the representation is scaled before a divergence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Scale {
    /// As it is.
    #[default]
    None,
    /// Centred and divided by the batch's root-mean-square entry, differentiated through: the
    /// divergence no longer depends on the scale of `z`, and its gradient has no component
    /// along `z`, so the encoder can neither lower the penalty by shrinking `z` nor be pulled
    /// towards a constant representation by it. The analogue, for scale-dependent divergences
    /// (Sinkhorn, fixed-bandwidth MMD), of the median heuristic.
    BatchRms,
    /// Centred and divided by the batch's root-mean-square distance between two rows,
    /// `√(2 · mean_i |z_i − z̄|²)` (= √(2r) × the RMS entry for `r` columns), differentiated
    /// through like [`Scale::BatchRms`]: the Sinkhorn blur is then in units of the batch's
    /// typical distance (ε = blur² × the mean squared distance for p = 2), as the MMD's median
    /// bandwidth is, whatever the representation's width, and the divergence is on the MMD²'s
    /// scale (at most about 1/2 for p = 2).
    PairDistance,
    /// Centred and whitened by the batch's covariance, `(z − z̄) Σ^{-1/2} / √(2r)` (Σ with a
    /// ridge of 10⁻⁴ × its mean eigenvalue; the inverse square root by a coupled Newton–Schulz
    /// iteration, differentiated through): the divergence is then invariant to every invertible
    /// linear map of `z`, not only to its scale, so the encoder cannot hide a group difference
    /// in a direction of small variance that a linear head still reads. The RMS distance
    /// between two whitened rows is 1, so `blur` is in the units of [`Scale::PairDistance`].
    Whiten,
}

/// The exponent of the ground cost `|x − y|^p / p` of optimal transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Power {
    /// `|x − y|` (GeomLoss clamps `|x − y|²` at 1e-8 before the square root).
    P1,
    /// `|x − y|² / 2`.
    P2,
}

impl Power {
    /// `p` as a number.
    pub fn p(self) -> f64 {
        match self {
            Power::P1 => 1.0,
            Power::P2 => 2.0,
        }
    }

    /// From a number; `None` unless 1 or 2.
    pub fn from_p(p: f64) -> Option<Self> {
        match p {
            1.0 => Some(Power::P1),
            2.0 => Some(Power::P2),
            _ => None,
        }
    }
}

/// An element-wise non-linearity of the encoder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    /// `max(0, x)`
    #[default]
    Relu,
    /// `tanh(x)`
    Tanh,
    /// `1 / (1 + e^{-x})`
    Sigmoid,
    /// Gaussian error linear unit.
    Gelu,
    /// `x`
    Identity,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_config_spellings() {
        let json = |v: &dyn erased::Ser| v.json();
        assert_eq!(json(&KernelKind::Laplacian), "\"laplacian\"");
        assert_eq!(json(&Estimator::Unbiased), "\"unbiased\"");
        assert_eq!(json(&Condition::EqualizedOdds), "\"equalized_odds\"");
        assert_eq!(json(&Scale::BatchRms), "\"batch_rms\"");
        assert_eq!(json(&Scale::PairDistance), "\"pair_distance\"");
        assert_eq!(json(&Scale::Whiten), "\"whiten\"");
        assert_eq!(json(&Activation::Gelu), "\"gelu\"");
        assert_eq!(json(&Bandwidth::Median), "\"median\"");
        let c: Condition = serde_json::from_str("\"equal_opportunity\"").unwrap();
        assert_eq!(c, Condition::EqualOpportunity);
    }

    #[test]
    fn power_round_trips_and_refuses_other_exponents() {
        for p in [Power::P1, Power::P2] {
            assert_eq!(Power::from_p(p.p()), Some(p));
        }
        assert_eq!(Power::from_p(3.0), None);
        assert_eq!(Power::from_p(1.5), None);
    }

    mod erased {
        pub trait Ser {
            fn json(&self) -> String;
        }
        impl<T: serde::Serialize> Ser for T {
            fn json(&self) -> String {
                serde_json::to_string(self).unwrap()
            }
        }
    }
}

/// Training settings of the small MLP classifier of the heads crate
/// (`fairrep_heads::MlpClassifier`: transfer heads, head families, the audit's probe). Here,
/// not there, so that the config's `[transfer.mlp]` defaults are these without importing an
/// estimator crate.
#[derive(Debug, Clone, Copy)]
pub struct MlpSettings {
    /// Hidden units.
    pub hidden: usize,
    /// Passes over the data.
    pub epochs: usize,
    /// Rows per step.
    pub batch: usize,
    /// Adam's step size.
    pub learning_rate: f64,
    /// L2 weight decay.
    pub l2: f64,
    /// Seed of the initialisation and the batch order.
    pub seed: u64,
}

impl Default for MlpSettings {
    fn default() -> Self {
        Self {
            hidden: 32,
            epochs: 30,
            batch: 256,
            learning_rate: 1e-2,
            l2: 1e-4,
            seed: 0,
        }
    }
}
