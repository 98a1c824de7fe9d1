//! The KPI report against numbers it did not compute: the demo generator's own tally, counted
//! while it wrote the data (`crates/clientele-demo/src/tally.rs`, written to
//! `demo/truth/ground_truth.json` as the `actual` of each KPI target).

use super::*;

/// How close a KPI's value must be to the generator's tally. Counts are integers on both
/// sides: exactly equal. Money sums: the generator adds integer cents, the report adds the
/// amounts parsed from the CSV text as f64 (in whatever order the partitions finish), so the
/// two agree to the cent but not to the last bit: within half a cent. Ratios divide those
/// same figures (orders / active customers, spend / new customers …): the only difference is
/// the f64 rounding of the sums, about 1e-15 relative, so within 1e-9 relative.
fn agrees(kpi: &str, got: f64, want: f64) -> bool {
    match kpi {
        "orders" | "active_customers" | "new_customers" => got == want,
        "sales_revenue" => (got - want).abs() < 0.005,
        _ => (got - want).abs() <= 1e-9 * want.abs().max(1.0),
    }
}

fn kpi_rows(env: &Env, period: &[&str]) -> serde_json::Value {
    let mut args = vec!["report", "kpis"];
    args.extend(period);
    args.extend(["--format", "json"]);
    serde_json::from_str(&env.ok(&args)).unwrap()
}

fn kpi<'a>(report: &'a serde_json::Value, key: &str) -> &'a serde_json::Value {
    report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["kpi"] == key)
        .unwrap_or_else(|| panic!("no {key} in {report}"))
}

/// Issue 20 item 15: every KPI of `clientele report kpis` equals the generator's independent
/// tally of the same company. The tally covers, per quarter of the last calendar year, sales
/// revenue, orders, active and new customers (and from those the test's own division gives
/// average purchase value, purchase frequency and ARPU); over the report quarter (the last
/// one, named in the truth file) all twenty KPIs; and the leads of the whole history. What
/// it does not cover, and this test therefore does not check: churn and retention, historical
/// CLTV, CAC, marketing ROI and the sales and service KPIs (win rate, deal size, sales cycle,
/// CSAT, NPS, first-contact resolution, renewal rate) for quarters other than the report
/// quarter. Every period is given explicitly (`--period`, `--from/--to`), never the default.
#[test]
fn kpi_report_equals_the_demo_generators_own_tally() {
    let env = Env::new();
    env.ok(&["demo", "--customers", "2000", "--seed", "5"]);
    let truth: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(env.ws().join("demo/truth/ground_truth.json")).unwrap(),
    )
    .unwrap();
    let targets = &truth["kpi_targets"];
    let report_quarter = targets["report_quarter"].as_str().unwrap().to_string();
    let actuals: Vec<(&str, String, f64)> = targets["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            // An empty period is the report quarter's target.
            let period = match t["period"].as_str().unwrap() {
                "" => report_quarter.clone(),
                p => p.to_string(),
            };
            (
                t["kpi"].as_str().unwrap(),
                period,
                t["actual"].as_f64().unwrap(),
            )
        })
        .collect();
    let mut quarters: Vec<String> = actuals.iter().map(|a| a.1.clone()).collect();
    quarters.sort();
    quarters.dedup();
    // The quarters of the last calendar year (four when the history ends on 31 December),
    // the report quarter the last of them.
    assert_eq!(quarters.last(), Some(&report_quarter));
    assert!(
        quarters.iter().all(|q| q[..4] == report_quarter[..4]),
        "{quarters:?}"
    );

    let mut checked = 0;
    for quarter in &quarters {
        let report = kpi_rows(&env, &["--period", quarter]);
        assert_eq!(report["period"]["label"], quarter.as_str());
        let tally = |key: &str| {
            actuals
                .iter()
                .find(|a| a.0 == key && a.1 == *quarter)
                .map(|a| a.2)
        };
        let value = |key: &str| kpi(&report, key)["value"].as_f64();
        let mut compare = |key: &str, want: f64| {
            let got = value(key).unwrap_or_else(|| panic!("{quarter} {key}: no value"));
            assert!(
                agrees(key, got, want),
                "{quarter} {key}: report {got}, generator's tally {want}"
            );
            checked += 1;
        };
        for (key, _, want) in actuals.iter().filter(|a| a.1 == *quarter) {
            if *key == "lead_conversion_rate" {
                continue; // below: the tally's value depends on whether any window closed
            }
            compare(key, *want);
        }
        // The ratios of the four additive figures, divided here.
        let (revenue, orders, active) = (
            tally("sales_revenue").unwrap(),
            tally("orders").unwrap(),
            tally("active_customers").unwrap(),
        );
        // Guest checkouts are orders and revenue, but nobody's: out of the per-customer ratios.
        let guest = targets["guest_orders_per_quarter"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["quarter"] == quarter.as_str())
            .unwrap();
        let (guest_orders, guest_revenue) = (
            guest["orders"].as_f64().unwrap(),
            guest["revenue"].as_f64().unwrap(),
        );
        assert!(guest_orders > 0.0, "{guest}");
        compare("average_purchase_value", revenue / orders);
        compare("purchase_frequency", (orders - guest_orders) / active);
        compare("arpu", (revenue - guest_revenue) / active);
    }
    // 4 additive KPIs and 3 ratios in each quarter, and the report quarter's 15 other KPIs
    // (all but lead conversion, checked next).
    assert_eq!(checked, quarters.len() * (4 + 3) + 15);

    // Lead conversion over the report quarter: the generator counted the quarter's leads,
    // those whose 90-day window had closed by the leads' as-of day and those that converted
    // within it. Undefined when none has closed (a quarter younger than the window): the
    // KPI is empty then, and the generator set its target from all leads instead.
    let leads = &truth["leads"];
    let q = &leads["report_quarter"];
    let (closed, converted) = (
        q["window_closed"].as_f64().unwrap(),
        q["converted_within_window"].as_f64().unwrap(),
    );
    let report = kpi_rows(&env, &["--period", &report_quarter]);
    let lead_kpi = kpi(&report, "lead_conversion_rate");
    if closed > 0.0 {
        let got = lead_kpi["value"].as_f64().unwrap();
        assert!(
            agrees("lead_conversion_rate", got, converted / closed),
            "{lead_kpi}"
        );
    } else {
        assert_eq!(lead_kpi["status"], "undefined", "{lead_kpi}");
        assert!(lead_kpi["value"].is_null(), "{lead_kpi}");
        let created = q["created"].as_u64().unwrap();
        assert!(
            lead_kpi["note"]
                .as_str()
                .unwrap()
                .contains(&format!("none of the {created} leads")),
            "{lead_kpi}"
        );
    }
    // Over the whole history (the generator's start to end date), every lead with a closed
    // window counts: the generator's overall tally.
    let config = &truth["config"];
    let (start, end) = (
        config["start"].as_str().unwrap(),
        config["end"].as_str().unwrap(),
    );
    let all = kpi_rows(&env, &["--from", start, "--to", end]);
    let got = kpi(&all, "lead_conversion_rate")["value"].as_f64().unwrap();
    let want = leads["converted_within_window"].as_f64().unwrap()
        / leads["window_closed"].as_f64().unwrap();
    assert!(
        agrees("lead_conversion_rate", got, want),
        "lead conversion {start}..{end}: report {got}, generator's tally {want}"
    );
    // The last calendar year's revenue is the sum of its quarters in the tally (earlier
    // years' quarters are not in the truth file).
    let year = &report_quarter[..4];
    let whole_year = kpi_rows(&env, &["--period", year]);
    let year_revenue: f64 = actuals
        .iter()
        .filter(|a| a.0 == "sales_revenue")
        .map(|a| a.2)
        .sum();
    let got = kpi(&whole_year, "sales_revenue")["value"].as_f64().unwrap();
    assert!(
        agrees("sales_revenue", got, year_revenue),
        "{year}: report {got}, sum of the tally's quarters {year_revenue}"
    );
}

/// The demo cannot import the library's window (it knows nothing of analytics), so it keeps
/// its own copy; this keeps the two equal, so the demo's lead conversion truth means what the
/// KPI and lead scoring compute.
#[test]
fn the_demo_and_the_lead_kpi_share_one_conversion_window() {
    assert_eq!(
        clientele_demo::LEAD_CONVERSION_WINDOW_DAYS,
        i64::from(clientele_analytics::analyses::leads::CONVERSION_WINDOW_DAYS)
    );
}
