//! End-to-end checks of the generated company: every file against the canonical schema
//! (header, types, value rules, keys, references), the internal consistency the models rely
//! on (order totals, one order per customer and day), the ground truth against the data, and
//! byte-for-byte determinism.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use chrono::{Datelike, NaiveDate};
use clientele_demo::{DemoConfig, generate};
use clientele_schema::{Check, ColumnDef, ColumnType, TABLES, TableDef, Value, parse_value};

struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    fn col(&self, name: &str) -> usize {
        self.header
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("no column {name}"))
    }
}

fn read(path: &Path) -> Table {
    let mut r = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_path(path)
        .unwrap();
    let header = r.headers().unwrap().iter().map(str::to_string).collect();
    let rows = r
        .records()
        .map(|rec| rec.unwrap().iter().map(str::to_string).collect())
        .collect();
    Table { header, rows }
}

fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn days(d: NaiveDate) -> i32 {
    clientele_schema::date_to_days(d)
}

/// Dates that may lie outside start..=end: birth dates, and the scheduled renewal of a
/// subscription term still running at the end.
fn date_may_leave_period(table: &str, column: &str) -> bool {
    matches!(
        (table, column),
        ("customers", "birth_date") | ("subscriptions", "renewal_date")
    )
}

#[test]
fn generated_company_is_valid_and_matches_its_ground_truth() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let truth = dir.path().join("truth");
    let config = DemoConfig {
        customers: 2_000,
        seed: 7,
        ..DemoConfig::default()
    };
    let mut stages = HashSet::new();
    let summary = generate(&config, &data, &truth, &mut |stage: &str, done, total| {
        assert!(done <= total, "{stage} {done}/{total}");
        stages.insert(stage.to_string());
    })
    .unwrap();
    assert!(
        stages.contains("customers") && stages.contains("orders"),
        "{stages:?}"
    );

    let period = Period::of(&config);
    let tables = read_valid_tables(&data, &summary.tables, &period);
    check_references(&tables);
    check_ids(&tables);
    let per_customer = check_orders(&tables);
    check_deals(&tables);
    check_truth(&truth, &tables, &per_customer);
    check_kpi_targets(&tables);

    // Nothing temporary is left behind.
    for d in [&data, &truth] {
        for e in std::fs::read_dir(d).unwrap() {
            let name = e.unwrap().file_name().into_string().unwrap();
            assert!(!name.ends_with(".tmp"), "{name}");
        }
    }
}

/// The configured period as days and as microsecond timestamps (end exclusive).
struct Period {
    lo: i32,
    hi: i32,
    ts_lo: i64,
    ts_hi: i64,
}

impl Period {
    fn of(config: &DemoConfig) -> Period {
        let (lo, hi) = (days(config.start), days(config.end));
        Period {
            lo,
            hi,
            ts_lo: i64::from(lo) * 86_400_000_000,
            ts_hi: (i64::from(hi) + 1) * 86_400_000_000,
        }
    }
}

/// Every canonical table, in canonical order, with its header and valid values.
fn read_valid_tables(
    data: &Path,
    counts: &[(String, usize)],
    period: &Period,
) -> HashMap<&'static str, Table> {
    assert_eq!(counts.len(), TABLES.len());
    let mut tables: HashMap<&str, Table> = HashMap::new();
    for (t, (name, count)) in TABLES.iter().zip(counts) {
        assert_eq!(t.name, name);
        let table = read(&data.join(format!("{}.csv", t.name)));
        let want: Vec<&str> = t.columns.iter().map(|c| c.name).collect();
        assert_eq!(table.header, want, "{}", t.name);
        assert_eq!(table.rows.len(), *count, "{}", t.name);
        assert!(!table.rows.is_empty(), "{} is empty", t.name);
        for (r, row) in table.rows.iter().enumerate() {
            assert_eq!(row.len(), t.columns.len(), "{} row {r}", t.name);
            for (c, v) in t.columns.iter().zip(row) {
                check_value(t, c, r, v, period);
            }
        }
        // Primary keys are unique.
        if !t.primary_key.is_empty() {
            let idx: Vec<usize> = t.primary_key.iter().map(|k| table.col(k)).collect();
            let mut seen = HashSet::new();
            for row in &table.rows {
                let key: Vec<&str> = idx.iter().map(|i| row[*i].as_str()).collect();
                assert!(seen.insert(key.clone()), "{} duplicate key {key:?}", t.name);
            }
        }
        tables.insert(t.name, table);
    }
    tables
}

/// One value of row `r` of table `t`, column `c`: its type, value rule, format and date.
fn check_value(t: &TableDef, c: &ColumnDef, r: usize, v: &str, period: &Period) {
    let at = || format!("{}.{} row {r}: {v:?}", t.name, c.name);
    if v.is_empty() {
        assert!(!c.required, "{}", at());
        return;
    }
    let parsed = parse_value(c.ty, v).unwrap_or_else(|| panic!("{}", at()));
    let num = match &parsed {
        Value::Float(f) => Some(*f),
        Value::Integer(i) => Some(*i as f64),
        _ => None,
    };
    match c.check {
        Check::None => {}
        Check::NonNegative => assert!(num.unwrap() >= 0.0, "{}", at()),
        Check::Positive => assert!(num.unwrap() > 0.0, "{}", at()),
        Check::Range(a, b) => assert!((a..=b).contains(&num.unwrap()), "{}", at()),
        Check::OneOf(list) => assert!(list.contains(&v), "{}", at()),
    }
    if c.ty == ColumnType::Money {
        let decimals = v.split('.').nth(1).map_or(0, str::len);
        assert_eq!(decimals, 2, "{}", at());
    }
    if !date_may_leave_period(t.name, c.name) {
        match parsed {
            Value::Date(d) => assert!((period.lo..=period.hi).contains(&d), "{}", at()),
            Value::Timestamp(us) => {
                assert!((period.ts_lo..period.ts_hi).contains(&us), "{}", at());
                assert!(v.len() == 20 && v.ends_with('Z'), "{}", at());
            }
            _ => {}
        }
    }
    if c.ty == ColumnType::Date {
        assert_eq!(v.len(), 10, "{}", at());
    }
}

/// Every reference resolves.
fn check_references(tables: &HashMap<&str, Table>) {
    for t in TABLES {
        for fk in t.references {
            let parent = &tables[fk.table];
            let pk = parent.col(
                TABLES
                    .iter()
                    .find(|p| p.name == fk.table)
                    .unwrap()
                    .primary_key[0],
            );
            let keys: HashSet<&str> = parent.rows.iter().map(|r| r[pk].as_str()).collect();
            let child = &tables[t.name];
            let c = child.col(fk.column);
            for row in &child.rows {
                let v = row[c].as_str();
                assert!(
                    v.is_empty() || keys.contains(v),
                    "{}.{} = {v} dangles",
                    t.name,
                    fk.column
                );
            }
        }
    }
}

/// Id formats, table sizes and unique emails.
fn check_ids(tables: &HashMap<&str, Table>) {
    let customers = &tables["customers"];
    assert_eq!(customers.rows.len(), 2_000);
    assert_eq!(customers.rows[0][0], "C000001");
    assert_eq!(tables["products"].rows[0][0], "P0001");
    assert_eq!(tables["orders"].rows[0][0], "O0000001");
    assert_eq!(tables["sales_reps"].rows[0][0], "R001");
    assert_eq!(tables["campaigns"].rows[0][0], "CMP001");
    assert_eq!(tables["campaigns"].rows.len(), 24);
    assert_eq!(tables["products"].rows.len(), 60);
    assert_eq!(tables["sales_reps"].rows.len(), 15);
    let emails: HashSet<&str> = customers.rows.iter().map(|r| r[1].as_str()).collect();
    assert_eq!(emails.len(), 2_000, "emails are unique");
}

/// Orders: totals equal their lines, one completed order per customer and day and at most one
/// cancelled or returned one beside it (never alone: it falls on a purchase day), none before
/// sign-up. Returns the numbers of orders and of completed orders per customer id.
fn check_orders<'a>(tables: &'a HashMap<&str, Table>) -> HashMap<&'a str, (usize, usize)> {
    let customers = &tables["customers"];
    let orders = &tables["orders"];
    let items = &tables["order_items"];
    let mut line_sum: HashMap<&str, f64> = HashMap::new();
    for row in &items.rows {
        let q: f64 = row[2].parse().unwrap();
        let p: f64 = row[3].parse().unwrap();
        let d: f64 = row[4].parse().unwrap();
        *line_sum.entry(row[0].as_str()).or_default() += q * p * (1.0 - d);
    }
    let signup: HashMap<&str, &str> = customers
        .rows
        .iter()
        .map(|r| (r[0].as_str(), r[11].as_str()))
        .collect();
    let mut per_day = HashSet::new();
    let mut purchase_days = HashSet::new();
    let mut per_customer: HashMap<&str, (usize, usize)> = HashMap::new();
    let mut statuses: HashMap<&str, usize> = HashMap::new();
    let mut prev_date = String::new();
    let mut guests = 0usize;
    for row in &orders.rows {
        let total: f64 = row[3].parse().unwrap();
        let lines = line_sum.get(row[0].as_str()).copied().unwrap_or(-1.0);
        assert!(
            (total - lines).abs() <= 0.01 + 1e-9,
            "{}: {total} vs {lines}",
            row[0]
        );
        assert!(row[2] >= prev_date, "order ids follow dates");
        prev_date = row[2].clone();
        if row[1].is_empty() {
            // A guest checkout brought by the spend: completed, web or store, no rep, no
            // campaign (its revenue is checked against the truth in check_truth).
            assert_eq!(row[4], "completed", "{row:?}");
            assert!(["web", "store"].contains(&row[5].as_str()), "{row:?}");
            assert!(row[7].is_empty() && row[8].is_empty(), "{row:?}");
            guests += 1;
            continue;
        }
        let completed = row[4] == "completed";
        assert!(
            per_day.insert((row[1].clone(), row[2].clone(), completed)),
            "two orders {row:?}"
        );
        if completed {
            purchase_days.insert((row[1].clone(), row[2].clone()));
        }
        assert!(
            row[2].as_str() >= signup[row[1].as_str()],
            "order before sign-up {row:?}"
        );
        let n = per_customer.entry(row[1].as_str()).or_default();
        n.0 += 1;
        n.1 += usize::from(completed);
        *statuses.entry(row[4].as_str()).or_default() += 1;
        let rep = &row[7];
        match row[5].as_str() {
            "phone" | "partner" => assert!(!rep.is_empty()),
            _ => assert!(rep.is_empty()),
        }
    }
    assert!(guests > 0, "no guest orders");
    for row in orders.rows.iter().filter(|r| !r[1].is_empty()) {
        assert!(
            purchase_days.contains(&(row[1].clone(), row[2].clone())),
            "an order on a day without a purchase {row:?}"
        );
    }
    let n_orders = orders.rows.len() as f64;
    let completed = statuses["completed"] as f64 / (n_orders - guests as f64);
    assert!((0.90..0.96).contains(&completed), "{statuses:?}");
    let mean_total = orders
        .rows
        .iter()
        .map(|r| r[3].parse::<f64>().unwrap())
        .sum::<f64>()
        / n_orders;
    assert!(
        (50.0..150.0).contains(&mean_total),
        "mean order {mean_total}"
    );
    for row in &items.rows {
        let n: i64 = row[2].parse().unwrap();
        assert!(n >= 1);
    }
    per_customer
}

/// Deal history: one row per stage entered; closed deals end with `closed`.
fn check_deals(tables: &HashMap<&str, Table>) {
    let deals = &tables["deals"];
    let history = &tables["deal_stage_history"];
    let mut stages_of: HashMap<&str, Vec<&str>> = HashMap::new();
    for row in &history.rows {
        stages_of
            .entry(row[0].as_str())
            .or_default()
            .push(row[1].as_str());
    }
    for row in &deals.rows {
        let s = &stages_of[row[0].as_str()];
        assert_eq!(s[0], "prospecting");
        assert_eq!(*s.last().unwrap(), row[2].as_str(), "{row:?}");
        let open = row[8] == "open";
        assert_eq!(open, row[7].is_empty(), "{row:?}");
        assert_eq!(open, row[2] != "closed", "{row:?}");
    }
}

/// Ground truth agrees with the data and with the model.
fn check_truth(
    truth: &Path,
    tables: &HashMap<&str, Table>,
    per_customer: &HashMap<&str, (usize, usize)>,
) {
    let truth_rows = read(&truth.join("customers_truth.csv"));
    assert_eq!(truth_rows.rows.len(), 2_000);
    let (lambda_c, alive_c, n_c, purchases_c) = (
        truth_rows.col("lambda"),
        truth_rows.col("alive_at_end"),
        truth_rows.col("n_orders"),
        truth_rows.col("n_purchases"),
    );
    let lambdas: Vec<f64> = truth_rows
        .rows
        .iter()
        .map(|r| r[lambda_c].parse().unwrap())
        .collect();
    let mean = lambdas.iter().sum::<f64>() / lambdas.len() as f64;
    // E[λ] = r/α = 0.125, sd √r/α ≈ 0.144, so the standard error over 2,000 is ≈ 0.0032.
    assert!((mean - 0.125).abs() < 0.013, "mean lambda {mean}");
    let alive = truth_rows
        .rows
        .iter()
        .filter(|r| r[alive_c] == "true")
        .count() as f64
        / 2_000.0;
    assert!((0.2..0.8).contains(&alive), "alive share {alive}");
    for r in &truth_rows.rows {
        let n: usize = r[n_c].parse().unwrap();
        let purchases: usize = r[purchases_c].parse().unwrap();
        assert_eq!(
            per_customer.get(r[0].as_str()).copied().unwrap_or((0, 0)),
            (n, purchases),
            "{r:?}"
        );
        assert_eq!(
            r[alive_c] == "true",
            r[truth_rows.col("dropout_date")].is_empty()
        );
    }
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(truth.join("ground_truth.json")).unwrap())
            .unwrap();
    assert_eq!(json["purchase_process"]["r"], 0.75);
    assert_eq!(json["spend_process"]["gamma_in_currency"], 37.5);
    assert_eq!(json["config"]["customers"], 2_000);
    assert_eq!(json["counts"]["orders"], tables["orders"].rows.len());
    assert_eq!(json["marketing"]["campaigns"].as_array().unwrap().len(), 24);
    assert_eq!(json["sales_reps"]["reps"].as_array().unwrap().len(), 15);
    check_mix_truth(&json["marketing_mix"], tables);
}

/// The marketing-mix truth: the guest orders add up to the realised revenue of the channels,
/// week by week, and each channel's expected revenue is its ROI times its spend.
fn check_mix_truth(mix: &serde_json::Value, tables: &HashMap<&str, Table>) {
    let orders = &tables["orders"];
    let mut by_week: HashMap<String, f64> = HashMap::new();
    for row in orders.rows.iter().filter(|r| r[1].is_empty()) {
        let date: chrono::NaiveDate = row[2].parse().unwrap();
        let monday = date - chrono::Days::new(u64::from(date.weekday().num_days_from_monday()));
        *by_week.entry(monday.to_string()).or_default() += row[3].parse::<f64>().unwrap();
    }
    let weeks = mix["weeks"].as_array().unwrap();
    let mut total = 0.0;
    for w in weeks {
        let realised: f64 = w["guest_revenue"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .sum();
        let seen = by_week
            .get(w["monday"].as_str().unwrap())
            .copied()
            .unwrap_or(0.0);
        assert!((realised - seen).abs() < 0.005, "{w}: {seen}");
        total += realised;
    }
    assert!(total > 0.0);
    for c in mix["channels"].as_array().unwrap() {
        let (spend, roi) = (c["spend"].as_f64().unwrap(), c["roi"].as_f64().unwrap());
        let expected = c["expected_revenue"].as_f64().unwrap();
        assert!(
            (expected - roi * spend).abs() < 1e-6 * spend.max(1.0),
            "{c}"
        );
        // Realised within Poisson noise of the expectation: a 2,000-customer company has
        // about 200–1,200 guest orders per channel over three years.
        let realised = c["guest_revenue"].as_f64().unwrap();
        assert!((realised / expected - 1.0).abs() < 0.2, "{c}");
    }
}

/// KPI targets: every KPI present; additive ones per quarter of the last year.
fn check_kpi_targets(tables: &HashMap<&str, Table>) {
    let kpis = &tables["kpi_targets"];
    let names: HashSet<&str> = kpis.rows.iter().map(|r| r[0].as_str()).collect();
    for k in [
        "sales_revenue",
        "orders",
        "average_purchase_value",
        "purchase_frequency",
        "active_customers",
        "new_customers",
        "churn_rate",
        "retention_rate",
        "arpu",
        "historical_cltv",
        "cac",
        "marketing_roi",
        "lead_conversion_rate",
        "win_rate",
        "average_deal_size",
        "sales_cycle_days",
        "csat",
        "nps",
        "first_contact_resolution",
        "renewal_rate",
    ] {
        assert!(names.contains(k), "{k}");
    }
    let quarters: HashSet<&str> = kpis
        .rows
        .iter()
        .filter(|r| r[0] == "sales_revenue")
        .map(|r| r[2].as_str())
        .collect();
    assert_eq!(
        quarters,
        ["2025-Q1", "2025-Q2", "2025-Q3", "2025-Q4"]
            .into_iter()
            .collect()
    );
}

#[test]
fn same_seed_gives_identical_files_and_another_seed_differs() {
    let config = DemoConfig {
        customers: 300,
        seed: 11,
        start: ymd(2024, 1, 1),
        end: ymd(2024, 12, 31),
    };
    let dirs: Vec<tempfile::TempDir> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    for (i, d) in dirs.iter().enumerate() {
        let c = DemoConfig {
            seed: if i == 2 { 12 } else { 11 },
            ..config.clone()
        };
        generate(
            &c,
            &d.path().join("data"),
            &d.path().join("truth"),
            &mut |_, _, _| {},
        )
        .unwrap();
    }
    let mut names: Vec<String> = TABLES
        .iter()
        .map(|t| format!("data/{}.csv", t.name))
        .collect();
    names.push("truth/ground_truth.json".into());
    names.push("truth/customers_truth.csv".into());
    let mut differs = false;
    for name in &names {
        let a = std::fs::read(dirs[0].path().join(name)).unwrap();
        let b = std::fs::read(dirs[1].path().join(name)).unwrap();
        assert!(a == b, "{name} differs between runs with the same seed");
        differs |= a != std::fs::read(dirs[2].path().join(name)).unwrap();
    }
    assert!(differs, "another seed should give another company");
}

#[test]
fn one_customer_and_a_short_period_still_work() {
    let dir = tempfile::tempdir().unwrap();
    let config = DemoConfig {
        customers: 1,
        seed: 3,
        start: ymd(2024, 2, 1),
        end: ymd(2024, 3, 1),
    };
    let summary = generate(
        &config,
        &dir.path().join("d"),
        &dir.path().join("t"),
        &mut |_, _, _| {},
    )
    .unwrap();
    let get = |n: &str| summary.tables.iter().find(|t| t.0 == n).unwrap().1;
    assert_eq!(get("customers"), 1);
    assert!(get("orders") >= 1);
    assert!(get("kpi_targets") >= 20);
}

/// A history that ends inside a quarter (2025-11-15, 46 of 2025-Q4's 92 days): the report
/// quarter is the last complete one, 2025-Q3, whose targets carry its label; the quarter to
/// date gets whole-quarter targets for the sums, set so that prorated back to its 46 days
/// they are its value to date times the factor. The orders file agrees with the truth.
#[test]
fn a_demo_ending_mid_quarter_reports_the_last_complete_quarter_and_targets_the_quarter_to_date() {
    let dir = tempfile::tempdir().unwrap();
    let (data, truth_dir) = (dir.path().join("data"), dir.path().join("truth"));
    let config = DemoConfig {
        customers: 600,
        seed: 5,
        end: ymd(2025, 11, 15),
        ..DemoConfig::default()
    };
    generate(&config, &data, &truth_dir, &mut |_, _, _| {}).unwrap();
    let truth: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(truth_dir.join("ground_truth.json")).unwrap(),
    )
    .unwrap();
    let k = &truth["kpi_targets"];
    assert_eq!(k["report_quarter"], "2025-Q3");
    assert_eq!(k["to_date_quarter"]["quarter"], "2025-Q4");
    assert_eq!(
        (
            &k["to_date_quarter"]["days"],
            &k["to_date_quarter"]["of_days"]
        ),
        (&serde_json::json!(46), &serde_json::json!(92))
    );
    let targets = k["targets"].as_array().unwrap();
    let labels = |kpi: &str| -> Vec<&str> {
        targets
            .iter()
            .filter(|t| t["kpi"] == kpi)
            .map(|t| t["period"].as_str().unwrap())
            .collect()
    };
    assert_eq!(
        labels("sales_revenue"),
        ["2025-Q1", "2025-Q2", "2025-Q3", "2025-Q4"]
    );
    assert_eq!(
        labels("active_customers"),
        ["2025-Q1", "2025-Q2", "2025-Q3"]
    );
    assert_eq!(labels("churn_rate"), [""]);

    // Completed revenue by quarter, from the orders file.
    let orders = read(&data.join("orders.csv"));
    let (date, amount, status) = (
        orders.col("order_date"),
        orders.col("total_amount"),
        orders.col("status"),
    );
    let revenue = |from: NaiveDate, to: NaiveDate| -> f64 {
        orders
            .rows
            .iter()
            .filter(|r| r[status].is_empty() || r[status] == "completed")
            .filter(|r| (from..=to).contains(&r[date].parse::<NaiveDate>().unwrap()))
            .map(|r| r[amount].parse::<f64>().unwrap())
            .sum()
    };
    let target = |label: &str| {
        targets
            .iter()
            .find(|t| t["kpi"] == "sales_revenue" && t["period"] == label)
            .unwrap()
    };
    let q3 = target("2025-Q3");
    let q3_revenue = revenue(ymd(2025, 7, 1), ymd(2025, 9, 30));
    assert!(
        (q3["actual"].as_f64().unwrap() - q3_revenue).abs() < 0.01,
        "{q3}"
    );
    let q4 = target("2025-Q4");
    let to_date = revenue(ymd(2025, 10, 1), ymd(2025, 11, 15));
    assert!(to_date > 0.0);
    let prorated = q4["target"].as_f64().unwrap() * 46.0 / 92.0;
    let want = to_date * q4["factor"].as_f64().unwrap();
    assert!((prorated - want).abs() < 0.01, "{prorated} vs {want}");
}
