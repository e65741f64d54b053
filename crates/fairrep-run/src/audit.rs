//! The bias audit of a trained run: the outcome metrics of its report (with bootstrap
//! intervals) and how much the representation itself says about the sensitive group on the test
//! split — the MMD² and the Sinkhorn divergence between each pair of groups, and three probes
//! (adversaries fitted on the training split's representation to tell each group from the
//! rest: a logistic regression, a one-hidden-layer MLP and gradient-boosted trees) with their
//! test accuracy and AUC
//! next to the majority-class baseline.

use crate::error::TrainError;
use crate::metrics::eval_rows;
use crate::seeds::{Stream, derive_seed};
use fairrep_data::{Prepared, Split};
use fairrep_heads::{LogisticRegression, MlpClassifier, MlpSettings};
use fairrep_losses::divergence::Divergence;
use fairrep_losses::{Mmd, Sinkhorn};
use fairrep_report::{PairDivergence, Probe, ProbeKind};

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

/// The representation part of the audit.
pub fn representation(
    data: &Prepared,
    (z_train, z_test): (&[f32], &[f32]),
    r: usize,
    seed: u64,
) -> Result<(Vec<PairDivergence>, Vec<Probe>), TrainError> {
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
    for k in probe_groups {
        let ytr: Vec<bool> = data.train.s.iter().map(|&s| s == k).collect();
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
                seed: derive_seed(seed, Stream::Probe(k)),
                ..MlpSettings::default()
            },
        );
        let gbdt =
            fairrep_heads::Gbdt::fit(z_train, r, &ytr, fairrep_heads::GbdtSettings::default());
        let majority = ytr.iter().filter(|&&v| v).count() * 2 >= ytr.len();
        let base = yte.iter().filter(|&&y| y == majority).count();
        let n = yte.len().max(1) as f64;
        for (kind, p) in [
            (ProbeKind::Linear, model.predict_proba(z_test)),
            (ProbeKind::Mlp, mlp.predict_proba(z_test)),
            (ProbeKind::Gbdt, gbdt.predict_proba(z_test)),
        ] {
            let correct = p
                .iter()
                .zip(&yte)
                .filter(|(p, y)| (**p >= 0.5) == **y)
                .count();
            probes.push(Probe {
                kind,
                group: data.groups[k].clone(),
                accuracy: correct as f64 / n,
                auc: fairrep_metrics::roc_auc(&yte, &p).ok().flatten(),
                majority_baseline: base as f64 / n,
            });
        }
    }
    Ok((divergences, probes))
}
