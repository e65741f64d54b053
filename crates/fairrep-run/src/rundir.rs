//! The run directory on disk: preparing it, writing its files atomically, and reading a trained
//! run back (config, data, device, model, the report's training facts).

use crate::backend::Backend;
use crate::error::TrainError;
use crate::model::FairModel;
use crate::settings::model_configs;
use burn::module::Module;
use burn::tensor::Device;
use fairrep_config::{Config, ConfigError, MethodKind};
use fairrep_report::files;
use std::path::{Path, PathBuf};

/// Creates the run directory; refuses a non-empty one unless `force`.
pub fn prepare_out_dir(out: &Path, force: bool) -> Result<(), TrainError> {
    let unusable = |reason: String| TrainError::OutDirUnusable {
        path: out.to_path_buf(),
        reason,
    };
    if out.exists() {
        if !out.is_dir() {
            return Err(unusable("it exists and is not a directory".into()));
        }
        // The lock file ([`RunLock`]) does not make a directory a run.
        let non_empty = std::fs::read_dir(out)
            .map_err(|e| unusable(e.to_string()))?
            .filter_map(Result::ok)
            .any(|e| e.file_name() != LOCK_FILE);
        if non_empty && !force {
            return Err(TrainError::OutDirExists(out.to_path_buf()));
        }
    }
    std::fs::create_dir_all(out).map_err(|e| unusable(e.to_string()))?;
    // Not writable (a read-only mount, another user's directory): say so before any work.
    let probe = out.join(".fairrep-write-test");
    std::fs::write(&probe, b"").map_err(|e| unusable(format!("not writable: {e}")))?;
    std::fs::remove_file(&probe).map_err(|e| unusable(e.to_string()))
}

/// The lock file of a run directory.
pub const LOCK_FILE: &str = ".lock";

/// An exclusive lock on a run directory, held while a `train` (or its `--resume`) writes it:
/// a second one on the same directory is refused, with or without `--force`. The operating
/// system releases it when the process ends, however it ends (a crash or `kill -9` included);
/// the empty `.lock` file stays.
#[derive(Debug)]
pub struct RunLock {
    _file: std::fs::File,
}

impl RunLock {
    /// Creates `out` if needed and takes its lock, or says that another run holds it.
    pub fn acquire(out: &Path) -> Result<RunLock, TrainError> {
        let unusable = |e: std::io::Error| TrainError::OutDirUnusable {
            path: out.to_path_buf(),
            reason: e.to_string(),
        };
        if out.exists() && !out.is_dir() {
            return Err(TrainError::OutDirUnusable {
                path: out.to_path_buf(),
                reason: "it exists and is not a directory".into(),
            });
        }
        std::fs::create_dir_all(out).map_err(unusable)?;
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(out.join(LOCK_FILE))
            .map_err(unusable)?;
        match file.try_lock() {
            Ok(()) => Ok(RunLock { _file: file }),
            Err(std::fs::TryLockError::WouldBlock) => Err(TrainError::RunInUse(out.to_path_buf())),
            Err(std::fs::TryLockError::Error(e)) => Err(unusable(e)),
        }
    }
}

/// Writes a file atomically: a temporary file beside it, then a rename.
pub fn write_file(path: &Path, bytes: &[u8]) -> Result<(), TrainError> {
    fairrep_report::write_atomically(path, bytes)
        .map_err(|(path, source)| TrainError::Io { path, source })
}

/// Writes a value as pretty JSON, atomically.
pub fn write_json<T: serde::Serialize>(path: &Path, value: &T) -> Result<(), TrainError> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| TrainError::Internal(format!("serialising {}: {e}", path.display())))?;
    write_file(path, text.as_bytes())
}

/// The resolved config of a run as written into its directory (defaults filled in, data paths
/// absolute), and its TOML text.
pub fn resolved_config_text(config: &Config, base_dir: &Path) -> Result<String, TrainError> {
    toml::to_string_pretty(&config.with_absolute_paths(base_dir))
        .map_err(|e| TrainError::Internal(format!("serialising the config: {e}")))
}

/// The error for a command that needs an encoder on a FERM config.
pub fn deep_only(path: &Path, what: &str) -> ConfigError {
    ConfigError::Invalid {
        path: path.to_path_buf(),
        key: "method.kind".into(),
        message: format!(
            "is \"ferm\": {what} works on runs of the deep method only (a FERM run has no encoder)"
        ),
    }
}

/// The resolved config of the run directory `run` (path and config), which must be a deep run:
/// `commands` names the commands that need one, for the error.
pub fn deep_config(run: &Path, commands: &str) -> Result<(PathBuf, Config), TrainError> {
    let config_path = run.join(files::CONFIG);
    if !config_path.is_file() {
        return Err(TrainError::NotARun {
            path: run.to_path_buf(),
            message: format!("no {}", files::CONFIG),
        });
    }
    let config = Config::load(&config_path)?;
    if config.method.kind != MethodKind::Deep {
        return Err(deep_only(&config_path, commands).into());
    }
    Ok((config_path, config))
}

/// The trained encoder and source heads of the run directory `run` (`model.bpk`), for
/// `features` input features and `sources` source tasks.
pub fn load_model(
    run: &Path,
    config: &Config,
    features: usize,
    sources: usize,
    device: &Device,
) -> Result<FairModel, TrainError> {
    let (encoder_cfg, heads_cfg) = model_configs(config, features, sources);
    let model_path = run.join(files::MODEL);
    FairModel::init(&encoder_cfg, &heads_cfg, config.seed, device)
        .try_load_file(&model_path)
        .map_err(|e| TrainError::NotARun {
            path: model_path.clone(),
            message: format!("cannot load it with the run's config.toml: {e}"),
        })
}

/// A trained run read back from its directory: its config, data, device and model.
pub struct LoadedRun {
    /// The run directory.
    pub dir: PathBuf,
    /// Its `config.toml`.
    pub config_path: PathBuf,
    /// The resolved config.
    pub config: Config,
    /// The data, prepared as in training.
    pub data: fairrep_data::Prepared,
    /// The device of the backend asked for.
    pub device: Device,
    /// The trained model.
    pub model: FairModel,
    /// Epochs run and training time, from the run's report (the config's epochs and 0 when
    /// the run has no report yet).
    pub trained: (usize, f64),
}

impl LoadedRun {
    /// Reads the run directory `run` for the backend `backend`.
    pub fn load(run: &Path, backend: Backend) -> Result<LoadedRun, TrainError> {
        let (config_path, config) = deep_config(run, "eval, transfer and audit")?;
        let data = fairrep_data::prepare(&config.data, &config.tasks, run, config.seed)?;
        let device = backend.device()?;
        let sources = data.task_indices(fairrep_data::Role::Source).len();
        let model = load_model(run, &config, data.features.len(), sources, &device)?;
        let report_path = run.join(files::REPORT);
        // The epochs run and the training time come from the report the run wrote; without a
        // readable one (a run killed before its report, a report of an older fairrep), `eval`
        // rewrites it with the configured epochs, and says so.
        let unknown = (config.training.epochs, 0.0);
        let trained = match fairrep_report::read_run_report(&report_path) {
            Ok(fairrep_report::RunReport::Deep(r)) => (r.epochs, r.train_seconds),
            Ok(fairrep_report::RunReport::Ferm(_)) => {
                return Err(deep_only(&config_path, "eval, transfer and audit").into());
            }
            Err(fairrep_report::ReadError::Io { .. }) => unknown,
            Err(e) => {
                tracing::warn!(
                    "{e}; the epochs run are taken from the config ({})",
                    config.training.epochs
                );
                unknown
            }
        };
        Ok(LoadedRun {
            dir: run.to_path_buf(),
            config_path,
            config,
            data,
            device,
            model,
            trained,
        })
    }
}
