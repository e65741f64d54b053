//! The geometry every divergence shares, in one leaf module that imports nothing else of the
//! crate: squared distances, the ground cost `|x − y|^p / p`, and the soft-min operation the
//! Sinkhorn loop is generic over. [`crate::mmd`], [`crate::sinkhorn`], [`crate::penalty`],
//! [`crate::host`] and `crate::fused` build on it; it builds on none of them.

use burn::Tensor;
pub use fairrep_types::Power;

/// Squared Euclidean distances `|x_i − y_j|²`, clamped at 0 against rounding.
///
/// # Shapes
/// - `x`: `[n, d]`, `y`: `[m, d]`
/// - returns: `[n, m]`
pub fn sq_dists(x: Tensor<2>, y: Tensor<2>) -> Tensor<2> {
    let x2 = x.clone().square().sum_dim(1); // [n, 1]
    let y2 = y.clone().square().sum_dim(1).transpose(); // [1, m]
    let xy = x.matmul(y.transpose()); // [n, m]
    (x2 + y2 - xy.mul_scalar(2.0)).clamp_min(0.0)
}

/// The cost matrix `C(u_i, v_j) = |u_i − v_j|^p / p` (for `p = 1`, `|u − v|²` is clamped at
/// 1e-8 before the square root, as GeomLoss does).
///
/// # Shapes
/// - `u`: `[n, d]`, `v`: `[m, d]`; returns `[n, m]`
pub fn cost(p: Power, u: Tensor<2>, v: Tensor<2>) -> Tensor<2> {
    let d2 = sq_dists(u, v); // [n, m]
    match p {
        Power::P1 => d2.clamp_min(1e-8).sqrt(),
        Power::P2 => d2.div_scalar(2.0),
    }
}

/// Which cost matrix a soft-min uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pair {
    /// `C(x_i, y_j)`: gives a potential on `x`.
    XY,
    /// `C(y_j, x_i)`: gives a potential on `y`.
    YX,
    /// `C(x_i, x_j)`.
    XX,
    /// `C(y_i, y_j)`.
    YY,
}

/// The soft C-transform, the one operation of the Sinkhorn loop with backend-specific
/// implementations: `f_i = −ε log Σ_j exp(h_j − C(u_i, v_j) / ε)` for the pair `(u, v)`.
pub trait SoftminOp {
    /// # Shapes
    /// - `h`: `[len(v)]`; returns `[len(u)]`
    fn softmin(&self, pair: Pair, eps: f64, h: Tensor<1>) -> Tensor<1>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{DType, Device, TensorData};

    #[test]
    fn costs_are_the_distances_closed_form() {
        let device = Device::flex();
        let t = |v: Vec<f64>, n| {
            Tensor::<2>::from_data(TensorData::new(v, [n, 2]), (&device, DType::F64))
        };
        let x = t(vec![0.0, 0.0, 3.0, 4.0], 2);
        let y = t(vec![0.0, 0.0], 1);
        let c2 = cost(Power::P2, x.clone(), y.clone())
            .try_into_vec_as::<f64>()
            .unwrap();
        let c1 = cost(Power::P1, x, y).try_into_vec_as::<f64>().unwrap();
        // |(3, 4)|² = 25: cost 12.5 for p = 2 and 5 for p = 1; the clamp gives 1e-4 at 0.
        assert!(
            (c2[1] - 12.5).abs() < 1e-12 && c2[0].abs() < 1e-12,
            "{c2:?}"
        );
        assert!(
            (c1[1] - 5.0).abs() < 1e-12 && (c1[0] - 1e-4).abs() < 1e-12,
            "{c1:?}"
        );
    }
}
