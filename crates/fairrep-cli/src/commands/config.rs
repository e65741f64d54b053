//! `fairrep config`.

use fairrep_config::Override;
use std::path::PathBuf;

/// Validate a config and its data without training, or list every config key.
///
/// --check FILE reads the config (with any --set overrides) and its data — files, columns,
/// tasks, groups — and prints a one-line summary, or the error that training would stop with.
/// --explain lists every config key with its type, default and meaning.
///
/// Examples:
///   fairrep config --check configs/quickstart.toml --set penalty.kind=sinkhorn
///   fairrep config --explain
#[derive(clap::Args, Debug)]
#[command(verbatim_doc_comment)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["check", "explain"])))]
pub struct Args {
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

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<()> {
    match args.check {
        Some(path) => {
            let summary = fairrep_run::check(&path, &args.overrides)?;
            println!("{}: ok — {summary}", path.display());
        }
        None => print!("{}", fairrep_config::explain()),
    }
    Ok(())
}
