//! The training loop: Adam on mean task loss + λ · penalty, one epoch at a time. With the
//! adversarial penalty, an adversary takes its own Adam steps on each batch first (on the
//! detached representation), then the encoder and heads step against it.

use crate::checkpoint::{Checkpoint, CheckpointState, Checkpoints};
use crate::config::AdversaryLoss;
use crate::config::Config;
use crate::error::TrainError;
use crate::model::FairModel;
use crate::report::{EpochRecord, TaskMetrics};
use burn::data::dataloader::batcher::Batcher;
use burn::module::Module;
use burn::optim::decay::WeightDecayConfig;
use burn::optim::grad_clipping::GradientClippingConfig;
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::Device;
use fairrep_data::{FairBatcher, Prepared, Role, Split};
use fairrep_heads::{MultitaskHeadsConfig, multitask_loss};
use fairrep_losses::{
    DemographicParity, GroupPenalty, adversary_advantage, adversary_cross_entropy, conditioned,
};
use fairrep_model::{Encoder, EncoderConfig};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use std::sync::Arc;
use std::time::Instant;

/// Hooks the trainer calls as it goes (the CLI draws progress bars with them).
pub trait Observer {
    /// An epoch of `steps` batches begins.
    fn epoch_start(&mut self, _epoch: usize, _epochs: usize, _steps: usize) {}
    /// One optimiser step was taken.
    fn step(&mut self, _task_loss: f64, _penalty: f64) {}
    /// An epoch ended (after validation).
    fn epoch_end(&mut self, _record: &EpochRecord) {}
}

/// An observer that does nothing.
pub struct Silent;
impl Observer for Silent {}

/// Largest number of rows on which a whole-split penalty is measured (a seeded subsample
/// beyond it; the kernel matrix is `rows²`).
pub const PENALTY_EVAL_ROWS: usize = 4096;

/// Rows of a split to measure a penalty on: all of them, or a seeded subsample.
pub fn eval_rows(n: usize, seed: u64) -> Vec<usize> {
    let mut rows: Vec<usize> = (0..n).collect();
    if n > PENALTY_EVAL_ROWS {
        rows.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
        rows.truncate(PENALTY_EVAL_ROWS);
        rows.sort_unstable();
    }
    rows
}

/// The penalty between the groups of a split's representation `z` (row-major `[n, r]`),
/// measured on at most [`PENALTY_EVAL_ROWS`] rows. Returns (value, σ, rows).
pub fn split_penalty(
    z: &[f32],
    r: usize,
    split: &Split,
    penalty: &DemographicParity,
    seed: u64,
    device: &Device,
) -> (f64, f64, usize) {
    let rows = eval_rows(split.n, seed);
    let mut sub = Vec::with_capacity(rows.len() * r);
    for &i in &rows {
        sub.extend_from_slice(&z[i * r..(i + 1) * r]);
    }
    let s: Vec<usize> = rows.iter().map(|&i| split.s[i]).collect();
    let zt =
        burn::Tensor::<2>::from_data(burn::tensor::TensorData::new(sub, [rows.len(), r]), device);
    let out = penalty.forward(zt, &s);
    (
        out.value.into_scalar::<f64>(),
        out.sigmas.first().copied().unwrap_or(f64::NAN),
        rows.len(),
    )
}

/// Metrics of the source heads on a split (with bootstrap intervals seeded by `bootstrap`).
pub fn source_metrics(
    model: &FairModel,
    data: &Prepared,
    split: &Split,
    threshold: f64,
    device: &Device,
    bootstrap: Option<u64>,
) -> Vec<TaskMetrics> {
    let probs = source_predictions(model, data, split, device);
    data.task_indices(Role::Source)
        .iter()
        .zip(probs)
        .map(|(&t, p)| task_metrics(data, split, t, &p, threshold, bootstrap))
        .collect()
}

/// The source heads' predictions on a split, `pred[head][row]`: probabilities for binary tasks,
/// values on the target's scale for regression tasks.
pub fn source_predictions(
    model: &FairModel,
    data: &Prepared,
    split: &Split,
    device: &Device,
) -> Vec<Vec<f64>> {
    let heads: Vec<&fairrep_data::TaskInfo> = data
        .task_indices(Role::Source)
        .into_iter()
        .map(|t| &data.tasks[t])
        .collect();
    model.predict_split(split, &heads, device)
}

/// The validation loss of task `t` from its predictions: the log-loss of a binary task, the
/// mean squared error on the standardised scale (the training loss's) of a regression task.
pub fn task_loss(data: &Prepared, split: &Split, t: usize, pred: &[f64]) -> f64 {
    let task = &data.tasks[t];
    match task.kind {
        fairrep_data::TaskKind::Binary => log_loss(&split.labels[t], pred),
        fairrep_data::TaskKind::Regression => {
            let (mean, std) = task.scale;
            split.targets[t]
                .iter()
                .zip(pred)
                .map(|(&y, &p)| ((p - mean) / std - f64::from(y)).powi(2))
                .sum::<f64>()
                / pred.len().max(1) as f64
        }
    }
}

/// Resamples of the bootstrap intervals in reports.
pub const BOOTSTRAP_RESAMPLES: usize = 200;

/// Metrics of task `t` on a split, from predicted probabilities; with `bootstrap = Some(seed)`,
/// also their 95% bootstrap intervals ([`BOOTSTRAP_RESAMPLES`] resamples of the split's rows).
pub fn task_metrics(
    data: &Prepared,
    split: &Split,
    t: usize,
    probs: &[f64],
    threshold: f64,
    bootstrap: Option<u64>,
) -> TaskMetrics {
    let task = &data.tasks[t];
    if task.kind == fairrep_data::TaskKind::Regression {
        let y: Vec<f64> = split.targets[t]
            .iter()
            .map(|&v| task.unscale(f64::from(v)))
            .collect();
        let summary = fairrep_metrics::regression::summarize_regression(
            &y,
            probs,
            &split.s,
            &data.groups,
            bootstrap.map(|seed| {
                (
                    BOOTSTRAP_RESAMPLES,
                    seed ^ (t as u64).wrapping_mul(0x9E37_79B9),
                )
            }),
        );
        let mean = y.iter().sum::<f64>() / y.len().max(1) as f64;
        let mut m = TaskMetrics::new(
            &task.name,
            &task.role.to_string(),
            mean,
            fairrep_metrics::BinarySummary::default(),
        );
        m.regression = Some(summary);
        return m;
    }
    let y = &split.labels[t];
    let base_rate = y.iter().filter(|&&v| v).count() as f64 / y.len().max(1) as f64;
    let summary = fairrep_metrics::summarize_binary(y, probs, threshold, &split.s, &data.groups)
        .expect("labels, predictions and groups are aligned by construction");
    let task = &data.tasks[t];
    let mut m = TaskMetrics::new(&task.name, &task.role.to_string(), base_rate, summary);
    m.ci95 = bootstrap.map(|seed| {
        fairrep_metrics::bootstrap_intervals(
            y,
            probs,
            threshold,
            &split.s,
            &data.groups,
            BOOTSTRAP_RESAMPLES,
            seed ^ (t as u64).wrapping_mul(0x9E37_79B9),
        )
        .expect("labels, predictions and groups are aligned by construction")
    });
    m
}

/// The encoder and heads a config describes, for this data.
pub fn model_configs(config: &Config, data: &Prepared) -> (EncoderConfig, MultitaskHeadsConfig) {
    let m = &config.model;
    let encoder = EncoderConfig::new(data.features.len(), m.hidden.clone(), m.representation)
        .with_activation(m.activation)
        .with_representation_activation(m.representation_activation)
        .with_dropout(m.dropout);
    let heads = MultitaskHeadsConfig::new(m.representation, data.task_indices(Role::Source).len());
    (encoder, heads)
}

/// Trains the encoder and source heads; calls `on_epoch` with each epoch's record (to write it),
/// then writes a checkpoint when `checkpoints` is given. With `resume`, training continues after
/// that checkpoint's epoch from its model, optimizer and batch-order state: on the CPU backend
/// the result equals that of an uninterrupted run.
pub fn fit(
    config: &Config,
    data: &Prepared,
    device: &Device,
    observer: &mut dyn Observer,
    on_epoch: &mut dyn FnMut(&EpochRecord) -> Result<(), TrainError>,
    checkpoints: Option<&Checkpoints>,
    resume: Option<&Checkpoint>,
) -> Result<Fitted, TrainError> {
    let source = data.task_indices(Role::Source);
    let m = &config.model;
    let (encoder_cfg, heads_cfg) = model_configs(config, data);
    let train_device = device.clone().autodiff();
    let mut model = FairModel::init(&encoder_cfg, &heads_cfg, config.seed, &train_device);
    let mut adam = AdamConfig::new();
    if let Some(c) = config.training.grad_clip_norm {
        adam = adam.with_grad_clipping(Some(GradientClippingConfig::Norm(c as f32)));
    }
    if config.training.weight_decay > 0.0 {
        adam = adam.with_weight_decay(Some(WeightDecayConfig::new(
            config.training.weight_decay as f32,
        )));
    }
    let mut optim = adam.init();
    let internal = |(k, m): (String, String)| TrainError::Internal(format!("{k} {m}"));
    let groups = data.groups.len();
    let condition = config.penalty.condition;
    let penalty = config
        .penalty
        .divergence()
        .map_err(internal)?
        .map(|divergence| GroupPenalty {
            groups,
            divergence,
            condition,
            scale: config.penalty.scale(),
        });
    let mut adversary = config.penalty.adversary().map_err(internal)?.map(|a| {
        Adversary::init(
            &a,
            m.representation,
            groups,
            condition,
            config.seed,
            &train_device,
        )
    });
    // Labels of the conditioning task (equal opportunity / equalized odds), by training row.
    let condition_labels: Option<&[bool]> = config.penalty.condition_task.as_ref().map(|name| {
        let t = data
            .tasks
            .iter()
            .position(|t| &t.name == name)
            .expect("validated task name");
        data.train.labels[t].as_slice()
    });
    let lambda = config.penalty.lambda;
    let batcher = FairBatcher::new(Arc::new(data.train.clone()), source.clone());
    // Which source heads are regression heads (squared error instead of cross-entropy).
    let regression: Vec<bool> = source
        .iter()
        .map(|&t| data.tasks[t].kind == fairrep_data::TaskKind::Regression)
        .collect();
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed ^ 0x05EE_D0FB_A7C4);
    let bs = config.training.batch_size;
    let started = Instant::now();
    let mut step = 0usize;
    let mut first = 1;
    // Early stopping: the best validation objective and the epochs since.
    let (mut best, mut since_best): (Option<f64>, usize) = (None, 0);
    // Batches of at least two rows per epoch, for the learning-rate schedule.
    let per_epoch = data.train.n / bs + usize::from(data.train.n % bs >= 2);
    let total_steps = per_epoch * config.training.epochs;
    let mut lr = config.training.learning_rate;
    let mut epochs_run = 0;
    if let Some(ck) = resume {
        let bad = |e: &dyn std::fmt::Display| TrainError::Checkpoint {
            path: ck.dir.clone(),
            message: format!("cannot load: {e}"),
        };
        model = model.try_load_file(ck.model()).map_err(|e| bad(&e))?;
        optim = optim.load(ck.optim()).map_err(|e| bad(&e))?;
        if let Some(adv) = adversary.as_mut() {
            adv.load(ck).map_err(|e| bad(&e))?;
        }
        rng.set_word_pos(ck.state.rng_word_pos);
        step = ck.state.step;
        first = ck.state.epoch + 1;
        epochs_run = ck.state.epoch;
        (best, since_best) = (ck.state.best_objective, ck.state.since_best);
        tracing::info!(epoch = ck.state.epoch, dir = %ck.dir.display(), "resumed");
    }

    for epoch in first..=config.training.epochs {
        // Dropout masks: seeded per epoch, so a resumed run draws the same ones.
        train_device.seed(config.seed.wrapping_add(epoch as u64));
        let mut order: Vec<usize> = (0..data.train.n).collect();
        order.shuffle(&mut rng);
        let batches: Vec<&[usize]> = order.chunks(bs).filter(|c| c.len() >= 2).collect();
        observer.epoch_start(epoch, config.training.epochs, batches.len());
        let (mut sum_task, mut sum_pen, mut no_pairs) = (0.0, 0.0, 0usize);
        for rows in &batches {
            step += 1;
            let batch = batcher.batch(rows.to_vec(), &train_device);
            let z = model.encoder.forward(batch.x); // [b, r]
            let task_loss = multitask_loss(model.heads.forward(z.clone()), batch.y, &regression); // [1]
            let y_cond: Option<Vec<bool>> =
                condition_labels.map(|l| batch.rows.iter().map(|&r| l[r]).collect());
            let pen = match (&penalty, adversary.as_mut()) {
                (Some(p), _) => p.forward(z, &batch.s, y_cond.as_deref()),
                (None, Some(adv)) => adv.step_and_penalty(z, &batch.s, y_cond.as_deref()),
                (None, None) => unreachable!("a penalty is a divergence or an adversary"),
            };
            let (tl, pv) = (
                task_loss.clone().into_scalar::<f64>(),
                pen.value.clone().into_scalar::<f64>(),
            );
            for (term, v) in [("task loss", tl), ("penalty", pv)] {
                if !v.is_finite() {
                    return Err(TrainError::NonFinite {
                        epoch,
                        step,
                        term: term.to_string(),
                        value: v,
                    });
                }
            }
            no_pairs += usize::from(pen.pairs == 0);
            sum_task += tl;
            sum_pen += pv;
            let loss = task_loss + pen.value.mul_scalar(lambda);
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            lr = config.training.learning_rate_at(step, total_steps);
            model = optim.step(lr, model, grads);
            observer.step(tl, pv);
        }
        if no_pairs > 0 {
            tracing::warn!(
                epoch,
                batches = no_pairs,
                "batches with fewer than two groups (penalty 0)"
            );
        }
        // Validation on the plain (non-autodiff) model.
        let eval = model.valid();
        let probs = source_predictions(&eval, data, &data.valid, device);
        let valid: Vec<TaskMetrics> = source
            .iter()
            .zip(&probs)
            .map(|(&t, p)| task_metrics(data, &data.valid, t, p, config.transfer.threshold, None))
            .collect();
        let valid_log_loss = source
            .iter()
            .zip(&probs)
            .map(|(&t, p)| task_loss(data, &data.valid, t, p))
            .sum::<f64>()
            / source.len().max(1) as f64;
        let valid_penalty = if data.valid.n >= 2 {
            let z = eval.encode_split(&data.valid, device);
            split_penalty(
                &z,
                m.representation,
                &data.valid,
                &DemographicParity {
                    groups: data.groups.len(),
                    bandwidth: fairrep_losses::Bandwidth::Median,
                },
                config.seed,
                device,
            )
            .0
        } else {
            f64::NAN
        };
        let valid_objective = valid_log_loss + lambda * valid_penalty;
        let nb = batches.len().max(1) as f64;
        let record = EpochRecord {
            epoch,
            step,
            task_loss: sum_task / nb,
            penalty: sum_pen / nb,
            objective: (sum_task + lambda * sum_pen) / nb,
            batches_without_pairs: no_pairs,
            valid_penalty,
            valid_objective,
            learning_rate: lr,
            valid,
            elapsed_s: started.elapsed().as_secs_f64(),
        };
        epochs_run = epoch;
        if best.is_none_or(|b| valid_objective < b) {
            (best, since_best) = (Some(valid_objective), 0);
        } else {
            since_best += 1;
        }
        let stop = config
            .training
            .early_stopping_patience
            .is_some_and(|p| since_best >= p);
        tracing::info!(
            epoch,
            task_loss = record.task_loss,
            penalty = record.penalty,
            valid_penalty,
            "epoch done"
        );
        on_epoch(&record)?;
        if let Some(ck) = checkpoints {
            let state = CheckpointState {
                epoch,
                step,
                rng_word_pos: rng.get_word_pos(),
                best_objective: best.filter(|b| b.is_finite()),
                since_best,
            };
            let save = |dir: &std::path::Path| {
                model
                    .clone()
                    .save_file(dir.join("model.bpk"))
                    .map_err(|e| e.to_string())?;
                optim
                    .save(dir.join("optim.bpk"))
                    .map_err(|e| e.to_string())?;
                match &adversary {
                    Some(adv) => adv.save(dir),
                    None => Ok(()),
                }
            };
            ck.write(&state, save)?;
            if since_best == 0 {
                ck.write_best(&state, save)?;
            }
        }
        observer.epoch_end(&record);
        if stop {
            tracing::info!(
                epoch,
                since_best,
                "early stopping: no better validation objective"
            );
            break;
        }
    }
    Ok(Fitted {
        model: model.valid(),
        epochs: epochs_run,
    })
}

/// The adversary of the adversarial penalty (LAFTR): an MLP `z ↦` one logit per group, with
/// its own Adam optimiser. On each batch it takes `steps` steps on the detached representation
/// (maximising its advantage, LAFTR's ℓ₁ objective, or minimising its balanced cross-entropy),
/// then gives the penalty `A(z)` through which the encoder is trained against it.
struct Adversary {
    net: Encoder,
    optim: burn::optim::ModuleOptimizer,
    learning_rate: f64,
    steps: usize,
    loss: AdversaryLoss,
    groups: usize,
    condition: fairrep_losses::Condition,
}

impl Adversary {
    fn init(
        settings: &crate::config::AdversarySection,
        representation: usize,
        groups: usize,
        condition: fairrep_losses::Condition,
        seed: u64,
        device: &Device,
    ) -> Self {
        let net = EncoderConfig::new(representation, settings.hidden.clone(), groups)
            .init(seed ^ 0xAD7E_25A2_1A1F_0001, device);
        Self {
            net,
            optim: AdamConfig::new().init(),
            learning_rate: settings.learning_rate,
            steps: settings.steps,
            loss: settings.loss,
            groups,
            condition,
        }
    }

    /// `of(logits, groups)` of the current adversary on `z`, conditioned as the penalty says.
    fn conditioned(
        &self,
        z: burn::Tensor<2>,
        s: &[usize],
        y: Option<&[bool]>,
        of: fn(burn::Tensor<2>, &[usize], usize) -> fairrep_losses::PenaltyValue,
    ) -> fairrep_losses::PenaltyValue {
        let logits = self.net.forward(z); // [b, G]
        conditioned(logits, s, y, self.condition, |l, s| of(l, s, self.groups))
    }

    /// `steps` adversary updates on the detached `z` (constant learning rate), then the
    /// penalty `A(z)` for the encoder.
    ///
    /// # Shapes
    /// - `z`: `[b, r]`
    fn step_and_penalty(
        &mut self,
        z: burn::Tensor<2>,
        s: &[usize],
        y: Option<&[bool]>,
    ) -> fairrep_losses::PenaltyValue {
        for _ in 0..self.steps {
            let zd = z.clone().detach(); // [b, r]
            let out = match self.loss {
                AdversaryLoss::L1 => self.conditioned(zd, s, y, adversary_advantage),
                AdversaryLoss::CrossEntropy => self.conditioned(zd, s, y, adversary_cross_entropy),
            };
            if out.pairs == 0 {
                break;
            }
            // It maximises its advantage, or minimises its cross-entropy.
            let loss = match self.loss {
                AdversaryLoss::L1 => out.value.neg(),
                AdversaryLoss::CrossEntropy => out.value,
            };
            let grads = GradientsParams::from_grads(loss.backward(), &self.net);
            self.net = self.optim.step(self.learning_rate, self.net.clone(), grads);
        }
        self.conditioned(z, s, y, adversary_advantage)
    }

    fn save(&self, dir: &std::path::Path) -> Result<(), String> {
        self.net
            .clone()
            .save_file(dir.join("adversary.bpk"))
            .map_err(|e| e.to_string())?;
        self.optim
            .save(dir.join("adversary_optim.bpk"))
            .map_err(|e| e.to_string())
    }

    fn load(&mut self, ck: &Checkpoint) -> Result<(), String> {
        self.net = self
            .net
            .clone()
            .try_load_file(ck.adversary())
            .map_err(|e| e.to_string())?;
        let optim = std::mem::replace(&mut self.optim, AdamConfig::new().init());
        self.optim = optim
            .load(ck.adversary_optim())
            .map_err(|e| e.to_string())?;
        Ok(())
    }
}

/// A trained model and the number of epochs it was trained for (fewer than configured when
/// early stopping ended the run).
pub struct Fitted {
    /// The model, without autodiff.
    pub model: FairModel,
    /// Epochs run.
    pub epochs: usize,
}

/// Mean binary log-loss of probabilities against labels (probabilities clamped to
/// [1e-7, 1 − 1e-7]).
pub fn log_loss(labels: &[bool], probs: &[f64]) -> f64 {
    let n = labels.len().max(1) as f64;
    labels
        .iter()
        .zip(probs)
        .map(|(&y, &p)| {
            let p = p.clamp(1e-7, 1.0 - 1e-7);
            -(if y { p.ln() } else { (1.0 - p).ln() })
        })
        .sum::<f64>()
        / n
}
