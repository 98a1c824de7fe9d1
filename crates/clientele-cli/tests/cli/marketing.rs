//! Forecasts and marketing effectiveness from the terminal (forecast, attribution, abtest,
//! report channels, mmm): the columns the issue promises, the numbers against SQL of our own,
//! peers' values and hand computation, and files refused with the row and column at fault.

use super::Env;

fn json(env: &Env, args: &[&str]) -> serde_json::Value {
    let out = env.ok(&[args, &["--format", "json"]].concat());
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?}: {e}: {out}"))
}

fn num(v: &serde_json::Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

/// The ground truth `clientele demo` wrote beside the workspace.
fn demo_truth(env: &Env) -> serde_json::Value {
    let file = env.ws().join("demo/truth/ground_truth.json");
    serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap()
}

#[test]
fn forecast_of_the_workspace_has_ordered_bands_a_model_and_its_history_from_the_sales() {
    let env = Env::new();
    env.ok(&["demo", "--customers", "600", "--seed", "5"]);
    let f = json(
        &env,
        &["forecast", "revenue", "--by", "month", "--horizon", "12"],
    );
    let rows = f["tables"]["forecast"].as_array().unwrap();
    assert_eq!(rows.len(), 12);
    for r in rows {
        let v: Vec<f64> = ["lower_95", "lower_80", "forecast", "upper_80", "upper_95"]
            .iter()
            .map(|c| num(&r[*c]))
            .collect();
        assert!(
            v.windows(2).all(|w| w[0] <= w[1]),
            "bands out of order: {r}"
        );
        assert!(v[0] >= 0.0, "revenue bands are cut at 0: {r}");
    }
    assert!(
        f["model"].as_str().unwrap().starts_with("ETS("),
        "{}",
        f["model"]
    );
    assert!(f["aicc"].is_number() && f["parameters"]["alpha"].is_number());
    assert!(f["backtest"]["mase"].is_number() && f["seasonal_naive_backtest"]["mase"].is_number());
    // The history is the sales per complete month: one month checked against SQL.
    let history = f["tables"]["history"].as_array().unwrap();
    let month = &history[history.len() / 2];
    let period = month["period"].as_str().unwrap();
    let out = env.ok(&[
        "sql",
        &format!(
            "SELECT SUM(total_amount) AS v FROM sales WHERE to_char(order_date, '%Y-%m') = '{period}'"
        ),
        "--format",
        "json",
    ]);
    let want = num(&serde_json::from_str::<serde_json::Value>(&out).unwrap()[0]["v"]);
    assert!(
        (num(&month["actual"]) - want).abs() < 1e-6 * want,
        "{period}: {} vs {want}",
        month["actual"]
    );
    // The forecast starts the month after the last in the history.
    let last = history.last().unwrap()["period"].as_str().unwrap();
    let first = rows[0]["period"].as_str().unwrap();
    assert!(first > last, "{first} follows {last}");

    // One forecast per region, with the split first.
    let csv = env.ok(&[
        "forecast", "orders", "--by", "quarter", "--split", "region", "--format", "csv",
    ]);
    let header = csv.lines().next().unwrap();
    assert_eq!(
        header,
        "split,period,forecast,lower_80,upper_80,lower_95,upper_95"
    );
    let regions = json(
        &env,
        &[
            "sql",
            "SELECT COUNT(DISTINCT region) AS n FROM sales WHERE region IS NOT NULL",
        ],
    );
    let n = num(&regions[0]["n"]) as usize;
    assert_eq!(csv.lines().count(), 1 + 4 * n, "{csv}");

    // A model fixed by name is the model used.
    let f = json(&env, &["forecast", "--model", "AAdN", "--horizon", "3"]);
    assert_eq!(f["model"], "ETS(A,Ad,N)");
    assert!(f["parameters"]["phi"].is_number());
    let f = json(&env, &["forecast", "--model", "snaive", "--horizon", "3"]);
    assert_eq!(f["model"], "seasonal naive");

    // The pipeline: expected won amount from the open deals, and the check a quarter back.
    let p = json(&env, &["forecast", "pipeline"]);
    assert_eq!(p["tables"]["forecast"].as_array().unwrap().len(), 6);
    assert!(num(&p["open_deals"]) > 0.0);
    let stderr = env.fails(&["forecast", "--horizon", "0"], 2);
    assert!(stderr.contains("horizon"), "{stderr}");
}

/// The history each forecast fits is the measure itself: units, new customers and revenue
/// per category, month by month, equal SQL of our own written on the base tables (not on
/// the views the forecast reads): every month of every split member.
#[test]
fn forecast_histories_of_units_new_customers_and_categories_equal_sql_on_the_base_tables() {
    let env = Env::new();
    env.ok(&["demo", "--customers", "600", "--seed", "5"]);
    let sql = |q: &str| -> std::collections::HashMap<(String, String), f64> {
        json(&env, &["sql", q])
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    (
                        r["g"].as_str().unwrap_or("").to_string(),
                        r["m"].as_str().unwrap().to_string(),
                    ),
                    num(&r["v"]),
                )
            })
            .collect()
    };
    let completed = "(o.status = 'completed' OR o.status IS NULL)";
    let cases = [
        (
            vec!["forecast", "units", "--by", "month"],
            sql(&format!(
                "SELECT '' AS g, to_char(o.order_date, '%Y-%m') AS m, CAST(SUM(i.quantity) AS DOUBLE) AS v
                 FROM orders o JOIN order_items i ON o.order_id = i.order_id WHERE {completed} GROUP BY 1, 2"
            )),
        ),
        (
            vec!["forecast", "new_customers", "--by", "month"],
            sql(&format!(
                "WITH f AS (SELECT o.customer_id, MIN(o.order_date) AS d FROM orders o
                            WHERE {completed} AND o.customer_id IS NOT NULL GROUP BY o.customer_id)
                 SELECT '' AS g, to_char(d, '%Y-%m') AS m, CAST(COUNT(*) AS DOUBLE) AS v FROM f GROUP BY 1, 2"
            )),
        ),
        (
            vec!["forecast", "revenue", "--by", "month", "--split", "category"],
            sql(&format!(
                "SELECT p.category AS g, to_char(o.order_date, '%Y-%m') AS m,
                        SUM(CAST(i.quantity AS DOUBLE) * COALESCE(i.unit_price, p.unit_price) * (1 - COALESCE(i.discount, 0))) AS v
                 FROM orders o JOIN order_items i ON o.order_id = i.order_id
                      JOIN products p ON i.product_id = p.product_id
                 WHERE {completed} GROUP BY 1, 2"
            )),
        ),
    ];
    for (args, want) in cases {
        let f = json(&env, &[&args[..], &["--horizon", "3"]].concat());
        let history = f["tables"]["history"].as_array().unwrap();
        assert!(history.len() >= 30, "{args:?}: {} months", history.len());
        for h in history {
            let key = (
                h["split"].as_str().unwrap_or("").to_string(),
                h["period"].as_str().unwrap().to_string(),
            );
            let got = num(&h["actual"]);
            let expect = want.get(&key).copied().unwrap_or(0.0);
            assert!(
                (got - expect).abs() <= 1e-6 * expect.abs().max(1.0),
                "{args:?} {key:?}: forecast history {got}, SQL {expect}"
            );
        }
        // Every month the SQL sees inside the history's range is in it.
        let first = history[0]["period"].as_str().unwrap();
        let last = history[history.len() - 1]["period"].as_str().unwrap();
        let inside = want
            .keys()
            .filter(|(_, m)| first <= m.as_str() && m.as_str() <= last)
            .count();
        let nonzero = history.iter().filter(|h| num(&h["actual"]) != 0.0).count();
        assert_eq!(nonzero, inside, "{args:?}");
    }
}

/// AirPassengers (Box & Jenkins), the series of the model tests.
fn airpassengers(env: &Env) -> std::path::PathBuf {
    let data = include_str!("../../../clientele-models/tests/data/forecast/airpassengers.csv");
    let mut csv = String::from("month,passengers\n");
    for (i, v) in data.lines().skip(1).enumerate() {
        csv.push_str(&format!("{}-{:02},{v}\n", 1949 + i / 12, i % 12 + 1));
    }
    env.write("air.csv", &csv)
}

#[test]
fn forecast_of_a_series_file_matches_the_model_tests_and_refuses_bad_rows() {
    let env = Env::new();
    let file = airpassengers(&env);
    let file = file.to_str().unwrap();
    let args = [
        "forecast",
        "--series",
        file,
        "--date-column",
        "month",
        "--value-column",
        "passengers",
        "--horizon",
        "24",
    ];
    let csv = env.ok(&[&args[..], &["--format", "csv"]].concat());
    let mut lines = csv.lines();
    assert_eq!(
        lines.next().unwrap(),
        "period,forecast,lower_80,upper_80,lower_95,upper_95"
    );
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 24);
    assert!(rows[0].starts_with("1961-01,"), "{}", rows[0]);
    let f = json(&env, &args);
    // Multiplicative season: the trend and season of the series are found.
    let model = f["model"].as_str().unwrap();
    assert!(model.ends_with(",M)"), "{model}");
    // July 1961 above January 1961, as in every year of the data.
    let fc = f["tables"]["forecast"].as_array().unwrap();
    assert!(num(&fc[6]["forecast"]) > num(&fc[0]["forecast"]) * 1.1);
    assert!(f["candidates"].as_array().unwrap().len() == 15);
    // Runs without a workspace: nothing was created.
    assert!(!env.ws().exists());

    let bad = env.write(
        "bad.csv",
        "month,passengers\n1949-01,112\n1949-02,x\n1949-03,132\n",
    );
    let stderr = env.fails(
        &[
            "forecast",
            "--series",
            bad.to_str().unwrap(),
            "--date-column",
            "month",
            "--value-column",
            "passengers",
        ],
        2,
    );
    assert!(
        stderr.contains("row 3") && stderr.contains("passengers") && stderr.contains("'x'"),
        "{stderr}"
    );
    let gap = env.write(
        "gap.csv",
        "month,v\n2024-01,1\n2024-02,2\n2024-04,3\n2024-05,4\n",
    );
    let stderr = env.fails(
        &[
            "forecast",
            "--series",
            gap.to_str().unwrap(),
            "--date-column",
            "month",
            "--value-column",
            "v",
        ],
        2,
    );
    assert!(
        stderr.contains("2024-03") || stderr.contains("gap") || stderr.contains("missing"),
        "{stderr}"
    );
    let stderr = env.fails(&["forecast", "--series", file, "--date-column", "when"], 2);
    assert!(stderr.contains("when"), "{stderr}");
}

#[test]
fn attribution_of_a_paths_file_credits_by_hand() {
    let env = Env::new();
    // 3 conversions a > b, 1 conversion b, 2 nulls on a.
    let file = env.write(
        "paths.csv",
        "path,total_conversions,total_conversion_value,total_null\na > b,3,30,0\nb,1,5,0\na,0,0,2\n",
    );
    let f = json(&env, &["attribution", "--paths", file.to_str().unwrap()]);
    let rows = f["tables"]["attribution"].as_array().unwrap();
    let row = |c: &str| rows.iter().find(|r| r["channel"] == c).unwrap().clone();
    let (a, b) = (row("a"), row("b"));
    assert_eq!(num(&a["first_touch"]), 3.0);
    assert_eq!(num(&b["first_touch"]), 1.0);
    assert_eq!(num(&a["last_touch"]), 0.0);
    assert_eq!(num(&b["last_touch"]), 4.0);
    assert_eq!(num(&a["linear"]), 1.5);
    assert_eq!(num(&b["linear_value"]), 20.0);
    // Shapley: the 3 conversions of {a, b} split evenly, b's own conversion to b.
    assert_eq!(num(&a["shapley"]), 1.5);
    assert_eq!(num(&b["shapley"]), 2.5);
    // Markov, order 1: start → a (5/6) or b (1/6); a → b 3/5, null 2/5; b → conversion.
    // P(conv) = 5/6·3/5 + 1/6 = 2/3. Without a: 1/6 → RE 3/4; without b: 0 → RE 1.
    let re = &f["removal_effects"];
    assert!((num(&re["a"]) - 0.75).abs() < 1e-12, "{re}");
    assert!((num(&re["b"]) - 1.0).abs() < 1e-12, "{re}");
    assert!((num(&a["markov"]) - 4.0 * 0.75 / 1.75).abs() < 1e-9);
    assert!((num(&f["conversion_probability"]) - 2.0 / 3.0).abs() < 1e-12);

    let bad = env.write("bad.csv", "path,total_conversions\na > b,3\na >  > b,1\n");
    let stderr = env.fails(&["attribution", "--paths", bad.to_str().unwrap()], 2);
    assert!(
        stderr.contains("row 3") && stderr.contains("path"),
        "{stderr}"
    );
    let bad = env.write("neg.csv", "path,total_conversions\na,-1\n");
    let stderr = env.fails(&["attribution", "--paths", bad.to_str().unwrap()], 2);
    assert!(
        stderr.contains("row 2") && stderr.contains("-1"),
        "{stderr}"
    );
}

#[test]
fn attribution_of_the_workspace_credits_every_sale_with_a_touch() {
    let env = Env::new();
    env.ok(&["demo", "--customers", "600", "--seed", "5"]);
    let f = json(&env, &["attribution"]);
    let rows = f["tables"]["attribution"].as_array().unwrap();
    assert!(!rows.is_empty());
    let total = num(&f["conversions"]);
    for model in [
        "first_touch",
        "last_touch",
        "linear",
        "time_decay",
        "position_based",
        "markov",
        "shapley",
    ] {
        let credited: f64 = rows.iter().map(|r| num(&r[model])).sum();
        assert!(
            (credited - total).abs() < 1e-6 * total.max(1.0),
            "{model}: {credited} of {total}"
        );
        let value: f64 = rows
            .iter()
            .map(|r| num(&r[&format!("{model}_value")]))
            .sum();
        assert!(
            (value - num(&f["conversion_value"])).abs() < 1e-6 * value.max(1.0),
            "{model} value"
        );
    }
    let c = json(&env, &["attribution", "--by", "campaign", "--order", "2"]);
    assert!(
        c["tables"]["attribution"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["campaign"].is_string())
    );
    assert_eq!(num(&c["markov_order"]), 2.0);
}

/// E1: 100 control and 100 treatment customers assigned on 2025-01-01; 10 control customers
/// buy for 50 in the window, 25 treatment customers for 60 (one on the assignment day), one
/// treatment customer on day 30 (outside), one control customer again in December (outside).
/// E2 is assigned 11 days before the last sale: its 30-day window is not complete.
fn experiments(env: &Env) {
    let mut exp = String::from("experiment_id,customer_id,variant,assigned_at\n");
    let mut orders = String::from("order_id,customer_id,order_date,total_amount,status\n");
    for i in 1..=200 {
        let variant = if i <= 100 { "control" } else { "treatment" };
        exp.push_str(&format!("E1,C{i},{variant},2025-01-01 08:00:00\n"));
    }
    for i in 1..=20 {
        let variant = if i % 2 == 0 { "a" } else { "b" };
        exp.push_str(&format!("E2,C{i},{variant},2025-12-20 08:00:00\n"));
    }
    let mut n = 0;
    let mut order = |c: usize, day: &str, amount: f64| {
        n += 1;
        orders.push_str(&format!("O{n},C{c},{day},{amount},completed\n"));
    };
    for c in 1..=10 {
        order(c, "2025-01-05", 50.0);
    }
    order(101, "2025-01-01", 60.0);
    for c in 102..=125 {
        order(c, "2025-01-10", 60.0);
    }
    order(126, "2025-01-31", 60.0);
    order(1, "2025-12-31", 80.0);
    env.write("src/experiments.csv", &exp);
    env.write("src/orders.csv", &orders);
    env.ok(&["ingest", "src"]);
}

#[test]
fn abtest_compares_each_variant_with_the_control_as_statsmodels_and_scipy_do() {
    let env = Env::new();
    experiments(&env);
    let t = json(&env, &["abtest"]);
    let rows = t["tables"]["variants"].as_array().unwrap();
    let row = |e: &str, v: &str| {
        rows.iter()
            .find(|r| r["experiment_id"] == e && r["variant"] == v)
            .unwrap_or_else(|| panic!("{e} {v} in {rows:?}"))
            .clone()
    };
    let (c, tr) = (row("E1", "control"), row("E1", "treatment"));
    assert_eq!(c["role"], "control");
    assert_eq!(num(&c["customers"]), 100.0);
    assert_eq!(num(&c["conversions"]), 10.0);
    assert_eq!(
        num(&tr["conversions"]),
        25.0,
        "the assignment day counts, day 30 does not"
    );
    assert!((num(&tr["difference"]) - 0.15).abs() < 1e-12);
    assert!((num(&tr["lift"]) - 1.5).abs() < 1e-12);
    // statsmodels proportions_ztest and confint_proportions_2indep(method='wald').
    assert!(
        (num(&tr["p_value"]) - 0.005_247_203_739_115_64).abs() < 1e-9,
        "{tr}"
    );
    assert!((num(&tr["ci_lower"]) - 0.046_752_490_454_121_83).abs() < 1e-9);
    assert!((num(&tr["ci_upper"]) - 0.253_247_509_545_878_2).abs() < 1e-9);
    assert_eq!(tr["significant"], "yes");
    // One comparison: Holm changes nothing.
    assert!((num(&tr["p_value_holm"]) - num(&tr["p_value"])).abs() < 1e-15);
    // Revenue per customer 5 and 15; scipy's Welch test.
    assert!((num(&c["revenue_per_customer"]) - 5.0).abs() < 1e-12);
    assert!((num(&tr["revenue_difference"]) - 10.0).abs() < 1e-12);
    assert!((num(&tr["revenue_p_value"]) - 0.001_129_936_982_015_236_7).abs() < 1e-9);
    let (lo, hi) = (num(&tr["revenue_ci_lower"]), num(&tr["revenue_ci_upper"]));
    assert!(
        lo > 0.0 && lo < 10.0 && hi > 10.0,
        "bootstrap interval {lo}..{hi}"
    );
    // The always-valid p-value pays for peeking: larger than the fixed-horizon one.
    assert!(num(&tr["always_valid_p"]) > num(&tr["p_value"]));
    // The lift's interval: statsmodels confint_proportions_2indep(25, 100, 10, 100,
    // method='log', compare='ratio') minus one.
    assert!((num(&tr["lift_ci_lower"]) - 0.267_871_222_643_933_7).abs() < 1e-9);
    assert!((num(&tr["lift_ci_upper"]) - 3.929_522_721_532_135).abs() < 1e-9);
    // Orders per customer in the window, 0.1 and 0.25 (C1's order on day 364 is outside);
    // scipy's ttest_ind(equal_var=False) and its confidence_interval(0.95).
    assert!((num(&c["orders_per_customer"]) - 0.1).abs() < 1e-12);
    assert!((num(&tr["orders_per_customer"]) - 0.25).abs() < 1e-12);
    assert!((num(&tr["orders_difference"]) - 0.15).abs() < 1e-12);
    assert!((num(&tr["orders_lift"]) - 1.5).abs() < 1e-12);
    assert!((num(&tr["orders_p_value"]) - 0.005_145_883_680_428_818).abs() < 1e-9);
    assert!((num(&tr["orders_ci_lower"]) - 0.045_514_879_896_286_18).abs() < 1e-9);
    assert!((num(&tr["orders_ci_upper"]) - 0.254_485_120_103_713_8).abs() < 1e-9);
    assert!(
        c["orders_p_value"].is_null(),
        "the control is not compared with itself"
    );

    let ex = t["tables"]["experiments"].as_array().unwrap();
    assert_eq!(ex.len(), 1, "E2 has no complete assignment: {ex:?}");
    let e1 = &ex[0];
    assert!(
        (num(&e1["srm_p_value"]) - 1.0).abs() < 1e-12,
        "an even split"
    );
    // statsmodels NormalIndPower for 10 % → 11 %: 14,744.1 per arm.
    assert_eq!(num(&e1["needed_per_arm"]), 14_745.0);
    let notes = t["notes"].to_string();
    assert!(
        notes.contains("E2: 20 assignments were left out"),
        "{notes}"
    );

    // Only one experiment, another control, and clear errors.
    let only = json(
        &env,
        &["abtest", "--experiment", "E1", "--control", "treatment"],
    );
    let r = only["tables"]["variants"].as_array().unwrap();
    let c = r.iter().find(|r| r["variant"] == "control").unwrap();
    assert!((num(&c["difference"]) + 0.15).abs() < 1e-12);
    let stderr = env.fails(&["abtest", "--experiment", "E9"], 2);
    assert!(stderr.contains("E9"), "{stderr}");
    let stderr = env.fails(&["abtest", "--level", "2"], 2);
    assert!(stderr.contains("level"), "{stderr}");
}

/// The demo holds out a fifth of each email campaign's audience (its truth): the sizes match
/// that design, and over all campaigns the treated convert more often in the campaign's two
/// weeks than the held out (campaigns pull purchases into their window).
#[test]
fn abtest_of_the_demo_holdouts_sees_the_design_and_the_pull_of_the_emails() {
    let env = Env::new();
    env.ok(&["demo", "--customers", "10000", "--seed", "3"]);
    let truth = demo_truth(&env);
    let share = num(&truth["marketing"]["holdout"]["share"]);
    let t = json(
        &env,
        &[
            "abtest",
            "--window-days",
            "14",
            "--control-share",
            &share.to_string(),
        ],
    );
    let ex = t["tables"]["experiments"].as_array().unwrap();
    assert!(ex.len() >= 6, "{} experiments", ex.len());
    for e in ex {
        if num(&e["customers"]) > 200.0 {
            assert!(
                num(&e["srm_p_value"]) > 0.001,
                "the assignment is random: {e}"
            );
        }
    }
    let rows = t["tables"]["variants"].as_array().unwrap();
    let pooled = |role: &str| {
        let (mut c, mut n) = (0.0, 0.0);
        for r in rows.iter().filter(|r| r["role"] == role) {
            c += num(&r["conversions"]);
            n += num(&r["customers"]);
        }
        (c / n, n)
    };
    let (pc, nc) = pooled("control");
    let (pt, nt) = pooled("variant");
    assert!(
        (nc / (nc + nt) - share).abs() < 0.02,
        "control share {}",
        nc / (nc + nt)
    );
    assert!(pt > pc, "treated {pt} against held out {pc}");
    // The lift is below the largest campaign lift: the pull applies to part of the window.
    assert!(pt / pc < 1.6, "ratio {}", pt / pc);
}

/// `report channels` on a small company counted by hand: email sends, opens, clicks and an
/// unsubscribe; social impressions, clicks, a reaction and a share; spend, sign-ups, sessions,
/// leads and the revenue of a campaign's orders, inside and outside the period.
#[test]
fn channel_report_counts_and_divides_as_by_hand() {
    let env = Env::new();
    let mut tp = String::from("customer_id,occurred_at,channel,campaign_id,kind\n");
    for (c, kind) in [
        (1, "email_sent"),
        (2, "email_sent"),
        (3, "email_sent"),
        (4, "email_sent"),
        (1, "email_open"),
        (2, "email_open"),
        (1, "click"),
        (4, "unsubscribe"),
    ] {
        tp.push_str(&format!("C{c},2025-03-03 09:00:00,email,CMP1,{kind}\n"));
    }
    for i in 0..10 {
        tp.push_str(&format!(
            "C{},2025-03-04 10:00:00,social,,impression\n",
            i % 4 + 1
        ));
    }
    for kind in ["click", "click", "reaction", "share"] {
        tp.push_str(&format!("C1,2025-03-04 11:00:00,social,,{kind}\n"));
    }
    // Outside the period: not counted.
    tp.push_str("C1,2025-04-02 09:00:00,email,CMP1,email_sent\n");
    env.write("src/touchpoints.csv", &tp);
    env.write(
        "src/marketing_spend.csv",
        "date,channel,amount,campaign_id\n2025-03-01,email,60,CMP1\n2025-03-02,email,40,CMP1\n2025-03-01,social,50,\n2025-04-01,social,999,\n",
    );
    env.write(
        "src/customers.csv",
        "customer_id,signup_date,acquisition_channel\nC1,2025-03-05,email\nC2,2025-03-06,email\nC3,2025-02-01,social\nC4,2025-03-07,referral\n",
    );
    env.write(
        "src/campaigns.csv",
        "campaign_id,name,channel,start_date,end_date,cost\nCMP1,Spring,email,2025-03-01,2025-03-14,100\n",
    );
    env.write(
        "src/orders.csv",
        "order_id,customer_id,order_date,total_amount,status,campaign_id\nO1,C1,2025-03-08,200,completed,CMP1\nO2,C2,2025-03-09,100,completed,CMP1\nO3,C2,2025-03-10,70,cancelled,CMP1\nO4,C3,2025-03-10,40,completed,\n",
    );
    env.write(
        "src/web_sessions.csv",
        "customer_id,started_at,pages,duration_seconds,source\nC1,2025-03-03 09:10:00,3,120,email\nC2,2025-03-03 09:20:00,5,300,email\n",
    );
    env.write(
        "src/leads.csv",
        "lead_id,created_at,source_channel\nL1,2025-03-02 10:00:00,social\n",
    );
    env.ok(&["ingest", "src"]);
    let r = json(&env, &["report", "channels", "--period", "2025-03"]);
    let rows = r["rows"].as_array().unwrap();
    let row = |c: &str| {
        rows.iter()
            .find(|r| r["channel"] == c)
            .unwrap_or_else(|| panic!("{c}: {rows:?}"))
            .clone()
    };
    let (e, s) = (row("email"), row("social"));
    assert_eq!(num(&e["sends"]), 4.0);
    assert_eq!(num(&e["opens"]), 2.0);
    assert_eq!(num(&e["open_rate"]), 0.5);
    assert_eq!(num(&e["ctr"]), 0.25);
    assert_eq!(num(&e["click_to_open"]), 0.5);
    assert_eq!(num(&e["unsubscribe_rate"]), 0.25);
    assert_eq!(num(&e["spend"]), 100.0);
    assert_eq!(num(&e["cpc"]), 100.0);
    assert_eq!(num(&e["new_customers"]), 2.0);
    assert_eq!(num(&e["cac"]), 50.0);
    assert_eq!(num(&e["sessions"]), 2.0);
    assert_eq!(num(&e["mean_session_seconds"]), 210.0);
    assert_eq!(
        num(&e["attributed_revenue"]),
        300.0,
        "the cancelled order is no sale"
    );
    assert_eq!(num(&e["roas"]), 3.0);
    assert_eq!(num(&e["roi"]), 2.0);
    assert_eq!(num(&e["conversions"]), 2.0, "O1 and O2; O3 was cancelled");
    assert_eq!(num(&e["conversion_rate"]), 2.0, "two sales from one click");
    assert!(
        e["lifetime_value"].is_null() && e["clv_roi"].is_null(),
        "no CLV run stored: {e}"
    );
    assert!(
        r["notes"].to_string().contains("clientele clv"),
        "{}",
        r["notes"]
    );
    assert_eq!(num(&s["impressions"]), 10.0);
    assert_eq!(num(&s["clicks"]), 2.0);
    assert_eq!(num(&s["ctr"]), 0.2);
    assert_eq!(num(&s["engagements"]), 2.0);
    assert_eq!(num(&s["engagement_rate"]), 0.2);
    assert_eq!(num(&s["spend"]), 50.0, "April's spend is outside");
    assert_eq!(num(&s["cpc"]), 25.0);
    assert_eq!(num(&s["cpm"]), 5000.0);
    assert_eq!(num(&s["leads"]), 1.0);
    assert!(s["new_customers"].is_null(), "C3 signed up in February");
    assert!(
        s["roas"].is_number() && num(&s["roas"]) == 0.0,
        "no attributed revenue: ROAS 0"
    );
    assert!(s["open_rate"].is_null(), "no sends: no open rate");
    assert!(s["conversions"].is_null() && s["conversion_rate"].is_number());
    assert!(row("referral")["cac"].is_null(), "no spend: no CAC");
    // The spend column adds up to the marketing spend of the period.
    let spend: f64 = rows.iter().filter_map(|r| r["spend"].as_f64()).sum();
    assert_eq!(spend, 150.0);

    // Multi-touch attribution of the period's three sales (O1 by C1 200, O2 by C2 100, O4 by
    // C3 40). First touch: C1's and C2's first touches are email opens on 3 March (a send is
    // no touch), C3's a social impression on 4 March; last touch: all three last saw social.
    let by = |model: &str| {
        let r = json(
            &env,
            &[
                "report",
                "channels",
                "--period",
                "2025-03",
                "--attribution",
                model,
            ],
        );
        let rows = r["rows"].as_array().unwrap().clone();
        move |c: &str| rows.iter().find(|r| r["channel"] == c).unwrap().clone()
    };
    let first = by("first_touch");
    assert_eq!(num(&first("email")["attributed_revenue"]), 300.0);
    assert_eq!(num(&first("email")["conversions"]), 2.0);
    assert_eq!(num(&first("email")["roi"]), 2.0);
    assert_eq!(num(&first("social")["attributed_revenue"]), 40.0);
    assert_eq!(num(&first("social")["conversion_rate"]), 0.5);
    let last = by("last_touch");
    assert_eq!(num(&last("social")["attributed_revenue"]), 340.0);
    assert_eq!(num(&last("social")["conversions"]), 3.0);
    assert_eq!(num(&last("email")["attributed_revenue"]), 0.0);
    assert_eq!(num(&last("email")["roi"]), -1.0);
    assert_eq!(
        num(&by("campaign")("email")["attributed_revenue"]),
        300.0,
        "campaign is the default"
    );
    let stderr = env.fails(
        &[
            "report",
            "channels",
            "--period",
            "2025-03",
            "--attribution",
            "lastclick",
        ],
        2,
    );
    assert!(
        stderr.contains("lastclick") && stderr.contains("markov"),
        "{stderr}"
    );
    let stderr = env.fails(&["report", "sales", "--attribution", "markov"], 2);
    assert!(stderr.contains("only channels"), "{stderr}");
}

/// `mmm --file` on three years of weekly data simulated from known curves: the contributions
/// come back within 20 %, the allocation spends the budget, and a bad cell names its row.
#[test]
fn mmm_of_a_file_recovers_simulated_contributions() {
    let env = Env::new();
    // Two channels: search (decay 0.3, K 800, S 1.5, β 3,000) and tv (decay 0.7, K 5,000,
    // S 1.0, β 4,000); base 10,000 + 10 a week, yearly season ±8 %, noise ±2 % (a fixed
    // pseudo-random sequence).
    let weeks = 156;
    let hill = |x: f64, k: f64, s: f64| {
        if x <= 0.0 {
            0.0
        } else {
            x.powf(s) / (x.powf(s) + k.powf(s))
        }
    };
    let (mut a1, mut a2) = (0.0, 0.0);
    let (mut c1, mut c2) = (0.0, 0.0);
    let mut seed: u64 = 42;
    let mut uniform = || {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut csv = String::from("week,revenue,search,tv\n");
    for t in 0..weeks {
        // Spend that varies week to week: a constant spend is indistinguishable from base.
        let s1 = if uniform() < 0.3 {
            0.0
        } else {
            200.0 + 1800.0 * uniform()
        };
        let s2 = if uniform() < 0.4 {
            3000.0 + 4000.0 * uniform()
        } else {
            0.0
        };
        a1 = s1 + 0.3 * a1;
        a2 = s2 + 0.7 * a2;
        let m1 = 3000.0 * hill(a1, 800.0, 1.5);
        let m2 = 4000.0 * hill(a2, 5000.0, 1.0);
        c1 += m1;
        c2 += m2;
        let season = 1.0 + 0.08 * (2.0 * std::f64::consts::PI * t as f64 / 52.0).sin();
        let base = (10_000.0 + 10.0 * t as f64) * season;
        let noise = 1.0 + 0.04 * (uniform() - 0.5);
        csv.push_str(&format!(
            "W{t},{:.2},{s1:.2},{s2:.2}\n",
            (base + m1 + m2) * noise
        ));
    }
    let file = env.write("mix.csv", &csv);
    let f = json(
        &env,
        &["mmm", "--file", file.to_str().unwrap(), "--bootstrap", "20"],
    );
    let rows = f["tables"]["channels"].as_array().unwrap();
    let get = |c: &str| rows.iter().find(|r| r["channel"] == c).unwrap().clone();
    for (name, truth) in [("search", c1), ("tv", c2)] {
        let got = num(&get(name)["contribution"]);
        assert!(
            (got / truth - 1.0).abs() < 0.2,
            "{name}: {got} against {truth}"
        );
    }
    assert!(num(&f["r_squared"]) > 0.8);
    // The response curves: 41 steps and the current spend per channel, rising from 0, each
    // point the fitted β · Hill(x / (1 − θ)), and at the current weekly spend within 25 % of
    // the true curve's.
    let curves = f["tables"]["response_curves"].as_array().unwrap();
    for (name, (theta, k, s, beta)) in [
        ("search", (0.3, 800.0, 1.5, 3000.0)),
        ("tv", (0.7, 5000.0, 1.0, 4000.0)),
    ] {
        let ch = get(name);
        let pts: Vec<_> = curves.iter().filter(|r| r["channel"] == name).collect();
        assert_eq!(pts.len(), 42, "{name}");
        assert_eq!(num(&pts[0]["weekly_spend"]), 0.0);
        assert_eq!(num(&pts[0]["weekly_revenue"]), 0.0);
        assert!(
            pts.windows(2)
                .all(|w| num(&w[1]["weekly_revenue"]) >= num(&w[0]["weekly_revenue"])),
            "{name}: the curve never falls"
        );
        let (decay, half, shape) = (
            num(&ch["decay"]),
            num(&ch["half_saturation"]),
            num(&ch["shape"]),
        );
        let now: Vec<_> = pts.iter().filter(|r| num(&r["current"]) == 1.0).collect();
        assert_eq!(now.len(), 1, "{name}");
        let x = num(&now[0]["weekly_spend"]);
        assert!(
            (x - num(&ch["spend"]) / weeks as f64).abs() < 1e-3,
            "{name}: {x}"
        );
        let got = num(&now[0]["weekly_revenue"]);
        let at_full = got / hill(x / (1.0 - decay), half, shape);
        let true_value = beta * hill(x / (1.0 - theta), k, s);
        assert!(
            (got / true_value - 1.0).abs() < 0.25,
            "{name}: {got} at {x} a week against the true {true_value}"
        );
        // Every point is the fitted curve (β recovered from the current point).
        for p in &pts {
            let x = num(&p["weekly_spend"]);
            let want = at_full * hill(x / (1.0 - decay), half, shape);
            assert!(
                (num(&p["weekly_revenue"]) - want).abs() < 1e-3 + 1e-6 * want,
                "{name} {p}"
            );
        }
    }
    let alloc = f["tables"]["allocation"].as_array().unwrap();
    let current: f64 = alloc.iter().map(|r| num(&r["current_weekly_spend"])).sum();
    let optimal: f64 = alloc.iter().map(|r| num(&r["optimal_weekly_spend"])).sum();
    assert!(
        (current - optimal).abs() < 1e-6 * current,
        "{current} vs {optimal}"
    );
    let bad = env.write("bad.csv", "week,revenue,search\nW1,100,5\nW2,100,-3\n");
    let stderr = env.fails(&["mmm", "--file", bad.to_str().unwrap()], 2);
    assert!(
        stderr.contains("row 3") && stderr.contains("search"),
        "{stderr}"
    );
}

/// The demo's channel truths through `report channels` over its whole history: reactions and
/// shares per social impression and downloads per click are the generator's probabilities
/// (within four binomial standard errors), the revenue and orders credited to each channel's
/// campaigns add up to the campaigns' own truth, and after a CLV run each channel's lifetime
/// value is its new customers' sales plus their stored CLV, counted here by SQL of our own.
#[test]
fn channel_report_of_the_demo_matches_its_truth() {
    let env = Env::new();
    env.ok(&["demo", "--customers", "4000", "--seed", "5"]);
    let truth = demo_truth(&env);
    let m = &truth["marketing"];
    let (from, to) = (
        truth["config"]["start"].as_str().unwrap(),
        truth["config"]["end"].as_str().unwrap(),
    );
    env.ok(&["clv"]);
    let r = json(&env, &["report", "channels", "--from", from, "--to", to]);
    let rows = r["rows"].as_array().unwrap();
    let row = |c: &str| {
        rows.iter()
            .find(|r| r["channel"] == c)
            .unwrap_or_else(|| panic!("{c}: {rows:?}"))
            .clone()
    };
    let within = |got: f64, n: f64, p: f64, what: &str| {
        let se = (p * (1.0 - p) / n).sqrt();
        assert!(
            (got - p).abs() < 4.0 * se,
            "{what}: {got} over {n} against the truth {p} (se {se})"
        );
    };
    let e = &m["engagement"];
    let social = row("social");
    within(
        num(&social["engagement_rate"]),
        num(&social["impressions"]),
        num(&e["reaction_per_social_impression"]) + num(&e["share_per_social_impression"]),
        "social engagements per impression",
    );
    let (mut downloads, mut clicks) = (0.0, 0.0);
    for r in rows {
        downloads += r["downloads"].as_f64().unwrap_or(0.0);
        clicks += r["clicks"].as_f64().unwrap_or(0.0);
    }
    assert!(clicks > 500.0, "{clicks} clicks");
    within(
        downloads / clicks,
        clicks,
        num(&e["download_per_click"]),
        "downloads per click",
    );
    // Revenue of the orders carrying each channel's campaigns: the campaigns' truth.
    for channel in ["email", "social", "paid_search", "display"] {
        let want: f64 = m["campaigns"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["channel"] == channel)
            .map(|c| num(&c["completed_revenue_attributed"]))
            .sum();
        let got = row(channel)["attributed_revenue"].as_f64().unwrap_or(0.0);
        assert!(
            (got - want).abs() < 0.01 + 1e-9 * want,
            "{channel}: {got} against {want}"
        );
    }
    // Lifetime value of the new customers: sales to date plus stored CLV, by SQL.
    let sql = |q: &str| -> serde_json::Value {
        let out = env.ok(&["sql", q, "--format", "json"]);
        serde_json::from_str(&out).unwrap()
    };
    let by_sql = sql(&format!(
        "SELECT c.acquisition_channel AS channel,
                SUM(COALESCE(s.past, 0) + COALESCE(k.clv, 0)) AS value
         FROM customers c
         LEFT JOIN (SELECT customer_id, SUM(total_amount) AS past FROM sales GROUP BY customer_id) s
           ON s.customer_id = c.customer_id
         LEFT JOIN scores_clv k ON k.customer_id = c.customer_id
         WHERE c.signup_date BETWEEN DATE '{from}' AND DATE '{to}'
         GROUP BY c.acquisition_channel"
    ));
    let by_sql = by_sql.as_array().unwrap();
    assert!(by_sql.len() >= 4, "{by_sql:?}");
    for v in by_sql {
        let channel = v["channel"].as_str().unwrap();
        let r = row(channel);
        assert!(
            (num(&r["lifetime_value"]) - num(&v["value"])).abs() < 1e-6 * num(&v["value"]),
            "{channel}: {r} against {v}"
        );
        if let Some(spend) = r["spend"].as_f64().filter(|s| *s > 0.0) {
            let want = (num(&v["value"]) - spend) / spend;
            assert!((num(&r["clv_roi"]) - want).abs() < 1e-9 * want.abs().max(1.0));
        }
    }
}

/// Issue 12: the demo's spend drives guest orders through known adstock and Hill curves
/// (`marketing_mix` in the truth, docs/demo.md). On the default company (10,000 customers,
/// seed 42) `mmm` puts each channel's true ROI inside its 90 % interval. The truth is taken
/// over the model's own weeks: the guest revenue the channel brought over its spend, and at
/// most that plus the expected revenue its campaigns pulled into their windows (which a mix
/// model also credits to the channel). Other seeds are less kind (docs/analyses.md): this is
/// the company users see, not a proof for every company.
#[test]
fn mmm_of_the_demo_recovers_each_channels_true_roi_within_its_interval() {
    let env = Env::new();
    env.ok(&["demo"]);
    let truth = demo_truth(&env);
    let v = json(&env, &["mmm"]);
    let fit = v["tables"]["fit"].as_array().unwrap();
    let (first, last) = (
        fit[0]["week"].as_str().unwrap(),
        fit[fit.len() - 1]["week"].as_str().unwrap(),
    );
    let mix = &truth["marketing_mix"];
    let names: Vec<&str> = mix["channel_order"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    let weeks: Vec<&serde_json::Value> = mix["weeks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|w| {
            let m = w["monday"].as_str().unwrap();
            (first..=last).contains(&m)
        })
        .collect();
    assert_eq!(
        weeks.len(),
        fit.len(),
        "the model's weeks are the truth's whole weeks"
    );
    let rows = v["tables"]["channels"].as_array().unwrap();
    assert_eq!(rows.len(), names.len());
    for (c, name) in names.iter().enumerate() {
        let sum = |key: &str| -> f64 { weeks.iter().map(|w| num(&w[key][c])).sum() };
        let (spend, guest) = (sum("spend"), sum("guest_revenue"));
        let channel = &mix["channels"][c];
        let pull = num(&channel["campaign_pull_revenue"]);
        let row = rows.iter().find(|r| r["channel"] == *name).unwrap();
        assert!(
            (num(&row["spend"]) - spend).abs() < 0.01 * spend,
            "{name}: spend {} vs the truth's {spend}",
            row["spend"]
        );
        let (lo, hi) = (num(&row["roi_lower"]), num(&row["roi_upper"]));
        let (true_lo, true_hi) = (guest / spend, (guest + pull) / spend);
        assert!(
            lo <= true_hi && true_lo <= hi,
            "{name}: ROI {} in [{lo:.2}, {hi:.2}], true {true_lo:.2}–{true_hi:.2}",
            row["roi"]
        );
    }
}
