//! Reading a delimited text file (optionally gzip-compressed) or a Parquet file into a table of
//! string cells.

use crate::error::DataError;
use crate::source::{csv_error, find_column};
use flate2::read::MultiGzDecoder;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

/// A table of trimmed string cells, with the source line of every row for error messages.
#[derive(Debug, Clone)]
pub struct Table {
    /// Where the rows came from.
    pub path: PathBuf,
    /// Column names.
    pub columns: Vec<String>,
    /// Rows, each with one cell per column.
    pub rows: Vec<csv::StringRecord>,
    /// 1-based line number of each row in the file (a Parquet file: its row number).
    pub lines: Vec<u64>,
    /// Columns of a Parquet file whose type cannot be read, with the type: usable only by not
    /// being used ([`Table::column`] names the type).
    pub unreadable: Vec<(String, String)>,
}

/// Rows decoded at once when a whole Parquet file is read.
const PARQUET_BATCH: usize = 65_536;

pub use crate::source::{Chunk, ReadOptions, did_you_mean};

impl Table {
    /// Reads `path`: a Parquet file (`.parquet`, see [`crate::parquet`]) or a delimited text
    /// file (decompressing `*.gz`). Blank lines are skipped; a row with the wrong number of
    /// fields, invalid UTF-8 or bad quoting is an error naming the line.
    pub fn read(path: &Path, opts: &ReadOptions<'_>) -> Result<Table, DataError> {
        if crate::parquet::is_parquet(path) {
            let mut stream = crate::stream::RowStream::open(path, opts, PARQUET_BATCH)?;
            let (mut rows, mut lines) = (Vec::new(), Vec::new());
            while let Some(chunk) = stream.next_chunk(PARQUET_BATCH)? {
                rows.extend(chunk.rows);
                lines.extend(chunk.lines);
            }
            return Ok(Table {
                path: path.to_path_buf(),
                columns: stream.columns().to_vec(),
                rows,
                lines,
                unreadable: stream.unreadable().to_vec(),
            });
        }
        let io = |source| DataError::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = File::open(path).map_err(io)?;
        let mut bytes = Vec::new();
        if path.extension().is_some_and(|e| e == "gz") {
            MultiGzDecoder::new(BufReader::new(file)).read_to_end(&mut bytes)
        } else {
            BufReader::new(file).read_to_end(&mut bytes)
        }
        .map_err(io)?;
        let lines_at = LineIndex::new(&bytes);
        let mut csv = csv::ReaderBuilder::new()
            .delimiter(opts.delimiter)
            .has_headers(false)
            .flexible(true)
            .trim(csv::Trim::All)
            .from_reader(bytes.as_slice());

        let mut columns: Option<Vec<String>> = opts.columns.map(|c| c.to_vec());
        let mut rows = Vec::new();
        let mut lines = Vec::new();
        let mut skipped = 0usize;
        let mut record = csv::StringRecord::new();
        loop {
            let more = csv.read_record(&mut record).map_err(|e| {
                let line = e.position().map_or(0, |p| lines_at.line(p.byte()));
                csv_error(path, e, line)
            })?;
            if !more {
                break;
            }
            let line = record.position().map_or(0, |p| lines_at.line(p.byte()));
            if skipped < opts.skip_rows {
                skipped += 1;
                continue;
            }
            if record.len() == 1 && record[0].is_empty() {
                continue; // blank line
            }
            match &columns {
                None if opts.header => {
                    columns = Some(record.iter().map(str::to_string).collect());
                }
                None => {
                    columns = Some((1..=record.len()).map(|i| i.to_string()).collect());
                    rows.push(record.clone());
                    lines.push(line);
                }
                Some(cols) => {
                    if record.len() != cols.len() {
                        return Err(DataError::Ragged {
                            path: path.to_path_buf(),
                            line,
                            got: record.len(),
                            expected: cols.len(),
                        });
                    }
                    rows.push(record.clone());
                    lines.push(line);
                }
            }
        }
        let columns = columns.ok_or(DataError::Empty {
            path: path.to_path_buf(),
            what: "no header line",
        })?;
        if rows.is_empty() {
            return Err(DataError::Empty {
                path: path.to_path_buf(),
                what: "no data rows",
            });
        }
        Ok(Table {
            path: path.to_path_buf(),
            columns,
            rows,
            lines,
            unreadable: Vec::new(),
        })
    }

    /// All cells as numbers, row-major `[rows, columns]`; a cell that is not a finite number is
    /// an error naming its line and column.
    pub fn numeric(&self) -> Result<Vec<f64>, DataError> {
        let mut out = Vec::with_capacity(self.rows.len() * self.columns.len());
        for (r, row) in self.rows.iter().enumerate() {
            for (c, cell) in row.iter().enumerate() {
                match cell.parse::<f64>() {
                    Ok(v) if v.is_finite() => out.push(v),
                    _ => {
                        return Err(DataError::NotNumeric {
                            path: self.path.clone(),
                            line: self.lines[r],
                            column: self.columns[c].clone(),
                            value: cell.to_string(),
                        });
                    }
                }
            }
        }
        Ok(out)
    }

    /// Index of a column, or an error naming it and how it is used.
    pub fn column(&self, name: &str, used_as: &str) -> Result<usize, DataError> {
        find_column(&self.path, &self.columns, &self.unreadable, name, used_as)
    }
}

/// Maps byte offsets to 1-based line numbers. The csv crate reports a record as starting at the
/// blank lines before it; this skips them so the line is the record's own.
struct LineIndex<'a> {
    bytes: &'a [u8],
    newlines: Vec<usize>,
}

impl<'a> LineIndex<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        let newlines = (0..bytes.len()).filter(|&i| bytes[i] == b'\n').collect();
        Self { bytes, newlines }
    }

    fn line(&self, byte: u64) -> u64 {
        let mut b = byte as usize;
        while b < self.bytes.len() && matches!(self.bytes[b], b'\n' | b'\r') {
            b += 1;
        }
        self.newlines.partition_point(|&nl| nl < b) as u64 + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn write(dir: &tempfile::TempDir, name: &str, body: &[u8]) -> PathBuf {
        let p = dir.path().join(name);
        std::fs::File::create(&p).unwrap().write_all(body).unwrap();
        p
    }

    fn opts() -> ReadOptions<'static> {
        ReadOptions::default()
    }

    #[test]
    fn headerless_numeric_matrix() {
        let d = tempfile::tempdir().unwrap();
        let headerless = ReadOptions {
            header: false,
            ..opts()
        };
        let t = Table::read(&write(&d, "m.csv", b"1,2\n3,4.5\n"), &headerless).unwrap();
        assert_eq!(t.numeric().unwrap(), vec![1.0, 2.0, 3.0, 4.5]);
        let t = Table::read(&write(&d, "bad.csv", b"1,2\n3,nan\n"), &headerless).unwrap();
        let e = t.numeric().unwrap_err().to_string();
        assert!(e.contains("line 2") && e.contains("column `2`"), "{e}");
    }

    #[test]
    fn reads_header_trims_and_skips_blank_lines() {
        let d = tempfile::tempdir().unwrap();
        let p = write(&d, "a.csv", b"a, b\n1, x\n\n2 ,y\n");
        let t = Table::read(&p, &opts()).unwrap();
        assert_eq!(t.columns, vec!["a", "b"]);
        assert_eq!(t.rows.len(), 2);
        assert_eq!(&t.rows[1][0], "2");
        assert_eq!(t.lines, vec![2, 4]);
    }

    #[test]
    fn reads_gzip() {
        let d = tempfile::tempdir().unwrap();
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(b"junk line\n1,2\n").unwrap();
        let p = write(&d, "a.csv.gz", &enc.finish().unwrap());
        let cols = vec!["u".to_string(), "v".to_string()];
        let t = Table::read(
            &p,
            &ReadOptions {
                skip_rows: 1,
                columns: Some(&cols),
                ..opts()
            },
        )
        .unwrap();
        assert_eq!(t.rows.len(), 1);
        assert_eq!(&t.rows[0][1], "2");
    }

    #[test]
    fn errors_name_the_line() {
        let d = tempfile::tempdir().unwrap();
        let p = write(&d, "r.csv", b"a,b\n1,2\n3\n");
        let e = Table::read(&p, &opts()).unwrap_err().to_string();
        assert!(e.contains("line 3") && e.contains("1 fields"), "{e}");

        let p = write(&d, "u.csv", b"a,b\n1,\xff\xfe\n");
        let e = Table::read(&p, &opts()).unwrap_err().to_string();
        assert!(e.contains("line 2") && e.contains("UTF-8"), "{e}");

        let p = write(&d, "h.csv", b"a,b\n");
        let e = Table::read(&p, &opts()).unwrap_err().to_string();
        assert!(e.contains("no data rows"), "{e}");

        let p = write(&d, "e.csv", b"");
        let e = Table::read(&p, &opts()).unwrap_err().to_string();
        assert!(e.contains("no header"), "{e}");

        let e = Table::read(&d.path().join("nope.csv"), &opts())
            .unwrap_err()
            .to_string();
        assert!(e.contains("nope.csv"), "{e}");
    }
}
