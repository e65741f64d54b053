//! The `fairrep` binary: a thin shell. It parses the command line ([`Cli`]), sets up logging and
//! hands each command to its module in [`commands`]; the work is done in the library crates.

mod args;
mod commands;
mod device_boundary;
#[cfg(test)]
mod docs_check;
mod progress;
mod tables;
mod usage;

use clap::{Parser, Subcommand, ValueEnum};
use std::io::IsTerminal;
use std::process::ExitCode;

/// mimalloc instead of the system allocator: a training step allocates and frees tensors of
/// 10–300 KiB hundreds of times, which glibc's allocator serves with `mmap`/`munmap` and fresh
/// page faults every time (a third of an epoch's time on the quickstart, measured with perf).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Fair, transferable representation learning: train an encoder on several tasks under a
/// fairness penalty (MMD², Sinkhorn or adversarial), then test it on tasks it never saw.
#[derive(Parser, Debug)]
#[command(name = "fairrep", version, long_version = LONG_VERSION.as_str(), long_about = None)]
struct Cli {
    /// More log output (-v: debug, -vv: trace).
    #[arg(short, long, action = clap::ArgAction::Count, global = true, help_heading = "Global options")]
    verbose: u8,
    /// Only warnings and errors.
    #[arg(
        short,
        long,
        global = true,
        conflicts_with = "verbose",
        help_heading = "Global options"
    )]
    quiet: bool,
    /// Log format on stderr.
    #[arg(long, value_enum, default_value_t = LogFormat::Pretty, global = true, help_heading = "Global options")]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

/// `fairrep --version`: the version, burn's, and the backends this build has (the ndarray and
/// wgpu backends are cargo features).
static LONG_VERSION: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    let built = fairrep_run::Backend::built();
    format!(
        "{}\nburn {}; backends: {}{}",
        env!("CARGO_PKG_VERSION"),
        fairrep_run::BURN_VERSION,
        built.join(", "),
        match built.len() {
            3 => "",
            _ => " (the others: cargo build --release --features wgpu,ndarray)",
        }
    )
});

#[derive(Copy, Clone, Debug, ValueEnum)]
enum LogFormat {
    Pretty,
    Json,
}

#[derive(Subcommand, Debug)]
enum Command {
    Train(commands::train::Args),
    Config(commands::config::Args),
    Eval(commands::eval::Args),
    Transfer(commands::transfer::Args),
    Audit(commands::audit::Args),
    Certify(commands::certify::Args),
    Sweep(commands::sweep::Args),
    Report(commands::report::Args),
    Divergence(commands::divergence::Args),
    AuditPredictions(commands::audit_predictions::Args),
    Barycenter(commands::barycenter::Args),
    Encode(commands::encode::Args),
    Predict(commands::predict::Args),
    Export(commands::export::Args),
}

fn main() -> ExitCode {
    device_boundary::install();
    match std::panic::catch_unwind(run) {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(e)) => {
            eprintln!("error: {e:#}");
            ExitCode::from(if usage::is_user_error(&e) { 2 } else { 1 })
        }
        Err(payload) => match device_boundary::device_error(&payload) {
            Some(e) => {
                eprintln!("error: {e:#}");
                ExitCode::from(1)
            }
            // A bug: its message and location were printed by the default hook.
            None => std::panic::resume_unwind(payload),
        },
    }
}

fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    init_tracing(&cli);
    match cli.command {
        Command::Train(a) => commands::train::run(a),
        Command::Config(a) => commands::config::run(a),
        Command::Eval(a) => commands::eval::run(a),
        Command::Transfer(a) => commands::transfer::run(a),
        Command::Audit(a) => commands::audit::run(a),
        Command::Certify(a) => commands::certify::run(a),
        Command::Sweep(a) => commands::sweep::run(a),
        Command::Report(a) => commands::report::run(a),
        Command::Divergence(a) => commands::divergence::run(a),
        Command::AuditPredictions(a) => commands::audit_predictions::run(a),
        Command::Barycenter(a) => commands::barycenter::run(a),
        Command::Encode(a) => commands::encode::run(a),
        Command::Predict(a) => commands::predict::run(a),
        Command::Export(a) => commands::export::run(a),
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
        tracing_subscriber::EnvFilter::new(format!("{level},burn=warn,cubecl=error"))
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

#[cfg(test)]
mod tests {
    /// The wgpu and ndarray tests (tests/e2e.rs) are ignored in a build without their
    /// features; this test fails such a build, so they are never left out unnoticed.
    #[test]
    fn the_test_build_has_every_backend() {
        assert_eq!(
            fairrep_run::Backend::built(),
            ["flex", "ndarray", "wgpu"],
            "the wgpu and ndarray tests need their features: run the tests as scripts/test.sh \
             does (cargo test --release --workspace --all-features)"
        );
        assert!(super::LONG_VERSION.contains("backends: flex, ndarray, wgpu"));
    }
}
