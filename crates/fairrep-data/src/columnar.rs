//! A training file held as typed columns ([`ColumnTable`]): a column whose every cell is a
//! number (whose text is exactly the number's shortest form, `39` or `0.5`) or the null token is
//! kept as f64 values, any other as category codes into its distinct texts. The file is read
//! a chunk of rows at a time ([`crate::stream::RowStream`], the reader of `fairrep encode`), so
//! no `String` per cell is ever held: a 2,000,000 × 16 numeric CSV takes 256 MiB instead of the
//! gigabyte of string records it took. Every cell reads back as the exact text of the file
//! ([`ColumnTable::cell`]), so what is fitted and encoded from it is what the text gave.

use crate::columns::TypedColumn;
use crate::error::DataError;
use crate::parquet::Cell;
use crate::source::{ReadOptions, find_column};
use csv::StringRecord;
use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt::Write;
use std::path::{Path, PathBuf};

/// Rows read at a time.
const CHUNK_ROWS: usize = 65_536;

/// Rows per block of a column. A table is held in blocks: reading never copies a whole column
/// to grow it, and the splits are encoded in file order, a block's feature values freed once its
/// rows are encoded ([`ColumnTable::release`]), so that the table and the encoded splits are not
/// held whole at the same time.
pub const BLOCK_ROWS: usize = 65_536;

/// A column's values in blocks of [`BLOCK_ROWS`] rows (the last may be shorter; a released
/// block is empty).
#[derive(Debug, Clone, PartialEq)]
enum Blocks {
    /// Numbers; NaN: the null token.
    Numbers(Vec<Vec<f64>>),
    /// Codes into `levels` (32 bits: a column cannot hold 2³² distinct texts in memory).
    Codes {
        blocks: Vec<Vec<u32>>,
        levels: Vec<String>,
    },
}

/// Appends `v` to the last block, or to a new one when it is full.
fn push_block<T>(blocks: &mut Vec<Vec<T>>, v: T) {
    match blocks.last_mut() {
        Some(b) if b.len() < BLOCK_ROWS => b.push(v),
        _ => {
            // The first block grows as a vector does (a small table stays small).
            let mut b = Vec::with_capacity(if blocks.is_empty() { 0 } else { BLOCK_ROWS });
            b.push(v);
            blocks.push(b);
        }
    }
}

/// A table of typed columns, with the source line of every row for error messages.
#[derive(Debug, Clone)]
pub struct ColumnTable {
    /// Where the rows came from: the file, or the pattern or directory of its shards.
    pub path: PathBuf,
    /// Each file read and the index of its first row (one entry for a single file).
    pub sources: Vec<(PathBuf, usize)>,
    /// Column names.
    pub columns: Vec<String>,
    /// One typed column per name, in blocks ([`ColumnTable::values`] for a column whole).
    data: Vec<Blocks>,
    /// 1-based line number of each row in the file (a Parquet file: its row number).
    pub lines: Vec<u64>,
    /// Columns of a Parquet file whose type cannot be read, with the type.
    pub unreadable: Vec<(String, String)>,
    /// The text of a missing number (NaN) or a negative code: the first missing-value token.
    null: String,
    /// Columns not read (the run does not use them): empty, their cells read as `""`.
    skipped: Vec<bool>,
}

/// One column being read, in blocks of [`BLOCK_ROWS`] rows.
enum Builder {
    /// Every cell so far a number written in its shortest form, or the null token (NaN).
    Numbers(Vec<Vec<f64>>),
    /// Codes into the distinct texts.
    Codes {
        codes: Vec<Vec<u32>>,
        levels: Vec<String>,
        index: HashMap<String, u32>,
    },
}

impl Builder {
    /// `by_value`: the column is read for its numbers only ([`ColumnUse::Value`]), so any text of
    /// a finite number is kept as the number.
    fn push(&mut self, cell: &str, null: Option<&str>, by_value: bool, buf: &mut String) {
        if let Builder::Numbers(values) = self {
            if Some(cell) == null {
                push_block(values, f64::NAN);
                return;
            }
            if let Ok(v) = cell.parse::<f64>()
                && v.is_finite()
            {
                if by_value {
                    push_block(values, v);
                    return;
                }
                buf.clear();
                let _ = write!(buf, "{v}");
                if buf == cell {
                    push_block(values, v);
                    return;
                }
            }
            // Text, or a number written otherwise (`1.50`, `1e3`) in a column read as text: the
            // column becomes codes, its numbers written back as the text they were read from
            // (by value: as their shortest form, which parses to the same number).
            let mut codes = Builder::Codes {
                codes: Vec::with_capacity(values.len()),
                levels: Vec::new(),
                index: HashMap::new(),
            };
            for v in values.iter().flatten() {
                let text = if v.is_nan() {
                    null.unwrap_or_default().to_string()
                } else {
                    v.to_string()
                };
                codes.intern(&text);
            }
            *self = codes;
        }
        self.intern(cell);
    }

    /// A finite number whose text is its shortest form.
    fn push_number(&mut self, v: f64) {
        match self {
            Builder::Numbers(values) => push_block(values, v),
            codes => codes.intern(&v.to_string()),
        }
    }

    fn intern(&mut self, cell: &str) {
        if let Builder::Codes {
            codes,
            levels,
            index,
        } = self
        {
            let code = match index.get(cell) {
                Some(&c) => c,
                None => {
                    levels.push(cell.to_string());
                    let code = (levels.len() - 1) as u32;
                    index.insert(cell.to_string(), code);
                    code
                }
            };
            push_block(codes, code);
        }
    }

    fn finish(self) -> Blocks {
        match self {
            Builder::Numbers(v) => Blocks::Numbers(v),
            Builder::Codes { codes, levels, .. } => Blocks::Codes {
                blocks: codes,
                levels,
            },
        }
    }
}

/// How a column is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnUse {
    /// Not read: the run does not use it (its cells read as `""`).
    Skip,
    /// Read for its text (a category, a group, a task's label): a column of numbers is kept as
    /// numbers only when each cell's text is the number's shortest form, so that every cell
    /// reads back as the file's text.
    Text,
    /// Read for its numbers only (a numeric feature): every cell that is a finite number is
    /// kept as that number whatever its text (`1.0`, `-8e-05`); [`ColumnTable::cell`] gives the
    /// number's shortest form. A cell that is neither a number nor the null token makes the
    /// column codes, as [`ColumnUse::Text`] does, so that it is reported as the file has it.
    Value,
}

/// Typed columns built from rows of text.
struct Columns {
    builders: Vec<Builder>,
    /// How each column is read.
    uses: Vec<ColumnUse>,
    /// Whether each column is read.
    read: Vec<bool>,
    lines: Vec<u64>,
    /// The token read as a missing number (NaN), if any.
    null: Option<String>,
    buf: String,
}

impl Columns {
    fn new(uses: Vec<ColumnUse>, null: Option<&str>) -> Self {
        Columns {
            builders: uses.iter().map(|_| Builder::Numbers(Vec::new())).collect(),
            read: uses.iter().map(|u| *u != ColumnUse::Skip).collect(),
            uses,
            lines: Vec::new(),
            null: null.map(str::to_string),
            buf: String::new(),
        }
    }

    /// Room for `rows` values in each number column read (a window's size is known: its
    /// columns need not grow as vectors do).
    fn reserve(&mut self, rows: usize) {
        for (b, &read) in self.builders.iter_mut().zip(&self.read) {
            if let (Builder::Numbers(blocks), true) = (b, read) {
                blocks.push(Vec::with_capacity(rows));
            }
        }
    }

    /// A cell of column `c` (its rows in order).
    fn push_cell(&mut self, c: usize, cell: Cell<'_>) {
        if self.read[c] {
            match cell {
                Cell::Text(text) => self.builders[c].push(
                    text,
                    self.null.as_deref(),
                    self.uses[c] == ColumnUse::Value,
                    &mut self.buf,
                ),
                Cell::Number(v) => self.builders[c].push_number(v),
            }
        }
    }

    fn push(&mut self, row: &StringRecord, line: u64) {
        for ((b, cell), &using) in self.builders.iter_mut().zip(row).zip(&self.uses) {
            if using != ColumnUse::Skip {
                let by_value = using == ColumnUse::Value;
                b.push(cell, self.null.as_deref(), by_value, &mut self.buf);
            }
        }
        self.lines.push(line);
    }
}

/// A table built from rows of other tables with the same columns (the rows a streamed run
/// holds: its fitting sample, validation and test rows), each cell kept as reading it gave it.
pub(crate) struct Gathered {
    path: PathBuf,
    columns: Vec<String>,
    unreadable: Vec<(String, String)>,
    cols: Columns,
    sources: Vec<(PathBuf, usize)>,
}

impl Gathered {
    /// An empty table with `like`'s columns, each read as `uses` says.
    pub(crate) fn new(name: &Path, like: &ColumnTable, uses: &[ColumnUse]) -> Self {
        let nan = (!like.null.is_empty()).then_some(like.null.as_str());
        Gathered {
            path: name.to_path_buf(),
            columns: like.columns.clone(),
            unreadable: like.unreadable.clone(),
            cols: Columns::new(uses.to_vec(), nan),
            sources: Vec::new(),
        }
    }

    /// Appends row `r` of `t` (a table with the same columns).
    pub(crate) fn push(&mut self, t: &ColumnTable, r: usize) {
        let (path, line) = t.origin(r);
        if self.sources.last().is_none_or(|(p, _)| p != path) {
            self.sources
                .push((path.to_path_buf(), self.cols.lines.len()));
        }
        for c in 0..t.columns.len() {
            if t.skipped[c] {
                continue;
            }
            match t.number(r, c) {
                Some(v) if v.is_finite() => self.cols.push_cell(c, Cell::Number(v)),
                _ => self.cols.push_cell(c, Cell::Text(&t.cell(r, c))),
            }
        }
        self.cols.lines.push(line);
    }

    /// The table.
    pub(crate) fn finish(self) -> ColumnTable {
        let mut t = ColumnTable::finish(&self.path, self.columns, self.unreadable, self.cols);
        if !self.sources.is_empty() {
            t.sources = self.sources;
        }
        t
    }
}

impl ColumnTable {
    /// Reads `path` (CSV, CSV.gz or Parquet, as [`crate::table::Table::read`] reads it: the
    /// same columns, rows, lines and errors) a chunk of rows at a time into typed columns.
    /// `nan`: the token that a number column may hold as a missing value (NaN), normally the
    /// first missing-value token; `None` keeps every such column as text. `used` says how each
    /// column is read ([`ColumnUse`]; those skipped keep their names and read as empty cells).
    pub fn read(
        path: &Path,
        opts: &ReadOptions<'_>,
        nan: Option<&str>,
        used: &dyn Fn(&str) -> ColumnUse,
    ) -> Result<ColumnTable, DataError> {
        Self::read_shards(path, &[path.to_path_buf()], opts, nan, used)
    }

    /// Reads the files `shards` one after the other into one table (`name`: their pattern or
    /// directory, for messages about the whole table). Every shard must have the first one's
    /// columns, in its order; a row's errors name its own file and line ([`Self::origin`]).
    pub fn read_shards(
        name: &Path,
        shards: &[PathBuf],
        opts: &ReadOptions<'_>,
        nan: Option<&str>,
        used: &dyn Fn(&str) -> ColumnUse,
    ) -> Result<ColumnTable, DataError> {
        // The first shard's columns and unreadable columns, and the typed columns being built.
        type Reading = (Vec<String>, Vec<(String, String)>, Columns);
        let mut table: Option<Reading> = None;
        let mut sources = Vec::with_capacity(shards.len());
        for path in shards {
            let mut stream = crate::stream::RowStream::open_sized(path, opts, CHUNK_ROWS)?;
            let (columns, _, cols) = table.get_or_insert_with(|| {
                let uses = stream.columns().iter().map(|c| used(c)).collect();
                (
                    stream.columns().to_vec(),
                    stream.unreadable().to_vec(),
                    Columns::new(uses, nan),
                )
            });
            if stream.columns() != columns.as_slice() {
                return Err(DataError::Schema(format!(
                    "{}: columns {} differ from those of the first shard {} ({})",
                    path.display(),
                    stream.columns().join(", "),
                    shards[0].display(),
                    columns.join(", ")
                )));
            }
            sources.push((path.clone(), cols.lines.len()));
            while let Some(lines) =
                stream.next_cells(CHUNK_ROWS, &mut |c, _, cell| cols.push_cell(c, cell))?
            {
                cols.lines.extend(lines);
            }
        }
        let (columns, unreadable, cols) = table
            .ok_or_else(|| DataError::Schema(format!("{}: no file to read", name.display())))?;
        let mut t = Self::finish(name, columns, unreadable, cols);
        t.sources = sources;
        Ok(t)
    }

    /// The next rows of `stream` (up to `max` of a CSV file, a record batch of a Parquet file)
    /// as a table of their own, each column read as `uses` says (one per column of the
    /// stream); `None` at the stream's end.
    ///
    /// With `vectors`, a Parquet file's vector columns are given to it whole
    /// ([`crate::stream::RowStream::next_cells_or_vectors`]), not as cells (`uses` should skip
    /// them then).
    pub(crate) fn next_window(
        stream: &mut crate::stream::RowStream,
        max: usize,
        nan: Option<&str>,
        uses: &[ColumnUse],
        vectors: Option<crate::parquet::GiveVectors<'_>>,
    ) -> Result<Option<ColumnTable>, DataError> {
        let mut cols = Columns::new(uses.to_vec(), nan);
        cols.reserve(max.min(BLOCK_ROWS));
        let push = &mut |c: usize, _: usize, cell: Cell<'_>| cols.push_cell(c, cell);
        let Some(lines) = stream.next_cells_or_vectors(max, push, vectors)? else {
            return Ok(None);
        };
        cols.lines = lines;
        let (columns, unreadable) = (stream.columns().to_vec(), stream.unreadable().to_vec());
        Ok(Some(Self::finish(stream.path(), columns, unreadable, cols)))
    }

    /// The file and line of row `r`.
    pub fn origin(&self, r: usize) -> (&Path, u64) {
        let k = self.sources.partition_point(|(_, first)| *first <= r);
        let path = (self.sources.get(k.max(1) - 1)).map_or(self.path.as_path(), |(p, _)| p);
        (path, self.lines[r])
    }

    /// Typed columns of rows already read as text (a table with derived columns), each row
    /// freed once read; each column read as `used` says.
    pub fn from_rows(
        path: &Path,
        columns: Vec<String>,
        unreadable: Vec<(String, String)>,
        (rows, lines): (Vec<StringRecord>, &[u64]),
        nan: Option<&str>,
        used: &dyn Fn(&str) -> ColumnUse,
    ) -> ColumnTable {
        let mut cols = Columns::new(columns.iter().map(|c| used(c)).collect(), nan);
        for (row, &line) in rows.into_iter().zip(lines) {
            cols.push(&row, line);
        }
        Self::finish(path, columns, unreadable, cols)
    }

    fn finish(
        path: &Path,
        columns: Vec<String>,
        unreadable: Vec<(String, String)>,
        cols: Columns,
    ) -> ColumnTable {
        ColumnTable {
            path: path.to_path_buf(),
            sources: vec![(path.to_path_buf(), 0)],
            columns,
            skipped: cols.read.iter().map(|r| !r).collect(),
            data: cols.builders.into_iter().map(Builder::finish).collect(),
            lines: cols.lines,
            unreadable,
            null: cols.null.unwrap_or_default(),
        }
    }

    /// Its number of rows.
    pub fn n(&self) -> usize {
        self.lines.len()
    }

    /// The text of row `r`'s cell in column `c`, as the file has it (`""` in a column not
    /// read).
    pub fn cell(&self, r: usize, c: usize) -> Cow<'_, str> {
        if self.skipped[c] {
            return Cow::Borrowed("");
        }
        match (self.number(r, c), self.code(r, c)) {
            (Some(v), _) if v.is_nan() => Cow::Borrowed(&self.null),
            (Some(v), _) => Cow::Owned(v.to_string()),
            (None, Some(code)) => match (usize::try_from(code), self.levels(c)) {
                (Ok(k), Some(levels)) => Cow::Borrowed(levels[k].as_str()),
                _ => Cow::Borrowed(&self.null),
            },
            (None, None) => Cow::Borrowed(""),
        }
    }

    /// Row `r`'s number in column `c`, when the column holds numbers (NaN: missing).
    pub fn number(&self, r: usize, c: usize) -> Option<f64> {
        match &self.data[c] {
            Blocks::Numbers(b) => Some(b[r / BLOCK_ROWS][r % BLOCK_ROWS]),
            Blocks::Codes { .. } => None,
        }
    }

    /// Row `r`'s code in column `c`, when the column holds codes (negative: missing).
    pub fn code(&self, r: usize, c: usize) -> Option<i64> {
        match &self.data[c] {
            Blocks::Codes { blocks, .. } => Some(i64::from(blocks[r / BLOCK_ROWS][r % BLOCK_ROWS])),
            Blocks::Numbers(_) => None,
        }
    }

    /// Whether column `c` holds numbers of which one is NaN (a missing number).
    pub fn has_nan(&self, c: usize) -> bool {
        match &self.data[c] {
            Blocks::Numbers(b) => b.iter().flatten().any(|v| v.is_nan()),
            Blocks::Codes { .. } => false,
        }
    }

    /// The levels of column `c`, when it holds codes.
    pub fn levels(&self, c: usize) -> Option<&[String]> {
        match &self.data[c] {
            Blocks::Codes { levels, .. } => Some(levels),
            Blocks::Numbers(_) => None,
        }
    }

    /// Column `c` whole: numbers borrowed when they are one block, else copied into one column
    /// (for tests and small tables; the run reads blocks and cells).
    pub fn values(&self, c: usize) -> TypedColumn<'_> {
        match &self.data[c] {
            Blocks::Numbers(b) if b.len() == 1 => TypedColumn::Numbers(Cow::Borrowed(&b[0])),
            Blocks::Numbers(b) => TypedColumn::Numbers(Cow::Owned(b.concat())),
            Blocks::Codes { blocks, levels } => TypedColumn::Codes {
                codes: Cow::Owned(blocks.iter().flatten().map(|&c| i64::from(c)).collect()),
                levels: Cow::Borrowed(levels),
            },
        }
    }

    /// Frees block `b` (rows `b · BLOCK_ROWS ..`) of column `c`: its cells must not be read
    /// again (the encoder frees the feature columns' blocks as it encodes them in file order).
    pub fn release(&mut self, c: usize, b: usize) {
        let block = match &mut self.data[c] {
            Blocks::Numbers(v) => v.get_mut(b).map(std::mem::take).map(drop),
            Blocks::Codes { blocks, .. } => blocks.get_mut(b).map(std::mem::take).map(drop),
        };
        debug_assert!(block.is_some() || self.skipped[c] || b == 0);
    }

    /// Index of column `name`, or an error naming it, how it is used and the file's columns.
    pub fn column(&self, name: &str, used_as: &str) -> Result<usize, DataError> {
        find_column(&self.path, &self.columns, &self.unreadable, name, used_as)
    }

    /// Columns `cols` at rows `rows` (in that order): the values copied, the levels borrowed.
    pub fn gather(&self, cols: &[usize], rows: &[usize]) -> Vec<TypedColumn<'_>> {
        let at = |r: usize| (r / BLOCK_ROWS, r % BLOCK_ROWS);
        cols.iter()
            .map(|&c| match &self.data[c] {
                Blocks::Numbers(b) => TypedColumn::Numbers(Cow::Owned(
                    rows.iter()
                        .map(|&r| {
                            let (k, i) = at(r);
                            b[k][i]
                        })
                        .collect(),
                )),
                Blocks::Codes { blocks, levels } => TypedColumn::Codes {
                    codes: Cow::Owned(
                        rows.iter()
                            .map(|&r| {
                                let (k, i) = at(r);
                                i64::from(blocks[k][i])
                            })
                            .collect(),
                    ),
                    levels: Cow::Borrowed(levels),
                },
            })
            .collect()
    }

    /// The bytes its columns hold (values, codes, levels' text, lines): what reading the file
    /// costs in memory.
    pub fn heap_bytes(&self) -> usize {
        let cols: usize = (self.data.iter())
            .map(|c| match c {
                Blocks::Numbers(b) => b.iter().map(|v| v.capacity() * 8).sum::<usize>(),
                Blocks::Codes { blocks, levels } => {
                    blocks.iter().map(|v| v.capacity() * 4).sum::<usize>()
                        + levels.iter().map(|l| l.len() + 24).sum::<usize>()
                }
            })
            .sum();
        cols + self.lines.len() * 8
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::Table;

    /// Every cell reads back as the file's text; numbers in their shortest form are kept as
    /// numbers, other texts (`1.50`, `1e3`, `x`, a second missing token) make the column codes.
    #[test]
    fn cells_read_back_as_the_files_text() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.csv");
        std::fs::write(
            &path,
            "a,b,c,d,e\n1,0.5,x,1.50,?\n\n-2,,y,3,\n39,7,x,1e3,4\n",
        )
        .unwrap();
        let opts = ReadOptions {
            null: "?",
            ..ReadOptions::default()
        };
        let t = ColumnTable::read(&path, &opts, Some("?"), &|_| ColumnUse::Text).unwrap();
        let text = Table::read(&path, &opts).unwrap();
        assert_eq!(t.columns, text.columns);
        assert_eq!(t.lines, text.lines);
        for r in 0..t.n() {
            for c in 0..t.columns.len() {
                assert_eq!(t.cell(r, c), &text.rows[r][c], "row {r} column {c}");
            }
        }
        let kinds: Vec<bool> = (0..t.columns.len())
            .map(|c| matches!(t.values(c), TypedColumn::Numbers(_)))
            .collect();
        // a: numbers; b: an empty cell is not the null token `?`; c: text; d: `1.50`; e: `?`
        // (null) and `` (a second token) and 4.
        assert_eq!(kinds, [true, false, false, false, false]);
        let g = t.gather(&[0, 2], &[2, 0]);
        assert_eq!(g[0].cell(0, "?"), "39");
        assert_eq!(g[1].cell(1, "?"), "x");
        // Columns not used are not read; from rows of text, the same table.
        let some = ColumnTable::read(&path, &opts, Some("?"), &|c| {
            if c == "c" {
                ColumnUse::Skip
            } else {
                ColumnUse::Text
            }
        })
        .unwrap();
        assert!(some.values(2).is_empty() && some.cell(0, 2).is_empty() && some.cell(1, 3) == "3");
        let rows = ColumnTable::from_rows(
            &path,
            text.columns.clone(),
            Vec::new(),
            (text.rows.clone(), &text.lines),
            Some("?"),
            &|_| ColumnUse::Text,
        );
        assert_eq!(rows.data, t.data);
        // Line numbers as the whole-file reader counts them: CRLF, several blank lines, a last
        // line without its newline.
        let crlf = dir.path().join("crlf.csv");
        std::fs::write(&crlf, "a,b\r\n1,x\r\n\r\n\r\n2,y\r\n\n3,z").unwrap();
        let t = ColumnTable::read(&crlf, &opts, Some("?"), &|_| ColumnUse::Text).unwrap();
        assert_eq!(t.lines, Table::read(&crlf, &opts).unwrap().lines);
        assert_eq!(t.lines, [2, 5, 7]);
    }

    /// A column read by value keeps every finite number as a number whatever its text
    /// (`1.0`, `-8e-05`, `0.50`): no code and no level per distinct text; the null token is NaN;
    /// a text that is no number makes it codes, as a text column, each cell then the text of
    /// its number.
    #[test]
    fn a_column_read_by_value_keeps_numbers_whatever_their_text() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.csv");
        std::fs::write(
            &path,
            "a,b,c\n1.0,1.0,1.0\n-8e-05,-8e-05,x\n0.50,0.50,?\n?,?,2\n",
        )
        .unwrap();
        let opts = ReadOptions {
            null: "?",
            ..ReadOptions::default()
        };
        let uses = |c: &str| match c {
            "a" => ColumnUse::Text,
            _ => ColumnUse::Value,
        };
        let t = ColumnTable::read(&path, &opts, Some("?"), &uses).unwrap();
        assert!(matches!(t.values(0), TypedColumn::Codes { .. }));
        match t.values(1) {
            TypedColumn::Numbers(v) => {
                assert_eq!(&v[..3], [1.0, -8e-5, 0.5]);
                assert!(v[3].is_nan());
            }
            other => panic!("{other:?}"),
        }
        let cells: Vec<_> = (0..4).map(|r| t.cell(r, 2).into_owned()).collect();
        assert!(matches!(t.values(2), TypedColumn::Codes { .. }));
        assert_eq!(cells, ["1", "x", "?", "2"]);
        assert_eq!(t.cell(1, 1), "-0.00008");
    }

    /// Shards are read one after the other into one table; each row knows its file and line;
    /// a shard with other columns is an error naming it and the first shard.
    #[test]
    fn shards_are_one_table_and_their_rows_name_their_file() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b, c) = (
            dir.path().join("a.csv"),
            dir.path().join("b.csv"),
            dir.path().join("c.csv"),
        );
        std::fs::write(&a, "x,y\n1,u\n2,v\n").unwrap();
        std::fs::write(&b, "x,y\n\n3,w\n").unwrap();
        std::fs::write(&c, "x,z\n4,w\n").unwrap();
        let opts = ReadOptions::default();
        let t = ColumnTable::read_shards(dir.path(), &[a.clone(), b.clone()], &opts, None, &|_| {
            ColumnUse::Text
        })
        .unwrap();
        assert_eq!(t.n(), 3);
        assert_eq!((t.cell(2, 0), t.cell(2, 1)), ("3".into(), "w".into()));
        assert_eq!(t.origin(0), (a.as_path(), 2));
        assert_eq!(t.origin(1), (a.as_path(), 3));
        assert_eq!(t.origin(2), (b.as_path(), 3));
        let e = ColumnTable::read_shards(dir.path(), &[a.clone(), c.clone()], &opts, None, &|_| {
            ColumnUse::Text
        })
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("c.csv: columns x, z differ from those of the first shard")
                && e.contains("a.csv"),
            "{e}"
        );
        // shard_paths: a pattern and a directory, sorted; nothing there is an error.
        let pattern = crate::spec::shard_paths(&dir.path().join("[ab].csv")).unwrap();
        assert_eq!(pattern, [a.clone(), b.clone()]);
        assert_eq!(crate::spec::shard_paths(dir.path()).unwrap(), [a, b, c]);
        let none = crate::spec::shard_paths(&dir.path().join("*.parquet")).unwrap_err();
        assert!(none.contains("no data file there"), "{none}");
    }
}
