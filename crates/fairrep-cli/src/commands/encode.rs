//! `fairrep encode`.

use crate::args::{Input, RunDir};

/// Write the representation z of new rows, with a trained run's preprocessing and encoder.
///
/// Streams the input (memory bounded by --batch-rows, not the file) and writes one output row
/// per input row, in order: the --keep columns, then z0 … z{r-1}. A row with a missing value
/// under the run's `missing = "drop_rows"` keeps its place with empty fields (NaN in .npy); a
/// category never seen in training encodes as all zeros (counted per column, with a warning).
/// Prints a JSON summary of the rows.
///
/// With --cells (after `fairrep certify`), writes the quantised release instead of z: the
/// --keep columns, the cell id `cell` and the cell's training centroid cz0 … cz{r-1} — the
/// release whose parity certificate.json bounds for every downstream classifier (z itself is
/// not covered by the certificate).
///
/// Example:
///   fairrep encode --run runs/quickstart-1 --input new.csv --header --keep id --out z.parquet
///   fairrep encode --run runs/quickstart-1 --input new.csv --header --cells --out cells.csv
#[derive(clap::Args, Debug)]
#[command(verbatim_doc_comment)]
pub struct Args {
    #[command(flatten)]
    run: RunDir,
    #[command(flatten)]
    input: Input,
    /// Write the certified cells (`cell`, centroid cz0 …) instead of z (needs `fairrep certify`).
    #[arg(long)]
    cells: bool,
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<()> {
    let opts = args.input.options()?;
    let partition = args
        .cells
        .then(|| fairrep_run::inference::load_partition(&args.run.run))
        .transpose()?;
    let inf = fairrep_run::inference::Inference::load(&args.run.run, args.run.backend.into())?;
    let counts = fairrep_run::inference::encode_file(
        &inf,
        &args.input.input,
        &opts,
        &args.input.out,
        &args.input.keep,
        partition.as_ref(),
    )?;
    let summary = serde_json::json!({
        "out": args.input.out,
        "representation": inf.config.model.representation,
        "cells": partition.as_ref().map(|p| p.cells),
        "rows": counts,
    });
    println!("{}", serde_json::to_string_pretty(&summary)?);
    Ok(())
}
