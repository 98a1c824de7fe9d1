//! Churn details of issue 20 (item 10): an as-of day past the data is refused, features use
//! only what was known at the snapshot (no return rate from today's order status, CSAT only
//! from tickets resolved before it), and subscription churn includes subscribers who never
//! ordered. Expected values are worked out by hand or recomputed from the fixture's own
//! description, never from the code under test.

use super::analyses::days;
use super::churn_fairness::ChurnFixture;
use super::*;

#[tokio::test]
async fn churn_refuses_an_as_of_day_past_the_data() {
    let fx = ChurnFixture::new();
    let files = fx.files();
    let refs: Vec<(&str, &str)> = files.iter().map(|(n, t)| (*n, t.as_str())).collect();
    let dir = workspace(&refs);
    let engine = open(dir.path()).await;
    // The fixture's last order is on 2025-06-30 (loyal customers buy up to that day).
    let last = fx.orders.iter().map(|o| o.1).max().unwrap();
    assert_eq!(last, d("2025-06-30"));
    let run = |as_of: &str| ChurnOptions {
        as_of: Some(d(as_of)),
        ..ChurnOptions::default()
    };
    // A day later than the day after the last order: the validation window would run into
    // days without data, where everyone "churns". Refused, naming the last day.
    for late in ["2025-07-02", "2025-12-31"] {
        let err = churn(&engine, &run(late)).await.unwrap_err();
        match &err {
            AnalyticsError::Parameter {
                name,
                value,
                expected,
            } => {
                assert_eq!(*name, "as_of");
                assert_eq!(value, late);
                assert!(expected.contains("2025-06-30"), "{expected}");
                assert!(expected.contains("2025-07-01"), "{expected}");
            }
            other => panic!("{late}: expected a parameter error, got {other:?}"),
        }
        assert!(err.is_bad_input());
    }
    // The day after the last order (the default) and earlier days run.
    let a = churn(&engine, &run("2025-07-01")).await.unwrap();
    assert_eq!(a.facts["as_of"], "2025-07-01");
    churn(&engine, &run("2025-06-15")).await.unwrap();
}

/// Orders (one returned, with no date telling when) and tickets whose CSAT was given, at
/// resolution, after the snapshot 2025-06-01.
const LEAK_FILES: &[(&str, &str)] = &[
    (
        "orders.csv",
        "order_id,customer_id,order_date,total_amount,status\n\
         O1,C1,2025-01-10,100,completed\n\
         O2,C1,2025-03-01,50,returned\n\
         O3,C1,2025-05-01,70,completed\n\
         O4,C2,2025-02-01,30,completed\n",
    ),
    (
        "tickets.csv",
        "ticket_id,customer_id,opened_at,resolved_at,csat\n\
         T1,C1,2025-05-20,2025-05-21,2\n\
         T2,C1,2025-05-30,2025-06-05,5\n\
         T3,C2,2025-05-31,2025-06-02,1\n",
    ),
];

#[tokio::test]
async fn churn_features_know_only_what_was_known_at_the_snapshot() {
    let dir = workspace(LEAK_FILES);
    let engine = open(dir.path()).await;
    let s = d("2025-06-01");
    let f = customer_features(&engine, s, FeatureSet::default())
        .await
        .unwrap();
    assert_eq!(f.ids, vec!["C1", "C2"]);
    // O2's status is today's; whether it was returned before 2025-06-01 the data cannot
    // tell. The old return_rate said 1 of C1's 3 orders (any status) was returned: a fact
    // possibly from after the snapshot. It is not a feature, and the notes say why.
    assert!(f.column("return_rate").is_none(), "{:?}", f.features);
    assert!(
        f.notes
            .iter()
            .any(|n| n.contains("return_rate") && n.contains("no date for their status")),
        "{:?}",
        f.notes
    );
    // CSAT is given at resolution: C1's T1 (resolved 2025-05-21, CSAT 2) counts, T2
    // (resolved 2025-06-05, CSAT 5) does not: 2, not (2 + 5) / 2 = 3.5. C2's only rated
    // ticket, T3, was resolved on 2025-06-02: no CSAT known at the snapshot.
    assert_eq!(
        f.column("average_csat").unwrap(),
        &[Some(2.0), None],
        "CSAT only from tickets resolved before the snapshot"
    );
    // The tickets themselves were opened before it and count: C1 two, C2 one.
    assert_eq!(
        f.column("tickets_last_year").unwrap(),
        &[Some(2.0), Some(1.0)]
    );

    // Without resolved_at there is no telling when a CSAT was given: not used, and said.
    let undated = [
        LEAK_FILES[0],
        (
            "tickets.csv",
            "ticket_id,customer_id,opened_at,csat\nT1,C1,2025-05-20,2\nT2,C1,2025-05-30,5\n",
        ),
    ];
    let dir = workspace(&undated);
    let engine = open(dir.path()).await;
    let f = customer_features(&engine, s, FeatureSet::default())
        .await
        .unwrap();
    assert!(f.column("average_csat").is_none());
    assert!(
        f.notes
            .iter()
            .any(|n| n.contains("average_csat") && n.contains("resolved_at")),
        "{:?}",
        f.notes
    );
}

/// Subscription fixture: 400 customers C001..C400 (i = 0..399). Customer i subscribes on
/// 2023-01-01 + (37 i mod 365) days; each term lasts 365 days and the next starts on its
/// renewal date. A term due by 2025-06-30 (the last day of data) is renewed when
/// (7 i + 3 k) mod 10 < 7 (k = 0, 1, … the term's number), and the subscription stops at the
/// first term not renewed; a term due later is still running (renewal unknown). Even i also
/// order every 40 days from the subscription start to 2025-06-30 (and C001 on 2025-06-30, so
/// the as-of day is 2025-07-01); odd i never order.
struct SubscriptionFixture {
    /// (customer index, started, renewal date, renewed)
    terms: Vec<(usize, NaiveDate, NaiveDate, Option<bool>)>,
    orders: Vec<(usize, NaiveDate)>,
}

impl SubscriptionFixture {
    fn new() -> SubscriptionFixture {
        let end = d("2025-06-30");
        let mut f = SubscriptionFixture {
            terms: Vec::new(),
            orders: vec![(0, end)],
        };
        for i in 0..400usize {
            let start = d("2023-01-01") + days((37 * i as i64) % 365);
            let mut started = start;
            for k in 0.. {
                let renewal = started + days(365);
                let renewed = (renewal <= end).then_some((7 * i + 3 * k) % 10 < 7);
                f.terms.push((i, started, renewal, renewed));
                if renewed != Some(true) {
                    break;
                }
                started = renewal;
            }
            if i % 2 == 0 {
                let mut day = start;
                while day <= end {
                    f.orders.push((i, day));
                    day += days(40);
                }
            }
        }
        f
    }

    fn files(&self) -> Vec<(&'static str, String)> {
        let mut customers = String::from("customer_id\n");
        for i in 0..400 {
            customers += &format!("C{:03}\n", i + 1);
        }
        let mut subs =
            String::from("subscription_id,customer_id,started_at,renewal_date,renewed\n");
        for (k, (i, started, renewal, renewed)) in self.terms.iter().enumerate() {
            let r = renewed.map(|r| r.to_string()).unwrap_or_default();
            subs += &format!("S{k},C{:03},{started},{renewal},{r}\n", i + 1);
        }
        let mut orders = String::from("order_id,customer_id,order_date,total_amount\n");
        for (k, (i, day)) in self.orders.iter().enumerate() {
            orders += &format!("O{k},C{:03},{day},{}\n", i + 1, 20 + (i * 11 + k) % 60);
        }
        vec![
            ("customers.csv", customers),
            ("subscriptions.csv", subs),
            ("orders.csv", orders),
        ]
    }

    /// Customers with a term due for renewal in [s, s + 90) that started before s, by the
    /// definition in docs/analyses.md, with whether they ordered before s.
    fn due(&self, s: NaiveDate) -> Vec<(usize, bool)> {
        let mut out: Vec<(usize, bool)> = self
            .terms
            .iter()
            .filter(|t| t.1 < s && t.2 >= s && t.2 < s + days(90))
            .map(|t| (t.0, self.orders.iter().any(|o| o.0 == t.0 && o.1 < s)))
            .collect();
        out.sort();
        out.dedup();
        out
    }
}

#[tokio::test]
async fn subscription_churn_includes_subscribers_without_orders() {
    let fx = SubscriptionFixture::new();
    let files = fx.files();
    let refs: Vec<(&str, &str)> = files.iter().map(|(n, t)| (*n, t.as_str())).collect();
    let dir = workspace(&refs);
    let engine = open(dir.path()).await;
    let options = ChurnOptions {
        kind: ChurnKind::Subscription,
        ..ChurnOptions::default()
    };
    let a = churn(&engine, &options).await.unwrap();
    assert_eq!(a.facts["as_of"], "2025-07-01");
    // Validation snapshot 2025-04-02: every subscriber with a term due before 2025-07-01,
    // those who never ordered (odd i) among them.
    let val = fx.due(d("2025-04-02"));
    let never_ordered = val.iter().filter(|v| !v.1).count();
    assert!(
        never_ordered > 20 && val.len() - never_ordered > 20,
        "{val:?}"
    );
    assert_eq!(a.facts["evaluation"]["n_test"], val.len());
    // Scored at 2025-07-01: the terms due in [2025-07-01, 2025-09-29), whoever holds them.
    let scored = fx.due(d("2025-07-01"));
    assert_eq!(a.facts["scored_customers"], scored.len());
    let rows = a.rows.as_ref().unwrap();
    let ids: Vec<String> = text(rows, "customer_id").into_iter().flatten().collect();
    let want: Vec<String> = scored
        .iter()
        .map(|(i, _)| format!("C{:03}", i + 1))
        .collect();
    assert_eq!(ids, want);
    let without = scored.iter().filter(|s| !s.1).count();
    assert!(without > 10, "{scored:?}");
    assert_eq!(a.facts["scored_without_orders"], without);
    assert!(
        a.notes
            .iter()
            .any(|n| n.starts_with(&format!("{without} of the {} subscribers", scored.len()))),
        "{:?}",
        a.notes
    );
    // Each has a probability of not renewing.
    assert!(num(rows, "churn_probability").iter().all(|p| p.is_some()));
}

/// Issue 20 item 11: the churn model predicts "no purchase in the next window", not "has
/// left"; its output says so by name (a new column; `churn_probability` stays, the same
/// value, where it was) and in the facts and titles.
#[tokio::test]
async fn churn_probability_is_named_for_what_it_predicts() {
    let fx = ChurnFixture::new();
    let files = fx.files();
    let refs: Vec<(&str, &str)> = files.iter().map(|(n, t)| (*n, t.as_str())).collect();
    let dir = workspace(&refs);
    let engine = open(dir.path()).await;
    let options = ChurnOptions {
        window: 60,
        active_days: 365,
        ..ChurnOptions::default()
    };
    let a = churn(&engine, &options).await.unwrap();
    let rows = a.rows.as_ref().unwrap();
    let schema = rows.schema.clone();
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    assert_eq!(
        names,
        [
            "customer_id",
            "churn_probability",
            "churn_reasons",
            "p_no_purchase"
        ]
    );
    assert_eq!(num(rows, "p_no_purchase"), num(rows, "churn_probability"));
    let o = &a.facts["outcome"];
    assert_eq!(o["column"], "p_no_purchase");
    assert_eq!(o["label"], "P(no purchase in the next 60 days)");
    assert_eq!(o["same_value_as"], "churn_probability");
    assert_eq!(
        a.facts["mean_p_no_purchase"],
        a.facts["mean_churn_probability"]
    );
    assert!(
        a.title.contains("P(no purchase in the next 60 days)"),
        "{}",
        a.title
    );
    for t in &a.tables {
        assert!(!t.title.contains("likely to churn"), "{}", t.title);
    }
}
