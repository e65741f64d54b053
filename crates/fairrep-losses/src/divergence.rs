//! The common interface of the divergences between weighted point clouds.

use burn::Tensor;

/// A divergence `D(α, β)` between two weighted point clouds `α = Σ a_i δ_{x_i}` and
/// `β = Σ b_j δ_{y_j}`, written with burn tensor ops: differentiable with respect to the
/// positions when the inputs are tracked (a training penalty), a plain measurement otherwise.
/// Generic over the backend through the tensors' device; the dtype (f32 or f64) is the inputs'.
pub trait Divergence {
    /// The divergence `[1]`.
    ///
    /// # Shapes
    /// - `x`: `[n, d]`, `a`: `[n]`; `y`: `[m, d]`, `b`: `[m]`
    fn value(&self, x: Tensor<2>, a: Tensor<1>, y: Tensor<2>, b: Tensor<1>) -> Tensor<1>;

    /// The divergence with uniform weights `1/n` and `1/m`.
    fn uniform(&self, x: Tensor<2>, y: Tensor<2>) -> Tensor<1> {
        let (a, b) = (uniform_weights(&x), uniform_weights(&y));
        self.value(x, a, y, b)
    }
}

/// Uniform weights `1/n` for the rows of `x`, on its device and in its dtype.
pub fn uniform_weights(x: &Tensor<2>) -> Tensor<1> {
    let [n, _] = x.dims();
    Tensor::<1>::ones([n], (&x.device(), x.dtype())).div_scalar(n as f64)
}

/// `log a`, with weights ≤ 0 mapped to −100,000 (GeomLoss's `log_weights`).
pub fn log_weights(a: &Tensor<1>) -> Tensor<1> {
    let zero = a.clone().lower_equal_elem(0.0);
    a.clone()
        .clamp_min(f64::MIN_POSITIVE)
        .log()
        .mask_fill(zero, -100_000.0)
}
