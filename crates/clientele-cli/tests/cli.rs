//! End-to-end tests of the `clientele` binary: one test binary (each extra one re-links the
//! whole stack), each test in its own temporary folder.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    fn new() -> Env {
        Env {
            dir: tempfile::tempdir().unwrap(),
        }
    }
    fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }
    fn ws(&self) -> PathBuf {
        self.path("ws")
    }
    fn write(&self, rel: &str, text: &str) -> PathBuf {
        let p = self.path(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
        p
    }
    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_clientele"));
        c.arg("--workspace")
            .arg(self.ws())
            .args(args)
            .current_dir(self.dir.path());
        c
    }
    fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }
    fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert!(
            o.status.success(),
            "{args:?} failed: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stdout).unwrap()
    }
    fn fails(&self, args: &[&str], code: i32) -> String {
        let o = self.run(args);
        assert_eq!(
            o.status.code(),
            Some(code),
            "{args:?}: stdout {} stderr {}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stderr).unwrap()
    }
}

const ORDERS: &str = "order_id,customer_id,order_date,total_amount,status,region\n\
O1,C1,2025-01-10,100,completed,North\n\
O2,C2,2025-02-11,50.5,completed,South\n\
O3,C1,2025-03-12,20,cancelled,North\n\
O4,C3,2025-03-20,30,,South\n";

fn seeded() -> Env {
    let env = Env::new();
    env.write("src/orders.csv", ORDERS);
    env.write(
        "src/customers.csv",
        "customer_id,first_name,region\nC1,Ann,North\nC2,Bob,South\nC3,Cy,South\n",
    );
    env.ok(&["ingest", "src"]);
    env
}

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

#[test]
fn demo_builds_a_workspace_and_prints_the_dashboard() {
    let env = Env::new();
    let out = env.ok(&["demo", "--customers", "300", "--seed", "7"]);
    assert!(out.contains("Key performance indicators"), "{out}");
    assert!(out.contains("Sales by month"), "{out}");
    assert!(env.ws().join("demo/truth/ground_truth.json").exists());
    let tables = env.ok(&["tables", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&tables).unwrap();
    assert_eq!(
        v.as_array().unwrap().len(),
        16,
        "every canonical table: {tables}"
    );
    let pipe = env.ok(&["report", "pipeline", "--by", "rep", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&pipe).unwrap();
    assert!(!v["rows"].as_array().unwrap().is_empty());
    for r in ["summary", "exceptions", "detailed"] {
        env.ok(&["report", r]);
    }
}

/// The CDNOW sample's raw transactions (customer, YYYYMMDD, CDs, dollars) as an `orders` file.
fn cdnow_orders(env: &Env) {
    let raw = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../clientele-models/tests/data/CDNOW_sample.txt"),
    )
    .unwrap();
    let mut csv = String::from("order_id,customer_id,order_date,total_amount\n");
    for (i, line) in raw.lines().enumerate() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() == 5 {
            csv.push_str(&format!("O{i},{},{},{}\n", f[1], f[2], f[4]));
        }
    }
    env.write("cdnow/orders.csv", &csv);
    env.ok(&["ingest", "cdnow"]);
}

fn within(got: f64, want: f64, pct: f64, what: &str) {
    assert!(
        ((got - want) / want).abs() <= pct / 100.0,
        "{what}: got {got}, published {want} (tolerance {pct} %)"
    );
}

#[test]
fn clv_reproduces_the_published_cdnow_estimates_from_raw_transactions() {
    let env = Env::new();
    cdnow_orders(&env);
    let run = |model: &str| -> serde_json::Value {
        let out = env.ok(&[
            "clv",
            "--model",
            model,
            "--calibration-end",
            "1997-09-30",
            "--format",
            "json",
            "--no-save",
        ]);
        serde_json::from_str(&out).unwrap()
    };
    let bg = run("bgnbd");
    assert_eq!(bg["model"], "bgnbd");
    assert_eq!(bg["n_customers"], 2357);
    // Fader, Hardie & Lee (2005): r 0.243, α 4.414, a 0.793, b 2.426, LL −9582.4.
    for (k, want) in [("r", 0.243), ("alpha", 4.414), ("a", 0.793), ("b", 2.426)] {
        within(bg["params"][k].as_f64().unwrap(), want, 1.0, k);
    }
    let ll = bg["log_likelihood"].as_f64().unwrap();
    assert!((ll - -9582.4).abs() < 1.0, "LL {ll}");
    // Gamma-Gamma on the 946 repeat buyers: p 6.25, q 3.74, γ 15.44.
    assert_eq!(bg["spend"]["n_customers"], 946);
    for (k, want) in [("p", 6.25), ("q", 3.74), ("gamma", 15.44)] {
        within(bg["spend"][k].as_f64().unwrap(), want, 1.0, k);
    }
    // The holdout (1997-10-01 .. 1998-06-30, 39 weeks): the published model predicts the
    // total repeat purchases within a few percent.
    let h = &bg["holdout"];
    assert_eq!(h["start"], "1997-10-01");
    let err = h["error_pct"].as_f64().unwrap();
    assert!(err.abs() < 10.0, "holdout error {err} %");

    let pnbd = run("pnbd");
    // Pareto/NBD: r 0.553, α 10.578, s 0.606, β 11.669.
    for (k, want) in [
        ("r", 0.553),
        ("alpha", 10.578),
        ("s", 0.606),
        ("beta", 11.669),
    ] {
        within(pnbd["params"][k].as_f64().unwrap(), want, 1.0, k);
    }

    // Stored results are queryable through the customer_scores view.
    env.ok(&["clv", "--calibration-end", "1997-09-30"]);
    let out = env.ok(&[
        "sql",
        "SELECT COUNT(*) AS n, COUNT(clv) AS with_clv FROM customer_scores",
        "--format",
        "csv",
    ]);
    assert_eq!(out.lines().nth(1), Some("2357,2357"), "{out}");
    let runs = env.ok(&[
        "sql",
        "SELECT analysis, parameters FROM analysis_runs",
        "--format",
        "csv",
    ]);
    assert!(
        runs.contains("clv") && runs.contains("calibration_end=1997-09-30"),
        "{runs}"
    );
}
