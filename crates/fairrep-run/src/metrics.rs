//! The measurements every phase of a run shares: a task's metrics from its predictions, the
//! source heads' predictions, the validation loss, and the penalty between the groups of a
//! whole split.

use crate::model::FairModel;
use crate::seeds::{Stream, derive_seed};
use burn::tensor::Device;
use fairrep_data::{Prepared, Role, Split, TaskKind};
use fairrep_losses::{Bandwidth, DemographicParity};
use fairrep_report::TaskMetrics;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

/// Largest number of rows on which a whole-split penalty is measured (a seeded subsample
/// beyond it; the kernel matrix is `rows²`).
pub const PENALTY_EVAL_ROWS: usize = 4096;

/// Resamples of the bootstrap intervals in reports.
pub const BOOTSTRAP_RESAMPLES: usize = 200;

/// Rows of a split to measure a penalty on: all of them, or a seeded subsample.
pub fn eval_rows(n: usize, seed: u64) -> Vec<usize> {
    sample_rows(n, PENALTY_EVAL_ROWS, seed)
}

/// Rows of a split to measure a penalty on: all of them up to `cap` (0: no cap), else a seeded
/// subsample of `cap` rows (sorted; the same for the same `n`, `cap` and seed).
pub fn sample_rows(n: usize, cap: usize, seed: u64) -> Vec<usize> {
    let mut rows: Vec<usize> = (0..n).collect();
    if cap > 0 && n > cap {
        rows.shuffle(&mut ChaCha8Rng::seed_from_u64(derive_seed(
            seed,
            Stream::EvalRows,
        )));
        rows.truncate(cap);
        rows.sort_unstable();
    }
    rows
}

/// The rows `rows` of a split's representation `z` (row-major `[n, r]`) as a tensor `[k, r]`
/// on `device`, with their groups.
pub fn rows_of(
    z: &[f32],
    r: usize,
    split: &Split,
    rows: &[usize],
    device: &Device,
) -> (burn::Tensor<2>, Vec<usize>) {
    let mut sub = Vec::with_capacity(rows.len() * r);
    for &i in rows {
        sub.extend_from_slice(&z[i * r..(i + 1) * r]);
    }
    let s: Vec<usize> = rows.iter().map(|&i| split.s[i]).collect();
    let t =
        burn::Tensor::<2>::from_data(burn::tensor::TensorData::new(sub, [rows.len(), r]), device); // [k, r]
    (t, s)
}

/// The Gaussian MMD² (median bandwidth, mean over pairs of groups) between the groups of a
/// split's representation `z` (row-major `[n, r]`), measured on at most `cap` rows (0: all;
/// a seeded subsample, [`sample_rows`]): one yardstick for every penalty kind. Returns (value,
/// σ, rows).
pub fn split_mmd2(
    z: &[f32],
    r: usize,
    split: &Split,
    groups: usize,
    (cap, seed): (usize, u64),
    device: &Device,
) -> (f64, f64, usize) {
    let rows = sample_rows(split.n, cap, seed);
    let (zt, s) = rows_of(z, r, split, &rows, device);
    let out = DemographicParity {
        groups,
        bandwidth: Bandwidth::Median,
    }
    .forward(zt, &s);
    (
        out.value.into_scalar::<f64>(),
        out.sigmas.first().copied().unwrap_or(f64::NAN),
        rows.len(),
    )
}

/// The spread of representations `z` (row-major `[n, r]`): the root mean squared distance of
/// the rows to their mean; NaN without rows.
pub fn spread(z: &[f32], r: usize) -> f64 {
    let n = z.len() / r.max(1);
    if n == 0 {
        return f64::NAN;
    }
    let mut mean = vec![0.0f64; r];
    for row in z.chunks_exact(r) {
        for (m, &v) in mean.iter_mut().zip(row) {
            *m += f64::from(v) / n as f64;
        }
    }
    let squares: f64 = z
        .chunks_exact(r)
        .map(|row| {
            row.iter()
                .zip(&mean)
                .map(|(&v, m)| (f64::from(v) - m).powi(2))
                .sum::<f64>()
        })
        .sum();
    (squares / n as f64).sqrt()
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
        TaskKind::Binary => log_loss(&split.labels[t], pred),
        TaskKind::Regression => {
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

/// Metrics of task `t` on a split, from predicted probabilities (values for a regression task);
/// with `bootstrap = Some(seed)`, also their 95% bootstrap intervals ([`BOOTSTRAP_RESAMPLES`]
/// resamples of the split's rows).
pub fn task_metrics(
    data: &Prepared,
    split: &Split,
    t: usize,
    probs: &[f64],
    threshold: f64,
    bootstrap: Option<u64>,
) -> TaskMetrics {
    let task = &data.tasks[t];
    let resampling = bootstrap.map(|seed| derive_seed(seed, Stream::Task(t)));
    if task.kind == TaskKind::Regression {
        let y: Vec<f64> = split.targets[t]
            .iter()
            .map(|&v| task.unscale(f64::from(v)))
            .collect();
        let summary = fairrep_metrics::regression::summarize_regression(
            &y,
            probs,
            &split.s,
            &data.groups,
            resampling.map(|seed| (BOOTSTRAP_RESAMPLES, seed)),
        );
        let mean = y.iter().sum::<f64>() / y.len().max(1) as f64;
        return TaskMetrics::regression(&task.name, task.role, mean, summary);
    }
    let y = &split.labels[t];
    let base_rate = y.iter().filter(|&&v| v).count() as f64 / y.len().max(1) as f64;
    let summary = fairrep_metrics::summarize_binary(y, probs, threshold, &split.s, &data.groups)
        .expect("labels, predictions and groups are aligned by construction");
    let mut m = TaskMetrics::binary(&task.name, task.role, base_rate, summary);
    if let (Some(seed), fairrep_report::TaskOutcome::Binary(b)) = (resampling, &mut m.outcome) {
        b.ci95 = Some(
            fairrep_metrics::bootstrap_intervals(
                y,
                probs,
                threshold,
                &split.s,
                &data.groups,
                BOOTSTRAP_RESAMPLES,
                seed,
            )
            .expect("labels, predictions and groups are aligned by construction"),
        );
    }
    m
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
