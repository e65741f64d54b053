//! `fairrep transfer`.

use crate::args::RunDir;
use fairrep_report::health::warning_lines;
use fairrep_report::task_table;

/// Evaluate a run's frozen encoder on transfer tasks, old or newly added.
///
/// Fits a fresh head per transfer task — all of them, or those named with --task — on the
/// frozen representation, including tasks added to the run's config.toml after training, and
/// writes transfer_report.json in the run directory.
///
/// Example:
///   fairrep transfer --run runs/quickstart-1 --task income
#[derive(clap::Args, Debug)]
#[command(verbatim_doc_comment)]
pub struct Args {
    #[command(flatten)]
    run: RunDir,
    /// A transfer task of the run's config.toml (repeatable; default: all of them).
    #[arg(long = "task", value_name = "NAME")]
    tasks: Vec<String>,
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<()> {
    let report =
        fairrep_run::evaluate_run(&args.run.run, args.run.backend.into(), Some(&args.tasks))?;
    println!("{}", task_table(&report.tasks));
    print!("{}", warning_lines(&report.warnings()));
    Ok(())
}
