//! `fairrep audit-predictions`.

use crate::tables;
use fairrep_metrics as fm;
use std::path::PathBuf;

/// Audit any model's binary predictions from a CSV file, with fairlearn's definitions.
///
/// Reads a CSV file with a header and prints JSON, like fairlearn's MetricFrame:
/// demographic_parity_difference/_ratio, equal_opportunity_difference/_ratio,
/// equalized_odds_difference/_ratio, accuracy, balanced_accuracy, roc_auc (with --score) and
/// by_group (selection_rate, tpr, fpr, accuracy). Differences and ratios are between the
/// extreme groups, as fairlearn computes them.
///
/// Example:
///   fairrep audit-predictions --input preds.csv --y-true y --y-pred yhat --group sex --score p
#[derive(clap::Args, Debug)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// The predictions: CSV (`.csv`, `.csv.gz`) with a header line, or Parquet (`.parquet`).
    #[arg(long)]
    input: PathBuf,
    /// Column of the true labels.
    #[arg(long)]
    y_true: String,
    /// Column of the predicted labels.
    #[arg(long)]
    y_pred: String,
    /// Column of scores (probabilities) for the ROC AUC.
    #[arg(long)]
    score: Option<String>,
    /// Column of the sensitive group.
    #[arg(long)]
    group: String,
    /// The label value that means positive (every other value is negative).
    #[arg(long, default_value = "1")]
    positive: String,
    /// Field delimiter.
    #[arg(long, default_value_t = ',')]
    delimiter: char,
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<()> {
    let table = tables::read_with_rows(&args.input, args.delimiter)?;
    let col = |name: &str, flag: &str| {
        table
            .column(name, flag)
            .map_err(fairrep_run::TrainError::from)
    };
    let (ct, cp, cg) = (
        col(&args.y_true, "--y-true")?,
        col(&args.y_pred, "--y-pred")?,
        col(&args.group, "--group")?,
    );
    let cs = args
        .score
        .as_deref()
        .map(|name| col(name, "--score"))
        .transpose()?;
    let labels = |c: usize| -> Vec<bool> {
        table
            .rows
            .iter()
            .map(|r| r[c].trim() == args.positive)
            .collect()
    };
    let (y_true, y_pred) = (labels(ct), labels(cp));
    let names = tables::distinct(&table, cg);
    let group = tables::group_ids(&table, cg, &args.input, &names, "the file")?;
    let scores = cs
        .map(|c| tables::numeric_column(&table, c, &args.input))
        .transpose()?;
    let json = binary_audit(&y_true, &y_pred, scores.as_deref(), &group, &names)?;
    println!("{}", serde_json::to_string_pretty(&json)?);
    Ok(())
}

/// fairlearn's metrics of binary predictions `y_pred` against `y_true` over the groups `group`
/// (indices into `names`), with the ROC AUC of `scores` when given: the JSON that
/// `audit-predictions` and `predict --evaluate` print ([`fm::BinaryAudit`]).
pub fn binary_audit(
    y_true: &[bool],
    y_pred: &[bool],
    scores: Option<&[f64]>,
    group: &[usize],
    names: &[String],
) -> anyhow::Result<serde_json::Value> {
    let audit = fm::binary_audit(y_true, y_pred, scores, group, names)?;
    Ok(serde_json::to_value(audit)?)
}
