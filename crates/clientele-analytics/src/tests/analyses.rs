//! Customer-intelligence analyses on the hand-computed fixture of the parent module (cohorts,
//! customer features, RFM, demographic and lifecycle segments), and the helpers that the
//! analyses on small generated fixtures (`lead_grades`, `behavioural_clusters`,
//! `churn_fairness`, beside this file) share with them.

use super::*;

pub(super) fn table<'a>(a: &'a Analysis, name: &str) -> &'a Report {
    a.tables
        .iter()
        .find(|t| t.name == name)
        .unwrap_or_else(|| panic!("table {name}"))
}

pub(super) fn days(n: i64) -> chrono::Duration {
    chrono::Duration::days(n)
}

#[tokio::test]
async fn monthly_cohorts_match_hand_computed_retention_and_revenue() {
    let dir = workspace(FILES);
    let engine = open(dir.path()).await;
    let a = cohorts(&engine, CohortBy::Month).await.unwrap();
    let long = table(&a, "cohorts");
    // Sales (O6 cancelled is out): C1 first buys 2024-11 (100), again 2025-02 (50) and
    // 2025-04 (70); C2 2025-03 (30); C3 2025-05 (40), 2025-06 (20); C4 2025-07 (999).
    // The data ends in 2025-07, so cohort 2024-11 has periods 0..=8, 2025-03 0..=4,
    // 2025-05 0..=2 and 2025-07 only 0: 9 + 5 + 3 + 1 rows.
    assert_eq!(long.num_rows(), 18);
    let cohort = text(long, "cohort");
    let k = num(long, "periods_since_first");
    let retention = num(long, "retention");
    let cumulative = num(long, "cumulative_revenue_per_customer");
    let row = |c: &str, p: f64| {
        (0..cohort.len())
            .find(|&i| cohort[i].as_deref() == Some(c) && k[i] == Some(p))
            .unwrap_or_else(|| panic!("{c} {p}"))
    };
    // C1 active in periods 0, 3 (Feb) and 5 (Apr) of its cohort, not 1, 2, 4, 6..8.
    for (p, r) in [
        (0.0, 1.0),
        (1.0, 0.0),
        (3.0, 1.0),
        (4.0, 0.0),
        (5.0, 1.0),
        (8.0, 0.0),
    ] {
        close(
            retention[row("2024-11", p)],
            Some(r),
            &format!("2024-11 period {p}"),
        );
    }
    close(
        cumulative[row("2024-11", 2.0)],
        Some(100.0),
        "cumulative before Feb",
    );
    close(
        cumulative[row("2024-11", 8.0)],
        Some(220.0),
        "100 + 50 + 70",
    );
    close(cumulative[row("2025-05", 1.0)], Some(60.0), "40 + 20");
    close(
        retention[row("2025-05", 1.0)],
        Some(1.0),
        "C3 buys again in June",
    );
    close(
        retention[row("2025-03", 4.0)],
        Some(0.0),
        "C2 never returns",
    );
    assert!(
        !cohort.iter().any(|c| c.as_deref() == Some("2025-07")) || {
            let i = row("2025-07", 0.0);
            num(long, "revenue")[i] == Some(999.0)
        }
    );
    assert!(
        a.notes
            .iter()
            .any(|n| n.contains("2025-07") && n.contains("partial")),
        "{:?}",
        a.notes
    );
    // The matrix: one row per cohort, 9 period columns (m0..m8), blank where unobserved.
    let m = table(&a, "retention");
    assert_eq!(m.num_rows(), 4);
    assert_eq!(num(m, "m8"), vec![Some(0.0), None, None, None]);

    let q = cohorts(&engine, CohortBy::Quarter).await.unwrap();
    let long = table(&q, "cohorts");
    // Quarters: C1 2024-Q4 (100), 2025-Q1 (50), 2025-Q2 (70); C2 2025-Q1; C3 2025-Q2 (60);
    // C4 2025-Q3. Cohort 2025-Q1 holds C2 only: its period 1 (Q2) has no sale.
    let cohort = text(long, "cohort");
    let k = num(long, "periods_since_first");
    let retention = num(long, "retention");
    let i = (0..cohort.len())
        .find(|&i| cohort[i].as_deref() == Some("2024-Q4") && k[i] == Some(2.0))
        .unwrap();
    close(retention[i], Some(1.0), "C1 buys in 2025-Q2");
    let i = (0..cohort.len())
        .find(|&i| cohort[i].as_deref() == Some("2025-Q1") && k[i] == Some(1.0))
        .unwrap();
    close(retention[i], Some(0.0), "C2 does not buy in 2025-Q2");
}

#[tokio::test]
async fn customer_features_follow_their_definitions() {
    let dir = workspace(FILES);
    let engine = open(dir.path()).await;
    // As of 2025-06-01: sales before it are O1 (2024-11-10, 100), O2 (2025-02-01, 50),
    // O4 (2025-04-10, 70) for C1; O3 (2025-03-15, 30) for C2; O5 (2025-05-05, 40) for C3.
    let f = customer_features(
        &engine,
        d("2025-06-01"),
        FeatureSet {
            category_mix: true,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(f.ids, vec!["C1", "C2", "C3"]);
    let get = |k: &str| f.column(k).unwrap_or_else(|| panic!("{k}")).to_vec();
    // 2025-06-01 − 2025-04-10 = 52 days; − 2025-03-15 = 78; − 2025-05-05 = 27.
    assert_eq!(
        get("recency_days"),
        vec![Some(52.0), Some(78.0), Some(27.0)]
    );
    assert_eq!(get("frequency"), vec![Some(3.0), Some(1.0), Some(1.0)]);
    assert_eq!(get("monetary"), vec![Some(220.0), Some(30.0), Some(40.0)]);
    // C1: 2024-11-10 → 2025-04-10 is 151 days over 2 gaps = 75.5; overdue 52 / 75.5.
    assert_eq!(get("mean_days_between_orders")[0], Some(75.5));
    close(get("overdue_ratio")[0], Some(52.0 / 75.5), "overdue");
    assert_eq!(get("mean_days_between_orders")[1], None);
    // C1's last 90 days (from 2025-03-03) hold one order, Apr 10 (Feb 1 is 120 days back);
    // the 90 days before hold Feb 1 → trend 1 − 1 = 0.
    assert_eq!(get("orders_last_90d")[0], Some(1.0));
    assert_eq!(get("order_trend_90d")[0], Some(0.0));
    // Tickets before June: T1 (C1, CSAT 5), T2 (C2, CSAT 3); T3 is on 2025-06-01 itself.
    assert_eq!(
        get("tickets_last_year"),
        vec![Some(1.0), Some(1.0), Some(0.0)]
    );
    assert_eq!(get("average_csat"), vec![Some(5.0), Some(3.0), None]);
    // NPS answers before June: C1 10, C2 9, C3 7.
    assert_eq!(get("nps_score"), vec![Some(10.0), Some(9.0), Some(7.0)]);
    // C1's lines: O2 P2 (B) 1 × 50 × 1 = 50, O4 P1 (A) 2 × 35 = 70 → share of A = 70/120.
    close(get("share_a")[0], Some(70.0 / 120.0), "category mix");
    close(
        get("average_discount")[0],
        Some(0.0),
        "O4 has no discount (0), O2 0",
    );
    // No web_sessions or touchpoints in the fixture: named in the notes.
    assert!(
        f.notes.iter().any(|n| n.contains("web_sessions")),
        "{:?}",
        f.notes
    );
}

#[tokio::test]
async fn rfm_segments_match_hand_computed_scores() {
    let dir = workspace(FILES);
    let engine = open(dir.path()).await;
    let a = segment_rfm(&engine, None).await.unwrap();
    // As of 2025-07-03 (the day after the last sale, O8 on 2025-07-02). Sales per customer:
    // C1 O1 100 + O2 50 + O4 70 = 220 in 3 orders, last 2025-04-10 (84 days);
    // C2 O3 30, last 2025-03-15 (110 days); C3 O5 40 + O7 20 = 60 in 2, last 2025-06-25
    // (8 days); C4 O8 999, last 2025-07-02 (1 day).
    let rows = a.rows.as_ref().unwrap();
    assert_eq!(
        num(rows, "recency_days"),
        vec![Some(84.0), Some(110.0), Some(8.0), Some(1.0)]
    );
    // Mid-rank quintiles of 4 distinct values score 1, 2, 4, 5. Recency (fewer days better):
    // C2 1, C1 2, C3 4, C4 5. Frequency 3, 1, 2, 1: C2 and C4 tie at (0 + 2/2)/4 = 0.25 → 2,
    // C3 (2 + 0.5)/4 → 4, C1 (3 + 0.5)/4 → 5. Monetary 220, 30, 60, 999 → 4, 1, 2, 5.
    assert_eq!(
        text(rows, "rfm"),
        ["254", "121", "442", "525"]
            .map(|s| Some(s.to_string()))
            .to_vec()
    );
    // FM = ⌈(F + M)/2⌉: C1 R2 FM5 Can't lose them; C2 R1 FM2 Lost; C3 R4 FM3 Potential
    // loyalists; C4 R5 FM4 Champions.
    assert_eq!(
        text(rows, "rfm_segment"),
        [
            "Can't lose them",
            "Lost",
            "Potential loyalists",
            "Champions"
        ]
        .map(|s| Some(s.to_string()))
        .to_vec()
    );
    let seg = table(&a, "segments");
    let names = text(seg, "segment");
    let at = |n: &str| names.iter().position(|s| s.as_deref() == Some(n)).unwrap();
    let share = num(seg, "share_of_revenue");
    let aov = num(seg, "average_order_value");
    // Revenue 1309 in all; Can't lose them = C1: 220 / 1309, 220 / 3 orders.
    close(share[at("Can't lose them")], Some(220.0 / 1309.0), "share");
    close(aov[at("Can't lose them")], Some(220.0 / 3.0), "aov");
    close(
        num(seg, "share_of_customers")[at("Lost")],
        Some(0.25),
        "one of four",
    );
    // Segments with no customer are left out.
    assert_eq!(seg.num_rows(), 4);
}

#[tokio::test]
async fn demographic_groups_match_hand_computed_values() {
    let dir = workspace(FILES);
    let engine = open(dir.path()).await;
    let a = segment_demographic(&engine, &["region".to_string()], None)
        .await
        .unwrap();
    let t = table(&a, "demographic");
    // By revenue: South (C2 30 + C4 999 = 1029 in 2 orders) before North (C1 220 in 3,
    // C3 60 in 2: 280 in 5 orders). Everyone bought within 365 days of 2025-07-03.
    assert_eq!(
        text(t, "region"),
        vec![Some("South".to_string()), Some("North".to_string())]
    );
    let col = |c: &str| num(t, c);
    assert_eq!(col("customers"), vec![Some(2.0), Some(2.0)]);
    close(
        col("share_of_revenue")[0],
        Some(1029.0 / 1309.0),
        "South share",
    );
    close(col("revenue_per_customer")[1], Some(140.0), "280 / 2");
    close(col("orders_per_buyer")[1], Some(2.5), "5 orders / 2 buyers");
    close(col("average_order_value")[0], Some(514.5), "1029 / 2");
    close(
        col("active_share")[1],
        Some(1.0),
        "both North customers active",
    );
    // The fixture has no birth dates: every customer's age band is unknown, as noted.
    let a = segment_demographic(&engine, &["age_band".to_string()], None)
        .await
        .unwrap();
    assert_eq!(
        text(table(&a, "demographic"), "age_band"),
        vec![Some("unknown".to_string())]
    );
    assert!(
        a.notes.iter().any(|n| n.contains("birth_date")),
        "{:?}",
        a.notes
    );
}

#[tokio::test]
async fn lifecycle_stages_match_hand_computed_rules() {
    let dir = workspace(FILES);
    let engine = open(dir.path()).await;
    let a = segment_lifecycle(&engine, None, &LifecycleThresholds::default())
        .await
        .unwrap();
    // As of 2025-07-03: C3 (first sale 2025-05-05, 59 days) and C4 (2025-07-02) are new
    // (≤ 90 days). C1 (first 235 days ago, last 84) and C2 (one sale 110 days ago) bought
    // within 180 days; neither reaches the high-value cutoff (the 0.9 quantile of 30, 60,
    // 220, 999 = 220 + 0.7 × 779 = 765.3) nor 4 orders: active.
    let rows = a.rows.as_ref().unwrap();
    assert_eq!(
        text(rows, "lifecycle_stage"),
        ["active", "active", "new", "new"]
            .map(|s| Some(s.to_string()))
            .to_vec()
    );
    let t = table(&a, "stages");
    assert_eq!(
        text(t, "stage"),
        vec![Some("new".into()), Some("active".into())]
    );
    close(
        num(t, "share_of_revenue")[1],
        Some(250.0 / 1309.0),
        "C1 220 + C2 30",
    );
    close(
        num(t, "average_order_value")[0],
        Some(1059.0 / 3.0),
        "C3 60 in 2 + C4 999",
    );
    close(
        a.facts["high_value_cutoff"].as_f64(),
        Some(765.3),
        "type-7 quantile",
    );
}
