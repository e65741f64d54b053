//! What reading and encoding the data gives a run: the encoded splits ([`Split`]), the fitted
//! encoding ([`Prepared`]), and, for a streamed run, the source of its training rows
//! ([`TrainStream`], read a [`Window`] at a time).

use crate::error::DataError;
use crate::fitted::{ColumnEncoder, Preprocessing, TaskInfo};
use crate::spec::Role;

/// One encoded split: features, labels of every task, group ids.
#[derive(Debug, Clone)]
pub struct Split {
    /// Number of rows.
    pub n: usize,
    /// Number of encoded features.
    pub p: usize,
    /// Features, row-major `[n, p]`.
    pub x: Vec<f32>,
    /// Labels, `labels[task][row]`, in the order of [`Prepared::tasks`] (binary tasks; all
    /// `false` for a regression task).
    pub labels: Vec<Vec<bool>>,
    /// Training targets, `targets[task][row]`: 0/1 for binary tasks, the standardised value
    /// (training mean and standard deviation, [`TaskInfo::scale`]) for regression tasks.
    pub targets: Vec<Vec<f32>>,
    /// Sensitive group id of each row (`< Prepared::groups.len()`).
    pub s: Vec<usize>,
}

impl Split {
    /// Row `i` of the features.
    pub fn row(&self, i: usize) -> &[f32] {
        &self.x[i * self.p..(i + 1) * self.p]
    }

    /// Number of rows in each group.
    pub fn group_counts(&self, groups: usize) -> Vec<usize> {
        let mut c = vec![0; groups];
        for &g in &self.s {
            c[g] += 1;
        }
        c
    }
}

/// Rows removed because of missing values, per file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dropped {
    /// Rows dropped from the training file.
    pub train: usize,
    /// Rows dropped from the test file.
    pub test: usize,
}

/// A dataset ready for training: the three splits and the fitted encoding.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// Names of the encoded features (`column=category` for one-hot outputs).
    pub features: Vec<String>,
    /// The fitted encoders, in feature order.
    pub encoders: Vec<ColumnEncoder>,
    /// Sensitive group names (group id = position).
    pub groups: Vec<String>,
    /// The tasks, in config order.
    pub tasks: Vec<TaskInfo>,
    /// Training split (the training file minus the validation rows); shared, so that the
    /// trainer's batcher holds it without a copy.
    pub train: std::sync::Arc<Split>,
    /// Validation split (a seeded random part of the training file).
    pub valid: Split,
    /// Test split (the test file).
    pub test: Split,
    /// Rows dropped for missing values.
    pub dropped: Dropped,
    /// Whether the sensitive attribute is a feature (one-hot, the last `groups.len()` columns).
    pub sensitive_is_feature: bool,
    /// The fitted preprocessing, as written to `preprocessing.json`.
    pub preprocessing: Preprocessing,
    /// `[data.stream]` when the run streams its training rows: `train` is then the seeded
    /// sample the preprocessing was fitted on (what the evaluation uses), and the trainer reads
    /// every training row from here, a window at a time.
    pub streamed: Option<std::sync::Arc<dyn TrainStream>>,
}

/// Where a window of streamed training rows starts: its index in the epoch, the position of
/// its shard in the epoch's shard order, and the row of its first row in that shard (counting
/// every data row of the file from 0). A checkpoint within an epoch stores the window of its
/// last batch; a resume reads the shards again from there.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WindowStart {
    /// The window's index in its epoch (0-based).
    pub window: usize,
    /// The position of its first row's shard in the epoch's shard order.
    pub shard: usize,
    /// Its first row's row in that shard.
    pub row: u64,
}

/// One window of streamed training rows, encoded, in the order the shards give them.
#[derive(Debug)]
pub struct Window {
    /// Where it starts.
    pub start: WindowStart,
    /// Its rows.
    pub split: Split,
}

/// The training rows of a streamed run: read from the shards a window at a time.
pub trait TrainStream: std::fmt::Debug + Send + Sync {
    /// Training rows per epoch.
    fn rows(&self) -> usize;
    /// Rows per shuffle window, as configured (the trainer rounds it up to a multiple of the
    /// batch size).
    fn shuffle_rows(&self) -> usize;
    /// How the stream is set up, for the report.
    fn summary(&self) -> StreamSummary;
    /// The windows of `size` rows (the last may be shorter) of epoch `epoch` (1-based) in
    /// order, from `from` (a checkpoint's window) or the epoch's start, given to `each` until it
    /// returns `false`. The shard order of an epoch is a seeded shuffle (the run's seed and the
    /// epoch). `spare` may give back a split `each` is done with, to be filled again (its
    /// contents are cleared).
    fn windows(
        &self,
        epoch: usize,
        size: usize,
        from: Option<WindowStart>,
        spare: &mut dyn FnMut() -> Option<Split>,
        each: &mut dyn FnMut(Window) -> bool,
    ) -> Result<(), DataError>;
}

/// How a streamed run read its training rows (report.json's `splits.streamed`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StreamSummary {
    /// Training rows streamed each epoch.
    pub train_rows: usize,
    /// The shards.
    pub shards: usize,
    /// Rows per shuffle window, as configured.
    pub shuffle_rows: usize,
    /// Training rows the preprocessing was fitted on (the evaluation's training split).
    pub fit_rows: usize,
    /// Whether the vector columns are standardised straight from the Parquet values (every
    /// shard Parquet) rather than read as cells.
    #[serde(default)]
    pub vectors_direct: bool,
}

impl Prepared {
    /// Indices of the tasks with the given role.
    pub fn task_indices(&self, role: Role) -> Vec<usize> {
        (0..self.tasks.len())
            .filter(|&t| self.tasks[t].role == role)
            .collect()
    }
}
