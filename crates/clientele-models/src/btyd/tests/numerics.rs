//! The special functions (hypergeometric series, the Pareto/NBD quadrature fallback) and the
//! analytic gradients and Hessians, each against an independent computation.

use super::*;
use crate::btyd::special::{bg_series, hyp2f1, ln_hyp2f1_one};

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
