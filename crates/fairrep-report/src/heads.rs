//! `transfer_heads.json`: the head fitted for each transfer task on the frozen representation.

use fairrep_heads::{LogisticRegression, MlpClassifier, RidgeRegression};
use serde::{Deserialize, Serialize};

/// A fitted transfer head, as saved in `transfer_heads.json`: the task's name and its model's
/// fields (`model` and `ferm`, `mlp`, or `ridge` and `scale`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TransferHead {
    /// Task name.
    pub task: String,
    /// The model.
    #[serde(flatten)]
    pub fitted: FittedHead,
}

/// The model of a transfer head.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub enum FittedHead {
    /// A binary task's logistic model on `z`, or on its FERM projection (`transfer.ferm`).
    Logistic {
        /// The logistic model.
        model: LogisticRegression,
        /// The FERM projection `z` goes through first.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ferm: Option<fairrep_methods::Ferm>,
    },
    /// A binary task's MLP on `z` (`transfer.head = "mlp"`).
    Mlp {
        /// The MLP.
        mlp: MlpClassifier,
    },
    /// A regression task's ridge regression on `z`, predicting the standardised target.
    Ridge {
        /// The ridge regression.
        ridge: RidgeRegression,
        /// The target's training mean and standard deviation.
        scale: (f64, f64),
    },
}

impl TransferHead {
    /// Predictions for the representations `z` (row-major): probabilities, or values on the
    /// target's scale.
    pub fn predict(&self, z: &[f32]) -> Vec<f64> {
        match &self.fitted {
            FittedHead::Logistic { model, ferm } => match ferm {
                Some(f) => model.predict_proba(&f.transform(z)),
                None => model.predict_proba(z),
            },
            FittedHead::Mlp { mlp } => mlp.predict_proba(z),
            FittedHead::Ridge {
                ridge,
                scale: (mean, std),
            } => ridge.predict(z).iter().map(|v| v * std + mean).collect(),
        }
    }
}
