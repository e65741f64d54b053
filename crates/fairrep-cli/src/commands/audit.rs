//! `fairrep audit`.

use crate::args::RunDir;
use fairrep_report::health::warning_lines;
use fairrep_report::{files, task_table};

/// Audit a run: task metrics with intervals, divergences and probes of the representation.
///
/// Re-evaluates the run (every task's test metrics with 95% bootstrap intervals), measures the
/// MMD² and the Sinkhorn divergence between the groups' test representations, and fits three
/// probes of the group from the representation (logistic regression, a one-hidden-layer MLP of
/// 128 units, and gradient-boosted trees whose depth, leaf size and rounds are chosen on the
/// validation split), whose accuracy, AUC and balanced accuracy (with its 95% interval) are
/// printed next to the majority-class baseline. The strongest probe (by validation balanced
/// accuracy) gives a 95% lower bound on the total variation between the groups' z: some
/// downstream classifier of z has at least that demographic parity gap. Writes audit.json in
/// the run directory.
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
    print!("{}", warning_lines(&a.warnings));
    for d in &a.divergences {
        println!(
            "representation, {} vs {}: MMD² {:.5} (σ = {:.3}), Sinkhorn {:.5}",
            d.a, d.b, d.mmd2, d.sigma, d.sinkhorn
        );
    }
    for p in &a.probes {
        println!(
            "{} probe of `{}` from z: accuracy {:.4} (majority baseline {:.4}), AUC {}, balanced accuracy {:.4}{}{}",
            p.kind,
            p.group,
            p.accuracy,
            p.majority_baseline,
            p.auc.map_or("–".into(), |v| format!("{v:.4}")),
            p.balanced_accuracy,
            p.balanced_accuracy_ci95
                .map_or(String::new(), |[lo, hi]| format!(" [{lo:.4}, {hi:.4}]")),
            p.settings
                .as_ref()
                .map_or(String::new(), |s| format!("; {s}"))
        );
    }
    for s in &a.strongest {
        println!(
            "strongest probe of `{}` ({}): balanced accuracy {:.4} [{:.4}, {:.4}] → with 95% confidence some classifier of z has a parity gap of at least {:.4} between `{}` and the rest",
            s.group, s.kind, s.balanced_accuracy, s.ci95[0], s.ci95[1], s.tv_lower_bound, s.group
        );
    }
    println!("{}", args.run.run.join(files::AUDIT).display());
    Ok(())
}
