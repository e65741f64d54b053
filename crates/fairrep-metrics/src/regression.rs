//! Regression metrics, and demographic parity for real-valued predictions (scores): distances
//! between the groups' prediction distributions.
//!
//! - [`rmse`], [`mae`], [`r2`] (scikit-learn's definitions: `R² = 1 − SS_res / SS_tot`);
//! - [`ks_distance`]: the two-sample Kolmogorov–Smirnov statistic `sup_t |F_1(t) − F_2(t)|`
//!   between empirical distributions (scipy's `ks_2samp` statistic);
//! - [`wasserstein1`]: `∫ |F_1(t) − F_2(t)| dt` (scipy's `wasserstein_distance`);
//! - [`score_parity`]: both, as the largest value over pairs of groups, with each group's mean.
//!
//! Strong demographic parity of a score means equal distributions across groups: KS and W1
//! are 0 exactly then.

use serde::{Deserialize, Serialize};

/// Root mean squared error.
pub fn rmse(y: &[f64], pred: &[f64]) -> f64 {
    mean(y.iter().zip(pred).map(|(a, b)| (a - b) * (a - b))).sqrt()
}

/// Mean absolute error.
pub fn mae(y: &[f64], pred: &[f64]) -> f64 {
    mean(y.iter().zip(pred).map(|(a, b)| (a - b).abs()))
}

/// Coefficient of determination `1 − Σ(y − ŷ)² / Σ(y − ȳ)²` (`NaN` for a constant `y`).
pub fn r2(y: &[f64], pred: &[f64]) -> f64 {
    let ybar = mean(y.iter().copied());
    let ss_res: f64 = y.iter().zip(pred).map(|(a, b)| (a - b) * (a - b)).sum();
    let ss_tot: f64 = y.iter().map(|a| (a - ybar) * (a - ybar)).sum();
    if ss_tot == 0.0 {
        f64::NAN
    } else {
        1.0 - ss_res / ss_tot
    }
}

fn mean(v: impl Iterator<Item = f64>) -> f64 {
    let (s, n) = v.fold((0.0, 0usize), |(s, n), x| (s + x, n + 1));
    if n == 0 { f64::NAN } else { s / n as f64 }
}

fn sorted(v: &[f64]) -> Vec<f64> {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    s
}

/// Walks the merged sorted samples: calls `step(t_prev, t, F_1, F_2)` for each interval between
/// consecutive distinct values, with the empirical CDFs on it.
fn sweep(a: &[f64], b: &[f64], mut step: impl FnMut(f64, f64, f64, f64)) {
    let (a, b) = (sorted(a), sorted(b));
    let (na, nb) = (a.len() as f64, b.len() as f64);
    let (mut i, mut j) = (0usize, 0usize);
    let mut prev: Option<f64> = None;
    while i < a.len() || j < b.len() {
        let t = match (a.get(i), b.get(j)) {
            (Some(&x), Some(&y)) => x.min(y),
            (Some(&x), None) => x,
            (None, Some(&y)) => y,
            (None, None) => break, // not reached: the loop runs while one is left
        };
        // CDFs just before t (on [prev, t)).
        if let Some(p) = prev {
            step(p, t, i as f64 / na, j as f64 / nb);
        }
        while i < a.len() && a[i] <= t {
            i += 1;
        }
        while j < b.len() && b[j] <= t {
            j += 1;
        }
        // CDFs at t (right-continuous): a zero-length interval carries the jump.
        step(t, t, i as f64 / na, j as f64 / nb);
        prev = Some(t);
    }
}

/// The two-sample Kolmogorov–Smirnov statistic `sup_t |F_a(t) − F_b(t)|` (0 for identical
/// samples, 1 for separated ones). `NaN` if a sample is empty.
pub fn ks_distance(a: &[f64], b: &[f64]) -> f64 {
    if a.is_empty() || b.is_empty() {
        return f64::NAN;
    }
    let mut sup = 0.0f64;
    sweep(a, b, |_, _, fa, fb| sup = sup.max((fa - fb).abs()));
    sup
}

/// The Wasserstein-1 distance `∫ |F_a(t) − F_b(t)| dt` between two samples' empirical
/// distributions. `NaN` if a sample is empty.
pub fn wasserstein1(a: &[f64], b: &[f64]) -> f64 {
    if a.is_empty() || b.is_empty() {
        return f64::NAN;
    }
    let mut total = 0.0;
    sweep(a, b, |t0, t1, fa, fb| total += (t1 - t0) * (fa - fb).abs());
    total
}

/// Demographic parity of a score: the largest KS and W1 distances between two groups'
/// prediction distributions, and each group's mean prediction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoreParity {
    /// max over pairs of groups of [`ks_distance`].
    #[serde(deserialize_with = "crate::nan::f64")]
    pub ks: f64,
    /// max over pairs of groups of [`wasserstein1`].
    #[serde(deserialize_with = "crate::nan::f64")]
    pub w1: f64,
    /// Mean prediction of each group (by group index; `NaN` for an empty group).
    #[serde(deserialize_with = "crate::nan::vec_f64")]
    pub group_means: Vec<f64>,
}

/// [`ScoreParity`] of `pred` over the groups `group` (indices `0..groups`); groups without
/// any prediction are left out of the pairs.
pub fn score_parity(pred: &[f64], group: &[usize], groups: usize) -> ScoreParity {
    let mut by: Vec<Vec<f64>> = vec![Vec::new(); groups];
    for (&p, &g) in pred.iter().zip(group) {
        by[g].push(p);
    }
    let (mut ks, mut w1) = (0.0f64, 0.0f64);
    for i in 0..groups {
        for j in i + 1..groups {
            if by[i].is_empty() || by[j].is_empty() {
                continue;
            }
            ks = ks.max(ks_distance(&by[i], &by[j]));
            w1 = w1.max(wasserstein1(&by[i], &by[j]));
        }
    }
    ScoreParity {
        ks,
        w1,
        group_means: by.iter().map(|v| mean(v.iter().copied())).collect(),
    }
}

/// The summary of one regression task, as written in reports: accuracy (RMSE, MAE, R²) and
/// demographic parity of the predictions (largest KS and W1 distances between two groups),
/// per group the mean prediction and the RMSE.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RegressionSummary {
    /// Root mean squared error.
    #[serde(deserialize_with = "crate::nan::f64")]
    pub rmse: f64,
    /// Mean absolute error.
    #[serde(deserialize_with = "crate::nan::f64")]
    pub mae: f64,
    /// Coefficient of determination.
    #[serde(deserialize_with = "crate::nan::f64")]
    pub r2: f64,
    /// Largest Kolmogorov–Smirnov distance between two groups' predictions.
    #[serde(deserialize_with = "crate::nan::f64")]
    pub ks: f64,
    /// Largest Wasserstein-1 distance between two groups' predictions.
    #[serde(deserialize_with = "crate::nan::f64")]
    pub w1: f64,
    /// Per group: name, rows, mean prediction, mean target, RMSE.
    pub by_group: Vec<RegressionGroup>,
    /// 95% percentile-bootstrap intervals (when asked for).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ci95: Option<RegressionIntervals>,
}

/// One group's numbers in a [`RegressionSummary`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RegressionGroup {
    /// Group name.
    pub group: String,
    /// Rows.
    pub count: usize,
    /// Mean prediction.
    #[serde(deserialize_with = "crate::nan::f64")]
    pub mean_prediction: f64,
    /// Mean target.
    #[serde(deserialize_with = "crate::nan::f64")]
    pub mean_target: f64,
    /// RMSE within the group.
    #[serde(deserialize_with = "crate::nan::f64")]
    pub rmse: f64,
}

/// 95% percentile-bootstrap intervals of a [`RegressionSummary`]'s numbers.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RegressionIntervals {
    /// Resamples drawn.
    pub resamples: usize,
    /// RMSE.
    #[serde(deserialize_with = "Option::deserialize")]
    pub rmse: Option<[f64; 2]>,
    /// MAE.
    #[serde(deserialize_with = "Option::deserialize")]
    pub mae: Option<[f64; 2]>,
    /// R².
    #[serde(deserialize_with = "Option::deserialize")]
    pub r2: Option<[f64; 2]>,
    /// KS between groups.
    #[serde(deserialize_with = "Option::deserialize")]
    pub ks: Option<[f64; 2]>,
    /// W1 between groups.
    #[serde(deserialize_with = "Option::deserialize")]
    pub w1: Option<[f64; 2]>,
}

/// [`RegressionSummary`] of predictions `pred` against targets `y` over `groups` (indices into
/// `group_names`); with `bootstrap = Some((resamples, seed))`, also the intervals (resampling
/// rows).
pub fn summarize_regression(
    y: &[f64],
    pred: &[f64],
    group: &[usize],
    group_names: &[String],
    bootstrap: Option<(usize, u64)>,
) -> RegressionSummary {
    let k = group_names.len();
    let sp = score_parity(pred, group, k);
    let by_group = (0..k)
        .map(|g| {
            let rows: Vec<usize> = (0..y.len()).filter(|&i| group[i] == g).collect();
            let pick = |v: &[f64]| rows.iter().map(|&i| v[i]).collect::<Vec<f64>>();
            let (yg, pg) = (pick(y), pick(pred));
            RegressionGroup {
                group: group_names[g].clone(),
                count: rows.len(),
                mean_prediction: mean(pg.iter().copied()),
                mean_target: mean(yg.iter().copied()),
                rmse: rmse(&yg, &pg),
            }
        })
        .collect();
    let ci95 = bootstrap.map(|(resamples, seed)| {
        let mut next = crate::splitmix(seed);
        let n = y.len();
        let mut draws: [Vec<f64>; 5] = Default::default();
        let (mut yb, mut pb, mut gb) = (vec![0.0; n], vec![0.0; n], vec![0usize; n]);
        for _ in 0..resamples {
            for j in 0..n {
                let i = (next() % n.max(1) as u64) as usize;
                (yb[j], pb[j], gb[j]) = (y[i], pred[i], group[i]);
            }
            let p = score_parity(&pb, &gb, k);
            for (d, v) in
                draws
                    .iter_mut()
                    .zip([rmse(&yb, &pb), mae(&yb, &pb), r2(&yb, &pb), p.ks, p.w1])
            {
                if v.is_finite() {
                    d.push(v);
                }
            }
        }
        let [a, b, c, d, e] = &mut draws;
        RegressionIntervals {
            resamples,
            rmse: crate::percentile_interval(a),
            mae: crate::percentile_interval(b),
            r2: crate::percentile_interval(c),
            ks: crate::percentile_interval(d),
            w1: crate::percentile_interval(e),
        }
    });
    RegressionSummary {
        rmse: rmse(y, pred),
        mae: mae(y, pred),
        r2: r2(y, pred),
        ks: sp.ks,
        w1: sp.w1,
        by_group,
        ci95,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_abs_diff_eq;

    #[test]
    fn regression_metrics_have_their_closed_forms() {
        let y = [1.0, 2.0, 3.0, 4.0];
        let p = [1.5, 2.0, 2.0, 5.0];
        // residuals 0.5, 0, 1, 1: SS = 2.25, mean 0.5625; |r| mean 0.625; SS_tot = 5.
        assert_abs_diff_eq!(rmse(&y, &p), 0.5625f64.sqrt(), epsilon = 1e-15);
        assert_abs_diff_eq!(mae(&y, &p), 0.625, epsilon = 1e-15);
        assert_abs_diff_eq!(r2(&y, &p), 1.0 - 2.25 / 5.0, epsilon = 1e-15);
        assert!(r2(&[1.0, 1.0], &[1.0, 2.0]).is_nan());
    }

    #[test]
    fn ks_and_w1_have_known_values() {
        let a = [0.0, 1.0, 2.0, 3.0];
        assert_eq!(ks_distance(&a, &a), 0.0);
        assert_eq!(wasserstein1(&a, &a), 0.0);
        // A shift by c: W1 = c; KS = fraction of the mass that moved past (scipy: 0.5, 0.25).
        let b: Vec<f64> = a.iter().map(|v| v + 0.5).collect();
        assert_abs_diff_eq!(wasserstein1(&a, &b), 0.5, epsilon = 1e-15);
        assert_abs_diff_eq!(ks_distance(&a, &b), 0.25, epsilon = 1e-15);
        // Separated samples: KS = 1; W1 = difference of means (scipy: 9.0).
        let c = [10.0, 11.0];
        assert_eq!(ks_distance(&a, &c), 1.0);
        assert_abs_diff_eq!(wasserstein1(&a, &c), 10.5 - 1.5, epsilon = 1e-12);
        // Unequal sizes and ties, checked with scipy 1.17.1: ks_2samp([0,0,1,2], [0,1,1])
        // .statistic = 0.25 and wasserstein_distance(...) = 0.41666… (by hand: on [0,1)
        // |0.5 − 1/3| = 1/6, on [1,2) |0.75 − 1| = 1/4).
        let (p, q) = ([0.0, 0.0, 1.0, 2.0], [0.0, 1.0, 1.0]);
        assert_abs_diff_eq!(ks_distance(&p, &q), 0.25, epsilon = 1e-15);
        assert_abs_diff_eq!(wasserstein1(&p, &q), 0.4166666666666667, epsilon = 1e-15);
        assert!(ks_distance(&[], &a).is_nan());
    }

    #[test]
    fn regression_summary_and_its_intervals() {
        let y: Vec<f64> = (0..400).map(|i| (i % 20) as f64).collect();
        let pred: Vec<f64> = y
            .iter()
            .enumerate()
            .map(|(i, v)| v + if i % 2 == 0 { 1.0 } else { -1.0 })
            .collect();
        let group: Vec<usize> = (0..400).map(|i| i % 2).collect();
        let names = ["a".to_string(), "b".to_string()];
        let s = summarize_regression(&y, &pred, &group, &names, Some((200, 1)));
        assert_abs_diff_eq!(s.rmse, 1.0, epsilon = 1e-12);
        assert_abs_diff_eq!(s.mae, 1.0, epsilon = 1e-12);
        assert_eq!(s.by_group[0].count, 200);
        // Group a's predictions are y + 1 on even y, group b's y − 1 on odd y.
        assert_abs_diff_eq!(
            s.by_group[0].mean_prediction - s.by_group[1].mean_prediction,
            1.0,
            epsilon = 1e-12
        );
        let ci = s.ci95.unwrap();
        let [lo, hi] = ci.rmse.unwrap();
        assert!(lo <= 1.0 && 1.0 <= hi);
        let [lo, hi] = ci.ks.unwrap();
        assert!(lo <= s.ks + 1e-12 && s.ks <= hi + 1e-12 && hi - lo < 0.3);
        // Reproducible by seed.
        assert_eq!(
            summarize_regression(&y, &pred, &group, &names, Some((200, 1))).ci95,
            Some(ci)
        );
    }

    #[test]
    fn score_parity_takes_the_worst_pair() {
        let pred = [0.0, 1.0, 0.0, 1.0, 5.0, 6.0];
        let group = [0, 0, 1, 1, 2, 2];
        let sp = score_parity(&pred, &group, 4); // group 3 is empty
        assert_eq!(sp.ks, 1.0);
        assert_abs_diff_eq!(sp.w1, 5.0, epsilon = 1e-12);
        assert_eq!(&sp.group_means[..3], &[0.5, 0.5, 5.5]);
        assert!(sp.group_means[3].is_nan());
    }
}
