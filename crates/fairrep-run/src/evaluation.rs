//! The report of a trained model: the source heads on the test split, fresh heads on the
//! frozen representation for the transfer tasks, the raw-feature baselines, the
//! post-processing, the representation's bias; written into the run directory.

use crate::backend::{BURN_VERSION, Backend};
use crate::error::TrainError;
use crate::metrics::{source_metrics, source_predictions, split_mmd2, spread, task_metrics};
use crate::model::FairModel;
use crate::rundir::{write_file, write_json};
use crate::seeds::{Stream, derive_seed};
use crate::transfer;
use burn::tensor::Device;
use fairrep_config::{Config, PostprocessKind};
use fairrep_data::{Prepared, Role};
use fairrep_report::{FittedPostprocess, PostprocessedTask, Report, TransferHead, files};
use std::path::Path;
use std::time::Instant;

/// What the evaluation of a trained model needs.
pub struct Evaluation<'a> {
    /// The run's config.
    pub config: &'a Config,
    /// The config file (for the report).
    pub config_path: &'a Path,
    /// The data.
    pub data: &'a Prepared,
    /// The device.
    pub device: &'a Device,
    /// The backend.
    pub backend: Backend,
    /// The run directory.
    pub out: &'a Path,
}

/// Which tasks an evaluation covers.
#[derive(Debug, Clone, Copy)]
pub enum Scope<'a> {
    /// Every task: writes `report.json`, `report.md` and `transfer_heads.json`.
    Full,
    /// The named transfer tasks only: writes `transfer_report.json`.
    Transfer(&'a [String]),
}

impl Evaluation<'_> {
    /// Test metrics of every source task (the trained heads) and of the transfer tasks (fresh
    /// heads on the frozen encoder), the representation's bias on the test split, the
    /// baselines and the post-processing; writes the files of `scope`. `trained`: the epochs
    /// run (fewer than configured after early stopping) and the training time.
    pub fn report(
        &self,
        model: &FairModel,
        (epochs, train_seconds): (usize, f64),
        started: Instant,
        scope: Scope<'_>,
    ) -> Result<Report, TrainError> {
        let (config, data, device) = (self.config, self.data, self.device);
        let full = matches!(scope, Scope::Full);
        let mut tasks = if full {
            source_metrics(
                model,
                data,
                &data.test,
                config.transfer.threshold,
                device,
                Some(config.seed),
            )
        } else {
            Vec::new()
        };
        let z_train = model.encode_split(&data.train, device);
        let z_test = model.encode_split(&data.test, device);
        let r = config.model.representation;
        let transfer_tasks: Vec<usize> = data
            .task_indices(Role::Transfer)
            .into_iter()
            .filter(|&t| match scope {
                Scope::Full => true,
                Scope::Transfer(names) => names.contains(&data.tasks[t].name),
            })
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
        let (postprocessed, fitted_postprocess) = if full {
            self.postprocess(model, &heads, &z_test)?
        } else {
            (Vec::new(), Vec::new())
        };
        let (baselines, unprocessing) = if config.transfer.baselines {
            (
                transfer::baselines(data, &transfer_tasks, &config.transfer, config.seed)?,
                transfer::unprocessing(data, &transfer_tasks),
            )
        } else {
            (Vec::new(), Vec::new())
        };
        if full {
            // What `predict`, `encode` and `export` need besides the model.
            write_json(&self.out.join(files::TRANSFER_HEADS), &heads)?;
            write_json(&self.out.join(files::PREPROCESSING), &data.preprocessing)?;
            write_json(&self.out.join(files::POSTPROCESS), &fitted_postprocess)?;
        }
        let (mmd2, sigma, rows) = split_mmd2(
            &z_test,
            r,
            &data.test,
            data.groups.len(),
            (crate::metrics::PENALTY_EVAL_ROWS, config.seed),
            device,
        );
        // The collapse check's reference: the untrained encoder (the run's seed) on the same rows.
        let (encoder_cfg, heads_cfg) = crate::settings::model_configs(
            config,
            data.test.p,
            data.task_indices(Role::Source).len(),
        );
        let untrained = FairModel::init(&encoder_cfg, &heads_cfg, config.seed, device);
        let initial_spread = spread(&untrained.encode_split(&data.test, device), r);
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
            splits: fairrep_report::SplitSizes {
                train: data.train.n,
                valid: data.valid.n,
                test: data.test.n,
                dropped: [data.dropped.train, data.dropped.test],
                streamed: data.streamed.as_ref().map(|s| s.summary()),
            },
            epochs,
            train_seconds,
            validation: Some(fairrep_report::ValidationSettings {
                every: config.training.validate_every,
                penalty_rows: crate::metrics::sample_rows(
                    data.valid.n,
                    config.training.validation_rows,
                    config.seed,
                )
                .len(),
                rows: data.valid.n,
            }),
            total_seconds: started.elapsed().as_secs_f64(),
            representation: fairrep_report::RepresentationBias {
                mmd2,
                sigma,
                rows,
                spread: Some(spread(&z_test, r)),
                initial_spread: Some(initial_spread),
            },
            tasks,
            postprocessed,
            baselines,
            unprocessing,
        };
        if full {
            write_json(&self.out.join(files::REPORT), &report)?;
            write_file(
                &self.out.join(files::REPORT_MD),
                report.markdown().as_bytes(),
            )?;
        } else {
            write_json(&self.out.join(files::TRANSFER_REPORT), &report)?;
        }
        Ok(report)
    }

    /// `[postprocess]`: each chosen task's predicted probabilities on the validation split
    /// (without labels) calibrate the post-processing, which is applied to the test split's
    /// (`z_test`: the test representation the report already computed).
    fn postprocess(
        &self,
        model: &FairModel,
        heads: &[TransferHead],
        z_test: &[f32],
    ) -> Result<(Vec<PostprocessedTask>, Vec<FittedPostprocess>), TrainError> {
        use fairrep_metrics::regression::score_parity;
        let (config, data, device) = (self.config, self.data, self.device);
        let pp = &config.postprocess;
        if pp.kind == PostprocessKind::None {
            return Ok((Vec::new(), Vec::new()));
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
            source_predictions(model, data, &data.valid, device),
            source_predictions(model, data, &data.test, device),
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
        let mut fitted_all = Vec::new();
        for (t, valid, test) in scores {
            let name = &data.tasks[t].name;
            if !wanted(name) {
                continue;
            }
            let seed = derive_seed(config.seed, Stream::Task(t));
            let fail = |source| TrainError::Barycenter {
                what: format!("task `{name}`"),
                source,
            };
            let fitted =
                fairrep_methods::Barycenter::fit(&valid, &data.valid.s, groups, pp.jitter, seed)
                    .map_err(fail)?;
            let fair = fitted.apply(&test, &data.test.s, seed).map_err(fail)?;
            fitted_all.push(FittedPostprocess {
                task: name.clone(),
                kind: pp.kind,
                seed,
                barycenter: fitted.clone(),
            });
            out.push(PostprocessedTask {
                task: name.clone(),
                kind: pp.kind,
                calibration_rows: valid.len(),
                before: score_parity(&test, &data.test.s, groups),
                after: score_parity(&fair, &data.test.s, groups),
                metrics: task_metrics(
                    data,
                    &data.test,
                    t,
                    &fair,
                    config.transfer.threshold,
                    Some(config.seed),
                ),
            });
        }
        Ok((out, fitted_all))
    }
}
