//! The comparison's SVG plots (plotters): accuracy against DDP per task, with each penalty
//! kind's front and the baselines, and the training curves as small multiples.

use crate::compare::{Curve, Point, TaskComparison};
use crate::error::StudyError;
use fairrep_config::PenaltyKind;
use plotters::prelude::*;
use std::path::Path;

fn plot_error(path: &Path, e: impl std::fmt::Display) -> StudyError {
    StudyError::Plot {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// The points of `kind`, one per position, labelled with their λ values (`0.1, 1` where
/// several λ land on the same point; `(constant)` where every seed predicts one class).
fn lambda_labels(points: &[Point], kind: PenaltyKind) -> Vec<(f64, f64, String)> {
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
///
/// A point whose heads are near-constant in some seed is drawn hollow (its DDP is not evidence
/// of fairness); published results (`--reference`) are crosses labelled with the method, at
/// their DP bound; the majority rate (a constant head's accuracy) is a dashed line. Each point's
/// worst head family (`worst_ddp`) is a hollow square at the same accuracy, joined to it by a
/// thin line: how far right a stronger downstream model moves the point.
pub fn plot_front(path: &Path, t: &TaskComparison) -> Result<(), StudyError> {
    let (task, points, baselines) = (&t.task, &t.points, &t.baselines);
    let fail = |e: &dyn std::fmt::Display| plot_error(path, e);
    let all: Vec<(f64, f64)> = points
        .iter()
        .map(|p| (p.ddp, p.accuracy))
        .chain(
            points
                .iter()
                .filter_map(|p| p.worst_ddp.map(|w| (w, p.accuracy))),
        )
        .chain(baselines.iter().map(|b| (b.ddp, b.accuracy)))
        .chain(t.references.iter().map(|r| (r.dp_bound, r.accuracy)))
        .chain((t.majority > 0.0).then_some((0.0, t.majority)))
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
    // The intervals widen the ranges; the top gets 35% headroom, where the legend goes, so
    // that it covers no point.
    let (x1, y0, y1) = points.iter().fold((x1, y0, y1), |(a, b, c), p| {
        (
            a.max(p.ddp_ci.map_or(a, |ci| ci[1])),
            b.min(p.accuracy_ci.map_or(b, |ci| ci[0])),
            c.max(p.accuracy_ci.map_or(c, |ci| ci[1])),
        )
    });
    let pad = |a: f64, b: f64| ((b - a).abs() * 0.1).max(0.005);
    let (px, py) = (pad(x0, x1), pad(y0, y1));
    let legend_room = (y1 - y0 + 2.0 * py) * 0.35;
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
        .build_cartesian_2d((x0 - px).max(0.0)..x1 + px, y0 - py..y1 + py + legend_room)
        .map_err(|e| fail(&e))?;
    chart
        .configure_mesh()
        .x_desc("DDP (lower is fairer)")
        .y_desc("accuracy")
        .draw()
        .map_err(|e| fail(&e))?;
    let kinds: Vec<PenaltyKind> = {
        let mut k: Vec<PenaltyKind> = points.iter().map(|p| p.kind).collect();
        k.dedup();
        k
    };
    for (i, &kind) in kinds.iter().enumerate() {
        let color = OKABE_ITO[i % OKABE_ITO.len()].to_rgba();
        let mut front: Vec<(f64, f64)> = points
            .iter()
            .filter(|p| p.kind == kind && p.on_front)
            .map(|p| (p.ddp, p.accuracy))
            .collect();
        front.sort_by(|a, b| a.0.total_cmp(&b.0));
        chart
            .draw_series(LineSeries::new(front, color.stroke_width(2)))
            .map_err(|e| fail(&e))?
            .label(format!("{kind} (front)"))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color));
        // The 95% bootstrap intervals of the median run: accuracy (vertical), DDP (horizontal).
        let mine = || points.iter().filter(|p| p.kind == kind);
        chart
            .draw_series(mine().filter_map(|p| {
                let [lo, hi] = p.ddp_ci?;
                Some(ErrorBar::new_horizontal(
                    p.accuracy,
                    lo,
                    p.ddp,
                    hi,
                    color.mix(0.6),
                    6,
                ))
            }))
            .map_err(|e| fail(&e))?;
        let drawn = chart
            .draw_series(mine().filter_map(|p| {
                let [lo, hi] = p.accuracy_ci?;
                Some(ErrorBar::new_vertical(
                    p.ddp,
                    lo,
                    p.accuracy,
                    hi,
                    color.mix(0.6),
                    6,
                ))
            }))
            .map_err(|e| fail(&e))?;
        if i == 0 && points.iter().any(|p| p.accuracy_ci.is_some()) {
            drawn
                .label("95% interval (median run)")
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x + 8, y - 5), (x + 8, y + 5)], BLACK.stroke_width(1))
                });
        }
        chart
            .draw_series(
                lambda_labels(points, kind)
                    .into_iter()
                    .map(|(x, y, label)| {
                        let near = points.iter().any(|p| {
                            p.kind == kind
                                && p.ddp == x
                                && p.accuracy == y
                                && (p.near_constant_seeds > 0 || p.constant_seeds > 0)
                        });
                        let style = if near {
                            color.stroke_width(1)
                        } else {
                            color.filled()
                        };
                        EmptyElement::at((x, y))
                            + Circle::new((0, 0), 4, style)
                            + Text::new(
                                label,
                                (5, -14),
                                ("sans-serif", 11).into_font().color(&color),
                            )
                    }),
            )
            .map_err(|e| fail(&e))?;
        let worst: Vec<(f64, f64, f64)> = points
            .iter()
            .filter(|p| p.kind == kind)
            .filter_map(|p| p.worst_ddp.map(|w| (p.ddp, w, p.accuracy)))
            .collect();
        for &(d, w, y) in &worst {
            chart
                .draw_series(LineSeries::new(vec![(d, y), (w, y)], color.stroke_width(1)))
                .map_err(|e| fail(&e))?;
        }
        if !worst.is_empty() {
            chart
                .draw_series(worst.iter().map(|&(_, w, y)| {
                    EmptyElement::at((w, y))
                        + Rectangle::new([(-4, -4), (4, 4)], color.stroke_width(1))
                }))
                .map_err(|e| fail(&e))?
                .label(format!("{kind}: worst head family"))
                .legend(move |(x, y)| {
                    Rectangle::new([(x + 4, y - 4), (x + 12, y + 4)], color.stroke_width(1))
                });
        }
    }
    // A constant head's accuracy.
    if t.majority > 0.0 {
        let grey = RGBColor(120, 120, 120);
        let (xa, xb) = (chart.x_range().start, chart.x_range().end);
        chart
            .draw_series(DashedLineSeries::new(
                vec![(xa, t.majority), (xb, t.majority)],
                6,
                4,
                grey.stroke_width(1),
            ))
            .map_err(|e| fail(&e))?
            .label("majority rate (constant head)")
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], grey));
    }
    // Published results: a cross at (DP bound, accuracy), labelled with the method.
    for (i, r) in t.references.iter().enumerate() {
        let series = chart
            .draw_series(std::iter::once(
                EmptyElement::at((r.dp_bound, r.accuracy))
                    + Cross::new((0, 0), 5, BLACK.stroke_width(2))
                    + Text::new(
                        r.method.clone(),
                        (6, 4),
                        ("sans-serif", 11).into_font().color(&BLACK),
                    ),
            ))
            .map_err(|e| fail(&e))?;
        if i == 0 {
            series
                .label("published (at its DP bound)")
                .legend(|(x, y)| Cross::new((x + 8, y), 5, BLACK.stroke_width(2)));
        }
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

/// An epoch axis label: a whole number ("5", not "5.0"); empty between whole epochs.
fn epoch_label(x: f64) -> String {
    match (x - x.round()).abs() < 1e-9 {
        true => format!("{}", x.round() as i64),
        false => String::new(),
    }
}

/// The training curves as small multiples: one row per penalty kind, the mean source-task loss
/// (left) and the run's own penalty on the validation split (right) per epoch, one line per run, coloured by λ (the seeds of
/// a λ share its colour). Penalties of different kinds have different scales, hence one row
/// each.
pub fn plot_curves(path: &Path, curves: &[Curve]) -> Result<(), StudyError> {
    let fail = |e: &dyn std::fmt::Display| plot_error(path, e);
    let mut kinds: Vec<PenaltyKind> = curves.iter().map(|c| c.kind).collect();
    kinds.sort_by_key(|k| k.to_string());
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
        for (col, (what, pick)) in [("source-task loss", 1usize), ("validation penalty", 2usize)]
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
            // 5% padding below; above, 35% more for the legend, which then covers no line.
            let (y0, y1) = if y0.is_finite() {
                let pad = ((y1 - y0) * 0.05).max(1e-6);
                (y0 - pad, y1 + pad + (y1 - y0 + 2.0 * pad) * 0.35)
            } else {
                (0.0, 1.0)
            };
            let mut chart = ChartBuilder::on(&panels[k * 2 + col])
                .caption(format!("{kind}: {what}"), ("sans-serif", 15))
                .margin(8)
                .x_label_area_size(30)
                .y_label_area_size(56)
                .margin_right(24) // the last epoch's label is not cut at the edge
                .build_cartesian_2d(1.0..x1, y0..y1)
                .map_err(|e| fail(&e))?;
            chart
                .configure_mesh()
                .x_desc("epoch")
                .x_labels((x1 as usize).min(10))
                .x_label_formatter(&|x| epoch_label(*x))
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
