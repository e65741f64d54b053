//! Fused CPU kernels: the hot loops of both divergences as tiled reductions on host memory, for
//! the CPU backends (ndarray and flex).
//!
//! burn's portable tensor ops run every elementwise step as its own pass over an `n × m` matrix
//! (and its autodiff keeps each one for the backward pass). On the CPU the same quantities are
//! cheaper as a few fused loops over blocks of rows:
//!
//! - the Sinkhorn soft-min `f_i = −ε log Σ_j exp(h_j − C_ij/ε)` is one two-pass log-sum-exp per
//!   row over a cost matrix computed once (one matrix product), with a vectorisable `exp`;
//! - the Gaussian-kernel sums `Σ_ij u_i v_j k(x_i, y_j)` behind MMD² and their gradients are
//!   computed over blocks of `ROWS` rows: one matrix product for the distances, one fused
//!   `exp` pass, and matrix products for the gradient, in O(ROWS · m) memory.
//!
//! Gradients: these kernels compute the value `v` and its gradient `G = ∂v/∂x` explicitly and
//! hand burn the *linearisation* `v + Σ (x − x̄) ⊙ G` (with `x̄` the detached `x`): its value is
//! exactly `v` and its gradient with respect to `x` exactly `G`, so any graph built on top of it
//! (the penalty, the trainer's loss) back-propagates the same gradient as the portable path,
//! which the tests check. Second derivatives are not available through this path.
//!
//! [`is_host`] says whether a device takes this path; the portable tensor-op versions stay
//! available ([`crate::mmd::Mmd::value_portable`], [`crate::sinkhorn::Sinkhorn::solve_portable`])
//! and are the reference the kernels are tested against.

use crate::geometry::{Pair, Power, SoftminOp};
use burn::Tensor;
use burn::tensor::{DType, Device, Element, TensorData};
use ndarray::linalg::general_mat_mul;
use ndarray::{ArrayView2, ArrayViewMut2, LinalgScalar};
use rayon::prelude::*;
use std::ops::{Add, AddAssign, Mul, Neg, Sub};

mod streamed;
pub use streamed::Packed;

/// Rows per block of the blocked kernels.
const ROWS: usize = 256;
/// Accumulator lanes of the row reductions (lets the compiler vectorise them).
const LANES: usize = 16;

/// Whether tensors on `device` take the fused CPU kernels: the CPU backends (ndarray and
/// flex), with or without autodiff.
pub fn is_host(device: &Device) -> bool {
    let inner = device.clone().inner();
    #[cfg(feature = "ndarray")]
    #[allow(deprecated)] // Device::ndarray
    if inner == Device::ndarray() {
        return true;
    }
    inner == Device::flex()
}

/// The floating-point types the kernels run in (f32 and f64).
pub trait Real:
    Element
    + LinalgScalar
    + Copy
    + Send
    + Sync
    + PartialOrd
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Neg<Output = Self>
    + AddAssign
{
    /// burn's dtype for this type.
    const DTYPE: DType;
    /// −∞.
    const NEG_INF: Self;
    /// From an f64 (rounded).
    fn of(v: f64) -> Self;
    /// To an f64.
    fn to_f64(self) -> f64;
    /// `self · a + b` with one rounding (IEEE fused multiply-add, the same bits on every CPU).
    fn mul_add(self, a: Self, b: Self) -> Self;
    /// `exp(x)` for `x ≤ 0`, written to vectorise; 0 below the smallest normal result.
    fn exp_nonpos(self) -> Self;
    /// [`Real::exp_nonpos`] with fused multiply-adds (fewer instructions where the CPU has
    /// them; the same bits on every CPU, not the same bits as `exp_nonpos`).
    fn exp_nonpos_fused(self) -> Self;
    /// The larger of two values (no NaN handling: compiles to a vector max).
    #[inline(always)]
    fn maxv(self, other: Self) -> Self {
        if self > other { self } else { other }
    }
}

/// `exp` for `x ≤ 0` by range reduction `x = k ln 2 + r`, `|r| ≤ ln 2 / 2`, and a Taylor
/// polynomial for `e^r` (degree 7 in f32: truncation error < 6e-9 relative; degree 13 in f64:
/// < 5e-18), with `2^k` built in the exponent bits. The rounding uses the `1.5 · 2^p` shift, so
/// the loop has no branches or calls and vectorises.
macro_rules! fast_exp {
    ($name:ident, $fused:ident, $f:ty, $mant:expr, $bias:expr, $lo:expr, $($c:expr),+) => {
        fast_exp!(@one $name, |a: $f, b: $f, c: $f| a * b + c, $f, $mant, $bias, $lo, $($c),+);
        fast_exp!(@one $fused, <$f>::mul_add, $f, $mant, $bias, $lo, $($c),+);
    };
    (@one $name:ident, $madd:expr, $f:ty, $mant:expr, $bias:expr, $lo:expr, $($c:expr),+) => {
        #[inline(always)]
        // One set of literals for both types: exact in f64, rounded (as intended) in f32.
        #[allow(clippy::excessive_precision)]
        fn $name(x: $f) -> $f {
            const SHIFT: $f = 1.5 * (1u64 << $mant) as $f;
            const LN2_HI: $f = 0.693_145_751_953_125; // exact in f32 and f64
            const LN2_LO: $f = 1.428_606_820_309_417_2e-6;
            let madd = $madd;
            let under = x < $lo;
            let x = if under { $lo } else { x };
            let t = madd(x, std::f64::consts::LOG2_E as $f, SHIFT);
            let k = t - SHIFT; // round(x / ln 2)
            let r = madd(-k, LN2_LO, madd(-k, LN2_HI, x));
            let coefs: &[$f] = &[$($c),+];
            let mut p: $f = 0.0;
            for &c in coefs.iter().rev() {
                p = madd(p, r, c);
            }
            // t's low mantissa bits hold k: 2^k = ((bits(t) − bits(SHIFT) + bias) << mant).
            let scale = <$f>::from_bits(
                t.to_bits()
                    .wrapping_sub(SHIFT.to_bits())
                    .wrapping_add($bias)
                    << $mant,
            );
            if under { 0.0 } else { p * scale }
        }
    };
}

fast_exp!(
    exp_nonpos_f32,
    exp_nonpos_f32_fused,
    f32,
    23,
    127,
    -87.0,
    1.0,
    1.0,
    0.5,
    1.0 / 6.0,
    1.0 / 24.0,
    1.0 / 120.0,
    1.0 / 720.0,
    1.0 / 5040.0
);
fast_exp!(
    exp_nonpos_f64,
    exp_nonpos_f64_fused,
    f64,
    52,
    1023,
    -708.0,
    1.0,
    1.0,
    0.5,
    1.0 / 6.0,
    1.0 / 24.0,
    1.0 / 120.0,
    1.0 / 720.0,
    1.0 / 5040.0,
    1.0 / 40320.0,
    1.0 / 362_880.0,
    1.0 / 3_628_800.0,
    1.0 / 39_916_800.0,
    1.0 / 479_001_600.0,
    1.0 / 6_227_020_800.0
);

impl Real for f32 {
    const DTYPE: DType = DType::F32;
    const NEG_INF: Self = f32::NEG_INFINITY;
    fn of(v: f64) -> Self {
        v as f32
    }
    fn to_f64(self) -> f64 {
        self as f64
    }
    #[inline(always)]
    fn mul_add(self, a: Self, b: Self) -> Self {
        f32::mul_add(self, a, b)
    }
    #[inline(always)]
    fn exp_nonpos(self) -> Self {
        exp_nonpos_f32(self)
    }
    #[inline(always)]
    fn exp_nonpos_fused(self) -> Self {
        exp_nonpos_f32_fused(self)
    }
}

impl Real for f64 {
    const DTYPE: DType = DType::F64;
    const NEG_INF: Self = f64::NEG_INFINITY;
    fn of(v: f64) -> Self {
        v
    }
    fn to_f64(self) -> f64 {
        self
    }
    #[inline(always)]
    fn mul_add(self, a: Self, b: Self) -> Self {
        f64::mul_add(self, a, b)
    }
    #[inline(always)]
    fn exp_nonpos(self) -> Self {
        exp_nonpos_f64(self)
    }
    #[inline(always)]
    fn exp_nonpos_fused(self) -> Self {
        exp_nonpos_f64_fused(self)
    }
}

/// A tensor's values on the host, in `F` (the tensor must have that dtype).
pub fn to_host<const D: usize, F: Real>(t: &Tensor<D>) -> Vec<F> {
    t.clone()
        .detach()
        .into_data()
        .convert::<F>()
        .try_into_vec::<F>()
        .expect("a float tensor converts to its own dtype")
}

/// Host values as a tensor on `device` (dtype `F`).
pub fn from_host<const D: usize, F: Real>(
    values: Vec<F>,
    shape: [usize; D],
    device: &Device,
) -> Tensor<D> {
    Tensor::<D>::from_data(TensorData::new(values, shape), (device, F::DTYPE))
}

/// `(x − x̄) ⊙ G` `[n, d]` for the rows of `x` and a gradient `G` `[n · d]` (`x̄` the detached
/// `x`): zero-valued, with gradient `G` with respect to `x`. Added to a value `v` (row sums for
/// a per-row value, the total for a scalar) it gives the linearisation `v + Σ (x − x̄) ⊙ G`,
/// which has the value `v` and the gradient `G` (see the module docs).
pub fn tangent<F: Real>(x: &Tensor<2>, grad: Vec<F>) -> Tensor<2> {
    let [n, d] = x.dims();
    let g = from_host(grad, [n, d], &x.device()); // [n, d]
    (x.clone() - x.clone().detach()) * g
}

fn view<F: Real>(v: &[F], rows: usize, cols: usize) -> ArrayView2<'_, F> {
    ArrayView2::from_shape((rows, cols), v).expect("buffer length matches its shape")
}

fn view_mut<F: Real>(v: &mut [F], rows: usize, cols: usize) -> ArrayViewMut2<'_, F> {
    ArrayViewMut2::from_shape((rows, cols), v).expect("buffer length matches its shape")
}

/// `|x_i|²` for the rows of `x` `[n, d]`.
fn sq_norms<F: Real>(x: &[F], n: usize, d: usize) -> Vec<F> {
    if d == 0 {
        return vec![F::zero(); n];
    }
    x.chunks_exact(d)
        .map(|r| r.iter().fold(F::zero(), |s, &v| s + v * v))
        .collect()
}

/// A point cloud on the host: `n` rows of `d` values, row-major.
#[derive(Debug, Clone)]
pub struct Cloud<F> {
    /// The values `[n · d]`.
    pub x: Vec<F>,
    /// Rows.
    pub n: usize,
    /// Columns.
    pub d: usize,
    sq: Vec<F>,
}

impl<F: Real> Cloud<F> {
    /// A cloud from row-major values.
    pub fn new(x: Vec<F>, n: usize, d: usize) -> Self {
        assert_eq!(x.len(), n * d, "cloud of {n} × {d} values");
        let sq = sq_norms(&x, n, d);
        Self { x, n, d, sq }
    }

    /// A cloud from a `[n, d]` tensor of dtype `F`.
    pub fn from_tensor(t: &Tensor<2>) -> Self {
        let [n, d] = t.dims();
        Self::new(to_host(t), n, d)
    }

    fn rows(&self, r0: usize, r1: usize) -> &[F] {
        &self.x[r0 * self.d..r1 * self.d]
    }
}

/// Squared distances `|u_i − v_j|²` (clamped at 0) for the rows `r0..r1` of `u`, into `out`
/// `[(r1 − r0) · m]`: one matrix product plus the norms.
fn sq_dists_rows<F: Real>(u: &Cloud<F>, r0: usize, r1: usize, v: &Cloud<F>, out: &mut [F]) {
    let (b, m, d) = (r1 - r0, v.n, u.d);
    let mut o = view_mut(out, b, m);
    general_mat_mul(
        F::of(-2.0),
        &view(u.rows(r0, r1), b, d),
        &view(&v.x, m, d).t(),
        F::zero(),
        &mut o,
    );
    out.par_chunks_mut(m.max(1))
        .zip(u.sq[r0..r1].par_iter())
        .with_min_len(16)
        .for_each(|(row, &ui)| {
            for (c, &vj) in row.iter_mut().zip(&v.sq) {
                let t = *c + ui + vj;
                *c = t.maxv(F::zero());
            }
        });
}

/// The cost matrix `C(u_i, v_j)` `[n · m]` of GeomLoss's costs: `|u − v|²/2` for p = 2,
/// `sqrt(max(|u − v|², 1e-8))` for p = 1.
pub fn cost_matrix<F: Real>(p: Power, u: &Cloud<F>, v: &Cloud<F>) -> Vec<F> {
    let mut c = vec![F::zero(); u.n * v.n];
    cost_rows(p, u, 0, u.n, v, &mut c);
    c
}

/// The rows `r0..r1` of [`cost_matrix`], into `out` `[(r1 − r0) · m]`.
fn cost_rows<F: Real>(p: Power, u: &Cloud<F>, r0: usize, r1: usize, v: &Cloud<F>, out: &mut [F]) {
    if r1 == r0 || v.n == 0 {
        return;
    }
    sq_dists_rows(u, r0, r1, v, out);
    let (half, floor) = (F::of(0.5), F::of(1e-8));
    out.par_chunks_mut(4096).for_each(|chunk| match p {
        Power::P2 => chunk.iter_mut().for_each(|c| *c = *c * half),
        Power::P1 => chunk
            .iter_mut()
            .for_each(|c| *c = F::of(c.maxv(floor).to_f64().sqrt())),
    });
}

/// The cost matrix of one pair of clouds, as the soft-mins read it: kept in memory (one pass
/// over it per soft-min), or, above [`KEPT_COSTS_BYTES`], recomputed a tile at a time in every
/// soft-min and reduced by an online log-sum-exp ([`Packed`]; memory O(m · d)).
pub enum Costs<F> {
    /// The whole `[n · m]` matrix.
    Kept(Vec<F>),
    /// Recomputed from the clouds in every soft-min (the second cloud packed for it).
    Streamed(Packed<F>),
}

/// The most memory the four cost matrices of a Sinkhorn divergence may take before they are
/// recomputed a tile at a time instead (256 MiB: n = m = 4,096 in f32 keeps them).
pub const KEPT_COSTS_BYTES: usize = 256 << 20;

impl<F: Real> Costs<F> {
    /// The costs of `u` against `v`, kept when `keep`.
    pub fn new(p: Power, u: &Cloud<F>, v: &Cloud<F>, keep: bool) -> Self {
        if keep {
            Costs::Kept(cost_matrix(p, u, v))
        } else {
            Costs::Streamed(Packed::new(p, v))
        }
    }

    /// The rows `r0..r1`: a slice of the kept matrix, or computed into `buf`.
    fn rows<'a>(
        &'a self,
        u: &Cloud<F>,
        r0: usize,
        r1: usize,
        v: &Cloud<F>,
        buf: &'a mut Vec<F>,
    ) -> &'a [F] {
        let m = v.n;
        match self {
            Costs::Kept(c) => &c[r0 * m..r1 * m],
            Costs::Streamed(packed) => {
                buf.resize((r1 - r0) * m, F::zero());
                packed.cost_rows(u, r0, r1, buf);
                &buf[..]
            }
        }
    }
}

/// A chunk of `LANES` values as an array (a length known to the compiler).
#[inline(always)]
fn lanes<F>(chunk: &[F]) -> &[F; LANES] {
    chunk.try_into().expect("chunks_exact(LANES)")
}

/// `(max_j t_j, Σ_j exp(t_j − max))` with `t_j = h_j − c_j · inv_eps`.
#[inline(always)]
fn lse_row<F: Real>(c: &[F], h: &[F], inv_eps: F) -> (F, F) {
    let mut mx = [F::NEG_INF; LANES];
    let (cc, hc) = (c.chunks_exact(LANES), h.chunks_exact(LANES));
    let (cr, hr) = (cc.remainder(), hc.remainder());
    for (cb, hb) in cc.zip(hc) {
        let (cb, hb) = (lanes(cb), lanes(hb));
        for l in 0..LANES {
            mx[l] = mx[l].maxv(hb[l] - cb[l] * inv_eps);
        }
    }
    let mut top = mx.iter().fold(F::NEG_INF, |a, &b| a.maxv(b));
    for (&cj, &hj) in cr.iter().zip(hr) {
        top = top.maxv(hj - cj * inv_eps);
    }
    if top == F::NEG_INF {
        return (top, F::zero());
    }
    let mut s = [F::zero(); LANES];
    for (cb, hb) in c.chunks_exact(LANES).zip(h.chunks_exact(LANES)) {
        let (cb, hb) = (lanes(cb), lanes(hb));
        for l in 0..LANES {
            s[l] += (hb[l] - cb[l] * inv_eps - top).exp_nonpos();
        }
    }
    let mut sum = s.iter().fold(F::zero(), |a, &b| a + b);
    for (&cj, &hj) in cr.iter().zip(hr) {
        sum += (hj - cj * inv_eps - top).exp_nonpos();
    }
    (top, sum)
}

/// [`lse_row`] compiled for the vector units the CPU has, chosen at run time: the default
/// x86-64 target has SSE2 only, so without this the 16-lane loops run on 4-lane registers.
/// Every lane accumulates the same terms in the same order on every target (no reassociation,
/// no fused multiply-add unless written), so the results are the same bits.
#[multiversion::multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512dq+avx512vl+avx2+fma",
    "x86_64+avx2+fma",
    "aarch64+neon"
))]
fn lse_row_simd<F: Real>(c: &[F], h: &[F], inv_eps: F) -> (F, F) {
    lse_row(c, h, inv_eps)
}

/// `−ε (max + log sum)`.
fn softmin_value<F: Real>(eps: f64, (top, sum): (F, F)) -> F {
    F::of(-eps * (top.to_f64() + sum.to_f64().ln()))
}

/// The soft-min of every row of `costs` of `u` against `v`: `f_i = −ε log Σ_j exp(h_j − C_ij/ε)`.
pub fn softmin_costs<F: Real>(
    costs: &Costs<F>,
    u: &Cloud<F>,
    v: &Cloud<F>,
    eps: f64,
    h: &[F],
) -> Vec<F> {
    match costs {
        Costs::Kept(c) => softmin_rows(c, v.n, eps, h),
        Costs::Streamed(packed) => packed.softmin(u, eps, h),
    }
}

/// The soft-min of every row of a cost matrix `c` `[n · m]`: `f_i = −ε log Σ_j exp(h_j − c_ij/ε)`.
pub fn softmin_rows<F: Real>(c: &[F], m: usize, eps: f64, h: &[F]) -> Vec<F> {
    let n = c.len().checked_div(m).unwrap_or(0);
    let inv = F::of(1.0 / eps);
    let mut f = vec![F::zero(); n];
    f.par_iter_mut()
        .zip(c.par_chunks(m.max(1)))
        .with_min_len(8)
        .for_each(|(fi, row)| *fi = softmin_value(eps, lse_row_simd(row, h, inv)));
    f
}

/// The soft-min of the rows of `C(u, v)` and its gradient with respect to the rows of `u`:
/// `∂f_i/∂u_i = Σ_j π_ij ∂C(u_i, v_j)/∂u_i` with `π_ij = softmax_j(h_j − C_ij/ε)` (`v` held
/// fixed, as in the final Sinkhorn step). Blocked over rows: memory O(ROWS · m).
///
/// Returns `(f [n], grad [n · d])`.
pub fn softmin_rows_grad<F: Real>(
    p: Power,
    costs: &Costs<F>,
    u: &Cloud<F>,
    v: &Cloud<F>,
    eps: f64,
    h: &[F],
) -> (Vec<F>, Vec<F>) {
    let (n, m, d) = (u.n, v.n, u.d);
    let inv = F::of(1.0 / eps);
    let mut f = vec![F::zero(); n];
    let mut grad = vec![F::zero(); n * d];
    if m == 0 || d == 0 {
        return (f, grad);
    }
    let floor = F::of(1e-8);
    let mut w = vec![F::zero(); ROWS.min(n) * m];
    let mut rowsum = vec![F::zero(); ROWS.min(n)];
    let mut buf = Vec::new();
    for r0 in (0..n).step_by(ROWS) {
        let r1 = (r0 + ROWS).min(n);
        let b = r1 - r0;
        let c = costs.rows(u, r0, r1, v, &mut buf); // [b · m]
        // Softmax weights π_ij, divided by C_ij for p = 1 (d|u − v|/du = (u − v)/|u − v|).
        w[..b * m]
            .par_chunks_mut(m)
            .zip(f[r0..r1].par_iter_mut())
            .zip(rowsum[..b].par_iter_mut())
            .enumerate()
            .for_each(|(i, ((wrow, fi), rs))| {
                let crow = &c[i * m..(i + 1) * m];
                let (top, sum) = lse_row_simd(crow, h, inv);
                *fi = softmin_value(eps, (top, sum));
                let norm = F::of(1.0 / sum.to_f64());
                let mut total = F::zero();
                for ((wj, &cj), &hj) in wrow.iter_mut().zip(crow).zip(h) {
                    let pij = (hj - cj * inv - top).exp_nonpos() * norm;
                    let wij = match p {
                        Power::P2 => pij,
                        // C = sqrt(max(d², 1e-8)): no gradient where the clamp is active.
                        Power::P1 => {
                            if cj * cj > floor {
                                F::of(pij.to_f64() / cj.to_f64())
                            } else {
                                F::zero()
                            }
                        }
                    };
                    *wj = wij;
                    total += wij;
                }
                *rs = total;
            });
        // grad_i = u_i Σ_j w_ij − Σ_j w_ij v_j
        let mut g = view_mut(&mut grad[r0 * d..r1 * d], b, d);
        general_mat_mul(
            F::one(),
            &view(&w[..b * m], b, m),
            &view(&v.x, m, d),
            F::zero(),
            &mut g,
        );
        grad[r0 * d..r1 * d]
            .par_chunks_mut(d)
            .zip(u.rows(r0, r1).par_chunks(d))
            .zip(rowsum[..b].par_iter())
            .for_each(|((gi, ui), &s)| {
                for (g, &x) in gi.iter_mut().zip(ui) {
                    *g = x * s - *g;
                }
            });
    }
    (f, grad)
}

/// The soft-min of [`crate::sinkhorn`] on the fused CPU kernels: the four cost matrices are
/// computed once (one matrix product each) and each soft-min is one fused pass over a matrix.
pub struct HostSoftmin<F> {
    p: Power,
    x: Cloud<F>,
    y: Cloud<F>,
    xy: Costs<F>,
    yx: Costs<F>,
    xx: Option<Costs<F>>,
    yy: Option<Costs<F>>,
    device: Device,
}

impl<F: Real> HostSoftmin<F> {
    /// The cost matrices of `x` `[n, d]` and `y` `[m, d]` (tensors of dtype `F`); the self
    /// costs only when `self_costs`.
    pub fn new(p: Power, x: &Tensor<2>, y: &Tensor<2>, self_costs: bool) -> Self {
        // The iterations' potentials live on the plain (non-autodiff) CPU device.
        let device = x.device().inner();
        let (x, y) = (Cloud::from_tensor(x), Cloud::from_tensor(y));
        let (n, m) = (x.n, y.n);
        let entries = 2 * n * m + if self_costs { n * n + m * m } else { 0 };
        let keep = entries.saturating_mul(std::mem::size_of::<F>()) <= KEPT_COSTS_BYTES;
        let (xy, yx) = rayon::join(
            || Costs::new(p, &x, &y, keep),
            || Costs::new(p, &y, &x, keep),
        );
        let (xx, yy) = if self_costs {
            let (xx, yy) = rayon::join(
                || Costs::new(p, &x, &x, keep),
                || Costs::new(p, &y, &y, keep),
            );
            (Some(xx), Some(yy))
        } else {
            (None, None)
        };
        Self {
            p,
            x,
            y,
            xy,
            yx,
            xx,
            yy,
            device,
        }
    }

    fn parts(&self, pair: Pair) -> (&Costs<F>, &Cloud<F>, &Cloud<F>) {
        let own = "self costs were built";
        match pair {
            Pair::XY => (&self.xy, &self.x, &self.y),
            Pair::YX => (&self.yx, &self.y, &self.x),
            Pair::XX => (self.xx.as_ref().expect(own), &self.x, &self.x),
            Pair::YY => (self.yy.as_ref().expect(own), &self.y, &self.y),
        }
    }

    /// Whether the cost matrices are kept in memory (else recomputed a tile at a time).
    pub fn keeps_costs(&self) -> bool {
        matches!(self.xy, Costs::Kept(_))
    }

    /// The final, tracked soft-min: the value with its gradient with respect to the first
    /// cloud of `pair`, as the linearisation on the tracked points `x` or `y`.
    pub fn tracked<'a>(&'a self, x: &'a Tensor<2>, y: &'a Tensor<2>) -> TrackedHostSoftmin<'a, F> {
        TrackedHostSoftmin { host: self, x, y }
    }
}

impl<F: Real> SoftminOp for HostSoftmin<F> {
    fn softmin(&self, pair: Pair, eps: f64, h: Tensor<1>) -> Tensor<1> {
        let (c, u, v) = self.parts(pair);
        let f = softmin_costs(c, u, v, eps, &to_host::<1, F>(&h));
        from_host(f, [u.n], &self.device)
    }
}

/// [`HostSoftmin`] for the final step: soft-mins that carry their gradient (see
/// [`HostSoftmin::tracked`]).
pub struct TrackedHostSoftmin<'a, F> {
    host: &'a HostSoftmin<F>,
    x: &'a Tensor<2>,
    y: &'a Tensor<2>,
}

impl<F: Real> SoftminOp for TrackedHostSoftmin<'_, F> {
    fn softmin(&self, pair: Pair, eps: f64, h: Tensor<1>) -> Tensor<1> {
        let (c, u, v) = self.host.parts(pair);
        let points = match pair {
            Pair::XY | Pair::XX => self.x,
            Pair::YX | Pair::YY => self.y,
        };
        let device = points.device();
        let hv = to_host::<1, F>(&h);
        if !points.is_tracked() {
            let f = softmin_costs(c, u, v, eps, &hv);
            return from_host(f, [u.n], &device);
        }
        let (f, grad) = softmin_rows_grad(self.host.p, c, u, v, eps, &hv);
        // [n]: f_i + (u_i − ū_i) · ∂f_i/∂u_i
        from_host(f, [u.n], &device) + tangent(points, grad).sum_dim(1).reshape([u.n])
    }
}

/// Gaussian-kernel sums `S = Σ_ij wu_i wv_j k(u_i, v_j)` with `k = Σ_σ exp(−|u − v|²/(2σ²))`,
/// and their gradients with respect to the rows of `u` (first argument only) and of `v`
/// (second argument only), when asked. With `skip_diagonal` (u = v), the pairs `i = j` are left
/// out. Blocked over rows of `u`: memory O(ROWS · m).
pub struct KernelSums<F> {
    /// `S`.
    pub value: f64,
    /// `∂S/∂u` `[n · d]`.
    pub grad_u: Option<Vec<F>>,
    /// `∂S/∂v` `[m · d]`.
    pub grad_v: Option<Vec<F>>,
}

/// One row of [`gaussian_kernel_sums`], in place: the squared distances `row` `[m]` become the
/// gradient weights `W_j = wv_j Σ_σ exp(−d²/(2σ²))/σ²`; returns the row's value
/// `Σ_j wv_j Σ_σ exp(−d²/(2σ²))` and `Σ_j W_j`. `diag`: the pair of a self sum to leave out
/// (its column and distance). Compiled for the vector units the CPU has, as [`lse_row_simd`].
#[multiversion::multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512dq+avx512vl+avx2+fma",
    "x86_64+avx2+fma",
    "aarch64+neon"
))]
fn kernel_row<F: Real>(
    row: &mut [F],
    wv: &[F],
    scales: &[(F, F)],
    diag: Option<(usize, F)>,
) -> (f64, F) {
    let m = row.len();
    let (mut val, mut tot) = ([F::zero(); LANES], [F::zero(); LANES]);
    let (full, rest) = row.split_at_mut(m - m % LANES);
    for (jb, chunk) in full.chunks_exact_mut(LANES).enumerate() {
        let chunk: &mut [F; LANES] = chunk.try_into().expect("LANES values");
        let wvb = lanes(&wv[jb * LANES..(jb + 1) * LANES]);
        let (mut k, mut kp) = ([F::zero(); LANES], [F::zero(); LANES]);
        for &(c, inv) in scales {
            for l in 0..LANES {
                let e = (chunk[l] * c).exp_nonpos();
                k[l] += e;
                kp[l] += e * inv;
            }
        }
        for l in 0..LANES {
            val[l] += wvb[l] * k[l];
            let wij = wvb[l] * kp[l];
            tot[l] += wij;
            chunk[l] = wij;
        }
    }
    let kernel = |d2: F| {
        scales
            .iter()
            .fold((F::zero(), F::zero()), |(k, kp), &(c, inv)| {
                let e = (d2 * c).exp_nonpos();
                (k + e, kp + e * inv)
            })
    };
    for (j, d2) in (m - rest.len()..m).zip(rest.iter_mut()) {
        let (k, kp) = kernel(*d2);
        val[0] += wv[j] * k;
        let wij = wv[j] * kp;
        tot[0] += wij;
        *d2 = wij;
    }
    if let Some((j, d2)) = diag {
        let (k, kp) = kernel(d2);
        val[0] += -(wv[j] * k);
        tot[0] += -(wv[j] * kp);
        row[j] = F::zero();
    }
    (
        val.iter().fold(0.0, |a, &b| a + b.to_f64()),
        tot.iter().fold(F::zero(), |a, &b| a + b),
    )
}

/// See [`KernelSums`].
#[allow(clippy::too_many_arguments)]
pub fn gaussian_kernel_sums<F: Real>(
    u: &Cloud<F>,
    wu: &[F],
    v: &Cloud<F>,
    wv: &[F],
    sigmas: &[f64],
    skip_diagonal: bool,
    want_u: bool,
    want_v: bool,
) -> KernelSums<F> {
    let (n, m, d) = (u.n, v.n, u.d);
    let mut out = KernelSums {
        value: 0.0,
        grad_u: want_u.then(|| vec![F::zero(); n * d]),
        grad_v: want_v.then(|| vec![F::zero(); m * d]),
    };
    if n == 0 || m == 0 {
        return out;
    }
    // exp(−d²/(2σ²)) and its derivative weight 1/σ² for each bandwidth.
    let scales: Vec<(F, F)> = sigmas
        .iter()
        .map(|&s| (F::of(-0.5 / (s * s)), F::of(1.0 / (s * s))))
        .collect();
    let grads = want_u || want_v;
    let mut w = vec![F::zero(); ROWS.min(n) * m];
    let mut rowsum = vec![F::zero(); ROWS.min(n)];
    let mut rowval = vec![0.0f64; ROWS.min(n)];
    // [wu_i u_i, wu_i] for the gradient with respect to v: Wᵀ [wu ∘ U | wu].
    let mut wu_u = vec![F::zero(); ROWS.min(n) * (d + 1)];
    let mut colacc = vec![F::zero(); m * (d + 1)];
    for r0 in (0..n).step_by(ROWS) {
        let r1 = (r0 + ROWS).min(n);
        let b = r1 - r0;
        sq_dists_rows(u, r0, r1, v, &mut w[..b * m]);
        // In place: d² → W_ij = wv_j Σ_σ exp(−d²/(2σ²))/σ²; the value's row sums on the side.
        w[..b * m]
            .par_chunks_mut(m)
            .zip(rowsum[..b].par_iter_mut())
            .zip(rowval[..b].par_iter_mut())
            .enumerate()
            .for_each(|(i, ((row, rs), rv))| {
                // The diagonal pair of a self sum, removed after the fact.
                let diag = (skip_diagonal && r0 + i < m).then(|| (r0 + i, row[r0 + i]));
                (*rv, *rs) = kernel_row(row, wv, &scales, diag);
            });
        out.value += rowval[..b]
            .iter()
            .zip(&wu[r0..r1])
            .map(|(&rv, &wi)| rv * wi.to_f64())
            .sum::<f64>();
        if !grads {
            continue;
        }
        let wb = view(&w[..b * m], b, m);
        if let Some(gu) = out.grad_u.as_mut() {
            // ∂S/∂u_i = −wu_i (u_i Σ_j W_ij − Σ_j W_ij v_j)
            let mut g = view_mut(&mut gu[r0 * d..r1 * d], b, d);
            general_mat_mul(F::one(), &wb, &view(&v.x, m, d), F::zero(), &mut g);
            gu[r0 * d..r1 * d]
                .par_chunks_mut(d.max(1))
                .zip(u.rows(r0, r1).par_chunks(d.max(1)))
                .zip(rowsum[..b].par_iter().zip(wu[r0..r1].par_iter()))
                .for_each(|((gi, ui), (&s, &wi))| {
                    for (g, &x) in gi.iter_mut().zip(ui) {
                        *g = wi * (*g - x * s);
                    }
                });
        }
        if want_v {
            for (i, row) in wu_u[..b * (d + 1)].chunks_exact_mut(d + 1).enumerate() {
                let wi = wu[r0 + i];
                for (o, &x) in row.iter_mut().zip(u.rows(r0 + i, r0 + i + 1)) {
                    *o = wi * x;
                }
                row[d] = wi;
            }
            let mut acc = view_mut(&mut colacc, m, d + 1);
            general_mat_mul(
                F::one(),
                &wb.t(),
                &view(&wu_u[..b * (d + 1)], b, d + 1),
                F::one(),
                &mut acc,
            );
        }
    }
    if let Some(gv) = out.grad_v.as_mut() {
        // ∂S/∂v_j = wv_j Σ_i wu_i Kp_ij (u_i − v_j) = (Wᵀ(wu ∘ U))_j − v_j (Wᵀ wu)_j
        gv.par_chunks_mut(d.max(1))
            .zip(colacc.par_chunks(d + 1))
            .zip(v.x.par_chunks(d.max(1)))
            .for_each(|((gj, acc), vj)| {
                for k in 0..d {
                    gj[k] = acc[k] - vj[k] * acc[d];
                }
            });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_exp_matches_std_exp() {
        let mut worst32 = 0.0f64;
        let mut worst64 = 0.0f64;
        for k in 0..=200_000 {
            let x = -(k as f64) * 86.0 / 200_000.0;
            let e = x.exp();
            worst32 =
                worst32.max(((x as f32).exp_nonpos() as f64 - (x as f32 as f64).exp()).abs() / e);
            worst64 = worst64.max((x.exp_nonpos() - e).abs() / e);
        }
        assert!(worst32 < 3e-7, "f32 relative error {worst32:e}");
        assert!(worst64 < 1e-15, "f64 relative error {worst64:e}");
        assert_eq!((-88.0f32).exp_nonpos(), 0.0);
        assert_eq!((-709.0f64).exp_nonpos(), 0.0);
        assert_eq!(0.0f64.exp_nonpos(), 1.0);
        assert!((-700.0f64).exp_nonpos() > 0.0);
    }

    #[test]
    fn softmin_rows_matches_direct_sum() {
        let (n, m) = (5, 37); // m not a multiple of the lanes
        let c: Vec<f64> = (0..n * m)
            .map(|k| ((k * 7919) % 101) as f64 / 13.0)
            .collect();
        let h: Vec<f64> = (0..m).map(|j| ((j * 31) % 17) as f64 / 5.0 - 1.0).collect();
        for eps in [0.01, 0.3, 5.0] {
            let f = softmin_rows(&c, m, eps, &h);
            for i in 0..n {
                let direct: f64 = (0..m).map(|j| (h[j] - c[i * m + j] / eps).exp()).sum();
                let want = -eps * direct.ln();
                // The direct sum underflows for small ε; compare where it is representable.
                if direct > 1e-300 {
                    assert!(
                        (f[i] - want).abs() <= 1e-12 * want.abs().max(1.0),
                        "{eps} {i}"
                    );
                }
                assert!(f[i].is_finite());
            }
        }
    }

    /// The soft-mins (plain, and with the tracked step's values) and the gradients of one
    /// problem, kept or streamed, as f64.
    fn softmins<F: Real>(p: Power, eps: f64, keep: bool) -> [Vec<f64>; 3] {
        // n and m neither multiples of the tiles nor equal; m over one block of columns.
        let (n, m, d) = (2 * 64 + 7, 600, 3);
        // The same f32 values in both types, off the origin (centring has work to do).
        let val = |k: usize, s: usize| F::of(f64::from(((k * s) % 97) as f32 / 19.0 + 1.5));
        let u = Cloud::new((0..n * d).map(|k| val(k, 7919)).collect(), n, d);
        let v = Cloud::new((0..m * d).map(|k| val(k, 104_729)).collect(), m, d);
        let h: Vec<F> = (0..m).map(|j| val(j, 31)).collect();
        let costs = Costs::new(p, &u, &v, keep);
        let f = softmin_costs(&costs, &u, &v, eps, &h);
        let (tf, grad) = softmin_rows_grad(p, &costs, &u, &v, eps, &h);
        [f, tf, grad].map(|x| x.iter().map(|v| v.to_f64()).collect())
    }

    /// The streamed costs (recomputed a tile at a time, above the memory budget) give the
    /// soft-mins and gradients of the kept matrix: in f64 to 1e-12; in f32 at most twice as far
    /// from the f64 values as the kept matrix's f32 results (largest error over the rows), or 1e-5.
    #[test]
    fn streamed_costs_match_the_kept_matrix() {
        for p in [Power::P1, Power::P2] {
            for eps in [0.05, 1.0] {
                let exact = softmins::<f64>(p, eps, true);
                let streamed = softmins::<f64>(p, eps, false);
                let (kept32, streamed32) = (
                    softmins::<f32>(p, eps, true),
                    softmins::<f32>(p, eps, false),
                );
                for (k, name) in ["soft-min", "tracked soft-min", "gradient"]
                    .iter()
                    .enumerate()
                {
                    // The largest error relative to max(|x|, 1) of `got` against the f64 kept.
                    let worst = |got: &[f64]| {
                        got.iter()
                            .zip(&exact[k])
                            .fold(0.0f64, |w, (g, x)| w.max((g - x).abs() / x.abs().max(1.0)))
                    };
                    let (s64, k32, s32) = (
                        worst(&streamed[k]),
                        worst(&kept32[k]),
                        worst(&streamed32[k]),
                    );
                    assert!(
                        s64 <= 1e-12,
                        "{p:?} {eps} {name}: f64 streamed off by {s64:e}"
                    );
                    assert!(
                        s32 <= (2.0 * k32).max(1e-5),
                        "{p:?} {eps} {name}: f32 streamed off by {s32:e}, kept by {k32:e}"
                    );
                }
                // The soft-min and the tracked step's value agree.
                for (a, b) in exact[0].iter().zip(&exact[1]) {
                    assert!((a - b).abs() <= 1e-12 * a.abs().max(1.0));
                }
            }
        }
    }
}
