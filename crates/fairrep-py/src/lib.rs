//! `fairrep._fairrep`: fairrep's library crates called from Python.
//!
//! The Python package `fairrep` (`python/fairrep`) is the public face: it checks and converts
//! its arguments (numpy, pandas, pyarrow) and calls these functions, which do the work with the
//! GIL released. Errors keep fairrep's messages (the key, column, file or line they name):
//! bad input is a `ValueError`, a file that cannot be read or written an `OSError`, Ctrl-C
//! during training a `KeyboardInterrupt` (the run's last checkpoint intact), anything else a
//! `RuntimeError`.

use fairrep_config::{Override, PenaltyKind};
use fairrep_data::TypedColumn;
use fairrep_losses::burn_dtype::DType;
use fairrep_losses::{Estimator, KernelKind, Scale};
use fairrep_run::measure::{DivergenceRequest, MeasureOptions, Samples, measure};
use fairrep_run::train::Observer;
use fairrep_run::{Backend, RunOptions, TrainError};
use numpy::{IntoPyArray, PyArray2, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::exceptions::{
    PyFileNotFoundError, PyKeyboardInterrupt, PyOSError, PyRuntimeError, PyValueError,
};
use pyo3::prelude::*;
use serde::de::DeserializeOwned;
use std::borrow::Cow;
use std::path::{Path, PathBuf};

/// mimalloc for the Rust side of the module, as in the `fairrep` binary: a training step
/// allocates and frees tensors of 10–300 KiB hundreds of times (with glibc's allocator, `fit`
/// took 5% longer than `fairrep train` on the quickstart, scripts/bench-python.py).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A message and its causes, as the command line prints them (`error: a: b: c`).
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

/// The I/O error behind `e`, if a file could not be read or written.
fn io_cause<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a std::io::Error> {
    let mut cause = Some(e);
    while let Some(c) = cause {
        if let Some(io) = c.downcast_ref::<std::io::Error>() {
            return Some(io);
        }
        cause = c.source();
    }
    None
}

/// fairrep's error as the Python exception a user expects: a file that cannot be read or
/// written is an `OSError` (`FileNotFoundError` for a missing one), bad input a `ValueError`.
fn py_err(e: TrainError) -> PyErr {
    let message = chain(&e);
    if let TrainError::Interrupted { .. } = e {
        return PyKeyboardInterrupt::new_err(message);
    }
    if let Some(io) = io_cause(&e) {
        return match io.kind() {
            std::io::ErrorKind::NotFound => PyFileNotFoundError::new_err(message),
            _ => PyOSError::new_err(message),
        };
    }
    match e {
        TrainError::CheckpointWrite { .. } | TrainError::Save { .. } => PyOSError::new_err(message),
        e if e.is_user_error() => PyValueError::new_err(message),
        _ => PyRuntimeError::new_err(message),
    }
}

/// A choice named as in the config (`"batch_rms"`, `"unbiased"`, …), or a `ValueError` naming
/// the argument and the choices.
fn choice<T: DeserializeOwned>(argument: &str, value: &str) -> PyResult<T> {
    serde_json::from_value(serde_json::Value::String(value.to_string()))
        .map_err(|e| PyValueError::new_err(format!("{argument}: {e}")))
}

fn backend(name: &str) -> PyResult<Backend> {
    match name {
        "flex" => Ok(Backend::Flex),
        "ndarray" => Ok(Backend::Ndarray),
        "wgpu" => Ok(Backend::Wgpu),
        other => Err(PyValueError::new_err(format!(
            "backend: `{other}` is not one of flex, ndarray, wgpu"
        ))),
    }
}

/// The backends this build of the module has.
#[pyfunction]
fn backends() -> Vec<&'static str> {
    Backend::built()
}

/// The divergence between the rows of `x` and `y` (C-contiguous float64 arrays; the Python
/// layer converts), with the gradient with respect to `x`. Returns the measurement as JSON
/// (what `fairrep divergence` prints) and the gradient, `[n, d]`.
#[pyfunction]
#[pyo3(signature = (
    x, y, kind, *, sigma=None, kernel=None, estimator=None, blur=None, scaling=None, p=None,
    reach=None, debias=true, scale="none", tolerance=None, max_iterations=10_000,
    backend="flex", dtype="f64", portable=false
))]
#[allow(clippy::too_many_arguments)] // Python's keyword arguments
fn divergence<'py>(
    py: Python<'py>,
    x: PyReadonlyArray2<'py, f64>,
    y: PyReadonlyArray2<'py, f64>,
    kind: &str,
    sigma: Option<Vec<f64>>,
    kernel: Option<&str>,
    estimator: Option<&str>,
    blur: Option<f64>,
    scaling: Option<f64>,
    p: Option<f64>,
    reach: Option<f64>,
    debias: bool,
    scale: &str,
    tolerance: Option<f64>,
    max_iterations: usize,
    backend: &str,
    dtype: &str,
    portable: bool,
) -> PyResult<(String, Bound<'py, PyArray2<f64>>)> {
    let kind: PenaltyKind = choice("kind", kind)?;
    let scale: Scale = choice("scale", scale)?;
    let request = DivergenceRequest {
        sigma: sigma.unwrap_or_default(),
        kernel: kernel
            .map(|k| choice::<KernelKind>("kernel", k))
            .transpose()?,
        estimator: (estimator.map(|e| choice::<Estimator>("estimator", e))).transpose()?,
        blur,
        scaling,
        p,
        reach,
        debias,
        scale,
        tolerance,
        max_iterations,
        ..DivergenceRequest::new(kind)
    };
    let how = request.resolve().map_err(|(key, message)| {
        let argument = if key == "bandwidth" { "sigma" } else { &key };
        let message = message.replace(&format!("kind = \"{kind}\""), &format!("kind=\"{kind}\""));
        PyValueError::new_err(format!("{argument}: {message}"))
    })?;
    let dtype = match dtype {
        "f32" | "float32" => DType::F32,
        "f64" | "float64" => DType::F64,
        other => {
            return Err(PyValueError::new_err(format!(
                "dtype: `{other}` is not float32 or float64"
            )));
        }
    };
    let samples = |a: &PyReadonlyArray2<'py, f64>, name: &str| -> PyResult<Samples> {
        let shape = a.as_array().dim();
        let values = a
            .as_slice()
            .map_err(|_| PyValueError::new_err(format!("{name}: not C-contiguous")))?
            .to_vec();
        Ok(Samples {
            values,
            n: shape.0,
            d: shape.1,
        })
    };
    let (xs, ys) = (samples(&x, "x")?, samples(&y, "y")?);
    if xs.d != ys.d {
        return Err(PyValueError::new_err(format!(
            "x has {} columns but y has {}",
            xs.d, ys.d
        )));
    }
    let backend = self::backend(backend)?;
    let gpu = backend == Backend::Wgpu;
    let m = py
        .detach(|| {
            let device = backend.device()?;
            if gpu && dtype == DType::F64 && !portable {
                return Err(TrainError::Usage(
                    "dtype float64 on backend wgpu: the fused GPU kernels are f32; pass \
                     float32 arrays, or portable=True for burn's dense tensor ops"
                        .into(),
                ));
            }
            measure(
                &xs,
                &ys,
                &how,
                &device,
                MeasureOptions {
                    dtype,
                    want_plan: false,
                    portable,
                    scale,
                },
            )
        })
        .map_err(py_err)?;
    let json = serde_json::to_string(&m).map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
    let grad = numpy::ndarray::Array2::from_shape_vec((xs.n, xs.d), m.grad_x)
        .map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
    Ok((json, grad.into_pyarray(py)))
}

/// A numpy array's slice, or a `ValueError` when it is not C-contiguous.
fn contiguous<'a, T>(a: Result<&'a [T], numpy::AsSliceError>, name: &str) -> PyResult<&'a [T]> {
    a.map_err(|_| PyValueError::new_err(format!("{name}: not C-contiguous")))
}

/// fairlearn's metrics of binary predictions (`fairrep audit-predictions`): labels and
/// predictions as booleans, group ids indexing `names`, optional scores. Returns JSON.
#[pyfunction]
#[pyo3(signature = (y_true, y_pred, group, names, y_score=None))]
fn audit_predictions(
    y_true: PyReadonlyArray1<'_, bool>,
    y_pred: PyReadonlyArray1<'_, bool>,
    group: PyReadonlyArray1<'_, i64>,
    names: Vec<String>,
    y_score: Option<PyReadonlyArray1<'_, f64>>,
) -> PyResult<String> {
    let (t, p) = (
        contiguous(y_true.as_slice(), "y_true")?,
        contiguous(y_pred.as_slice(), "y_pred")?,
    );
    let g: Vec<usize> = group
        .as_array()
        .iter()
        .map(|&v| usize::try_from(v).unwrap_or(usize::MAX))
        .collect();
    let scores = y_score.as_ref().map(|s| s.as_array().to_vec());
    let audit = fairrep_metrics::binary_audit(t, p, scores.as_deref(), &g, &names)
        .map_err(|e| PyValueError::new_err(chain(&e)))?;
    serde_json::to_string(&audit).map_err(|e| PyRuntimeError::new_err(e.to_string()))
}

/// Training's observer from Python: a progress bar on stderr (unless `verbose == 0`), and
/// Python's signal handlers run after every step, so Ctrl-C stops the run between two steps.
struct PyObserver {
    verbose: u8,
    bar: Option<indicatif::ProgressBar>,
    interrupted: Option<PyErr>,
}

impl Observer for PyObserver {
    fn epoch_start(&mut self, epoch: usize, epochs: usize, steps: usize) {
        if self.verbose > 0 {
            let bar = indicatif::ProgressBar::new(steps as u64);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "epoch {msg} [{bar:30}] {pos}/{len} steps {elapsed}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            bar.set_message(format!("{epoch:>4}/{epochs}"));
            self.bar = Some(bar);
        }
    }

    fn step(&mut self, _task_loss: f64, _penalty: Option<f64>) {
        if let Some(bar) = &self.bar {
            bar.inc(1);
        }
        if let Err(e) = Python::attach(|py| py.check_signals()) {
            self.interrupted = Some(e);
        }
    }

    fn epoch_end(&mut self, _record: &fairrep_report::EpochRecord) {
        if let Some(bar) = self.bar.take() {
            bar.finish();
        }
    }

    fn interrupted(&mut self) -> bool {
        self.interrupted.is_some()
    }
}

/// Trains a run as `fairrep train` does (the same run directory); returns the report's JSON
/// (`report.json` for the deep method, the FERM report for `[method] kind = "ferm"`).
#[pyfunction]
#[pyo3(signature = (config, out, *, overrides=Vec::new(), backend="flex", force=false, resume=false, verbose=1))]
#[allow(clippy::too_many_arguments)] // Python's keyword arguments
fn train(
    py: Python<'_>,
    config: PathBuf,
    out: PathBuf,
    overrides: Vec<String>,
    backend: &str,
    force: bool,
    resume: bool,
    verbose: u8,
) -> PyResult<String> {
    let overrides = overrides
        .iter()
        .map(|o| o.parse::<Override>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| PyValueError::new_err(format!("overrides: {e}")))?;
    let opts = RunOptions {
        config,
        out,
        force,
        backend: self::backend(backend)?,
        overrides,
        resume,
    };
    let mut observer = PyObserver {
        verbose,
        bar: None,
        interrupted: None,
    };
    let outcome = py.detach(|| fairrep_run::run_any(&opts, &mut observer));
    if let Some(bar) = observer.bar.take() {
        bar.abandon();
    }
    let outcome = outcome.map_err(|e| match (e, observer.interrupted.take()) {
        (TrainError::Interrupted { resume }, Some(signal)) => {
            // Python's own exception (KeyboardInterrupt, or what a handler raised), with what
            // was kept.
            let message = format!("training interrupted: {resume}");
            let new = PyKeyboardInterrupt::new_err(message);
            new.set_cause(py, Some(signal));
            new
        }
        (e, _) => py_err(e),
    })?;
    let json = match outcome {
        fairrep_run::Outcome::Deep(report) => serde_json::to_string(&report),
        fairrep_run::Outcome::Ferm(report) => serde_json::to_string(&report),
    };
    json.map_err(|e| PyRuntimeError::new_err(e.to_string()))
}

/// z, `[n, r]`, as a numpy array and the row counts as JSON.
fn z_and_counts(
    py: Python<'_>,
    encoded: fairrep_run::inference::EncodedRows,
    r: usize,
) -> PyResult<(Bound<'_, PyArray2<f32>>, String)> {
    let n = encoded.z.len() / r.max(1);
    let z = numpy::ndarray::Array2::from_shape_vec((n, r), encoded.z)
        .map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
    let counts = serde_json::to_string(&encoded.counts)
        .map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
    Ok((z.into_pyarray(py), counts))
}

/// Rows of a batch encoded at a time (as `fairrep encode` reads a file).
const BATCH_ROWS: usize = 65_536;

/// The representation z of rows held in memory as typed columns, through the run's fitted
/// preprocessing: column `j` is `numbers[j]` (float64, NaN missing; read without a copy) or
/// `codes[j]` into `levels[j]` (int64, negative missing). Returns z, `[n, r]` float32 (a row
/// dropped for a missing value under `missing = "drop_rows"` is NaN), and the row counts as
/// JSON.
#[pyfunction]
#[pyo3(signature = (run, columns, numbers, codes, levels, *, backend="flex"))]
fn encode_arrays<'py>(
    py: Python<'py>,
    run: PathBuf,
    columns: Vec<String>,
    numbers: Vec<Option<PyReadonlyArray1<'py, f64>>>,
    codes: Vec<Option<PyReadonlyArray1<'py, i64>>>,
    mut levels: Vec<Option<Vec<String>>>,
    backend: &str,
) -> PyResult<(Bound<'py, PyArray2<f32>>, String)> {
    if numbers.len() != columns.len()
        || codes.len() != columns.len()
        || levels.len() != columns.len()
    {
        return Err(PyValueError::new_err(format!(
            "{} column names but {} number, {} code and {} level columns",
            columns.len(),
            numbers.len(),
            codes.len(),
            levels.len()
        )));
    }
    let mut values = Vec::with_capacity(columns.len());
    for (j, name) in columns.iter().enumerate() {
        values.push(match (&numbers[j], &codes[j], levels[j].take()) {
            (Some(a), None, None) => {
                TypedColumn::Numbers(Cow::Borrowed(contiguous(a.as_slice(), name)?))
            }
            (None, Some(c), Some(l)) => TypedColumn::Codes {
                codes: Cow::Borrowed(contiguous(c.as_slice(), name)?),
                levels: Cow::Owned(l),
            },
            _ => {
                return Err(PyValueError::new_err(format!(
                    "column `{name}`: numbers, or codes with their levels"
                )));
            }
        });
    }
    let backend = self::backend(backend)?;
    let (encoded, r) = py
        .detach(|| {
            let inf = fairrep_run::inference::Inference::load(&run, backend)?;
            let source = Path::new("<rows in memory>");
            let encoded = fairrep_run::inference::encode_typed(
                &inf,
                source,
                columns,
                &values,
                &[],
                BATCH_ROWS,
            )?;
            Ok::<_, TrainError>((encoded, inf.config.model.representation))
        })
        .map_err(py_err)?;
    z_and_counts(py, encoded, r)
}

/// The representation z of Arrow data (an object with `__arrow_c_stream__`: a pyarrow Table or
/// RecordBatchReader, a polars DataFrame, …) through the run's fitted preprocessing, a record
/// batch at a time, read through Arrow's C stream interface. Returns what [`encode_arrays`]
/// returns.
#[pyfunction]
#[pyo3(signature = (run, data, *, backend="flex"))]
fn encode_arrow<'py>(
    py: Python<'py>,
    run: PathBuf,
    data: &Bound<'py, PyAny>,
    backend: &str,
) -> PyResult<(Bound<'py, PyArray2<f32>>, String)> {
    use arrow_array::ffi_stream::{FFI_ArrowArrayStream, RecordBatchStreamReader};
    let capsule = data.call_method0("__arrow_c_stream__")?;
    let capsule = capsule
        .cast::<pyo3::types::PyCapsule>()
        .map_err(|_| PyValueError::new_err("data: __arrow_c_stream__ did not return a capsule"))?;
    let pointer = capsule.pointer_checked(Some(c"arrow_array_stream"))?;
    // SAFETY: the capsule named `arrow_array_stream` holds an `ArrowArrayStream` (the Arrow
    // PyCapsule interface); `from_raw` moves it out and leaves a released stream behind, which
    // the capsule's destructor then ignores.
    #[allow(unsafe_code)]
    let stream = unsafe { FFI_ArrowArrayStream::from_raw(pointer.as_ptr().cast()) };
    let reader = RecordBatchStreamReader::try_new(stream)
        .map_err(|e| PyValueError::new_err(format!("data: not an Arrow stream ({e})")))?;
    let backend = self::backend(backend)?;
    let (encoded, r) = py
        .detach(|| {
            let inf = fairrep_run::inference::Inference::load(&run, backend)?;
            let source = Path::new("<Arrow data>");
            let mut z = Vec::new();
            let mut counts = fairrep_run::inference::RowCounts::default();
            for batch in reader {
                let batch = batch.map_err(|e| {
                    TrainError::Data(fairrep_data::DataError::Schema(format!(
                        "{}: cannot read a record batch ({e})",
                        source.display()
                    )))
                })?;
                let (names, values, unreadable) = fairrep_data::columns::from_arrow(&batch);
                let e = fairrep_run::inference::encode_typed(
                    &inf,
                    source,
                    names,
                    &values,
                    &unreadable,
                    BATCH_ROWS,
                )?;
                z.extend_from_slice(&e.z);
                counts.merge(e.counts);
            }
            let encoded = fairrep_run::inference::EncodedRows { z, counts };
            Ok::<_, TrainError>((encoded, inf.config.model.representation))
        })
        .map_err(py_err)?;
    z_and_counts(py, encoded, r)
}

/// How `encode_file` and `predict_file` read their input (the CLI's `--header`,
/// `--skip-rows`, `--delimiter`).
fn input_options(
    header: bool,
    skip_rows: usize,
    delimiter: Option<char>,
) -> fairrep_run::inference::InputOptions {
    fairrep_run::inference::InputOptions {
        header,
        skip_rows,
        delimiter,
        batch_rows: BATCH_ROWS,
    }
}

/// `fairrep encode --run RUN --input INPUT --out OUT` (the run's reading settings): writes z
/// to `out` (`.npy`, `.csv`, `.parquet`); returns the row counts as JSON.
#[pyfunction]
#[pyo3(signature = (run, input, out, *, header=false, skip_rows=0, delimiter=None, backend="flex"))]
#[allow(clippy::too_many_arguments)] // Python's keyword arguments
fn encode_file(
    py: Python<'_>,
    run: PathBuf,
    input: PathBuf,
    out: PathBuf,
    header: bool,
    skip_rows: usize,
    delimiter: Option<char>,
    backend: &str,
) -> PyResult<String> {
    let backend = self::backend(backend)?;
    let counts = py
        .detach(|| {
            let inf = fairrep_run::inference::Inference::load(&run, backend)?;
            let opts = input_options(header, skip_rows, delimiter);
            fairrep_run::inference::encode_file(&inf, &input, &opts, &out, &[], None)
        })
        .map_err(py_err)?;
    serde_json::to_string(&counts).map_err(|e| PyRuntimeError::new_err(e.to_string()))
}

/// `fairrep predict --run RUN --input INPUT --out OUT [--task …] [--evaluate] --json`: writes
/// the scores to `out` (`.csv`, `.parquet`, …); returns the summary as JSON.
#[pyfunction]
#[pyo3(signature = (
    run, input, out, *, tasks=Vec::new(), header=false, skip_rows=0, delimiter=None,
    evaluate=false, backend="flex"
))]
#[allow(clippy::too_many_arguments)] // Python's keyword arguments
fn predict_file(
    py: Python<'_>,
    run: PathBuf,
    input: PathBuf,
    out: PathBuf,
    tasks: Vec<String>,
    header: bool,
    skip_rows: usize,
    delimiter: Option<char>,
    evaluate: bool,
    backend: &str,
) -> PyResult<String> {
    let backend = self::backend(backend)?;
    let summary = py
        .detach(|| {
            let inf = fairrep_run::inference::Inference::load(&run, backend)?;
            let opts = input_options(header, skip_rows, delimiter);
            let p = fairrep_run::inference::predict_file(
                &inf,
                &input,
                &opts,
                &out,
                (&tasks, &[]),
                evaluate,
            )?;
            p.summary(&inf, &out, evaluate)
        })
        .map_err(py_err)?;
    Ok(summary.to_string())
}

/// `fairrep export --run RUN --out OUT`: safetensors weights, model.json and the standalone
/// Python module; returns the manifest (model.json) as JSON.
#[pyfunction]
#[pyo3(signature = (run, out, *, backend="flex"))]
fn export(py: Python<'_>, run: PathBuf, out: PathBuf, backend: &str) -> PyResult<String> {
    let backend = self::backend(backend)?;
    let manifest = py
        .detach(|| {
            let inf = fairrep_run::inference::Inference::load(&run, backend)?;
            fairrep_run::export::export(&inf, &out)
        })
        .map_err(py_err)?;
    serde_json::to_string(&manifest).map_err(|e| PyRuntimeError::new_err(e.to_string()))
}

/// The resolved config of the run directory `run` (its `config.toml`, defaults filled in), as
/// JSON.
#[pyfunction]
fn run_config(run: PathBuf) -> PyResult<String> {
    let path = run.join(fairrep_report::files::CONFIG);
    if !path.is_file() {
        return Err(PyValueError::new_err(format!(
            "{}: not a run directory (no {})",
            run.display(),
            fairrep_report::files::CONFIG
        )));
    }
    let config = fairrep_config::Config::load(&path).map_err(|e| py_err(e.into()))?;
    serde_json::to_string(&config).map_err(|e| PyRuntimeError::new_err(e.to_string()))
}

/// The module.
#[pymodule]
fn _fairrep(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("BURN_VERSION", fairrep_run::BURN_VERSION)?;
    m.add_function(wrap_pyfunction!(backends, m)?)?;
    m.add_function(wrap_pyfunction!(divergence, m)?)?;
    m.add_function(wrap_pyfunction!(audit_predictions, m)?)?;
    m.add_function(wrap_pyfunction!(train, m)?)?;
    m.add_function(wrap_pyfunction!(encode_arrays, m)?)?;
    m.add_function(wrap_pyfunction!(encode_arrow, m)?)?;
    m.add_function(wrap_pyfunction!(encode_file, m)?)?;
    m.add_function(wrap_pyfunction!(predict_file, m)?)?;
    m.add_function(wrap_pyfunction!(export, m)?)?;
    m.add_function(wrap_pyfunction!(run_config, m)?)?;
    Ok(())
}
