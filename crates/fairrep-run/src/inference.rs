//! Applying a trained run to new rows (`fairrep encode`, `fairrep predict`): the run's fitted
//! preprocessing, encoder, heads and post-processing, read from its directory without the
//! training data, over an input file streamed a chunk of rows at a time (memory bounded by the
//! chunk, not the file). Output rows are the input rows, in order: a row that cannot be encoded
//! (a missing value under `missing = "drop_rows"`) keeps its place with empty fields.

use crate::backend::Backend;
use crate::error::TrainError;
use crate::model::FairModel;
use crate::rundir::{deep_config, load_model};
use burn::tensor::Device;
use fairrep_config::Config;
use fairrep_data::sink::{Column, Sink, Values};
use fairrep_data::stream::{Chunk, RowStream};
use fairrep_data::table::ReadOptions;
use fairrep_data::{Binding, Preprocessing, Role, RowOutcome, TaskKind, TypedColumn};
use fairrep_report::{FittedPostprocess, TransferHead, files, read_json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A trained run, ready to apply to new rows.
pub struct Inference {
    /// The run directory.
    pub dir: PathBuf,
    /// Its resolved config.
    pub config: Config,
    /// Its fitted preprocessing.
    pub preprocessing: Preprocessing,
    /// The encoder and source heads.
    pub model: FairModel,
    /// The device inference runs on.
    pub device: Device,
    /// The transfer heads.
    pub transfer_heads: Vec<TransferHead>,
    /// The fitted post-processing of each post-processed task.
    pub postprocess: Vec<FittedPostprocess>,
}

impl Inference {
    /// Reads the run directory `run`: `config.toml`, `preprocessing.json`, `model.bpk`,
    /// `transfer_heads.json` and `postprocess.json`. A run written before fairrep saved its
    /// preprocessing gets a message saying to re-run `fairrep eval` on it.
    pub fn load(run: &Path, backend: Backend) -> Result<Inference, TrainError> {
        let (_, config) = deep_config(run, "encode, predict and export")?;
        let older = |file: &str| TrainError::NotARun {
            path: run.to_path_buf(),
            message: format!(
                "no {file}: the run was written by an older fairrep or did not finish; \
                 `fairrep eval --run {}` writes it (it needs the run's training data)",
                run.display()
            ),
        };
        for file in [
            files::PREPROCESSING,
            files::TRANSFER_HEADS,
            files::POSTPROCESS,
        ] {
            if !run.join(file).is_file() {
                return Err(older(file));
            }
        }
        let preprocessing: Preprocessing =
            read_json(&run.join(files::PREPROCESSING), "preprocessing")?;
        if preprocessing.format != fairrep_data::fitted::PREPROCESSING_FORMAT {
            return Err(older(files::PREPROCESSING));
        }
        let transfer_heads: Vec<TransferHead> =
            read_json(&run.join(files::TRANSFER_HEADS), "list of transfer heads")?;
        let postprocess: Vec<FittedPostprocess> =
            read_json(&run.join(files::POSTPROCESS), "post-processing")?;
        let device = backend.device()?;
        let sources = (preprocessing.tasks.iter())
            .filter(|t| t.role == Role::Source)
            .count();
        let model = load_model(run, &config, preprocessing.features.len(), sources, &device)?;
        Ok(Inference {
            dir: run.to_path_buf(),
            config,
            preprocessing,
            model,
            device,
            transfer_heads,
            postprocess,
        })
    }
}

/// How to read an input file: the run's `[data]` reading settings unless overridden.
#[derive(Debug, Clone, Default)]
pub struct InputOptions {
    /// The file's first line (after `skip_rows`) names its columns (default: as the run's
    /// files, i.e. a header unless `[data].columns` names them).
    pub header: bool,
    /// Lines (CSV) or rows (Parquet) to skip at the top.
    pub skip_rows: usize,
    /// The CSV delimiter (default: the run's).
    pub delimiter: Option<char>,
    /// Input rows encoded at once (bounds memory).
    pub batch_rows: usize,
}

/// What happened to the rows of an input file.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct RowCounts {
    /// Rows read (= rows written).
    pub rows: u64,
    /// Rows written with empty fields: a missing value under `missing = "drop_rows"`.
    pub dropped: u64,
    /// Per column: rows dropped for a missing value in it.
    pub dropped_by_column: BTreeMap<String, u64>,
    /// Per column: cells with a category never seen in training (encoded as all zeros).
    pub unseen_categories: BTreeMap<String, u64>,
}

impl RowCounts {
    /// Adds another block's counts to these.
    pub fn merge(&mut self, other: RowCounts) {
        self.rows += other.rows;
        self.dropped += other.dropped;
        for (k, v) in other.dropped_by_column {
            *self.dropped_by_column.entry(k).or_default() += v;
        }
        for (k, v) in other.unseen_categories {
            *self.unseen_categories.entry(k).or_default() += v;
        }
    }
}

/// One encoded chunk.
struct Encoded<'a> {
    chunk: &'a Chunk,
    /// Indices (in the chunk) of the rows that were encoded.
    kept: Vec<usize>,
    /// Their representations, row-major `[kept, r]`.
    z: Vec<f32>,
}

/// An input file bound to a run's preprocessing.
struct Input<'a> {
    inf: &'a Inference,
    stream: RowStream,
    binding: Binding,
    batch_rows: usize,
    counts: RowCounts,
    unseen: Vec<u64>,
}

impl<'a> Input<'a> {
    fn open(inf: &'a Inference, path: &Path, opts: &InputOptions) -> Result<Self, TrainError> {
        let reading = &inf.preprocessing.reading;
        let delimiter = opts.delimiter.unwrap_or(reading.delimiter);
        if !delimiter.is_ascii() {
            return Err(TrainError::Usage(format!(
                "--delimiter `{delimiter}` must be one ASCII character"
            )));
        }
        let columns = if opts.header {
            None
        } else {
            reading.columns.as_deref()
        };
        let stream = RowStream::open(
            path,
            &ReadOptions {
                delimiter: delimiter as u8,
                skip_rows: opts.skip_rows,
                columns,
                header: columns.is_none(),
                null: reading.missing_values.first().map_or("", String::as_str),
            },
            opts.batch_rows,
        )?;
        // The derived columns whose sources the file has (the sensitive attribute or a
        // task's column, from the run's `[[data.derived]]`), after the file's own.
        let mut columns = stream.columns().to_vec();
        let missing = inf.preprocessing.missing_tokens();
        fairrep_data::derived::apply(
            &inf.preprocessing.derived,
            path,
            &mut columns,
            &mut [],
            &[],
            &missing,
            false,
        )?;
        let binding = inf
            .preprocessing
            .bind(path, &columns, stream.unreadable())?;
        Ok(Input {
            inf,
            stream,
            binding,
            batch_rows: opts.batch_rows.max(1),
            counts: RowCounts::default(),
            unseen: vec![0; inf.preprocessing.encoders.len() + 1],
        })
    }

    /// The next chunk of rows, or `None` at the end.
    fn next_chunk(&mut self) -> Result<Option<Chunk>, TrainError> {
        let Some(mut chunk) = self.stream.next_chunk(self.batch_rows)? else {
            return Ok(None);
        };
        let pre = &self.inf.preprocessing;
        if !pre.derived.is_empty() {
            let mut columns = self.stream.columns().to_vec();
            add_derived(pre, self.stream.path(), &mut columns, &mut chunk)?;
        }
        Ok(Some(chunk))
    }

    /// Encodes a chunk's rows and computes their representations.
    fn encode<'c>(&mut self, chunk: &'c Chunk) -> Result<Encoded<'c>, TrainError> {
        let (kept, z) = encode_chunk(
            self.inf,
            &self.binding,
            self.stream.path(),
            chunk,
            &mut self.counts,
            &mut self.unseen,
        )?;
        Ok(Encoded { chunk, kept, z })
    }

    /// The counts, with a warning per column of unseen categories.
    fn finish(mut self) -> RowCounts {
        let pre = &self.inf.preprocessing;
        for (col, &n) in self.unseen.iter().enumerate() {
            if n > 0 {
                let name = pre.column_name(col).to_string();
                tracing::warn!(
                    "{}: column `{name}`: {n} cell(s) with a category never seen in training \
                     (encoded as all zeros)",
                    self.stream.path().display()
                );
                self.counts.unseen_categories.insert(name, n);
            }
        }
        if self.counts.dropped > 0 {
            tracing::warn!(
                "{}: {} row(s) with a missing value written with empty fields (missing = \"drop_rows\")",
                self.stream.path().display(),
                self.counts.dropped
            );
        }
        self.counts
    }
}

/// Adds the run's derived columns (`[[data.derived]]`) to `columns` and to `chunk`'s rows, as
/// training added them.
fn add_derived(
    pre: &Preprocessing,
    path: &Path,
    columns: &mut Vec<String>,
    chunk: &mut Chunk,
) -> Result<(), TrainError> {
    fairrep_data::derived::apply(
        &pre.derived,
        path,
        columns,
        &mut chunk.rows,
        &chunk.lines,
        &pre.missing_tokens(),
        false,
    )?;
    Ok(())
}

/// Encodes `chunk`'s rows (bound by `binding`; `path` names them in errors) and computes their
/// representations: the indices of the encoded rows and their z, `[kept, r]` row-major.
/// Dropped rows and unseen categories are counted into `counts` and `unseen`.
fn encode_chunk(
    inf: &Inference,
    binding: &Binding,
    path: &Path,
    chunk: &Chunk,
    counts: &mut RowCounts,
    unseen: &mut [u64],
) -> Result<(Vec<usize>, Vec<f32>), TrainError> {
    let pre = &inf.preprocessing;
    let missing = pre.missing_tokens();
    let p = pre.features.len();
    let mut x = vec![0f32; chunk.rows.len() * p];
    let mut kept = Vec::with_capacity(chunk.rows.len());
    let mut row_x = vec![0f32; p];
    for (i, (row, &line)) in chunk.rows.iter().zip(&chunk.lines).enumerate() {
        match pre.encode_row(binding, row, &missing, (path, line), &mut row_x, unseen)? {
            RowOutcome::Encoded => {
                let k = kept.len();
                x[k * p..(k + 1) * p].copy_from_slice(&row_x);
                kept.push(i);
            }
            RowOutcome::Dropped(col) => {
                counts.dropped += 1;
                *(counts.dropped_by_column)
                    .entry(pre.column_name(col).to_string())
                    .or_default() += 1;
            }
        }
    }
    counts.rows += chunk.rows.len() as u64;
    x.truncate(kept.len() * p);
    let z = inf.model.encode_rows(&x, p, &inf.device);
    Ok((kept, z))
}

/// The representation of rows held in memory ([`encode_rows`]).
#[derive(Debug, Clone)]
pub struct EncodedRows {
    /// z of every row, `[n, r]` row-major; a row dropped for a missing value is NaN.
    pub z: Vec<f32>,
    /// What happened to the rows.
    pub counts: RowCounts,
}

/// The representation of rows held in memory (Python's `Run.encode` on a DataFrame): cells as
/// text under `columns`, missing cells as the run's first missing-value token, row `i` named
/// "row i + 1" in errors. The run's derived columns are added as `encode` adds them to a file.
pub fn encode_rows(
    inf: &Inference,
    mut columns: Vec<String>,
    rows: Vec<csv::StringRecord>,
) -> Result<EncodedRows, TrainError> {
    let path = Path::new("<rows in memory>");
    let pre = &inf.preprocessing;
    let lines: Vec<u64> = (1..=rows.len() as u64).collect();
    let mut chunk = Chunk { rows, lines };
    add_derived(pre, path, &mut columns, &mut chunk)?;
    let binding = pre.bind(path, &columns, &[])?;
    let mut counts = RowCounts::default();
    let mut unseen = vec![0; pre.encoders.len() + 1];
    let (kept, z) = encode_chunk(inf, &binding, path, &chunk, &mut counts, &mut unseen)?;
    let mut all = vec![f32::NAN; chunk.rows.len() * inf.config.model.representation];
    place(&mut all, 0, &kept, &z);
    Ok(EncodedRows {
        z: all,
        counts: unseen_counts(pre, counts, &unseen),
    })
}

/// Writes the z of the `kept` rows of a block starting at row `first` into `all` (`[n, r]`).
fn place(all: &mut [f32], first: usize, kept: &[usize], z: &[f32]) {
    let r = z.len() / kept.len().max(1);
    for (k, &i) in kept.iter().enumerate() {
        let at = (first + i) * r;
        all[at..at + r].copy_from_slice(&z[k * r..(k + 1) * r]);
    }
}

/// `counts` with the columns of unseen categories.
fn unseen_counts(pre: &Preprocessing, mut counts: RowCounts, unseen: &[u64]) -> RowCounts {
    for (col, &n) in unseen.iter().enumerate() {
        if n > 0 {
            counts
                .unseen_categories
                .insert(pre.column_name(col).to_string(), n);
        }
    }
    counts
}

/// The representation of rows held as typed columns (Python's `Run.encode` on a DataFrame,
/// numpy arrays or Arrow data): numbers and category codes, no text per cell
/// ([`Preprocessing::encode_columns`]), `batch_rows` rows at a time. Row `i` is "row i + 1" of
/// `source` in errors. A run with derived columns (`[[data.derived]]`, computed from text)
/// writes the rows as text and goes through [`encode_rows`].
pub fn encode_typed(
    inf: &Inference,
    source: &Path,
    columns: Vec<String>,
    values: &[TypedColumn<'_>],
    unreadable: &[(String, String)],
    batch_rows: usize,
) -> Result<EncodedRows, TrainError> {
    let pre = &inf.preprocessing;
    fairrep_data::columns::check_columns(&columns, values)?;
    let n = values.first().map_or(0, TypedColumn::len);
    if !pre.derived.is_empty() {
        let null = pre
            .reading
            .missing_values
            .first()
            .cloned()
            .unwrap_or_default();
        let rows = (0..n)
            .map(|i| values.iter().map(|c| c.cell(i, &null)).collect())
            .collect();
        return encode_rows(inf, columns, rows);
    }
    let binding = pre.bind(source, &columns, unreadable)?;
    let (p, r) = (pre.features.len(), inf.config.model.representation);
    let mut counts = RowCounts::default();
    let mut unseen = vec![0; pre.encoders.len() + 1];
    let mut all = vec![f32::NAN; n * r];
    let mut x = Vec::new();
    for first in (0..n).step_by(batch_rows.max(1)) {
        let end = (first + batch_rows.max(1)).min(n);
        let block: Vec<TypedColumn<'_>> = values.iter().map(|c| c.slice(first..end)).collect();
        x.resize((end - first) * p, 0.0);
        let line = |i: usize| (first + i) as u64 + 1;
        let outcome = pre.encode_columns(&binding, &block, (source, &line), &mut x, &mut unseen)?;
        let mut kept = Vec::with_capacity(outcome.len());
        let mut compact = 0;
        for (i, o) in outcome.iter().enumerate() {
            match o {
                RowOutcome::Encoded => {
                    x.copy_within(i * p..(i + 1) * p, compact * p);
                    compact += 1;
                    kept.push(i);
                }
                RowOutcome::Dropped(col) => {
                    counts.dropped += 1;
                    *(counts.dropped_by_column)
                        .entry(pre.column_name(*col).to_string())
                        .or_default() += 1;
                }
            }
        }
        counts.rows += outcome.len() as u64;
        let z = inf.model.encode_rows(&x[..compact * p], p, &inf.device);
        place(&mut all, first, &kept, &z);
    }
    Ok(EncodedRows {
        z: all,
        counts: unseen_counts(pre, counts, &unseen),
    })
}

/// The `--keep` columns of a chunk (text).
fn kept_columns(stream_cols: &[usize], names: &[String], chunk: &Chunk) -> Vec<Column> {
    stream_cols
        .iter()
        .zip(names)
        .map(|(&c, name)| Column {
            name: name.clone(),
            values: Values::Text(chunk.rows.iter().map(|r| Some(r[c].to_string())).collect()),
        })
        .collect()
}

/// Spreads the values of the kept rows over all the chunk's rows (`None` for dropped rows).
fn spread<T: Copy>(n: usize, kept: &[usize], values: impl Iterator<Item = T>) -> Vec<Option<T>> {
    let mut out = vec![None; n];
    for (&i, v) in kept.iter().zip(values) {
        out[i] = Some(v);
    }
    out
}

/// Output columns named by `--keep`, checked against the input (an error names a missing one).
fn keep_indices(input: &Input<'_>, keep: &[String]) -> Result<Vec<usize>, TrainError> {
    keep.iter()
        .map(|k| Ok(input.stream.column(k, "a --keep column")?))
        .collect()
}

/// The run's `partition.json` (written by `fairrep certify`), checked.
pub fn load_partition(run: &Path) -> Result<fairrep_certify::Partition, TrainError> {
    let path = run.join(files::PARTITION);
    if !path.is_file() {
        return Err(TrainError::NotARun {
            path: run.to_path_buf(),
            message: format!(
                "no {}: `fairrep certify --run {}` writes it",
                files::PARTITION,
                run.display()
            ),
        });
    }
    let p: fairrep_certify::Partition = fairrep_report::read_json(&path, "partition")?;
    p.validate().map_err(|source| TrainError::Certify {
        run: run.to_path_buf(),
        source,
    })?;
    Ok(p)
}

/// `fairrep encode`: writes, for every input row, the `keep` columns then `z0 … z{r-1}`; with
/// a `partition` (`--cells`), the `keep` columns, the `cell` id and the cell's centroid
/// `cz0 … cz{r-1}` instead of z — the quantised release the certificate is about.
pub fn encode_file(
    inf: &Inference,
    input: &Path,
    opts: &InputOptions,
    out: &Path,
    keep: &[String],
    partition: Option<&fairrep_certify::Partition>,
) -> Result<RowCounts, TrainError> {
    let mut rows = Input::open(inf, input, opts)?;
    let keep_cols = keep_indices(&rows, keep)?;
    let r = inf.config.model.representation;
    if let Some(p) = partition
        && p.dim != r
    {
        return Err(TrainError::NotARun {
            path: inf.dir.clone(),
            message: format!(
                "{} partitions z of width {}, the run's is {r}",
                files::PARTITION,
                p.dim
            ),
        });
    }
    let mut sink = Sink::create(out, b',')?;
    while let Some(chunk) = rows.next_chunk()? {
        let e = rows.encode(&chunk)?;
        let n = e.chunk.rows.len();
        let mut columns = kept_columns(&keep_cols, keep, e.chunk);
        match partition {
            None => {
                for j in 0..r {
                    columns.push(Column {
                        name: format!("z{j}"),
                        values: Values::F32(spread(
                            n,
                            &e.kept,
                            e.z.iter().skip(j).step_by(r).copied(),
                        )),
                    });
                }
            }
            Some(p) => {
                let cells = p.assign(&e.z);
                columns.push(Column {
                    name: "cell".into(),
                    values: Values::Int(spread(n, &e.kept, cells.iter().map(|&c| c as i64))),
                });
                for j in 0..r {
                    columns.push(Column {
                        name: format!("cz{j}"),
                        values: Values::F64(spread(
                            n,
                            &e.kept,
                            cells.iter().map(|&c| p.centroids[c][j]),
                        )),
                    });
                }
            }
        }
        sink.write(&columns)?;
    }
    sink.finish()?;
    Ok(rows.finish())
}

/// One task's predictions gathered for `--evaluate` (rows with a label and a group only).
#[derive(Debug, Clone, Default)]
pub struct TaskEvaluation {
    /// The task.
    pub task: String,
    /// Binary or regression.
    pub kind: TaskKind,
    /// Binary labels.
    pub labels: Vec<bool>,
    /// Regression targets.
    pub targets: Vec<f64>,
    /// Scores (probabilities, or values).
    pub scores: Vec<f64>,
    /// Predicted labels (binary).
    pub predictions: Vec<bool>,
    /// Group ids.
    pub groups: Vec<usize>,
}

/// What `predict` did.
#[derive(Debug, Clone)]
pub struct Predictions {
    /// The rows.
    pub counts: RowCounts,
    /// The tasks whose scores were post-processed.
    pub postprocessed: Vec<String>,
    /// With `evaluate`: per task, the rows with a label and a known group.
    pub evaluation: Vec<TaskEvaluation>,
}

impl Predictions {
    /// What `fairrep predict --json` prints (and Python's `Run.predict` returns beside the
    /// scores): `rows`, `postprocessed`, and with `evaluate` per task what
    /// `audit-predictions` prints (binary) or the regression summary, on the rows with a
    /// label and a known group.
    pub fn summary(
        &self,
        inf: &Inference,
        out: &Path,
        evaluate: bool,
    ) -> Result<serde_json::Value, TrainError> {
        let groups: Vec<String> = (inf.preprocessing.sensitive.groups.iter())
            .map(|g| g.name.clone())
            .collect();
        let json = |e: serde_json::Error| TrainError::Internal(e.to_string());
        let mut tasks = serde_json::Map::new();
        for ev in self.evaluation.iter().filter(|ev| !ev.scores.is_empty()) {
            let metrics = match ev.kind {
                TaskKind::Binary => serde_json::to_value(
                    fairrep_metrics::binary_audit(
                        &ev.labels,
                        &ev.predictions,
                        Some(&ev.scores),
                        &ev.groups,
                        &groups,
                    )
                    .map_err(|e| TrainError::Usage(format!("task `{}`: {e}", ev.task)))?,
                ),
                TaskKind::Regression => {
                    serde_json::to_value(fairrep_metrics::regression::summarize_regression(
                        &ev.targets,
                        &ev.scores,
                        &ev.groups,
                        &groups,
                        None,
                    ))
                }
            }
            .map_err(json)?;
            tasks.insert(ev.task.clone(), metrics);
        }
        let mut summary = serde_json::json!({
            "out": out,
            "rows": serde_json::to_value(&self.counts).map_err(json)?,
            "postprocessed": self.postprocessed,
        });
        if evaluate {
            summary["evaluation"] = tasks.into();
        }
        Ok(summary)
    }
}

/// How a task's score is computed.
enum Scorer<'a> {
    /// Source head number `k`.
    Source(usize),
    /// A transfer head.
    Transfer(&'a TransferHead),
}

/// `fairrep predict`: for every input row, the `keep` columns then, for each of `tasks` (all
/// when empty), `<task>_score` and, for a binary task, `<task>_pred` (score ≥ the run's
/// threshold); post-processed where the run was and the input has the sensitive column. With
/// `evaluate`, gathers each task's labels, scores and groups where the input has them.
pub fn predict_file(
    inf: &Inference,
    input: &Path,
    opts: &InputOptions,
    out: &Path,
    (tasks, keep): (&[String], &[String]),
    evaluate: bool,
) -> Result<Predictions, TrainError> {
    let pre = &inf.preprocessing;
    let sources: Vec<usize> = (0..pre.tasks.len())
        .filter(|&t| pre.tasks[t].role == Role::Source)
        .collect();
    if let Some(unknown) = tasks
        .iter()
        .find(|n| !pre.tasks.iter().any(|t| &t.name == *n))
    {
        return Err(TrainError::Usage(format!(
            "--task {unknown}: the run has no such task (its tasks: {})",
            pre.tasks
                .iter()
                .map(|t| t.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let chosen: Vec<usize> = (0..pre.tasks.len())
        .filter(|&t| tasks.is_empty() || tasks.contains(&pre.tasks[t].name))
        .collect();
    let mut scorers = Vec::new();
    for &t in &chosen {
        let task = &pre.tasks[t];
        scorers.push(match task.role {
            Role::Source => Scorer::Source(sources.iter().position(|&s| s == t).unwrap_or(0)),
            Role::Transfer => Scorer::Transfer(
                inf.transfer_heads
                    .iter()
                    .find(|h| h.task == task.name)
                    .ok_or_else(|| TrainError::NotARun {
                        path: inf.dir.join(files::TRANSFER_HEADS),
                        message: format!("no head for transfer task `{}`", task.name),
                    })?,
            ),
        });
    }
    let mut rows = Input::open(inf, input, opts)?;
    let keep_cols = keep_indices(&rows, keep)?;
    let sensitive = rows.binding.sensitive;
    if sensitive.is_none() && !inf.postprocess.is_empty() {
        tracing::warn!(
            "{} has no column `{}`: scores are not post-processed",
            input.display(),
            pre.sensitive.column
        );
    }
    // One applier per post-processed task, drawing its jitter across chunks.
    let mut appliers: Vec<Option<(&FittedPostprocess, fairrep_methods::barycenter::Applier<'_>)>> =
        chosen
            .iter()
            .map(|&t| {
                let fitted = inf
                    .postprocess
                    .iter()
                    .find(|p| p.task == pre.tasks[t].name)?;
                sensitive?;
                Some((fitted, fitted.barycenter.applier(fitted.seed)))
            })
            .collect();
    let threshold = inf.config.transfer.threshold;
    let mut evaluation: Vec<TaskEvaluation> = chosen
        .iter()
        .map(|&t| TaskEvaluation {
            task: pre.tasks[t].name.clone(),
            kind: pre.tasks[t].kind,
            ..TaskEvaluation::default()
        })
        .collect();
    let missing: Vec<String> = pre.reading.missing_values.clone();
    let mut sink = Sink::create(out, b',')?;
    while let Some(chunk) = rows.next_chunk()? {
        let e = rows.encode(&chunk)?;
        let n = e.chunk.rows.len();
        let source_scores = if scorers.iter().any(|s| matches!(s, Scorer::Source(_))) {
            let heads: Vec<&fairrep_data::TaskInfo> =
                sources.iter().map(|&t| &pre.tasks[t]).collect();
            inf.model.predict_from_z(&e.z, &heads, &inf.device)
        } else {
            Vec::new()
        };
        // Group ids of the kept rows (when the input has the sensitive column).
        let groups: Option<Vec<usize>> = match sensitive {
            None => None,
            Some(c) => Some(
                e.kept
                    .iter()
                    .map(|&i| {
                        let cell = &e.chunk.rows[i][c];
                        pre.sensitive.group_of(cell).ok_or_else(|| {
                            fairrep_data::DataError::UnknownGroup {
                                path: input.to_path_buf(),
                                line: e.chunk.lines[i],
                                column: pre.sensitive.column.clone(),
                                value: cell.to_string(),
                            }
                        })
                    })
                    .collect::<Result<_, _>>()?,
            ),
        };
        let mut columns = kept_columns(&keep_cols, keep, e.chunk);
        for (k, (&t, scorer)) in chosen.iter().zip(&scorers).enumerate() {
            let task = &pre.tasks[t];
            let mut scores = match scorer {
                Scorer::Source(h) => source_scores[*h].clone(),
                Scorer::Transfer(head) => head.predict(&e.z),
            };
            if let (Some((_, applier)), Some(g)) = (appliers[k].as_mut(), groups.as_ref()) {
                scores = applier
                    .apply(&scores, g)
                    .map_err(|source| TrainError::Barycenter {
                        what: format!("task `{}`", task.name),
                        source,
                    })?;
            }
            let preds: Vec<bool> = scores.iter().map(|&s| s >= threshold).collect();
            if evaluate && let (Some(c), Some(g)) = (rows.binding.tasks[t], groups.as_ref()) {
                let ev = &mut evaluation[k];
                for (j, &i) in e.kept.iter().enumerate() {
                    let cell = &e.chunk.rows[i][c];
                    if missing.iter().any(|m| m == cell) {
                        continue;
                    }
                    let label = match (&task.positive, task.kind) {
                        (Some(p), TaskKind::Binary) => p.eval(cell).map(|y| {
                            ev.labels.push(y);
                            ev.predictions.push(preds[j]);
                        }),
                        _ => cell.parse::<f64>().ok().filter(|v| v.is_finite()).map(|v| {
                            ev.targets.push(v);
                        }),
                    };
                    if label.is_some() {
                        ev.scores.push(scores[j]);
                        ev.groups.push(g[j]);
                    }
                }
            }
            columns.push(Column {
                name: format!("{}_score", task.name),
                values: Values::F64(spread(n, &e.kept, scores.iter().copied())),
            });
            if task.kind == TaskKind::Binary {
                columns.push(Column {
                    name: format!("{}_pred", task.name),
                    values: Values::Int(spread(n, &e.kept, preds.iter().map(|&p| i64::from(p)))),
                });
            }
        }
        sink.write(&columns)?;
    }
    sink.finish()?;
    let postprocessed = chosen
        .iter()
        .zip(&appliers)
        .filter(|(_, a)| a.is_some())
        .map(|(&t, _)| pre.tasks[t].name.clone())
        .collect();
    if evaluate {
        for (ev, &t) in evaluation.iter().zip(&chosen) {
            if ev.scores.is_empty() {
                tracing::warn!(
                    "--evaluate: task `{}`: the input has no usable column `{}` (or no `{}`)",
                    ev.task,
                    pre.tasks[t].column,
                    pre.sensitive.column
                );
            }
        }
    }
    Ok(Predictions {
        counts: rows.finish(),
        postprocessed,
        evaluation: if evaluate { evaluation } else { Vec::new() },
    })
}
