//! Option types shared by several commands.

use clap::ValueEnum;
use fairrep_config::PenaltyKind;
use fairrep_run::Backend;

/// `--backend`: burn's flex CPU backend (pure Rust, the default), its ndarray CPU backend, or
/// its wgpu backend (a GPU, or Mesa's lavapipe software Vulkan driver). The variants carry no
/// doc comments on purpose: clap would print a five-line block of them in every command's help.
#[derive(Copy, Clone, Debug, ValueEnum)]
pub enum BackendArg {
    Ndarray,
    Flex,
    Wgpu,
}

impl From<BackendArg> for Backend {
    fn from(b: BackendArg) -> Self {
        match b {
            BackendArg::Ndarray => Backend::Ndarray,
            BackendArg::Flex => Backend::Flex,
            BackendArg::Wgpu => Backend::Wgpu,
        }
    }
}

/// A penalty kind on the command line.
#[derive(Copy, Clone, Debug, ValueEnum)]
pub enum PenaltyArg {
    /// MMD².
    Mmd,
    /// The Sinkhorn divergence.
    Sinkhorn,
    /// An adversary's advantage (LAFTR).
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

/// The run directory and backend of `eval`, `transfer` and `audit`.
#[derive(clap::Args, Debug)]
pub struct RunDir {
    /// The run directory (written by `fairrep train`).
    #[arg(long)]
    pub run: std::path::PathBuf,
    /// Compute backend: flex (CPU), ndarray (CPU) or wgpu (a GPU, or Mesa's lavapipe).
    #[arg(long, value_enum, default_value_t = BackendArg::Flex)]
    pub backend: BackendArg,
}

/// The input file of `encode` and `predict` and how to read it.
#[derive(clap::Args, Debug)]
pub struct Input {
    /// Raw rows: CSV, CSV.gz or Parquet, with the columns of the run's data (columns the run
    /// does not use are ignored).
    #[arg(long)]
    pub input: std::path::PathBuf,
    /// The output file; its format by extension: .csv, .csv.gz, .parquet or .npy.
    #[arg(long)]
    pub out: std::path::PathBuf,
    /// Input columns to copy into the output first (ID columns, say): repeatable, or
    /// comma-separated (`--keep sex,income` is `--keep sex --keep income`).
    #[arg(long = "keep", value_name = "COL", value_delimiter = ',')]
    pub keep: Vec<String>,
    /// The input's first line names its columns (default: as the run's data files: a header
    /// unless the run's `[data].columns` names them).
    #[arg(long)]
    pub header: bool,
    /// Lines (Parquet: rows) to skip at the top of the input.
    #[arg(long, default_value_t = 0)]
    pub skip_rows: usize,
    /// The input's field delimiter (default: the run's `[data].delimiter`).
    #[arg(long)]
    pub delimiter: Option<char>,
    /// Rows read and encoded at once: memory is bounded by this, not by the file.
    #[arg(long, default_value_t = 65_536)]
    pub batch_rows: usize,
}

impl Input {
    /// The library's reading options.
    pub fn options(&self) -> anyhow::Result<fairrep_run::inference::InputOptions> {
        if self.batch_rows == 0 {
            return Err(crate::usage::usage(
                "--batch-rows must be at least 1".into(),
            ));
        }
        Ok(fairrep_run::inference::InputOptions {
            header: self.header,
            skip_rows: self.skip_rows,
            delimiter: self.delimiter,
            batch_rows: self.batch_rows,
        })
    }
}
