//! The bias audit of a trained run: the outcome metrics of its report (with bootstrap
//! intervals) and how much the representation itself says about the sensitive group on the test
//! split — the MMD² and the Sinkhorn divergence between each pair of groups, and three probes
//! (adversaries fitted on the training split's representation to tell each group from the
//! rest: a logistic regression, a one-hidden-layer MLP of 128 units and gradient-boosted trees
//! whose depth, leaf size and rounds are chosen on the validation split) with their test
//! accuracy, AUC and balanced accuracy (with its 95% interval) next to the majority-class
//! baseline. The strongest probe by validation balanced accuracy gives a 95% lower bound on the
//! total variation between the groups' representations.

use crate::error::TrainError;
use crate::metrics::eval_rows;
use crate::seeds::{Stream, derive_seed};
use fairrep_data::{Prepared, Split};
use fairrep_heads::{LogisticRegression, MlpClassifier, MlpSettings};
use fairrep_losses::divergence::Divergence;
use fairrep_losses::{Mmd, Sinkhorn};
use fairrep_report::{PairDivergence, Probe, ProbeKind, StrongestProbe};

/// Rows of `z` (`[n, r]`, row-major) as an f64 tensor on the CPU.
fn rows_tensor(z: &[f32], r: usize, rows: &[usize]) -> burn::Tensor<2> {
    let mut v = Vec::with_capacity(rows.len() * r);
    for &i in rows {
        v.extend(z[i * r..(i + 1) * r].iter().map(|&x| x as f64));
    }
    let device = burn::tensor::Device::flex();
    burn::Tensor::from_data(
        burn::tensor::TensorData::new(v, [rows.len(), r]),
        (&device, burn::tensor::DType::F64),
    )
}

/// Balanced accuracy and its 95% interval: Clopper–Pearson at 97.5% for the rate right among
/// the group's rows and among the others (a union bound; `None` when either has no row).
fn balanced_accuracy(p: &[f64], y: &[bool]) -> (f64, Option<[f64; 2]>) {
    let (mut tp, mut pos, mut tn, mut neg) = (0usize, 0usize, 0usize, 0usize);
    for (&p, &y) in p.iter().zip(y) {
        if y {
            pos += 1;
            tp += usize::from(p >= 0.5);
        } else {
            neg += 1;
            tn += usize::from(p < 0.5);
        }
    }
    if pos == 0 || neg == 0 {
        return (0.5, None);
    }
    let (tpr, tnr) = (tp as f64 / pos as f64, tn as f64 / neg as f64);
    let a = fairrep_certify::clopper_pearson(tp as f64, pos as f64, 0.025);
    let b = fairrep_certify::clopper_pearson(tn as f64, neg as f64, 0.025);
    (
        0.5 * (tpr + tnr),
        Some([0.5 * (a.0 + b.0), 0.5 * (a.1 + b.1)]),
    )
}

/// The representation part of the audit: divergences between the groups, the probes, and the
/// strongest probe of each group.
pub type RepresentationAudit = (Vec<PairDivergence>, Vec<Probe>, Vec<StrongestProbe>);

/// The representation part of the audit.
pub fn representation(
    data: &Prepared,
    (z_train, z_valid, z_test): (&[f32], &[f32], &[f32]),
    r: usize,
    seed: u64,
) -> Result<RepresentationAudit, TrainError> {
    let test: &Split = &data.test;
    let rows = eval_rows(test.n, seed);
    let rms = (z_test.iter().map(|&v| (v as f64) * (v as f64)).sum::<f64>()
        / z_test.len().max(1) as f64)
        .sqrt()
        .max(1e-12);
    let g = data.groups.len();
    let mut divergences = Vec::new();
    for a in 0..g {
        for b in a + 1..g {
            let ra: Vec<usize> = rows.iter().copied().filter(|&i| test.s[i] == a).collect();
            let rb: Vec<usize> = rows.iter().copied().filter(|&i| test.s[i] == b).collect();
            if ra.is_empty() || rb.is_empty() {
                continue;
            }
            let (xa, xb) = (rows_tensor(z_test, r, &ra), rows_tensor(z_test, r, &rb));
            let mmd = Mmd::default();
            let sigma = mmd.sigmas(&xa, &xb)[0];
            let mmd2 = mmd.uniform(xa.clone(), xb.clone()).into_scalar::<f64>();
            let sinkhorn = Sinkhorn {
                blur: 0.5 * rms,
                scaling: 0.9,
                ..Sinkhorn::default()
            }
            .uniform(xa, xb)
            .into_scalar::<f64>();
            divergences.push(PairDivergence {
                a: data.groups[a].clone(),
                b: data.groups[b].clone(),
                mmd2,
                sigma,
                sinkhorn,
            });
        }
    }
    let probe_groups: Vec<usize> = if g == 2 { vec![1] } else { (0..g).collect() };
    let mut probes = Vec::new();
    let mut strongest = Vec::new();
    for k in probe_groups {
        let ytr: Vec<bool> = data.train.s.iter().map(|&s| s == k).collect();
        let yva: Vec<bool> = data.valid.s.iter().map(|&s| s == k).collect();
        let yte: Vec<bool> = test.s.iter().map(|&s| s == k).collect();
        let model = LogisticRegression::fit(z_train, r, &ytr, 1e-4).map_err(|source| {
            TrainError::Probe {
                group: data.groups[k].clone(),
                source,
            }
        })?;
        let mlp = MlpClassifier::fit(
            z_train,
            r,
            &ytr,
            MlpSettings {
                hidden: 128,
                epochs: 40,
                seed: derive_seed(seed, Stream::Probe(k)),
                ..MlpSettings::default()
            },
        );
        let (gbdt, chosen) = fairrep_heads::Gbdt::fit_tuned(
            z_train,
            r,
            &ytr,
            (z_valid, &yva),
            fairrep_heads::GbdtSettings {
                trees: 300,
                ..fairrep_heads::GbdtSettings::default()
            },
        );
        let majority = ytr.iter().filter(|&&v| v).count() * 2 >= ytr.len();
        let base = yte.iter().filter(|&&y| y == majority).count();
        let n = yte.len().max(1) as f64;
        let first = probes.len();
        for (kind, p, pv, settings) in [
            (
                ProbeKind::Linear,
                model.predict_proba(z_test),
                model.predict_proba(z_valid),
                None,
            ),
            (
                ProbeKind::Mlp,
                mlp.predict_proba(z_test),
                mlp.predict_proba(z_valid),
                None,
            ),
            (
                ProbeKind::Gbdt,
                gbdt.predict_proba(z_test),
                gbdt.predict_proba(z_valid),
                Some(format!(
                    "depth {}, ≥ {} rows per leaf, {} rounds (chosen on the validation split)",
                    chosen.depth, chosen.min_leaf, chosen.trees
                )),
            ),
        ] {
            let correct = p
                .iter()
                .zip(&yte)
                .filter(|(p, y)| (**p >= 0.5) == **y)
                .count();
            let (ba, ci) = balanced_accuracy(&p, &yte);
            probes.push(Probe {
                kind,
                group: data.groups[k].clone(),
                accuracy: correct as f64 / n,
                auc: fairrep_metrics::roc_auc(&yte, &p).ok().flatten(),
                majority_baseline: base as f64 / n,
                balanced_accuracy: ba,
                balanced_accuracy_ci95: ci,
                valid_balanced_accuracy: (!yva.is_empty()).then(|| balanced_accuracy(&pv, &yva).0),
                settings,
            });
        }
        // The strongest probe by validation balanced accuracy (the test split does not choose).
        let best = probes[first..]
            .iter()
            .max_by(|a, b| {
                a.valid_balanced_accuracy
                    .unwrap_or(a.balanced_accuracy)
                    .total_cmp(&b.valid_balanced_accuracy.unwrap_or(b.balanced_accuracy))
            })
            .filter(|p| p.balanced_accuracy_ci95.is_some());
        if let Some(p) = best {
            let ci = p.balanced_accuracy_ci95.unwrap_or([0.0, 1.0]);
            strongest.push(StrongestProbe {
                group: p.group.clone(),
                kind: p.kind,
                balanced_accuracy: p.balanced_accuracy,
                ci95: ci,
                tv_lower_bound: (2.0 * ci[0] - 1.0).max(0.0),
            });
        }
    }
    Ok((divergences, probes, strongest))
}
