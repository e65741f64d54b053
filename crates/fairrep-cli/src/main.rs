//! The `fairrep` binary: a thin shell over `fairrep-train`.

use anyhow::Context;
use clap::{Args, Parser, Subcommand, ValueEnum};
use fairrep_train::config::{Override, PenaltyKind};
use fairrep_train::fairrep_data::table::{ReadOptions, Table};
use fairrep_train::fairrep_losses::burn_dtype::DType;
use fairrep_train::fairrep_losses::{Bandwidth, Estimator, KernelKind, Mmd, Power, Sinkhorn};
use fairrep_train::measure::{Measure, Samples, measure};
use fairrep_train::report::{EpochRecord, task_table};
use fairrep_train::{Backend, Observer, RunOptions, TrainError};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Fair, transferable representation learning: train an encoder on several tasks under an MMD
/// fairness penalty, then test it on tasks it never saw.
#[derive(Parser, Debug)]
#[command(name = "fairrep", version, about)]
struct Cli {
    /// More log output (-v: debug, -vv: trace).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    /// Only warnings and errors.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    quiet: bool,
    /// Log format on stderr.
    #[arg(long, value_enum, default_value_t = LogFormat::Pretty, global = true)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Copy, Clone, Debug, ValueEnum)]
enum LogFormat {
    Pretty,
    Json,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Train an encoder as a config file says, evaluate it on source and transfer tasks and
    /// write the run directory.
    Train(TrainArgs),
    /// Measure the MMD² or the Sinkhorn divergence between two samples (numeric CSV files, one
    /// point per row) and print JSON with "value" and "grad_norm_x" (the norm of the gradient
    /// with respect to X).
    ///
    /// Conventions, so numbers compare with GeomLoss 0.3.1: `mmd` returns the usual biased
    /// statistic E k(x,x') + E k(y,y') − 2 E k(x,y), twice GeomLoss's SamplesLoss("gaussian");
    /// the kernel is exp(−|x−y|²/(2σ²)) summed over the --sigma values (median pairwise
    /// distance of the pooled samples when none is given). `sinkhorn` returns GeomLoss's
    /// SamplesLoss("sinkhorn", p, blur, scaling, debias, reach) value: cost |x−y|^p/p,
    /// ε = blur^p, GeomLoss's ε-schedule; --tolerance keeps iterating at the final ε until the
    /// potentials move less than the tolerance (the converged divergence).
    Divergence(DivergenceArgs),
    /// Validate a config without training (--check F), or list every config key with its type,
    /// default and meaning (--explain).
    Config(ConfigArgs),
    /// Recompute the report of a run (report.json, report.md, transfer_heads.json) from its
    /// saved model and config.toml.
    Eval(RunArgs),
    /// Re-evaluate a run's frozen encoder on transfer tasks — all of them, or those named with
    /// --task — including tasks added to the run's config.toml after training; writes
    /// transfer_report.json in the run directory.
    Transfer(TransferArgs),
    /// The bias audit of a run: every task's test metrics with 95% bootstrap intervals, the
    /// MMD² and Sinkhorn divergence between the groups' test representations, and a linear
    /// probe of the group from the representation (accuracy and AUC next to the majority-class
    /// baseline); prints it and writes audit.json in the run directory.
    Audit(RunArgs),
    /// Audit any model's binary predictions from a CSV file (with a header), like fairlearn's
    /// MetricFrame: prints JSON with demographic_parity_difference/_ratio,
    /// equal_opportunity_difference, equalized_odds_difference/_ratio, accuracy,
    /// balanced_accuracy, roc_auc (with --score) and by_group (selection_rate, tpr, fpr,
    /// accuracy), with fairlearn's definitions (differences and ratios between the extreme
    /// groups).
    AuditPredictions(AuditArgs),
    /// Run a config over a grid of penalty kinds × λ values × seeds, one run directory each
    /// (OUT/<kind>-lambda<λ>-seed<s>), resumable: finished runs are skipped and interrupted
    /// ones resumed. Writes OUT/sweep.json. With --emit slurm, writes OUT/sweep.slurm (a job
    /// array, one run per task) instead of running.
    Sweep(SweepArgs),
    /// Post-process any model's scores towards demographic parity (Chzhen et al., NeurIPS
    /// 2020): fits each group's score distribution on unlabeled calibration data (CSV with a
    /// header), maps every score of the --apply file to the groups' Wasserstein barycenter and
    /// writes that file again with the fair score as an extra column. Prints JSON with the
    /// largest Kolmogorov–Smirnov and Wasserstein-1 distances between the groups' scores
    /// before and after.
    Barycenter(BarycenterArgs),
    /// Compare runs (run directories, or directories of runs such as a sweep's): for every
    /// transfer task the median accuracy and DDP of each penalty kind and λ over the seeds, the
    /// Pareto front, the raw-feature baselines; writes report.json, report.md, one SVG plot
    /// per task (accuracy vs DDP) and curves.svg (training objective per epoch) into --out.
    Report(ReportArgs),
}

#[derive(Args, Debug)]
struct ReportArgs {
    /// Run directories, or directories holding runs.
    #[arg(required = true)]
    runs: Vec<PathBuf>,
    /// Output directory.
    #[arg(long, default_value = "runs/report")]
    out: PathBuf,
}

#[derive(Args, Debug)]
#[command(allow_negative_numbers = true)]
struct BarycenterArgs {
    /// Calibration data: CSV with a header (labels are not needed).
    #[arg(long)]
    calibrate: PathBuf,
    /// The data to post-process: CSV with a header and the same score and group columns.
    #[arg(long)]
    apply: PathBuf,
    /// Column of the scores (predictions of any regression model or classifier).
    #[arg(long)]
    score: String,
    /// Column of the sensitive group.
    #[arg(long)]
    group: String,
    /// Where to write the --apply file with the fair score added.
    #[arg(long)]
    out: PathBuf,
    /// Name of the added column (default: <score>_fair).
    #[arg(long)]
    name: Option<String>,
    /// Half-width of the uniform jitter that breaks ties.
    #[arg(long, default_value_t = 1e-5)]
    jitter: f64,
    /// Seed of the calibration split and the jitter.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Field delimiter.
    #[arg(long, default_value_t = ',')]
    delimiter: char,
}

#[derive(Args, Debug)]
struct SweepArgs {
    /// The experiment config (TOML).
    #[arg(long)]
    config: PathBuf,
    /// λ values, comma-separated: the grid of every kind without its own `--lambda-for`.
    #[arg(long = "lambda", value_delimiter = ',')]
    lambdas: Vec<f64>,
    /// Penalty kinds, comma-separated (mmd, sinkhorn, adversarial).
    #[arg(long = "penalty", value_delimiter = ',', default_value = "mmd")]
    kinds: Vec<PenaltyArg>,
    /// A kind's own λ grid, `KIND=λ,λ,…` (repeatable), e.g. `sinkhorn=0,0.01,0.03`: penalties
    /// live on different scales.
    #[arg(long = "lambda-for", value_name = "KIND=LIST")]
    lambda_for: Vec<String>,
    /// Seeds 1..=N.
    #[arg(long, default_value_t = 1)]
    seeds: u64,
    /// The sweep directory (default: runs/sweep-<config name>).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Overrides applied to every run (before the grid's own).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    overrides: Vec<Override>,
    /// Compute backend.
    #[arg(long, value_enum, default_value_t = BackendArg::Flex)]
    backend: BackendArg,
    /// Write a job script instead of running.
    #[arg(long, value_enum)]
    emit: Option<EmitArg>,
}

#[derive(Copy, Clone, Debug, ValueEnum)]
enum EmitArg {
    /// A Slurm job-array script (sbatch OUT/sweep.slurm).
    Slurm,
}

#[derive(Args, Debug)]
struct AuditArgs {
    /// CSV file with a header line.
    #[arg(long)]
    input: PathBuf,
    /// Column of the true labels.
    #[arg(long)]
    y_true: String,
    /// Column of the predicted labels.
    #[arg(long)]
    y_pred: String,
    /// Column of scores (probabilities) for the ROC AUC.
    #[arg(long)]
    score: Option<String>,
    /// Column of the sensitive group.
    #[arg(long)]
    group: String,
    /// The label value that means positive (every other value is negative).
    #[arg(long, default_value = "1")]
    positive: String,
    /// Field delimiter.
    #[arg(long, default_value_t = ',')]
    delimiter: char,
}

#[derive(Args, Debug)]
struct RunArgs {
    /// The run directory (written by `fairrep train`).
    #[arg(long)]
    run: PathBuf,
    /// Compute backend.
    #[arg(long, value_enum, default_value_t = BackendArg::Flex)]
    backend: BackendArg,
}

#[derive(Args, Debug)]
struct TransferArgs {
    #[command(flatten)]
    run: RunArgs,
    /// A transfer task of the run's config.toml (repeatable; default: all of them).
    #[arg(long = "task", value_name = "NAME")]
    tasks: Vec<String>,
}

#[derive(Args, Debug)]
#[command(allow_negative_numbers = true)]
struct DivergenceArgs {
    /// First sample: CSV, one point per row.
    #[arg(long)]
    x: PathBuf,
    /// Second sample: CSV with the same number of columns.
    #[arg(long)]
    y: PathBuf,
    /// The divergence.
    #[arg(long, value_enum)]
    kind: KindArg,
    /// The files' first line is a header (skipped).
    #[arg(long)]
    header: bool,
    /// Field delimiter.
    #[arg(long, default_value_t = ',')]
    delimiter: char,
    /// Floating-point precision of the computation.
    #[arg(long, value_enum, default_value_t = DtypeArg::F64)]
    dtype: DtypeArg,
    /// Compute backend.
    #[arg(long, value_enum, default_value_t = BackendArg::Flex)]
    backend: BackendArg,
    /// MMD: Gaussian/Laplacian bandwidth; repeat for a sum of kernels (default: median heuristic).
    #[arg(long)]
    sigma: Vec<f64>,
    /// MMD: kernel.
    #[arg(long, value_enum, default_value_t = KernelArg::Gaussian)]
    kernel: KernelArg,
    /// MMD: estimator.
    #[arg(long, value_enum, default_value_t = EstimatorArg::Biased)]
    estimator: EstimatorArg,
    /// Sinkhorn: blur (ε = blur^p).
    #[arg(long, default_value_t = 0.05)]
    blur: f64,
    /// Sinkhorn: ε-scaling ratio, in (0, 1).
    #[arg(long, default_value_t = 0.5)]
    scaling: f64,
    /// Sinkhorn: cost exponent, 1 or 2.
    #[arg(long, default_value_t = 2.0)]
    p: f64,
    /// Sinkhorn: reach of unbalanced transport (default balanced).
    #[arg(long)]
    reach: Option<f64>,
    /// Sinkhorn: the raw entropic OT cost instead of the debiased divergence.
    #[arg(long)]
    no_debias: bool,
    /// Sinkhorn: iterate at the final ε until the potentials move less than this.
    #[arg(long)]
    tolerance: Option<f64>,
    /// Sinkhorn: at most this many iterations after the schedule (with --tolerance).
    #[arg(long, default_value_t = 10_000)]
    max_iterations: usize,
    /// Sinkhorn: write the dual potentials to this JSON file ({"f": [...], "g": [...]}).
    #[arg(long)]
    potentials: Option<PathBuf>,
    /// Sinkhorn: write the transport plan (n rows × m columns) to this CSV file.
    #[arg(long)]
    plan: Option<PathBuf>,
    /// Compute N times; the output's "seconds" lists each forward + backward (reading the files
    /// excluded) and "median_seconds" their median: for benchmarks.
    #[arg(long, default_value_t = 1)]
    repeat: usize,
}

#[derive(Copy, Clone, Debug, ValueEnum)]
enum KindArg {
    Mmd,
    Sinkhorn,
}

#[derive(Copy, Clone, Debug, ValueEnum)]
enum PenaltyArg {
    Mmd,
    Sinkhorn,
    Adversarial,
}

impl From<PenaltyArg> for PenaltyKind {
    fn from(k: PenaltyArg) -> Self {
        match k {
            PenaltyArg::Mmd => PenaltyKind::Mmd,
            PenaltyArg::Sinkhorn => PenaltyKind::Sinkhorn,
            PenaltyArg::Adversarial => PenaltyKind::Adversarial,
        }
    }
}

#[derive(Copy, Clone, Debug, ValueEnum)]
enum DtypeArg {
    F32,
    F64,
}

#[derive(Copy, Clone, Debug, ValueEnum)]
enum KernelArg {
    Gaussian,
    Laplacian,
    Energy,
}

#[derive(Copy, Clone, Debug, ValueEnum)]
enum EstimatorArg {
    Biased,
    Unbiased,
    Linear,
}

#[derive(Args, Debug)]
struct TrainArgs {
    /// The experiment config (TOML).
    #[arg(long)]
    config: PathBuf,
    /// The run directory to create (default: runs/<config name>-<n>, the first n not taken).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Write into --out even if it exists and is not empty.
    #[arg(long, conflicts_with = "resume")]
    force: bool,
    /// Continue the run in --out from its last checkpoint (one is written after every epoch),
    /// e.g. after a crash or kill; give the same config and overrides as the first time.
    #[arg(long, requires = "out")]
    resume: bool,
    /// Override a config key, e.g. `--set penalty.lambda=0.5 --set 'model.hidden=[32,16]'`
    /// (dotted keys, list entries by index: `tasks.0.name=x`; values are TOML, bare words are
    /// strings). Repeatable; applied in order; the resolved config goes into the run directory.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    overrides: Vec<Override>,
    /// Compute backend.
    #[arg(long, value_enum, default_value_t = BackendArg::Flex)]
    backend: BackendArg,
}

#[derive(Args, Debug)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["check", "explain"])))]
struct ConfigArgs {
    /// Validate this config (and its data: files, columns, tasks, groups) without training.
    #[arg(long, value_name = "FILE")]
    check: Option<PathBuf>,
    /// Overrides, as for `train` (with --check).
    #[arg(long = "set", value_name = "KEY=VALUE", requires = "check")]
    overrides: Vec<Override>,
    /// List every config key with its type, default and meaning.
    #[arg(long)]
    explain: bool,
}

#[derive(Copy, Clone, Debug, ValueEnum)]
enum BackendArg {
    /// burn's ndarray CPU backend (fused CPU kernels for the divergences).
    Ndarray,
    /// burn's flex CPU backend (pure Rust; the same fused CPU kernels for the divergences).
    Flex,
    /// burn's wgpu backend: a GPU, or Mesa's lavapipe software Vulkan driver.
    Wgpu,
}

impl BackendArg {
    fn backend(self) -> Backend {
        match self {
            BackendArg::Ndarray => Backend::Ndarray,
            BackendArg::Flex => Backend::Flex,
            BackendArg::Wgpu => Backend::Wgpu,
        }
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            let user = e
                .downcast_ref::<TrainError>()
                .is_some_and(TrainError::is_user_error);
            ExitCode::from(if user { 2 } else { 1 })
        }
    }
}

fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    init_tracing(&cli);
    match cli.command {
        Command::Train(args) => train(args),
        Command::Divergence(args) => divergence(args),
        Command::Config(args) => config_command(args),
        Command::AuditPredictions(args) => audit_predictions(args),
        Command::Sweep(args) => sweep(args),
        Command::Barycenter(args) => barycenter(args),
        Command::Report(args) => {
            let runs = fairrep_train::compare::collect_runs(&args.runs)?;
            let cmp = fairrep_train::compare::compare(&runs, &args.out)?;
            print!("{}", cmp.markdown());
            println!("written to {}", args.out.display());
            Ok(())
        }
        Command::Audit(args) => {
            let a = fairrep_train::audit_run(&args.run, args.backend.backend())?;
            println!("{}", task_table(&a.tasks));
            for d in &a.divergences {
                println!(
                    "representation, {} vs {}: MMD² {:.5} (σ = {:.3}), Sinkhorn {:.5}",
                    d.a, d.b, d.mmd2, d.sigma, d.sinkhorn
                );
            }
            for p in &a.probes {
                println!(
                    "{} probe of `{}` from z: accuracy {:.4} (majority baseline {:.4}), AUC {}",
                    p.kind,
                    p.group,
                    p.accuracy,
                    p.majority_baseline,
                    p.auc.map_or("–".into(), |v| format!("{v:.4}"))
                );
            }
            println!("{}", args.run.join("audit.json").display());
            Ok(())
        }
        Command::Eval(args) => {
            let report = fairrep_train::evaluate_run(&args.run, args.backend.backend(), None)?;
            println!("{}", task_table(&report.tasks));
            Ok(())
        }
        Command::Transfer(args) => {
            let report = fairrep_train::evaluate_run(
                &args.run.run,
                args.run.backend.backend(),
                Some(&args.tasks),
            )?;
            println!("{}", task_table(&report.tasks));
            Ok(())
        }
    }
}

fn config_command(args: ConfigArgs) -> anyhow::Result<()> {
    if args.explain {
        print!("{}", fairrep_train::config::explain());
        return Ok(());
    }
    let path = args.check.expect("clap requires --check or --explain");
    let summary = fairrep_train::check(&path, &args.overrides)?;
    println!("{}: ok — {summary}", path.display());
    Ok(())
}

fn sweep(args: SweepArgs) -> anyhow::Result<()> {
    use fairrep_train::sweep;
    if args.seeds == 0 {
        return Err(usage("--seeds must be at least 1".into()));
    }
    // Named as in the config (`penalty.kind`).
    let kinds: Vec<String> = args
        .kinds
        .iter()
        .map(|&k| PenaltyKind::from(k).to_string())
        .collect();
    let grids = lambda_grids(&kinds, &args.lambdas, &args.lambda_for)?;
    let seeds: Vec<u64> = (1..=args.seeds).collect();
    let points: Vec<sweep::Point> = grids
        .iter()
        .flat_map(|(kind, lambdas)| sweep::grid(std::slice::from_ref(kind), lambdas, &seeds))
        .collect();
    let stem = args
        .config
        .file_stem()
        .map_or("config".into(), |s| s.to_string_lossy().into_owned());
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("runs").join(format!("sweep-{stem}")));
    if let Some(EmitArg::Slurm) = args.emit {
        std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
        let exe = std::env::current_exe()?.display().to_string();
        let config = std::path::absolute(&args.config)?;
        let out_abs = std::path::absolute(&out)?;
        let backend = format!("{:?}", args.backend).to_lowercase();
        let text = sweep::slurm_script(&exe, &config, &out_abs, &points, &args.overrides, &backend);
        let path = out.join("sweep.slurm");
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        println!("{} runs: sbatch {}", points.len(), path.display());
        return Ok(());
    }
    let total = points.len();
    let outcomes = sweep::run_sweep(
        &args.config,
        &out,
        &points,
        &args.overrides,
        args.backend.backend(),
        |i, p, status| {
            let what = if status == "skipped" {
                "done already"
            } else {
                status
            };
            eprintln!("[{}/{total}] {} ({what})", i + 1, p.name());
        },
    )?;
    for o in &outcomes {
        let tasks: Vec<String> = o.report["tasks"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|t| t["role"] == "transfer")
            .map(|t| {
                format!(
                    "{} acc {:.4} DDP {:.4}",
                    t["name"].as_str().unwrap_or("?"),
                    t["accuracy"].as_f64().unwrap_or(f64::NAN),
                    t["ddp"].as_f64().unwrap_or(f64::NAN)
                )
            })
            .collect();
        println!("{}: {}", o.point.name(), tasks.join("; "));
    }
    println!("{}", out.join("sweep.json").display());
    Ok(())
}

/// Each kind's λ grid: its `--lambda-for KIND=LIST`, else `--lambda`; every λ finite and ≥ 0.
fn lambda_grids(
    kinds: &[String],
    default: &[f64],
    own: &[String],
) -> anyhow::Result<Vec<(String, Vec<f64>)>> {
    let check = |flag: &str, l: &[f64]| -> anyhow::Result<()> {
        match l.iter().find(|l| !(l.is_finite() && **l >= 0.0)) {
            Some(bad) => Err(usage(format!("{flag} {bad}: λ must be ≥ 0"))),
            None => Ok(()),
        }
    };
    check("--lambda", default)?;
    let mut grids: Vec<(String, Vec<f64>)> = kinds
        .iter()
        .map(|k| (k.clone(), default.to_vec()))
        .collect();
    for spec in own {
        let flag = format!("--lambda-for {spec}");
        let (kind, list) = spec
            .split_once('=')
            .ok_or_else(|| usage(format!("{flag}: write KIND=λ,λ,… (e.g. sinkhorn=0,0.01)")))?;
        let lambdas = list
            .split(',')
            .map(|t| t.trim().parse::<f64>())
            .collect::<Result<Vec<f64>, _>>()
            .map_err(|e| usage(format!("{flag}: {e}")))?;
        check(&flag, &lambdas)?;
        let Some(grid) = grids.iter_mut().find(|(k, _)| k == kind) else {
            return Err(usage(format!(
                "{flag}: `{kind}` is not one of --penalty {}",
                kinds.join(",")
            )));
        };
        grid.1 = lambdas;
    }
    if let Some((kind, _)) = grids.iter().find(|(_, l)| l.is_empty()) {
        return Err(usage(format!(
            "no λ for `{kind}`: give --lambda, or --lambda-for {kind}=…"
        )));
    }
    Ok(grids)
}

/// The finite numbers of column `c`, or an error naming the file, line and column.
fn numeric_column(table: &Table, c: usize, path: &Path) -> Result<Vec<f64>, TrainError> {
    table
        .rows
        .iter()
        .zip(&table.lines)
        .map(|(r, line)| {
            r[c].trim()
                .parse()
                .ok()
                .filter(|v: &f64| v.is_finite())
                .ok_or_else(|| {
                    TrainError::from(fairrep_train::fairrep_data::DataError::NotNumeric {
                        path: path.to_path_buf(),
                        line: *line,
                        column: table.columns[c].clone(),
                        value: r[c].to_string(),
                    })
                })
        })
        .collect()
}

fn read_csv(path: &Path, delimiter: char) -> anyhow::Result<Table> {
    if !delimiter.is_ascii() {
        return Err(usage(format!(
            "--delimiter `{delimiter}` must be one ASCII character"
        )));
    }
    let table = Table::read(
        path,
        &ReadOptions {
            delimiter: delimiter as u8,
            skip_rows: 0,
            columns: None,
            header: true,
        },
    )
    .map_err(TrainError::from)?;
    if table.rows.is_empty() {
        return Err(usage(format!("{}: no data rows", path.display())));
    }
    Ok(table)
}

fn barycenter(args: BarycenterArgs) -> anyhow::Result<()> {
    use fairrep_train::fairrep_methods::Barycenter;
    use fairrep_train::fairrep_metrics::regression::score_parity;
    if !(args.jitter >= 0.0 && args.jitter.is_finite()) {
        return Err(usage(format!(
            "--jitter {} must be a finite number ≥ 0",
            args.jitter
        )));
    }
    let cal = read_csv(&args.calibrate, args.delimiter)?;
    let app = read_csv(&args.apply, args.delimiter)?;
    let cols = |t: &Table| -> Result<(usize, usize), TrainError> {
        Ok((
            t.column(&args.score, "--score")?,
            t.column(&args.group, "--group")?,
        ))
    };
    let ((cs, cg), (as_, ag)) = (cols(&cal)?, cols(&app)?);
    // Groups: the calibration file's values, sorted; the applied file may only use those.
    let mut names: Vec<String> = cal.rows.iter().map(|r| r[cg].trim().to_string()).collect();
    names.sort();
    names.dedup();
    let groups_of = |t: &Table, c: usize, path: &Path| -> Result<Vec<usize>, TrainError> {
        t.rows
            .iter()
            .zip(&t.lines)
            .map(|(r, line)| {
                names.binary_search(&r[c].trim().to_string()).map_err(|_| {
                    TrainError::from(fairrep_train::fairrep_data::DataError::Parse {
                        path: path.to_path_buf(),
                        line: *line,
                        message: format!(
                            "column `{}`: group `{}` does not occur in the calibration file {} (groups there: {})",
                            t.columns[c],
                            r[c].trim(),
                            args.calibrate.display(),
                            names.join(", ")
                        ),
                    })
                })
            })
            .collect()
    };
    let (cal_scores, cal_groups) = (
        numeric_column(&cal, cs, &args.calibrate)?,
        groups_of(&cal, cg, &args.calibrate)?,
    );
    let (scores, groups) = (
        numeric_column(&app, as_, &args.apply)?,
        groups_of(&app, ag, &args.apply)?,
    );
    for (g, name) in names.iter().enumerate() {
        let count = cal_groups.iter().filter(|&&h| h == g).count();
        if count < 2 {
            return Err(usage(format!(
                "{}: group `{name}` has {count} calibration score(s); the barycenter needs at least 2 per group",
                args.calibrate.display()
            )));
        }
    }
    let what = |path: &Path| format!("--score {} in {}", args.score, path.display());
    let fitted = Barycenter::fit(
        &cal_scores,
        &cal_groups,
        names.len(),
        args.jitter,
        args.seed,
    )
    .map_err(|source| TrainError::Barycenter {
        what: what(&args.calibrate),
        source,
    })?;
    let fair = fitted
        .apply(&scores, &groups, args.seed)
        .map_err(|source| TrainError::Barycenter {
            what: what(&args.apply),
            source,
        })?;
    let name = args
        .name
        .clone()
        .unwrap_or_else(|| format!("{}_fair", args.score));
    if app.columns.contains(&name) {
        return Err(usage(format!(
            "{} already has a column `{name}`; choose another with --name",
            args.apply.display()
        )));
    }
    let write = || -> Result<(), csv::Error> {
        let mut w = csv::WriterBuilder::new()
            .delimiter(args.delimiter as u8)
            .from_path(&args.out)?;
        w.write_record(
            app.columns
                .iter()
                .map(String::as_str)
                .chain([name.as_str()]),
        )?;
        for (row, v) in app.rows.iter().zip(&fair) {
            w.write_record(row.iter().map(str::to_string).chain([v.to_string()]))?;
        }
        w.flush()?;
        Ok(())
    };
    write().with_context(|| format!("cannot write {}", args.out.display()))?;
    let before = score_parity(&scores, &groups, names.len());
    let after = score_parity(&fair, &groups, names.len());
    let summary = serde_json::json!({
        "groups": names,
        "weights": fitted.weights,
        "calibration_rows": cal_scores.len(),
        "rows": fair.len(),
        "before": before,
        "after": after,
        "out": args.out,
    });
    println!("{}", serde_json::to_string_pretty(&summary)?);
    Ok(())
}

fn audit_predictions(args: AuditArgs) -> anyhow::Result<()> {
    use fairrep_train::fairrep_metrics as fm;
    let table = read_csv(&args.input, args.delimiter)?;
    let col = |name: &str, flag: &str| table.column(name, flag).map_err(TrainError::from);
    let (ct, cp, cg) = (
        col(&args.y_true, "--y-true")?,
        col(&args.y_pred, "--y-pred")?,
        col(&args.group, "--group")?,
    );
    let cs = args
        .score
        .as_deref()
        .map(|name| col(name, "--score"))
        .transpose()?;
    let labels = |c: usize| -> Vec<bool> {
        table
            .rows
            .iter()
            .map(|r| r[c].trim() == args.positive)
            .collect()
    };
    let (y_true, y_pred) = (labels(ct), labels(cp));
    let mut names: Vec<String> = table
        .rows
        .iter()
        .map(|r| r[cg].trim().to_string())
        .collect();
    names.sort();
    names.dedup();
    let group: Vec<usize> = table
        .rows
        .iter()
        .map(|r| {
            names
                .binary_search(&r[cg].trim().to_string())
                .expect("a listed group")
        })
        .collect();
    let frame = fm::MetricFrame::new(&y_true, &y_pred, &group, &names)?;
    let roc_auc = match cs {
        Some(c) => {
            let scores = numeric_column(&table, c, &args.input)?;
            fm::roc_auc(&y_true, &scores)?
        }
        None => None,
    };
    let by_group: serde_json::Map<String, serde_json::Value> = [
        ("selection_rate", fm::Rate::SelectionRate),
        ("tpr", fm::Rate::Tpr),
        ("fpr", fm::Rate::Fpr),
        ("accuracy", fm::Rate::Accuracy),
    ]
    .into_iter()
    .map(|(key, rate)| {
        let per: serde_json::Map<String, serde_json::Value> = names
            .iter()
            .cloned()
            .zip(
                frame
                    .rate_by_group(rate)
                    .into_iter()
                    .map(serde_json::Value::from),
            )
            .collect();
        (key.to_string(), per.into())
    })
    .collect();
    let overall = &frame.overall;
    let json = serde_json::json!({
        "n": y_true.len(),
        "groups": names,
        "demographic_parity_difference": fm::demographic_parity_difference(&frame),
        "demographic_parity_ratio": fm::demographic_parity_ratio(&frame),
        "equal_opportunity_difference": fm::equal_opportunity_difference(&frame),
        "equal_opportunity_ratio": fm::equal_opportunity_ratio(&frame),
        "equalized_odds_difference": fm::equalized_odds_difference(&frame),
        "equalized_odds_ratio": fm::equalized_odds_ratio(&frame),
        "accuracy": overall.accuracy(),
        "balanced_accuracy": overall.balanced_accuracy(),
        "roc_auc": roc_auc,
        "by_group": by_group,
    });
    println!("{}", serde_json::to_string_pretty(&json)?);
    Ok(())
}

/// A usage error (exit code 2) from a message.
fn usage(message: String) -> anyhow::Error {
    TrainError::Config(fairrep_train::ConfigError::Invalid {
        path: PathBuf::from("command line"),
        key: String::new(),
        message,
    })
    .into()
}

fn read_samples(path: &Path, args: &DivergenceArgs) -> anyhow::Result<Samples> {
    if !args.delimiter.is_ascii() {
        return Err(usage(format!(
            "--delimiter `{}` must be one ASCII character",
            args.delimiter
        )));
    }
    let table = Table::read(
        path,
        &ReadOptions {
            delimiter: args.delimiter as u8,
            skip_rows: 0,
            columns: None,
            header: args.header,
        },
    )
    .map_err(TrainError::from)?;
    let values = table.numeric().map_err(TrainError::from)?;
    Ok(Samples {
        n: table.rows.len(),
        d: table.columns.len(),
        values,
    })
}

fn divergence(args: DivergenceArgs) -> anyhow::Result<()> {
    let x = read_samples(&args.x, &args)?;
    let y = read_samples(&args.y, &args)?;
    if x.d != y.d {
        return Err(usage(format!(
            "{} has {} columns but {} has {}",
            args.x.display(),
            x.d,
            args.y.display(),
            y.d
        )));
    }
    let how = match args.kind {
        KindArg::Mmd => {
            if args.sigma.iter().any(|s| !(s.is_finite() && *s > 0.0)) {
                return Err(usage("--sigma values must be finite and > 0".into()));
            }
            Measure::Mmd(Mmd {
                kernel: match args.kernel {
                    KernelArg::Gaussian => KernelKind::Gaussian,
                    KernelArg::Laplacian => KernelKind::Laplacian,
                    KernelArg::Energy => KernelKind::Energy,
                },
                estimator: match args.estimator {
                    EstimatorArg::Biased => Estimator::Biased,
                    EstimatorArg::Unbiased => Estimator::Unbiased,
                    EstimatorArg::Linear => Estimator::Linear,
                },
                bandwidth: if args.sigma.is_empty() {
                    Bandwidth::Median
                } else {
                    Bandwidth::Fixed(args.sigma.clone())
                },
            })
        }
        KindArg::Sinkhorn => {
            let p = Power::from_p(args.p)
                .ok_or_else(|| usage(format!("--p {} must be 1 or 2", args.p)))?;
            if !(args.blur.is_finite() && args.blur > 0.0) {
                return Err(usage(format!("--blur {} must be > 0", args.blur)));
            }
            if !(args.scaling > 0.0 && args.scaling < 1.0) {
                return Err(usage(format!(
                    "--scaling {} must be in (0, 1)",
                    args.scaling
                )));
            }
            if args.reach.is_some_and(|r| !(r.is_finite() && r > 0.0)) {
                return Err(usage("--reach must be > 0".into()));
            }
            if args.tolerance.is_some_and(|t| !(t.is_finite() && t > 0.0)) {
                return Err(usage("--tolerance must be > 0".into()));
            }
            Measure::Sinkhorn(Sinkhorn {
                p,
                blur: args.blur,
                scaling: args.scaling,
                debias: !args.no_debias,
                reach: args.reach,
                tolerance: args.tolerance,
                max_iterations: args.max_iterations,
                ..Sinkhorn::default()
            })
        }
    };
    if matches!(how, Measure::Mmd(_)) && (args.potentials.is_some() || args.plan.is_some()) {
        return Err(usage("--potentials and --plan need --kind sinkhorn".into()));
    }
    let dtype = match args.dtype {
        DtypeArg::F32 => DType::F32,
        DtypeArg::F64 => DType::F64,
    };
    let device = args.backend.backend().device()?;
    if !device.supports_dtype(dtype) {
        return Err(usage(format!(
            "--backend {:?} has no {dtype:?} on this device; use --dtype f32 or a CPU backend (--backend flex or ndarray)",
            args.backend
        )));
    }
    let mut seconds = Vec::with_capacity(args.repeat.max(1));
    let mut m = None;
    for _ in 0..args.repeat.max(1) {
        let started = std::time::Instant::now();
        m = Some(measure(&x, &y, &how, dtype, &device, args.plan.is_some()));
        seconds.push(started.elapsed().as_secs_f64());
    }
    let m = m.expect("at least one measurement");
    if let Some(facts) = &m.sinkhorn {
        if let Some(path) = &args.potentials {
            let text = format!("{{\"f\": {:?}, \"g\": {:?}}}\n", facts.f, facts.g);
            std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
        }
        if let (Some(path), Some(plan)) = (&args.plan, &facts.plan) {
            let mut text = String::with_capacity(plan.len() * 12);
            for row in plan.chunks(y.n) {
                let cells: Vec<String> = row.iter().map(|v| format!("{v:e}")).collect();
                text += &cells.join(",");
                text.push('\n');
            }
            std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
        }
    }
    let mut json = serde_json::to_value(&m)?;
    if args.repeat >= 1 {
        let mut sorted = seconds.clone();
        sorted.sort_by(f64::total_cmp);
        json["seconds"] = serde_json::json!(seconds);
        json["median_seconds"] = serde_json::json!(sorted[sorted.len() / 2]);
    }
    println!("{}", serde_json::to_string_pretty(&json)?);
    Ok(())
}

fn init_tracing(cli: &Cli) {
    let level = match (cli.quiet, cli.verbose) {
        (true, _) => "warn",
        (false, 0) => "info",
        (false, 1) => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("FAIRREP_LOG").unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(format!("{level},burn=warn,cubecl=warn"))
    });
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::stderr().is_terminal());
    match cli.log_format {
        LogFormat::Pretty => builder.compact().init(),
        LogFormat::Json => builder.json().init(),
    }
}

fn default_out(config: &Path) -> PathBuf {
    let stem = config
        .file_stem()
        .map_or_else(|| "run".into(), |s| s.to_string_lossy().into_owned());
    (1..)
        .map(|n| PathBuf::from("runs").join(format!("{stem}-{n}")))
        .find(|p| !p.exists())
        .expect("an unused run directory name")
}

fn train(args: TrainArgs) -> anyhow::Result<()> {
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| default_out(&args.config));
    let opts = RunOptions {
        config: args.config,
        out: out.clone(),
        force: args.force,
        backend: args.backend.backend(),
        overrides: args.overrides,
        resume: args.resume,
    };
    let mut progress = Progress::new();
    let outcome = fairrep_train::run_any(&opts, &mut progress)?;
    progress.finish();
    match outcome {
        fairrep_train::Outcome::Deep(report) => {
            println!("{}", task_table(&report.tasks));
            println!(
                "representation bias (test): MMD² between groups = {:.5}",
                report.representation.mmd2
            );
        }
        fairrep_train::Outcome::Ferm(report) => print!("{}", report.markdown()),
    }
    println!(
        "run written to {}",
        std::path::absolute(&out)
            .with_context(|| format!("resolving {}", out.display()))?
            .display()
    );
    Ok(())
}

/// indicatif progress bars for epochs and steps; drawn only when stderr is a terminal.
struct Progress {
    bar: Option<ProgressBar>,
    enabled: bool,
    started: std::time::Instant,
    loss: f64,
    penalty: f64,
}

impl Progress {
    fn new() -> Self {
        Self {
            bar: None,
            enabled: std::io::stderr().is_terminal(),
            started: std::time::Instant::now(),
            loss: 0.0,
            penalty: 0.0,
        }
    }

    fn finish(&mut self) {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
    }
}

impl Observer for Progress {
    fn epoch_start(&mut self, epoch: usize, epochs: usize, steps: usize) {
        self.finish();
        if !self.enabled {
            return;
        }
        let bar = ProgressBar::new(steps as u64);
        bar.set_style(
            ProgressStyle::with_template(
                "epoch {prefix} [{bar:30}] {pos}/{len} steps, {per_sec}, ETA {eta} {msg}",
            )
            .expect("a valid progress template")
            .progress_chars("=> "),
        );
        bar.set_prefix(format!("{epoch}/{epochs}"));
        self.started = std::time::Instant::now();
        self.bar = Some(bar);
    }

    fn step(&mut self, task_loss: f64, penalty: f64) {
        // Exponential moving averages keep the displayed numbers readable.
        self.loss = 0.9 * self.loss + 0.1 * task_loss;
        self.penalty = 0.9 * self.penalty + 0.1 * penalty;
        if let Some(b) = &self.bar {
            b.inc(1);
            if b.position() % 10 == 0 {
                b.set_message(format!("loss {:.4} penalty {:.5}", self.loss, self.penalty));
            }
        }
    }

    fn epoch_end(&mut self, _record: &EpochRecord) {
        self.finish();
    }
}
