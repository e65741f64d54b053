//! One fairrep run: read and validate the config, prepare the data, train the encoder on the
//! source tasks under the fairness penalty ([`train`]), evaluate the source heads, fit fresh
//! heads on the frozen representation for the transfer tasks ([`transfer`]), and write the run
//! directory ([`rundir`]; its files are the types of `fairrep-report`). Also: re-evaluating a
//! trained run ([`evaluate_run`]), its bias audit ([`audit_run`]), linear FERM runs
//! ([`ferm_run`]), the certificate of its quantised release ([`certify`]), measuring a divergence between two samples ([`measure`]), applying a trained
//! run to new rows ([`inference`]) and exporting it to other stacks ([`export`]).
//!
//! What this crate may not import: the CLI and `fairrep-study` (they build on it); plotting.

pub mod adversary;
pub mod audit;
pub mod backend;
pub mod batch;
pub mod certify;
pub mod checkpoint;
pub mod device;
pub mod error;
pub mod evaluation;
pub mod export;
pub mod ferm_run;
pub mod inference;
pub mod measure;
pub mod metrics;
pub mod model;
pub mod rundir;
pub mod seeds;
pub mod settings;
pub mod sweep;
pub mod train;
pub mod transfer;

pub use backend::{BURN_VERSION, Backend};
pub use error::TrainError;
pub use train::{Observer, Silent};

use crate::checkpoint::Checkpoints;
use crate::error::io;
use crate::evaluation::{Evaluation, Scope};
use crate::rundir::{
    LoadedRun, RunLock, deep_only, prepare_out_dir, resolved_config_text, write_file, write_json,
};
use burn::module::Module;
use fairrep_config::{Config, ConfigError, MethodKind, Override};
use fairrep_data::Role;
use fairrep_report::{Audit, EpochRecord, FermReport, Report, files};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

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
    pub overrides: Vec<Override>,
    /// Continue the run in `out` from its last checkpoint.
    pub resume: bool,
}

/// The directory relative data paths of a config are taken from.
fn base_dir(config: &Path) -> &Path {
    config.parent().unwrap_or(Path::new("."))
}

/// The checks of the config that need the data: a batch no larger than the training split.
fn fits_the_data(
    config: &Config,
    data: &fairrep_data::Prepared,
    path: &Path,
) -> Result<(), TrainError> {
    let batch = config.training.batch_size;
    // A streamed run trains on every training row; its `train` split is the fitting sample.
    let rows = data.streamed.as_ref().map_or(data.train.n, |s| s.rows());
    if batch > rows {
        return Err(ConfigError::Invalid {
            path: path.to_path_buf(),
            key: "training.batch_size".into(),
            message: format!("is {batch}, larger than the training split ({rows} rows)"),
        }
        .into());
    }
    Ok(())
}

/// Validates a config with its overrides and its data (files, columns, tasks, groups) without
/// training; returns a one-line summary.
pub fn check(config_path: &Path, overrides: &[Override]) -> Result<String, TrainError> {
    let config = Config::load_with(config_path, overrides)?;
    let data = fairrep_data::prepare(
        &config.data,
        &config.tasks,
        base_dir(config_path),
        config.seed,
    )?;
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
    let train = match &data.streamed {
        Some(s) => format!(
            "{} train (streamed from {} shards; preprocessing fitted on {})",
            s.rows(),
            s.summary().shards,
            data.train.n
        ),
        None => format!("{} train", data.train.n),
    };
    Ok(format!(
        "{train} / {} validation / {} test rows, {} features, groups [{}], source tasks [{}], \
         transfer tasks [{}], penalty {} (λ = {})",
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
    Ferm(Box<FermReport>),
}

/// Does a run of either method (`[method] kind`): [`run`] for the deep method; for FERM, the
/// linear models of [`ferm_run`], with `config.toml`, `report.json` and `report.md` in the run
/// directory (no checkpoints: a FERM run takes seconds and is not resumable).
pub fn run_any(opts: &RunOptions, observer: &mut dyn Observer) -> Result<Outcome, TrainError> {
    let config = Config::load_with(&opts.config, &opts.overrides)?;
    if config.method.kind == MethodKind::Deep {
        return run(opts, observer).map(|r| Outcome::Deep(Box::new(r)));
    }
    if opts.resume {
        return Err(deep_only(&opts.config, "--resume").into());
    }
    let base = base_dir(&opts.config);
    let data = fairrep_data::prepare(&config.data, &config.tasks, base, config.seed)?;
    let toml_text = resolved_config_text(&config, base)?;
    prepare_out_dir(&opts.out, opts.force)?;
    let _lock = RunLock::acquire(&opts.out)?;
    write_file(&opts.out.join(files::CONFIG), toml_text.as_bytes())?;
    let report = ferm_run::run(&config, &data, &opts.config.display().to_string())?;
    write_json(&opts.out.join(files::REPORT), &report)?;
    write_file(
        &opts.out.join(files::REPORT_MD),
        report.markdown().as_bytes(),
    )?;
    Ok(Outcome::Ferm(Box::new(report)))
}

/// The keys `--resume` may change: the optimisation, not the experiment (to continue a run
/// whose training diverged from its last checkpoint).
const RESUMABLE_CHANGES: [(&str, &str); 4] = [
    ("training", "learning_rate"),
    ("training", "grad_clip_norm"),
    ("training", "checkpoint_every_steps"),
    ("training", "checkpoint_every_seconds"),
];

/// Whether two resolved configs differ in [`RESUMABLE_CHANGES`] only.
fn same_but_optimisation(saved: &str, now: &str) -> bool {
    let strip = |text: &str| -> Option<toml::Table> {
        let mut t: toml::Table = text.parse().ok()?;
        for (section, key) in RESUMABLE_CHANGES {
            if let Some(toml::Value::Table(s)) = t.get_mut(section) {
                s.remove(key);
            }
        }
        Some(t)
    };
    matches!((strip(saved), strip(now)), (Some(a), Some(b)) if a == b)
}

/// The metrics file of a run: created anew, or, on resume, cut back to the checkpoint's epochs
/// (lines written after the checkpoint, by a kill between the two, are dropped) and appended to.
fn open_metrics(path: &Path, resume_epochs: Option<usize>) -> Result<std::fs::File, TrainError> {
    let Some(epochs) = resume_epochs else {
        return std::fs::File::create(path).map_err(io(path));
    };
    let old = std::fs::read_to_string(path).unwrap_or_default();
    let kept: String = old.lines().take(epochs).map(|l| format!("{l}\n")).collect();
    write_file(path, kept.as_bytes())?;
    std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .map_err(io(path))
}

/// Does a whole run of the deep method (see the crate docs) and returns its report.
pub fn run(opts: &RunOptions, observer: &mut dyn Observer) -> Result<Report, TrainError> {
    let started = Instant::now();
    let config = Config::load_with(&opts.config, &opts.overrides)?;
    if config.method.kind != MethodKind::Deep {
        return Err(deep_only(&opts.config, "this command").into());
    }
    // Before anything is read or written: a backend this build or machine lacks.
    let device = opts.backend.device()?;
    let base = base_dir(&opts.config);
    let data = fairrep_data::prepare(&config.data, &config.tasks, base, config.seed)?;
    fits_the_data(&config, &data, &opts.config)?;

    let toml_text = resolved_config_text(&config, base)?;
    let config_path = opts.out.join(files::CONFIG);
    let checkpoints = Checkpoints::new(&opts.out, config.training.keep_checkpoints);
    // Held until the run ends: a second `train` on this directory is refused meanwhile.
    // (Resuming a directory that does not exist fails below, without creating it.)
    let _lock = if !opts.resume {
        prepare_out_dir(&opts.out, opts.force)?;
        Some(RunLock::acquire(&opts.out)?)
    } else if opts.out.is_dir() {
        Some(RunLock::acquire(&opts.out)?)
    } else {
        None
    };
    let resume = if opts.resume {
        // The run's own resolved config must be the one given now.
        let saved = std::fs::read_to_string(&config_path).map_err(|e| TrainError::NotARun {
            path: opts.out.clone(),
            message: format!("{}: {e}", config_path.display()),
        })?;
        if saved != toml_text {
            if !same_but_optimisation(&saved, &toml_text) {
                return Err(TrainError::ResumeMismatch {
                    run: opts.out.clone(),
                });
            }
            // A new learning rate or clipping (after training diverged): the run goes on with
            // them, and its resolved config says so.
            tracing::warn!(
                "resuming with a changed training.learning_rate or training.grad_clip_norm; \
                 {} is rewritten with them",
                config_path.display()
            );
            write_file(&config_path, toml_text.as_bytes())?;
        }
        Some(checkpoints.latest()?)
    } else {
        write_file(&config_path, toml_text.as_bytes())?;
        None
    };
    let metrics_path = opts.out.join(files::METRICS);
    let mut metrics = open_metrics(&metrics_path, resume.as_ref().map(|ck| ck.state.epoch))?;
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

    let model_path = opts.out.join(files::MODEL);
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
    let report = ctx.report(&model, (epochs, train_seconds), started, Scope::Full)?;
    if config.certify.enabled {
        certify::certify_model(
            &opts.out,
            &data,
            &model,
            &device,
            config.model.representation,
            &certify::settings(&config.certify, config.seed),
        )?;
    }
    Ok(report)
}

impl LoadedRun {
    fn evaluation(&self, backend: Backend) -> Evaluation<'_> {
        Evaluation {
            config: &self.config,
            config_path: &self.config_path,
            data: &self.data,
            device: &self.device,
            backend,
            out: &self.dir,
        }
    }
}

/// The bias audit of a run directory (see [`audit`]): re-evaluates its saved model (as
/// [`evaluate_run`] does, rewriting the report) and adds the representation's divergences
/// between groups and the probes; writes `audit.json`.
pub fn audit_run(run: &Path, backend: Backend) -> Result<Audit, TrainError> {
    let started = Instant::now();
    let loaded = LoadedRun::load(run, backend)?;
    let report =
        loaded
            .evaluation(backend)
            .report(&loaded.model, loaded.trained, started, Scope::Full)?;
    let (model, data, device) = (&loaded.model, &loaded.data, &loaded.device);
    let z_train = model.encode_split(&data.train, device);
    let z_valid = model.encode_split(&data.valid, device);
    let z_test = model.encode_split(&data.test, device);
    let (divergences, probes, strongest) = audit::representation(
        data,
        (&z_train, &z_valid, &z_test),
        loaded.config.model.representation,
        loaded.config.seed,
    )?;
    let warnings = report.warnings();
    let out = Audit {
        run: run.display().to_string(),
        tasks: report.tasks,
        warnings,
        divergences,
        probes,
        strongest,
    };
    write_json(&run.join(files::AUDIT), &out)?;
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
    let loaded = LoadedRun::load(run, backend)?;
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
    let scope = match only {
        None => Scope::Full,
        Some([]) => Scope::Transfer(&transfer),
        Some(names) => Scope::Transfer(names),
    };
    loaded
        .evaluation(backend)
        .report(&loaded.model, loaded.trained, started, scope)
}
