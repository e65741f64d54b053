//! Errors of data loading and encoding: each names the file, line and column it is about.

use std::path::PathBuf;

/// Everything that can go wrong between a data file and an encoded split.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// The file cannot be opened or read.
    #[error("cannot read data file {path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The CSV parser failed (bad quoting, invalid UTF-8, …).
    #[error("{path}, line {line}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: u64,
        /// What the parser said.
        message: String,
    },
    /// A row has a different number of fields than the header.
    #[error("{path}, line {line}: {got} fields, expected {expected} (as in the header/`columns`)")]
    Ragged {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: u64,
        /// Fields found.
        got: usize,
        /// Fields expected.
        expected: usize,
    },
    /// The file has no header (when one is expected) or no data rows.
    #[error("{path}: {what}")]
    Empty {
        /// The file.
        path: PathBuf,
        /// "no header line" or "no data rows".
        what: &'static str,
    },
    /// The config names a column the file does not have.
    #[error(
        "{path}: no column `{column}` (used as {used_as}){suggestion}; the file has: {available}"
    )]
    MissingColumn {
        /// The file.
        path: PathBuf,
        /// The column asked for.
        column: String,
        /// How the config uses it.
        used_as: String,
        /// The file's columns, comma-separated.
        available: String,
        /// `; did you mean `…`?` when a column's name is close to the one asked for, else
        /// empty.
        suggestion: String,
    },
    /// A numeric column holds something that is not a finite number.
    #[error("{path}, line {line}, column `{column}`: `{value}` is not a finite number")]
    NotNumeric {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: u64,
        /// The column.
        column: String,
        /// The cell.
        value: String,
    },
    /// A source of an `any` derived column holds something that is not an indicator.
    #[error(
        "{path}, line {line}, column `{column}`: `{value}` is not an indicator (0/1, true/false) \
         for the derived column `{derived}`"
    )]
    NotIndicator {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: u64,
        /// The column.
        column: String,
        /// The cell.
        value: String,
        /// The derived column.
        derived: String,
    },
    /// A missing value where the policy does not allow one.
    #[error("{path}, line {line}, column `{column}`: missing value `{value}` ({why})")]
    MissingValue {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: u64,
        /// The column.
        column: String,
        /// The cell.
        value: String,
        /// Which rule forbids it.
        why: &'static str,
    },
    /// A sensitive value that belongs to no declared group.
    #[error(
        "{path}, line {line}: sensitive column `{column}` has value `{value}`, which is in no group of [data.sensitive].groups"
    )]
    UnknownGroup {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: u64,
        /// The sensitive column.
        column: String,
        /// The cell.
        value: String,
    },
    /// The schema in the config is inconsistent (duplicate names, a task column used as a
    /// feature, …).
    #[error("invalid data config: {0}")]
    Schema(String),
    /// A split cannot support the run (a group absent, a task constant, …).
    #[error("{0}")]
    Degenerate(String),
}
