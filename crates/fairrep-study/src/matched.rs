//! Accuracy at matched parity: which head's parity (the worst head family's, the task's own
//! head's, the certified release's) places a point within a DDP bound, the best point of each
//! penalty kind within each bound, and the tables of `report.md`.

use crate::compare::{Point, TaskComparison, at_majority};
use fairrep_config::PenaltyKind;
use serde::{Deserialize, Serialize};

/// Which head's parity "matched parity" is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Parity {
    /// The worst DDP over the head families fitted on the frozen representation
    /// (`transfer.head_families`): what an unknown downstream model would show at worst.
    #[default]
    Worst,
    /// The DDP of the task's own head (`transfer.head`, logistic by default).
    Logistic,
    /// The certified demographic parity bound of the run's quantised release
    /// (`certificate.json`): the accuracy is then the release's (its cell-majority head's).
    Certified,
}

impl Parity {
    /// A point's DDP under this parity (`None`: the runs have no head families).
    pub fn of(self, p: &Point) -> Option<f64> {
        match self {
            Parity::Worst => p.worst_ddp,
            Parity::Logistic => Some(p.ddp),
            Parity::Certified => p.certified_dp,
        }
    }

    /// The accuracy a point is ranked by under this parity: the task head's, or the release's.
    pub fn accuracy(self, p: &Point) -> Option<f64> {
        match self {
            Parity::Certified => p.release_accuracy,
            _ => Some(p.accuracy),
        }
    }
}

impl std::fmt::Display for Parity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Parity::Worst => "worst-head DDP",
            Parity::Logistic => "DDP of the task's head",
            Parity::Certified => "certified DP",
        })
    }
}

pub(crate) fn logistic_parity() -> Parity {
    Parity::Logistic
}

/// The best median accuracy of one penalty kind among its λ whose median DDP (of the task's
/// head, or the worst head family's) is at most `bound` (heads that are constant or
/// near-constant in any seed excluded).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Matched {
    /// Whose DDP is within the bound.
    #[serde(default = "logistic_parity")]
    pub parity: Parity,
    /// The penalty kind.
    pub kind: PenaltyKind,
    /// The bound on the median DDP.
    pub bound: f64,
    /// The point (`None`: no λ reaches the bound with an informative head).
    pub best: Option<Point>,
}

/// The [`Matched`] points of a task's `points` for each kind and bound, under `parity`. A point
/// must be informative: no near-constant head in any seed, or, for the certified release, a
/// release accuracy above the task's `majority` rate (by half a point).
pub(crate) fn matched(
    points: &[Point],
    bounds: &[f64],
    parity: Parity,
    majority: f64,
) -> Vec<Matched> {
    let mut kinds: Vec<PenaltyKind> = points.iter().map(|p| p.kind).collect();
    kinds.dedup();
    let mut out = Vec::new();
    for kind in kinds {
        for &bound in bounds {
            let best = points
                .iter()
                .filter(|p| {
                    let informative = match parity {
                        Parity::Certified => parity
                            .accuracy(p)
                            .is_some_and(|a| !at_majority(a, majority)),
                        _ => p.informative(),
                    };
                    p.kind == kind && informative && parity.of(p).is_some_and(|d| d <= bound)
                })
                .max_by(|a, b| {
                    let acc = |p| parity.accuracy(p).unwrap_or(f64::NAN);
                    acc(a).total_cmp(&acc(b)).then(b.ddp.total_cmp(&a.ddp))
                })
                .cloned();
            out.push(Matched {
                parity,
                kind,
                bound,
                best,
            });
        }
    }
    out
}

/// The parity that is not `p` (of the two a headline can be).
pub(crate) fn other(p: Parity) -> Parity {
    match p {
        Parity::Worst | Parity::Certified => Parity::Logistic,
        Parity::Logistic => Parity::Worst,
    }
}

impl TaskComparison {
    /// The accuracy-at-matched-parity table of `report.md`: one column per DP bound, one row
    /// per penalty kind and per published method.
    pub(crate) fn matched_table(&self, parity: Parity) -> String {
        let matched: Vec<&Matched> = self.matched.iter().filter(|m| m.parity == parity).collect();
        let mut bounds: Vec<f64> = matched.iter().map(|m| m.bound).collect();
        bounds.sort_by(f64::total_cmp);
        bounds.dedup();
        if bounds.is_empty() {
            return String::new();
        }
        let majority = |acc: f64| {
            if at_majority(acc, self.majority) {
                " (≈ majority)"
            } else {
                ""
            }
        };
        let whose = match parity {
            Parity::Worst => {
                "worst-head DDP (the largest DDP of the head families fitted on the frozen \
                 representation: what any of these downstream models would show)"
            }
            Parity::Logistic => "DDP of the task's own head (`transfer.head`)",
            Parity::Certified => {
                "certified DP of the quantised release (`certificate.json`: a bound for every \
                 classifier of its cells; the accuracy is the release's cell-majority head's)"
            }
        };
        let no_families =
            parity == Parity::Worst && self.points.iter().all(|p| p.worst_ddp.is_none());
        let source = self.role == fairrep_data::Role::Source;
        let excluded = match parity {
            Parity::Certified => "releases within half a point of the majority rate excluded",
            _ => {
                "95% interval of the median run; accuracy range over the seeds; near-constant heads excluded"
            }
        };
        let mut s = format!(
            "\nAccuracy at matched parity, {whose}: per penalty kind, the best median accuracy among \
             λ whose median {parity} is within the bound ({excluded}); published results at their \
             DP bound.{}\n\n\
             | method | {} |\n|---|{}\n",
            if no_families && source {
                " Head families are fitted on transfer tasks only: a source task's points are \
                 placed by its own head in the next table."
            } else if no_families {
                " These runs have no head families (`transfer.head_families = []`): no point can be \
                 placed; `fairrep report --parity logistic` uses the task's head."
            } else {
                ""
            },
            bounds
                .iter()
                .map(|b| format!("DP ≤ {b}"))
                .collect::<Vec<_>>()
                .join(" | "),
            "---|".repeat(bounds.len())
        );
        let mut kinds: Vec<PenaltyKind> = matched.iter().map(|m| m.kind).collect();
        kinds.dedup();
        for kind in kinds {
            let cells: Vec<String> = bounds
                .iter()
                .map(|&b| {
                    match matched
                        .iter()
                        .find(|m| m.kind == kind && m.bound == b)
                        .and_then(|m| m.best.as_ref())
                    {
                        Some(p) if parity == Parity::Certified => {
                            let acc = parity.accuracy(p).unwrap_or(f64::NAN);
                            format!(
                                "{acc:.4}{} (λ = {}, certified DP {:.4}, {} seeds)",
                                majority(acc),
                                p.lambda,
                                parity.of(p).unwrap_or(f64::NAN),
                                p.seeds
                            )
                        }
                        Some(p) => format!(
                            "{:.4}{}{} (λ = {}, {} {:.4}, seeds {:.4}–{:.4})",
                            p.accuracy,
                            p.accuracy_ci
                                .map_or(String::new(), |[lo, hi]| format!(" [{lo:.4}, {hi:.4}]")),
                            majority(p.accuracy),
                            p.lambda,
                            match parity {
                                Parity::Worst => "worst-head DDP",
                                _ => "DDP",
                            },
                            parity.of(p).unwrap_or(f64::NAN),
                            p.accuracy_range[0],
                            p.accuracy_range[1]
                        ),
                        None => "–".into(),
                    }
                })
                .collect();
            s += &format!("| fairrep {kind} | {} |\n", cells.join(" | "));
        }
        if !self.unprocessing.is_empty() {
            let cells: Vec<String> = bounds
                .iter()
                .map(|&b| {
                    self.unprocessing
                        .iter()
                        .find(|u| u.bound == Some(b))
                        .map_or(String::new(), |u| {
                            format!(
                                "{:.4}{} (test DDP {:.4}, {} seeds)",
                                u.accuracy,
                                majority(u.accuracy),
                                u.ddp,
                                u.seeds
                            )
                        })
                })
                .collect();
            s += &format!(
                "| unprocessing: GBDT on raw features + group thresholds (needs s at prediction) | {} |\n",
                cells.join(" | ")
            );
        }
        for r in &self.references {
            let cells: Vec<String> = bounds
                .iter()
                .map(|&b| {
                    if b == r.dp_bound {
                        format!("{:.4}{} (published)", r.accuracy, majority(r.accuracy))
                    } else {
                        String::new()
                    }
                })
                .collect();
            s += &format!("| {} ({}) | {} |\n", r.method, r.source, cells.join(" | "));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::PARITY_BOUNDS;
    use crate::compare::point;

    /// The λ of the matched point of `kind` at `bound` (`None`: no point within it).
    fn best_lambda(m: &[Matched], kind: PenaltyKind, bound: f64) -> Option<f64> {
        m.iter()
            .find(|x| x.kind == kind && x.bound == bound)
            .unwrap()
            .best
            .as_ref()
            .map(|p| p.lambda)
    }

    #[test]
    fn matched_parity_takes_the_most_accurate_informative_point_within_each_bound() {
        let pts = vec![
            point("mmd", 0.0, 0.85, 0.20),
            point("mmd", 1.0, 0.83, 0.06),
            point("mmd", 3.0, 0.82, 0.04),
            point("mmd", 10.0, 0.80, 0.015),
            Point {
                near_constant_seeds: 1, // within 0.02 and more accurate, but near-constant
                ..point("mmd", 30.0, 0.81, 0.001)
            },
            point("sinkhorn", 0.1, 0.84, 0.09),
        ];
        let m = matched(&pts, &PARITY_BOUNDS, Parity::Logistic, 0.5);
        let best = |kind: PenaltyKind, bound: f64| best_lambda(&m, kind, bound);
        assert_eq!(best(PenaltyKind::Mmd, 0.02), Some(10.0));
        assert_eq!(best(PenaltyKind::Mmd, 0.05), Some(3.0));
        assert_eq!(best(PenaltyKind::Mmd, 0.10), Some(1.0));
        assert_eq!(best(PenaltyKind::Sinkhorn, 0.05), None);
        assert_eq!(best(PenaltyKind::Sinkhorn, 0.10), Some(0.1));
    }

    /// Under `Parity::Worst` a point is placed by its worst head family's DDP: the logistic
    /// head's small DDP no longer qualifies a point whose MLP head is unfair, and a point
    /// without head families is not placed at all.
    #[test]
    fn matched_parity_on_the_worst_head() {
        let with_worst = |p: Point, w: f64| Point {
            worst_ddp: Some(w),
            ..p
        };
        let pts = vec![
            with_worst(point("mmd", 1.0, 0.83, 0.01), 0.12),
            with_worst(point("mmd", 3.0, 0.81, 0.02), 0.045),
            with_worst(point("mmd", 10.0, 0.79, 0.01), 0.015),
            point("sinkhorn", 1.0, 0.84, 0.01),
        ];
        let best = best_lambda;
        let logistic = matched(&pts, &PARITY_BOUNDS, Parity::Logistic, 0.5);
        let worst = matched(&pts, &PARITY_BOUNDS, Parity::Worst, 0.5);
        assert!(worst.iter().all(|m| m.parity == Parity::Worst));
        assert_eq!(best(&logistic, PenaltyKind::Mmd, 0.02), Some(1.0));
        assert_eq!(best(&worst, PenaltyKind::Mmd, 0.02), Some(10.0));
        assert_eq!(best(&worst, PenaltyKind::Mmd, 0.05), Some(3.0));
        assert_eq!(best(&worst, PenaltyKind::Mmd, 0.10), Some(3.0));
        assert_eq!(best(&logistic, PenaltyKind::Sinkhorn, 0.02), Some(1.0));
        assert_eq!(best(&worst, PenaltyKind::Sinkhorn, 0.10), None);
    }

    /// Under `Parity::Certified` points are placed by their certified DP and ranked by the
    /// release's accuracy, not the continuous z's.
    #[test]
    fn matched_parity_on_the_certified_release() {
        let certified = |p: Point, c: f64, acc: f64| Point {
            certified_dp: Some(c),
            release_accuracy: Some(acc),
            ..p
        };
        let pts = vec![
            certified(point("mmd", 10.0, 0.80, 0.01), 0.06, 0.70),
            certified(point("mmd", 30.0, 0.79, 0.01), 0.045, 0.69),
            certified(point("mmd", 100.0, 0.85, 0.01), 0.04, 0.68),
            point("mmd", 300.0, 0.99, 0.0),
        ];
        let m = matched(&pts, &PARITY_BOUNDS, Parity::Certified, 0.6);
        // Within 0.05: λ = 30 (release 0.69) beats λ = 100 (0.68) though z's head is less
        // accurate; the uncertified point is never placed.
        assert_eq!(best_lambda(&m, PenaltyKind::Mmd, 0.05), Some(30.0));
        assert_eq!(best_lambda(&m, PenaltyKind::Mmd, 0.10), Some(10.0));
        assert_eq!(best_lambda(&m, PenaltyKind::Mmd, 0.02), None);
        // A release at the majority rate is no release: with a majority of 0.686, λ = 100's
        // 0.68 and λ = 30's 0.69 are both within half a point of it.
        let m = matched(&pts, &PARITY_BOUNDS, Parity::Certified, 0.686);
        assert_eq!(best_lambda(&m, PenaltyKind::Mmd, 0.05), None);
        assert_eq!(best_lambda(&m, PenaltyKind::Mmd, 0.10), Some(10.0));
    }
}
