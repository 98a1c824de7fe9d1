//! Ingest, usage errors, reports and SQL from the terminal.

use super::*;

#[test]
fn bad_input_is_reported_with_location_and_exit_code_2() {
    let env = Env::new();
    env.write(
        "src/orders.csv",
        "order_id,customer_id,order_date,total_amount\nO1,C1,2025-01-01,10\nO2,C1,2025-02-30,x\n",
    );
    let err = env.fails(&["ingest", "src"], 2);
    assert!(
        err.contains(
            "error: orders.csv, row 3, column order_date: value '2025-02-30': expected a date"
        ),
        "{err}"
    );
    assert!(
        err.contains(
            "error: orders.csv, row 3, column total_amount: value 'x': expected a decimal amount"
        ),
        "{err}"
    );
    assert!(
        err.trim_end()
            .ends_with("error: 2 error(s) in the input; the workspace was left unchanged"),
        "{err}"
    );
    assert!(!env.ws().join("manifest.json").exists());
}

#[test]
fn usage_errors_exit_2_with_one_sentence() {
    let env = seeded();
    let err = env.fails(&["report", "sales", "--by", "planet"], 2);
    assert!(
        err.contains(
            "unknown dimension 'planet' for the sales report: expected one of product, category"
        ),
        "{err}"
    );
    let err = env.fails(
        &[
            "report",
            "kpis",
            "--from",
            "2025-13-01",
            "--to",
            "2025-12-31",
        ],
        2,
    );
    assert!(err.contains("--from '2025-13-01' is not a date"), "{err}");
    let err = env.fails(&["report", "nonsense"], 2);
    assert!(err.contains("unknown report 'nonsense'"), "{err}");
    let err = env.fails(&["sql", "SELECT * FROM nowhere"], 2);
    assert!(
        err.contains("nowhere") && !err.contains("panicked"),
        "{err}"
    );
    let empty = Env::new();
    let err = empty.fails(&["report", "kpis"], 2);
    assert!(
        err.contains("no workspace at") && err.contains("clientele demo"),
        "{err}"
    );
    let err = env.fails(&["ingest", "missing-folder"], 1);
    assert!(err.contains("missing-folder"), "{err}");
    let m = env.write("bad.toml", "[order]\ncustomer_id = \"CustID\"\n");
    let err = env.fails(&["ingest", "src", "--mapping", m.to_str().unwrap()], 2);
    assert!(err.contains("[order] is not a canonical table"), "{err}");
}

#[test]
fn reports_print_as_csv_and_json() {
    let env = seeded();
    let csv = env.ok(&[
        "report", "sales", "--by", "region", "--period", "2025-Q1", "--format", "csv",
    ]);
    let mut lines = csv.lines();
    assert_eq!(
        lines.next().unwrap(),
        "region,revenue,orders,units,customers,share,previous_revenue,growth"
    );
    // North: O1 100 (O3 cancelled); South: O2 50.5 + O4 30.
    assert!(
        lines.next().unwrap().starts_with("North,100.0,1,,1,"),
        "{csv}"
    );
    assert!(
        lines.next().unwrap().starts_with("South,80.5,2,,2,"),
        "{csv}"
    );

    let json = env.ok(&["report", "kpis", "--period", "2025-Q1", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["report"], "kpis");
    assert_eq!(v["period"]["label"], "2025-Q1");
    let rows = v["rows"].as_array().unwrap();
    let revenue = rows.iter().find(|r| r["kpi"] == "sales_revenue").unwrap();
    assert_eq!(revenue["value"], 180.5);
    let win = rows.iter().find(|r| r["kpi"] == "win_rate").unwrap();
    assert_eq!(win["status"], "unavailable");

    let table = env.ok(&["report", "kpis", "--period", "2025-Q1"]);
    assert!(
        table.contains("Sales revenue") && table.contains("180.50"),
        "{table}"
    );

    let out = env.path("detail.csv");
    env.ok(&[
        "report",
        "detailed",
        "--period",
        "2025-Q1",
        "--format",
        "csv",
        "--out",
        out.to_str().unwrap(),
    ]);
    let text = std::fs::read_to_string(&out).unwrap();
    assert_eq!(text.lines().count(), 5, "{text}");
    assert!(
        text.lines()
            .next()
            .unwrap()
            .starts_with("order_id,order_date,status,customer_id,customer_name")
    );
}

/// Marketing ROI from 1.8 % (campaign revenue 101.8 on spend 100 in 2025-Q1) to −70.5 % (29.5
/// on 100 in Q2) changed by −72.3 percentage points (not −4,016.7 %); revenue by
/// (29.5 − 101.8) / 101.8 = −71.0 %. The table signs the change in its unit, CSV and JSON
/// carry the fraction and `change_unit`, and the columns before it keep their names.
#[test]
fn rate_kpis_change_in_percentage_points_in_every_format() {
    let env = Env::new();
    env.write(
        "src/orders.csv",
        "order_id,customer_id,order_date,total_amount,status,campaign_id\n\
         O1,C1,2025-02-10,101.8,completed,K1\nO2,C1,2025-05-10,29.5,completed,K1\n",
    );
    env.write(
        "src/marketing_spend.csv",
        "date,channel,amount\n2025-02-01,email,100\n2025-05-01,email,100\n",
    );
    env.ok(&["ingest", "src"]);
    let table = env.ok(&["report", "kpis", "--period", "2025-Q2"]);
    let line = |name: &str| {
        table
            .lines()
            .find(|l| l.contains(name))
            .unwrap_or_else(|| panic!("{name}: {table}"))
            .to_string()
    };
    let roi = line("Marketing ROI");
    assert!(
        roi.contains("-70.5%") && roi.contains("1.8%") && roi.contains("-72.3 pp"),
        "{roi}"
    );
    assert!(!roi.contains("4,01"), "{roi}");
    assert!(line("Sales revenue").contains("-71.0%"), "{table}");
    assert!(!table.contains("change_unit"), "{table}");

    let csv = env.ok(&["report", "kpis", "--period", "2025-Q2", "--format", "csv"]);
    assert!(
        csv.starts_with("kpi,name,unit,value,previous,change,change_unit,target,status,"),
        "{csv}"
    );
    let roi = csv
        .lines()
        .find(|l| l.starts_with("marketing_roi,"))
        .unwrap();
    assert!(roi.contains(",pp,"), "{roi}");

    let json = env.ok(&["report", "kpis", "--period", "2025-Q2", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let rows = v["rows"].as_array().unwrap();
    let row = |k: &str| rows.iter().find(|r| r["kpi"] == k).unwrap();
    let roi = row("marketing_roi");
    assert_eq!(roi["change_unit"], "pp");
    assert!(
        (roi["change"].as_f64().unwrap() - -0.723).abs() < 1e-9,
        "{roi}"
    );
    let revenue = row("sales_revenue");
    assert_eq!(revenue["change_unit"], "%");
    assert!(
        (revenue["change"].as_f64().unwrap() - (29.5 - 101.8) / 101.8).abs() < 1e-9,
        "{revenue}"
    );

    let summary = env.ok(&[
        "report", "summary", "--period", "2025-Q2", "--format", "csv",
    ]);
    assert!(
        summary.starts_with("metric,unit,value,previous,change,change_unit,detail"),
        "{summary}"
    );
}

#[test]
fn sql_over_the_workspace() {
    let env = seeded();
    let csv = env.ok(&["sql", "SELECT customer_id, SUM(total_amount) AS spent FROM sales GROUP BY customer_id ORDER BY customer_id", "--format", "csv"]);
    assert_eq!(csv, "customer_id,spent\nC1,100.0\nC2,50.5\nC3,30.0\n");
    let json = env.ok(&[
        "sql",
        "SELECT COUNT(*) AS n FROM orders",
        "--format",
        "json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v[0]["n"], 4);
    let tables = env.ok(&["tables", "--format", "csv"]);
    assert!(
        tables.contains("customers") && tables.contains("orders"),
        "{tables}"
    );
}

/// `COPY orders TO '/tmp/x.csv'` wrote the file and `CREATE EXTERNAL TABLE … LOCATION
/// '/etc/passwd'` read a system file: without `--allow-write` neither runs, nor does any
/// other DDL, DML or SET, and nothing is written.
#[test]
fn sql_cannot_write_or_read_files_without_allow_write() {
    let env = seeded();
    let out = env.path("copied.csv");
    let secret = env.write("secret/passwd.csv", "user,uid\nroot,0\n");
    let copy = format!("COPY orders TO '{}' STORED AS CSV", out.display());
    let external = format!(
        "CREATE EXTERNAL TABLE leak (user VARCHAR, uid INT) STORED AS CSV LOCATION '{}' OPTIONS ('format.has_header' 'true')",
        secret.display()
    );
    for statement in [
        copy.as_str(),
        external.as_str(),
        "CREATE VIEW v AS SELECT 1",
        "INSERT INTO orders SELECT * FROM orders",
        "DROP VIEW sales",
        "SET datafusion.execution.batch_size = 1",
    ] {
        let err = env.fails(&["sql", statement], 2);
        assert!(
            err.contains("only queries that read are allowed") && err.contains("--allow-write"),
            "{statement}: {err}"
        );
    }
    assert!(!out.exists(), "COPY wrote {}", out.display());
    // With the flag the user at the terminal may: the file is written.
    env.ok(&["sql", &copy, "--allow-write"]);
    assert!(out.exists());
    // Reads of every kind still work without it.
    let n = env.ok(&[
        "sql",
        "WITH o AS (SELECT * FROM orders) SELECT COUNT(*) AS n FROM o",
        "--format",
        "csv",
    ]);
    assert_eq!(n, "n\n4\n");
    env.ok(&["sql", "EXPLAIN SELECT * FROM sales"]);
    env.ok(&["sql", "SHOW TABLES"]);
}

fn manifest(ws: &Path) -> String {
    std::fs::read_to_string(ws.join("manifest.json")).unwrap()
}

/// The source is a named pipe: the ingest blocks reading it half-way, is killed there, and
/// the previous workspace must be intact and usable.
#[test]
fn an_interrupted_ingest_leaves_the_old_workspace_intact() {
    let env = seeded();
    let before = manifest(&env.ws());
    let src = env.path("next");
    std::fs::create_dir(&src).unwrap();
    let fifo = src.join("orders.csv");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let mut child = env
        .cmd(&["ingest", "next"])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut pipe = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
    use std::io::Write;
    let mut half = String::from("order_id,customer_id,order_date,total_amount\n");
    for i in 0..200_000 {
        half.push_str(&format!("N{i},C1,2025-01-01,1\n"));
    }
    pipe.write_all(half.as_bytes()).unwrap();
    let staging = || {
        std::fs::read_dir(env.ws().join("tables"))
            .unwrap()
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with(".staging-"))
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !staging() {
        assert!(
            std::time::Instant::now() < deadline,
            "ingest never started staging"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    drop(pipe);
    assert_eq!(manifest(&env.ws()), before);
    assert_eq!(
        env.ok(&["sql", "SELECT COUNT(*) AS n FROM orders", "--format", "csv"]),
        "n\n4\n"
    );
    // The next ingest clears the leftover and succeeds.
    std::fs::remove_file(&fifo).unwrap();
    env.write("next/orders.csv", ORDERS);
    env.ok(&["ingest", "next"]);
    assert!(!staging());
}
