//! `fairrep export`.

use crate::args::RunDir;
use fairrep_run::export::files;

/// Export a trained run for other stacks: safetensors weights, model.json, a Python module.
///
/// Writes into --out: model.safetensors (the encoder and every head, PyTorch's names and
/// layouts: encoder.layers.{i}.weight [out, in], heads.weight [tasks, r],
/// transfer.{task}.weight …), model.json (architecture, activations, the fitted preprocessing,
/// tasks, threshold, post-processing, versions) and fairrep_encoder.py (numpy + safetensors:
/// reproduces `fairrep encode`; builds a torch.nn.Module when torch is installed).
///
/// Example:
///   fairrep export --run runs/quickstart-1 --out export/
///   python3 export/fairrep_encoder.py --model export --input new.csv --out z.csv
#[derive(clap::Args, Debug)]
#[command(verbatim_doc_comment)]
pub struct Args {
    #[command(flatten)]
    run: RunDir,
    /// The export directory (created; its files are replaced).
    #[arg(long)]
    out: std::path::PathBuf,
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<()> {
    let inf = fairrep_run::inference::Inference::load(&args.run.run, args.run.backend.into())?;
    let manifest = fairrep_run::export::export(&inf, &args.out)?;
    let summary = serde_json::json!({
        "out": args.out,
        "files": [files::WEIGHTS, files::MANIFEST, files::PYTHON],
        "encoder_layers": manifest.encoder.layers.len(),
        "source_heads": manifest.source_heads.tasks.len(),
        "transfer_heads": manifest.transfer_heads.len(),
    });
    println!("{}", serde_json::to_string_pretty(&summary)?);
    Ok(())
}
