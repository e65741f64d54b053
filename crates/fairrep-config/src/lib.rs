//! The experiment file: a TOML document read into [`Config`] (unknown keys are errors), changed
//! by `--set` overrides ([`Override`]), then validated once, in [`Config::validate`], before any
//! work starts. Every section has one `Default`; `fairrep config --explain` ([`explain`]) takes
//! its defaults from the same serde defaults the parser uses.
//!
//! This crate has no burn: it names the numerical choices with `fairrep-types`' enums and
//! resolves a `[penalty]` into [`DivergenceSettings`]; `fairrep-run` turns those into the
//! divergences of `fairrep-losses`.

pub use fairrep_types::{Activation, Bandwidth, Condition, Estimator, KernelKind, Power, Scale};

mod config;
mod explain;
mod overrides;
mod penalty;
mod sections;
pub use config::{Config, ConfigError, MAX_WIDTH};
pub use explain::{KEYS, Key, Shown, default_of, explain};
pub use overrides::{Override, with_suggestion};
pub use penalty::{
    AdversaryLoss, AdversarySection, BandwidthSetting, DivergenceSettings, MMD_DEFAULTS,
    MmdDefaults, PAIR_DISTANCE_BLUR, PenaltyKind, PenaltySection, SINKHORN_DEFAULTS,
    SinkhornDefaults, bandwidth,
};
pub use sections::{
    CertifySection, HeadFamily, HeadKind, LinearLoss, LrSchedule, MAX_PARAMETERS, MethodKind,
    MethodSection, MlpHeadSection, ModelSection, PostprocessKind, PostprocessSection,
    TrainingSection, TransferSection,
};

#[cfg(test)]
mod tests;
