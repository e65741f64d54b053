//! Warnings for results whose parity is not evidence of fairness: heads that predict (almost)
//! one class for everyone, heads barely above the majority rate, and a representation that
//! collapsed. Every command that prints a parity number prints these beside it, and
//! `report.md` has them under "Warnings".

use crate::run::{RepresentationBias, TaskMetrics};
use fairrep_data::Role;
use fairrep_metrics::BinarySummary;

/// A head is near-constant when it gives one class to more than all but this fraction of the
/// test rows.
pub const NEAR_CONSTANT: f64 = 0.01;

/// A head whose accuracy is at most this far above the majority rate has learned little.
pub const NEAR_MAJORITY: f64 = 0.01;

/// The representation collapsed when its spread on the test split is below this fraction of an
/// untrained encoder's (same seed, same rows).
pub const COLLAPSED_SPREAD: f64 = 0.1;

/// The overall selection rate of a binary head on the split (from its per-group rates and
/// counts); `None` without groups.
pub fn selection_rate(s: &BinarySummary) -> Option<f64> {
    let (mut positive, mut rows) = (0.0, 0.0);
    for g in &s.by_group {
        if let Some(r) = g.selection_rate {
            positive += r * g.count as f64;
            rows += g.count as f64;
        }
    }
    (rows > 0.0).then(|| positive / rows)
}

/// Whether a binary head gives one class to all but [`NEAR_CONSTANT`] of the rows.
pub fn near_constant(s: &BinarySummary) -> bool {
    selection_rate(s).is_some_and(one_class_rate)
}

/// Whether a selection rate gives one class to all but [`NEAR_CONSTANT`] of the rows.
fn one_class_rate(rate: f64) -> bool {
    !(NEAR_CONSTANT..=1.0 - NEAR_CONSTANT).contains(&rate)
}

/// The warning of one binary task's head, if its parity is not evidence of fairness.
fn head_warning(t: &TaskMetrics) -> Option<String> {
    let b = t.as_binary()?;
    let s = &b.summary;
    let ddp = crate::cell(s.ddp);
    let rate = selection_rate(s)?;
    if one_class_rate(rate) {
        let (share, class) = if rate >= 0.5 {
            (rate, "positive")
        } else {
            (1.0 - rate, "negative")
        };
        return Some(format!(
            "task `{}`: the head predicts {class} for {:.1}% of the test rows (selection rate \
             {rate:.4}): its DDP {ddp} is not evidence of fairness",
            t.name,
            share * 100.0
        ));
    }
    let majority = b.base_rate.max(1.0 - b.base_rate);
    let accuracy = s.accuracy?;
    (accuracy <= majority + NEAR_MAJORITY).then(|| {
        format!(
            "task `{}`: accuracy {accuracy:.4} is not more than {NEAR_MAJORITY} above the majority rate \
             {majority:.4} (AUC {}): the head has learned little, and its DDP {ddp} is not \
             evidence of fairness",
            t.name,
            crate::cell(s.auc)
        )
    })
}

/// The warnings of a task table: one per binary task whose head is near-constant or barely
/// above the majority rate.
pub fn task_warnings(tasks: &[TaskMetrics]) -> Vec<String> {
    tasks.iter().filter_map(head_warning).collect()
}

/// The warning of a collapsed representation, if it collapsed: its spread on the test split
/// is below [`COLLAPSED_SPREAD`] of the untrained encoder's, or every binary source task's head
/// (trained with the encoder) is near-constant or at its majority rate — z carries nothing the
/// source tasks could use, so its parity on any task says nothing.
pub fn collapse_warning(tasks: &[TaskMetrics], r: Option<&RepresentationBias>) -> Option<String> {
    let spread = r.and_then(|r| r.spread.zip(r.initial_spread));
    let shrank = spread.is_some_and(|(s, i)| i > 0.0 && s < COLLAPSED_SPREAD * i);
    let sources: Vec<&TaskMetrics> = tasks
        .iter()
        .filter(|t| t.role == Role::Source && t.as_binary().is_some())
        .collect();
    let uninformative = !sources.is_empty() && sources.iter().all(|t| head_warning(t).is_some());
    let numbers = spread.map_or(String::new(), |(s, i)| {
        format!(
            " (its spread on the test split, the root mean squared distance to its mean, is \
             {s:.4}; the untrained encoder's {i:.4})"
        )
    });
    match (shrank, uninformative) {
        (false, false) => None,
        (_, true) => Some(format!(
            "the representation collapsed: every source task's head is near-constant or at \
             its majority rate{numbers}"
        )),
        (true, false) => Some(format!(
            "the representation collapsed: its spread fell below {COLLAPSED_SPREAD} of the \
             untrained encoder's{numbers}"
        )),
    }
}

/// All warnings of a run (representation and heads), with the advice to try a smaller λ when
/// there is any and the penalty was on.
pub fn run_warnings(
    tasks: &[TaskMetrics],
    representation: Option<&RepresentationBias>,
    lambda: f64,
) -> Vec<String> {
    let mut out: Vec<String> = collapse_warning(tasks, representation)
        .into_iter()
        .collect();
    out.extend(task_warnings(tasks));
    if !out.is_empty() && lambda > 0.0 {
        out.push(format!(
            "the penalty may be too strong for these data (or the training too short): try a \
             smaller λ (`--set penalty.lambda={}`) or more epochs, and compare with λ = 0",
            lambda / 10.0
        ));
    }
    out
}

/// The warnings as lines for a terminal (`WARNING: …`), empty when there are none.
pub fn warning_lines(warnings: &[String]) -> String {
    warnings.iter().map(|w| format!("WARNING: {w}\n")).collect()
}

/// The warnings as a `## Warnings` section of a Markdown report, empty when there are none.
pub fn warnings_markdown(warnings: &[String]) -> String {
    if warnings.is_empty() {
        return String::new();
    }
    let items: String = warnings.iter().map(|w| format!("- {w}\n")).collect();
    format!("\n## Warnings\n\n{items}")
}
