//! Error cases (too little data, bad CLV inputs) and values checked by hand, including
//! summaries built from purchase days.

use super::*;
use crate::ModelError;

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
