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
/// `audit-predictions` and `predict --evaluate` print.
pub fn binary_audit(
    y_true: &[bool],
    y_pred: &[bool],
    scores: Option<&[f64]>,
    group: &[usize],
    names: &[String],
) -> anyhow::Result<serde_json::Value> {
    let frame = fm::MetricFrame::new(y_true, y_pred, group, names)?;
    let roc_auc = match scores {
        Some(s) => fm::roc_auc(y_true, s)?,
        None => None,
    };
    let by_group: serde_json::Map<String, serde_json::Value> = [
        ("selection_rate", fm::Rate::SelectionRate),
        ("tpr", fm::Rate::Tpr),
        ("fpr", fm::Rate::Fpr),
        ("accuracy", fm::Rate::Accuracy),
    ]
    .into_iter()
    .map(|(key, rate)| {
        let per: serde_json::Map<String, serde_json::Value> = names
            .iter()
            .cloned()
            .zip(
                frame
                    .rate_by_group(rate)
                    .into_iter()
                    .map(serde_json::Value::from),
            )
            .collect();
        (key.to_string(), per.into())
    })
    .collect();
    let overall = &frame.overall;
    Ok(serde_json::json!({
        "n": y_true.len(),
        "groups": names,
        "demographic_parity_difference": fm::demographic_parity_difference(&frame),
        "demographic_parity_ratio": fm::demographic_parity_ratio(&frame),
        "equal_opportunity_difference": fm::equal_opportunity_difference(&frame),
        "equal_opportunity_ratio": fm::equal_opportunity_ratio(&frame),
        "equalized_odds_difference": fm::equalized_odds_difference(&frame),
        "equalized_odds_ratio": fm::equalized_odds_ratio(&frame),
        "accuracy": overall.accuracy(),
        "balanced_accuracy": overall.balanced_accuracy(),
        "roc_auc": roc_auc,
        "by_group": by_group,
    }))
}
