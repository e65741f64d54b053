//! `fairrep report`.

use std::path::PathBuf;

/// Compare runs: accuracy against DDP per transfer task, Pareto fronts, plots.
///
/// Reads run directories, or directories of runs such as a sweep's. For every binary task
/// (transfer tasks first): the median test accuracy and DDP of each penalty kind and λ over the
/// seeds (with the 95% bootstrap interval of the median run and the seed range), the Pareto
/// front, λ = 0 against the fairest λ within 2 accuracy points, the best accuracy at matched
/// parity (median DDP ≤ 0.02, 0.05, 0.10 and each --reference bound; near-constant heads
/// excluded) — on the worst head family's DDP first (--parity), then on the task's own head's —, published results (--reference), the raw-feature baselines, and warnings: a task
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
    /// Whose DDP the headline matched-parity table is about: the worst head family fitted on
    /// the frozen representation (what any downstream model may show), or the task's own head.
    /// The other table follows it.
    #[arg(long, value_enum, default_value_t = ParityArg::Worst)]
    parity: ParityArg,
}

/// `--parity`.
#[derive(Copy, Clone, Debug, clap::ValueEnum)]
pub enum ParityArg {
    /// The worst DDP over `transfer.head_families` (logistic, MLP, GBDT).
    Worst,
    /// The DDP of the task's head (`transfer.head`, logistic by default).
    Logistic,
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<()> {
    let runs = fairrep_study::compare::collect_runs(&args.runs)?;
    let references = match &args.reference {
        Some(path) => fairrep_study::compare::read_references(path)?,
        None => Vec::new(),
    };
    let parity = match args.parity {
        ParityArg::Worst => fairrep_study::compare::Parity::Worst,
        ParityArg::Logistic => fairrep_study::compare::Parity::Logistic,
    };
    let cmp = fairrep_study::report(&runs, &references, parity, &args.out)?;
    print!("{}", cmp.markdown());
    println!("written to {}", args.out.display());
    Ok(())
}
