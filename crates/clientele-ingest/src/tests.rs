//! Every validation case fed as a bad file, checking the exact location reported, plus the
//! all-or-nothing behaviour of the workspace.

use std::path::{Path, PathBuf};

use crate::*;

struct Fixture {
    _dir: tempfile::TempDir,
    src: PathBuf,
    ws: PathBuf,
}

fn fixture(files: &[(&str, &str)]) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    std::fs::create_dir(&src).unwrap();
    for (n, t) in files {
        std::fs::write(src.join(n), t).unwrap();
    }
    let ws = dir.path().join("ws");
    Fixture { _dir: dir, src, ws }
}

fn run(f: &Fixture) -> Result<IngestReport, IngestError> {
    ingest(&f.src, &f.ws, &IngestOptions::default(), &mut |_| {})
}

fn rejected(f: &Fixture) -> IngestReport {
    match run(f) {
        Err(IngestError::Rejected(r)) => *r,
        other => panic!("expected rejection, got {other:?}"),
    }
}

fn issue(
    file: &str,
    row: Option<u64>,
    column: Option<&str>,
    value: Option<&str>,
    message: &str,
) -> Issue {
    Issue {
        severity: Severity::Error,
        file: file.into(),
        row,
        column: column.map(String::from),
        value: value.map(String::from),
        message: message.into(),
    }
}

const ORDERS_HEAD: &str = "order_id,customer_id,order_date,total_amount,status\n";

#[test]
fn bad_values_are_all_reported_with_row_column_and_value() {
    let f = fixture(&[(
        "orders.csv",
        &format!(
            "{ORDERS_HEAD}O1,C1,2024-01-01,10.5,completed\nO2,C1,2024-02-30,12,completed\nO3,C2,2024-03-01,abc,completed\nO4,C2,20240302,-5,shipped\nO5,C2,1850-01-01,,\n"
        ),
    )]);
    let r = rejected(&f);
    let want = vec![
        issue(
            "orders.csv",
            Some(3),
            Some("order_date"),
            Some("2024-02-30"),
            "expected a date (YYYY-MM-DD, an ISO 8601 timestamp, or YYYYMMDD)",
        ),
        issue(
            "orders.csv",
            Some(4),
            Some("total_amount"),
            Some("abc"),
            "expected a decimal amount such as 1234.50",
        ),
        issue(
            "orders.csv",
            Some(5),
            Some("status"),
            Some("shipped"),
            "expected one of completed, cancelled, returned",
        ),
        issue(
            "orders.csv",
            Some(5),
            Some("total_amount"),
            Some("-5"),
            "must not be negative",
        ),
        issue(
            "orders.csv",
            Some(6),
            Some("order_date"),
            Some("1850-01-01"),
            "date out of range: expected a date between 1900-01-01 and 2100-12-31",
        ),
        // (An empty customer_id is a guest checkout, not an error.)
        issue(
            "orders.csv",
            Some(6),
            Some("total_amount"),
            None,
            "required value is empty",
        ),
    ];
    let mut got = r.issues.clone();
    got.sort_by_key(|i| (i.row, i.column.clone()));
    assert_eq!(got, want);
    assert_eq!(r.errors, 6);
    assert!(!f.ws.join(MANIFEST).exists(), "nothing written");
}

#[test]
fn missing_required_columns_name_what_was_found() {
    let f = fixture(&[("orders.csv", "order_id,customer_id,total_amount\nO1,C1,3\n")]);
    let r = rejected(&f);
    assert_eq!(r.issues.len(), 1);
    let i = &r.issues[0];
    assert_eq!(
        (i.file.as_str(), i.row, i.column.as_deref()),
        ("orders.csv", None, Some("order_date"))
    );
    assert!(
        i.message.starts_with(
            "required column is missing (found columns: order_id, customer_id, total_amount)"
        ),
        "{}",
        i.message
    );
}

#[test]
fn duplicate_keys_point_at_the_first_occurrence() {
    let f = fixture(&[(
        "customers.csv",
        "customer_id,email\nC1,a@x\nC2,b@x\nC1,c@x\n",
    )]);
    let r = rejected(&f);
    assert_eq!(
        r.issues,
        vec![issue(
            "customers.csv",
            Some(4),
            Some("customer_id"),
            Some("C1"),
            "duplicate key: first seen at row 2"
        )]
    );
}

#[test]
fn references_to_missing_rows_are_errors_or_warnings_as_documented() {
    // Items of an unknown order are errors; orders of an unknown customer only warnings.
    let f = fixture(&[
        ("customers.csv", "customer_id\nC1\n"),
        (
            "orders.csv",
            &format!("{ORDERS_HEAD}O1,C1,2024-01-01,10,\nO2,C9,2024-01-02,5,\n"),
        ),
        (
            "order_items.csv",
            "order_id,product_id,quantity\nO1,P1,1\nO7,P1,2\nO1,P1,0\n",
        ),
    ]);
    let r = rejected(&f);
    let warn = Issue {
        severity: Severity::Warning,
        ..issue(
            "orders.csv",
            Some(3),
            Some("customer_id"),
            Some("C9"),
            "no row of customers has this customer_id",
        )
    };
    assert!(r.issues.contains(&warn), "{:#?}", r.issues);
    assert!(r.issues.contains(&issue(
        "order_items.csv",
        Some(3),
        Some("order_id"),
        Some("O7"),
        "no row of orders has this order_id"
    )));
    assert!(r.issues.contains(&issue(
        "order_items.csv",
        Some(4),
        Some("quantity"),
        Some("0"),
        "must be greater than zero"
    )));
    assert_eq!((r.errors, r.warnings), (2, 1));

    // Without the bad items the warning alone does not stop the ingest.
    std::fs::remove_file(f.src.join("order_items.csv")).unwrap();
    let ok = run(&f).unwrap();
    assert_eq!((ok.errors, ok.warnings), (0, 1));
}

#[test]
fn unknown_files_are_skipped_with_the_known_names() {
    let f = fixture(&[
        ("customers.csv", "customer_id\nC1\n"),
        ("custs.csv", "x\n1\n"),
        ("notes.md", "hi"),
    ]);
    let r = run(&f).unwrap();
    assert_eq!(r.warnings, 2);
    let w = r.issues.iter().find(|i| i.file == "custs.csv").unwrap();
    assert!(
        w.message.contains("'custs' is not a known table")
            && w.message.contains("customers, products"),
        "{}",
        w.message
    );
}

fn stored_rows(ws: &Path) -> Vec<(String, u64)> {
    let m = Manifest::read(ws).unwrap().unwrap();
    m.tables.iter().map(|(n, t)| (n.clone(), t.rows)).collect()
}

#[test]
fn a_rejected_ingest_leaves_the_previous_workspace_untouched() {
    let f = fixture(&[
        ("customers.csv", "customer_id\nC1\nC2\n"),
        (
            "orders.csv",
            &format!("{ORDERS_HEAD}O1,C1,2024-01-01,10,\n"),
        ),
    ]);
    run(&f).unwrap();
    let before = std::fs::read_to_string(f.ws.join(MANIFEST)).unwrap();
    std::fs::write(
        f.src.join("orders.csv"),
        format!("{ORDERS_HEAD}O1,C1,2024-01-01,10,\nO2,C1,not-a-date,3,\n"),
    )
    .unwrap();
    rejected(&f);
    assert_eq!(
        std::fs::read_to_string(f.ws.join(MANIFEST)).unwrap(),
        before
    );
    let m = Manifest::read(&f.ws).unwrap().unwrap();
    for path in m.table_files(&f.ws, "orders") {
        assert!(path.exists(), "{}", path.display());
    }
    let leftovers: Vec<_> = std::fs::read_dir(f.ws.join("tables"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(
        leftovers.len(),
        1,
        "only the live generation remains: {leftovers:?}"
    );
}

#[test]
fn reingest_replaces_given_tables_and_keeps_the_others() {
    let f = fixture(&[
        ("customers.csv", "customer_id\nC1\nC2\n"),
        (
            "orders.csv",
            &format!("{ORDERS_HEAD}O1,C1,2024-01-01,10,\n"),
        ),
    ]);
    run(&f).unwrap();
    std::fs::remove_file(f.src.join("customers.csv")).unwrap();
    std::fs::write(
        f.src.join("orders.csv"),
        format!("{ORDERS_HEAD}O1,C1,2024-01-01,10,\nO2,C2,2024-01-01,10,\n"),
    )
    .unwrap();
    run(&f).unwrap();
    assert_eq!(
        stored_rows(&f.ws),
        vec![("customers".into(), 2), ("orders".into(), 2)]
    );
    assert_eq!(Manifest::read(&f.ws).unwrap().unwrap().generation, 2);
}

#[test]
fn append_adds_rows_and_rejects_keys_already_stored() {
    let f = fixture(&[(
        "orders.csv",
        &format!("{ORDERS_HEAD}O1,C1,2024-01-01,10,\n"),
    )]);
    run(&f).unwrap();
    let append = IngestOptions {
        append: true,
        ..IngestOptions::default()
    };
    std::fs::write(
        f.src.join("orders.csv"),
        format!("{ORDERS_HEAD}O2,C1,2024-01-02,10,\n"),
    )
    .unwrap();
    let r = ingest(&f.src, &f.ws, &append, &mut |_| {}).unwrap();
    assert_eq!((r.tables[0].rows, r.tables[0].total_rows), (1, 2));
    assert_eq!(stored_rows(&f.ws), vec![("orders".into(), 2)]);
    std::fs::write(
        f.src.join("orders.csv"),
        format!("{ORDERS_HEAD}O3,C1,2024-01-02,10,\nO1,C1,2024-01-02,10,\n"),
    )
    .unwrap();
    match ingest(&f.src, &f.ws, &append, &mut |_| {}) {
        Err(IngestError::Rejected(r)) => assert_eq!(
            r.issues,
            vec![issue(
                "orders.csv",
                Some(3),
                Some("order_id"),
                Some("O1"),
                "duplicate key: already in the workspace"
            )]
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(stored_rows(&f.ws), vec![("orders".into(), 2)]);
}

#[test]
fn mapping_delimiters_and_headerless_files() {
    let f = fixture(&[
        (
            "Transactions.csv",
            "Ref;CustID;Date;Total;Note\nO1;C1;2024-01-01;10;gift\n",
        ),
        ("customers.csv", "C1,a@x.com\nC2,b@x.com\n"),
    ]);
    let mapping = Mapping::parse(
        "[orders]\nsource = \"Transactions\"\norder_id = \"Ref\"\ncustomer_id = \"CustID\"\norder_date = \"Date\"\ntotal_amount = \"Total\"\n",
    )
    .unwrap();
    let opts = IngestOptions {
        mapping,
        ..IngestOptions::default()
    };
    let r = ingest(&f.src, &f.ws, &opts, &mut |_| {}).unwrap();
    assert_eq!(r.errors, 0, "{:?}", r.issues);
    let m = Manifest::read(&f.ws).unwrap().unwrap();
    assert_eq!(m.tables["orders"].extra_columns, vec!["note"]);
    assert_eq!(m.tables["customers"].columns, vec!["customer_id", "email"]);
    assert_eq!(m.tables["customers"].rows, 2);
}

#[test]
fn json_and_parquet_sources() {
    let f = fixture(&[(
        "orders.json",
        r#"[{"order_id": "O1", "customer_id": "C1", "order_date": "2024-01-01", "total_amount": 10},
            {"order_id": "O2", "customer_id": "C1", "order_date": "20240102", "total_amount": "x"}]"#,
    )]);
    let r = rejected(&f);
    assert_eq!(
        r.issues,
        vec![issue(
            "orders.json",
            Some(2),
            Some("total_amount"),
            Some("x"),
            "expected a decimal amount such as 1234.50"
        )]
    );

    // The workspace's own Parquet output is a valid source.
    let g = fixture(&[("customers.csv", "customer_id,signup_date\nC1,2024-01-01\n")]);
    run(&g).unwrap();
    let m = Manifest::read(&g.ws).unwrap().unwrap();
    let parquet = m.table_files(&g.ws, "customers").remove(0);
    let h = fixture(&[]);
    std::fs::copy(&parquet, h.src.join("customers.parquet")).unwrap();
    let r = run(&h).unwrap();
    assert_eq!((r.tables[0].rows, r.errors), (1, 0));
}

/// A 5-million-digit `total_amount` was stored as infinity and `report kpis` printed revenue
/// `inf`: a number too large for a float is an error naming row and column, quoted short.
#[test]
fn an_amount_that_overflows_is_an_error_not_infinity() {
    let huge = format!("9{}", "0".repeat(5_000_000));
    let f = fixture(&[(
        "orders.csv",
        &format!(
            "{ORDERS_HEAD}O1,C1,2024-01-01,10,completed\nO2,C1,2024-01-02,{huge},completed\nO3,C1,2024-01-03,-{huge}.5,completed\nO4,C1,2024-01-04,1e400,completed\n"
        ),
    )]);
    let r = rejected(&f);
    let quoted = format!("9{}… (5000001 characters)", "0".repeat(39));
    assert_eq!(
        r.issues,
        vec![
            issue(
                "orders.csv",
                Some(3),
                Some("total_amount"),
                Some(&quoted),
                "number too large to store (beyond ±1.8e308): expected a decimal amount such as 1234.50",
            ),
            issue(
                "orders.csv",
                Some(4),
                Some("total_amount"),
                Some(&format!("-9{}… (5000004 characters)", "0".repeat(38))),
                "number too large to store (beyond ±1.8e308): expected a decimal amount such as 1234.50",
            ),
            issue(
                "orders.csv",
                Some(5),
                Some("total_amount"),
                Some("1e400"),
                "number too large to store (beyond ±1.8e308): expected a decimal amount such as 1234.50",
            ),
        ]
    );
    assert!(
        Manifest::read(&f.ws).unwrap().is_none(),
        "nothing is stored"
    );
    // The same on the first data line, longer than the bytes read to detect the header:
    // the error is the value's, not a "short row" of the cut-off sniffed line.
    let g = fixture(&[(
        "orders.csv",
        &format!("{ORDERS_HEAD}O1,C1,2024-01-01,{huge},completed\n"),
    )]);
    let r = rejected(&g);
    assert_eq!(
        (
            r.issues.len(),
            r.issues[0].row,
            r.issues[0].column.as_deref()
        ),
        (1, Some(2), Some("total_amount"))
    );
}

/// Money values beyond the sanity ceiling are stored, with one warning each naming the row.
#[test]
fn money_beyond_the_ceiling_is_kept_with_a_warning() {
    let f = fixture(&[(
        "orders.csv",
        &format!(
            "{ORDERS_HEAD}O1,C1,2024-01-01,10,completed\nO2,C1,2024-01-02,2000000000,completed\n"
        ),
    )]);
    let r = run(&f).unwrap();
    assert_eq!((r.tables[0].rows, r.errors, r.warnings), (2, 0, 1));
    let w = &r.issues[0];
    assert_eq!(
        (w.severity, w.row, w.column.as_deref(), w.value.as_deref()),
        (
            Severity::Warning,
            Some(3),
            Some("total_amount"),
            Some("2000000000")
        )
    );
    assert!(w.message.contains("ceiling of 1000000000"), "{}", w.message);
    // A lower ceiling, as `ingest --money-ceiling 5` sets it, flags both.
    let g = fixture(&[(
        "orders.csv",
        &format!("{ORDERS_HEAD}O1,C1,2024-01-01,10,completed\nO2,C1,2024-01-02,4,completed\n"),
    )]);
    let options = IngestOptions {
        money_ceiling: 5.0,
        ..IngestOptions::default()
    };
    let r = ingest(&g.src, &g.ws, &options, &mut |_| {}).unwrap();
    assert_eq!(r.warnings, 1);
}

/// Found by the property test: a lone `"` opening a field that nothing closes made the CSV
/// reader take every later line into that field, and the rows after it were lost without a
/// word. It is an error now; a closed multi-line field and a quote inside a value are not.
#[test]
fn an_unclosed_quote_is_an_error_not_lost_rows() {
    let f = fixture(&[(
        "orders.csv",
        &format!("{ORDERS_HEAD}O1,C1,2024-01-01,10,\"\nO2,C1,2024-01-02,5,\nO3,C1,2024-01-03,5,\n"),
    )]);
    let r = rejected(&f);
    assert!(
        r.issues
            .iter()
            .any(|i| i.message.contains("a quoted field is never closed")),
        "{:?}",
        r.issues
    );
    let g = fixture(&[(
        "orders.csv",
        "order_id,customer_id,order_date,total_amount,note\nO1,C1,2024-01-01,10,\"two\nlines\"\nO2,C1,2024-01-02,5,24\" screen\n",
    )]);
    let r = run(&g).unwrap();
    assert_eq!((r.tables[0].rows, r.errors), (2, 0));
    let h = fixture(&[(
        "orders.csv",
        "order_id,customer_id,order_date,total_amount,note\nO1,C1,2024-01-01,10,\"last\nfield\"\n",
    )]);
    assert_eq!(run(&h).unwrap().tables[0].rows, 1);
}

#[test]
fn many_identical_problems_are_counted_not_listed() {
    let mut text = ORDERS_HEAD.to_string();
    for i in 0..100 {
        text.push_str(&format!("O{i},C1,bad,1,\n"));
    }
    let f = fixture(&[("orders.csv", &text)]);
    let r = rejected(&f);
    assert_eq!(r.errors, 100);
    assert_eq!(r.issues.len(), KEEP_PER_KIND);
    assert_eq!(r.omitted.len(), 1);
    assert!(r.omitted[0].contains("80 more rows"), "{}", r.omitted[0]);
}

#[test]
fn malformed_csv_is_reported_not_panicked() {
    let f = fixture(&[(
        "orders.csv",
        &format!("{ORDERS_HEAD}O1,C1,2024-01-01,10,\nO2,C1,2024-01-01\n"),
    )]);
    let r = rejected(&f);
    assert_eq!(r.issues.len(), 1);
    assert!(
        r.issues[0].message.contains("unreadable"),
        "{}",
        r.issues[0]
    );
}

#[test]
fn a_second_ingest_waits_for_none_and_a_stale_lock_is_taken_over() {
    let f = fixture(&[("customers.csv", "customer_id\nC1\n")]);
    std::fs::create_dir_all(&f.ws).unwrap();
    let lock = f.ws.join(workspace::LOCK);
    // A live holder (this very process) keeps others out.
    std::fs::write(&lock, std::process::id().to_string()).unwrap();
    match run(&f) {
        Err(IngestError::Workspace { message, .. }) => {
            assert!(message.contains("another ingest"), "{message}")
        }
        other => panic!("{other:?}"),
    }
    assert!(!f.ws.join(MANIFEST).exists());
    // A lock whose process is gone (killed mid-ingest) is taken over and released.
    std::fs::write(&lock, "4194304999").unwrap();
    run(&f).unwrap();
    assert!(!lock.exists());
}
