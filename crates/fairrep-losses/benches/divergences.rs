//! Forward + backward of the divergences on the CPU backend (flex, f32), for n = m in
//! {512, 2048, 8192} and d in {16, 128}, with the peak heap memory of one forward + backward.
//!
//! `cargo bench -p fairrep-losses` (add a filter, e.g. `-- mmd/2048`, for a subset). The peak
//! memory table is printed on stderr before the timings. `FAIRREP_BENCH_SIZES=512,2048` and
//! `FAIRREP_BENCH_KINDS=mmd` restrict both (Sinkhorn at n = 8192 takes minutes per sample on two
//! cores).

#![allow(missing_docs)]

use burn::Tensor;
use burn::tensor::{DType, Device, Distribution};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use fairrep_losses::divergence::Divergence;
use fairrep_losses::mmd::{Bandwidth, Mmd};
use fairrep_losses::sinkhorn::Sinkhorn;
use std::sync::atomic::Ordering;

mod common;
use common::{LIVE, PEAK};

const SIZES: [usize; 3] = [512, 2048, 8192];
const DIMS: [usize; 2] = [16, 128];

fn sizes() -> Vec<usize> {
    std::env::var("FAIRREP_BENCH_SIZES").map_or(SIZES.to_vec(), |v| {
        v.split(',')
            .map(|s| s.trim().parse().expect("FAIRREP_BENCH_SIZES: numbers"))
            .collect()
    })
}

fn kind_wanted(name: &str) -> bool {
    std::env::var("FAIRREP_BENCH_KINDS").map_or(true, |v| v.split(',').any(|k| k.trim() == name))
}

fn clouds(n: usize, d: usize, device: &Device) -> (Tensor<2>, Tensor<2>) {
    device.seed(0);
    let x = Tensor::<2>::random([n, d], Distribution::Normal(0.0, 1.0), (device, DType::F32));
    let y = Tensor::<2>::random([n, d], Distribution::Normal(0.5, 1.0), (device, DType::F32));
    (x, y)
}

/// One forward + backward; returns the value (to keep the work observable).
fn forward_backward(div: &dyn Divergence, x: &Tensor<2>, y: &Tensor<2>) -> f64 {
    let xt = x.clone().require_grad();
    let v = div.uniform(xt.clone(), y.clone());
    let g = xt.grad(&v.backward()).expect("a gradient");
    std::hint::black_box(g.sum().into_scalar::<f64>());
    v.into_scalar::<f64>()
}

fn divergences() -> Vec<(&'static str, Box<dyn Divergence>)> {
    vec![
        (
            "mmd",
            Box::new(Mmd {
                bandwidth: Bandwidth::Fixed(vec![1.0]),
                ..Mmd::default()
            }),
        ),
        (
            "sinkhorn",
            Box::new(Sinkhorn {
                blur: 0.5,
                scaling: 0.5,
                ..Sinkhorn::default()
            }),
        ),
    ]
}

fn bench(c: &mut Criterion) {
    let device = Device::flex().autodiff();
    // Peak memory first, one run per configuration.
    eprintln!("peak heap memory of one forward + backward (f32, flex):");
    eprintln!("| divergence | n = m | d | peak MiB |");
    for (name, div) in divergences().into_iter().filter(|(n, _)| kind_wanted(n)) {
        for &d in &DIMS {
            for &n in &sizes() {
                let (x, y) = clouds(n, d, &device);
                let base = LIVE.load(Ordering::Relaxed);
                PEAK.store(base, Ordering::Relaxed);
                forward_backward(div.as_ref(), &x, &y);
                let peak = PEAK.load(Ordering::Relaxed) - base;
                eprintln!(
                    "| {name} | {n} | {d} | {:.1} |",
                    peak as f64 / (1 << 20) as f64
                );
            }
        }
    }
    for (name, div) in divergences().into_iter().filter(|(n, _)| kind_wanted(n)) {
        let mut group = c.benchmark_group(name);
        group.sample_size(10);
        for &d in &DIMS {
            for &n in &sizes() {
                let (x, y) = clouds(n, d, &device);
                group.bench_with_input(
                    BenchmarkId::new(format!("{n}"), d),
                    &(x, y),
                    |b, (x, y)| b.iter(|| forward_backward(div.as_ref(), x, y)),
                );
            }
        }
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
