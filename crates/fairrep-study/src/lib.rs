//! What works on many runs: sweeps over penalty kinds, λ values and seeds ([`sweep`]; run one
//! after another, resumable, or emitted as a Slurm job array), and their comparison
//! ([`compare`]: medians over seeds, Pareto fronts, the fairest λ within an accuracy
//! tolerance) with SVG plots ([`plots`]).
//!
//! It reads runs through the types of `fairrep-report` and runs them through `fairrep-run`;
//! nothing below it imports it.

pub mod compare;
pub mod error;
pub mod matched;
pub mod plots;
pub mod sweep;

pub use error::StudyError;

use fairrep_report::files;
use std::path::{Path, PathBuf};

/// `fairrep report`: compares `runs` ([`compare::compare`]) with the published `references`,
/// draws the plots ([`plots`]) and writes `report.json`, `report.md`, one `pareto-<task>.svg`
/// per binary task and `curves.svg` into `out`.
pub fn report(
    runs: &[PathBuf],
    references: &[compare::ReferencePoint],
    parity: compare::Parity,
    out: &Path,
) -> Result<compare::Comparison, StudyError> {
    let (cmp, curves) = compare::compare(runs, references, parity)?;
    std::fs::create_dir_all(out).map_err(fairrep_run::error::io(out))?;
    for t in &cmp.tasks {
        plots::plot_front(&out.join(&t.plot), t)?;
    }
    plots::plot_curves(&out.join(&cmp.curves), &curves)?;
    fairrep_run::rundir::write_json(&out.join(files::REPORT), &cmp)?;
    fairrep_run::rundir::write_file(&out.join(files::REPORT_MD), cmp.markdown().as_bytes())?;
    Ok(cmp)
}
