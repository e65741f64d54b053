//! Properties and robustness of the divergences, and the MMD variants against naive float64
//! loops (an independent reference written directly from the definitions).

// The naive reference is written index by index, as the definitions are.
#![allow(clippy::too_many_arguments, clippy::needless_range_loop)]

use burn::Tensor;
use burn::tensor::{DType, Device, TensorData};
use fairrep_losses::divergence::{Divergence, uniform_weights};
use fairrep_losses::mmd::{Bandwidth, Estimator, KernelKind, Mmd};
use fairrep_losses::penalty::{Condition, GroupDivergence, GroupPenalty, Scale};
use fairrep_losses::sinkhorn::{Power, Sinkhorn};
use proptest::prelude::*;

fn dev() -> Device {
    Device::flex()
}

fn t2(v: &[f64], n: usize, d: usize, dtype: DType) -> Tensor<2> {
    Tensor::from_data(TensorData::new(v.to_vec(), [n, d]), (&dev(), dtype))
}

fn t1(v: &[f64]) -> Tensor<1> {
    Tensor::from_data(TensorData::new(v.to_vec(), [v.len()]), (&dev(), DType::F64))
}

fn val(t: Tensor<1>) -> f64 {
    t.into_scalar::<f64>()
}

/// Deterministic pseudo-random points in [-2, 2).
fn cloud(n: usize, d: usize, seed: u64) -> Vec<f64> {
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..n * d)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 11) as f64 / (1u64 << 53) as f64) * 4.0 - 2.0
        })
        .collect()
}

fn dist(x: &[f64], y: &[f64]) -> f64 {
    x.iter()
        .zip(y)
        .map(|(a, b)| (a - b) * (a - b))
        .sum::<f64>()
        .sqrt()
}

fn naive_kernel(kind: KernelKind, sigmas: &[f64], r: f64) -> f64 {
    match kind {
        KernelKind::Gaussian => sigmas.iter().map(|s| (-r * r / (2.0 * s * s)).exp()).sum(),
        KernelKind::Laplacian => sigmas.iter().map(|s| (-r.max(1e-4) / s).exp()).sum(),
        KernelKind::Energy => -r.max(1e-4),
    }
}

/// MMD² by double loops over the definitions.
fn naive_mmd(
    kind: KernelKind,
    est: Estimator,
    sigmas: &[f64],
    x: &[f64],
    a: &[f64],
    y: &[f64],
    b: &[f64],
    d: usize,
) -> f64 {
    let (n, m) = (a.len(), b.len());
    let k = |u: &[f64], v: &[f64]| naive_kernel(kind, sigmas, dist(u, v));
    let xi = |i: usize| &x[i * d..(i + 1) * d];
    let yj = |j: usize| &y[j * d..(j + 1) * d];
    match est {
        Estimator::Linear => {
            let h = n.min(m) / 2;
            (0..h)
                .map(|i| {
                    k(xi(2 * i), xi(2 * i + 1)) + k(yj(2 * i), yj(2 * i + 1))
                        - k(xi(2 * i), yj(2 * i + 1))
                        - k(xi(2 * i + 1), yj(2 * i))
                })
                .sum::<f64>()
                / h as f64
        }
        _ => {
            let skip = est == Estimator::Unbiased;
            let within = |w: &[f64], pts: &[f64]| {
                let (mut num, mut den) = (0.0, 0.0);
                for i in 0..w.len() {
                    for j in 0..w.len() {
                        if skip && i == j {
                            continue;
                        }
                        num += w[i] * w[j] * k(&pts[i * d..(i + 1) * d], &pts[j * d..(j + 1) * d]);
                        den += w[i] * w[j];
                    }
                }
                num / den
            };
            let mut cross = 0.0;
            for i in 0..n {
                for j in 0..m {
                    cross += a[i] * b[j] * k(xi(i), yj(j));
                }
            }
            within(a, x) + within(b, y) - 2.0 * cross
        }
    }
}

#[test]
fn mmd_variants_match_naive_loops() {
    let (n, m, d) = (13, 9, 3);
    let x = cloud(n, d, 1);
    let y: Vec<f64> = cloud(m, d, 2).iter().map(|v| v + 0.3).collect();
    let raw_a: Vec<f64> = (0..n).map(|i| 1.0 + (i % 3) as f64).collect();
    let sa: f64 = raw_a.iter().sum();
    let a: Vec<f64> = raw_a.iter().map(|v| v / sa).collect();
    let b = vec![1.0 / m as f64; m];
    let sigmas = [0.5, 1.0, 3.0];
    for kind in [
        KernelKind::Gaussian,
        KernelKind::Laplacian,
        KernelKind::Energy,
    ] {
        for est in [Estimator::Biased, Estimator::Unbiased, Estimator::Linear] {
            let mmd = Mmd {
                kernel: kind,
                bandwidth: Bandwidth::Fixed(sigmas.to_vec()),
                estimator: est,
            };
            // The linear statistic uses uniform weights.
            let aw = if est == Estimator::Linear {
                vec![1.0 / n as f64; n]
            } else {
                a.clone()
            };
            let got = val(mmd.value(
                t2(&x, n, d, DType::F64),
                t1(&aw),
                t2(&y, m, d, DType::F64),
                t1(&b),
            ));
            let want = naive_mmd(kind, est, &sigmas, &x, &aw, &y, &b, d);
            assert!(
                (got - want).abs() < 1e-10 * want.abs().max(1.0),
                "{kind:?} {est:?}: {got} vs {want}"
            );
        }
    }
}

fn sinkhorn_converged(blur: f64) -> Sinkhorn {
    Sinkhorn {
        blur,
        tolerance: Some(1e-12),
        max_iterations: 20_000,
        ..Sinkhorn::default()
    }
}

/// The two-group demographic-parity penalty with the Sinkhorn divergence `sk` on `z` scaled by
/// `scale`.
fn sinkhorn_penalty(sk: Sinkhorn, scale: Scale) -> GroupPenalty {
    GroupPenalty {
        groups: 2,
        divergence: GroupDivergence::Sinkhorn(sk),
        condition: Condition::None,
        scale,
    }
}

fn sk_value(s: &Sinkhorn, x: &[f64], n: usize, y: &[f64], m: usize, d: usize) -> f64 {
    val(s.uniform(t2(x, n, d, DType::F64), t2(y, m, d, DType::F64)))
}

#[test]
fn sinkhorn_gradient_matches_finite_differences() {
    let (n, m, d) = (7, 5, 2);
    let x = cloud(n, d, 3);
    let y: Vec<f64> = cloud(m, d, 4).iter().map(|v| v * 0.7 + 0.5).collect();
    let s = sinkhorn_converged(0.3);
    let device = dev().autodiff();
    let xt = Tensor::<2>::from_data(TensorData::new(x.clone(), [n, d]), (&device, DType::F64))
        .require_grad();
    let yt = Tensor::<2>::from_data(TensorData::new(y.clone(), [m, d]), (&device, DType::F64));
    let v = s.uniform(xt.clone(), yt);
    let g = xt
        .grad(&v.backward())
        .unwrap()
        .try_into_vec_as::<f64>()
        .unwrap();
    let h = 1e-5;
    for i in 0..n * d {
        let (mut xp, mut xm) = (x.clone(), x.clone());
        xp[i] += h;
        xm[i] -= h;
        let fd = (sk_value(&s, &xp, n, &y, m, d) - sk_value(&s, &xm, n, &y, m, d)) / (2.0 * h);
        assert!(
            (fd - g[i]).abs() < 1e-7,
            "coord {i}: fd {fd}, envelope {}",
            g[i]
        );
    }
}

/// The variants (unbalanced, p = 1, raw OT) at convergence: the gradient is the derivative of
/// the value (central finite differences along a fixed direction, 1e-6 relative), and a huge
/// reach gives the balanced divergence.
#[test]
fn unbalanced_and_p1_and_raw_variants_differentiate_their_values() {
    let (n, m, d) = (20, 15, 3);
    let x = cloud(n, d, 5);
    let y = cloud(m, d, 6);
    let dir = cloud(n, d, 11);
    for s in [
        Sinkhorn {
            reach: Some(1.0),
            ..sinkhorn_converged(0.3)
        },
        Sinkhorn {
            p: Power::P1,
            ..sinkhorn_converged(0.3)
        },
        Sinkhorn {
            debias: false,
            ..sinkhorn_converged(0.3)
        },
        Sinkhorn {
            reach: Some(0.5),
            debias: false,
            ..sinkhorn_converged(0.3)
        },
    ] {
        let device = dev().autodiff();
        let xt = Tensor::<2>::from_data(TensorData::new(x.clone(), [n, d]), (&device, DType::F64))
            .require_grad();
        let yt = Tensor::<2>::from_data(TensorData::new(y.clone(), [m, d]), (&device, DType::F64));
        let v = s.uniform(xt.clone(), yt);
        let g = xt
            .grad(&v.clone().backward())
            .unwrap()
            .try_into_vec_as::<f64>()
            .unwrap();
        let along: f64 = g.iter().zip(&dir).map(|(g, u)| g * u).sum();
        let h = 1e-5;
        let shifted =
            |sign: f64| -> Vec<f64> { x.iter().zip(&dir).map(|(a, u)| a + sign * h * u).collect() };
        let fd = (sk_value(&s, &shifted(1.0), n, &y, m, d)
            - sk_value(&s, &shifted(-1.0), n, &y, m, d))
            / (2.0 * h);
        assert!(
            (fd - along).abs() < 1e-6 * along.abs().max(1.0),
            "{s:?}: fd {fd} vs gradient {along}"
        );
        assert!(val(v).is_finite());
    }
    // Unbalanced with a huge reach approaches the balanced divergence.
    let bal = sk_value(&Sinkhorn::default(), &x, n, &y, m, d);
    let unb = sk_value(
        &Sinkhorn {
            reach: Some(1e4),
            ..Sinkhorn::default()
        },
        &x,
        n,
        &y,
        m,
        d,
    );
    assert!((bal - unb).abs() < 1e-3 * bal.abs(), "{bal} vs {unb}");
}

/// Extreme blurs, bandwidths and degenerate clouds give the values theory says: a tiny σ makes
/// the kernel the identity (biased MMD² = 1/n + 1/m for distinct points), a huge σ makes it
/// constant (MMD² = 0); a cloud against itself is at divergence 0; duplicating every point of
/// a cloud does not change the measure, so not the divergence either.
#[test]
fn extreme_settings_and_degenerate_clouds_have_their_closed_forms() {
    let d = 4;
    let x = cloud(64, d, 7);
    let y = cloud(48, d, 8);
    for (dtype, tol) in [(DType::F32, 1e-4f64), (DType::F64, 1e-9)] {
        for blur in [1e-3, 1e-2, 0.1, 1.0, 10.0] {
            let s = Sinkhorn {
                blur,
                ..Sinkhorn::default()
            };
            let v = val(s.uniform(t2(&x, 64, d, dtype), t2(&y, 48, d, dtype)));
            assert!(v.is_finite() && v > 0.0, "blur {blur} {dtype:?}: {v}");
            let own = val(s.uniform(t2(&x, 64, d, dtype), t2(&x, 64, d, dtype)));
            // After GeomLoss's schedule (not to convergence) a cloud against itself is not 0 to
            // the last digit, but far below the divergence to another cloud.
            assert!(
                own.abs() < 1e-3 * v,
                "S(x, x) = {own} vs S(x, y) = {v} at blur {blur}"
            );
        }
        for (sigma, want) in [
            (1e-6, 1.0 / 64.0 + 1.0 / 48.0),
            (1e-3, 1.0 / 64.0 + 1.0 / 48.0),
            (1e3, 0.0),
            (1e6, 0.0),
        ] {
            let mmd = Mmd {
                bandwidth: Bandwidth::Fixed(vec![sigma]),
                ..Mmd::default()
            };
            let v = val(mmd.uniform(t2(&x, 64, d, dtype), t2(&y, 48, d, dtype)));
            // In f32, |x|² + |y|² − 2x·y rounds by ~1e-7 · |x|², far above σ² for σ ≤ 1e-3: the
            // kernel's diagonal is then lost to rounding, and only finiteness is promised.
            if dtype == DType::F32 && sigma < 1.0 {
                assert!(v.is_finite() && (-1e-6..=want + 1e-6).contains(&v), "{v}");
                continue;
            }
            assert!(
                (v - want).abs() < 1e-5,
                "sigma {sigma} {dtype:?}: {v} vs {want}"
            );
        }
        // Ten copies of x₀ are the measure δ_{x₀}, as is x₀ alone (a fixed bandwidth: the median
        // heuristic's σ depends on the sample, not only on the measure).
        let x0 = x[..d].to_vec();
        let dup: Vec<f64> = x0.iter().cycle().take(10 * d).copied().collect();
        let fixed = Mmd {
            bandwidth: Bandwidth::Fixed(vec![1.0]),
            ..Mmd::default()
        };
        for div in [&Sinkhorn::default() as &dyn Divergence, &fixed] {
            let one = val(div.uniform(t2(&x0, 1, d, dtype), t2(&y, 48, d, dtype)));
            let ten = val(div.uniform(t2(&dup, 10, d, dtype), t2(&y, 48, d, dtype)));
            assert!(
                one > 0.0 && (one - ten).abs() < tol.max(1e-6) * one,
                "{one} vs {ten}"
            );
            let own = val(div.uniform(t2(&x0, 1, d, dtype), t2(&x0, 1, d, dtype)));
            assert!(own.abs() < tol, "a point against itself: {own}");
        }
    }
}

#[test]
fn penalty_conditioning_and_sinkhorn_pairs() {
    let (b, d) = (24, 2);
    let z = cloud(b, d, 9);
    let s: Vec<usize> = (0..b).map(|i| i % 3).collect();
    let y: Vec<bool> = (0..b).map(|i| i % 4 < 2).collect();
    let sk = Sinkhorn::default();
    let pen = |condition| GroupPenalty {
        groups: 3,
        divergence: GroupDivergence::Sinkhorn(sk.clone()),
        condition,
        scale: fairrep_losses::Scale::None,
    };
    let zt = t2(&z, b, d, DType::F64);
    // Demographic parity: mean over the 3 pairs of the divergence between groups.
    let rows_of = |keep: &dyn Fn(usize) -> bool| -> Vec<Vec<f64>> {
        (0..3)
            .map(|g| {
                (0..b)
                    .filter(|&i| s[i] == g && keep(i))
                    .flat_map(|i| z[i * d..(i + 1) * d].to_vec())
                    .collect()
            })
            .collect()
    };
    let mean_pairs = |groups: &[Vec<f64>]| {
        let mut tot = 0.0;
        for (g, h) in [(0, 1), (0, 2), (1, 2)] {
            tot += sk_value(
                &sk,
                &groups[g],
                groups[g].len() / d,
                &groups[h],
                groups[h].len() / d,
                d,
            );
        }
        tot / 3.0
    };
    let dp = pen(Condition::None).forward(zt.clone(), &s, None);
    assert_eq!(dp.pairs, 3);
    assert!((val(dp.value) - mean_pairs(&rows_of(&|_| true))).abs() < 1e-10);
    let eo = val(pen(Condition::EqualOpportunity)
        .forward(zt.clone(), &s, Some(&y))
        .value);
    assert!((eo - mean_pairs(&rows_of(&|i| y[i]))).abs() < 1e-10);
    let eodds = val(pen(Condition::EqualizedOdds)
        .forward(zt, &s, Some(&y))
        .value);
    let want = 0.5 * (mean_pairs(&rows_of(&|i| y[i])) + mean_pairs(&rows_of(&|i| !y[i])));
    assert!((eodds - want).abs() < 1e-10);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    #[test]
    fn debiased_sinkhorn_properties(seed in 0u64..1000, n in 2usize..12, m in 2usize..12, shift in -1.0f64..1.0) {
        let d = 2;
        let x = cloud(n, d, seed);
        let y = cloud(m, d, seed + 1);
        let s = sinkhorn_converged(0.5);
        // Identical clouds: exactly 0 with GeomLoss's symmetric schedule; in tolerance mode the
        // cross problem takes other (alternating) updates, so 0 up to the convergence, which is
        // slow for a few well-separated points.
        let schedule = Sinkhorn { blur: 0.5, ..Sinkhorn::default() };
        prop_assert!(sk_value(&schedule, &x, n, &x, n, d).abs() < 1e-12);
        prop_assert!(sk_value(&s, &x, n, &x, n, d).abs() < 1e-8);
        // Symmetry and non-negativity.
        let sxy = sk_value(&s, &x, n, &y, m, d);
        let syx = sk_value(&s, &y, m, &x, n, d);
        prop_assert!((sxy - syx).abs() < 1e-8 * sxy.abs().max(1.0), "{} vs {}", sxy, syx);
        prop_assert!(sxy > -1e-10);
        // Translating one cloud by t (p = 2, cost |x−y|²/2):
        // S(α, β + t) = S(α, β) − ⟨m_α − m_β, t⟩ + |t|²/2.
        let t = [shift, 0.5 * shift];
        let yt: Vec<f64> = y.iter().enumerate().map(|(i, v)| v + t[i % d]).collect();
        let mean = |v: &[f64], k: usize, c: usize| (0..k).map(|i| v[i * d + c]).sum::<f64>() / k as f64;
        let dot: f64 = (0..d).map(|c| (mean(&x, n, c) - mean(&y, m, c)) * t[c]).sum();
        let want = sxy - dot + 0.5 * (t[0] * t[0] + t[1] * t[1]);
        let got = sk_value(&s, &x, n, &yt, m, d);
        prop_assert!((got - want).abs() < 1e-8 * want.abs().max(1.0), "{} vs {}", got, want);
    }

    #[test]
    fn mmd_properties(seed in 0u64..1000, n in 2usize..15, m in 2usize..15, shift in -2.0f64..2.0) {
        let d = 3;
        let x = cloud(n, d, seed);
        let y = cloud(m, d, seed + 7);
        let mmd = Mmd { bandwidth: Bandwidth::Fixed(vec![1.0]), ..Mmd::default() };
        let v = |a: &[f64], k: usize, b: &[f64], l: usize| val(mmd.uniform(t2(a, k, d, DType::F64), t2(b, l, d, DType::F64)));
        prop_assert!(v(&x, n, &x, n).abs() < 1e-12);
        let xy = v(&x, n, &y, m);
        prop_assert!(xy >= -1e-12);
        prop_assert!((xy - v(&y, m, &x, n)).abs() < 1e-12);
        // Translating both clouds together changes nothing.
        let xs: Vec<f64> = x.iter().map(|p| p + shift).collect();
        let ys: Vec<f64> = y.iter().map(|p| p + shift).collect();
        prop_assert!((xy - v(&xs, n, &ys, m)).abs() < 1e-10);
    }
}

#[test]
fn scaled_penalties_are_scale_and_shift_invariant() {
    let (b, d) = (30, 3);
    let z = cloud(b, d, 11);
    let s: Vec<usize> = (0..b).map(|i| usize::from(i % 3 == 0)).collect();
    for scale in [Scale::BatchRms, Scale::PairDistance, Scale::Whiten] {
        let pen = sinkhorn_penalty(Sinkhorn::default(), scale);
        let at = |k: f64| {
            let zz: Vec<f64> = z.iter().map(|v| v * k + 3.0).collect();
            val(pen.forward(t2(&zz, b, d, DType::F64), &s, None).value)
        };
        let (one, small) = (at(1.0), at(0.01));
        assert!(
            one > 1e-4 && (one - small).abs() < 1e-9 * one,
            "{scale:?}: {one} vs {small}"
        );
    }
}

/// The scaled penalties are differentiated through their divisors: the gradient matches
/// central finite differences of the (scale-invariant) value, and so has no component along
/// `z` (Euler's theorem for a function homogeneous of degree 0). A detached divisor gave the
/// gradient a radial part ∝ the penalty, which shrank `z` to a constant in training.
#[test]
fn scaled_penalty_gradients_are_the_scale_invariant_ones() {
    let (b, d) = (12, 2);
    let z = cloud(b, d, 5);
    let s: Vec<usize> = (0..b).map(|i| usize::from(i % 3 == 0)).collect();
    for scale in [Scale::BatchRms, Scale::PairDistance, Scale::Whiten] {
        let pen = sinkhorn_penalty(sinkhorn_converged(0.5), scale);
        let value = |v: &[f64]| val(pen.forward(t2(v, b, d, DType::F64), &s, None).value);
        let device = dev().autodiff();
        let zt = Tensor::<2>::from_data(TensorData::new(z.clone(), [b, d]), (&device, DType::F64))
            .require_grad();
        let v = pen.forward(zt.clone(), &s, None).value;
        let g = zt
            .grad(&v.backward())
            .unwrap()
            .try_into_vec_as::<f64>()
            .unwrap();
        let h = 1e-5;
        let norm = g.iter().map(|x| x * x).sum::<f64>().sqrt();
        assert!(norm > 1e-3, "{scale:?}: the penalty moves z: |∇| = {norm}");
        for i in 0..b * d {
            let (mut zp, mut zm) = (z.clone(), z.clone());
            zp[i] += h;
            zm[i] -= h;
            let fd = (value(&zp) - value(&zm)) / (2.0 * h);
            assert!(
                (fd - g[i]).abs() < 1e-6 * norm.max(1.0),
                "{scale:?}, coord {i}: fd {fd}, autodiff {}",
                g[i]
            );
        }
        let radial: f64 = g.iter().zip(&z).map(|(gi, zi)| gi * zi).sum();
        let zn = z.iter().map(|x| x * x).sum::<f64>().sqrt();
        // Whitening's 30 Newton–Schulz steps leave more rounding in the gradient than one
        // division: 1e-7 there (a detached divisor gives a radial part of the penalty's order).
        let tol = if scale == Scale::Whiten { 1e-7 } else { 1e-9 };
        assert!(
            radial.abs() < tol * norm * zn,
            "{scale:?}: radial part {radial}"
        );
    }
}

/// `pair_distance` divides the centred batch by its root-mean-square distance between two rows
/// (computed here pair by pair, independently of the implementation's √(2 · mean entry²)).
#[test]
fn pair_distance_scale_divides_by_the_rms_pair_distance() {
    let (b, d) = (10, 3);
    let z = cloud(b, d, 8);
    let s: Vec<usize> = (0..b).map(|i| usize::from(i % 2 == 0)).collect();
    let mut sum = 0.0;
    for i in 0..b {
        for j in 0..b {
            sum += (0..d)
                .map(|k| (z[i * d + k] - z[j * d + k]).powi(2))
                .sum::<f64>();
        }
    }
    let rms_dist = (sum / (b * b) as f64).sqrt();
    let scaled: Vec<f64> = z.iter().map(|v| v / rms_dist).collect();
    let pen = |scale| sinkhorn_penalty(sinkhorn_converged(0.3), scale);
    let ours = val(pen(Scale::PairDistance)
        .forward(t2(&z, b, d, DType::F64), &s, None)
        .value);
    let by_hand = val(pen(Scale::None)
        .forward(t2(&scaled, b, d, DType::F64), &s, None)
        .value);
    assert!(
        (ours - by_hand).abs() < 1e-10 * by_hand.abs().max(1e-3),
        "{ours} vs {by_hand}"
    );
}

/// `whiten` against a closed form: for two columns, `(Σ + ρ I)^{-1/2}` is the inverse of
/// `√M = (M + √det M · I) / √(tr M + 2 √det M)`, computed here by hand in f64; the penalty of
/// the whitened batch equals the unscaled penalty of `(z − z̄) M^{-1/2} / √(2r)`.
#[test]
fn whiten_scale_matches_the_closed_form_two_by_two_inverse_square_root() {
    let (b, d) = (16, 2);
    // Correlated columns of unequal spread.
    let z: Vec<f64> = cloud(b, d, 21)
        .chunks(2)
        .flat_map(|p| [3.0 * p[0] + p[1], 0.2 * p[1] - 0.5 * p[0]])
        .collect();
    let s: Vec<usize> = (0..b).map(|i| usize::from(i % 3 == 0)).collect();
    let mean: Vec<f64> = (0..d)
        .map(|k| (0..b).map(|i| z[i * d + k]).sum::<f64>() / b as f64)
        .collect();
    let c: Vec<f64> = (0..b * d).map(|i| z[i] - mean[i % d]).collect();
    let cov =
        |j: usize, k: usize| (0..b).map(|i| c[i * d + j] * c[i * d + k]).sum::<f64>() / b as f64;
    let (a, off, e) = (cov(0, 0), cov(0, 1), cov(1, 1));
    let ridge = 1e-4 * (a + e) / d as f64;
    let (a, e) = (a + ridge, e + ridge);
    let sd = (a * e - off * off).sqrt();
    let t = (a + e + 2.0 * sd).sqrt();
    // √M = [[a + sd, off], [off, e + sd]] / t; its inverse:
    let (p, q, r) = ((a + sd) / t, off / t, (e + sd) / t);
    let det = p * r - q * q;
    let inv = [r / det, -q / det, -q / det, p / det];
    let norm = (2.0 * d as f64).sqrt();
    let white: Vec<f64> = (0..b)
        .flat_map(|i| {
            let (x, y) = (c[i * d], c[i * d + 1]);
            [
                (x * inv[0] + y * inv[2]) / norm,
                (x * inv[1] + y * inv[3]) / norm,
            ]
        })
        .collect();
    let pen = |scale| sinkhorn_penalty(sinkhorn_converged(0.5), scale);
    let ours = val(pen(Scale::Whiten)
        .forward(t2(&z, b, d, DType::F64), &s, None)
        .value);
    let by_hand = val(pen(Scale::None)
        .forward(t2(&white, b, d, DType::F64), &s, None)
        .value);
    assert!(
        by_hand > 1e-4 && (ours - by_hand).abs() < 1e-9 * by_hand,
        "{ours} vs {by_hand}"
    );
}

/// Whitening sees a group difference hidden in a direction of small variance, which the
/// pair-distance scale does not: column 0 is wide noise shared by both groups, column 1 is
/// narrow and shifted by one of its standard deviations between the groups.
#[test]
fn whiten_scale_sees_a_difference_in_a_narrow_direction() {
    let (b, d) = (64, 2);
    let u = cloud(b, d, 33);
    let s: Vec<usize> = (0..b).map(|i| usize::from(i % 2 == 0)).collect();
    // Rows 2k and 2k + 1 (one of each group) share their noise: the groups differ only by the
    // shift, not by sampling.
    let z: Vec<f64> = (0..b)
        .flat_map(|i| {
            let k = i / 2 * 2;
            [100.0 * u[k * d], 0.5 * u[k * d + 1] + s[i] as f64]
        })
        .collect();
    let pen = |scale| {
        val(sinkhorn_penalty(Sinkhorn::default(), scale)
            .forward(t2(&z, b, d, DType::F64), &s, None)
            .value)
    };
    let (pair, white) = (pen(Scale::PairDistance), pen(Scale::Whiten));
    assert!(
        white > 20.0 * pair && white > 1e-3,
        "whiten {white} vs pair_distance {pair}"
    );
}

/// Whitening makes the penalty invariant to invertible linear maps of `z`, up to the ridge
/// (10⁻⁴ of the mean eigenvalue: about that relative effect for a batch whose covariance is
/// not near-singular).
#[test]
fn whiten_scale_is_invariant_to_invertible_linear_maps() {
    let (b, d) = (40, 3);
    let z = cloud(b, d, 17);
    let s: Vec<usize> = (0..b).map(|i| usize::from(i % 3 == 0)).collect();
    let a = [[2.0, 0.5, -1.0], [0.3, -1.5, 0.2], [1.0, 1.0, 4.0]];
    let mapped: Vec<f64> = z
        .chunks(d)
        .flat_map(|row| (0..d).map(move |k| (0..d).map(|j| row[j] * a[j][k]).sum::<f64>()))
        .collect();
    let pen = |v: &[f64]| {
        val(sinkhorn_penalty(Sinkhorn::default(), Scale::Whiten)
            .forward(t2(v, b, d, DType::F64), &s, None)
            .value)
    };
    let (plain, moved) = (pen(&z), pen(&mapped));
    assert!(
        plain > 1e-3 && (plain - moved).abs() < 1e-3 * plain,
        "{plain} vs {moved}"
    );
}

#[test]
fn uniform_weights_sum_to_one() {
    let w = uniform_weights(&t2(&cloud(7, 2, 1), 7, 2, DType::F64));
    assert!((val(w.sum()) - 1.0).abs() < 1e-15);
}
