//! Fused GPU kernels (feature `fused`): the reductions behind both divergences as CubeCL
//! kernels, registered as a burn backend extension ([`FusedOps`]) for the CubeCL backends
//! (wgpu here; CUDA/ROCm/Metal through the same `CubeBackend`), their lazy `Fusion` form and
//! `Autodiff` with a hand-written backward pass.
//!
//! The portable tensor-op path builds `n × m` matrices (memory O(n·m)); these kernels stream
//! one cloud through workgroup-shared tiles and keep one running reduction per row (see
//! [`kernels`]), so memory is O(n + m) per output column:
//!
//! - [`FusedOps::gaussian_sums`] `s_i = Σ_j w_j Σ_q exp(−γ_q |u_i − v_j|²)` (several bandwidths
//!   in one pass, `γ_q = 1/(2σ_q²)`) and [`FusedOps::gaussian_sums_grad`]
//!   `∂s_i/∂u_i = Σ_j w_j Σ_q 2γ_q e_ijq (v_j − u_i)`: MMD² is three such sums, and the backward
//!   pass of `s` with respect to `u`, `v` and `w` is three more launches of the same two
//!   kernels;
//! - [`FusedOps::lse_softmin`] `f_i = −ε log Σ_j exp(h_j − C(u_i, v_j)/ε)` (the Sinkhorn soft-min,
//!   an online log-sum-exp) and [`FusedOps::lse_softmin_grad`] `∂f_i/∂u_i = Σ_j P_ij ∂C_ij/∂u_i`
//!   with `P_ij = exp(h_j − C_ij/ε + f_i/ε)`: the final, tracked Sinkhorn step.
//!
//! [`uses_fused`] says which tensors take this path (f32 on a CubeCL device, `d ≤`
//! [`kernels::MAX_DIM`]); [`crate::mmd::Mmd`] and [`crate::sinkhorn::Sinkhorn`] pick it
//! automatically and keep their portable versions (`value_portable`, `solve_portable`), which
//! are the reference the kernels are tested against.

mod autodiff;
pub mod kernels;

use burn::Tensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, Dispatch, DispatchDevice, backend_extension};
use burn::tensor::{DType, Device, Shape, TensorData};

/// `[n]` from `[n, d]`.
fn rows(u: &Shape) -> Shape {
    Shape::new([u[0]])
}

/// The fused reductions (see the module docs). Shapes: `u` `[n, d]`, `v` `[m, d]`, per-point
/// vectors `w`, `h` `[m]`, `f` `[n]`, bandwidth parameters `gammas` `[k]`; all tensors share
/// one float dtype and device.
///
/// Autodiff: [`FusedOps::gaussian_sums`] is differentiable with respect to `u`, `v` and `w`
/// (not `gammas`); [`FusedOps::lse_softmin`] with respect to `u` only — `v` and `h` enter as
/// constants, which is what the envelope-theorem step of Sinkhorn needs (callers detach them).
/// The two `_grad` operations are not themselves differentiable (no second derivatives).
#[backend_extension(Cube, Fusion, Autodiff)]
pub trait FusedOps: Backend {
    /// `s_i = Σ_j w_j Σ_q exp(−γ_q |u_i − v_j|²)` `[n]`.
    #[fusion(dtype = u, shape = rows(u))]
    fn gaussian_sums(
        u: FloatTensor<Self>,
        v: FloatTensor<Self>,
        w: FloatTensor<Self>,
        gammas: FloatTensor<Self>,
    ) -> FloatTensor<Self>;

    /// `∂s_i/∂u_i = Σ_j w_j Σ_q 2γ_q exp(−γ_q |u_i − v_j|²) (v_j − u_i)` `[n, d]`.
    #[fusion(dtype = u, shape = u)]
    fn gaussian_sums_grad(
        u: FloatTensor<Self>,
        v: FloatTensor<Self>,
        w: FloatTensor<Self>,
        gammas: FloatTensor<Self>,
    ) -> FloatTensor<Self>;

    /// `f_i = −ε log Σ_j exp(h_j − C(u_i, v_j)/ε)` `[n]`, with `C = |u − v|²/2`, or
    /// `sqrt(max(|u − v|², 1e-8))` when `p1`.
    #[fusion(dtype = u, shape = rows(u))]
    fn lse_softmin(
        u: FloatTensor<Self>,
        v: FloatTensor<Self>,
        h: FloatTensor<Self>,
        eps: f32,
        p1: bool,
    ) -> FloatTensor<Self>;

    /// `∂f_i/∂u_i` `[n, d]` for the soft-min values `f` of the same arguments.
    #[fusion(dtype = u, shape = u)]
    fn lse_softmin_grad(
        u: FloatTensor<Self>,
        v: FloatTensor<Self>,
        h: FloatTensor<Self>,
        f: FloatTensor<Self>,
        eps: f32,
        p1: bool,
    ) -> FloatTensor<Self>;
}

/// Whether `x` `[n, d]` takes the fused kernels: an f32 tensor on a CubeCL device (wgpu),
/// `1 ≤ d ≤` [`kernels::MAX_DIM`]. Everything else runs on the portable path.
pub fn uses_fused(x: &Tensor<2>) -> bool {
    let [n, d] = x.dims();
    let device = x.device().inner();
    matches!(device.as_dispatch(), DispatchDevice::Cube(_))
        && x.dtype() == DType::F32
        && n > 0
        && (1..=kernels::MAX_DIM).contains(&d)
}

fn gammas(sigmas: &[f64], device: &Device) -> Tensor<1> {
    let g: Vec<f32> = sigmas.iter().map(|s| (0.5 / (s * s)) as f32).collect();
    let k = g.len();
    Tensor::<1>::from_data(TensorData::new(g, [k]), (device, DType::F32))
}

/// `s_i = Σ_j w_j Σ_σ exp(−|u_i − v_j|²/(2σ²))` on the fused kernels, differentiable with
/// respect to `u`, `v` and `w` (call only when [`uses_fused`] holds for `u`).
///
/// # Shapes
/// - `u`: `[n, d]`, `v`: `[m, d]`, `w`: `[m]`; returns `[n]`
pub fn gaussian_sums(u: Tensor<2>, v: Tensor<2>, w: Tensor<1>, sigmas: &[f64]) -> Tensor<1> {
    if v.dims()[0] == 0 {
        let n = u.dims()[0];
        return u.sum_dim(1).reshape([n]).zeros_like();
    }
    let g = gammas(sigmas, &u.device().inner());
    Tensor::<1>::from_dispatch(Dispatch::gaussian_sums(
        u.into_dispatch(),
        v.into_dispatch(),
        w.into_dispatch(),
        g.into_dispatch(),
    ))
}

/// `∂s_i/∂u_i` of [`gaussian_sums`] `[n, d]` (not differentiable).
pub fn gaussian_sums_grad(u: Tensor<2>, v: Tensor<2>, w: Tensor<1>, sigmas: &[f64]) -> Tensor<2> {
    let g = gammas(sigmas, &u.device().inner());
    Tensor::<2>::from_dispatch(Dispatch::gaussian_sums_grad(
        u.into_dispatch(),
        v.into_dispatch(),
        w.into_dispatch(),
        g.into_dispatch(),
    ))
}

/// The soft-min `f_i = −ε log Σ_j exp(h_j − C(u_i, v_j)/ε)` on the fused kernels,
/// differentiable with respect to `u` (`v` and `h` are detached here).
///
/// # Shapes
/// - `u`: `[n, d]`, `v`: `[m, d]` (m ≥ 1), `h`: `[m]`; returns `[n]`
pub fn softmin(u: Tensor<2>, v: Tensor<2>, h: Tensor<1>, eps: f64, p1: bool) -> Tensor<1> {
    Tensor::<1>::from_dispatch(Dispatch::lse_softmin(
        u.into_dispatch(),
        v.detach().into_dispatch(),
        h.detach().into_dispatch(),
        eps as f32,
        p1,
    ))
}

/// `∂f_i/∂u_i` of [`softmin`] `[n, d]`, given its values `f` (not differentiable).
pub fn softmin_grad(
    u: Tensor<2>,
    v: Tensor<2>,
    h: Tensor<1>,
    f: Tensor<1>,
    eps: f64,
    p1: bool,
) -> Tensor<2> {
    Tensor::<2>::from_dispatch(Dispatch::lse_softmin_grad(
        u.into_dispatch(),
        v.into_dispatch(),
        h.into_dispatch(),
        f.into_dispatch(),
        eps as f32,
        p1,
    ))
}

/// The soft-min of [`crate::sinkhorn`] on the fused kernels: no cost matrix, only the clouds.
/// Built on plain tensors for the iterations and on the tracked ones for the final step (the
/// gradient flows into the first cloud of each pair; the second is detached, as GeomLoss does).
pub struct FusedSoftmin {
    p1: bool,
    x: Tensor<2>,
    y: Tensor<2>,
}

impl FusedSoftmin {
    /// For the clouds `x` `[n, d]` and `y` `[m, d]`; `p1` selects the cost `|x − y|` instead of
    /// `|x − y|²/2`.
    pub fn new(p1: bool, x: Tensor<2>, y: Tensor<2>) -> Self {
        Self { p1, x, y }
    }
}

impl crate::geometry::SoftminOp for FusedSoftmin {
    fn softmin(&self, pair: crate::geometry::Pair, eps: f64, h: Tensor<1>) -> Tensor<1> {
        use crate::geometry::Pair;
        let (u, v) = match pair {
            Pair::XY => (&self.x, &self.y),
            Pair::YX => (&self.y, &self.x),
            Pair::XX => (&self.x, &self.x),
            Pair::YY => (&self.y, &self.y),
        };
        softmin(u.clone(), v.clone(), h, eps, self.p1)
    }
}
