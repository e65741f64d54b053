//! The audit of any model's binary predictions (`fairrep audit-predictions`, `predict
//! --evaluate`, `fairrep.audit_predictions` in Python): fairlearn's named metrics over one
//! [`MetricFrame`], typed.

use crate::{
    MetricFrame, MetricsError, Rate, demographic_parity_difference, demographic_parity_ratio,
    equal_opportunity_difference, equal_opportunity_ratio, equalized_odds_difference,
    equalized_odds_ratio, roc_auc,
};
use serde::Serialize;
use std::collections::BTreeMap;

/// fairlearn's metrics of binary predictions, overall and by group. A metric undefined on the
/// data (a group without positives for a true-positive rate, a ratio over a zero rate) is
/// `None` (JSON `null`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BinaryAudit {
    /// Rows.
    pub n: usize,
    /// The groups' names, in the order of the group ids.
    pub groups: Vec<String>,
    /// The largest gap in selection rates between two groups.
    pub demographic_parity_difference: Option<f64>,
    /// The smallest selection rate over the largest.
    pub demographic_parity_ratio: Option<f64>,
    /// The largest gap in true-positive rates.
    pub equal_opportunity_difference: Option<f64>,
    /// The smallest true-positive rate over the largest.
    pub equal_opportunity_ratio: Option<f64>,
    /// The larger of the true- and false-positive rates' gaps.
    pub equalized_odds_difference: Option<f64>,
    /// The smaller of the true- and false-positive rates' ratios.
    pub equalized_odds_ratio: Option<f64>,
    /// Overall accuracy.
    pub accuracy: Option<f64>,
    /// Overall balanced accuracy (the mean of the true-positive and true-negative rates).
    pub balanced_accuracy: Option<f64>,
    /// The ROC AUC of the scores, when scores were given (and both classes occur).
    pub roc_auc: Option<f64>,
    /// `selection_rate`, `tpr`, `fpr` and `accuracy`, each by group name.
    pub by_group: BTreeMap<String, BTreeMap<String, Option<f64>>>,
}

/// fairlearn's metrics of binary predictions `y_pred` against `y_true` over the groups `group`
/// (indices into `names`), with the ROC AUC of `scores` when given.
pub fn binary_audit(
    y_true: &[bool],
    y_pred: &[bool],
    scores: Option<&[f64]>,
    group: &[usize],
    names: &[String],
) -> Result<BinaryAudit, MetricsError> {
    let frame = MetricFrame::new(y_true, y_pred, group, names)?;
    let roc_auc = match scores {
        Some(s) => roc_auc(y_true, s)?,
        None => None,
    };
    let by_group = [
        ("selection_rate", Rate::SelectionRate),
        ("tpr", Rate::Tpr),
        ("fpr", Rate::Fpr),
        ("accuracy", Rate::Accuracy),
    ]
    .into_iter()
    .map(|(key, rate)| {
        let per = names
            .iter()
            .cloned()
            .zip(frame.rate_by_group(rate))
            .collect();
        (key.to_string(), per)
    })
    .collect();
    Ok(BinaryAudit {
        n: y_true.len(),
        groups: names.to_vec(),
        demographic_parity_difference: demographic_parity_difference(&frame),
        demographic_parity_ratio: demographic_parity_ratio(&frame),
        equal_opportunity_difference: equal_opportunity_difference(&frame),
        equal_opportunity_ratio: equal_opportunity_ratio(&frame),
        equalized_odds_difference: equalized_odds_difference(&frame),
        equalized_odds_ratio: equalized_odds_ratio(&frame),
        accuracy: frame.overall.accuracy(),
        balanced_accuracy: frame.overall.balanced_accuracy(),
        roc_auc,
        by_group,
    })
}
