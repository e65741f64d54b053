//! `fairrep barycenter`.

use crate::tables;
use crate::usage::usage;
use fairrep_data::sink::{Column, Format, Sink, Values};
use fairrep_data::table::Table;
use fairrep_methods::Barycenter;
use fairrep_metrics::regression::score_parity;
use fairrep_run::TrainError;
use std::path::PathBuf;

/// Post-process any model's scores towards demographic parity (Wasserstein barycenter).
///
/// Chzhen et al., NeurIPS 2020: fits each group's score distribution on unlabeled calibration
/// data (CSV with a header, or Parquet), maps every score of the --apply file to the groups' Wasserstein
/// barycenter and writes that file again with the fair score as an extra column. Prints JSON
/// with the largest Kolmogorov–Smirnov and Wasserstein-1 distances between the groups' scores
/// before and after.
///
/// Example:
///   fairrep barycenter --calibrate valid.csv --apply test.csv --score p --group sex --out fair.csv
#[derive(clap::Args, Debug)]
#[command(verbatim_doc_comment, allow_negative_numbers = true)]
pub struct Args {
    /// Calibration data: CSV with a header, or Parquet (labels are not needed).
    #[arg(long)]
    calibrate: PathBuf,
    /// The data to post-process: CSV with a header or Parquet, with the same score and group
    /// columns.
    #[arg(long)]
    apply: PathBuf,
    /// Column of the scores (predictions of any regression model or classifier).
    #[arg(long)]
    score: String,
    /// Column of the sensitive group.
    #[arg(long)]
    group: String,
    /// Where to write the --apply file with the fair score added: .csv, .csv.gz or .parquet.
    #[arg(long)]
    out: PathBuf,
    /// Name of the added column (default: <score>_fair).
    #[arg(long)]
    name: Option<String>,
    /// Half-width of the uniform jitter that breaks ties.
    #[arg(long, default_value_t = 1e-5)]
    jitter: f64,
    /// Seed of the calibration split and the jitter.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Field delimiter.
    #[arg(long, default_value_t = ',')]
    delimiter: char,
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<()> {
    if !(args.jitter >= 0.0 && args.jitter.is_finite()) {
        return Err(usage(format!(
            "--jitter {} must be a finite number ≥ 0",
            args.jitter
        )));
    }
    let cal = tables::read_with_rows(&args.calibrate, args.delimiter)?;
    let app = tables::read_with_rows(&args.apply, args.delimiter)?;
    let cols = |t: &Table| -> Result<(usize, usize), TrainError> {
        Ok((
            t.column(&args.score, "--score")?,
            t.column(&args.group, "--group")?,
        ))
    };
    let ((cs, cg), (as_, ag)) = (cols(&cal)?, cols(&app)?);
    // Groups: the calibration file's values, sorted; the applied file may only use those.
    let names = tables::distinct(&cal, cg);
    let where_ = format!("the calibration file {}", args.calibrate.display());
    let (cal_scores, cal_groups) = (
        tables::numeric_column(&cal, cs, &args.calibrate)?,
        tables::group_ids(&cal, cg, &args.calibrate, &names, &where_)?,
    );
    let (scores, groups) = (
        tables::numeric_column(&app, as_, &args.apply)?,
        tables::group_ids(&app, ag, &args.apply, &names, &where_)?,
    );
    for (g, name) in names.iter().enumerate() {
        let count = cal_groups.iter().filter(|&&h| h == g).count();
        if count < 2 {
            return Err(usage(format!(
                "{}: group `{name}` has {count} calibration score(s); the barycenter needs at least 2 per group",
                args.calibrate.display()
            )));
        }
    }
    let what = |path: &std::path::Path| format!("--score {} in {}", args.score, path.display());
    let fitted = Barycenter::fit(
        &cal_scores,
        &cal_groups,
        names.len(),
        args.jitter,
        args.seed,
    )
    .map_err(|source| TrainError::Barycenter {
        what: what(&args.calibrate),
        source,
    })?;
    let fair = fitted
        .apply(&scores, &groups, args.seed)
        .map_err(|source| TrainError::Barycenter {
            what: what(&args.apply),
            source,
        })?;
    let name = args
        .name
        .clone()
        .unwrap_or_else(|| format!("{}_fair", args.score));
    if app.columns.contains(&name) {
        return Err(usage(format!(
            "{} already has a column `{name}`; choose another with --name",
            args.apply.display()
        )));
    }
    // The --apply file's columns as text, then the fair score; the format by --out's extension.
    let mut columns: Vec<Column> = (app.columns.iter().enumerate())
        .map(|(c, col)| Column {
            name: col.clone(),
            values: Values::Text(app.rows.iter().map(|r| Some(r[c].to_string())).collect()),
        })
        .collect();
    columns.push(Column {
        name: name.clone(),
        values: Values::F64(fair.iter().map(|&v| Some(v)).collect()),
    });
    if Format::of(&args.out).map_err(TrainError::from)? == Format::Npy {
        return Err(usage(format!(
            "--out {}: the barycenter writes a table (.csv, .csv.gz or .parquet), not .npy",
            args.out.display()
        )));
    }
    let mut sink =
        Sink::create(&args.out, tables::delimiter(args.delimiter)?).map_err(TrainError::from)?;
    sink.write(&columns).map_err(TrainError::from)?;
    sink.finish().map_err(TrainError::from)?;
    let before = score_parity(&scores, &groups, names.len());
    let after = score_parity(&fair, &groups, names.len());
    let summary = serde_json::json!({
        "groups": names,
        "weights": fitted.weights,
        "calibration_rows": cal_scores.len(),
        "rows": fair.len(),
        "before": before,
        "after": after,
        "out": args.out,
    });
    println!("{}", serde_json::to_string_pretty(&summary)?);
    Ok(())
}
