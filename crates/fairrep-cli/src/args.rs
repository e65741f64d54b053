//! Option types shared by several commands.

use clap::ValueEnum;
use fairrep_config::PenaltyKind;
use fairrep_run::Backend;

/// `--backend`.
#[derive(Copy, Clone, Debug, ValueEnum)]
pub enum BackendArg {
    /// burn's ndarray CPU backend (fused CPU kernels for the divergences).
    Ndarray,
    /// burn's flex CPU backend (pure Rust; the same fused CPU kernels for the divergences).
    Flex,
    /// burn's wgpu backend: a GPU, or Mesa's lavapipe software Vulkan driver.
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
    /// Compute backend.
    #[arg(long, value_enum, default_value_t = BackendArg::Flex)]
    pub backend: BackendArg,
}
