//! The choice of the partition (number of cells, fewest rows per cell, fairness weight) on the
//! validation split, before the test split is looked at.
//!
//! Each candidate is grown on the training split and judged on the validation split by two
//! numbers: its **projected certificate** — the demographic-parity bound computed from the
//! validation split's cell and group frequencies as if the test split (its thirds, for FARE's
//! bound) had seen exactly them, by each allowed method, the smaller kept with its method — and
//! its **source score**, the mean over the source tasks
//! of the validation accuracy (R² for a regression task) of the cell-mean predictor. The choice is
//! the best-scoring candidate whose projected certificate is within the target (the fairness
//! weight is searched on a grid, then bisected where the projected certificate crosses the
//! target); if none is, the
//! candidate with the smallest projected certificate. A partition of one cell (every classifier
//! of it is constant: trivially fair, useless) is chosen only when every candidate has one. The
//! transfer tasks are never used.

use crate::CertifyError;
use crate::bound::{Budget, Counts, Method, direct_bound, tv_bound};
use crate::partition::{Partition, Sample, TreeSettings};
use serde::{Deserialize, Serialize};

/// What the search may try.
#[derive(Debug, Clone, PartialEq)]
pub struct Grid {
    /// Largest numbers of cells.
    pub cells: Vec<usize>,
    /// Fewest training rows per cell.
    pub min_leaf: Vec<usize>,
    /// Fairness weights γ.
    pub fairness_weight: Vec<f64>,
    /// Candidate thresholds per coordinate.
    pub bins: usize,
    /// Bisect the fairness weight where the projected bound crosses the target (when the
    /// weight is not fixed).
    pub bisect: bool,
}

/// The bisection steps of the fairness weight per (cells, fewest rows per leaf).
pub const BISECTION_STEPS: usize = 6;

impl Grid {
    /// The default grid for `train_rows` training rows, with any of its three axes fixed.
    pub fn new(
        train_rows: usize,
        cells: Option<usize>,
        min_leaf: Option<usize>,
        fairness_weight: Option<f64>,
    ) -> Self {
        let mut leaves: Vec<usize> = [200, 50].iter().map(|d| (train_rows / d).max(10)).collect();
        leaves.dedup();
        Self {
            cells: cells.map_or_else(|| vec![2, 4, 8, 16, 32, 64], |k| vec![k]),
            min_leaf: min_leaf.map_or(leaves, |m| vec![m]),
            fairness_weight: fairness_weight
                .map_or_else(|| vec![0.0, 0.02, 0.05, 0.1, 0.25, 0.5], |w| vec![w]),
            bins: 32,
            bisect: fairness_weight.is_none(),
        }
    }
}

/// One candidate of the search, as written to `certificate.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    /// The settings it was grown with.
    pub settings: TreeSettings,
    /// The cells it ended with (growth stops early when no split lowers the cost).
    pub cells: usize,
    /// The projected demographic-parity certificate (the smaller of the allowed methods').
    pub projected_bound: f64,
    /// The method that gives it.
    pub method: Method,
    /// The mean validation accuracy (R²) of the cell-mean predictor over the source tasks.
    pub source_score: f64,
}

/// The projected demographic-parity bound of `cells` (validation rows) by `method` for a
/// certification split of `cert_rows` rows, at error `delta`.
pub fn projected_bound(
    k: usize,
    cells: &[usize],
    group: &[usize],
    groups: usize,
    cert_rows: usize,
    delta: f64,
    method: Method,
) -> f64 {
    let n = cells.len() as f64;
    if n == 0.0 {
        return 1.0;
    }
    let scale = match method {
        Method::Fare => cert_rows as f64 / 3.0 / n,
        Method::Direct => cert_rows as f64 / n,
    };
    let present: Vec<usize> = (0..groups).filter(|g| group.contains(g)).collect();
    let pairs = present.len() * present.len().saturating_sub(1) / 2;
    let mut worst: f64 = 0.0;
    for (i, &a) in present.iter().enumerate() {
        for &b in &present[i + 1..] {
            let (mut per_cell, mut avg, mut na, mut nab) =
                (vec![(0.0, 0.0); k], vec![0.0; k], 0.0, 0.0);
            for (&c, &g) in cells.iter().zip(group) {
                if g == a || g == b {
                    per_cell[c].1 += scale;
                    avg[c] += scale;
                    nab += scale;
                    if g == a {
                        per_cell[c].0 += scale;
                        na += scale;
                    }
                }
            }
            let d = delta / pairs as f64;
            let b = match method {
                Method::Fare => {
                    let counts = Counts {
                        base: (na, nab),
                        cells: per_cell,
                        average: avg,
                    };
                    tv_bound(&counts, Budget::split(d, k)).upper_bound
                }
                Method::Direct => {
                    let ca: Vec<f64> = per_cell.iter().map(|c| c.0).collect();
                    let cb: Vec<f64> = per_cell.iter().map(|c| c.1 - c.0).collect();
                    direct_bound(&ca, &cb, d)
                }
            };
            worst = worst.max(b);
        }
    }
    worst
}

/// The mean over the tasks of the cell-mean predictor's validation accuracy (binary) or R².
pub fn source_score(
    k: usize,
    train_cells: &[usize],
    train: &[&[f32]],
    valid_cells: &[usize],
    valid: &[&[f32]],
    binary: &[bool],
) -> f64 {
    if train.is_empty() {
        return 0.0;
    }
    let mut total = 0.0;
    for ((yt, yv), &is_binary) in train.iter().zip(valid).zip(binary) {
        let (mut sum, mut count) = (vec![0.0f64; k], vec![0.0f64; k]);
        for (&c, &y) in train_cells.iter().zip(yt.iter()) {
            sum[c] += y as f64;
            count[c] += 1.0;
        }
        let overall = yt.iter().map(|&v| v as f64).sum::<f64>() / yt.len().max(1) as f64;
        let mean: Vec<f64> = sum
            .iter()
            .zip(&count)
            .map(|(s, n)| if *n > 0.0 { s / n } else { overall })
            .collect();
        let n = yv.len().max(1) as f64;
        total += if is_binary {
            valid_cells
                .iter()
                .zip(yv.iter())
                .filter(|(c, y)| (mean[**c] >= 0.5) == (**y >= 0.5))
                .count() as f64
                / n
        } else {
            let vmean = yv.iter().map(|&v| v as f64).sum::<f64>() / n;
            let (mut sse, mut sst) = (0.0, 0.0);
            for (&c, &y) in valid_cells.iter().zip(yv.iter()) {
                sse += (y as f64 - mean[c]).powi(2);
                sst += (y as f64 - vmean).powi(2);
            }
            if sst > 0.0 { 1.0 - sse / sst } else { 0.0 }
        };
    }
    total / train.len() as f64
}

/// Grows every candidate of `grid` on `train`, judges it on `valid` by each of `methods` and
/// returns the chosen partition, every candidate and the chosen one's index. `binary[t]` says
/// whether source task `t` is binary.
#[allow(clippy::too_many_arguments)]
pub fn choose(
    train: &Sample,
    valid: &Sample,
    binary: &[bool],
    grid: &Grid,
    cert_rows: usize,
    delta: f64,
    target: f64,
    methods: &[Method],
) -> Result<(Partition, Vec<Candidate>, usize), CertifyError> {
    valid.check()?;
    if valid.rows() == 0 {
        return Err(CertifyError::Shape(
            "the validation split has no rows".into(),
        ));
    }
    let mut best: Option<(Partition, usize)> = None;
    let mut candidates: Vec<Candidate> = Vec::new();
    let evaluate = |settings: TreeSettings,
                    candidates: &mut Vec<Candidate>,
                    best: &mut Option<(Partition, usize)>|
     -> Result<Candidate, CertifyError> {
        let p = Partition::fit(train, settings)?;
        let (tc, vc) = (p.assign(train.z), p.assign(valid.z));
        let (projected, method) = methods
            .iter()
            .map(|&m| {
                let b =
                    projected_bound(p.cells, &vc, valid.group, valid.groups, cert_rows, delta, m);
                (b, m)
            })
            .fold((f64::INFINITY, Method::Direct), |acc, x| {
                if x.0 < acc.0 { x } else { acc }
            });
        let c = Candidate {
            settings,
            cells: p.cells,
            projected_bound: projected,
            method,
            source_score: source_score(p.cells, &tc, train.targets, &vc, valid.targets, binary),
        };
        let better = match best {
            None => true,
            Some((_, i)) => prefer(&c, &candidates[*i], target),
        };
        candidates.push(c.clone());
        if better {
            *best = Some((p, candidates.len() - 1));
        }
        Ok(c)
    };
    for &cells in &grid.cells {
        for &min_leaf in &grid.min_leaf {
            let settings = |fairness_weight| TreeSettings {
                cells,
                min_leaf,
                fairness_weight,
                bins: grid.bins,
            };
            let mut tried: Vec<(f64, f64, usize)> = Vec::new();
            for &w in &grid.fairness_weight {
                let c = evaluate(settings(w), &mut candidates, &mut best)?;
                tried.push((w, c.projected_bound, c.cells));
            }
            // Where the projected bound crosses the target between two weights, bisect: the
            // smallest weight within the target keeps the most of the tasks.
            tried.sort_by(|a, b| a.0.total_cmp(&b.0));
            let crossing = tried
                .windows(2)
                .find(|w| w[0].1 > target && w[1].1 <= target)
                .map(|w| (w[0].0, w[1].0));
            if let (Some((mut lo, mut hi)), true) = (crossing, grid.bisect) {
                for _ in 0..BISECTION_STEPS {
                    let mid = 0.5 * (lo + hi);
                    let c = evaluate(settings(mid), &mut candidates, &mut best)?;
                    // Within the target (one cell included: the useful weights are below).
                    if c.projected_bound <= target {
                        hi = mid;
                    } else {
                        lo = mid;
                    }
                }
            }
        }
    }
    let (p, i) = best.ok_or_else(|| CertifyError::Settings("an empty grid".into()))?;
    Ok((p, candidates, i))
}

/// Whether candidate `c` beats `d` (see the module's documentation).
fn prefer(c: &Candidate, d: &Candidate, target: f64) -> bool {
    match (c.cells > 1, d.cells > 1) {
        (true, false) => return true,
        (false, true) => return false,
        _ => {}
    }
    match (c.projected_bound <= target, d.projected_bound <= target) {
        (true, false) => true,
        (false, true) => false,
        (true, true) => {
            c.source_score > d.source_score + 1e-12
                || ((c.source_score - d.source_score).abs() <= 1e-12 && c.cells < d.cells)
        }
        (false, false) => {
            c.projected_bound < d.projected_bound - 1e-12
                || ((c.projected_bound - d.projected_bound).abs() <= 1e-12
                    && c.source_score > d.source_score)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candidate(cells: usize, projected_bound: f64, source_score: f64) -> Candidate {
        Candidate {
            settings: TreeSettings {
                cells,
                min_leaf: 1,
                fairness_weight: 0.0,
                bins: 2,
            },
            cells,
            projected_bound,
            method: Method::Direct,
            source_score,
        }
    }

    #[test]
    fn the_most_accurate_within_the_target_then_the_smallest_bound_never_one_cell() {
        let t = 0.05;
        // Within the target: the better score wins, whatever the bound.
        assert!(prefer(
            &candidate(4, 0.04, 0.8),
            &candidate(2, 0.01, 0.7),
            t
        ));
        // Within the target beats outside it.
        assert!(prefer(&candidate(2, 0.04, 0.7), &candidate(8, 0.2, 0.9), t));
        // Both outside: the smaller bound.
        assert!(prefer(&candidate(8, 0.1, 0.7), &candidate(2, 0.2, 0.9), t));
        // One cell is trivially within any target, and loses to any real partition.
        assert!(prefer(&candidate(2, 0.3, 0.7), &candidate(1, 0.0, 0.68), t));
        assert!(!prefer(
            &candidate(1, 0.0, 0.68),
            &candidate(2, 0.3, 0.7),
            t
        ));
    }
}
