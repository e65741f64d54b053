//! [`Config`]: the whole experiment file, read, overridden and validated once.

use crate::overrides::{Override, with_suggestion};
use crate::penalty::PenaltySection;
use crate::sections::{
    CertifySection, HeadKind, MethodKind, MethodSection, ModelSection, PostprocessKind,
    PostprocessSection, TrainingSection, TransferSection,
};
use fairrep_data::{DataSpec, Role, TaskSpec};
use fairrep_types::Condition;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The widest layer a config may ask for (model.hidden, model.representation,
/// transfer.mlp.hidden): a layer of 65,536 × 65,536 weights is already 16 GiB in f32; wider
/// is a typo, not a model.
pub const MAX_WIDTH: usize = 65_536;

/// A whole experiment.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Seed of everything random: the validation split, weight initialisation, batch order.
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// The dataset.
    pub data: DataSpec,
    /// Source and transfer tasks.
    pub tasks: Vec<TaskSpec>,
    /// The encoder.
    #[serde(default)]
    pub model: ModelSection,
    /// The fairness penalty.
    #[serde(default)]
    pub penalty: PenaltySection,
    /// The optimisation.
    #[serde(default)]
    pub training: TrainingSection,
    /// The heads fitted on the frozen representation for transfer tasks.
    #[serde(default)]
    pub transfer: TransferSection,
    /// The method: the deep fair representation (default) or linear FERM.
    #[serde(default)]
    pub method: MethodSection,
    /// Post-processing of the tasks' scores (deep runs).
    #[serde(default)]
    pub postprocess: PostprocessSection,
    /// The certificate of the quantised release, after training (deep runs).
    #[serde(default)]
    pub certify: CertifySection,
}

fn default_seed() -> u64 {
    0
}

/// A config that cannot be used, with the file and the key it is about.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("cannot read config file {path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Not valid TOML for this schema (unknown key, wrong type, …); the message has the line.
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message, with line, column and key.
        message: String,
    },
    /// A value out of its range.
    #[error("{path}: `{key}` {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The dotted key.
        key: String,
        /// What is wrong.
        message: String,
    },
}

impl Config {
    /// Reads and validates a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        Self::load_with(path, &[])
    }

    /// Reads a config file, applies `--set` overrides in order, and validates the result. An
    /// override that breaks the config is named in the error.
    pub fn load_with(path: &Path, overrides: &[Override]) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse_with(&text, path, overrides)
    }

    /// [`Config::load_with`] on the text of a config file (`path` is only used in messages).
    pub fn parse_with(
        text: &str,
        path: &Path,
        overrides: &[Override],
    ) -> Result<Config, ConfigError> {
        let parse = |message: String| ConfigError::Parse {
            path: path.to_path_buf(),
            message: with_suggestion(message.trim_end()),
        };
        if overrides.is_empty() {
            let config: Config = toml::from_str(text).map_err(|e| parse(e.to_string()))?;
            config.validate(path)?;
            return Ok(config);
        }
        let doc: toml::Value = toml::from_str(text).map_err(|e| parse(e.to_string()))?;
        let decode = |v: &toml::Value| Config::deserialize(v.clone()).map_err(|e| e.to_string());
        let base_ok = decode(&doc).is_ok();
        let mut current = doc;
        for o in overrides {
            let mut next = current.clone();
            o.apply(&mut next)
                .map_err(|m| parse(format!("--set {}: {m}", o.text)))?;
            if base_ok && let Err(m) = decode(&next) {
                return Err(parse(format!("--set {}: {m}", o.text)));
            }
            current = next;
        }
        let config =
            decode(&current).map_err(|m| parse(format!("with the --set overrides: {m}")))?;
        let shown = PathBuf::from(format!(
            "{} (with {})",
            path.display(),
            overrides
                .iter()
                .map(|o| format!("--set {}", o.text))
                .collect::<Vec<_>>()
                .join(" ")
        ));
        config.validate(&shown)?;
        Ok(config)
    }

    /// Checks every value range. `path` is only used in messages.
    pub fn validate(&self, path: &Path) -> Result<(), ConfigError> {
        let bad = |key: &str, message: String| {
            Err(ConfigError::Invalid {
                path: path.to_path_buf(),
                key: key.to_string(),
                message,
            })
        };
        let p = &self.penalty;
        if !(p.lambda.is_finite() && p.lambda >= 0.0) {
            return bad(
                "penalty.lambda",
                format!("= {} must be a finite number ≥ 0", p.lambda),
            );
        }
        p.divergence()
            .and_then(|_| p.adversary())
            .map_err(|(key, message)| ConfigError::Invalid {
                path: path.to_path_buf(),
                key,
                message,
            })?;
        match (p.condition, &p.condition_task) {
            (Condition::None, Some(_)) => {
                return bad(
                    "penalty.condition_task",
                    "is set but penalty.condition is \"none\"".into(),
                );
            }
            (Condition::None, None) => {}
            (_, None) => {
                return bad(
                    "penalty.condition_task",
                    "must name the source task whose label conditions the penalty".into(),
                );
            }
            (_, Some(t)) => {
                if !self.tasks.iter().any(|k| {
                    &k.name == t
                        && k.role == Role::Source
                        && k.kind == fairrep_data::TaskKind::Binary
                }) {
                    return bad(
                        "penalty.condition_task",
                        format!("= \"{t}\" is not a binary source task"),
                    );
                }
            }
        }
        if self.method.kind == MethodKind::Ferm
            && let Some(t) = self
                .tasks
                .iter()
                .find(|t| t.kind == fairrep_data::TaskKind::Regression)
        {
            return bad(
                "method.kind",
                format!(
                    "is \"ferm\", which needs binary tasks; `{}` is a regression task",
                    t.name
                ),
            );
        }
        let pp = &self.postprocess;
        if !(pp.jitter.is_finite() && pp.jitter >= 0.0) {
            return bad(
                "postprocess.jitter",
                format!("= {} must be a finite number ≥ 0", pp.jitter),
            );
        }
        if self.method.kind == MethodKind::Deep && self.data.validation_fraction <= 0.0 {
            return bad(
                "data.validation_fraction",
                "= 0, but method.kind = \"deep\" needs a validation split (per-epoch metrics, \
                 early stopping, the checkpoint kept): set it in (0, 0.9), e.g. 0.1"
                    .into(),
            );
        }
        if pp.kind != PostprocessKind::None && self.method.kind != MethodKind::Deep {
            return bad(
                "postprocess.kind",
                "works on runs of method.kind = \"deep\" only".into(),
            );
        }
        for name in pp.tasks.iter().flatten() {
            if !self.tasks.iter().any(|k| &k.name == name) {
                return bad(
                    "postprocess.tasks",
                    format!("names `{name}`, which is not a task of this config"),
                );
            }
        }
        let c = &self.certify;
        if !(c.delta > 0.0 && c.delta < 1.0) {
            return bad("certify.delta", format!("= {} must be in (0, 1)", c.delta));
        }
        if !(c.target > 0.0 && c.target <= 1.0) {
            return bad(
                "certify.target",
                format!("= {} must be in (0, 1]", c.target),
            );
        }
        if let Some(k) = c.cells
            && !(1..=4096).contains(&k)
        {
            return bad("certify.cells", format!("= {k} must be in 1..=4096"));
        }
        if !["auto", "fare", "direct"].contains(&c.method.as_str()) {
            return bad(
                "certify.method",
                format!(
                    "= \"{}\" must be \"auto\", \"fare\" or \"direct\"",
                    c.method
                ),
            );
        }
        if c.min_leaf == Some(0) {
            return bad("certify.min_leaf", "must be at least 1".into());
        }
        if let Some(w) = c.fairness_weight
            && !(0.0..=1.0).contains(&w)
        {
            return bad(
                "certify.fairness_weight",
                format!("= {w} must be in [0, 1]"),
            );
        }
        if c.enabled && self.method.kind != MethodKind::Deep {
            return bad(
                "certify.enabled",
                "works on runs of method.kind = \"deep\" only".into(),
            );
        }
        let t = &self.training;
        if t.epochs == 0 {
            return bad("training.epochs", "must be at least 1".into());
        }
        if t.keep_checkpoints == 0 {
            return bad("training.keep_checkpoints", "must be at least 1".into());
        }
        if !(t.min_learning_rate.is_finite()
            && t.min_learning_rate >= 0.0
            && t.min_learning_rate <= t.learning_rate)
        {
            return bad(
                "training.min_learning_rate",
                format!(
                    "= {} must be in [0, learning_rate = {}]",
                    t.min_learning_rate, t.learning_rate
                ),
            );
        }
        if let Some(c) = t.grad_clip_norm
            && !(c.is_finite() && c > 0.0)
        {
            return bad("training.grad_clip_norm", format!("= {c} must be > 0"));
        }
        if t.early_stopping_patience == Some(0) {
            return bad(
                "training.early_stopping_patience",
                "must be at least 1".into(),
            );
        }
        if t.validate_every == 0 {
            return bad("training.validate_every", "must be at least 1".into());
        }
        if t.validation_rows == 1 {
            return bad(
                "training.validation_rows",
                "= 1: a divergence needs two rows or more (0 takes every row)".into(),
            );
        }
        if t.batch_size < 2 {
            return bad(
                "training.batch_size",
                format!("= {} must be at least 2", t.batch_size),
            );
        }
        if !(t.learning_rate.is_finite() && t.learning_rate > 0.0) {
            return bad(
                "training.learning_rate",
                format!("= {} must be > 0", t.learning_rate),
            );
        }
        if t.checkpoint_every_steps == Some(0) {
            return bad(
                "training.checkpoint_every_steps",
                "= 0 must be at least 1 (leave it out for a checkpoint per epoch only)".into(),
            );
        }
        if let Some(s) = t.checkpoint_every_seconds
            && !(s.is_finite() && s > 0.0)
        {
            return bad(
                "training.checkpoint_every_seconds",
                format!("= {s} must be a number of seconds > 0"),
            );
        }
        if !(t.weight_decay.is_finite() && t.weight_decay >= 0.0) {
            return bad(
                "training.weight_decay",
                format!("= {} must be ≥ 0", t.weight_decay),
            );
        }
        let m = &self.model;
        if !(1..=MAX_WIDTH).contains(&m.representation) {
            return bad(
                "model.representation",
                format!("= {} must be in 1..={MAX_WIDTH}", m.representation),
            );
        }
        if let Some(w) = m.hidden.iter().find(|w| !(1..=MAX_WIDTH).contains(*w)) {
            return bad(
                "model.hidden",
                format!("width {w}: widths must be in 1..={MAX_WIDTH}"),
            );
        }
        // The input layer's width is the data's: checked again when the data are read.
        if let Err(message) = m.check_parameters(None) {
            return bad("model.hidden", message);
        }
        if !(0.0..1.0).contains(&m.dropout) {
            return bad(
                "model.dropout",
                format!("= {} must be in [0, 1)", m.dropout),
            );
        }
        let tr = &self.transfer;
        if !(tr.l2.is_finite() && tr.l2 >= 0.0) {
            return bad("transfer.l2", format!("= {} must be ≥ 0", tr.l2));
        }
        if !(0.0..=1.0).contains(&tr.threshold) {
            return bad(
                "transfer.threshold",
                format!("= {} must be in [0, 1]", tr.threshold),
            );
        }
        match (tr.head, &tr.mlp) {
            (HeadKind::Logistic, Some(_)) => {
                return bad(
                    "transfer.mlp",
                    "is set but transfer.head is \"logistic\" (set head = \"mlp\")".into(),
                );
            }
            (HeadKind::Mlp, _) if tr.ferm => {
                return bad(
                    "transfer.ferm",
                    "needs transfer.head = \"logistic\": FERM constrains a linear head".into(),
                );
            }
            (HeadKind::Mlp, Some(m)) => {
                if !(1..=MAX_WIDTH).contains(&m.hidden) {
                    return bad(
                        "transfer.mlp.hidden",
                        format!("= {} must be in 1..={MAX_WIDTH}", m.hidden),
                    );
                }
                if m.epochs == 0 {
                    return bad("transfer.mlp.epochs", "= 0 must be ≥ 1".into());
                }
                if m.batch_size == 0 {
                    return bad("transfer.mlp.batch_size", "= 0 must be ≥ 1".into());
                }
                if !(m.learning_rate.is_finite() && m.learning_rate > 0.0) {
                    return bad(
                        "transfer.mlp.learning_rate",
                        format!("= {} must be > 0", m.learning_rate),
                    );
                }
            }
            _ => {}
        }
        if !self.tasks.iter().any(|t| t.role == Role::Source) {
            return bad(
                "tasks",
                "needs at least one task with role = \"source\"".into(),
            );
        }
        fairrep_data::validate_schema(&self.data, &self.tasks).map_err(|e| ConfigError::Invalid {
            path: path.to_path_buf(),
            key: "data".into(),
            message: e.to_string(),
        })
    }

    /// The config with data paths made absolute (relative ones are taken from `base_dir`), as
    /// written into a run directory so the run can be repeated from anywhere.
    pub fn with_absolute_paths(&self, base_dir: &Path) -> Config {
        let mut c = self.clone();
        c.penalty = c.penalty.resolved();
        for f in std::iter::once(&mut c.data.train).chain(c.data.test.as_mut()) {
            // Environment variables are expanded (an unset one was already refused when the
            // data was read), so the resolved config names the files actually read.
            let expanded = fairrep_data::spec::expand_path(&f.path).unwrap_or(f.path.clone());
            let joined = base_dir.join(expanded);
            f.path = std::path::absolute(&joined).unwrap_or(joined);
        }
        c
    }
}
