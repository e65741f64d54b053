//! The user-facing description of a dataset, as written in a config file (`[data]` and
//! `[[tasks]]`). Every struct rejects unknown keys.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// `[data]`: where the files are and how to read them, which columns are features, which is the
/// sensitive attribute.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DataSpec {
    /// The training file (CSV, optionally gzip-compressed: a `.gz` name is decompressed).
    pub train: FileSpec,
    /// The test file, read with the same options. Without it, `test_fraction` of the training
    /// file is held out (seeded) as the test split.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test: Option<FileSpec>,
    /// Fraction of a single data file held out as the test split (only without `test`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_fraction: Option<f64>,
    /// Column names, for files without a header line. When absent the first line is the header.
    #[serde(default)]
    pub columns: Option<Vec<String>>,
    /// Field delimiter, one character (default `,`).
    #[serde(default = "default_delimiter")]
    pub delimiter: char,
    /// Cells (after trimming) that mean "missing" (default `["?", ""]`).
    #[serde(default = "default_missing_values")]
    pub missing_values: Vec<String>,
    /// What to do with a row that has a missing value in a column the run uses.
    #[serde(default)]
    pub missing: MissingPolicy,
    /// Fraction of the training file held out, by a seeded shuffle, as the validation split.
    #[serde(default = "default_validation_fraction")]
    pub validation_fraction: f64,
    /// The feature columns.
    pub features: FeatureSpec,
    /// The sensitive attribute.
    pub sensitive: SensitiveSpec,
    /// Columns computed from others when a file is read (`[[data.derived]]`: intersections of
    /// attributes, "any of" indicator columns), usable as the sensitive attribute or a task's
    /// column.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub derived: Vec<crate::derived::DerivedSpec>,
    /// `[data.stream]`: train from the training shards a window at a time instead of holding
    /// them in memory (absent: in memory).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<StreamSpec>,
}

/// `[data.stream]`: training streamed from the shards of `[data] train`, a window of rows at a
/// time, so a table larger than memory can be trained on. The validation (and, without a test
/// file, test) rows are held out by a seeded hash of each row's key (its shard's file name and
/// its row in the shard) and held in memory; the preprocessing statistics are fitted on a seeded
/// sample of about `fit_rows` training rows, which is also the training split the evaluation
/// (transfer heads, audits, baselines) uses. See docs/guide/streaming.md.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StreamSpec {
    /// When to stream.
    #[serde(default)]
    pub mode: StreamMode,
    /// `mode = "auto"`: stream when the training table's encoded size (rows × used columns ×
    /// 4 bytes, rows from the Parquet metadata or the CSV's lines) is above this many MiB.
    #[serde(default = "default_above_mib")]
    pub above_mib: f64,
    /// The shuffle window: the training rows, in the epoch's (seeded) shard order, are cut into
    /// windows of this many rows (rounded up to a multiple of the batch size), each shuffled
    /// (seeded by epoch and window) and cut into batches.
    #[serde(default = "default_shuffle_rows")]
    pub shuffle_rows: usize,
    /// About how many training rows the preprocessing statistics are fitted on (a seeded sample:
    /// each training row with probability `fit_rows` / the estimated training rows; all of them
    /// when there are fewer).
    #[serde(default = "default_fit_rows")]
    pub fit_rows: usize,
}

/// `[data.stream] mode`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum StreamMode {
    /// Stream only when the training table is larger than `above_mib`.
    #[default]
    Auto,
    /// Always stream.
    Always,
}

impl Default for StreamSpec {
    /// What an empty `[data.stream]` table parses to.
    fn default() -> Self {
        StreamSpec {
            mode: StreamMode::default(),
            above_mib: default_above_mib(),
            shuffle_rows: default_shuffle_rows(),
            fit_rows: default_fit_rows(),
        }
    }
}

fn default_above_mib() -> f64 {
    2048.0
}
fn default_shuffle_rows() -> usize {
    65_536
}
fn default_fit_rows() -> usize {
    100_000
}

impl DataSpec {
    /// The spec with its shorthands expanded: `[data.sensitive] columns = [a, b]` becomes the
    /// derived column `a × b` (their intersection), which is then the sensitive column.
    pub fn resolved(&self) -> Result<DataSpec, String> {
        let mut spec = self.clone();
        match (&self.sensitive.columns, self.sensitive.column.is_empty()) {
            (Some(_), false) => {
                return Err(
                    "[data.sensitive] has both `column` and `columns`: keep one (`columns` is \
                     the intersection of several)"
                        .into(),
                );
            }
            (None, true) => {
                return Err(
                    "[data.sensitive] needs `column` (one column) or `columns` (the \
                     intersection of several)"
                        .into(),
                );
            }
            (Some(cols), true) if cols.len() < 2 => {
                return Err(
                    "[data.sensitive].columns needs at least two columns (for one, use `column`)"
                        .into(),
                );
            }
            (Some(cols), true) => {
                let cross = crate::derived::DerivedSpec::cross_of(cols);
                spec.sensitive.column = cross.name.clone();
                spec.sensitive.columns = None;
                spec.derived.push(cross);
            }
            (None, false) => {}
        }
        crate::derived::validate(&spec.derived)?;
        Ok(spec)
    }
}

fn default_delimiter() -> char {
    ','
}
fn default_missing_values() -> Vec<String> {
    vec!["?".into(), String::new()]
}
fn default_validation_fraction() -> f64 {
    0.1
}

/// The files a data path names: the file itself; every file a glob pattern (`*`, `?`, `[…]`)
/// matches; or, for a directory, its CSV, CSV.gz and Parquet files — sorted by name (the shards
/// of one table, read in that order). No file is an error naming the path.
pub fn shard_paths(path: &std::path::Path) -> Result<Vec<PathBuf>, String> {
    let text = path.to_string_lossy();
    let is_data = |p: &std::path::Path| {
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy().to_lowercase())
            .unwrap_or_default();
        p.is_file()
            && [".csv", ".csv.gz", ".tsv", ".tsv.gz", ".parquet", ".pq"]
                .iter()
                .any(|e| name.ends_with(e))
    };
    let mut files: Vec<PathBuf> = if path.is_dir() {
        std::fs::read_dir(path)
            .map_err(|e| format!("{text}: cannot list the directory ({e})"))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| is_data(p))
            .collect()
    } else if text.contains(['*', '?', '[']) {
        glob::glob(&text)
            .map_err(|e| format!("{text}: not a valid pattern ({e})"))?
            .filter_map(Result::ok)
            .filter(|p| p.is_file())
            .collect()
    } else {
        return Ok(vec![path.to_path_buf()]);
    };
    files.sort();
    if files.is_empty() {
        return Err(format!(
            "{text}: no data file there (a pattern matches files, a directory holds .csv, \
             .csv.gz or .parquet files)"
        ));
    }
    Ok(files)
}

/// `path` with every `$NAME` or `${NAME}` replaced by the environment variable `NAME` (e.g.
/// `$FAIRREP_DATA_DIR/compas/compas.csv`); an unset variable is an error that names it.
pub fn expand_path(path: &std::path::Path) -> Result<PathBuf, String> {
    let text = path.to_string_lossy();
    if !text.contains('$') {
        return Ok(path.to_path_buf());
    }
    let mut out = String::new();
    let mut rest: &str = &text;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let (name, tail) = if let Some(braced) = after.strip_prefix('{') {
            match braced.find('}') {
                Some(j) => (&braced[..j], &braced[j + 1..]),
                None => return Err(format!("`{text}`: unclosed `${{`")),
            }
        } else {
            let j = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            (&after[..j], &after[j..])
        };
        if name.is_empty() {
            return Err(format!("`{text}`: `$` without a variable name"));
        }
        match std::env::var(name) {
            Ok(v) => out.push_str(&v),
            Err(_) => {
                return Err(format!(
                    "`{text}` uses ${name}, which is not set{}",
                    if name == "FAIRREP_DATA_DIR" {
                        " (point it at a data directory; scripts/fetch-datasets.sh fills one)"
                    } else {
                        ""
                    }
                ));
            }
        }
        rest = tail;
    }
    out.push_str(rest);
    Ok(PathBuf::from(out))
}

/// One data file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FileSpec {
    /// Path; a relative path is taken from the directory of the config file; `$NAME` and
    /// `${NAME}` are replaced by environment variables (see [`expand_path`]). A glob pattern
    /// (`shards/*.parquet`) or a directory names the shards of one table ([`shard_paths`]).
    pub path: PathBuf,
    /// Lines to skip at the top of the file (before the header, if any).
    #[serde(default)]
    pub skip_rows: usize,
}

/// How rows with a missing value (see [`DataSpec::missing_values`]) are treated.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum MissingPolicy {
    /// Drop the row (from whichever split it is in); the count is logged.
    #[default]
    DropRows,
    /// Keep the row: a categorical cell becomes its own category `"<missing>"`, a numeric cell
    /// takes the training mean. Task and sensitive columns may not be missing under this policy.
    Impute,
    /// Stop with an error naming the file, line and column.
    Error,
}

/// Feature columns and their encodings.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct FeatureSpec {
    /// Categorical columns: one-hot encoded over the categories seen in the training split
    /// (a category seen only in validation or test encodes as all zeros).
    #[serde(default)]
    pub categorical: Vec<String>,
    /// Numeric columns: standardised with the training split's mean and standard deviation.
    #[serde(default)]
    pub numeric: Vec<String>,
    /// Embedding columns: each is a Parquet column of fixed-length float lists (or, in any
    /// file, the columns `{name}_0 … {name}_{d-1}`), expanded into `d` numeric features
    /// `{name}_0 …`, standardised like `numeric`.
    #[serde(default)]
    pub vectors: Vec<String>,
}

/// The sensitive attribute and its groups.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SensitiveSpec {
    /// The column (a file's column or a `[[data.derived]]` one).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub column: String,
    /// Instead of `column`: the intersection of these columns, one group per combination
    /// present (`"Female × Black"`), unless `groups` merges them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub columns: Option<Vec<String>>,
    /// The groups, in order (group id = position). When absent, each distinct value of the
    /// training split is a group, in sorted order.
    #[serde(default)]
    pub groups: Option<Vec<GroupSpec>>,
    /// Whether the sensitive attribute is also a (one-hot) feature. Default false.
    #[serde(default)]
    pub include_as_feature: bool,
}

/// One sensitive group: a name and the cells that belong to it — listed `values`, or a numeric
/// range (`{ name = "young", lt = 25 }`, `{ name = "middle", ge = 25, lt = 60 }`): a cell
/// belongs when it parses as a number within every bound given. A row belongs to the first
/// group that holds its cell.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct GroupSpec {
    /// The group's name in reports.
    pub name: String,
    /// Cell values that belong to the group (instead of a range).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
    /// Range: cells `> gt`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gt: Option<f64>,
    /// Range: cells `≥ ge`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ge: Option<f64>,
    /// Range: cells `< lt`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lt: Option<f64>,
    /// Range: cells `≤ le`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub le: Option<f64>,
}

impl GroupSpec {
    /// A group of listed values.
    pub fn of_values(name: &str, values: Vec<String>) -> Self {
        Self {
            name: name.to_string(),
            values,
            ..Self::default()
        }
    }

    /// Whether the group is a numeric range (`gt`, `ge`, `lt` or `le` given).
    pub fn is_range(&self) -> bool {
        self.gt.is_some() || self.ge.is_some() || self.lt.is_some() || self.le.is_some()
    }

    /// Whether `cell` belongs to the group.
    pub fn contains(&self, cell: &str) -> bool {
        if !self.is_range() {
            return self.values.iter().any(|v| v == cell);
        }
        let Ok(x) = cell.trim().parse::<f64>() else {
            return false;
        };
        x.is_finite()
            && self.gt.is_none_or(|b| x > b)
            && self.ge.is_none_or(|b| x >= b)
            && self.lt.is_none_or(|b| x < b)
            && self.le.is_none_or(|b| x <= b)
    }
}

/// Whether a task trains the encoder or is held out to test transfer.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Trains the encoder (has a head during training).
    Source,
    /// Never seen by the encoder; evaluated with a fresh head on the frozen representation.
    Transfer,
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Role::Source => "source",
            Role::Transfer => "transfer",
        })
    }
}

/// `[[tasks]]`: a binary task defined by a column and a predicate on it, or a regression task
/// on a numeric column.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TaskSpec {
    /// Task name, unique.
    pub name: String,
    /// The column the label is computed from (never a feature).
    pub column: String,
    /// Binary (default; the label is `positive`) or regression (the label is the column's
    /// number).
    #[serde(default)]
    pub kind: TaskKind,
    /// Binary tasks: the predicate that makes a row positive, e.g. `{ in = [">50K"] }` or
    /// `{ gt = 40 }`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub positive: Option<Predicate>,
    /// `source` or `transfer`.
    pub role: Role,
}

/// What a task predicts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskKind {
    /// A binary label (`positive` predicate): logistic heads, classification metrics.
    #[default]
    Binary,
    /// A real value (the column's number): squared-error heads, regression metrics (RMSE, MAE,
    /// R²) and demographic parity of the predictions (KS, W1).
    Regression,
}

/// A cell value in a predicate: a string compares as text, a number numerically.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum Scalar {
    /// Compared numerically (the cell must parse as a number).
    Num(f64),
    /// Compared as text, after trimming.
    Text(String),
}

/// The condition under which a task's label is 1. Written in TOML as a one-key table.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Predicate {
    /// `{ eq = v }`
    Eq(Scalar),
    /// `{ ne = v }`
    Ne(Scalar),
    /// `{ in = [v, …] }`
    In(Vec<Scalar>),
    /// `{ not_in = [v, …] }`
    NotIn(Vec<Scalar>),
    /// `{ gt = x }`
    Gt(f64),
    /// `{ ge = x }`
    Ge(f64),
    /// `{ lt = x }`
    Lt(f64),
    /// `{ le = x }`
    Le(f64),
}

impl Predicate {
    /// Evaluates the predicate on one cell; `None` when a numeric comparison meets a cell that
    /// is not a number.
    pub fn eval(&self, cell: &str) -> Option<bool> {
        let num = || cell.trim().parse::<f64>().ok();
        let matches = |s: &Scalar| -> Option<bool> {
            match s {
                Scalar::Text(t) => Some(cell == t),
                Scalar::Num(x) => Some(num()? == *x),
            }
        };
        let any = |vs: &[Scalar]| -> Option<bool> {
            for v in vs {
                if matches(v)? {
                    return Some(true);
                }
            }
            Some(false)
        };
        Some(match self {
            Predicate::Eq(v) => matches(v)?,
            Predicate::Ne(v) => !matches(v)?,
            Predicate::In(vs) => any(vs)?,
            Predicate::NotIn(vs) => !any(vs)?,
            Predicate::Gt(x) => num()? > *x,
            Predicate::Ge(x) => num()? >= *x,
            Predicate::Lt(x) => num()? < *x,
            Predicate::Le(x) => num()? <= *x,
        })
    }

    /// Whether the predicate needs numeric cells.
    pub fn is_numeric(&self) -> bool {
        match self {
            Predicate::Eq(s) | Predicate::Ne(s) => matches!(s, Scalar::Num(_)),
            Predicate::In(v) | Predicate::NotIn(v) => v.iter().any(|s| matches!(s, Scalar::Num(_))),
            _ => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct P {
        p: Predicate,
    }
    fn p(s: &str) -> Predicate {
        toml::from_str::<P>(&format!("p = {s}")).unwrap().p
    }

    #[test]
    fn predicates_parse_and_evaluate() {
        assert!(p(r#"{ in = [">50K", ">50K."] }"#).eval(">50K.").unwrap());
        assert!(!p(r#"{ in = [">50K", ">50K."] }"#).eval("<=50K").unwrap());
        assert!(p("{ gt = 40 }").eval("41").unwrap());
        assert!(!p("{ gt = 40 }").eval("40").unwrap());
        assert!(p("{ ge = 40 }").eval("40").unwrap());
        assert!(p("{ lt = 1.5 }").eval("1").unwrap());
        assert!(p("{ le = 1 }").eval("1.0").unwrap());
        assert!(p(r#"{ eq = "Male" }"#).eval("Male").unwrap());
        assert!(p(r#"{ ne = "Male" }"#).eval("Female").unwrap());
        assert!(p("{ eq = 3 }").eval("3.0").unwrap());
        assert!(p(r#"{ not_in = ["a"] }"#).eval("b").unwrap());
        assert_eq!(p("{ gt = 40 }").eval("forty"), None);
    }

    #[test]
    fn environment_variables_expand_in_paths() {
        let expand = |p: &str| expand_path(std::path::Path::new(p));
        let err = expand("${FAIRREP_TEST_UNSET_XYZ}/a.csv").unwrap_err();
        assert!(
            err.contains("FAIRREP_TEST_UNSET_XYZ") && err.contains("not set"),
            "{err}"
        );
        assert_eq!(expand("plain/a.csv").unwrap(), PathBuf::from("plain/a.csv"));
        assert!(expand("${OPEN/a.csv").is_err());
        assert!(expand("$/a.csv").is_err());
        // PATH is set wherever tests run.
        let path = std::env::var("PATH").expect("PATH is set");
        assert_eq!(
            expand("$PATH/x").unwrap(),
            PathBuf::from(format!("{path}/x"))
        );
        assert_eq!(
            expand("${PATH}y").unwrap(),
            PathBuf::from(format!("{path}y"))
        );
    }

    #[test]
    fn unknown_predicate_is_rejected() {
        let e = toml::from_str::<P>("p = { greater = 3 }").err().unwrap();
        assert!(e.to_string().contains("greater"), "{e}");
    }
}
