//! The fairness penalty over the sensitive groups of a batch.
//!
//! **Demographic parity.** With `G ≥ 2` groups, the penalty is the **mean over pairs of groups**
//! `g < h` of `D(z | s = g, z | s = h)`, for `D` the MMD² or the Sinkhorn divergence. For two
//! groups this is exactly the paper's penalty. We chose pairs over "each group against the pooled
//! batch" because (i) it reduces to the two-group penalty with no reweighting, so λ means the
//! same thing whatever the number of groups, (ii) it is zero exactly when all groups share one
//! distribution, and (iii) a small group weighs as much as a large one — against the pooled
//! batch, a group's distance shrinks with its share of the batch, so minorities would count
//! less. Its cost is `G(G−1)/2` divergences; for the biased MMD², every pair comes from one
//! kernel matrix of the batch: with `A` the `[G, b]` matrix of uniform within-group weights,
//! `M = A K Aᵀ` and `MMD²(g, h) = M_gg + M_hh − 2 M_gh`.
//!
//! **Equal opportunity / equalized odds.** [`Condition::EqualOpportunity`] applies the penalty
//! to the rows whose label (of a chosen task) is 1 only; [`Condition::EqualizedOdds`] takes the
//! mean of the penalties on the rows labelled 1 and on those labelled 0.
//!
//! **Degenerate batches.** Groups absent from a batch (or from a label class) are skipped; a
//! group with a single point is used as is. With fewer than two groups present the penalty is 0
//! and [`PenaltyValue::pairs`] is 0, so the caller can count and report such batches. It is never
//! NaN.

use crate::divergence::Divergence;
use crate::geometry::sq_dists;
use crate::mmd::{Bandwidth, Estimator, Mmd, median_distance};
use crate::sinkhorn::Sinkhorn;
use burn::Tensor;
use burn::tensor::{Int, TensorData};
use serde::{Deserialize, Serialize};

/// The divergence between two groups' representations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum GroupDivergence {
    /// MMD² (see [`Mmd`]).
    Mmd(Mmd),
    /// Sinkhorn divergence (see [`Sinkhorn`]).
    Sinkhorn(Sinkhorn),
}

pub use fairrep_types::{Condition, Scale};

/// The penalty `D(z | s)` of a batch.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupPenalty {
    /// Number of sensitive groups.
    pub groups: usize,
    /// The divergence.
    pub divergence: GroupDivergence,
    /// Which rows are compared.
    pub condition: Condition,
    /// Scaling of `z` before the divergence.
    pub scale: Scale,
}

/// The penalty of one batch.
#[derive(Debug, Clone)]
pub struct PenaltyValue {
    /// The penalty `[1]`, differentiable with respect to `z`.
    pub value: Tensor<1>,
    /// Number of group pairs that entered (0: fewer than two groups in the batch).
    pub pairs: usize,
    /// The MMD bandwidths used (empty for Sinkhorn).
    pub sigmas: Vec<f64>,
}

/// The demographic-parity penalty with the Gaussian MMD² (the paper's default).
#[derive(Debug, Clone, PartialEq)]
pub struct DemographicParity {
    /// Number of sensitive groups.
    pub groups: usize,
    /// How σ is chosen.
    pub bandwidth: Bandwidth,
}

impl DemographicParity {
    /// The penalty as a [`GroupPenalty`].
    pub fn as_group_penalty(&self) -> GroupPenalty {
        GroupPenalty {
            groups: self.groups,
            divergence: GroupDivergence::Mmd(Mmd {
                bandwidth: self.bandwidth.clone(),
                ..Mmd::default()
            }),
            condition: Condition::None,
            scale: Scale::None,
        }
    }

    /// The penalty of a batch (see [`GroupPenalty::forward`]).
    pub fn forward(&self, z: Tensor<2>, s: &[usize]) -> PenaltyValue {
        self.as_group_penalty().forward(z, s, None)
    }
}

/// The mean over `pairs` of the divergence between the two groups' rows.
fn pairwise(
    divergence: &dyn Divergence,
    z: &Tensor<2>,
    members: &[Vec<usize>],
    pairs: &[(usize, usize)],
) -> PenaltyValue {
    let mut total: Option<Tensor<1>> = None;
    for &(g, h) in pairs {
        let v = divergence.uniform(rows(z, &members[g]), rows(z, &members[h]));
        total = Some(match total {
            Some(t) => t + v,
            None => v,
        });
    }
    PenaltyValue {
        value: total
            .expect("at least one pair")
            .div_scalar(pairs.len() as f64),
        pairs: pairs.len(),
        sigmas: vec![],
    }
}

fn zero(z: &Tensor<2>) -> Tensor<1> {
    z.clone().sum().mul_scalar(0.0) // keeps the graph connected, value 0
}

fn rows(z: &Tensor<2>, idx: &[usize]) -> Tensor<2> {
    let v: Vec<i64> = idx.iter().map(|&i| i as i64).collect();
    let t = Tensor::<1, Int>::from_data(TensorData::new(v, [idx.len()]), &z.device());
    z.clone().select(0, t)
}

/// `z` centred and divided by `√(factor · mean entry²)` of the centred batch, the divisor
/// tracked by autodiff (see [`Scale`]); a batch with no spread is only centred.
///
/// # Shapes
/// - `z`: `[b, r]` → `[b, r]`
fn divide_by_spread(z: Tensor<2>, factor: f64) -> Tensor<2> {
    let centred = z.clone() - z.mean_dim(0); // [b, r]
    let spread = centred.clone().square().mean().mul_scalar(factor).sqrt(); // [1]
    let value = spread.clone().detach().into_scalar::<f64>();
    if value > 0.0 && value.is_finite() {
        centred / spread.unsqueeze::<2>() // [b, r] / [1, 1]
    } else {
        centred
    }
}

/// Ridge added to the batch covariance before whitening, relative to its mean eigenvalue.
const WHITEN_RIDGE: f64 = 1e-4;

/// Newton–Schulz iterations of [`whiten`]: the normalised covariance's eigenvalues lie in
/// `[WHITEN_RIDGE / (r (1 + WHITEN_RIDGE)), 1]`; a small one grows about 2.25× per iteration
/// until it nears 1, then converges quadratically, so 30 reach f32 precision for r ≤ 1,000.
const WHITEN_ITERATIONS: usize = 30;

/// `(z − z̄) Σ^{-1/2} / √(2r)`, `Σ` the batch covariance with a ridge of [`WHITEN_RIDGE`] × its
/// mean eigenvalue, all differentiated through. `Σ^{-1/2}` comes from the coupled Newton–Schulz
/// iteration `T = (3I − Z Y) / 2, Y ← Y T, Z ← T Z` from `Y = Σ / tr Σ`, `Z = I` (matrix
/// products only, so autodiff follows it); `Z → (Σ / tr Σ)^{-1/2}`. A batch with no spread is
/// returned centred.
///
/// # Shapes
/// - `z`: `[b, r]`; returns `[b, r]`
pub fn whiten(z: Tensor<2>) -> Tensor<2> {
    let [b, r] = z.dims();
    let eye = Tensor::<2>::eye(r, &z.device()).cast(z.dtype()); // [r, r]
    let centred = z.clone() - z.mean_dim(0); // [b, r]
    let cov = centred
        .clone()
        .transpose()
        .matmul(centred.clone())
        .div_scalar(b as f64); // [r, r]
    let trace = centred.clone().square().sum().div_scalar(b as f64); // [1]: tr Σ
    let value = trace.clone().detach().into_scalar::<f64>();
    if !(value > 0.0 && value.is_finite()) {
        return centred;
    }
    // Σ + ridge · tr Σ / r · I, divided by its trace tr Σ · (1 + ridge): eigenvalues in (0, 1].
    let total = trace.mul_scalar(1.0 + WHITEN_RIDGE).unsqueeze::<2>(); // [1, 1]
    let ridge = eye
        .clone()
        .mul_scalar(WHITEN_RIDGE / ((1.0 + WHITEN_RIDGE) * r as f64)); // [r, r]
    let mut y = cov / total.clone() + ridge; // [r, r]
    let three = eye.clone().mul_scalar(3.0); // [r, r]
    let mut inv_sqrt = eye; // [r, r]
    for _ in 0..WHITEN_ITERATIONS {
        let t = (three.clone() - inv_sqrt.clone().matmul(y.clone())).mul_scalar(0.5);
        y = y.matmul(t.clone());
        inv_sqrt = t.matmul(inv_sqrt);
    }
    // (z − z̄) (Σ_ridge)^{-1/2} = (z − z̄) Z / √(tr Σ (1 + ridge)); then unit RMS pair distance.
    centred.matmul(inv_sqrt) / total.sqrt().mul_scalar(((2 * r) as f64).sqrt())
}

/// A demographic-parity penalty `parity(rows, their groups)` applied as `condition` says: to all
/// rows, to the rows labelled 1 (equal opportunity), or to the rows labelled 1 and those labelled
/// 0 separately, averaged (equalized odds). A label class with fewer than two rows, or whose
/// rows hold fewer than two groups, is skipped; with none left the value is 0 and `pairs` is 0.
/// Used by the divergence penalties and by the adversarial one.
///
/// # Shapes
/// - `z`: `[b, k]` (a representation, or an adversary's logits), `s`, `y`: `b` entries
///
/// # Panics
/// If the penalty is conditioned and `y` is `None` (a caller bug).
pub fn conditioned(
    z: Tensor<2>,
    s: &[usize],
    y: Option<&[bool]>,
    condition: Condition,
    parity: impl Fn(Tensor<2>, &[usize]) -> PenaltyValue,
) -> PenaltyValue {
    let classes: &[bool] = match condition {
        Condition::None => return parity(z, s),
        Condition::EqualOpportunity => &[true],
        Condition::EqualizedOdds => &[true, false],
    };
    let y = y.expect("a conditioned penalty needs the labels of its task");
    let mut total: Option<PenaltyValue> = None;
    let mut used = 0usize;
    for &class in classes {
        let idx: Vec<usize> = (0..s.len()).filter(|&i| y[i] == class).collect();
        if idx.len() < 2 {
            continue;
        }
        let sub_s: Vec<usize> = idx.iter().map(|&i| s[i]).collect();
        let part = parity(rows(&z, &idx), &sub_s);
        if part.pairs == 0 {
            continue;
        }
        used += 1;
        total = Some(match total {
            None => part,
            Some(t) => PenaltyValue {
                value: t.value + part.value,
                pairs: t.pairs + part.pairs,
                sigmas: t.sigmas,
            },
        });
    }
    match total {
        Some(t) => PenaltyValue {
            value: t.value.div_scalar(used as f64),
            ..t
        },
        None => PenaltyValue {
            value: zero(&z),
            pairs: 0,
            sigmas: vec![],
        },
    }
}

impl GroupPenalty {
    /// The yardstick every penalty kind is also measured with: the Gaussian MMD² with the
    /// median bandwidth, demographic parity, `z` as it is (the paper's default penalty).
    pub fn yardstick(groups: usize) -> GroupPenalty {
        DemographicParity {
            groups,
            bandwidth: Bandwidth::Median,
        }
        .as_group_penalty()
    }
}

/// The points `z` scaled as `scale` says (differentiated through), as the penalty scales a
/// batch before its divergence; `fairrep divergence --scale` applies it to the pooled samples.
///
/// # Shapes
/// - `z`: `[b, r]`; returns `[b, r]`
pub fn scale_points(z: Tensor<2>, scale: Scale) -> Tensor<2> {
    match scale {
        Scale::None => z,
        // Divided by a spread *as a function of z* (tracked): the penalty is then invariant
        // to z ↦ a·z, so its gradient has no radial component (Euler) and cannot shrink z.
        // A detached divisor made the penalty homogeneous in z at a fixed divisor — degree 2
        // for the quadratic-cost Sinkhorn — whose gradient pulled z towards 0 with a force
        // ∝ the penalty and ∝ 1/spread: z shrank, the pull grew, and the representation
        // collapsed to a constant (the "Sinkhorn cliff" on Adult, before this was fixed).
        Scale::BatchRms => divide_by_spread(z, 1.0),
        Scale::PairDistance => {
            let [_, r] = z.dims();
            divide_by_spread(z, (2 * r) as f64)
        }
        Scale::Whiten => whiten(z),
    }
}

impl GroupPenalty {
    /// The penalty of a batch of representations `z` with group ids `s` and, for a conditioned
    /// penalty, the labels `y` of the conditioning task.
    ///
    /// # Shapes
    /// - `z`: `[b, r]`, `s`: `b` group ids `< groups`, `y`: `b` labels
    /// - returns a `[1]` tensor
    ///
    /// # Panics
    /// If the penalty is conditioned and `y` is `None` (a caller bug).
    pub fn forward(&self, z: Tensor<2>, s: &[usize], y: Option<&[bool]>) -> PenaltyValue {
        let z = scale_points(z, self.scale);
        conditioned(z, s, y, self.condition, |z, s| self.parity(z, s))
    }

    /// Mean over pairs of present groups of the divergence between them.
    fn parity(&self, z: Tensor<2>, s: &[usize]) -> PenaltyValue {
        let mut members: Vec<Vec<usize>> = vec![Vec::new(); self.groups];
        for (row, &g) in s.iter().enumerate() {
            members[g].push(row);
        }
        let present: Vec<usize> = (0..self.groups)
            .filter(|&g| !members[g].is_empty())
            .collect();
        let pairs: Vec<(usize, usize)> = present
            .iter()
            .enumerate()
            .flat_map(|(i, &g)| present[i + 1..].iter().map(move |&h| (g, h)))
            .collect();
        if pairs.is_empty() {
            return PenaltyValue {
                value: zero(&z),
                pairs: 0,
                sigmas: vec![],
            };
        }
        match &self.divergence {
            GroupDivergence::Mmd(mmd) if mmd.estimator == Estimator::Biased => {
                self.mmd_from_one_kernel(mmd, z, s, &present, &members, &pairs)
            }
            GroupDivergence::Mmd(mmd) => {
                // Unbiased / linear MMD²: pair by pair, with one bandwidth for the whole batch.
                let mmd = match &mmd.bandwidth {
                    Bandwidth::Median => Mmd {
                        bandwidth: Bandwidth::Fixed(vec![median_distance(&sq_dists(
                            z.clone(),
                            z.clone(),
                        ))]),
                        ..mmd.clone()
                    },
                    Bandwidth::Fixed(_) => mmd.clone(),
                };
                let sigmas = mmd.sigmas(&z, &z);
                let mut out = pairwise(&mmd, &z, &members, &pairs);
                out.sigmas = sigmas;
                out
            }
            GroupDivergence::Sinkhorn(sk) => pairwise(sk, &z, &members, &pairs),
        }
    }

    /// All pairwise biased MMD² from one kernel matrix of the batch.
    fn mmd_from_one_kernel(
        &self,
        mmd: &Mmd,
        z: Tensor<2>,
        s: &[usize],
        present: &[usize],
        members: &[Vec<usize>],
        pairs: &[(usize, usize)],
    ) -> PenaltyValue {
        let [b, _] = z.dims();
        let (device, dtype) = (z.device(), z.dtype());
        let d2 = sq_dists(z.clone(), z); // [b, b]
        let sigmas = match (&mmd.bandwidth, mmd.kernel) {
            (_, crate::mmd::KernelKind::Energy) => vec![],
            (Bandwidth::Fixed(v), _) => v.clone(),
            (Bandwidth::Median, _) => vec![median_distance(&d2)],
        };
        let k = mmd.kernel_matrix(d2, &sigmas); // [b, b]
        let slot = |g: usize| {
            present
                .iter()
                .position(|&p| p == g)
                .expect("a present group")
        };
        let gp = present.len();
        let mut a = vec![0f64; gp * b];
        for (row, &g) in s.iter().enumerate() {
            a[slot(g) * b + row] = 1.0 / members[g].len() as f64;
        }
        let a = Tensor::<2>::from_data(TensorData::new(a, [gp, b]), (&device, dtype)); // [G', b]
        let m = a.clone().matmul(k).matmul(a.transpose()); // [G', G']
        // Σ over pairs of M_gg + M_hh − 2 M_gh, as a weighted sum of M's entries.
        let mut w = vec![0f64; gp * gp];
        for &(g, h) in pairs {
            let (i, j) = (slot(g), slot(h));
            w[i * gp + i] += 1.0;
            w[j * gp + j] += 1.0;
            w[i * gp + j] -= 1.0;
            w[j * gp + i] -= 1.0;
        }
        let w = Tensor::<2>::from_data(TensorData::new(w, [gp, gp]), (&device, dtype));
        PenaltyValue {
            value: (m * w).sum().div_scalar(pairs.len() as f64), // [1]
            pairs: pairs.len(),
            sigmas,
        }
    }
}
