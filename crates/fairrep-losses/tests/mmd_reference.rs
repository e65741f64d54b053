//! MMD² and its gradient against the shared reference values (PyTorch/GeomLoss, float64), a
//! finite-difference check of the gradient, and properties of the group penalty.
//!
//! Tolerances: 1e-9 relative in f64 against the reference (the reference's own cross-checks
//! agree to 1e-15; 1e-9 leaves room for summation order), 1e-4 relative in f32.

use burn::Tensor;
use burn::tensor::{DType, Device, TensorData};
use fairrep_losses::mmd::{Bandwidth, mmd2};
use fairrep_losses::penalty::DemographicParity;

mod common;
use common::{fixture, matrix, rel};

fn tensor(flat: &[f64], n: usize, d: usize, device: &Device, dtype: DType) -> Tensor<2> {
    Tensor::from_data(TensorData::new(flat.to_vec(), [n, d]), (device, dtype))
}

/// Value, gradient norm and first gradient row of MMD²(X, Y) with respect to X.
fn mmd_and_grad(sigmas: &[f64], dtype: DType) -> (f64, f64, Vec<f64>) {
    let doc = fixture();
    let (x, n, d) = matrix(&doc["inputs"]["X"]);
    let (y, m, _) = matrix(&doc["inputs"]["Y"]);
    let device = Device::flex().autodiff();
    let xt = tensor(&x, n, d, &device, dtype).require_grad();
    let yt = tensor(&y, m, d, &device, dtype);
    let v = mmd2(xt.clone(), yt, sigmas);
    let grads = v.backward();
    let g = xt.grad(&grads).unwrap().try_into_vec_as::<f64>().unwrap();
    let value = v.into_scalar::<f64>();
    let norm = g.iter().map(|x| x * x).sum::<f64>().sqrt();
    (value, norm, g[..d].to_vec())
}

#[test]
fn mmd_sigma1_matches_reference_f64() {
    let doc = fixture();
    let r = &doc["mmd2_sigma1"];
    let (v, gn, row0) = mmd_and_grad(&[1.0], DType::F64);
    assert!(rel(v, r["value"].as_f64().unwrap()) < 1e-9, "value {v}");
    assert!(
        rel(gn, r["grad_norm"].as_f64().unwrap()) < 1e-9,
        "grad norm {gn}"
    );
    for (a, b) in row0.iter().zip(r["grad_row0"].as_array().unwrap()) {
        assert!(rel(*a, b.as_f64().unwrap()) < 1e-7, "grad row0 {a} vs {b}");
    }
    // GeomLoss returns half of this statistic.
    assert!(rel(v / 2.0, r["geomloss_gaussian_loss_value"].as_f64().unwrap()) < 1e-9);
}

#[test]
fn mmd_five_bandwidths_matches_reference_f64() {
    let doc = fixture();
    let r = &doc["mmd2_5bw_sigma_0.25_0.5_1_2_4"];
    let (v, gn, _) = mmd_and_grad(&[0.25, 0.5, 1.0, 2.0, 4.0], DType::F64);
    assert!(rel(v, r["value"].as_f64().unwrap()) < 1e-9, "value {v}");
    assert!(
        rel(gn, r["grad_norm"].as_f64().unwrap()) < 1e-9,
        "grad norm {gn}"
    );
}

#[test]
fn mmd_sigma1_matches_reference_f32() {
    let doc = fixture();
    let r = &doc["mmd2_sigma1"];
    let (v, gn, _) = mmd_and_grad(&[1.0], DType::F32);
    assert!(rel(v, r["value"].as_f64().unwrap()) < 1e-4, "value {v}");
    assert!(
        rel(gn, r["grad_norm"].as_f64().unwrap()) < 1e-4,
        "grad norm {gn}"
    );
}

#[test]
fn penalty_gradient_matches_finite_differences() {
    // Central differences in f64 on a small batch with 3 groups and the median bandwidth
    // (held fixed by fixing it from the unperturbed batch).
    let device = Device::flex().autodiff();
    let (b, r) = (9, 3);
    let z: Vec<f64> = (0..b * r)
        .map(|i| ((i * 37 % 11) as f64 - 5.0) / 4.0)
        .collect();
    let s = [0, 1, 2, 0, 1, 2, 0, 0, 1];
    let base = DemographicParity {
        groups: 3,
        bandwidth: Bandwidth::Median,
    };
    let zt = tensor(&z, b, r, &device, DType::F64).require_grad();
    let out = base.forward(zt.clone(), &s);
    assert_eq!(out.pairs, 3);
    let fixed = DemographicParity {
        groups: 3,
        bandwidth: Bandwidth::Fixed(out.sigmas.clone()),
    };
    let grads = out.value.backward();
    let g = zt.grad(&grads).unwrap().try_into_vec_as::<f64>().unwrap();
    let plain = Device::flex();
    let f = |z: &[f64]| {
        fixed
            .forward(tensor(z, b, r, &plain, DType::F64), &s)
            .value
            .into_scalar::<f64>()
    };
    let h = 1e-6;
    for i in 0..b * r {
        let mut zp = z.clone();
        let mut zm = z.clone();
        zp[i] += h;
        zm[i] -= h;
        let fd = (f(&zp) - f(&zm)) / (2.0 * h);
        assert!(
            (fd - g[i]).abs() < 1e-7 + 1e-5 * fd.abs(),
            "coord {i}: fd {fd}, autodiff {}",
            g[i]
        );
    }
}

#[test]
fn two_group_penalty_is_the_mmd_between_the_groups() {
    let device = Device::flex();
    let doc = fixture();
    let (x, n, d) = matrix(&doc["inputs"]["X"]);
    let (y, m, _) = matrix(&doc["inputs"]["Y"]);
    let z: Vec<f64> = x.iter().chain(&y).copied().collect();
    // Interleave the groups to check the penalty does not depend on row order.
    let mut order: Vec<usize> = (0..n + m).collect();
    order.sort_by_key(|&i| (i * 7919) % (n + m));
    let zz: Vec<f64> = order
        .iter()
        .flat_map(|&i| z[i * d..(i + 1) * d].to_vec())
        .collect();
    let s: Vec<usize> = order.iter().map(|&i| usize::from(i >= n)).collect();
    let p = DemographicParity {
        groups: 2,
        bandwidth: Bandwidth::Fixed(vec![1.0]),
    }
    .forward(tensor(&zz, n + m, d, &device, DType::F64), &s);
    let want = doc["mmd2_sigma1"]["value"].as_f64().unwrap();
    assert!(rel(p.value.into_scalar::<f64>(), want) < 1e-9);
}

#[test]
fn penalty_is_defined_with_missing_groups_and_zero_for_identical_groups() {
    let device = Device::flex();
    let pen = DemographicParity {
        groups: 3,
        bandwidth: Bandwidth::Median,
    };
    // Only one group present: 0, no pair.
    let z = tensor(&[0.0, 1.0, 2.0, 3.0], 2, 2, &device, DType::F32);
    let out = pen.forward(z, &[1, 1]);
    assert_eq!(out.pairs, 0);
    assert_eq!(out.value.into_scalar::<f64>(), 0.0);
    // Single point per group, one group absent: the closed form. Points (0, 1) and (2, 3),
    // d² = 8; the median pairwise distance of the pooled points is d itself, so
    // MMD² = k(x,x) + k(y,y) − 2 k(x,y) = 2 − 2·exp(−d²/(2σ²)) = 2 − 2·e^(−1/2).
    let z = tensor(&[0.0, 1.0, 2.0, 3.0], 2, 2, &device, DType::F32);
    let out = pen.forward(z, &[0, 2]);
    assert_eq!(out.pairs, 1);
    assert!(
        (out.sigmas[0] - 8f64.sqrt()).abs() < 1e-6,
        "{:?}",
        out.sigmas
    );
    let want = 2.0 - 2.0 * (-0.5f64).exp();
    let got = out.value.into_scalar::<f64>();
    assert!((got - want).abs() < 1e-6, "{got} vs {want}");
    // Identical points in both groups (all distances 0, median fallback): exactly 0.
    let z = tensor(&[1.0; 8], 4, 2, &device, DType::F32);
    let out = pen.forward(z, &[0, 1, 0, 1]);
    assert!(out.value.into_scalar::<f64>().abs() < 1e-7);
}
