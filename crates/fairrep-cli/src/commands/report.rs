//! `fairrep report`.

use std::path::PathBuf;

/// Compare runs: accuracy against DDP per transfer task, Pareto fronts, plots.
///
/// Reads run directories, or directories of runs such as a sweep's. For every binary transfer
/// task: the median test accuracy and DDP of each penalty kind and λ over the seeds (with the
/// 95% bootstrap interval of the median run and the seed range), the Pareto front, λ = 0 against
/// the fairest λ within 2 accuracy points, the raw-feature baselines. Writes report.json,
/// report.md, pareto-<task>.svg per task and curves.svg into --out.
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
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<()> {
    let runs = fairrep_study::compare::collect_runs(&args.runs)?;
    let cmp = fairrep_study::report(&runs, &args.out)?;
    print!("{}", cmp.markdown());
    println!("written to {}", args.out.display());
    Ok(())
}
