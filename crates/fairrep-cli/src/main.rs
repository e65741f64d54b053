//! The `fairrep` binary: a thin shell over `fairrep-train`.

use anyhow::Context;
use clap::{Args, Parser, Subcommand, ValueEnum};
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
    #[arg(long)]
    force: bool,
    /// Compute backend.
    #[arg(long, value_enum, default_value_t = BackendArg::Ndarray)]
    backend: BackendArg,
}

#[derive(Copy, Clone, Debug, ValueEnum)]
enum BackendArg {
    /// burn's ndarray CPU backend.
    Ndarray,
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
    }
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
        backend: match args.backend {
            BackendArg::Ndarray => Backend::Ndarray,
        },
    };
    let mut progress = Progress::new();
    let report = fairrep_train::run(&opts, &mut progress)?;
    progress.finish();
    println!("{}", task_table(&report.tasks));
    println!(
        "representation bias (test): MMD² between groups = {:.5}",
        report.representation.mmd2
    );
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
