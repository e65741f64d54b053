//! From two tables to encoded splits: missing values, the seeded validation split, encoders fitted
//! on the training split only, sensitive groups and task labels. The tables are read by
//! [`crate::reading`]; what this gives is [`crate::prepared`].

use crate::columnar::{BLOCK_ROWS, ColumnTable};
use crate::error::DataError;
use crate::fitted::{Binding, FittedSensitive, Preprocessing, Reading, RowOutcome, VectorGroup};
pub use crate::fitted::{ColumnEncoder, MISSING_CATEGORY, TaskInfo};
pub use crate::prepared::{Dropped, Prepared, Split};
use crate::reading::{checked, read_file, vector_columns};
use crate::spec::{DataSpec, GroupSpec, MissingPolicy, TaskSpec};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use std::borrow::Cow;
use std::collections::{BTreeSet, HashSet};
use std::path::Path;

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
