//! `fairrep predict`.

use crate::args::{Input, RunDir};

/// Predict every task of a trained run on new rows (source heads and transfer heads).
///
/// Streams the input like `encode` and writes, for each task (all by default; --task to
/// choose): <task>_score (a probability, or a regression task's value) and, for a binary task,
/// <task>_pred (score ≥ the run's threshold), after the --keep columns. Scores are
/// post-processed when the run was ([postprocess]) and the input has the sensitive column.
/// With --evaluate, where the input also has a task's label column and the sensitive column,
/// prints a table of each task's metrics on those rows: accuracy, AUC and the parity gaps
/// (binary tasks), RMSE/MAE/R² and the groups' score distances (regression tasks); --json
/// prints everything instead (the rows, and per task what `audit-predictions` prints).
///
/// Example:
///   fairrep predict --run runs/quickstart-1 --input data/adult/adult.test.gz --skip-rows 1 --out p.csv --evaluate
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
    /// Print the summary (rows, and with --evaluate every metric per group) as JSON.
    #[arg(long)]
    json: bool,
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
    let summary = p.summary(&inf, &args.input.out, args.evaluate)?;
    match args.json {
        true => println!("{}", serde_json::to_string_pretty(&summary)?),
        false => print!("{}", summary_text(&summary)),
    }
    Ok(())
}

/// The summary for people: the rows written, and with --evaluate one table row per task.
fn summary_text(summary: &serde_json::Value) -> String {
    let num = |v: &serde_json::Value| v.as_f64().map(|x| format!("{x:.4}")).unwrap_or("–".into());
    let rows = &summary["rows"];
    let mut s = format!(
        "wrote {} rows to {} ({} with a missing value left empty)\n",
        rows["rows"],
        summary["out"].as_str().unwrap_or(""),
        rows["dropped"]
    );
    if let Some(p) = summary["postprocessed"]
        .as_array()
        .filter(|p| !p.is_empty())
    {
        let names: Vec<&str> = p.iter().filter_map(|v| v.as_str()).collect();
        s += &format!("post-processed: {}\n", names.join(", "));
    }
    let Some(tasks) = summary["evaluation"].as_object() else {
        return s;
    };
    let (binary, regression): (Vec<_>, Vec<_>) =
        tasks.iter().partition(|(_, m)| m.get("accuracy").is_some());
    if !binary.is_empty() {
        s += "\n| task | rows | accuracy | AUC | DDP | DEO | eq. odds |\n|---|---|---|---|---|---|---|\n";
        for (name, m) in binary {
            s += &format!(
                "| {name} | {} | {} | {} | {} | {} | {} |\n",
                m["n"],
                num(&m["accuracy"]),
                num(&m["roc_auc"]),
                num(&m["demographic_parity_difference"]),
                num(&m["equal_opportunity_difference"]),
                num(&m["equalized_odds_difference"]),
            );
        }
    }
    if !regression.is_empty() {
        s += "\n| regression task | RMSE | MAE | R² | KS between groups | W1 between groups |\n|---|---|---|---|---|---|\n";
        for (name, m) in regression {
            s += &format!(
                "| {name} | {} | {} | {} | {} | {} |\n",
                num(&m["rmse"]),
                num(&m["mae"]),
                num(&m["r2"]),
                num(&m["ks"]),
                num(&m["w1"]),
            );
        }
    }
    s + "\n(--json for every metric per group)\n"
}
