//! A compact gradient-boosted-trees classifier (histogram GBDT, logistic loss): the strongest of
//! the audit's probes and of the transfer head families — trees split where neither a linear nor
//! a small MLP head looks, so a representation that hides the group from them may not hide it
//! from this one.
//!
//! The algorithm is LightGBM's / scikit-learn's `HistGradientBoostingClassifier` in its plainest
//! form: every feature cut into at most [`GbdtSettings::bins`] quantile bins of the training
//! data; each tree grown depth-first to [`GbdtSettings::depth`] on the gradients `p − y` and
//! hessians `p(1 − p)` of the log-loss, the split of each node the one of largest gain
//! `G_L²/(H_L+λ) + G_R²/(H_R+λ) − G²/(H+λ)` with at least [`GbdtSettings::min_leaf`] rows on
//! each side, each leaf's value `−G/(H+λ)` shrunk by the learning rate. Deterministic: no
//! sampling, ties broken by the lowest feature and bin.

/// Training settings of [`Gbdt`].
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct GbdtSettings {
    /// Trees (boosting rounds).
    pub trees: usize,
    /// Depth of each tree (splits from the root to a leaf).
    pub depth: usize,
    /// Shrinkage of every leaf.
    pub learning_rate: f64,
    /// Most bins per feature (at most 256).
    pub bins: usize,
    /// Fewest rows on each side of a split.
    pub min_leaf: usize,
    /// L2 penalty λ on the leaf values.
    pub l2: f64,
}

impl Default for GbdtSettings {
    fn default() -> Self {
        Self {
            trees: 100,
            depth: 4,
            learning_rate: 0.1,
            bins: 64,
            min_leaf: 20,
            l2: 1.0,
        }
    }
}

/// One node of a tree.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
enum Node {
    /// Rows whose bin of `feature` is `≤ bin` go to `left`, the others to `right`.
    Split {
        feature: usize,
        bin: u8,
        left: usize,
        right: usize,
    },
    /// The value added to the log-odds.
    Leaf(f64),
}

/// A fitted GBDT classifier.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Gbdt {
    /// Input dimension.
    pub d: usize,
    /// Per feature, the upper edges of its bins but the last (a value `v` is in bin `b` when
    /// `edges[b − 1] < v ≤ edges[b]`).
    edges: Vec<Vec<f32>>,
    /// The initial log-odds (of the training base rate).
    base: f64,
    /// The trees, each a list of nodes with the root first.
    trees: Vec<Vec<Node>>,
}

/// The bin of `v` among `edges`.
fn bin_of(edges: &[f32], v: f32) -> u8 {
    edges.partition_point(|&e| e < v) as u8
}

/// Quantile edges of one feature: at most `bins − 1` distinct cut points.
fn quantile_edges(values: &mut [f32], bins: usize) -> Vec<f32> {
    values.sort_by(f32::total_cmp);
    let n = values.len();
    let mut edges: Vec<f32> = (1..bins)
        .map(|k| values[(k * n / bins).min(n - 1)])
        .collect();
    edges.dedup();
    // The largest value needs no upper edge of its own.
    if edges.last() == values.last() {
        edges.pop();
    }
    edges
}

fn sigmoid(v: f64) -> f64 {
    1.0 / (1.0 + (-v).exp())
}

/// Sums of gradients and hessians, and the row count.
#[derive(Clone, Copy, Default)]
struct Stats {
    g: f64,
    h: f64,
    n: usize,
}

impl Stats {
    fn add(&mut self, g: f64, h: f64) {
        self.g += g;
        self.h += h;
        self.n += 1;
    }
    fn score(&self, l2: f64) -> f64 {
        self.g * self.g / (self.h + l2)
    }
}

impl Gbdt {
    /// Fits on `x` (row-major `[n, d]`) and labels `y`.
    pub fn fit(x: &[f32], d: usize, y: &[bool], s: GbdtSettings) -> Self {
        let n = y.len();
        let bins = s.bins.clamp(2, 256);
        let edges: Vec<Vec<f32>> = (0..d)
            .map(|j| {
                let mut col: Vec<f32> = (0..n).map(|i| x[i * d + j]).collect();
                if col.is_empty() {
                    Vec::new()
                } else {
                    quantile_edges(&mut col, bins)
                }
            })
            .collect();
        // [d, n]: column-major bins, one byte each.
        let binned: Vec<Vec<u8>> = (0..d)
            .map(|j| (0..n).map(|i| bin_of(&edges[j], x[i * d + j])).collect())
            .collect();
        let positives = y.iter().filter(|&&v| v).count() as f64;
        let rate = ((positives + 0.5) / (n as f64 + 1.0)).clamp(1e-6, 1.0 - 1e-6);
        let base = (rate / (1.0 - rate)).ln();
        let mut f = vec![base; n];
        let mut trees = Vec::with_capacity(s.trees);
        let mut g = vec![0.0; n];
        let mut h = vec![0.0; n];
        for _ in 0..s.trees {
            for i in 0..n {
                let p = sigmoid(f[i]);
                g[i] = p - f64::from(u8::from(y[i]));
                h[i] = (p * (1.0 - p)).max(1e-12);
            }
            let mut nodes = Vec::new();
            let rows: Vec<usize> = (0..n).collect();
            grow(&binned, &edges, &g, &h, rows, 0, &s, &mut nodes);
            // Update the scores with the new tree.
            for (i, fi) in f.iter_mut().enumerate() {
                *fi += leaf_value(&nodes, |j| binned[j][i]);
            }
            trees.push(nodes);
        }
        Gbdt {
            d,
            edges,
            base,
            trees,
        }
    }

    /// The probability of the positive class for each row of `x` (row-major `[n, d]`).
    pub fn predict_proba(&self, x: &[f32]) -> Vec<f64> {
        x.chunks(self.d.max(1))
            .map(|row| {
                let f = self.base
                    + self
                        .trees
                        .iter()
                        .map(|t| leaf_value(t, |j| bin_of(&self.edges[j], row[j])))
                        .sum::<f64>();
                sigmoid(f)
            })
            .collect()
    }
}

/// The depths and fewest rows per leaf [`Gbdt::fit_tuned`] tries.
pub const TUNING_GRID: [(usize, usize); 4] = [(3, 20), (3, 100), (6, 20), (6, 100)];

impl Gbdt {
    /// The mean log-loss on (`x`, `y`) after each boosting round (`[trees]`).
    pub fn staged_log_loss(&self, x: &[f32], y: &[bool]) -> Vec<f64> {
        let mut f: Vec<f64> = vec![self.base; y.len()];
        let mut out = Vec::with_capacity(self.trees.len());
        let bins: Vec<Vec<u8>> = x
            .chunks(self.d.max(1))
            .map(|row| {
                (0..self.d)
                    .map(|j| bin_of(&self.edges[j], row[j]))
                    .collect()
            })
            .collect();
        let n = y.len().max(1) as f64;
        for t in &self.trees {
            let mut loss = 0.0;
            for (i, fi) in f.iter_mut().enumerate() {
                *fi += leaf_value(t, |j| bins[i][j]);
                let p = sigmoid(*fi).clamp(1e-12, 1.0 - 1e-12);
                loss -= if y[i] { p.ln() } else { (1.0 - p).ln() };
            }
            out.push(loss / n);
        }
        out
    }

    /// Fits every (depth, fewest rows per leaf) of [`TUNING_GRID`] with up to `base.trees`
    /// rounds on (`x`, `y`) and keeps the settings and number of rounds of lowest log-loss on
    /// the validation rows (`xv`, `yv`): the strongest GBDT of the grid, chosen without the
    /// test rows. Returns it with its settings (`trees`: the rounds kept).
    pub fn fit_tuned(
        x: &[f32],
        d: usize,
        y: &[bool],
        (xv, yv): (&[f32], &[bool]),
        base: GbdtSettings,
    ) -> (Self, GbdtSettings) {
        let mut best: Option<(f64, Gbdt, GbdtSettings)> = None;
        for (depth, min_leaf) in TUNING_GRID {
            let s = GbdtSettings {
                depth,
                min_leaf,
                ..base
            };
            let mut m = Gbdt::fit(x, d, y, s);
            let staged = m.staged_log_loss(xv, yv);
            let Some((k, &loss)) = staged.iter().enumerate().min_by(|a, b| a.1.total_cmp(b.1))
            else {
                continue;
            };
            if best.as_ref().is_none_or(|(l, _, _)| loss < *l) {
                m.trees.truncate(k + 1);
                best = Some((loss, m, GbdtSettings { trees: k + 1, ..s }));
            }
        }
        match best {
            Some((_, m, s)) => (m, s),
            None => (Gbdt::fit(x, d, y, base), base),
        }
    }
}

/// The leaf value a row reaches in `nodes`, given the row's bin of each feature.
fn leaf_value(nodes: &[Node], bin: impl Fn(usize) -> u8) -> f64 {
    let mut at = 0;
    loop {
        match nodes[at] {
            Node::Leaf(v) => return v,
            Node::Split {
                feature,
                bin: b,
                left,
                right,
            } => at = if bin(feature) <= b { left } else { right },
        }
    }
}

/// Grows the subtree of `rows` at `depth` into `nodes` (its root pushed first); returns the
/// root's index.
#[allow(clippy::too_many_arguments)]
fn grow(
    binned: &[Vec<u8>],
    edges: &[Vec<f32>],
    g: &[f64],
    h: &[f64],
    rows: Vec<usize>,
    depth: usize,
    s: &GbdtSettings,
    nodes: &mut Vec<Node>,
) -> usize {
    let mut total = Stats::default();
    for &i in &rows {
        total.add(g[i], h[i]);
    }
    let at = nodes.len();
    nodes.push(Node::Leaf(-total.g / (total.h + s.l2) * s.learning_rate));
    if depth >= s.depth || rows.len() < 2 * s.min_leaf {
        return at;
    }
    // The best split over every feature's histogram.
    let mut best: Option<(f64, usize, u8)> = None;
    for (j, col) in binned.iter().enumerate() {
        let k = edges[j].len() + 1;
        if k < 2 {
            continue;
        }
        let mut hist = vec![Stats::default(); k];
        for &i in &rows {
            hist[col[i] as usize].add(g[i], h[i]);
        }
        let mut left = Stats::default();
        for (b, cell) in hist.iter().enumerate().take(k - 1) {
            left.g += cell.g;
            left.h += cell.h;
            left.n += cell.n;
            let right = Stats {
                g: total.g - left.g,
                h: total.h - left.h,
                n: total.n - left.n,
            };
            if left.n < s.min_leaf || right.n < s.min_leaf {
                continue;
            }
            let gain = left.score(s.l2) + right.score(s.l2) - total.score(s.l2);
            if gain > 1e-12 && best.is_none_or(|(g0, _, _)| gain > g0) {
                best = Some((gain, j, b as u8));
            }
        }
    }
    let Some((_, feature, bin)) = best else {
        return at;
    };
    let (l_rows, r_rows): (Vec<usize>, Vec<usize>) =
        rows.into_iter().partition(|&i| binned[feature][i] <= bin);
    let left = grow(binned, edges, g, h, l_rows, depth + 1, s, nodes);
    let right = grow(binned, edges, g, h, r_rows, depth + 1, s, nodes);
    nodes[at] = Node::Split {
        feature,
        bin,
        left,
        right,
    };
    at
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accuracy(p: &[f64], y: &[bool]) -> f64 {
        p.iter().zip(y).filter(|(p, y)| (**p >= 0.5) == **y).count() as f64 / y.len() as f64
    }

    fn log_loss(p: &[f64], y: &[bool]) -> f64 {
        p.iter()
            .zip(y)
            .map(|(&p, &y)| -(if y { p } else { 1.0 - p }).max(1e-15).ln())
            .sum::<f64>()
            / y.len() as f64
    }

    /// The staged loss ends at the full model's loss, and tuning keeps fewer rounds on noisy
    /// labels (where more rounds overfit) than on clean ones.
    #[test]
    fn staged_loss_and_tuning_on_the_validation_rows() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let rows = |rng: &mut rand_chacha::ChaCha8Rng, n: usize, noise: f64| {
            let mut x = Vec::with_capacity(3 * n);
            let mut y = Vec::with_capacity(n);
            for _ in 0..n {
                let v: [f32; 3] = [rng.random(), rng.random(), rng.random()];
                x.extend(v);
                let clean = v[0] + 0.5 * v[1] > 0.75;
                y.push(clean != (rng.random::<f64>() < noise));
            }
            (x, y)
        };
        let settings = GbdtSettings {
            trees: 150,
            ..GbdtSettings::default()
        };
        let (x, y) = rows(&mut rng, 1500, 0.0);
        let (xv, yv) = rows(&mut rng, 1500, 0.0);
        let m = Gbdt::fit(&x, 3, &y, settings);
        let staged = m.staged_log_loss(&xv, &yv);
        assert_eq!(staged.len(), 150);
        assert!((staged[149] - log_loss(&m.predict_proba(&xv), &yv)).abs() < 1e-9);
        let (clean, sc) = Gbdt::fit_tuned(&x, 3, &y, (&xv, &yv), settings);
        let (xn, yn) = rows(&mut rng, 1500, 0.3);
        let (xnv, ynv) = rows(&mut rng, 1500, 0.3);
        let (_, sn) = Gbdt::fit_tuned(&xn, 3, &yn, (&xnv, &ynv), settings);
        assert!(sn.trees < sc.trees, "noisy {sn:?} vs clean {sc:?}");
        // The tuned model is at least as good on its validation rows as the default one.
        let default = Gbdt::fit(&x, 3, &y, GbdtSettings::default());
        assert!(
            log_loss(&clean.predict_proba(&xv), &yv)
                <= log_loss(&default.predict_proba(&xv), &yv) + 1e-12
        );
    }

    /// XOR of two coordinates: no linear head separates it; trees of depth 2 do.
    #[test]
    fn learns_what_a_linear_head_cannot() {
        let n = 2000;
        let mut x = Vec::with_capacity(2 * n);
        let mut y = Vec::with_capacity(n);
        for i in 0..n {
            let (a, b) = (
                ((i * 7919) % 1000) as f32 / 500.0 - 1.0,
                ((i * 104729) % 997) as f32 / 498.5 - 1.0,
            );
            x.extend([a, b]);
            y.push((a > 0.0) != (b > 0.0));
        }
        let m = Gbdt::fit(&x, 2, &y, GbdtSettings::default());
        assert!(accuracy(&m.predict_proba(&x), &y) > 0.97);
        let linear = crate::LogisticRegression::fit(&x, 2, &y, 1e-4).unwrap();
        assert!(accuracy(&linear.predict_proba(&x), &y) < 0.6);
        // Deterministic.
        assert_eq!(m, Gbdt::fit(&x, 2, &y, GbdtSettings::default()));
    }

    /// One stump, learning rate 1: the leaves are −G/(H+λ) of each side, by hand.
    #[test]
    fn a_stump_has_the_newton_leaf_values() {
        let x: Vec<f32> = vec![0.0, 1.0, 2.0, 3.0, 10.0, 11.0, 12.0, 13.0];
        let y = [false, false, false, true, true, true, true, false];
        let s = GbdtSettings {
            trees: 1,
            depth: 1,
            learning_rate: 1.0,
            bins: 8,
            min_leaf: 4,
            l2: 1.0,
        };
        let m = Gbdt::fit(&x, 1, &y, s);
        let rate = 4.5 / 9.0; // (positives + 0.5) / (n + 1)
        let p = rate;
        // At the base rate every row has g = p − y, h = p(1 − p); the only split with 4 rows a
        // side is between 3 and 10.
        let leaf = |labels: &[bool]| {
            let g: f64 = labels.iter().map(|&y| p - f64::from(u8::from(y))).sum();
            let h = labels.len() as f64 * p * (1.0 - p);
            -g / (h + 1.0)
        };
        let base = (rate / (1.0 - rate)).ln();
        let got = m.predict_proba(&[1.0, 12.0]);
        let want = [sigmoid(base + leaf(&y[..4])), sigmoid(base + leaf(&y[4..]))];
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 1e-12, "{got:?} vs {want:?}");
        }
    }

    /// More trees never raise the training log-loss (Newton steps with shrinkage).
    #[test]
    fn the_training_loss_falls_with_the_trees() {
        let n = 500;
        let x: Vec<f32> = (0..n).map(|i| ((i * 37) % 101) as f32 / 10.0).collect();
        let y: Vec<bool> = x.iter().map(|&v| (v * 1.3).sin() > 0.2).collect();
        let mut last = f64::INFINITY;
        for trees in [1, 5, 20, 60] {
            let s = GbdtSettings {
                trees,
                ..GbdtSettings::default()
            };
            let loss = log_loss(&Gbdt::fit(&x, 1, &y, s).predict_proba(&x), &y);
            assert!(loss < last, "{trees} trees: {loss} ≥ {last}");
            last = loss;
        }
        assert!(last < 0.2, "{last}");
    }
}
