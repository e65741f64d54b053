//! The Sinkhorn soft-min on the CPU, kept costs vs streamed (recomputed a block of rows at a
//! time, what a divergence does above `host::KEPT_COSTS_BYTES`): one soft-min
//! `f_i = −ε log Σ_j exp(h_j − C_ij/ε)` over n × n pairs, f32, p = 2, for n in {2048, 8192} and
//! d in {16, 128}. The kept version's time excludes building the matrix (a Sinkhorn loop
//! builds it once and reads it in every iteration); the ratio streamed / kept is what
//! recomputing costs per iteration.
//!
//! `cargo bench --workspace --all-features --bench softmin` (a filter such as `-- 8192` for a
//! subset). `FAIRREP_BENCH_SIZES=2048` and `FAIRREP_BENCH_DIMS=16,32,64` choose the sizes and
//! dimensions.

#![allow(missing_docs)]

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use fairrep_losses::Power;
use fairrep_losses::host::{Cloud, Costs, cost_matrix, softmin_costs};
use rand::{Rng, SeedableRng};

/// A list of numbers from the environment variable `name`, or `default`.
fn numbers(name: &str, default: &[usize]) -> Vec<usize> {
    std::env::var(name).map_or(default.to_vec(), |v| {
        v.split(',')
            .map(|s| s.trim().parse().expect("a list of numbers"))
            .collect()
    })
}

fn cloud(n: usize, d: usize, seed: u64) -> Cloud<f32> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    Cloud::new((0..n * d).map(|_| rng.random::<f32>()).collect(), n, d)
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("softmin");
    g.sample_size(10);
    for n in numbers("FAIRREP_BENCH_SIZES", &[2048, 8192]) {
        for d in numbers("FAIRREP_BENCH_DIMS", &[16, 128]) {
            let (u, v) = (cloud(n, d, 1), cloud(n, d, 2));
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
            let h: Vec<f32> = (0..n).map(|_| rng.random::<f32>() * 0.1).collect();
            let eps = 0.05 * d as f64;
            let kept = Costs::Kept(cost_matrix(Power::P2, &u, &v));
            let streamed = Costs::new(Power::P2, &u, &v, false);
            for (name, costs) in [("kept", &kept), ("streamed", &streamed)] {
                g.bench_with_input(BenchmarkId::new(name, format!("{n}x{d}")), &(), |b, _| {
                    b.iter(|| softmin_costs(costs, &u, &v, eps, &h))
                });
            }
        }
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
