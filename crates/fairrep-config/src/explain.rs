//! `fairrep config --explain`: every config key with its type, default and meaning. The
//! defaults are not written here: [`default_of`] reads them from the serde defaults of the
//! sections (a parsed minimal config, every penalty kind resolved), so the explained default is
//! the real one by construction; the tests check that every key of the schema is explained and
//! that setting a key to its explained default changes nothing.

use crate::config::Config;
use crate::penalty::{PenaltyKind, PenaltySection};
use crate::sections::MlpHeadSection;

/// How a key's default is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shown {
    /// The value the parser fills in, read by [`default_of`].
    Default,
    /// A description where there is no single value ("required", "none", …).
    Text(&'static str),
}

/// One config key.
#[derive(Debug, Clone, Copy)]
pub struct Key {
    /// The dotted key (`tasks.N.…` for every task).
    pub key: &'static str,
    /// Its type, in words.
    pub ty: &'static str,
    /// Its default.
    pub default: Shown,
    /// What it means.
    pub meaning: &'static str,
}

/// A minimal config: the required keys only, with placeholder values.
const MINIMAL: &str = r#"
[data]
train = { path = "train.csv" }
test = { path = "test.csv" }
[data.features]
[data.sensitive]
column = "s"
[[tasks]]
name = "t"
column = "y"
positive = { eq = 1 }
role = "source"
"#;

/// The document of every default: the minimal config as parsed (serde's defaults), with the
/// options of every penalty kind resolved, the MLP transfer head's and `[data.stream]`'s
/// defaults.
fn defaults_document() -> toml::Value {
    let config: Config = toml::from_str(MINIMAL).expect("the minimal config parses");
    let mut doc = toml::Value::try_from(&config).expect("a config serialises");
    let penalty = doc
        .get_mut("penalty")
        .and_then(toml::Value::as_table_mut)
        .expect("a [penalty] table");
    for kind in [
        PenaltyKind::Adversarial,
        PenaltyKind::Sinkhorn,
        PenaltyKind::Mmd,
    ] {
        let resolved = PenaltySection {
            kind,
            ..PenaltySection::default()
        }
        .resolved();
        if let toml::Value::Table(t) = toml::Value::try_from(resolved).expect("serialises") {
            penalty.extend(t);
        }
    }
    if let Some(toml::Value::Table(data)) = doc.get_mut("data") {
        let stream = fairrep_data::StreamSpec::default();
        data.insert(
            "stream".into(),
            toml::Value::try_from(stream).expect("serialises"),
        );
    }
    if let Some(toml::Value::Table(transfer)) = doc.get_mut("transfer") {
        transfer.insert(
            "mlp".into(),
            toml::Value::try_from(MlpHeadSection::default()).expect("serialises"),
        );
    }
    doc
}

/// The default of a dotted key (`tasks.N.…` or `tasks.0.…`), as the parser fills it in; `None`
/// for a key without one (required, or unset by default).
pub fn default_of(key: &str) -> Option<toml::Value> {
    let doc = defaults_document();
    let mut node = &doc;
    for part in key.split('.') {
        node = match node {
            toml::Value::Table(t) => t.get(part)?,
            toml::Value::Array(a) => a.get(if part == "N" { 0 } else { part.parse().ok()? })?,
            _ => return None,
        };
    }
    Some(node.clone())
}

/// The dotted keys of every value in the defaults document (`tasks.N.…` for the task list).
#[cfg(test)]
pub(crate) fn documented_leaves() -> Vec<String> {
    fn walk(prefix: &str, v: &toml::Value, out: &mut Vec<String>) {
        match v {
            toml::Value::Table(t) if !t.is_empty() => {
                for (k, v) in t {
                    let key = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    walk(&key, v, out);
                }
            }
            toml::Value::Array(a) if prefix == "tasks" => {
                for v in a.iter().take(1) {
                    walk("tasks.N", v, out);
                }
            }
            _ => out.push(prefix.to_string()),
        }
    }
    let mut out = Vec::new();
    walk("", &defaults_document(), &mut out);
    out
}

/// Every config key: dotted key, type, default, meaning.
pub const KEYS: &[Key] = &[
    Key {
        key: "seed",
        ty: "integer",
        default: Shown::Default,
        meaning: "seed of the validation split, initial weights and batch order",
    },
    Key {
        key: "data.train.path",
        ty: "path",
        default: Shown::Text("required"),
        meaning: "training CSV (gzip if it ends in .gz) or Parquet (.parquet); relative to the config's directory; $NAME or ${NAME} is an environment variable; a glob pattern (shards/*.parquet) or a directory names the shards of one table, read in name order into memory",
    },
    Key {
        key: "data.train.skip_rows",
        ty: "integer",
        default: Shown::Default,
        meaning: "lines to skip at the top of the training file",
    },
    Key {
        key: "data.test.path",
        ty: "path",
        default: Shown::Text("required unless data.test_fraction"),
        meaning: "test CSV or Parquet ($NAME / ${NAME}: environment variables, e.g. $FAIRREP_DATA_DIR); a glob pattern or a directory names shards, as for data.train.path",
    },
    Key {
        key: "data.test_fraction",
        ty: "number in (0, 1)",
        default: Shown::Text("none"),
        meaning: "without a test file: the seeded fraction of the training file held out as the test split",
    },
    Key {
        key: "data.test.skip_rows",
        ty: "integer",
        default: Shown::Default,
        meaning: "lines to skip at the top of the test file",
    },
    Key {
        key: "data.columns",
        ty: "list of strings",
        default: Shown::Text("the header line"),
        meaning: "column names for files without a header",
    },
    Key {
        key: "data.delimiter",
        ty: "character",
        default: Shown::Default,
        meaning: "field delimiter (one ASCII character)",
    },
    Key {
        key: "data.missing_values",
        ty: "list of strings",
        default: Shown::Default,
        meaning: "cells that mean missing",
    },
    Key {
        key: "data.missing",
        ty: "\"drop_rows\" | \"impute\" | \"error\"",
        default: Shown::Default,
        meaning: "what to do with missing cells",
    },
    Key {
        key: "data.validation_fraction",
        ty: "number in (0, 1)",
        default: Shown::Default,
        meaning: "share of the training file held out for validation (seeded)",
    },
    Key {
        key: "data.stream",
        ty: "table",
        default: Shown::Text("none (in memory)"),
        meaning: "train from the training shards a window of rows at a time (tables larger than \
                  memory); validation/test rows held out by a seeded hash of (file name, row); \
                  docs/guide/streaming.md",
    },
    Key {
        key: "data.stream.mode",
        ty: "\"auto\" | \"always\"",
        default: Shown::Default,
        meaning: "auto: stream only when rows × used columns × 4 bytes exceeds above_mib",
    },
    Key {
        key: "data.stream.above_mib",
        ty: "number",
        default: Shown::Default,
        meaning: "mode = \"auto\": the training table's size above which it is streamed",
    },
    Key {
        key: "data.stream.shuffle_rows",
        ty: "integer ≥ 1",
        default: Shown::Default,
        meaning: "rows shuffled together (rounded up to a multiple of the batch size); shards \
                  are read in a seeded order each epoch",
    },
    Key {
        key: "data.stream.fit_rows",
        ty: "integer ≥ 1",
        default: Shown::Default,
        meaning: "about how many training rows (a seeded sample) the preprocessing is fitted on; also the \
                  evaluation's training split",
    },
    Key {
        key: "data.features.categorical",
        ty: "list of columns",
        default: Shown::Default,
        meaning: "one-hot encoded over the training categories",
    },
    Key {
        key: "data.features.numeric",
        ty: "list of columns",
        default: Shown::Default,
        meaning: "standardised with training statistics",
    },
    Key {
        key: "data.features.vectors",
        ty: "list of columns",
        default: Shown::Default,
        meaning: "Parquet columns of fixed-length float lists (embeddings), each expanded to \
                  numeric features <column>_0 … <column>_{d-1}",
    },
    Key {
        key: "data.sensitive.column",
        ty: "column",
        default: Shown::Text("required (or columns)"),
        meaning: "the sensitive attribute (a file's column or a [[data.derived]] one)",
    },
    Key {
        key: "data.sensitive.columns",
        ty: "list of columns",
        default: Shown::Text("none"),
        meaning: "instead of column: the intersection of these, one group per combination \
                  present (\"Female × Black\") unless groups merges them",
    },
    Key {
        key: "data.sensitive.groups",
        ty: "list of {name, values} or {name, gt/ge/lt/le}",
        default: Shown::Text("each distinct value"),
        meaning: "named groups (2 or more), each of listed values or a numeric range ({ name = \"young\", lt = 25 }); a row belongs to the first group that holds its cell",
    },
    Key {
        key: "data.sensitive.include_as_feature",
        ty: "bool",
        default: Shown::Default,
        meaning: "also feed the sensitive attribute to the encoder",
    },
    Key {
        key: "data.derived",
        ty: "list of tables",
        default: Shown::Text("none"),
        meaning: "columns computed when a file is read: name and cross = [columns] (their \
                  intersection, cells joined by \" × \") or any = [columns] (\"1\" when any \
                  indicator is true, else \"0\"); usable as the sensitive column or a task's \
                  column, not as a feature",
    },
    Key {
        key: "tasks",
        ty: "list of tables",
        default: Shown::Text("required"),
        meaning: "binary tasks: name, column, positive (predicate), role",
    },
    Key {
        key: "tasks.N.name",
        ty: "string",
        default: Shown::Text("required"),
        meaning: "task name (unique)",
    },
    Key {
        key: "tasks.N.column",
        ty: "column",
        default: Shown::Text("required"),
        meaning: "the column the label comes from",
    },
    Key {
        key: "tasks.N.kind",
        ty: "\"binary\" | \"regression\"",
        default: Shown::Default,
        meaning: "binary: label from `positive`; regression: the column's number (squared-error head, RMSE/MAE/R², KS/W1 parity)",
    },
    Key {
        key: "tasks.N.positive",
        ty: "predicate",
        default: Shown::Text("required for binary tasks"),
        meaning: "{eq|ne = v}, {in|not_in = [..]}, {gt|ge|lt|le = x}",
    },
    Key {
        key: "tasks.N.role",
        ty: "\"source\" | \"transfer\"",
        default: Shown::Text("required"),
        meaning: "source tasks train the encoder; transfer tasks only evaluate it",
    },
    Key {
        key: "model.hidden",
        ty: "list of integers",
        default: Shown::Default,
        meaning: "hidden widths of the encoder MLP",
    },
    Key {
        key: "model.representation",
        ty: "integer",
        default: Shown::Default,
        meaning: "size of the representation z",
    },
    Key {
        key: "model.activation",
        ty: "relu | tanh | sigmoid | gelu | identity",
        default: Shown::Default,
        meaning: "activation of the hidden layers",
    },
    Key {
        key: "model.representation_activation",
        ty: "same as activation",
        default: Shown::Default,
        meaning: "activation applied to z",
    },
    Key {
        key: "model.dropout",
        ty: "number in [0, 1)",
        default: Shown::Default,
        meaning: "dropout after hidden layers",
    },
    Key {
        key: "penalty.kind",
        ty: "\"mmd\" | \"sinkhorn\" | \"adversarial\"",
        default: Shown::Default,
        meaning: "the divergence between the groups' representations, or an adversary (LAFTR)",
    },
    Key {
        key: "penalty.lambda",
        ty: "number ≥ 0",
        default: Shown::Default,
        meaning: "weight of the penalty (0: measured, not trained on)",
    },
    Key {
        key: "penalty.condition",
        ty: "\"none\" | \"equal_opportunity\" | \"equalized_odds\"",
        default: Shown::Default,
        meaning: "demographic parity, or conditioned on a task's label",
    },
    Key {
        key: "penalty.condition_task",
        ty: "source task name",
        default: Shown::Text("none"),
        meaning: "the task whose label conditions the penalty",
    },
    Key {
        key: "penalty.scale",
        ty: "\"none\" | \"batch_rms\" | \"pair_distance\" | \"whiten\"",
        default: Shown::Text("\"pair_distance\" for sinkhorn, \"none\" for mmd"),
        meaning: "divide the centred z by the batch's RMS entry or RMS distance between rows, or whiten it by the batch's covariance",
    },
    Key {
        key: "penalty.bandwidth",
        ty: "\"median\" | σ | [σ, …]",
        default: Shown::Default,
        meaning: "MMD: Gaussian bandwidth(s), kernels summed",
    },
    Key {
        key: "penalty.kernel",
        ty: "\"gaussian\" | \"laplacian\" | \"energy\"",
        default: Shown::Default,
        meaning: "MMD: kernel",
    },
    Key {
        key: "penalty.estimator",
        ty: "\"biased\" | \"unbiased\" | \"linear\"",
        default: Shown::Default,
        meaning: "MMD: estimator",
    },
    Key {
        key: "penalty.blur",
        ty: "number > 0",
        default: Shown::Text("0.7 (scale \"pair_distance\" or \"whiten\"), else 0.05"),
        meaning: "Sinkhorn: ε = blur^p, in the units of the scaled z",
    },
    Key {
        key: "penalty.scaling",
        ty: "number in (0, 1)",
        default: Shown::Default,
        meaning: "Sinkhorn: ε-scaling ratio",
    },
    Key {
        key: "penalty.p",
        ty: "1 | 2",
        default: Shown::Default,
        meaning: "Sinkhorn: cost |x − y|^p / p",
    },
    Key {
        key: "penalty.debias",
        ty: "bool",
        default: Shown::Default,
        meaning: "Sinkhorn: debiased divergence (or raw entropic OT)",
    },
    Key {
        key: "penalty.reach",
        ty: "number > 0",
        default: Shown::Text("balanced"),
        meaning: "Sinkhorn: unbalanced transport with ρ = reach^p",
    },
    Key {
        key: "penalty.adversary.hidden",
        ty: "list of integers ≥ 1",
        default: Shown::Default,
        meaning: "adversarial: hidden widths of the adversary MLP z ↦ group logits",
    },
    Key {
        key: "penalty.adversary.learning_rate",
        ty: "number > 0",
        default: Shown::Default,
        meaning: "adversarial: the adversary's Adam learning rate",
    },
    Key {
        key: "penalty.adversary.steps",
        ty: "integer ≥ 1",
        default: Shown::Default,
        meaning: "adversarial: adversary updates per encoder update",
    },
    Key {
        key: "penalty.adversary.loss",
        ty: "\"l1\" | \"cross_entropy\"",
        default: Shown::Default,
        meaning: "adversarial: what the adversary minimises (LAFTR's ℓ₁, or balanced cross-entropy)",
    },
    Key {
        key: "training.epochs",
        ty: "integer ≥ 1",
        default: Shown::Default,
        meaning: "passes over the training split",
    },
    Key {
        key: "training.batch_size",
        ty: "integer ≥ 2",
        default: Shown::Default,
        meaning: "rows per step (a last, smaller batch is kept if it has ≥ 2 rows)",
    },
    Key {
        key: "training.learning_rate",
        ty: "number > 0",
        default: Shown::Default,
        meaning: "Adam's learning rate",
    },
    Key {
        key: "training.weight_decay",
        ty: "number ≥ 0",
        default: Shown::Default,
        meaning: "L2 weight decay",
    },
    Key {
        key: "training.lr_schedule",
        ty: "\"constant\" | \"cosine\"",
        default: Shown::Default,
        meaning: "learning-rate schedule over the optimiser steps (cosine: down to min_learning_rate)",
    },
    Key {
        key: "training.warmup_steps",
        ty: "integer ≥ 0",
        default: Shown::Default,
        meaning: "steps of linear warm-up from learning_rate / warmup_steps to learning_rate",
    },
    Key {
        key: "training.min_learning_rate",
        ty: "number in [0, learning_rate]",
        default: Shown::Default,
        meaning: "the floor of the cosine schedule",
    },
    Key {
        key: "training.grad_clip_norm",
        ty: "number > 0",
        default: Shown::Text("none"),
        meaning: "clip each parameter's gradient to this L2 norm",
    },
    Key {
        key: "training.early_stopping_patience",
        ty: "integer ≥ 1",
        default: Shown::Text("none"),
        meaning: "stop when the validation objective (validation loss + λ · the run's own penalty) has not improved for this many epochs",
    },
    Key {
        key: "training.validate_every",
        ty: "integer ≥ 1",
        default: Shown::Default,
        meaning: "validate every this many epochs and after the last (metrics, penalty, yardstick; early stopping and the best checkpoint); the epochs between have null validation fields in metrics.jsonl",
    },
    Key {
        key: "training.validation_rows",
        ty: "integer, 0 or ≥ 2",
        default: Shown::Default,
        meaning: "validation rows the penalty and the MMD² yardstick are measured on (a seeded subsample, the same rows every epoch; 0: every row); the task metrics use every row",
    },
    Key {
        key: "training.keep_checkpoints",
        ty: "integer ≥ 1",
        default: Shown::Default,
        meaning: "checkpoints kept in the run directory (one at the end of every epoch, and those within epochs with checkpoint_every_steps/seconds; checkpoints/best is kept besides)",
    },
    Key {
        key: "training.checkpoint_every_steps",
        ty: "integer ≥ 1",
        default: Shown::Text("none"),
        meaning: "also checkpoint within an epoch every this many steps: a kill loses at most these steps; --resume continues from the step, bit-identical",
    },
    Key {
        key: "training.checkpoint_every_seconds",
        ty: "number > 0",
        default: Shown::Text("none"),
        meaning: "also checkpoint within an epoch when this many seconds passed since the last checkpoint",
    },
    Key {
        key: "transfer.l2",
        ty: "number ≥ 0",
        default: Shown::Default,
        meaning: "L2 weight of the transfer heads (logistic, MLP, ridge); 0 can make a fit singular",
    },
    Key {
        key: "transfer.head_families",
        ty: "list of \"logistic\" | \"mlp\" | \"gbdt\"",
        default: Shown::Default,
        meaning: "also fitted on each binary transfer task: the report gives each family's \
                  accuracy and DDP and the worst DDP ([]: none)",
    },
    Key {
        key: "transfer.threshold",
        ty: "number in [0, 1]",
        default: Shown::Default,
        meaning: "decision threshold of every head",
    },
    Key {
        key: "method.kind",
        ty: "\"deep\" | \"ferm\"",
        default: Shown::Default,
        meaning: "deep: encoder + penalty + transfer heads; ferm: linear FERM (equal opportunity) next to the plain linear model, for every task",
    },
    Key {
        key: "transfer.ferm",
        ty: "boolean",
        default: Shown::Default,
        meaning: "fit each binary transfer head on the FERM projection of z (equal opportunity on the training split)",
    },
    Key {
        key: "transfer.baselines",
        ty: "boolean",
        default: Shown::Default,
        meaning: "also fit the transfer heads on the raw features, with and without the sensitive attribute (baselines in the report)",
    },
    Key {
        key: "transfer.head",
        ty: "\"logistic\" | \"mlp\"",
        default: Shown::Default,
        meaning: "head of each binary transfer task (regression tasks: ridge)",
    },
    Key {
        key: "transfer.mlp.hidden",
        ty: "integer ≥ 1",
        default: Shown::Default,
        meaning: "MLP head: hidden ReLU units",
    },
    Key {
        key: "transfer.mlp.epochs",
        ty: "integer ≥ 1",
        default: Shown::Default,
        meaning: "MLP head: passes over the training split",
    },
    Key {
        key: "transfer.mlp.batch_size",
        ty: "integer ≥ 1",
        default: Shown::Default,
        meaning: "MLP head: rows per Adam step",
    },
    Key {
        key: "transfer.mlp.learning_rate",
        ty: "number > 0",
        default: Shown::Default,
        meaning: "MLP head: Adam's step size",
    },
    Key {
        key: "postprocess.kind",
        ty: "\"none\" | \"barycenter\"",
        default: Shown::Default,
        meaning: "barycenter: map each group's test scores to the groups' Wasserstein barycenter, calibrated on the validation split (strong demographic parity); reported next to the raw scores",
    },
    Key {
        key: "postprocess.tasks",
        ty: "list of task names",
        default: Shown::Text("every task"),
        meaning: "the tasks to post-process",
    },
    Key {
        key: "postprocess.jitter",
        ty: "number ≥ 0",
        default: Shown::Default,
        meaning: "half-width of the uniform jitter that breaks ties between scores",
    },
    Key {
        key: "certify.enabled",
        ty: "boolean",
        default: Shown::Default,
        meaning: "after training, certify the quantised release as `fairrep certify` does (certificate.json, partition.json)",
    },
    Key {
        key: "certify.cells",
        ty: "integer in 1..=4096",
        default: Shown::Text("chosen on the validation split from 2, 4, …, 64"),
        meaning: "the number of cells of the released partition of z",
    },
    Key {
        key: "certify.min_leaf",
        ty: "integer ≥ 1",
        default: Shown::Text("chosen from 0.5% and 2% of the training rows"),
        meaning: "the fewest training rows in a cell",
    },
    Key {
        key: "certify.fairness_weight",
        ty: "number in [0, 1]",
        default: Shown::Text(
            "chosen from 0, 0.02, 0.05, 0.1, 0.25, 0.5, then bisected where the projected bound crosses the target",
        ),
        meaning: "γ: the partition tree's weight of the groups' separation against the source tasks' impurity",
    },
    Key {
        key: "certify.delta",
        ty: "number in (0, 1)",
        default: Shown::Default,
        meaning: "each certified bound holds with probability 1 − delta",
    },
    Key {
        key: "certify.method",
        ty: "\"auto\" | \"fare\" | \"direct\"",
        default: Shown::Default,
        meaning: "fare: FARE's three-step bound on thirds of the test split; direct: Clopper–Pearson on each group's cell frequencies; auto: the smaller projected bound on the validation split",
    },
    Key {
        key: "certify.target",
        ty: "number in (0, 1]",
        default: Shown::Default,
        meaning: "the demographic parity bound the choice of the partition aims at",
    },
    Key {
        key: "method.loss",
        ty: "\"logistic\" | \"hinge\"",
        default: Shown::Default,
        meaning: "ferm: the linear classifier (hinge: a linear SVM); regularised by transfer.l2",
    },
];

/// The text of `fairrep config --explain`.
pub fn explain() -> String {
    let width = KEYS.iter().map(|k| k.key.len()).max().unwrap_or(0);
    let mut out = String::from(
        "Config keys (TOML; unknown keys are errors; `fairrep train --set KEY=VALUE` overrides any):\n\n",
    );
    for k in KEYS {
        let default = match k.default {
            Shown::Default => default_of(k.key).map_or_else(|| "?".into(), |v| v.to_string()),
            Shown::Text(t) => t.to_string(),
        };
        out += &format!(
            "{:width$}  {}\n{:width$}  type: {}; default: {default}\n",
            k.key, k.meaning, "", k.ty
        );
    }
    out
}
