//! Maximum mean discrepancy with Gaussian, Laplacian or energy-distance kernels.
//!
//! Conventions (say which one you compare with):
//! - every function here returns the usual statistic `MMD² = E k(x,x') + E k(y,y') − 2 E k(x,y)`;
//!   GeomLoss's `SamplesLoss("gaussian" | "laplacian" | "energy")` returns **half** of it;
//! - Gaussian kernel `Σ_σ exp(−|x−y|² / (2σ²))`; Laplacian `Σ_σ exp(−|x−y| / σ)`; energy
//!   `−|x−y|`, for which MMD² is the energy distance `2E|x−y| − E|x−x'| − E|y−y'|`;
//! - estimators: [`Estimator::Biased`] (V-statistic, all pairs, any weights),
//!   [`Estimator::Unbiased`] (U-statistic: the diagonal pairs `i = j` left out of the
//!   within-cloud terms, the weights renormalised over `i ≠ j`), [`Estimator::Linear`] (Gretton's
//!   linear-time statistic over disjoint pairs of consecutive rows, uniform weights only).

use crate::divergence::{Divergence, uniform_weights};
pub use crate::geometry::sq_dists;
use crate::host;
use crate::path::{ComputePath, Kernels};
use burn::Tensor;
use burn::tensor::TensorData;
pub use fairrep_types::{Bandwidth, Estimator, KernelKind};
use serde::{Deserialize, Serialize};

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

/// The most pooled points whose pairwise distances the median heuristic reads (an `[k, k]`
/// matrix: 256 MiB in f32).
pub const MEDIAN_MAX_POINTS: usize = 8192;

/// The rows the median heuristic uses out of `total` pooled points: `None` (all of them) up to
/// [`MEDIAN_MAX_POINTS`], else [`MEDIAN_MAX_POINTS`] evenly spaced rows `⌊i·total/k⌋`
/// (deterministic: the same clouds give the same bandwidth).
pub fn median_sample(total: usize) -> Option<Vec<i64>> {
    (total > MEDIAN_MAX_POINTS).then(|| {
        (0..MEDIAN_MAX_POINTS)
            .map(|i| (i * total / MEDIAN_MAX_POINTS) as i64)
            .collect()
    })
}

/// The distance of a median squared distance, or 1 when there is none or it is 0.
fn distance_or_one(median_d2: Option<f64>) -> f64 {
    match median_d2.map(f64::sqrt) {
        Some(med) if med > 0.0 && med.is_finite() => med,
        _ => 1.0,
    }
}

/// The median of the pairwise distances `|z_i − z_j|`, `i < j`, of a square matrix of squared
/// distances (read back to the host; detached). Falls back to 1 when every distance is 0.
pub fn median_distance(d2_self: &Tensor<2>) -> f64 {
    let [n, m] = d2_self.dims();
    debug_assert_eq!(n, m);
    let data = d2_self.clone().detach().into_data();
    // Selected in the tensor's own precision: an f32 matrix's median is the same number read
    // as f32 or as f64, at half the memory and time.
    let med = match data.as_slice::<f32>() {
        Ok(vals) => upper_median(&mut above_diagonal(vals, n), f32::total_cmp).map(f64::from),
        Err(_) => {
            let vals = data
                .convert::<f64>()
                .try_into_vec::<f64>()
                .expect("a float matrix converts to f64");
            upper_median(&mut above_diagonal(&vals, n), f64::total_cmp)
        }
    };
    distance_or_one(med)
}

/// The squared distances of one block of rows read back at a time on a GPU device: wgpu's
/// largest buffer is 128 to 256 MiB by default, less than the `[k, k]` matrix of
/// [`MEDIAN_MAX_POINTS`] points.
const MEDIAN_BLOCK_BYTES: usize = 32 << 20;

/// The median distance between the rows of `z` `[k, d]` (see [`median_distance`]). On the CPU
/// backends from the whole `[k, k]` matrix; on a device a block of rows at a time, so no buffer
/// exceeds [`MEDIAN_BLOCK_BYTES`].
fn median_of_pooled(z: Tensor<2>) -> f64 {
    if host::is_host(&z.device()) {
        return median_distance(&sq_dists(z.clone(), z));
    }
    let [k, _] = z.dims();
    let rows = (MEDIAN_BLOCK_BYTES / (8 * k.max(1))).max(1);
    let mut upper32: Vec<f32> = Vec::new();
    let mut upper64: Vec<f64> = Vec::new();
    for start in (0..k).step_by(rows) {
        let b = rows.min(k - start);
        let data = sq_dists(z.clone().narrow(0, start, b), z.clone()).into_data(); // [b, k]
        let above = |r: usize| (r * k + start + r + 1)..((r + 1) * k);
        match data.as_slice::<f32>() {
            Ok(v) => (0..b).for_each(|r| upper32.extend_from_slice(&v[above(r)])),
            Err(_) => {
                let v = data
                    .convert::<f64>()
                    .try_into_vec::<f64>()
                    .expect("a float matrix converts to f64");
                (0..b).for_each(|r| upper64.extend_from_slice(&v[above(r)]));
            }
        }
    }
    let med = if upper64.is_empty() {
        upper_median(&mut upper32, f32::total_cmp).map(f64::from)
    } else {
        upper_median(&mut upper64, f64::total_cmp)
    };
    distance_or_one(med)
}

/// The upper median of `vals` (reordered; `None` when empty).
fn upper_median<T: Copy>(
    vals: &mut [T],
    cmp: impl FnMut(&T, &T) -> std::cmp::Ordering,
) -> Option<T> {
    if vals.is_empty() {
        return None;
    }
    let mid = vals.len() / 2;
    Some(*vals.select_nth_unstable_by(mid, cmp).1)
}

/// The entries above the diagonal of the row-major `[n, n]` matrix `vals`.
/// (`None` when there are none).
fn above_diagonal<T: Copy>(vals: &[T], n: usize) -> Vec<T> {
    let mut upper: Vec<T> = Vec::with_capacity(n * n.saturating_sub(1) / 2);
    for i in 0..n {
        upper.extend_from_slice(&vals[i * n + i + 1..(i + 1) * n]);
    }
    upper
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
    Mmd {
        kernel: KernelKind::Gaussian,
        bandwidth: Bandwidth::Fixed(sigmas.to_vec()),
        estimator: Estimator::Biased,
    }
    .value(x, a, y, b)
}

/// Biased MMD² with uniform weights (see [`mmd2_weighted`]).
///
/// # Shapes
/// - `x`: `[n, d]`, `y`: `[m, d]`; returns `[1]`
pub fn mmd2(x: Tensor<2>, y: Tensor<2>, sigmas: &[f64]) -> Tensor<1> {
    let (a, b) = (uniform_weights(&x), uniform_weights(&y));
    mmd2_weighted(x, a, y, b, sigmas)
}

/// MMD² with a kernel, a bandwidth rule and an estimator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Mmd {
    /// Kernel family.
    pub kernel: KernelKind,
    /// Bandwidths (ignored by the energy kernel). With [`Bandwidth::Median`], σ is the median
    /// pairwise distance of the pooled clouds.
    pub bandwidth: Bandwidth,
    /// Estimator.
    pub estimator: Estimator,
}

impl Default for Mmd {
    fn default() -> Self {
        Self {
            kernel: KernelKind::Gaussian,
            bandwidth: Bandwidth::Median,
            estimator: Estimator::Biased,
        }
    }
}

/// The Gaussian kernel matrix `Σ_σ exp(−|x_i − y_j|² / (2σ²))` straight from the points, as
/// `exp(x̃ ỹᵀ)` with the augmented factors `x̃_i = [x_i/σ², −|x_i|²/(2σ²), 1]` and
/// `ỹ_j = [y_j, 1, −|y_j|²/(2σ²)]`: the `[n, m]` matrix takes one matmul, a clamp of the
/// exponent at 0 (rounding of `|x|² + |y|² − 2x·y` can make it positive, badly so for tiny σ in
/// f32) and one `exp` per σ, against five elementwise passes by the squared distances.
///
/// # Shapes
/// - `x`: `[n, d]`, `y`: `[m, d]`; returns `[n, m]`
pub fn gaussian_kernel_points(x: Tensor<2>, y: Tensor<2>, sigmas: &[f64]) -> Tensor<2> {
    let x2 = x.clone().square().sum_dim(1); // [n, 1]
    let y2 = y.clone().square().sum_dim(1); // [m, 1]
    let ones_x = x2.ones_like(); // [n, 1]
    let ones_y = y2.ones_like(); // [m, 1]
    let mut k: Option<Tensor<2>> = None;
    for &s in sigmas {
        let inv = 1.0 / (s * s);
        let xa = Tensor::cat(
            vec![
                x.clone().mul_scalar(inv),
                x2.clone().mul_scalar(-0.5 * inv),
                ones_x.clone(),
            ],
            1,
        ); // [n, d+2]
        let ya = Tensor::cat(
            vec![y.clone(), ones_y.clone(), y2.clone().mul_scalar(-0.5 * inv)],
            1,
        ); // [m, d+2]
        // The exponent is −|x_i − y_j|²/(2σ²) ≤ 0; clamp the rounding of tiny bandwidths.
        let term = xa.matmul(ya.transpose()).clamp_max(0.0).exp(); // [n, m]
        k = Some(match k {
            Some(acc) => acc + term,
            None => term,
        });
    }
    k.expect("at least one bandwidth")
}

impl Mmd {
    /// The kernel matrix between two clouds.
    ///
    /// # Shapes
    /// - `x`: `[n, d]`, `y`: `[m, d]`; returns `[n, m]`
    pub fn kernel_between(&self, x: Tensor<2>, y: Tensor<2>, sigmas: &[f64]) -> Tensor<2> {
        match self.kernel {
            KernelKind::Gaussian => gaussian_kernel_points(x, y, sigmas),
            _ => self.kernel_matrix(sq_dists(x, y), sigmas),
        }
    }

    /// The kernel matrix from squared distances.
    pub fn kernel_matrix(&self, d2: Tensor<2>, sigmas: &[f64]) -> Tensor<2> {
        match self.kernel {
            KernelKind::Gaussian => gaussian_kernel(d2, sigmas),
            KernelKind::Energy => d2.clamp_min(1e-8).sqrt().neg(),
            KernelKind::Laplacian => {
                let d = d2.clamp_min(1e-8).sqrt();
                let mut k: Option<Tensor<2>> = None;
                for &s in sigmas {
                    let term = d.clone().div_scalar(-s).exp();
                    k = Some(match k {
                        Some(acc) => acc + term,
                        None => term,
                    });
                }
                k.expect("at least one bandwidth")
            }
        }
    }

    /// The bandwidths for these clouds. The median heuristic takes the median distance
    /// between the pooled points, all pairs when there are at most [`MEDIAN_MAX_POINTS`],
    /// else the pairs of [`MEDIAN_MAX_POINTS`] evenly spaced pooled points (see
    /// [`median_sample`]): its matrix of distances stays within 256 MiB in f32.
    pub fn sigmas(&self, x: &Tensor<2>, y: &Tensor<2>) -> Vec<f64> {
        match (&self.bandwidth, self.kernel) {
            (_, KernelKind::Energy) => vec![],
            (Bandwidth::Fixed(v), _) => v.clone(),
            (Bandwidth::Median, _) => {
                let z = Tensor::cat(vec![x.clone().detach(), y.clone().detach()], 0); // [n+m, d]
                let total = z.dims()[0];
                let z = match median_sample(total) {
                    Some(rows) => {
                        let k = rows.len();
                        let idx = Tensor::<1, burn::tensor::Int>::from_data(
                            TensorData::new(rows, [k]),
                            &z.device(),
                        );
                        z.select(0, idx) // [k, d]
                    }
                    None => z,
                };
                vec![median_of_pooled(z)]
            }
        }
    }
}

/// `uᵀ K v` for a kernel matrix.
fn quad(k: Tensor<2>, u: Tensor<1>, v: Tensor<1>) -> Tensor<1> {
    u.unsqueeze_dim::<2>(0)
        .matmul(k)
        .matmul(v.unsqueeze_dim::<2>(1))
        .reshape([1])
}

/// `Σ_{i≠j} a_i a_j K_ij / Σ_{i≠j} a_i a_j` (the within-cloud term of the U-statistic).
fn off_diagonal_mean(k: Tensor<2>, a: Tensor<1>) -> Tensor<1> {
    let [n, _] = k.dims();
    let diag = Tensor::<2>::eye(n, &k.device()).cast(k.dtype()); // [n, n]
    let full = quad(k.clone(), a.clone(), a.clone());
    let on_diag = (k * diag).sum_dim(1).reshape([n]); // [n]: K_ii
    let a2 = a.clone() * a.clone();
    let num = full - (on_diag * a2.clone()).sum();
    let den = a.sum().powi_scalar(2) - a2.sum();
    num / den
}

impl Mmd {
    /// Which fused kernels exist for these settings: the Gaussian kernel with the biased or
    /// unbiased estimator has both the CPU and the GPU kernels; every other setting runs on
    /// the portable tensor ops. [`ComputePath::choose`] decides from this and the tensor.
    pub fn kernels(&self) -> Kernels {
        let fused = self.kernel == KernelKind::Gaussian && self.estimator != Estimator::Linear;
        Kernels {
            host: fused,
            gpu: fused,
        }
    }

    /// Whether [`Divergence::value`] takes the fused CPU kernels of [`crate::host`] for these
    /// inputs.
    pub fn uses_host_kernels(&self, x: &Tensor<2>) -> bool {
        matches!(
            ComputePath::choose(x, self.kernels()),
            ComputePath::HostF32 | ComputePath::HostF64
        )
    }

    /// MMD² on the fused CPU kernels: the value, with its gradients with respect to `x` and `y`
    /// (when they are tracked) carried by [`host::tangent`].
    fn value_host<F: host::Real>(
        &self,
        x: Tensor<2>,
        a: Tensor<1>,
        y: Tensor<2>,
        b: Tensor<1>,
        sigmas: &[f64],
    ) -> Tensor<1> {
        let (cx, cy) = (
            host::Cloud::<F>::from_tensor(&x),
            host::Cloud::<F>::from_tensor(&y),
        );
        let (wa, wb) = (host::to_host::<1, F>(&a), host::to_host::<1, F>(&b));
        let (gx, gy) = (x.is_tracked(), y.is_tracked());
        let unbiased = self.estimator == Estimator::Unbiased;
        let sums = |u: &host::Cloud<F>, wu: &[F], v: &host::Cloud<F>, wv: &[F], own, gu, gv| {
            host::gaussian_kernel_sums(u, wu, v, wv, sigmas, own && unbiased, gu, gv)
        };
        let ((sxx, syy), sxy) = rayon::join(
            || {
                rayon::join(
                    || sums(&cx, &wa, &cx, &wa, true, gx, false),
                    || sums(&cy, &wb, &cy, &wb, true, gy, false),
                )
            },
            || sums(&cx, &wa, &cy, &wb, false, gx, gy),
        );
        // Within-cloud normalisation: 1 (V-statistic) or 1 / Σ_{i≠j} w_i w_j (U-statistic).
        let norm = |w: &[F]| {
            if unbiased {
                let (s, s2) = w.iter().fold((0.0, 0.0), |(s, s2), &v| {
                    (s + v.to_f64(), s2 + v.to_f64() * v.to_f64())
                });
                1.0 / (s * s - s2)
            } else {
                1.0
            }
        };
        let (na, nb) = (norm(&wa), norm(&wb));
        let value = sxx.value * na + syy.value * nb - 2.0 * sxy.value;
        // A self sum's gradient is twice its first-argument gradient (the kernel is symmetric).
        let combine = |own: Option<Vec<F>>, own_scale: f64, cross: Option<Vec<F>>| {
            let (own, cross) = (own.expect("asked for"), cross.expect("asked for"));
            let (s1, s2) = (F::of(2.0 * own_scale), F::of(-2.0));
            own.iter()
                .zip(&cross)
                .map(|(&o, &c)| s1 * o + s2 * c)
                .collect::<Vec<F>>()
        };
        let device = x.device();
        let mut out = host::from_host::<1, F>(vec![F::of(value)], [1], &device);
        if gx {
            out = out + host::tangent(&x, combine(sxx.grad_u, na, sxy.grad_u)).sum();
        }
        if gy {
            out = out + host::tangent(&y, combine(syy.grad_u, nb, sxy.grad_v)).sum();
        }
        out
    }

    /// Whether [`Divergence::value`] takes the fused GPU kernels of [`crate::fused`].
    #[cfg(feature = "fused")]
    pub fn uses_fused_kernels(&self, x: &Tensor<2>) -> bool {
        ComputePath::choose(x, self.kernels()) == ComputePath::Fused
    }

    /// MMD² as three fused kernel sums `⟨a, s(x, x, a)⟩ + ⟨b, s(y, y, b)⟩ − 2⟨a, s(x, y, b)⟩`,
    /// differentiable through the kernels' own backward pass. The U-statistic removes the
    /// diagonal `k(x_i, x_i) = K` (one per bandwidth) and renormalises.
    #[cfg(feature = "fused")]
    fn value_fused(
        &self,
        x: Tensor<2>,
        a: Tensor<1>,
        y: Tensor<2>,
        b: Tensor<1>,
        sigmas: &[f64],
    ) -> Tensor<1> {
        use crate::fused::gaussian_sums;
        let term = |u: &Tensor<2>, wu: &Tensor<1>, v: &Tensor<2>, wv: &Tensor<1>| {
            (wu.clone() * gaussian_sums(u.clone(), v.clone(), wv.clone(), sigmas)).sum()
        };
        let (xx, yy, xy) = (
            term(&x, &a, &x, &a),
            term(&y, &b, &y, &b),
            term(&x, &a, &y, &b),
        );
        let within = |full: Tensor<1>, w: &Tensor<1>| match self.estimator {
            Estimator::Unbiased => {
                let w2 = (w.clone() * w.clone()).sum();
                let k = sigmas.len() as f64;
                (full - w2.clone().mul_scalar(k)) / (w.clone().sum().powi_scalar(2) - w2)
            }
            _ => full,
        };
        within(xx, &a) + within(yy, &b) - xy.mul_scalar(2.0)
    }

    /// [`Divergence::value`] on burn's tensor ops only: the portable path every backend has.
    ///
    /// # Shapes
    /// - `x`: `[n, d]`, `a`: `[n]`; `y`: `[m, d]`, `b`: `[m]`; returns `[1]`
    pub fn value_portable(
        &self,
        x: Tensor<2>,
        a: Tensor<1>,
        y: Tensor<2>,
        b: Tensor<1>,
    ) -> Tensor<1> {
        let sigmas = self.sigmas(&x, &y);
        let k = |u: Tensor<2>, v: Tensor<2>| self.kernel_between(u, v, &sigmas);
        match self.estimator {
            Estimator::Biased => {
                quad(k(x.clone(), x.clone()), a.clone(), a.clone())
                    + quad(k(y.clone(), y.clone()), b.clone(), b.clone())
                    - quad(k(x, y), a, b).mul_scalar(2.0)
            }
            Estimator::Unbiased => {
                off_diagonal_mean(k(x.clone(), x.clone()), a.clone())
                    + off_diagonal_mean(k(y.clone(), y.clone()), b.clone())
                    - quad(k(x, y), a, b).mul_scalar(2.0)
            }
            Estimator::Linear => {
                // Pairs (x_{2i}, x_{2i+1}), (y_{2i}, y_{2i+1}), i < min(n, m) / 2.
                let [n, _] = x.dims();
                let [m, _] = y.dims();
                let h = n.min(m) / 2;
                let device = x.device();
                let idx = |offset: usize| {
                    let v: Vec<i64> = (0..h).map(|i| (2 * i + offset) as i64).collect();
                    Tensor::<1, burn::tensor::Int>::from_data(TensorData::new(v, [h]), &device)
                };
                let (x1, x2) = (x.clone().select(0, idx(0)), x.select(0, idx(1)));
                let (y1, y2) = (y.clone().select(0, idx(0)), y.select(0, idx(1)));
                let pk = |u: Tensor<2>, v: Tensor<2>| {
                    let d2 = (u - v).square().sum_dim(1); // [h, 1]
                    self.kernel_matrix(d2, &sigmas) // elementwise on [h, 1]
                };
                let terms = pk(x1.clone(), x2.clone()) + pk(y1.clone(), y2.clone())
                    - pk(x1, y2)
                    - pk(x2, y1); // [h, 1]
                terms.mean()
            }
        }
    }
}

impl Divergence for Mmd {
    /// On the CPU backends (Gaussian kernel, biased or unbiased, f32 or f64) this runs on the
    /// fused kernels of [`crate::host`], on a CubeCL device (wgpu; Gaussian, biased or
    /// unbiased, f32) on those of `crate::fused`; elsewhere on [`Mmd::value_portable`].
    fn value(&self, x: Tensor<2>, a: Tensor<1>, y: Tensor<2>, b: Tensor<1>) -> Tensor<1> {
        match ComputePath::choose(&x, self.kernels()) {
            #[cfg(feature = "fused")]
            ComputePath::Fused => {
                let sigmas = self.sigmas(&x, &y);
                self.value_fused(x, a, y, b, &sigmas)
            }
            ComputePath::HostF32 => {
                let sigmas = self.sigmas(&x, &y);
                self.value_host::<f32>(x, a, y, b, &sigmas)
            }
            ComputePath::HostF64 => {
                let sigmas = self.sigmas(&x, &y);
                self.value_host::<f64>(x, a, y, b, &sigmas)
            }
            // Without the `fused` feature `choose` never takes the GPU path.
            #[cfg(not(feature = "fused"))]
            ComputePath::Fused | ComputePath::Portable => self.value_portable(x, a, y, b),
            #[cfg(feature = "fused")]
            ComputePath::Portable => self.value_portable(x, a, y, b),
        }
    }
}
