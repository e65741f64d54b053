//! Divergences between the sensitive groups' representations, and the fairness penalty.
//!
//! - [`mmd`]: the Gaussian-kernel MMD² (one bandwidth or a sum of several, point weights, median
//!   heuristic), written with burn tensor ops so it is differentiable on every backend;
//! - [`sinkhorn`]: the (debiased) Sinkhorn divergence with GeomLoss's semantics;
//! - [`geometry`]: the leaf module the others share: squared distances, the ground cost, the
//!   soft-min operation of the Sinkhorn loop;
//! - [`path`]: the one decision of which implementation runs (fused CPU, fused GPU, portable);
//! - [`divergence`]: the [`Divergence`] trait both implement;
//! - [`penalty`]: the demographic-parity penalty over two or more groups of a batch;
//! - [`adversary`]: the adversarial (LAFTR) penalty, an adversary's advantage at predicting the
//!   group from the representation;
//! - [`host`]: fused CPU kernels for both divergences on the ndarray backend (the portable
//!   tensor-op versions remain, as the reference and for every other backend);
//! - [`fused`] (feature `fused`, on by default): fused CubeCL kernels for both divergences on
//!   the GPU backends (wgpu), a burn backend extension with its own backward pass.
//!
//! Conventions: [`mmd::mmd2`] returns the usual biased V-statistic
//! `⟨α,K_xx α⟩ + ⟨β,K_yy β⟩ − 2⟨α,K_xy β⟩` — twice what GeomLoss's `SamplesLoss("gaussian")`
//! returns.

pub mod adversary;
pub mod divergence;
#[cfg(feature = "fused")]
pub mod fused;
pub mod geometry;
pub mod host;
pub mod mmd;
pub mod path;
pub mod penalty;
pub mod sinkhorn;

pub use adversary::{adversary_advantage, adversary_cross_entropy};
pub use divergence::Divergence;
pub use geometry::{Pair, Power, SoftminOp, cost, sq_dists};
pub use mmd::{Bandwidth, Estimator, KernelKind, Mmd, mmd2};
pub use path::{ComputePath, Kernels};
pub use penalty::{
    Condition, DemographicParity, GroupDivergence, GroupPenalty, PenaltyValue, Scale, conditioned,
    scale_points,
};
pub use sinkhorn::{Sinkhorn, SinkhornSolution};

/// burn's dtype enum, re-exported for callers that do not depend on burn.
pub mod burn_dtype {
    pub use burn::tensor::DType;
}
