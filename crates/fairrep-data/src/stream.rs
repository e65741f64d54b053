//! Reading a CSV, CSV.gz or Parquet file a chunk of rows at a time, in constant memory: the
//! input of `fairrep encode` and `fairrep predict`.

use crate::error::DataError;
use crate::parquet::{Cell, ParquetRows, is_parquet};
pub use crate::source::Chunk;
use crate::source::{ReadOptions, csv_error, find_column};
use csv::StringRecord;
use flate2::read::MultiGzDecoder;
use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// The line numbers of a file read as a stream: the reader records where each newline is;
/// [`Lines::line`] gives the line of a byte offset, offsets asked in increasing order (the
/// csv reader's own line count dates a record after blank lines at the first blank line).
#[derive(Clone, Default)]
struct Lines(Arc<Mutex<LineEnds>>);

/// The line ends read and not yet passed (`\n`, and `\r`: `true` for `\n`), and the newlines
/// before the last offset asked.
#[derive(Default)]
struct LineEnds {
    ahead: VecDeque<(u64, bool)>,
    passed: u64,
}

impl Lines {
    /// The 1-based line of the record at byte `at` (not before any offset asked earlier): the
    /// line ends right at `at` (the blank lines the record's position includes) are skipped,
    /// as [`crate::table::Table::read`] skips them.
    fn line(&self, at: u64) -> u64 {
        let mut ends = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let mut at = at;
        while let Some(&(end, newline)) = ends.ahead.front() {
            if end > at {
                break;
            }
            if end == at {
                at += 1;
            }
            ends.ahead.pop_front();
            ends.passed += u64::from(newline);
        }
        ends.passed + 1
    }
}

/// A reader that notes the offset of every newline it passes on into `lines`.
struct Counting<R> {
    inner: R,
    at: u64,
    lines: Lines,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let mut ends = self.lines.0.lock().unwrap_or_else(|e| e.into_inner());
        ends.ahead.extend(
            buf[..n]
                .iter()
                .enumerate()
                .filter(|(_, b)| matches!(**b, b'\n' | b'\r'))
                .map(|(i, b)| (self.at + i as u64, *b == b'\n')),
        );
        self.at += n as u64;
        Ok(n)
    }
}

enum Source {
    Csv {
        reader: Box<csv::Reader<Box<dyn Read>>>,
        lines: Lines,
        /// A first data row read while naming the columns of a file without a header.
        first: Option<(StringRecord, u64)>,
    },
    Parquet {
        rows: Box<ParquetRows>,
        /// Rows still to skip at the top (`skip_rows`).
        skip: usize,
    },
}

/// The bytes of values a Parquet record batch is sized for ([`RowStream::open_sized`]): at least
/// 8 MiB, the rows rounded up to a power of two (4,096 rows of 768 floats, 12 MiB: in one series
/// of runs of a 200,000 × 768 streamed epoch, 2.45 s against 3.05 at 2,048 rows, 4.2–4.3 at 8,192
/// and 4.2–4.7 at 16,384).
pub const BATCH_BYTES: usize = 8 << 20;

/// A file's rows, read on demand.
pub struct RowStream {
    path: PathBuf,
    columns: Vec<String>,
    unreadable: Vec<(String, String)>,
    source: Source,
    rows_read: u64,
}

impl RowStream {
    /// Opens `path` to be read `chunk_rows` rows at a time, or, for a Parquet file, in record
    /// batches of about [`BATCH_BYTES`] of values (`chunk_rows` at most, 1,024 at least): a
    /// batch of a wide table (an embedding's 768 floats a row) is then small enough for the
    /// allocator to reuse its memory for the next one, instead of having fresh pages faulted in
    /// (65,536 rows × 768 floats is 201 MB a batch).
    pub fn open_sized(
        path: &Path,
        opts: &ReadOptions<'_>,
        chunk_rows: usize,
    ) -> Result<Self, DataError> {
        if !is_parquet(path) {
            return Self::open(path, opts, chunk_rows);
        }
        let width = Self::open(path, opts, 1)?.columns.len().max(1);
        // A power of two: batches then tile the row groups writers usually make.
        let rows = (BATCH_BYTES / (4 * width)).next_power_of_two();
        Self::open(
            path,
            opts,
            rows.clamp(1_024, chunk_rows.max(1_024))
                .min(chunk_rows.max(1)),
        )
    }

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
        let lines = Lines::default();
        let raw: Box<dyn Read> = if path.extension().is_some_and(|e| e == "gz") {
            Box::new(Counting {
                inner: MultiGzDecoder::new(BufReader::new(file)),
                at: 0,
                lines: lines.clone(),
            })
        } else {
            Box::new(Counting {
                inner: BufReader::new(file),
                at: 0,
                lines: lines.clone(),
            })
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
                let line = record.position().map_or(line, |p| lines.line(p.byte()));
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
            source: Source::Csv {
                reader,
                first,
                lines,
            },
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
            Source::Csv {
                reader,
                first,
                lines,
            } => {
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
                    let line = record.position().map_or(before, |p| lines.line(p.byte()));
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

impl RowStream {
    /// The next rows (up to `max` of a CSV file; a record batch of a Parquet file) cell by
    /// cell, column by column (`push(column, row in the chunk, cell)`), with their lines; `None`
    /// at the end. The cells are those of [`RowStream::next_chunk`], except that a Parquet
    /// number is given as a number ([`Cell::Number`]) rather than its text.
    pub fn next_cells(
        &mut self,
        max: usize,
        push: &mut dyn FnMut(usize, usize, Cell<'_>),
    ) -> Result<Option<Vec<u64>>, DataError> {
        self.next_cells_or_vectors(max, push, None)
    }

    /// The columns [`RowStream::next_cells_or_vectors`] gives whole: a Parquet file's vector
    /// columns (the table column of element 0, the width) when it is read from its first row;
    /// none otherwise.
    pub fn vector_columns(&self) -> Vec<(usize, usize)> {
        match &self.source {
            Source::Parquet { rows, skip: 0 } => rows.vector_columns(),
            _ => Vec::new(),
        }
    }

    /// [`RowStream::next_cells`]; with `vectors`, each vector column that
    /// [`RowStream::vector_columns`] names given whole ([`ParquetRows::next_cells_or_vectors`]).
    pub fn next_cells_or_vectors(
        &mut self,
        max: usize,
        push: &mut dyn FnMut(usize, usize, Cell<'_>),
        vectors: Option<crate::parquet::GiveVectors<'_>>,
    ) -> Result<Option<Vec<u64>>, DataError> {
        if let Source::Parquet { rows, skip: 0 } = &mut self.source
            && let Some(give) = vectors
        {
            let Some(lines) = rows.next_cells_or_vectors(push, Some(give))? else {
                if self.rows_read == 0 {
                    return Err(DataError::Empty {
                        path: self.path.clone(),
                        what: "no data rows",
                    });
                }
                return Ok(None);
            };
            self.rows_read += lines.len() as u64;
            return Ok(Some(lines));
        }
        if let Source::Parquet { rows, skip } = &mut self.source {
            loop {
                let skipping = *skip;
                let lines = rows.next_cells(&mut |c, r, cell| {
                    if r >= skipping {
                        push(c, r - skipping, cell);
                    }
                })?;
                let Some(mut lines) = lines else {
                    if self.rows_read == 0 {
                        return Err(DataError::Empty {
                            path: self.path.clone(),
                            what: "no data rows",
                        });
                    }
                    return Ok(None);
                };
                let cut = skipping.min(lines.len());
                *skip -= cut;
                lines.drain(..cut);
                if !lines.is_empty() {
                    self.rows_read += lines.len() as u64;
                    return Ok(Some(lines));
                }
            }
        }
        let Some(chunk) = self.next_chunk(max)? else {
            return Ok(None);
        };
        for c in 0..self.columns.len() {
            for (r, row) in chunk.rows.iter().enumerate() {
                push(c, r, Cell::Text(&row[c]));
            }
        }
        Ok(Some(chunk.lines))
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
