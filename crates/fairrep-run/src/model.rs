//! The trained model: the shared encoder and the heads of the source tasks, and batched
//! inference over a whole split.

use crate::seeds::{Stream, derive_seed};
use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};
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
        self.encode_rows(&split.x, split.p, device)
    }

    /// The representation of rows `x` (row-major `[n, p]`), row-major `[n, r]`, a chunk of
    /// [`INFERENCE_CHUNK`] rows at a time.
    pub fn encode_rows(&self, x: &[f32], p: usize, device: &Device) -> Vec<f32> {
        let n = x.len() / p.max(1);
        let mut out = Vec::new();
        for start in (0..n).step_by(INFERENCE_CHUNK) {
            let end = (start + INFERENCE_CHUNK).min(n);
            let x = Tensor::from_data(
                TensorData::new(x[start * p..end * p].to_vec(), [end - start, p]),
                device,
            ); // [c, p]
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
        let z = self.encode_split(split, device);
        self.predict_from_z(&z, heads, device)
    }

    /// The source heads' predictions (as [`FairModel::predict_split`]) from representations
    /// `z` (row-major `[n, r]`).
    pub fn predict_from_z(
        &self,
        z: &[f32],
        heads: &[&fairrep_data::TaskInfo],
        device: &Device,
    ) -> Vec<Vec<f64>> {
        let mut cols = self.head_outputs(z, device);
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
    /// tasks) for representations `z` (row-major `[n, r]`): `out[head][row]`.
    pub fn head_outputs(&self, z: &[f32], device: &Device) -> Vec<Vec<f64>> {
        let [r, t] = self.heads.linear().weight.val().dims();
        let n = z.len() / r.max(1);
        let mut cols: Vec<Vec<f64>> = vec![Vec::with_capacity(n); t];
        for start in (0..n).step_by(INFERENCE_CHUNK) {
            let end = (start + INFERENCE_CHUNK).min(n);
            let zt = Tensor::from_data(
                TensorData::new(z[start * r..end * r].to_vec(), [end - start, r]),
                device,
            ); // [c, r]
            let p: Tensor<2> = self.heads.forward(zt); // [c, t]
            let c = end - start;
            let v = p
                .try_into_vec_as::<f64>()
                .expect("reading predictions back to the host");
            for (k, col) in cols.iter_mut().enumerate() {
                col.extend((0..c).map(|i| v[i * t + k]));
            }
        }
        cols
    }
}
