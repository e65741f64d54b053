//! Typed columns: rows held as numbers and category codes rather than a `String` per cell, and
//! their encoding by a run's fitted preprocessing ([`Preprocessing::encode_columns`]) — the
//! same output, outcome and errors as [`Preprocessing::encode_row`] on the rows written as
//! text, column by column.
//!
//! The Python binding passes numpy arrays (numbers without a copy) and pandas' categorical
//! codes or `factorize`d strings; Arrow data (pyarrow, polars, Parquet record batches) become
//! typed columns through [`from_arrow`].

use crate::error::DataError;
use crate::fitted::{Binding, ColumnEncoder, MISSING_CATEGORY, Preprocessing, RowOutcome, z_score};
use crate::spec::MissingPolicy;
use arrow_array::cast::AsArray;
use arrow_array::types::{
    Float16Type, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type, UInt8Type,
    UInt16Type, UInt32Type, UInt64Type,
};
use arrow_array::{Array, RecordBatch};
use arrow_schema::DataType;
use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::path::Path;

/// One column's values.
#[derive(Debug, Clone, PartialEq)]
pub enum TypedColumn<'a> {
    /// Numbers; NaN is a missing value. Used as a category, a number is the text Rust's `{}`
    /// writes for its f64 (`13`, `0.5`), as the Parquet reader writes numbers.
    Numbers(Cow<'a, [f64]>),
    /// Category codes into `levels`; a negative code is a missing value (a level may also be
    /// one of the run's missing-value tokens).
    Codes {
        /// One code per row.
        codes: Cow<'a, [i64]>,
        /// The text of each code.
        levels: Cow<'a, [String]>,
    },
}

impl TypedColumn<'_> {
    /// Its number of rows.
    pub fn len(&self) -> usize {
        match self {
            TypedColumn::Numbers(v) => v.len(),
            TypedColumn::Codes { codes, .. } => codes.len(),
        }
    }

    /// Whether it has no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Rows `range` (borrowed).
    pub fn slice(&self, range: std::ops::Range<usize>) -> TypedColumn<'_> {
        match self {
            TypedColumn::Numbers(v) => TypedColumn::Numbers(Cow::Borrowed(&v[range])),
            TypedColumn::Codes { codes, levels } => TypedColumn::Codes {
                codes: Cow::Borrowed(&codes[range]),
                levels: Cow::Borrowed(levels),
            },
        }
    }

    /// The cell of row `i` as text (the missing token `null` for a missing one).
    pub fn cell<'s>(&'s self, i: usize, null: &'s str) -> Cow<'s, str> {
        match self {
            TypedColumn::Numbers(v) if v[i].is_nan() => Cow::Borrowed(null),
            TypedColumn::Numbers(v) => Cow::Owned(v[i].to_string()),
            TypedColumn::Codes { codes, levels } => match usize::try_from(codes[i]) {
                Ok(c) => Cow::Borrowed(levels[c].as_str()),
                Err(_) => Cow::Borrowed(null),
            },
        }
    }

    /// Checks the codes against the levels; the error names the column.
    fn check(&self, name: &str) -> Result<(), String> {
        if let TypedColumn::Codes { codes, levels } = self
            && let Some(&bad) = codes.iter().find(|&&c| c >= levels.len() as i64)
        {
            return Err(format!(
                "column `{name}`: code {bad} but only {} levels",
                levels.len()
            ));
        }
        Ok(())
    }
}

/// A value of one column as the encoder sees it, looked up once per distinct value.
#[derive(Debug, Clone, Copy)]
enum Seen {
    Missing,
    /// A one-hot position (`None`: a category never seen in training) or a number.
    Category(Option<usize>),
    Number(f64),
    /// Text in a numeric column.
    NotNumeric,
}

impl Preprocessing {
    /// Encodes rows held as typed columns into `out` (`[n, features.len()]` row-major, zeroed
    /// here) and returns each row's outcome: the result of [`Preprocessing::encode_row`] on the
    /// same rows written as text, row by row, including its errors (the first bad row, row `i`
    /// named line `line(i)` of `path`). `b` binds the encoders to `columns` (see
    /// [`Preprocessing::bind`]).
    pub fn encode_columns(
        &self,
        b: &Binding,
        columns: &[TypedColumn<'_>],
        (path, line): (&Path, &dyn Fn(usize) -> u64),
        out: &mut [f32],
        unseen: &mut [u64],
    ) -> Result<Vec<RowOutcome>, DataError> {
        let n = columns.first().map_or(0, TypedColumn::len);
        let p = self.features.len();
        for (c, name) in columns.iter().zip(0..) {
            if c.len() != n {
                return Err(DataError::Schema(format!(
                    "{}: column {name} has {} rows, the first column {n}",
                    path.display(),
                    c.len()
                )));
            }
        }
        out.iter_mut().for_each(|v| *v = 0.0);
        let missing = self.missing_tokens();
        let mut outcome = vec![RowOutcome::Encoded; n];
        // The first bad cell in row order (then column order), as the row-wise encoder meets it.
        let mut first_error: Option<(usize, usize, DataError)> = None;
        let mut fail = |row: usize, k: usize, e: DataError| {
            if first_error
                .as_ref()
                .is_none_or(|(r, c, _)| (row, k) < (*r, *c))
            {
                first_error = Some((row, k, e));
            }
        };
        let mut off = 0;
        let mut units: Vec<(usize, Option<&ColumnEncoder>, usize)> = Vec::new(); // (k, encoder, column)
        for (k, (e, &c)) in self.encoders.iter().zip(&b.encoders).enumerate() {
            units.push((k, Some(e), c));
        }
        if self.sensitive.include_as_feature {
            units.push((self.encoders.len(), None, b.sensitive.unwrap_or(usize::MAX)));
        }
        for (k, encoder, c) in units {
            let width = match encoder {
                Some(ColumnEncoder::OneHot { categories, .. }) => categories.len(),
                Some(ColumnEncoder::Standardize { .. }) => 1,
                None => self.sensitive.groups.len(),
            };
            let name = self.column_name(k).to_string();
            let column = columns.get(c);
            let classify = |text: &str| -> Seen {
                if missing.contains(text) {
                    return Seen::Missing;
                }
                match encoder {
                    Some(ColumnEncoder::OneHot { categories, .. }) => {
                        Seen::Category(categories.binary_search_by(|x| x.as_str().cmp(text)).ok())
                    }
                    Some(ColumnEncoder::Standardize { .. }) => match text.parse::<f64>() {
                        Ok(x) if x.is_finite() => Seen::Number(x),
                        _ => Seen::NotNumeric,
                    },
                    None => Seen::Category(self.sensitive.group_of(text)),
                }
            };
            let null = self
                .reading
                .missing_values
                .first()
                .map_or("", String::as_str);
            // A cell's text, for an error message.
            let text = |i: usize| column.map_or(Cow::Borrowed(""), |c| c.cell(i, null));
            // Each distinct value's meaning, then each row's.
            let seen: Box<dyn Fn(usize) -> Seen + '_> = match column {
                // The sensitive attribute absent from the rows: every cell is empty.
                None => Box::new(move |_| classify("")),
                Some(TypedColumn::Codes { codes, levels }) => {
                    let table: Vec<Seen> = levels.iter().map(|l| classify(l)).collect();
                    Box::new(move |i| usize::try_from(codes[i]).map_or(Seen::Missing, |c| table[c]))
                }
                Some(TypedColumn::Numbers(values)) => {
                    let standardize = matches!(encoder, Some(ColumnEncoder::Standardize { .. }));
                    let mut cache: HashMap<u64, Seen> = HashMap::new();
                    if !standardize {
                        for v in values.iter().filter(|v| !v.is_nan()) {
                            cache
                                .entry(v.to_bits())
                                .or_insert_with(|| classify(&v.to_string()));
                        }
                    }
                    Box::new(move |i| {
                        let v = values[i];
                        if v.is_nan() {
                            Seen::Missing
                        } else if !standardize {
                            cache[&v.to_bits()]
                        } else if v.is_finite() {
                            Seen::Number(v)
                        } else {
                            Seen::NotNumeric
                        }
                    })
                }
            };
            for (i, row_out) in out.chunks_mut(p.max(1)).take(n).enumerate() {
                if outcome[i] != RowOutcome::Encoded {
                    continue;
                }
                let value = match seen(i) {
                    Seen::Missing => match self.missing {
                        MissingPolicy::DropRows => {
                            outcome[i] = RowOutcome::Dropped(k);
                            continue;
                        }
                        MissingPolicy::Error => {
                            fail(
                                i,
                                k,
                                DataError::MissingValue {
                                    path: path.to_path_buf(),
                                    line: line(i),
                                    column: name.clone(),
                                    value: text(i).into_owned(),
                                    why: "[data].missing = \"error\"",
                                },
                            );
                            continue;
                        }
                        MissingPolicy::Impute => match encoder {
                            Some(ColumnEncoder::OneHot { categories, .. }) => Seen::Category(
                                categories
                                    .binary_search_by(|x| x.as_str().cmp(MISSING_CATEGORY))
                                    .ok(),
                            ),
                            Some(ColumnEncoder::Standardize { mean, .. }) => Seen::Number(*mean),
                            // The missing token itself names a group or none, as row by row.
                            None => Seen::Category(self.sensitive.group_of(&text(i))),
                        },
                    },
                    v => v,
                };
                match (value, encoder) {
                    (Seen::Number(x), Some(ColumnEncoder::Standardize { mean, std, .. })) => {
                        row_out[off] = z_score(x, *mean, *std);
                    }
                    (Seen::Category(Some(j)), _) => row_out[off + j] = 1.0,
                    (Seen::Category(None), _) | (Seen::Missing, _) => unseen[k] += 1,
                    _ => {
                        let value = text(i).into_owned();
                        fail(
                            i,
                            k,
                            DataError::NotNumeric {
                                path: path.to_path_buf(),
                                line: line(i),
                                column: name.clone(),
                                value,
                            },
                        );
                    }
                }
            }
            off += width;
        }
        // (A row dropped by an earlier column is skipped by the later ones, so the error is
        // the one the row-wise encoder meets first.)
        if let Some((_, _, e)) = first_error {
            return Err(e);
        }
        for (i, o) in outcome.iter().enumerate() {
            if *o != RowOutcome::Encoded {
                out[i * p..(i + 1) * p].iter_mut().for_each(|v| *v = 0.0);
            }
        }
        Ok(outcome)
    }
}

/// Typed columns of columns and their names, checked: every column as long as the first,
/// codes within their levels.
pub fn check_columns(names: &[String], columns: &[TypedColumn<'_>]) -> Result<(), DataError> {
    if names.len() != columns.len() {
        return Err(DataError::Schema(format!(
            "{} column names but {} columns",
            names.len(),
            columns.len()
        )));
    }
    let n = columns.first().map_or(0, TypedColumn::len);
    let mut dup = HashSet::new();
    for (name, c) in names.iter().zip(columns) {
        if !dup.insert(name) {
            return Err(DataError::Schema(format!("column `{name}` appears twice")));
        }
        if c.len() != n {
            return Err(DataError::Schema(format!(
                "column `{name}` has {} rows, the first column ({}) {n}",
                c.len(),
                names[0]
            )));
        }
        c.check(name).map_err(DataError::Schema)?;
    }
    Ok(())
}

/// The typed columns of an Arrow record batch and their names: numbers as numbers (integers,
/// floats; nulls NaN), strings and booleans (`true`/`false`) as codes, dictionary columns as
/// their keys and values, a list-of-floats column (an embedding) as `{column}_0 …` numbers.
///
/// This is the conversion of data handed over in memory (Python's Arrow input), where a null
/// or a NaN is a missing value whatever the run's missing-value tokens. A Parquet *file* is
/// read as its text would read instead ([`crate::parquet::ParquetRows::next_cells`]: a null is
/// the first missing-value token, a NaN the text `NaN`), so that a file gives the same run as
/// its CSV; the two conversions differ on purpose.
/// A column of another type (dates, decimals, structs) is returned in the second list with its
/// type, so that only using it is an error ([`Preprocessing::bind`]'s `unreadable`).
#[allow(clippy::type_complexity)]
pub fn from_arrow(
    batch: &RecordBatch,
) -> (
    Vec<String>,
    Vec<TypedColumn<'static>>,
    Vec<(String, String)>,
) {
    let mut names = Vec::new();
    let mut columns = Vec::new();
    let mut unreadable = Vec::new();
    for (field, array) in batch.schema().fields().iter().zip(batch.columns()) {
        let name = field.name().clone();
        match typed(array.as_ref()) {
            Some(c) => {
                names.push(name);
                columns.push(c);
            }
            None => match vector(array.as_ref()) {
                Some(parts) => {
                    for (j, c) in parts.into_iter().enumerate() {
                        names.push(format!("{name}_{j}"));
                        columns.push(c);
                    }
                }
                None => unreadable.push((name, array.data_type().to_string())),
            },
        }
    }
    (names, columns, unreadable)
}

/// A float or integer array's values as f64, nulls NaN.
fn numbers(a: &dyn Array) -> Option<Vec<f64>> {
    fn collect<I: Iterator<Item = Option<f64>>>(it: I) -> Vec<f64> {
        it.map(|v| v.unwrap_or(f64::NAN)).collect()
    }
    Some(match a.data_type() {
        DataType::Float16 => collect(
            a.as_primitive::<Float16Type>()
                .iter()
                .map(|v| v.map(f64::from)),
        ),
        DataType::Float32 => collect(
            a.as_primitive::<Float32Type>()
                .iter()
                .map(|v| v.map(f64::from)),
        ),
        DataType::Float64 => collect(a.as_primitive::<Float64Type>().iter()),
        DataType::Int8 => collect(
            a.as_primitive::<Int8Type>()
                .iter()
                .map(|v| v.map(f64::from)),
        ),
        DataType::Int16 => collect(
            a.as_primitive::<Int16Type>()
                .iter()
                .map(|v| v.map(f64::from)),
        ),
        DataType::Int32 => collect(
            a.as_primitive::<Int32Type>()
                .iter()
                .map(|v| v.map(f64::from)),
        ),
        DataType::Int64 => collect(
            a.as_primitive::<Int64Type>()
                .iter()
                .map(|v| v.map(|x| x as f64)),
        ),
        DataType::UInt8 => collect(
            a.as_primitive::<UInt8Type>()
                .iter()
                .map(|v| v.map(f64::from)),
        ),
        DataType::UInt16 => collect(
            a.as_primitive::<UInt16Type>()
                .iter()
                .map(|v| v.map(f64::from)),
        ),
        DataType::UInt32 => collect(
            a.as_primitive::<UInt32Type>()
                .iter()
                .map(|v| v.map(f64::from)),
        ),
        DataType::UInt64 => collect(
            a.as_primitive::<UInt64Type>()
                .iter()
                .map(|v| v.map(|x| x as f64)),
        ),
        _ => return None,
    })
}

/// Interns text cells into codes and levels (trimmed, as the CSV and Parquet readers trim).
fn intern<'a>(cells: impl Iterator<Item = Option<&'a str>>) -> TypedColumn<'static> {
    let mut index: HashMap<&'a str, i64> = HashMap::new();
    let mut levels = Vec::new();
    let codes = cells
        .map(|cell| match cell {
            None => -1,
            Some(s) => *index.entry(s.trim()).or_insert_with(|| {
                levels.push(s.trim().to_string());
                levels.len() as i64 - 1
            }),
        })
        .collect();
    TypedColumn::Codes {
        codes: Cow::Owned(codes),
        levels: Cow::Owned(levels),
    }
}

/// A scalar Arrow column as a typed column (`None` for a type that is not one).
fn typed(a: &dyn Array) -> Option<TypedColumn<'static>> {
    if let Some(v) = numbers(a) {
        return Some(TypedColumn::Numbers(Cow::Owned(v)));
    }
    Some(match a.data_type() {
        DataType::Utf8 => intern(a.as_string::<i32>().iter()),
        DataType::LargeUtf8 => intern(a.as_string::<i64>().iter()),
        DataType::Utf8View => intern(a.as_string_view().iter()),
        DataType::Boolean => TypedColumn::Codes {
            codes: Cow::Owned(
                a.as_boolean()
                    .iter()
                    .map(|v| v.map_or(-1, i64::from))
                    .collect(),
            ),
            levels: Cow::Owned(vec!["false".into(), "true".into()]),
        },
        DataType::Dictionary(_, _) => {
            let d = a.as_any_dictionary_opt()?;
            let values = typed(d.values().as_ref())?;
            let levels: Vec<String> = (0..values.len())
                .map(|i| values.cell(i, "").into_owned())
                .collect();
            let codes = d
                .normalized_keys()
                .into_iter()
                .enumerate()
                .map(|(i, k)| if a.is_null(i) { -1 } else { k as i64 })
                .collect();
            TypedColumn::Codes {
                codes: Cow::Owned(codes),
                levels: Cow::Owned(levels),
            }
        }
        _ => return None,
    })
}

/// A list-of-floats column as one number column per element (`None` for another type, or
/// lists of different lengths); a null list is missing in every element.
fn vector(a: &dyn Array) -> Option<Vec<TypedColumn<'static>>> {
    let n = a.len();
    let (offsets, values): (Vec<(usize, usize)>, Vec<f64>) = match a.data_type() {
        DataType::FixedSizeList(_, w) => {
            let l = a.as_fixed_size_list();
            let w = *w as usize;
            (
                (0..n).map(|i| (l.value_offset_at(i), w)).collect(),
                numbers(l.values().as_ref())?,
            )
        }
        DataType::List(_) => {
            let l = a.as_list::<i32>();
            let o = l.value_offsets();
            let spans = (0..n)
                .map(|i| (o[i] as usize, (o[i + 1] - o[i]) as usize))
                .collect();
            (spans, numbers(l.values().as_ref())?)
        }
        DataType::LargeList(_) => {
            let l = a.as_list::<i64>();
            let o = l.value_offsets();
            let spans = (0..n)
                .map(|i| (o[i] as usize, (o[i + 1] - o[i]) as usize))
                .collect();
            (spans, numbers(l.values().as_ref())?)
        }
        _ => return None,
    };
    let width = (0..n).find(|&i| !a.is_null(i)).map_or(0, |i| offsets[i].1);
    if (0..n).any(|i| !a.is_null(i) && offsets[i].1 != width) {
        return None;
    }
    Some(
        (0..width)
            .map(|j| {
                TypedColumn::Numbers(Cow::Owned(
                    (0..n)
                        .map(|i| {
                            if a.is_null(i) {
                                f64::NAN
                            } else {
                                values[offsets[i].0 + j]
                            }
                        })
                        .collect(),
                ))
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use csv::StringRecord;
    use rand::{Rng, SeedableRng};

    /// A run's preprocessing: a categorical column `c` (categories `1`, `2.5`, `<missing>`,
    /// `a`, `b`), a numeric `x` (mean 1, std 2), the sensitive `s` as a feature (groups `m`,
    /// and `f` or `?`).
    fn preprocessing(missing: &str) -> Preprocessing {
        let json = format!(
            r#"{{"format": 1,
            "reading": {{"columns": null, "delimiter": ",", "missing_values": ["?", ""]}},
            "missing": "{missing}",
            "features": ["c=1", "c=2.5", "c=<missing>", "c=a", "c=b", "x", "s=m", "s=f"],
            "encoders": [
              {{"kind": "one_hot", "column": "c", "categories": ["1", "2.5", "<missing>", "a", "b"]}},
              {{"kind": "standardize", "column": "x", "mean": 1.0, "std": 2.0}}],
            "vectors": [],
            "sensitive": {{"column": "s", "groups": [{{"name": "m", "values": ["m"]}},
                {{"name": "f", "values": ["f", "?"]}}], "include_as_feature": true}},
            "tasks": []}}"#
        );
        serde_json::from_str(&json).unwrap()
    }

    /// Text cells as codes and levels.
    fn codes(cells: &[&str]) -> TypedColumn<'static> {
        intern(cells.iter().map(|c| Some(*c)))
    }

    /// Every row's encoding and outcome (or the error) by `encode_row` and by
    /// `encode_columns` on the same cells, as codes and (where every cell is a number or
    /// missing) as numbers, agree on random tables under every missing policy.
    #[test]
    fn typed_columns_encode_as_the_rows_do() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let c_cells = ["1", "2.5", "a", "b", "zz", "?", "", "1.0", "3"];
        let x_cells = ["0", "1", "-2.5", "7", "?", "", "x", "1e3", "inf"];
        let s_cells = ["m", "f", "?", "", "other"];
        let names: Vec<String> = ["c", "x", "s"].map(String::from).to_vec();
        let path = Path::new("<rows>");
        let (mut errors, mut dropped, mut by_numbers) = (0, 0, 0);
        for case in 0..600 {
            let policy = ["impute", "drop_rows", "error"][case % 3];
            let pre = preprocessing(policy);
            let b = pre.bind(path, &names, &[]).unwrap();
            let n = rng.random_range(1..12);
            let pick = |rng: &mut rand_chacha::ChaCha8Rng, cells: &[&'static str], clean: bool| {
                let cells = if clean { &cells[..4] } else { cells };
                cells[rng.random_range(0..cells.len())]
            };
            let clean = rng.random_bool(0.3);
            let rows: Vec<[&str; 3]> = (0..n)
                .map(|_| {
                    [
                        pick(&mut rng, &c_cells, clean),
                        pick(&mut rng, &x_cells, clean),
                        pick(&mut rng, &s_cells, clean),
                    ]
                })
                .collect();
            // Row by row.
            let missing = pre.missing_tokens();
            let p = pre.features.len();
            let mut expected = vec![0f32; n * p];
            let mut unseen_rows = vec![0u64; 3];
            let row_wise: Result<Vec<RowOutcome>, DataError> = rows
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    let rec = StringRecord::from(r.to_vec());
                    let o = pre.encode_row(
                        &b,
                        &rec,
                        &missing,
                        (path, i as u64 + 1),
                        &mut expected[i * p..(i + 1) * p],
                        &mut unseen_rows,
                    )?;
                    if o != RowOutcome::Encoded {
                        expected[i * p..(i + 1) * p]
                            .iter_mut()
                            .for_each(|v| *v = 0.0);
                    }
                    Ok(o)
                })
                .collect();
            // As columns: codes, and numbers where every cell is one.
            let column = |j: usize| rows.iter().map(|r| r[j]).collect::<Vec<_>>();
            let as_numbers = |cells: &[&str]| -> Option<TypedColumn<'static>> {
                let v: Option<Vec<f64>> = cells
                    .iter()
                    .map(|c| match *c {
                        "?" | "" => Some(f64::NAN),
                        c => c.parse::<f64>().ok().filter(|v| v.is_finite()),
                    })
                    .collect();
                v.map(|v| TypedColumn::Numbers(Cow::Owned(v)))
            };
            let mut variants = vec![vec![
                codes(&column(0)),
                codes(&column(1)),
                codes(&column(2)),
            ]];
            if let Some(x) = as_numbers(&column(1)) {
                variants.push(vec![codes(&column(0)), x, codes(&column(2))]);
            }
            // Numbers as categories: `1.0` and `1` are both the category `1` as numbers.
            if column(0).iter().all(|c| !c.contains('.') || *c == "2.5")
                && let Some(c) = as_numbers(&column(0))
            {
                variants.push(vec![c, codes(&column(1)), codes(&column(2))]);
            }
            for cols in variants {
                let typed_numbers = cols.iter().any(|c| matches!(c, TypedColumn::Numbers(_)));
                by_numbers += usize::from(typed_numbers);
                check_columns(&names, &cols).unwrap();
                let mut got = vec![1f32; n * p];
                let mut unseen = vec![0u64; 3];
                let line = |i: usize| i as u64 + 1;
                let typed = pre.encode_columns(&b, &cols, (path, &line), &mut got, &mut unseen);
                match (&row_wise, typed) {
                    (Ok(a), Ok(t)) => {
                        assert_eq!(a, &t, "case {case}: {rows:?}");
                        assert_eq!(expected, got, "case {case} ({policy}): {rows:?}");
                        assert_eq!(unseen_rows, unseen, "case {case}: {rows:?}");
                        dropped += t.iter().filter(|o| **o != RowOutcome::Encoded).count();
                    }
                    (Err(a), Err(t)) => {
                        // A NaN has no token of its own: it is named as the first one, `?`.
                        let (a, t) = (a.to_string(), t.to_string());
                        let numbers_named = names.iter().zip(&cols).any(|(nm, c)| {
                            matches!(c, TypedColumn::Numbers(_))
                                && a.contains(&format!("column `{nm}`"))
                        });
                        let a = if numbers_named {
                            a.replace("value ``", "value `?`")
                        } else {
                            a
                        };
                        assert_eq!(a, t, "case {case}: {rows:?}");
                        errors += 1;
                    }
                    (a, t) => panic!("case {case} ({policy}) {rows:?}: rows {a:?}, columns {t:?}"),
                }
            }
        }
        // The cases cover errors, dropped rows and number columns.
        assert!(
            errors > 50 && dropped > 50 && by_numbers > 50,
            "{errors} {dropped} {by_numbers}"
        );
    }

    /// Arrow columns: numbers, strings, booleans, dictionaries, lists of floats, nulls.
    #[test]
    fn arrow_batches_become_typed_columns() {
        use arrow_array::builder::{FixedSizeListBuilder, Float32Builder};
        use arrow_array::{
            BooleanArray, DictionaryArray, Float64Array, Int32Array, StringArray,
            types::Int8Type as K,
        };
        use std::sync::Arc;
        let mut list = FixedSizeListBuilder::new(Float32Builder::new(), 2);
        for (a, b) in [(1.0, 2.0), (3.0, 4.0), (5.5, 6.0)] {
            list.values().append_value(a);
            list.values().append_value(b);
            list.append(true);
        }
        let dict: DictionaryArray<K> = vec![Some("u"), None, Some("v")].into_iter().collect();
        let batch = RecordBatch::try_from_iter(vec![
            (
                "f",
                Arc::new(Float64Array::from(vec![Some(0.5), None, Some(2.0)])) as _,
            ),
            ("i", Arc::new(Int32Array::from(vec![1, 2, 3])) as _),
            (
                "s",
                Arc::new(StringArray::from(vec![Some(" a"), Some("b"), None])) as _,
            ),
            (
                "b",
                Arc::new(BooleanArray::from(vec![true, false, true])) as _,
            ),
            ("d", Arc::new(dict) as _),
            ("e", Arc::new(list.finish()) as _),
        ])
        .unwrap();
        let (names, cols, unreadable) = from_arrow(&batch);
        assert_eq!(names, ["f", "i", "s", "b", "d", "e_0", "e_1"]);
        assert!(unreadable.is_empty());
        let text = |c: &TypedColumn<'_>| {
            (0..3)
                .map(|i| c.cell(i, "NA").into_owned())
                .collect::<Vec<_>>()
        };
        assert_eq!(text(&cols[0]), ["0.5", "NA", "2"]);
        assert_eq!(text(&cols[1]), ["1", "2", "3"]);
        assert_eq!(text(&cols[2]), ["a", "b", "NA"]);
        assert_eq!(text(&cols[3]), ["true", "false", "true"]);
        assert_eq!(text(&cols[4]), ["u", "NA", "v"]);
        assert_eq!(text(&cols[5]), ["1", "3", "5.5"]);
        assert_eq!(text(&cols[6]), ["2", "4", "6"]);
        check_columns(&names, &cols).unwrap();
        let bad = [TypedColumn::Codes {
            codes: Cow::Owned(vec![0, 3]),
            levels: Cow::Owned(vec!["a".into()]),
        }];
        let e = check_columns(&["k".into()], &bad).unwrap_err().to_string();
        assert!(e.contains("column `k`: code 3 but only 1 levels"), "{e}");
    }
}
