//! Sweeps: one config run over a grid of penalty kinds, λ values and seeds, one run directory
//! each, resumable (finished runs are skipped, interrupted ones resumed from their checkpoint),
//! or written as a Slurm job-array script instead of being run.

use crate::config::Override;
use crate::error::TrainError;
use crate::{Backend, RunOptions, Silent};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// One point of the grid.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Point {
    /// `mmd`, `sinkhorn` or `adversarial`.
    pub kind: String,
    /// λ.
    pub lambda: f64,
    /// The seed.
    pub seed: u64,
}

impl Point {
    /// The run directory's name, e.g. `mmd-lambda0.1-seed2`.
    pub fn name(&self) -> String {
        format!("{}-lambda{}-seed{}", self.kind, self.lambda, self.seed)
    }

    /// The overrides that select this point.
    pub fn overrides(&self) -> Vec<Override> {
        [
            format!("penalty.kind={}", self.kind),
            format!("penalty.lambda={:?}", self.lambda),
            format!("seed={}", self.seed),
        ]
        .iter()
        .map(|t| t.parse().expect("well-formed override"))
        .collect()
    }
}

/// The grid: every kind × λ × seed, in that order.
pub fn grid(kinds: &[String], lambdas: &[f64], seeds: &[u64]) -> Vec<Point> {
    let mut out = Vec::new();
    for kind in kinds {
        for &lambda in lambdas {
            for &seed in seeds {
                out.push(Point {
                    kind: kind.clone(),
                    lambda,
                    seed,
                });
            }
        }
    }
    out
}

/// How a run of the sweep went.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// The grid point.
    #[serde(flatten)]
    pub point: Point,
    /// Its run directory.
    pub run: PathBuf,
    /// `ran`, `resumed` or `skipped` (already finished).
    pub status: &'static str,
    /// Its report.
    pub report: serde_json::Value,
}

/// Runs (or resumes, or skips) every point; `extra` are the user's own overrides, applied
/// before the grid's. Writes `sweep.json` in `out` with every run's report.
pub fn run_sweep(
    config: &Path,
    out: &Path,
    points: &[Point],
    extra: &[Override],
    backend: Backend,
    mut progress: impl FnMut(usize, &Point, &str),
) -> Result<Vec<Outcome>, TrainError> {
    std::fs::create_dir_all(out).map_err(crate::error::io(out))?;
    // Every point's config is checked before the first run starts.
    for p in points {
        let overrides: Vec<Override> = extra.iter().cloned().chain(p.overrides()).collect();
        crate::Config::load_with(config, &overrides)?;
    }
    let mut outcomes = Vec::with_capacity(points.len());
    for (i, p) in points.iter().enumerate() {
        let run = out.join(p.name());
        let report_path = run.join("report.json");
        let status = if report_path.is_file() {
            "skipped"
        } else if run.join("checkpoints").is_dir() {
            "resumed"
        } else {
            "ran"
        };
        progress(i, p, status);
        if status != "skipped" {
            let opts = RunOptions {
                config: config.to_path_buf(),
                out: run.clone(),
                // A directory without a checkpoint holds no finished work.
                force: status == "ran",
                backend,
                overrides: extra.iter().cloned().chain(p.overrides()).collect(),
                resume: status == "resumed",
            };
            crate::run(&opts, &mut Silent)?;
        }
        let report = crate::compare::read_json(&report_path)?;
        outcomes.push(Outcome {
            point: p.clone(),
            run,
            status,
            report,
        });
    }
    let json = serde_json::to_string_pretty(&outcomes)
        .map_err(|e| TrainError::Internal(format!("sweep.json: {e}")))?;
    let path = out.join("sweep.json");
    std::fs::write(&path, json).map_err(crate::error::io(&path))?;
    Ok(outcomes)
}

/// A Slurm job-array script that runs the grid, one point per array task (each skips a finished
/// run and resumes an interrupted one).
pub fn slurm_script(
    exe: &str,
    config: &Path,
    out: &Path,
    points: &[Point],
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
