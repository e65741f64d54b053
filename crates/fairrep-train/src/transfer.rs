//! Transfer evaluation: for each held-out task, a fresh logistic head fitted on the frozen
//! representation of the training split, evaluated on the test split.

use crate::config::TransferSection;
use crate::error::TrainError;
use crate::report::TaskMetrics;
use crate::train::task_metrics;
use fairrep_data::Prepared;
use fairrep_heads::LogisticRegression;
use serde::Serialize;

/// A fitted transfer head, as saved in `transfer_heads.json`.
#[derive(Debug, Clone, Serialize)]
pub struct TransferHead {
    /// Task name.
    pub task: String,
    /// The logistic model on `z`.
    pub model: LogisticRegression,
}

/// Fits and evaluates a head for each of `tasks` (indices into `data.tasks`) on the
/// representations `(z_train, z_test)`, row-major with `r` columns.
pub fn evaluate(
    data: &Prepared,
    tasks: &[usize],
    (z_train, z_test): (&[f32], &[f32]),
    r: usize,
    settings: &TransferSection,
    seed: u64,
) -> Result<(Vec<TaskMetrics>, Vec<TransferHead>), TrainError> {
    let mut metrics = Vec::new();
    let mut heads = Vec::new();
    for &t in tasks {
        let name = &data.tasks[t].name;
        let model = LogisticRegression::fit(z_train, r, &data.train.labels[t], settings.l2)
            .map_err(|source| TrainError::Transfer {
                task: name.clone(),
                source,
            })?;
        let probs = model.predict_proba(z_test);
        metrics.push(task_metrics(
            data,
            &data.test,
            t,
            &probs,
            settings.threshold,
            Some(seed),
        ));
        heads.push(TransferHead {
            task: name.clone(),
            model,
        });
    }
    Ok((metrics, heads))
}
