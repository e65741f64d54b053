//! Two bounds on the total variation between two groups' cell distributions, which bounds the
//! demographic parity gap of every (randomised) classifier of the cells: FARE's three-step
//! bound ([`tv_bound`]) and a direct one from each group's cell frequencies ([`direct_bound`]).
//!
//! ## FARE's bound
//!
//! With `π = P(s = a)` among the rows of groups `a` and `b`, and `q_j = P(s = a | cell j)`,
//! Bayes' rule gives `P(j | a) − P(j | b) = P(j) · g(q_j, π)`, `g(q, π) = q/π − (1 − q)/(1 − π)`,
//! so `TV = ½ Σ_j P(j) |g(q_j, π)| = ½ E_j |g(q_j, π)|`. Any classifier `h` of the cells has
//! `|P(h = 1 | a) − P(h = 1 | b)| ≤ TV`. The bound takes three disjoint samples:
//!
//! 1. the base rate: `π ∈ [π⁻, π⁺]`, Clopper–Pearson at error `α₁`;
//! 2. each cell: `q_j ∈ [q_j⁻, q_j⁺]`, Clopper–Pearson at error `α₂` per cell (a cell with no
//!    row gets `[0, 1]`); `g` grows with `q` and falls with `π`, so on the box
//!    `|g| ≤ t_j = max(g(q_j⁺, π⁻), −g(q_j⁻, π⁺))`;
//! 3. the average: `E_j t_j ≤ mean of t over the third sample + (max t − min t) · √(ln(1/α₃)/2n₃)`
//!    (Hoeffding; the `t_j` are fixed by samples 1 and 2).
//!
//! With probability at least `1 − α₁ − K·α₂ − α₃`, `TV ≤ ½ (mean t + Hoeffding)`, capped at 1.
//! FARE bounds the balanced accuracy `Σ_j P(j) max(α p_j, β (1 − p_j))` of the best adversary with
//! separately bounded `α = 1/2π` and `β = 1/2(1 − π)` and turns it into DP by `2 · BA − 1`; the
//! form above bounds the same quantity with `π` kept consistent inside `g`, which is never
//! looser.

use crate::binomial::{clopper_pearson, hoeffding_radius};
use serde::{Deserialize, Serialize};

/// How a certificate bounds the total variation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// FARE's three steps on three disjoint thirds of the rows ([`tv_bound`]).
    Fare,
    /// Each group's cell frequencies on all the rows ([`direct_bound`]).
    Direct,
}

impl std::fmt::Display for Method {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Method::Fare => "FARE's three-step bound",
            Method::Direct => "the direct bound on the groups' cell frequencies",
        })
    }
}

/// The direct bound. Given a group, its rows are independent draws of its cell distribution,
/// so `x_j` of its `n` rows in cell `j` is binomial: Clopper–Pearson at error `delta / 2K` for
/// every cell of both groups (a union bound over the `2K` intervals) holds all `P(j | a)` and
/// `P(j | b)` in their intervals with probability at least `1 − delta`. Then, as
/// `TV = Σ_j (P(j|a) − P(j|b))⁺ = Σ_j (P(j|b) − P(j|a))⁺ = ½ Σ_j |P(j|a) − P(j|b)|`,
/// `TV ≤ min(Σ_j (a⁺_j − b⁻_j)⁺, Σ_j (b⁺_j − a⁻_j)⁺, ½ Σ_j max(a⁺_j − b⁻_j, b⁺_j − a⁻_j))`,
/// capped at 1. All rows serve every cell, where FARE's bound spends a third on each step and
/// estimates the base rate separately; with one cell it is (nearly) 0, as it must be.
pub fn direct_bound(cells_a: &[f64], cells_b: &[f64], delta: f64) -> f64 {
    let (na, nb): (f64, f64) = (cells_a.iter().sum(), cells_b.iter().sum());
    let k = cells_a.len().max(1);
    if na <= 0.0 || nb <= 0.0 {
        return 1.0;
    }
    let alpha = delta / (2.0 * k as f64);
    let (mut pos, mut neg, mut half) = (0.0, 0.0, 0.0);
    for (&xa, &xb) in cells_a.iter().zip(cells_b) {
        let (la, ha) = clopper_pearson(xa, na, alpha);
        let (lb, hb) = clopper_pearson(xb, nb, alpha);
        pos += (ha - lb).max(0.0);
        neg += (hb - la).max(0.0);
        half += 0.5 * (ha - lb).max(hb - la);
    }
    pos.min(neg).min(half).min(1.0)
}

/// The error probabilities of the three steps.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Budget {
    /// Step 1 (the base rate).
    pub base: f64,
    /// Step 2, per cell.
    pub per_cell: f64,
    /// Step 3 (the average).
    pub average: f64,
}

impl Budget {
    /// An overall error `delta` over `cells` cells, split equally between the three steps.
    pub fn split(delta: f64, cells: usize) -> Self {
        Self {
            base: delta / 3.0,
            per_cell: delta / 3.0 / cells.max(1) as f64,
            average: delta / 3.0,
        }
    }
}

/// What the three steps saw, as counts (fractional counts for a projection).
#[derive(Debug, Clone, PartialEq)]
pub struct Counts {
    /// Step 1: (rows of group a, rows).
    pub base: (f64, f64),
    /// Step 2: per cell (rows of group a, rows).
    pub cells: Vec<(f64, f64)>,
    /// Step 3: rows per cell.
    pub average: Vec<f64>,
}

/// The bound and its parts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TvBound {
    /// The upper bound on the total variation (and so on any classifier's DP gap), `≤ 1`.
    pub upper_bound: f64,
    /// Step 1's interval for the base rate of group a.
    pub base_rate: [f64; 2],
    /// Step 3's sample mean of `t`.
    pub mean_t: f64,
    /// Step 3's Hoeffding term.
    pub hoeffding: f64,
    /// Rows in each step's sample.
    pub rows: [f64; 3],
}

/// `g(q, π) = q/π − (1 − q)/(1 − π)`, with the limits `±∞` at `π ∈ {0, 1}`.
fn g(q: f64, pi: f64) -> f64 {
    let first = if pi > 0.0 {
        q / pi
    } else if q > 0.0 {
        f64::INFINITY
    } else {
        0.0
    };
    let second = if pi < 1.0 {
        (1.0 - q) / (1.0 - pi)
    } else if q < 1.0 {
        f64::INFINITY
    } else {
        0.0
    };
    first - second
}

/// The bound from the three steps' counts (see the module's documentation).
pub fn tv_bound(counts: &Counts, budget: Budget) -> TvBound {
    let (pi_lo, pi_hi) = clopper_pearson(counts.base.0, counts.base.1, budget.base);
    let t: Vec<f64> = counts
        .cells
        .iter()
        .map(|&(x, n)| {
            let (q_lo, q_hi) = clopper_pearson(x, n, budget.per_cell);
            g(q_hi, pi_lo).max(-g(q_lo, pi_hi)).max(0.0)
        })
        .collect();
    let n3: f64 = counts.average.iter().sum();
    let rows = [counts.base.1, counts.cells.iter().map(|c| c.1).sum(), n3];
    let mut result = TvBound {
        upper_bound: 1.0,
        base_rate: [pi_lo, pi_hi],
        mean_t: f64::INFINITY,
        hoeffding: f64::INFINITY,
        rows,
    };
    if n3 <= 0.0 || t.iter().any(|v| !v.is_finite()) {
        return result;
    }
    let mean_t = counts
        .average
        .iter()
        .zip(&t)
        .map(|(m, t)| m * t)
        .sum::<f64>()
        / n3;
    let lo = t.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = t.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    // Hoeffding for a fractional n (a projection) with the same formula.
    let hoeffding = if n3 >= 1.0 {
        (hi - lo) * ((1.0 / budget.average).ln() / (2.0 * n3)).sqrt()
    } else {
        hoeffding_radius(0, hi - lo, budget.average)
    };
    result.mean_t = mean_t;
    result.hoeffding = hoeffding;
    result.upper_bound = (0.5 * (mean_t + hoeffding)).min(1.0);
    result
}

/// The counts of three samples of a pair of groups: `base` holds whether each row of sample 1
/// is in group a; `cells` each row of sample 2 as (cell, in group a); `average` each row of
/// sample 3's cell.
pub fn counts(k: usize, base: &[bool], cells: &[(usize, bool)], average: &[usize]) -> Counts {
    let mut per_cell = vec![(0.0, 0.0); k];
    for &(c, a) in cells {
        per_cell[c].1 += 1.0;
        if a {
            per_cell[c].0 += 1.0;
        }
    }
    let mut avg = vec![0.0; k];
    for &c in average {
        avg[c] += 1.0;
    }
    Counts {
        base: (
            base.iter().filter(|&&a| a).count() as f64,
            base.len() as f64,
        ),
        cells: per_cell,
        average: avg,
    }
}

/// The plug-in total variation `½ Σ_j |P̂(j | a) − P̂(j | b)|` between two groups' cells, from
/// rows of (cell, in group a).
pub fn plug_in_tv(k: usize, rows: &[(usize, bool)]) -> f64 {
    let (mut ca, mut cb) = (vec![0.0; k], vec![0.0; k]);
    for &(c, a) in rows {
        if a {
            ca[c] += 1.0;
        } else {
            cb[c] += 1.0;
        }
    }
    plug_in_tv_of_counts(&ca, &cb)
}

/// The plug-in total variation from each group's rows per cell.
pub fn plug_in_tv_of_counts(ca: &[f64], cb: &[f64]) -> f64 {
    let (na, nb): (f64, f64) = (ca.iter().sum(), cb.iter().sum());
    if na == 0.0 || nb == 0.0 {
        return 0.0;
    }
    0.5 * ca
        .iter()
        .zip(cb)
        .map(|(a, b)| (a / na - b / nb).abs())
        .sum::<f64>()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn g_is_the_density_ratio_difference() {
        // π = 0.25, q = 0.5: P(j|a)/P(j) = 2, P(j|b)/P(j) = 0.5/0.75.
        assert!((g(0.5, 0.25) - (2.0 - 2.0 / 3.0)).abs() < 1e-15);
        assert_eq!(g(0.3, 0.3), 0.0);
        assert_eq!(g(0.5, 1.0), f64::NEG_INFINITY);
    }

    #[test]
    fn identical_groups_give_a_small_bound_and_no_data_the_vacuous_one() {
        // Two cells, each half group a, in every sample.
        let c = Counts {
            base: (5000.0, 10000.0),
            cells: vec![(2500.0, 5000.0), (2500.0, 5000.0)],
            average: vec![5000.0, 5000.0],
        };
        let b = tv_bound(&c, Budget::split(0.05, 2));
        assert!(b.upper_bound > 0.0 && b.upper_bound < 0.1, "{b:?}");
        let empty = Counts {
            base: (0.0, 0.0),
            cells: vec![(0.0, 0.0); 2],
            average: vec![0.0; 2],
        };
        assert_eq!(tv_bound(&empty, Budget::split(0.05, 2)).upper_bound, 1.0);
    }

    #[test]
    fn the_direct_bound_of_one_cell_is_nearly_zero_and_of_no_rows_vacuous() {
        let b = direct_bound(&[5000.0], &[10000.0], 0.05);
        // One cell: P(1|a) = P(1|b) = 1; only the Clopper–Pearson lower ends move off 1.
        assert!(b < 1e-3, "{b}");
        assert_eq!(direct_bound(&[0.0, 0.0], &[3.0, 4.0], 0.05), 1.0);
        // Disjoint supports: the bound is near 1.
        assert!(direct_bound(&[5000.0, 0.0], &[0.0, 5000.0], 0.05) > 0.99);
    }

    #[test]
    fn plug_in_tv_of_disjoint_groups_is_one() {
        let rows = [(0, true), (0, true), (1, false)];
        assert_eq!(plug_in_tv(2, &rows), 1.0);
        let rows = [(0, true), (1, true), (0, false), (1, false)];
        assert_eq!(plug_in_tv(2, &rows), 0.0);
    }
}
