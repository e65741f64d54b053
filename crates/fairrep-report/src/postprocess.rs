//! `postprocess.json`: the fitted post-processing of each task a run post-processes, so that
//! `fairrep predict` applies to new rows what the report measured.

use fairrep_config::PostprocessKind;
use fairrep_methods::Barycenter;
use serde::{Deserialize, Serialize};

/// One task's fitted post-processing.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FittedPostprocess {
    /// The task.
    pub task: String,
    /// The kind (`barycenter`).
    pub kind: PostprocessKind,
    /// The seed of the jitter drawn when it is applied (the report's).
    pub seed: u64,
    /// The groups' fitted score distributions.
    pub barycenter: Barycenter,
}
