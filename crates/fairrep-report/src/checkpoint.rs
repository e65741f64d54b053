//! `state.json` of a checkpoint directory.

use serde::{Deserialize, Serialize};

/// What a checkpoint records besides the model and optimizer files.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckpointState {
    /// The last completed epoch.
    pub epoch: usize,
    /// The global step after it.
    pub step: usize,
    /// The word position of the batch-order generator (ChaCha8) after it.
    pub rng_word_pos: u128,
    /// Early stopping: the best validation objective so far and the epochs since it.
    #[serde(default)]
    pub best_objective: Option<f64>,
    /// Epochs since the best validation objective.
    #[serde(default)]
    pub since_best: usize,
}
