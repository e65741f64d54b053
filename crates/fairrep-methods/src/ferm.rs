//! Linear FERM (Donini, Oneto, Ben-David, Shawe-Taylor and Pontil, "Empirical Risk Minimization
//! Under Fairness Constraints", NeurIPS 2018): equal opportunity for linear models as a
//! pre-processing of the features.
//!
//! For a linear score `⟨w, x⟩ + b`, equal opportunity on the training data (equal mean score
//! over the positives of every group) is the linear constraint `⟨w, u_g⟩ = 0` for each group
//! `g ≠ r`, with `u_g` = mean of `x` over the positives of group `g` minus the mean over the
//! positives of a reference group `r`. The paper removes one coordinate per constraint
//! (`x ← x − u·x_i/u_i`, drop `i`); here the features are projected onto the orthogonal
//! complement of `span{u_g}` — `x ← x − Q Qᵀ x` with `Q` an orthonormal basis of the `u_g`
//! (modified Gram–Schmidt, twice, dependent directions dropped). Any linear model `w` fitted on
//! the projected features acts on `x` through `P w` with `⟨P w, u_g⟩ = 0`, so every linear model
//! trained on the result satisfies the constraints on the training data, exactly (to rounding).
//!
//! Works for two or more groups (one constraint per group beyond the reference), on raw
//! features or on a learned representation.

use serde::{Deserialize, Serialize};

/// Why FERM cannot be fitted.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum FermError {
    /// Lengths of the inputs disagree.
    #[error("{rows} rows of features but {labels} labels and {groups} group labels")]
    Lengths {
        /// Feature rows.
        rows: usize,
        /// Labels.
        labels: usize,
        /// Group labels.
        groups: usize,
    },
    /// A group has no positive example in the fitting data: its constraint is undefined.
    #[error(
        "group {group} has no positive example: equal opportunity needs positives in every group"
    )]
    NoPositives {
        /// Group index.
        group: usize,
    },
}

/// A fitted FERM projection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ferm {
    /// Feature dimension.
    pub dim: usize,
    /// The constraint directions `u_g` (one per group other than the reference).
    pub constraints: Vec<Vec<f64>>,
    /// Orthonormal basis of their span.
    basis: Vec<Vec<f64>>,
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

impl Ferm {
    /// Fits the constraints on `x` (`rows × dim`, row-major), binary labels `y` and `groups`
    /// (indices `0..n_groups`; the reference group is 0).
    pub fn fit(
        x: &[f32],
        dim: usize,
        y: &[bool],
        groups: &[usize],
        n_groups: usize,
    ) -> Result<Self, FermError> {
        let rows = x.len().checked_div(dim).unwrap_or(0);
        if rows != y.len() || rows != groups.len() || rows * dim != x.len() {
            return Err(FermError::Lengths {
                rows,
                labels: y.len(),
                groups: groups.len(),
            });
        }
        // Means over the positives of each group.
        let mut sums = vec![vec![0.0f64; dim]; n_groups];
        let mut counts = vec![0usize; n_groups];
        for ((row, &label), &g) in x.chunks_exact(dim.max(1)).zip(y).zip(groups) {
            if label {
                counts[g] += 1;
                for (s, &v) in sums[g].iter_mut().zip(row) {
                    *s += f64::from(v);
                }
            }
        }
        if let Some(group) = counts.iter().position(|&c| c == 0) {
            return Err(FermError::NoPositives { group });
        }
        let means: Vec<Vec<f64>> = sums
            .iter()
            .zip(&counts)
            .map(|(s, &c)| s.iter().map(|v| v / c as f64).collect())
            .collect();
        let constraints: Vec<Vec<f64>> = means[1..]
            .iter()
            .map(|m| m.iter().zip(&means[0]).map(|(a, b)| a - b).collect())
            .collect();
        // Modified Gram–Schmidt with one re-orthogonalisation pass ("twice is enough").
        let scale = constraints
            .iter()
            .map(|u| dot(u, u).sqrt())
            .fold(0.0f64, f64::max);
        let mut basis: Vec<Vec<f64>> = Vec::new();
        for u in &constraints {
            let mut v = u.clone();
            for _ in 0..2 {
                for q in &basis {
                    let c = dot(q, &v);
                    v.iter_mut().zip(q).for_each(|(a, b)| *a -= c * b);
                }
            }
            let norm = dot(&v, &v).sqrt();
            // A direction already in the span (or a zero constraint) adds nothing.
            if norm > 1e-12 * scale.max(f64::MIN_POSITIVE) {
                basis.push(v.iter().map(|a| a / norm).collect());
            }
        }
        Ok(Self {
            dim,
            constraints,
            basis,
        })
    }

    /// The orthonormal basis `Q` of the constraints' span (one row per direction).
    pub fn basis(&self) -> &[Vec<f64>] {
        &self.basis
    }

    /// Number of independent constraints (the rank removed from the features).
    pub fn rank(&self) -> usize {
        self.basis.len()
    }

    /// `x − Q Qᵀ x` for each row of `x` (`rows × dim`): the features with the constraint
    /// directions removed.
    pub fn transform(&self, x: &[f32]) -> Vec<f32> {
        let mut out = Vec::with_capacity(x.len());
        for row in x.chunks_exact(self.dim.max(1)) {
            let mut v: Vec<f64> = row.iter().map(|&a| f64::from(a)).collect();
            for q in &self.basis {
                let c = dot(q, &v);
                v.iter_mut().zip(q).for_each(|(a, b)| *a -= c * b);
            }
            out.extend(v.iter().map(|&a| a as f32));
        }
        out
    }

    /// `max_g |⟨w, u_g⟩| / |u_g|`: how far a linear model `w` on the original features is from
    /// the constraints (0 when they hold).
    pub fn violation(&self, w: &[f64]) -> f64 {
        self.constraints
            .iter()
            .map(|u| {
                let n = dot(u, u).sqrt();
                if n > 0.0 { dot(w, u).abs() / n } else { 0.0 }
            })
            .fold(0.0, f64::max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// Rows of `dim` values in [-1, 1) with a group-dependent shift on the first coordinates.
    fn data(
        rows: usize,
        dim: usize,
        groups: usize,
        seed: u64,
    ) -> (Vec<f32>, Vec<bool>, Vec<usize>) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let (mut x, mut y, mut s) = (Vec::new(), Vec::new(), Vec::new());
        for i in 0..rows {
            let g = i % groups;
            let row: Vec<f32> = (0..dim)
                .map(|k| rng.random_range(-1.0f32..1.0) + if k < 3 { 0.5 * g as f32 } else { 0.0 })
                .collect();
            let label = row[0] + row[1] + 0.3 * rng.random_range(-1.0f32..1.0) > 0.5;
            x.extend(row);
            y.push(label);
            s.push(g);
        }
        (x, y, s)
    }

    /// Mean of the transformed features over the positives of each group.
    fn positive_means(
        x: &[f32],
        dim: usize,
        y: &[bool],
        s: &[usize],
        groups: usize,
    ) -> Vec<Vec<f64>> {
        let mut sums = vec![vec![0.0f64; dim]; groups];
        let mut counts = vec![0.0f64; groups];
        for ((row, &l), &g) in x.chunks_exact(dim).zip(y).zip(s) {
            if l {
                counts[g] += 1.0;
                sums[g]
                    .iter_mut()
                    .zip(row)
                    .for_each(|(a, &b)| *a += f64::from(b));
            }
        }
        sums.iter()
            .zip(&counts)
            .map(|(s, c)| s.iter().map(|v| v / c).collect())
            .collect()
    }

    #[test]
    fn transformed_features_meet_the_constraints_for_any_linear_model() {
        for groups in [2, 3, 4] {
            let dim = 7;
            let (x, y, s) = data(3_000, dim, groups, groups as u64);
            let ferm = Ferm::fit(&x, dim, &y, &s, groups).unwrap();
            assert_eq!(ferm.rank(), groups - 1);
            let xt = ferm.transform(&x);
            // The positives' means coincide in every coordinate (to f32 rounding of the
            // stored features), so any w gives equal mean scores over the positives.
            let m = positive_means(&xt, dim, &y, &s, groups);
            for (g, mg) in m.iter().enumerate().skip(1) {
                for (k, (a, b)) in mg.iter().zip(&m[0]).enumerate() {
                    assert!((a - b).abs() < 1e-6, "group {g} coordinate {k}");
                }
            }
            // Equivalently: a model w on the transformed features is P w on the original ones,
            // and P w is orthogonal to every constraint (machine precision in f64).
            let w: Vec<f64> = (0..dim).map(|k| (k as f64 * 0.7).sin()).collect();
            let pw: Vec<f64> = {
                let row: Vec<f32> = w.iter().map(|&v| v as f32).collect();
                ferm.transform(&row).iter().map(|&v| f64::from(v)).collect()
            };
            assert!(ferm.violation(&w) > 1e-2);
            assert!(ferm.violation(&pw) < 1e-6);
            // Directions orthogonal to the constraints are untouched: the projection is
            // idempotent.
            let twice = ferm.transform(&xt);
            assert!(twice.iter().zip(&xt).all(|(a, b)| (a - b).abs() < 1e-5));
        }
    }

    #[test]
    fn the_constraint_holds_approximately_on_held_out_data() {
        let dim = 6;
        let (x, y, s) = data(20_000, dim, 2, 1);
        let (xh, yh, sh) = data(20_000, dim, 2, 2);
        let ferm = Ferm::fit(&x, dim, &y, &s, 2).unwrap();
        let before = positive_means(&xh, dim, &yh, &sh, 2);
        let after = positive_means(&ferm.transform(&xh), dim, &yh, &sh, 2);
        let gap = |m: &Vec<Vec<f64>>| {
            m[1].iter()
                .zip(&m[0])
                .map(|(a, b)| (a - b) * (a - b))
                .sum::<f64>()
                .sqrt()
        };
        assert!(gap(&before) > 0.5);
        assert!(gap(&after) < 0.05, "held-out gap {}", gap(&after));
    }

    #[test]
    fn dependent_constraints_and_bad_input() {
        // Groups 1 and 2 identical: their constraints coincide, one direction is dropped.
        let x = [0.0f32, 0.0, 1.0, 0.0, 1.0, 0.0];
        let ferm = Ferm::fit(&x, 2, &[true, true, true], &[0, 1, 2], 3).unwrap();
        assert_eq!(ferm.constraints.len(), 2);
        assert_eq!(ferm.rank(), 1);
        assert_eq!(ferm.transform(&[3.0, 4.0]), vec![0.0, 4.0]);
        assert_eq!(
            Ferm::fit(&x, 2, &[true, false, true], &[0, 1, 2], 3),
            Err(FermError::NoPositives { group: 1 })
        );
        assert!(matches!(
            Ferm::fit(&x, 2, &[true], &[0], 1),
            Err(FermError::Lengths { .. })
        ));
    }
}
