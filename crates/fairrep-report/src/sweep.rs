//! `sweep.json`: the index of a sweep, one entry per grid point with its run's report.

use crate::run::Report;
use fairrep_config::PenaltyKind;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// One point of a sweep's grid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepPoint {
    /// The penalty kind.
    pub kind: PenaltyKind,
    /// λ.
    pub lambda: f64,
    /// The seed.
    pub seed: u64,
}

impl SweepPoint {
    /// The run directory's name, e.g. `mmd-lambda0.1-seed2`.
    pub fn name(&self) -> String {
        format!("{}-lambda{}-seed{}", self.kind, self.lambda, self.seed)
    }
}

/// How a run of the sweep went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Trained from the start.
    Ran,
    /// Continued from its last checkpoint.
    Resumed,
    /// Finished already (its report exists).
    Skipped,
    /// Stopped with an error (`error` says which); the other runs went on.
    Failed,
}

impl std::fmt::Display for RunStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RunStatus::Ran => "ran",
            RunStatus::Resumed => "resumed",
            RunStatus::Skipped => "skipped",
            RunStatus::Failed => "failed",
        })
    }
}

/// One entry of `sweep.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SweepEntry {
    /// The grid point.
    #[serde(flatten)]
    pub point: SweepPoint,
    /// Its run directory.
    pub run: PathBuf,
    /// How the run went.
    pub status: RunStatus,
    /// Its report (none when it failed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report: Option<Report>,
    /// Why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}
