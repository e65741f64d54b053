//! "Unprocessing" (Cruz and Hardt, *Unprocessing Seven Years of Algorithmic Fairness*, ICLR
//! 2024): the most accurate unconstrained model's scores, thresholded per group so that the
//! selection rates differ by at most a bound. The baseline reviewers ask for first: it is what
//! a fair representation must beat, and it needs the sensitive attribute at prediction time
//! (a representation does not).
//!
//! For a bound `b`, the thresholds maximise the accuracy on the tuning rows subject to
//! `max_g rate_g − min_g rate_g ≤ b`: every feasible choice has all selection rates in some
//! window `[lo, lo + b]`, so for each `lo` of a grid (and each group's own rates as window
//! edges) every group takes its most accurate number of selected rows inside the window; the
//! best window wins. Deterministic thresholds (no randomisation), so the tuning rows meet the
//! bound exactly and new rows up to sampling.

use serde::{Deserialize, Serialize};

/// Per-group score thresholds: a row of group `g` is predicted 1 when its score is at least
/// `thresholds[g]` (`+∞`: no row selected).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupThresholds {
    /// One threshold per group.
    pub thresholds: Vec<f64>,
    /// The accuracy on the tuning rows.
    pub tuning_accuracy: f64,
    /// The selection-rate gap on the tuning rows (≤ the bound).
    pub tuning_ddp: f64,
}

impl GroupThresholds {
    /// The predictions of rows with `scores` and `group`.
    pub fn predict(&self, scores: &[f64], group: &[usize]) -> Vec<bool> {
        scores
            .iter()
            .zip(group)
            .map(|(&s, &g)| s >= self.thresholds[g])
            .collect()
    }
}

/// One group's rows sorted by decreasing score: `correct[k]` is the number of rows predicted
/// right when the top `k` are selected, `cut[k]` the threshold that selects exactly them.
struct Ranked {
    n: usize,
    correct: Vec<usize>,
    cut: Vec<f64>,
    /// `best[j][i]`: the reachable `k` in `i..i + 2^j` with the most rows right (sparse table;
    /// `usize::MAX` where none is reachable).
    best: Vec<Vec<usize>>,
}

impl Ranked {
    fn better(&self, a: usize, b: usize) -> usize {
        match (a, b) {
            (usize::MAX, _) => b,
            (_, usize::MAX) => a,
            _ if self.correct[b] > self.correct[a]
                || (self.correct[b] == self.correct[a] && b < a) =>
            {
                b
            }
            _ => a,
        }
    }

    fn build(&mut self) {
        let m = self.n + 1;
        let mut level: Vec<usize> = (0..m)
            .map(|k| if self.cut[k].is_nan() { usize::MAX } else { k })
            .collect();
        let mut best = Vec::new();
        let mut width = 1;
        loop {
            best.push(level.clone());
            if 2 * width > m {
                break;
            }
            level = (0..m + 1 - 2 * width)
                .map(|i| self.better(level[i], level[i + width]))
                .collect();
            width *= 2;
        }
        self.best = best;
    }

    /// The reachable `k` in `lo..=hi` with the most rows right.
    fn argmax(&self, lo: usize, hi: usize) -> Option<usize> {
        if lo > hi || hi > self.n {
            return None;
        }
        let len = hi - lo + 1;
        let j = (usize::BITS - 1 - len.leading_zeros()) as usize;
        let k = self.better(self.best[j][lo], self.best[j][hi + 1 - (1 << j)]);
        (k != usize::MAX).then_some(k)
    }
}

fn rank(scores: &[f64], labels: &[bool]) -> Ranked {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let n = order.len();
    let negatives = labels.iter().filter(|&&y| !y).count();
    // Selecting nobody: every negative is right.
    let mut correct = vec![negatives; n + 1];
    let mut cut = vec![f64::INFINITY; n + 1];
    for k in 1..=n {
        let y = labels[order[k - 1]];
        correct[k] = if y {
            correct[k - 1] + 1
        } else {
            correct[k - 1] - 1
        };
        cut[k] = scores[order[k - 1]];
    }
    // Ties: a threshold selects every row with an equal score, so only the k that end a run of
    // equal scores are reachable.
    for k in 1..n {
        if scores[order[k]] == scores[order[k - 1]] {
            cut[k] = f64::NAN;
        }
    }
    let mut r = Ranked {
        n,
        correct,
        cut,
        best: Vec::new(),
    };
    r.build();
    r
}

/// The thresholds of largest tuning accuracy whose selection-rate gap is at most `bound`
/// (`bound ≥ 1`: unconstrained). `group[i] < groups`; groups without rows are ignored.
pub fn fit(
    scores: &[f64],
    labels: &[bool],
    group: &[usize],
    groups: usize,
    bound: f64,
) -> GroupThresholds {
    let ranked: Vec<Option<Ranked>> = (0..groups)
        .map(|g| {
            let rows: Vec<usize> = (0..scores.len()).filter(|&i| group[i] == g).collect();
            (!rows.is_empty()).then(|| {
                rank(
                    &rows.iter().map(|&i| scores[i]).collect::<Vec<_>>(),
                    &rows.iter().map(|&i| labels[i]).collect::<Vec<_>>(),
                )
            })
        })
        .collect();
    let total = scores.len().max(1) as f64;
    // Window starts: a grid plus every reachable rate of every group (and rate − bound).
    let mut starts: Vec<f64> = (0..=400).map(|i| i as f64 / 400.0).collect();
    for r in ranked.iter().flatten() {
        for k in 0..=r.n {
            if !r.cut[k].is_nan() {
                let rate = k as f64 / r.n as f64;
                starts.push(rate);
                starts.push(rate - bound);
            }
        }
    }
    starts.retain(|s| (-1.0..=1.0).contains(s));
    starts.sort_by(f64::total_cmp);
    starts.dedup();
    let mut best: Option<(usize, Vec<usize>)> = None;
    for lo in starts {
        let hi = lo + bound;
        let mut ks = Vec::with_capacity(groups);
        let mut right = 0usize;
        let mut feasible = true;
        for r in &ranked {
            let Some(r) = r else {
                ks.push(0);
                continue;
            };
            // The k whose rate k/n lies in [lo, hi] (with a little slack for rounding).
            let n = r.n as f64;
            let k_lo = ((lo - 1e-12) * n).ceil().max(0.0) as usize;
            let k_hi = ((hi + 1e-12) * n).floor().min(n) as usize;
            let pick = if (hi + 1e-12) * n < 0.0 {
                None
            } else {
                r.argmax(k_lo, k_hi)
            };
            match pick {
                Some(k) => {
                    right += r.correct[k];
                    ks.push(k);
                }
                None => {
                    feasible = false;
                    break;
                }
            }
        }
        if feasible && best.as_ref().is_none_or(|(b, _)| right > *b) {
            best = Some((right, ks));
        }
    }
    let (right, ks) = best.unwrap_or((0, vec![0; groups]));
    let rates: Vec<f64> = ranked
        .iter()
        .zip(&ks)
        .filter_map(|(r, &k)| r.as_ref().map(|r| k as f64 / r.n as f64))
        .collect();
    let gap = rates.iter().copied().fold(f64::NEG_INFINITY, f64::max)
        - rates.iter().copied().fold(f64::INFINITY, f64::min);
    GroupThresholds {
        thresholds: ranked
            .iter()
            .zip(&ks)
            .map(|(r, &k)| r.as_ref().map_or(f64::INFINITY, |r| r.cut[k]))
            .collect(),
        tuning_accuracy: right as f64 / total,
        tuning_ddp: if rates.is_empty() { 0.0 } else { gap },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Brute force over every pair of thresholds (two groups).
    fn brute(scores: &[f64], labels: &[bool], group: &[usize], bound: f64) -> usize {
        let mut cuts: Vec<f64> = scores.to_vec();
        cuts.push(f64::INFINITY);
        let mut best = 0;
        for &t0 in &cuts {
            for &t1 in &cuts {
                let t = [t0, t1];
                let mut sel = [0usize; 2];
                let mut n = [0usize; 2];
                let mut right = 0;
                for i in 0..scores.len() {
                    let p = scores[i] >= t[group[i]];
                    sel[group[i]] += usize::from(p);
                    n[group[i]] += 1;
                    right += usize::from(p == labels[i]);
                }
                let gap = (sel[0] as f64 / n[0] as f64 - sel[1] as f64 / n[1] as f64).abs();
                if gap <= bound + 1e-12 {
                    best = best.max(right);
                }
            }
        }
        best
    }

    #[test]
    fn thresholds_are_the_most_accurate_within_the_bound() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        for case in 0..30 {
            let n = 40 + case;
            let group: Vec<usize> = (0..n)
                .map(|_| usize::from(rng.random::<f64>() < 0.4))
                .collect();
            let labels: Vec<bool> = group
                .iter()
                .map(|&g| rng.random::<f64>() < if g == 0 { 0.6 } else { 0.3 })
                .collect();
            let scores: Vec<f64> = labels
                .iter()
                .map(|&y| (rng.random::<f64>() + if y { 0.4 } else { 0.0 }).min(1.0))
                .map(|s| (s * 20.0).round() / 20.0) // ties
                .collect();
            for bound in [0.0, 0.05, 0.2, 1.0] {
                let t = fit(&scores, &labels, &group, 2, bound);
                let pred = t.predict(&scores, &group);
                let right = pred.iter().zip(&labels).filter(|(p, y)| p == y).count();
                assert_eq!(
                    right,
                    brute(&scores, &labels, &group, bound),
                    "case {case}, bound {bound}"
                );
                assert!((t.tuning_accuracy - right as f64 / n as f64).abs() < 1e-12);
                assert!(t.tuning_ddp <= bound + 1e-12, "{t:?}");
            }
        }
    }
}
