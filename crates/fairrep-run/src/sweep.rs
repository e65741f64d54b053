//! Sweeps: one config run over a grid of penalty kinds, λ values and seeds, one run directory
//! each, resumable (finished runs are skipped, interrupted ones resumed from their checkpoint),
//! or written as a Slurm job-array script instead of being run.

use crate::{Backend, RunOptions, Silent, TrainError};
use fairrep_config::{Override, PenaltyKind};
use fairrep_report::{RunReport, RunStatus, SweepEntry, SweepPoint, files};
use std::path::Path;

/// The overrides that select a grid point.
pub fn point_overrides(p: &SweepPoint) -> Vec<Override> {
    [
        format!("penalty.kind={}", p.kind),
        format!("penalty.lambda={:?}", p.lambda),
        format!("seed={}", p.seed),
    ]
    .iter()
    .map(|t| t.parse().expect("well-formed override"))
    .collect()
}

/// The grid: every kind × λ × seed, in that order.
pub fn grid(kinds: &[PenaltyKind], lambdas: &[f64], seeds: &[u64]) -> Vec<SweepPoint> {
    let mut out = Vec::new();
    for &kind in kinds {
        for &lambda in lambdas {
            for &seed in seeds {
                out.push(SweepPoint { kind, lambda, seed });
            }
        }
    }
    out
}

/// Runs (or resumes, or skips) every point; `extra` are the user's own overrides, applied
/// before the grid's. A run that fails is recorded as failed, with its error, and the others go
/// on. Writes `sweep.json` in `out` with every run's report or error.
pub fn run_sweep(
    config: &Path,
    out: &Path,
    points: &[SweepPoint],
    extra: &[Override],
    backend: Backend,
    mut progress: impl FnMut(usize, &SweepPoint, RunStatus),
) -> Result<Vec<SweepEntry>, TrainError> {
    // Every point's config is checked before the first run starts (and before the sweep's
    // directory is made: bad input leaves nothing behind).
    for p in points {
        let overrides: Vec<Override> = extra.iter().cloned().chain(point_overrides(p)).collect();
        fairrep_config::Config::load_with(config, &overrides)?;
    }
    std::fs::create_dir_all(out).map_err(|e| TrainError::OutDirUnusable {
        path: out.to_path_buf(),
        reason: e.to_string(),
    })?;
    let mut outcomes = Vec::with_capacity(points.len());
    for (i, p) in points.iter().enumerate() {
        let run = out.join(p.name());
        let report_path = run.join(files::REPORT);
        let status = if report_path.is_file() {
            RunStatus::Skipped
        } else if run.join("checkpoints").is_dir() {
            RunStatus::Resumed
        } else {
            RunStatus::Ran
        };
        progress(i, p, status);
        if status != RunStatus::Skipped {
            let opts = RunOptions {
                config: config.to_path_buf(),
                out: run.clone(),
                // A directory without a checkpoint holds no finished work.
                force: status == RunStatus::Ran,
                backend,
                overrides: extra.iter().cloned().chain(point_overrides(p)).collect(),
                resume: status == RunStatus::Resumed,
            };
            if let Err(e) = crate::run(&opts, &mut Silent) {
                let error = error_chain(&e);
                progress(i, p, RunStatus::Failed);
                outcomes.push(SweepEntry {
                    point: p.clone(),
                    run,
                    status: RunStatus::Failed,
                    report: None,
                    error: Some(error),
                });
                continue;
            }
        }
        let RunReport::Deep(report) = fairrep_report::read_run_report(&report_path)? else {
            return Err(TrainError::NotARun {
                path: run,
                message: "a FERM run; sweeps run the deep method".into(),
            });
        };
        outcomes.push(SweepEntry {
            point: p.clone(),
            run,
            status,
            report: Some(*report),
            error: None,
        });
    }
    crate::rundir::write_json(&out.join(files::SWEEP), &outcomes)?;
    Ok(outcomes)
}

/// An error and its causes, as one line.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text += &format!(": {s}");
        source = s.source();
    }
    text
}

/// A Slurm job-array script that runs the grid, one point per array task (each skips a finished
/// run and resumes an interrupted one).
pub fn slurm_script(
    exe: &str,
    config: &Path,
    out: &Path,
    points: &[SweepPoint],
    extra: &[Override],
    backend: &str,
) -> String {
    let quote = |s: &str| format!("'{}'", s.replace('\'', r"'\''"));
    let sets: String = extra
        .iter()
        .map(|o| format!(" --set {}", quote(&o.text)))
        .collect();
    let mut s = format!(
        "#!/usr/bin/env bash\n\
         # fairrep sweep: {} runs of {}\n\
         #SBATCH --job-name=fairrep-sweep\n\
         #SBATCH --array=0-{}\n\
         #SBATCH --output={}/slurm-%A_%a.out\n\
         set -euo pipefail\n\
         points=(\n",
        points.len(),
        config.display(),
        points.len().saturating_sub(1),
        out.display(),
    );
    for p in points {
        s += &format!(
            "  \"{} --set penalty.kind={} --set penalty.lambda={:?} --set seed={}\"\n",
            p.name(),
            p.kind,
            p.lambda,
            p.seed
        );
    }
    s += &format!(
        ")\n\
         read -r name args <<< \"${{points[$SLURM_ARRAY_TASK_ID]}}\"\n\
         run={}/\"$name\"\n\
         [ -f \"$run/report.json\" ] && exit 0\n\
         resume=\"--force\"\n\
         [ -d \"$run/checkpoints\" ] && resume=\"--resume\"\n\
         # shellcheck disable=SC2086\n\
         exec {} -q train --config {} --out \"$run\" --backend {backend} $resume{sets} $args\n",
        quote(&out.display().to_string()),
        quote(exe),
        quote(&config.display().to_string()),
    );
    s
}
