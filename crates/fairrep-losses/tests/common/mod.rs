//! Helpers shared by the tests: the reference fixture, its point clouds, pseudo-random values.

#![allow(dead_code)]

use serde_json::Value;

/// The shared reference values (PyTorch, GeomLoss 0.3.1, POT 0.9.7).
pub fn fixture() -> Value {
    serde_json::from_str(include_str!("../fixtures/divergences.json")).unwrap()
}

/// A JSON matrix as row-major values, rows, columns.
pub fn matrix(v: &Value) -> (Vec<f64>, usize, usize) {
    let rows = v.as_array().unwrap();
    let d = rows[0].as_array().unwrap().len();
    let flat = rows
        .iter()
        .flat_map(|r| r.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()))
        .collect();
    (flat, rows.len(), d)
}

/// Relative difference `|a − b| / |b|`.
pub fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs()
}

/// Deterministic pseudo-random values in [-2, 2) (xorshift).
pub fn values(len: usize, seed: u64) -> Vec<f64> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            ((s >> 11) as f64 / (1u64 << 53) as f64) * 4.0 - 2.0
        })
        .collect()
}

/// The first wgpu adapter (a GPU, or Mesa's lavapipe): the wgpu tests fail without one.
#[cfg(feature = "fused")]
pub fn wgpu() -> burn::tensor::Device {
    burn::tensor::Device::enumerate(burn::tensor::DeviceType::Wgpu)
        .into_vec()
        .into_iter()
        .next()
        .expect("a wgpu adapter (install mesa-vulkan-drivers, see scripts/test.sh)")
}

/// Asserts that `got` matches `want` within `tol` relative to the largest `|want|`.
pub fn close(what: &str, got: &[f64], want: &[f64], tol: f64) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    let scale = want.iter().fold(1e-12f64, |m, v| m.max(v.abs()));
    let err = got
        .iter()
        .zip(want)
        .fold(0.0f64, |m, (g, w)| m.max((g - w).abs()));
    assert!(err <= tol * scale, "{what}: error {err:e}, scale {scale:e}");
}
