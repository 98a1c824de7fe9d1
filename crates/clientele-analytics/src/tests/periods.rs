//! The default period (issue 20, item 8): the last complete calendar quarter, with the
//! current quarter "to date" beside it in the KPI report and targets prorated to it.
//!
//! The fixture's latest completed order is O8 on 2025-07-02, two days into 2025-Q3 (92
//! days): the default period is 2025-Q2, compared with 2025-Q1, and 2025-Q3 to 2025-07-02
//! is the quarter to date, holding O8 (999) alone.

use super::{FILES, close, d, num, open, text, workspace};
use crate::*;

/// The fixture with other targets: a quarter target for 2025-Q2 and 2025-Q3 (revenue),
/// targets without a period for a sum (orders, per quarter), a level (average purchase
/// value), a distinct count (active customers) and churn.
fn files_with_targets() -> Vec<(&'static str, &'static str)> {
    let mut files: Vec<_> = FILES
        .iter()
        .copied()
        .filter(|(n, _)| *n != "kpi_targets.csv")
        .collect();
    files.push((
        "kpi_targets.csv",
        "kpi,target,period\nsales_revenue,150,2025-Q2\nsales_revenue,9200,2025-Q3\norders,46,\naverage_purchase_value,500,\nactive_customers,2,\nchurn_rate,0.6,\n",
    ));
    files
}

fn row(r: &Report, kpi: &str) -> usize {
    text(r, "kpi")
        .iter()
        .position(|k| k.as_deref() == Some(kpi))
        .unwrap_or_else(|| panic!("{kpi}"))
}

async fn default_kpis(engine: &Engine) -> Report {
    let req = ReportRequest {
        name: "kpis".into(),
        ..Default::default()
    };
    run_report(engine, &req).await.unwrap()
}

/// The old default was "2025-Q3 to 2025-07-02": no target labelled 2025-Q3 matched it, and
/// churn compared two days of Q3 with two days of Q2.
#[tokio::test]
async fn the_default_period_is_the_last_complete_quarter_so_quarter_targets_match() {
    let dir = workspace(FILES);
    let engine = open(dir.path()).await;
    let (p, to_date) = default_periods(&engine).await.unwrap();
    assert_eq!(
        (p.label.as_str(), p.from, p.to),
        ("2025-Q2", d("2025-04-01"), d("2025-06-30"))
    );
    let t = to_date.unwrap();
    assert_eq!((t.label.as_str(), t.days()), ("2025-Q3 to 2025-07-02", 2));
    assert_eq!(resolve_period(&engine, None, None, None).await.unwrap(), p);

    let r = default_kpis(&engine).await;
    assert_eq!(r.period.as_ref().unwrap().label, "2025-Q2");
    assert_eq!(r.previous.as_ref().unwrap().label, "2025-Q1");
    let i = row(&r, "sales_revenue");
    // Q2 revenue 70 + 40 + 20 = 130 against its own quarter's target of 150.
    close(num(&r, "value")[i], Some(130.0), "Q2 revenue");
    assert_eq!(num(&r, "target")[i], Some(150.0));
    assert_eq!(text(&r, "status")[i].as_deref(), Some("off target"));
    // Churn compares the whole of Q2 with the whole of Q1: of {C1, C2}, C2 did not return.
    close(
        num(&r, "value")[row(&r, "churn_rate")],
        Some(0.5),
        "Q2 churn",
    );
    assert!(
        r.notes.iter().any(|n| n.contains("2025-Q2 is the last complete quarter")
            && n.contains("2025-07-02")),
        "{:?}",
        r.notes
    );
    // The other reports default to the same quarter.
    let req = ReportRequest {
        name: "sales".into(),
        ..Default::default()
    };
    assert_eq!(
        run_report(&engine, &req)
            .await
            .unwrap()
            .period
            .unwrap()
            .label,
        "2025-Q2"
    );
}

/// A quarter target applies to the quarter to date × elapsed / quarter days for sums; a
/// target without a period is per quarter for sums and as set for rates and averages;
/// distinct counts get no target over part of a quarter; churn is not measured to date.
#[tokio::test]
async fn partial_quarter_targets_are_prorated() {
    let dir = workspace(&files_with_targets());
    let engine = open(dir.path()).await;
    let r = default_kpis(&engine).await;
    let (v, t, st) = (
        num(&r, "to_date"),
        num(&r, "to_date_target"),
        text(&r, "to_date_status"),
    );
    let check = |kpi: &str, value: Option<f64>, target: Option<f64>, status: &str| {
        let i = row(&r, kpi);
        close(v[i], value, &format!("{kpi} to date"));
        close(t[i], target, &format!("{kpi} target to date"));
        assert_eq!(st[i].as_deref(), Some(status), "{kpi}");
    };
    // 2025-Q3's 9,200 over 2 of its 92 days.
    check("sales_revenue", Some(999.0), Some(200.0), "on target");
    // 46 orders a quarter without a period: 46 × 2/92 = 1, and O8 is one order.
    check("orders", Some(1.0), Some(1.0), "on target");
    check(
        "average_purchase_value",
        Some(999.0),
        Some(500.0),
        "on target",
    );
    check("active_customers", Some(1.0), None, "no target");
    check("churn_rate", None, None, "not measured to date");
    check("retention_rate", None, None, "not measured to date");
    // The complete quarter keeps its targets as set: 46 orders, 2 active customers.
    let (target, i) = (num(&r, "target"), row(&r, "orders"));
    assert_eq!(target[i], Some(46.0));
    assert_eq!(target[row(&r, "active_customers")], Some(2.0));
    assert_eq!(target[row(&r, "churn_rate")], Some(0.6));
    assert!(
        r.notes.iter().any(|n| n.contains("× 2/92 days")),
        "{:?}",
        r.notes
    );

    // The existing columns come first and unchanged; an explicit period has no to-date ones.
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
            "note",
            "to_date",
            "to_date_target",
            "to_date_status"
        ]
    );
    let q2 = kpis(&engine, &Period::parse_calendar("2025-Q2").unwrap())
        .await
        .unwrap();
    assert_eq!(q2.schema.fields().len(), 11);

    // The same rules for a period given by hand: a cut quarter, a custom range, a month, a year.
    let cut = resolve_period(&engine, None, Some(d("2025-07-02")), None)
        .await
        .unwrap();
    let r = kpis(&engine, &cut).await.unwrap();
    let target = num(&r, "target");
    close(
        target[row(&r, "sales_revenue")],
        Some(200.0),
        "cut quarter revenue",
    );
    assert_eq!(target[row(&r, "active_customers")], None);
    assert_eq!(target[row(&r, "churn_rate")], None);
    let april = Period::custom(d("2025-04-01"), d("2025-04-30")).unwrap();
    let r = kpis(&engine, &april).await.unwrap();
    let target = num(&r, "target");
    close(
        target[row(&r, "orders")],
        Some(46.0 * 30.0 / QUARTER_DAYS),
        "custom orders",
    );
    close(
        target[row(&r, "average_purchase_value")],
        Some(500.0),
        "custom APV",
    );
    assert_eq!(target[row(&r, "active_customers")], None);
    let month = kpis(&engine, &Period::parse_calendar("2025-04").unwrap())
        .await
        .unwrap();
    close(
        num(&month, "target")[row(&month, "orders")],
        Some(46.0 / 3.0),
        "month orders",
    );
    let year = kpis(&engine, &Period::parse_calendar("2025").unwrap())
        .await
        .unwrap();
    close(
        num(&year, "target")[row(&year, "orders")],
        Some(184.0),
        "year orders",
    );
    assert_eq!(num(&year, "target")[row(&year, "churn_rate")], None);
}

/// Data that ends on a quarter's last day makes that quarter complete and the default;
/// data that lies within one quarter has no complete quarter, so the default is that
/// quarter to date.
#[tokio::test]
async fn a_quarter_ending_on_the_last_day_is_complete_and_one_partial_quarter_is_the_default() {
    for (orders, label, to_date) in [
        (
            "O1,C1,2025-05-10,10,completed\nO2,C1,2025-06-30,10,completed\n",
            "2025-Q2",
            false,
        ),
        (
            "O1,C1,2025-07-01,10,completed\nO2,C1,2025-07-05,10,completed\n",
            "2025-Q3 to 2025-07-05",
            false,
        ),
        (
            "O1,C1,2025-06-01,10,completed\nO2,C1,2025-07-05,10,completed\n",
            "2025-Q2",
            true,
        ),
    ] {
        let text = format!("order_id,customer_id,order_date,total_amount,status\n{orders}");
        let dir = workspace(&[
            ("customers.csv", "customer_id\nC1\n"),
            ("orders.csv", &text),
        ]);
        let engine = open(dir.path()).await;
        let (p, t) = default_periods(&engine).await.unwrap();
        assert_eq!(
            (p.label.as_str(), t.is_some()),
            (label, to_date),
            "{orders}"
        );
    }
}
