//! The source-task heads, trained jointly with the encoder, and their losses.

use burn::config::Config;
use burn::module::Module;
use burn::nn::Linear;
use burn::tensor::{Device, Tensor};
use rand::SeedableRng;

/// Configuration of [`MultitaskHeads`].
#[derive(Config, Debug)]
pub struct MultitaskHeadsConfig {
    /// Size `r` of the representation.
    pub d_representation: usize,
    /// Number of tasks `t`.
    pub tasks: usize,
}

impl MultitaskHeadsConfig {
    /// Builds the heads with weights drawn from `seed`.
    pub fn init(&self, seed: u64, device: &Device) -> MultitaskHeads {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        MultitaskHeads {
            linear: crate::seeded_linear(self.d_representation, self.tasks, &mut rng, device),
        }
    }
}

/// `t` independent logistic heads, stored as one `[r, t]` linear map (column `k` is head `k`).
#[derive(Module, Debug)]
pub struct MultitaskHeads {
    linear: Linear,
}

impl MultitaskHeads {
    /// The `[r, t]` linear map (burn's layout; column `k` is head `k`).
    pub fn linear(&self) -> &Linear {
        &self.linear
    }

    /// Logits of every task.
    ///
    /// # Shapes
    /// - `z`: `[b, r]`
    /// - returns: `[b, t]`
    pub fn forward(&self, z: Tensor<2>) -> Tensor<2> {
        self.linear.forward(z)
    }
}

/// Mean binary cross-entropy of logits against 0/1 labels, over all entries, computed stably as
/// `max(l, 0) − y·l + log(1 + e^{−|l|})`.
///
/// # Shapes
/// - `logits`, `labels`: `[b, t]`
/// - returns: `[1]`
pub fn bce_with_logits(logits: Tensor<2>, labels: Tensor<2>) -> Tensor<1> {
    let softplus =
        logits.clone().clamp_min(0.0) + logits.clone().abs().neg().exp().add_scalar(1.0).log();
    (softplus - labels * logits).mean() // [1]
}

/// The multitask training loss: the mean over rows and tasks of the binary cross-entropy with
/// logits for binary tasks and the squared error for regression tasks (`regression[k]`; their
/// targets standardised), so that both kinds weigh alike. With no regression task it is exactly
/// [`bce_with_logits`].
///
/// # Shapes
/// - `outputs`, `targets`: `[b, t]`; `regression`: `t` flags
/// - returns: `[1]`
pub fn multitask_loss(outputs: Tensor<2>, targets: Tensor<2>, regression: &[bool]) -> Tensor<1> {
    if !regression.iter().any(|&r| r) {
        return bce_with_logits(outputs, targets);
    }
    let t = regression.len();
    let mask = Tensor::<1>::from_data(
        burn::tensor::TensorData::new(
            regression
                .iter()
                .map(|&r| f32::from(u8::from(r)))
                .collect::<Vec<f32>>(),
            [t],
        ),
        &outputs.device(),
    )
    .cast(outputs.dtype())
    .unsqueeze_dim::<2>(0); // [1, t]
    let softplus =
        outputs.clone().clamp_min(0.0) + outputs.clone().abs().neg().exp().add_scalar(1.0).log();
    let bce = softplus - targets.clone() * outputs.clone(); // [b, t]
    let se = (outputs - targets).square(); // [b, t]
    (bce * (mask.clone().neg().add_scalar(1.0)) + se * mask).mean() // [1]
}

/// Per-task mean binary cross-entropy.
///
/// # Shapes
/// - `logits`, `labels`: `[b, t]`
/// - returns: `[t]`
pub fn bce_with_logits_per_task(logits: Tensor<2>, labels: Tensor<2>) -> Tensor<1> {
    let softplus =
        logits.clone().clamp_min(0.0) + logits.clone().abs().neg().exp().add_scalar(1.0).log();
    (softplus - labels * logits).mean_dim(0).squeeze_dim(0) // [t]
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::TensorData;

    #[test]
    fn multitask_loss_mixes_cross_entropy_and_squared_error() {
        let device = Device::flex();
        let t = |v: Vec<f32>| Tensor::<2>::from_data(TensorData::new(v, [2, 2]), &device);
        // Column 0 binary, column 1 regression.
        let out = t(vec![0.0, 1.5, 2.0, -0.5]);
        let y = t(vec![1.0, 1.0, 0.0, 0.5]);
        let got = multitask_loss(out.clone(), y.clone(), &[false, true]).into_scalar::<f64>();
        let bce = |l: f64, y: f64| l.max(0.0) - y * l + (1.0 + (-l.abs()).exp()).ln();
        let want = (bce(0.0, 1.0) + bce(2.0, 0.0) + 0.25 + 1.0) / 4.0;
        assert!((got - want).abs() < 1e-6, "{got} vs {want}");
        // No regression column: exactly the binary cross-entropy.
        assert_eq!(
            multitask_loss(out.clone(), y.clone(), &[false, false]).into_scalar::<f64>(),
            bce_with_logits(out, y).into_scalar::<f64>()
        );
    }

    #[test]
    fn bce_matches_closed_form_and_is_stable() {
        let device = Device::flex();
        let l = Tensor::<2>::from_data(
            TensorData::new(vec![0.0f32, 2.0, -3.0, 100.0], [2, 2]),
            &device,
        );
        let y = Tensor::<2>::from_data(
            TensorData::new(vec![1.0f32, 0.0, 1.0, 1.0], [2, 2]),
            &device,
        );
        let got = bce_with_logits(l.clone(), y.clone()).into_scalar::<f64>();
        // −log σ(0) = ln 2; −log(1 − σ(2)) = ln(1 + e²); −log σ(−3) = ln(1 + e³); −log σ(100) ≈ 0.
        let want = (2f64.ln() + (1.0 + 2f64.exp()).ln() + (1.0 + 3f64.exp()).ln() + 0.0) / 4.0;
        assert!((got - want).abs() < 1e-5, "{got} vs {want}");
        let per = bce_with_logits_per_task(l, y)
            .try_into_vec_as::<f32>()
            .unwrap();
        assert!((per[0] as f64 - (2f64.ln() + (1.0 + 3f64.exp()).ln()) / 2.0).abs() < 1e-5);
        assert!(per.iter().all(|v| v.is_finite()));
    }
}
