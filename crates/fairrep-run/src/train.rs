//! The training loop: Adam on mean task loss + λ · penalty, one epoch at a time. With the
//! adversarial penalty, an adversary takes its own Adam steps on each batch first (on the
//! detached representation), then the encoder and heads step against it.
//!
//! [`fit`] is the loop; a [`Trainer`] holds what changes from step to step (model, optimiser,
//! penalty, batch-order generator, step counter, early-stopping state) and does one epoch
//! ([`Trainer::train_epoch`]), its validation ([`Trainer::validate`]) and its checkpoint
//! ([`Trainer::checkpoint`]).

use crate::adversary::Adversary;
use crate::batch::FairBatcher;
use crate::checkpoint::{Checkpoint, Checkpoints};
use crate::error::TrainError;
use crate::metrics::{
    rows_of, sample_rows, source_predictions, split_mmd2, task_loss, task_metrics,
};
use crate::model::FairModel;
use crate::seeds::{Stream, derive_seed};
use crate::settings::{group_penalty, model_configs};
use burn::data::dataloader::batcher::Batcher;
use burn::module::Module;
use burn::optim::decay::WeightDecayConfig;
use burn::optim::grad_clipping::GradientClippingConfig;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::tensor::Device;
use fairrep_config::Config;
use fairrep_data::{Prepared, Role, TaskKind, Window};
use fairrep_losses::{GroupPenalty, PenaltyValue};
use fairrep_model::multitask_loss;
use fairrep_report::{CheckpointState, EpochProgress, EpochRecord, TaskMetrics};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use std::sync::Arc;
use std::time::Instant;

/// A batch whose mean task loss is more than this many times the constant predictor's (each
/// task's training base rate, or the mean of a standardised target; at least ln 2, a fresh
/// head's loss) means training has diverged: the run stops there.
pub const DIVERGED_FACTOR: f64 = 100.0;

/// Hooks the trainer calls as it goes (the CLI draws progress bars with them).
pub trait Observer {
    /// An epoch of `steps` batches begins.
    fn epoch_start(&mut self, _epoch: usize, _epochs: usize, _steps: usize) {}
    /// One optimiser step was taken (the batch's penalty: `None` when λ = 0, where it is not
    /// computed).
    fn step(&mut self, _task_loss: f64, _penalty: Option<f64>) {}
    /// An epoch ended (after validation).
    fn epoch_end(&mut self, _record: &EpochRecord) {}
    /// Whether to stop now (asked after every step; Python's Ctrl-C): training ends with
    /// [`TrainError::Interrupted`], the last checkpoint intact.
    fn interrupted(&mut self) -> bool {
        false
    }
}

/// An observer that does nothing.
pub struct Silent;
impl Observer for Silent {}

/// A trained model and the number of epochs it was trained for (fewer than configured when
/// early stopping ended the run).
pub struct Fitted {
    /// The model, without autodiff.
    pub model: FairModel,
    /// Epochs run.
    pub epochs: usize,
}

/// The penalty a run trains with.
enum Penalty {
    /// A divergence between the groups' representations.
    Divergence(GroupPenalty),
    /// An adversary's advantage.
    Adversary(Box<Adversary>),
}

/// Where an epoch is, for its steps and checkpoints.
struct Position {
    epoch: usize,
    /// When its steps began (earlier, by the seconds done, after a resume).
    started: Instant,
    /// The batch-order generator's position before the epoch's shuffle.
    rng_before_shuffle: u128,
    /// Whether the penalty is computed (λ ≠ 0, or an adversary).
    penalised: bool,
}

/// A streamed run's rows per shuffle window: `shuffle_rows` rounded up to a multiple of the
/// batch size, so that only an epoch's last window has a short batch.
pub fn window_rows(shuffle_rows: usize, batch_size: usize) -> usize {
    let bs = batch_size.max(1);
    shuffle_rows.max(1).div_ceil(bs) * bs
}

/// The batches of a streamed epoch of `rows` training rows in windows of `size` rows (a
/// multiple of `batch_size`): a window's last batch of a single row is left out, as the
/// in-memory epoch leaves out its last one.
pub fn streamed_batches(rows: usize, size: usize, batch_size: usize) -> usize {
    let bs = batch_size.max(1);
    let (full, rest) = (rows / size.max(1), rows % size.max(1));
    full * (size / bs) + rest / bs + usize::from(rest % bs >= 2)
}

/// What changes from step to step of a training run.
pub struct Trainer<'a> {
    config: &'a Config,
    data: &'a Prepared,
    /// The plain device (validation runs without autodiff).
    device: &'a Device,
    /// The training device (autodiff).
    train_device: Device,
    model: FairModel,
    optim: ModuleOptimizer,
    penalty: Penalty,
    batcher: FairBatcher,
    /// Which source heads are regression heads (squared error instead of cross-entropy).
    regression: Vec<bool>,
    /// The conditioning task (equal opportunity / equalized odds), by index.
    condition_task: Option<usize>,
    rng: ChaCha8Rng,
    step: usize,
    total_steps: usize,
    learning_rate: f64,
    /// Early stopping: the best validation objective and the validations since.
    best: Option<f64>,
    since_best: usize,
    /// Whether the last epoch was validated (`training.validate_every`).
    validated: bool,
    /// Epochs completed.
    epochs_run: usize,
    /// The constant predictor's mean task loss on the training split (at least ln 2).
    trivial_loss: f64,
    /// Resumed from a checkpoint within an epoch: how far that epoch went.
    resumed_in_epoch: Option<EpochProgress>,
    /// When the last checkpoint was written (or training started).
    last_checkpoint: Instant,
    /// The last checkpoint written or resumed from: (epoch, step within an epoch).
    last_written: Option<(usize, Option<usize>)>,
}

impl<'a> Trainer<'a> {
    /// A fresh model, optimiser and penalty for `config` on `data`.
    pub fn new(
        config: &'a Config,
        data: &'a Prepared,
        device: &'a Device,
    ) -> Result<Self, TrainError> {
        let source = data.task_indices(Role::Source);
        config
            .model
            .check_parameters(Some(data.features.len()))
            .map_err(|message| fairrep_config::ConfigError::Invalid {
                path: "the config".into(),
                key: "model.hidden".into(),
                message,
            })?;
        let (encoder_cfg, heads_cfg) = model_configs(
            config,
            data.features.len(),
            data.task_indices(Role::Source).len(),
        );
        let train_device = device.clone().autodiff();
        let model = FairModel::init(&encoder_cfg, &heads_cfg, config.seed, &train_device);
        let t = &config.training;
        let mut adam = AdamConfig::new();
        if let Some(c) = t.grad_clip_norm {
            adam = adam.with_grad_clipping(Some(GradientClippingConfig::Norm(c as f32)));
        }
        if t.weight_decay > 0.0 {
            adam = adam.with_weight_decay(Some(WeightDecayConfig::new(t.weight_decay as f32)));
        }
        let groups = data.groups.len();
        let penalty = match group_penalty(config, groups)? {
            Some(p) => Penalty::Divergence(p),
            None => {
                let settings = config
                    .penalty
                    .adversary()
                    .map_err(|(k, m)| TrainError::Internal(format!("{k} {m}")))?
                    .ok_or_else(|| {
                        TrainError::Internal("a penalty is a divergence or an adversary".into())
                    })?;
                Penalty::Adversary(Box::new(Adversary::init(
                    &settings,
                    config.model.representation,
                    groups,
                    config.penalty.condition,
                    config.seed,
                    &train_device,
                )))
            }
        };
        let condition_task = match &config.penalty.condition_task {
            Some(name) => Some(
                data.tasks
                    .iter()
                    .position(|t| &t.name == name)
                    .ok_or_else(|| TrainError::Internal(format!("no task `{name}`")))?,
            ),
            None => None,
        };
        let regression = source
            .iter()
            .map(|&t| data.tasks[t].kind == TaskKind::Regression)
            .collect();
        let trivial_loss = constant_predictor_loss(data, &source).max(std::f64::consts::LN_2);
        let bs = t.batch_size;
        // Batches of at least two rows per epoch, for the learning-rate schedule.
        let per_epoch = match &data.streamed {
            None => data.train.n / bs + usize::from(data.train.n % bs >= 2),
            Some(s) => streamed_batches(s.rows(), window_rows(s.shuffle_rows(), bs), bs),
        };
        Ok(Self {
            config,
            data,
            device,
            batcher: FairBatcher::new(Arc::clone(&data.train), source),
            train_device,
            model,
            optim: adam.init(),
            penalty,
            regression,
            condition_task,
            rng: ChaCha8Rng::seed_from_u64(derive_seed(config.seed, Stream::BatchOrder)),
            step: 0,
            total_steps: per_epoch * t.epochs,
            learning_rate: t.learning_rate,
            best: None,
            since_best: 0,
            validated: false,
            epochs_run: 0,
            trivial_loss,
            resumed_in_epoch: None,
            last_checkpoint: Instant::now(),
            last_written: None,
        })
    }

    /// The error for training that diverged at `epoch` (the step is the current one); `fit`
    /// fills in where the last checkpoint is.
    fn diverged(&self, epoch: usize, what: String) -> TrainError {
        TrainError::Diverged {
            epoch,
            step: self.step,
            what,
            resume: String::new(),
            learning_rate: self.config.training.learning_rate,
            lambda: self.config.penalty.lambda,
        }
    }

    /// Continues from a checkpoint: its model, optimiser(s), batch-order position, step and
    /// early-stopping state.
    pub fn resume(&mut self, ck: &Checkpoint) -> Result<(), TrainError> {
        let bad = |e: &dyn std::fmt::Display| TrainError::Checkpoint {
            path: ck.dir.clone(),
            message: format!("cannot load: {e}"),
        };
        self.model = self
            .model
            .clone()
            .try_load_file(ck.model())
            .map_err(|e| bad(&e))?;
        let optim = std::mem::replace(&mut self.optim, AdamConfig::new().init());
        self.optim = optim.load(ck.optim()).map_err(|e| bad(&e))?;
        if let Penalty::Adversary(adv) = &mut self.penalty {
            adv.load(ck).map_err(|e| bad(&e))?;
        }
        let s = &ck.state;
        // Within an epoch, the position before its shuffle: the epoch shuffles again.
        self.rng.set_word_pos(s.rng_word_pos);
        (self.step, self.epochs_run) = (s.step, s.epoch);
        (self.best, self.since_best) = (s.best_objective, s.since_best);
        self.resumed_in_epoch = s.in_epoch.clone();
        self.last_written = Some((s.epoch, s.in_epoch.as_ref().map(|_| s.step)));
        tracing::info!(epoch = s.epoch, step = s.step, dir = %ck.dir.display(), "resumed");
        Ok(())
    }

    /// One pass over the training split in a seeded order: the whole split shuffled, or, for a
    /// streamed run (`[data.stream]`), each window of rows shuffled as the shards give it (read
    /// by a second thread while the steps run).
    ///
    /// With `checkpoints` and `training.checkpoint_every_steps` or `_seconds`, a checkpoint is
    /// also written within the epoch when one is due; after [`Trainer::resume`] from such a
    /// checkpoint, the epoch shuffles again (a streamed one reads its shards again from the
    /// checkpoint's window), skips the batches done and goes on from their sums.
    fn train_epoch(
        &mut self,
        epoch: usize,
        observer: &mut dyn Observer,
        checkpoints: Option<&Checkpoints>,
    ) -> Result<EpochProgress, TrainError> {
        let (config, data) = (self.config, self.data);
        let bs = config.training.batch_size;
        let rng_before_shuffle = self.rng.get_word_pos();
        // At λ = 0 a divergence cannot change a weight: it is not computed, which leaves the
        // model bit-identical and the step a third cheaper. An adversary still trains (its
        // advantage on the validation split is the run's `valid_penalty`).
        let penalised =
            config.penalty.lambda != 0.0 || matches!(self.penalty, Penalty::Adversary(_));
        let mut sums = self.resumed_in_epoch.take().unwrap_or(EpochProgress {
            penalty: penalised.then_some(0.0),
            ..EpochProgress::default()
        });
        let done = sums.batches;
        // Seconds of the steps before a resume count too.
        let started = Instant::now() - std::time::Duration::from_secs_f64(sums.seconds);
        let at = Position {
            epoch,
            started,
            rng_before_shuffle,
            penalised,
        };
        match data.streamed.clone() {
            None => {
                let mut order: Vec<usize> = (0..data.train.n).collect();
                order.shuffle(&mut self.rng);
                let batches: Vec<&[usize]> = order.chunks(bs).filter(|c| c.len() >= 2).collect();
                let total = batches.len();
                observer.epoch_start(epoch, config.training.epochs, total);
                let batcher = self.batcher.clone();
                for (k, rows) in batches.into_iter().enumerate().skip(done) {
                    self.step_on(&batcher, rows, &at, &mut sums, observer)?;
                    self.checkpoint_within(checkpoints, k + 1 < total, &at, &mut sums)?;
                }
            }
            Some(stream) => {
                let size = window_rows(stream.shuffle_rows(), bs);
                let total = streamed_batches(stream.rows(), size, bs);
                observer.epoch_start(epoch, config.training.epochs, total);
                let (per_window, from) = (size / bs, sums.window);
                let source = data.task_indices(Role::Source);
                std::thread::scope(|scope| -> Result<(), TrainError> {
                    // A rendezvous: the reader fills the next window while the trainer works
                    // on this one, and hands it over when the trainer asks (two windows held).
                    let (tx, rx) = std::sync::mpsc::sync_channel(0);
                    // Windows trained on go back to the reader, to be filled again.
                    let (done_tx, done_rx) = std::sync::mpsc::channel::<fairrep_data::Split>();
                    let reader = Arc::clone(&stream);
                    scope.spawn(move || {
                        let spare = &mut || done_rx.try_recv().ok();
                        let give = &mut |w| tx.send(Ok(w)).is_ok();
                        let sent = reader.windows(epoch, size, from, spare, give);
                        if let Err(e) = sent {
                            let _ = tx.send(Err(e));
                        }
                    });
                    for window in rx {
                        let window: Window = window?;
                        let first = window.start.window * per_window;
                        let mut order: Vec<usize> = (0..window.split.n).collect();
                        let seed =
                            derive_seed(config.seed, Stream::Window(epoch, window.start.window));
                        order.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
                        let batcher = FairBatcher::new(Arc::new(window.split), source.clone());
                        let batches = order.chunks(bs).filter(|c| c.len() >= 2);
                        for (k, rows) in batches.enumerate().map(|(j, r)| (first + j, r)) {
                            if k < done {
                                continue;
                            }
                            sums.window = Some(window.start);
                            self.step_on(&batcher, rows, &at, &mut sums, observer)?;
                            self.checkpoint_within(checkpoints, k + 1 < total, &at, &mut sums)?;
                        }
                        if let Ok(split) = Arc::try_unwrap(batcher.into_split()) {
                            let _ = done_tx.send(split);
                        }
                    }
                    Ok(())
                })?;
            }
        }
        sums.seconds = started.elapsed().as_secs_f64();
        if sums.without_pairs > 0 {
            tracing::warn!(
                epoch,
                batches = sums.without_pairs,
                "batches with fewer than two groups (penalty 0)"
            );
        }
        Ok(sums)
    }

    /// One optimiser step on `rows` of the batcher's split; adds its losses to `sums`.
    fn step_on(
        &mut self,
        batcher: &FairBatcher,
        rows: &[usize],
        at: &Position,
        sums: &mut EpochProgress,
        observer: &mut dyn Observer,
    ) -> Result<(), TrainError> {
        let (config, epoch) = (self.config, at.epoch);
        self.step += 1;
        // Dropout masks: seeded per step, so a run resumed at any step draws the same ones.
        self.train_device
            .seed(derive_seed(config.seed, Stream::Dropout(self.step)));
        let batch = batcher.batch(rows.to_vec(), &self.train_device);
        let z = self.model.encoder.forward(batch.x); // [b, r]
        let outputs = self.model.heads.forward(z.clone()); // [b, t]
        let task_loss = multitask_loss(outputs, batch.y, &self.regression); // [1]
        let condition_labels = self.condition_task.map(|t| &batcher.split().labels[t]);
        let y_cond: Option<Vec<bool>> =
            condition_labels.map(|l| batch.rows.iter().map(|&r| l[r]).collect());
        let pen = at.penalised.then(|| match &mut self.penalty {
            Penalty::Divergence(p) => p.forward(z, &batch.s, y_cond.as_deref()),
            Penalty::Adversary(adv) => adv.step_and_penalty(z, &batch.s, y_cond.as_deref()),
        });
        let tl = task_loss.clone().into_scalar::<f64>();
        let pv = pen.as_ref().map(|p| p.value.clone().into_scalar::<f64>());
        for (term, v) in [("task loss", Some(tl)), ("penalty", pv)] {
            match v {
                Some(v) if !v.is_finite() => {
                    return Err(self.diverged(epoch, format!("the {term} is {v}")));
                }
                _ => {}
            }
        }
        if tl > DIVERGED_FACTOR * self.trivial_loss {
            return Err(self.diverged(
                epoch,
                format!(
                    "the batch's mean task loss is {tl:.4e}, more than {DIVERGED_FACTOR} × \
                     the constant predictor's ({:.4})",
                    self.trivial_loss
                ),
            ));
        }
        sums.task += tl;
        sums.batches += 1;
        let loss = match (pen, pv) {
            (Some(pen), Some(pv)) => {
                sums.without_pairs += usize::from(pen.pairs == 0);
                sums.penalty = sums.penalty.map(|s| s + pv);
                task_loss + pen.value.mul_scalar(config.penalty.lambda)
            }
            _ => task_loss,
        };
        let grads = GradientsParams::from_grads(loss.backward(), &self.model);
        self.learning_rate = config
            .training
            .learning_rate_at(self.step, self.total_steps);
        self.model = self
            .optim
            .step(self.learning_rate, self.model.clone(), grads);
        observer.step(tl, pv);
        if observer.interrupted() {
            return Err(TrainError::Interrupted {
                resume: String::new(),
            });
        }
        Ok(())
    }

    /// Writes a checkpoint within the epoch when one is due and `more` batches follow (the
    /// epoch's last step is followed by the epoch's checkpoint).
    fn checkpoint_within(
        &mut self,
        checkpoints: Option<&Checkpoints>,
        more: bool,
        at: &Position,
        sums: &mut EpochProgress,
    ) -> Result<(), TrainError> {
        if let Some(ck) = checkpoints
            && more
            && self.checkpoint_due()
        {
            sums.seconds = at.started.elapsed().as_secs_f64();
            let state = self.state(at.rng_before_shuffle, Some(sums.clone()));
            ck.write(&state, |dir| self.save_to(dir))?;
            self.last_checkpoint = Instant::now();
            self.last_written = Some((self.epochs_run, Some(self.step)));
        }
        Ok(())
    }

    /// The run's own penalty between the groups of the validation representation `z` (on
    /// `training.validation_rows` rows): the configured divergence, or the current adversary's
    /// advantage.
    fn valid_penalty(&self, z: &[f32]) -> f64 {
        let (data, r) = (self.data, self.config.model.representation);
        let rows = sample_rows(
            data.valid.n,
            self.config.training.validation_rows,
            self.config.seed,
        );
        let (zt, s) = rows_of(z, r, &data.valid, &rows, self.device); // [k, r]
        let y: Option<Vec<bool>> = self
            .condition_task
            .map(|t| rows.iter().map(|&i| data.valid.labels[t][i]).collect());
        let value: PenaltyValue = match &self.penalty {
            Penalty::Divergence(p) => p.forward(zt, &s, y.as_deref()),
            Penalty::Adversary(adv) => adv.advantage(zt, &s, y.as_deref()),
        };
        value.value.into_scalar::<f64>()
    }

    /// The epoch's record without validation (`training.validate_every`): its training sums,
    /// the validation fields NaN (`null` in `metrics.jsonl`). The early-stopping state is
    /// unchanged.
    fn skip_validation(
        &mut self,
        epoch: usize,
        sums: &EpochProgress,
        started: Instant,
    ) -> EpochRecord {
        self.epochs_run = epoch;
        self.validated = false;
        self.record(epoch, sums, started, [f64::NAN; 3], Vec::new(), 0.0)
    }

    /// An epoch's record from its training sums and its validation (`[penalty, MMD²,
    /// objective]`, task metrics, seconds).
    fn record(
        &self,
        epoch: usize,
        sums: &EpochProgress,
        started: Instant,
        [valid_penalty, valid_mmd2, valid_objective]: [f64; 3],
        valid: Vec<TaskMetrics>,
        valid_s: f64,
    ) -> EpochRecord {
        let lambda = self.config.penalty.lambda;
        let nb = sums.batches.max(1) as f64;
        EpochRecord {
            epoch,
            step: self.step,
            task_loss: sums.task / nb,
            penalty: sums.penalty.map_or(f64::NAN, |p| p / nb),
            objective: (sums.task + sums.penalty.map_or(0.0, |p| lambda * p)) / nb,
            batches_without_pairs: sums.without_pairs,
            valid_penalty,
            valid_mmd2,
            valid_objective,
            learning_rate: self.learning_rate,
            valid,
            elapsed_s: started.elapsed().as_secs_f64(),
            train_s: sums.seconds,
            valid_s,
        }
    }

    /// The epoch's record: its training sums, and the validation metrics, losses and penalties
    /// of the model as it is now. Updates the early-stopping state.
    fn validate(&mut self, epoch: usize, sums: &EpochProgress, started: Instant) -> EpochRecord {
        let (config, data, device) = (self.config, self.data, self.device);
        let validation_started = Instant::now();
        self.validated = true;
        let source = data.task_indices(Role::Source);
        let lambda = config.penalty.lambda;
        // Validation on the plain (non-autodiff) model.
        let eval = self.model.valid();
        let probs = source_predictions(&eval, data, &data.valid, device);
        let valid: Vec<TaskMetrics> = source
            .iter()
            .zip(&probs)
            .map(|(&t, p)| task_metrics(data, &data.valid, t, p, config.transfer.threshold, None))
            .collect();
        let valid_loss = source
            .iter()
            .zip(&probs)
            .map(|(&t, p)| task_loss(data, &data.valid, t, p))
            .sum::<f64>()
            / source.len().max(1) as f64;
        let (valid_penalty, valid_mmd2) = if data.valid.n >= 2 {
            let z = eval.encode_split(&data.valid, device);
            let r = config.model.representation;
            let groups = data.groups.len();
            let own = self.valid_penalty(&z);
            // The default penalty is the yardstick itself: measured once.
            let yardstick = match &self.penalty {
                Penalty::Divergence(p) if *p == GroupPenalty::yardstick(groups) => own,
                _ => {
                    let rows = (config.training.validation_rows, config.seed);
                    split_mmd2(&z, r, &data.valid, groups, rows, device).0
                }
            };
            (own, yardstick)
        } else {
            (f64::NAN, f64::NAN)
        };
        let valid_objective = valid_loss + lambda * valid_penalty;
        if self.best.is_none_or(|b| valid_objective < b) {
            (self.best, self.since_best) = (Some(valid_objective), 0);
        } else {
            self.since_best += 1;
        }
        self.epochs_run = epoch;
        let validation = [valid_penalty, valid_mmd2, valid_objective];
        let seconds = validation_started.elapsed().as_secs_f64();
        self.record(epoch, sums, started, validation, valid, seconds)
    }

    /// Writes the checkpoint of the epoch just validated, and `checkpoints/best` when its
    /// validation objective is the best so far.
    fn checkpoint(&mut self, ck: &Checkpoints) -> Result<(), TrainError> {
        let state = self.state(self.rng.get_word_pos(), None);
        ck.write(&state, |dir| self.save_to(dir))?;
        if self.validated && self.since_best == 0 {
            ck.write_best(&state, |dir| self.save_to(dir))?;
        }
        self.last_checkpoint = Instant::now();
        self.last_written = Some((self.epochs_run, None));
        Ok(())
    }

    /// The checkpoint state now: at an epoch's end (`in_epoch` `None`, the generator's position
    /// after it) or within an epoch (its progress, the position before its shuffle).
    fn state(&self, rng_word_pos: u128, in_epoch: Option<EpochProgress>) -> CheckpointState {
        CheckpointState {
            epoch: self.epochs_run,
            step: self.step,
            rng_word_pos,
            best_objective: self.best.filter(|b| b.is_finite()),
            since_best: self.since_best,
            in_epoch,
        }
    }

    /// Saves the model, Adam's state and an adversary's into the checkpoint directory `dir`.
    fn save_to(&self, dir: &std::path::Path) -> Result<(), String> {
        self.model
            .clone()
            .save_file(dir.join("model.bpk"))
            .map_err(|e| e.to_string())?;
        self.optim
            .save(dir.join("optim.bpk"))
            .map_err(|e| e.to_string())?;
        match &self.penalty {
            Penalty::Adversary(adv) => adv.save(dir),
            Penalty::Divergence(_) => Ok(()),
        }
    }

    /// Whether `training.checkpoint_every_steps` or `_seconds` asks for a checkpoint now.
    fn checkpoint_due(&self) -> bool {
        let t = &self.config.training;
        t.checkpoint_every_steps
            .is_some_and(|k| self.step.is_multiple_of(k))
            || t.checkpoint_every_seconds
                .is_some_and(|s| self.last_checkpoint.elapsed().as_secs_f64() >= s)
    }

    /// Whether early stopping ends the run now.
    fn should_stop(&self) -> bool {
        self.config
            .training
            .early_stopping_patience
            .is_some_and(|p| self.validated && self.since_best >= p)
    }
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
    let mut trainer = Trainer::new(config, data, device)?;
    if let Some(ck) = resume {
        trainer.resume(ck)?;
    }
    let started = Instant::now();
    for epoch in trainer.epochs_run + 1..=config.training.epochs {
        let sums = match trainer.train_epoch(epoch, observer, checkpoints) {
            Ok(sums) => sums,
            Err(mut e) => {
                // Where the last good state is: the last checkpoint written.
                if let TrainError::Diverged { resume, .. } | TrainError::Interrupted { resume } =
                    &mut e
                {
                    *resume = match (checkpoints, trainer.last_written) {
                        (Some(ck), Some((done, within))) => format!(
                            "The checkpoint of {} in {} is intact: --resume continues from it.",
                            match within {
                                Some(step) => format!("step {step} (within epoch {})", done + 1),
                                None => format!("epoch {done}"),
                            },
                            ck.root.display()
                        ),
                        _ => "No checkpoint had been written yet: there is no checkpoint to resume from."
                            .into(),
                    };
                }
                return Err(e);
            }
        };
        let k = config.training.validate_every;
        let record = if epoch.is_multiple_of(k) || epoch == config.training.epochs {
            trainer.validate(epoch, &sums, started)
        } else {
            trainer.skip_validation(epoch, &sums, started)
        };
        // Four significant digits (the full values are in metrics.jsonl); NaN stands for a
        // penalty that is not computed (a divergence at λ = 0): say so.
        let short = |v: f64| match v.is_nan() {
            true => "not computed".to_string(),
            false => format!("{v:.4e}"),
        };
        tracing::info!(
            epoch,
            task_loss = %format!("{:.4}", record.task_loss),
            penalty = %short(record.penalty),
            valid_penalty = %short(record.valid_penalty),
            seconds = %format!("{:.2}", record.train_s + record.valid_s),
            "epoch done"
        );
        on_epoch(&record)?;
        if let Some(ck) = checkpoints {
            trainer.checkpoint(ck)?;
        }
        observer.epoch_end(&record);
        if trainer.should_stop() {
            tracing::info!(
                epoch,
                since_best = trainer.since_best,
                "early stopping: no better validation objective"
            );
            break;
        }
    }
    Ok(Fitted {
        model: trainer.model.valid(),
        epochs: trainer.epochs_run,
    })
}

/// The mean over the source tasks `source` of the constant predictor's loss on the training
/// split: the entropy of a binary task's base rate, the mean square of a regression task's
/// (standardised) target.
fn constant_predictor_loss(data: &Prepared, source: &[usize]) -> f64 {
    let losses: Vec<f64> = source
        .iter()
        .map(|&t| {
            let y = &data.train.targets[t];
            let n = y.len().max(1) as f64;
            match data.tasks[t].kind {
                TaskKind::Binary => {
                    let p = y.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
                    let h = |q: f64| if q > 0.0 { -q * q.ln() } else { 0.0 };
                    h(p) + h(1.0 - p)
                }
                TaskKind::Regression => y.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / n,
            }
        })
        .collect();
    losses.iter().sum::<f64>() / losses.len().max(1) as f64
}
