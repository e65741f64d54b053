//! Transfer evaluation: for each held-out task, a fresh head — logistic (or, with
//! `transfer.head = "mlp"`, a small MLP) for a binary task, ridge regression for a regression
//! task — fitted on the frozen representation of the training split, evaluated on the test
//! split.

use crate::error::TrainError;
use crate::metrics::task_metrics;
use crate::seeds::{Stream, derive_seed};
use fairrep_config::{HeadFamily, HeadKind, TransferSection};
use fairrep_data::{Prepared, TaskKind};
use fairrep_heads::{
    Gbdt, GbdtSettings, LogisticError, LogisticRegression, MlpClassifier, MlpSettings, RidgeError,
    RidgeRegression,
};
use fairrep_report::{
    Baseline, FamilyMetrics, FittedHead, TaskMetrics, TransferHead, Unprocessed, UnprocessedPoint,
};

/// The error of a fit that is singular because `transfer.l2` is 0.
pub fn singular(task: &str, head: &'static str) -> TrainError {
    TrainError::SingularFit {
        task: task.to_string(),
        head,
    }
}

/// A logistic regression fitted with L2 weight `l2` (`transfer.l2`); a singular fit at
/// `l2 = 0` is the user's setting ([`singular`]).
pub fn logistic(
    x: &[f32],
    d: usize,
    y: &[bool],
    l2: f64,
    task: &str,
) -> Result<LogisticRegression, TrainError> {
    LogisticRegression::fit(x, d, y, l2).map_err(|source| match source {
        LogisticError::Singular if l2 == 0.0 => singular(task, "logistic"),
        source => TrainError::Transfer {
            task: task.to_string(),
            source,
        },
    })
}

/// The MLP head of task `t` (`[transfer.mlp]`, L2 `transfer.l2`, seeded per task).
fn mlp_head(
    z: &[f32],
    r: usize,
    y: &[bool],
    settings: &TransferSection,
    seed: u64,
    t: usize,
) -> MlpClassifier {
    let m = settings.mlp_settings().unwrap_or_default();
    MlpClassifier::fit(
        z,
        r,
        y,
        MlpSettings {
            hidden: m.hidden,
            epochs: m.epochs,
            batch: m.batch_size,
            learning_rate: m.learning_rate,
            l2: settings.l2,
            seed: derive_seed(seed, Stream::MlpHead(t)),
        },
    )
}

/// Fits and evaluates a head for each of `tasks` (indices into `data.tasks`) on the
/// representations `(z_train, z_test)`, row-major with `r` columns.
pub fn evaluate(
    data: &Prepared,
    tasks: &[usize],
    (z_train, z_test): (&[f32], &[f32]),
    r: usize,
    settings: &TransferSection,
    seed: u64,
) -> Result<(Vec<TaskMetrics>, Vec<TransferHead>), TrainError> {
    let mut metrics = Vec::new();
    let mut heads = Vec::new();
    for &t in tasks {
        let task = &data.tasks[t];
        let name = &task.name;
        let fitted = match task.kind {
            TaskKind::Binary if settings.head == HeadKind::Mlp => FittedHead::Mlp {
                mlp: mlp_head(z_train, r, &data.train.labels[t], settings, seed, t),
            },
            TaskKind::Binary => {
                let y = &data.train.labels[t];
                let ferm = if settings.ferm {
                    let groups = data.groups.len();
                    Some(
                        fairrep_methods::Ferm::fit(z_train, r, y, &data.train.s, groups).map_err(
                            |source| TrainError::Ferm {
                                task: name.clone(),
                                source,
                            },
                        )?,
                    )
                } else {
                    None
                };
                let projected = ferm.as_ref().map(|f| f.transform(z_train));
                let z_fit = projected.as_deref().unwrap_or(z_train);
                FittedHead::Logistic {
                    model: logistic(z_fit, r, y, settings.l2, name)?,
                    ferm,
                }
            }
            TaskKind::Regression => {
                let y: Vec<f64> = data.train.targets[t]
                    .iter()
                    .map(|&v| f64::from(v))
                    .collect();
                FittedHead::Ridge {
                    ridge: RidgeRegression::fit(z_train, r, &y, settings.l2).map_err(
                        |e| match e {
                            RidgeError::Singular if settings.l2 == 0.0 => singular(name, "ridge"),
                            e => TrainError::Internal(format!("transfer task `{name}`: {e}")),
                        },
                    )?,
                    scale: task.scale,
                }
            }
        };
        let head = TransferHead {
            task: name.clone(),
            fitted,
        };
        let pred = head.predict(z_test);
        let mut m = task_metrics(data, &data.test, t, &pred, settings.threshold, Some(seed));
        if let fairrep_report::TaskOutcome::Binary(b) = &mut m.outcome
            && !settings.head_families.is_empty()
        {
            // The task's own head is the logistic family when it is a plain logistic one.
            let own = matches!(&head.fitted, FittedHead::Logistic { ferm: None, .. })
                .then_some((HeadFamily::Logistic, pred.as_slice()));
            b.head_families = head_families(data, t, (z_train, z_test), r, settings, seed, own)?;
            b.worst_ddp = (b.head_families.iter().map(|f| f.ddp))
                .chain(std::iter::once(b.summary.ddp))
                .flatten()
                .max_by(f64::total_cmp);
        }
        metrics.push(m);
        heads.push(head);
    }
    Ok((metrics, heads))
}

/// Binary task `t` by each family of `transfer.head_families`, fitted on the training split's
/// representation and measured on the test split's; `own` is a family already fitted (the
/// task's head) and its test scores, not fitted again.
fn head_families(
    data: &Prepared,
    t: usize,
    (z_train, z_test): (&[f32], &[f32]),
    r: usize,
    settings: &TransferSection,
    seed: u64,
    own: Option<(HeadFamily, &[f64])>,
) -> Result<Vec<FamilyMetrics>, TrainError> {
    let name = &data.tasks[t].name;
    let y = &data.train.labels[t];
    let mut out = Vec::new();
    for &family in &settings.head_families {
        let scores = match family {
            _ if own.is_some_and(|(f, _)| f == family) => {
                own.map(|(_, p)| p.to_vec()).unwrap_or_default()
            }
            HeadFamily::Logistic => {
                logistic(z_train, r, y, settings.l2, name)?.predict_proba(z_test)
            }
            HeadFamily::Mlp => mlp_head(z_train, r, y, settings, seed, t).predict_proba(z_test),
            HeadFamily::Gbdt => {
                Gbdt::fit(z_train, r, y, GbdtSettings::default()).predict_proba(z_test)
            }
        };
        let s = fairrep_metrics::summarize_binary(
            &data.test.labels[t],
            &scores,
            settings.threshold,
            &data.test.s,
            &data.groups,
        )
        .map_err(|e| TrainError::Internal(format!("task `{name}`, {family} head: {e}")))?;
        out.push(FamilyMetrics {
            family: family.to_string(),
            accuracy: s.accuracy,
            auc: s.auc,
            ddp: s.ddp,
        });
    }
    Ok(out)
}

/// A split's raw encoded features with the sensitive attribute (one-hot, appended unless it is
/// already a feature), row-major, and their width.
fn with_sensitive(data: &Prepared, split: &fairrep_data::Split) -> (Vec<f32>, usize) {
    let (k, p) = (data.groups.len(), split.p);
    if data.sensitive_is_feature {
        return (split.x.clone(), p);
    }
    let mut x = Vec::with_capacity(split.n * (p + k));
    for i in 0..split.n {
        x.extend_from_slice(split.row(i));
        x.extend((0..k).map(|g| f32::from(u8::from(split.s[i] == g))));
    }
    (x, p + k)
}

/// The unprocessing baseline (Cruz and Hardt, ICLR 2024) of each binary transfer task: a GBDT
/// on the raw features with the sensitive attribute (the most accurate unconstrained model of
/// the baselines), its scores thresholded per group — tuned on the validation split — at each
/// DDP bound of [`fairrep_report::MATCHED_BOUNDS`] and unconstrained, evaluated on the test
/// split. It needs the sensitive attribute at prediction time; a representation does not.
pub fn unprocessing(data: &Prepared, tasks: &[usize]) -> Vec<Unprocessed> {
    let binary: Vec<usize> = tasks
        .iter()
        .copied()
        .filter(|&t| data.tasks[t].kind == TaskKind::Binary)
        .collect();
    if binary.is_empty() || data.valid.n == 0 {
        return Vec::new();
    }
    let (x_train, d) = with_sensitive(data, &data.train);
    let (x_valid, _) = with_sensitive(data, &data.valid);
    let (x_test, _) = with_sensitive(data, &data.test);
    let groups = data.groups.len();
    let mut out = Vec::new();
    for t in binary {
        let gbdt = fairrep_heads::Gbdt::fit(
            &x_train,
            d,
            &data.train.labels[t],
            fairrep_heads::GbdtSettings::default(),
        );
        let (sv, st) = (gbdt.predict_proba(&x_valid), gbdt.predict_proba(&x_test));
        let bounds = fairrep_report::MATCHED_BOUNDS
            .iter()
            .map(|&b| Some(b))
            .chain(std::iter::once(None));
        let points = bounds
            .filter_map(|bound| {
                let th = fairrep_methods::unprocessing::fit(
                    &sv,
                    &data.valid.labels[t],
                    &data.valid.s,
                    groups,
                    bound.unwrap_or(1.0),
                );
                let pred = th.predict(&st, &data.test.s);
                let frame = fairrep_metrics::MetricFrame::new(
                    &data.test.labels[t],
                    &pred,
                    &data.test.s,
                    &data.groups,
                )
                .ok()?;
                Some(UnprocessedPoint {
                    bound,
                    accuracy: frame.overall.accuracy()?,
                    ddp: fairrep_metrics::demographic_parity_difference(&frame)?,
                    tuning_ddp: th.tuning_ddp,
                    thresholds: th.thresholds,
                })
            })
            .collect();
        out.push(Unprocessed {
            task: data.tasks[t].name.clone(),
            model: "GBDT on the raw features with the sensitive attribute".into(),
            points,
        });
    }
    out
}

/// The transfer tasks' heads (the same kind, settings and seed) fitted on the raw encoded
/// features instead of the representation: with the sensitive attribute (one-hot, appended
/// unless it is already a feature) and without it.
pub fn baselines(
    data: &Prepared,
    tasks: &[usize],
    settings: &TransferSection,
    seed: u64,
) -> Result<Vec<Baseline>, TrainError> {
    if tasks.is_empty() {
        return Ok(Vec::new());
    }
    let k = data.groups.len();
    let p = data.train.p;
    // The sensitive attribute is the last k encoded columns when it is a feature.
    let has_s = data.sensitive_is_feature;
    let with_s = |split: &fairrep_data::Split| with_sensitive(data, split);
    let without_s = |split: &fairrep_data::Split| -> (Vec<f32>, usize) {
        if !has_s {
            return (split.x.clone(), p);
        }
        let q = p - k;
        let mut x = Vec::with_capacity(split.n * q);
        for i in 0..split.n {
            x.extend_from_slice(&split.row(i)[..q]);
        }
        (x, q)
    };
    let plain = TransferSection {
        ferm: false,
        head_families: Vec::new(),
        ..settings.clone()
    };
    let mut out = Vec::new();
    for (inputs, make) in [
        (
            "the raw features with the sensitive attribute",
            &with_s as &dyn Fn(&fairrep_data::Split) -> (Vec<f32>, usize),
        ),
        (
            "the raw features without the sensitive attribute",
            &without_s,
        ),
    ] {
        let ((x_train, d), (x_test, _)) = (make(&data.train), make(&data.test));
        let (metrics, _) = evaluate(data, tasks, (&x_train, &x_test), d, &plain, seed)?;
        out.push(Baseline {
            inputs: inputs.to_string(),
            tasks: metrics,
        });
    }
    Ok(out)
}
