//! `fairrep certify`.

use crate::args::RunDir;
use fairrep_certify::{Certificate, Settings};
use fairrep_report::files;

/// Certify a run's quantised release: a bound on the parity of any classifier of its cells.
///
/// A continuous representation cannot be certified for every downstream classifier from
/// samples; a quantised one can (FARE, ICML 2023). This command cuts the frozen z into cells
/// with a fairness-aware tree grown on the training split (cells, fewest rows per cell and
/// fairness weight chosen on the validation split unless given), then bounds, at confidence
/// 1 − δ, the demographic parity gap of every (randomised) classifier of the cells on the test
/// split, by FARE's three steps on seeded thirds of it — the groups' base rate (Clopper–Pearson),
/// each cell's group frequencies (Clopper–Pearson, δ shared over the cells), the average over
/// the cells (Hoeffding) — or directly from each group's cell frequencies (Clopper–Pearson, δ
/// shared over the 2K intervals), whichever the validation split projects smaller (--method);
/// every pair of groups for three or more (union bound); equal opportunity and equalized odds
/// per binary task on the rows of one label. It then fits the head families (cell majority, logistic, MLP, GBDT) on the
/// cells and prints their test gaps under the bounds: a head above a bound is a violation,
/// printed loudly. Writes certificate.json and partition.json in the run directory; `fairrep
/// encode --cells` releases the cell ids.
///
/// Example:
///   fairrep certify --run runs/quickstart-1
///   fairrep certify --run runs/quickstart-1 --cells 16 --delta 0.05
#[derive(clap::Args, Debug)]
#[command(verbatim_doc_comment)]
pub struct Args {
    #[command(flatten)]
    run: RunDir,
    /// The number of cells (default: chosen on the validation split from 2, 4, …, 64).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=4096))]
    cells: Option<u32>,
    /// The fewest training rows in a cell (default: chosen from 0.5% and 2% of them).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    min_leaf: Option<u64>,
    /// The tree's fairness weight γ in [0, 1] (default: chosen from 0, 0.02, 0.05, 0.1, 0.25,
    /// 0.5, then bisected where the projected bound crosses --target).
    #[arg(long, value_parser = unit_interval)]
    fairness_weight: Option<f64>,
    /// The error probability δ of each bound (confidence 1 − δ).
    #[arg(long, default_value_t = 0.05, value_parser = open_unit_interval)]
    delta: f64,
    /// The demographic parity bound the choice of the partition aims at.
    #[arg(long, default_value_t = 0.05, value_parser = open_unit_interval)]
    target: f64,
    /// How to bound (default: the method with the smaller projected bound on the validation
    /// split).
    #[arg(long, value_enum)]
    method: Option<MethodArg>,
    /// Seed of the test split's thirds (default: the run's seed).
    #[arg(long)]
    seed: Option<u64>,
}

/// `--method`.
#[derive(Copy, Clone, Debug, clap::ValueEnum)]
pub enum MethodArg {
    /// FARE's three steps: the base rate, each cell's group frequencies and the average over
    /// the cells, on three disjoint thirds of the test split.
    Fare,
    /// Clopper–Pearson on each group's cell frequencies, every test row for every cell.
    Direct,
}

fn number(s: &str) -> Result<f64, String> {
    s.parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .ok_or_else(|| format!("`{s}` is not a number"))
}

fn unit_interval(s: &str) -> Result<f64, String> {
    let v = number(s)?;
    (0.0..=1.0)
        .contains(&v)
        .then_some(v)
        .ok_or_else(|| format!("{v} is not in [0, 1]"))
}

fn open_unit_interval(s: &str) -> Result<f64, String> {
    let v = number(s)?;
    (v > 0.0 && v < 1.0)
        .then_some(v)
        .ok_or_else(|| format!("{v} is not in (0, 1)"))
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<()> {
    let seed = match args.seed {
        Some(s) => s,
        None => {
            fairrep_run::rundir::deep_config(&args.run.run, "certify")?
                .1
                .seed
        }
    };
    let settings = Settings {
        cells: args.cells.map(|k| k as usize),
        min_leaf: args.min_leaf.map(|m| m as usize),
        fairness_weight: args.fairness_weight,
        delta: args.delta,
        target: args.target,
        method: args.method.map(|m| match m {
            MethodArg::Fare => fairrep_certify::Method::Fare,
            MethodArg::Direct => fairrep_certify::Method::Direct,
        }),
        seed,
    };
    let (_, cert) =
        fairrep_run::certify::certify_run(&args.run.run, args.run.backend.into(), &settings)?;
    print!("{}", render(&cert));
    println!("{}", args.run.run.join(files::CERTIFICATE).display());
    Ok(())
}

/// The certificate as tables.
pub fn render(c: &Certificate) -> String {
    let p = &c.partition;
    let mut s = format!(
        "quantised release: {} cells (tree: γ = {}, ≥ {} training rows per cell; chosen from {} candidates on the validation split)\n\
         bound: {}; test split {} rows{}; each bound holds with confidence {:.0}%\n\n\
         | metric | task | certified bound | plug-in total variation (test) |\n|---|---|---|---|\n",
        c.cells,
        p.fairness_weight,
        p.min_leaf,
        c.candidates.len(),
        c.method,
        c.samples.base_rate + c.samples.cells + c.samples.average,
        match c.method {
            fairrep_certify::Method::Fare => format!(
                " (thirds: {} / {} / {})",
                c.samples.base_rate, c.samples.cells, c.samples.average
            ),
            fairrep_certify::Method::Direct => String::new(),
        },
        100.0 * (1.0 - c.settings.delta),
    );
    for st in &c.statements {
        s += &format!(
            "| {} | {} | {:.4} | {:.4} |\n",
            st.metric,
            st.task.as_deref().unwrap_or("–"),
            st.upper_bound,
            st.plug_in
        );
    }
    let opt = |v: Option<f64>| v.map_or("–".to_string(), |v| format!("{v:.4}"));
    s += "\nclassifiers of the cells (fitted on the training split, measured on the test split):\n\n\
          | task | head | accuracy | DDP | DEO | equalized odds |\n|---|---|---|---|---|---|\n";
    for h in &c.heads {
        s += &format!(
            "| {} | {} | {:.4}{} | {:.4} | {} | {} |\n",
            h.task,
            h.family,
            h.accuracy,
            if (h.accuracy - h.majority_rate).abs() < 0.005 {
                " (≈ majority)"
            } else {
                ""
            },
            h.ddp,
            opt(h.deo),
            opt(h.equalized_odds)
        );
    }
    s += &format!(
        "\ngroup adversary (the cells where one group is over-represented on the training split): DDP {:.4} under the bound {:.4}\n",
        c.adversary_ddp,
        c.demographic_parity().upper_bound
    );
    if c.violations.is_empty() {
        s += "every measured gap is within its certified bound\n";
    } else {
        for v in &c.violations {
            s += &format!(
                "WARNING: {} has {} {:.4} ABOVE its certified bound {:.4}: either the {:.0}% event happened or the bound is wrong; re-run with another --seed and report it\n",
                v.what,
                v.metric,
                v.measured,
                v.bound,
                100.0 * c.settings.delta
            );
        }
    }
    if c.cells == 1 {
        s += "WARNING: the release has ONE cell: every classifier of it is constant, so its parity \
              is 0 and it is useless; no partition of more cells was fair enough. Train a fairer \
              representation (a larger penalty.lambda) or raise --target\n";
    }
    let at_majority: Vec<&str> = c
        .heads
        .iter()
        .filter(|h| h.family == "cell_majority" && (h.accuracy - h.majority_rate).abs() < 0.005)
        .map(|h| h.task.as_str())
        .collect();
    if c.cells > 1 && !at_majority.is_empty() {
        s += &format!(
            "note: the cells carry nothing of {}: their cell-majority head is at the majority rate\n",
            at_majority.join(", ")
        );
    }
    if c.demographic_parity().upper_bound > c.settings.target {
        s += &format!(
            "note: the demographic parity bound {:.4} is above the target {}: more test rows, fewer cells (--cells) or a fairer representation (a larger penalty.lambda) tighten it\n",
            c.demographic_parity().upper_bound,
            c.settings.target
        );
    }
    s
}
