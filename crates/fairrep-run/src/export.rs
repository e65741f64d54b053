//! `fairrep export`: a trained run in a form other stacks load — the encoder and every head as
//! safetensors with PyTorch's names and layouts (a linear layer's weight is `[out, in]`),
//! `model.json` (architecture, the fitted preprocessing, tasks, versions) and
//! `fairrep_encoder.py`, a numpy + safetensors module that reproduces `fairrep encode` and
//! builds the encoder as a `torch.nn.Module` when torch is installed.

use crate::backend::BURN_VERSION;
use crate::error::{TrainError, io};
use crate::inference::Inference;
use crate::rundir::{write_file, write_json};
use fairrep_data::{Preprocessing, TaskKind};
use fairrep_report::{FittedHead, FittedPostprocess};
use fairrep_types::Activation;
use safetensors::Dtype;
use safetensors::tensor::TensorView;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The Python module written beside the weights.
pub const PYTHON_MODULE: &str = include_str!("fairrep_encoder.py");

/// File names of an export directory.
pub mod files {
    /// The weights.
    pub const WEIGHTS: &str = "model.safetensors";
    /// The manifest.
    pub const MANIFEST: &str = "model.json";
    /// The Python module.
    pub const PYTHON: &str = "fairrep_encoder.py";
}

/// `model.json`: what the tensors of `model.safetensors` are and how to use them.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Always `"fairrep-export"`.
    pub format: String,
    /// The layout version of this file (1).
    pub version: u32,
    /// The fairrep that wrote it.
    pub fairrep_version: String,
    /// The burn the model was trained with.
    pub burn_version: String,
    /// The encoder `x ↦ z`.
    pub encoder: EncoderSpec,
    /// The fitted preprocessing: raw row → `x`.
    pub preprocessing: Preprocessing,
    /// The source tasks' heads: one `[t, r]` linear map (row `k` = `tasks[k]`).
    pub source_heads: SourceHeads,
    /// The transfer tasks' heads.
    pub transfer_heads: Vec<TransferHeadSpec>,
    /// The decision threshold of binary tasks (`score ≥ threshold` → 1).
    pub threshold: f64,
    /// The fitted post-processing of scores (applied by `fairrep predict`; not by the Python
    /// module).
    pub postprocess: Vec<FittedPostprocess>,
    /// The certified partition of z into cells (`partition.json`, when `fairrep certify` ran
    /// before the export): the Python module's `Model.cells(z)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<fairrep_certify::Partition>,
}

/// The encoder: linear layers with an activation between them.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EncoderSpec {
    /// The layers, input first: `encoder.layers.{i}.weight` `[out, in]` and `.bias` `[out]`
    /// (float32).
    pub layers: Vec<LayerSpec>,
    /// The activation after every layer but the last.
    pub activation: Activation,
    /// The activation of the last layer's output, `z`.
    pub representation_activation: Activation,
}

/// One linear layer.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LayerSpec {
    /// Input width.
    pub d_in: usize,
    /// Output width.
    pub d_out: usize,
    /// The weight tensor's name.
    pub weight: String,
    /// The bias tensor's name.
    pub bias: String,
}

/// The source heads.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceHeads {
    /// The weight tensor (`heads.weight`, `[t, r]`, float32).
    pub weight: String,
    /// The bias tensor (`heads.bias`, `[t]`).
    pub bias: String,
    /// The tasks, in row order: a binary task's output is a logit; a regression task's is the
    /// standardised value (`value = output · scale[1] + scale[0]`).
    pub tasks: Vec<HeadTask>,
}

/// A task of a head.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeadTask {
    /// Its name.
    pub name: String,
    /// Binary or regression.
    pub kind: TaskKind,
    /// Regression: the target's training mean and standard deviation.
    pub scale: (f64, f64),
}

/// A transfer task's head (float64 tensors under `transfer.{task}.`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransferHeadSpec {
    /// The task.
    pub task: String,
    /// `logistic` (`weight` `[1, r]`, `bias` `[1]`; a probability through the sigmoid),
    /// `mlp` (`0.weight`, `0.bias`, ReLU, `2.weight`, `2.bias`: `torch.nn.Sequential`'s
    /// names; a probability through the sigmoid) or `ridge` (`weight`, `bias`; the value is
    /// `output · scale[1] + scale[0]`).
    pub kind: String,
    /// The tensors' names.
    pub tensors: Vec<String>,
    /// With `transfer.ferm`: `ferm_basis` `[k, r]`, an orthonormal basis `Q` removed from `z`
    /// first (`z − z Qᵀ Q`).
    pub ferm_basis: Option<String>,
    /// Ridge: the target's training mean and standard deviation.
    pub scale: Option<(f64, f64)>,
}

/// Tensors to write: name, dtype, shape, little-endian bytes.
#[derive(Default)]
struct Tensors(Vec<(String, Dtype, Vec<usize>, Vec<u8>)>);

impl Tensors {
    fn f32(&mut self, name: String, shape: Vec<usize>, v: &[f32]) -> String {
        let bytes = v.iter().flat_map(|x| x.to_le_bytes()).collect();
        self.0.push((name.clone(), Dtype::F32, shape, bytes));
        name
    }
    fn f64(&mut self, name: String, shape: Vec<usize>, v: &[f64]) -> String {
        let bytes = v.iter().flat_map(|x| x.to_le_bytes()).collect();
        self.0.push((name.clone(), Dtype::F64, shape, bytes));
        name
    }
}

/// A burn linear layer as PyTorch's `[out, in]` weight and `[out]` bias.
fn torch_linear(layer: &burn::nn::Linear) -> (usize, usize, Vec<f32>, Vec<f32>) {
    let [d_in, d_out] = layer.weight.val().dims();
    let w: Vec<f32> = layer
        .weight
        .val()
        .try_into_vec_as::<f32>()
        .expect("reading a weight to the host"); // [in, out]
    let mut t = vec![0f32; d_in * d_out]; // [out, in]
    for i in 0..d_in {
        for o in 0..d_out {
            t[o * d_in + i] = w[i * d_out + o];
        }
    }
    let b = match &layer.bias {
        Some(b) => b
            .val()
            .try_into_vec_as::<f32>()
            .expect("reading a bias to the host"),
        None => vec![0.0; d_out],
    };
    (d_in, d_out, t, b)
}

/// Writes the export of `inf` into `out` (created; files replaced atomically).
pub fn export(inf: &Inference, out: &Path) -> Result<Manifest, TrainError> {
    std::fs::create_dir_all(out).map_err(io(out))?;
    let mut tensors = Tensors::default();
    let enc = &inf.model.encoder;
    let layers = enc
        .layers()
        .iter()
        .enumerate()
        .map(|(i, layer)| {
            let (d_in, d_out, w, b) = torch_linear(layer);
            LayerSpec {
                d_in,
                d_out,
                weight: tensors.f32(format!("encoder.layers.{i}.weight"), vec![d_out, d_in], &w),
                bias: tensors.f32(format!("encoder.layers.{i}.bias"), vec![d_out], &b),
            }
        })
        .collect();
    let pre = &inf.preprocessing;
    let (r, t, w, b) = torch_linear(inf.model.heads.linear());
    let source_heads = SourceHeads {
        weight: tensors.f32("heads.weight".into(), vec![t, r], &w),
        bias: tensors.f32("heads.bias".into(), vec![t], &b),
        tasks: pre
            .tasks
            .iter()
            .filter(|k| k.role == fairrep_data::Role::Source)
            .map(|k| HeadTask {
                name: k.name.clone(),
                kind: k.kind,
                scale: k.scale,
            })
            .collect(),
    };
    let mut transfer_heads = Vec::new();
    for head in &inf.transfer_heads {
        let at = |s: &str| format!("transfer.{}.{s}", head.task);
        let (kind, names, ferm_basis, scale) = match &head.fitted {
            FittedHead::Logistic { model, ferm } => {
                let d = model.weights.len();
                let names = vec![
                    tensors.f64(at("weight"), vec![1, d], &model.weights),
                    tensors.f64(at("bias"), vec![1], &[model.bias]),
                ];
                let basis = ferm.as_ref().map(|f| {
                    let q: Vec<f64> = f.basis().iter().flatten().copied().collect();
                    tensors.f64(at("ferm_basis"), vec![f.basis().len(), f.dim], &q)
                });
                ("logistic", names, basis, None)
            }
            FittedHead::Mlp { mlp } => {
                let (d, k) = (mlp.d, mlp.hidden);
                let (w1, rest) = mlp.params.split_at(k * d);
                let (b1, rest) = rest.split_at(k);
                let (w2, b2) = rest.split_at(k);
                let names = vec![
                    tensors.f64(at("0.weight"), vec![k, d], w1),
                    tensors.f64(at("0.bias"), vec![k], b1),
                    tensors.f64(at("2.weight"), vec![1, k], w2),
                    tensors.f64(at("2.bias"), vec![1], &b2[..1]),
                ];
                ("mlp", names, None, None)
            }
            FittedHead::Ridge { ridge, scale } => {
                let d = ridge.weights.len();
                let names = vec![
                    tensors.f64(at("weight"), vec![1, d], &ridge.weights),
                    tensors.f64(at("bias"), vec![1], &[ridge.bias]),
                ];
                ("ridge", names, None, Some(*scale))
            }
        };
        transfer_heads.push(TransferHeadSpec {
            task: head.task.clone(),
            kind: kind.to_string(),
            tensors: names,
            ferm_basis,
            scale,
        });
    }
    let manifest = Manifest {
        format: "fairrep-export".into(),
        version: 1,
        fairrep_version: env!("CARGO_PKG_VERSION").into(),
        burn_version: BURN_VERSION.into(),
        encoder: EncoderSpec {
            layers,
            activation: enc.activation(),
            representation_activation: enc.representation_activation(),
        },
        preprocessing: pre.clone(),
        source_heads,
        transfer_heads,
        threshold: inf.config.transfer.threshold,
        postprocess: inf.postprocess.clone(),
        partition: inf
            .dir
            .join(fairrep_report::files::PARTITION)
            .is_file()
            .then(|| crate::inference::load_partition(&inf.dir))
            .transpose()?,
    };
    let views = tensors
        .0
        .iter()
        .map(|(name, dtype, shape, bytes)| {
            TensorView::new(*dtype, shape.clone(), bytes)
                .map(|v| (name.clone(), v))
                .map_err(|e| TrainError::Internal(format!("tensor {name}: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let metadata = [("format".to_string(), "pt".to_string())]
        .into_iter()
        .collect();
    let bytes = safetensors::serialize(views, Some(metadata))
        .map_err(|e| TrainError::Internal(format!("safetensors: {e}")))?;
    write_file(&out.join(files::WEIGHTS), &bytes)?;
    write_json(&out.join(files::MANIFEST), &manifest)?;
    write_file(&out.join(files::PYTHON), PYTHON_MODULE.as_bytes())?;
    Ok(manifest)
}
