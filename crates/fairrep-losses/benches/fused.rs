//! Fused vs portable: wall time of one forward + backward pass and peak memory, for MMD²
//! (Gaussian, biased) and the Sinkhorn divergence, on the wgpu backend (the CubeCL kernels of
//! `fairrep_losses::fused` vs burn's tensor ops) and on the CPU backend (the kernels of
//! `fairrep_losses::host` vs the same tensor ops), n = m, f32.
//!
//! `cargo bench --release -p fairrep-losses --bench fused` (from the workspace: add
//! `--workspace`-compatible features, see scripts/gpu-bench.sh). Each measurement runs in a
//! fresh child process, so that the memory numbers of one do not leak into the next. Prints a
//! Markdown table on stdout. Settings (environment):
//!
//! - `FAIRREP_BENCH_SIZES` (default `512,1024,2048,4096,8192,16384`), `FAIRREP_BENCH_DIM` (16);
//! - `FAIRREP_BENCH_BACKENDS` (`wgpu,flex`), `FAIRREP_BENCH_KINDS` (`mmd,sinkhorn`),
//!   `FAIRREP_BENCH_PATHS` (`fused,portable`);
//! - `FAIRREP_BENCH_PORTABLE_MAX` (16384): larger n skip the portable path (its n×m matrices);
//! - `FAIRREP_BENCH_REPEAT` (3): timed repetitions after one warm-up, the median is reported;
//! - `FAIRREP_BENCH_BLUR` (Sinkhorn blur, default `0.5·sqrt(d)`), `FAIRREP_BENCH_SCALING` (0.5);
//! - `FAIRREP_BENCH_PEAK_GFLOPS`: the device's fp32 peak, to print the kernels' share of it.
//!
//! Memory: on wgpu, the bytes the CubeCL memory pools reserve on the device during the run
//! (their high-water mark: pools keep what they allocate) and the largest single allocation;
//! on the CPU, the peak of live heap bytes (a counting allocator).
//!
//! Throughput: the kernels do about `3d + 8` floating-point operations per pair (i, j) and
//! output row (distance, exponential, accumulation); `GFLOP/s` is that count over the wall time
//! of the whole forward + backward pass, so it is a lower bound on the kernels' own rate.

#![allow(deprecated)] // Device::ndarray
#![allow(missing_docs)]

use burn::Tensor;
use burn::backend::{DispatchDevice, ops::FloatTensorOps};
use burn::tensor::{DType, Device, DeviceType, Distribution, TensorData};
use burn_cubecl::CubeBackend;
use cubecl::MemoryScope;
use fairrep_losses::divergence::{Divergence, uniform_weights};
use fairrep_losses::mmd::{Bandwidth, Mmd};
use fairrep_losses::sinkhorn::Sinkhorn;
use std::process::Command;
use std::sync::atomic::Ordering;
use std::time::Instant;

mod common;
use common::{LIVE, PEAK};

fn env_list(key: &str, default: &str) -> Vec<String> {
    std::env::var(key)
        .unwrap_or_else(|_| default.into())
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

fn env_num(key: &str, default: f64) -> f64 {
    std::env::var(key).map_or(default, |v| {
        v.parse()
            .unwrap_or_else(|_| panic!("{key}: a number, got {v:?}"))
    })
}

fn device(backend: &str) -> Device {
    match backend {
        "wgpu" => Device::enumerate(DeviceType::Wgpu)
            .into_vec()
            .into_iter()
            .next()
            .expect("a wgpu adapter"),
        "flex" => Device::flex(),
        #[cfg(feature = "ndarray")]
        "ndarray" => Device::ndarray(),
        other => panic!("unknown backend {other}"),
    }
}

/// The CubeCL memory pools of a wgpu device: (bytes reserved, largest single allocation).
fn gpu_memory(dev: &Device) -> (u64, u64) {
    let DispatchDevice::Cube(cube) = dev.as_dispatch() else {
        return (0, 0);
    };
    let probe = CubeBackend::float_from_data(TensorData::new(vec![0f32], [1]), cube);
    let report = probe.client.memory_report(MemoryScope::Device);
    let largest = report
        .streams
        .iter()
        .flat_map(|s| {
            s.pools
                .dynamic
                .iter()
                .chain([&s.pools.persistent, &s.pools.dedicated])
        })
        .map(|p| p.largest_alloc)
        .max()
        .unwrap_or(0);
    (report.usage().bytes_reserved, largest)
}

/// One measurement in this process: prints `seconds peak_bytes largest_bytes` on stdout.
fn child(backend: &str, kind: &str, path: &str, n: usize, d: usize) {
    let dev = device(backend);
    let ad = dev.clone().autodiff();
    let blur = env_num("FAIRREP_BENCH_BLUR", 0.5 * (d as f64).sqrt());
    let scaling = env_num("FAIRREP_BENCH_SCALING", 0.5);
    let sd = (d as f64).sqrt();
    let mmd = Mmd {
        bandwidth: Bandwidth::Fixed(vec![0.5 * sd, sd, 2.0 * sd]),
        ..Mmd::default()
    };
    let sinkhorn = Sinkhorn {
        blur,
        scaling,
        ..Sinkhorn::default()
    };
    let x = Tensor::<2>::random([n, d], Distribution::Normal(0.0, 1.0), (&ad, DType::F32));
    let y = Tensor::<2>::random([n, d], Distribution::Normal(0.5, 1.0), (&ad, DType::F32));
    let (a, b) = (uniform_weights(&x), uniform_weights(&y));
    let once = || {
        let (xt, yt) = (x.clone().require_grad(), y.clone().require_grad());
        let v = match (kind, path) {
            ("mmd", "fused") => mmd.value(xt.clone(), a.clone(), yt.clone(), b.clone()),
            ("mmd", _) => mmd.value_portable(xt.clone(), a.clone(), yt.clone(), b.clone()),
            ("sinkhorn", "fused") => sinkhorn.value(xt.clone(), a.clone(), yt.clone(), b.clone()),
            ("sinkhorn", _) => {
                sinkhorn
                    .solve_portable(xt.clone(), a.clone(), yt.clone(), b.clone())
                    .value
            }
            _ => panic!("unknown kind {kind}"),
        };
        let grads = v.backward();
        // Reading the results waits for the device.
        let gx = xt
            .grad(&grads)
            .expect("gradient")
            .sum()
            .into_scalar::<f64>();
        let gy = yt
            .grad(&grads)
            .expect("gradient")
            .sum()
            .into_scalar::<f64>();
        assert!(gx.is_finite() && gy.is_finite());
    };
    let (reserved0, _) = gpu_memory(&dev);
    PEAK.store(LIVE.load(Ordering::Relaxed), Ordering::Relaxed);
    let base = LIVE.load(Ordering::Relaxed);
    once(); // warm-up (kernel compilation), and the memory measurement
    let (reserved, largest) = gpu_memory(&dev);
    let heap = PEAK.load(Ordering::Relaxed).saturating_sub(base);
    let repeat = env_num("FAIRREP_BENCH_REPEAT", 3.0) as usize;
    let mut times: Vec<f64> = (0..repeat.max(1))
        .map(|_| {
            let t = Instant::now();
            once();
            t.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(f64::total_cmp);
    let peak = if backend == "wgpu" {
        reserved.saturating_sub(reserved0)
    } else {
        heap as u64
    };
    // Kernel launches of one forward + backward over n × m pairs: MMD² 3 sums and 6 backward
    // launches; Sinkhorn 4 soft-mins to start, 4 per ε of the schedule, 4 tracked ones and 4
    // gradients.
    let launches = if kind == "mmd" {
        9
    } else {
        4 * sinkhorn.schedule(&x, &y).len() + 12
    };
    println!(
        "{} {} {} {}",
        times[times.len() / 2],
        peak,
        largest,
        launches
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--child") {
        let a = &args[i + 1..];
        child(
            &a[0],
            &a[1],
            &a[2],
            a[3].parse().unwrap(),
            a[4].parse().unwrap(),
        );
        return;
    }
    if args.iter().any(|a| a == "--list" || a == "--test") {
        return; // `cargo test --benches` / `cargo bench -- --list`: nothing to list
    }
    let sizes: Vec<usize> = env_list("FAIRREP_BENCH_SIZES", "512,1024,2048,4096,8192,16384")
        .iter()
        .map(|s| s.parse().expect("FAIRREP_BENCH_SIZES: numbers"))
        .collect();
    let d = env_num("FAIRREP_BENCH_DIM", 16.0) as usize;
    let portable_max = env_num("FAIRREP_BENCH_PORTABLE_MAX", 16384.0) as usize;
    let peak_gflops = std::env::var("FAIRREP_BENCH_PEAK_GFLOPS").ok().map(|v| {
        v.parse::<f64>()
            .expect("FAIRREP_BENCH_PEAK_GFLOPS: a number")
    });
    let exe = std::env::current_exe().expect("the bench binary");
    println!(
        "| backend | divergence | path | n = m | d | fwd+bwd (s) | peak memory (MiB) | largest allocation (MiB) | GFLOP/s (≥) |{}",
        if peak_gflops.is_some() {
            " % of peak |"
        } else {
            ""
        }
    );
    println!(
        "|---|---|---|---:|---:|---:|---:|---:|---:|{}",
        if peak_gflops.is_some() { "---:|" } else { "" }
    );
    for backend in env_list("FAIRREP_BENCH_BACKENDS", "wgpu,flex") {
        for kind in env_list("FAIRREP_BENCH_KINDS", "mmd,sinkhorn") {
            for path in env_list("FAIRREP_BENCH_PATHS", "fused,portable") {
                for &n in &sizes {
                    if path == "portable" && n > portable_max {
                        continue;
                    }
                    let out = Command::new(&exe)
                        .args([
                            "--child",
                            &backend,
                            &kind,
                            &path,
                            &n.to_string(),
                            &d.to_string(),
                        ])
                        .output()
                        .expect("run the bench binary");
                    let text = String::from_utf8_lossy(&out.stdout);
                    let fields: Vec<f64> = text
                        .split_whitespace()
                        .filter_map(|t| t.parse().ok())
                        .collect();
                    if !out.status.success() || fields.len() != 4 {
                        // The panic message is the line after "panicked at".
                        let err = String::from_utf8_lossy(&out.stderr);
                        let lines: Vec<&str> = err.lines().collect();
                        let last = lines
                            .iter()
                            .position(|l| l.contains("panicked at"))
                            .and_then(|i| lines.get(i + 1))
                            .or(lines.last())
                            .copied()
                            .unwrap_or("no message");
                        println!(
                            "| {backend} | {kind} | {path} | {n} | {d} | failed: {} | | | |",
                            last.replace('|', "/")
                        );
                        continue;
                    }
                    let (secs, peak, largest, launches) =
                        (fields[0], fields[1], fields[2], fields[3]);
                    let flops = launches * (n * n) as f64 * (3 * d + 8) as f64;
                    let gflops = flops / secs / 1e9;
                    let mib = |b: f64| b / (1024.0 * 1024.0);
                    let share = peak_gflops
                        .map(|p| format!(" {:.1} |", 100.0 * gflops / p))
                        .unwrap_or_default();
                    println!(
                        "| {backend} | {kind} | {path} | {n} | {d} | {secs:.4} | {:.1} | {} | {gflops:.1} |{share}",
                        mib(peak),
                        if backend == "wgpu" {
                            format!("{:.1}", mib(largest))
                        } else {
                            "–".into()
                        },
                    );
                }
            }
        }
    }
}
