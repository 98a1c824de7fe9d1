//! The whole-base scorer against the one-customer functions, and timing on a million
//! simulated customers.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Gamma};

use super::recovery::simulate_bgnbd;
use super::*;
use crate::ModelError;

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
