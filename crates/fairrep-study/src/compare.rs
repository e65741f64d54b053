//! `fairrep report RUNS…`: several runs (a sweep's, or any) side by side — for every transfer
//! task the accuracy and DDP of each penalty kind and λ (median over seeds), the Pareto front
//! (no other point is both more accurate and fairer), the baselines (raw features with and
//! without the sensitive attribute), and SVG plots (plotters): the fronts per task and the
//! training curves.

use crate::error::StudyError;
use fairrep_config::PenaltyKind;
use fairrep_report::{EpochRecord, Report, RunReport, TaskMetrics, files};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One (penalty kind, λ) of one transfer task, over the seeds run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Point {
    /// The penalty kind.
    pub kind: PenaltyKind,
    /// λ.
    pub lambda: f64,
    /// Seeds (runs) behind the point.
    pub seeds: usize,
    /// Median test accuracy.
    pub accuracy: f64,
    /// Median test DDP.
    pub ddp: f64,
    /// The 95% bootstrap interval (test rows resampled) of the accuracy of the run whose
    /// accuracy is the median (the lower median for an even number of seeds).
    pub accuracy_ci: Option<[f64; 2]>,
    /// The same for the DDP.
    pub ddp_ci: Option<[f64; 2]>,
    /// Smallest and largest accuracy over the seeds (the training randomness).
    pub accuracy_range: [f64; 2],
    /// Smallest and largest DDP over the seeds.
    pub ddp_range: [f64; 2],
    /// Seeds whose head predicts one class for every test row (selection rate 0 in every
    /// group, or 1 in every group): DDP 0, but a useless classifier.
    pub constant_seeds: usize,
    /// Whether no other point of the task is at least as accurate and at least as fair (and
    /// better in one).
    pub on_front: bool,
}

/// Per penalty kind: its λ = 0 point and the fairest point that stays within
/// [`ACCURACY_TOLERANCE`] of λ = 0's accuracy.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Selection {
    /// The penalty kind.
    pub kind: PenaltyKind,
    /// The unpenalised point (this kind's λ = 0, else another kind's: with λ = 0 the penalty
    /// does not enter training).
    pub reference: Point,
    /// The point of this kind with the smallest DDP among those whose accuracy is at least the
    /// reference's minus the tolerance and where no seed predicts a constant (the reference
    /// itself when there is none).
    pub best: Point,
}

/// How much accuracy (absolute) the selected λ may give up against λ = 0: 2 points.
pub const ACCURACY_TOLERANCE: f64 = 0.02;

/// One run's value of a metric and its bootstrap interval.
#[derive(Debug, Clone, Copy)]
struct Sample {
    value: f64,
    ci: Option<[f64; 2]>,
}

/// The median of the samples (the lower median when even), with its run's interval, and the
/// range.
fn summarise(samples: &[Sample]) -> (f64, Option<[f64; 2]>, [f64; 2]) {
    let mut v = samples.to_vec();
    v.sort_by(|a, b| a.value.total_cmp(&b.value));
    let mid = v[(v.len() - 1) / 2];
    let values: Vec<f64> = v.iter().map(|s| s.value).collect();
    let med = median(&mut values.clone());
    // With an even count the median is a mean of two runs: no single run's interval is its
    // own, so the lower median's is given (documented on the field).
    (med, mid.ci, [values[0], values[values.len() - 1]])
}

impl Point {
    fn new(
        kind: PenaltyKind,
        lambda: f64,
        acc: &[Sample],
        ddp: &[Sample],
        constant_seeds: usize,
    ) -> Self {
        let (accuracy, accuracy_ci, accuracy_range) = summarise(acc);
        let (ddp, ddp_ci, ddp_range) = summarise(ddp);
        Point {
            kind,
            lambda,
            seeds: acc.len(),
            accuracy,
            ddp,
            accuracy_ci,
            ddp_ci,
            accuracy_range,
            ddp_range,
            constant_seeds,
            on_front: false,
        }
    }
}

/// The [`Selection`] of each kind among a task's points.
fn select(points: &[Point]) -> Vec<Selection> {
    let mut kinds: Vec<PenaltyKind> = points.iter().map(|p| p.kind).collect();
    kinds.dedup();
    let any_zero = points.iter().find(|p| p.lambda == 0.0);
    kinds
        .into_iter()
        .filter_map(|kind| {
            let reference = points
                .iter()
                .find(|p| p.kind == kind && p.lambda == 0.0)
                .or(any_zero)?;
            let best = points
                .iter()
                .filter(|p| {
                    p.kind == kind
                        && p.constant_seeds == 0
                        && p.accuracy >= reference.accuracy - ACCURACY_TOLERANCE
                })
                .min_by(|a, b| {
                    a.ddp
                        .total_cmp(&b.ddp)
                        .then(b.accuracy.total_cmp(&a.accuracy))
                })
                .unwrap_or(reference);
            Some(Selection {
                kind,
                reference: reference.clone(),
                best: best.clone(),
            })
        })
        .collect()
}

/// A baseline of one transfer task (first run's; they do not depend on λ).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BaselinePoint {
    /// What the head sees.
    pub inputs: String,
    /// Test accuracy.
    pub accuracy: f64,
    /// Test DDP.
    pub ddp: f64,
}

/// One transfer task across the runs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TaskComparison {
    /// Task name.
    pub task: String,
    /// Its points, by kind then λ.
    pub points: Vec<Point>,
    /// Per kind, λ = 0 against the fairest λ within the accuracy tolerance.
    pub selected: Vec<Selection>,
    /// Baselines.
    pub baselines: Vec<BaselinePoint>,
    /// The SVG plot of the task.
    pub plot: String,
}

/// `report.json` of `fairrep report`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Comparison {
    /// The run directories read.
    pub runs: Vec<String>,
    /// Every transfer task.
    pub tasks: Vec<TaskComparison>,
    /// The training-curves plot.
    pub curves: String,
}

/// The run directories named by `paths`: a run directory itself (it has report.json), or a
/// directory whose subdirectories are runs (a sweep).
pub fn collect_runs(paths: &[PathBuf]) -> Result<Vec<PathBuf>, StudyError> {
    let mut runs = Vec::new();
    for p in paths {
        if p.join(files::REPORT).is_file() {
            runs.push(p.clone());
            continue;
        }
        if !p.is_dir() {
            return Err(StudyError::NoRuns(p.clone()));
        }
        let entries = std::fs::read_dir(p).map_err(fairrep_run::error::io(p))?;
        let mut found: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|d| d.join(files::REPORT).is_file())
            .collect();
        if found.is_empty() {
            return Err(StudyError::NoRuns(p.clone()));
        }
        found.sort();
        runs.extend(found);
    }
    Ok(runs)
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    }
}

/// Marks the points no other point dominates (accuracy ≥ and DDP ≤, one strictly).
fn mark_front(points: &mut [Point]) {
    let snapshot: Vec<(f64, f64)> = points.iter().map(|p| (p.accuracy, p.ddp)).collect();
    for p in points.iter_mut() {
        p.on_front = !snapshot
            .iter()
            .any(|&(a, d)| a >= p.accuracy && d <= p.ddp && (a > p.accuracy || d < p.ddp));
    }
}

/// The comparison of `runs` (it names the plot files of each task; [`crate::report`] draws
/// them), and each run's training curve.
pub fn compare(runs: &[PathBuf]) -> Result<(Comparison, Vec<Curve>), StudyError> {
    let reports: Vec<Report> = runs
        .iter()
        .map(|r| {
            let path = r.join(files::REPORT);
            match fairrep_report::read_run_report(&path)? {
                RunReport::Deep(report) => Ok(*report),
                RunReport::Ferm(_) => Err(StudyError::NotDeep(path)),
            }
        })
        .collect::<Result<_, StudyError>>()?;
    // task → (kind, λ bits) → (accuracies, DDPs, runs predicting a constant), one per run
    type Samples = (Vec<Sample>, Vec<Sample>, usize);
    let mut by_task: BTreeMap<String, BTreeMap<(PenaltyKind, u64), Samples>> = BTreeMap::new();
    let mut order: Vec<String> = Vec::new();
    for r in &reports {
        for (t, m) in transfer_binary(&r.tasks) {
            let s = &m.summary;
            // A binary task whose accuracy or DDP is undefined (one class or one group in the
            // test split) has no point on the front.
            let (Some(acc), Some(ddp)) = (s.accuracy, s.ddp) else {
                continue;
            };
            if !order.contains(&t.name) {
                order.push(t.name.clone());
            }
            let e = by_task
                .entry(t.name.clone())
                .or_default()
                .entry((r.penalty.kind, r.lambda.to_bits()))
                .or_default();
            let ci = m.ci95.as_ref();
            e.0.push(Sample {
                value: acc,
                ci: ci.and_then(|c| c.accuracy),
            });
            e.1.push(Sample {
                value: ddp,
                ci: ci.and_then(|c| c.ddp),
            });
            e.2 += usize::from(predicts_a_constant(s));
        }
    }
    let mut tasks = Vec::new();
    for name in order {
        let mut points: Vec<Point> = by_task[&name]
            .iter()
            .map(|((kind, bits), (acc, ddp, k))| {
                Point::new(*kind, f64::from_bits(*bits), acc, ddp, *k)
            })
            .collect();
        points.sort_by(|a, b| {
            a.kind
                .to_string()
                .cmp(&b.kind.to_string())
                .then(a.lambda.total_cmp(&b.lambda))
        });
        mark_front(&mut points);
        let selected = select(&points);
        let baselines: Vec<BaselinePoint> = reports[0]
            .baselines
            .iter()
            .filter_map(|b| {
                let t = b.tasks.iter().find(|t| t.name == name)?;
                let s = &t.as_binary()?.summary;
                Some(BaselinePoint {
                    inputs: b.inputs.clone(),
                    accuracy: s.accuracy?,
                    ddp: s.ddp?,
                })
            })
            .collect();
        let plot = format!("pareto-{name}.svg");
        tasks.push(TaskComparison {
            task: name,
            points,
            selected,
            baselines,
            plot,
        });
    }
    let curves: Vec<Curve> = runs
        .iter()
        .zip(&reports)
        .map(|(run, r)| read_curve(run, r))
        .collect::<Result<_, _>>()?;
    let cmp = Comparison {
        runs: runs.iter().map(|r| r.display().to_string()).collect(),
        tasks,
        curves: "curves.svg".to_string(),
    };
    Ok((cmp, curves))
}

/// The binary transfer tasks of a report, with their metrics.
fn transfer_binary(
    tasks: &[TaskMetrics],
) -> impl Iterator<Item = (&TaskMetrics, &fairrep_report::BinaryMetrics)> {
    tasks
        .iter()
        .filter(|t| t.role == fairrep_data::Role::Transfer)
        .filter_map(|t| t.as_binary().map(|b| (t, b)))
}

/// Whether a head predicts one class for every test row: selection rate 0 in every group, or 1
/// in every group.
fn predicts_a_constant(s: &fairrep_metrics::BinarySummary) -> bool {
    let rates: Vec<f64> = s.by_group.iter().filter_map(|g| g.selection_rate).collect();
    !rates.is_empty() && (rates.iter().all(|&r| r == 0.0) || rates.iter().all(|&r| r == 1.0))
}

/// One run's training curve: its penalty kind, λ, and per epoch `(epoch, task loss, penalty)`.
pub struct Curve {
    /// The penalty kind.
    pub kind: PenaltyKind,
    /// λ.
    pub lambda: f64,
    /// `(epoch, mean task loss, the run's own penalty on the validation split)` of every epoch
    /// (the validation penalty, because a divergence at λ = 0 is not computed on the training
    /// batches, and the λ = 0 curve is the reference the others are read against).
    pub epochs: Vec<(f64, f64, f64)>,
}

/// The training curve of a run, from its `metrics.jsonl` (typed: a bad line is an error naming
/// the file and the line).
fn read_curve(run: &Path, report: &Report) -> Result<Curve, StudyError> {
    let records: Vec<EpochRecord> =
        fairrep_report::read_json_lines(&run.join(files::METRICS), "metrics file")?;
    Ok(Curve {
        kind: report.penalty.kind,
        lambda: report.lambda,
        epochs: records
            .iter()
            .map(|e| (e.epoch as f64, e.task_loss, e.valid_penalty))
            .collect(),
    })
}

impl Comparison {
    /// `report.md`.
    pub fn markdown(&self) -> String {
        let mut s = format!(
            "# fairrep runs compared\n\n{} runs. Per transfer task: median test accuracy and DDP \
             over the seeds of each penalty kind and λ; ★ marks the Pareto front (no other point \
             is both at least as accurate and at least as fair).\n",
            self.runs.len()
        );
        let with_ci = |v: f64, ci: Option<[f64; 2]>| match ci {
            Some([lo, hi]) => format!("{v:.4} [{lo:.4}, {hi:.4}]"),
            None => format!("{v:.4}"),
        };
        let range = |r: [f64; 2]| format!("{:.4}–{:.4}", r[0], r[1]);
        s += &format!(
            "\nIntervals: the 95% bootstrap interval of the median run; ranges: over the seeds. \
             \"Best λ\": per penalty kind, the smallest DDP whose accuracy is within {} points \
             of λ = 0's, among the points where no seed's head predicts a constant (\"constant\": \
             the seeds whose head gives every test row the same class, trivially DDP 0).\n",
            ACCURACY_TOLERANCE * 100.0
        );
        for t in &self.tasks {
            s += &format!(
                "\n## {}\n\n![accuracy vs DDP]({})\n\n| penalty | λ = 0 accuracy | λ = 0 DDP | best λ | accuracy | DDP |\n|---|---|---|---|---|---|\n",
                t.task, t.plot
            );
            for sel in &t.selected {
                let (r, b) = (&sel.reference, &sel.best);
                s += &format!(
                    "| {} | {} | {} | {} | {} | {} |\n",
                    sel.kind,
                    with_ci(r.accuracy, r.accuracy_ci),
                    with_ci(r.ddp, r.ddp_ci),
                    b.lambda,
                    with_ci(b.accuracy, b.accuracy_ci),
                    with_ci(b.ddp, b.ddp_ci),
                );
            }
            s += "\n| penalty | λ | seeds | accuracy | DDP | accuracy range | DDP range | constant | front |\n|---|---|---|---|---|---|---|---|---|\n";
            for p in &t.points {
                s += &format!(
                    "| {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
                    p.kind,
                    p.lambda,
                    p.seeds,
                    with_ci(p.accuracy, p.accuracy_ci),
                    with_ci(p.ddp, p.ddp_ci),
                    range(p.accuracy_range),
                    range(p.ddp_range),
                    if p.constant_seeds > 0 {
                        format!("{}/{}", p.constant_seeds, p.seeds)
                    } else {
                        String::new()
                    },
                    if p.on_front { "★" } else { "" }
                );
            }
            for b in &t.baselines {
                s += &format!(
                    "| baseline: {} | – | – | {:.4} | {:.4} | | | | |\n",
                    b.inputs, b.accuracy, b.ddp
                );
            }
        }
        s + &format!("\nTraining curves: ![curves]({})\n", self.curves)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_front_keeps_the_undominated_points() {
        let p = |acc: f64, ddp: f64| point("mmd", 0.0, acc, ddp);
        let mut pts = vec![
            p(0.80, 0.10),
            p(0.79, 0.03),
            p(0.78, 0.05),
            p(0.81, 0.12),
            p(0.80, 0.10),
        ];
        mark_front(&mut pts);
        let front: Vec<bool> = pts.iter().map(|p| p.on_front).collect();
        // (0.78, 0.05) is dominated by (0.79, 0.03); the duplicates do not dominate each other.
        assert_eq!(front, [true, true, false, true, true]);
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), 2.5);
    }

    fn point(kind: &str, lambda: f64, acc: f64, ddp: f64) -> Point {
        let one = |v| [Sample { value: v, ci: None }];
        let kind = match kind {
            "mmd" => PenaltyKind::Mmd,
            "sinkhorn" => PenaltyKind::Sinkhorn,
            _ => PenaltyKind::Adversarial,
        };
        Point::new(kind, lambda, &one(acc), &one(ddp), 0)
    }

    #[test]
    fn the_median_run_gives_the_interval_and_the_seeds_the_range() {
        let s = |value: f64, lo: f64| Sample {
            value,
            ci: Some([lo, lo + 0.1]),
        };
        // Three seeds: the median run (0.5) lends its interval.
        let (m, ci, range) = summarise(&[s(0.7, 0.6), s(0.5, 0.4), s(0.6, 0.5)]);
        assert_eq!((m, ci, range), (0.6, Some([0.5, 0.6]), [0.5, 0.7]));
        // Two seeds: the mean of the two, the lower run's interval.
        let (m, ci, _) = summarise(&[s(0.8, 0.7), s(0.6, 0.5)]);
        assert!((m - 0.7).abs() < 1e-12);
        assert_eq!(ci, Some([0.5, 0.6]));
    }

    #[test]
    fn the_best_lambda_is_the_fairest_within_two_accuracy_points() {
        let pts = vec![
            point("mmd", 0.0, 0.80, 0.20),
            point("mmd", 0.1, 0.795, 0.10),
            point("mmd", 1.0, 0.781, 0.02), // within 2 points (0.80 − 0.781 = 0.019)
            point("mmd", 10.0, 0.70, 0.00), // fairer, but 10 points less accurate
            Point {
                constant_seeds: 1, // DDP 0 because one seed predicts one class: skipped
                ..point("mmd", 3.0, 0.79, 0.0)
            },
            point("sinkhorn", 0.1, 0.79, 0.15), // no λ = 0 of its own: mmd's is the reference
            point("sinkhorn", 1.0, 0.77, 0.01),
        ];
        let sel = select(&pts);
        assert_eq!(sel.len(), 2);
        assert_eq!((sel[0].kind, sel[0].best.lambda), (PenaltyKind::Mmd, 1.0));
        assert_eq!(sel[0].reference.lambda, 0.0);
        assert_eq!(
            (sel[1].kind, sel[1].best.lambda),
            (PenaltyKind::Sinkhorn, 0.1)
        );
        assert_eq!(sel[1].reference.kind, PenaltyKind::Mmd);
    }
}
