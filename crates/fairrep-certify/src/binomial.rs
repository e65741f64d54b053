//! Confidence bounds for a binomial proportion and for the mean of bounded variables.

use statrs::function::beta::{beta_reg, inv_beta_reg};

/// The two-sided Clopper–Pearson interval of a binomial proportion at level `1 − alpha`:
/// `successes` out of `trials`, each tail `alpha / 2`. Counts may be fractional (a projected
/// sample, see [`crate::select`]); `trials = 0` gives `[0, 1]`.
///
/// `lower = B⁻¹(alpha/2; x, n − x + 1)` (0 when `x = 0`), `upper = B⁻¹(1 − alpha/2; x + 1, n − x)`
/// (1 when `x = n`), `B⁻¹` the inverse regularised incomplete beta function — the interval of
/// `statsmodels.stats.proportion.proportion_confint(method="beta")`, which FARE uses.
pub fn clopper_pearson(successes: f64, trials: f64, alpha: f64) -> (f64, f64) {
    if trials.is_nan() || trials <= 0.0 {
        return (0.0, 1.0);
    }
    let x = successes.clamp(0.0, trials);
    let n = trials;
    let lower = if x <= 0.0 {
        0.0
    } else {
        beta_quantile(alpha / 2.0, x, n - x + 1.0)
    };
    let upper = if x >= n {
        1.0
    } else {
        beta_quantile(1.0 - alpha / 2.0, x + 1.0, n - x)
    };
    (lower, upper)
}

/// The `p` quantile of Beta(a, b): statrs' AS 64 solution, polished by bisection on the
/// regularised incomplete beta function where AS 64's Newton steps stop short (large `a + b`).
fn beta_quantile(p: f64, a: f64, b: f64) -> f64 {
    let guess = inv_beta_reg(a, b, p);
    let residual = |x: f64| beta_reg(a, b, x) - p;
    if guess.is_finite() && (0.0..=1.0).contains(&guess) && residual(guess).abs() <= 1e-14 {
        return guess;
    }
    // I_x(a, b) is increasing in x: bisect on [0, 1] to the last representable digit.
    let (mut lo, mut hi) = (0.0f64, 1.0f64);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if mid <= lo || mid >= hi {
            break;
        }
        if residual(mid) < 0.0 {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

/// Hoeffding's one-sided deviation for the mean of `n` independent variables with values in an
/// interval of length `range`: with probability at least `1 − alpha`, the true mean is at most
/// the sample mean plus `range · √(ln(1/alpha) / 2n)`. Infinite for `n = 0`.
pub fn hoeffding_radius(n: usize, range: f64, alpha: f64) -> f64 {
    if n == 0 {
        return f64::INFINITY;
    }
    range * ((1.0 / alpha).ln() / (2.0 * n as f64)).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interval_contains_the_estimate_and_narrows_with_n() {
        let (lo, hi) = clopper_pearson(30.0, 100.0, 0.05);
        assert!(lo < 0.3 && 0.3 < hi);
        let (lo2, hi2) = clopper_pearson(300.0, 1000.0, 0.05);
        assert!(hi2 - lo2 < hi - lo);
        assert_eq!(clopper_pearson(0.0, 0.0, 0.05), (0.0, 1.0));
    }

    #[test]
    fn one_trial_has_a_closed_form() {
        // x = 0, n = 1: upper = 1 − alpha/2 solves I_u(1, 1) = u = 1 − alpha/2.
        let (lo, hi) = clopper_pearson(0.0, 1.0, 0.1);
        assert_eq!(lo, 0.0);
        assert!((hi - 0.95).abs() < 1e-12, "{hi}");
        // x = n: lower solves u^n = alpha/2.
        let (lo, hi) = clopper_pearson(5.0, 5.0, 0.1);
        assert!((lo - 0.05f64.powf(0.2)).abs() < 1e-12, "{lo}");
        assert_eq!(hi, 1.0);
    }

    #[test]
    fn hoeffding_matches_its_formula() {
        let r = hoeffding_radius(200, 2.0, 0.05);
        assert!((r - 2.0 * (20.0f64.ln() / 400.0).sqrt()).abs() < 1e-15);
        assert!(hoeffding_radius(0, 1.0, 0.05).is_infinite());
    }
}
