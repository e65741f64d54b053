//! The adversarial penalty (LAFTR, Madras et al. 2018, demographic-parity form).
//!
//! An adversary `a(z)` outputs one logit per sensitive group; `p_i = softmax(a(z_i))`. Its
//! **advantage** over chance on a batch is
//!
//! ```text
//! BA = (1/G) Σ_g mean_{i : s_i = g} p_{i,g}        (soft balanced accuracy, G groups present)
//! A  = (G · BA − 1) / (G − 1)
//! ```
//!
//! `A = 0` for any adversary that ignores `z` (a constant output: `Σ_g p_g = 1` gives
//! `BA = 1/G`), `A = 1` for one that is certain and right on every row. With two groups,
//! `A = mean_{s=1} p_1 − mean_{s=0} p_1 = 1 − L`, for `L = mean_{s=0} |p_1 − 0| + mean_{s=1}
//! |p_1 − 1|` LAFTR's group-normalised ℓ₁ adversary loss; the group normalisation makes a
//! minority group weigh as much as the majority, and makes `A` bound the demographic-parity
//! gap of every classifier built on `z` that the adversary could imitate (LAFTR, Theorem 2).
//!
//! Training is a zero-sum game: the adversary maximises `A` on the (detached) representation,
//! the encoder minimises `task loss + λ · A`.
//!
//! **Degenerate batches.** With fewer than two groups present `A` is 0 and
//! [`PenaltyValue::pairs`] is 0, as for the divergence penalties.

use crate::penalty::PenaltyValue;
use burn::Tensor;
use burn::tensor::{Int, TensorData, activation};

/// The adversary's advantage over chance `A` (see the module docs) from its logits.
///
/// # Shapes
/// - `logits`: `[b, G]`, one column per group (`G = groups`)
/// - `s`: `b` group ids in `0..groups`
/// - returns `value`: `[1]`, differentiable with respect to `logits`; `pairs` = the number of
///   group pairs present (0: fewer than two groups in the batch)
pub fn adversary_advantage(logits: Tensor<2>, s: &[usize], groups: usize) -> PenaltyValue {
    balanced_mean_of_own(
        logits,
        |l| activation::softmax(l, 1),
        s,
        groups,
        |ba, k| ba.mul_scalar(k).sub_scalar(1.0).div_scalar(k - 1.0),
    )
}

/// The adversary's group-balanced cross-entropy `(1/G) Σ_g mean_{i : s_i = g} −log p_{i,g}`
/// (over the `G` groups present; 0 with fewer than two): a proper scoring rule, whose gradient
/// does not vanish when the adversary is confidently wrong, for training the adversary itself
/// (`penalty.adversary.loss = "cross_entropy"`). `log G` at chance.
///
/// # Shapes
/// - `logits`: `[b, G]`; `s`: `b` group ids; returns `value` `[1]` and `pairs` as
///   [`adversary_advantage`] does
pub fn adversary_cross_entropy(logits: Tensor<2>, s: &[usize], groups: usize) -> PenaltyValue {
    balanced_mean_of_own(
        logits,
        |l| activation::log_softmax(l, 1),
        s,
        groups,
        |mean_log_p, _| mean_log_p.neg(),
    )
}

/// `finish(M, G)` for `M = (1/G) Σ_g mean_{i : s_i = g} t_{i,g}`, `t = per_row(logits)` —
/// each row's entry for its own group, averaged within groups, then across the `G` groups
/// present — with `pairs = G(G − 1)/2`; value 0 and no pairs with fewer than two groups.
///
/// # Shapes
/// - `logits`: `[b, groups]`; `s`: `b` group ids; returns `value` `[1]`
fn balanced_mean_of_own(
    logits: Tensor<2>,
    per_row: impl Fn(Tensor<2>) -> Tensor<2>,
    s: &[usize],
    groups: usize,
    finish: impl Fn(Tensor<1>, f64) -> Tensor<1>,
) -> PenaltyValue {
    let [b, g] = logits.dims();
    assert_eq!(g, groups, "one logit per group");
    assert_eq!(b, s.len(), "one group id per row");
    let counts = (0..groups)
        .map(|k| s.iter().filter(|&&v| v == k).count())
        .collect::<Vec<_>>();
    let present = counts.iter().filter(|&&c| c > 0).count();
    if present < 2 {
        return PenaltyValue {
            value: logits.sum().mul_scalar(0.0), // keeps the graph connected, value 0
            pairs: 0,
            sigmas: vec![],
        };
    }
    let t = per_row(logits); // [b, G]
    let device = t.device();
    let ids: Vec<i64> = s.iter().map(|&v| v as i64).collect();
    let own = t.gather(
        1,
        Tensor::<2, Int>::from_data(TensorData::new(ids, [b, 1]), &device),
    ); // [b, 1]
    // Row i weighs 1 / (G · |its group|).
    let w: Vec<f64> = s
        .iter()
        .map(|&v| 1.0 / (present as f64 * counts[v] as f64))
        .collect();
    let w = Tensor::<2>::from_data(TensorData::new(w, [b, 1]), (&device, own.dtype())); // [b, 1]
    PenaltyValue {
        value: finish((own * w).sum(), present as f64),
        pairs: present * (present - 1) / 2,
        sigmas: vec![],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{DType, Device};

    fn logits(v: &[f64], b: usize, g: usize, device: &Device) -> Tensor<2> {
        Tensor::from_data(TensorData::new(v.to_vec(), [b, g]), (device, DType::F64))
    }

    fn value(v: &[f64], b: usize, g: usize, s: &[usize]) -> f64 {
        adversary_advantage(logits(v, b, g, &Device::flex()), s, g)
            .value
            .into_scalar::<f64>()
    }

    fn softmax(row: &[f64]) -> Vec<f64> {
        let m = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let e: Vec<f64> = row.iter().map(|x| (x - m).exp()).collect();
        let t: f64 = e.iter().sum();
        e.iter().map(|x| x / t).collect()
    }

    #[test]
    fn two_groups_equal_one_minus_laftr_l1_loss() {
        let v = [0.3, -1.2, 2.0, 0.1, -0.4, 0.9, 1.5, -2.0, 0.0, 0.7];
        let s = [0, 1, 1, 0, 1];
        let (mut l0, mut n0, mut l1, mut n1) = (0.0, 0.0, 0.0, 0.0);
        for (i, &g) in s.iter().enumerate() {
            let p1 = softmax(&v[2 * i..2 * i + 2])[1];
            if g == 0 {
                (l0, n0) = (l0 + p1.abs(), n0 + 1.0);
            } else {
                (l1, n1) = (l1 + (p1 - 1.0).abs(), n1 + 1.0);
            }
        }
        let laftr = l0 / n0 + l1 / n1;
        assert!((value(&v, 5, 2, &s) - (1.0 - laftr)).abs() < 1e-12);
    }

    #[test]
    fn chance_is_zero_and_certainty_is_one() {
        // A constant output, whatever it is, has no advantage (3 groups).
        let row = [0.4, -1.0, 2.5];
        let v: Vec<f64> = (0..6).flat_map(|_| row).collect();
        let s = [0, 1, 2, 2, 1, 0];
        assert!(value(&v, 6, 3, &s).abs() < 1e-12);
        // Large logits on each row's own group: advantage → 1.
        let v: Vec<f64> = s
            .iter()
            .flat_map(|&g| (0..3).map(move |k| if k == g { 40.0 } else { -40.0 }))
            .collect();
        assert!((value(&v, 6, 3, &s) - 1.0).abs() < 1e-12);
        // Certain and always wrong: −1/(G − 1).
        let v: Vec<f64> = s
            .iter()
            .flat_map(|&g| (0..3).map(move |k| if k == (g + 1) % 3 { 40.0 } else { -40.0 }))
            .collect();
        assert!((value(&v, 6, 3, &s) + 0.5).abs() < 1e-12);
    }

    #[test]
    fn groups_weigh_equally_whatever_their_size() {
        // Group 0: 4 rows with p_0 = 0.8; group 1: 1 row with p_1 = 0.6.
        // BA = (0.8 + 0.6) / 2 = 0.7, A = 2 · 0.7 − 1 = 0.4.
        let l = |p: f64| (p / (1.0 - p)).ln();
        let mut v = Vec::new();
        for _ in 0..4 {
            v.extend([l(0.8), 0.0]);
        }
        v.extend([0.0, l(0.6)]);
        assert!((value(&v, 5, 2, &[0, 0, 0, 0, 1]) - 0.4).abs() < 1e-12);
    }

    #[test]
    fn one_group_present_gives_zero_and_no_pairs() {
        let out = adversary_advantage(
            logits(&[1.0, 2.0, 3.0, 4.0], 2, 2, &Device::flex()),
            &[1, 1],
            2,
        );
        assert_eq!(out.pairs, 0);
        assert_eq!(out.value.into_scalar::<f64>(), 0.0);
        // Two of three groups present: normalised over the two.
        let v = [5.0, -5.0, 0.0, -5.0, 5.0, 0.0];
        let a = value(&v, 2, 3, &[0, 1]);
        let p = softmax(&v[..3])[0];
        assert!(
            (a - (2.0 * p - 1.0)).abs() < 1e-12,
            "{a} vs {}",
            2.0 * p - 1.0
        );
    }

    #[test]
    fn balanced_cross_entropy_by_hand() {
        // Group 0: rows 0, 2; group 1: row 1. −log p_{i,s_i} averaged within, then across groups.
        let v = [0.5, -0.5, 1.0, 2.0, -1.0, 0.0];
        let s = [0, 1, 0];
        let nll = |i: usize| -softmax(&v[2 * i..2 * i + 2])[s[i]].ln();
        let expect = 0.5 * ((nll(0) + nll(2)) / 2.0 + nll(1));
        let got = adversary_cross_entropy(logits(&v, 3, 2, &Device::flex()), &s, 2)
            .value
            .into_scalar::<f64>();
        assert!((got - expect).abs() < 1e-12, "{got} vs {expect}");
        // Chance (equal logits) is log G, whatever the group sizes.
        let flat = [0.3; 12];
        let got = adversary_cross_entropy(logits(&flat, 4, 3, &Device::flex()), &[0, 0, 1, 2], 3)
            .value
            .into_scalar::<f64>();
        assert!((got - 3f64.ln()).abs() < 1e-12);
    }

    #[test]
    fn gradient_matches_finite_differences() {
        let (b, g) = (7, 3);
        let v: Vec<f64> = (0..b * g)
            .map(|i| ((i * 29 % 13) as f64 - 6.0) / 3.0)
            .collect();
        let s = [0, 2, 1, 1, 0, 2, 2];
        let device = Device::flex().autodiff();
        let t = logits(&v, b, g, &device).require_grad();
        let out = adversary_advantage(t.clone(), &s, g);
        let grad = t
            .grad(&out.value.backward())
            .unwrap()
            .try_into_vec_as::<f64>()
            .unwrap();
        let h = 1e-6;
        for i in 0..b * g {
            let (mut up, mut down) = (v.clone(), v.clone());
            up[i] += h;
            down[i] -= h;
            let fd = (value(&up, b, g, &s) - value(&down, b, g, &s)) / (2.0 * h);
            assert!(
                (fd - grad[i]).abs() < 1e-8,
                "entry {i}: fd {fd}, autodiff {}",
                grad[i]
            );
        }
    }
}
