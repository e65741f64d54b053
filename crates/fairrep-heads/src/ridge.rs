//! Ridge regression, the transfer head of regression tasks: `ŷ = w·x + b`, minimising
//! `(1/n) Σ (y_i − w·x_i − b)² + λ |w|²` (the intercept unpenalised), in closed form.

// Triangular solves index two arrays at once: index loops read best.
#![allow(clippy::needless_range_loop)]

/// Why a ridge fit failed.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum RidgeError {
    /// Inputs of inconsistent sizes, or no rows.
    #[error("ridge regression: {0}")]
    Shape(String),
    /// The normal equations are singular (λ = 0 with collinear features).
    #[error("ridge regression: the normal equations are singular (use an L2 weight > 0)")]
    Singular,
}

/// A fitted linear regression.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RidgeRegression {
    /// Weights, one per feature.
    pub weights: Vec<f64>,
    /// Intercept.
    pub bias: f64,
}

impl RidgeRegression {
    /// Fits on `x` (row-major `[n, d]`) and targets `y` with L2 weight `l2` (on the mean
    /// squared error): `(X̃ᵀX̃/n + λI) w = X̃ᵀỹ/n` on centred data, by Cholesky.
    pub fn fit(x: &[f32], d: usize, y: &[f64], l2: f64) -> Result<Self, RidgeError> {
        let n = y.len();
        if n == 0 || x.len() != n * d {
            return Err(RidgeError::Shape(format!(
                "{} values for {n} rows of {d} features",
                x.len()
            )));
        }
        let row = |i: usize| &x[i * d..(i + 1) * d];
        let mut xm = vec![0.0f64; d];
        for i in 0..n {
            for (m, &v) in xm.iter_mut().zip(row(i)) {
                *m += f64::from(v) / n as f64;
            }
        }
        let ym = y.iter().sum::<f64>() / n as f64;
        // A = X̃ᵀX̃/n + λI (lower triangle), c = X̃ᵀỹ/n.
        let mut a = vec![0.0f64; d * d];
        let mut c = vec![0.0f64; d];
        let mut xc = vec![0.0f64; d];
        for i in 0..n {
            for ((xk, &v), m) in xc.iter_mut().zip(row(i)).zip(&xm) {
                *xk = f64::from(v) - m;
            }
            let yc = y[i] - ym;
            for j in 0..d {
                c[j] += xc[j] * yc / n as f64;
                for k in 0..=j {
                    a[j * d + k] += xc[j] * xc[k] / n as f64;
                }
            }
        }
        for j in 0..d {
            a[j * d + j] += l2;
        }
        // Cholesky A = L Lᵀ, in place (lower triangle).
        for j in 0..d {
            let mut diag = a[j * d + j];
            for k in 0..j {
                diag -= a[j * d + k] * a[j * d + k];
            }
            if diag.is_nan() || diag <= 1e-12 {
                return Err(RidgeError::Singular);
            }
            let ljj = diag.sqrt();
            a[j * d + j] = ljj;
            for i in j + 1..d {
                let mut v = a[i * d + j];
                for k in 0..j {
                    v -= a[i * d + k] * a[j * d + k];
                }
                a[i * d + j] = v / ljj;
            }
        }
        // Solve L z = c, then Lᵀ w = z.
        let mut w = c;
        for i in 0..d {
            for k in 0..i {
                w[i] -= a[i * d + k] * w[k];
            }
            w[i] /= a[i * d + i];
        }
        for i in (0..d).rev() {
            for k in i + 1..d {
                w[i] -= a[k * d + i] * w[k];
            }
            w[i] /= a[i * d + i];
        }
        let bias = ym - w.iter().zip(&xm).map(|(a, b)| a * b).sum::<f64>();
        Ok(Self { weights: w, bias })
    }

    /// Predictions for the rows of `x` (row-major `[n, d]`).
    pub fn predict(&self, x: &[f32]) -> Vec<f64> {
        x.chunks_exact(self.weights.len().max(1))
            .map(|r| {
                r.iter()
                    .zip(&self.weights)
                    .map(|(&v, w)| f64::from(v) * w)
                    .sum::<f64>()
                    + self.bias
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovers_an_exact_linear_model_and_matches_the_normal_equations() {
        // y = 2 x0 − x1 + 3, no noise: λ → 0 recovers it.
        let x: Vec<f32> = (0..50)
            .flat_map(|i| [(i % 7) as f32, ((i * 3) % 11) as f32])
            .collect();
        let y: Vec<f64> = x
            .chunks(2)
            .map(|r| 2.0 * f64::from(r[0]) - f64::from(r[1]) + 3.0)
            .collect();
        let m = RidgeRegression::fit(&x, 2, &y, 1e-12).unwrap();
        assert!((m.weights[0] - 2.0).abs() < 1e-8 && (m.weights[1] + 1.0).abs() < 1e-8);
        assert!((m.bias - 3.0).abs() < 1e-8);
        // With λ > 0, in one dimension: w = cov(x, y) / (var(x) + λ).
        let x1: Vec<f32> = (0..10).map(|i| i as f32).collect();
        let y1: Vec<f64> = (0..10)
            .map(|i| 0.5 * i as f64 + if i % 2 == 0 { 1.0 } else { -1.0 })
            .collect();
        let lam = 0.7;
        let m = RidgeRegression::fit(&x1, 1, &y1, lam).unwrap();
        let (xm, ym) = (4.5, y1.iter().sum::<f64>() / 10.0);
        let cov = (0..10).map(|i| (i as f64 - xm) * (y1[i] - ym)).sum::<f64>() / 10.0;
        let var = (0..10).map(|i| (i as f64 - xm).powi(2)).sum::<f64>() / 10.0;
        assert!((m.weights[0] - cov / (var + lam)).abs() < 1e-12);
        assert!((m.bias - (ym - m.weights[0] * xm)).abs() < 1e-12);
        assert_eq!(m.predict(&[0.0]), vec![m.bias]);
        // Collinear features without regularisation: a named error.
        let xc: Vec<f32> = (0..10).flat_map(|i| [i as f32, 2.0 * i as f32]).collect();
        assert_eq!(
            RidgeRegression::fit(&xc, 2, &y1, 0.0),
            Err(RidgeError::Singular)
        );
    }
}
