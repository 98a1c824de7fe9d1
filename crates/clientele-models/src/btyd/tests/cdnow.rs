//! The CDNOW reference fits (Fader, Hardie & Lee 2005): the customer summary built from raw
//! transactions, BG/NBD, Pareto/NBD and Gamma-Gamma parameters, and a published P(alive).

use super::*;

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
