//! Helpers shared by the reference tests: the fixture and its point clouds.

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
