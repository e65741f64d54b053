//! Fair regression by Wasserstein barycenters (Chzhen, Denis, Hebiri, Oneto and Pontil,
//! "Fair Regression with Wasserstein Barycenters", NeurIPS 2020): a post-processing that makes
//! any score satisfy (strong) demographic parity.
//!
//! From unlabeled calibration data — scores `f(x, s)` with their groups — each group's
//! empirical CDF `F_s` and quantile function `Q_s` are estimated, and a prediction is mapped to
//! the weighted barycenter of the groups' distributions:
//!
//! `g(x, s) = Σ_{s'} p_{s'} Q_{s'}(F_s(f(x, s) + ζ))`, with `p_{s'}` the group proportions of the
//! calibration data and `ζ ~ U(−σ, σ)` a small jitter that breaks ties (so that `F_s(f + ζ)` is
//! uniform on [0, 1] within each group, which is what makes the outputs of every group follow
//! the same distribution, the barycenter's).
//!
//! As in the paper's Algorithm 1, each group's calibration scores are split at random into two
//! halves: one estimates `F_s`, the other `Q_s`. Works for any number of groups, for
//! regression outputs and for classifier scores alike; it is fitted on one split and applied to
//! another.

use rand::{Rng, SeedableRng, seq::SliceRandom};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// Why a barycenter cannot be fitted.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum BarycenterError {
    /// Scores and groups differ in length.
    #[error("{scores} scores but {groups} group labels")]
    Lengths {
        /// Scores.
        scores: usize,
        /// Group labels.
        groups: usize,
    },
    /// A group has fewer than two calibration scores (one for the CDF, one for the quantiles).
    #[error("group {group} has {count} calibration score(s); at least 2 are needed")]
    TooFew {
        /// Group index.
        group: usize,
        /// Its calibration scores.
        count: usize,
    },
    /// A group index is out of range.
    #[error("group index {group} is out of range (there are {groups} groups)")]
    GroupIndex {
        /// The index.
        group: usize,
        /// Number of groups.
        groups: usize,
    },
    /// A score is NaN or infinite.
    #[error("score {index} is not a finite number ({value})")]
    NotFinite {
        /// Row.
        index: usize,
        /// Value.
        value: f64,
    },
}

/// A fitted barycenter post-processing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Barycenter {
    /// Per group: the sorted jittered scores that estimate its CDF `F_s`.
    cdf: Vec<Vec<f64>>,
    /// Per group: the sorted jittered scores that estimate its quantile function `Q_s`.
    quantiles: Vec<Vec<f64>>,
    /// Group proportions `p_s` of the calibration data.
    pub weights: Vec<f64>,
    /// Half-width `σ` of the uniform jitter.
    pub jitter: f64,
}

fn check(scores: &[f64], groups: &[usize], n_groups: usize) -> Result<(), BarycenterError> {
    if scores.len() != groups.len() {
        return Err(BarycenterError::Lengths {
            scores: scores.len(),
            groups: groups.len(),
        });
    }
    if let Some(&group) = groups.iter().find(|&&g| g >= n_groups) {
        return Err(BarycenterError::GroupIndex {
            group,
            groups: n_groups,
        });
    }
    if let Some((index, &value)) = scores.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        return Err(BarycenterError::NotFinite { index, value });
    }
    Ok(())
}

impl Barycenter {
    /// Fits the groups' CDFs and quantile functions on calibration `scores` with their
    /// `groups` (indices `0..n_groups`), with jitter half-width `jitter` (0 disables it) and a
    /// seed for the split and the jitter.
    pub fn fit(
        scores: &[f64],
        groups: &[usize],
        n_groups: usize,
        jitter: f64,
        seed: u64,
    ) -> Result<Self, BarycenterError> {
        check(scores, groups, n_groups)?;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut by: Vec<Vec<f64>> = vec![Vec::new(); n_groups];
        for (&s, &g) in scores.iter().zip(groups) {
            by[g].push(s);
        }
        let (mut cdf, mut quantiles) = (Vec::new(), Vec::new());
        for (group, mut v) in by.into_iter().enumerate() {
            if v.len() < 2 {
                return Err(BarycenterError::TooFew {
                    group,
                    count: v.len(),
                });
            }
            v.shuffle(&mut rng);
            let mut jittered: Vec<f64> = v
                .iter()
                .map(|&s| s + Self::noise(&mut rng, jitter))
                .collect();
            let second = jittered.split_off(jittered.len() / 2);
            let mut first = jittered;
            first.sort_by(f64::total_cmp);
            let mut second = second;
            second.sort_by(f64::total_cmp);
            cdf.push(first);
            quantiles.push(second);
        }
        let n = scores.len() as f64;
        let weights = (0..n_groups)
            .map(|g| groups.iter().filter(|&&h| h == g).count() as f64 / n)
            .collect();
        Ok(Self {
            cdf,
            quantiles,
            weights,
            jitter,
        })
    }

    fn noise(rng: &mut ChaCha8Rng, jitter: f64) -> f64 {
        if jitter > 0.0 {
            rng.random_range(-jitter..jitter)
        } else {
            0.0
        }
    }

    /// Number of groups.
    pub fn groups(&self) -> usize {
        self.weights.len()
    }

    /// The empirical CDF of group `g` at `t`: the fraction of its (CDF-half) calibration
    /// scores `≤ t`.
    pub fn cdf(&self, g: usize, t: f64) -> f64 {
        let v = &self.cdf[g];
        v.partition_point(|&s| s <= t) as f64 / v.len() as f64
    }

    /// The empirical quantile function of group `g` at `u ∈ [0, 1]`:
    /// `inf{t : F(t) ≥ u}`, i.e. the `⌈u·N⌉`-th smallest (quantile-half) score.
    pub fn quantile(&self, g: usize, u: f64) -> f64 {
        let v = &self.quantiles[g];
        let (u, n) = (u.clamp(0.0, 1.0), v.len() as f64);
        // ⌈u·N⌉, corrected where u·N rounds up past an integer (0.14 · 150 = 21.000000000000004):
        // the smallest k with k/N ≥ u, as the definition compares.
        let mut k = (u * n).ceil() as usize;
        while k > 1 && (k - 1) as f64 / n >= u {
            k -= 1;
        }
        v[k.clamp(1, v.len()) - 1]
    }

    /// The barycenter's quantile function `Σ_s p_s Q_s(u)`.
    pub fn barycenter_quantile(&self, u: f64) -> f64 {
        self.weights
            .iter()
            .enumerate()
            .map(|(g, p)| p * self.quantile(g, u))
            .sum()
    }

    /// The fair score of one prediction `score` of group `group`, for a given jitter draw
    /// `zeta ∈ (−σ, σ)`.
    pub fn transform(&self, score: f64, group: usize, zeta: f64) -> f64 {
        self.barycenter_quantile(self.cdf(group, score + zeta))
    }

    /// The fair scores of `scores` with their `groups`, jitter drawn from `seed`.
    pub fn apply(
        &self,
        scores: &[f64],
        groups: &[usize],
        seed: u64,
    ) -> Result<Vec<f64>, BarycenterError> {
        self.applier(seed).apply(scores, groups)
    }

    /// An applier that draws the jitter from `seed` across several calls: applying to a file
    /// chunk by chunk gives the scores [`Barycenter::apply`] gives on the whole file.
    pub fn applier(&self, seed: u64) -> Applier<'_> {
        Applier {
            fitted: self,
            rng: ChaCha8Rng::seed_from_u64(seed ^ 0x5EED_BA7C),
        }
    }
}

/// [`Barycenter::apply`] in chunks (see [`Barycenter::applier`]).
pub struct Applier<'a> {
    fitted: &'a Barycenter,
    rng: ChaCha8Rng,
}

impl Applier<'_> {
    /// The fair scores of the next `scores` with their `groups`.
    pub fn apply(&mut self, scores: &[f64], groups: &[usize]) -> Result<Vec<f64>, BarycenterError> {
        let b = self.fitted;
        check(scores, groups, b.groups())?;
        Ok(scores
            .iter()
            .zip(groups)
            .map(|(&s, &g)| b.transform(s, g, Barycenter::noise(&mut self.rng, b.jitter)))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_abs_diff_eq;
    use fairrep_metrics::regression::{ks_distance, wasserstein1};

    /// Standard normal draws (Box–Muller) from a seed.
    fn normals(n: usize, seed: u64) -> Vec<f64> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        (0..n)
            .map(|_| {
                let (u, v): (f64, f64) = (rng.random(), rng.random());
                (-2.0 * (1.0 - u).ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
            })
            .collect()
    }

    /// Two groups with scores N(0, 1) and N(2, 1), proportions 1/2.
    fn shifted(n: usize, seed: u64) -> (Vec<f64>, Vec<usize>) {
        let z = normals(n, seed);
        let groups: Vec<usize> = (0..n).map(|i| i % 2).collect();
        let scores = z
            .iter()
            .zip(&groups)
            .map(|(v, &g)| v + 2.0 * g as f64)
            .collect();
        (scores, groups)
    }

    fn split(scores: &[f64], groups: &[usize]) -> (Vec<f64>, Vec<f64>) {
        let pick = |g| {
            scores
                .iter()
                .zip(groups)
                .filter(|(_, h)| **h == g)
                .map(|(s, _)| *s)
                .collect::<Vec<f64>>()
        };
        (pick(0), pick(1))
    }

    #[test]
    fn barycenter_of_quantile_functions_is_their_weighted_average() {
        // Group 0: 0..100, group 1: 0, 2, …, 198 — three times as many in group 0.
        let mut scores: Vec<f64> = (0..300).map(|i| (i % 100) as f64).collect();
        let mut groups = vec![0usize; 300];
        scores.extend((0..100).map(|i| 2.0 * i as f64));
        groups.extend(vec![1usize; 100]);
        let b = Barycenter::fit(&scores, &groups, 2, 0.0, 7).unwrap();
        assert_eq!(b.weights, vec![0.75, 0.25]);
        for u in [0.0, 0.01, 0.25, 0.5, 0.77, 1.0] {
            let want = 0.75 * b.quantile(0, u) + 0.25 * b.quantile(1, u);
            assert_abs_diff_eq!(b.barycenter_quantile(u), want, epsilon = 1e-12);
        }
        // Quantile = the generalised inverse of the empirical CDF of the same half, exactly:
        // the smallest value t of the half with #{v ≤ t}/N ≥ u (no slack, so an off-by-one in
        // ⌈u·N⌉ fails).
        for g in 0..2 {
            let v = &b.quantiles[g];
            let n = v.len() as f64;
            for k in 1..=400 {
                let u = f64::from(k) / 400.0;
                let want = v
                    .iter()
                    .copied()
                    .find(|&t| v.iter().filter(|&&x| x <= t).count() as f64 / n >= u)
                    .unwrap();
                assert_eq!(b.quantile(g, u), want, "group {g}, u = {u}");
            }
        }
    }

    #[test]
    fn shifted_gaussians_share_the_barycenter_after_post_processing() {
        // Two groups N(0,1) and N(2,1): the W2 barycenter (weights 1/2) is N(1,1). After the
        // post-processing, fitted on one sample and applied to another, both groups follow it:
        // KS between the groups goes to 0 as n grows, and each group's mean goes to 1.
        let mut last_ks = f64::INFINITY;
        for (n, bound) in [(2_000, 0.08), (20_000, 0.03), (200_000, 0.01)] {
            let (cal, cal_g) = shifted(n, 1);
            let (test, test_g) = shifted(n, 2);
            let b = Barycenter::fit(&cal, &cal_g, 2, 1e-5, 3).unwrap();
            let fair = b.apply(&test, &test_g, 4).unwrap();
            let (before0, before1) = split(&test, &test_g);
            let (g0, g1) = split(&fair, &test_g);
            assert!(ks_distance(&before0, &before1) > 0.6);
            let ks = ks_distance(&g0, &g1);
            assert!(ks < bound, "n = {n}: KS {ks} ≥ {bound}");
            assert!(ks < last_ks + 0.005);
            last_ks = ks;
            let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
            assert!((mean(&g0) - 1.0).abs() < 10.0 / (n as f64).sqrt());
            assert!((mean(&g1) - 1.0).abs() < 10.0 / (n as f64).sqrt());
            assert!(wasserstein1(&g0, &g1) < 0.1);
        }
    }

    #[test]
    fn jitter_makes_ties_uniform_and_errors_are_named() {
        // A classifier's scores with heavy ties: without jitter every tied score lands on one
        // quantile; with it they spread.
        let scores: Vec<f64> = (0..4000)
            .map(|i| if i % 4 == 0 { 1.0 } else { 0.0 })
            .collect();
        let groups: Vec<usize> = (0..4000).map(|i| (i / 2) % 2).collect();
        let b = Barycenter::fit(&scores, &groups, 2, 1e-6, 1).unwrap();
        let fair = b.apply(&scores, &groups, 2).unwrap();
        let (g0, g1) = split(&fair, &groups);
        assert!(ks_distance(&g0, &g1) < 0.06);
        assert_eq!(
            Barycenter::fit(&[1.0, 2.0, 3.0], &[0, 0, 1], 2, 0.0, 1),
            Err(BarycenterError::TooFew { group: 1, count: 1 })
        );
        assert_eq!(
            Barycenter::fit(&[1.0, 2.0], &[0, 3], 2, 0.0, 1),
            Err(BarycenterError::GroupIndex {
                group: 3,
                groups: 2
            })
        );
        assert!(matches!(
            Barycenter::fit(&[1.0, f64::NAN], &[0, 1], 2, 0.0, 1),
            Err(BarycenterError::NotFinite { index: 1, .. })
        ));
    }
}
