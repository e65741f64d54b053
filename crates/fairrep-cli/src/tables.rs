//! Reading the CSV files of the commands that work on any model's outputs (`divergence`,
//! `audit-predictions`, `barycenter`): the table, a numeric column, a column of group names.

use crate::usage::usage;
use fairrep_data::DataError;
use fairrep_data::table::{ReadOptions, Table};
use fairrep_run::TrainError;
use std::path::Path;

/// `--delimiter` as a byte, or a usage error.
pub fn delimiter(d: char) -> anyhow::Result<u8> {
    if d.is_ascii() {
        Ok(d as u8)
    } else {
        Err(usage(format!(
            "--delimiter `{d}` must be one ASCII character"
        )))
    }
}

/// A CSV file (gzip if it ends in .gz) or a Parquet file (`.parquet`; nulls read as empty
/// cells); with `header`, a CSV file's first line names the columns.
pub fn read(path: &Path, delim: char, header: bool) -> anyhow::Result<Table> {
    let table = Table::read(
        path,
        &ReadOptions {
            delimiter: delimiter(delim)?,
            skip_rows: 0,
            columns: None,
            header,
            null: "",
        },
    )
    .map_err(TrainError::from)?;
    Ok(table)
}

/// A CSV file with a header line and at least one data row.
pub fn read_with_rows(path: &Path, delim: char) -> anyhow::Result<Table> {
    let table = read(path, delim, true)?;
    if table.rows.is_empty() {
        return Err(usage(format!("{}: no data rows", path.display())));
    }
    Ok(table)
}

/// The finite numbers of column `c`, or an error naming the file, line and column.
pub fn numeric_column(table: &Table, c: usize, path: &Path) -> Result<Vec<f64>, TrainError> {
    table
        .rows
        .iter()
        .zip(&table.lines)
        .map(|(r, line)| {
            r[c].trim()
                .parse()
                .ok()
                .filter(|v: &f64| v.is_finite())
                .ok_or_else(|| {
                    TrainError::from(DataError::NotNumeric {
                        path: path.to_path_buf(),
                        line: *line,
                        column: table.columns[c].clone(),
                        value: r[c].to_string(),
                    })
                })
        })
        .collect()
}

/// The distinct values of column `c` (trimmed), sorted: the group names.
pub fn distinct(table: &Table, c: usize) -> Vec<String> {
    let mut names: Vec<String> = table.rows.iter().map(|r| r[c].trim().to_string()).collect();
    names.sort();
    names.dedup();
    names
}

/// Each row's index of its column-`c` value in `names`, or an error naming the file, line and
/// value (`what` says where the names come from).
pub fn group_ids(
    table: &Table,
    c: usize,
    path: &Path,
    names: &[String],
    what: &str,
) -> Result<Vec<usize>, TrainError> {
    table
        .rows
        .iter()
        .zip(&table.lines)
        .map(|(r, line)| {
            names.binary_search(&r[c].trim().to_string()).map_err(|_| {
                TrainError::from(DataError::Parse {
                    path: path.to_path_buf(),
                    line: *line,
                    message: format!(
                        "column `{}`: group `{}` does not occur in {what} (groups there: {})",
                        table.columns[c],
                        r[c].trim(),
                        names.join(", ")
                    ),
                })
            })
        })
        .collect()
}
