//! `state.json` of a checkpoint directory.

use serde::{Deserialize, Serialize};

/// What a checkpoint records besides the model and optimizer files.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckpointState {
    /// The last completed epoch.
    pub epoch: usize,
    /// The global step after it (within an epoch: after the last step taken).
    pub step: usize,
    /// The word position of the batch-order generator (ChaCha8) after the last completed
    /// epoch; within an epoch, before that epoch's shuffle (`--resume` shuffles again and skips
    /// the batches done).
    pub rng_word_pos: u128,
    /// Early stopping: the best validation objective so far and the epochs since it.
    #[serde(default)]
    pub best_objective: Option<f64>,
    /// Epochs since the best validation objective.
    #[serde(default)]
    pub since_best: usize,
    /// A checkpoint within epoch `epoch + 1` (`training.checkpoint_every_steps` or `_seconds`):
    /// how far that epoch went. `None` at the end of an epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_epoch: Option<EpochProgress>,
}

/// How far an epoch went when a checkpoint was written within it: the batches done and the
/// sums its record is made of, so a resumed epoch reports what the uninterrupted one would.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EpochProgress {
    /// Batches of the epoch done.
    pub batches: usize,
    /// Sum of their task losses.
    pub task: f64,
    /// Sum of their penalties (`None` when the penalty is not computed, λ = 0).
    pub penalty: Option<f64>,
    /// Batches with fewer than two groups.
    pub without_pairs: usize,
    /// Seconds of their steps.
    pub seconds: f64,
    /// A streamed run (`[data.stream]`): the window of the last batch done (a resume reads the
    /// shards again from its start and skips its batches done).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<fairrep_data::WindowStart>,
}
