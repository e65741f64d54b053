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

/// mimalloc's option `purge_delay`: its value in the `mi_option_e` enum of both mimalloc v2 and
/// v3 (libmimalloc-sys 0.1.49 does not name it; a test checks the value against the environment
/// variable mimalloc reads for it).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Freed memory goes back to the system at once (mimalloc's purge delay 0; by default it waits
/// 10 ms, 100 ms in its arenas, and only when it next allocates on that thread): a large training
/// table's blocks, freed as the splits are encoded, no longer count in the peak RSS of the
/// training that follows (2,000,000 rows: 458 → 349 MiB; the steps measured no slower). A
/// `MIMALLOC_PURGE_DELAY` in the environment is left to decide.
#[allow(unsafe_code)] // the one FFI call; the workspace denies `unsafe` elsewhere
fn return_freed_memory_promptly() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: sets one of mimalloc's options, an integer it reads when it purges; any value
        // is valid (0: purge at once).
        unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0) }
    }
}

/// mimalloc's purge delay for a streamed training run, in milliseconds.
const STREAMING_PURGE_DELAY_MS: std::ffi::c_long = 100;

/// A streamed run (`[data.stream]`) reads and frees its windows over and over: with freed memory
/// returned at once, every read faults fresh pages in, so `fairrep train` with a config that
/// streams sets mimalloc's purge delay to [`STREAMING_PURGE_DELAY_MS`] instead (a 200,000 × 768
/// streamed epoch 3.3 → 2.5–2.8 s, its training peak 891 → 962–966 MiB;
/// docs/guide/streaming.md). Called before any other thread runs (mimalloc's option setter
/// is not thread-safe); a `MIMALLOC_PURGE_DELAY` in the environment is left to decide.
#[allow(unsafe_code)] // the one FFI call; the workspace denies `unsafe` elsewhere
fn keep_freed_memory_a_while() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: as in `return_freed_memory_promptly`; only the main thread runs yet.
        unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, STREAMING_PURGE_DELAY_MS) }
    }
}

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
    return_freed_memory_promptly();
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
    if let Command::Train(a) = &cli.command
        && a.streams()
    {
        keep_freed_memory_a_while();
    }
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

    /// `MI_OPTION_PURGE_DELAY` is the option mimalloc reads from `MIMALLOC_PURGE_DELAY`: with the
    /// variable set, the option reads its value (the binary leaves it); without it, the binary's
    /// setting leaves 0, and this test binary, run again on this test with the variable at 7,
    /// passes the first branch.
    #[test]
    #[allow(unsafe_code)]
    fn the_purge_delay_is_the_option_mimalloc_reads_from_its_environment() {
        super::return_freed_memory_promptly();
        // SAFETY: reads one of mimalloc's integer options.
        let now = unsafe { libmimalloc_sys::mi_option_get(super::MI_OPTION_PURGE_DELAY) };
        if let Some(v) = std::env::var_os("MIMALLOC_PURGE_DELAY") {
            assert_eq!(now.to_string(), v.to_string_lossy());
            return;
        }
        assert_eq!(now, 0);
        let name = "tests::the_purge_delay_is_the_option_mimalloc_reads_from_its_environment";
        let child = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", name])
            .env("MIMALLOC_PURGE_DELAY", "7")
            .output()
            .unwrap();
        let out = String::from_utf8_lossy(&child.stdout);
        assert!(child.status.success() && out.contains("1 passed"), "{out}");
    }
}
