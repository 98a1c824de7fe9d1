//! Property-based tests of ingest coercion: random bytes and random CSV never panic, never
//! store a non-finite amount, and either store every row or leave the workspace as it was.
//!
//! CI runs each property for a bounded number of cases (the defaults below); a longer run is
//! `PROPTEST_CASES=20000 cargo test -p clientele-ingest --release --test fuzz`, recorded in
//! docs/benchmarks.md.

use std::path::Path;

use arrow::array::Float64Array;
use clientele_ingest::{IngestError, IngestOptions, Manifest, ingest};
use clientele_schema::{ColumnType, Value, parse_value};
use proptest::prelude::*;

/// Cases per property unless `PROPTEST_CASES` says otherwise.
fn cases(default: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Ingests `files` into a fresh workspace that already holds one valid orders row, and checks
/// what must hold whatever the input: no panic (the test would fail), a clean answer, and on
/// rejection the previous workspace intact; on success every money value stored is finite.
fn ingest_checked(files: &[(&str, &[u8])]) -> Result<u64, String> {
    let dir = tempfile::tempdir().unwrap();
    ingest_checked_in(dir.path(), files).map(|(rows, _)| rows)
}

/// [`ingest_checked`] in a folder of the caller's; gives the rows stored and the workspace.
fn ingest_checked_in(
    dir: &Path,
    files: &[(&str, &[u8])],
) -> Result<(u64, std::path::PathBuf), String> {
    let (first, src, ws) = (dir.join("first"), dir.join("src"), dir.join("ws"));
    std::fs::create_dir(&first).unwrap();
    std::fs::write(
        first.join("orders.csv"),
        "order_id,customer_id,order_date,total_amount\nO0,C0,2024-01-01,1\n",
    )
    .unwrap();
    ingest(&first, &ws, &IngestOptions::default(), &mut |_| {}).unwrap();
    let before = std::fs::read(ws.join("manifest.json")).unwrap();
    std::fs::create_dir(&src).unwrap();
    for (name, bytes) in files {
        std::fs::write(src.join(name), bytes).unwrap();
    }
    match ingest(&src, &ws, &IngestOptions::default(), &mut |_| {}) {
        Ok(report) => {
            stored_amounts_are_finite(&ws);
            Ok((report.tables.iter().map(|t| t.rows).sum(), ws))
        }
        Err(e @ (IngestError::Io { .. } | IngestError::Write { .. })) => {
            panic!("a system error on user input: {e}")
        }
        Err(e) => {
            assert!(e.is_bad_input(), "{e}");
            let after = std::fs::read(ws.join("manifest.json")).unwrap();
            assert_eq!(before, after, "a rejected ingest changed the workspace");
            Err(e.to_string())
        }
    }
}

/// The stored orders' amounts, nulls as `None`.
fn stored_amounts(ws: &Path) -> Vec<Option<f64>> {
    let manifest = Manifest::read(ws).unwrap().unwrap();
    let mut out = Vec::new();
    for file in manifest.table_files(ws, "orders") {
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
            std::fs::File::open(&file).unwrap(),
        )
        .unwrap()
        .build()
        .unwrap();
        for batch in reader {
            let batch = batch.unwrap();
            let amounts = batch.column_by_name("total_amount").unwrap();
            let amounts = amounts.as_any().downcast_ref::<Float64Array>().unwrap();
            out.extend(amounts.iter());
        }
    }
    out
}

fn stored_amounts_are_finite(ws: &Path) {
    for x in stored_amounts(ws).into_iter().flatten() {
        assert!(x.is_finite(), "stored {x}");
    }
}

/// A cell: mostly plausible values of every kind, with the troublemakers in between.
fn cell() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "[0-9]{1,6}(\\.[0-9]{1,2})?",
        1 => "-?[0-9]{300,400}(\\.[0-9]{0,3})?",
        1 => "20[0-9]{2}-[01][0-9]-[0-3][0-9]",
        1 => Just(String::new()),
        1 => prop::sample::select(vec!["inf", "NaN", "-inf", "1e400", "1e-400", "0x10", "1,5", "١٢٣", "completed", "returned", "\"a,b\"", "\"", "\u{feff}", " 12 "]).prop_map(String::from),
        2 => "\\PC{0,12}",
    ]
}

/// A cell for a column: mostly what the column holds, one time in 150 anything.
fn cell_for(column: &'static str) -> BoxedStrategy<String> {
    let typical: BoxedStrategy<String> = match column {
        "order_id" => "O[0-9]{1,5}".boxed(),
        "customer_id" => "C[0-9]{1,3}".boxed(),
        "order_date" => "20[0-2][0-9]-0[1-9]-[01][1-9]".boxed(),
        "total_amount" => "[0-9]{1,7}(\\.[0-9]{1,2})?".boxed(),
        "status" => prop::sample::select(vec!["completed", "cancelled", "returned", ""])
            .prop_map(String::from)
            .boxed(),
        _ => "[a-z ]{0,12}".boxed(),
    };
    prop_oneof![149 => typical, 1 => cell()].boxed()
}

/// A CSV file of orders: the header (columns shuffled, one time in ten a required one may be
/// missing), then rows of cells, one in 200 a cell short or long.
fn orders_csv() -> impl Strategy<Value = (Vec<&'static str>, Vec<Vec<String>>, &'static str)> {
    let required = vec!["order_id", "customer_id", "order_date", "total_amount"];
    let header = (
        prop::sample::subsequence(required.clone(), 3..=4),
        prop_oneof![9 => Just(true), 1 => Just(false)],
        prop::sample::subsequence(vec!["status", "channel", "note"], 0..=3),
    )
        .prop_map(move |(some, all, optional)| {
            let mut h = if all { required.clone() } else { some };
            h.extend(optional);
            h
        })
        .prop_shuffle();
    (header, prop::sample::select(vec![",", ";", "\t", "|"])).prop_flat_map(
        |(header, delimiter)| {
            let row = header.iter().map(|c| cell_for(c)).collect::<Vec<_>>();
            let odd = prop_oneof![398 => Just(0i8), 1 => Just(-1i8), 1 => Just(1i8)];
            let rows = prop::collection::vec((row, odd), 0..40).prop_map(|rows| {
                rows.into_iter()
                    .map(|(mut cells, odd)| {
                        match odd {
                            -1 => {
                                cells.pop();
                            }
                            1 => cells.push("x".into()),
                            _ => {}
                        }
                        cells
                    })
                    .collect::<Vec<_>>()
            });
            (Just(header), rows, Just(delimiter))
        },
    )
}

/// The text of a file. Two lone `"` cells would make a valid quoted field of everything
/// between them (rows included), which no count of lines predicts; so only the first is kept,
/// and a file holding one must be rejected (see `random_csv_is_stored_in_full_or_rejected_cleanly`).
fn csv_text(header: &[&str], rows: &[Vec<String>], delimiter: &str) -> Vec<u8> {
    let mut quoted = false;
    let mut text = header.join(delimiter);
    text.push('\n');
    for row in rows {
        let cells: Vec<String> = row
            .iter()
            .map(|c| {
                if c == "\"a,b\"" || !c.contains('"') {
                    c.clone()
                } else if c.starts_with('"') && !quoted {
                    quoted = true;
                    c.clone()
                } else {
                    c.replace('"', "'")
                }
            })
            .collect();
        text.push_str(&cells.join(delimiter));
        text.push('\n');
    }
    text.into_bytes()
}

/// The sum of the stored orders' amounts.
fn stored_total(ws: &Path) -> f64 {
    stored_amounts(ws).into_iter().flatten().sum()
}

proptest! {
    #![proptest_config(cases(2000))]

    /// Text of any kind parses to a value of the asked type or to nothing, never to a
    /// non-finite number.
    #[test]
    fn any_text_parses_to_a_finite_value_or_nothing(text in prop_oneof![cell(), "\\PC*", "[-+.0-9eE]{1,500}"]) {
        for ty in [ColumnType::Money, ColumnType::Float, ColumnType::Integer, ColumnType::Date, ColumnType::Timestamp, ColumnType::Bool] {
            match parse_value(ty, &text) {
                Some(Value::Float(x)) => prop_assert!(x.is_finite(), "{ty:?} {text:?} gave {x}"),
                Some(Value::Date(d)) => prop_assert!((clientele_schema::date_to_days(clientele_schema::MIN_DATE)..=clientele_schema::date_to_days(clientele_schema::MAX_DATE)).contains(&d)),
                _ => {}
            }
        }
    }
}

proptest! {
    #![proptest_config(cases(150))]

    /// Random bytes as a CSV, a JSON and a Parquet file: a clean answer, never a panic.
    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..2048), kind in 0..3usize) {
        let name = ["orders.csv", "orders.json", "orders.parquet"][kind];
        let _ = ingest_checked(&[(name, &bytes)]);
    }

    /// Random CSV of orders: stored in full (every row, and the amounts summing to what the
    /// file says) or rejected with the workspace intact; a stored amount is always finite.
    #[test]
    fn random_csv_is_stored_in_full_or_rejected_cleanly((header, rows, delimiter) in orders_csv()) {
        let csv = csv_text(&header, &rows, delimiter);
        let dir = tempfile::tempdir().unwrap();
        if let Ok((stored, ws)) = ingest_checked_in(dir.path(), &[("orders.csv", &csv)]) {
            prop_assert_eq!(stored, rows.len() as u64);
            let at = header.iter().position(|c| *c == "total_amount").unwrap();
            let want: f64 = rows.iter().map(|r| clientele_schema::parse_money(&r[at]).unwrap()).sum();
            let got = stored_total(&ws);
            prop_assert!((got - want).abs() <= 1e-9 * want.abs().max(1.0), "stored {got}, file {want}");
        }
    }
}

/// How many random CSV files a run accepts: the property above says little if almost every
/// file is rejected, so at least a fifth must be stored.
#[test]
fn random_csv_is_often_valid() {
    use proptest::strategy::ValueTree;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let mut stored = 0;
    for _ in 0..60 {
        let (header, rows, delimiter) = orders_csv().new_tree(&mut runner).unwrap().current();
        let dir = tempfile::tempdir().unwrap();
        let csv = csv_text(&header, &rows, delimiter);
        if matches!(ingest_checked_in(dir.path(), &[("orders.csv", &csv)]), Ok((n, _)) if n > 0) {
            stored += 1;
        }
    }
    eprintln!("{stored} of 60 random files were stored");
    assert!(stored >= 12, "only {stored} of 60 random files were stored");
}
