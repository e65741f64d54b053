//! From the `[data]` spec to typed tables: the spec checked, the reading options, each file
//! (or its shards) read into typed columns, the vector features' columns, how each column is
//! read.

use crate::columnar::{ColumnTable, ColumnUse};
use crate::error::DataError;
use crate::fitted::VectorGroup;
use crate::spec::{DataSpec, TaskSpec};
use crate::table::{ReadOptions, Table};
use std::collections::HashSet;
use std::path::Path;

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
