//! Parquet files: a file's rows as string cells (the cell model every reader of fairrep shares),
//! read one record batch at a time.
//!
//! Column types: strings (also dictionary-encoded, as pandas' categoricals are written),
//! booleans, integers and floats become cells; a column of fixed-length float lists (an
//! embedding) becomes one numeric cell per element, named `{column}_0 … {column}_{d-1}` (see
//! `[data.features] vectors`). Any other type (dates, decimals, structs) is readable only by not
//! being used: naming such a column as a feature or task is an error that names its type. A
//! null cell reads as the first of the run's missing-value tokens.

use crate::error::DataError;
use crate::source::Chunk;
use arrow_array::cast::AsArray;
use arrow_array::types::{
    Float16Type, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type, UInt8Type,
    UInt16Type, UInt32Type, UInt64Type,
};
use arrow_array::{Array, RecordBatch};
use arrow_schema::DataType;
use csv::StringRecord;
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use std::fs::File;
use std::path::{Path, PathBuf};

/// Whether a path names a Parquet file (`.parquet` or `.pq`, any case).
pub fn is_parquet(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("parquet") || e.eq_ignore_ascii_case("pq"))
}

/// How one Parquet column becomes table columns.
#[derive(Debug, Clone)]
enum Layout {
    /// One cell per row.
    Scalar,
    /// A list of `width` floats per row: `width` numeric cells.
    Vector(usize),
    /// A type fairrep cannot read (its name).
    Unreadable,
}

fn is_float(t: &DataType) -> bool {
    matches!(t, DataType::Float16 | DataType::Float32 | DataType::Float64)
}

fn is_scalar(t: &DataType) -> bool {
    match t {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Boolean => true,
        DataType::Dictionary(_, v) => is_scalar(v),
        t => t.is_integer() || is_float(t),
    }
}

/// The number of rows of a Parquet file, from its metadata (nothing decoded).
pub fn row_count(path: &Path) -> Result<u64, DataError> {
    let file = File::open(path).map_err(|source| DataError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| DataError::Parse {
        path: path.to_path_buf(),
        line: 0,
        message: format!("not a readable Parquet file ({e})"),
    })?;
    Ok(u64::try_from(builder.metadata().file_metadata().num_rows()).unwrap_or(0))
}

/// The rows of a Parquet file, a record batch at a time.
pub struct ParquetRows {
    path: PathBuf,
    reader: ParquetRecordBatchReader,
    layouts: Vec<Layout>,
    /// Table column names (vector columns expanded).
    pub columns: Vec<String>,
    /// Table columns that cannot be read, with their Arrow type.
    pub unreadable: Vec<(String, String)>,
    pending: Option<RecordBatch>,
    null: String,
    /// 1-based number of the next row.
    next_row: u64,
}

impl ParquetRows {
    /// Opens `path`; batches hold at most `batch_rows` rows; a null cell reads as `null`.
    pub fn open(path: &Path, batch_rows: usize, null: &str) -> Result<Self, DataError> {
        let file = File::open(path).map_err(|source| DataError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let parse = |message: String| DataError::Parse {
            path: path.to_path_buf(),
            line: 0,
            message,
        };
        let builder = ParquetRecordBatchReaderBuilder::try_new(file)
            .map_err(|e| parse(format!("not a readable Parquet file ({e})")))?;
        let schema = builder.schema().clone();
        let mut reader = builder
            .with_batch_size(batch_rows.max(1))
            .build()
            .map_err(|e| parse(format!("not a readable Parquet file ({e})")))?;
        let pending = reader
            .next()
            .transpose()
            .map_err(|e| parse(format!("cannot decode ({e})")))?;
        let mut layouts = Vec::new();
        let mut columns = Vec::new();
        let mut unreadable = Vec::new();
        for (i, field) in schema.fields().iter().enumerate() {
            let name = field.name();
            let layout = match field.data_type() {
                DataType::FixedSizeList(inner, w) if is_float(inner.data_type()) => {
                    Layout::Vector(*w as usize)
                }
                DataType::List(inner) | DataType::LargeList(inner)
                    if is_float(inner.data_type()) =>
                {
                    // The width of a variable-length list column: its first non-null row's.
                    let width = pending
                        .as_ref()
                        .and_then(|b| list_width(b.column(i).as_ref()));
                    match width {
                        Some(w) => Layout::Vector(w),
                        None => Layout::Unreadable,
                    }
                }
                t if is_scalar(t) => Layout::Scalar,
                _ => Layout::Unreadable,
            };
            match layout {
                Layout::Vector(w) => columns.extend((0..w).map(|j| format!("{name}_{j}"))),
                Layout::Unreadable => {
                    unreadable.push((name.clone(), field.data_type().to_string()));
                    columns.push(name.clone());
                }
                Layout::Scalar => columns.push(name.clone()),
            }
            layouts.push(layout);
        }
        Ok(Self {
            path: path.to_path_buf(),
            reader,
            layouts,
            columns,
            unreadable,
            pending,
            null: null.to_string(),
            next_row: 1,
        })
    }

    /// Its vector columns: the table column of each one's element 0, and its width.
    pub fn vector_columns(&self) -> Vec<(usize, usize)> {
        let mut col = 0;
        let mut out = Vec::new();
        for layout in &self.layouts {
            match layout {
                Layout::Vector(w) => {
                    out.push((col, *w));
                    col += w;
                }
                _ => col += 1,
            }
        }
        out
    }

    /// The next record batch (the one read when the file was opened first), or `None`.
    fn next_record_batch(&mut self) -> Result<Option<RecordBatch>, DataError> {
        match self.pending.take() {
            Some(b) => Ok(Some(b)),
            None => self
                .reader
                .next()
                .transpose()
                .map_err(|e| DataError::Parse {
                    path: self.path.clone(),
                    line: self.next_row,
                    message: format!("cannot decode ({e})"),
                }),
        }
    }

    /// The next batch of rows with their 1-based row numbers, or `None` at the end.
    pub fn next_batch(&mut self) -> Result<Option<Chunk>, DataError> {
        let Some(batch) = self.next_record_batch()? else {
            return Ok(None);
        };
        let n = batch.num_rows();
        let first = self.next_row;
        let mut cells: Vec<Vec<String>> = Vec::with_capacity(self.columns.len());
        for (layout, array) in self.layouts.iter().zip(batch.columns()) {
            match layout {
                Layout::Scalar => cells.push(scalar_cells(array.as_ref(), &self.null)),
                Layout::Vector(w) => {
                    let sub =
                        vector_cells(array.as_ref(), *w, &self.null).map_err(|(row, m)| {
                            DataError::Parse {
                                path: self.path.clone(),
                                line: first + row as u64,
                                message: m,
                            }
                        })?;
                    cells.extend(sub);
                }
                Layout::Unreadable => cells.push(vec![String::new(); n]),
            }
        }
        let mut rows = Vec::with_capacity(n);
        for r in 0..n {
            let mut rec = StringRecord::with_capacity(64, cells.len());
            for col in &cells {
                rec.push_field(&col[r]);
            }
            rows.push(rec);
        }
        self.next_row += n as u64;
        Ok(Some(Chunk {
            rows,
            lines: (first..first + n as u64).collect(),
        }))
    }
}

/// One cell of a record batch as [`ParquetRows::next_cells`] gives it: the text the string
/// reader makes of it ([`ParquetRows::next_batch`]), or, for a finite number whose text that
/// reader writes as the shortest form of its f64, the number itself (no text made).
#[derive(Debug, Clone, Copy)]
pub enum Cell<'a> {
    /// The cell's text.
    Text(&'a str),
    /// A number whose text is `format!("{v}")`.
    Number(f64),
}

impl ParquetRows {
    /// The next batch cell by cell, column by column (`push(table column, row in the batch,
    /// cell)`), with its rows' 1-based numbers; `None` at the end. The cells are those of
    /// [`ParquetRows::next_batch`] (the same text, column for column), without a string made
    /// for a number.
    pub fn next_cells(
        &mut self,
        push: &mut dyn FnMut(usize, usize, Cell<'_>),
    ) -> Result<Option<Vec<u64>>, DataError> {
        self.next_cells_or_vectors(push, None)
    }

    /// [`ParquetRows::next_cells`], except that with `vectors` each vector column is given
    /// whole (`vectors(its first table column, its values)`) instead of cell by cell: a reader
    /// that standardises an embedding straight into its matrix skips the cells.
    pub fn next_cells_or_vectors(
        &mut self,
        push: &mut dyn FnMut(usize, usize, Cell<'_>),
        mut vectors: Option<GiveVectors<'_>>,
    ) -> Result<Option<Vec<u64>>, DataError> {
        let Some(batch) = self.next_record_batch()? else {
            return Ok(None);
        };
        let n = batch.num_rows();
        let first = self.next_row;
        let mut col = 0;
        for (layout, array) in self.layouts.iter().zip(batch.columns()) {
            match layout {
                Layout::Scalar => {
                    scalar_into(array.as_ref(), &self.null, &mut |row, cell| {
                        push(col, row, cell)
                    });
                    col += 1;
                }
                Layout::Vector(w) => {
                    let lists =
                        list_spans(array.as_ref(), *w).map_err(|(row, m)| DataError::Parse {
                            path: self.path.clone(),
                            line: first + row as u64,
                            message: m,
                        })?;
                    match vectors.as_mut() {
                        Some(give) => give(
                            col,
                            &VectorValues {
                                spans: &lists.0,
                                values: &lists.1,
                                width: *w,
                            },
                        ),
                        None => vector_into(&lists, *w, &self.null, &mut |j, row, cell| {
                            push(col + j, row, cell)
                        }),
                    }
                    col += *w;
                }
                Layout::Unreadable => {
                    (0..n).for_each(|row| push(col, row, Cell::Text("")));
                    col += 1;
                }
            }
        }
        self.next_row += n as u64;
        Ok(Some((first..first + n as u64).collect()))
    }
}

/// The cells of a scalar column, as [`scalar_cells`] writes them, numbers as numbers where
/// their text is their f64's shortest form.
fn scalar_into(a: &dyn Array, null: &str, push: &mut dyn FnMut(usize, Cell<'_>)) {
    fn ints<T: Into<i128> + Copy>(
        it: impl Iterator<Item = Option<T>>,
        null: &str,
        push: &mut dyn FnMut(usize, Cell<'_>),
    ) {
        for (row, v) in it.enumerate() {
            match v.map(Into::into) {
                None => push(row, Cell::Text(null)),
                // Exactly an f64 (|v| ≤ 2⁵³): its text is the f64's shortest form.
                Some(x) if x.unsigned_abs() <= 1 << 53 => push(row, Cell::Number(x as f64)),
                Some(x) => push(row, Cell::Text(&x.to_string())),
            }
        }
    }
    match a.data_type() {
        DataType::Int8 => ints(a.as_primitive::<Int8Type>().iter(), null, push),
        DataType::Int16 => ints(a.as_primitive::<Int16Type>().iter(), null, push),
        DataType::Int32 => ints(a.as_primitive::<Int32Type>().iter(), null, push),
        DataType::Int64 => ints(a.as_primitive::<Int64Type>().iter(), null, push),
        DataType::UInt8 => ints(a.as_primitive::<UInt8Type>().iter(), null, push),
        DataType::UInt16 => ints(a.as_primitive::<UInt16Type>().iter(), null, push),
        DataType::UInt32 => ints(a.as_primitive::<UInt32Type>().iter(), null, push),
        DataType::UInt64 => ints(a.as_primitive::<UInt64Type>().iter(), null, push),
        t if is_float(t) => {
            for (row, v) in floats(a).into_iter().enumerate() {
                match v {
                    None => push(row, Cell::Text(null)),
                    Some(x) if x.is_finite() => push(row, Cell::Number(x)),
                    Some(x) => push(row, Cell::Text(&x.to_string())),
                }
            }
        }
        _ => {
            for (row, text) in scalar_cells(a, null).iter().enumerate() {
                push(row, Cell::Text(text));
            }
        }
    }
}

/// The length of the first non-null list of a list column.
fn list_width(a: &dyn Array) -> Option<usize> {
    let lens: Vec<(usize, bool)> = match a.data_type() {
        DataType::List(_) => {
            let l = a.as_list::<i32>();
            (0..l.len())
                .map(|i| (l.value_length(i) as usize, l.is_null(i)))
                .collect()
        }
        DataType::LargeList(_) => {
            let l = a.as_list::<i64>();
            (0..l.len())
                .map(|i| (l.value_length(i) as usize, l.is_null(i)))
                .collect()
        }
        _ => return None,
    };
    lens.into_iter().find(|&(_, null)| !null).map(|(w, _)| w)
}

/// A float array's values as f64 (`None` for nulls).
fn floats(a: &dyn Array) -> Vec<Option<f64>> {
    match a.data_type() {
        DataType::Float16 => a
            .as_primitive::<Float16Type>()
            .iter()
            .map(|v| v.map(f64::from))
            .collect(),
        DataType::Float32 => a
            .as_primitive::<Float32Type>()
            .iter()
            .map(|v| v.map(f64::from))
            .collect(),
        _ => a.as_primitive::<Float64Type>().iter().collect(),
    }
}

/// The cells of a scalar column; numbers are written so that they parse back exactly (a float
///32 as the f64 of its exact value).
fn scalar_cells(a: &dyn Array, null: &str) -> Vec<String> {
    fn text<'a>(it: impl Iterator<Item = Option<&'a str>>, null: &str) -> Vec<String> {
        it.map(|v| v.map_or_else(|| null.to_string(), |s| s.trim().to_string()))
            .collect()
    }
    fn shown<T: ToString>(it: impl Iterator<Item = Option<T>>, null: &str) -> Vec<String> {
        it.map(|v| v.map_or_else(|| null.to_string(), |x| x.to_string()))
            .collect()
    }
    match a.data_type() {
        DataType::Utf8 => text(a.as_string::<i32>().iter(), null),
        DataType::LargeUtf8 => text(a.as_string::<i64>().iter(), null),
        DataType::Utf8View => text(a.as_string_view().iter(), null),
        DataType::Boolean => shown(a.as_boolean().iter(), null),
        DataType::Int8 => shown(a.as_primitive::<Int8Type>().iter(), null),
        DataType::Int16 => shown(a.as_primitive::<Int16Type>().iter(), null),
        DataType::Int32 => shown(a.as_primitive::<Int32Type>().iter(), null),
        DataType::Int64 => shown(a.as_primitive::<Int64Type>().iter(), null),
        DataType::UInt8 => shown(a.as_primitive::<UInt8Type>().iter(), null),
        DataType::UInt16 => shown(a.as_primitive::<UInt16Type>().iter(), null),
        DataType::UInt32 => shown(a.as_primitive::<UInt32Type>().iter(), null),
        DataType::UInt64 => shown(a.as_primitive::<UInt64Type>().iter(), null),
        DataType::Dictionary(_, _) => {
            let d = a
                .as_any_dictionary_opt()
                .expect("a dictionary type is a dictionary array");
            let values = scalar_cells(d.values().as_ref(), null);
            d.normalized_keys()
                .into_iter()
                .enumerate()
                .map(|(i, k)| {
                    if a.is_null(i) {
                        null.to_string()
                    } else {
                        values[k].clone()
                    }
                })
                .collect()
        }
        _ => shown(floats(a).into_iter(), null),
    }
}

/// Each row's list (offset into the child values, length, null) and the child values, of a
/// list column; a row whose list is not `w` long is an error `(row index in the batch,
/// message)`.
#[allow(clippy::type_complexity)]
fn list_spans(
    a: &dyn Array,
    w: usize,
) -> Result<(Vec<(usize, usize, bool)>, Floats<'_>), (usize, String)> {
    let n = a.len();
    let (spans, values): (Vec<(usize, usize, bool)>, _) = match a.data_type() {
        DataType::FixedSizeList(_, _) => {
            let l = a.as_fixed_size_list();
            (
                (0..n)
                    .map(|i| (l.value_offset_at(i), w, l.is_null(i)))
                    .collect(),
                Floats::of(l.values().as_ref()),
            )
        }
        DataType::List(_) => {
            let l = a.as_list::<i32>();
            let o = l.value_offsets();
            (
                (0..n)
                    .map(|i| (o[i] as usize, (o[i + 1] - o[i]) as usize, l.is_null(i)))
                    .collect(),
                Floats::of(l.values().as_ref()),
            )
        }
        _ => {
            let l = a.as_list::<i64>();
            let o = l.value_offsets();
            (
                (0..n)
                    .map(|i| (o[i] as usize, (o[i + 1] - o[i]) as usize, l.is_null(i)))
                    .collect(),
                Floats::of(l.values().as_ref()),
            )
        }
    };
    if let Some(row) = spans.iter().position(|&(_, len, null)| !null && len != w) {
        return Err((
            row,
            format!(
                "a list of {} numbers where the column's lists have {w}",
                spans[row].1
            ),
        ));
    }
    Ok((spans, values))
}

/// The `w` cell columns of a vector column; a row whose list is not `w` long is an error
/// `(row index in the batch, message)`.
fn vector_cells(a: &dyn Array, w: usize, null: &str) -> Result<Vec<Vec<String>>, (usize, String)> {
    let (spans, values) = list_spans(a, w)?;
    let mut out = vec![Vec::with_capacity(spans.len()); w];
    for &(start, _, is_null) in &spans {
        for (j, col) in out.iter_mut().enumerate() {
            col.push(match is_null {
                true => null.to_string(),
                false => {
                    (values.get(start + j)).map_or_else(|| null.to_string(), |v| v.to_string())
                }
            });
        }
    }
    Ok(out)
}

/// The cells of a vector column, as [`vector_cells`] writes them, numbers as numbers
/// (`push(element j, row, cell)`; each element's rows in order).
#[allow(clippy::type_complexity)]
fn vector_into(
    (spans, values): &(Vec<(usize, usize, bool)>, Floats<'_>),
    w: usize,
    null: &str,
    push: &mut dyn FnMut(usize, usize, Cell<'_>),
) {
    // In tiles of rows: a tile's values stay in cache while each element's column takes its
    // rows, in order.
    const TILE: usize = 32;
    for first in (0..spans.len()).step_by(TILE) {
        let tile = &spans[first..(first + TILE).min(spans.len())];
        for j in 0..w {
            for (i, &(start, _, is_null)) in tile.iter().enumerate() {
                // A null list (of any length) is `w` missing cells.
                match (!is_null).then(|| values.get(start + j)).flatten() {
                    None => push(j, first + i, Cell::Text(null)),
                    Some(v) if v.is_finite() => push(j, first + i, Cell::Number(v)),
                    Some(v) => push(j, first + i, Cell::Text(&v.to_string())),
                }
            }
        }
    }
}

/// Takes each vector column of a batch whole: `(its first table column, its values)`.
pub type GiveVectors<'f> = &'f mut dyn FnMut(usize, &VectorValues<'_>);

/// A vector column's values in one record batch ([`ParquetRows::next_cells_or_vectors`]).
pub struct VectorValues<'a> {
    spans: &'a [(usize, usize, bool)],
    values: &'a Floats<'a>,
    width: usize,
}

impl VectorValues<'_> {
    /// Its rows.
    pub fn rows(&self) -> usize {
        self.spans.len()
    }

    /// Its width (every list's length).
    pub fn width(&self) -> usize {
        self.width
    }

    /// Element `j` of row `row`; `None` when the list or the element is null.
    pub fn get(&self, row: usize, j: usize) -> Option<f64> {
        let (start, _, is_null) = self.spans[row];
        (!is_null).then(|| self.values.get(start + j)).flatten()
    }

    /// Row `row`'s values as one slice, when the list and all its elements are present and
    /// stored as f32 or f64 (else `None`: read them with [`VectorValues::get`]).
    pub fn row(&self, row: usize) -> Option<RowValues<'_>> {
        let (start, _, is_null) = self.spans[row];
        if is_null {
            return None;
        }
        let end = start + self.width;
        // Every element of the row present (an array with nulls elsewhere is fine).
        let present = |a: &dyn Array| {
            a.null_count() == 0
                || a.nulls()
                    .is_some_and(|n| end <= n.len() && n.slice(start, self.width).null_count() == 0)
        };
        match self.values {
            Floats::F32(a) if present(*a) => a.values().get(start..end).map(RowValues::F32),
            Floats::F64(a) if present(*a) => a.values().get(start..end).map(RowValues::F64),
            _ => None,
        }
    }
}

/// One row of a vector column with no missing element ([`VectorValues::row`]).
pub enum RowValues<'a> {
    /// Stored as f32.
    F32(&'a [f32]),
    /// Stored as f64.
    F64(&'a [f64]),
}

/// A float array's values: borrowed when they are f32 or f64, else copied as f64.
enum Floats<'a> {
    F32(&'a arrow_array::PrimitiveArray<Float32Type>),
    F64(&'a arrow_array::PrimitiveArray<Float64Type>),
    Copied(Vec<Option<f64>>),
}

impl Floats<'_> {
    fn of(a: &dyn Array) -> Floats<'_> {
        match a.data_type() {
            DataType::Float32 => Floats::F32(a.as_primitive::<Float32Type>()),
            DataType::Float64 => Floats::F64(a.as_primitive::<Float64Type>()),
            _ => Floats::Copied(floats(a)),
        }
    }

    /// Value `i` as f64 (`None`: null).
    fn get(&self, i: usize) -> Option<f64> {
        match self {
            Floats::F32(a) => (!a.is_null(i)).then(|| f64::from(a.value(i))),
            Floats::F64(a) => (!a.is_null(i)).then(|| a.value(i)),
            Floats::Copied(v) => v[i],
        }
    }
}
