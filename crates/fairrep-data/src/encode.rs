//! From two tables to encoded splits: missing values, the seeded validation split, encoders fitted
//! on the training split only, sensitive groups and task labels.

use crate::columnar::{BLOCK_ROWS, ColumnTable, ColumnUse};
use crate::error::DataError;
use crate::fitted::{Binding, FittedSensitive, Preprocessing, Reading, RowOutcome, VectorGroup};
pub use crate::fitted::{ColumnEncoder, MISSING_CATEGORY, TaskInfo};
use crate::spec::{DataSpec, GroupSpec, MissingPolicy, Role, TaskSpec};
use crate::table::{ReadOptions, Table};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use std::borrow::Cow;
use std::collections::{BTreeSet, HashSet};
use std::path::Path;

/// One encoded split: features, labels of every task, group ids.
#[derive(Debug, Clone)]
pub struct Split {
    /// Number of rows.
    pub n: usize,
    /// Number of encoded features.
    pub p: usize,
    /// Features, row-major `[n, p]`.
    pub x: Vec<f32>,
    /// Labels, `labels[task][row]`, in the order of [`Prepared::tasks`] (binary tasks; all
    /// `false` for a regression task).
    pub labels: Vec<Vec<bool>>,
    /// Training targets, `targets[task][row]`: 0/1 for binary tasks, the standardised value
    /// (training mean and standard deviation, [`TaskInfo::scale`]) for regression tasks.
    pub targets: Vec<Vec<f32>>,
    /// Sensitive group id of each row (`< Prepared::groups.len()`).
    pub s: Vec<usize>,
}

impl Split {
    /// Row `i` of the features.
    pub fn row(&self, i: usize) -> &[f32] {
        &self.x[i * self.p..(i + 1) * self.p]
    }

    /// Number of rows in each group.
    pub fn group_counts(&self, groups: usize) -> Vec<usize> {
        let mut c = vec![0; groups];
        for &g in &self.s {
            c[g] += 1;
        }
        c
    }
}

/// Rows removed because of missing values, per file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dropped {
    /// Rows dropped from the training file.
    pub train: usize,
    /// Rows dropped from the test file.
    pub test: usize,
}

/// A dataset ready for training: the three splits and the fitted encoding.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// Names of the encoded features (`column=category` for one-hot outputs).
    pub features: Vec<String>,
    /// The fitted encoders, in feature order.
    pub encoders: Vec<ColumnEncoder>,
    /// Sensitive group names (group id = position).
    pub groups: Vec<String>,
    /// The tasks, in config order.
    pub tasks: Vec<TaskInfo>,
    /// Training split (the training file minus the validation rows); shared, so that the
    /// trainer's batcher holds it without a copy.
    pub train: std::sync::Arc<Split>,
    /// Validation split (a seeded random part of the training file).
    pub valid: Split,
    /// Test split (the test file).
    pub test: Split,
    /// Rows dropped for missing values.
    pub dropped: Dropped,
    /// Whether the sensitive attribute is a feature (one-hot, the last `groups.len()` columns).
    pub sensitive_is_feature: bool,
    /// The fitted preprocessing, as written to `preprocessing.json`.
    pub preprocessing: Preprocessing,
    /// `[data.stream]` when the run streams its training rows: `train` is then the seeded
    /// sample the preprocessing was fitted on (what the evaluation uses), and the trainer reads
    /// every training row from here, a window at a time.
    pub streamed: Option<std::sync::Arc<dyn TrainStream>>,
}

/// Where a window of streamed training rows starts: its index in the epoch, the position of
/// its shard in the epoch's shard order, and the row of its first row in that shard (counting
/// every data row of the file from 0). A checkpoint within an epoch stores the window of its
/// last batch; a resume reads the shards again from there.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WindowStart {
    /// The window's index in its epoch (0-based).
    pub window: usize,
    /// The position of its first row's shard in the epoch's shard order.
    pub shard: usize,
    /// Its first row's row in that shard.
    pub row: u64,
}

/// One window of streamed training rows, encoded, in the order the shards give them.
#[derive(Debug)]
pub struct Window {
    /// Where it starts.
    pub start: WindowStart,
    /// Its rows.
    pub split: Split,
}

/// The training rows of a streamed run: read from the shards a window at a time.
pub trait TrainStream: std::fmt::Debug + Send + Sync {
    /// Training rows per epoch.
    fn rows(&self) -> usize;
    /// Rows per shuffle window, as configured (the trainer rounds it up to a multiple of the
    /// batch size).
    fn shuffle_rows(&self) -> usize;
    /// How the stream is set up, for the report.
    fn summary(&self) -> StreamSummary;
    /// The windows of `size` rows (the last may be shorter) of epoch `epoch` (1-based) in
    /// order, from `from` (a checkpoint's window) or the epoch's start, given to `each` until it
    /// returns `false`. The shard order of an epoch is a seeded shuffle (the run's seed and the
    /// epoch). `spare` may give back a split `each` is done with, to be filled again (its
    /// contents are cleared).
    fn windows(
        &self,
        epoch: usize,
        size: usize,
        from: Option<WindowStart>,
        spare: &mut dyn FnMut() -> Option<Split>,
        each: &mut dyn FnMut(Window) -> bool,
    ) -> Result<(), DataError>;
}

/// How a streamed run read its training rows (report.json's `splits.streamed`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StreamSummary {
    /// Training rows streamed each epoch.
    pub train_rows: usize,
    /// The shards.
    pub shards: usize,
    /// Rows per shuffle window, as configured.
    pub shuffle_rows: usize,
    /// Training rows the preprocessing was fitted on (the evaluation's training split).
    pub fit_rows: usize,
    /// Whether the vector columns are standardised straight from the Parquet values (every
    /// shard Parquet) rather than read as cells.
    #[serde(default)]
    pub vectors_direct: bool,
}

impl Prepared {
    /// Indices of the tasks with the given role.
    pub fn task_indices(&self, role: Role) -> Vec<usize> {
        (0..self.tasks.len())
            .filter(|&t| self.tasks[t].role == role)
            .collect()
    }
}

/// Resolved column indices of one table.
pub(crate) struct Cols {
    categorical: Vec<usize>,
    numeric: Vec<usize>,
    sensitive: usize,
    tasks: Vec<usize>,
}

impl Cols {
    /// `numeric`: the numeric feature columns, the expanded vector columns after them.
    pub(crate) fn resolve(
        t: &ColumnTable,
        spec: &DataSpec,
        numeric: &[String],
        tasks: &[TaskSpec],
    ) -> Result<Cols, DataError> {
        Ok(Cols {
            categorical: (spec.features.categorical.iter())
                .map(|c| t.column(c, "a categorical feature"))
                .collect::<Result<_, _>>()?,
            numeric: (numeric.iter())
                .map(|c| t.column(c, "a numeric feature"))
                .collect::<Result<_, _>>()?,
            sensitive: t.column(&spec.sensitive.column, "the sensitive attribute")?,
            tasks: tasks
                .iter()
                .map(|task| t.column(&task.column, &format!("the column of task `{}`", task.name)))
                .collect::<Result<_, _>>()?,
        })
    }
}

/// Checks the schema for contradictions that do not need the data.
pub fn validate_schema(spec: &DataSpec, tasks: &[TaskSpec]) -> Result<(), DataError> {
    let bad = |m: String| Err(DataError::Schema(m));
    let spec = &spec.resolved().map_err(DataError::Schema)?;
    let features = (spec.features.categorical.iter())
        .chain(&spec.features.numeric)
        .chain(&spec.features.vectors);
    if spec.sensitive.include_as_feature
        && spec.derived.iter().any(|d| d.name == spec.sensitive.column)
    {
        return bad(format!(
            "[data.sensitive].include_as_feature with the derived column `{}`: list its source \
             columns as features instead",
            spec.sensitive.column
        ));
    }
    for f in features {
        if spec.derived.iter().any(|d| &d.name == f) {
            return bad(format!(
                "[data.features] lists the derived column `{f}`: derived columns define groups \
                 and tasks; list their source columns as features"
            ));
        }
    }
    match (&spec.test, spec.test_fraction) {
        (Some(_), Some(_)) => {
            return bad(
                "[data] has both `test` (a test file) and `test_fraction` (a test split of the training file): keep one".into(),
            );
        }
        (None, None) => {
            return bad("[data] needs `test` (a test file) or `test_fraction` (the part of the training file held out for testing)".into());
        }
        (None, Some(f)) if !(f > 0.0 && f < 1.0) => {
            return bad(format!("[data].test_fraction = {f} must be in (0, 1)"));
        }
        _ => {}
    }
    let mut seen = HashSet::new();
    for c in spec
        .features
        .categorical
        .iter()
        .chain(&spec.features.numeric)
        .chain(&spec.features.vectors)
    {
        if !seen.insert(c) {
            return bad(format!(
                "feature column `{c}` is listed twice in [data.features]"
            ));
        }
    }
    if seen.is_empty() && !spec.sensitive.include_as_feature {
        return bad("[data.features] lists no feature column".into());
    }
    if seen.contains(&spec.sensitive.column) {
        return bad(format!(
            "the sensitive column `{}` is listed in [data.features]; set [data.sensitive].include_as_feature = true instead",
            spec.sensitive.column
        ));
    }
    if !(0.0..0.9).contains(&spec.validation_fraction) {
        return bad(format!(
            "[data].validation_fraction = {} must be in [0, 0.9)",
            spec.validation_fraction
        ));
    }
    if tasks.is_empty() {
        return bad("no [[tasks]] defined".into());
    }
    let mut names = HashSet::new();
    for t in tasks {
        if t.name.trim().is_empty() {
            return bad("a task has an empty name".into());
        }
        if !names.insert(&t.name) {
            return bad(format!("task name `{}` is used twice", t.name));
        }
        if seen.contains(&t.column) {
            return bad(format!(
                "column `{}` is the label of task `{}` and cannot also be a feature",
                t.column, t.name
            ));
        }
        if t.column == spec.sensitive.column {
            return bad(format!(
                "task `{}` uses the sensitive column `{}` as its label",
                t.name, t.column
            ));
        }
        match (t.kind, &t.positive) {
            (crate::spec::TaskKind::Binary, None) => {
                return bad(format!(
                    "task `{}` needs `positive` (the predicate that makes a row positive), or kind = \"regression\" for a real-valued label",
                    t.name
                ));
            }
            (crate::spec::TaskKind::Regression, Some(_)) => {
                return bad(format!(
                    "task `{}` is a regression task (its label is the number in `{}`): remove `positive`",
                    t.name, t.column
                ));
            }
            _ => {}
        }
    }
    if let Some(groups) = &spec.sensitive.groups {
        if groups.len() < 2 {
            return bad("[data.sensitive].groups must list at least 2 groups".into());
        }
        let mut gnames = HashSet::new();
        let mut values = HashSet::new();
        for g in groups {
            if !gnames.insert(&g.name) {
                return bad(format!("sensitive group name `{}` is used twice", g.name));
            }
            match (g.values.is_empty(), g.is_range()) {
                (true, false) => {
                    return bad(format!(
                        "sensitive group `{}` lists no values and no range (lt, le, gt, ge)",
                        g.name
                    ));
                }
                (false, true) => {
                    return bad(format!(
                        "sensitive group `{}` has both values and a range: give one",
                        g.name
                    ));
                }
                _ => {}
            }
            let lo =
                g.gt.into_iter()
                    .chain(g.ge)
                    .fold(f64::NEG_INFINITY, f64::max);
            let hi = g.lt.into_iter().chain(g.le).fold(f64::INFINITY, f64::min);
            if [g.gt, g.ge, g.lt, g.le]
                .iter()
                .flatten()
                .any(|b| !b.is_finite())
                || lo > hi
            {
                return bad(format!("sensitive group `{}`: its range is empty", g.name));
            }
            for v in &g.values {
                if !values.insert(v) {
                    return bad(format!("sensitive value `{v}` is in two groups"));
                }
            }
        }
    }
    Ok(())
}

/// Reads the train and test files and encodes them (see the module docs). Relative paths are
/// taken from `base_dir`; `seed` drives the validation split. The training rows are held in
/// memory; [`crate::shards::prepare`] streams them when `[data.stream]` asks.
pub fn prepare_in_memory(
    spec: &DataSpec,
    tasks: &[TaskSpec],
    base_dir: &Path,
    seed: u64,
) -> Result<Prepared, DataError> {
    let spec = &checked(spec, tasks)?;
    let missing: HashSet<&str> = spec.missing_values.iter().map(String::as_str).collect();
    let read = |f: &crate::spec::FileSpec| read_file(spec, tasks, base_dir, f);
    let mut train_t = read(&spec.train)?;
    let (numeric, vectors) = vector_columns(&mut train_t, spec)?;
    let train_c = Cols::resolve(&train_t, spec, &numeric, tasks)?;
    let mut keep_train = keep_rows(&train_t, &train_c, spec, &missing)?;
    // The test split: its own file, or a seeded `test_fraction` of the one file.
    // The test file's table, when it has its own (else the test rows are the training table's).
    let (test_own, test_c, keep_test, dropped) = match &spec.test {
        Some(f) => {
            let test_owned = read(f)?;
            let test_c = Cols::resolve(&test_owned, spec, &numeric, tasks)?;
            let keep_test = keep_rows(&test_owned, &test_c, spec, &missing)?;
            let dropped = Dropped {
                train: train_t.n() - keep_train.len(),
                test: test_owned.n() - keep_test.len(),
            };
            (Some(test_owned), test_c, keep_test, dropped)
        }
        None => {
            let fraction = spec.test_fraction.unwrap_or(0.0);
            let mut order = keep_train.clone();
            order.shuffle(&mut ChaCha8Rng::seed_from_u64(seed ^ 0x7E57_5EED));
            let n_test = (fraction * order.len() as f64).round() as usize;
            let mut test_rows = order[..n_test].to_vec();
            test_rows.sort_unstable();
            keep_train = order[n_test..].to_vec();
            keep_train.sort_unstable();
            let dropped = Dropped {
                train: train_t.n() - keep_train.len() - test_rows.len(),
                test: 0,
            };
            (
                None,
                Cols::resolve(&train_t, spec, &numeric, tasks)?,
                test_rows,
                dropped,
            )
        }
    };
    if dropped.train + dropped.test > 0 {
        tracing::info!(
            train = dropped.train,
            test = dropped.test,
            "dropped rows with missing values"
        );
    }
    if keep_train.is_empty() || keep_test.is_empty() {
        return Err(DataError::Degenerate(
            "no rows left after dropping rows with missing values".into(),
        ));
    }

    // Seeded validation split of the training file.
    let mut order = keep_train.clone();
    order.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    let n_val = (spec.validation_fraction * order.len() as f64).round() as usize;
    if n_val == 0 && spec.validation_fraction > 0.0 {
        return Err(DataError::Degenerate(format!(
            "[data].validation_fraction = {} of {} training rows leaves no validation row; use at \
             least {:.3}",
            spec.validation_fraction,
            order.len(),
            1.0 / order.len() as f64
        )));
    }
    let mut valid_rows = order[..n_val].to_vec();
    let mut train_rows = order[n_val..].to_vec();
    drop((order, keep_train));
    valid_rows.sort_unstable();
    train_rows.sort_unstable();
    if train_rows.is_empty() {
        return Err(DataError::Degenerate("the training split is empty".into()));
    }
    let tables = Tables {
        train_t,
        train_c,
        test_own,
        test_c,
        numeric,
        vectors,
        train_rows,
        valid_rows,
        keep_test,
        dropped,
        missing: &missing,
    };
    fit_and_encode(spec, tasks, tables)
}

/// The spec resolved ([`DataSpec::resolved`]) and checked ([`validate_schema`], the delimiter).
pub(crate) fn checked(spec: &DataSpec, tasks: &[TaskSpec]) -> Result<DataSpec, DataError> {
    let spec = spec.resolved().map_err(DataError::Schema)?;
    validate_schema(&spec, tasks)?;
    if !spec.delimiter.is_ascii() {
        return Err(DataError::Schema(format!(
            "[data].delimiter `{}` must be one ASCII character",
            spec.delimiter
        )));
    }
    Ok(spec)
}

/// The reading options of file `f` (its `skip_rows`, the spec's delimiter, names and null
/// token).
pub(crate) fn read_options<'a>(spec: &'a DataSpec, f: &crate::spec::FileSpec) -> ReadOptions<'a> {
    ReadOptions {
        delimiter: spec.delimiter as u8,
        skip_rows: f.skip_rows,
        columns: spec.columns.as_deref(),
        header: spec.columns.is_none(),
        null: spec.missing_values.first().map_or("", String::as_str),
    }
}

/// The token a number column may hold as a missing value (NaN): the first missing-value
/// token, when there is one.
pub(crate) fn nan_token(spec: &DataSpec) -> Option<&str> {
    (!spec.missing_values.is_empty()).then(|| spec.missing_values[0].as_str())
}

/// Reads file `f` (a file, or the shards its pattern or directory names) into typed columns, a
/// chunk at a time; with derived columns (computed from the text of each row) the file is read
/// as text first.
pub(crate) fn read_file(
    spec: &DataSpec,
    tasks: &[TaskSpec],
    base_dir: &Path,
    f: &crate::spec::FileSpec,
) -> Result<ColumnTable, DataError> {
    let missing: HashSet<&str> = spec.missing_values.iter().map(String::as_str).collect();
    let used = |c: &str| column_use(spec, tasks, c);
    let path = crate::spec::expand_path(&f.path).map_err(DataError::Schema)?;
    let opts = read_options(spec, f);
    let nan = nan_token(spec);
    let full = base_dir.join(&path);
    let shards = crate::spec::shard_paths(&full).map_err(DataError::Schema)?;
    if spec.derived.is_empty() {
        return ColumnTable::read_shards(&full, &shards, &opts, nan, &used);
    }
    if shards.len() > 1 {
        return Err(DataError::Schema(format!(
            "{}: [[data.derived]] columns are computed from one file; this path names {} \
             shards (merge them, or derive the columns beforehand)",
            full.display(),
            shards.len()
        )));
    }
    let mut t = Table::read(&base_dir.join(path), &opts)?;
    crate::derived::apply(
        &spec.derived,
        &t.path,
        &mut t.columns,
        &mut t.rows,
        &t.lines,
        &missing,
        true,
    )?;
    Ok(ColumnTable::from_rows(
        &t.path,
        t.columns,
        t.unreadable,
        (t.rows, &t.lines),
        nan,
        &used,
    ))
}

/// `[data.features] vectors`: each name stands for its columns `{name}_0 …` (a Parquet list
/// column reads as those), numeric features after the numeric ones. The numeric feature
/// columns and the vectors' widths.
pub(crate) fn vector_columns(
    train_t: &mut ColumnTable,
    spec: &DataSpec,
) -> Result<(Vec<String>, Vec<VectorGroup>), DataError> {
    let mut vectors = Vec::new();
    let mut numeric = spec.features.numeric.clone();
    for v in &spec.features.vectors {
        let width = (0..)
            .take_while(|j| train_t.columns.contains(&format!("{v}_{j}")))
            .count();
        if width == 0 {
            train_t.column(v, "a vector feature (its elements `{name}_0 …`)")?;
            return Err(DataError::Schema(format!(
                "{}: [data.features] vectors names `{v}`, which is not a list of floats (nor \
                 are there columns `{v}_0`, `{v}_1`, …)",
                train_t.path.display()
            )));
        }
        numeric.extend((0..width).map(|j| format!("{v}_{j}")));
        vectors.push(VectorGroup {
            column: v.clone(),
            width,
        });
    }
    Ok((numeric, vectors))
}

/// What [`fit_and_encode`] fits and encodes: the training table (and the test file's, when
/// it has its own), their columns, and the rows of each split.
pub(crate) struct Tables<'a> {
    pub(crate) train_t: ColumnTable,
    pub(crate) train_c: Cols,
    pub(crate) test_own: Option<ColumnTable>,
    pub(crate) test_c: Cols,
    pub(crate) numeric: Vec<String>,
    pub(crate) vectors: Vec<VectorGroup>,
    pub(crate) train_rows: Vec<usize>,
    pub(crate) valid_rows: Vec<usize>,
    pub(crate) keep_test: Vec<usize>,
    pub(crate) dropped: Dropped,
    pub(crate) missing: &'a HashSet<&'a str>,
}

/// Fits the encoders, groups and task scales on the training rows and encodes the three splits.
pub(crate) fn fit_and_encode(
    spec: &DataSpec,
    tasks: &[TaskSpec],
    t: Tables<'_>,
) -> Result<Prepared, DataError> {
    let Tables {
        mut train_t,
        train_c,
        mut test_own,
        test_c,
        numeric,
        vectors,
        train_rows,
        valid_rows,
        keep_test,
        dropped,
        missing,
    } = t;
    // Fit on the training split only.
    let mut encoders = Vec::new();
    for (name, &c) in spec.features.categorical.iter().zip(&train_c.categorical) {
        let mut cats = BTreeSet::new();
        for &r in &train_rows {
            let v = train_t.cell(r, c);
            cats.insert(if missing.contains(v.as_ref()) {
                Cow::Borrowed(MISSING_CATEGORY)
            } else {
                v
            });
        }
        encoders.push(ColumnEncoder::OneHot {
            column: name.clone(),
            categories: cats.into_iter().map(Cow::into_owned).collect(),
        });
    }
    for (name, &c) in numeric.iter().zip(&train_c.numeric) {
        let mut values = Vec::with_capacity(train_rows.len());
        for &r in &train_rows {
            if let Some(v) = numeric_cell(&train_t, r, c, missing)? {
                values.push(v);
            }
        }
        if values.is_empty() {
            return Err(DataError::Degenerate(format!(
                "numeric feature `{name}` has no value in the training split"
            )));
        }
        let (mean, std) = mean_std(&values);
        let std = if std > 1e-12 { std } else { 1.0 };
        encoders.push(ColumnEncoder::Standardize {
            column: name.clone(),
            mean,
            std,
        });
    }

    // Sensitive groups.
    let groups: Vec<GroupSpec> = match &spec.sensitive.groups {
        Some(gs) => gs.clone(),
        None => {
            let vals: BTreeSet<Cow<'_, str>> = train_rows
                .iter()
                .map(|&r| train_t.cell(r, train_c.sensitive))
                .collect();
            vals.into_iter()
                .map(|v| GroupSpec::of_values(&v, vec![v.to_string()]))
                .collect()
        }
    };
    if groups.len() < 2 {
        return Err(DataError::Degenerate(format!(
            "the sensitive attribute `{}` has a single group ({}) in the training split; fairness needs at least 2",
            spec.sensitive.column,
            groups.first().map_or("none", |g| g.name.as_str())
        )));
    }
    let group_names: Vec<String> = groups.iter().map(|g| g.name.clone()).collect();

    let mut features = Vec::new();
    for e in &encoders {
        match e {
            ColumnEncoder::OneHot { column, categories } => {
                features.extend(categories.iter().map(|c| format!("{column}={c}")))
            }
            ColumnEncoder::Standardize { column, .. } => features.push(column.clone()),
        }
    }
    if spec.sensitive.include_as_feature {
        features.extend(
            group_names
                .iter()
                .map(|g| format!("{}={g}", spec.sensitive.column)),
        );
    }

    let mut preprocessing = Preprocessing {
        format: crate::fitted::PREPROCESSING_FORMAT,
        reading: Reading {
            columns: spec.columns.clone(),
            delimiter: spec.delimiter,
            missing_values: spec.missing_values.clone(),
        },
        missing: spec.missing,
        features: features.clone(),
        encoders: encoders.clone(),
        vectors,
        sensitive: FittedSensitive {
            column: spec.sensitive.column.clone(),
            groups: groups.clone(),
            include_as_feature: spec.sensitive.include_as_feature,
        },
        tasks: Vec::new(), // with their scales, below
        derived: spec.derived.clone(),
    };
    let enc = Encoder {
        spec,
        tasks,
        preprocessing: &preprocessing,
        groups: &groups,
        p: features.len(),
    };
    // The features in file order, each table's feature blocks freed once encoded.
    let mut xs = [&train_rows, &valid_rows, &keep_test].map(|rows| enc.with_room(rows));
    let test_t = match test_own.as_mut() {
        Some(test_t) => {
            let (ours, theirs) = xs.split_at_mut(2);
            let both = [&train_rows[..], &valid_rows];
            enc.encode_features(&mut train_t, &train_c, &both, ours)?;
            enc.encode_features(test_t, &test_c, &[&keep_test], theirs)?;
            &*test_t
        }
        None => {
            let all = [&train_rows[..], &valid_rows, &keep_test];
            enc.encode_features(&mut train_t, &train_c, &all, &mut xs)?;
            &train_t
        }
    };
    let [x_train, x_valid, x_test] = xs;
    let train = enc.labels(&train_t, &train_c, &train_rows, x_train)?;
    let valid = enc.labels(&train_t, &train_c, &valid_rows, x_valid)?;
    let test = enc.labels(test_t, &test_c, &keep_test, x_test)?;

    // The training split must support the run.
    for (g, count) in train.group_counts(group_names.len()).iter().enumerate() {
        if *count == 0 {
            return Err(DataError::Degenerate(format!(
                "sensitive group `{}` has no row in the training split",
                group_names[g]
            )));
        }
    }
    let (mut train, mut valid, mut test) = (train, valid, test);
    let mut scales = Vec::with_capacity(tasks.len());
    for (t, task) in tasks.iter().enumerate() {
        if task.kind == crate::spec::TaskKind::Regression {
            // Standardise with the training split's mean and standard deviation.
            let v: Vec<f64> = train.targets[t].iter().map(|&a| f64::from(a)).collect();
            let (mean, std) = mean_std(&v);
            if std <= 0.0 {
                return Err(DataError::Degenerate(format!(
                    "regression task `{}`: column `{}` is constant on the training split",
                    task.name, task.column
                )));
            }
            for split in [&mut train, &mut valid, &mut test] {
                for a in split.targets[t].iter_mut() {
                    *a = ((f64::from(*a) - mean) / std) as f32;
                }
            }
            scales.push((mean, std));
            continue;
        }
        scales.push((0.0, 1.0));
        let pos = train.labels[t].iter().filter(|&&y| y).count();
        if pos == 0 || pos == train.n {
            return Err(DataError::Degenerate(format!(
                "task `{}`: its predicate on column `{}` is {} true on the training split; \
                 the column's values there: {}",
                task.name,
                task.column,
                if pos == 0 { "never" } else { "always" },
                value_counts(&train_t, &task.column, &train_rows)
            )));
        }
    }
    tracing::info!(
        train = train.n,
        valid = valid.n,
        test = test.n,
        features = features.len(),
        groups = ?group_names,
        "data prepared"
    );
    let tasks: Vec<TaskInfo> = tasks
        .iter()
        .zip(scales)
        .map(|(t, scale)| TaskInfo {
            name: t.name.clone(),
            column: t.column.clone(),
            role: t.role,
            kind: t.kind,
            positive: t.positive.clone(),
            scale,
        })
        .collect();
    preprocessing.tasks = tasks.clone();
    Ok(Prepared {
        features,
        encoders,
        groups: group_names,
        tasks,
        train: std::sync::Arc::new(train),
        valid,
        test,
        dropped,
        sensitive_is_feature: spec.sensitive.include_as_feature,
        preprocessing,
        streamed: None,
    })
}

/// How column `c` is read: the columns the run uses are features (a vector's `{name}_…`
/// columns), the sensitive attribute and the tasks'; those used only as numbers (numeric
/// features, vectors' elements) by value, the others for their text.
pub(crate) fn column_use(spec: &DataSpec, tasks: &[TaskSpec], c: &str) -> ColumnUse {
    let f = &spec.features;
    let as_number = f.numeric.iter().any(|x| x == c)
        || (f.vectors.iter()).any(|v| {
            c.strip_prefix(v.as_str())
                .is_some_and(|r| r.starts_with('_'))
        });
    let as_text = f.categorical.iter().any(|x| x == c)
        || c == spec.sensitive.column
        || tasks.iter().any(|t| t.column == c);
    match (as_text, as_number) {
        (true, _) => ColumnUse::Text,
        (false, true) => ColumnUse::Value,
        (false, false) => ColumnUse::Skip,
    }
}

/// Rows to keep under the missing-value policy.
pub(crate) fn keep_rows(
    t: &ColumnTable,
    c: &Cols,
    spec: &DataSpec,
    missing: &HashSet<&str>,
) -> Result<Vec<usize>, DataError> {
    let feature_cols: Vec<usize> = c.categorical.iter().chain(&c.numeric).copied().collect();
    let label_cols: Vec<usize> = std::iter::once(c.sensitive)
        .chain(c.tasks.iter().copied())
        .collect();
    let mut keep = Vec::with_capacity(t.n());
    // Per column, whether each code's text is a missing token (a number never is).
    let missing_codes: Vec<Option<Vec<bool>>> = (0..t.columns.len())
        .map(|c| {
            let levels = t.levels(c)?;
            Some(
                levels
                    .iter()
                    .map(|l| missing.contains(l.as_str()))
                    .collect(),
            )
        })
        .collect();
    let is_missing = |r: usize, col: usize| match (t.number(r, col), t.code(r, col)) {
        (Some(v), _) => v.is_nan(),
        (None, Some(code)) => usize::try_from(code)
            .map_or(true, |k| missing_codes[col].as_ref().is_some_and(|m| m[k])),
        (None, None) => false,
    };
    // A column with no missing cell need not be looked at row by row (an embedding's hundreds
    // of columns usually have none).
    let may_miss = |col: usize| match &missing_codes[col] {
        Some(m) => m.iter().any(|&x| x),
        None => t.has_nan(col),
    };
    let label_cols: Vec<usize> = label_cols.into_iter().filter(|&c| may_miss(c)).collect();
    let checked: Vec<usize> = (label_cols.iter().chain(&feature_cols))
        .copied()
        .filter(|&c| may_miss(c))
        .collect();
    if checked.is_empty() {
        return Ok((0..t.n()).collect());
    }
    'rows: for r in 0..t.n() {
        for &col in &checked {
            if !is_missing(r, col) {
                continue;
            }
            let is_label = label_cols.contains(&col);
            let why = match spec.missing {
                MissingPolicy::DropRows => continue 'rows,
                MissingPolicy::Impute if !is_label => continue,
                MissingPolicy::Impute => "task and sensitive columns cannot be imputed",
                MissingPolicy::Error => "[data].missing = \"error\"",
            };
            let (path, line) = t.origin(r);
            return Err(DataError::MissingValue {
                path: path.to_path_buf(),
                line,
                column: t.columns[col].clone(),
                value: t.cell(r, col).into_owned(),
                why,
            });
        }
        keep.push(r);
    }
    Ok(keep)
}

/// The mean and the (population) standard deviation of `values` (not empty), in two passes;
/// when a sum overflows (magnitudes near `f64::MAX`), over the values divided by their largest
/// magnitude, so any finite values give a finite mean.
pub fn mean_std(values: &[f64]) -> (f64, f64) {
    let k = values.len() as f64;
    let plain = |scale: f64| {
        let mean = values.iter().map(|v| v / scale).sum::<f64>() / k;
        let var = values
            .iter()
            .map(|v| (v / scale - mean).powi(2))
            .sum::<f64>()
            / k;
        (mean * scale, var.sqrt() * scale)
    };
    let (mean, std) = plain(1.0);
    if mean.is_finite() && std.is_finite() {
        return (mean, std);
    }
    let scale = values.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    plain(scale)
}

/// A numeric cell: `None` when missing, an error when not a finite number.
fn numeric_cell(
    t: &ColumnTable,
    r: usize,
    c: usize,
    missing: &HashSet<&str>,
) -> Result<Option<f64>, DataError> {
    if let Some(v) = t.number(r, c) {
        return Ok(Some(v).filter(|x| !x.is_nan()));
    }
    let v = t.cell(r, c);
    if missing.contains(v.as_ref()) {
        return Ok(None);
    }
    match v.parse::<f64>() {
        Ok(x) if x.is_finite() => Ok(Some(x)),
        _ => Err(DataError::NotNumeric {
            path: t.origin(r).0.to_path_buf(),
            line: t.origin(r).1,
            column: t.columns[c].clone(),
            value: v.to_string(),
        }),
    }
}

/// Encodes rows of a table with a fitted preprocessing.
pub(crate) struct Encoder<'a> {
    pub(crate) spec: &'a DataSpec,
    pub(crate) tasks: &'a [TaskSpec],
    pub(crate) preprocessing: &'a Preprocessing,
    pub(crate) groups: &'a [GroupSpec],
    pub(crate) p: usize,
}

impl Encoder<'_> {
    /// The split of `rows` (sorted) of `t`, its regression targets standardised with the
    /// preprocessing's task scales (the feature blocks of `t` are freed as they are encoded).
    pub(crate) fn encode_split(
        &self,
        t: &mut ColumnTable,
        c: &Cols,
        rows: &[usize],
    ) -> Result<Split, DataError> {
        let mut x = [self.with_room(rows)];
        self.encode_features(t, c, &[rows], &mut x)?;
        let [x] = x;
        let mut split = self.labels(t, c, rows, x)?;
        for (task, targets) in self.preprocessing.tasks.iter().zip(&mut split.targets) {
            if task.kind == crate::spec::TaskKind::Regression {
                let (mean, std) = task.scale;
                for a in targets.iter_mut() {
                    *a = ((f64::from(*a) - mean) / std) as f32;
                }
            }
        }
        Ok(split)
    }

    /// An empty feature matrix with room for `rows`: allocated, not written (its pages are
    /// touched only as it is filled, a block at a time).
    fn with_room(&self, rows: &[usize]) -> Vec<f32> {
        Vec::with_capacity(rows.len() * self.p)
    }

    /// Encodes the features of the rows `splits` (each sorted) of `t` into `xs` (one
    /// [`Encoder::with_room`] each), in file order, a block of the table at a time, each block of
    /// the feature columns freed once encoded (columns that are also the sensitive attribute or a
    /// task's are kept: the labels are read after, and an error may quote them), so that the
    /// whole table and the whole encoded splits are not held at once.
    fn encode_features(
        &self,
        t: &mut ColumnTable,
        c: &Cols,
        splits: &[&[usize]],
        xs: &mut [Vec<f32>],
    ) -> Result<(), DataError> {
        let p = self.p;
        // The features, column by column: gathered into their own columns (the encoders', then
        // the sensitive one), bound in that order.
        let feature_cols: Vec<usize> = (c.categorical.iter())
            .chain(&c.numeric)
            .chain(std::iter::once(&c.sensitive))
            .copied()
            .collect();
        let k = feature_cols.len() - 1;
        let binding = Binding {
            encoders: (0..k).collect(),
            sensitive: Some(k),
            tasks: Vec::new(),
        };
        let kept: Vec<usize> = std::iter::once(c.sensitive)
            .chain(c.tasks.iter().copied())
            .collect();
        let freed: BTreeSet<usize> = (c.categorical.iter().chain(&c.numeric))
            .copied()
            .filter(|col| !kept.contains(col))
            .collect();
        let mut unseen = vec![0u64; k + 1];
        let mut cursor = vec![0usize; splits.len()];
        for block in 0..t.n().div_ceil(BLOCK_ROWS) {
            let block_end = ((block + 1) * BLOCK_ROWS).min(t.n());
            for (s, rows) in splits.iter().enumerate() {
                let first = cursor[s];
                let end = first + rows[first..].partition_point(|&r| r < block_end);
                // Runs of rows of one file (a shard's rows are consecutive), so that an error
                // names the file.
                let mut i = first;
                while i < end {
                    let path = t.origin(rows[i]).0;
                    let j = i + rows[i..end].partition_point(|&r| t.origin(r).0 == path);
                    let run = &rows[i..j];
                    let columns = t.gather(&feature_cols, run);
                    let line = |q: usize| t.lines[run[q]];
                    let x = &mut xs[s];
                    debug_assert_eq!(x.len(), i * p);
                    x.resize(j * p, 0.0);
                    // The rows here passed `keep_rows`: none is dropped for a missing value.
                    let outcome = (self.preprocessing).encode_columns(
                        &binding,
                        &columns,
                        (path, &line),
                        &mut x[i * p..],
                        &mut unseen,
                    )?;
                    debug_assert!(outcome.iter().all(|o| *o == RowOutcome::Encoded));
                    i = j;
                }
                cursor[s] = end;
            }
            for &col in &freed {
                t.release(col, block);
            }
        }
        Ok(())
    }

    /// The split of `rows` with features `x`: its group ids, labels and targets.
    fn labels(
        &self,
        t: &ColumnTable,
        c: &Cols,
        rows: &[usize],
        x: Vec<f32>,
    ) -> Result<Split, DataError> {
        let n = rows.len();
        let mut labels = vec![Vec::with_capacity(n); self.tasks.len()];
        let mut targets = vec![Vec::with_capacity(n); self.tasks.len()];
        let mut s = Vec::with_capacity(n);
        for &r in rows {
            let sv = t.cell(r, c.sensitive);
            let g = self
                .groups
                .iter()
                .position(|g| g.contains(&sv))
                .ok_or_else(|| DataError::UnknownGroup {
                    path: t.origin(r).0.to_path_buf(),
                    line: t.origin(r).1,
                    column: self.spec.sensitive.column.clone(),
                    value: sv.to_string(),
                })?;
            s.push(g);
            for (k, task) in self.tasks.iter().enumerate() {
                let cell = t.cell(r, c.tasks[k]);
                let cell = cell.as_ref();
                let not_numeric = || DataError::NotNumeric {
                    path: t.origin(r).0.to_path_buf(),
                    line: t.origin(r).1,
                    column: task.column.clone(),
                    value: cell.to_string(),
                };
                let (y, target) = match &task.positive {
                    Some(p) => {
                        let y = p.eval(cell).ok_or_else(not_numeric)?;
                        (y, f32::from(u8::from(y)))
                    }
                    None => {
                        let v: f64 = cell
                            .trim()
                            .parse()
                            .ok()
                            // Targets are kept in f32: a value beyond its range is not usable.
                            .filter(|v: &f64| v.is_finite() && (*v as f32).is_finite())
                            .ok_or_else(not_numeric)?;
                        (false, v as f32)
                    }
                };
                labels[k].push(y);
                targets[k].push(target);
            }
        }
        Ok(Split {
            n,
            p: self.p,
            x,
            labels,
            targets,
            s,
        })
    }
}

/// The most frequent values of `column` in `rows` of `table`, with their counts (at most ten,
/// then how many more), for an error message; empty when the column is not in the table.
fn value_counts(table: &ColumnTable, column: &str, rows: &[usize]) -> String {
    let Some(c) = table.columns.iter().position(|x| x == column) else {
        return String::new();
    };
    let mut counts: std::collections::HashMap<Cow<'_, str>, usize> =
        std::collections::HashMap::new();
    for &r in rows {
        *counts.entry(table.cell(r, c)).or_default() += 1;
    }
    let mut by_count: Vec<(Cow<'_, str>, usize)> = counts.into_iter().collect();
    by_count.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let shown: Vec<String> = by_count
        .iter()
        .take(10)
        .map(|(v, n)| format!("`{v}` ({n})"))
        .collect();
    match by_count.len() > 10 {
        true => format!("{} and {} more", shown.join(", "), by_count.len() - 10),
        false => shown.join(", "),
    }
}

#[cfg(test)]
mod tests {
    use super::mean_std;

    #[test]
    fn mean_std_is_the_textbook_one_and_finite_near_f64_max() {
        let (m, s) = mean_std(&[1.0, 2.0, 3.0, 4.0]);
        assert_eq!(m, 2.5);
        assert!((s - 1.25f64.sqrt()).abs() < 1e-15);
        // One pass (Σv² − mean²) loses everything here; two passes do not.
        let (m, s) = mean_std(&[1e9 + 1.0, 1e9 + 2.0, 1e9 + 3.0]);
        assert_eq!(m, 1e9 + 2.0);
        assert!((s - (2.0f64 / 3.0).sqrt()).abs() < 1e-7, "{s}");
        // Sums overflow: the scaled pass gives the exact answer (mean 1e308/3, std √2·1e308/3).
        let (m, s) = mean_std(&[1e308, 1e308, -1e308]);
        assert!((m / (1e308 / 3.0) - 1.0).abs() < 1e-12, "{m}");
        assert!((s / (8f64.sqrt() / 3.0 * 1e308) - 1.0).abs() < 1e-12, "{s}");
        assert_eq!(mean_std(&[0.0, 0.0]), (0.0, 0.0));
    }
}
