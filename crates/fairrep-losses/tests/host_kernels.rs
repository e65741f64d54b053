//! The fused CPU kernels against the portable tensor-op path: values and gradients with respect
//! to both clouds, f32 and f64, with sizes that cross the kernels' row blocks (256) and lane
//! chunks (16), non-uniform weights and several bandwidths and temperatures.

mod common;

use burn::Tensor;
use burn::tensor::{DType, Device, TensorData};
use common::values;
use fairrep_losses::divergence::Divergence;
use fairrep_losses::mmd::{Bandwidth, Estimator, Mmd};
use fairrep_losses::sinkhorn::{Power, Sinkhorn};

fn weights(n: usize, seed: u64) -> Vec<f64> {
    let raw: Vec<f64> = values(n, seed).iter().map(|v| v + 2.5).collect();
    let s: f64 = raw.iter().sum();
    raw.iter().map(|v| v / s).collect()
}

struct Case {
    x: Vec<f64>,
    a: Vec<f64>,
    y: Vec<f64>,
    b: Vec<f64>,
    n: usize,
    m: usize,
    d: usize,
}

/// The case's clouds and weights as f64 tensors on the CPU device (no autodiff).
impl Case {
    fn t2(&self, v: &[f64], rows: usize) -> Tensor<2> {
        let device = Device::flex();
        Tensor::from_data(
            TensorData::new(v.to_vec(), [rows, self.d]),
            (&device, DType::F64),
        )
    }
    fn t1(v: &[f64]) -> Tensor<1> {
        let device = Device::flex();
        Tensor::from_data(
            TensorData::new(v.to_vec(), [v.len()]),
            (&device, DType::F64),
        )
    }
    fn x(&self) -> Tensor<2> {
        self.t2(&self.x, self.n)
    }
    fn y(&self) -> Tensor<2> {
        self.t2(&self.y, self.m)
    }
    fn a(&self) -> Tensor<1> {
        Self::t1(&self.a)
    }
    fn b(&self) -> Tensor<1> {
        Self::t1(&self.b)
    }
}

fn case(n: usize, m: usize, d: usize, seed: u64) -> Case {
    Case {
        x: values(n * d, seed),
        a: weights(n, seed + 1),
        y: values(m * d, seed + 2)
            .iter()
            .map(|v| 0.8 * v + 0.4)
            .collect(),
        b: weights(m, seed + 3),
        n,
        m,
        d,
    }
}

/// The value and the gradients with respect to x and y, through `run`, on the autodiff device.
fn value_and_grads(
    c: &Case,
    dtype: DType,
    run: impl Fn(Tensor<2>, Tensor<1>, Tensor<2>, Tensor<1>) -> Tensor<1>,
) -> (f64, Vec<f64>, Vec<f64>) {
    let device = Device::flex().autodiff();
    let t2 = |v: &[f64], r: usize| {
        Tensor::<2>::from_data(TensorData::new(v.to_vec(), [r, c.d]), (&device, dtype))
            .require_grad()
    };
    let t1 = |v: &[f64]| {
        Tensor::<1>::from_data(TensorData::new(v.to_vec(), [v.len()]), (&device, dtype))
    };
    let (x, y) = (t2(&c.x, c.n), t2(&c.y, c.m));
    let v = run(x.clone(), t1(&c.a), y.clone(), t1(&c.b));
    let grads = v.backward();
    let g = |t: &Tensor<2>| t.grad(&grads).unwrap().try_into_vec_as::<f64>().unwrap();
    (v.into_scalar::<f64>(), g(&x), g(&y))
}

fn max_abs(v: &[f64]) -> f64 {
    v.iter().fold(0.0, |m, x| m.max(x.abs()))
}

/// Values and gradients of the fused kernels (`host`) against the portable path.
fn compare(
    what: &str,
    tol: f64,
    host: (f64, Vec<f64>, Vec<f64>),
    portable: (f64, Vec<f64>, Vec<f64>),
) {
    assert_close(&format!("{what} value"), &[host.0], &[portable.0], tol);
    assert_close(&format!("{what} grad x"), &host.1, &portable.1, tol);
    assert_close(&format!("{what} grad y"), &host.2, &portable.2, tol);
}

/// `|got − want|` relative to the largest entry of `want`.
fn assert_close(what: &str, got: &[f64], want: &[f64], tol: f64) {
    let scale = max_abs(want).max(1e-12);
    let err = got
        .iter()
        .zip(want)
        .fold(0.0f64, |m, (g, w)| m.max((g - w).abs()));
    assert!(
        err <= tol * scale,
        "{what}: max error {err:e} vs scale {scale:e}"
    );
}

#[test]
fn mmd_kernels_match_the_portable_path() {
    // (n, m, d): below one block, across blocks with n ≠ m, d not a multiple of the lanes.
    for (n, m, d) in [(9, 23, 3), (300, 531, 7), (257, 40, 17)] {
        let c = case(n, m, d, n as u64);
        for estimator in [Estimator::Biased, Estimator::Unbiased] {
            for sigmas in [vec![1.0], vec![0.3, 1.0, 2.5]] {
                let mmd = Mmd {
                    bandwidth: Bandwidth::Fixed(sigmas.clone()),
                    estimator,
                    ..Mmd::default()
                };
                for (dtype, tol) in [(DType::F64, 1e-11), (DType::F32, 2e-4)] {
                    let host = value_and_grads(&c, dtype, |x, a, y, b| mmd.value(x, a, y, b));
                    let portable =
                        value_and_grads(&c, dtype, |x, a, y, b| mmd.value_portable(x, a, y, b));
                    let what = format!("{n}×{m}×{d} {estimator:?} {sigmas:?} {dtype:?}");
                    compare(&what, tol, host, portable);
                }
            }
        }
    }
}

#[test]
fn mmd_kernels_use_the_median_bandwidth_and_measure_without_autodiff() {
    let c = case(40, 70, 5, 11);
    let mmd = Mmd::default(); // median heuristic
    let host = mmd.value(c.x(), c.a(), c.y(), c.b()).into_scalar::<f64>();
    let portable = mmd
        .value_portable(c.x(), c.a(), c.y(), c.b())
        .into_scalar::<f64>();
    assert!(mmd.uses_host_kernels(&c.x()));
    assert!(
        (host - portable).abs() < 1e-12 * portable.abs(),
        "{host} vs {portable}"
    );
}

#[test]
fn sinkhorn_kernels_match_the_portable_path() {
    let variants = [
        Sinkhorn {
            blur: 0.5,
            ..Sinkhorn::default()
        },
        Sinkhorn {
            blur: 0.1,
            scaling: 0.9,
            ..Sinkhorn::default()
        },
        Sinkhorn {
            p: Power::P1,
            blur: 0.2,
            ..Sinkhorn::default()
        },
        Sinkhorn {
            reach: Some(0.7),
            blur: 0.3,
            tolerance: Some(1e-8),
            max_iterations: 500,
            ..Sinkhorn::default()
        },
        Sinkhorn {
            reach: Some(0.7),
            blur: 0.3,
            ..Sinkhorn::default()
        },
        Sinkhorn {
            debias: false,
            blur: 0.3,
            ..Sinkhorn::default()
        },
        Sinkhorn {
            blur: 0.3,
            tolerance: Some(1e-9),
            ..Sinkhorn::default()
        },
    ];
    for (n, m, d) in [(9, 23, 3), (300, 270, 5)] {
        let c = case(n, m, d, 100 + n as u64);
        for s in &variants {
            // f64: 1e-7, not 1e-12, because burn 0.22.1's autodiff takes the backward of
            // `div_scalar(ε)` in f32 (`1.0 / state.elem::<f32>()`), which moves the portable
            // path's gradient by ~4e-8 relative when ε is not an f32 number (blur 0.3); the
            // values agree to 1e-15. f32: the p = 1 cost's gradient (u − v)/|u − v| is sensitive
            // to the rounding of near distances in either path.
            let f32_tol = if s.p == Power::P1 { 5e-3 } else { 1e-4 };
            for (dtype, tol) in [(DType::F64, 1e-7), (DType::F32, f32_tol)] {
                let host = value_and_grads(&c, dtype, |x, a, y, b| s.solve(x, a, y, b).value);
                let portable =
                    value_and_grads(&c, dtype, |x, a, y, b| s.solve_portable(x, a, y, b).value);
                let what = format!("{n}×{m}×{d} {s:?} {dtype:?}");
                compare(&what, tol, host, portable);
            }
        }
    }
}

#[test]
fn sinkhorn_kernels_return_the_potentials_of_the_portable_path() {
    let c = case(50, 31, 4, 7);
    let s = Sinkhorn {
        blur: 0.2,
        ..Sinkhorn::default()
    };
    let h = s.solve(c.x(), c.a(), c.y(), c.b());
    let p = s.solve_portable(c.x(), c.a(), c.y(), c.b());
    let v = |t: &Tensor<1>| t.clone().try_into_vec_as::<f64>().unwrap();
    assert_close("f", &v(&h.f), &v(&p.f), 1e-10);
    assert_close("g", &v(&h.g), &v(&p.g), 1e-10);
    assert_close(
        "f_aa",
        &v(h.f_aa.as_ref().unwrap()),
        &v(p.f_aa.as_ref().unwrap()),
        1e-10,
    );
    assert_close(
        "g_bb",
        &v(h.g_bb.as_ref().unwrap()),
        &v(p.g_bb.as_ref().unwrap()),
        1e-10,
    );
}
