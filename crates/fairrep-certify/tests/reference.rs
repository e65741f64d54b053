//! The bounds against independent references: Clopper–Pearson against SciPy's beta quantiles
//! (tests/fixtures/clopper_pearson.json, written by scripts/clopper_pearson_reference.py), the
//! three-step bound against a hand computation, and its coverage on a synthetic release whose
//! true total variation is known.

use fairrep_certify::bound::{Budget, Counts, Method, counts, direct_bound, tv_bound};
use fairrep_certify::clopper_pearson;
use fairrep_certify::statements::{Metric, certify};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

#[test]
fn clopper_pearson_equals_scipy() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/clopper_pearson.json"
    ))
    .unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let cases = v["cases"].as_array().unwrap();
    assert!(cases.len() > 200);
    let mut worst: f64 = 0.0;
    for c in cases {
        let (x, n, a) = (
            c["successes"].as_f64().unwrap(),
            c["trials"].as_f64().unwrap(),
            c["alpha"].as_f64().unwrap(),
        );
        let (lo, hi) = clopper_pearson(x, n, a);
        let (elo, ehi) = (c["lower"].as_f64().unwrap(), c["upper"].as_f64().unwrap());
        // Tolerance: 1e-10 absolute, or 1e-8 relative for quantiles near 0.
        for (got, want) in [(lo, elo), (hi, ehi)] {
            let err = (got - want).abs();
            assert!(
                err <= 1e-10 || err <= 1e-8 * want.abs(),
                "x={x} n={n} alpha={a}: {got} vs SciPy {want}"
            );
            worst = worst.max(err);
        }
    }
    eprintln!("largest difference from SciPy: {worst:e}");
}

/// Clopper–Pearson by hand: SciPy's values for the exact cases used (from the fixture).
fn scipy(x: u32, n: u32, alpha: f64) -> (f64, f64) {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/clopper_pearson.json"
    ))
    .unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let c = v["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| {
            c["successes"].as_u64() == Some(x.into())
                && c["trials"].as_u64() == Some(n.into())
                && c["alpha"].as_f64() == Some(alpha)
        })
        .unwrap_or_else(|| panic!("no fixture case {x}/{n} at {alpha}"));
    (c["lower"].as_f64().unwrap(), c["upper"].as_f64().unwrap())
}

#[test]
fn the_bound_equals_a_hand_computation() {
    // Step 1: 500 of 1,000 rows in group a, error 0.05. Step 2: cell 0 has 333 of its 1,000
    // rows in group a, cell 1 142 of 1,000, error 0.01 each. Step 3: 10 rows in cell 0, 30 in
    // cell 1, error 0.05.
    let base: Vec<bool> = (0..1000).map(|i| i < 500).collect();
    let mut cells = Vec::new();
    cells.extend((0..1000).map(|i| (0usize, i < 333)));
    cells.extend((0..1000).map(|i| (1usize, i < 142)));
    let average: Vec<usize> = (0..40).map(|i| usize::from(i >= 10)).collect();
    let c = counts(2, &base, &cells, &average);
    assert_eq!(
        c,
        Counts {
            base: (500.0, 1000.0),
            cells: vec![(333.0, 1000.0), (142.0, 1000.0)],
            average: vec![10.0, 30.0],
        }
    );
    let budget = Budget {
        base: 0.05,
        per_cell: 0.01,
        average: 0.05,
    };
    let b = tv_bound(&c, budget);

    let (pl, ph) = scipy(500, 1000, 0.05);
    let g = |q: f64, p: f64| q / p - (1.0 - q) / (1.0 - p);
    let t = |x: u32| {
        let (ql, qh) = scipy(x, 1000, 0.01);
        f64::max(g(qh, pl), -g(ql, ph))
    };
    let (t0, t1) = (t(333), t(142));
    let mean = (10.0 * t0 + 30.0 * t1) / 40.0;
    let hoeffding = (t0 - t1).abs() * ((1.0f64 / 0.05).ln() / 80.0).sqrt();
    let want = 0.5 * (mean + hoeffding);
    assert!(
        (b.upper_bound - want).abs() < 1e-9,
        "{} vs {want}",
        b.upper_bound
    );
    assert!((b.base_rate[0] - pl).abs() < 1e-10 && (b.base_rate[1] - ph).abs() < 1e-10);
    eprintln!("π ∈ [{pl:.4}, {ph:.4}], t = ({t0:.4}, {t1:.4}), bound {want:.4}");
    assert!(want < 1.0, "the case must not be capped at 1");
}

#[test]
fn the_direct_bound_equals_a_hand_computation() {
    // Group a: 333 and 667 of 1,000 rows in cells 0 and 1; group b: 500 and 500. δ = 0.2 over
    // 2 cells gives each of the 4 intervals error 0.05.
    let (a0l, a0h) = scipy(333, 1000, 0.05);
    let (a1l, a1h) = (1.0 - a0h, 1.0 - a0l); // 667 = 1000 − 333: the interval mirrored
    let (bl, bh) = scipy(500, 1000, 0.05);
    let pos = (a0h - bl).max(0.0) + (a1h - bl).max(0.0);
    let neg = (bh - a0l).max(0.0) + (bh - a1l).max(0.0);
    let half = 0.5 * ((a0h - bl).max(bh - a0l) + (a1h - bl).max(bh - a1l));
    let want = pos.min(neg).min(half);
    let got = direct_bound(&[333.0, 667.0], &[500.0, 500.0], 0.2);
    eprintln!("direct: pos {pos:.4}, neg {neg:.4}, half {half:.4} -> {want:.4}");
    assert!((got - want).abs() < 1e-9, "{got} vs {want}");
    // The plug-in TV is 0.167; the bound is above it by the sampling error.
    assert!(want > 0.167 && want < 0.3, "{want}");
}

/// A synthetic release with a known truth: 8 cells, group a (probability 0.3) drawn from one
/// cell distribution, group b from another; the true total variation is computed exactly.
#[test]
fn the_bound_covers_the_true_parity_in_at_least_95_percent_of_repetitions() {
    let pa: [f64; 8] = [0.20, 0.15, 0.15, 0.10, 0.10, 0.10, 0.10, 0.10];
    let pb: [f64; 8] = [0.10, 0.10, 0.10, 0.10, 0.15, 0.15, 0.15, 0.15];
    let true_tv: f64 = 0.5 * pa.iter().zip(&pb).map(|(a, b)| (a - b).abs()).sum::<f64>();
    // The label (for equal opportunity): y = 1 in cells 0–3 with probability 0.8, else 0.2.
    let draw = |rng: &mut ChaCha8Rng, p: &[f64]| {
        let u: f64 = rng.random();
        let mut acc = 0.0;
        for (c, &w) in p.iter().enumerate() {
            acc += w;
            if u < acc {
                return c;
            }
        }
        p.len() - 1
    };
    let names = vec!["a".to_string(), "b".to_string()];
    let (reps, n) = (200, 30000);
    let (mut covered, mut eo_covered, mut total_bound) = ([0; 2], [0; 2], [0.0; 2]);
    // The true equal-opportunity gap: TV between P(cell | group, y = 1).
    let cond = |p: &[f64]| {
        let w: Vec<f64> = p
            .iter()
            .enumerate()
            .map(|(c, &v)| v * if c < 4 { 0.8 } else { 0.2 })
            .collect();
        let s: f64 = w.iter().sum();
        w.into_iter().map(|v| v / s).collect::<Vec<f64>>()
    };
    let (ca, cb) = (cond(&pa), cond(&pb));
    let true_eo: f64 = 0.5 * ca.iter().zip(&cb).map(|(a, b)| (a - b).abs()).sum::<f64>();
    for rep in 0..reps {
        let mut rng = ChaCha8Rng::seed_from_u64(1000 + rep);
        let (mut cells, mut group, mut y) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..n {
            let a = rng.random::<f64>() < 0.3;
            let c = draw(&mut rng, if a { &pa } else { &pb });
            cells.push(c);
            group.push(usize::from(!a));
            y.push(rng.random::<f64>() < if c < 4 { 0.8 } else { 0.2 });
        }
        for (m, method) in [Method::Fare, Method::Direct].into_iter().enumerate() {
            let tasks = [("y".to_string(), &y[..])];
            let s = certify(8, &cells, &group, &names, &tasks, 0.05, rep, method);
            assert_eq!(s[0].metric, Metric::DemographicParity);
            if true_tv <= s[0].upper_bound {
                covered[m] += 1;
            }
            if true_eo <= s[1].upper_bound {
                eo_covered[m] += 1;
            }
            total_bound[m] += s[0].upper_bound;
        }
    }
    for (m, name) in ["FARE", "direct"].iter().enumerate() {
        let mean_bound = total_bound[m] / reps as f64;
        eprintln!(
            "{name}: true TV {true_tv:.4}, mean bound {mean_bound:.4}, DP coverage {}/{reps}, EO ({true_eo:.4}) {}/{reps}",
            covered[m], eo_covered[m]
        );
        assert!(covered[m] as f64 >= 0.95 * reps as f64);
        assert!(eo_covered[m] as f64 >= 0.95 * reps as f64);
        // Not vacuous: within 0.15 of the truth at 30,000 rows.
        assert!(mean_bound < true_tv + 0.15, "{name}: {mean_bound}");
    }
}
