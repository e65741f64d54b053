//! The fitted preprocessing of a run (`preprocessing.json` in its directory): everything that
//! turns a raw row into the encoder's input without the training data, and the one function
//! that does it ([`Preprocessing::encode_row`]) — for training, `encode`, `predict` and the
//! exported Python module alike.

use crate::error::DataError;
use crate::spec::{GroupSpec, MissingPolicy, Predicate, Role, TaskKind};
use csv::StringRecord;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::path::Path;

/// The category a missing categorical cell takes under `missing = "impute"`.
pub const MISSING_CATEGORY: &str = "<missing>";

/// A task as resolved for a run.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskInfo {
    /// Its name.
    pub name: String,
    /// The column its label comes from.
    pub column: String,
    /// Source or transfer.
    pub role: Role,
    /// Binary or regression.
    pub kind: TaskKind,
    /// A binary task's predicate (what makes a row positive); `None` for regression.
    pub positive: Option<Predicate>,
    /// Regression: the training split's mean and standard deviation of the target, which
    /// standardise [`crate::encode::Split::targets`] (binary: 0 and 1).
    pub scale: (f64, f64),
}

impl TaskInfo {
    /// A model-scale output back on the target's scale (regression: `v·std + mean`).
    pub fn unscale(&self, v: f64) -> f64 {
        v * self.scale.1 + self.scale.0
    }
}

/// How a feature column was encoded (fitted on the training split). In `preprocessing.json`:
/// `{"kind": "one_hot", "column", "categories"}` or `{"kind": "standardize", "column", "mean",
/// "std"}`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ColumnEncoder {
    /// One-hot over these categories (sorted).
    OneHot {
        /// The column.
        column: String,
        /// Categories, one output each.
        categories: Vec<String>,
    },
    /// `(v − mean) / std`.
    Standardize {
        /// The column.
        column: String,
        /// Training mean.
        mean: f64,
        /// Training standard deviation (population, ddof = 0; 1 when the column is constant).
        std: f64,
    },
}

/// The version of the `preprocessing.json` layout.
pub const PREPROCESSING_FORMAT: u32 = 1;

/// The fitted preprocessing (see the module docs).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Preprocessing {
    /// [`PREPROCESSING_FORMAT`].
    pub format: u32,
    /// How the run's files were read.
    pub reading: Reading,
    /// The missing-value policy (`[data].missing`).
    pub missing: MissingPolicy,
    /// The encoded features' names, in the encoder's input order (`column=category` for
    /// one-hot outputs; the sensitive attribute's one-hot columns last when it is a feature).
    pub features: Vec<String>,
    /// The fitted column encoders, in feature order.
    pub encoders: Vec<ColumnEncoder>,
    /// Embedding columns expanded into numeric features (`[data.features] vectors`).
    pub vectors: Vec<VectorGroup>,
    /// The sensitive attribute.
    pub sensitive: FittedSensitive,
    /// The tasks, in config order, with their predicates and target scales.
    pub tasks: Vec<TaskInfo>,
    /// The derived columns (`[[data.derived]]`), added to each file read for inference when
    /// their sources are there (they may be the sensitive attribute or a task's column, never
    /// a feature).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub derived: Vec<crate::derived::DerivedSpec>,
}

/// How the run's data files were read (`[data]`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Reading {
    /// Column names of header-less CSV files (`None`: the first line is the header).
    pub columns: Option<Vec<String>>,
    /// The CSV delimiter.
    pub delimiter: char,
    /// Cells that mean "missing".
    pub missing_values: Vec<String>,
}

/// An embedding column expanded into `width` numeric features `{column}_0 …`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct VectorGroup {
    /// The column (a Parquet list column, or the prefix of CSV columns `{column}_0 …`).
    pub column: String,
    /// Its length.
    pub width: usize,
}

/// The sensitive attribute as fitted: its column and the values of each group.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FittedSensitive {
    /// The column.
    pub column: String,
    /// The groups, in order (group id = position).
    pub groups: Vec<GroupSpec>,
    /// Whether it is a (one-hot) feature.
    pub include_as_feature: bool,
}

impl FittedSensitive {
    /// The group id of a cell value: the first group that holds it.
    pub fn group_of(&self, value: &str) -> Option<usize> {
        self.groups.iter().position(|g| g.contains(value))
    }
}

/// Where [`Preprocessing::encode_row`] finds its columns in one file's header.
#[derive(Debug, Clone)]
pub struct Binding {
    /// The column of each encoder.
    pub encoders: Vec<usize>,
    /// The sensitive column, when the file has it.
    pub sensitive: Option<usize>,
    /// Each task's column, when the file has it.
    pub tasks: Vec<Option<usize>>,
}

/// What [`Preprocessing::encode_row`] did with a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowOutcome {
    /// Encoded.
    Encoded,
    /// Not encoded: a missing value under `missing = "drop_rows"` (the column's index in
    /// [`Binding::encoders`], or `encoders.len()` for the sensitive column).
    Dropped(usize),
}

impl Preprocessing {
    /// Finds the columns in a file's header: every feature column must be there (an error names
    /// the missing one); the sensitive column must be there when it is a feature; task columns
    /// are optional. Columns the run does not use are ignored.
    pub fn bind(
        &self,
        path: &Path,
        columns: &[String],
        unreadable: &[(String, String)],
    ) -> Result<Binding, DataError> {
        let find = |name: &str, used_as: &str| {
            crate::source::find_column(path, columns, unreadable, name, used_as)
        };
        let has = |name: &str| {
            columns
                .iter()
                .position(|c| c == name)
                .filter(|_| !unreadable.iter().any(|(c, _)| c == name))
        };
        let encoders = self
            .encoders
            .iter()
            .map(|e| match e {
                ColumnEncoder::OneHot { column, .. } => find(column, "a categorical feature"),
                ColumnEncoder::Standardize { column, .. } => find(column, "a numeric feature"),
            })
            .collect::<Result<_, _>>()?;
        let sensitive = if self.sensitive.include_as_feature {
            Some(find(
                &self.sensitive.column,
                "the sensitive attribute, a feature of this run",
            )?)
        } else {
            has(&self.sensitive.column)
        };
        Ok(Binding {
            encoders,
            sensitive,
            tasks: self.tasks.iter().map(|t| has(&t.column)).collect(),
        })
    }

    /// The missing-value tokens.
    pub fn missing_tokens(&self) -> HashSet<&str> {
        self.reading
            .missing_values
            .iter()
            .map(String::as_str)
            .collect()
    }

    /// Encodes one raw row into `out` (`features.len()` values, zeroed here) under the run's
    /// missing-value policy. A category never seen in training (or a sensitive value in no
    /// group, when the attribute is a feature) encodes as all zeros and is counted in
    /// `unseen[column]` (`unseen`: one counter per encoder, then one for the sensitive column).
    /// A non-numeric cell in a numeric column, or a missing one under `missing = "error"`, is an
    /// error naming `path`, `line` and the column.
    #[allow(clippy::too_many_arguments)]
    pub fn encode_row(
        &self,
        b: &Binding,
        row: &StringRecord,
        missing: &HashSet<&str>,
        (path, line): (&Path, u64),
        out: &mut [f32],
        unseen: &mut [u64],
    ) -> Result<RowOutcome, DataError> {
        out.iter_mut().for_each(|v| *v = 0.0);
        let missing_cell = |col: usize| -> Result<Option<RowOutcome>, DataError> {
            match self.missing {
                MissingPolicy::Impute => Ok(None),
                MissingPolicy::DropRows => Ok(Some(RowOutcome::Dropped(col))),
                MissingPolicy::Error => Err(DataError::MissingValue {
                    path: path.to_path_buf(),
                    line,
                    column: self.column_name(col).to_string(),
                    value: row.get(self.column_index(b, col)).unwrap_or("").to_string(),
                    why: "[data].missing = \"error\"",
                }),
            }
        };
        let mut off = 0;
        for (k, (e, &c)) in self.encoders.iter().zip(&b.encoders).enumerate() {
            let cell = &row[c];
            let is_missing = missing.contains(cell);
            if is_missing && let Some(outcome) = missing_cell(k)? {
                return Ok(outcome);
            }
            match e {
                ColumnEncoder::OneHot { categories, .. } => {
                    let v = if is_missing { MISSING_CATEGORY } else { cell };
                    match categories.binary_search_by(|c| c.as_str().cmp(v)) {
                        Ok(j) => out[off + j] = 1.0,
                        Err(_) => unseen[k] += 1,
                    }
                    off += categories.len();
                }
                ColumnEncoder::Standardize { mean, std, column } => {
                    let v = if is_missing {
                        *mean
                    } else {
                        match cell.parse::<f64>() {
                            Ok(x) if x.is_finite() => x,
                            _ => {
                                return Err(DataError::NotNumeric {
                                    path: path.to_path_buf(),
                                    line,
                                    column: column.clone(),
                                    value: cell.to_string(),
                                });
                            }
                        }
                    };
                    out[off] = z_score(v, *mean, *std);
                    off += 1;
                }
            }
        }
        if self.sensitive.include_as_feature {
            let k = self.encoders.len();
            let cell = b.sensitive.map_or("", |c| &row[c]);
            if missing.contains(cell)
                && let Some(outcome) = missing_cell(k)?
            {
                return Ok(outcome);
            }
            match self.sensitive.group_of(cell) {
                Some(g) => out[off + g] = 1.0,
                None => unseen[k] += 1,
            }
        }
        Ok(RowOutcome::Encoded)
    }

    /// The name of column `col` of [`RowOutcome::Dropped`] / the `unseen` counters.
    pub fn column_name(&self, col: usize) -> &str {
        match self.encoders.get(col) {
            Some(ColumnEncoder::OneHot { column, .. })
            | Some(ColumnEncoder::Standardize { column, .. }) => column,
            None => &self.sensitive.column,
        }
    }

    fn column_index(&self, b: &Binding, col: usize) -> usize {
        b.encoders
            .get(col)
            .copied()
            .or(b.sensitive)
            .unwrap_or(usize::MAX)
    }
}

/// A number standardised as every encoding path writes it, `((v − mean) / std)` in f64, then
/// f32: one definition, so the row, column and streamed paths give the same bits.
#[inline(always)]
pub(crate) fn z_score(v: f64, mean: f64, std: f64) -> f32 {
    ((v - mean) / std) as f32
}
