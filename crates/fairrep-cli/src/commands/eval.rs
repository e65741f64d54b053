//! `fairrep eval`.

use crate::args::RunDir;
use fairrep_report::health::warning_lines;
use fairrep_report::task_table;

/// Recompute a run's report from its saved model and config.toml.
///
/// Reads the run's config.toml and model.bpk, evaluates every task again and rewrites
/// report.json, report.md and transfer_heads.json.
///
/// Example:
///   fairrep eval --run runs/quickstart-1
#[derive(clap::Args, Debug)]
#[command(verbatim_doc_comment)]
pub struct Args {
    #[command(flatten)]
    run: RunDir,
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<()> {
    let report = fairrep_run::evaluate_run(&args.run.run, args.run.backend.into(), None)?;
    println!("{}", task_table(&report.tasks));
    print!("{}", warning_lines(&report.warnings()));
    Ok(())
}
