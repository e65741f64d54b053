//! `fairrep report`.

use std::path::PathBuf;

/// Compare runs: accuracy against DDP per transfer task, Pareto fronts, plots.
///
/// Reads run directories, or directories of runs such as a sweep's. For every binary task
/// (transfer tasks first): the median test accuracy and DDP of each penalty kind and λ over the
/// seeds (with the 95% bootstrap interval of the median run and the seed range), the Pareto
/// front, λ = 0 against the fairest λ within 2 accuracy points, the best accuracy at matched
/// parity (median DDP ≤ 0.02, 0.05, 0.10 and each --reference bound; near-constant heads
/// excluded), published results (--reference), the raw-feature baselines, and warnings: a task
/// the λ = 0 representation lost against the raw features, near-constant heads. Writes
/// report.json, report.md, pareto-<task>.svg per task and curves.svg into --out.
///
/// Example:
///   fairrep report runs/sweep-adult_transfer --out runs/adult-report
#[derive(clap::Args, Debug)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// Run directories, or directories holding runs.
    #[arg(required = true)]
    runs: Vec<PathBuf>,
    /// Output directory.
    #[arg(long, default_value = "runs/report")]
    out: PathBuf,
    /// Published results to show beside fairrep's, in the matched-parity table and on the
    /// plots: a CSV with the header `method,task,dp_bound,accuracy,source` (`#` comments).
    #[arg(long)]
    reference: Option<PathBuf>,
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<()> {
    let runs = fairrep_study::compare::collect_runs(&args.runs)?;
    let references = match &args.reference {
        Some(path) => fairrep_study::compare::read_references(path)?,
        None => Vec::new(),
    };
    let cmp = fairrep_study::report(&runs, &references, &args.out)?;
    print!("{}", cmp.markdown());
    println!("written to {}", args.out.display());
    Ok(())
}
