//! Report numbers checked against values computed by hand on a small fixture (the
//! arithmetic is written next to each expectation), including empty periods and the
//! division-by-zero cases.

use std::path::Path;

use arrow::array::{Array, Float64Array, StringArray};
use chrono::NaiveDate;

use crate::*;

pub(crate) const FILES: &[(&str, &str)] = &[
    (
        "customers.csv",
        "customer_id,region\nC1,North\nC2,South\nC3,North\nC4,South\n",
    ),
    (
        "products.csv",
        "product_id,name,category,unit_price\nP1,Widget,A,30\nP2,Gadget,B,40\n",
    ),
    (
        "orders.csv",
        "order_id,customer_id,order_date,total_amount,status,region,campaign_id\n\
         O1,C1,2024-11-10,100,completed,,\n\
         O2,C1,2025-02-01,50,completed,,\n\
         O3,C2,2025-03-15,30,completed,,\n\
         O4,C1,2025-04-10,70,completed,,K1\n\
         O5,C3,2025-05-05,40,completed,West,\n\
         O6,C3,2025-06-20,60,cancelled,,\n\
         O7,C3,2025-06-25,20,,,\n\
         O8,C4,2025-07-02,999,completed,,\n",
    ),
    (
        "order_items.csv",
        "order_id,product_id,quantity,unit_price,discount\n\
         O4,P1,2,35,\nO5,P2,1,,\nO7,P1,1,25,0.2\nO2,P2,1,50,0\n",
    ),
    (
        "marketing_spend.csv",
        "date,channel,amount\n2025-04-15,email,50\n2025-02-01,email,20\n",
    ),
    (
        "leads.csv",
        "lead_id,created_at,converted_at\nL1,2025-04-02,2025-05-01\nL2,2025-05-03,\nL3,2025-05-09,\nL4,2025-01-05,2025-01-20\n",
    ),
    (
        "deals.csv",
        "deal_id,created_at,stage,amount,outcome,closed_at\n\
         D1,2025-03-01,closed,1000,won,2025-04-30\n\
         D2,2025-04-01,closed,500,lost,2025-05-01\n\
         D3,2025-05-01,proposal,300,open,\n",
    ),
    (
        "deal_stage_history.csv",
        "deal_id,stage,entered_at\n\
         D1,prospecting,2025-03-01\nD1,proposal,2025-03-11\nD1,closed,2025-04-30\n\
         D2,prospecting,2025-04-01\nD2,proposal,2025-04-05\nD2,closed,2025-05-01\n\
         D3,prospecting,2025-05-01\nD3,proposal,2025-05-21\n",
    ),
    (
        "tickets.csv",
        "ticket_id,customer_id,opened_at,resolved_at,contacts,csat\n\
         T1,C1,2025-04-03,2025-04-03,1,5\nT2,C2,2025-05-03,2025-05-06,2,3\nT3,C3,2025-06-01,,1,\n",
    ),
    (
        "surveys.csv",
        "customer_id,responded_at,nps\nC1,2025-04-01,10\nC2,2025-04-02,9\nC3,2025-05-01,7\nC4,2025-06-01,3\n",
    ),
    (
        "subscriptions.csv",
        "subscription_id,customer_id,started_at,renewal_date,renewed\n\
         S1,C1,2024-05-01,2025-05-01,true\nS2,C2,2024-06-01,2025-06-01,false\nS3,C3,2024-06-10,2025-06-10,\n",
    ),
    (
        "kpi_targets.csv",
        "kpi,target,period\nsales_revenue,150,2025-Q2\nsales_revenue,10,\norders,3,2025-Q2\nchurn_rate,0.6,\n",
    ),
];

pub(crate) fn workspace(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    std::fs::create_dir(&src).unwrap();
    for (name, text) in files {
        std::fs::write(src.join(name), text).unwrap();
    }
    clientele_ingest::ingest(
        &src,
        &dir.path().join("ws"),
        &Default::default(),
        &mut |_| {},
    )
    .unwrap_or_else(|e| panic!("fixture ingests: {e:#?}"));
    dir
}

pub(crate) async fn open(dir: &Path) -> Engine {
    Engine::open(&dir.join("ws")).await.unwrap()
}

pub(crate) fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn q2() -> Period {
    Period::parse_calendar("2025-Q2").unwrap()
}

pub(crate) fn text(r: &Report, col: &str) -> Vec<Option<String>> {
    crate::util::str_col(&r.to_batch(), col)
        .iter()
        .map(|v| v.map(String::from))
        .collect()
}

pub(crate) fn num(r: &Report, col: &str) -> Vec<Option<f64>> {
    crate::util::f64_col(&r.to_batch(), col).iter().collect()
}

pub(crate) fn close(got: Option<f64>, want: Option<f64>, what: &str) {
    match (got, want) {
        (Some(g), Some(w)) => assert!((g - w).abs() < 1e-9, "{what}: got {g}, want {w}"),
        _ => assert_eq!(got, want, "{what}"),
    }
}

/// (kpi, this period, previous period)
type Expect = (&'static str, Option<f64>, Option<f64>);

#[tokio::test]
async fn kpis_match_hand_computed_values() {
    let dir = workspace(FILES);
    let engine = open(dir.path()).await;
    let r = kpis(&engine, &q2()).await.unwrap();
    assert_eq!(r.previous.as_ref().unwrap().label, "2025-Q1");
    let keys = text(&r, "kpi");
    let value = num(&r, "value");
    let previous = num(&r, "previous");
    let expect: &[Expect] = &[
        // Q2: O4 70 + O5 40 + O7 20 (empty status counts; O6 cancelled does not). Q1: 50 + 30.
        ("sales_revenue", Some(130.0), Some(80.0)),
        ("orders", Some(3.0), Some(2.0)),
        ("average_purchase_value", Some(130.0 / 3.0), Some(40.0)),
        // Q2 buyers C1, C3; Q1 buyers C1, C2.
        ("active_customers", Some(2.0), Some(2.0)),
        ("purchase_frequency", Some(1.5), Some(1.0)),
        // First orders: C3 in Q2, C2 in Q1.
        ("new_customers", Some(1.0), Some(1.0)),
        // Of Q1's {C1, C2} only C1 bought in Q2; of Q4-2024's {C1}, C1 bought in Q1.
        ("retention_rate", Some(0.5), Some(1.0)),
        ("churn_rate", Some(0.5), Some(0.0)),
        ("arpu", Some(65.0), Some(40.0)),
        // To 2025-06-30: (100+50+30+70+40+20)/3 customers; to 2025-03-31: 180/2.
        ("historical_cltv", Some(310.0 / 3.0), Some(90.0)),
        // Spend 50 in Q2, 20 in Q1, one new customer each.
        ("cac", Some(50.0), Some(20.0)),
        // Campaign revenue O4 = 70: (70-50)/50; Q1: (0-20)/20.
        ("marketing_roi", Some(0.4), Some(-1.0)),
        // The leads' as-of day is 2025-05-09 (L3's creation, later than any conversion). Q2's
        // leads L1 (04-02), L2, L3 are all inside their 90-day window: undefined for now. Q1's
        // L4 (01-05, window closed 04-05) converted after 15 days.
        ("lead_conversion_rate", None, Some(1.0)),
        // Closed in Q2: D1 won, D2 lost; nothing closed in Q1.
        ("win_rate", Some(0.5), None),
        ("average_deal_size", Some(1000.0), None),
        // D1: 2025-03-01 to 2025-04-30.
        ("sales_cycle_days", Some(60.0), None),
        // Rated tickets T1 (5), T2 (3).
        ("csat", Some(0.5), None),
        // 10, 9 promoters; 7 passive; 3 detractor: (2-1)/4.
        ("nps", Some(25.0), None),
        // Resolved T1 (1 contact), T2 (2 contacts).
        ("first_contact_resolution", Some(0.5), None),
        // S1 renewed, S2 not, S3 unknown.
        ("renewal_rate", Some(0.5), None),
    ];
    assert_eq!(keys.len(), expect.len());
    for (k, v, p) in expect {
        let i = keys
            .iter()
            .position(|x| x.as_deref() == Some(*k))
            .unwrap_or_else(|| panic!("{k}"));
        close(value[i], *v, &format!("{k} value"));
        close(previous[i], *p, &format!("{k} previous"));
    }
    let status = text(&r, "status");
    let target = num(&r, "target");
    let at = |k: &str| keys.iter().position(|x| x.as_deref() == Some(k)).unwrap();
    // The quarter's own target (150) wins over the period-less one (10).
    assert_eq!(target[at("sales_revenue")], Some(150.0));
    assert_eq!(status[at("sales_revenue")].as_deref(), Some("off target"));
    assert_eq!(status[at("orders")].as_deref(), Some("on target"));
    // Churn is better lower: 0.5 under a 0.6 ceiling is on target.
    assert_eq!(status[at("churn_rate")].as_deref(), Some("on target"));
    assert_eq!(status[at("nps")].as_deref(), Some("no target"));
}

#[tokio::test]
async fn empty_periods_and_missing_tables_are_explicit() {
    let dir = workspace(&FILES[..3]);
    let engine = open(dir.path()).await;
    let p = Period::custom(d("2030-01-01"), d("2030-01-31")).unwrap();
    let r = kpis(&engine, &p).await.unwrap();
    let keys = text(&r, "kpi");
    let value = num(&r, "value");
    let status = text(&r, "status");
    let at = |k: &str| keys.iter().position(|x| x.as_deref() == Some(k)).unwrap();
    assert_eq!(value[at("sales_revenue")], Some(0.0));
    assert_eq!(value[at("orders")], Some(0.0));
    // 0 / 0 is undefined, not zero.
    assert_eq!(value[at("average_purchase_value")], None);
    assert_eq!(
        status[at("average_purchase_value")].as_deref(),
        Some("undefined")
    );
    assert_eq!(value[at("retention_rate")], None);
    assert_eq!(status[at("win_rate")].as_deref(), Some("unavailable"));
    let note = text(&r, "note")[at("win_rate")].clone().unwrap();
    assert!(note.contains("table deals"), "{note}");
    assert!(r.notes.iter().any(|n| n.contains("kpi_targets")));
}

#[tokio::test]
async fn sales_by_product_and_region() {
    let dir = workspace(FILES);
    let engine = open(dir.path()).await;
    let r = sales(&engine, &q2(), SalesBy::Product).await.unwrap();
    assert_eq!(
        text(&r, "product_id"),
        vec![Some("P1".into()), Some("P2".into())]
    );
    assert_eq!(
        text(&r, "product_name"),
        vec![Some("Widget".into()), Some("Gadget".into())]
    );
    // P1: O4 2×35 + O7 1×25×0.8 = 90; P2: O5 1×40 (list price) = 40.
    assert_eq!(num(&r, "revenue"), vec![Some(90.0), Some(40.0)]);
    assert_eq!(num(&r, "orders"), vec![Some(2.0), Some(1.0)]);
    assert_eq!(num(&r, "units"), vec![Some(3.0), Some(1.0)]);
    assert_eq!(num(&r, "customers"), vec![Some(2.0), Some(1.0)]);
    close(num(&r, "share")[0], Some(90.0 / 130.0), "share");
    // P2 sold 50 in Q1 (O2): (40-50)/50.
    assert_eq!(num(&r, "previous_revenue"), vec![None, Some(50.0)]);
    close(num(&r, "growth")[1], Some(-0.2), "growth");

    let r = sales(&engine, &q2(), SalesBy::Region).await.unwrap();
    // The order's region (West for O5) wins over the customer's.
    assert_eq!(
        text(&r, "region"),
        vec![
            Some("North".into()),
            Some("West".into()),
            Some("South".into())
        ]
    );
    assert_eq!(num(&r, "revenue"), vec![Some(90.0), Some(40.0), Some(0.0)]);
    assert_eq!(
        num(&r, "previous_revenue"),
        vec![Some(50.0), None, Some(30.0)]
    );
    assert_eq!(num(&r, "growth"), vec![Some(0.8), None, Some(-1.0)]);

    let r = sales(
        &engine,
        &Period::custom(d("2025-02-01"), d("2025-05-31")).unwrap(),
        SalesBy::Month,
    )
    .await
    .unwrap();
    assert_eq!(
        text(&r, "period"),
        vec![
            Some("2025-02".into()),
            Some("2025-03".into()),
            Some("2025-04".into()),
            Some("2025-05".into())
        ]
    );
    assert_eq!(
        num(&r, "revenue"),
        vec![Some(50.0), Some(30.0), Some(70.0), Some(40.0)]
    );
    close(num(&r, "growth")[3], Some(-30.0 / 70.0), "May vs April");
    assert_eq!(num(&r, "growth")[0], None);
}

#[tokio::test]
async fn sales_by_region_agrees_with_independent_sql() {
    let dir = workspace(FILES);
    let engine = open(dir.path()).await;
    let p = Period::custom(d("2024-01-01"), d("2025-12-31")).unwrap();
    let r = sales(&engine, &p, SalesBy::Region).await.unwrap();
    let check = engine
        .query(
            "SELECT COALESCE(o.region, c.region) AS region, SUM(o.total_amount) AS revenue
             FROM orders o LEFT JOIN customers c USING (customer_id)
             WHERE o.status IS NULL OR o.status <> 'cancelled' AND o.status <> 'returned'
             GROUP BY 1 ORDER BY 2 DESC",
        )
        .await
        .unwrap();
    let want = arrow::compute::concat_batches(&check[0].schema(), &check).unwrap();
    let regions = arrow::compute::cast(want.column(0), &arrow::datatypes::DataType::Utf8).unwrap();
    let regions = regions.as_any().downcast_ref::<StringArray>().unwrap();
    let revenue = want
        .column(1)
        .as_any()
        .downcast_ref::<Float64Array>()
        .unwrap();
    assert_eq!(
        text(&r, "region"),
        regions
            .iter()
            .map(|s| s.map(String::from))
            .collect::<Vec<_>>()
    );
    assert_eq!(num(&r, "revenue"), revenue.iter().collect::<Vec<_>>());
}

#[tokio::test]
async fn pipeline_stages_conversion_and_days() {
    let dir = workspace(FILES);
    let engine = open(dir.path()).await;
    let r = pipeline(&engine, None, None).await.unwrap();
    assert_eq!(
        text(&r, "stage"),
        vec![
            Some("prospecting".into()),
            Some("proposal".into()),
            Some("closed".into())
        ]
    );
    assert_eq!(num(&r, "entered"), vec![Some(3.0), Some(3.0), Some(2.0)]);
    assert_eq!(num(&r, "open_deals"), vec![Some(0.0), Some(1.0), Some(0.0)]);
    assert_eq!(
        num(&r, "open_amount"),
        vec![Some(0.0), Some(300.0), Some(0.0)]
    );
    // Of the closed deals that reached proposal (D1 won, D2 lost): 1/2; D3's 300 × 0.5.
    assert_eq!(num(&r, "win_probability")[1], Some(0.5));
    assert_eq!(num(&r, "weighted_amount")[1], Some(150.0));
    // Into the terminal "closed" stage there is no conversion: lost deals reach it from anywhere.
    assert_eq!(num(&r, "conversion_to_next"), vec![Some(1.0), None, None]);
    // prospecting: 10, 4, 20 days; proposal: 50 (D1), 26 (D2); D3 still in proposal.
    close(
        num(&r, "avg_days_in_stage")[0],
        Some(34.0 / 3.0),
        "days in prospecting",
    );
    close(
        num(&r, "avg_days_in_stage")[1],
        Some(38.0),
        "days in proposal",
    );
    assert_eq!(num(&r, "avg_days_in_stage")[2], None);
    assert_eq!(num(&r, "win_rate")[0], Some(0.5));
}

#[tokio::test]
async fn exceptions_list_what_deviates() {
    let dir = workspace(FILES);
    let engine = open(dir.path()).await;
    let r = exceptions(&engine, &q2(), ExceptionOptions::default())
        .await
        .unwrap();
    assert_eq!(
        text(&r, "kind"),
        vec![
            Some("kpi_off_target".into()),
            Some("region_revenue_drop".into())
        ]
    );
    assert_eq!(
        text(&r, "subject"),
        vec![Some("Sales revenue".into()), Some("South".into())]
    );
    assert_eq!(num(&r, "value"), vec![Some(130.0), Some(0.0)]);
    assert_eq!(num(&r, "expected"), vec![Some(150.0), Some(30.0)]);
    close(
        num(&r, "deviation")[0],
        Some(130.0 / 150.0 - 1.0),
        "deviation",
    );
    // P2 fell exactly 20% (50 → 40): an exception only with a lower threshold.
    let opts = ExceptionOptions {
        revenue_drop: 0.1,
        ..ExceptionOptions::default()
    };
    let r = exceptions(&engine, &q2(), opts).await.unwrap();
    assert_eq!(
        text(&r, "subject").last().unwrap().as_deref(),
        Some("P2 (Gadget)")
    );
    let bad = ExceptionOptions {
        revenue_drop: 1.5,
        ..ExceptionOptions::default()
    };
    assert!(matches!(
        exceptions(&engine, &q2(), bad).await,
        Err(AnalyticsError::Usage(_))
    ));
}

#[tokio::test]
async fn customers_whose_frequency_dropped() {
    let mut files = FILES.to_vec();
    files[2] = (
        "orders.csv",
        "order_id,customer_id,order_date,total_amount\n\
         A1,C1,2025-01-05,1\nA2,C1,2025-02-05,1\nA3,C1,2025-03-05,1\nA4,C1,2025-04-05,1\n\
         B1,C2,2025-01-05,1\nB2,C2,2025-02-05,1\nB3,C2,2025-03-05,1\nB4,C2,2025-04-05,1\nB5,C2,2025-05-05,1\n",
    );
    files.retain(|(n, _)| *n != "order_items.csv");
    let dir = workspace(&files);
    let engine = open(dir.path()).await;
    let r = exceptions(&engine, &q2(), ExceptionOptions::default())
        .await
        .unwrap();
    let kinds = text(&r, "kind");
    let i = kinds
        .iter()
        .position(|k| k.as_deref() == Some("customer_frequency_drop"))
        .unwrap();
    // C1: 3 orders in Q1, 1 in Q2 (≤ half); C2: 3 then 2 (not a sharp drop).
    assert_eq!(text(&r, "subject")[i].as_deref(), Some("C1"));
    assert_eq!(
        (num(&r, "value")[i], num(&r, "expected")[i]),
        (Some(1.0), Some(3.0))
    );
    assert_eq!(
        kinds
            .iter()
            .filter(|k| k.as_deref() == Some("customer_frequency_drop"))
            .count(),
        1
    );
}

#[tokio::test]
async fn detailed_rows_are_paged() {
    let dir = workspace(FILES);
    let engine = open(dir.path()).await;
    let r = detailed(&engine, &q2(), DetailedOptions::default())
        .await
        .unwrap();
    assert_eq!(
        text(&r, "order_id"),
        ["O4", "O5", "O6", "O7"]
            .map(|s| Some(s.to_string()))
            .to_vec()
    );
    assert_eq!(
        num(&r, "line_amount"),
        vec![Some(70.0), Some(40.0), None, Some(20.0)]
    );
    assert_eq!(text(&r, "region")[1].as_deref(), Some("West"));
    let page = detailed(
        &engine,
        &q2(),
        DetailedOptions {
            limit: Some(2),
            offset: 1,
        },
    )
    .await
    .unwrap();
    assert_eq!(
        text(&page, "order_id"),
        vec![Some("O5".into()), Some("O6".into())]
    );
    assert_eq!(
        page.notes,
        vec![
            "rows 2–3 of 4; use --offset/--limit to page, or --format csv --out FILE for all"
                .to_string()
        ]
    );
}

#[tokio::test]
async fn summary_page() {
    let dir = workspace(FILES);
    let engine = open(dir.path()).await;
    let r = summary(&engine, &q2()).await.unwrap();
    let metric = text(&r, "metric");
    let value = num(&r, "value");
    let at = |m: &str| {
        metric
            .iter()
            .position(|x| x.as_deref() == Some(m))
            .unwrap_or_else(|| panic!("{m}"))
    };
    assert_eq!(value[at("Sales revenue")], Some(130.0));
    assert_eq!(value[at("Top region")], Some(90.0));
    assert_eq!(
        text(&r, "detail")[at("Top region")].as_deref(),
        Some("North")
    );
    assert_eq!(
        text(&r, "detail")[at("Top product")].as_deref(),
        Some("Widget")
    );
    assert_eq!(text(&r, "detail")[at("Top category")].as_deref(), Some("A"));
    assert_eq!(value[at("Open pipeline")], Some(300.0));
    // No order has a rep, so there is no top rep rather than a "(none)" one.
    assert!(!metric.iter().any(|m| m.as_deref() == Some("Top sales rep")));
}

#[test]
fn docs_state_every_kpi_definition_word_for_word() {
    let docs = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/metrics.md"
    ))
    .unwrap();
    for k in KPIS {
        assert!(
            docs.contains(k.definition),
            "docs/metrics.md lacks the definition of {}",
            k.key
        );
        assert!(docs.contains(&format!("`{}`", k.key)), "{}", k.key);
        // The KPI table's row states the unit its change is measured in.
        let row = docs
            .lines()
            .find(|l| l.starts_with(&format!("| `{}` |", k.key)))
            .unwrap_or_else(|| panic!("docs/metrics.md has no table row for {}", k.key));
        let cells: Vec<&str> = row.split(" | ").collect();
        assert_eq!(cells[4], k.change.symbol(), "change of {} in docs", k.key);
        // Rates (and NPS, a difference of percentages) change in points, the rest relatively.
        let points = k.unit == Unit::Percent || k.key == "nps";
        assert_eq!(k.change == Change::Points, points, "{}", k.key);
    }
}

/// The leads' as-of day is 2025-07-25 (C1's creation; the latest conversion is 06-15), so a
/// lead's 90-day window has closed when it was created by 2025-04-26. Q1: A1 converted after 10
/// days, A2 after 134 (too late: not converted), A3 never, A4 after 21: 2 of 4 = 0.5 (all
/// windows closed). Q2: B1 (04-01, after 14 days) and B2 (04-20, after 11) have closed
/// windows and converted: 2 of 2 = 1.0, provisional, since B3 (05-10, converted after 2 days)
/// and B4 (06-20) are still inside theirs and not counted. Change 1.0 − 0.5 = +50 pp. Counting
/// any conversion at any time would give Q1 3/4 and Q2 3/4. Q3 has only C1, whose window is
/// open: undefined.
#[tokio::test]
async fn lead_conversion_kpi_counts_only_leads_whose_window_has_closed() {
    use crate::analyses::leads::CONVERSION_WINDOW_DAYS;
    assert_eq!(CONVERSION_WINDOW_DAYS, 90);
    let dir = workspace(&[(
        "leads.csv",
        "lead_id,created_at,converted_at\n\
         A1,2025-01-10,2025-01-20\nA2,2025-02-01,2025-06-15\nA3,2025-02-15,\nA4,2025-03-20,2025-04-10\n\
         B1,2025-04-01,2025-04-15\nB2,2025-04-20,2025-05-01\nB3,2025-05-10,2025-05-12\nB4,2025-06-20,\n\
         C1,2025-07-25,\n",
    )]);
    let engine = open(dir.path()).await;
    let r = kpis(&engine, &q2()).await.unwrap();
    let keys = text(&r, "kpi");
    let i = keys
        .iter()
        .position(|x| x.as_deref() == Some("lead_conversion_rate"))
        .unwrap();
    close(num(&r, "value")[i], Some(1.0), "Q2 value");
    close(num(&r, "previous")[i], Some(0.5), "Q1 value");
    close(num(&r, "change")[i], Some(0.5), "change");
    assert_eq!(text(&r, "change_unit")[i].as_deref(), Some("pp"));
    assert_eq!(text(&r, "status")[i].as_deref(), Some("no target"));
    let note = text(&r, "note")[i].clone().unwrap();
    assert!(
        note.contains("provisional: 2 of the 4 leads")
            && note.contains("90-day conversion window on 2025-07-25"),
        "{note}"
    );

    let q3 = Period::parse_calendar("2025-Q3").unwrap();
    let r = kpis(&engine, &q3).await.unwrap();
    close(num(&r, "value")[i], None, "Q3 value");
    // Q2 seen from Q3: B3 and B4 still left out of the previous period's value.
    close(
        num(&r, "previous")[i],
        Some(1.0),
        "Q2 as the previous period",
    );
    assert_eq!(text(&r, "status")[i].as_deref(), Some("undefined"));
    let note = text(&r, "note")[i].clone().unwrap();
    assert!(
        note.contains("none of the 1 leads created in the period")
            && note.contains("leaves out 2 of its 4 leads"),
        "{note}"
    );
    // The definition states the one window.
    let def = KPIS
        .iter()
        .find(|k| k.key == "lead_conversion_rate")
        .unwrap();
    assert!(
        def.definition
            .contains(&format!("within {CONVERSION_WINDOW_DAYS} days of creation")),
        "{}",
        def.definition
    );
}

/// Marketing ROI from 1.8 % (campaign revenue 101.8 on spend 100 in Q1) to −70.5 % (29.5 on
/// 100 in Q2) changed by −0.723 = −72.3 percentage points, not by (−0.705 − 0.018) / 0.018 =
/// −4,016.7 %; NPS from 0 (10 and 3 in Q1) to 25 (10, 10, 3, 8 in Q2) by +25 points (0.25),
/// where a relative change from 0 is undefined; retention (1.0, nobody active before Q1) has no
/// change. Amounts and counts change relatively: revenue (29.5 − 101.8) / 101.8, orders 1 → 1
/// by 0, new customers 1 → 0 by −100 %; CAC (100 / 0 new customers) is undefined. The summary
/// page measures its KPI rows the same way.
#[tokio::test]
async fn rate_kpis_change_in_percentage_points_not_relative_percent() {
    let dir = workspace(&[
        ("customers.csv", "customer_id\nC1\n"),
        (
            "orders.csv",
            "order_id,customer_id,order_date,total_amount,status,campaign_id\n\
             O1,C1,2025-02-10,101.8,completed,K1\n\
             O2,C1,2025-05-10,29.5,completed,K1\n",
        ),
        (
            "marketing_spend.csv",
            "date,channel,amount\n2025-02-01,email,100\n2025-05-01,email,100\n",
        ),
        (
            "surveys.csv",
            "customer_id,responded_at,nps\nC1,2025-02-01,10\nC1,2025-02-02,3\n\
             C1,2025-04-01,10\nC1,2025-04-02,10\nC1,2025-04-03,3\nC1,2025-04-04,8\n",
        ),
    ]);
    let engine = open(dir.path()).await;
    let r = kpis(&engine, &q2()).await.unwrap();
    let keys = text(&r, "kpi");
    let (value, previous, change) = (num(&r, "value"), num(&r, "previous"), num(&r, "change"));
    let unit = text(&r, "change_unit");
    let at = |k: &str| keys.iter().position(|x| x.as_deref() == Some(k)).unwrap();
    // (kpi, value, previous, change, change_unit)
    type Row = (
        &'static str,
        Option<f64>,
        Option<f64>,
        Option<f64>,
        &'static str,
    );
    let expect: &[Row] = &[
        (
            "marketing_roi",
            Some(-0.705),
            Some(0.018),
            Some(-0.723),
            "pp",
        ),
        ("nps", Some(25.0), Some(0.0), Some(0.25), "pp"),
        ("retention_rate", Some(1.0), None, None, "pp"),
        (
            "sales_revenue",
            Some(29.5),
            Some(101.8),
            Some((29.5 - 101.8) / 101.8),
            "%",
        ),
        ("orders", Some(1.0), Some(1.0), Some(0.0), "%"),
        ("new_customers", Some(0.0), Some(1.0), Some(-1.0), "%"),
        ("cac", None, Some(100.0), None, "%"),
    ];
    for (k, v, p, c, u) in expect {
        let i = at(k);
        close(value[i], *v, &format!("{k} value"));
        close(previous[i], *p, &format!("{k} previous"));
        close(change[i], *c, &format!("{k} change"));
        assert_eq!(unit[i].as_deref(), Some(*u), "{k} change_unit");
    }
    // The column order users' scripts read is kept; change_unit follows change.
    let names: Vec<String> = r.schema.fields().iter().map(|f| f.name().clone()).collect();
    assert_eq!(
        names,
        [
            "kpi",
            "name",
            "unit",
            "value",
            "previous",
            "change",
            "change_unit",
            "target",
            "status",
            "definition",
            "note"
        ]
    );

    let s = summary(&engine, &q2()).await.unwrap();
    let metric = text(&s, "metric");
    let at = |m: &str| metric.iter().position(|x| x.as_deref() == Some(m)).unwrap();
    let (change, unit) = (num(&s, "change"), text(&s, "change_unit"));
    close(change[at("NPS")], Some(0.25), "summary NPS change");
    assert_eq!(unit[at("NPS")].as_deref(), Some("pp"));
    close(
        change[at("Sales revenue")],
        Some((29.5 - 101.8) / 101.8),
        "summary revenue change",
    );
    assert_eq!(unit[at("Sales revenue")].as_deref(), Some("%"));
}

#[tokio::test]
async fn views_hold_completed_sales_only() {
    let dir = workspace(FILES);
    let engine = open(dir.path()).await;
    let b = engine
        .query("SELECT customer_id, CAST(first_order_date AS VARCHAR) AS f, orders, revenue FROM customer_summary ORDER BY customer_id")
        .await
        .unwrap();
    let b = arrow::compute::concat_batches(&b[0].schema(), &b).unwrap();
    let r = Report {
        name: String::new(),
        title: String::new(),
        period: None,
        previous: None,
        notes: vec![],
        schema: b.schema(),
        batches: vec![b],
    };
    assert_eq!(
        text(&r, "customer_id"),
        ["C1", "C2", "C3", "C4"]
            .map(|s| Some(s.to_string()))
            .to_vec()
    );
    // C3: O5 40 and O7 20 (empty status); O6 was cancelled.
    assert_eq!(
        num(&r, "orders"),
        vec![Some(3.0), Some(1.0), Some(2.0), Some(1.0)]
    );
    assert_eq!(
        num(&r, "revenue"),
        vec![Some(220.0), Some(30.0), Some(60.0), Some(999.0)]
    );
    assert_eq!(text(&r, "f")[2].as_deref(), Some("2025-05-05"));
}

#[tokio::test]
async fn reps_below_their_prorated_quota() {
    let mut files = FILES.to_vec();
    files[2] = (
        "orders.csv",
        "order_id,customer_id,order_date,total_amount,sales_rep_id\n\
         O4,C1,2025-04-10,70,R1\nO5,C3,2025-05-05,40,R1\nO6,C2,2025-05-06,500,R2\n",
    );
    files.retain(|(n, _)| *n != "order_items.csv");
    files.push((
        "sales_reps.csv",
        "sales_rep_id,name,quota\nR1,Ann,730\nR2,Bob,730\nR3,Cy,100\nR4,Di,0\n",
    ));
    let dir = workspace(&files);
    let engine = open(dir.path()).await;
    let r = exceptions(&engine, &q2(), ExceptionOptions::default())
        .await
        .unwrap();
    let kinds = text(&r, "kind");
    let rows: Vec<usize> = (0..kinds.len())
        .filter(|i| kinds[*i].as_deref() == Some("rep_below_quota"))
        .collect();
    let subject = text(&r, "subject");
    let (value, expected) = (num(&r, "value"), num(&r, "expected"));
    // Q2 has 91 days: Cy 100 × 91/365 with no sales; Ann 730 × 91/365 = 182 with 70 + 40.
    // Bob (500 ≥ 182) is on quota; Di has no quota. Lowest attainment first.
    assert_eq!(rows.len(), 2);
    assert_eq!(subject[rows[0]].as_deref(), Some("Cy"));
    close(value[rows[0]], Some(0.0), "Cy's revenue");
    close(
        expected[rows[0]],
        Some(100.0 * 91.0 / 365.0),
        "Cy's prorated quota",
    );
    assert_eq!(subject[rows[1]].as_deref(), Some("Ann"));
    close(value[rows[1]], Some(110.0), "Ann's revenue");
    close(expected[rows[1]], Some(182.0), "Ann's prorated quota");
    close(
        num(&r, "deviation")[rows[1]],
        Some(110.0 / 182.0 - 1.0),
        "Ann's deviation",
    );
}

mod analyses;
mod behavioural_clusters;
mod churn_details;
mod churn_fairness;
mod lead_grades;
mod periods;

#[tokio::test]
async fn campaigns_add_up_to_the_marketing_roi_kpi() {
    let dir = workspace(&[
        (
            "orders.csv",
            "order_id,customer_id,order_date,total_amount,status,campaign_id\n\
             O1,C1,2025-04-02,100,completed,K1\n\
             O2,C2,2025-04-03,60,completed,K1\n\
             O3,C2,2025-05-01,40,completed,K2\n\
             O4,C3,2025-05-02,500,cancelled,K2\n\
             O5,C3,2025-05-03,70,completed,\n\
             O6,C1,2025-01-10,90,completed,K1\n",
        ),
        (
            "marketing_spend.csv",
            "date,channel,amount,campaign_id\n\
             2025-04-01,email,50,K1\n2025-04-20,email,30,K1\n2025-05-01,search,10,K3\n\
             2025-06-01,display,20,\n2025-01-05,email,999,K1\n",
        ),
        (
            "campaigns.csv",
            "campaign_id,name,channel,cost\nK1,Spring,email,100\nK2,Search,search,\nK3,Display,display,10\n",
        ),
        (
            "touchpoints.csv",
            "customer_id,occurred_at,channel,campaign_id,kind\n\
             C1,2025-04-01 09:00:00,email,K1,email_sent\nC2,2025-04-01 09:00:00,email,K1,email_sent\n\
             C3,2025-04-01 09:00:00,email,K1,email_sent\nC4,2025-04-01 09:00:00,email,K1,email_sent\n\
             C1,2025-04-01 10:00:00,email,K1,email_open\nC2,2025-04-01 11:00:00,email,K1,email_open\n\
             C1,2025-04-01 10:01:00,email,K1,click\nC4,2025-04-02 08:00:00,email,K1,unsubscribe\n\
             C1,2025-01-05 09:00:00,email,K1,email_sent\n\
             C1,2025-04-30 12:00:00,search,K2,impression\nC2,2025-04-30 12:00:00,search,K2,impression\n\
             C3,2025-04-30 12:00:00,search,K2,impression\nC4,2025-04-30 12:00:00,search,K2,impression\n\
             C2,2025-04-30 12:05:00,search,K2,impression\nC2,2025-04-30 12:06:00,search,K2,click\n\
             C3,2025-04-30 12:07:00,search,K2,click\nC3,2025-04-30 12:08:00,search,K2,reaction\n",
        ),
    ]);
    let engine = open(dir.path()).await;
    let r = campaigns(&engine, &q2()).await.unwrap();
    // K1: O1 + O2 = 160 from 2 customers, spend 80 → ROI (160 − 80) / 80 = 1. K2: O3 only
    // (O4 cancelled), no spend → no ROI. Unassigned spend 20 and K3's 10 have no revenue → −1.
    assert_eq!(
        text(&r, "campaign_id"),
        vec![
            Some("K1".into()),
            Some("K2".into()),
            Some(crate::NO_CAMPAIGN.into()),
            Some("K3".into())
        ]
    );
    assert_eq!(
        text(&r, "name"),
        vec![
            Some("Spring".into()),
            Some("Search".into()),
            None,
            Some("Display".into())
        ]
    );
    assert_eq!(
        num(&r, "revenue"),
        vec![Some(160.0), Some(40.0), Some(0.0), Some(0.0)]
    );
    assert_eq!(
        num(&r, "orders"),
        vec![Some(2.0), Some(1.0), Some(0.0), Some(0.0)]
    );
    assert_eq!(
        num(&r, "customers"),
        vec![Some(2.0), Some(1.0), Some(0.0), Some(0.0)]
    );
    assert_eq!(
        num(&r, "spend"),
        vec![Some(80.0), None, Some(20.0), Some(10.0)]
    );
    assert_eq!(
        num(&r, "roi"),
        vec![Some(1.0), None, Some(-1.0), Some(-1.0)]
    );
    // Touches of the quarter (the January send is outside): K1 4 sends, 2 opens, 1 click,
    // 1 unsubscribe; K2 5 impressions, 2 clicks, 1 reaction. Conversion rate = orders / clicks.
    assert_eq!(num(&r, "sends"), vec![Some(4.0), Some(0.0), None, None]);
    assert_eq!(
        num(&r, "impressions"),
        vec![Some(0.0), Some(5.0), None, None]
    );
    assert_eq!(num(&r, "open_rate"), vec![Some(0.5), None, None, None]);
    assert_eq!(num(&r, "ctr"), vec![Some(0.25), Some(0.4), None, None]);
    assert_eq!(
        num(&r, "conversion_rate"),
        vec![Some(2.0), Some(0.5), None, None]
    );
    assert_eq!(
        num(&r, "unsubscribe_rate"),
        vec![Some(0.25), None, None, None]
    );
    assert_eq!(
        num(&r, "engagements"),
        vec![Some(0.0), Some(1.0), None, None]
    );
    assert_eq!(num(&r, "roas"), vec![Some(2.0), None, Some(0.0), Some(0.0)]);
    // The rows add up to the KPI: (200 − 110) / 110.
    let k = kpis(&engine, &q2()).await.unwrap();
    let i = text(&k, "kpi")
        .iter()
        .position(|x| x.as_deref() == Some("marketing_roi"))
        .unwrap();
    close(num(&k, "value")[i], Some(90.0 / 110.0), "marketing_roi");
    // Without a campaign_id column there is nothing to report, and the error says so.
    let bare = workspace(&[(
        "orders.csv",
        "order_id,customer_id,order_date,total_amount\nO1,C1,2025-04-02,100\n",
    )]);
    let engine = open(bare.path()).await;
    let e = campaigns(&engine, &q2()).await.unwrap_err();
    assert!(
        e.is_bad_input() && e.to_string().contains("campaign_id"),
        "{e}"
    );
}

/// Every name in `REPORTS` runs by name (the list once left out `campaigns`), and a name not
/// in it is refused with the list.
#[tokio::test]
async fn every_listed_report_runs_by_name() {
    let dir = workspace(FILES);
    let engine = open(dir.path()).await;
    assert!(REPORTS.contains(&"campaigns"));
    for name in REPORTS {
        let req = ReportRequest {
            name: name.to_string(),
            from: Some(d("2025-04-01")),
            to: Some(d("2025-06-30")),
            ..Default::default()
        };
        if let Err(e) = run_report(&engine, &req).await {
            assert!(!e.to_string().contains("unknown report"), "{name}: {e}");
        }
    }
    let req = ReportRequest {
        name: "nonsense".into(),
        ..Default::default()
    };
    let e = run_report(&engine, &req).await.unwrap_err();
    assert!(e.to_string().contains(&REPORTS.join(", ")), "{e}");
}

/// A guest checkout (an order without a customer_id) is revenue and an order, but no
/// customer: it counts in sales revenue, orders and the average purchase value, and stays out
/// of active and new customers, purchase frequency, ARPU, historical CLTV, the customer
/// summary and every purchase history.
#[tokio::test]
async fn guest_orders_are_revenue_but_no_customer() {
    let dir = workspace(&[
        (
            "customers.csv",
            "customer_id,signup_date\nC1,2025-01-05\nC2,2025-04-01\n",
        ),
        (
            "orders.csv",
            "order_id,customer_id,order_date,total_amount\n\
             O1,C1,2025-02-01,10\nO2,C1,2025-04-02,100\nO3,,2025-04-03,50\n\
             O4,C2,2025-05-01,30\nO5,,2025-05-02,20\nO6,,2025-01-20,7\n",
        ),
    ]);
    let engine = open(dir.path()).await;
    let r = kpis(&engine, &q2()).await.unwrap();
    let keys = text(&r, "kpi");
    let value = num(&r, "value");
    let at = |k: &str| value[keys.iter().position(|x| x.as_deref() == Some(k)).unwrap()];
    assert_eq!(at("sales_revenue"), Some(200.0));
    assert_eq!(at("orders"), Some(4.0));
    close(at("average_purchase_value"), Some(50.0), "APV");
    assert_eq!(at("active_customers"), Some(2.0));
    // C2's first order is in Q2, C1's in Q1; the guests are nobody's first order.
    assert_eq!(at("new_customers"), Some(1.0));
    close(at("purchase_frequency"), Some(1.0), "frequency");
    close(at("arpu"), Some(65.0), "ARPU");
    // Customers' revenue to the end of Q2 (140) over the two customers who bought by then.
    close(at("historical_cltv"), Some(70.0), "historical CLTV");
    let b = engine
        .query("SELECT customer_id FROM customer_summary ORDER BY customer_id")
        .await
        .unwrap();
    let ids: usize = b.iter().map(|b| b.num_rows()).sum();
    assert_eq!(ids, 2);
    let histories = crate::history::read_orders(&engine, crate::history::Orders::Completed)
        .await
        .unwrap();
    let rows: usize = histories.iter().map(|c| c.0.len()).sum();
    assert_eq!(rows, 3, "only the customers' orders are histories");
}
