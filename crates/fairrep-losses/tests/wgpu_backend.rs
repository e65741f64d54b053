//! The divergences on the wgpu backend (a GPU, or Mesa's lavapipe software Vulkan driver in CI)
//! against the CPU backend: values and gradients, f32. The wgpu backend runs the fused CubeCL
//! kernels (feature `fused`), the CPU backend
//! the fused CPU kernels: two independent implementations checked against each other. Sizes go far above 65,535 for m·d
//! (llvmpipe silently truncates longer shader loops; see the README, "GPU kernels").
//!
//! These tests need a wgpu adapter and fail (they are not skipped) without one:
//! `scripts/test.sh` installs lavapipe where it is missing. They are compiled with the `fused`
//! feature (the wgpu backend); `every_backend.rs` fails a test build without it.

#![cfg(feature = "fused")]

mod common;

use burn::Tensor;
use burn::tensor::{DType, Device, TensorData};
use common::{close, values, wgpu};
use fairrep_losses::divergence::Divergence;
use fairrep_losses::mmd::{Bandwidth, Mmd};
use fairrep_losses::sinkhorn::Sinkhorn;

/// Value and gradients with respect to x and y on `device` (autodiff), f32.
fn run(
    device: &Device,
    div: &dyn Divergence,
    x: &[f64],
    y: &[f64],
    (n, m, d): (usize, usize, usize),
) -> (f64, Vec<f64>, Vec<f64>) {
    let dev = device.clone().autodiff();
    let t = |v: &[f64], r: usize| {
        Tensor::<2>::from_data(TensorData::new(v.to_vec(), [r, d]), (&dev, DType::F32))
            .require_grad()
    };
    let (xt, yt) = (t(x, n), t(y, m));
    let v = div.uniform(xt.clone(), yt.clone());
    let grads = v.backward();
    let g = |t: &Tensor<2>| t.grad(&grads).unwrap().try_into_vec_as::<f64>().unwrap();
    (v.into_scalar::<f64>(), g(&xt), g(&yt))
}

#[test]
fn divergences_on_wgpu_match_the_cpu_backend() {
    let gpu = wgpu();
    let cpu = Device::flex();
    // (n, m, d): a small case, and m·d = 1,200 · 80 = 96,000 > 65,535.
    for (n, m, d) in [(37, 53, 5), (1_000, 1_200, 80)] {
        let x = values(n * d, 1);
        let y: Vec<f64> = values(m * d, 2).iter().map(|v| 0.9 * v + 0.3).collect();
        let divs: Vec<(&str, Box<dyn Divergence>)> = vec![
            (
                "mmd",
                Box::new(Mmd {
                    bandwidth: Bandwidth::Fixed(vec![0.5 * (d as f64).sqrt(), (d as f64).sqrt()]),
                    ..Mmd::default()
                }),
            ),
            (
                "sinkhorn",
                Box::new(Sinkhorn {
                    blur: 0.5 * (d as f64).sqrt(),
                    ..Sinkhorn::default()
                }),
            ),
        ];
        for (name, div) in &divs {
            let want = run(&cpu, div.as_ref(), &x, &y, (n, m, d));
            let got = run(&gpu, div.as_ref(), &x, &y, (n, m, d));
            let what = format!("{name} {n}×{m}×{d}");
            close(&format!("{what} value"), &[got.0], &[want.0], 1e-4);
            close(&format!("{what} grad x"), &got.1, &want.1, 1e-3);
            close(&format!("{what} grad y"), &got.2, &want.2, 1e-3);
        }
    }
}
