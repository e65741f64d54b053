//! `fairrep audit`.

use crate::args::RunDir;
use fairrep_report::{files, task_table};

/// Audit a run: task metrics with intervals, divergences and probes of the representation.
///
/// Re-evaluates the run (every task's test metrics with 95% bootstrap intervals), measures the
/// MMD² and the Sinkhorn divergence between the groups' test representations, and fits two
/// probes of the group from the representation (logistic regression and a one-hidden-layer
/// MLP), whose accuracy and AUC are printed next to the majority-class baseline. Writes
/// audit.json in the run directory.
///
/// Example:
///   fairrep audit --run runs/quickstart-1
#[derive(clap::Args, Debug)]
#[command(verbatim_doc_comment)]
pub struct Args {
    #[command(flatten)]
    run: RunDir,
}

/// Runs the command.
pub fn run(args: Args) -> anyhow::Result<()> {
    let a = fairrep_run::audit_run(&args.run.run, args.run.backend.into())?;
    println!("{}", task_table(&a.tasks));
    for d in &a.divergences {
        println!(
            "representation, {} vs {}: MMD² {:.5} (σ = {:.3}), Sinkhorn {:.5}",
            d.a, d.b, d.mmd2, d.sigma, d.sinkhorn
        );
    }
    for p in &a.probes {
        println!(
            "{} probe of `{}` from z: accuracy {:.4} (majority baseline {:.4}), AUC {}",
            p.kind,
            p.group,
            p.accuracy,
            p.majority_baseline,
            p.auc.map_or("–".into(), |v| format!("{v:.4}"))
        );
    }
    println!("{}", args.run.run.join(files::AUDIT).display());
    Ok(())
}
