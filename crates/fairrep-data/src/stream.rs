//! Reading a CSV, CSV.gz or Parquet file a chunk of rows at a time, in constant memory: the
//! input of `fairrep encode` and `fairrep predict`.

use crate::error::DataError;
use crate::parquet::{ParquetRows, is_parquet};
pub use crate::source::Chunk;
use crate::source::{ReadOptions, csv_error, find_column};
use csv::StringRecord;
use flate2::read::MultiGzDecoder;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

enum Source {
    Csv {
        reader: Box<csv::Reader<Box<dyn Read>>>,
        /// A first data row read while naming the columns of a file without a header.
        first: Option<(StringRecord, u64)>,
    },
    Parquet {
        rows: Box<ParquetRows>,
        /// Rows still to skip at the top (`skip_rows`).
        skip: usize,
    },
}

/// A file's rows, read on demand.
pub struct RowStream {
    path: PathBuf,
    columns: Vec<String>,
    unreadable: Vec<(String, String)>,
    source: Source,
    rows_read: u64,
}

impl RowStream {
    /// Opens `path` with the reading options of a table ([`ReadOptions`]: CSV delimiter, lines
    /// to skip, header or column names; a Parquet file's names come from its schema, `columns`
    /// renames them positionally). `chunk_rows` bounds the rows decoded at once.
    pub fn open(path: &Path, opts: &ReadOptions<'_>, chunk_rows: usize) -> Result<Self, DataError> {
        if is_parquet(path) {
            let mut rows = Box::new(ParquetRows::open(path, chunk_rows, opts.null)?);
            let mut columns = rows.columns.clone();
            if let Some(names) = opts.columns {
                rename(path, &mut columns, &mut rows.unreadable, names)?;
            }
            return Ok(Self {
                path: path.to_path_buf(),
                columns,
                unreadable: rows.unreadable.clone(),
                source: Source::Parquet {
                    rows,
                    skip: opts.skip_rows,
                },
                rows_read: 0,
            });
        }
        let io = |source| DataError::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = File::open(path).map_err(io)?;
        let raw: Box<dyn Read> = if path.extension().is_some_and(|e| e == "gz") {
            Box::new(MultiGzDecoder::new(BufReader::new(file)))
        } else {
            Box::new(BufReader::new(file))
        };
        let mut reader = Box::new(
            csv::ReaderBuilder::new()
                .delimiter(opts.delimiter)
                .has_headers(false)
                .flexible(true)
                .trim(csv::Trim::All)
                .from_reader(raw),
        );
        let mut record = StringRecord::new();
        let mut next = |reader: &mut csv::Reader<Box<dyn Read>>| -> Result<Option<(StringRecord, u64)>, DataError> {
            loop {
                let line = reader.position().line();
                if !reader
                    .read_record(&mut record)
                    .map_err(|e| {
                        let at = e.position().map_or(line, |p| p.line());
                        csv_error(path, e, at)
                    })?
                {
                    return Ok(None);
                }
                if record.len() == 1 && record[0].is_empty() {
                    continue;
                }
                let line = record.position().map_or(line, |p| p.line());
                return Ok(Some((record.clone(), line)));
            }
        };
        for _ in 0..opts.skip_rows {
            if next(&mut reader)?.is_none() {
                break;
            }
        }
        let mut first = None;
        let columns = match opts.columns {
            Some(c) => c.to_vec(),
            None => match next(&mut reader)? {
                None => {
                    return Err(DataError::Empty {
                        path: path.to_path_buf(),
                        what: "no header line",
                    });
                }
                Some((r, _)) if opts.header => r.iter().map(str::to_string).collect(),
                Some((r, line)) => {
                    let names = (1..=r.len()).map(|i| i.to_string()).collect();
                    first = Some((r, line));
                    names
                }
            },
        };
        Ok(Self {
            path: path.to_path_buf(),
            columns,
            unreadable: Vec::new(),
            source: Source::Csv { reader, first },
            rows_read: 0,
        })
    }

    /// The column names.
    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Index of a column, or an error naming it, how it is used and the file's columns.
    pub fn column(&self, name: &str, used_as: &str) -> Result<usize, DataError> {
        find_column(&self.path, &self.columns, &self.unreadable, name, used_as)
    }

    /// The columns that cannot be read, with their type.
    pub fn unreadable(&self) -> &[(String, String)] {
        &self.unreadable
    }

    /// Whether the file has a readable column `name`.
    pub fn has(&self, name: &str) -> bool {
        self.columns.iter().any(|c| c == name) && !self.unreadable.iter().any(|(c, _)| c == name)
    }

    /// Up to `max` next rows; `None` at the end. A file with no data row at all is an error.
    pub fn next_chunk(&mut self, max: usize) -> Result<Option<Chunk>, DataError> {
        let mut chunk = Chunk::default();
        let width = self.columns.len();
        match &mut self.source {
            Source::Csv { reader, first } => {
                let mut record = StringRecord::new();
                if let Some((r, line)) = first.take() {
                    chunk.rows.push(r);
                    chunk.lines.push(line);
                }
                while chunk.rows.len() < max.max(1) {
                    let before = reader.position().line();
                    if !reader.read_record(&mut record).map_err(|e| {
                        let at = e.position().map_or(before, |p| p.line());
                        csv_error(&self.path, e, at)
                    })? {
                        break;
                    }
                    if record.len() == 1 && record[0].is_empty() {
                        continue;
                    }
                    let line = record.position().map_or(before, |p| p.line());
                    if record.len() != width {
                        return Err(DataError::Ragged {
                            path: self.path.clone(),
                            line,
                            got: record.len(),
                            expected: width,
                        });
                    }
                    chunk.rows.push(record.clone());
                    chunk.lines.push(line);
                }
            }
            Source::Parquet { rows, skip } => {
                // Parquet batches come at the size the file was opened with.
                while let Some(mut c) = rows.next_batch()? {
                    let cut = (*skip).min(c.rows.len());
                    *skip -= cut;
                    c.rows.drain(..cut);
                    c.lines.drain(..cut);
                    if !c.rows.is_empty() {
                        chunk = c;
                        break;
                    }
                }
            }
        }
        if chunk.rows.is_empty() {
            if self.rows_read == 0 {
                return Err(DataError::Empty {
                    path: self.path.clone(),
                    what: "no data rows",
                });
            }
            return Ok(None);
        }
        self.rows_read += chunk.rows.len() as u64;
        Ok(Some(chunk))
    }
}

/// `[data].columns` (or `--columns`) for a Parquet file: its columns renamed positionally.
pub(crate) fn rename(
    path: &Path,
    columns: &mut [String],
    unreadable: &mut [(String, String)],
    names: &[String],
) -> Result<(), DataError> {
    if names.len() != columns.len() {
        return Err(DataError::Schema(format!(
            "{}: the Parquet file has {} columns ({}), [data].columns names {}",
            path.display(),
            columns.len(),
            columns.join(", "),
            names.len()
        )));
    }
    for (old, new) in columns.iter_mut().zip(names) {
        for u in unreadable.iter_mut().filter(|u| u.0 == *old) {
            u.0 = new.clone();
        }
        *old = new.clone();
    }
    Ok(())
}
