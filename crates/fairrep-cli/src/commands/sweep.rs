//! `fairrep sweep`.

use crate::args::{BackendArg, PenaltyArg};
use crate::usage::usage;
use anyhow::Context;
use fairrep_config::{Override, PenaltyKind};
use fairrep_report::{RunStatus, files};
use fairrep_run::sweep;
use std::path::PathBuf;

/// Run a config over penalty kinds × λ values × seeds, one run directory each.
///
/// Each grid point is a run in OUT/<kind>-lambda<λ>-seed<s>; every point's config is checked
/// before the first run. The sweep is resumable: run it again and finished runs are skipped,
/// interrupted ones resumed from their last checkpoint. Writes OUT/sweep.json (each point with
/// its report). With --emit slurm, writes OUT/sweep.slurm, a job array with one run per task,
/// instead of running. Penalties live on different scales: --lambda-for gives a kind its own
/// grid.
///
/// Example:
///   fairrep sweep --config configs/adult_transfer.toml --penalty mmd,sinkhorn \
///     --lambda 0,0.1,1,10 --lambda-for sinkhorn=0,3,10,30 --seeds 3
#[derive(clap::Args, Debug)]
#[command(verbatim_doc_comment, allow_negative_numbers = true)]
pub struct Args {
    /// The experiment config (TOML).
    #[arg(long)]
    config: PathBuf,
    /// λ values, comma-separated: the grid of every kind without its own `--lambda-for`.
    #[arg(long = "lambda", value_delimiter = ',')]
    lambdas: Vec<f64>,
    /// Penalty kinds, comma-separated (mmd, sinkhorn, adversarial).
    #[arg(long = "penalty", value_delimiter = ',', default_value = "mmd")]
    kinds: Vec<PenaltyArg>,
    /// A kind's own λ grid, `KIND=λ,λ,…` (repeatable), e.g. `sinkhorn=0,0.01,0.03`.
    #[arg(long = "lambda-for", value_name = "KIND=LIST")]
    lambda_for: Vec<String>,
    /// Seeds 1..=N.
    #[arg(long, default_value_t = 1)]
    seeds: u64,
    /// The sweep directory (default: runs/sweep-<config name>).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Overrides applied to every run (before the grid's own).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    overrides: Vec<Override>,
    /// Compute backend: flex (CPU), ndarray (CPU) or wgpu (a GPU, or Mesa's lavapipe).
    #[arg(long, value_enum, default_value_t = BackendArg::Flex)]
    backend: BackendArg,
    /// Write a job script instead of running.
    #[arg(long, value_enum)]
    emit: Option<EmitArg>,
}

#[derive(Copy, Clone, Debug, clap::ValueEnum)]
enum EmitArg {
    /// A Slurm job-array script (sbatch OUT/sweep.slurm).
    Slurm,
}

/// The most runs one sweep may have.
const MAX_RUNS: u128 = 100_000;

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<()> {
    if args.seeds == 0 {
        return Err(usage("--seeds must be at least 1".into()));
    }
    let kinds: Vec<PenaltyKind> = args.kinds.iter().map(|&k| k.into()).collect();
    let grids = lambda_grids(&kinds, &args.lambdas, &args.lambda_for)?;
    // Counted before anything is collected: `--seeds 18446744073709551615` is a typo, and
    // collecting it first would abort the process.
    let runs = grids.iter().map(|(_, l)| l.len() as u128).sum::<u128>() * u128::from(args.seeds);
    if runs > MAX_RUNS {
        return Err(usage(format!(
            "--seeds {} with {} penalty × λ point(s) is {runs} runs, more than {MAX_RUNS}",
            args.seeds,
            grids.iter().map(|(_, l)| l.len()).sum::<usize>()
        )));
    }
    let seeds: Vec<u64> = (1..=args.seeds).collect();
    let points: Vec<fairrep_report::SweepPoint> = grids
        .iter()
        .flat_map(|(kind, lambdas)| sweep::grid(std::slice::from_ref(kind), lambdas, &seeds))
        .collect();
    let stem = args
        .config
        .file_stem()
        .map_or("config".into(), |s| s.to_string_lossy().into_owned());
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("runs").join(format!("sweep-{stem}")));
    if let Some(EmitArg::Slurm) = args.emit {
        std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
        let exe = std::env::current_exe()?.display().to_string();
        let config = std::path::absolute(&args.config)?;
        let out_abs = std::path::absolute(&out)?;
        let backend = format!("{:?}", args.backend).to_lowercase();
        let text = sweep::slurm_script(&exe, &config, &out_abs, &points, &args.overrides, &backend);
        let path = out.join("sweep.slurm");
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        println!("{} runs: sbatch {}", points.len(), path.display());
        return Ok(());
    }
    let total = points.len();
    let entries = sweep::run_sweep(
        &args.config,
        &out,
        &points,
        &args.overrides,
        args.backend.into(),
        |i, p, status| {
            let what = match status {
                RunStatus::Skipped => "done already".to_string(),
                s => s.to_string(),
            };
            eprintln!("[{}/{total}] {} ({what})", i + 1, p.name());
        },
    )?;
    for e in &entries {
        let Some(report) = &e.report else {
            println!(
                "{}: failed: {}",
                e.point.name(),
                e.error.as_deref().unwrap_or("")
            );
            continue;
        };
        let tasks: Vec<String> = report
            .tasks
            .iter()
            .filter(|t| t.role == fairrep_data::Role::Transfer)
            .filter_map(|t| {
                let s = &t.as_binary()?.summary;
                Some(format!(
                    "{} acc {} DDP {}",
                    t.name,
                    fairrep_report::cell(s.accuracy),
                    fairrep_report::cell(s.ddp)
                ))
            })
            .collect();
        println!("{}: {}", e.point.name(), tasks.join("; "));
    }
    println!("{}", out.join(files::SWEEP).display());
    let failed: Vec<String> = (entries.iter())
        .filter(|e| e.status == RunStatus::Failed)
        .map(|e| e.point.name())
        .collect();
    if !failed.is_empty() {
        anyhow::bail!(
            "{} of {total} runs failed: {} (their errors are in {}; run the sweep again to retry \
             them, the finished runs are skipped)",
            failed.len(),
            failed.join(", "),
            out.join(files::SWEEP).display()
        );
    }
    Ok(())
}

/// Each kind's λ grid: its `--lambda-for KIND=LIST`, else `--lambda`; every λ finite and ≥ 0.
fn lambda_grids(
    kinds: &[PenaltyKind],
    default: &[f64],
    own: &[String],
) -> anyhow::Result<Vec<(PenaltyKind, Vec<f64>)>> {
    let check = |flag: &str, l: &[f64]| -> anyhow::Result<()> {
        match l.iter().find(|l| !(l.is_finite() && **l >= 0.0)) {
            Some(bad) => Err(usage(format!("{flag} {bad}: λ must be ≥ 0"))),
            None => Ok(()),
        }
    };
    check("--lambda", default)?;
    let mut grids: Vec<(PenaltyKind, Vec<f64>)> =
        kinds.iter().map(|&k| (k, default.to_vec())).collect();
    let names = || {
        kinds
            .iter()
            .map(|k| k.to_string())
            .collect::<Vec<_>>()
            .join(",")
    };
    for spec in own {
        let flag = format!("--lambda-for {spec}");
        let (kind, list) = spec
            .split_once('=')
            .ok_or_else(|| usage(format!("{flag}: write KIND=λ,λ,… (e.g. sinkhorn=0,0.01)")))?;
        let lambdas = list
            .split(',')
            .map(|t| t.trim().parse::<f64>())
            .collect::<Result<Vec<f64>, _>>()
            .map_err(|e| usage(format!("{flag}: {e}")))?;
        check(&flag, &lambdas)?;
        let Some(grid) = grids.iter_mut().find(|(k, _)| k.to_string() == kind) else {
            return Err(usage(format!(
                "{flag}: `{kind}` is not one of --penalty {}",
                names()
            )));
        };
        grid.1 = lambdas;
    }
    if let Some((kind, _)) = grids.iter().find(|(_, l)| l.is_empty()) {
        return Err(usage(format!(
            "no λ for `{kind}`: give --lambda, or --lambda-for {kind}=…"
        )));
    }
    Ok(grids)
}
