//! The sibling methods of the fair-representation line, on plain Rust (no tensors):
//!
//! - [`ferm`]: linear FERM (Donini et al., NeurIPS 2018), a pre-processing that makes every
//!   linear model satisfy equal opportunity on the training data;
//! - [`barycenter`]: fair regression by Wasserstein barycenters (Chzhen et al., NeurIPS 2020),
//!   a post-processing of any score towards (strong) demographic parity;
//! - [`svm`]: a linear SVM (dual coordinate descent), FERM's hinge-loss classifier;
//! - [`unprocessing`]: per-group thresholds of an unconstrained model's scores within a
//!   demographic-parity bound (Cruz and Hardt, ICLR 2024), the baseline of matched parity.

pub mod barycenter;
pub mod ferm;
pub mod svm;
pub mod unprocessing;

pub use barycenter::{Barycenter, BarycenterError};
pub use ferm::{Ferm, FermError};
pub use svm::LinearSvm;
pub use unprocessing::GroupThresholds;
