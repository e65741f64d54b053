//! The heads fitted on a frozen representation (transfer tasks, baselines, probes), in plain
//! `f64` Rust without burn:
//!
//! - [`LogisticRegression`]: fitted exactly by Newton's method with an L2 penalty, so that the
//!   transfer numbers depend on the representation alone, not on an optimiser's schedule;
//! - [`RidgeRegression`]: the head of a regression task (closed form);
//! - [`MlpClassifier`]: one hidden ReLU layer, Adam, seeded (the non-linear head and probe);
//! - [`Gbdt`]: gradient-boosted trees on histograms (the strongest probe and head family).
//!
//! The source-task heads trained jointly with the encoder are burn modules, in
//! `fairrep-model`.

mod logistic;
pub use logistic::{LogisticError, LogisticRegression};
mod ridge;
pub use ridge::{RidgeError, RidgeRegression};
mod mlp;
pub use mlp::{MlpClassifier, MlpSettings};
mod gbdt;
pub use gbdt::{Gbdt, GbdtSettings, TUNING_GRID};
