//! `fairrep train`.

use crate::args::BackendArg;
use crate::progress::Progress;
use anyhow::Context;
use fairrep_config::Override;
use fairrep_report::health::warning_lines;
use fairrep_report::task_table;
use fairrep_run::{Outcome, RunOptions};
use std::path::{Path, PathBuf};

/// Train an encoder as a config says, evaluate it and write the run directory.
///
/// Trains the encoder and the source heads under the config's penalty, evaluates the source
/// heads on the test split, fits a fresh head per transfer task on the frozen representation,
/// and writes the run directory: config.toml (resolved), metrics.jsonl, checkpoints/,
/// model.bpk, transfer_heads.json, report.json and report.md. A FERM config
/// (`[method] kind = "ferm"`) fits linear FERM instead.
///
/// Example:
///   fairrep train --config configs/quickstart.toml --out runs/q --set penalty.lambda=0.5
#[derive(clap::Args, Debug)]
#[command(verbatim_doc_comment)]
pub struct Args {
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
    /// Compute backend: flex (CPU), ndarray (CPU) or wgpu (a GPU, or Mesa's lavapipe).
    #[arg(long, value_enum, default_value_t = BackendArg::Flex)]
    backend: BackendArg,
}

impl Args {
    /// Whether the config (with its overrides) has `[data.stream]`: the run may stream its
    /// training rows. A config that does not load says so later, when the run loads it.
    pub fn streams(&self) -> bool {
        fairrep_config::Config::load_with(&self.config, &self.overrides)
            .is_ok_and(|c| c.data.stream.is_some())
    }
}

/// `runs/<config name>-<n>`, the first `n` not taken.
fn default_out(config: &Path) -> PathBuf {
    let stem = config
        .file_stem()
        .map_or_else(|| "run".into(), |s| s.to_string_lossy().into_owned());
    let mut n = 1;
    loop {
        let p = PathBuf::from("runs").join(format!("{stem}-{n}"));
        if !p.exists() {
            return p;
        }
        n += 1;
    }
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<()> {
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| default_out(&args.config));
    let opts = RunOptions {
        config: args.config,
        out: out.clone(),
        force: args.force,
        backend: args.backend.into(),
        overrides: args.overrides,
        resume: args.resume,
    };
    let mut progress = Progress::new();
    let outcome = fairrep_run::run_any(&opts, &mut progress)?;
    progress.finish();
    match outcome {
        Outcome::Deep(report) => {
            println!("{}", task_table(&report.tasks));
            println!(
                "representation bias (test): MMD² between groups = {:.5}",
                report.representation.mmd2
            );
            print!("{}", warning_lines(&report.warnings()));
        }
        Outcome::Ferm(report) => print!("{}", report.markdown()),
    }
    println!(
        "run written to {}",
        std::path::absolute(&out)
            .with_context(|| format!("resolving {}", out.display()))?
            .display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: Args,
    }

    /// `streams` reads `[data.stream]` from the config and its overrides (the binary then keeps
    /// freed memory a while); a config that does not load is not a streamed one.
    #[test]
    fn a_config_streams_when_it_has_data_stream() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("c.toml");
        let base = "[data]\ntrain = { path = \"a.csv\" }\ntest = { path = \"b.csv\" }\n\
                    [data.features]\nnumeric = [\"x\"]\n[data.sensitive]\ncolumn = \"s\"\n\
                    [[tasks]]\nname = \"t\"\ncolumn = \"y\"\npositive = { eq = 1 }\n\
                    role = \"source\"\n";
        let args = |extra: &[&str]| {
            let mut argv = vec!["x", "--config", cfg.to_str().unwrap()];
            argv.extend(extra);
            Cli::parse_from(argv).args
        };
        std::fs::write(&cfg, base).unwrap();
        assert!(!args(&[]).streams());
        assert!(args(&["--set", "data.stream.mode=always"]).streams());
        std::fs::write(&cfg, format!("{base}[data.stream]\nmode = \"auto\"\n")).unwrap();
        assert!(args(&[]).streams());
        std::fs::write(&cfg, "not toml [").unwrap();
        assert!(!args(&[]).streams());
    }
}
