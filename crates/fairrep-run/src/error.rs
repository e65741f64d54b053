//! Errors of a training run.

use std::path::PathBuf;

/// Everything that can stop a run. [`TrainError::is_user_error`] tells bad input (exit code 2)
/// from failures while running (exit code 1).
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// A command line that cannot be used (an option's value, a combination of options).
    #[error("{0}")]
    Usage(String),
    /// The config file is unusable.
    #[error(transparent)]
    Config(#[from] fairrep_config::ConfigError),
    /// A file of a run directory is not what fairrep writes there (a missing or renamed field).
    #[error(transparent)]
    Read(#[from] fairrep_report::ReadError),
    /// The data cannot be read or encoded as the config says.
    #[error(transparent)]
    Data(#[from] fairrep_data::DataError),
    /// The output directory exists and is not empty.
    #[error("output directory {0} already exists and is not empty (use --force to write into it)")]
    OutDirExists(PathBuf),
    /// Another fairrep process is writing the run directory.
    #[error(
        "{0} is being written by another fairrep run (it holds the lock {0}/.lock); wait for it \
         to finish or choose another --out"
    )]
    RunInUse(PathBuf),
    /// The output directory cannot be created or written.
    #[error("output directory {path}: {reason}")]
    OutDirUnusable {
        /// The directory.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A file of the run could not be written.
    #[error("cannot write {path}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Training diverged: a loss term became NaN or infinite, or a batch's task loss exploded
    /// (see [`crate::train::DIVERGED_FACTOR`]).
    #[error(
        "training diverged at epoch {epoch}, step {step}: {what}. {resume} Lower \
         training.learning_rate (now {learning_rate}) or set training.grad_clip_norm (both may \
         change on --resume), or lower penalty.lambda (now {lambda}) and start again"
    )]
    Diverged {
        /// Epoch.
        epoch: usize,
        /// Global step.
        step: usize,
        /// What went wrong.
        what: String,
        /// Where the last good checkpoint is, and how to continue from it.
        resume: String,
        /// The run's learning rate.
        learning_rate: f64,
        /// The run's λ.
        lambda: f64,
    },
    /// A checkpoint could not be written (a full disk): the previous one is intact.
    #[error("cannot write the checkpoint {path}: {cause}. {previous}")]
    CheckpointWrite {
        /// The checkpoint directory.
        path: PathBuf,
        /// What failed.
        cause: String,
        /// Where the previous checkpoint is.
        previous: String,
    },
    /// The model could not be saved.
    #[error("cannot save the model to {path}: {message}")]
    Save {
        /// The file.
        path: PathBuf,
        /// What burn said.
        message: String,
    },
    /// A fit of a transfer head failed.
    #[error("transfer task `{task}`")]
    Transfer {
        /// The task.
        task: String,
        /// The cause.
        #[source]
        source: fairrep_heads::LogisticError,
    },
    /// A head's fit is singular because `transfer.l2` is 0 (collinear inputs): the user's
    /// setting, not a failure.
    #[error(
        "task `{task}`: the {head} fit is singular with `transfer.l2` = 0 (collinear inputs); set transfer.l2 > 0"
    )]
    SingularFit {
        /// The task.
        task: String,
        /// `logistic` or `ridge`.
        head: &'static str,
    },
    /// A probe of the audit could not be fitted.
    #[error("the audit's probe of group `{group}`")]
    Probe {
        /// The group the probe tells from the rest.
        group: String,
        /// The cause.
        #[source]
        source: fairrep_heads::LogisticError,
    },
    /// A directory that should be a fairrep run directory is not one (no config.toml, a model
    /// the config cannot load).
    #[error("{path}: not a fairrep run directory: {message}")]
    NotARun {
        /// The directory or file.
        path: PathBuf,
        /// What is missing.
        message: String,
    },
    /// A checkpoint is missing or unreadable (`--resume`).
    #[error("{path}: {message}")]
    Checkpoint {
        /// The checkpoint (or checkpoints) directory.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// `--resume` with a config that differs from the run's.
    #[error(
        "{run}: the run was started with another config (see its config.toml); resume with the \
         same config and overrides (only training.learning_rate, training.grad_clip_norm and \
         training.checkpoint_every_steps/_seconds may change), or start a new run"
    )]
    ResumeMismatch {
        /// The run directory.
        run: PathBuf,
    },
    /// Training was stopped between two steps (Ctrl-C in Python).
    #[error("training interrupted. {resume}")]
    Interrupted {
        /// Where the last good state is (the checkpoint to `--resume` from).
        resume: String,
    },
    /// The chosen backend has no device on this machine.
    #[error("backend {backend}: {hint}")]
    NoDevice {
        /// The backend.
        backend: &'static str,
        /// What to do.
        hint: &'static str,
    },
    /// Linear FERM could not be fitted for a task (e.g. a group without positives).
    #[error("FERM for task `{task}`")]
    Ferm {
        /// The task.
        task: String,
        /// The cause.
        #[source]
        source: fairrep_methods::FermError,
    },
    /// The barycenter post-processing could not be fitted or applied.
    #[error("barycenter post-processing of {what}")]
    Barycenter {
        /// What was post-processed (a task, a file).
        what: String,
        /// The cause.
        #[source]
        source: fairrep_methods::BarycenterError,
    },
    /// The compute device failed (out of memory, a driver error): see [`crate::device`].
    #[error("{what}: {problem}; {hint}")]
    Device {
        /// What fairrep was doing.
        what: String,
        /// What the device said, in words.
        problem: String,
        /// What to change.
        hint: &'static str,
    },
    /// A certificate could not be computed (`fairrep certify`).
    #[error("certify {run}")]
    Certify {
        /// The run directory.
        run: PathBuf,
        /// The cause.
        #[source]
        source: fairrep_certify::CertifyError,
    },
    /// An invariant was broken (a bug).
    #[error("internal error: {0}")]
    Internal(String),
}

impl TrainError {
    /// Whether the error is the user's input (config, data, options) rather than a failure
    /// while running.
    pub fn is_user_error(&self) -> bool {
        matches!(
            self,
            TrainError::Usage(_)
                | TrainError::Config(_)
                | TrainError::Read(_)
                | TrainError::NotARun { .. }
                | TrainError::SingularFit { .. }
                | TrainError::Data(_)
                | TrainError::OutDirExists(_)
                | TrainError::RunInUse(_)
                | TrainError::OutDirUnusable { .. }
                | TrainError::Checkpoint { .. }
                | TrainError::ResumeMismatch { .. }
                | TrainError::NoDevice { .. }
                | TrainError::Ferm { .. }
                | TrainError::Barycenter { .. }
        ) || matches!(
            self,
            TrainError::Certify {
                source: fairrep_certify::CertifyError::Settings(_)
                    | fairrep_certify::CertifyError::Partition(_)
                    | fairrep_certify::CertifyError::Data(_),
                ..
            }
        )
    }
}

/// Adds the path to an I/O error.
pub fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> TrainError + '_ {
    move |source| TrainError::Io {
        path: path.to_path_buf(),
        source,
    }
}
