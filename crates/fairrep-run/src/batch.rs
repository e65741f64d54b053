//! Batching rows of a [`Split`] into tensors: burn's [`Batcher`] over row indices.

use burn::Tensor;
use burn::data::dataloader::batcher::Batcher;
use burn::tensor::{Device, TensorData};
use fairrep_data::Split;
use std::sync::Arc;

/// One training batch.
///
/// # Shapes
/// - `x`: `[b, p]` features
/// - `y`: `[b, t]` targets of the batcher's tasks, in its order (0/1 for binary tasks,
///   standardised values for regression tasks)
/// - `s`: `b` group ids, on the host (penalties need them to index the groups)
/// - `rows`: `b` row indices into the split
#[derive(Debug, Clone)]
pub struct FairBatch {
    /// Features `[b, p]`.
    pub x: Tensor<2>,
    /// Labels `[b, t]` as 0/1 floats.
    pub y: Tensor<2>,
    /// Group id of each row.
    pub s: Vec<usize>,
    /// The split's row index of each batch row (to look up anything else on the host).
    pub rows: Vec<usize>,
}

/// Turns row indices of a split into a [`FairBatch`] holding the labels of chosen tasks.
#[derive(Debug, Clone)]
pub struct FairBatcher {
    split: Arc<Split>,
    tasks: Vec<usize>,
}

impl FairBatcher {
    /// A batcher over `split` whose `y` holds the labels of `tasks` (indices into the split's
    /// task list), in that order.
    pub fn new(split: Arc<Split>, tasks: Vec<usize>) -> Self {
        Self { split, tasks }
    }

    /// The split rows are taken from.
    pub fn split(&self) -> &Split {
        &self.split
    }

    /// The split, given back.
    pub fn into_split(self) -> Arc<Split> {
        self.split
    }
}

impl Batcher<usize, FairBatch> for FairBatcher {
    fn batch(&self, rows: Vec<usize>, device: &Device) -> FairBatch {
        let (b, p, t) = (rows.len(), self.split.p, self.tasks.len());
        let mut x = Vec::with_capacity(b * p);
        let mut y = Vec::with_capacity(b * t);
        let mut s = Vec::with_capacity(b);
        for &r in &rows {
            x.extend_from_slice(self.split.row(r));
            y.extend(self.tasks.iter().map(|&k| self.split.targets[k][r]));
            s.push(self.split.s[r]);
        }
        FairBatch {
            x: Tensor::from_data(TensorData::new(x, [b, p]), device), // [b, p]
            y: Tensor::from_data(TensorData::new(y, [b, t]), device), // [b, t]
            s,
            rows,
        }
    }
}
