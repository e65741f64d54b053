//! L2-regularised logistic regression fitted by Newton's method (plain `f64`).
//!
//! Objective: `(1/n) Σ_i [log(1 + e^{η_i}) − y_i η_i] + (λ/2)‖w‖²` with `η_i = w·x_i + b`
//! (the bias is not penalised). With `λ > 0` it is strictly convex and Newton's method with a
//! backtracking line search converges to the unique minimiser.

/// Why a fit failed.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum LogisticError {
    /// Inputs of inconsistent sizes, or no rows.
    #[error("logistic regression: {0}")]
    Shape(String),
    /// The Newton system could not be solved (e.g. λ = 0 with collinear features).
    #[error("logistic regression: singular Newton system (add L2 regularisation)")]
    Singular,
}

/// A fitted linear logistic model `P(y = 1 | x) = σ(w·x + b)`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LogisticRegression {
    /// Weights, one per feature.
    pub weights: Vec<f64>,
    /// Intercept.
    pub bias: f64,
    /// Newton iterations used.
    pub iterations: usize,
}

fn softplus(t: f64) -> f64 {
    t.max(0.0) + (-t.abs()).exp().ln_1p()
}

fn sigmoid(t: f64) -> f64 {
    if t >= 0.0 {
        1.0 / (1.0 + (-t).exp())
    } else {
        let e = t.exp();
        e / (1.0 + e)
    }
}

impl LogisticRegression {
    /// Fits on `x` (row-major `[n, d]`) and labels `y` with L2 weight `l2`.
    pub fn fit(x: &[f32], d: usize, y: &[bool], l2: f64) -> Result<Self, LogisticError> {
        let n = y.len();
        if n == 0 || x.len() != n * d {
            return Err(LogisticError::Shape(format!(
                "{} labels and {} feature values for {d} features",
                n,
                x.len()
            )));
        }
        let k = d + 1; // weights then bias
        let mut theta = vec![0.0f64; k];
        let row = |i: usize| &x[i * d..(i + 1) * d];
        let eta = |theta: &[f64], i: usize| {
            row(i)
                .iter()
                .zip(theta)
                .map(|(&a, &w)| a as f64 * w)
                .sum::<f64>()
                + theta[d]
        };
        let objective = |theta: &[f64]| {
            let mut s = 0.0;
            for (i, &yi) in y.iter().enumerate() {
                let e = eta(theta, i);
                s += softplus(e) - if yi { e } else { 0.0 };
            }
            s / n as f64 + 0.5 * l2 * theta[..d].iter().map(|w| w * w).sum::<f64>()
        };
        let mut f = objective(&theta);
        let mut iterations = 0;
        for it in 0..100 {
            iterations = it + 1;
            let mut grad = vec![0.0f64; k];
            let mut hess = vec![0.0f64; k * k];
            let mut xi = vec![0.0f64; k];
            xi[d] = 1.0;
            for (i, &yi) in y.iter().enumerate() {
                for (a, &v) in xi.iter_mut().zip(row(i)) {
                    *a = v as f64;
                }
                let p = sigmoid(eta(&theta, i));
                let r = p - if yi { 1.0 } else { 0.0 };
                let w = p * (1.0 - p);
                for a in 0..k {
                    grad[a] += r * xi[a];
                    let wa = w * xi[a];
                    if wa != 0.0 {
                        for b in 0..=a {
                            hess[a * k + b] += wa * xi[b];
                        }
                    }
                }
            }
            for a in 0..k {
                grad[a] /= n as f64;
                for b in 0..=a {
                    hess[a * k + b] /= n as f64;
                    hess[b * k + a] = hess[a * k + b];
                }
            }
            for a in 0..d {
                grad[a] += l2 * theta[a];
                hess[a * k + a] += l2;
            }
            let step = cholesky_solve(&mut hess, &grad, k).ok_or(LogisticError::Singular)?;
            let decrement: f64 = step.iter().zip(&grad).map(|(s, g)| s * g).sum();
            if decrement.abs() < 1e-20 {
                break;
            }
            // Near the minimum the predicted decrease (decrement / 2) falls below the rounding
            // error of the objective, a sum over n rows, so the line search can no longer tell
            // a good step from a bad one (it would accept steps of length ~0 until the
            // iteration limit): take the full Newton step, quadratically convergent there, and
            // stop. Otherwise, a backtracking (Armijo) line search along the Newton direction;
            // when no step length lowers the objective, θ is as good as f64 allows.
            if decrement < 1e-12 * (1.0 + f.abs()) {
                for (th, s) in theta.iter_mut().zip(&step) {
                    *th -= s;
                }
                break;
            }
            let mut t = 1.0;
            let mut improved = false;
            while t >= 1e-10 {
                let cand: Vec<f64> = theta.iter().zip(&step).map(|(th, s)| th - t * s).collect();
                let fc = objective(&cand);
                if fc <= f - 0.25 * t * decrement {
                    theta = cand;
                    f = fc;
                    improved = true;
                    break;
                }
                t *= 0.5;
            }
            if !improved {
                break;
            }
        }
        Ok(Self {
            bias: theta[d],
            weights: theta[..d].to_vec(),
            iterations,
        })
    }

    /// `P(y = 1 | x)` for each row of `x` (row-major `[n, d]`).
    pub fn predict_proba(&self, x: &[f32]) -> Vec<f64> {
        let d = self.weights.len();
        x.chunks_exact(d.max(1))
            .map(|r| {
                sigmoid(
                    r.iter()
                        .zip(&self.weights)
                        .map(|(&a, &w)| a as f64 * w)
                        .sum::<f64>()
                        + self.bias,
                )
            })
            .collect()
    }
}

/// Solves `A s = g` for symmetric positive definite `A` (`k × k`, overwritten) by Cholesky.
fn cholesky_solve(a: &mut [f64], g: &[f64], k: usize) -> Option<Vec<f64>> {
    for j in 0..k {
        let mut diag = a[j * k + j];
        for p in 0..j {
            diag -= a[j * k + p] * a[j * k + p];
        }
        if diag <= 1e-300 || !diag.is_finite() {
            return None;
        }
        let l = diag.sqrt();
        a[j * k + j] = l;
        for i in j + 1..k {
            let mut v = a[i * k + j];
            for p in 0..j {
                v -= a[i * k + p] * a[j * k + p];
            }
            a[i * k + j] = v / l;
        }
    }
    let mut z = g.to_vec();
    for i in 0..k {
        for p in 0..i {
            z[i] -= a[i * k + p] * z[p];
        }
        z[i] /= a[i * k + i];
    }
    for i in (0..k).rev() {
        for p in i + 1..k {
            z[i] -= a[p * k + i] * z[p];
        }
        z[i] /= a[i * k + i];
    }
    Some(z)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn logit(p: f64) -> f64 {
        (p / (1.0 - p)).ln()
    }

    #[test]
    fn matches_closed_form_mle_for_one_binary_feature() {
        // x = 0: 3 positives of 10; x = 1: 8 positives of 10. Unpenalised MLE:
        // b = logit(0.3), w = logit(0.8) − logit(0.3).
        let mut x = Vec::new();
        let mut y = Vec::new();
        for i in 0..10 {
            x.push(0.0f32);
            y.push(i < 3);
            x.push(1.0);
            y.push(i < 8);
        }
        let m = LogisticRegression::fit(&x, 1, &y, 0.0).unwrap();
        assert!((m.bias - logit(0.3)).abs() < 1e-9, "{m:?}");
        assert!(
            (m.weights[0] - (logit(0.8) - logit(0.3))).abs() < 1e-9,
            "{m:?}"
        );
        let p = m.predict_proba(&[0.0, 1.0]);
        assert!((p[0] - 0.3).abs() < 1e-9 && (p[1] - 0.8).abs() < 1e-9);
    }

    #[test]
    fn penalised_fit_zeroes_the_gradient_even_when_separable() {
        // Separable data: without L2 the weights would diverge.
        let x: Vec<f32> = (0..40)
            .map(|i| (i as f32 - 19.5) / 10.0)
            .flat_map(|v| [v, v * v])
            .collect();
        let y: Vec<bool> = (0..40).map(|i| i >= 20).collect();
        let l2 = 0.01;
        let m = LogisticRegression::fit(&x, 2, &y, l2).unwrap();
        let p = m.predict_proba(&x);
        let n = y.len() as f64;
        for j in 0..2 {
            let g: f64 = (0..40)
                .map(|i| (p[i] - f64::from(u8::from(y[i]))) * x[i * 2 + j] as f64)
                .sum::<f64>()
                / n
                + l2 * m.weights[j];
            assert!(g.abs() < 1e-8, "gradient {j} = {g}");
        }
        let gb: f64 = (0..40)
            .map(|i| p[i] - f64::from(u8::from(y[i])))
            .sum::<f64>()
            / n;
        assert!(gb.abs() < 1e-8);
        assert!(m.iterations < 50);
    }

    #[test]
    fn collinear_features_converge_in_few_iterations() {
        // A one-hot pair (collinear with the bias) and a duplicated column, weak L2, many rows:
        // the objective is nearly flat along the collinear directions.
        let n = 20_000;
        let mut x = Vec::with_capacity(n * 4);
        let mut y = Vec::with_capacity(n);
        for i in 0..n {
            let g = (i % 3 == 0) as u8 as f32;
            let v = ((i * 7919) % 1000) as f32 / 500.0 - 1.0;
            x.extend([g, 1.0 - g, v, v]);
            y.push((i * 104_729) % 100 < 30 + 40 * (g as usize) + (v > 0.5) as usize * 20);
        }
        let l2 = 1e-4;
        let m = LogisticRegression::fit(&x, 4, &y, l2).unwrap();
        assert!(m.iterations < 30, "{} iterations", m.iterations);
        let p = m.predict_proba(&x);
        for j in 0..4 {
            let g: f64 = (0..n)
                .map(|i| (p[i] - f64::from(u8::from(y[i]))) * x[i * 4 + j] as f64)
                .sum::<f64>()
                / n as f64
                + l2 * m.weights[j];
            assert!(g.abs() < 1e-7, "gradient {j} = {g}");
        }
    }

    #[test]
    fn shape_errors() {
        assert!(matches!(
            LogisticRegression::fit(&[1.0, 2.0], 2, &[true, false], 0.1),
            Err(LogisticError::Shape(_))
        ));
    }
}
