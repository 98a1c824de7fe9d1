//! The registry's promises: every declaration is complete and unique, every parameter
//! struct's defaults are what the CLI gives with no flags and what the API gives with no
//! query, choices read the same from the terminal and from HTTP, and the documented ranges
//! are enforced in the library.

use clap::{Args, FromArgMatches, ValueEnum};

use super::*;

/// Visits every analysis with a check.
fn each(check: impl FnMut(Def, &mut dyn FnMut() -> String, &mut dyn FnMut() -> String)) {
    struct V<F>(F);
    impl<F: FnMut(Def, &mut dyn FnMut() -> String, &mut dyn FnMut() -> String)> Visitor for V<F> {
        fn visit<S: Spec>(&mut self) {
            // Defaults three ways, as Debug text: Default, the CLI with no flags, the API
            // with no query.
            let mut from_cli = || {
                let cmd = S::Params::augment_args(clap::Command::new("x"));
                let m = cmd.try_get_matches_from(["x"]).expect("no flags parse");
                format!(
                    "{:?}",
                    S::Params::from_arg_matches(&m).expect("from matches")
                )
            };
            let mut from_api = || {
                let p: S::Params = serde_json::from_str("{}").expect("no query parses");
                format!("{p:?}")
            };
            (self.0)(S::DEF, &mut from_cli, &mut from_api);
            assert!(
                S::Params::default().check().is_ok(),
                "{}: defaults fail their own check",
                S::DEF.name
            );
            assert_eq!(
                format!("{:?}", S::Params::default()),
                from_cli(),
                "{}: Default differs from the CLI's defaults",
                S::DEF.name
            );
        }
    }
    visit(&mut V(check));
}

#[test]
fn declarations_are_complete_and_unique() {
    let mut names = std::collections::HashSet::new();
    let mut paths = std::collections::HashSet::new();
    let mut commands = std::collections::HashSet::new();
    each(|def, _, from_api| {
        assert!(
            names.insert(def.name),
            "two analyses are named {}",
            def.name
        );
        assert!(paths.insert(def.path), "two analyses answer {}", def.path);
        assert!(
            commands.insert(def.command.join(" ")),
            "two analyses are `{}`",
            def.command.join(" ")
        );
        assert!(def.path.starts_with('/') && !def.path.ends_with('/'));
        assert!(matches!(def.command.len(), 1 | 2), "{}", def.name);
        if def.command.len() == 2 {
            assert!(
                GROUPS.iter().any(|(g, _)| *g == def.command[0]),
                "{}: group {} has no help text",
                def.name,
                def.command[0]
            );
        }
        assert!(!def.about.is_empty() && !def.long_about.is_empty() && !def.progress.is_empty());
        if let Some(t) = def.stores {
            // Per-customer (and per-lead) results, and the basket rules the 360 reads.
            assert!(
                t.starts_with("scores_") || t == "lead_scores" || t == "basket_rules",
                "{t}"
            );
            assert!(
                def.long_about.contains(t),
                "{}: help does not name {t}",
                def.name
            );
        }
        let _ = from_api();
    });
    assert!(names.len() >= 8);
}

#[test]
fn no_query_means_the_defaults() {
    each(|def, from_cli, from_api| {
        assert_eq!(from_cli(), from_api(), "{}", def.name);
    });
}

/// Every value clap offers for a choice reads back as the same value through serde, so the
/// CLI's `--help` list is also what the API accepts.
fn same_names<E: ValueEnum + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug>() {
    for v in E::value_variants() {
        let name = v.to_possible_value().unwrap().get_name().to_string();
        let back: E = serde_json::from_value(serde_json::Value::String(name.clone()))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(&back, v, "{name}");
    }
}

#[test]
fn choices_read_the_same_from_the_terminal_and_from_http() {
    same_names::<churn::ChurnKind>();
    same_names::<clv::TimeUnit>();
    same_names::<clv::PurchaseModel>();
    same_names::<cohorts::CohortBy>();
    same_names::<segment::DemographicDimension>();
    assert_eq!(params::one_of::<clv::PurchaseModel>(), "bgnbd or pnbd");
    assert_eq!(params::one_of::<cohorts::CohortBy>(), "month or quarter");
}

fn rejects(p: impl Params, name: &str) {
    match p.check() {
        Err(AnalyticsError::Parameter { name: n, .. }) => assert_eq!(n, name),
        other => panic!("{name}: expected a parameter error, got {other:?}"),
    }
}

/// The documented ranges, checked once here whatever surface asked (issue 11's drift: the k
/// range, churn's window, leads' maturity, lifecycle thresholds).
#[test]
fn documented_ranges_are_enforced_in_the_library() {
    use segment::{BehaviouralOptions, LifecycleOptions};
    for k in [1, 51] {
        rejects(
            BehaviouralOptions {
                k: Some(k),
                ..Default::default()
            },
            "k",
        );
    }
    for k in [2, 50] {
        assert!(
            BehaviouralOptions {
                k: Some(k),
                ..Default::default()
            }
            .check()
            .is_ok()
        );
    }
    for window in [6, 3651] {
        rejects(
            churn::ChurnOptions {
                window,
                ..Default::default()
            },
            "window",
        );
    }
    for window in [7, 365] {
        assert!(
            churn::ChurnOptions {
                window,
                ..Default::default()
            }
            .check()
            .is_ok()
        );
    }
    rejects(
        churn::ChurnOptions {
            window: 100,
            active_days: 99,
            ..Default::default()
        },
        "active_days",
    );
    for maturity_days in [-1, 3651] {
        rejects(leads::LeadOptions { maturity_days }, "maturity_days");
    }
    assert!(leads::LeadOptions { maturity_days: 0 }.check().is_ok());
    // One conversion window for the KPI and lead scoring, 90 days as documented.
    assert_eq!(leads::CONVERSION_WINDOW_DAYS, 90);
    assert_eq!(
        leads::LeadOptions::default().maturity_days,
        leads::CONVERSION_WINDOW_DAYS
    );
    rejects(
        LifecycleOptions {
            active_days: Some(400.0),
            ..Default::default()
        },
        "churned_days",
    );
    rejects(
        LifecycleOptions {
            new_days: Some(0.0),
            ..Default::default()
        },
        "new_days",
    );
    rejects(
        LifecycleOptions {
            high_value_share: Some(1.0),
            ..Default::default()
        },
        "high_value_share",
    );
    rejects(
        clv::ClvOptions {
            margin: 0.0,
            ..Default::default()
        },
        "margin",
    );
    rejects(
        clv::ClvOptions {
            horizon: Some(-3.0),
            ..Default::default()
        },
        "horizon",
    );
    rejects(
        clv::ClvOptions {
            discount_rate: f64::NAN,
            ..Default::default()
        },
        "discount_rate",
    );
}

/// A parameter error reads with the surface's own spelling of the parameter.
#[test]
fn parameter_errors_name_the_parameter_per_surface() {
    let e = churn::ChurnOptions {
        window: 4000,
        ..Default::default()
    }
    .check()
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "window 4000: expected a number of days between 7 and 3650"
    );
    assert_eq!(
        e.describe(|n| format!("--{} ", n.replace('_', "-"))),
        "--window 4000: expected a number of days between 7 and 3650"
    );
    assert_eq!(
        e.describe(|n| format!("{n}=")),
        "window=4000: expected a number of days between 7 and 3650"
    );
    assert!(e.is_bad_input() && !e.is_internal());
}

/// A failure of our own (an Arrow kernel on data we built) is a bug: internal, not the
/// user's to fix, with its cause kept.
#[test]
fn an_arrow_failure_is_internal_and_keeps_its_cause() {
    let e = AnalyticsError::from(arrow::error::ArrowError::ComputeError("boom".into()));
    assert!(e.is_internal() && !e.is_bad_input());
    assert!(std::error::Error::source(&e).is_some());
    assert!(e.describe(|n| n.to_string()).ends_with("boom"), "{e}");
}
