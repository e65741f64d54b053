//! A linear support vector machine (hinge loss, L2 regularisation) by dual coordinate descent
//! (Hsieh, Chang, Lin, Keerthi and Sundararajan, ICML 2008 — LIBLINEAR's L1-loss SVM solver),
//! for FERM's linear classifier.
//!
//! Minimises `λ/2 |w|² + (1/n) Σ_i max(0, 1 − y_i (⟨w, x_i⟩ + b))` (`y_i ∈ {−1, 1}`), i.e.
//! LIBLINEAR's problem with `C = 1/(λ n)`; the bias is an extra constant feature (so it is
//! regularised too, as in LIBLINEAR with `-B 1`).

use rand::{SeedableRng, seq::SliceRandom};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// A fitted linear SVM.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinearSvm {
    /// Weights.
    pub w: Vec<f64>,
    /// Bias.
    pub b: f64,
    /// Passes over the data the solver took.
    pub epochs: usize,
    /// Whether the projected gradient fell below the tolerance.
    pub converged: bool,
}

impl LinearSvm {
    /// Fits on `x` (`rows × dim`, row-major), labels `y`, regularisation `lambda > 0`; `seed`
    /// orders the coordinate passes. Stops when the largest projected gradient of a pass is
    /// below `1e-3` (LIBLINEAR's default) or after 1,000 passes.
    pub fn fit(x: &[f32], dim: usize, y: &[bool], lambda: f64, seed: u64) -> Self {
        let n = y.len();
        assert_eq!(x.len(), n * dim, "x has rows × dim values");
        let c = 1.0 / (lambda * n.max(1) as f64);
        let mut w = vec![0.0f64; dim + 1]; // last: bias
        let mut alpha = vec![0.0f64; n];
        let row = |i: usize| &x[i * dim..(i + 1) * dim];
        let q: Vec<f64> = (0..n)
            .map(|i| row(i).iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() + 1.0)
            .collect();
        let sign = |l: bool| if l { 1.0 } else { -1.0 };
        let mut order: Vec<usize> = (0..n).collect();
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let (mut epochs, mut converged) = (0, false);
        while epochs < 1_000 {
            epochs += 1;
            order.shuffle(&mut rng);
            let mut max_pg = 0.0f64;
            for &i in &order {
                let yi = sign(y[i]);
                let xi = row(i);
                let margin: f64 = xi
                    .iter()
                    .zip(&w)
                    .map(|(&v, wk)| f64::from(v) * wk)
                    .sum::<f64>()
                    + w[dim];
                let g = yi * margin - 1.0;
                let pg = if alpha[i] <= 0.0 {
                    g.min(0.0)
                } else if alpha[i] >= c {
                    g.max(0.0)
                } else {
                    g
                };
                max_pg = max_pg.max(pg.abs());
                if pg.abs() > 1e-12 {
                    let old = alpha[i];
                    alpha[i] = (old - g / q[i]).clamp(0.0, c);
                    let step = (alpha[i] - old) * yi;
                    for (wk, &v) in w.iter_mut().zip(xi) {
                        *wk += step * f64::from(v);
                    }
                    w[dim] += step;
                }
            }
            if max_pg < 1e-3 {
                converged = true;
                break;
            }
        }
        let b = w.pop().unwrap_or(0.0);
        Self {
            w,
            b,
            epochs,
            converged,
        }
    }

    /// The decision function `⟨w, x_i⟩ + b` for each row.
    pub fn decision(&self, x: &[f32]) -> Vec<f64> {
        x.chunks_exact(self.w.len().max(1))
            .map(|r| {
                r.iter()
                    .zip(&self.w)
                    .map(|(&v, w)| f64::from(v) * w)
                    .sum::<f64>()
                    + self.b
            })
            .collect()
    }

    /// The objective `λ/2 |(w, b)|² + mean hinge` on `(x, y)`.
    pub fn objective(&self, x: &[f32], y: &[bool], lambda: f64) -> f64 {
        let hinge: f64 = self
            .decision(x)
            .iter()
            .zip(y)
            .map(|(&f, &l)| (1.0 - if l { f } else { -f }).max(0.0f64))
            .sum::<f64>()
            / y.len() as f64;
        let norm2 = self.w.iter().map(|v| v * v).sum::<f64>() + self.b * self.b;
        0.5 * lambda * norm2 + hinge
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    #[test]
    fn separable_data_is_separated_with_the_maximum_margin() {
        // Two points per class on a line: the max-margin separator of {−2, −1} vs {1, 2} is
        // x = 0 with margin 1 (w = 1, b = 0) for a small λ.
        let x = [-2.0f32, -1.0, 1.0, 2.0];
        let y = [false, false, true, true];
        let svm = LinearSvm::fit(&x, 1, &y, 1e-4, 1);
        assert!(svm.converged);
        assert!((svm.w[0] - 1.0).abs() < 1e-3, "w = {}", svm.w[0]);
        assert!(svm.b.abs() < 1e-3, "b = {}", svm.b);
    }

    #[test]
    fn dual_solution_minimises_the_primal_objective() {
        // Noisy data: the solver's (w, b) beats random perturbations of itself.
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let (n, dim) = (400, 3);
        let x: Vec<f32> = (0..n * dim)
            .map(|_| rng.random_range(-1.0f32..1.0))
            .collect();
        let y: Vec<bool> = (0..n)
            .map(|i| x[i * dim] - 0.5 * x[i * dim + 1] + 0.3 * rng.random_range(-1.0f32..1.0) > 0.1)
            .collect();
        let lambda = 0.01;
        let svm = LinearSvm::fit(&x, dim, &y, lambda, 2);
        assert!(svm.converged);
        let best = svm.objective(&x, &y, lambda);
        for _ in 0..200 {
            let mut other = svm.clone();
            for w in other.w.iter_mut() {
                *w += rng.random_range(-0.05..0.05);
            }
            other.b += rng.random_range(-0.05..0.05);
            assert!(other.objective(&x, &y, lambda) >= best - 1e-4);
        }
        let acc = svm
            .decision(&x)
            .iter()
            .zip(&y)
            .filter(|(f, l)| (**f > 0.0) == **l)
            .count() as f64
            / n as f64;
        assert!(acc > 0.85, "training accuracy {acc}");
    }
}
