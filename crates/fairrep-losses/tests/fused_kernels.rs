//! The fused CubeCL kernels (feature `fused`, on the wgpu backend: Mesa's lavapipe in CI)
//! against the portable tensor-op path: the four kernel operations one by one against the
//! tensor-op formulas on the CPU backend (flex), the MMD² and Sinkhorn divergences against the
//! portable path on wgpu itself, values and gradients; the Sinkhorn divergence against the
//! shared reference values; and the lazy (Fusion) path against a direct CubeCL launch.
//!
//! Sizes: n ≠ m; d not a multiple of the tile (13, 80, 3); m·d = 96,000 and m = 70,000 rows,
//! far above the 65,535 loop iterations after which llvmpipe silently stops a shader (a first
//! version of the kernels, with a plain loop over the rows of a tile, failed the m = 70,000
//! case here with sums 12% short; the reference side runs on the CPU so it cannot be cut).
//! Tolerances (f32): 2e-4 relative to the largest value, 1e-3 for gradients (both paths sum
//! 10³–10⁵ terms in f32, in different orders).
//!
//! These tests need a wgpu adapter and fail (they are not skipped) without one.

#![cfg(feature = "fused")]

mod common;

use burn::Tensor;
use burn::tensor::{DType, Device, TensorData};
use common::{close, fixture, matrix, rel, values, wgpu};
use fairrep_losses::divergence::{Divergence, uniform_weights};
use fairrep_losses::fused;
use fairrep_losses::mmd::{Bandwidth, Estimator, Mmd, gaussian_kernel_points};
use fairrep_losses::sinkhorn::{Power, Sinkhorn, dense_softmin};

fn vec_of<const D: usize>(t: Tensor<D>) -> Vec<f64> {
    t.into_data()
        .convert::<f64>()
        .try_into_vec::<f64>()
        .unwrap()
}

fn tensor<const D: usize>(v: &[f64], shape: [usize; D], device: &Device) -> Tensor<D> {
    Tensor::<D>::from_data(TensorData::new(v.to_vec(), shape), (device, DType::F32))
}

/// Point clouds `x` `[n, d]`, `y` `[m, d]` (shifted and scaled) and positive weights.
fn clouds(n: usize, m: usize, d: usize) -> (Vec<f64>, Vec<f64>, Vec<f64>, Vec<f64>) {
    let x = values(n * d, 1);
    let y: Vec<f64> = values(m * d, 2).iter().map(|v| 0.9 * v + 0.3).collect();
    let a: Vec<f64> = values(n, 3).iter().map(|v| 1.5 + v / 2.0).collect();
    let b: Vec<f64> = values(m, 4).iter().map(|v| 1.5 + v / 2.0).collect();
    let (sa, sb) = (a.iter().sum::<f64>(), b.iter().sum::<f64>());
    (
        x,
        y,
        a.iter().map(|v| v / sa).collect(),
        b.iter().map(|v| v / sb).collect(),
    )
}

const SIZES: [(usize, usize, usize); 3] = [(37, 53, 13), (1_000, 1_200, 80), (300, 70_000, 3)];

#[test]
fn gaussian_sums_and_their_gradients_match_the_tensor_ops() {
    let gpu = wgpu().autodiff();
    let cpu = Device::flex().autodiff();
    for (n, m, d) in SIZES {
        let (x, y, _, b) = clouds(n, m, d);
        let g = values(n, 5); // upstream gradient of the sums
        let sd = (d as f64).sqrt();
        for sigmas in [vec![sd], vec![0.25 * sd, 0.5 * sd, sd, 2.0 * sd]] {
            // Σ_i g_i s_i with s = K(x, y) w, both ways, with gradients w.r.t. x, y and w.
            let run = |fused_path: bool, dev: &Device| {
                let xt = tensor(&x, [n, d], dev).require_grad();
                let yt = tensor(&y, [m, d], dev).require_grad();
                let wt = tensor(&b, [m], dev).require_grad();
                let s = if fused_path {
                    fused::gaussian_sums(xt.clone(), yt.clone(), wt.clone(), &sigmas)
                } else {
                    gaussian_kernel_points(xt.clone(), yt.clone(), &sigmas)
                        .matmul(wt.clone().unsqueeze_dim::<2>(1))
                        .reshape([n])
                };
                let total = (s.clone() * tensor(&g, [n], dev)).sum();
                let grads = total.backward();
                (
                    vec_of(s),
                    vec_of(xt.grad(&grads).unwrap()),
                    vec_of(yt.grad(&grads).unwrap()),
                    vec_of(wt.grad(&grads).unwrap()),
                )
            };
            let (got, want) = (run(true, &gpu), run(false, &cpu));
            let portable = run(false, &gpu);
            eprintln!(
                "portable-wgpu vs cpu sums err {}",
                got.0
                    .iter()
                    .zip(&portable.0)
                    .map(|(a, b)| (a - b).abs())
                    .fold(0.0, f64::max)
            );
            let what = format!("{n}×{m}×{d}, {} bandwidths", sigmas.len());
            close(&format!("{what}: sums"), &got.0, &want.0, 2e-4);
            close(&format!("{what}: ∂/∂x"), &got.1, &want.1, 1e-3);
            close(&format!("{what}: ∂/∂y"), &got.2, &want.2, 1e-3);
            close(&format!("{what}: ∂/∂w"), &got.3, &want.3, 1e-3);
        }
    }
}

#[test]
fn softmin_and_its_gradient_match_the_tensor_ops() {
    let gpu = wgpu().autodiff();
    let cpu = Device::flex().autodiff();
    for (n, m, d) in SIZES {
        let (x, y, _, _) = clouds(n, m, d);
        let h: Vec<f64> = values(m, 6).iter().map(|v| v - (m as f64).ln()).collect();
        let g = values(n, 7);
        for (p, eps) in [
            (Power::P2, 0.05 * d as f64),
            (Power::P2, d as f64),
            (Power::P1, 0.3),
        ] {
            let run = |fused_path: bool, dev: &Device| {
                let xt = tensor(&x, [n, d], dev).require_grad();
                let yt = tensor(&y, [m, d], dev);
                let ht = tensor(&h, [m], dev);
                let f = if fused_path {
                    fused::softmin(xt.clone(), yt, ht, eps, p == Power::P1)
                } else {
                    dense_softmin(&fairrep_losses::cost(p, xt.clone(), yt), eps, ht)
                };
                let grads = (f.clone() * tensor(&g, [n], dev)).sum().backward();
                (vec_of(f), vec_of(xt.grad(&grads).unwrap()))
            };
            let (got, want) = (run(true, &gpu), run(false, &cpu));
            let what = format!("{n}×{m}×{d}, {p:?}, ε = {eps}");
            close(&format!("{what}: soft-min"), &got.0, &want.0, 2e-4);
            close(&format!("{what}: ∂/∂x"), &got.1, &want.1, 1e-3);
        }
    }
}

/// Value and gradients with respect to x and y: through [`Divergence::value`] (the fused path
/// on wgpu) or the portable path.
fn divergence_run(
    div: &dyn Fn(Tensor<2>, Tensor<1>, Tensor<2>, Tensor<1>) -> Tensor<1>,
    dev: &Device,
    (x, y, a, b): &(Vec<f64>, Vec<f64>, Vec<f64>, Vec<f64>),
    (n, m, d): (usize, usize, usize),
) -> (f64, Vec<f64>, Vec<f64>) {
    let xt = tensor(x, [n, d], dev).require_grad();
    let yt = tensor(y, [m, d], dev).require_grad();
    let v = div(
        xt.clone(),
        tensor(a, [n], dev),
        yt.clone(),
        tensor(b, [m], dev),
    );
    let grads = v.backward();
    (
        v.into_scalar::<f64>(),
        vec_of(xt.grad(&grads).unwrap()),
        vec_of(yt.grad(&grads).unwrap()),
    )
}

#[test]
fn divergences_on_the_fused_path_match_the_portable_path() {
    let dev = wgpu().autodiff();
    for (n, m, d) in [(37, 53, 13), (1_000, 1_200, 80)] {
        let data = clouds(n, m, d);
        let sd = (d as f64).sqrt();
        for estimator in [Estimator::Biased, Estimator::Unbiased] {
            let mmd = Mmd {
                bandwidth: Bandwidth::Fixed(vec![0.5 * sd, sd, 2.0 * sd]),
                estimator,
                ..Mmd::default()
            };
            let probe = tensor(&data.0, [n, d], &dev);
            assert!(mmd.uses_fused_kernels(&probe), "the fused path is taken");
            let got = divergence_run(&|x, a, y, b| mmd.value(x, a, y, b), &dev, &data, (n, m, d));
            let want = divergence_run(
                &|x, a, y, b| mmd.value_portable(x, a, y, b),
                &dev,
                &data,
                (n, m, d),
            );
            let what = format!("MMD² {estimator:?} {n}×{m}×{d}");
            close(&format!("{what} value"), &[got.0], &[want.0], 2e-4);
            close(&format!("{what} ∂/∂x"), &got.1, &want.1, 1e-3);
            close(&format!("{what} ∂/∂y"), &got.2, &want.2, 1e-3);
        }
        for (p, blur, debias) in [
            (Power::P2, 0.5 * sd, true),
            (Power::P2, 0.2 * sd, true),
            (Power::P2, sd, false),
            (Power::P1, 0.5, true),
        ] {
            let s = Sinkhorn {
                p,
                blur,
                debias,
                ..Sinkhorn::default()
            };
            let got = divergence_run(
                &|x, a, y, b| s.solve(x, a, y, b).value,
                &dev,
                &data,
                (n, m, d),
            );
            let want = divergence_run(
                &|x, a, y, b| s.solve_portable(x, a, y, b).value,
                &dev,
                &data,
                (n, m, d),
            );
            let what = format!("Sinkhorn {p:?} blur {blur:.2} debias {debias} {n}×{m}×{d}");
            close(&format!("{what} value"), &[got.0], &[want.0], 1e-3);
            close(&format!("{what} ∂/∂x"), &got.1, &want.1, 2e-3);
            close(&format!("{what} ∂/∂y"), &got.2, &want.2, 2e-3);
        }
    }
}

#[test]
fn sinkhorn_on_the_fused_path_matches_the_reference() {
    // The same check as sinkhorn_reference.rs's f32 test, on wgpu through the fused soft-min:
    // the converged f64 value of the shared reference (GeomLoss/PyTorch inputs), f32
    // tolerances (1e-4 on the value, 1e-3 on the gradient norm).
    let doc = fixture();
    let r = &doc["geomloss_sinkhorn_blur_0.5"]["converged_f64"];
    let (x, n, d) = matrix(&doc["inputs"]["X"]);
    let (y, m, _) = matrix(&doc["inputs"]["Y"]);
    let dev = wgpu().autodiff();
    let xt = tensor(&x, [n, d], &dev).require_grad();
    let yt = tensor(&y, [m, d], &dev);
    assert!(fused::uses_fused(&xt));
    let s = Sinkhorn {
        blur: 0.5,
        scaling: 0.5,
        tolerance: Some(1e-5),
        max_iterations: 50_000,
        ..Sinkhorn::default()
    };
    let sol = s.solve(
        xt.clone(),
        uniform_weights(&xt),
        yt.clone(),
        uniform_weights(&yt),
    );
    let grads = sol.value.backward();
    let g = vec_of(xt.grad(&grads).unwrap());
    let value = sol.value.into_scalar::<f64>();
    let grad_norm = g.iter().map(|v| v * v).sum::<f64>().sqrt();
    let want = r["value"].as_f64().unwrap();
    assert!(rel(value, want) < 1e-4, "{value} vs {want}");
    let gn = r["grad_norm"].as_f64().unwrap();
    assert!(rel(grad_norm, gn) < 1e-3, "grad norm {grad_norm} vs {gn}");
}

#[test]
fn the_fusion_path_agrees_with_direct_cube_execution() {
    use burn::backend::{DispatchDevice, ops::FloatTensorOps};
    use burn_cubecl::CubeBackend;
    use fairrep_losses::fused::FusedOps;
    let device = wgpu();
    let DispatchDevice::Cube(cube) = device.as_dispatch() else {
        panic!("wgpu is a CubeCL device")
    };
    let (n, m, d) = (129, 65, 7);
    let (x, y, _, b) = clouds(n, m, d);
    let data = |v: &[f64], shape: Vec<usize>| {
        TensorData::new(v.iter().map(|&t| t as f32).collect::<Vec<f32>>(), shape)
    };
    let gam = [0.5f64, 0.05];
    // Direct: CubeBackend primitives, the kernel launched at once.
    let prim = |v: &[f64], shape: Vec<usize>| CubeBackend::float_from_data(data(v, shape), cube);
    let direct = CubeBackend::gaussian_sums(
        prim(&x, vec![n, d]),
        prim(&y, vec![m, d]),
        prim(&b, vec![m]),
        prim(&gam, vec![2]),
    );
    let direct = burn::tensor::read_sync(CubeBackend::float_into_data(direct))
        .unwrap()
        .convert::<f64>()
        .try_to_vec::<f64>()
        .unwrap();
    // Through the dispatch: the wgpu device's (lazy, fused) tensors, followed by more lazy
    // operations before anything is read.
    let sigmas: Vec<f64> = gam.iter().map(|g| (0.5 / g).sqrt()).collect();
    let lazy = fused::gaussian_sums(
        tensor(&x, [n, d], &device),
        tensor(&y, [m, d], &device),
        tensor(&b, [m], &device),
        &sigmas,
    )
    .mul_scalar(2.0)
    .add_scalar(1.0);
    let lazy: Vec<f64> = vec_of(lazy).iter().map(|v| (v - 1.0) / 2.0).collect();
    close("fusion vs direct", &lazy, &direct, 1e-6);
}
