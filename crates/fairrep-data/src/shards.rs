//! Training streamed from shards (`[data.stream]`): the training rows are read from the shards
//! a window at a time, every epoch, instead of being held in memory.
//!
//! - **Held-out rows by a hash.** Each row's key is its shard's file name and its row in the
//!   shard (0-based, every data row counted); a seeded hash of the key gives it a number `u` in
//!   [0, 1): `u < test_fraction` (without a test file) is a test row, the next
//!   `validation_fraction` a validation row, the rest training rows. So the split needs no pass
//!   over the whole table, and a row keeps its split when shards are added, reordered or
//!   renamed in another directory (not when a file is renamed).
//! - **One pass before training** reads every shard once (in name order): it counts the training
//!   rows, applies the missing-value policy (an error names the file and line), and keeps the
//!   validation and test rows and a seeded sample of about `fit_rows` training rows (their `u`
//!   again decides), on which the preprocessing is fitted exactly as the in-memory path fits it
//!   on the whole training split ([`crate::encode`]). That sample is the run's `train` split,
//!   which the evaluation uses.
//! - **Each epoch** reads the shards in a seeded order (the run's seed and the epoch) and cuts
//!   the training rows, in that order, into windows of `shuffle_rows` (the trainer rounds it up
//!   to a multiple of the batch size); the trainer shuffles each window (seeded by epoch and
//!   window) and cuts it into batches. What the shuffle guarantees: every training row once per
//!   epoch; rows within a window in a uniformly random order; the windows' order follows the
//!   shuffled shard order, so rows of different windows never share a batch. A resume restores
//!   the epoch, the window (its shard's position in the order and its first row) and how many of
//!   its batches were done, and reproduces the uninterrupted run's batches.

use crate::columnar::{ColumnTable, ColumnUse, Gathered};
use crate::encode::{Cols, Encoder, Tables, fit_and_encode, keep_rows, prepare_in_memory};
use crate::error::DataError;
use crate::fitted::{Preprocessing, z_score};
use crate::parquet::{RowValues, VectorValues};
use crate::prepared::{Dropped, Prepared, Split, StreamSummary, TrainStream, Window, WindowStart};
use crate::reading::{checked, column_use, nan_token, read_file, read_options, vector_columns};
use crate::spec::{DataSpec, GroupSpec, StreamMode, StreamSpec, TaskSpec};
use crate::stream::RowStream;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use std::collections::HashSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Rows read from a shard at a time: a CSV chunk; a Parquet record batch, fewer for a wide
/// table ([`RowStream::open_sized`]).
const READ_ROWS: usize = 16_384;

/// Reads and encodes the data as `[data]` says: in memory ([`prepare_in_memory`]), or, with
/// `[data.stream]` (`mode = "always"`, or `"auto"` and a training table above `above_mib`),
/// with the training rows streamed (see the module docs).
pub fn prepare(
    spec: &DataSpec,
    tasks: &[TaskSpec],
    base_dir: &Path,
    seed: u64,
) -> Result<Prepared, DataError> {
    let Some(stream) = &spec.stream else {
        return prepare_in_memory(spec, tasks, base_dir, seed);
    };
    let checked = checked(spec, tasks)?;
    let path = crate::spec::expand_path(&checked.train.path).map_err(DataError::Schema)?;
    let full = base_dir.join(path);
    let shards = crate::spec::shard_paths(&full).map_err(DataError::Schema)?;
    if stream.mode == StreamMode::Auto {
        let mib = encoded_mib(&checked, tasks, &shards)?;
        if mib <= stream.above_mib {
            tracing::info!(
                mib = %format!("{mib:.0}"),
                above_mib = stream.above_mib,
                "[data.stream] mode = \"auto\": the training table fits, read in memory"
            );
            return prepare_in_memory(spec, tasks, base_dir, seed);
        }
    }
    prepare_streamed(&checked, tasks, base_dir, seed, stream, shards)
}

/// The training table's encoded size in MiB, at least: rows (a Parquet file's metadata, a CSV
/// file's lines) × the columns the run uses × 4 bytes.
fn encoded_mib(spec: &DataSpec, tasks: &[TaskSpec], shards: &[PathBuf]) -> Result<f64, DataError> {
    let opts = read_options(spec, &spec.train);
    let stream = RowStream::open(&shards[0], &opts, 1)?;
    let used = (stream.columns().iter())
        .filter(|c| column_use(spec, tasks, c) != ColumnUse::Skip)
        .count();
    let mut rows = 0u64;
    for path in shards {
        rows += row_estimate(path)?;
    }
    Ok(rows as f64 * used as f64 * 4.0 / (1024.0 * 1024.0))
}

/// A shard's rows: a Parquet file's from its metadata, a CSV file's lines (a quoted line break
/// counts as a row: an estimate).
fn row_estimate(path: &Path) -> Result<u64, DataError> {
    if crate::parquet::is_parquet(path) {
        return crate::parquet::row_count(path);
    }
    let io = |source| DataError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let mut reader: Box<dyn Read> = if path.extension().is_some_and(|e| e == "gz") {
        Box::new(flate2::read::MultiGzDecoder::new(std::io::BufReader::new(
            file,
        )))
    } else {
        Box::new(file)
    };
    let (mut lines, mut buf) = (0u64, vec![0u8; 1 << 16]);
    loop {
        let n = reader.read(&mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        lines += buf[..n].iter().filter(|&&b| b == b'\n').count() as u64;
    }
    Ok(lines.saturating_sub(1))
}

/// SplitMix64's finaliser: a bijection of 64-bit words whose outputs look independent.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The key of a shard: FNV-1a of its file name (not its directory).
fn shard_key(path: &Path) -> u64 {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
    (name.unwrap_or_default().bytes()).fold(0xCBF2_9CE4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01B3)
    })
}

/// Row `row` of the shard keyed `shard`'s number in [0, 1) for a run seeded with `seed`.
fn unit(seed: u64, shard: u64, row: u64) -> f64 {
    let h = mix(mix(seed ^ 0x5712_EA3D_0000_0001).wrapping_add(shard) ^ mix(row));
    (h >> 11) as f64 / (1u64 << 53) as f64
}

/// Which split a row belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    /// A training row; `true`: in the fitting sample.
    Train(bool),
    /// A validation row.
    Valid,
    /// A test row (without a test file).
    Test,
}

/// How rows are assigned to splits by their number `u`.
#[derive(Debug, Clone, Copy)]
struct Assign {
    seed: u64,
    test: f64,
    valid: f64,
    /// The share of the training rows in the fitting sample.
    fit: f64,
}

impl Assign {
    fn class(&self, shard: u64, row: u64) -> Class {
        let u = unit(self.seed, shard, row);
        if u < self.test {
            return Class::Test;
        }
        if u < self.test + self.valid {
            return Class::Valid;
        }
        let rest = 1.0 - self.test - self.valid;
        Class::Train((u - self.test - self.valid) < self.fit * rest)
    }
}

/// The run's shards, read a window at a time.
#[derive(Debug)]
struct Shards {
    spec: DataSpec,
    tasks: Vec<TaskSpec>,
    preprocessing: Preprocessing,
    groups: Vec<GroupSpec>,
    numeric: Vec<String>,
    shards: Vec<PathBuf>,
    columns: Vec<String>,
    uses: Vec<ColumnUse>,
    /// The vector columns read straight into the matrix (Parquet shards).
    direct: Option<Direct>,
    assign: Assign,
    rows: usize,
    shuffle_rows: usize,
    fit_rows: usize,
}

impl Shards {
    /// The training rows (`train(row in the window)`) of a window that pass the missing-value
    /// policy, encoded (`None`: none); with `vectors` (the direct path) the vector values are
    /// those given, the rest of each row encoded from its cells.
    fn encode_window<'v>(
        &self,
        enc: &Encoder<'_>,
        w: &mut ColumnTable,
        vectors: Option<&'v Vectors>,
        train: &dyn Fn(usize) -> bool,
    ) -> Result<Option<(Vec<usize>, Piece<'v>)>, DataError> {
        let missing: HashSet<&str> = self
            .spec
            .missing_values
            .iter()
            .map(String::as_str)
            .collect();
        let (Some(d), Some(v)) = (self.direct.as_ref(), vectors) else {
            let c = Cols::resolve(w, &self.spec, &self.numeric, &self.tasks)?;
            let rows: Vec<usize> = (keep_rows(w, &c, &self.spec, &missing)?.into_iter())
                .filter(|&r| train(r))
                .collect();
            if rows.is_empty() {
                return Ok(None);
            }
            let split = enc.encode_split(w, &c, &rows)?;
            return Ok(Some((rows, Piece::Rows(split))));
        };
        if let Some((r, column, value)) = &v.bad {
            return Err(DataError::NotNumeric {
                path: w.origin(*r).0.to_path_buf(),
                line: w.origin(*r).1,
                column: column.clone(),
                value: value.to_string(),
            });
        }
        let c = Cols::resolve(w, &self.spec, &d.numeric, &self.tasks)?;
        let mut rows: Vec<usize> = keep_rows(w, &c, &self.spec, &missing)?;
        if let Some(&r) = rows.iter().find(|&&r| v.missing.get(r) == Some(&true)) {
            let null = self.spec.missing_values.first();
            match (self.spec.missing, null) {
                (crate::spec::MissingPolicy::DropRows, Some(_)) => {
                    rows.retain(|&r| v.missing.get(r) != Some(&true));
                }
                (crate::spec::MissingPolicy::Impute, Some(_)) => {}
                (policy, _) => {
                    let (path, line) = w.origin(r);
                    let name = &d.groups[0].name;
                    let value = null.cloned().unwrap_or_default();
                    return Err(match (policy, null) {
                        (crate::spec::MissingPolicy::Error, Some(_)) => DataError::MissingValue {
                            path: path.to_path_buf(),
                            line,
                            column: format!("{name} (a vector)"),
                            value,
                            why: "[data].missing = \"error\"",
                        },
                        _ => DataError::NotNumeric {
                            path: path.to_path_buf(),
                            line,
                            column: format!("{name} (a vector)"),
                            value,
                        },
                    });
                }
            }
        }
        rows.retain(|&r| train(r));
        if rows.is_empty() {
            return Ok(None);
        }
        let scalar = Encoder {
            preprocessing: &d.scalar,
            p: d.scalar.features.len(),
            ..*enc
        };
        let cells = scalar.encode_split(w, &c, &rows)?;
        let piece = Piece::Direct {
            cells,
            vectors: v,
            rows: rows.clone(),
            at: d.at,
            p: enc.p,
        };
        Ok(Some((rows, piece)))
    }

    /// Every window of `shards[k]` in row order: `each(first row, table)`.
    fn read_shard(&self, k: usize, each: EachRead<'_>) -> Result<bool, DataError> {
        let direct = self.direct.as_ref();
        read_shard(
            &self.spec,
            &self.shards,
            k,
            (&self.columns, &self.uses),
            direct,
            each,
        )
    }
}

/// Reads `shards[k]` a window at a time: `each(first row, table, its vectors)`, until it
/// returns `false` (then `Ok(false)`). Its columns must be `columns` (the first shard's), each
/// read as `uses` says; with `direct`, its vector columns are standardised straight into a
/// matrix ([`Direct`]) instead of read as cells.
fn read_shard(
    spec: &DataSpec,
    shards: &[PathBuf],
    k: usize,
    (columns, uses): (&[String], &[ColumnUse]),
    direct: Option<&Direct>,
    each: EachRead<'_>,
) -> Result<bool, DataError> {
    let opts = read_options(spec, &spec.train);
    let mut stream = RowStream::open_sized(&shards[k], &opts, READ_ROWS)?;
    if stream.columns() != columns {
        return Err(DataError::Schema(format!(
            "{}: columns {} differ from those of the first shard {} ({})",
            shards[k].display(),
            stream.columns().join(", "),
            shards[0].display(),
            columns.join(", ")
        )));
    }
    if let Some(d) = direct {
        let given = stream.vector_columns();
        if let Some(g) = (d.groups.iter()).find(|g| !given.contains(&(g.column, g.width))) {
            return Err(DataError::Schema(format!(
                "{}: column `{}` is not a list of {} floats, as in the first shard {}",
                shards[k].display(),
                g.name,
                g.width,
                shards[0].display()
            )));
        }
    }
    let uses = direct.map_or(uses, |d| &d.uses);
    let mut at = 0u64;
    // One buffer for every read of the shard (fresh pages cost more than the values).
    let mut vectors = direct.map(|d| Vectors::new(d.width));
    loop {
        if let Some(v) = vectors.as_mut() {
            v.reset();
        }
        let window = match (direct, vectors.as_mut()) {
            (Some(d), Some(v)) => {
                let give = &mut |col: usize, values: &VectorValues<'_>| v.fill(d, col, values);
                ColumnTable::next_window(&mut stream, READ_ROWS, nan_token(spec), uses, Some(give))?
            }
            _ => ColumnTable::next_window(&mut stream, READ_ROWS, nan_token(spec), uses, None)?,
        };
        let Some(w) = window else {
            return Ok(true);
        };
        let n = w.n() as u64;
        if !each(at, w, vectors.as_ref())? {
            return Ok(false);
        }
        at += n;
    }
}

/// Takes each read of a shard: `(its first row, its table, its vectors)`; `false` stops.
type EachRead<'f> =
    &'f mut dyn FnMut(u64, ColumnTable, Option<&Vectors>) -> Result<bool, DataError>;

/// Encoding a Parquet shard's vector columns straight into the feature matrix: decoded floats
/// standardised as they are read, never held as cells (the rest of the row is read and encoded
/// as always). The same values, bit for bit, as the cell path (tested).
#[derive(Debug)]
struct Direct {
    /// How each column is read: as [`Shards::uses`], the vector columns skipped.
    uses: Vec<ColumnUse>,
    /// The numeric feature columns that are not a vector's.
    numeric: Vec<String>,
    /// The preprocessing without the vectors' encoders (what the cells encode).
    scalar: Preprocessing,
    /// The vector columns.
    groups: Vec<DirectGroup>,
    /// Their total width.
    width: usize,
    /// Where their values go in a row: after this many features of the scalar encoding.
    at: usize,
}

/// One vector column of [`Direct`].
#[derive(Debug)]
struct DirectGroup {
    /// Its name (`[data.features] vectors`).
    name: String,
    /// The table column of its element 0.
    column: usize,
    width: usize,
    /// Its first value's place in a row of [`Vectors`].
    offset: usize,
    /// Each element's mean and standard deviation.
    scales: Vec<(f64, f64)>,
}

impl Direct {
    /// The direct path for `shards`, when every one is Parquet, the first gives every vector of
    /// the run as a list column, and the training file has no lines to skip.
    fn new(
        spec: &DataSpec,
        shards: &[PathBuf],
        (columns, uses): (&[String], &[ColumnUse]),
        numeric: &[String],
        preprocessing: &Preprocessing,
    ) -> Result<Option<Direct>, DataError> {
        let parquet = shards.iter().all(|p| crate::parquet::is_parquet(p));
        if preprocessing.vectors.is_empty() || !parquet || spec.train.skip_rows > 0 {
            return Ok(None);
        }
        let given =
            RowStream::open(&shards[0], &read_options(spec, &spec.train), 1)?.vector_columns();
        let mut groups = Vec::new();
        let mut offset = 0;
        let element = |name: &str| -> Option<(f64, f64)> {
            preprocessing.encoders.iter().find_map(|e| match e {
                crate::fitted::ColumnEncoder::Standardize { column, mean, std }
                    if column == name =>
                {
                    Some((*mean, *std))
                }
                _ => None,
            })
        };
        for v in &preprocessing.vectors {
            let first = format!("{}_0", v.column);
            let Some(column) = columns.iter().position(|c| *c == first) else {
                return Ok(None);
            };
            if !given.contains(&(column, v.width)) {
                return Ok(None);
            }
            let scales: Option<Vec<(f64, f64)>> = (0..v.width)
                .map(|j| element(&format!("{}_{j}", v.column)))
                .collect();
            let Some(scales) = scales else {
                return Ok(None);
            };
            groups.push(DirectGroup {
                name: v.column.clone(),
                column,
                width: v.width,
                offset,
                scales,
            });
            offset += v.width;
        }
        let in_vector = |c: &str| {
            (preprocessing.vectors.iter()).any(|v| {
                c.strip_prefix(v.column.as_str())
                    .and_then(|r| r.strip_prefix('_'))
                    .is_some_and(|j| j.parse::<usize>().is_ok_and(|j| j < v.width))
            })
        };
        let mut scalar = preprocessing.clone();
        scalar.encoders.retain(|e| {
            !matches!(e, crate::fitted::ColumnEncoder::Standardize { column, .. } if in_vector(column))
        });
        scalar.features.retain(|f| !in_vector(f));
        scalar.vectors.clear();
        let at = (scalar.encoders.iter())
            .map(|e| match e {
                crate::fitted::ColumnEncoder::OneHot { categories, .. } => categories.len(),
                crate::fitted::ColumnEncoder::Standardize { .. } => 1,
            })
            .sum();
        Ok(Some(Direct {
            uses: (columns.iter().zip(uses))
                .map(|(c, &u)| if in_vector(c) { ColumnUse::Skip } else { u })
                .collect(),
            numeric: numeric.iter().filter(|c| !in_vector(c)).cloned().collect(),
            scalar,
            groups,
            width: offset,
            at,
        }))
    }
}

/// A window's vector values, standardised ([`Direct`]).
#[derive(Debug, Default)]
struct Vectors {
    /// `[rows, width]`, row-major; a missing value's place 0 (the mean, standardised).
    values: Vec<f32>,
    width: usize,
    /// Rows with a missing (null) value.
    missing: Vec<bool>,
    /// The first value that is not a finite number: (row, column name, value).
    bad: Option<(usize, String, f64)>,
}

impl Vectors {
    fn new(width: usize) -> Self {
        Vectors {
            width,
            ..Vectors::default()
        }
    }

    /// Empty, for the next read (its room kept).
    fn reset(&mut self) {
        self.values.clear();
        self.missing.clear();
        self.bad = None;
    }

    /// The values of the vector column whose element 0 is table column `col`.
    fn fill(&mut self, d: &Direct, col: usize, values: &VectorValues<'_>) {
        let Some(g) = d.groups.iter().find(|g| g.column == col) else {
            return;
        };
        let n = values.rows();
        // A missing value's place keeps 0 (the first vector column to come sizes the rows).
        self.values.resize(n * self.width, 0.0);
        self.missing.resize(n, false);
        for r in 0..n {
            let row = &mut self.values[r * self.width + g.offset..][..g.width];
            // Whole rows of finite values in one loop the compiler vectorises (the same
            // arithmetic, so the same bits, as the element path below).
            let done = match values.row(r) {
                Some(RowValues::F32(v)) => standardise(row, v, &g.scales),
                Some(RowValues::F64(v)) => standardise(row, v, &g.scales),
                None => false,
            };
            if done {
                continue;
            }
            for (j, (out, &(mean, std))) in row.iter_mut().zip(&g.scales).enumerate() {
                match values.get(r, j) {
                    Some(v) if v.is_finite() => *out = z_score(v, mean, std),
                    Some(v) => {
                        self.bad
                            .get_or_insert_with(|| (r, format!("{}_{j}", g.name), v));
                    }
                    None => self.missing[r] = true,
                }
            }
        }
    }
}

/// `out_j = (v_j − mean_j) / sd_j` for a row whose values are all finite (then `true`; else
/// `false`, `out` untouched).
fn standardise<V: Copy + Into<f64>>(out: &mut [f32], v: &[V], scales: &[(f64, f64)]) -> bool {
    if v.len() != out.len() || !v.iter().all(|&x| x.into().is_finite()) {
        return false;
    }
    for ((o, &x), &(mean, std)) in out.iter_mut().zip(v).zip(scales) {
        *o = z_score(x.into(), mean, std);
    }
    true
}

/// A window's training rows, encoded: a split, or (the direct path) the rows' cells encoded
/// and their vectors standardised, put together as they are appended.
enum Piece<'v> {
    Rows(Split),
    Direct {
        /// The features from the cells (the vectors left out), labels, groups.
        cells: Split,
        vectors: &'v Vectors,
        /// Each row's row in the read (its place in `vectors`).
        rows: Vec<usize>,
        /// Where the vectors go in a row.
        at: usize,
        /// Features a row.
        p: usize,
    },
}

impl Piece<'_> {
    fn n(&self) -> usize {
        match self {
            Piece::Rows(s) | Piece::Direct { cells: s, .. } => s.n,
        }
    }

    /// Appends its rows `from..to` to `window`.
    fn append_to(&self, window: &mut Split, from: usize, to: usize) {
        match self {
            Piece::Rows(split) => append(window, split, from, to),
            Piece::Direct {
                cells,
                vectors,
                rows,
                at,
                p,
            } => {
                let (q, width) = (cells.p, vectors.width);
                debug_assert_eq!(q + width, *p);
                window.x.reserve((to - from) * p);
                for (i, &r) in rows.iter().enumerate().take(to).skip(from) {
                    let row = &cells.x[i * q..(i + 1) * q];
                    window.x.extend_from_slice(&row[..*at]);
                    window
                        .x
                        .extend_from_slice(&vectors.values[r * width..(r + 1) * width]);
                    window.x.extend_from_slice(&row[*at..]);
                }
                append_labels(window, cells, from, to);
            }
        }
    }
}

/// Appends rows `from..to` of `piece` to `window`.
fn append(window: &mut Split, piece: &Split, from: usize, to: usize) {
    let p = piece.p;
    window.x.extend_from_slice(&piece.x[from * p..to * p]);
    append_labels(window, piece, from, to);
}

/// Appends the labels, targets and groups of rows `from..to` of `piece` to `window` (and
/// counts them).
fn append_labels(window: &mut Split, piece: &Split, from: usize, to: usize) {
    for (w, q) in window.labels.iter_mut().zip(&piece.labels) {
        w.extend_from_slice(&q[from..to]);
    }
    for (w, q) in window.targets.iter_mut().zip(&piece.targets) {
        w.extend_from_slice(&q[from..to]);
    }
    window.s.extend_from_slice(&piece.s[from..to]);
    window.n += to - from;
}

/// An empty split with room for `rows` rows of `p` features and `tasks` tasks.
fn empty_split(rows: usize, p: usize, tasks: usize) -> Split {
    Split {
        n: 0,
        p,
        x: Vec::with_capacity(rows * p),
        labels: vec![Vec::with_capacity(rows); tasks],
        targets: vec![Vec::with_capacity(rows); tasks],
        s: Vec::with_capacity(rows),
    }
}

impl TrainStream for Shards {
    fn rows(&self) -> usize {
        self.rows
    }

    fn shuffle_rows(&self) -> usize {
        self.shuffle_rows
    }

    fn summary(&self) -> StreamSummary {
        StreamSummary {
            train_rows: self.rows,
            shards: self.shards.len(),
            shuffle_rows: self.shuffle_rows,
            fit_rows: self.fit_rows,
            vectors_direct: self.direct.is_some(),
        }
    }

    fn windows(
        &self,
        epoch: usize,
        size: usize,
        from: Option<WindowStart>,
        spare: &mut dyn FnMut() -> Option<Split>,
        each: &mut dyn FnMut(Window) -> bool,
    ) -> Result<(), DataError> {
        let size = size.max(1);
        let mut order: Vec<usize> = (0..self.shards.len()).collect();
        let order_seed = mix(self.assign.seed ^ 0x05AA_2D02_DE20_0000 ^ epoch as u64);
        order.shuffle(&mut ChaCha8Rng::seed_from_u64(order_seed));
        let enc = Encoder {
            spec: &self.spec,
            tasks: &self.tasks,
            preprocessing: &self.preprocessing,
            groups: &self.groups,
            p: self.preprocessing.features.len(),
        };
        let from = from.unwrap_or_default();
        let tasks = self.tasks.len();
        // A window given back is filled again: its pages are not faulted in anew.
        let mut fresh = || match spare() {
            Some(mut s) if s.p == enc.p && s.labels.len() == tasks => {
                s.n = 0;
                s.x.clear();
                s.labels.iter_mut().for_each(Vec::clear);
                s.targets.iter_mut().for_each(Vec::clear);
                s.s.clear();
                s
            }
            _ => empty_split(size, enc.p, tasks),
        };
        let mut window = fresh();
        let (mut start, mut index) = (from, from.window);
        for (position, &k) in order.iter().enumerate().skip(from.shard) {
            let skip_below = if position == from.shard { from.row } else { 0 };
            let key = shard_key(&self.shards[k]);
            let go_on = self.read_shard(k, &mut |at, mut w, vectors| {
                if at + (w.n() as u64) <= skip_below {
                    return Ok(true);
                }
                let train = |r: usize| {
                    let row = at + r as u64;
                    row >= skip_below && matches!(self.assign.class(key, row), Class::Train(_))
                };
                let Some((rows, piece)) = self.encode_window(&enc, &mut w, vectors, &train)? else {
                    return Ok(true);
                };
                let mut i = 0;
                while i < piece.n() {
                    if window.n == 0 {
                        start = WindowStart {
                            window: index,
                            shard: position,
                            row: at + rows[i] as u64,
                        };
                    }
                    let take = (size - window.n).min(piece.n() - i);
                    piece.append_to(&mut window, i, i + take);
                    i += take;
                    if window.n == size {
                        let full = std::mem::replace(&mut window, fresh());
                        if !each(Window { start, split: full }) {
                            return Ok(false);
                        }
                        index += 1;
                    }
                }
                Ok(true)
            })?;
            if !go_on {
                return Ok(());
            }
        }
        if window.n > 0 {
            each(Window {
                start,
                split: window,
            });
        }
        Ok(())
    }
}

/// The streamed path: one pass over the shards (the module docs), the preprocessing fitted on
/// the sample, the validation and test splits encoded; the training rows are read again each
/// epoch ([`TrainStream::windows`]).
fn prepare_streamed(
    spec: &DataSpec,
    tasks: &[TaskSpec],
    base_dir: &Path,
    seed: u64,
    stream: &StreamSpec,
    shards: Vec<PathBuf>,
) -> Result<Prepared, DataError> {
    if !spec.derived.is_empty() {
        return Err(DataError::Schema(
            "[data.stream] cannot be used with [[data.derived]] columns (they are computed from \
             one file's text): derive the columns beforehand, or remove [data.stream]"
                .into(),
        ));
    }
    if stream.shuffle_rows == 0 || stream.fit_rows == 0 {
        return Err(DataError::Schema(
            "[data.stream] shuffle_rows and fit_rows must be at least 1".into(),
        ));
    }
    let test_fraction = match &spec.test {
        Some(_) => 0.0,
        None => spec.test_fraction.unwrap_or(0.0),
    };
    let mut estimate = 0u64;
    for path in &shards {
        estimate += row_estimate(path)?;
    }
    let train_share = (1.0 - test_fraction - spec.validation_fraction).max(f64::MIN_POSITIVE);
    let assign = Assign {
        seed,
        test: test_fraction,
        valid: spec.validation_fraction,
        fit: (stream.fit_rows as f64 / (estimate as f64 * train_share).max(1.0)).min(1.0),
    };
    let missing: HashSet<&str> = spec.missing_values.iter().map(String::as_str).collect();
    let name =
        base_dir.join(crate::spec::expand_path(&spec.train.path).map_err(DataError::Schema)?);
    // The first shard's columns, and how each is read.
    let columns = RowStream::open(&shards[0], &read_options(spec, &spec.train), 1)?
        .columns()
        .to_vec();
    let uses: Vec<ColumnUse> = columns.iter().map(|c| column_use(spec, tasks, c)).collect();
    // The rows kept (fitting sample, validation, test) and their class, and the counts.
    let mut kept: Option<Gathered> = None;
    let mut classes: Vec<Class> = Vec::new();
    let (mut train_rows, mut dropped) = (0usize, 0usize);
    let mut numeric: Option<(Vec<String>, Vec<crate::fitted::VectorGroup>)> = None;
    for k in 0..shards.len() {
        let key = shard_key(&shards[k]);
        read_shard(
            spec,
            &shards,
            k,
            (&columns, &uses),
            None,
            &mut |at, mut w, _| {
                if numeric.is_none() {
                    numeric = Some(vector_columns(&mut w, spec)?);
                }
                let names = numeric.as_ref().map_or(&[][..], |(n, _)| n);
                let c = Cols::resolve(&w, spec, names, tasks)?;
                let keep = keep_rows(&w, &c, spec, &missing)?;
                dropped += w.n() - keep.len();
                let table = kept.get_or_insert_with(|| Gathered::new(&name, &w, &uses));
                for r in keep {
                    let class = assign.class(key, at + r as u64);
                    if let Class::Train(in_sample) = class {
                        train_rows += 1;
                        if !in_sample {
                            continue;
                        }
                    }
                    table.push(&w, r);
                    classes.push(class);
                }
                Ok(true)
            },
        )?;
    }
    let (Some(table), Some((numeric, vectors))) = (kept, numeric) else {
        return Err(DataError::Empty {
            path: name,
            what: "no data rows",
        });
    };
    let of = |want: &dyn Fn(Class) -> bool| -> Vec<usize> {
        (0..classes.len()).filter(|&r| want(classes[r])).collect()
    };
    let sample = of(&|c| matches!(c, Class::Train(_)));
    let valid_rows = of(&|c| c == Class::Valid);
    let test_rows = of(&|c| c == Class::Test);
    let train_t = table.finish();
    if train_rows == 0 || sample.is_empty() {
        return Err(DataError::Degenerate(
            "the training split is empty (after the held-out rows and those dropped)".into(),
        ));
    }
    if valid_rows.is_empty() && spec.validation_fraction > 0.0 {
        return Err(DataError::Degenerate(format!(
            "[data].validation_fraction = {} of {train_rows} training rows leaves no validation \
             row (streamed: each row is held out with that probability)",
            spec.validation_fraction
        )));
    }
    let train_c = Cols::resolve(&train_t, spec, &numeric, tasks)?;
    let (test_own, test_c, keep_test, test_dropped) = match &spec.test {
        Some(f) => {
            let t = read_file(spec, tasks, base_dir, f)?;
            let c = Cols::resolve(&t, spec, &numeric, tasks)?;
            let keep = keep_rows(&t, &c, spec, &missing)?;
            let dropped = t.n() - keep.len();
            (Some(t), c, keep, dropped)
        }
        None => (
            None,
            Cols::resolve(&train_t, spec, &numeric, tasks)?,
            test_rows,
            0,
        ),
    };
    if keep_test.is_empty() {
        return Err(DataError::Degenerate("the test split is empty".into()));
    }
    let fit_rows = sample.len();
    tracing::info!(
        shards = shards.len(),
        train = train_rows,
        fitted_on = fit_rows,
        valid = valid_rows.len(),
        dropped,
        "[data.stream]: training rows streamed"
    );
    let tables = Tables {
        train_t,
        train_c,
        test_own,
        test_c,
        numeric: numeric.clone(),
        vectors,
        train_rows: sample,
        valid_rows,
        keep_test,
        dropped: Dropped {
            train: dropped,
            test: test_dropped,
        },
        missing: &missing,
    };
    let mut prepared = fit_and_encode(spec, tasks, tables)?;
    let direct = Direct::new(
        spec,
        &shards,
        (&columns, &uses),
        &numeric,
        &prepared.preprocessing,
    )?;
    let stream = Shards {
        direct,
        spec: spec.clone(),
        tasks: tasks.to_vec(),
        groups: prepared.preprocessing.sensitive.groups.clone(),
        preprocessing: prepared.preprocessing.clone(),
        numeric,
        shards,
        columns,
        uses,
        assign,
        rows: train_rows,
        shuffle_rows: stream.shuffle_rows,
        fit_rows,
    };
    prepared.streamed = Some(Arc::new(stream));
    Ok(prepared)
}
