//! The demographic-parity penalty over the sensitive groups of a batch.
//!
//! With `G ≥ 2` groups, the penalty is the **mean over pairs of groups** `g < h` of
//! `MMD²(z | s = g, z | s = h)`. For two groups this is exactly the paper's penalty; for more it
//! treats every pair alike, and it is zero exactly when all groups share one distribution
//! (demographic parity of the representation). Every pairwise MMD² comes from one kernel matrix
//! of the batch: with `A` the `[G, b]` matrix of uniform within-group weights,
//! `M = A K Aᵀ` and `MMD²(g, h) = M_gg + M_hh − 2 M_gh`.
//!
//! Groups absent from a batch are skipped; if fewer than two groups are present the penalty is 0
//! and [`PenaltyValue::pairs`] is 0, so the caller can count and report such batches. It is never
//! NaN.

use crate::mmd::{Bandwidth, gaussian_kernel, median_distance, sq_dists};
use burn::Tensor;
use burn::tensor::TensorData;

/// The penalty `D(z | s)` for demographic parity, with the MMD² as divergence.
#[derive(Debug, Clone, PartialEq)]
pub struct DemographicParity {
    /// Number of sensitive groups.
    pub groups: usize,
    /// How σ is chosen.
    pub bandwidth: Bandwidth,
}

/// The penalty of one batch.
#[derive(Debug, Clone)]
pub struct PenaltyValue {
    /// The penalty `[1]`, differentiable with respect to `z`.
    pub value: Tensor<1>,
    /// Number of group pairs that entered the mean (0: fewer than two groups in the batch).
    pub pairs: usize,
    /// The bandwidths used.
    pub sigmas: Vec<f64>,
}

impl DemographicParity {
    /// The penalty of a batch of representations with group ids `s`.
    ///
    /// # Shapes
    /// - `z`: `[b, r]`, `s`: `b` group ids `< groups`
    /// - returns a `[1]` tensor
    pub fn forward(&self, z: Tensor<2>, s: &[usize]) -> PenaltyValue {
        let [b, _] = z.dims();
        let device = z.device();
        let dtype = z.dtype();
        let mut counts = vec![0usize; self.groups];
        for &g in s {
            counts[g] += 1;
        }
        let present: Vec<usize> = (0..self.groups).filter(|&g| counts[g] > 0).collect();
        let pairs: Vec<(usize, usize)> = present
            .iter()
            .enumerate()
            .flat_map(|(i, &g)| present[i + 1..].iter().map(move |&h| (g, h)))
            .collect();
        if pairs.is_empty() {
            return PenaltyValue {
                value: z.sum().mul_scalar(0.0), // keeps the graph connected, value 0
                pairs: 0,
                sigmas: vec![],
            };
        }
        let d2 = sq_dists(z.clone(), z); // [b, b]
        let sigmas = match &self.bandwidth {
            Bandwidth::Fixed(v) => v.clone(),
            Bandwidth::Median => vec![median_distance(&d2)],
        };
        let k = gaussian_kernel(d2, &sigmas); // [b, b]

        // A: [G', b] uniform weights over the rows of each present group.
        let gp = present.len();
        let mut a = vec![0f64; gp * b];
        for (row, &g) in s.iter().enumerate() {
            if let Some(i) = present.iter().position(|&p| p == g) {
                a[i * b + row] = 1.0 / counts[g] as f64;
            }
        }
        let a = Tensor::<2>::from_data(TensorData::new(a, [gp, b]), (&device, dtype));
        let m = a.clone().matmul(k).matmul(a.transpose()); // [G', G']

        // Σ over pairs of M_gg + M_hh − 2 M_gh, as a weighted sum of M's entries.
        let mut w = vec![0f64; gp * gp];
        for &(g, h) in &pairs {
            let (i, j) = (
                present.iter().position(|&p| p == g).unwrap_or(0),
                present.iter().position(|&p| p == h).unwrap_or(0),
            );
            w[i * gp + i] += 1.0;
            w[j * gp + j] += 1.0;
            w[i * gp + j] -= 1.0;
            w[j * gp + i] -= 1.0;
        }
        let w = Tensor::<2>::from_data(TensorData::new(w, [gp, gp]), (&device, dtype));
        let value = (m * w).sum().div_scalar(pairs.len() as f64); // [1]
        PenaltyValue {
            value,
            pairs: pairs.len(),
            sigmas,
        }
    }
}
