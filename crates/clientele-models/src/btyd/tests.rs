//! Tests of the BTYD models: the CDNOW reference fits (Fader, Hardie & Lee 2005), recovery of
//! simulated parameters within their standard errors, error cases and hand-checked values.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Beta, Distribution, Exp, Gamma};

use super::special::{bg_series, hyp2f1, ln_hyp2f1_one};
use super::*;
use crate::ModelError;

// ---------------------------------------------------------------------------------------------
// CDNOW

const CDNOW: &str = include_str!("../../tests/data/CDNOW_sample.txt");
const CDNOW_SUMMARY: &str =
    include_str!("../../tests/data/cdnow_customers_summary_with_transactions.csv");

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Per customer (sample id): summary and mean value of repeat purchase days (`zbar`).
struct Cdnow {
    summaries: Vec<Summary>,
    zbar: Vec<f64>,
}

fn cdnow() -> &'static Cdnow {
    static DATA: OnceLock<Cdnow> = OnceLock::new();
    DATA.get_or_init(|| {
        // Sample id → (day → summed value).
        let mut by_customer: BTreeMap<u32, BTreeMap<i64, f64>> = BTreeMap::new();
        for line in CDNOW.lines().filter(|l| !l.trim().is_empty()) {
            let f: Vec<&str> = line.split_whitespace().collect();
            let id: u32 = f[1].parse().unwrap();
            let date: i64 = f[2].parse().unwrap();
            let day = days_from_civil(date / 10_000, date / 100 % 100, date % 100);
            let value: f64 = f[4].parse().unwrap();
            *by_customer.entry(id).or_default().entry(day).or_default() += value;
        }
        let end = days_from_civil(1997, 9, 30);
        let mut summaries = Vec::new();
        let mut zbar = Vec::new();
        for days in by_customer.values() {
            let d: Vec<i64> = days.keys().copied().collect();
            let s = Summary::from_days(&d, end, 7.0).expect("every customer starts in 1997 Q1");
            let repeat: Vec<f64> = days
                .iter()
                .skip(1)
                .filter(|(day, _)| **day <= end)
                .map(|(_, v)| *v)
                .collect();
            let z = if repeat.is_empty() {
                0.0
            } else {
                repeat.iter().sum::<f64>() / repeat.len() as f64
            };
            summaries.push(s);
            zbar.push(z);
        }
        Cdnow { summaries, zbar }
    })
}

fn assert_rel(what: &str, got: f64, want: f64, tol: f64) {
    let rel = (got - want).abs() / want.abs();
    assert!(
        rel <= tol,
        "{what}: got {got}, want {want} (relative error {rel:.4} > {tol})"
    );
}

fn param(fit: &[(&'static str, f64)], name: &str) -> f64 {
    fit.iter().find(|(n, _)| *n == name).unwrap().1
}

/// The summary built from raw transactions matches the published one for all 2,357 customers:
/// `T` runs from the first purchase day to 1997-09-30 exclusive of the end day
/// (`(end − first)/7`), same-day purchases are one purchase.
#[test]
fn btyd_cdnow_summary_matches_published() {
    let data = cdnow();
    let published: Vec<Vec<f64>> = CDNOW_SUMMARY
        .lines()
        .skip(1)
        .map(|l| l.split(',').map(|v| v.trim().parse().unwrap()).collect())
        .collect();
    assert_eq!(published.len(), 2357);
    assert_eq!(data.summaries.len(), 2357);
    for (i, row) in published.iter().enumerate() {
        assert_eq!(row[0] as usize, i + 1);
        let s = data.summaries[i];
        assert_eq!(s.x, row[1], "x of customer {}", i + 1);
        assert!(
            (s.t_x - row[2]).abs() <= 0.0051,
            "t_x of customer {}: {} vs {}",
            i + 1,
            s.t_x,
            row[2]
        );
        assert!(
            (s.t - row[3]).abs() <= 0.0051,
            "T of customer {}: {} vs {}",
            i + 1,
            s.t,
            row[3]
        );
        assert!(
            (data.zbar[i] - row[4]).abs() <= 0.0051,
            "zbar of customer {}",
            i + 1
        );
    }
    assert_eq!(data.summaries.iter().filter(|s| s.x > 0.0).count(), 946);
}

#[test]
fn btyd_cdnow_bgnbd() {
    let fit = fit_purchase(PurchaseModelKind::BgNbd, &cdnow().summaries).unwrap();
    eprintln!("BG/NBD CDNOW: {fit:?}");
    let p = fit.model.params();
    assert_rel("r", param(&p, "r"), 0.243, 0.01);
    assert_rel("alpha", param(&p, "alpha"), 4.414, 0.01);
    assert_rel("a", param(&p, "a"), 0.793, 0.01);
    assert_rel("b", param(&p, "b"), 2.426, 0.01);
    assert!(
        (fit.log_likelihood + 9582.4).abs() <= 0.1,
        "LL {}",
        fit.log_likelihood
    );
    assert_eq!(fit.n_customers, 2357);
    assert!(fit.n_patterns < 2357);
    assert!(
        fit.std_errors
            .iter()
            .all(|(_, se)| se.is_finite() && *se > 0.0)
    );
    // lifetimes' test against Hardie's spreadsheet.
    let e = fit.model.expected_purchases(
        &Summary {
            x: 2.0,
            t_x: 30.43,
            t: 38.86,
        },
        39.0,
    );
    assert!((e - 1.226).abs() < 0.001, "conditional expectation {e}");
    let times = [0.1429, 1.0, 3.00, 31.8571, 32.00, 78.00];
    let want = [0.0078, 0.0532, 0.1506, 1.0405, 1.0437, 1.8576];
    for (t, w) in times.iter().zip(want) {
        let e = fit.model.expected_purchases_new(*t);
        assert!((e - w).abs() < 0.0015, "E[X({t})] = {e}, want {w}");
    }
}

#[test]
fn btyd_cdnow_pareto_nbd() {
    let fit = fit_purchase(PurchaseModelKind::ParetoNbd, &cdnow().summaries).unwrap();
    eprintln!("Pareto/NBD CDNOW: {fit:?}");
    let p = fit.model.params();
    assert_rel("r", param(&p, "r"), 0.553, 0.01);
    assert_rel("alpha", param(&p, "alpha"), 10.578, 0.01);
    assert_rel("s", param(&p, "s"), 0.606, 0.01);
    assert_rel("beta", param(&p, "beta"), 11.669, 0.01);
    assert!(
        (fit.log_likelihood + 9595.0).abs() <= 0.1,
        "LL {}",
        fit.log_likelihood
    );
    // BTYD walkthrough (via lifetimes' tests): E[X(52) | 26, 30.86, 31] = 25.46.
    let c = Summary {
        x: 26.0,
        t_x: 30.86,
        t: 31.0,
    };
    let e = fit.model.expected_purchases(&c, 52.0);
    assert!((e - 25.46).abs() < 0.01, "conditional expectation {e}");
    // R BTYD's unconditional expectation at t = 0..9 (lifetimes' tests, atol 0.01).
    let want = [
        0.0, 0.05077821, 0.09916088, 0.14542507, 0.18979930, 0.23247466, 0.27361274, 0.31335159,
        0.35181024, 0.38909211,
    ];
    for (t, w) in want.iter().enumerate() {
        let e = fit.model.expected_purchases_new(t as f64);
        // R's figures come from BTYD's own estimates (β = 11.656), hence the wider tolerance.
        assert!((e - w).abs() < 0.005, "E[X({t})] = {e}, want {w}");
    }
}

#[test]
fn btyd_cdnow_gamma_gamma() {
    let data = cdnow();
    let x: Vec<f64> = data.summaries.iter().map(|s| s.x).collect();
    let fit = fit_gamma_gamma(&x, &data.zbar).unwrap();
    eprintln!("Gamma-Gamma CDNOW: {fit:?}");
    assert_eq!(fit.n_customers, 946);
    assert_rel("p", fit.model.p, 6.25, 0.01);
    assert_rel("q", fit.model.q, 3.74, 0.01);
    assert_rel("gamma", fit.model.gamma, 15.44, 0.01);
    assert!(
        fit.std_errors
            .iter()
            .all(|(_, se)| se.is_finite() && *se > 0.0)
    );
    // Population mean p·γ/(q−1) for customers without repeat purchases.
    let m = fit.model;
    assert!((m.expected_spend(0.0, 0.0) - m.p * m.gamma / (m.q - 1.0)).abs() < 1e-12);
}

/// Parameters published with the BTYD walkthrough give P(alive) = 0.9979 for (26, 30.86, 31).
#[test]
fn btyd_pareto_p_alive_reference() {
    let m = PurchaseModel::ParetoNbd(ParetoNbd {
        r: 0.5534,
        alpha: 10.5802,
        s: 0.6061,
        beta: 11.6562,
    });
    let p = m.p_alive(&Summary {
        x: 26.0,
        t_x: 30.86,
        t: 31.0,
    });
    assert!((p - 0.9979).abs() < 0.001, "{p}");
    // lifetimes' underflow case: nearby inputs give nearby answers.
    let m = PurchaseModel::ParetoNbd(ParetoNbd {
        r: 0.55,
        alpha: 10.58,
        s: 0.61,
        beta: 11.67,
    });
    let left = m.expected_purchases(
        &Summary {
            x: 132.0,
            t_x: 200.0,
            t: 200.0,
        },
        10.0,
    );
    let right = m.expected_purchases(
        &Summary {
            x: 133.0,
            t_x: 200.0,
            t: 200.0,
        },
        10.0,
    );
    assert!((left - 6.206_051_788_963_242).abs() < 1e-3, "{left}");
    assert!((right - 6.252_872_247_574_811).abs() < 1e-3, "{right}");
    // lifetimes' overflow case: extreme parameters still give probabilities.
    let m = PurchaseModel::ParetoNbd(ParetoNbd {
        r: 10.465,
        alpha: 7.98565181e-03,
        s: 3.0516,
        beta: 2.820,
    });
    for (x, t_x, t) in [(400.0, 5.0, 6.0), (500.0, 1.0, 37.0), (500.0, 4.0, 37.0)] {
        let c = Summary { x, t_x, t };
        let p = m.p_alive(&c);
        assert!((0.0..=1.0).contains(&p), "{p}");
        assert!(m.log_likelihood(&c).is_finite());
    }
}

// ---------------------------------------------------------------------------------------------
// Special functions

#[test]
fn btyd_series_match_plain_hypergeometric() {
    // BG/NBD numerator: the transformed series against the textbook 2F1 at moderate z.
    let m = BgNbd {
        r: 0.243,
        alpha: 4.414,
        a: 0.793,
        b: 2.426,
    };
    for &(x, t_big, t) in &[(0.0, 0.0, 5.0), (2.0, 38.86, 39.0), (7.0, 20.0, 10.0)] {
        let k = m.alpha + t_big;
        let z = t / (k + t);
        let direct = (m.a + m.b + x - 1.0) / (m.a - 1.0)
            * (1.0
                - (k / (k + t)).powf(m.r + x) * hyp2f1(m.r + x, m.b + x, m.a + m.b + x - 1.0, z));
        let c = m.a + m.b + x - 1.0;
        let l = -(t / k).ln_1p();
        let ours = c * super::special::one_minus_pow_over(m.a - 1.0, l)
            - ((m.a - 1.0) * l).exp() * bg_series(m.a + m.b - 1.0 - m.r, m.a, c + 1.0, z);
        assert!(
            (direct - ours).abs() < 1e-9 * direct.abs(),
            "{direct} vs {ours}"
        );
    }
    // Pareto/NBD: 2F1(a, b; a+1; z) = (1−z)^{1−b} 2F1(1, a+1−b; a+1; z).
    for &(a, b, z) in &[(1.2, 1.6, 0.1), (30.5, 27.3, 0.4), (3.0, 0.7, 0.8)] {
        let direct = hyp2f1(a, b, a + 1.0, z).ln();
        let ours = (1.0 - b) * (1.0 - z).ln() + ln_hyp2f1_one(a + 1.0 - b, a + 1.0, z);
        assert!((direct - ours).abs() < 1e-10, "{direct} vs {ours}");
    }
}

/// Pareto/NBD `A₀`: the series and the quadrature fallback agree where both work.
#[test]
fn btyd_pareto_a0_quadrature_matches_series() {
    for &(r, alpha, s, beta, x, t_x, t) in &[
        (0.5, 1.0, 0.7, 15.0, 3.0, 0.5, 30.0),
        (0.5, 1.0, 0.7, 15.0, 0.0, 0.0, 30.0),
        (0.8, 20.0, 1.3, 1.5, 12.0, 3.0, 50.0),
        (2.0, 0.3, 0.4, 4.0, 40.0, 1.0, 60.0),
    ] {
        let m = ParetoNbd { r, alpha, s, beta };
        let series = m.ln_a0(x, t_x, t);
        let (lo, hi) = (alpha.min(beta), alpha.max(beta));
        let (p_lo, p_hi) = if alpha >= beta {
            (s + 1.0, r + x)
        } else {
            (r + x, s + 1.0)
        };
        let quad = (r + s + x).ln() + super::pnbd::ln_integral(lo, hi, p_lo, p_hi, t_x, t);
        assert!((series - quad).abs() < 1e-9, "{series} vs {quad}");
    }
}

/// The analytic gradients agree with central differences.
#[test]
fn btyd_analytic_gradients() {
    use super::optim::Objective as _;
    let data = &cdnow().summaries;
    let p = Patterns::new(data);
    let obj = super::bgnbd::Objective { p: &p };
    let theta = [0.3f64.ln(), 4.0f64.ln(), 0.7f64.ln(), 2.0f64.ln()];
    let mut g = [0.0; 4];
    obj.value_grad(&theta, &mut g);
    for i in 0..4 {
        let h = 1e-6;
        let mut tp = theta;
        tp[i] += h;
        let mut tm = theta;
        tm[i] -= h;
        let fd = (obj.value(&tp) - obj.value(&tm)) / (2.0 * h);
        assert!(
            (fd - g[i]).abs() < 1e-6,
            "BG/NBD gradient {i}: {} vs {fd}",
            g[i]
        );
    }
    // Gamma-Gamma, through the public log-likelihood.
    let gg = GammaGamma {
        p: 5.0,
        q: 3.0,
        gamma: 12.0,
    };
    let data = cdnow();
    let ll = |m: &GammaGamma| -> f64 {
        data.summaries
            .iter()
            .zip(&data.zbar)
            .filter(|(s, _)| s.x > 0.0)
            .map(|(s, z)| m.log_likelihood(s.x, *z))
            .sum()
    };
    assert!(ll(&gg).is_finite());
}

/// The analytic Hessians (BG/NBD, Gamma-Gamma) agree with central differences of the analytic
/// gradients, the Gamma-Gamma objective with the public per-customer log-likelihood, and
/// trigamma with differences of digamma.
#[test]
fn btyd_analytic_hessians() {
    use super::optim::Objective;
    use statrs::function::gamma::digamma;
    for x in [0.05, 0.7, 1.0, 3.3, 9.99, 10.0, 42.0, 1e4] {
        let h = 1e-5 * x;
        let fd = (digamma(x + h) - digamma(x - h)) / (2.0 * h);
        let tri = super::special::trigamma(x);
        assert!((tri - fd).abs() < 1e-6 * tri, "trigamma({x}) {tri} vs {fd}");
    }
    // ψ₁(1) = π²/6.
    let exact = std::f64::consts::PI.powi(2) / 6.0;
    assert!((super::special::trigamma(1.0) - exact).abs() < 1e-13);

    let data = cdnow();
    let patterns = Patterns::new(&data.summaries);
    let bg = super::bgnbd::Objective { p: &patterns };
    let rows: Vec<(f64, f64)> = data
        .summaries
        .iter()
        .zip(&data.zbar)
        .filter(|(s, z)| s.x > 0.0 && **z > 0.0)
        .map(|(s, z)| (s.x, *z))
        .collect();
    let gg = super::gamma_gamma::SpendData::new(&rows);
    let check = |obj: &dyn Objective, theta: &[f64], what: &str| {
        let n = theta.len();
        let mut g = vec![0.0; n];
        let mut h = vec![0.0; n * n];
        let v = obj.value_grad_hess(theta, &mut g, &mut h).unwrap();
        assert!((v - obj.value(theta)).abs() < 1e-12 * v.abs());
        let mut g0 = vec![0.0; n];
        obj.value_grad(theta, &mut g0);
        assert_eq!(g, g0);
        for i in 0..n {
            let step = 1e-5;
            let (mut up, mut down) = (theta.to_vec(), theta.to_vec());
            up[i] += step;
            down[i] -= step;
            let (mut gu, mut gd) = (vec![0.0; n], vec![0.0; n]);
            obj.value_grad(&up, &mut gu);
            obj.value_grad(&down, &mut gd);
            for j in 0..n {
                let fd = (gu[j] - gd[j]) / (2.0 * step);
                assert!(
                    (fd - h[i * n + j]).abs() < 1e-6 * (1.0 + fd.abs()),
                    "{what} Hessian ({i}, {j}): {} vs {fd}",
                    h[i * n + j]
                );
            }
        }
    };
    for theta in [
        [0.3f64.ln(), 4.0f64.ln(), 0.7f64.ln(), 2.0f64.ln()],
        [0.243f64.ln(), 4.414f64.ln(), 0.793f64.ln(), 2.426f64.ln()],
        [2.0f64.ln(), 0.5f64.ln(), 3.0f64.ln(), 0.4f64.ln()],
    ] {
        check(&bg, &theta, "BG/NBD");
    }
    for (p, q, gamma) in [(6.25, 3.74, 15.44), (2.0, 3.0, 40.0), (0.5, 1.5, 2.0)] {
        let theta = [f64::ln(p), f64::ln(q), f64::ln(gamma)];
        check(&gg, &theta, "Gamma-Gamma");
        let m = GammaGamma { p, q, gamma };
        let total: f64 = rows.iter().map(|&(x, z)| m.log_likelihood(x, z)).sum();
        let mean = gg.value(&theta);
        assert!(
            (-mean * rows.len() as f64 - total).abs() < 1e-9 * total.abs(),
            "Gamma-Gamma objective {} vs Σ log-likelihood {total}",
            -mean * rows.len() as f64
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Parameter recovery

fn simulate_bgnbd(n: usize, r: f64, alpha: f64, a: f64, b: f64, seed: u64) -> Vec<Summary> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let lambda = Gamma::new(r, 1.0 / alpha).unwrap();
    let dropout = Beta::new(a, b).unwrap();
    (0..n)
        .map(|_| {
            let t_big = 26.0 + 78.0 * rng.random::<f64>();
            let l = lambda.sample(&mut rng);
            let p = dropout.sample(&mut rng);
            let wait = Exp::new(l).unwrap();
            let (mut now, mut x, mut t_x) = (0.0, 0.0, 0.0);
            loop {
                now += wait.sample(&mut rng);
                if now > t_big {
                    break;
                }
                x += 1.0;
                t_x = now;
                if rng.random::<f64>() < p {
                    break;
                }
            }
            Summary { x, t_x, t: t_big }
        })
        .collect()
}

fn simulate_pnbd(n: usize, r: f64, alpha: f64, s: f64, beta: f64, seed: u64) -> Vec<Summary> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let lambda = Gamma::new(r, 1.0 / alpha).unwrap();
    let mu = Gamma::new(s, 1.0 / beta).unwrap();
    (0..n)
        .map(|_| {
            let t_big = 26.0 + 78.0 * rng.random::<f64>();
            let l = lambda.sample(&mut rng);
            let life = Exp::new(mu.sample(&mut rng)).unwrap().sample(&mut rng);
            let end = life.min(t_big);
            let wait = Exp::new(l).unwrap();
            let (mut now, mut x, mut t_x) = (0.0, 0.0, 0.0);
            loop {
                now += wait.sample(&mut rng);
                if now > end {
                    break;
                }
                x += 1.0;
                t_x = now;
            }
            Summary { x, t_x, t: t_big }
        })
        .collect()
}

fn assert_recovered(
    what: &str,
    est: &[(&'static str, f64)],
    se: &[(&'static str, f64)],
    truth: &[f64],
) {
    for ((name, v), (t, (_, s))) in est.iter().zip(truth.iter().zip(se)) {
        let z = (v - t) / s;
        eprintln!("{what} {name}: true {t}, estimate {v:.4} ± {s:.4} (z = {z:.2})");
        assert!(z.abs() < 3.0, "{what} {name}: true {t} outside {v} ± 3·{s}");
    }
}

#[test]
fn btyd_recovers_bgnbd() {
    let truth = [0.75, 6.0, 0.8, 2.5];
    let data = simulate_bgnbd(20_000, truth[0], truth[1], truth[2], truth[3], 7);
    let fit = fit_purchase(PurchaseModelKind::BgNbd, &data).unwrap();
    assert_recovered("BG/NBD", &fit.model.params(), &fit.std_errors, &truth);
}

#[test]
fn btyd_recovers_pareto_nbd() {
    let truth = [0.75, 6.0, 0.6, 12.0];
    let data = simulate_pnbd(20_000, truth[0], truth[1], truth[2], truth[3], 11);
    let fit = fit_purchase(PurchaseModelKind::ParetoNbd, &data).unwrap();
    assert_recovered("Pareto/NBD", &fit.model.params(), &fit.std_errors, &truth);
}

#[test]
fn btyd_recovers_gamma_gamma() {
    let (p, q, gamma) = (6.0, 4.0, 15.0);
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let nu = Gamma::new(q, 1.0 / gamma).unwrap();
    let mut freq = Vec::new();
    let mut mean = Vec::new();
    for _ in 0..20_000 {
        let x = 1 + (rng.random::<f64>() * 8.0) as usize;
        let value = Gamma::new(p, 1.0 / nu.sample(&mut rng)).unwrap();
        let m = (0..x).map(|_| value.sample(&mut rng)).sum::<f64>() / x as f64;
        freq.push(x as f64);
        mean.push(m);
    }
    let fit = fit_gamma_gamma(&freq, &mean).unwrap();
    let est = [
        ("p", fit.model.p),
        ("q", fit.model.q),
        ("gamma", fit.model.gamma),
    ];
    assert_recovered("Gamma-Gamma", &est, &fit.std_errors, &[p, q, gamma]);
}

// ---------------------------------------------------------------------------------------------
// Errors and hand-checked values

#[test]
fn btyd_insufficient_data() {
    for kind in [PurchaseModelKind::BgNbd, PurchaseModelKind::ParetoNbd] {
        assert!(matches!(
            fit_purchase(kind, &[]),
            Err(ModelError::InsufficientData(_))
        ));
        let none = vec![
            Summary {
                x: 0.0,
                t_x: 0.0,
                t: 10.0
            };
            500
        ];
        assert!(matches!(
            fit_purchase(kind, &none),
            Err(ModelError::InsufficientData(_))
        ));
        let bad = [Summary {
            x: 1.0,
            t_x: 12.0,
            t: 10.0,
        }];
        assert!(matches!(
            fit_purchase(kind, &bad),
            Err(ModelError::BadParameter(_))
        ));
        let nan = [Summary {
            x: f64::NAN,
            t_x: 1.0,
            t: 10.0,
        }];
        assert!(matches!(
            fit_purchase(kind, &nan),
            Err(ModelError::BadParameter(_))
        ));
    }
    assert!(matches!(
        fit_gamma_gamma(&[], &[]),
        Err(ModelError::InsufficientData(_))
    ));
    assert!(matches!(
        fit_gamma_gamma(&[0.0; 50], &[0.0; 50]),
        Err(ModelError::InsufficientData(_))
    ));
    assert!(matches!(
        fit_gamma_gamma(&[1.0], &[]),
        Err(ModelError::BadParameter(_))
    ));
    assert!(matches!(
        fit_gamma_gamma(&[1.0], &[f64::NAN]),
        Err(ModelError::BadParameter(_))
    ));
}

fn cdnow_models() -> [PurchaseModel; 2] {
    [
        PurchaseModel::BgNbd(BgNbd {
            r: 0.243,
            alpha: 4.414,
            a: 0.793,
            b: 2.426,
        }),
        PurchaseModel::ParetoNbd(ParetoNbd {
            r: 0.553,
            alpha: 10.578,
            s: 0.606,
            beta: 11.669,
        }),
    ]
}

#[test]
fn btyd_bad_clv_inputs() {
    let m = &cdnow_models()[0];
    let c = Summary {
        x: 2.0,
        t_x: 30.0,
        t: 38.0,
    };
    for (h, upy, d) in [
        (-1.0, 52.0, 0.1),
        (52.0, 0.0, 0.1),
        (52.0, 52.0, -1.0),
        (f64::NAN, 52.0, 0.1),
    ] {
        assert!(matches!(
            clv(m, &c, 20.0, h, upy, d, 0.3),
            Err(ModelError::BadParameter(_))
        ));
    }
    assert!(matches!(
        clv(m, &c, f64::INFINITY, 52.0, 52.0, 0.1, 0.3),
        Err(ModelError::BadParameter(_))
    ));
}

#[test]
fn btyd_hand_checked_values() {
    let [bg, pareto] = cdnow_models();
    // No repeat purchase: a BG/NBD customer cannot have dropped out.
    assert_eq!(
        bg.p_alive(&Summary {
            x: 0.0,
            t_x: 0.0,
            t: 50.0
        }),
        1.0
    );
    // BG/NBD P(alive) by hand: 1/(1 + a/(b+x−1)·((α+T)/(α+t_x))^{r+x}).
    let c = Summary {
        x: 2.0,
        t_x: 30.43,
        t: 38.86,
    };
    let by_hand =
        1.0 / (1.0 + 0.793 / (2.426 + 1.0) * ((4.414f64 + 38.86) / (4.414 + 30.43)).powf(2.243));
    assert!((bg.p_alive(&c) - by_hand).abs() < 1e-12);
    // Pareto/NBD with nobody ever dying (huge β): P(alive) → 1.
    let immortal = PurchaseModel::ParetoNbd(ParetoNbd {
        r: 0.5,
        alpha: 10.0,
        s: 0.5,
        beta: 1e9,
    });
    assert!((immortal.p_alive(&c) - 1.0).abs() < 1e-6);
    for m in [&bg, &pareto] {
        for c in [
            Summary {
                x: 0.0,
                t_x: 0.0,
                t: 20.0,
            },
            Summary {
                x: 3.0,
                t_x: 10.0,
                t: 30.0,
            },
            Summary {
                x: 40.0,
                t_x: 59.0,
                t: 60.0,
            },
        ] {
            assert_eq!(m.expected_purchases(&c, 0.0), 0.0);
            let mut prev = 0.0;
            for h in [0.5, 1.0, 5.0, 26.0, 52.0, 104.0, 520.0] {
                let e = m.expected_purchases(&c, h);
                assert!(
                    e.is_finite() && e > prev,
                    "{m:?} {c:?} horizon {h}: {e} after {prev}"
                );
                prev = e;
            }
            let p = m.p_alive(&c);
            assert!((0.0..=1.0).contains(&p));
            // Zero discount: CLV is margin × spend × expected purchases.
            let v = clv(m, &c, 25.0, 52.0, 52.0, 0.0, 0.3).unwrap();
            let e = m.expected_purchases(&c, 52.0);
            assert!(
                (v - 0.3 * 25.0 * e).abs() < 1e-9 * v.max(1.0),
                "{v} vs {}",
                0.3 * 25.0 * e
            );
            // Discounting lowers it; a fractional horizon lies between its neighbours.
            let d = clv(m, &c, 25.0, 52.0, 52.0, 0.1, 0.3).unwrap();
            assert!(d < v && d > 0.0);
            let lo = clv(m, &c, 25.0, 10.0, 52.0, 0.1, 0.3).unwrap();
            let mid = clv(m, &c, 25.0, 10.5, 52.0, 0.1, 0.3).unwrap();
            let hi = clv(m, &c, 25.0, 11.0, 52.0, 0.1, 0.3).unwrap();
            assert!(lo < mid && mid < hi);
        }
        assert_eq!(m.expected_purchases_new(0.0), 0.0);
    }
    // Gamma-Gamma conditional spend by hand.
    let gg = GammaGamma {
        p: 6.25,
        q: 3.74,
        gamma: 15.44,
    };
    let want = 6.25 * (15.44 + 4.0 * 30.0) / (6.25 * 4.0 + 3.74 - 1.0);
    assert!((gg.expected_spend(4.0, 30.0) - want).abs() < 1e-12);
}

#[test]
fn btyd_summary_from_days() {
    // Purchases on days 0, 0, 7, 21 and 40; calibration ends on day 28.
    let s = Summary::from_days(&[0, 0, 7, 21, 40], 28, 7.0).unwrap();
    assert_eq!(
        s,
        Summary {
            x: 2.0,
            t_x: 3.0,
            t: 4.0
        }
    );
    assert_eq!(Summary::from_days(&[30], 28, 7.0), None);
    assert_eq!(Summary::from_days(&[], 28, 7.0), None);
    // Compression: identical summaries become one weighted pattern.
    let p = Patterns::new(&[
        s,
        s,
        Summary {
            x: 0.0,
            t_x: 0.0,
            t: 4.0,
        },
    ]);
    assert_eq!(p.len(), 2);
    assert_eq!(p.w, vec![1.0, 2.0]);
}

/// Timing on a million simulated customers (day-resolution ages, as SQL summaries give):
/// `CLIENTELE_SCALE_TESTS=1 cargo test --release -p clientele-models btyd_scale -- --nocapture`.
#[test]
fn btyd_scale_million() {
    if !crate::scale_tests() {
        return;
    }
    use std::time::Instant;
    let n = 1_000_000;
    let mut data = simulate_bgnbd(n, 0.75, 6.0, 0.8, 2.5, 99);
    for c in &mut data {
        c.t = (c.t * 7.0).round() / 7.0;
        c.t_x = ((c.t_x * 7.0).round() / 7.0).min(c.t);
    }
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let nu = Gamma::new(4.0, 1.0 / 15.0).unwrap();
    let freq: Vec<f64> = data.iter().map(|c| c.x).collect();
    let mean: Vec<f64> = data
        .iter()
        .map(|c| {
            if c.x == 0.0 {
                return 0.0;
            }
            let value = Gamma::new(6.0, 1.0 / nu.sample(&mut rng)).unwrap();
            (0..c.x as usize)
                .map(|_| value.sample(&mut rng))
                .sum::<f64>()
                / c.x
        })
        .collect();
    let start = Instant::now();
    let fit = fit_purchase(PurchaseModelKind::BgNbd, &data).unwrap();
    let t_bg = start.elapsed();
    let start = Instant::now();
    let spend = fit_gamma_gamma(&freq, &mean).unwrap();
    let t_gg = start.elapsed();
    eprintln!(
        "BG/NBD fit {t_bg:?} ({} patterns, {} iterations): {:?} ± {:?}",
        fit.n_patterns,
        fit.iterations,
        fit.model.params(),
        fit.std_errors
    );
    eprintln!("Gamma-Gamma fit {t_gg:?}: {:?}", spend.model);
    let start = Instant::now();
    let request = ScoreRequest {
        horizon: 52.0,
        units_per_year: 52.18,
        annual_discount: 0.1,
        also_expected_over: None,
    };
    let s = score(&fit.model, &data, &request).unwrap();
    let total: f64 = (0..n)
        .map(|i| {
            s.p_alive[i]
                + s.expected[i]
                + 0.3 * spend.model.expected_spend(freq[i], mean[i]) * s.discounted[i]
        })
        .sum();
    eprintln!(
        "scoring 1M (p_alive, E[X(52)], 52-week CLV): {:?} (checksum {total:.1})",
        start.elapsed()
    );
    let start = Instant::now();
    let fit = fit_purchase(PurchaseModelKind::ParetoNbd, &data).unwrap();
    eprintln!(
        "Pareto/NBD fit {:?} ({} patterns): {:?}",
        start.elapsed(),
        fit.n_patterns,
        fit.model.params()
    );
}

/// `score` gives, for every customer, what the one-customer functions give: P(alive),
/// E[X(T, T+h)], the discounted sum of `clv` and a second expectation — for both models, over
/// the CDNOW customers plus edge cases (T = 0, a fractional horizon, frequent buyers), in weeks
/// and in days, with and without discounting.
#[test]
fn btyd_score_matches_one_customer_functions() {
    let mut customers = cdnow().summaries.clone();
    customers.extend([
        Summary {
            x: 0.0,
            t_x: 0.0,
            t: 0.0,
        },
        Summary {
            x: 0.0,
            t_x: 0.0,
            t: 100.0,
        },
        Summary {
            x: 60.0,
            t_x: 70.0,
            t: 70.5,
        },
        Summary {
            x: 1.0,
            t_x: 0.5,
            t: 0.5,
        },
    ]);
    let close = |got: f64, want: f64, what: &str| {
        assert!(
            (got - want).abs() <= 1e-10 * want.abs().max(1e-12),
            "{what}: {got} vs {want}"
        );
    };
    for m in cdnow_models() {
        for (horizon, upy, discount, also) in [
            (52.0, 52.18, 0.1, Some(39.0)),
            (10.5, 52.18, 0.0, None),
            (365.0, 365.25, 0.15, Some(1.0)),
        ] {
            let request = ScoreRequest {
                horizon,
                units_per_year: upy,
                annual_discount: discount,
                also_expected_over: also,
            };
            let s = score(&m, &customers, &request).unwrap();
            assert_eq!(s.p_alive.len(), customers.len());
            assert_eq!(s.expected_also.is_some(), also.is_some());
            for (i, c) in customers.iter().enumerate() {
                close(s.p_alive[i], m.p_alive(c), "p_alive");
                close(s.expected[i], m.expected_purchases(c, horizon), "expected");
                let one = clv(&m, c, 1.0, horizon, upy, discount, 1.0).unwrap();
                close(s.discounted[i], one, &format!("{m:?} {c:?} discounted"));
                if let (Some(l), Some(e)) = (also, &s.expected_also) {
                    close(
                        e[i],
                        m.expected_purchases(c, l),
                        "expected over the second length",
                    );
                }
            }
        }
    }
    // A purchase time scale so short that z comes within 1e-3 of 1: the moment table would be
    // too long and the customers are evaluated term by term, with the same result.
    let m = PurchaseModel::BgNbd(BgNbd {
        r: 0.5,
        alpha: 0.04,
        a: 0.8,
        b: 2.0,
    });
    let few = &customers[customers.len() - 4..];
    let request = ScoreRequest {
        horizon: 52.0,
        units_per_year: 52.18,
        annual_discount: 0.1,
        also_expected_over: None,
    };
    let s = score(&m, few, &request).unwrap();
    for (i, c) in few.iter().enumerate() {
        close(
            s.discounted[i],
            clv(&m, c, 1.0, 52.0, 52.18, 0.1, 1.0).unwrap(),
            "fallback",
        );
    }
    // No customers: empty scores, not an error.
    let none = score(&m, &[], &request).unwrap();
    assert!(none.p_alive.is_empty() && none.expected.is_empty() && none.discounted.is_empty());
    // Bad requests are refused like clv's.
    for bad in [
        ScoreRequest {
            horizon: -1.0,
            ..request
        },
        ScoreRequest {
            also_expected_over: Some(f64::NAN),
            ..request
        },
    ] {
        assert!(matches!(
            score(&m, few, &bad),
            Err(ModelError::BadParameter(_))
        ));
    }
}
