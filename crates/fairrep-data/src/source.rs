//! What every reader of rows shares: the read options, a chunk of rows with their line numbers,
//! and the errors that name a file's line or column. The readers ([`crate::table`],
//! [`crate::stream`], [`crate::parquet`]) build on this module and never on each other's
//! internals, so the modules form no circle.

use crate::error::DataError;
use std::path::Path;

/// Rows of a file with the line (CSV) or row (Parquet) number of each, 1-based.
#[derive(Debug, Clone, Default)]
pub struct Chunk {
    /// The rows, one cell per column of the file's columns.
    pub rows: Vec<csv::StringRecord>,
    /// Each row's line (CSV) or row number
    /// (Parquet).
    pub lines: Vec<u64>,
}

/// How to read a file.
#[derive(Debug, Clone)]
pub struct ReadOptions<'a> {
    /// Field delimiter.
    pub delimiter: u8,
    /// Lines to skip before anything else.
    pub skip_rows: usize,
    /// Column names when the file has no header; `None` reads the header from the file, or,
    /// with `header = false`, names the columns `1, 2, …` after the first row's length.
    pub columns: Option<&'a [String]>,
    /// Whether the first line (after `skip_rows`) is a header (ignored when `columns` is set).
    pub header: bool,
    /// What a null cell of a Parquet file reads as (the first missing-value token).
    pub null: &'a str,
}

impl Default for ReadOptions<'_> {
    /// A comma-separated file whose first line names the columns (or a Parquet file), nulls
    /// read as empty cells.
    fn default() -> Self {
        ReadOptions {
            delimiter: b',',
            skip_rows: 0,
            columns: None,
            header: true,
            null: "",
        }
    }
}

/// A csv crate error as a [`DataError`] naming the file and the line `line`.
pub(crate) fn csv_error(path: &Path, e: csv::Error, line: u64) -> DataError {
    match e.into_kind() {
        csv::ErrorKind::Io(source) => DataError::Io {
            path: path.to_path_buf(),
            source,
        },
        csv::ErrorKind::Utf8 { err, .. } => DataError::Parse {
            path: path.to_path_buf(),
            line,
            message: format!("invalid UTF-8 ({err})"),
        },
        other => DataError::Parse {
            path: path.to_path_buf(),
            line,
            message: format!("{other:?}"),
        },
    }
}

/// Index of column `name`, or an error naming it, how it is used and the file's columns (or the
/// type of a Parquet column that cannot be read).
pub(crate) fn find_column(
    path: &Path,
    columns: &[String],
    unreadable: &[(String, String)],
    name: &str,
    used_as: &str,
) -> Result<usize, DataError> {
    if let Some((_, t)) = unreadable.iter().find(|(c, _)| c == name) {
        return Err(DataError::Schema(format!(
            "{}: column `{name}` (used as {used_as}) has type {t}, which fairrep cannot read; \
             store it as text or numbers (or as a list of floats for an embedding)",
            path.display()
        )));
    }
    columns
        .iter()
        .position(|c| c == name)
        .ok_or_else(|| DataError::MissingColumn {
            path: path.to_path_buf(),
            column: name.to_string(),
            used_as: used_as.to_string(),
            available: columns.join(", "),
            suggestion: did_you_mean(name, columns),
        })
}

/// `; did you mean `c`?` for the column `c` closest to `name` (case-insensitive edit distance
/// at most 2, or a third of the name), else empty.
pub fn did_you_mean(name: &str, columns: &[String]) -> String {
    let lower = name.to_lowercase();
    columns
        .iter()
        .map(|c| (strsim::damerau_levenshtein(&lower, &c.to_lowercase()), c))
        .min()
        .filter(|(d, _)| *d <= 2.max(name.chars().count() / 3))
        .map_or(String::new(), |(_, c)| format!("; did you mean `{c}`?"))
}
