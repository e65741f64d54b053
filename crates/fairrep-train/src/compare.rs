//! `fairrep report RUNS…`: several runs (a sweep's, or any) side by side — for every transfer
//! task the accuracy and DDP of each penalty kind and λ (median over seeds), the Pareto front
//! (no other point is both more accurate and fairer), the baselines (raw features with and
//! without the sensitive attribute), and SVG plots (plotters): the fronts per task and the
//! training curves.

use crate::error::{TrainError, io};
use plotters::prelude::*;
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One (penalty kind, λ) of one transfer task, over the seeds run.
#[derive(Debug, Clone, Serialize)]
pub struct Point {
    /// `mmd`, `sinkhorn` or `adversarial`.
    pub kind: String,
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
#[derive(Debug, Clone, Serialize)]
pub struct Selection {
    /// The penalty kind.
    pub kind: String,
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
    fn new(kind: &str, lambda: f64, acc: &[Sample], ddp: &[Sample], constant_seeds: usize) -> Self {
        let (accuracy, accuracy_ci, accuracy_range) = summarise(acc);
        let (ddp, ddp_ci, ddp_range) = summarise(ddp);
        Point {
            kind: kind.to_string(),
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
    let mut kinds: Vec<&str> = points.iter().map(|p| p.kind.as_str()).collect();
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
                kind: kind.to_string(),
                reference: reference.clone(),
                best: best.clone(),
            })
        })
        .collect()
}

/// A baseline of one transfer task (first run's; they do not depend on λ).
#[derive(Debug, Clone, Serialize)]
pub struct BaselinePoint {
    /// What the head sees.
    pub inputs: String,
    /// Test accuracy.
    pub accuracy: f64,
    /// Test DDP.
    pub ddp: f64,
}

/// One transfer task across the runs.
#[derive(Debug, Clone, Serialize)]
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
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    /// The run directories read.
    pub runs: Vec<String>,
    /// Every transfer task.
    pub tasks: Vec<TaskComparison>,
    /// The training-curves plot.
    pub curves: String,
}

/// A run's `report.json`, parsed.
pub(crate) fn read_json(path: &Path) -> Result<Value, TrainError> {
    let text = std::fs::read_to_string(path).map_err(io(path))?;
    serde_json::from_str(&text).map_err(|e| TrainError::Checkpoint {
        path: path.to_path_buf(),
        message: format!("not a fairrep report: {e}"),
    })
}

/// The run directories named by `paths`: a run directory itself (it has report.json), or a
/// directory whose subdirectories are runs (a sweep).
pub fn collect_runs(paths: &[PathBuf]) -> Result<Vec<PathBuf>, TrainError> {
    let mut runs = Vec::new();
    for p in paths {
        if p.join("report.json").is_file() {
            runs.push(p.clone());
            continue;
        }
        let entries = std::fs::read_dir(p).map_err(io(p))?;
        let mut found: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|d| d.join("report.json").is_file())
            .collect();
        if found.is_empty() {
            return Err(TrainError::Checkpoint {
                path: p.clone(),
                message: "neither a run directory (no report.json) nor a directory of runs".into(),
            });
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

/// Builds the comparison of `runs` and writes `report.json`, `report.md`, one
/// `pareto-<task>.svg` per transfer task and `curves.svg` into `out`.
pub fn compare(runs: &[PathBuf], out: &Path) -> Result<Comparison, TrainError> {
    std::fs::create_dir_all(out).map_err(io(out))?;
    let reports: Vec<Value> = runs
        .iter()
        .map(|r| read_json(&r.join("report.json")))
        .collect::<Result<_, _>>()?;
    // task → (kind, λ bits) → (accuracies, DDPs, runs predicting a constant), one per run
    type Samples = (Vec<Sample>, Vec<Sample>, usize);
    let constant = |t: &Value| -> bool {
        let rates: Vec<f64> = t["by_group"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|g| g["selection_rate"].as_f64())
            .collect();
        !rates.is_empty() && (rates.iter().all(|&r| r == 0.0) || rates.iter().all(|&r| r == 1.0))
    };
    let ci = |t: &Value, key: &str| -> Option<[f64; 2]> {
        let v = t["ci95"][key].as_array()?;
        Some([v.first()?.as_f64()?, v.get(1)?.as_f64()?])
    };
    let mut by_task: BTreeMap<String, BTreeMap<(String, u64), Samples>> = BTreeMap::new();
    let mut order: Vec<String> = Vec::new();
    for r in &reports {
        let kind = r["penalty"]["kind"].as_str().unwrap_or("?").to_string();
        let lambda = r["lambda"].as_f64().unwrap_or(f64::NAN);
        for t in r["tasks"].as_array().into_iter().flatten() {
            if t["role"] != "transfer" {
                continue;
            }
            let (Some(acc), Some(ddp)) = (t["accuracy"].as_f64(), t["ddp"].as_f64()) else {
                continue; // regression tasks have no accuracy/DDP
            };
            let name = t["name"].as_str().unwrap_or("?").to_string();
            if !order.contains(&name) {
                order.push(name.clone());
            }
            let e = by_task
                .entry(name)
                .or_default()
                .entry((kind.clone(), lambda.to_bits()))
                .or_default();
            e.0.push(Sample {
                value: acc,
                ci: ci(t, "accuracy"),
            });
            e.1.push(Sample {
                value: ddp,
                ci: ci(t, "ddp"),
            });
            e.2 += usize::from(constant(t));
        }
    }
    let mut tasks = Vec::new();
    for name in order {
        let mut points: Vec<Point> = by_task[&name]
            .iter()
            .map(|((kind, bits), (acc, ddp, k))| {
                Point::new(kind, f64::from_bits(*bits), acc, ddp, *k)
            })
            .collect();
        points.sort_by(|a, b| a.kind.cmp(&b.kind).then(a.lambda.total_cmp(&b.lambda)));
        mark_front(&mut points);
        let selected = select(&points);
        let baselines: Vec<BaselinePoint> = reports[0]["baselines"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|b| {
                let t = b["tasks"].as_array()?.iter().find(|t| t["name"] == name)?;
                Some(BaselinePoint {
                    inputs: b["inputs"].as_str()?.to_string(),
                    accuracy: t["accuracy"].as_f64()?,
                    ddp: t["ddp"].as_f64()?,
                })
            })
            .collect();
        let plot = format!("pareto-{name}.svg");
        plot_front(&out.join(&plot), &name, &points, &baselines)?;
        tasks.push(TaskComparison {
            task: name,
            points,
            selected,
            baselines,
            plot,
        });
    }
    let curves = "curves.svg".to_string();
    plot_curves(&out.join(&curves), runs, &reports)?;
    let cmp = Comparison {
        runs: runs.iter().map(|r| r.display().to_string()).collect(),
        tasks,
        curves,
    };
    let json = serde_json::to_string_pretty(&cmp)
        .map_err(|e| TrainError::Internal(format!("serialising the comparison: {e}")))?;
    let path = out.join("report.json");
    std::fs::write(&path, json).map_err(io(&path))?;
    let path = out.join("report.md");
    std::fs::write(&path, cmp.markdown()).map_err(io(&path))?;
    Ok(cmp)
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

fn plot_error(path: &Path, e: impl std::fmt::Display) -> TrainError {
    TrainError::Internal(format!("plotting {}: {e}", path.display()))
}

/// The points of `kind`, one per position, labelled with their λ values (`0.1, 1` where
/// several λ land on the same point; `(constant)` where every seed predicts one class).
fn lambda_labels(points: &[Point], kind: &str) -> Vec<(f64, f64, String)> {
    let mut out: Vec<(f64, f64, String)> = Vec::new();
    let mut constant: Vec<bool> = Vec::new();
    for p in points.iter().filter(|p| p.kind == kind) {
        match out
            .iter_mut()
            .position(|(x, y, _)| *x == p.ddp && *y == p.accuracy)
        {
            Some(i) => {
                out[i].2 += &format!(", {}", p.lambda);
                constant[i] &= p.constant_seeds == p.seeds;
            }
            None => {
                out.push((p.ddp, p.accuracy, format!("{}", p.lambda)));
                constant.push(p.constant_seeds == p.seeds);
            }
        }
    }
    // A point where every seed predicts one class says so.
    for (o, c) in out.iter_mut().zip(constant) {
        if c {
            o.2 += " (constant)";
        }
    }
    out
}

/// The Okabe–Ito colour-blind-safe palette (yellow left out: unreadable on white).
const OKABE_ITO: [RGBColor; 6] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
];

/// Accuracy (y) against DDP (x): each kind's points (labelled with λ) joined along its front,
/// baselines marked.
fn plot_front(
    path: &Path,
    task: &str,
    points: &[Point],
    baselines: &[BaselinePoint],
) -> Result<(), TrainError> {
    let fail = |e: &dyn std::fmt::Display| plot_error(path, e);
    let all: Vec<(f64, f64)> = points
        .iter()
        .map(|p| (p.ddp, p.accuracy))
        .chain(baselines.iter().map(|b| (b.ddp, b.accuracy)))
        .collect();
    let (x0, x1) = all
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| {
            (a.min(p.0), b.max(p.0))
        });
    let (y0, y1) = all
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| {
            (a.min(p.1), b.max(p.1))
        });
    let pad = |a: f64, b: f64| ((b - a).abs() * 0.1).max(0.005);
    let (px, py) = (pad(x0, x1), pad(y0, y1));
    let root = SVGBackend::new(path, (720, 480)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| fail(&e))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!("{task}: accuracy vs DDP (test)"),
            ("sans-serif", 20),
        )
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(56)
        .build_cartesian_2d((x0 - px).max(0.0)..x1 + px, y0 - py..y1 + py)
        .map_err(|e| fail(&e))?;
    chart
        .configure_mesh()
        .x_desc("DDP (lower is fairer)")
        .y_desc("accuracy")
        .draw()
        .map_err(|e| fail(&e))?;
    let kinds: Vec<&str> = {
        let mut k: Vec<&str> = points.iter().map(|p| p.kind.as_str()).collect();
        k.dedup();
        k
    };
    for (i, kind) in kinds.iter().enumerate() {
        let color = OKABE_ITO[i % OKABE_ITO.len()].to_rgba();
        let mut front: Vec<(f64, f64)> = points
            .iter()
            .filter(|p| p.kind == *kind && p.on_front)
            .map(|p| (p.ddp, p.accuracy))
            .collect();
        front.sort_by(|a, b| a.0.total_cmp(&b.0));
        chart
            .draw_series(LineSeries::new(front, color.stroke_width(2)))
            .map_err(|e| fail(&e))?
            .label(format!("{kind} (front)"))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color));
        chart
            .draw_series(
                lambda_labels(points, kind)
                    .into_iter()
                    .map(|(x, y, label)| {
                        EmptyElement::at((x, y))
                            + Circle::new((0, 0), 4, color.filled())
                            + Text::new(
                                label,
                                (5, -14),
                                ("sans-serif", 11).into_font().color(&color),
                            )
                    }),
            )
            .map_err(|e| fail(&e))?;
    }
    // Raw features with the sensitive attribute: a filled triangle; without: a hollow one.
    let hollow = |(x, y): (i32, i32)| {
        PathElement::new(
            vec![(x, y - 7), (x + 6, y + 4), (x - 6, y + 4), (x, y - 7)],
            BLACK.stroke_width(1),
        )
    };
    for (b, filled) in baselines.iter().zip([true, false]) {
        let at = EmptyElement::at((b.ddp, b.accuracy));
        if filled {
            chart
                .draw_series(std::iter::once(
                    at + TriangleMarker::new((0, 0), 7, BLACK.filled()),
                ))
                .map_err(|e| fail(&e))?
                .label("raw features with s")
                .legend(|(x, y)| TriangleMarker::new((x + 8, y), 6, BLACK.filled()));
        } else {
            chart
                .draw_series(std::iter::once(at + hollow((0, 0))))
                .map_err(|e| fail(&e))?
                .label("raw features without s")
                .legend(move |(x, y)| hollow((x + 8, y)));
        }
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(|e| fail(&e))?;
    root.present().map_err(|e| fail(&e))
}

/// One run's training curve: its penalty kind, λ, and per epoch `(epoch, task loss, penalty)`.
struct Curve {
    kind: String,
    lambda: f64,
    epochs: Vec<(f64, f64, f64)>,
}

fn read_curve(run: &Path, report: &Value) -> Curve {
    let text = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap_or_default();
    Curve {
        kind: report["penalty"]["kind"]
            .as_str()
            .unwrap_or("?")
            .to_string(),
        lambda: report["lambda"].as_f64().unwrap_or(f64::NAN),
        epochs: text
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter_map(|v| {
                Some((
                    v["epoch"].as_f64()?,
                    v["task_loss"].as_f64()?,
                    v["penalty"].as_f64()?,
                ))
            })
            .collect(),
    }
}

/// The training curves as small multiples: one row per penalty kind, the mean source-task loss
/// (left) and the mean penalty (right) per epoch, one line per run, coloured by λ (the seeds of
/// a λ share its colour). Penalties of different kinds have different scales, hence one row
/// each.
fn plot_curves(path: &Path, runs: &[PathBuf], reports: &[Value]) -> Result<(), TrainError> {
    let fail = |e: &dyn std::fmt::Display| plot_error(path, e);
    let curves: Vec<Curve> = runs
        .iter()
        .zip(reports)
        .map(|(r, rep)| read_curve(r, rep))
        .collect();
    let mut kinds: Vec<&str> = curves.iter().map(|c| c.kind.as_str()).collect();
    kinds.sort_unstable();
    kinds.dedup();
    let mut lambdas: Vec<f64> = curves.iter().map(|c| c.lambda).collect();
    lambdas.sort_by(f64::total_cmp);
    lambdas.dedup();
    let colour = |l: f64| {
        let i = lambdas.iter().position(|&x| x == l).unwrap_or(0);
        OKABE_ITO[i % OKABE_ITO.len()].to_rgba()
    };
    let x1 = curves
        .iter()
        .flat_map(|c| c.epochs.iter().map(|e| e.0))
        .fold(2.0f64, f64::max);
    let rows = kinds.len().max(1);
    let root = SVGBackend::new(path, (960, 40 + 260 * rows as u32)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| fail(&e))?;
    let root = root
        .titled(
            "training curves per epoch (one line per run, colour = λ)",
            ("sans-serif", 20),
        )
        .map_err(|e| fail(&e))?;
    let panels = root.split_evenly((rows, 2));
    for (k, kind) in kinds.iter().enumerate() {
        for (col, (what, pick)) in [("source-task loss", 1usize), ("penalty", 2usize)]
            .into_iter()
            .enumerate()
        {
            let series: Vec<(f64, Vec<(f64, f64)>)> = curves
                .iter()
                .filter(|c| c.kind == *kind)
                .map(|c| {
                    let pts = c
                        .epochs
                        .iter()
                        .map(|e| (e.0, if pick == 1 { e.1 } else { e.2 }))
                        .filter(|p| p.1.is_finite())
                        .collect();
                    (c.lambda, pts)
                })
                .collect();
            let (y0, y1) = series
                .iter()
                .flat_map(|s| s.1.iter().map(|p| p.1))
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), y| {
                    (a.min(y), b.max(y))
                });
            let (y0, y1) = if y0.is_finite() {
                let pad = ((y1 - y0) * 0.05).max(1e-6);
                (y0 - pad, y1 + pad)
            } else {
                (0.0, 1.0)
            };
            let mut chart = ChartBuilder::on(&panels[k * 2 + col])
                .caption(format!("{kind}: {what}"), ("sans-serif", 15))
                .margin(8)
                .x_label_area_size(30)
                .y_label_area_size(56)
                .build_cartesian_2d(1.0..x1, y0..y1)
                .map_err(|e| fail(&e))?;
            chart
                .configure_mesh()
                .x_desc("epoch")
                .draw()
                .map_err(|e| fail(&e))?;
            let mut labelled: Vec<f64> = Vec::new();
            for (lambda, pts) in series {
                let c = colour(lambda);
                let drawn = chart
                    .draw_series(LineSeries::new(pts, c.stroke_width(2)))
                    .map_err(|e| fail(&e))?;
                if !labelled.contains(&lambda) {
                    labelled.push(lambda);
                    drawn
                        .label(format!("λ = {lambda}"))
                        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], c));
                }
            }
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperRight)
                .background_style(WHITE.mix(0.8))
                .border_style(BLACK)
                .draw()
                .map_err(|e| fail(&e))?;
        }
    }
    root.present().map_err(|e| fail(&e))
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
        assert_eq!((sel[0].kind.as_str(), sel[0].best.lambda), ("mmd", 1.0));
        assert_eq!(sel[0].reference.lambda, 0.0);
        assert_eq!(
            (sel[1].kind.as_str(), sel[1].best.lambda),
            ("sinkhorn", 0.1)
        );
        assert_eq!(sel[1].reference.kind, "mmd");
    }
}
