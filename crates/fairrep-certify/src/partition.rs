//! A fairness-aware partition of the representation: an axis-aligned tree on z whose leaves are
//! the released cells.
//!
//! The tree is grown best-first on the training split. A partition's cost is
//! `(1 − γ) · impurity + γ · unfairness`, both sums over the leaves: the impurity of a leaf is its
//! share of the rows times the mean variance of the source tasks' targets in it (for a binary
//! task `p(1 − p)`, half its Gini index), its unfairness the mean over pairs of groups of
//! `|n_a(leaf)/N_a − n_b(leaf)/N_b| / 2`, which summed over the leaves is the total variation
//! between the groups' cell distributions — the largest demographic parity gap any classifier of
//! the cells can have, the very quantity the certificate bounds. `γ = 0` is CART on the source
//! tasks; a larger `γ` refuses the splits that separate the groups more than they help the tasks
//! (FARE's FairGini plays the same part with the Gini index of the group).
//!
//! Each step splits the leaf whose best split lowers the cost most, at one of `bins − 1`
//! quantiles of each coordinate, keeping at least `min_leaf` training rows on each side; it stops
//! at `cells` leaves or when no split lowers the cost.

use crate::CertifyError;
use serde::{Deserialize, Serialize};

/// How a partition is grown.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TreeSettings {
    /// The largest number of cells (leaves).
    pub cells: usize,
    /// The fewest training rows in a cell.
    pub min_leaf: usize,
    /// γ in `[0, 1]`: the weight of unfairness against the tasks' impurity.
    pub fairness_weight: f64,
    /// Candidate thresholds per coordinate: its `bins − 1` quantiles on the training split.
    pub bins: usize,
}

/// One node of a [`Partition`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Node {
    /// `z[coordinate] < threshold` goes to `left`, anything else (NaN too) to `right`.
    Split {
        /// The coordinate of z.
        coordinate: usize,
        /// The threshold.
        threshold: f32,
        /// The node for values below the threshold.
        left: usize,
        /// The node for the other values.
        right: usize,
    },
    /// A cell.
    Leaf {
        /// The cell id (`0..cells`, left to right).
        cell: usize,
    },
}

/// A fitted partition of the representation space into cells (`partition.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Partition {
    /// The width of z.
    pub dim: usize,
    /// The number of cells.
    pub cells: usize,
    /// The nodes; node 0 is the root.
    pub nodes: Vec<Node>,
    /// Each cell's mean z on the training split (`[cells][dim]`): what `encode --cells` releases
    /// beside the cell id.
    pub centroids: Vec<Vec<f64>>,
    /// Each cell's number of training rows.
    pub train_rows: Vec<usize>,
    /// The settings it was grown with.
    pub settings: TreeSettings,
}

/// The rows a partition is fitted on.
#[derive(Debug, Clone, Copy)]
pub struct Sample<'a> {
    /// The representation, row-major `[n, dim]`.
    pub z: &'a [f32],
    /// The width of z.
    pub dim: usize,
    /// Each row's group id (`< groups`).
    pub group: &'a [usize],
    /// The number of groups.
    pub groups: usize,
    /// The source tasks' targets, `targets[task][row]` (0/1 for a binary task).
    pub targets: &'a [&'a [f32]],
}

impl Sample<'_> {
    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.group.len()
    }

    /// Checks the shapes and values.
    pub fn check(&self) -> Result<(), CertifyError> {
        let n = self.rows();
        if self.dim == 0 || self.z.len() != n * self.dim {
            return Err(CertifyError::Shape(format!(
                "z has {} values, not rows ({n}) × width ({})",
                self.z.len(),
                self.dim
            )));
        }
        if let Some(i) = self.z.iter().position(|v| !v.is_finite()) {
            return Err(CertifyError::Shape(format!(
                "z is not finite at row {}, coordinate {}",
                i / self.dim,
                i % self.dim
            )));
        }
        if let Some((row, g)) = self
            .group
            .iter()
            .enumerate()
            .find(|(_, g)| **g >= self.groups)
        {
            return Err(CertifyError::Shape(format!(
                "row {row} has group {g}, but there are {} groups",
                self.groups
            )));
        }
        if let Some(t) = self.targets.iter().position(|t| t.len() != n) {
            return Err(CertifyError::Shape(format!(
                "task {t} has {} targets for {n} rows",
                self.targets[t].len()
            )));
        }
        Ok(())
    }
}

impl Partition {
    /// The cell of one row of z.
    pub fn cell_of(&self, row: &[f32]) -> usize {
        let mut node = 0;
        loop {
            match &self.nodes[node] {
                Node::Leaf { cell } => return *cell,
                Node::Split {
                    coordinate,
                    threshold,
                    left,
                    right,
                } => {
                    node = if row[*coordinate] < *threshold {
                        *left
                    } else {
                        *right
                    }
                }
            }
        }
    }

    /// The cell of every row of `z` (`[n, dim]`, row-major).
    pub fn assign(&self, z: &[f32]) -> Vec<usize> {
        z.chunks_exact(self.dim).map(|r| self.cell_of(r)).collect()
    }

    /// Checks that the partition is well formed (every node reachable once, cell ids
    /// `0..cells`, thresholds finite): what a hand-edited `partition.json` must satisfy.
    pub fn validate(&self) -> Result<(), CertifyError> {
        let bad = |m: String| Err(CertifyError::Partition(m));
        if self.nodes.is_empty() || self.dim == 0 {
            return bad("no nodes, or z of width 0".into());
        }
        let mut seen = vec![false; self.nodes.len()];
        let mut cells = vec![false; self.cells];
        let mut stack = vec![0usize];
        while let Some(i) = stack.pop() {
            if i >= self.nodes.len() || seen[i] {
                return bad(format!("node {i} is missing or reached twice"));
            }
            seen[i] = true;
            match &self.nodes[i] {
                Node::Leaf { cell } => match cells.get_mut(*cell) {
                    Some(c) if !*c => *c = true,
                    _ => return bad(format!("cell {cell} is out of range or used twice")),
                },
                Node::Split {
                    coordinate,
                    threshold,
                    left,
                    right,
                } => {
                    if *coordinate >= self.dim || !threshold.is_finite() {
                        return bad(format!(
                            "node {i} splits coordinate {coordinate} at {threshold}"
                        ));
                    }
                    stack.extend([*right, *left]);
                }
            }
        }
        if !cells.iter().all(|&c| c) || !seen.iter().all(|&s| s) {
            return bad("a cell id has no leaf, or a node is unreachable".into());
        }
        if self.centroids.len() != self.cells || self.centroids.iter().any(|c| c.len() != self.dim)
        {
            return bad("centroids are not [cells][dim]".into());
        }
        Ok(())
    }

    /// Grows a partition on `sample` (see the module's documentation).
    pub fn fit(sample: &Sample, settings: TreeSettings) -> Result<Self, CertifyError> {
        sample.check()?;
        if settings.cells == 0 || settings.min_leaf == 0 || settings.bins < 2 {
            return Err(CertifyError::Settings(format!(
                "cells ({}), min_leaf ({}) must be ≥ 1 and bins ({}) ≥ 2",
                settings.cells, settings.min_leaf, settings.bins
            )));
        }
        if !(0.0..=1.0).contains(&settings.fairness_weight) {
            return Err(CertifyError::Settings(format!(
                "fairness_weight must be in [0, 1], not {}",
                settings.fairness_weight
            )));
        }
        let n = sample.rows();
        if n == 0 {
            return Err(CertifyError::Shape("no rows".into()));
        }
        let grower = Grower::new(sample, settings);
        Ok(grower.grow())
    }
}

/// Sufficient statistics of a set of rows: `[count, per group count…, per task (sum, sum of
/// squares)…]`.
type Stats = Vec<f64>;

struct Grower<'a> {
    sample: &'a Sample<'a>,
    settings: TreeSettings,
    /// Per coordinate, the candidate thresholds (sorted, distinct).
    edges: Vec<Vec<f32>>,
    /// `bin[row * dim + c]`: the number of edges of coordinate `c` at or below the value.
    bin: Vec<u16>,
    /// Rows per group in the whole sample.
    group_rows: Vec<f64>,
    width: usize,
}

struct Leaf {
    rows: Vec<usize>,
    node: usize,
    /// (gain, coordinate, edge index).
    best: Option<(f64, usize, usize)>,
}

impl<'a> Grower<'a> {
    fn new(sample: &'a Sample<'a>, settings: TreeSettings) -> Self {
        let (n, dim) = (sample.rows(), sample.dim);
        let bins = settings.bins.min(u16::MAX as usize);
        let mut edges = Vec::with_capacity(dim);
        let mut column = vec![0f32; n];
        for c in 0..dim {
            for (i, v) in column.iter_mut().enumerate() {
                *v = sample.z[i * dim + c];
            }
            column.sort_by(f32::total_cmp);
            let mut e: Vec<f32> = (1..bins).map(|q| column[q * n / bins]).collect();
            e.dedup();
            // A threshold at the minimum would leave nothing on its left.
            e.retain(|&t| t > column[0]);
            edges.push(e);
        }
        let mut bin = vec![0u16; n * dim];
        for i in 0..n {
            for c in 0..dim {
                let v = sample.z[i * dim + c];
                bin[i * dim + c] = edges[c].partition_point(|&e| e <= v) as u16;
            }
        }
        let mut group_rows = vec![0.0; sample.groups];
        for &g in sample.group {
            group_rows[g] += 1.0;
        }
        Self {
            width: 1 + sample.groups + 2 * sample.targets.len(),
            sample,
            settings,
            edges,
            bin,
            group_rows,
        }
    }

    fn add_row(&self, st: &mut [f64], i: usize) {
        let g = self.sample.groups;
        st[0] += 1.0;
        st[1 + self.sample.group[i]] += 1.0;
        for (t, y) in self.sample.targets.iter().enumerate() {
            let v = y[i] as f64;
            st[1 + g + 2 * t] += v;
            st[2 + g + 2 * t] += v * v;
        }
    }

    /// The cost `(1 − γ) · impurity + γ · unfairness` of a set of rows.
    fn cost(&self, st: &[f64]) -> f64 {
        let (n_all, g, tasks) = (
            self.sample.rows() as f64,
            self.sample.groups,
            self.sample.targets.len(),
        );
        let n = st[0];
        if n <= 0.0 {
            return 0.0;
        }
        let mut impurity = 0.0;
        for t in 0..tasks {
            let (s, ss) = (st[1 + g + 2 * t], st[2 + g + 2 * t]);
            impurity += (ss - s * s / n).max(0.0);
        }
        if tasks > 0 {
            impurity /= n_all * tasks as f64;
        }
        let (mut unfair, mut pairs) = (0.0, 0usize);
        for a in 0..g {
            for b in a + 1..g {
                if self.group_rows[a] > 0.0 && self.group_rows[b] > 0.0 {
                    unfair += (st[1 + a] / self.group_rows[a] - st[1 + b] / self.group_rows[b])
                        .abs()
                        / 2.0;
                    pairs += 1;
                }
            }
        }
        if pairs > 0 {
            unfair /= pairs as f64;
        }
        let w = self.settings.fairness_weight;
        (1.0 - w) * impurity + w * unfair
    }

    fn stats(&self, rows: &[usize]) -> Stats {
        let mut st = vec![0.0; self.width];
        for &i in rows {
            self.add_row(&mut st, i);
        }
        st
    }

    /// The best split of a leaf's rows: (gain, coordinate, edge index).
    fn best_split(&self, rows: &[usize]) -> Option<(f64, usize, usize)> {
        let min_leaf = self.settings.min_leaf as f64;
        if (rows.len() as f64) < 2.0 * min_leaf {
            return None;
        }
        let total = self.stats(rows);
        let parent = self.cost(&total);
        let dim = self.sample.dim;
        let w = self.width;
        let mut best: Option<(f64, usize, usize)> = None;
        let mut left = vec![0.0; w];
        let mut right = vec![0.0; w];
        for c in 0..dim {
            let nb = self.edges[c].len() + 1;
            if nb < 2 {
                continue;
            }
            let mut hist = vec![0.0; nb * w];
            for &i in rows {
                let b = self.bin[i * dim + c] as usize;
                self.add_row(&mut hist[b * w..(b + 1) * w], i);
            }
            left.iter_mut().for_each(|v| *v = 0.0);
            for j in 0..nb - 1 {
                for k in 0..w {
                    left[k] += hist[j * w + k];
                    right[k] = total[k] - left[k];
                }
                if left[0] < min_leaf || right[0] < min_leaf {
                    continue;
                }
                let gain = parent - self.cost(&left) - self.cost(&right);
                if gain > 1e-12 && best.is_none_or(|(g, _, _)| gain > g) {
                    best = Some((gain, c, j));
                }
            }
        }
        best
    }

    fn grow(self) -> Partition {
        let dim = self.sample.dim;
        let all: Vec<usize> = (0..self.sample.rows()).collect();
        let mut nodes = vec![Node::Leaf { cell: 0 }];
        let mut leaves = vec![Leaf {
            best: self.best_split(&all),
            rows: all,
            node: 0,
        }];
        while leaves.len() < self.settings.cells {
            let pick = leaves
                .iter()
                .enumerate()
                .filter_map(|(k, l)| l.best.map(|(g, _, _)| (k, g)))
                .fold(None, |acc: Option<(usize, f64)>, (k, g)| match acc {
                    Some((_, bg)) if bg >= g => acc,
                    _ => Some((k, g)),
                });
            let Some((k, _)) = pick else { break };
            let leaf = leaves.swap_remove(k);
            let Some((_, c, j)) = leaf.best else { break };
            let (l_rows, r_rows): (Vec<usize>, Vec<usize>) = leaf
                .rows
                .iter()
                .partition(|&&i| (self.bin[i * dim + c] as usize) <= j);
            let (l_node, r_node) = (nodes.len(), nodes.len() + 1);
            nodes.push(Node::Leaf { cell: 0 });
            nodes.push(Node::Leaf { cell: 0 });
            nodes[leaf.node] = Node::Split {
                coordinate: c,
                threshold: self.edges[c][j],
                left: l_node,
                right: r_node,
            };
            for (rows, node) in [(l_rows, l_node), (r_rows, r_node)] {
                leaves.push(Leaf {
                    best: self.best_split(&rows),
                    rows,
                    node,
                });
            }
        }
        // Cell ids left to right, so that equal trees number their cells equally.
        let mut order = Vec::new();
        let mut stack = vec![0usize];
        while let Some(i) = stack.pop() {
            match nodes[i] {
                Node::Leaf { .. } => order.push(i),
                Node::Split { left, right, .. } => stack.extend([right, left]),
            }
        }
        let mut centroids = vec![vec![0.0; dim]; order.len()];
        let mut train_rows = vec![0usize; order.len()];
        for (cell, &node) in order.iter().enumerate() {
            nodes[node] = Node::Leaf { cell };
            let leaf = leaves
                .iter()
                .find(|l| l.node == node)
                .map(|l| &l.rows[..])
                .unwrap_or(&[]);
            train_rows[cell] = leaf.len();
            for &i in leaf {
                for (c, v) in centroids[cell].iter_mut().enumerate() {
                    *v += self.sample.z[i * dim + c] as f64;
                }
            }
            let n = leaf.len().max(1) as f64;
            centroids[cell].iter_mut().for_each(|v| *v /= n);
        }
        Partition {
            dim,
            cells: order.len(),
            nodes,
            centroids,
            train_rows,
            settings: self.settings,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(cells: usize, w: f64) -> TreeSettings {
        TreeSettings {
            cells,
            min_leaf: 5,
            fairness_weight: w,
            bins: 16,
        }
    }

    /// z = (task signal, group signal): the task depends on coordinate 0 only, the group on
    /// coordinate 1 only.
    fn sample_rows() -> (Vec<f32>, Vec<usize>, Vec<f32>) {
        let (mut z, mut g, mut y) = (Vec::new(), Vec::new(), Vec::new());
        for i in 0..400 {
            let a = (i % 20) as f32 / 20.0;
            let b = ((i / 20) % 20) as f32 / 20.0;
            z.extend([a, b]);
            g.push(usize::from(b >= 0.5));
            y.push(if a >= 0.5 { 1.0 } else { 0.0 });
        }
        (z, g, y)
    }

    #[test]
    fn cart_splits_on_the_task_and_a_fair_tree_never_on_the_group() {
        let (z, g, y) = sample_rows();
        let targets = [&y[..]];
        let s = Sample {
            z: &z,
            dim: 2,
            group: &g,
            groups: 2,
            targets: &targets,
        };
        let p = Partition::fit(&s, settings(2, 0.0)).unwrap();
        p.validate().unwrap();
        assert_eq!(p.cells, 2);
        match &p.nodes[0] {
            Node::Split {
                coordinate,
                threshold,
                ..
            } => {
                assert_eq!(*coordinate, 0);
                assert_eq!(*threshold, 0.5);
            }
            n => panic!("root is {n:?}"),
        }
        // With more cells allowed, a fair tree (γ = 0.5) still never separates the groups: a
        // split on coordinate 1 buys no task purity and costs unfairness.
        let p = Partition::fit(&s, settings(16, 0.5)).unwrap();
        p.validate().unwrap();
        assert!(
            p.nodes
                .iter()
                .all(|n| !matches!(n, Node::Split { coordinate: 1, .. }))
        );
        assert_eq!(p.cells, 2, "once pure, no split lowers the cost");
        // Every training row lands in the cell of its side.
        let cells = p.assign(&z);
        for (i, c) in cells.iter().enumerate() {
            assert_eq!(*c, usize::from(z[2 * i] >= 0.5));
        }
        assert_eq!(p.train_rows, vec![200, 200]);
        assert!(
            (p.centroids[0][0] - 0.225).abs() < 1e-6,
            "{:?}",
            p.centroids
        );
    }

    #[test]
    fn bad_input_is_an_error() {
        let (z, g, y) = sample_rows();
        let targets = [&y[..]];
        let s = Sample {
            z: &z[..10],
            dim: 2,
            group: &g,
            groups: 2,
            targets: &targets,
        };
        assert!(matches!(
            Partition::fit(&s, settings(2, 0.0)),
            Err(CertifyError::Shape(_))
        ));
        let s = Sample { z: &z, ..s };
        assert!(matches!(
            Partition::fit(&s, settings(0, 0.0)),
            Err(CertifyError::Settings(_))
        ));
        let mut bad = z.clone();
        bad[7] = f32::NAN;
        let s = Sample { z: &bad, ..s };
        let e = Partition::fit(&s, settings(2, 0.0))
            .unwrap_err()
            .to_string();
        assert!(e.contains("row 3, coordinate 1"), "{e}");
    }
}
