//! A small MLP classifier in plain Rust (one ReLU hidden layer, sigmoid output, Adam on
//! mini-batches, seeded): the non-linear adversary probe of the bias audit, which tells the
//! group from the representation where a linear probe cannot, and the optional MLP transfer
//! head (`transfer.head = "mlp"`).

use rand::{Rng, SeedableRng, seq::SliceRandom};
use rand_chacha::ChaCha8Rng;

/// Training settings of [`MlpClassifier`] (a vocabulary type of `fairrep-types`, so that the
/// config can name its defaults without this crate).
pub use fairrep_types::MlpSettings;

/// A fitted MLP `σ(v·relu(W x + b) + c)`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MlpClassifier {
    /// Input dimension.
    pub d: usize,
    /// Hidden units.
    pub hidden: usize,
    /// `W` `[hidden, d]` then `b` `[hidden]`, `v` `[hidden]`, `c`.
    pub params: Vec<f64>,
}

impl MlpClassifier {
    fn forward(&self, x: &[f32], h: &mut [f64]) -> f64 {
        let (d, k) = (self.d, self.hidden);
        let (w, rest) = self.params.split_at(k * d);
        let (b, rest) = rest.split_at(k);
        let (v, c) = rest.split_at(k);
        let mut out = c[0];
        for j in 0..k {
            let a = w[j * d..(j + 1) * d]
                .iter()
                .zip(x)
                .map(|(wj, &xi)| wj * f64::from(xi))
                .sum::<f64>()
                + b[j];
            h[j] = a.max(0.0);
            out += v[j] * h[j];
        }
        out
    }

    /// Fits on `x` (row-major `[n, d]`) and labels `y` by minimising the mean log-loss.
    pub fn fit(x: &[f32], d: usize, y: &[bool], s: MlpSettings) -> Self {
        let n = y.len();
        assert_eq!(x.len(), n * d, "x has n × d values");
        let k = s.hidden;
        let mut rng = ChaCha8Rng::seed_from_u64(s.seed);
        let scale = (2.0 / d.max(1) as f64).sqrt();
        let mut params: Vec<f64> = (0..k * d)
            .map(|_| rng.random_range(-1.0..1.0) * scale)
            .collect();
        params.extend(std::iter::repeat_n(0.0, k)); // b
        params.extend((0..k).map(|_| rng.random_range(-1.0..1.0) * (1.0 / k as f64).sqrt()));
        params.push(0.0); // c
        let mut model = Self {
            d,
            hidden: k,
            params,
        };
        let np = model.params.len();
        let (mut m1, mut m2) = (vec![0.0; np], vec![0.0; np]);
        let (beta1, beta2, eps): (f64, f64, f64) = (0.9, 0.999, 1e-8);
        let mut order: Vec<usize> = (0..n).collect();
        let mut h = vec![0.0; k];
        let mut grad = vec![0.0; np];
        let mut t = 0;
        for _ in 0..s.epochs {
            order.shuffle(&mut rng);
            for rows in order.chunks(s.batch.max(1)) {
                grad.iter_mut().for_each(|g| *g = 0.0);
                for &i in rows {
                    let xi = &x[i * d..(i + 1) * d];
                    let out = model.forward(xi, &mut h);
                    // d(log-loss)/d(out) = σ(out) − y.
                    let e = 1.0 / (1.0 + (-out).exp()) - f64::from(u8::from(y[i]));
                    let (gw, rest) = grad.split_at_mut(k * d);
                    let (gb, rest) = rest.split_at_mut(k);
                    let (gv, gc) = rest.split_at_mut(k);
                    gc[0] += e;
                    let v = &model.params[k * d + k..k * d + 2 * k];
                    for j in 0..k {
                        gv[j] += e * h[j];
                        if h[j] > 0.0 {
                            let back = e * v[j];
                            gb[j] += back;
                            for (g, &xv) in gw[j * d..(j + 1) * d].iter_mut().zip(xi) {
                                *g += back * f64::from(xv);
                            }
                        }
                    }
                }
                t += 1;
                let inv = 1.0 / rows.len() as f64;
                let (c1, c2) = (1.0 - beta1.powi(t), 1.0 - beta2.powi(t));
                for (p, ((g, a), b)) in model
                    .params
                    .iter_mut()
                    .zip(grad.iter().zip(m1.iter_mut()).zip(m2.iter_mut()))
                {
                    let g = g * inv + s.l2 * *p;
                    *a = beta1 * *a + (1.0 - beta1) * g;
                    *b = beta2 * *b + (1.0 - beta2) * g * g;
                    *p -= s.learning_rate * (*a / c1) / ((*b / c2).sqrt() + eps);
                }
            }
        }
        model
    }

    /// `P(y = 1 | x)` for each row of `x` (row-major `[n, d]`).
    pub fn predict_proba(&self, x: &[f32]) -> Vec<f64> {
        let mut h = vec![0.0; self.hidden];
        x.chunks_exact(self.d.max(1))
            .map(|r| 1.0 / (1.0 + (-self.forward(r, &mut h)).exp()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::LogisticRegression;

    #[test]
    fn the_mlp_learns_what_a_linear_probe_cannot() {
        // XOR of the signs of two coordinates: no linear model beats chance, the MLP does.
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let n = 2_000;
        let x: Vec<f32> = (0..2 * n).map(|_| rng.random_range(-1.0f32..1.0)).collect();
        let y: Vec<bool> = x.chunks(2).map(|r| (r[0] > 0.0) != (r[1] > 0.0)).collect();
        let acc = |p: Vec<f64>| {
            p.iter()
                .zip(&y)
                .filter(|(p, y)| (**p >= 0.5) == **y)
                .count() as f64
                / n as f64
        };
        let mlp = MlpClassifier::fit(&x, 2, &y, MlpSettings::default());
        let linear = LogisticRegression::fit(&x, 2, &y, 1e-4).unwrap();
        let (a_mlp, a_lin) = (acc(mlp.predict_proba(&x)), acc(linear.predict_proba(&x)));
        assert!(a_mlp > 0.9, "MLP accuracy {a_mlp}");
        assert!(
            a_lin < 0.65 && a_mlp > a_lin + 0.25,
            "linear accuracy {a_lin}"
        );
        // Reproducible by seed.
        assert_eq!(mlp, MlpClassifier::fit(&x, 2, &y, MlpSettings::default()));
    }
}
