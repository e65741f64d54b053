//! Grouped classification metrics and named fairness metrics.
//!
//! One engine, [`MetricFrame`], computes every per-group rate once (selection rate, true and
//! false positive rates, accuracy); the named fairness metrics are thin wrappers over it, as in
//! fairlearn. Definitions follow fairlearn 0.15:
//!
//! - [`demographic_parity_difference`]: max − min over groups of `P(ŷ = 1 | group)` (DDP);
//! - [`equal_opportunity_difference`]: max − min over groups of the true positive rate (DEO);
//! - [`equalized_odds_difference`]: the larger of the TPR difference and the FPR difference;
//! - the `*_ratio` variants: min / max of the same rate (for equalized odds, the smaller of the
//!   two ratios).
//!
//! A rate that is undefined for a group (a TPR for a group with no positives, say) is `None`
//! and is left out of the differences and ratios; if fewer than one group has the rate, the
//! difference is `None`.
//!
//! Plain Rust, no tensors: used by every method (deep, FERM, post-processing) and by the audit of
//! any model's predictions.
//!
//! [`regression`] has the metrics of real-valued tasks (RMSE, MAE, R²) and demographic parity
//! for scores (Kolmogorov–Smirnov and Wasserstein-1 distances between the groups).

pub mod audit;
pub mod nan;
pub mod regression;

pub use audit::{BinaryAudit, binary_audit};

use serde::{Deserialize, Serialize};

/// Errors raised when the inputs of a metric are inconsistent.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum MetricsError {
    /// Two input slices that must align have different lengths.
    #[error("length mismatch: {what} has {got} entries, expected {expected}")]
    LengthMismatch {
        /// Which input was wrong.
        what: &'static str,
        /// Its length.
        got: usize,
        /// The length of `y_true`.
        expected: usize,
    },
    /// A group index is not below the number of group names.
    #[error("group index {index} at row {row} is out of range ({groups} groups)")]
    GroupOutOfRange {
        /// The offending index.
        index: usize,
        /// The row where it occurs.
        row: usize,
        /// Number of groups declared.
        groups: usize,
    },
    /// There is no row at all.
    #[error("no rows to evaluate")]
    Empty,
}

/// Confusion counts and the rates derived from them, for one group or for all rows.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Default)]
pub struct Rates {
    /// Number of rows.
    pub count: usize,
    /// Rows with `y_true = 1`.
    pub positives: usize,
    /// Rows with `y_true = 0`.
    pub negatives: usize,
    /// True positives.
    pub tp: usize,
    /// False positives.
    pub fp: usize,
    /// True negatives.
    pub tn: usize,
    /// False negatives.
    pub fn_: usize,
}

impl Rates {
    fn add(&mut self, y: bool, p: bool) {
        self.count += 1;
        match (y, p) {
            (true, true) => self.tp += 1,
            (true, false) => self.fn_ += 1,
            (false, true) => self.fp += 1,
            (false, false) => self.tn += 1,
        }
        if y {
            self.positives += 1;
        } else {
            self.negatives += 1;
        }
    }

    fn ratio(num: usize, den: usize) -> Option<f64> {
        (den > 0).then(|| num as f64 / den as f64)
    }

    /// `P(ŷ = 1)`.
    pub fn selection_rate(&self) -> Option<f64> {
        Self::ratio(self.tp + self.fp, self.count)
    }

    /// True positive rate (recall), `P(ŷ = 1 | y = 1)`.
    pub fn tpr(&self) -> Option<f64> {
        Self::ratio(self.tp, self.positives)
    }

    /// False positive rate, `P(ŷ = 1 | y = 0)`.
    pub fn fpr(&self) -> Option<f64> {
        Self::ratio(self.fp, self.negatives)
    }

    /// True negative rate, `P(ŷ = 0 | y = 0)`.
    pub fn tnr(&self) -> Option<f64> {
        Self::ratio(self.tn, self.negatives)
    }

    /// Fraction of correct predictions.
    pub fn accuracy(&self) -> Option<f64> {
        Self::ratio(self.tp + self.tn, self.count)
    }

    /// Mean of TPR and TNR (scikit-learn's `balanced_accuracy_score`; when one class is absent,
    /// the rate of the present class).
    pub fn balanced_accuracy(&self) -> Option<f64> {
        match (self.tpr(), self.tnr()) {
            (Some(a), Some(b)) => Some(0.5 * (a + b)),
            (a, b) => a.or(b),
        }
    }
}

/// The rates every group-fairness metric is built from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rate {
    /// [`Rates::selection_rate`].
    SelectionRate,
    /// [`Rates::tpr`].
    Tpr,
    /// [`Rates::fpr`].
    Fpr,
    /// [`Rates::accuracy`].
    Accuracy,
}

impl Rate {
    fn of(self, r: &Rates) -> Option<f64> {
        match self {
            Rate::SelectionRate => r.selection_rate(),
            Rate::Tpr => r.tpr(),
            Rate::Fpr => r.fpr(),
            Rate::Accuracy => r.accuracy(),
        }
    }
}

/// Per-group and overall confusion counts of binary predictions: the one engine behind every
/// metric of this crate (fairlearn's `MetricFrame`, for binary classification).
#[derive(Debug, Clone)]
pub struct MetricFrame {
    /// Group names, indexed by group id.
    pub groups: Vec<String>,
    /// Counts per group, in the order of [`MetricFrame::groups`].
    pub by_group: Vec<Rates>,
    /// Counts over all rows.
    pub overall: Rates,
}

impl MetricFrame {
    /// Builds the frame from aligned labels, predictions and group ids (`< group_names.len()`).
    pub fn new(
        y_true: &[bool],
        y_pred: &[bool],
        group: &[usize],
        group_names: &[String],
    ) -> Result<Self, MetricsError> {
        check_len("y_pred", y_pred.len(), y_true.len())?;
        check_len("group", group.len(), y_true.len())?;
        if y_true.is_empty() {
            return Err(MetricsError::Empty);
        }
        let mut by_group = vec![Rates::default(); group_names.len()];
        let mut overall = Rates::default();
        for (row, ((&y, &p), &g)) in y_true.iter().zip(y_pred).zip(group).enumerate() {
            let slot = by_group.get_mut(g).ok_or(MetricsError::GroupOutOfRange {
                index: g,
                row,
                groups: group_names.len(),
            })?;
            slot.add(y, p);
            overall.add(y, p);
        }
        Ok(Self {
            groups: group_names.to_vec(),
            by_group,
            overall,
        })
    }

    /// The rate for each group (`None` where undefined).
    pub fn rate_by_group(&self, rate: Rate) -> Vec<Option<f64>> {
        self.by_group.iter().map(|r| rate.of(r)).collect()
    }

    /// Max − min of a rate over the groups where it is defined.
    pub fn difference(&self, rate: Rate) -> Option<f64> {
        let (lo, hi) = self.extremes(rate)?;
        Some(hi - lo)
    }

    /// Min / max of a rate over the groups where it is defined (1 when both are 0, as fairlearn).
    pub fn ratio(&self, rate: Rate) -> Option<f64> {
        let (lo, hi) = self.extremes(rate)?;
        Some(if hi == 0.0 { 1.0 } else { lo / hi })
    }

    fn extremes(&self, rate: Rate) -> Option<(f64, f64)> {
        let vals: Vec<f64> = self.rate_by_group(rate).into_iter().flatten().collect();
        if vals.is_empty() {
            return None;
        }
        let lo = vals.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = vals.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        Some((lo, hi))
    }
}

fn check_len(what: &'static str, got: usize, expected: usize) -> Result<(), MetricsError> {
    if got == expected {
        Ok(())
    } else {
        Err(MetricsError::LengthMismatch {
            what,
            got,
            expected,
        })
    }
}

/// Demographic parity difference (DDP): max − min over groups of the selection rate.
pub fn demographic_parity_difference(frame: &MetricFrame) -> Option<f64> {
    frame.difference(Rate::SelectionRate)
}

/// Demographic parity ratio: min / max over groups of the selection rate.
pub fn demographic_parity_ratio(frame: &MetricFrame) -> Option<f64> {
    frame.ratio(Rate::SelectionRate)
}

/// Equal opportunity difference (DEO): max − min over groups of the true positive rate.
pub fn equal_opportunity_difference(frame: &MetricFrame) -> Option<f64> {
    frame.difference(Rate::Tpr)
}

/// Equal opportunity ratio: min / max over groups of the true positive rate.
pub fn equal_opportunity_ratio(frame: &MetricFrame) -> Option<f64> {
    frame.ratio(Rate::Tpr)
}

/// Equalized odds difference: the larger of the TPR difference and the FPR difference.
pub fn equalized_odds_difference(frame: &MetricFrame) -> Option<f64> {
    max_opt(
        frame.difference(Rate::Tpr),
        frame.difference(Rate::Fpr),
        f64::max,
    )
}

/// Equalized odds ratio: the smaller of the TPR ratio and the FPR ratio.
pub fn equalized_odds_ratio(frame: &MetricFrame) -> Option<f64> {
    max_opt(frame.ratio(Rate::Tpr), frame.ratio(Rate::Fpr), f64::min)
}

fn max_opt(a: Option<f64>, b: Option<f64>, pick: fn(f64, f64) -> f64) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(pick(a, b)),
        (a, b) => a.or(b),
    }
}

/// Area under the ROC curve of `score` against `y_true` (the Mann–Whitney statistic with
/// average ranks for ties, equal to scikit-learn's `roc_auc_score`). `None` when only one class
/// is present; NaN scores are an error of the caller and rank last.
pub fn roc_auc(y_true: &[bool], score: &[f64]) -> Result<Option<f64>, MetricsError> {
    check_len("score", score.len(), y_true.len())?;
    let n_pos = y_true.iter().filter(|&&y| y).count();
    let n_neg = y_true.len() - n_pos;
    if n_pos == 0 || n_neg == 0 {
        return Ok(None);
    }
    let mut order: Vec<usize> = (0..score.len()).collect();
    order.sort_by(|&a, &b| score[a].total_cmp(&score[b]));
    // Sum of the (1-based, tie-averaged) ranks of the positives.
    let mut rank_sum_pos = 0.0;
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && score[order[j + 1]] == score[order[i]] {
            j += 1;
        }
        let avg_rank = (i + j) as f64 / 2.0 + 1.0;
        rank_sum_pos += avg_rank * order[i..=j].iter().filter(|&&k| y_true[k]).count() as f64;
        i = j + 1;
    }
    let u = rank_sum_pos - (n_pos * (n_pos + 1)) as f64 / 2.0;
    Ok(Some(u / (n_pos as f64 * n_neg as f64)))
}

/// The standard fairness summary of one binary task, as written in reports (all empty for a
/// regression task: see [`regression::RegressionSummary`]).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct BinarySummary {
    /// Fraction of correct predictions.
    #[serde(deserialize_with = "Option::deserialize")]
    pub accuracy: Option<f64>,
    /// Balanced accuracy.
    #[serde(deserialize_with = "Option::deserialize")]
    pub balanced_accuracy: Option<f64>,
    /// ROC AUC of the scores (`None` when one class is absent).
    #[serde(deserialize_with = "Option::deserialize")]
    pub auc: Option<f64>,
    /// Demographic parity difference.
    #[serde(deserialize_with = "Option::deserialize")]
    pub ddp: Option<f64>,
    /// Equal opportunity difference.
    #[serde(deserialize_with = "Option::deserialize")]
    pub deo: Option<f64>,
    /// Equalized odds difference.
    #[serde(deserialize_with = "Option::deserialize")]
    pub equalized_odds: Option<f64>,
    /// Demographic parity ratio.
    #[serde(deserialize_with = "Option::deserialize")]
    pub dp_ratio: Option<f64>,
    /// Per-group rates.
    pub by_group: Vec<GroupSummary>,
}

/// One group's rates in a [`BinarySummary`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GroupSummary {
    /// Group name.
    pub group: String,
    /// Number of rows of the group.
    pub count: usize,
    /// `P(ŷ = 1 | group)`.
    #[serde(deserialize_with = "Option::deserialize")]
    pub selection_rate: Option<f64>,
    /// True positive rate in the group.
    #[serde(deserialize_with = "Option::deserialize")]
    pub tpr: Option<f64>,
    /// False positive rate in the group.
    #[serde(deserialize_with = "Option::deserialize")]
    pub fpr: Option<f64>,
    /// Accuracy in the group.
    #[serde(deserialize_with = "Option::deserialize")]
    pub accuracy: Option<f64>,
}

/// Computes the summary of binary predictions `score ≥ threshold`.
pub fn summarize_binary(
    y_true: &[bool],
    score: &[f64],
    threshold: f64,
    group: &[usize],
    group_names: &[String],
) -> Result<BinarySummary, MetricsError> {
    let y_pred: Vec<bool> = score.iter().map(|&s| s >= threshold).collect();
    let frame = MetricFrame::new(y_true, &y_pred, group, group_names)?;
    let by_group = frame
        .groups
        .iter()
        .zip(&frame.by_group)
        .map(|(g, r)| GroupSummary {
            group: g.clone(),
            count: r.count,
            selection_rate: r.selection_rate(),
            tpr: r.tpr(),
            fpr: r.fpr(),
            accuracy: r.accuracy(),
        })
        .collect();
    Ok(BinarySummary {
        accuracy: frame.overall.accuracy(),
        balanced_accuracy: frame.overall.balanced_accuracy(),
        auc: roc_auc(y_true, score)?,
        ddp: demographic_parity_difference(&frame),
        deo: equal_opportunity_difference(&frame),
        equalized_odds: equalized_odds_difference(&frame),
        dp_ratio: demographic_parity_ratio(&frame),
        by_group,
    })
}

/// 95% percentile-bootstrap intervals `[2.5%, 97.5%]` of the headline metrics of a
/// [`BinarySummary`]: rows resampled with replacement `resamples` times (seeded); a metric that
/// is undefined in a resample (a class or group absent) is left out of its interval. The gaps
/// (DDP, DEO, equalized odds) are absolute differences: when the true gap is near 0, their
/// resampled values lie above it, and the percentile interval may not contain the estimate.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Intervals {
    /// Resamples drawn.
    pub resamples: usize,
    /// Accuracy.
    #[serde(deserialize_with = "Option::deserialize")]
    pub accuracy: Option<[f64; 2]>,
    /// ROC AUC.
    #[serde(deserialize_with = "Option::deserialize")]
    pub auc: Option<[f64; 2]>,
    /// Demographic parity difference.
    #[serde(deserialize_with = "Option::deserialize")]
    pub ddp: Option<[f64; 2]>,
    /// Equal opportunity difference.
    #[serde(deserialize_with = "Option::deserialize")]
    pub deo: Option<[f64; 2]>,
    /// Equalized odds difference.
    #[serde(deserialize_with = "Option::deserialize")]
    pub equalized_odds: Option<[f64; 2]>,
}

/// SplitMix64: a small, seeded generator (of bootstrap row indices; no dependency needed).
pub(crate) fn splitmix(seed: u64) -> impl FnMut() -> u64 {
    let mut state = seed;
    move || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// The 2.5% and 97.5% percentiles of the draws (sorted in place); `None` without draws.
pub(crate) fn percentile_interval(v: &mut [f64]) -> Option<[f64; 2]> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let at = |q: f64| v[((q * (v.len() - 1) as f64).round() as usize).min(v.len() - 1)];
    Some([at(0.025), at(0.975)])
}

/// See [`Intervals`].
pub fn bootstrap_intervals(
    y_true: &[bool],
    score: &[f64],
    threshold: f64,
    group: &[usize],
    group_names: &[String],
    resamples: usize,
    seed: u64,
) -> Result<Intervals, MetricsError> {
    let mut next = splitmix(seed);
    let n = y_true.len();
    let mut draws: [Vec<f64>; 5] = Default::default();
    let (mut yt, mut sc, mut gr) = (vec![false; n], vec![0.0; n], vec![0usize; n]);
    for _ in 0..resamples {
        for k in 0..n {
            let i = (next() % n.max(1) as u64) as usize;
            yt[k] = y_true[i];
            sc[k] = score[i];
            gr[k] = group[i];
        }
        let s = summarize_binary(&yt, &sc, threshold, &gr, group_names)?;
        for (d, v) in draws
            .iter_mut()
            .zip([s.accuracy, s.auc, s.ddp, s.deo, s.equalized_odds])
        {
            d.extend(v);
        }
    }
    let interval = percentile_interval;
    let [a, b, c, d, e] = &mut draws;
    Ok(Intervals {
        resamples,
        accuracy: interval(a),
        auc: interval(b),
        ddp: interval(c),
        deo: interval(d),
        equalized_odds: interval(e),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_handles_ties_like_mann_whitney() {
        // Hand count: pairs (pos, neg): (0.8 > 0.1), (0.8 > 0.4), (0.4 = 0.4 -> 1/2), (0.4 > 0.1)
        let y = [true, false, true, false];
        let s = [0.8, 0.4, 0.4, 0.1];
        assert_eq!(roc_auc(&y, &s).unwrap(), Some(3.5 / 4.0));
    }

    #[test]
    fn auc_undefined_with_one_class() {
        assert_eq!(roc_auc(&[true, true], &[0.1, 0.2]).unwrap(), None);
    }

    #[test]
    fn undefined_rates_are_left_out() {
        // group 1 has no positives: its TPR is undefined, DEO uses group 0 alone.
        let names = vec!["a".to_string(), "b".to_string()];
        let f = MetricFrame::new(
            &[true, false, false],
            &[true, true, false],
            &[0, 1, 1],
            &names,
        )
        .unwrap();
        assert_eq!(f.rate_by_group(Rate::Tpr), vec![Some(1.0), None]);
        assert_eq!(equal_opportunity_difference(&f), Some(0.0));
        assert_eq!(demographic_parity_difference(&f), Some(0.5));
    }

    #[test]
    fn bad_inputs_are_errors() {
        let names = vec!["a".to_string()];
        assert!(matches!(
            MetricFrame::new(&[true], &[true, false], &[0], &names),
            Err(MetricsError::LengthMismatch { .. })
        ));
        assert!(matches!(
            MetricFrame::new(&[true], &[true], &[3], &names),
            Err(MetricsError::GroupOutOfRange { index: 3, .. })
        ));
        assert_eq!(
            MetricFrame::new(&[], &[], &[], &names).unwrap_err(),
            MetricsError::Empty
        );
    }

    /// Away from 0 the DDP's bootstrap interval is the textbook one for a difference of two
    /// proportions: centred on the estimate, 2 · 1.96 · √(p₁q₁/n₁ + p₂q₂/n₂) wide.
    #[test]
    fn the_ddp_interval_has_the_width_of_a_difference_of_proportions() {
        let n = 4000;
        let g: Vec<usize> = (0..n).map(|i| i % 2).collect();
        // Group a selected at 0.6, group b at 0.3 (spread evenly over the rows).
        let s: Vec<f64> = (0..n)
            .map(|i| {
                let k = (i / 2) % 10;
                if (g[i] == 0 && k < 6) || (g[i] == 1 && k < 3) {
                    0.9
                } else {
                    0.1
                }
            })
            .collect();
        let y: Vec<bool> = (0..n).map(|i| (i * 7919) % 10 < 4).collect();
        let names = ["a".to_string(), "b".to_string()];
        let point = summarize_binary(&y, &s, 0.5, &g, &names).unwrap();
        assert!((point.ddp.unwrap() - 0.3).abs() < 1e-12);
        let iv = bootstrap_intervals(&y, &s, 0.5, &g, &names, 1000, 11).unwrap();
        let [lo, hi] = iv.ddp.unwrap();
        let se = (0.6 * 0.4 / 2000.0 + 0.3 * 0.7 / 2000.0f64).sqrt();
        let want = 2.0 * 1.96 * se; // 0.0832
        assert!(lo < 0.3 && 0.3 < hi, "[{lo}, {hi}]");
        assert!(
            ((hi - lo) / want - 1.0).abs() < 0.2,
            "width {} vs {want}",
            hi - lo
        );
        assert!(
            ((0.3 - lo) - (hi - 0.3)).abs() < 0.25 * want,
            "[{lo}, {hi}] off centre"
        );
    }

    #[test]
    fn bootstrap_intervals_bracket_the_estimate_and_narrow_with_n() {
        let make = |n: usize| {
            let y: Vec<bool> = (0..n).map(|i| (i * 7919) % 10 < 4).collect();
            let s: Vec<f64> = (0..n)
                .map(|i| if y[i] { 0.7 } else { 0.3 } + ((i * 31) % 17) as f64 / 40.0 - 0.2)
                .collect();
            let g: Vec<usize> = (0..n).map(|i| (i * 13) % 3 % 2).collect();
            (y, s, g)
        };
        let names = ["a".to_string(), "b".to_string()];
        let width = |n: usize| {
            let (y, s, g) = make(n);
            let point = summarize_binary(&y, &s, 0.5, &g, &names).unwrap();
            let iv = bootstrap_intervals(&y, &s, 0.5, &g, &names, 200, 7).unwrap();
            // DDP is a gap |a − b|: near 0 its bootstrap distribution sits above the estimate
            // (see `Intervals`), so only its ordering is checked.
            let [dlo, dhi] = iv.ddp.unwrap();
            assert!(0.0 <= dlo && dlo <= dhi);
            for (est, ci) in [(point.accuracy, iv.accuracy), (point.auc, iv.auc)] {
                let (e, [lo, hi]) = (est.unwrap(), ci.unwrap());
                assert!(lo <= e && e <= hi, "{e} not in [{lo}, {hi}] (n = {n})");
            }
            // Same seed, same intervals.
            assert_eq!(
                iv,
                bootstrap_intervals(&y, &s, 0.5, &g, &names, 200, 7).unwrap()
            );
            let [lo, hi] = iv.accuracy.unwrap();
            hi - lo
        };
        let (small, large) = (width(200), width(5000));
        // The interval's width falls roughly as 1/sqrt(n): 25x the rows, about 1/5 the width.
        assert!(
            large < 0.35 * small,
            "widths {small} (n = 200) and {large} (n = 5000)"
        );
    }
}
