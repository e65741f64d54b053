//! The trained model: the shared encoder and the heads of the source tasks, and batched
//! inference over a whole split.

use crate::batch::features;
use crate::seeds::{Stream, derive_seed};
use burn::module::Module;
use burn::tensor::{Device, Tensor};
use fairrep_data::Split;
use fairrep_model::{Encoder, EncoderConfig, MultitaskHeads, MultitaskHeadsConfig};

/// Rows per forward pass when encoding a whole split (bounds memory).
const INFERENCE_CHUNK: usize = 4096;

/// Encoder plus one head per source task.
#[derive(Module, Debug)]
pub struct FairModel {
    /// The shared encoder `x ↦ z`.
    pub encoder: Encoder,
    /// Heads of the source tasks.
    pub heads: MultitaskHeads,
}

impl FairModel {
    /// Builds the model with weights drawn from `seed`.
    pub fn init(
        encoder: &EncoderConfig,
        heads: &MultitaskHeadsConfig,
        seed: u64,
        device: &Device,
    ) -> Self {
        Self {
            encoder: encoder.init(seed, device),
            heads: heads.init(derive_seed(seed, Stream::Heads), device),
        }
    }

    /// The representation of every row of a split, row-major `[n, r]` (use on a `valid()`
    /// model: no autodiff, no dropout).
    pub fn encode_split(&self, split: &Split, device: &Device) -> Vec<f32> {
        let mut out = Vec::new();
        for start in (0..split.n).step_by(INFERENCE_CHUNK) {
            let end = (start + INFERENCE_CHUNK).min(split.n);
            let x = features(split, start, end, device); // [c, p]
            let z = self.encoder.forward(x); // [c, r]
            out.extend(
                z.try_into_vec_as::<f32>()
                    .expect("reading z back to the host"),
            );
        }
        out
    }

    /// Predictions of the source heads (one per task of `heads`, in order) for every row,
    /// `pred[head][row]`: the probability for a binary task, the value on the target's scale
    /// for a regression task.
    pub fn predict_split(
        &self,
        split: &Split,
        heads: &[&fairrep_data::TaskInfo],
        device: &Device,
    ) -> Vec<Vec<f64>> {
        let mut cols = self.head_outputs(split, device);
        for (col, task) in cols.iter_mut().zip(heads) {
            match task.kind {
                fairrep_data::TaskKind::Binary => {
                    col.iter_mut().for_each(|v| *v = 1.0 / (1.0 + (-*v).exp()));
                }
                fairrep_data::TaskKind::Regression => {
                    col.iter_mut().for_each(|v| *v = task.unscale(*v));
                }
            }
        }
        cols
    }

    /// The raw outputs of the source heads (logits; standardised values for regression
    /// tasks) for every row: `out[head][row]`.
    pub fn head_outputs(&self, split: &Split, device: &Device) -> Vec<Vec<f64>> {
        let mut cols: Vec<Vec<f64>> = Vec::new();
        for start in (0..split.n).step_by(INFERENCE_CHUNK) {
            let end = (start + INFERENCE_CHUNK).min(split.n);
            let x = features(split, start, end, device); // [c, p]
            let p: Tensor<2> = self.heads.forward(self.encoder.forward(x)); // [c, t]
            let [c, t] = p.dims();
            let v = p
                .try_into_vec_as::<f64>()
                .expect("reading predictions back to the host");
            cols.resize(t, Vec::new());
            for (k, col) in cols.iter_mut().enumerate() {
                col.extend((0..c).map(|i| v[i * t + k]));
            }
        }
        cols
    }
}
