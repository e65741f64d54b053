//! fairrep's trainer: learns a representation on source tasks under a fairness penalty, then
//! measures it on held-out transfer tasks.
//!
//! [`run`] does a whole run: read and validate the config ([`config`]), prepare the data, train
//! ([`train::fit`]), evaluate the source heads, fit a fresh logistic head per transfer task on
//! the frozen representation ([`transfer`]), and write the run directory:
//!
//! | file | content |
//! |---|---|
//! | `config.toml` | the resolved config (defaults filled in, data paths absolute) |
//! | `metrics.jsonl` | one line per epoch: task loss, penalty, validation metrics |
//! | `model.bpk` | the trained encoder and source heads (burnpack) |
//! | `transfer_heads.json` | the logistic heads of the transfer tasks |
//! | `report.json`, `report.md` | test metrics of every task and the representation's bias |

pub mod audit;
pub mod checkpoint;
pub mod compare;
pub mod config;
pub mod error;
pub mod ferm_run;
pub mod measure;
pub mod model;
pub mod report;
pub mod sweep;
pub mod train;
pub mod transfer;

pub use config::{Config, ConfigError};
pub use error::TrainError;
pub use report::Report;
pub use train::{Observer, Silent};
pub use {fairrep_data, fairrep_losses, fairrep_methods, fairrep_metrics};

use burn::module::Module;
use burn::tensor::Device;
use error::io;
use fairrep_data::Role;
use report::EpochRecord;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The burn version this build uses (the workspace pins it).
pub const BURN_VERSION: &str = "0.22.1";

/// The compute backend of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// burn's ndarray CPU backend (the divergences run on fused CPU kernels).
    Ndarray,
    /// burn's flex CPU backend (pure Rust: gemm, SIMD, rayon; the divergences run on the same
    /// fused CPU kernels).
    Flex,
    /// burn's wgpu backend (Vulkan, Metal, DirectX or OpenGL, through CubeCL): a GPU, or Mesa's
    /// lavapipe software Vulkan driver on a machine without one.
    Wgpu,
}

impl Backend {
    /// The device of this backend: an error when the build or the machine has none (no wgpu
    /// adapter).
    #[allow(deprecated)] // burn-ndarray is deprecated in favour of flex, but supported in 0.22.
    pub fn device(self) -> Result<Device, TrainError> {
        match self {
            Backend::Ndarray => Ok(Device::ndarray()),
            Backend::Flex => Ok(Device::flex()),
            Backend::Wgpu => Device::enumerate(burn::tensor::DeviceType::Wgpu)
                .into_vec()
                .into_iter()
                .next()
                .ok_or(TrainError::NoDevice {
                    backend: "wgpu",
                    hint: "no wgpu adapter (GPU or Vulkan/GL driver) was found; on Linux without a \
                           GPU install Mesa's software Vulkan driver (apt-get install \
                           mesa-vulkan-drivers libvulkan1), or use a CPU backend (--backend flex or ndarray)",
                }),
        }
    }

    /// A short description for reports.
    pub fn describe(self) -> &'static str {
        match self {
            Backend::Ndarray => "ndarray (CPU)",
            Backend::Flex => "flex (CPU)",
            Backend::Wgpu => "wgpu",
        }
    }
}

/// What to run and where to write it.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The config file.
    pub config: PathBuf,
    /// The run directory.
    pub out: PathBuf,
    /// Write into `out` even if it is not empty.
    pub force: bool,
    /// The backend.
    pub backend: Backend,
    /// `--set key=value` overrides of the config, applied in order.
    pub overrides: Vec<config::Override>,
    /// Continue the run in `out` from its last checkpoint.
    pub resume: bool,
}

/// The checks of the config that need the data: a batch no larger than the training split.
fn fits_the_data(
    config: &Config,
    data: &fairrep_data::Prepared,
    path: &Path,
) -> Result<(), TrainError> {
    let batch = config.training.batch_size;
    if batch > data.train.n {
        return Err(ConfigError::Invalid {
            path: path.to_path_buf(),
            key: "training.batch_size".into(),
            message: format!(
                "is {batch}, larger than the training split ({} rows)",
                data.train.n
            ),
        }
        .into());
    }
    Ok(())
}

/// Validates a config with its overrides and its data (files, columns, tasks, groups) without
/// training; returns a one-line summary.
pub fn check(config_path: &Path, overrides: &[config::Override]) -> Result<String, TrainError> {
    let config = Config::load_with(config_path, overrides)?;
    let base_dir = config_path.parent().unwrap_or(Path::new("."));
    let data = fairrep_data::prepare(&config.data, &config.tasks, base_dir, config.seed)?;
    fits_the_data(&config, &data, config_path)?;
    let names = |role: Role| {
        config
            .tasks
            .iter()
            .filter(|t| t.role == role)
            .map(|t| t.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    Ok(format!(
        "{} train / {} validation / {} test rows, {} features, groups [{}], source tasks [{}], \
         transfer tasks [{}], penalty {} (λ = {})",
        data.train.n,
        data.valid.n,
        data.test.n,
        data.features.len(),
        data.groups.join(", "),
        names(Role::Source),
        names(Role::Transfer),
        config.penalty.kind,
        config.penalty.lambda
    ))
}

/// What a run produced: the deep method's report or FERM's.
#[derive(Debug)]
pub enum Outcome {
    /// `[method] kind = "deep"`.
    Deep(Box<Report>),
    /// `[method] kind = "ferm"`.
    Ferm(Box<ferm_run::FermReport>),
}

/// Does a run of either method (`[method] kind`): [`run`] for the deep method; for FERM, the
/// linear models of [`ferm_run`], with `config.toml`, `report.json` and `report.md` in the run
/// directory (no checkpoints: a FERM run takes seconds and is not resumable).
pub fn run_any(opts: &RunOptions, observer: &mut dyn Observer) -> Result<Outcome, TrainError> {
    let config = Config::load_with(&opts.config, &opts.overrides)?;
    if config.method.kind == config::MethodKind::Deep {
        return run(opts, observer).map(|r| Outcome::Deep(Box::new(r)));
    }
    if opts.resume {
        return Err(deep_only(&opts.config, "--resume").into());
    }
    let base_dir = opts.config.parent().unwrap_or(Path::new("."));
    let data = fairrep_data::prepare(&config.data, &config.tasks, base_dir, config.seed)?;
    let resolved = config.with_absolute_paths(base_dir);
    let toml_text = toml::to_string_pretty(&resolved)
        .map_err(|e| TrainError::Internal(format!("serialising the config: {e}")))?;
    prepare_out_dir(&opts.out, opts.force)?;
    write_file(&opts.out.join("config.toml"), toml_text.as_bytes())?;
    let report = ferm_run::run(&config, &data, &opts.config.display().to_string())?;
    let json = serde_json::to_string_pretty(&report)
        .map_err(|e| TrainError::Internal(format!("serialising the report: {e}")))?;
    write_file(&opts.out.join("report.json"), json.as_bytes())?;
    write_file(&opts.out.join("report.md"), report.markdown().as_bytes())?;
    Ok(Outcome::Ferm(Box::new(report)))
}

/// The error for a command that needs an encoder on a FERM config.
fn deep_only(path: &Path, what: &str) -> ConfigError {
    ConfigError::Invalid {
        path: path.to_path_buf(),
        key: "method.kind".into(),
        message: format!(
            "is \"ferm\": {what} works on runs of the deep method only (a FERM run has no encoder)"
        ),
    }
}

/// Does a whole run of the deep method (see the crate docs) and returns its report.
pub fn run(opts: &RunOptions, observer: &mut dyn Observer) -> Result<Report, TrainError> {
    let started = Instant::now();
    let config = Config::load_with(&opts.config, &opts.overrides)?;
    if config.method.kind != config::MethodKind::Deep {
        return Err(deep_only(&opts.config, "this command").into());
    }
    let base_dir = opts.config.parent().unwrap_or(Path::new("."));
    let data = fairrep_data::prepare(&config.data, &config.tasks, base_dir, config.seed)?;
    fits_the_data(&config, &data, &opts.config)?;

    let resolved = config.with_absolute_paths(base_dir);
    let toml_text = toml::to_string_pretty(&resolved)
        .map_err(|e| TrainError::Internal(format!("serialising the config: {e}")))?;
    let config_path = opts.out.join("config.toml");
    let checkpoints = checkpoint::Checkpoints::new(&opts.out, config.training.keep_checkpoints);
    let metrics_path = opts.out.join("metrics.jsonl");
    let (resume, mut metrics) = if opts.resume {
        // The run's own resolved config must be the one given now.
        let saved = std::fs::read_to_string(&config_path).map_err(|e| TrainError::Checkpoint {
            path: opts.out.clone(),
            message: format!(
                "not a fairrep run directory ({}: {e})",
                config_path.display()
            ),
        })?;
        if saved != toml_text {
            return Err(TrainError::ResumeMismatch {
                run: opts.out.clone(),
            });
        }
        let ck = checkpoints.latest()?;
        // Epoch lines written after the checkpoint (a kill between the two) are dropped.
        let old = std::fs::read_to_string(&metrics_path).unwrap_or_default();
        let kept: String = old
            .lines()
            .take(ck.state.epoch)
            .map(|l| format!("{l}\n"))
            .collect();
        write_file(&metrics_path, kept.as_bytes())?;
        let file = std::fs::OpenOptions::new()
            .append(true)
            .open(&metrics_path)
            .map_err(io(&metrics_path))?;
        (Some(ck), file)
    } else {
        prepare_out_dir(&opts.out, opts.force)?;
        write_file(&config_path, toml_text.as_bytes())?;
        let file = std::fs::File::create(&metrics_path).map_err(io(&metrics_path))?;
        (None, file)
    };
    let device = opts.backend.device()?;
    let train_started = Instant::now();
    let mut write_metrics = |record: &EpochRecord| {
        let line = serde_json::to_string(record)
            .map_err(|e| TrainError::Internal(format!("serialising metrics: {e}")))?;
        writeln!(metrics, "{line}")
            .and_then(|()| metrics.flush())
            .map_err(io(&metrics_path))
    };
    let train::Fitted { model, epochs } = train::fit(
        &config,
        &data,
        &device,
        observer,
        &mut write_metrics,
        Some(&checkpoints),
        resume.as_ref(),
    )?;
    let train_seconds = train_started.elapsed().as_secs_f64();

    let model_path = opts.out.join("model.bpk");
    model
        .clone()
        .save_file(&model_path)
        .map_err(|e| TrainError::Save {
            path: model_path.clone(),
            message: e.to_string(),
        })?;

    let ctx = Evaluation {
        config: &config,
        config_path: &opts.config,
        data: &data,
        device: &device,
        backend: opts.backend,
        out: &opts.out,
    };
    ctx.report(&model, (epochs, train_seconds), started, None)
}

/// What the evaluation of a trained model needs.
struct Evaluation<'a> {
    config: &'a Config,
    config_path: &'a Path,
    data: &'a fairrep_data::Prepared,
    device: &'a Device,
    backend: Backend,
    out: &'a Path,
}

impl Evaluation<'_> {
    /// Test metrics of every source task (the trained heads) and of the transfer tasks (fresh
    /// heads on the frozen encoder; all of them, or those named in `only`), the
    /// representation's bias on the test split; writes `transfer_heads.json`, `report.json` and
    /// `report.md` (or, with `only`, `transfer_report.json`).
    /// `trained`: the epochs run (fewer than configured after early stopping) and the training
    /// time.
    fn report(
        &self,
        model: &model::FairModel,
        (epochs, train_seconds): (usize, f64),
        started: Instant,
        only: Option<&[String]>,
    ) -> Result<Report, TrainError> {
        let (config, data, device) = (self.config, self.data, self.device);
        let mut tasks = if only.is_some() {
            Vec::new()
        } else {
            train::source_metrics(
                model,
                data,
                &data.test,
                config.transfer.threshold,
                device,
                Some(config.seed),
            )
        };
        let z_train = model.encode_split(&data.train, device);
        let z_test = model.encode_split(&data.test, device);
        let r = config.model.representation;
        let transfer_tasks: Vec<usize> = data
            .task_indices(Role::Transfer)
            .into_iter()
            .filter(|&t| only.is_none_or(|names| names.contains(&data.tasks[t].name)))
            .collect();
        let (transfer_metrics, heads) = transfer::evaluate(
            data,
            &transfer_tasks,
            (&z_train, &z_test),
            r,
            &config.transfer,
            config.seed,
        )?;
        tasks.extend(transfer_metrics);
        let postprocessed = if only.is_none() {
            self.postprocess(model, &heads, &z_test)?
        } else {
            Vec::new()
        };
        let baselines = if config.transfer.baselines {
            transfer::baselines(data, &transfer_tasks, &config.transfer, config.seed)?
        } else {
            Vec::new()
        };
        if only.is_none() {
            write_json(&self.out.join("transfer_heads.json"), &heads)?;
        }
        let (mmd2, sigma, rows) = train::split_penalty(
            &z_test,
            r,
            &data.test,
            &fairrep_losses::DemographicParity {
                groups: data.groups.len(),
                bandwidth: fairrep_losses::Bandwidth::Median,
            },
            config.seed,
            device,
        );
        let report = Report {
            fairrep_version: env!("CARGO_PKG_VERSION").to_string(),
            config: self.config_path.display().to_string(),
            seed: config.seed,
            backend: self.backend.describe().to_string(),
            device: format!("{device:?}"),
            burn_version: BURN_VERSION.to_string(),
            penalty: config.penalty.resolved(),
            lambda: config.penalty.lambda,
            groups: data.groups.clone(),
            features: data.features.len(),
            splits: report::SplitSizes {
                train: data.train.n,
                valid: data.valid.n,
                test: data.test.n,
                dropped: [data.dropped.train, data.dropped.test],
            },
            epochs,
            train_seconds,
            total_seconds: started.elapsed().as_secs_f64(),
            representation: report::RepresentationBias { mmd2, sigma, rows },
            tasks,
            postprocessed,
            baselines,
        };
        if only.is_some() {
            write_json(&self.out.join("transfer_report.json"), &report)?;
        } else {
            write_json(&self.out.join("report.json"), &report)?;
            write_file(&self.out.join("report.md"), report.markdown().as_bytes())?;
        }
        Ok(report)
    }
}

impl Evaluation<'_> {
    /// `[postprocess]`: each chosen task's predicted probabilities on the validation split
    /// (without labels) calibrate the post-processing, which is applied to the test split's
    /// (`z_test`: the test representation the report already computed).
    fn postprocess(
        &self,
        model: &model::FairModel,
        heads: &[transfer::TransferHead],
        z_test: &[f32],
    ) -> Result<Vec<report::PostprocessedTask>, TrainError> {
        use fairrep_metrics::regression::score_parity;
        let (config, data, device) = (self.config, self.data, self.device);
        let pp = &config.postprocess;
        if pp.kind == config::PostprocessKind::None {
            return Ok(Vec::new());
        }
        let wanted = |name: &str| {
            pp.tasks
                .as_ref()
                .is_none_or(|names| names.iter().any(|n| n == name))
        };
        // Probabilities on (validation, test) for every task: the trained heads for source
        // tasks, the fitted transfer heads on the frozen representation for the others.
        let mut scores: Vec<(usize, Vec<f64>, Vec<f64>)> = Vec::new();
        let (valid_src, test_src) = (
            train::source_predictions(model, data, &data.valid, device),
            train::source_predictions(model, data, &data.test, device),
        );
        for ((t, v), s) in data
            .task_indices(Role::Source)
            .into_iter()
            .zip(valid_src)
            .zip(test_src)
        {
            scores.push((t, v, s));
        }
        // The test representation is the report's; only the validation one is new here.
        let z_valid = model.encode_split(&data.valid, device);
        for head in heads {
            let t = data
                .tasks
                .iter()
                .position(|k| k.name == head.task)
                .ok_or_else(|| TrainError::Internal(format!("no task {}", head.task)))?;
            scores.push((t, head.predict(&z_valid), head.predict(z_test)));
        }
        let groups = data.groups.len();
        let mut out = Vec::new();
        for (t, valid, test) in scores {
            let name = &data.tasks[t].name;
            if !wanted(name) {
                continue;
            }
            let seed = config.seed ^ (t as u64).wrapping_mul(0x9E37_79B9);
            let fail = |source| TrainError::Barycenter {
                what: format!("task `{name}`"),
                source,
            };
            let fitted =
                fairrep_methods::Barycenter::fit(&valid, &data.valid.s, groups, pp.jitter, seed)
                    .map_err(fail)?;
            let fair = fitted.apply(&test, &data.test.s, seed).map_err(fail)?;
            out.push(report::PostprocessedTask {
                task: name.clone(),
                kind: pp.kind,
                calibration_rows: valid.len(),
                before: score_parity(&test, &data.test.s, groups),
                after: score_parity(&fair, &data.test.s, groups),
                metrics: train::task_metrics(
                    data,
                    &data.test,
                    t,
                    &fair,
                    config.transfer.threshold,
                    Some(config.seed),
                ),
            });
        }
        Ok(out)
    }
}

/// A trained run read back from its directory: its config, data, device and model.
struct LoadedRun {
    config_path: PathBuf,
    config: Config,
    data: fairrep_data::Prepared,
    device: Device,
    model: model::FairModel,
    /// Epochs run and training time, from the run's report (the config's epochs and 0 without
    /// one).
    trained: (usize, f64),
}

fn load_run(run: &Path, backend: Backend) -> Result<LoadedRun, TrainError> {
    let config_path = run.join("config.toml");
    if !config_path.is_file() {
        return Err(TrainError::Checkpoint {
            path: run.to_path_buf(),
            message: "not a fairrep run directory (no config.toml)".into(),
        });
    }
    let config = Config::load(&config_path)?;
    if config.method.kind != config::MethodKind::Deep {
        return Err(deep_only(&config_path, "eval, transfer and audit").into());
    }
    let data = fairrep_data::prepare(&config.data, &config.tasks, run, config.seed)?;
    let device = backend.device()?;
    let (encoder_cfg, heads_cfg) = train::model_configs(&config, &data);
    let model_path = run.join("model.bpk");
    let model = model::FairModel::init(&encoder_cfg, &heads_cfg, config.seed, &device)
        .try_load_file(&model_path)
        .map_err(|e| TrainError::Checkpoint {
            path: model_path.clone(),
            message: format!("cannot load it with the run's config.toml: {e}"),
        })?;
    let old: Option<serde_json::Value> = std::fs::read_to_string(run.join("report.json"))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok());
    let trained = (
        old.as_ref()
            .and_then(|v| v["epochs"].as_u64())
            .map_or(config.training.epochs, |e| e as usize),
        old.as_ref()
            .and_then(|v| v["train_seconds"].as_f64())
            .unwrap_or(0.0),
    );
    Ok(LoadedRun {
        config_path,
        config,
        data,
        device,
        model,
        trained,
    })
}

impl LoadedRun {
    fn evaluation<'a>(&'a self, backend: Backend, run: &'a Path) -> Evaluation<'a> {
        Evaluation {
            config: &self.config,
            config_path: &self.config_path,
            data: &self.data,
            device: &self.device,
            backend,
            out: run,
        }
    }
}

/// The bias audit of a run directory (see [`audit`]): re-evaluates its saved model (as
/// [`evaluate_run`] does, rewriting the report) and adds the representation's divergences
/// between groups and linear probes; writes `audit.json`.
pub fn audit_run(run: &Path, backend: Backend) -> Result<audit::Audit, TrainError> {
    let started = Instant::now();
    let loaded = load_run(run, backend)?;
    let report =
        loaded
            .evaluation(backend, run)
            .report(&loaded.model, loaded.trained, started, None)?;
    let (model, data, device) = (&loaded.model, &loaded.data, &loaded.device);
    let z_train = model.encode_split(&data.train, device);
    let z_test = model.encode_split(&data.test, device);
    let (divergences, probes) = audit::representation(
        data,
        (&z_train, &z_test),
        loaded.config.model.representation,
        loaded.config.seed,
    )?;
    let out = audit::Audit {
        run: run.display().to_string(),
        tasks: report.tasks,
        divergences,
        probes,
    };
    write_json(&run.join("audit.json"), &out)?;
    Ok(out)
}

/// Re-evaluates the trained model of a run directory from its `config.toml` and `model.bpk`:
/// the whole report (`only = None`, rewriting `report.json`, `report.md`,
/// `transfer_heads.json`), or the transfer tasks named in `only` (all transfer tasks when it is
/// empty), written to `transfer_report.json`. Transfer tasks added to the run's `config.toml`
/// after training are evaluated too (the source tasks must stay as they were).
pub fn evaluate_run(
    run: &Path,
    backend: Backend,
    only: Option<&[String]>,
) -> Result<Report, TrainError> {
    let started = Instant::now();
    let loaded = load_run(run, backend)?;
    let transfer: Vec<String> = loaded
        .data
        .tasks
        .iter()
        .filter(|t| t.role == Role::Transfer)
        .map(|t| t.name.clone())
        .collect();
    if let Some(unknown) = only.into_iter().flatten().find(|n| !transfer.contains(n)) {
        return Err(ConfigError::Invalid {
            path: loaded.config_path.clone(),
            key: "tasks".into(),
            message: format!("has no transfer task `{unknown}` (--task)"),
        }
        .into());
    }
    // `Some(&[])`: every transfer task.
    let only = only.map(|names| {
        if names.is_empty() {
            &transfer[..]
        } else {
            names
        }
    });
    loaded
        .evaluation(backend, run)
        .report(&loaded.model, loaded.trained, started, only)
}

/// Creates the run directory; refuses a non-empty one unless `force`.
fn prepare_out_dir(out: &Path, force: bool) -> Result<(), TrainError> {
    let unusable = |reason: String| TrainError::OutDirUnusable {
        path: out.to_path_buf(),
        reason,
    };
    if out.exists() {
        if !out.is_dir() {
            return Err(unusable("it exists and is not a directory".into()));
        }
        let non_empty = std::fs::read_dir(out)
            .map_err(|e| unusable(e.to_string()))?
            .next()
            .is_some();
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

/// Writes a file atomically: a temporary file beside it, then a rename.
fn write_file(path: &Path, bytes: &[u8]) -> Result<(), TrainError> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).map_err(io(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io(path))
}

fn write_json<T: serde::Serialize>(path: &Path, value: &T) -> Result<(), TrainError> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| TrainError::Internal(format!("serialising {}: {e}", path.display())))?;
    write_file(path, text.as_bytes())
}

#[cfg(test)]
mod tests {
    #[test]
    fn burn_version_is_the_workspace_pin() {
        let manifest = include_str!("../../../Cargo.toml");
        let pin = format!("burn = {{ version = \"={}\"", super::BURN_VERSION);
        assert!(manifest.contains(&pin), "Cargo.toml does not pin {pin}");
    }
}
