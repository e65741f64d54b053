//! A certified bound on the fairness of any classifier of a quantised representation — FARE's
//! procedure (Jovanović, Balunović, Dimitrov, Vechev, *FARE: Provably Fair Representation
//! Learning with Practical Certificates*, ICML 2023) applied to a frozen fairrep encoder.
//!
//! A continuous z cannot be certified for every classifier from samples. A **quantised release**
//! can: [`partition`] cuts z into `K` cells with a fairness-aware tree (fitted on the training
//! split, chosen on the validation split by [`select`]), and [`bound`] bounds, from the test
//! split, the total variation between the groups' cell distributions — FARE's three steps on
//! three disjoint thirds, or directly from each group's cell frequencies — so that with
//! probability at least `1 − δ` no classifier of the cells, however strong or randomised, has a
//! larger demographic parity gap. [`statements`] does it for every pair of groups (union bound)
//! and, on the rows of one label, for equal opportunity and equalized odds; [`release`] measures
//! the head families fitted on the cells against the bounds.
//!
//! Plain Rust, no burn: the run crate encodes the splits and hands the arrays here.

pub mod binomial;
pub mod bound;
pub mod partition;
pub mod release;
pub mod select;
pub mod statements;

pub use binomial::{clopper_pearson, hoeffding_radius};
pub use bound::{Budget, Counts, Method, TvBound, direct_bound, tv_bound};
pub use partition::{Node, Partition, Sample, TreeSettings};
pub use release::CellHead;
pub use select::{Candidate, Grid};
pub use statements::{Metric, PairBound, Statement};

use serde::{Deserialize, Serialize};

/// Why a certificate cannot be computed.
#[derive(Debug, thiserror::Error)]
pub enum CertifyError {
    /// Arrays of the wrong size, or values that are not finite.
    #[error("certify: {0}")]
    Shape(String),
    /// Settings out of range.
    #[error("certify: {0}")]
    Settings(String),
    /// A partition that is not well formed.
    #[error("partition: {0}")]
    Partition(String),
    /// Data that cannot be certified (a test split with fewer than two groups).
    #[error("certify: {0}")]
    Data(String),
}

/// What a certificate is asked for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// The number of cells (`None`: chosen on the validation split from 2, 4, …, 64).
    pub cells: Option<usize>,
    /// The fewest training rows per cell (`None`: chosen from 0.5% and 2% of the training rows).
    pub min_leaf: Option<usize>,
    /// The fairness weight γ of the tree (`None`: chosen from 0, 0.02, 0.05, 0.1, 0.25, 0.5,
    /// then bisected where the projected bound crosses the target).
    pub fairness_weight: Option<f64>,
    /// The error probability δ of each statement (confidence `1 − δ`).
    pub delta: f64,
    /// The demographic parity bound the partition's choice aims at.
    pub target: f64,
    /// How to bound (`None`: the method with the smaller projected bound on the validation
    /// split).
    #[serde(default)]
    pub method: Option<Method>,
    /// Seed of the test split's thirds and of the MLP head.
    pub seed: u64,
}

impl Settings {
    /// Checks the ranges.
    pub fn check(&self) -> Result<(), CertifyError> {
        let bad = |m: String| Err(CertifyError::Settings(m));
        if !(self.delta > 0.0 && self.delta < 1.0) {
            return bad(format!("delta must be in (0, 1), not {}", self.delta));
        }
        if !(self.target > 0.0 && self.target <= 1.0) {
            return bad(format!("target must be in (0, 1], not {}", self.target));
        }
        if matches!(self.cells, Some(k) if !(1..=4096).contains(&k)) {
            return bad(format!("cells must be in 1..=4096, not {:?}", self.cells));
        }
        if self.min_leaf == Some(0) {
            return bad("min_leaf must be at least 1".into());
        }
        if matches!(self.fairness_weight, Some(w) if !(0.0..=1.0).contains(&w)) {
            return bad(format!(
                "fairness_weight must be in [0, 1], not {:?}",
                self.fairness_weight
            ));
        }
        Ok(())
    }
}

/// One split's arrays.
#[derive(Debug, Clone, Copy)]
pub struct SplitData<'a> {
    /// The representation, row-major `[n, dim]`.
    pub z: &'a [f32],
    /// Group ids.
    pub group: &'a [usize],
    /// Targets of every task in [`Input::tasks`]' order (0/1 for a binary task).
    pub targets: &'a [&'a [f32]],
}

/// A task of the run.
#[derive(Debug, Clone)]
pub struct TaskInfo {
    /// Its name.
    pub name: String,
    /// A source task (trained on) rather than a transfer task.
    pub source: bool,
    /// Binary (rather than regression).
    pub binary: bool,
}

/// Everything a certificate is computed from.
#[derive(Debug, Clone)]
pub struct Input<'a> {
    /// The width of z.
    pub dim: usize,
    /// Group names.
    pub groups: &'a [String],
    /// The tasks.
    pub tasks: &'a [TaskInfo],
    /// The training split (grows the partition, fits the heads).
    pub train: SplitData<'a>,
    /// The validation split (chooses the partition).
    pub valid: SplitData<'a>,
    /// The test split (certifies, measures the heads).
    pub test: SplitData<'a>,
}

/// Sizes of the test split's three certification samples.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SampleSizes {
    /// Step 1 (base rate).
    pub base_rate: usize,
    /// Step 2 (per-cell group frequencies).
    pub cells: usize,
    /// Step 3 (the average over the cells).
    pub average: usize,
}

/// A head above a certified bound.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Violation {
    /// What was measured (`"logistic head, income"`, `"group adversary"`).
    pub what: String,
    /// The metric.
    pub metric: Metric,
    /// The measured test value.
    pub measured: f64,
    /// The certified bound.
    pub bound: f64,
}

/// `certificate.json`: the certified bounds of a run's quantised release.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Certificate {
    /// What was asked.
    pub settings: Settings,
    /// The number of cells of the release.
    pub cells: usize,
    /// How the bounds were computed (chosen on the validation split unless asked).
    pub method: Method,
    /// The partition's settings.
    pub partition: TreeSettings,
    /// The candidates judged on the validation split.
    pub candidates: Vec<Candidate>,
    /// The chosen candidate's index in `candidates`.
    pub chosen: usize,
    /// The test split's three samples.
    pub samples: SampleSizes,
    /// The certified statements: demographic parity, then per binary task equal opportunity and
    /// equalized odds. Each holds at its `confidence` on its own.
    pub statements: Vec<Statement>,
    /// Head families fitted on the cells, measured on the whole test split.
    pub heads: Vec<CellHead>,
    /// The group adversary's test demographic parity gap.
    pub adversary_ddp: f64,
    /// Measured values above their bound (expected about `δ` of the time at most, per statement).
    pub violations: Vec<Violation>,
    /// Seconds taken (partition search, bounds and heads).
    pub seconds: f64,
}

impl Certificate {
    /// The demographic-parity statement.
    pub fn demographic_parity(&self) -> &Statement {
        &self.statements[0]
    }

    /// The statement of `metric` on `task`.
    pub fn statement(&self, metric: Metric, task: Option<&str>) -> Option<&Statement> {
        self.statements
            .iter()
            .find(|s| s.metric == metric && s.task.as_deref() == task)
    }
}

/// A split's rows as a partition [`Sample`] with the given targets.
fn sample_of<'a>(
    s: &SplitData<'a>,
    dim: usize,
    groups: usize,
    targets: &'a [&'a [f32]],
) -> Sample<'a> {
    Sample {
        z: s.z,
        dim,
        group: s.group,
        groups,
        targets,
    }
}

/// Chooses the partition, certifies the test split's cells and measures the heads on them.
pub fn certify(
    input: &Input,
    settings: &Settings,
) -> Result<(Partition, Certificate), CertifyError> {
    settings.check()?;
    let started = std::time::Instant::now();
    let ng = input.groups.len();
    if input.tasks.len() != input.train.targets.len()
        || input.tasks.len() != input.valid.targets.len()
        || input.tasks.len() != input.test.targets.len()
    {
        return Err(CertifyError::Shape("targets do not match the tasks".into()));
    }
    let source: Vec<usize> = (0..input.tasks.len())
        .filter(|&t| input.tasks[t].source)
        .collect();
    let (tr_targets, va_targets): (Vec<&[f32]>, Vec<&[f32]>) = (
        source.iter().map(|&t| input.train.targets[t]).collect(),
        source.iter().map(|&t| input.valid.targets[t]).collect(),
    );
    let binary: Vec<bool> = source.iter().map(|&t| input.tasks[t].binary).collect();
    sample_of(&input.test, input.dim, ng, &[]).check()?;
    let train = sample_of(&input.train, input.dim, ng, &tr_targets);
    let valid = sample_of(&input.valid, input.dim, ng, &va_targets);
    let grid = Grid::new(
        train.rows(),
        settings.cells,
        settings.min_leaf,
        settings.fairness_weight,
    );
    let n_test = input.test.group.len();
    let present = (0..ng).filter(|g| input.test.group.contains(g)).count();
    if present < 2 {
        return Err(CertifyError::Data(format!(
            "the test split has {n_test} rows in {present} group(s): a parity certificate needs rows of at least two groups"
        )));
    }
    let methods = match settings.method {
        Some(m) => vec![m],
        None => vec![Method::Fare, Method::Direct],
    };
    let (partition, candidates, chosen) = select::choose(
        &train,
        &valid,
        &binary,
        &grid,
        n_test,
        settings.delta,
        settings.target,
        &methods,
    )?;
    let method = candidates[chosen].method;
    let k = partition.cells;
    let (tr_cells, te_cells) = (
        partition.assign(input.train.z),
        partition.assign(input.test.z),
    );
    let binary_tasks: Vec<usize> = (0..input.tasks.len())
        .filter(|&t| input.tasks[t].binary)
        .collect();
    let labels = |s: &SplitData<'_>| -> Vec<Vec<bool>> {
        binary_tasks
            .iter()
            .map(|&t| s.targets[t].iter().map(|&v| v >= 0.5).collect())
            .collect()
    };
    let (tr_labels, te_labels) = (labels(&input.train), labels(&input.test));
    let named: Vec<(String, &[bool])> = binary_tasks
        .iter()
        .zip(&te_labels)
        .map(|(&t, y)| (input.tasks[t].name.clone(), &y[..]))
        .collect();
    let statements = statements::certify(
        k,
        &te_cells,
        input.test.group,
        input.groups,
        &named,
        settings.delta,
        settings.seed,
        method,
    );
    let part = statements::thirds(n_test, settings.seed);
    let samples = SampleSizes {
        base_rate: part.iter().filter(|&&p| p == 0).count(),
        cells: part.iter().filter(|&&p| p == 1).count(),
        average: part.iter().filter(|&&p| p == 2).count(),
    };
    let head_tasks: Vec<(String, &[bool], &[bool])> = binary_tasks
        .iter()
        .enumerate()
        .map(|(i, &t)| {
            (
                input.tasks[t].name.clone(),
                &tr_labels[i][..],
                &te_labels[i][..],
            )
        })
        .collect();
    let (tr_rows, te_rows) = (
        release::Rows {
            cells: &tr_cells,
            group: input.train.group,
        },
        release::Rows {
            cells: &te_cells,
            group: input.test.group,
        },
    );
    let heads = release::heads(
        k,
        tr_rows,
        te_rows,
        input.groups,
        &head_tasks,
        settings.seed,
    );
    let adversary_ddp = release::adversary_ddp(k, tr_rows, te_rows, ng);
    let mut cert = Certificate {
        settings: settings.clone(),
        cells: k,
        method,
        partition: partition.settings,
        candidates,
        chosen,
        samples,
        statements,
        heads,
        adversary_ddp,
        violations: Vec::new(),
        seconds: 0.0,
    };
    cert.violations = violations(&cert);
    cert.seconds = started.elapsed().as_secs_f64();
    Ok((partition, cert))
}

/// Every measured gap above its certified bound.
pub fn violations(cert: &Certificate) -> Vec<Violation> {
    let dp = cert.demographic_parity().upper_bound;
    let mut out = Vec::new();
    if cert.adversary_ddp > dp {
        out.push(Violation {
            what: "group adversary".into(),
            metric: Metric::DemographicParity,
            measured: cert.adversary_ddp,
            bound: dp,
        });
    }
    for h in &cert.heads {
        let what = format!("{} head, {}", h.family, h.task);
        let mut check = |metric: Metric, measured: Option<f64>, bound: Option<f64>| {
            if let (Some(m), Some(b)) = (measured, bound)
                && m > b
            {
                out.push(Violation {
                    what: what.clone(),
                    metric,
                    measured: m,
                    bound: b,
                });
            }
        };
        check(Metric::DemographicParity, Some(h.ddp), Some(dp));
        let bound_of = |m: Metric| cert.statement(m, Some(&h.task)).map(|s| s.upper_bound);
        check(
            Metric::EqualOpportunity,
            h.deo,
            bound_of(Metric::EqualOpportunity),
        );
        check(
            Metric::EqualizedOdds,
            h.equalized_odds,
            bound_of(Metric::EqualizedOdds),
        );
    }
    out
}
