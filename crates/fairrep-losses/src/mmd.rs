//! Gaussian-kernel maximum mean discrepancy.

use burn::Tensor;
use serde::{Deserialize, Serialize};

/// How the Gaussian kernel's bandwidth σ is chosen.
///
/// The kernel is `k(x, y) = Σ_σ exp(−|x − y|² / (2σ²))` over the chosen σ values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Bandwidth {
    /// Fixed values of σ (the kernel is the sum over them).
    Fixed(Vec<f64>),
    /// σ = median of the pairwise distances `|z_i − z_j|` (i < j) of the batch, recomputed for
    /// every batch on detached values (the median is treated as a constant by autodiff).
    Median,
}

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

/// `Σ_σ exp(−d² / (2σ²))` applied to a matrix of squared distances.
///
/// # Shapes
/// - `d2`: `[n, m]`; returns `[n, m]`
pub fn gaussian_kernel(d2: Tensor<2>, sigmas: &[f64]) -> Tensor<2> {
    let mut k: Option<Tensor<2>> = None;
    for &s in sigmas {
        let term = d2.clone().mul_scalar(-1.0 / (2.0 * s * s)).exp();
        k = Some(match k {
            Some(acc) => acc + term,
            None => term,
        });
    }
    k.expect("at least one bandwidth")
}

/// The median of the pairwise distances `|z_i − z_j|`, `i < j`, of a square matrix of squared
/// distances (read back to the host; detached). Falls back to 1 when every distance is 0.
pub fn median_distance(d2_self: &Tensor<2>) -> f64 {
    let [n, m] = d2_self.dims();
    debug_assert_eq!(n, m);
    let vals = d2_self
        .clone()
        .detach()
        .try_into_vec_as::<f64>()
        .expect("reading distances back to the host");
    let mut upper: Vec<f64> = Vec::with_capacity(n * (n.saturating_sub(1)) / 2);
    for i in 0..n {
        for j in i + 1..n {
            upper.push(vals[i * n + j]);
        }
    }
    if upper.is_empty() {
        return 1.0;
    }
    let mid = upper.len() / 2;
    let (_, med, _) = upper.select_nth_unstable_by(mid, f64::total_cmp);
    let med = med.sqrt();
    if med > 0.0 && med.is_finite() {
        med
    } else {
        1.0
    }
}

/// Biased (V-statistic) MMD² between weighted point clouds:
/// `αᵀK_xx α + βᵀK_yy β − 2 αᵀK_xy β`.
///
/// # Shapes
/// - `x`: `[n, d]` with weights `a`: `[n]` (summing to 1)
/// - `y`: `[m, d]` with weights `b`: `[m]` (summing to 1)
/// - returns: `[1]`
pub fn mmd2_weighted(
    x: Tensor<2>,
    a: Tensor<1>,
    y: Tensor<2>,
    b: Tensor<1>,
    sigmas: &[f64],
) -> Tensor<1> {
    let quad = |k: Tensor<2>, u: Tensor<1>, v: Tensor<1>| -> Tensor<1> {
        // uᵀ K v
        u.unsqueeze_dim::<2>(0)
            .matmul(k)
            .matmul(v.unsqueeze_dim::<2>(1))
            .reshape([1])
    };
    let kxx = gaussian_kernel(sq_dists(x.clone(), x.clone()), sigmas); // [n, n]
    let kyy = gaussian_kernel(sq_dists(y.clone(), y.clone()), sigmas); // [m, m]
    let kxy = gaussian_kernel(sq_dists(x, y), sigmas); // [n, m]
    quad(kxx, a.clone(), a.clone()) + quad(kyy, b.clone(), b.clone())
        - quad(kxy, a, b).mul_scalar(2.0)
}

/// Biased MMD² with uniform weights (see [`mmd2_weighted`]).
///
/// # Shapes
/// - `x`: `[n, d]`, `y`: `[m, d]`; returns `[1]`
pub fn mmd2(x: Tensor<2>, y: Tensor<2>, sigmas: &[f64]) -> Tensor<1> {
    let [n, _] = x.dims();
    let [m, _] = y.dims();
    let (dev_x, dev_y) = (x.device(), y.device());
    let a = Tensor::<1>::ones([n], (&dev_x, x.dtype())).div_scalar(n as f64);
    let b = Tensor::<1>::ones([m], (&dev_y, y.dtype())).div_scalar(m as f64);
    mmd2_weighted(x, a, y, b, sigmas)
}
