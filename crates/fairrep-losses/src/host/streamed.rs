//! The streamed costs of a Sinkhorn soft-min: above [`super::KEPT_COSTS_BYTES`] the cost matrix
//! is not stored; every soft-min recomputes it a tile at a time and reduces each tile at once by
//! an online log-sum-exp (KeOps' scheme, on the CPU).
//!
//! - `v` is packed once per divergence (its rows are fixed while the potentials change):
//!   centred on its mean, in blocks of [`LANES`] columns laid out `[m / LANES][d][LANES]`, so a
//!   tile reads it contiguously and a block of columns stays in the L1 cache while every tile
//!   of a task's rows reads it.
//! - A tile is `TILE` rows × one block of columns: `d` fused multiply-adds a pair in registers
//!   (the dot products `u_i · v_j`), written once to an L1 buffer, turned into the exponents
//!   `t_ij = h_j − C_ij/ε` and folded into each row's running `(max, Σ exp)`; a larger block
//!   maximum rescales the row's sums once. The `exp` is [`Real::exp_nonpos_fused`] (fused
//!   multiply-adds: fewer instructions, the same bits on every CPU); the kept matrix's soft-min
//!   keeps the unfused one, so existing runs keep their bits.
//! - For p = 2 the row's `|u_i|²/(2ε)` leaves the log-sum-exp (`C_ij = |u_i|²/2 + |v_j|²/2 −
//!   u_i · v_j`), so the exponent is one multiply-add of the dot product; centring keeps the
//!   cancellation in that form to the scale of the distances.
//!
//! Memory: the packed `v` (`m · d`) and, per worker, one task's rows and a tile.

use super::{Cloud, LANES, Real, lanes, softmin_value};
use crate::geometry::Power;
use rayon::prelude::*;

/// Rows of `u` per parallel task (each reads every block of `v` once).
const TASK_ROWS: usize = 64;
/// Rows of a register tile: `TILE × LANES` accumulators.
const TILE: usize = 8;
/// The most bytes of packed `v` in one block of columns (what the tiles of a task re-read).
const BLOCK_BYTES: usize = 32 << 10;
/// The most columns in one block.
const MAX_COLS: usize = 512;

/// The second cloud of a pair, packed for recomputing its costs (see the module docs).
#[derive(Debug, Clone)]
pub struct Packed<F> {
    p: Power,
    d: usize,
    m: usize,
    /// The mean of `v`, subtracted from both clouds.
    center: Vec<F>,
    /// The centred `v`, `[m_pad / LANES][d][LANES]`, zero in the padding.
    values: Vec<F>,
    /// `|v_j − center|² / 2` `[m_pad]`, zero in the padding.
    half_sq: Vec<F>,
    /// Columns in a block (a multiple of [`LANES`]).
    cols: usize,
}

/// One worker's buffers, reused across its tasks.
struct Scratch<F> {
    /// The task's rows, centred, by tiles of `TILE` rows (zero rows pad the last), each
    /// `[d][TILE]`.
    rows: Vec<F>,
    /// `|u_i − center|² / 2` `[b]`.
    half_sq: Vec<F>,
    /// Each row's running maximum exponent `[b]`.
    tops: Vec<F>,
    /// Each row's running sums of `exp(t − top)`, by lane `[b · LANES]`.
    sums: Vec<F>,
    /// A tile's dot products, then exponents `[TILE · cols]`.
    tile: Vec<F>,
}

impl<F> Default for Scratch<F> {
    fn default() -> Self {
        Self {
            rows: Vec::new(),
            half_sq: Vec::new(),
            tops: Vec::new(),
            sums: Vec::new(),
            tile: Vec::new(),
        }
    }
}

impl<F: Real> Packed<F> {
    /// `v` packed for the costs `C(u_i, v_j)` of power `p`.
    pub fn new(p: Power, v: &Cloud<F>) -> Self {
        let (m, d) = (v.n, v.d);
        let mut center = vec![0.0f64; d];
        for row in v.x.chunks_exact(d.max(1)) {
            for (c, &x) in center.iter_mut().zip(row) {
                *c += x.to_f64();
            }
        }
        let center: Vec<F> = center.iter().map(|&s| F::of(s / m.max(1) as f64)).collect();
        let m_pad = m.div_ceil(2 * LANES) * 2 * LANES;
        let mut values = vec![F::zero(); m_pad * d];
        let mut half_sq = vec![F::zero(); m_pad];
        for (j, row) in v.x.chunks_exact(d.max(1)).enumerate().take(m) {
            let (jp, l) = (j / LANES, j % LANES);
            let mut sq = F::zero();
            for (k, (&x, &c)) in row.iter().zip(&center).enumerate() {
                let x = x - c;
                values[(jp * d + k) * LANES + l] = x;
                sq += x * x;
            }
            half_sq[j] = sq * F::of(0.5);
        }
        let per_col = d.max(1) * std::mem::size_of::<F>();
        let cols = (BLOCK_BYTES / per_col / (2 * LANES) * 2 * LANES).clamp(2 * LANES, MAX_COLS);
        Self {
            p,
            d,
            m,
            center,
            values,
            half_sq,
            cols,
        }
    }

    fn m_pad(&self) -> usize {
        self.half_sq.len()
    }

    /// The soft-min of every row of `u` against the packed cloud:
    /// `f_i = −ε log Σ_j exp(h_j − C_ij/ε)` (`h` `[m]`).
    pub fn softmin(&self, u: &Cloud<F>, eps: f64, h: &[F]) -> Vec<F> {
        debug_assert_eq!(u.d, self.d, "clouds of one dimension");
        let inv = F::of(1.0 / eps);
        // The column terms of the exponents, −∞ in the padding (exp(−∞) = 0).
        let g: Vec<F> = (0..self.m_pad())
            .map(|j| match (j < self.m, self.p) {
                (false, _) => F::NEG_INF,
                (true, Power::P2) => h[j] - self.half_sq[j] * inv,
                (true, Power::P1) => h[j],
            })
            .collect();
        let mut f = vec![F::zero(); u.n];
        f.par_chunks_mut(TASK_ROWS)
            .enumerate()
            .for_each_init(Scratch::default, |s, (t, fb)| {
                self.load_rows(u, t * TASK_ROWS, fb.len(), s);
                softmin_task(self, &g, inv, s);
                for (i, fi) in fb.iter_mut().enumerate() {
                    let total = s.sums[i * LANES..(i + 1) * LANES]
                        .iter()
                        .fold(F::zero(), |a, &b| a + b);
                    *fi = softmin_value(eps, (s.tops[i], total));
                    if self.p == Power::P2 {
                        *fi += s.half_sq[i];
                    }
                }
            });
        f
    }

    /// The rows `r0..r1` of the cost matrix, into `out` `[(r1 − r0) · m]`, as
    /// [`super::cost_matrix`] computes them (up to rounding).
    pub fn cost_rows(&self, u: &Cloud<F>, r0: usize, r1: usize, out: &mut [F]) {
        let m = self.m;
        debug_assert_eq!(out.len(), (r1 - r0) * m);
        out.par_chunks_mut((TASK_ROWS * m).max(1))
            .enumerate()
            .for_each_init(Scratch::default, |s, (t, block)| {
                let b = block.len() / m.max(1);
                self.load_rows(u, r0 + t * TASK_ROWS, b, s);
                cost_task(self, s, block);
            });
    }

    /// The rows `r0..r0 + b` of `u`, centred, and their half squared norms, into `s`.
    fn load_rows(&self, u: &Cloud<F>, r0: usize, b: usize, s: &mut Scratch<F>) {
        let d = self.d;
        s.rows.clear();
        s.rows.resize(b.div_ceil(TILE) * TILE * d, F::zero());
        s.half_sq.clear();
        for i in 0..b {
            let (t, q) = (i / TILE, i % TILE);
            let tile = &mut s.rows[t * TILE * d..(t + 1) * TILE * d];
            let mut sq = F::zero();
            for (k, (&x, &c)) in u.x[(r0 + i) * d..(r0 + i + 1) * d]
                .iter()
                .zip(&self.center)
                .enumerate()
            {
                let x = x - c;
                tile[k * TILE + q] = x;
                sq += x * x;
            }
            s.half_sq.push(sq * F::of(0.5));
        }
        s.tops.clear();
        s.tops.resize(b, F::NEG_INF);
        s.sums.clear();
        s.sums.resize(b * LANES, F::zero());
        s.tile.resize(TILE * self.cols, F::zero());
    }
}

/// The dot products of a tile's rows `rows` `[d][TILE]` with the packed columns `block`
/// `[w / LANES][d][LANES]`, into `out` `[TILE · w]`: `TILE × LANES` accumulators, each a chain
/// of `d` fused multiply-adds (the same bits whatever the tiling).
#[inline(always)]
fn dot_tile<F: Real>(rows: &[F], block: &[F], d: usize, w: usize, out: &mut [F]) {
    let span = d * LANES;
    for jp in 0..w / (2 * LANES) {
        let (p0, p1) = block[2 * jp * span..(2 * jp + 2) * span].split_at(span);
        let mut a0 = [[F::zero(); LANES]; TILE];
        let mut a1 = [[F::zero(); LANES]; TILE];
        for k in 0..d {
            let v0 = lanes(&p0[k * LANES..(k + 1) * LANES]);
            let v1 = lanes(&p1[k * LANES..(k + 1) * LANES]);
            for q in 0..TILE {
                let x = rows[k * TILE + q];
                for l in 0..LANES {
                    a0[q][l] = x.mul_add(v0[l], a0[q][l]);
                }
                for l in 0..LANES {
                    a1[q][l] = x.mul_add(v1[l], a1[q][l]);
                }
            }
        }
        for q in 0..TILE {
            let at = q * w + 2 * jp * LANES;
            out[at..at + LANES].copy_from_slice(&a0[q]);
            out[at + LANES..at + 2 * LANES].copy_from_slice(&a1[q]);
        }
    }
}

/// Visits the tiles of a task: `each(first row, first column, columns, dots [rows · w], the
/// task's half squared norms, running maxima, lane sums)`.
#[inline(always)]
fn tiles<F: Real>(
    packed: &Packed<F>,
    s: &mut Scratch<F>,
    mut each: impl FnMut(usize, usize, usize, &mut [F], &[F], &mut [F], &mut [F]),
) {
    let (d, b, cols) = (packed.d, s.half_sq.len(), packed.cols);
    for j0 in (0..packed.m_pad()).step_by(cols) {
        let w = cols.min(packed.m_pad() - j0);
        let block = &packed.values[j0 * d..(j0 + w) * d];
        for t in 0..b.div_ceil(TILE) {
            let (q0, rows) = (t * TILE, &s.rows[t * TILE * d..(t + 1) * TILE * d]);
            let tile = &mut s.tile[..TILE * w];
            dot_tile(rows, block, d, w, tile);
            let r = TILE.min(b - q0);
            let (hu, tops, sums) = (&s.half_sq, &mut s.tops, &mut s.sums);
            each(q0, j0, w, &mut tile[..r * w], hu, tops, sums);
        }
    }
}

/// Folds the exponents `row` (their maximum `top_block`) into a row's running maximum and
/// lane sums.
#[inline(always)]
fn accumulate<F: Real>(row: &[F], top_block: F, top: &mut F, sums: &mut [F]) {
    if top_block > *top {
        let scale = (*top - top_block).exp_nonpos_fused(); // 0 when top was −∞
        for s in sums.iter_mut() {
            *s = *s * scale;
        }
        *top = top_block;
    }
    if *top == F::NEG_INF {
        return;
    }
    let t = *top;
    let mut acc = [F::zero(); LANES];
    acc.copy_from_slice(sums);
    for rb in row.chunks_exact(LANES) {
        let rb = lanes(rb);
        for l in 0..LANES {
            acc[l] += (rb[l] - t).exp_nonpos_fused();
        }
    }
    sums.copy_from_slice(&acc);
}

/// The running log-sum-exps of a task's rows (loaded in `s`) over every column. Compiled for
/// the vector units the CPU has (see [`super::lse_row_simd`]); the multiply-adds are fused
/// on every target, so the bits do not depend on it.
#[multiversion::multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512dq+avx512vl+avx2+fma",
    "x86_64+avx2+fma",
    "aarch64+neon"
))]
fn softmin_task<F: Real>(packed: &Packed<F>, g: &[F], inv: F, s: &mut Scratch<F>) {
    let hv = &packed.half_sq;
    match packed.p {
        // t − |u_i|²/(2ε): the row's term is added to f_i at the end.
        Power::P2 => lse_tiles(packed, g, s, |_, _, dot, gj| dot.mul_add(inv, gj)),
        Power::P1 => lse_tiles(packed, g, s, |hu, j, dot, gj| {
            gj - cost(Power::P1, hu, hv[j], dot) * inv
        }),
    }
}

/// `C(u, v)` from `|u|²/2`, `|v|²/2` and `u · v` (centred): `|u − v|²/2` clamped at 0, or for
/// p = 1 `sqrt(max(|u − v|², 1e-8))`, as [`super::cost_matrix`].
#[inline(always)]
fn cost<F: Real>(p: Power, hu: F, hv: F, dot: F) -> F {
    let half = (hu + hv - dot).maxv(F::zero());
    match p {
        Power::P2 => half,
        Power::P1 => F::of((half + half).maxv(F::of(1e-8)).to_f64().sqrt()),
    }
}

/// The tiles of a task folded into its rows' log-sum-exps, with the exponent
/// `t(|u_row|²/2, column, dot, g_column)`.
#[inline(always)]
fn lse_tiles<F: Real>(
    packed: &Packed<F>,
    g: &[F],
    s: &mut Scratch<F>,
    t: impl Fn(F, usize, F, F) -> F,
) {
    tiles(packed, s, |q0, j0, w, tile, half_sq, tops, sums| {
        for (q, row) in tile.chunks_exact_mut(w).enumerate() {
            let (i, hu) = (q0 + q, half_sq[q0 + q]);
            let mut mx = [F::NEG_INF; LANES];
            for (jv, rb) in row.chunks_exact_mut(LANES).enumerate() {
                let j = j0 + jv * LANES;
                let gl = lanes(&g[j..j + LANES]);
                for l in 0..LANES {
                    let e = t(hu, j + l, rb[l], gl[l]);
                    rb[l] = e;
                    mx[l] = mx[l].maxv(e);
                }
            }
            let top_block = mx.iter().fold(F::NEG_INF, |a, &b| a.maxv(b));
            let lane_sums = &mut sums[i * LANES..(i + 1) * LANES];
            accumulate(row, top_block, &mut tops[i], lane_sums);
        }
    });
}

/// The cost rows of a task's rows (loaded in `s`) into `out` `[b · m]`.
#[multiversion::multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512dq+avx512vl+avx2+fma",
    "x86_64+avx2+fma",
    "aarch64+neon"
))]
fn cost_task<F: Real>(packed: &Packed<F>, s: &mut Scratch<F>, out: &mut [F]) {
    let (p, m, hv) = (packed.p, packed.m, &packed.half_sq);
    tiles(packed, s, |q0, j0, w, tile, half_sq, _, _| {
        let cols = w.min(m.saturating_sub(j0));
        for (q, row) in tile.chunks_exact(w).enumerate() {
            let (i, hu) = (q0 + q, half_sq[q0 + q]);
            let dst = &mut out[i * m + j0..i * m + j0 + cols];
            for ((c, &dot), &h) in dst.iter_mut().zip(row).zip(&hv[j0..]) {
                *c = cost(p, hu, h, dot);
            }
        }
    });
}
