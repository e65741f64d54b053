//! `fairrep divergence`.

use crate::args::BackendArg;
use crate::tables;
use crate::usage::usage;
use anyhow::Context;
use fairrep_config::PenaltyKind;
use fairrep_losses::burn_dtype::DType;
use fairrep_losses::{Estimator, KernelKind, Scale};
use fairrep_run::TrainError;
use fairrep_run::measure::{DivergenceRequest, Measure, MeasureOptions, Samples, measure};
use std::path::{Path, PathBuf};

/// What `fairrep divergence -h` and `--help` say after the options: the same for both
/// (`long_about = None`), since clap's long format would spread the options over 118 lines.
const DETAILS: &str =
    "Reads two numeric CSV files (one point per row) and prints JSON: \"value\", \"grad_norm_x\"
(the norm of the gradient with respect to X), the convention in words, where it was computed.
GeomLoss 0.3.1's conventions and defaults: the points as given, `mmd` is twice
SamplesLoss(\"gaussian\") (σ: the median pairwise distance unless --sigma), `sinkhorn` is
SamplesLoss(\"sinkhorn\") (blur 0.05, scaling 0.5, p = 2, its ε-schedule). docs/reference/
divergences.md has the details.

Example:
  fairrep divergence --x a.csv --y b.csv --kind sinkhorn --blur 0.1 --scaling 0.9";

/// Measure the MMD² or the Sinkhorn divergence between two samples.
#[derive(clap::Args, Debug)]
#[command(verbatim_doc_comment, long_about = None, after_help = DETAILS, allow_negative_numbers = true)]
pub struct Args {
    /// First sample: CSV, one point per row.
    #[arg(long)]
    x: PathBuf,
    /// Second sample: CSV with the same number of columns.
    #[arg(long)]
    y: PathBuf,
    /// The divergence.
    #[arg(long, value_enum)]
    kind: KindArg,
    /// The files' first line is a header (skipped).
    #[arg(long)]
    header: bool,
    /// Field delimiter.
    #[arg(long, default_value_t = ',')]
    delimiter: char,
    /// Floating-point precision of the computation (default: f64 on the CPU backends, f32 on
    /// wgpu, whose fused kernels are f32; f64 on wgpu needs --portable).
    #[arg(long, value_enum)]
    dtype: Option<DtypeArg>,
    /// Compute backend: flex (CPU), ndarray (CPU) or wgpu (a GPU, or Mesa's lavapipe).
    #[arg(long, value_enum, default_value_t = BackendArg::Flex)]
    backend: BackendArg,
    /// Compute on burn's tensor ops (dense n × m matrices, any dtype) instead of the fused
    /// kernels: for checking the kernels, or f64 on wgpu. Memory grows as n × m.
    #[arg(long)]
    portable: bool,
    /// Gaussian/Laplacian bandwidth; repeat for a sum of kernels (default: the median heuristic).
    #[arg(long, help_heading = "MMD")]
    sigma: Vec<f64>,
    /// Kernel (default gaussian).
    #[arg(long, value_enum, help_heading = "MMD")]
    kernel: Option<KernelArg>,
    /// Estimator (default biased).
    #[arg(long, value_enum, help_heading = "MMD")]
    estimator: Option<EstimatorArg>,
    /// Blur, ε = blur^p (default 0.05; 0.7 with --scale pair-distance or whiten).
    #[arg(long, help_heading = "Sinkhorn")]
    blur: Option<f64>,
    /// Scale the pooled points before the divergence as the penalty scales a batch: none (the
    /// points as given, GeomLoss's convention), batch-rms, pair-distance or whiten.
    #[arg(long, value_enum, default_value_t = ScaleArg::None)]
    scale: ScaleArg,
    /// ε-scaling ratio, in (0, 1) (default 0.5).
    #[arg(long, help_heading = "Sinkhorn")]
    scaling: Option<f64>,
    /// Cost exponent |x−y|^p/p, 1 or 2 (default 2).
    #[arg(long, help_heading = "Sinkhorn")]
    p: Option<f64>,
    /// Reach of unbalanced transport (default balanced).
    #[arg(long, help_heading = "Sinkhorn")]
    reach: Option<f64>,
    /// The raw entropic OT cost instead of the debiased divergence.
    #[arg(long, help_heading = "Sinkhorn")]
    no_debias: bool,
    /// Iterate at the final ε until the potentials move less than this.
    #[arg(long, help_heading = "Sinkhorn")]
    tolerance: Option<f64>,
    /// At most this many iterations after the schedule (with --tolerance).
    #[arg(long, default_value_t = 10_000, help_heading = "Sinkhorn")]
    max_iterations: usize,
    /// Write the dual potentials to this JSON file ({"f": [...], "g": [...]}).
    #[arg(long, help_heading = "Sinkhorn")]
    potentials: Option<PathBuf>,
    /// Write the transport plan (n rows × m columns) to this CSV file.
    #[arg(long, help_heading = "Sinkhorn")]
    plan: Option<PathBuf>,
    /// Compute N times; the output's "seconds" lists each forward + backward (reading the files
    /// excluded) and "median_seconds" their median: for benchmarks.
    #[arg(long, default_value_t = 1)]
    repeat: usize,
}

#[derive(Copy, Clone, Debug, clap::ValueEnum)]
enum KindArg {
    Mmd,
    Sinkhorn,
}

#[derive(Copy, Clone, Debug, clap::ValueEnum)]
enum ScaleArg {
    None,
    BatchRms,
    PairDistance,
    Whiten,
}

impl From<ScaleArg> for Scale {
    fn from(s: ScaleArg) -> Self {
        match s {
            ScaleArg::None => Scale::None,
            ScaleArg::BatchRms => Scale::BatchRms,
            ScaleArg::PairDistance => Scale::PairDistance,
            ScaleArg::Whiten => Scale::Whiten,
        }
    }
}

#[derive(Copy, Clone, Debug, clap::ValueEnum)]
enum DtypeArg {
    F32,
    F64,
}

#[derive(Copy, Clone, Debug, clap::ValueEnum)]
enum KernelArg {
    Gaussian,
    Laplacian,
    Energy,
}

#[derive(Copy, Clone, Debug, clap::ValueEnum)]
enum EstimatorArg {
    Biased,
    Unbiased,
    Linear,
}

fn read_samples(path: &Path, args: &Args) -> anyhow::Result<Samples> {
    let table = tables::read(path, args.delimiter, args.header)?;
    let values = table.numeric().map_err(TrainError::from)?;
    Ok(Samples {
        n: table.rows.len(),
        d: table.columns.len(),
        values,
    })
}

/// The option of `fairrep divergence` behind a `[penalty]` key.
fn flag_of(key: &str) -> &str {
    match key.trim_start_matches("penalty.") {
        "bandwidth" => "--sigma",
        "debias" => "--no-debias",
        "blur" => "--blur",
        "scaling" => "--scaling",
        "p" => "--p",
        "reach" => "--reach",
        "tolerance" => "--tolerance",
        "kernel" => "--kernel",
        "estimator" => "--estimator",
        other => other,
    }
}

/// The divergence the options describe, checked by the config's own rules (the same ranges,
/// defaults and "does not apply to this kind" as `[penalty]`).
fn divergence_of(args: &Args) -> anyhow::Result<Measure> {
    let kind = match args.kind {
        KindArg::Mmd => PenaltyKind::Mmd,
        KindArg::Sinkhorn => PenaltyKind::Sinkhorn,
    };
    let sinkhorn_only = |flag: &str, set: bool| {
        if set && kind != PenaltyKind::Sinkhorn {
            Err(usage(format!("{flag} does not apply to --kind {kind}")))
        } else {
            Ok(())
        }
    };
    sinkhorn_only("--potentials", args.potentials.is_some())?;
    sinkhorn_only("--plan", args.plan.is_some())?;
    let request = DivergenceRequest {
        sigma: args.sigma.clone(),
        kernel: args.kernel.map(|k| match k {
            KernelArg::Gaussian => KernelKind::Gaussian,
            KernelArg::Laplacian => KernelKind::Laplacian,
            KernelArg::Energy => KernelKind::Energy,
        }),
        estimator: args.estimator.map(|e| match e {
            EstimatorArg::Biased => Estimator::Biased,
            EstimatorArg::Unbiased => Estimator::Unbiased,
            EstimatorArg::Linear => Estimator::Linear,
        }),
        blur: args.blur,
        scaling: args.scaling,
        p: args.p,
        reach: args.reach,
        debias: !args.no_debias,
        scale: args.scale.into(),
        tolerance: args.tolerance,
        max_iterations: args.max_iterations,
        ..DivergenceRequest::new(kind)
    };
    request.resolve().map_err(|(key, message)| {
        let message = message.replace(&format!("kind = \"{kind}\""), &format!("--kind {kind}"));
        match key.as_str() {
            "kind" => usage(message),
            _ => usage(format!("{} {message}", flag_of(&key))),
        }
    })
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<()> {
    let how = divergence_of(&args)?;
    let x = read_samples(&args.x, &args)?;
    let y = read_samples(&args.y, &args)?;
    if x.d != y.d {
        return Err(usage(format!(
            "{} has {} columns but {} has {}",
            args.x.display(),
            x.d,
            args.y.display(),
            y.d
        )));
    }
    let backend: fairrep_run::Backend = args.backend.into();
    let gpu = backend == fairrep_run::Backend::Wgpu;
    let dtype = match (args.dtype, gpu) {
        (Some(DtypeArg::F32), _) | (None, true) => DType::F32,
        (Some(DtypeArg::F64), _) | (None, false) => DType::F64,
    };
    if gpu && dtype == DType::F64 && !args.portable {
        return Err(usage(
            "--dtype f64 on --backend wgpu: the fused GPU kernels are f32 (the default on wgpu); \
             add --portable to compute in f64 on burn's dense tensor ops (memory grows as n × m, \
             and not every device compiles f64 kernels), or use a CPU backend (--backend flex)"
                .into(),
        ));
    }
    let device = backend.device()?;
    if !device.supports_dtype(dtype) {
        return Err(usage(format!(
            "--backend {:?} has no {dtype:?} on this device; use --dtype f32 or a CPU backend (--backend flex or ndarray)",
            args.backend
        )));
    }
    let timed = || -> anyhow::Result<_> {
        let started = std::time::Instant::now();
        let m = measure(
            &x,
            &y,
            &how,
            &device,
            MeasureOptions {
                dtype,
                want_plan: args.plan.is_some(),
                portable: args.portable,
                scale: args.scale.into(),
            },
        )?;
        Ok((m, started.elapsed().as_secs_f64()))
    };
    let (mut m, first) = timed()?;
    let mut seconds = vec![first];
    for _ in 1..args.repeat.max(1) {
        let (again, s) = timed()?;
        m = again;
        seconds.push(s);
    }
    if let Some(facts) = &m.sinkhorn {
        if let Some(path) = &args.potentials {
            let text = format!("{{\"f\": {:?}, \"g\": {:?}}}\n", facts.f, facts.g);
            std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
        }
        if let (Some(path), Some(plan)) = (&args.plan, &facts.plan) {
            let mut text = String::with_capacity(plan.len() * 12);
            for row in plan.chunks(y.n) {
                let cells: Vec<String> = row.iter().map(|v| format!("{v:e}")).collect();
                text += &cells.join(",");
                text.push('\n');
            }
            std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
        }
    }
    let mut json = serde_json::to_value(&m)?;
    let mut sorted = seconds.clone();
    sorted.sort_by(f64::total_cmp);
    json["seconds"] = serde_json::json!(seconds);
    json["median_seconds"] = serde_json::json!(sorted[sorted.len() / 2]);
    println!("{}", serde_json::to_string_pretty(&json)?);
    Ok(())
}
