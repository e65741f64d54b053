//! The certified statements of a partitioned test split: demographic parity for every pair of
//! groups (union bound), equal opportunity and equalized odds per binary task (the same bound on
//! the rows of one label).

use crate::bound::{Budget, Method, TvBound, counts, direct_bound, plug_in_tv_of_counts, tv_bound};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// A fairness metric a certificate bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// max − min over groups of `P(h = 1 | group)`.
    DemographicParity,
    /// max − min over groups of `P(h = 1 | group, y = 1)`.
    EqualOpportunity,
    /// The larger of the equal-opportunity gap and the same gap among `y = 0` rows.
    EqualizedOdds,
}

impl std::fmt::Display for Metric {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::DemographicParity => "demographic parity",
            Self::EqualOpportunity => "equal opportunity",
            Self::EqualizedOdds => "equalized odds",
        })
    }
}

/// One pair of groups (and label, for the conditional metrics) within a statement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PairBound {
    /// Group a.
    pub a: String,
    /// Group b.
    pub b: String,
    /// The task label the rows are restricted to (`None`: all rows).
    pub label: Option<bool>,
    /// The error probability this pair was bounded at.
    pub delta: f64,
    /// The upper bound on the pair's total variation.
    pub upper_bound: f64,
    /// The rows of group a and of group b the bound saw.
    pub rows: [usize; 2],
    /// FARE's bound's parts (with [`Method::Fare`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fare: Option<TvBound>,
    /// The plug-in total variation on the whole test split (what the bound bounds, measured).
    pub plug_in: f64,
}

/// A certified upper bound: with probability at least `confidence`, every (randomised)
/// classifier of the cells has `metric` at most `upper_bound` (on `task`'s labels for the
/// conditional metrics).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Statement {
    /// The metric.
    pub metric: Metric,
    /// How the bound was computed.
    pub method: Method,
    /// The task whose labels condition the metric (`None` for demographic parity).
    pub task: Option<String>,
    /// The upper bound (max over the pairs).
    pub upper_bound: f64,
    /// `1 − delta`.
    pub confidence: f64,
    /// The largest plug-in total variation over the pairs, on the whole test split.
    pub plug_in: f64,
    /// Every pair's bound.
    pub pairs: Vec<PairBound>,
}

/// Which third of the test split each row belongs to (seeded shuffle: 0 base rate, 1 cells,
/// 2 average).
pub fn thirds(n: usize, seed: u64) -> Vec<u8> {
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    let mut part = vec![0u8; n];
    for (pos, &i) in order.iter().enumerate() {
        part[i] = (pos * 3 / n.max(1)) as u8;
    }
    part
}

/// What a statement is computed on: the cells and groups of the rows, which third each row is
/// in (for FARE's bound), and the method.
struct Rows<'a> {
    k: usize,
    cells: &'a [usize],
    group: &'a [usize],
    names: &'a [String],
    part: &'a [u8],
    method: Method,
}

/// The bound for the rows `keep` of every pair of groups present in the split, each pair at
/// `delta / pairs` (the union bound).
fn pair_bounds(
    r: &Rows<'_>,
    keep: &dyn Fn(usize) -> bool,
    label: Option<bool>,
    delta: f64,
) -> Vec<PairBound> {
    let Rows {
        k,
        cells,
        group,
        names,
        part,
        method,
    } = *r;
    let present: Vec<usize> = (0..names.len()).filter(|&g| group.contains(&g)).collect();
    let pairs = present.len() * present.len().saturating_sub(1) / 2;
    let mut out = Vec::with_capacity(pairs);
    for (i, &a) in present.iter().enumerate() {
        for &b in &present[i + 1..] {
            let rows = (0..cells.len()).filter(|&r| keep(r) && (group[r] == a || group[r] == b));
            let (mut base, mut per_cell, mut average) = (Vec::new(), Vec::new(), Vec::new());
            let (mut ca, mut cb) = (vec![0.0; k], vec![0.0; k]);
            for r in rows {
                let is_a = group[r] == a;
                if is_a {
                    ca[cells[r]] += 1.0;
                } else {
                    cb[cells[r]] += 1.0;
                }
                match part[r] {
                    0 => base.push(is_a),
                    1 => per_cell.push((cells[r], is_a)),
                    _ => average.push(cells[r]),
                }
            }
            let d = delta / pairs as f64;
            let (upper_bound, fare) = match method {
                Method::Fare => {
                    let b = tv_bound(&counts(k, &base, &per_cell, &average), Budget::split(d, k));
                    (b.upper_bound, Some(b))
                }
                Method::Direct => (direct_bound(&ca, &cb, d), None),
            };
            let count = |c: &[f64]| c.iter().sum::<f64>() as usize;
            out.push(PairBound {
                a: names[a].clone(),
                b: names[b].clone(),
                label,
                delta: d,
                upper_bound,
                rows: [count(&ca), count(&cb)],
                fare,
                plug_in: plug_in_tv_of_counts(&ca, &cb),
            });
        }
    }
    out
}

fn statement(
    metric: Metric,
    method: Method,
    task: Option<String>,
    delta: f64,
    pairs: Vec<PairBound>,
) -> Statement {
    let upper_bound = if pairs.is_empty() {
        0.0
    } else {
        pairs.iter().map(|p| p.upper_bound).fold(0.0, f64::max)
    };
    Statement {
        metric,
        method,
        task,
        upper_bound,
        confidence: 1.0 - delta,
        plug_in: pairs.iter().map(|p| p.plug_in).fold(0.0, f64::max),
        pairs,
    }
}

/// Every statement for the cells of a test split: demographic parity, then equal opportunity and
/// equalized odds for each binary task (`tasks`: name and labels), by `method`. Each statement
/// holds at `1 − delta` on its own (they are not simultaneous).
#[allow(clippy::too_many_arguments)]
pub fn certify(
    k: usize,
    cells: &[usize],
    group: &[usize],
    names: &[String],
    tasks: &[(String, &[bool])],
    delta: f64,
    seed: u64,
    method: Method,
) -> Vec<Statement> {
    let part = thirds(cells.len(), seed);
    let rows = Rows {
        k,
        cells,
        group,
        names,
        part: &part,
        method,
    };
    let mut out = vec![statement(
        Metric::DemographicParity,
        method,
        None,
        delta,
        pair_bounds(&rows, &|_| true, None, delta),
    )];
    for (name, y) in tasks {
        let eo = pair_bounds(&rows, &|r| y[r], Some(true), delta);
        out.push(statement(
            Metric::EqualOpportunity,
            method,
            Some(name.clone()),
            delta,
            eo,
        ));
        let mut odds = pair_bounds(&rows, &|r| y[r], Some(true), delta / 2.0);
        odds.extend(pair_bounds(&rows, &|r| !y[r], Some(false), delta / 2.0));
        out.push(statement(
            Metric::EqualizedOdds,
            method,
            Some(name.clone()),
            delta,
            odds,
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thirds_are_balanced_and_seeded() {
        let p = thirds(10, 3);
        for t in 0..3u8 {
            let c = p.iter().filter(|&&x| x == t).count();
            assert!((3..=4).contains(&c), "{p:?}");
        }
        assert_eq!(p, thirds(10, 3));
        assert_ne!(thirds(100, 3), thirds(100, 4));
    }

    #[test]
    fn three_groups_take_a_union_bound_over_three_pairs() {
        // 30,000 rows: about 1,700 per cell and pair in step 2.
        let n = 30000;
        let cells: Vec<usize> = (0..n).map(|i| i % 4).collect();
        let group: Vec<usize> = (0..n).map(|i| (i / 4) % 3).collect();
        let names: Vec<String> = ["x", "y", "z"].map(String::from).to_vec();
        let s = certify(4, &cells, &group, &names, &[], 0.05, 1, Method::Fare);
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].pairs.len(), 3);
        for p in &s[0].pairs {
            assert!((p.delta - 0.05 / 3.0).abs() < 1e-15);
            assert!(p.plug_in < 0.01, "{p:?}");
            assert_eq!(p.rows, [10000, 10000]);
        }
        // Identical groups: the bound is the sampling error alone (about 0.11 here).
        assert!(
            s[0].upper_bound > 0.05 && s[0].upper_bound < 0.15,
            "{:?}",
            s[0]
        );
        // The direct bound uses every row for every cell: tighter here.
        let d = certify(4, &cells, &group, &names, &[], 0.05, 1, Method::Direct);
        assert!(
            d[0].upper_bound > 0.0 && d[0].upper_bound < s[0].upper_bound,
            "{:?}",
            d[0]
        );
    }
}
