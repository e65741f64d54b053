//! The trained model's parts as burn modules: the shared encoder, an MLP from encoded features
//! to the representation `z`, and the heads of the source tasks trained with it ([`heads`]).

use burn::config::Config;
use burn::module::{Module, Param};
use burn::nn::{Dropout, DropoutConfig, Linear};
use burn::tensor::{Device, Tensor, TensorData, activation};
pub use fairrep_types::Activation;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

mod heads;
pub use heads::{
    MultitaskHeads, MultitaskHeadsConfig, bce_with_logits, bce_with_logits_per_task, multitask_loss,
};

/// A linear layer `[d_in] → [d_out]` with weights and bias drawn from `U(−k, k)`,
/// `k = 1/√d_in` (PyTorch's and burn's default), from the caller's seeded generator.
///
/// burn draws parameters lazily from the device's generator, so the same seed does not pin the
/// initial weights; drawing them here does, and gives the same start on every backend.
pub fn seeded_linear(d_in: usize, d_out: usize, rng: &mut ChaCha8Rng, device: &Device) -> Linear {
    let k = 1.0 / (d_in.max(1) as f64).sqrt();
    let mut draw =
        |len: usize| -> Vec<f32> { (0..len).map(|_| rng.random_range(-k..k) as f32).collect() };
    let weight = draw(d_in * d_out);
    let bias = draw(d_out);
    Linear {
        weight: Param::from_tensor(Tensor::from_data(
            TensorData::new(weight, [d_in, d_out]),
            device,
        )),
        bias: Some(Param::from_tensor(Tensor::from_data(
            TensorData::new(bias, [d_out]),
            device,
        ))),
    }
}

/// Applies an activation.
pub fn activate<const D: usize>(a: Activation, x: Tensor<D>) -> Tensor<D> {
    match a {
        Activation::Relu => activation::relu(x),
        Activation::Tanh => activation::tanh(x),
        Activation::Sigmoid => activation::sigmoid(x),
        Activation::Gelu => activation::gelu(x),
        Activation::Identity => x,
    }
}

/// Configuration of an [`Encoder`].
#[derive(Config, Debug)]
pub struct EncoderConfig {
    /// Number of input features `p`.
    pub d_input: usize,
    /// Widths of the hidden layers (may be empty: then `z` is one affine map of `x`).
    pub hidden: Vec<usize>,
    /// Size `r` of the representation.
    pub d_representation: usize,
    /// Activation after each hidden layer.
    #[config(default = "Activation::Relu")]
    pub activation: Activation,
    /// Activation applied to the representation itself.
    #[config(default = "Activation::Identity")]
    pub representation_activation: Activation,
    /// Dropout probability after each hidden layer, in `[0, 1)`.
    #[config(default = 0.0)]
    pub dropout: f64,
}

impl EncoderConfig {
    /// Builds the encoder with weights drawn from `seed` (see [`seeded_linear`]). The dropout
    /// probability must be in `[0, 1)` (validated by the caller's config).
    pub fn init(&self, seed: u64, device: &Device) -> Encoder {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut widths = vec![self.d_input];
        widths.extend(&self.hidden);
        widths.push(self.d_representation);
        let layers = widths
            .windows(2)
            .map(|w| seeded_linear(w[0], w[1], &mut rng, device))
            .collect();
        Encoder {
            layers,
            dropout: DropoutConfig::new(self.dropout).init(),
            activation: self.activation,
            representation_activation: self.representation_activation,
        }
    }
}

/// MLP encoder `x ↦ z`.
#[derive(Module, Debug)]
pub struct Encoder {
    layers: Vec<Linear>,
    dropout: Dropout,
    #[module(skip)]
    activation: Activation,
    #[module(skip)]
    representation_activation: Activation,
}

impl Encoder {
    /// The linear layers, input first (burn's layout: weights `[d_in, d_out]`).
    pub fn layers(&self) -> &[Linear] {
        &self.layers
    }

    /// The activation after each hidden layer.
    pub fn activation(&self) -> Activation {
        self.activation
    }

    /// The activation of the representation.
    pub fn representation_activation(&self) -> Activation {
        self.representation_activation
    }

    /// Encodes a batch.
    ///
    /// # Shapes
    /// - `x`: `[b, p]`
    /// - returns `z`: `[b, r]`
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let last = self.layers.len() - 1;
        let mut h = x; // [b, p]
        for (i, layer) in self.layers.iter().enumerate() {
            h = layer.forward(h); // [b, width_i]
            if i < last {
                h = self.dropout.forward(activate(self.activation, h));
            }
        }
        activate(self.representation_activation, h) // [b, r]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_and_determinism() {
        let device = Device::flex();
        let cfg = EncoderConfig::new(5, vec![7, 6], 3);
        let a = cfg.init(3, &device);
        let b = cfg.init(3, &device);
        let c = cfg.init(4, &device);
        let x = Tensor::<2>::ones([4, 5], &device);
        let za = a.forward(x.clone());
        assert_eq!(za.dims(), [4, 3]);
        let zb = b.forward(x.clone());
        let zc = c.forward(x);
        let za = za.try_into_vec_as::<f32>().unwrap();
        assert_eq!(za, zb.try_into_vec_as::<f32>().unwrap());
        assert_ne!(za, zc.try_into_vec_as::<f32>().unwrap());
    }
}
