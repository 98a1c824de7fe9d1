//! Parameter recovery: customers simulated from known BG/NBD, Pareto/NBD and Gamma-Gamma
//! parameters, fitted back within their standard errors.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Beta, Distribution, Exp, Gamma};

use super::*;

pub(super) fn simulate_bgnbd(
    n: usize,
    r: f64,
    alpha: f64,
    a: f64,
    b: f64,
    seed: u64,
) -> Vec<Summary> {
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
