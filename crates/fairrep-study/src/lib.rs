//! What works on many finished runs: their comparison ([`compare`]: medians over seeds, Pareto
//! fronts, the fairest λ within an accuracy tolerance, accuracy at matched parity) with SVG
//! plots ([`plots`]) — `fairrep report`.
//!
//! It reads runs through the types of `fairrep-report` and has no burn: a machine without a
//! tensor library can study run directories. (Sweeps, which run runs, are
//! `fairrep_run::sweep`.) Nothing below it imports it.

pub mod compare;
pub mod error;
pub mod matched;
pub mod plots;
pub mod references;

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
    std::fs::create_dir_all(out).map_err(|source| StudyError::Io {
        path: out.to_path_buf(),
        source,
    })?;
    for t in &cmp.tasks {
        plots::plot_front(&out.join(&t.plot), t)?;
    }
    plots::plot_curves(&out.join(&cmp.curves), &curves)?;
    let json = serde_json::to_string_pretty(&cmp).map_err(|e| StudyError::Io {
        path: out.join(files::REPORT),
        source: e.into(),
    })?;
    let write = |name: &str, bytes: &[u8]| {
        fairrep_report::write_atomically(&out.join(name), bytes)
            .map_err(|(path, source)| StudyError::Io { path, source })
    };
    write(files::REPORT, json.as_bytes())?;
    write(files::REPORT_MD, cmp.markdown().as_bytes())?;
    Ok(cmp)
}
