//! `fairrep predict`.

use crate::args::{Input, RunDir};
use crate::commands::audit_predictions::binary_audit;
use fairrep_data::TaskKind;

/// Predict every task of a trained run on new rows (source heads and transfer heads).
///
/// Streams the input like `encode` and writes, for each task (all by default; --task to
/// choose): <task>_score (a probability, or a regression task's value) and, for a binary task,
/// <task>_pred (score ≥ the run's threshold), after the --keep columns. Scores are
/// post-processed when the run was ([postprocess]) and the input has the sensitive column.
/// With --evaluate, where the input also has a task's label column and the sensitive column,
/// prints the metrics `audit-predictions` prints (binary tasks) or RMSE/MAE/R² and the groups'
/// score distances (regression tasks).
///
/// Example:
///   fairrep predict --run runs/quickstart --input data/adult/adult.test.gz --skip-rows 1 --out p.csv --evaluate
#[derive(clap::Args, Debug)]
#[command(verbatim_doc_comment)]
pub struct Args {
    #[command(flatten)]
    run: RunDir,
    #[command(flatten)]
    input: Input,
    /// A task to predict (repeatable; default: every task).
    #[arg(long = "task", value_name = "NAME")]
    tasks: Vec<String>,
    /// Also measure each task on the rows that have its label and the sensitive column.
    #[arg(long)]
    evaluate: bool,
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<()> {
    let opts = args.input.options()?;
    let inf = fairrep_run::inference::Inference::load(&args.run.run, args.run.backend.into())?;
    let p = fairrep_run::inference::predict_file(
        &inf,
        &args.input.input,
        &opts,
        &args.input.out,
        (&args.tasks, &args.input.keep),
        args.evaluate,
    )?;
    let groups: Vec<String> = (inf.preprocessing.sensitive.groups.iter())
        .map(|g| g.name.clone())
        .collect();
    let mut tasks = serde_json::Map::new();
    for ev in &p.evaluation {
        if ev.scores.is_empty() {
            continue;
        }
        let metrics = match ev.kind {
            TaskKind::Binary => binary_audit(
                &ev.labels,
                &ev.predictions,
                Some(&ev.scores),
                &ev.groups,
                &groups,
            )?,
            TaskKind::Regression => {
                serde_json::to_value(fairrep_metrics::regression::summarize_regression(
                    &ev.targets,
                    &ev.scores,
                    &ev.groups,
                    &groups,
                    None,
                ))?
            }
        };
        tasks.insert(ev.task.clone(), metrics);
    }
    let mut summary = serde_json::json!({
        "out": args.input.out,
        "rows": p.counts,
        "postprocessed": p.postprocessed,
    });
    if args.evaluate {
        summary["evaluation"] = tasks.into();
    }
    println!("{}", serde_json::to_string_pretty(&summary)?);
    Ok(())
}
