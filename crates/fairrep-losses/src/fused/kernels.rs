//! The CubeCL kernels of [`super::FusedOps`] and their launch on [`CubeBackend`].
//!
//! Every kernel is a row reduction `out_i = Σ_j φ(u_i, v_j, …)` computed as a tiled online
//! reduction: a cube of [`UNITS`] units owns [`UNITS`] consecutive rows `i` (one per unit,
//! `u_i` held in registers); the rows `v_j` are streamed through workgroup-shared memory one
//! tile of `tile` rows at a time, each unit folding the tile into its running reduction. No
//! `n × m` matrix exists at any point: memory is O((n + m)·d) for the inputs and O(n) or
//! O(n·d) for the outputs.
//!
//! The dimension `d` and the tile height are compile-time constants; the `d` loops are
//! unrolled, and the rows of a tile are processed [`UNROLL`] at a time (unrolled), so an
//! invocation takes about `m / UNROLL` loop back-edges in all: llvmpipe (Mesa's software
//! Vulkan) silently stops a shader after 65,535 loop back-edges *in total* per invocation (one
//! budget for all its loops, nested or not — measured: a row loop over m = 70,000 points
//! returned sums 12% short), so these kernels are exact up to m ≈ 500,000 on lavapipe, and
//! unlimited on GPU drivers.

// Kernel code is expanded by CubeCL, which knows `(m + t − 1) / t` but not `div_ceil`.
#![allow(clippy::manual_div_ceil)]

use super::FusedOps;
use burn::backend::tensor::FloatTensor;
use burn::tensor::{DType, Shape};
use burn_cubecl::CubeBackend;
use burn_cubecl::kernel::into_contiguous;
use burn_cubecl::ops::numeric::empty_device_contiguous_dtype;
use burn_cubecl::tensor::CubeTensor;
use cubecl::ir::{ElemType, FloatKind};
use cubecl::prelude::*;

/// Units (rows) per cube.
pub const UNITS: usize = 64;
/// Shared floats per tile of `v`: 16 KiB in f32.
const TILE_FLOATS: usize = 4096;
/// Rows of a tile processed per loop iteration (unrolled).
const UNROLL: usize = 8;
/// The largest `d` the kernels take (a tile holds at least [`UNROLL`] rows);
/// [`super::uses_fused`] sends larger `d` to the portable path.
pub const MAX_DIM: usize = TILE_FLOATS / UNROLL;

/// Rows of `v` per shared tile for dimension `d`: a multiple of [`UNROLL`], at most [`UNITS`].
fn tile_rows(d: usize) -> usize {
    (TILE_FLOATS / d.max(1) / UNROLL * UNROLL).clamp(UNROLL, UNITS)
}

/// Loads rows `j0 .. j0 + tile` of `v` `[m, d]` (and of `w` `[m]`) into the shared tiles; rows
/// past `m` are left untouched (and never read).
#[cube]
fn load_tile<F: Float>(
    v: &Tensor<F>,
    w: &Tensor<F>,
    tile_v: &mut Shared<[F]>,
    tile_w: &mut Shared<[F]>,
    j0: usize,
    m: usize,
    #[comptime] d: usize,
    #[comptime] tile: usize,
) {
    #[unroll]
    for q in 0..tile.div_ceil(UNITS) {
        let r = q * UNITS + UNIT_POS_X as usize;
        let j = j0 + r;
        if r < tile && j < m {
            #[unroll]
            for k in 0..d {
                tile_v[r * d + k] = v[j * d + k];
            }
            tile_w[r] = w[j];
        }
    }
}

/// `|a − tile_v[r]|²` for the registers `a` and row `r` of the tile.
#[cube]
fn sq_dist<F: Float>(a: &Array<F>, tile_v: &Shared<[F]>, r: usize, #[comptime] d: usize) -> F {
    let mut d2 = F::new(0.0);
    #[unroll]
    for k in 0..d {
        let diff = a[k] - tile_v[r * d + k];
        d2 += diff * diff;
    }
    d2
}

/// `Σ_q exp(−γ_q d2)` (`value`) and `Σ_q 2γ_q exp(−γ_q d2)` (`slope`), for the bandwidths in
/// registers.
#[cube]
fn gaussian<F: Float>(gam: &Array<F>, d2: F, #[comptime] bandwidths: usize) -> (F, F) {
    let mut value = F::new(0.0);
    let mut slope = F::new(0.0);
    #[unroll]
    for q in 0..bandwidths {
        let e = (F::new(0.0) - gam[q] * d2).exp();
        value += e;
        slope += F::new(2.0) * gam[q] * e;
    }
    (value, slope)
}

/// The cost `C(u, v)` from `|u − v|²`: `|u − v|²/2` (p = 2) or `sqrt(max(|u − v|², 1e-8))`
/// (p = 1), and the factor `c'` with `∂C/∂u = c'·(u − v)`: 1, or `1/C` (0 where clamped).
#[cube]
fn cost<F: Float>(d2: F, #[comptime] p1: bool) -> (F, F) {
    let mut c = d2 * F::new(0.5);
    let mut dc = F::new(1.0);
    if p1 {
        if d2 > F::new(1e-8) {
            c = d2.sqrt();
            dc = F::new(1.0) / c;
        } else {
            c = F::new(1e-4);
            dc = F::new(0.0);
        }
    }
    (c, dc)
}

/// Loads row `i` of `u` (clamped to the last row for the units past `n`) into registers.
#[cube]
fn own_row<F: Float>(u: &Tensor<F>, i: usize, n: usize, #[comptime] d: usize) -> Array<F> {
    let mut row = i;
    if row >= n {
        row = n - 1;
    }
    let mut a = Array::<F>::new(d);
    #[unroll]
    for k in 0..d {
        a[k] = u[row * d + k];
    }
    a
}

/// Loads the `bandwidths` values of `gammas` into registers.
#[cube]
fn own_gammas<F: Float>(gammas: &Tensor<F>, #[comptime] bandwidths: usize) -> Array<F> {
    let mut gam = Array::<F>::new(bandwidths);
    #[unroll]
    for q in 0..bandwidths {
        gam[q] = gammas[q];
    }
    gam
}

/// `out_i = Σ_j w_j Σ_q exp(−γ_q |u_i − v_j|²)`.
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
fn gaussian_sums_kernel<F: Float>(
    u: &Tensor<F>,
    v: &Tensor<F>,
    w: &Tensor<F>,
    gammas: &Tensor<F>,
    out: &mut Tensor<F>,
    #[comptime] d: usize,
    #[comptime] tile: usize,
    #[comptime] bandwidths: usize,
    #[define(F)] _dtype: ElemType,
) {
    let n = u.shape(0);
    let m = v.shape(0);
    let i = CUBE_POS_X as usize * CUBE_DIM_X as usize + UNIT_POS_X as usize;
    let a = own_row::<F>(u, i, n, d);
    let gam = own_gammas::<F>(gammas, bandwidths);
    let mut tile_v = Shared::new_slice(tile * d);
    let mut tile_w = Shared::new_slice(tile);
    let mut acc = F::new(0.0);
    let tiles = (m + tile - 1) / tile;
    for t in 0..tiles {
        let j0 = t * tile;
        load_tile::<F>(v, w, &mut tile_v, &mut tile_w, j0, m, d, tile);
        sync_cube();
        for rr in 0..tile / UNROLL {
            #[unroll]
            for q in 0..UNROLL {
                let r = rr * UNROLL + q;
                if j0 + r < m {
                    let d2 = sq_dist::<F>(&a, &tile_v, r, d);
                    let (value, _slope) = gaussian::<F>(&gam, d2, bandwidths);
                    acc += tile_w[r] * value;
                }
            }
        }
        sync_cube();
    }
    if i < n {
        out[i] = acc;
    }
}

/// `out_i = Σ_j w_j Σ_q 2γ_q exp(−γ_q |u_i − v_j|²) (v_j − u_i)` `[n, d]`.
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
fn gaussian_grad_kernel<F: Float>(
    u: &Tensor<F>,
    v: &Tensor<F>,
    w: &Tensor<F>,
    gammas: &Tensor<F>,
    out: &mut Tensor<F>,
    #[comptime] d: usize,
    #[comptime] tile: usize,
    #[comptime] bandwidths: usize,
    #[define(F)] _dtype: ElemType,
) {
    let n = u.shape(0);
    let m = v.shape(0);
    let i = CUBE_POS_X as usize * CUBE_DIM_X as usize + UNIT_POS_X as usize;
    let a = own_row::<F>(u, i, n, d);
    let gam = own_gammas::<F>(gammas, bandwidths);
    let mut tile_v = Shared::new_slice(tile * d);
    let mut tile_w = Shared::new_slice(tile);
    let mut total = F::new(0.0);
    let mut weighted = Array::<F>::new(d);
    #[unroll]
    for k in 0..d {
        weighted[k] = F::new(0.0);
    }
    let tiles = (m + tile - 1) / tile;
    for t in 0..tiles {
        let j0 = t * tile;
        load_tile::<F>(v, w, &mut tile_v, &mut tile_w, j0, m, d, tile);
        sync_cube();
        for rr in 0..tile / UNROLL {
            #[unroll]
            for q in 0..UNROLL {
                let r = rr * UNROLL + q;
                if j0 + r < m {
                    let d2 = sq_dist::<F>(&a, &tile_v, r, d);
                    let (_value, slope) = gaussian::<F>(&gam, d2, bandwidths);
                    let c = tile_w[r] * slope;
                    total += c;
                    #[unroll]
                    for k in 0..d {
                        weighted[k] += c * tile_v[r * d + k];
                    }
                }
            }
        }
        sync_cube();
    }
    if i < n {
        #[unroll]
        for k in 0..d {
            out[i * d + k] = weighted[k] - total * a[k];
        }
    }
}

/// `out_i = −ε log Σ_j exp(h_j − C(u_i, v_j)/ε)`, an online (one-pass) log-sum-exp.
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
fn softmin_kernel<F: Float>(
    u: &Tensor<F>,
    v: &Tensor<F>,
    h: &Tensor<F>,
    out: &mut Tensor<F>,
    eps: f32,
    #[comptime] d: usize,
    #[comptime] tile: usize,
    #[comptime] p1: bool,
    #[define(F)] _dtype: ElemType,
) {
    let n = u.shape(0);
    let m = v.shape(0);
    let i = CUBE_POS_X as usize * CUBE_DIM_X as usize + UNIT_POS_X as usize;
    let a = own_row::<F>(u, i, n, d);
    let eps = F::cast_from(eps);
    let inv_eps = F::new(1.0) / eps;
    let mut tile_v = Shared::new_slice(tile * d);
    let mut tile_h = Shared::new_slice(tile);
    // The running maximum starts at the first term, so no sentinel is ever exponentiated.
    let mut top = F::new(0.0);
    let mut sum = F::new(0.0);
    let tiles = (m + tile - 1) / tile;
    for t in 0..tiles {
        let j0 = t * tile;
        load_tile::<F>(v, h, &mut tile_v, &mut tile_h, j0, m, d, tile);
        sync_cube();
        for rr in 0..tile / UNROLL {
            #[unroll]
            for q in 0..UNROLL {
                let r = rr * UNROLL + q;
                if j0 + r < m {
                    let d2 = sq_dist::<F>(&a, &tile_v, r, d);
                    let (c, _dc) = cost::<F>(d2, p1);
                    let s = tile_h[r] - c * inv_eps;
                    if j0 + r == 0 {
                        top = s;
                        sum = F::new(1.0);
                    } else if s > top {
                        sum = sum * (top - s).exp() + F::new(1.0);
                        top = s;
                    } else {
                        sum += (s - top).exp();
                    }
                }
            }
        }
        sync_cube();
    }
    if i < n {
        out[i] = F::new(0.0) - eps * (top + sum.ln());
    }
}

/// `out_i = ∂f_i/∂u_i = Σ_j P_ij ∂C(u_i, v_j)/∂u_i` `[n, d]` with
/// `P_ij = exp(h_j − C_ij/ε + f_i/ε)` for the soft-min values `f`.
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
fn softmin_grad_kernel<F: Float>(
    u: &Tensor<F>,
    v: &Tensor<F>,
    h: &Tensor<F>,
    f: &Tensor<F>,
    out: &mut Tensor<F>,
    eps: f32,
    #[comptime] d: usize,
    #[comptime] tile: usize,
    #[comptime] p1: bool,
    #[define(F)] _dtype: ElemType,
) {
    let n = u.shape(0);
    let m = v.shape(0);
    let i = CUBE_POS_X as usize * CUBE_DIM_X as usize + UNIT_POS_X as usize;
    let a = own_row::<F>(u, i, n, d);
    let inv_eps = F::new(1.0) / F::cast_from(eps);
    let mut row = i;
    if row >= n {
        row = n - 1;
    }
    let fi = f[row] * inv_eps;
    let mut tile_v = Shared::new_slice(tile * d);
    let mut tile_h = Shared::new_slice(tile);
    let mut total = F::new(0.0);
    let mut weighted = Array::<F>::new(d);
    #[unroll]
    for k in 0..d {
        weighted[k] = F::new(0.0);
    }
    let tiles = (m + tile - 1) / tile;
    for t in 0..tiles {
        let j0 = t * tile;
        load_tile::<F>(v, h, &mut tile_v, &mut tile_h, j0, m, d, tile);
        sync_cube();
        for rr in 0..tile / UNROLL {
            #[unroll]
            for q in 0..UNROLL {
                let r = rr * UNROLL + q;
                if j0 + r < m {
                    let d2 = sq_dist::<F>(&a, &tile_v, r, d);
                    let (c, dc) = cost::<F>(d2, p1);
                    let weight = (tile_h[r] - c * inv_eps + fi).exp() * dc;
                    total += weight;
                    #[unroll]
                    for k in 0..d {
                        weighted[k] += weight * tile_v[r * d + k];
                    }
                }
            }
        }
        sync_cube();
    }
    if i < n {
        #[unroll]
        for k in 0..d {
            out[i * d + k] = total * a[k] - weighted[k];
        }
    }
}

fn elem_type(dtype: DType) -> ElemType {
    match dtype {
        DType::F64 => ElemType::Float(FloatKind::F64),
        DType::F16 => ElemType::Float(FloatKind::F16),
        DType::BF16 => ElemType::Float(FloatKind::BF16),
        _ => ElemType::Float(FloatKind::F32),
    }
}

/// What every launch needs: contiguous inputs, the output, the grid.
struct Launch {
    n: usize,
    d: usize,
    tile: usize,
    dtype: DType,
    count: CubeCount,
    dim: CubeDim,
}

fn launch_for(u: &CubeTensor, v: &CubeTensor) -> Launch {
    let [n, d] = u.meta.shape().dims::<2>();
    let [_, dv] = v.meta.shape().dims::<2>();
    assert_eq!(d, dv, "both clouds have the same dimension");
    assert!(
        n > 0 && d > 0 && d <= MAX_DIM,
        "non-empty clouds with d ≤ {MAX_DIM}"
    );
    Launch {
        n,
        d,
        tile: tile_rows(d),
        dtype: u.dtype,
        count: CubeCount::Static(n.div_ceil(UNITS) as u32, 1, 1),
        dim: CubeDim::new_1d(UNITS as u32),
    }
}

fn output(like: &CubeTensor, shape: Shape) -> CubeTensor {
    empty_device_contiguous_dtype(like.client.clone(), like.device.clone(), shape, like.dtype)
}

/// An empty `v` (m = 0) makes every sum zero and every soft-min +∞: handled on the host side,
/// the kernels assume m ≥ 1 for the soft-min.
impl FusedOps for CubeBackend {
    fn gaussian_sums(
        u: FloatTensor<Self>,
        v: FloatTensor<Self>,
        w: FloatTensor<Self>,
        gammas: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        let (u, v, w, gammas) = (
            into_contiguous(u),
            into_contiguous(v),
            into_contiguous(w),
            into_contiguous(gammas),
        );
        let l = launch_for(&u, &v);
        let bandwidths = gammas.meta.shape().num_elements();
        let out = output(&u, Shape::new([l.n]));
        gaussian_sums_kernel::launch(
            &u.client.clone(),
            l.count,
            l.dim,
            u.into_tensor_arg(),
            v.into_tensor_arg(),
            w.into_tensor_arg(),
            gammas.into_tensor_arg(),
            out.clone().into_tensor_arg(),
            l.d,
            l.tile,
            bandwidths,
            elem_type(l.dtype),
        );
        out
    }

    fn gaussian_sums_grad(
        u: FloatTensor<Self>,
        v: FloatTensor<Self>,
        w: FloatTensor<Self>,
        gammas: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        let (u, v, w, gammas) = (
            into_contiguous(u),
            into_contiguous(v),
            into_contiguous(w),
            into_contiguous(gammas),
        );
        let l = launch_for(&u, &v);
        let bandwidths = gammas.meta.shape().num_elements();
        let out = output(&u, Shape::new([l.n, l.d]));
        gaussian_grad_kernel::launch(
            &u.client.clone(),
            l.count,
            l.dim,
            u.into_tensor_arg(),
            v.into_tensor_arg(),
            w.into_tensor_arg(),
            gammas.into_tensor_arg(),
            out.clone().into_tensor_arg(),
            l.d,
            l.tile,
            bandwidths,
            elem_type(l.dtype),
        );
        out
    }

    fn lse_softmin(
        u: FloatTensor<Self>,
        v: FloatTensor<Self>,
        h: FloatTensor<Self>,
        eps: f32,
        p1: bool,
    ) -> FloatTensor<Self> {
        let (u, v, h) = (into_contiguous(u), into_contiguous(v), into_contiguous(h));
        let l = launch_for(&u, &v);
        let out = output(&u, Shape::new([l.n]));
        softmin_kernel::launch(
            &u.client.clone(),
            l.count,
            l.dim,
            u.into_tensor_arg(),
            v.into_tensor_arg(),
            h.into_tensor_arg(),
            out.clone().into_tensor_arg(),
            eps,
            l.d,
            l.tile,
            p1,
            elem_type(l.dtype),
        );
        out
    }

    fn lse_softmin_grad(
        u: FloatTensor<Self>,
        v: FloatTensor<Self>,
        h: FloatTensor<Self>,
        f: FloatTensor<Self>,
        eps: f32,
        p1: bool,
    ) -> FloatTensor<Self> {
        let (u, v, h, f) = (
            into_contiguous(u),
            into_contiguous(v),
            into_contiguous(h),
            into_contiguous(f),
        );
        let l = launch_for(&u, &v);
        let out = output(&u, Shape::new([l.n, l.d]));
        softmin_grad_kernel::launch(
            &u.client.clone(),
            l.count,
            l.dim,
            u.into_tensor_arg(),
            v.into_tensor_arg(),
            h.into_tensor_arg(),
            f.into_tensor_arg(),
            out.clone().into_tensor_arg(),
            eps,
            l.d,
            l.tile,
            p1,
            elem_type(l.dtype),
        );
        out
    }
}
