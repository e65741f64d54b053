//! The run directory as types. Every file fairrep writes into a run directory (or a sweep's)
//! and reads back has one `Serialize + Deserialize` type here:
//!
//! | file | type |
//! |---|---|
//! | `report.json` (deep run) | [`Report`], its tasks [`TaskMetrics`] (binary or regression) |
//! | `report.json` (FERM run) | [`FermReport`] |
//! | `transfer_report.json` | [`Report`] (transfer tasks only) |
//! | `metrics.jsonl` | one [`EpochRecord`] per line |
//! | `transfer_heads.json` | a list of [`TransferHead`] |
//! | `preprocessing.json` | [`Preprocessing`] (raw row → encoder input; from `fairrep-data`) |
//! | `postprocess.json` | a list of [`FittedPostprocess`] |
//! | `audit.json` | [`Audit`] |
//! | `certificate.json`, `partition.json` | `fairrep_certify::Certificate`, `fairrep_certify::Partition` |
//! | `checkpoints/*/state.json` | [`CheckpointState`] |
//! | `sweep.json` | a list of [`SweepEntry`] |
//!
//! Readers ([`read_json`], [`read_json_lines`], [`read_run_report`]) turn a missing, renamed or
//! mistyped field into a [`ReadError`] naming the file and the field, never a silent default.
//! This crate has no burn: anything that studies runs can read them without a tensor library.

pub mod audit;
pub mod checkpoint;
pub mod ferm;
pub mod heads;
pub mod health;
pub mod postprocess;
pub mod run;
pub mod sweep;

pub use audit::{Audit, PairDivergence, Probe, ProbeKind, StrongestProbe};
pub use checkpoint::{CheckpointState, EpochProgress};
pub use fairrep_data::Preprocessing;
pub use ferm::{FermReport, FermTask};
pub use heads::{FittedHead, TransferHead};
pub use postprocess::FittedPostprocess;
pub use run::{
    Baseline, BinaryMetrics, EpochRecord, FamilyMetrics, MATCHED_BOUNDS, PostprocessedTask,
    RegressionMetrics, Report, RepresentationBias, SplitSizes, TaskMetrics, TaskOutcome,
    Unprocessed, UnprocessedPoint, ValidationSettings, cell, regression_row, task_table,
};
pub use sweep::{RunStatus, SweepEntry, SweepPoint};

use serde::de::DeserializeOwned;
use std::path::{Path, PathBuf};

/// Writes `bytes` to `path` atomically: into a temporary file beside it, then renamed into
/// place, so a reader never sees half a file. The error names the file that failed.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), (PathBuf, std::io::Error)> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).map_err(|e| (tmp.clone(), e))?;
    std::fs::rename(&tmp, path).map_err(|e| (path.to_path_buf(), e))
}

/// The file names of a run directory.
pub mod files {
    /// The resolved config.
    pub const CONFIG: &str = "config.toml";
    /// The report.
    pub const REPORT: &str = "report.json";
    /// The report, for people.
    pub const REPORT_MD: &str = "report.md";
    /// The transfer-only report of `fairrep transfer`.
    pub const TRANSFER_REPORT: &str = "transfer_report.json";
    /// Per-epoch records.
    pub const METRICS: &str = "metrics.jsonl";
    /// The trained encoder and source heads (burnpack).
    pub const MODEL: &str = "model.bpk";
    /// The transfer heads.
    pub const TRANSFER_HEADS: &str = "transfer_heads.json";
    /// The audit.
    pub const AUDIT: &str = "audit.json";
    /// The fitted preprocessing.
    pub const PREPROCESSING: &str = "preprocessing.json";
    /// The fitted post-processing.
    pub const POSTPROCESS: &str = "postprocess.json";
    /// A sweep's index.
    pub const SWEEP: &str = "sweep.json";
    /// The certified bounds of the run's quantised release (`fairrep certify`).
    pub const CERTIFICATE: &str = "certificate.json";
    /// The partition of z into the released cells (`fairrep certify`).
    pub const PARTITION: &str = "partition.json";
}

/// A run-directory file that cannot be read as its type.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The file cannot be read.
    #[error("cannot read {path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The file is not what fairrep writes there: a missing, renamed or mistyped field, or not
    /// JSON at all. The message names the field (and, where the parser knows it, the line).
    #[error("{path}: not a fairrep {what}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What the file should be ("report", "audit", …).
        what: &'static str,
        /// The parser's message.
        message: String,
    },
}

fn read_text(path: &Path) -> Result<String, ReadError> {
    std::fs::read_to_string(path).map_err(|source| ReadError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Reads a JSON file as `T`; `what` names the file's kind in errors.
pub fn read_json<T: DeserializeOwned>(path: &Path, what: &'static str) -> Result<T, ReadError> {
    let text = read_text(path)?;
    serde_json::from_str(&text).map_err(|e| ReadError::Invalid {
        path: path.to_path_buf(),
        what,
        message: e.to_string(),
    })
}

/// Reads a JSON-lines file, one `T` per non-empty line; errors name the line.
pub fn read_json_lines<T: DeserializeOwned>(
    path: &Path,
    what: &'static str,
) -> Result<Vec<T>, ReadError> {
    read_text(path)?
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l).map_err(|e| ReadError::Invalid {
                path: path.to_path_buf(),
                what,
                message: format!("line {}: {e}", i + 1),
            })
        })
        .collect()
}

/// The report of a run directory: a deep run's or a FERM run's.
#[derive(Debug, Clone)]
pub enum RunReport {
    /// `[method] kind = "deep"`.
    Deep(Box<Report>),
    /// `[method] kind = "ferm"`.
    Ferm(Box<FermReport>),
}

/// Reads `report.json` of either method (a FERM report says `"method": "ferm"`).
pub fn read_run_report(path: &Path) -> Result<RunReport, ReadError> {
    let value: serde_json::Value = read_json(path, "report")?;
    let invalid = |e: serde_json::Error| ReadError::Invalid {
        path: path.to_path_buf(),
        what: "report",
        message: e.to_string(),
    };
    if value.get("method").and_then(|m| m.as_str()) == Some("ferm") {
        return serde_json::from_value(value)
            .map(|r| RunReport::Ferm(Box::new(r)))
            .map_err(invalid);
    }
    serde_json::from_value(value)
        .map(|r| RunReport::Deep(Box::new(r)))
        .map_err(invalid)
}

#[cfg(test)]
mod tests;
