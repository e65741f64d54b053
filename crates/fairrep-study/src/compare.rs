//! `fairrep report RUNS…`: several runs (a sweep's, or any) side by side — for every transfer
//! task the accuracy and DDP of each penalty kind and λ (median over seeds), the Pareto front
//! (no other point is both more accurate and fairer), the baselines (raw features with and
//! without the sensitive attribute), and SVG plots (plotters): the fronts per task and the
//! training curves.

use crate::error::StudyError;
pub use crate::matched::{Matched, Parity};
use crate::matched::{logistic_parity, matched, other};
pub use crate::references::{ReferencePoint, read_references};
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
    /// Seeds whose head predicts one class for all but [`NEAR_CONSTANT`] of the test rows (the
    /// constant ones included): a tiny DDP that says little.
    #[serde(default)]
    pub near_constant_seeds: usize,
    /// Median test AUC (`None` when a run has none).
    #[serde(default)]
    pub auc: Option<f64>,
    /// The 95% bootstrap interval of the AUC of the run whose AUC is the median.
    #[serde(default)]
    pub auc_ci: Option<[f64; 2]>,
    /// Median over the seeds of the worst DDP of the task's head families
    /// (`transfer.head_families`): the parity an unknown downstream user would see at worst.
    #[serde(default)]
    pub worst_ddp: Option<f64>,
    /// Median over the seeds of the certified demographic parity bound of the run's quantised
    /// release (`certificate.json`, when every seed's run has one).
    #[serde(default)]
    pub certified_dp: Option<f64>,
    /// Median over the seeds of the release's accuracy on this task (its cell-majority head).
    #[serde(default)]
    pub release_accuracy: Option<f64>,
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

pub use fairrep_report::health::NEAR_CONSTANT;

/// The bounds on the median DDP at which `fairrep report` gives the best accuracy of each
/// penalty kind ("accuracy at matched parity").
pub const PARITY_BOUNDS: [f64; 3] = fairrep_report::MATCHED_BOUNDS;

/// The samples of one (task, penalty kind, λ): one per run.
#[derive(Debug, Default)]
struct Runs {
    accuracy: Vec<Sample>,
    ddp: Vec<Sample>,
    auc: Vec<Sample>,
    worst_ddp: Vec<f64>,
    certified_dp: Vec<f64>,
    release_accuracy: Vec<f64>,
    constant: usize,
    near_constant: usize,
}

impl Point {
    fn new(kind: PenaltyKind, lambda: f64, runs: &Runs) -> Self {
        let (accuracy, accuracy_ci, accuracy_range) = summarise(&runs.accuracy);
        let (ddp, ddp_ci, ddp_range) = summarise(&runs.ddp);
        let (auc, auc_ci) = match runs.auc.len() == runs.accuracy.len() {
            true => {
                let (a, ci, _) = summarise(&runs.auc);
                (Some(a), ci)
            }
            false => (None, None),
        };
        Point {
            kind,
            lambda,
            seeds: runs.accuracy.len(),
            accuracy,
            ddp,
            accuracy_ci,
            ddp_ci,
            accuracy_range,
            ddp_range,
            constant_seeds: runs.constant,
            near_constant_seeds: runs.near_constant,
            auc,
            auc_ci,
            worst_ddp: (runs.worst_ddp.len() == runs.accuracy.len())
                .then(|| median(&mut runs.worst_ddp.clone())),
            certified_dp: (runs.certified_dp.len() == runs.accuracy.len())
                .then(|| median(&mut runs.certified_dp.clone())),
            release_accuracy: (runs.release_accuracy.len() == runs.accuracy.len())
                .then(|| median(&mut runs.release_accuracy.clone())),
            on_front: false,
        }
    }

    /// Whether no seed's head is (near-)constant.
    pub(crate) fn informative(&self) -> bool {
        self.constant_seeds == 0 && self.near_constant_seeds == 0
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
                        && p.informative()
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
    /// Test AUC.
    #[serde(default)]
    pub auc: Option<f64>,
}

/// The unprocessing baseline at one bound, over the seeds (each seed's first run).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UnprocessingPoint {
    /// The DDP bound the thresholds were tuned to on the validation split (`None`:
    /// unconstrained).
    pub bound: Option<f64>,
    /// Seeds behind the point.
    pub seeds: usize,
    /// Median test accuracy.
    pub accuracy: f64,
    /// Median test DDP.
    pub ddp: f64,
}

/// The unprocessing points of `task` over the runs (each run's seed and unprocessing), one
/// sample per seed (the baseline does not depend on λ).
fn unprocessing_points(
    runs: &[(u64, &[fairrep_report::Unprocessed])],
    task: &str,
) -> Vec<UnprocessingPoint> {
    let mut seen = Vec::new();
    let mut by_bound: Vec<(Option<f64>, Vec<f64>, Vec<f64>)> = Vec::new();
    for &(seed, unprocessing) in runs {
        if seen.contains(&seed) {
            continue;
        }
        let Some(u) = unprocessing.iter().find(|u| u.task == task) else {
            continue;
        };
        seen.push(seed);
        for p in &u.points {
            match by_bound.iter_mut().find(|(b, _, _)| *b == p.bound) {
                Some((_, acc, ddp)) => {
                    acc.push(p.accuracy);
                    ddp.push(p.ddp);
                }
                None => by_bound.push((p.bound, vec![p.accuracy], vec![p.ddp])),
            }
        }
    }
    by_bound
        .into_iter()
        .map(|(bound, mut acc, mut ddp)| UnprocessingPoint {
            bound,
            seeds: acc.len(),
            accuracy: median(&mut acc),
            ddp: median(&mut ddp),
        })
        .collect()
}

/// One task across the runs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TaskComparison {
    /// Task name.
    pub task: String,
    /// A transfer task (held out from the encoder) or a source task.
    #[serde(default = "transfer_role")]
    pub role: fairrep_data::Role,
    /// The test split's majority rate, the accuracy of a constant head.
    #[serde(default)]
    pub majority: f64,
    /// Its points, by kind then λ.
    pub points: Vec<Point>,
    /// Per kind, λ = 0 against the fairest λ within the accuracy tolerance.
    pub selected: Vec<Selection>,
    /// Per parity (the worst head's, the task's head's), kind and bound (each of
    /// [`PARITY_BOUNDS`] and each reference point's), the best accuracy at that parity.
    #[serde(default)]
    pub matched: Vec<Matched>,
    /// Published results for this task (`--reference`).
    #[serde(default)]
    pub references: Vec<ReferencePoint>,
    /// Warnings a reader must see: the representation lost the task at λ = 0, heads that are
    /// near-constant.
    #[serde(default)]
    pub flags: Vec<String>,
    /// Baselines.
    pub baselines: Vec<BaselinePoint>,
    /// The unprocessing baseline (needs the sensitive attribute at prediction time): per DDP
    /// bound, the median over the seeds.
    #[serde(default)]
    pub unprocessing: Vec<UnprocessingPoint>,
    /// The SVG plot of the task.
    pub plot: String,
}

fn transfer_role() -> fairrep_data::Role {
    fairrep_data::Role::Transfer
}

/// Whether a point's accuracy is no better than a constant head's (within half a point).
pub(crate) fn at_majority(accuracy: f64, majority: f64) -> bool {
    accuracy <= majority + 0.005
}

/// The warnings of a task: the λ = 0 representation below the raw features by more than its
/// bootstrap interval (in accuracy or AUC), and points whose heads are near-constant.
fn flags(points: &[Point], baselines: &[BaselinePoint], majority: f64) -> Vec<String> {
    let mut out = Vec::new();
    let raw = baselines
        .iter()
        .max_by(|a, b| a.accuracy.total_cmp(&b.accuracy));
    if let (Some(zero), Some(raw)) = (points.iter().find(|p| p.lambda == 0.0), raw) {
        let acc_lost = zero.accuracy_ci.is_some_and(|[_, hi]| hi < raw.accuracy);
        let auc_lost = matches!((zero.auc_ci, raw.auc), (Some([_, hi]), Some(r)) if hi < r);
        if acc_lost || auc_lost {
            let auc = match (zero.auc, zero.auc_ci, raw.auc) {
                (Some(a), Some([lo, hi]), Some(r)) => {
                    format!(", AUC {a:.4} [{lo:.4}, {hi:.4}] against {r:.4}")
                }
                _ => String::new(),
            };
            out.push(format!(
                "transfer lost: at λ = 0 the representation's head is below the raw features' \
                 beyond its bootstrap interval (accuracy {:.4} [{:.4}, {:.4}] against {:.4}{auc}; \
                 majority rate {majority:.4}): the encoder's source tasks do not carry this task, \
                 so a small DDP here says little about fairness",
                zero.accuracy,
                zero.accuracy_ci.map_or(f64::NAN, |c| c[0]),
                zero.accuracy_ci.map_or(f64::NAN, |c| c[1]),
                raw.accuracy,
            ));
        }
    }
    let near: Vec<String> = points
        .iter()
        .filter(|p| !p.informative() || at_majority(p.accuracy, majority))
        .map(|p| format!("{} λ = {}", p.kind, p.lambda))
        .collect();
    if !near.is_empty() {
        out.push(format!(
            "near-constant heads (one class for ≥ {:.0}% of the test rows in a seed, or accuracy \
             within half a point of the majority rate {majority:.4}): {}; their DDP is not \
             evidence of fairness",
            (1.0 - NEAR_CONSTANT) * 100.0,
            near.join(", ")
        ));
    }
    out
}

/// `report.json` of `fairrep report`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Comparison {
    /// Whose parity the headline matched-parity table is about (`--parity`).
    #[serde(default = "logistic_parity")]
    pub parity: Parity,
    /// The run directories read.
    pub runs: Vec<String>,
    /// Every transfer task.
    pub tasks: Vec<TaskComparison>,
    /// The training-curves plot.
    pub curves: String,
}

/// Whether `dir` is a run directory: `report.json` beside the run's `config.toml` (the output
/// of `fairrep report` has a `report.json` but no `config.toml`, so a comparison written into a
/// sweep's directory is never mistaken for one of its runs).
fn is_run(dir: &Path) -> bool {
    dir.join(files::REPORT).is_file() && dir.join(files::CONFIG).is_file()
}

/// The run directories named by `paths`: a run directory itself ([`is_run`]), or a directory
/// whose subdirectories are runs (a sweep).
pub fn collect_runs(paths: &[PathBuf]) -> Result<Vec<PathBuf>, StudyError> {
    let mut runs = Vec::new();
    for p in paths {
        if is_run(p) {
            runs.push(p.clone());
            continue;
        }
        if !p.is_dir() {
            return Err(StudyError::NoRuns(p.clone()));
        }
        let entries = std::fs::read_dir(p).map_err(|source| StudyError::Io {
            path: p.clone(),
            source,
        })?;
        let mut found: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|d| is_run(d))
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
/// A point whose heads are (near-)constant in a seed, or whose accuracy is at the `majority`
/// rate, is never on the front and dominates nothing: its low DDP is not evidence of fairness
/// (the report's own warning), so it must not be drawn on the front or starred.
fn mark_front(points: &mut [Point], majority: f64) {
    let usable = |p: &Point| p.informative() && !at_majority(p.accuracy, majority);
    let snapshot: Vec<(f64, f64)> = points
        .iter()
        .filter(|p| usable(p))
        .map(|p| (p.accuracy, p.ddp))
        .collect();
    for p in points.iter_mut() {
        p.on_front = usable(p)
            && !snapshot
                .iter()
                .any(|&(a, d)| a >= p.accuracy && d <= p.ddp && (a > p.accuracy || d < p.ddp));
    }
}

/// The comparison of `runs` (it names the plot files of each task; [`crate::report`] draws
/// them), and each run's training curve; `references` are published results shown beside
/// fairrep's (each for the task it names).
pub fn compare(
    runs: &[PathBuf],
    references: &[ReferencePoint],
    parity: Parity,
) -> Result<(Comparison, Vec<Curve>), StudyError> {
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
    // task → (kind, λ bits) → one sample per run
    let mut by_task: BTreeMap<String, BTreeMap<(PenaltyKind, u64), Runs>> = BTreeMap::new();
    // Transfer tasks first (the ones the method is about), then the source tasks.
    let mut order: Vec<(String, fairrep_data::Role, f64)> = Vec::new();
    let certificates: Vec<Option<fairrep_certify::Certificate>> = runs
        .iter()
        .map(|run| {
            let path = run.join(files::CERTIFICATE);
            path.is_file()
                .then(|| fairrep_report::read_json(&path, "certificate"))
                .transpose()
        })
        .collect::<Result<_, _>>()?;
    for (r, cert) in reports.iter().zip(&certificates) {
        let mut tasks: Vec<_> = binary_tasks(&r.tasks).collect();
        tasks.sort_by_key(|(t, _)| t.role != fairrep_data::Role::Transfer);
        for (t, m) in tasks {
            let s = &m.summary;
            // A binary task whose accuracy or DDP is undefined (one class or one group in the
            // test split) has no point on the front.
            let (Some(acc), Some(ddp)) = (s.accuracy, s.ddp) else {
                continue;
            };
            if !order.iter().any(|(n, _, _)| n == &t.name) {
                order.push((t.name.clone(), t.role, m.base_rate.max(1.0 - m.base_rate)));
            }
            let e = by_task
                .entry(t.name.clone())
                .or_default()
                .entry((r.penalty.kind, r.lambda.to_bits()))
                .or_default();
            let ci = m.ci95.as_ref();
            e.accuracy.push(Sample {
                value: acc,
                ci: ci.and_then(|c| c.accuracy),
            });
            e.ddp.push(Sample {
                value: ddp,
                ci: ci.and_then(|c| c.ddp),
            });
            if let Some(auc) = s.auc {
                e.auc.push(Sample {
                    value: auc,
                    ci: ci.and_then(|c| c.auc),
                });
            }
            if let Some(w) = m.worst_ddp {
                e.worst_ddp.push(w);
            }
            if let Some(c) = cert {
                e.certified_dp.push(c.demographic_parity().upper_bound);
                if let Some(h) = c
                    .heads
                    .iter()
                    .find(|h| h.task == t.name && h.family == "cell_majority")
                {
                    e.release_accuracy.push(h.accuracy);
                }
            }
            e.constant += usize::from(predicts_a_constant(s));
            e.near_constant += usize::from(fairrep_report::health::near_constant(s));
        }
    }
    order.sort_by_key(|(_, role, _)| *role != fairrep_data::Role::Transfer);
    let mut tasks = Vec::new();
    for (name, role, majority) in order {
        let mut points: Vec<Point> = by_task[&name]
            .iter()
            .map(|((kind, bits), runs)| Point::new(*kind, f64::from_bits(*bits), runs))
            .collect();
        points.sort_by(|a, b| {
            a.kind
                .to_string()
                .cmp(&b.kind.to_string())
                .then(a.lambda.total_cmp(&b.lambda))
        });
        mark_front(&mut points, majority);
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
                    auc: s.auc,
                })
            })
            .collect();
        let references: Vec<ReferencePoint> = references
            .iter()
            .filter(|r| r.task == name)
            .cloned()
            .collect();
        let mut bounds: Vec<f64> = PARITY_BOUNDS.to_vec();
        bounds.extend(references.iter().map(|r| r.dp_bound));
        bounds.sort_by(f64::total_cmp);
        bounds.dedup();
        let flags = flags(&points, &baselines, majority);
        let unprocessing = unprocessing_points(
            &reports
                .iter()
                .map(|r| (r.seed, &r.unprocessing[..]))
                .collect::<Vec<_>>(),
            &name,
        );
        let plot = format!("pareto-{name}.svg");
        tasks.push(TaskComparison {
            task: name,
            role,
            majority,
            matched: [parity, other(parity)]
                .into_iter()
                .chain(
                    points
                        .iter()
                        .any(|p| p.certified_dp.is_some())
                        .then_some(Parity::Certified),
                )
                .flat_map(|p| matched(&points, &bounds, p, majority))
                .collect(),
            points,
            selected,
            references,
            flags,
            baselines,
            unprocessing,
            plot,
        });
    }
    if let Some(r) = references
        .iter()
        .find(|r| !tasks.iter().any(|t| t.task == r.task))
    {
        return Err(StudyError::Reference {
            path: PathBuf::from("--reference"),
            line: 0,
            message: format!(
                "`{}` ({}) names the task `{}`, which no run has (tasks: {})",
                r.method,
                r.source,
                r.task,
                tasks
                    .iter()
                    .map(|t| t.task.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        });
    }
    let curves: Vec<Curve> = runs
        .iter()
        .zip(&reports)
        .map(|(run, r)| read_curve(run, r))
        .collect::<Result<_, _>>()?;
    let cmp = Comparison {
        parity,
        runs: runs.iter().map(|r| r.display().to_string()).collect(),
        tasks,
        curves: "curves.svg".to_string(),
    };
    Ok((cmp, curves))
}

/// The binary tasks of a report, with their metrics.
fn binary_tasks(
    tasks: &[TaskMetrics],
) -> impl Iterator<Item = (&TaskMetrics, &fairrep_report::BinaryMetrics)> {
    tasks.iter().filter_map(|t| t.as_binary().map(|b| (t, b)))
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
                "\n## {}{}\n\n![accuracy vs DDP]({})\n\nMajority rate (a constant head's accuracy): {:.4}.\n",
                t.task,
                if t.role == fairrep_data::Role::Source {
                    " (source task)"
                } else {
                    ""
                },
                t.plot,
                t.majority
            );
            for f in &t.flags {
                s += &format!("\n> **Warning:** {f}\n");
            }
            s += &t.matched_table(self.parity);
            s += &t.matched_table(other(self.parity));
            s += &t.matched_table(Parity::Certified);
            s += "\n| penalty | λ = 0 accuracy | λ = 0 DDP | best λ | accuracy | DDP |\n|---|---|---|---|---|---|\n";
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
            s += "\n| penalty | λ | seeds | accuracy | DDP | worst-head DDP | certified DP (release accuracy) | accuracy range | DDP range | constant | front |\n|---|---|---|---|---|---|---|---|---|---|---|\n";
            for p in &t.points {
                s += &format!(
                    "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
                    p.kind,
                    p.lambda,
                    p.seeds,
                    with_ci(p.accuracy, p.accuracy_ci),
                    with_ci(p.ddp, p.ddp_ci),
                    p.worst_ddp.map_or("–".into(), |w| format!("{w:.4}")),
                    match (p.certified_dp, p.release_accuracy) {
                        (Some(c), Some(a)) => format!("{c:.4} ({a:.4})"),
                        (Some(c), None) => format!("{c:.4}"),
                        _ => "–".into(),
                    },
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
                    "| baseline: {} | – | – | {:.4} | {:.4} | | | | | | |\n",
                    b.inputs, b.accuracy, b.ddp
                );
            }
        }
        s + &format!("\nTraining curves: ![curves]({})\n", self.curves)
    }
}

/// A point of one seed (for the tests of this module and of `matched`).
#[cfg(test)]
pub(crate) fn point(kind: &str, lambda: f64, acc: f64, ddp: f64) -> Point {
    let one = |v| [Sample { value: v, ci: None }];
    let kind = match kind {
        "mmd" => PenaltyKind::Mmd,
        "sinkhorn" => PenaltyKind::Sinkhorn,
        _ => PenaltyKind::Adversarial,
    };
    let runs = Runs {
        accuracy: one(acc).to_vec(),
        ddp: one(ddp).to_vec(),
        ..Runs::default()
    };
    Point::new(kind, lambda, &runs)
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
        mark_front(&mut pts, 0.5);
        let front: Vec<bool> = pts.iter().map(|p| p.on_front).collect();
        // (0.78, 0.05) is dominated by (0.79, 0.03); the duplicates do not dominate each other.
        assert_eq!(front, [true, true, false, true, true]);
        // A point at the majority rate (0.76 of 0.758) with DDP 0.001 dominates nothing and is
        // not on the front; nor is a near-constant one.
        pts.push(p(0.76, 0.001));
        pts[1].near_constant_seeds = 1;
        mark_front(&mut pts, 0.758);
        let front: Vec<bool> = pts.iter().map(|p| p.on_front).collect();
        assert_eq!(front, [true, false, true, true, true, false]);
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), 2.5);
    }

    #[test]
    fn unprocessing_takes_each_seeds_first_run_and_the_median() {
        let one = |acc: f64| {
            vec![fairrep_report::Unprocessed {
                task: "income".into(),
                model: "GBDT".into(),
                points: vec![fairrep_report::UnprocessedPoint {
                    bound: Some(0.05),
                    accuracy: acc,
                    ddp: 0.04,
                    tuning_ddp: 0.05,
                    thresholds: vec![0.5, 0.6],
                }],
            }]
        };
        // Seed 1 twice (two λ of one seed: the same baseline), seeds 2 and 3 once.
        let (a, b, c, d) = (one(0.80), one(0.10), one(0.82), one(0.81));
        let reports = [(1, &a[..]), (1, &b[..]), (2, &c[..]), (3, &d[..])];
        let u = unprocessing_points(&reports, "income");
        assert_eq!(u.len(), 1);
        assert_eq!(u[0].seeds, 3);
        assert_eq!(u[0].accuracy, 0.81);
        assert!(unprocessing_points(&reports, "degree").is_empty());
    }

    #[test]
    fn a_lost_transfer_task_and_near_constant_heads_are_flagged() {
        let zero = Point {
            accuracy_ci: Some([0.935, 0.945]),
            auc: Some(0.873),
            auc_ci: Some([0.865, 0.880]),
            ..point("mmd", 0.0, 0.9398, 0.01)
        };
        let raw = BaselinePoint {
            inputs: "raw".into(),
            accuracy: 0.941,
            ddp: 0.1,
            auc: Some(0.903),
        };
        // Accuracy within the interval, AUC beyond it: lost; 0.9398 is within half a point of
        // the majority rate 0.938.
        let f = flags(
            std::slice::from_ref(&zero),
            std::slice::from_ref(&raw),
            0.938,
        );
        assert_eq!(f.len(), 2, "{f:?}");
        assert!(
            f[0].starts_with("transfer lost") && f[0].contains("AUC 0.8730"),
            "{f:?}"
        );
        assert!(f[1].contains("mmd λ = 0"), "{f:?}");
        // A task the representation carries: no flag.
        let fine = Point {
            auc_ci: Some([0.90, 0.91]),
            ..zero.clone()
        };
        assert!(flags(&[fine], &[raw], 0.6).is_empty());
    }

    #[test]
    fn reference_files_are_read_and_bad_lines_named() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("ref.csv");
        std::fs::write(
            &p,
            "method,task,dp_bound,accuracy,source\n# a comment\nFARE,charlson,0.05,0.692,FARE (ICML 2023)\n",
        )
        .unwrap();
        let r = read_references(&p).unwrap();
        assert_eq!(r.len(), 1);
        assert_eq!(
            (r[0].method.as_str(), r[0].dp_bound, r[0].accuracy),
            ("FARE", 0.05, 0.692)
        );
        std::fs::write(
            &p,
            "method,task,dp_bound,accuracy,source\nFNF,charlson,0.05,high,x\n",
        )
        .unwrap();
        let e = read_references(&p).unwrap_err().to_string();
        assert!(
            e.contains("line 2") && e.contains("`accuracy`") && e.contains("high"),
            "{e}"
        );
        std::fs::write(&p, "method,task,accuracy\n").unwrap();
        let e = read_references(&p).unwrap_err().to_string();
        assert!(e.contains("line 1") && e.contains("header"), "{e}");
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
