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
//!   validation and test rows and a seeded sample of at most `fit_rows` training rows (their `u`
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
use crate::encode::{
    Cols, Dropped, Encoder, Prepared, Split, StreamSummary, Tables, TrainStream, Window,
    WindowStart, checked, column_use, fit_and_encode, keep_rows, nan_token, prepare_in_memory,
    read_options, vector_columns,
};
use crate::error::DataError;
use crate::fitted::Preprocessing;
use crate::spec::{DataSpec, GroupSpec, StreamMode, StreamSpec, TaskSpec};
use crate::stream::RowStream;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use std::collections::HashSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Rows read from a shard at a time (a CSV chunk, a Parquet record batch).
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
    assign: Assign,
    rows: usize,
    shuffle_rows: usize,
    fit_rows: usize,
}

impl Shards {
    /// Every window of `shards[k]` in row order: `each(first row, table)`.
    fn read_shard(
        &self,
        k: usize,
        each: &mut dyn FnMut(u64, ColumnTable) -> Result<bool, DataError>,
    ) -> Result<bool, DataError> {
        read_shard(
            &self.spec,
            &self.shards,
            k,
            (&self.columns, &self.uses),
            each,
        )
    }
}

/// Reads `shards[k]` a window at a time: `each(first row, table)`, until it returns `false`
/// (then `Ok(false)`). Its columns must be `columns` (the first shard's), each read as `uses`
/// says.
fn read_shard(
    spec: &DataSpec,
    shards: &[PathBuf],
    k: usize,
    (columns, uses): (&[String], &[ColumnUse]),
    each: &mut dyn FnMut(u64, ColumnTable) -> Result<bool, DataError>,
) -> Result<bool, DataError> {
    let opts = read_options(spec, &spec.train);
    let mut stream = RowStream::open(&shards[k], &opts, READ_ROWS)?;
    if stream.columns() != columns {
        return Err(DataError::Schema(format!(
            "{}: columns {} differ from those of the first shard {} ({})",
            shards[k].display(),
            stream.columns().join(", "),
            shards[0].display(),
            columns.join(", ")
        )));
    }
    let mut at = 0u64;
    while let Some(w) = ColumnTable::next_window(&mut stream, READ_ROWS, nan_token(spec), uses)? {
        let n = w.n() as u64;
        if !each(at, w)? {
            return Ok(false);
        }
        at += n;
    }
    Ok(true)
}

/// Appends rows `from..to` of `piece` to `window`.
fn append(window: &mut Split, piece: &Split, from: usize, to: usize) {
    let p = piece.p;
    window.x.extend_from_slice(&piece.x[from * p..to * p]);
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
        }
    }

    fn windows(
        &self,
        epoch: usize,
        size: usize,
        from: Option<WindowStart>,
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
        let missing: HashSet<&str> = self
            .spec
            .missing_values
            .iter()
            .map(String::as_str)
            .collect();
        let from = from.unwrap_or_default();
        let tasks = self.tasks.len();
        let mut window = empty_split(size, enc.p, tasks);
        let (mut start, mut index) = (from, from.window);
        for (position, &k) in order.iter().enumerate().skip(from.shard) {
            let skip_below = if position == from.shard { from.row } else { 0 };
            let key = shard_key(&self.shards[k]);
            let go_on = self.read_shard(k, &mut |at, mut w| {
                if at + (w.n() as u64) <= skip_below {
                    return Ok(true);
                }
                let c = Cols::resolve(&w, &self.spec, &self.numeric, &self.tasks)?;
                let rows: Vec<usize> = keep_rows(&w, &c, &self.spec, &missing)?
                    .into_iter()
                    .filter(|&r| {
                        let row = at + r as u64;
                        row >= skip_below && matches!(self.assign.class(key, row), Class::Train(_))
                    })
                    .collect();
                if rows.is_empty() {
                    return Ok(true);
                }
                let piece = enc.encode_split(&mut w, &c, &rows)?;
                let mut i = 0;
                while i < piece.n {
                    if window.n == 0 {
                        start = WindowStart {
                            window: index,
                            shard: position,
                            row: at + rows[i] as u64,
                        };
                    }
                    let take = (size - window.n).min(piece.n - i);
                    append(&mut window, &piece, i, i + take);
                    i += take;
                    if window.n == size {
                        let full = std::mem::replace(&mut window, empty_split(size, enc.p, tasks));
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
        read_shard(spec, &shards, k, (&columns, &uses), &mut |at, mut w| {
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
        })?;
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
            let t = crate::encode::read_file(spec, tasks, base_dir, f)?;
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
    let stream = Shards {
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
