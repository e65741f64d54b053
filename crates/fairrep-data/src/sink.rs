//! Writing a table a chunk of rows at a time: CSV, CSV.gz, Parquet or NPY, chosen by the
//! file's extension. The file appears under its name only when [`Sink::finish`] succeeds (it is
//! written beside it first), so a failed or killed command never leaves a truncated output.

use crate::error::DataError;
use arrow_array::{ArrayRef, Float32Array, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use flate2::write::GzEncoder;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use std::fs::File;
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The values of one output column for the rows of a chunk; `None` is an empty field (a
/// Parquet null; NaN in an NPY file).
#[derive(Debug, Clone)]
pub enum Values {
    /// Text (kept input columns).
    Text(Vec<Option<String>>),
    /// 32-bit floats (the representation).
    F32(Vec<Option<f32>>),
    /// 64-bit floats (scores).
    F64(Vec<Option<f64>>),
    /// Integers (0/1 predictions).
    Int(Vec<Option<i64>>),
}

impl Values {
    fn len(&self) -> usize {
        match self {
            Values::Text(v) => v.len(),
            Values::F32(v) => v.len(),
            Values::F64(v) => v.len(),
            Values::Int(v) => v.len(),
        }
    }

    fn cell(&self, i: usize) -> String {
        match self {
            Values::Text(v) => v[i].clone().unwrap_or_default(),
            Values::F32(v) => v[i].map(|x| x.to_string()).unwrap_or_default(),
            Values::F64(v) => v[i].map(|x| x.to_string()).unwrap_or_default(),
            Values::Int(v) => v[i].map(|x| x.to_string()).unwrap_or_default(),
        }
    }

    fn arrow(&self) -> (DataType, ArrayRef) {
        match self {
            Values::Text(v) => (
                DataType::Utf8,
                Arc::new(StringArray::from(v.clone())) as ArrayRef,
            ),
            Values::F32(v) => (DataType::Float32, Arc::new(Float32Array::from(v.clone()))),
            Values::F64(v) => (DataType::Float64, Arc::new(Float64Array::from(v.clone()))),
            Values::Int(v) => (DataType::Int64, Arc::new(Int64Array::from(v.clone()))),
        }
    }
}

/// One named output column.
#[derive(Debug, Clone)]
pub struct Column {
    /// Its name (CSV header, Parquet field).
    pub name: String,
    /// Its values for the chunk.
    pub values: Values,
}

/// The output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `.csv`
    Csv,
    /// `.csv.gz`
    CsvGz,
    /// `.parquet` (snappy-compressed)
    Parquet,
    /// `.npy`: a float32 matrix of the F32 columns only (NumPy's format, version 1.0).
    Npy,
}

impl Format {
    /// The format of a path's extension, or an error naming the ones there are.
    pub fn of(path: &Path) -> Result<Format, DataError> {
        let name = path.to_string_lossy().to_ascii_lowercase();
        Ok(if name.ends_with(".csv.gz") {
            Format::CsvGz
        } else if name.ends_with(".csv") {
            Format::Csv
        } else if crate::parquet::is_parquet(path) {
            Format::Parquet
        } else if name.ends_with(".npy") {
            Format::Npy
        } else {
            return Err(DataError::Schema(format!(
                "{}: the output format is chosen by the extension: .csv, .csv.gz, .parquet or .npy",
                path.display()
            )));
        })
    }
}

enum Out {
    Csv(csv::Writer<BufWriter<File>>),
    CsvGz(csv::Writer<GzEncoder<BufWriter<File>>>),
    Parquet(Option<ArrowWriter<File>>),
    Npy {
        file: BufWriter<File>,
        columns: usize,
        rows: u64,
    },
}

/// A table being written (see the module docs).
pub struct Sink {
    path: PathBuf,
    tmp: PathBuf,
    out: Out,
    header_written: bool,
    rows: u64,
}

/// Bytes reserved for an NPY header (rewritten with the row count at the end).
const NPY_HEADER: usize = 128;

fn npy_header(rows: u64, columns: usize) -> Vec<u8> {
    let dict =
        format!("{{'descr': '<f4', 'fortran_order': False, 'shape': ({rows}, {columns}), }}");
    let mut h = b"\x93NUMPY\x01\x00".to_vec();
    let len = NPY_HEADER - 10;
    h.extend((len as u16).to_le_bytes());
    h.extend(dict.as_bytes());
    h.resize(NPY_HEADER - 1, b' ');
    h.push(b'\n');
    h
}

impl Sink {
    /// Creates the output `path` (format by extension; CSV with `delimiter`).
    pub fn create(path: &Path, delimiter: u8) -> Result<Sink, DataError> {
        let format = Format::of(path)?;
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".partial");
        let tmp = PathBuf::from(tmp);
        let io = |source| DataError::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = File::create(&tmp).map_err(io)?;
        fn csv<W: Write>(w: W, delimiter: u8) -> csv::Writer<W> {
            csv::WriterBuilder::new()
                .delimiter(delimiter)
                .from_writer(w)
        }
        let out = match format {
            Format::Csv => Out::Csv(csv(BufWriter::new(file), delimiter)),
            Format::CsvGz => Out::CsvGz(csv(
                GzEncoder::new(BufWriter::new(file), flate2::Compression::default()),
                delimiter,
            )),
            Format::Parquet => Out::Parquet(None),
            Format::Npy => {
                let mut file = BufWriter::new(file);
                file.write_all(&npy_header(0, 0)).map_err(io)?;
                Out::Npy {
                    file,
                    columns: 0,
                    rows: 0,
                }
            }
        };
        // A Parquet writer needs the schema of the first chunk: the file is reopened then.
        Ok(Sink {
            path: path.to_path_buf(),
            tmp,
            out,
            header_written: false,
            rows: 0,
        })
    }

    /// Rows written so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    fn io(&self, e: impl std::fmt::Display) -> DataError {
        DataError::Io {
            path: self.path.clone(),
            source: std::io::Error::other(e.to_string()),
        }
    }

    /// Appends a chunk: the same columns, in the same order, every time.
    pub fn write(&mut self, columns: &[Column]) -> Result<(), DataError> {
        let n = columns.first().map_or(0, |c| c.values.len());
        debug_assert!(columns.iter().all(|c| c.values.len() == n));
        let first = !self.header_written;
        self.header_written = true;
        match &mut self.out {
            Out::Csv(w) => write_csv(w, columns, n, first).map_err(|e| self_io(&self.path, e))?,
            Out::CsvGz(w) => write_csv(w, columns, n, first).map_err(|e| self_io(&self.path, e))?,
            Out::Parquet(writer) => {
                let (fields, arrays): (Vec<Field>, Vec<ArrayRef>) = columns
                    .iter()
                    .map(|c| {
                        let (t, a) = c.values.arrow();
                        (Field::new(&c.name, t, true), a)
                    })
                    .unzip();
                let schema = Arc::new(Schema::new(fields));
                if writer.is_none() {
                    let file = File::create(&self.tmp).map_err(|e| self_io(&self.path, e))?;
                    let props = WriterProperties::builder()
                        .set_compression(Compression::SNAPPY)
                        .build();
                    *writer = Some(
                        ArrowWriter::try_new(file, schema.clone(), Some(props))
                            .map_err(|e| self_io(&self.path, e))?,
                    );
                }
                let batch =
                    RecordBatch::try_new(schema, arrays).map_err(|e| self_io(&self.path, e))?;
                if let Some(w) = writer.as_mut() {
                    w.write(&batch).map_err(|e| self_io(&self.path, e))?;
                }
            }
            Out::Npy {
                file,
                columns: k,
                rows,
            } => {
                let floats: Vec<&Vec<Option<f32>>> = columns
                    .iter()
                    .filter_map(|c| match &c.values {
                        Values::F32(v) => Some(v),
                        _ => None,
                    })
                    .collect();
                *k = floats.len();
                let mut bytes = Vec::with_capacity(n * floats.len() * 4);
                for i in 0..n {
                    for col in &floats {
                        bytes.extend(col[i].unwrap_or(f32::NAN).to_le_bytes());
                    }
                }
                file.write_all(&bytes).map_err(|e| self_io(&self.path, e))?;
                *rows += n as u64;
            }
        }
        self.rows += n as u64;
        Ok(())
    }

    /// Finishes the file and gives it its name.
    pub fn finish(mut self) -> Result<u64, DataError> {
        let path = self.path.clone();
        let err = |e: &dyn std::fmt::Display| self_io(&path, e);
        match std::mem::replace(&mut self.out, Out::Parquet(None)) {
            Out::Csv(w) => {
                w.into_inner()
                    .map_err(|e| err(&e))?
                    .flush()
                    .map_err(|e| err(&e))?;
            }
            Out::CsvGz(w) => {
                w.into_inner()
                    .map_err(|e| err(&e))?
                    .finish()
                    .map_err(|e| err(&e))?
                    .flush()
                    .map_err(|e| err(&e))?;
            }
            Out::Parquet(Some(w)) => {
                w.close().map_err(|e| err(&e))?;
            }
            Out::Parquet(None) => {
                return Err(self.io("no rows to write"));
            }
            Out::Npy {
                mut file,
                columns,
                rows,
            } => {
                file.flush().map_err(|e| err(&e))?;
                let mut f = file.into_inner().map_err(|e| err(&e))?;
                f.seek(SeekFrom::Start(0)).map_err(|e| err(&e))?;
                f.write_all(&npy_header(rows, columns))
                    .map_err(|e| err(&e))?;
            }
        }
        std::fs::rename(&self.tmp, &self.path).map_err(|e| err(&e))?;
        Ok(self.rows)
    }
}

fn self_io(path: &Path, e: impl std::fmt::Display) -> DataError {
    DataError::Io {
        path: path.to_path_buf(),
        source: std::io::Error::other(e.to_string()),
    }
}

fn write_csv<W: Write>(
    w: &mut csv::Writer<W>,
    columns: &[Column],
    n: usize,
    header: bool,
) -> Result<(), csv::Error> {
    if header {
        w.write_record(columns.iter().map(|c| c.name.as_str()))?;
    }
    let mut record = csv::StringRecord::with_capacity(64, columns.len());
    for i in 0..n {
        record.clear();
        for c in columns {
            record.push_field(&c.values.cell(i));
        }
        w.write_record(&record)?;
    }
    Ok(())
}

impl Drop for Sink {
    fn drop(&mut self) {
        // Unfinished (an error on the way): no partial file is left behind.
        let _ = std::fs::remove_file(&self.tmp);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cols(a: f32, b: Option<f64>) -> Vec<Column> {
        vec![
            Column {
                name: "id".into(),
                values: Values::Text(vec![Some("x".into()), None]),
            },
            Column {
                name: "z0".into(),
                values: Values::F32(vec![Some(a), None]),
            },
            Column {
                name: "p".into(),
                values: Values::F64(vec![b, Some(0.25)]),
            },
        ]
    }

    #[test]
    fn csv_and_npy_round_trip() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("o.csv");
        let mut s = Sink::create(&p, b',').unwrap();
        s.write(&cols(1.5, Some(0.5))).unwrap();
        s.write(&cols(2.5, None)).unwrap();
        assert_eq!(s.finish().unwrap(), 4);
        let text = std::fs::read_to_string(&p).unwrap();
        assert_eq!(text, "id,z0,p\nx,1.5,0.5\n,,0.25\nx,2.5,\n,,0.25\n");

        let p = d.path().join("o.npy");
        let mut s = Sink::create(&p, b',').unwrap();
        s.write(&cols(1.5, None)).unwrap();
        s.finish().unwrap();
        let bytes = std::fs::read(&p).unwrap();
        assert_eq!(bytes.len(), NPY_HEADER + 2 * 4);
        let header = String::from_utf8_lossy(&bytes[10..NPY_HEADER]);
        assert!(header.contains("'shape': (2, 1)"), "{header}");
        assert_eq!(f32::from_le_bytes(bytes[128..132].try_into().unwrap()), 1.5);
        assert!(f32::from_le_bytes(bytes[132..136].try_into().unwrap()).is_nan());
    }

    #[test]
    fn parquet_round_trips_through_the_reader() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("o.parquet");
        let mut s = Sink::create(&p, b',').unwrap();
        s.write(&cols(1.5, Some(0.5))).unwrap();
        s.finish().unwrap();
        let t = crate::table::Table::read(
            &p,
            &crate::table::ReadOptions {
                delimiter: b',',
                skip_rows: 0,
                columns: None,
                header: true,
                null: "?",
            },
        )
        .unwrap();
        assert_eq!(t.columns, vec!["id", "z0", "p"]);
        assert_eq!(
            t.rows[0].iter().collect::<Vec<_>>(),
            vec!["x", "1.5", "0.5"]
        );
        assert_eq!(t.rows[1].iter().collect::<Vec<_>>(), vec!["?", "?", "0.25"]);
        assert_eq!(t.lines, vec![1, 2]);
    }

    #[test]
    fn unknown_extension_and_failed_runs_leave_nothing() {
        let d = tempfile::tempdir().unwrap();
        let e = Sink::create(&d.path().join("o.xlsx"), b',').err().unwrap();
        assert!(e.to_string().contains(".parquet"), "{e}");
        let p = d.path().join("o.csv");
        let mut s = Sink::create(&p, b',').unwrap();
        s.write(&cols(1.0, None)).unwrap();
        drop(s);
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 0);
    }
}
