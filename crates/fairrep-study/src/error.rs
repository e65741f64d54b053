//! The errors of a study.

use std::path::PathBuf;

/// Why a study could not be done.
#[derive(Debug, thiserror::Error)]
pub enum StudyError {
    /// A file or directory could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A run directory's file is not what fairrep writes (a missing or renamed field).
    #[error(transparent)]
    Read(#[from] fairrep_report::ReadError),
    /// A path is neither a run directory nor a directory of runs.
    #[error(
        "{0}: neither a run directory (no report.json) nor a directory of runs (or no such directory)"
    )]
    NoRuns(PathBuf),
    /// A file of published results (`fairrep report --reference`) cannot be used.
    #[error("{path}, line {line}: {message}")]
    Reference {
        /// The file.
        path: PathBuf,
        /// 1-based line (0: the file as a whole).
        line: u64,
        /// What is wrong.
        message: String,
    },
    /// A run of a comparison or sweep is a FERM run (no representation, no penalty).
    #[error("{0}: a FERM run; reports compare runs of the deep method")]
    NotDeep(PathBuf),
    /// A plot could not be drawn.
    #[error("plotting {path}: {message}")]
    Plot {
        /// The SVG file.
        path: PathBuf,
        /// plotters' message.
        message: String,
    },
}

impl StudyError {
    /// Whether the error is the user's input (exit code 2) rather than a failure while running.
    pub fn is_user_error(&self) -> bool {
        match self {
            StudyError::Io { .. } => false,
            StudyError::Read(_)
            | StudyError::NoRuns(_)
            | StudyError::NotDeep(_)
            | StudyError::Reference { .. } => true,
            StudyError::Plot { .. } => false,
        }
    }
}
