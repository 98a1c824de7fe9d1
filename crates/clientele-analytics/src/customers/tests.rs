//! The customer list and 360 on a five-customer fixture, every expectation worked out by hand
//! from the files below (the arithmetic beside it).

use std::path::Path;
use std::sync::Arc;

use arrow::array::{Float64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use serde_json::json;

use super::*;

/// Sales (cancelled O5 excluded): C1 O1 100 + O2 50 = 150, last 2025-03-05; C2 O3 150;
/// C3 O4 80; C'5 O6 30; C4 none.
const FILES: &[(&str, &str)] = &[
    (
        "customers.csv",
        "customer_id,first_name,last_name,email,region,signup_date,consent_email\n\
         C1,Ann,Lee,ann@example.com,North,2024-01-05,true\n\
         C2,Bob,O'Neil,bob_o@example.com,South,2024-02-10,false\n\
         C3,Cy,,cy%x@example.com,North,2024-03-15,\n\
         C4,Di,Ray,di@example.com,South,2024-04-20,true\n\
         C'5,Ed,Fox,ed@example.com,O'Hara,2024-05-25,\n",
    ),
    (
        "products.csv",
        "product_id,name,category,unit_price\nP1,Widget,A,20\nP2,Gadget,B,40\n",
    ),
    (
        "orders.csv",
        "order_id,customer_id,order_date,total_amount,status\n\
         O1,C1,2025-01-10,100,completed\n\
         O2,C1,2025-03-05,50,completed\n\
         O3,C2,2025-02-01,150,completed\n\
         O4,C3,2025-04-01,80,completed\n\
         O5,C3,2025-05-01,70,cancelled\n\
         O6,C'5,2025-02-20,30,completed\n",
    ),
    (
        "order_items.csv",
        "order_id,product_id,quantity,unit_price,discount\n\
         O1,P2,1,40,\nO1,P1,2,20,\nO2,P1,1,20,0.1\nO4,P2,2,40,\n",
    ),
    (
        "tickets.csv",
        "ticket_id,customer_id,opened_at\nT1,C1,2025-01-11\nT2,C1,2025-03-06\nT3,C2,2025-02-02\n",
    ),
];

/// A workspace from [`FILES`]; with `scores`, also `scores_churn` (C1 0.1, C2 0.5, C3 0.9,
/// C'5 0.3) and `scores_clv` (C1 200, C2 100, C3 50, C4 10) stored as analyses would.
fn workspace(files: &[(&str, &str)], scores: bool) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    std::fs::create_dir(&src).unwrap();
    for (name, text) in files {
        std::fs::write(src.join(name), text).unwrap();
    }
    let ws = dir.path().join("ws");
    clientele_ingest::ingest(&src, &ws, &Default::default(), &mut |_| {})
        .unwrap_or_else(|e| panic!("fixture ingests: {e:#?}"));
    if scores {
        let churn = RecordBatch::try_new(
            Arc::new(Schema::new(vec![
                Field::new("customer_id", DataType::Utf8, false),
                Field::new("churn_probability", DataType::Float64, true),
                Field::new("churn_reasons", DataType::Utf8, true),
            ])),
            vec![
                Arc::new(StringArray::from(vec!["C1", "C2", "C3", "C'5"])),
                Arc::new(Float64Array::from(vec![0.1, 0.5, 0.9, 0.3])),
                Arc::new(StringArray::from(vec![
                    "recent", "slowing", "lapsed", "new",
                ])),
            ],
        )
        .unwrap();
        let clv = RecordBatch::try_new(
            Arc::new(Schema::new(vec![
                Field::new("customer_id", DataType::Utf8, false),
                Field::new("clv", DataType::Float64, true),
            ])),
            vec![
                Arc::new(StringArray::from(vec!["C1", "C2", "C3", "C4"])),
                Arc::new(Float64Array::from(vec![200.0, 100.0, 50.0, 10.0])),
            ],
        )
        .unwrap();
        for (analysis, batch) in [("churn", churn), ("clv", clv)] {
            let run = clientele_ingest::AnalysisRun {
                analysis: analysis.into(),
                table: format!("scores_{analysis}"),
                ran_at: String::new(),
                parameters: Default::default(),
                rows: 0,
            };
            clientele_ingest::save_analysis(&ws, std::slice::from_ref(&batch), batch.schema(), run)
                .unwrap();
        }
    }
    dir
}

async fn open(dir: &Path) -> Engine {
    Engine::open(&dir.join("ws")).await.unwrap()
}

fn texts(batches: &[RecordBatch], column: &str) -> Vec<Option<String>> {
    batches
        .iter()
        .flat_map(|b| {
            let a = b.column(b.schema().index_of(column).unwrap());
            let a = arrow::compute::cast(a, &DataType::Utf8).unwrap();
            let a = a.as_any().downcast_ref::<StringArray>().unwrap().clone();
            a.iter().map(|v| v.map(String::from)).collect::<Vec<_>>()
        })
        .collect()
}

fn nums(batches: &[RecordBatch], column: &str) -> Vec<Option<f64>> {
    batches
        .iter()
        .flat_map(|b| {
            let a = b.column(b.schema().index_of(column).unwrap());
            let a = arrow::compute::cast(a, &DataType::Float64).unwrap();
            let a = a.as_any().downcast_ref::<Float64Array>().unwrap().clone();
            a.iter().collect::<Vec<_>>()
        })
        .collect()
}

fn ids(list: &CustomerList) -> Vec<String> {
    texts(&list.batches, "customer_id")
        .into_iter()
        .map(Option::unwrap)
        .collect()
}

async fn list(engine: &Engine, query: CustomerQuery) -> CustomerList {
    customer_list(engine, &query).await.unwrap()
}

fn filter(k: &str, v: &str) -> CustomerQuery {
    CustomerQuery {
        filters: vec![(k.into(), v.into())],
        ..Default::default()
    }
}

fn search(q: &str, personal: bool) -> CustomerQuery {
    CustomerQuery {
        search: Some(q.into()),
        search_personal: personal,
        ..Default::default()
    }
}

#[tokio::test]
async fn the_list_has_todays_columns_in_order_and_hand_computed_values() {
    let dir = workspace(FILES, true);
    let engine = open(dir.path()).await;
    let l = list(&engine, CustomerQuery::default()).await;
    // customers provided first/last name, email, region, signup_date (not phone, country,
    // segment, acquisition_channel); churn_reasons is left out.
    let want = [
        "customer_id",
        "customer_name",
        "email",
        "region",
        "signup_date",
        "orders",
        "revenue",
        "last_order_date",
        "churn_probability",
        "clv",
        "value_at_risk",
    ];
    assert_eq!(l.columns, want);
    let schema = l.batches[0].schema();
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    assert_eq!(names, want);
    assert_eq!(customer_columns(&engine).await.unwrap(), want);
    // By revenue, descending: C1 150 and C2 150 tied (customer_id breaks it), C3 80, C'5 30,
    // C4 without sales last.
    assert_eq!(ids(&l), ["C1", "C2", "C3", "C'5", "C4"]);
    assert_eq!(l.total, 5);
    assert!(l.notes.is_empty());
    let name = texts(&l.batches, "customer_name");
    // concat_ws skips the missing last name of C3.
    assert_eq!(name[0].as_deref(), Some("Ann Lee"));
    assert_eq!(name[2].as_deref(), Some("Cy"));
    assert_eq!(
        nums(&l.batches, "revenue"),
        [Some(150.0), Some(150.0), Some(80.0), Some(30.0), None]
    );
    assert_eq!(
        nums(&l.batches, "orders"),
        [Some(2.0), Some(1.0), Some(1.0), Some(1.0), None]
    );
    assert_eq!(
        texts(&l.batches, "last_order_date")[0].as_deref(),
        Some("2025-03-05")
    );
    // value at risk: C1 0.1 × 200, C2 0.5 × 100, C3 0.9 × 50; C'5 has no CLV, C4 no churn.
    let var = nums(&l.batches, "value_at_risk");
    for (got, want) in var
        .iter()
        .zip([Some(20.0), Some(50.0), Some(45.0), None, None])
    {
        match (got, want) {
            (Some(g), Some(w)) => assert!((g - w).abs() < 1e-9, "{g} vs {w}"),
            _ => assert_eq!(*got, want),
        }
    }
}

#[tokio::test]
async fn without_scores_or_orders_the_list_is_shorter() {
    let dir = workspace(&FILES[..1], false);
    let engine = open(dir.path()).await;
    let l = list(&engine, CustomerQuery::default()).await;
    assert_eq!(
        l.columns,
        [
            "customer_id",
            "customer_name",
            "email",
            "region",
            "signup_date"
        ]
    );
    // No revenue: sorted by customer_id ("'" sorts before "1").
    assert_eq!(ids(&l), ["C'5", "C1", "C2", "C3", "C4"]);
}

#[tokio::test]
async fn filters_compare_as_text_and_quotes_are_harmless() {
    let dir = workspace(FILES, true);
    let engine = open(dir.path()).await;
    let l = list(&engine, filter("region", "North")).await;
    assert_eq!(ids(&l), ["C1", "C3"]);
    assert_eq!(l.total, 2);
    assert_eq!(l.notes, ["only customers with region = North"]);
    // Numbers and dates compare as their text.
    assert_eq!(ids(&list(&engine, filter("orders", "2")).await), ["C1"]);
    assert_eq!(
        ids(&list(&engine, filter("signup_date", "2024-02-10")).await),
        ["C2"]
    );
    // A quote is part of the value, not of a query.
    assert_eq!(
        ids(&list(&engine, filter("region", "O'Hara")).await),
        ["C'5"]
    );
    assert_eq!(
        ids(&list(&engine, filter("customer_id", "C'5")).await),
        ["C'5"]
    );
    let l = list(&engine, filter("region", "x' OR '1'='1")).await;
    assert_eq!(
        (l.total, l.batches.iter().map(|b| b.num_rows()).sum()),
        (0, 0)
    );
    // Two filters: both must hold.
    let both = CustomerQuery {
        filters: vec![
            ("region".into(), "North".into()),
            ("orders".into(), "1".into()),
        ],
        ..Default::default()
    };
    let l = list(&engine, both).await;
    assert_eq!(ids(&l), ["C3"]);
    assert_eq!(
        l.notes,
        [
            "only customers with region = North",
            "only customers with orders = 1"
        ]
    );
    for bad in ["nope", "region' OR '1'='1", "churn_reasons"] {
        let e = customer_list(&engine, &filter(bad, "x")).await.unwrap_err();
        let AnalyticsError::Usage(m) = &e else {
            panic!("{e:?}")
        };
        assert!(
            m.starts_with(&format!("unknown filter '{bad}': filter on a column of the list (customer_id, customer_name, email,")),
            "{m}"
        );
        assert!(m.ends_with("clv, value_at_risk)"), "{m}");
    }
}

#[tokio::test]
async fn search_is_case_insensitive_and_literal() {
    let dir = workspace(FILES, true);
    let engine = open(dir.path()).await;
    let found = async |q: &str, personal: bool| ids(&list(&engine, search(q, personal)).await);
    assert_eq!(found("ann", true).await, ["C1"]);
    assert_eq!(found("  LEE ", true).await, ["C1"]);
    // Names and emails only for roles that see personal data.
    assert!(found("ann", false).await.is_empty());
    assert_eq!(found("c3", false).await, ["C3"]);
    assert_eq!(found("C", false).await.len(), 5);
    // % and _ are themselves, not wildcards (unescaped, each would match all five).
    assert_eq!(found("%", true).await, ["C3"]);
    assert_eq!(found("_", true).await, ["C2"]);
    assert!(found("_", false).await.is_empty());
    assert!(found("\\", true).await.is_empty());
    // A quote: in C'5's id, and in O'Neil's name (personal).
    assert_eq!(found("'", false).await, ["C'5"]);
    assert_eq!(found("'", true).await, ["C2", "C'5"]);
    assert_eq!(found("o'neil", true).await, ["C2"]);
    // Blank search is no search.
    assert_eq!(found("   ", false).await.len(), 5);
}

#[tokio::test]
async fn sorting_and_paging() {
    let dir = workspace(FILES, true);
    let engine = open(dir.path()).await;
    let sorted = async |sort: &str| {
        let q = CustomerQuery {
            sort: Some(sort.into()),
            ..Default::default()
        };
        ids(&list(&engine, q).await)
    };
    // Ascending revenue: C'5 30, C3 80, C1 = C2 150 (by id), C4 null last.
    assert_eq!(sorted("revenue").await, ["C'5", "C3", "C1", "C2", "C4"]);
    assert_eq!(sorted("-revenue").await, ["C1", "C2", "C3", "C'5", "C4"]);
    // Region: North (C1, C3), O'Hara (C'5), South (C2, C4); descending keeps ids ascending.
    assert_eq!(sorted("region").await, ["C1", "C3", "C'5", "C2", "C4"]);
    assert_eq!(sorted("-region").await, ["C2", "C4", "C'5", "C1", "C3"]);
    assert_eq!(
        sorted("-customer_id").await,
        ["C4", "C3", "C2", "C1", "C'5"]
    );
    let e = customer_list(
        &engine,
        &CustomerQuery {
            sort: Some("-nope".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&e, AnalyticsError::Usage(m) if m.starts_with("cannot sort by 'nope': sort by a column of the list (customer_id, ")),
        "{e}"
    );
    let page = async |page: usize, size: usize| {
        let q = CustomerQuery {
            page: Some((page, size)),
            ..Default::default()
        };
        let l = list(&engine, q).await;
        (ids(&l), l.total)
    };
    assert_eq!(page(1, 2).await, (vec!["C1".into(), "C2".into()], 5));
    assert_eq!(page(2, 2).await, (vec!["C3".into(), "C'5".into()], 5));
    assert_eq!(page(3, 2).await, (vec!["C4".to_string()], 5));
    assert_eq!(page(4, 2).await, (vec![], 5));
    // Total counts the filtered rows, not the page.
    let q = CustomerQuery {
        filters: vec![("region".into(), "South".into())],
        page: Some((1, 1)),
        ..Default::default()
    };
    let l = list(&engine, q).await;
    assert_eq!((ids(&l), l.total), (vec!["C2".to_string()], 2));
    let q = CustomerQuery {
        page: Some((0, 10)),
        ..Default::default()
    };
    let e = customer_list(&engine, &q).await.unwrap_err();
    assert!(
        matches!(e, AnalyticsError::Parameter { name: "page", .. }),
        "{e}"
    );
}

#[tokio::test]
async fn at_risk_keeps_customers_with_a_value_at_risk() {
    let dir = workspace(FILES, true);
    let engine = open(dir.path()).await;
    let q = CustomerQuery {
        at_risk: true,
        ..Default::default()
    };
    let l = list(&engine, q.clone()).await;
    // C2 50, C3 45, C1 20; C4 and C'5 have no value at risk.
    assert_eq!(ids(&l), ["C2", "C3", "C1"]);
    assert_eq!(l.total, 3);
    let by_revenue = CustomerQuery {
        sort: Some("-revenue".into()),
        ..q
    };
    assert_eq!(ids(&list(&engine, by_revenue).await), ["C1", "C2", "C3"]);

    let dir = workspace(FILES, false);
    let engine = open(dir.path()).await;
    let q = CustomerQuery {
        at_risk: true,
        ..Default::default()
    };
    let e = customer_list(&engine, &q).await.unwrap_err();
    assert!(
        matches!(&e, AnalyticsError::MissingData(m) if m.starts_with("the at-risk list needs stored CLV scores (P(alive) and CLV): run `clientele clv`")),
        "{e}"
    );
}

#[tokio::test]
async fn no_customers_table_is_missing_data() {
    let dir = workspace(&FILES[1..2], false);
    let engine = open(dir.path()).await;
    let e = customer_list(&engine, &CustomerQuery::default())
        .await
        .unwrap_err();
    assert!(
        matches!(&e, AnalyticsError::MissingData(m) if m == "the customer list needs the customers table, and the workspace has none"),
        "{e}"
    );
    let e = customer_360(&engine, "C1").await.unwrap_err();
    assert!(
        matches!(&e, AnalyticsError::MissingData(m) if m == "the customer 360 needs the customers table"),
        "{e}"
    );
}

fn unmasked(b: &[RecordBatch]) -> Result<Vec<RecordBatch>, AnalyticsError> {
    Ok(b.to_vec())
}

#[tokio::test]
async fn the_360_of_a_customer() {
    let dir = workspace(FILES, true);
    let engine = open(dir.path()).await;
    let c = customer_360(&engine, "C1").await.unwrap().unwrap();
    assert_eq!(c.customer_id, "C1");
    // Orders and tickets newest first; no other table of CUSTOMER_TABLES is stored.
    let sections: Vec<&str> = c.sections.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(sections, ["orders", "tickets"]);
    assert_eq!(
        texts(c.section("orders").unwrap(), "order_id"),
        [Some("O2".into()), Some("O1".into())]
    );
    assert_eq!(
        texts(c.section("tickets").unwrap(), "ticket_id"),
        [Some("T2".into()), Some("T1".into())]
    );
    // Items of O2 (2025-03-05) then O1 by product id.
    let items = c.order_items.as_deref().unwrap();
    let schema = items[0].schema();
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    assert_eq!(
        names,
        [
            "order_id",
            "order_date",
            "product_id",
            "product_name",
            "category",
            "quantity",
            "unit_price",
            "discount"
        ]
    );
    let v = c.to_json(unmasked).unwrap();
    assert_eq!(
        v,
        json!({
            "customer_id": "C1",
            "profile": {
                "customer_id": "C1", "email": "ann@example.com", "first_name": "Ann",
                "last_name": "Lee", "region": "North", "signup_date": "2024-01-05",
            },
            "consent": {"consent_email": true},
            // Only a churn run is stored, without parameters and by its old column: the
            // default window's label; no P(alive) (the CLV table has none) to lead instead.
            "outlook": {
                "lead": "churn_probability",
                "measures": [{
                    "column": "churn_probability",
                    "label": "P(no purchase in the next 90 days)",
                    "meaning": crate::ChurnKind::Transactional.meaning(90),
                    "value": 0.1,
                }],
            },
            "scores": {
                "customer_id": "C1", "churn_probability": 0.1, "churn_reasons": "recent",
                "clv": 200.0,
            },
            // (100 + 50) / 2 = 75.
            "summary": {
                "customer_id": "C1", "first_order_date": "2025-01-10",
                "last_order_date": "2025-03-05", "orders": 2, "revenue": 150.0,
                "average_order_value": 75.0,
            },
            "sections": {
                "orders": v["sections"]["orders"].clone(),
                "tickets": v["sections"]["tickets"].clone(),
                "order_items": [
                    {"order_id": "O2", "order_date": "2025-03-05", "product_id": "P1",
                     "product_name": "Widget", "category": "A", "quantity": 1,
                     "unit_price": 20.0, "discount": 0.1},
                    {"order_id": "O1", "order_date": "2025-01-10", "product_id": "P1",
                     "product_name": "Widget", "category": "A", "quantity": 2,
                     "unit_price": 20.0},
                    {"order_id": "O1", "order_date": "2025-01-10", "product_id": "P2",
                     "product_name": "Gadget", "category": "B", "quantity": 1,
                     "unit_price": 40.0},
                ],
            },
            "section_rows": SECTION_ROWS,
            "bought_together": [],
        })
    );
    // Key order as today: profile, sections in CUSTOMER_TABLES order, order_items last.
    let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "customer_id",
            "profile",
            "consent",
            "outlook",
            "scores",
            "summary",
            "sections",
            "section_rows",
            "bought_together"
        ]
    );
    let keys: Vec<&String> = v["sections"].as_object().unwrap().keys().collect();
    assert_eq!(keys, ["orders", "tickets", "order_items"]);
    assert_eq!(v["sections"]["orders"][0]["total_amount"], json!(50.0));
    assert_eq!(v["sections"]["tickets"][1]["ticket_id"], json!("T1"));
}

#[tokio::test]
async fn the_360_masks_profile_and_sections_only() {
    let dir = workspace(FILES, true);
    let engine = open(dir.path()).await;
    let c = customer_360(&engine, "C1").await.unwrap().unwrap();
    // A stand-in for the server's masking: drop customer_id wherever it is applied.
    let protect = |b: &[RecordBatch]| -> Result<Vec<RecordBatch>, AnalyticsError> {
        b.iter()
            .map(|b| {
                let keep: Vec<usize> = (0..b.num_columns())
                    .filter(|&i| b.schema().field(i).name() != "customer_id")
                    .collect();
                Ok(b.project(&keep)?)
            })
            .collect()
    };
    let v = c.to_json(protect).unwrap();
    assert_eq!(v["customer_id"], json!("C1"));
    assert!(v["profile"].get("customer_id").is_none());
    assert!(v["sections"]["orders"][0].get("customer_id").is_none());
    assert_eq!(v["sections"]["orders"][0]["order_id"], json!("O2"));
    assert_eq!(v["scores"]["customer_id"], json!("C1"));
    assert_eq!(v["summary"]["customer_id"], json!("C1"));
}

#[tokio::test]
async fn the_360_of_other_customers() {
    let dir = workspace(FILES, false);
    let engine = open(dir.path()).await;
    // No such customer, however the id is spelt.
    for id in ["C9", "c1", "x' OR '1'='1", "C1' --"] {
        assert!(customer_360(&engine, id).await.unwrap().is_none(), "{id}");
    }
    // A quote in a real id.
    let c = customer_360(&engine, "C'5").await.unwrap().unwrap();
    let v = c.to_json(unmasked).unwrap();
    assert_eq!(v["profile"]["region"], json!("O'Hara"));
    assert_eq!(v["sections"]["orders"][0]["order_id"], json!("O6"));
    assert_eq!(v["sections"]["tickets"], json!([]));
    // No scores stored; O6 has no items, so the order items are looked up and none found.
    assert_eq!(v["scores"], json!({}));
    assert_eq!(v["sections"]["order_items"], json!([]));
    // C4: no order at all, hence an empty summary and no items; C3: only the completed
    // order counts in the summary, both orders are shown.
    let v = customer_360(&engine, "C4")
        .await
        .unwrap()
        .unwrap()
        .to_json(unmasked)
        .unwrap();
    assert_eq!(v["summary"], json!({}));
    assert_eq!(v["sections"]["orders"], json!([]));
    assert!(v["sections"].get("order_items").is_none());
    assert_eq!(v["consent"], json!({"consent_email": true}));
    let c = customer_360(&engine, "C3").await.unwrap().unwrap();
    assert_eq!(
        texts(c.section("orders").unwrap(), "order_id"),
        [Some("O5".into()), Some("O4".into())]
    );
    let v = c.to_json(unmasked).unwrap();
    assert_eq!(v["summary"]["orders"], json!(1));
    assert_eq!(v["consent"], json!({}));
    assert_eq!(v["sections"]["order_items"][0]["order_id"], json!("O4"));
}

#[tokio::test]
async fn without_orders_the_360_has_no_summary() {
    let dir = workspace(&FILES[..1], false);
    let engine = open(dir.path()).await;
    let c = customer_360(&engine, "C2").await.unwrap().unwrap();
    assert!(c.summary.is_none() && c.order_items.is_none() && c.sections.is_empty());
    let v = c.to_json(unmasked).unwrap();
    assert!(v.get("summary").is_none());
    assert_eq!(v["profile"]["last_name"], json!("O'Neil"));
    assert_eq!(v["sections"], json!({}));
}

#[test]
fn rows_merge_like_json_objects() {
    let row = |cols: &[(&str, Option<f64>)]| {
        let fields: Vec<Field> = cols
            .iter()
            .map(|(n, _)| Field::new(*n, DataType::Float64, true))
            .collect();
        let arrays: Vec<ArrayRef> = cols
            .iter()
            .map(|(_, v)| Arc::new(Float64Array::from(vec![*v])) as ArrayRef)
            .collect();
        RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).unwrap()
    };
    assert!(merge_rows(&[]).unwrap().is_none());
    let merged = merge_rows(&[
        row(&[("a", Some(1.0)), ("b", Some(2.0))]),
        row(&[("a", Some(3.0)), ("c", None)]),
        row(&[("b", None), ("d", Some(4.0))]),
    ])
    .unwrap()
    .unwrap();
    // a replaced by the later 3, b kept (the later one is null), c null, d added.
    assert_eq!(
        rows_json(&[merged]).unwrap(),
        json!([{"a": 3.0, "b": 2.0, "d": 4.0}])
    );
}

/// Stores `columns` (customer_id first, then numbers; `churn_reasons` as text) as the
/// analysis's per-customer table, with `parameters` recorded as a run would.
fn store(
    dir: &tempfile::TempDir,
    analysis: &str,
    ids: &[&str],
    columns: &[(&str, Vec<f64>)],
    parameters: &[(&str, &str)],
) {
    let mut fields = vec![Field::new("customer_id", DataType::Utf8, false)];
    let mut arrays: Vec<arrow::array::ArrayRef> = vec![Arc::new(StringArray::from(ids.to_vec()))];
    for (name, values) in columns {
        fields.push(Field::new(*name, DataType::Float64, true));
        arrays.push(Arc::new(Float64Array::from(values.clone())));
    }
    let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).unwrap();
    let run = clientele_ingest::AnalysisRun {
        analysis: analysis.into(),
        table: format!("scores_{analysis}"),
        ran_at: String::new(),
        parameters: parameters
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        rows: 0,
    };
    clientele_ingest::save_analysis(
        &dir.path().join("ws"),
        std::slice::from_ref(&batch),
        batch.schema(),
        run,
    )
    .unwrap();
}

/// Issue 20 item 11: the churn model's probability is P(no purchase in the next window),
/// high for a slow buyer who is still a customer; for purchases without a contract P(alive)
/// leads the 360 and the at-risk list, and the churn model leads only for subscriptions.
#[tokio::test]
async fn the_360_and_at_risk_lead_with_p_alive_for_purchases_and_the_churn_model_for_subscriptions()
{
    let dir = workspace(FILES, false);
    // CLV run: P(alive) C1 0.9, C2 0.2, C3 0.5, C4 0.6; CLV 200, 100, 50, 10.
    store(
        &dir,
        "clv",
        &["C1", "C2", "C3", "C4"],
        &[
            ("p_alive", vec![0.9, 0.2, 0.5, 0.6]),
            ("clv", vec![200.0, 100.0, 50.0, 10.0]),
        ],
        &[],
    );
    // Transactional churn run with a 60-day window: P(no purchase) C1 0.7, C2 0.5, C3 0.9,
    // C'5 0.3, under both its names.
    let p = vec![0.7, 0.5, 0.9, 0.3];
    store(
        &dir,
        "churn",
        &["C1", "C2", "C3", "C'5"],
        &[
            ("churn_probability", p.clone()),
            ("p_no_purchase", p.clone()),
        ],
        &[("kind", "transactional"), ("window", "60")],
    );
    let engine = open(dir.path()).await;
    let measures = risk_measures(&engine);
    let cols: Vec<&str> = measures.iter().map(|m| m.column.as_str()).collect();
    assert_eq!(cols, ["p_alive", "p_no_purchase"]);
    assert_eq!(measures[0].label, "P(alive)");
    assert_eq!(measures[1].label, "P(no purchase in the next 60 days)");

    // The 360 of C1, a customer the purchase model thinks alive (0.9) whom the churn model
    // gives 0.7 of going 60 days without an order: P(alive) first.
    let c = customer_360(&engine, "C1").await.unwrap().unwrap();
    let v = c.to_json(unmasked).unwrap();
    let o = &v["outlook"];
    assert_eq!(o["lead"], "p_alive");
    assert_eq!(o["measures"][0]["label"], "P(alive)");
    assert_eq!(o["measures"][0]["value"], 0.9);
    assert_eq!(
        o["measures"][1]["label"],
        "P(no purchase in the next 60 days)"
    );
    assert_eq!(o["measures"][1]["value"], 0.7);
    assert!(
        o["measures"][1]["meaning"]
            .as_str()
            .unwrap()
            .contains("not the probability of having left"),
        "{o}"
    );

    // At risk by (1 − P(alive)) × CLV: C1 0.1 × 200 = 20, C2 0.8 × 100 = 80,
    // C3 0.5 × 50 = 25, C4 0.4 × 10 = 4; C'5 has no CLV. (By the churn model × CLV it would
    // be C1 140, C2 50, C3 45.)
    let q = CustomerQuery {
        at_risk: true,
        ..Default::default()
    };
    let l = list(&engine, q.clone()).await;
    assert_eq!(ids(&l), ["C2", "C3", "C1", "C4"]);
    assert_eq!(l.value_at_risk.as_deref(), Some("value_at_risk_p_alive"));
    let var = nums(&l.batches, "value_at_risk_p_alive");
    for (got, want) in var.iter().zip([80.0, 25.0, 20.0, 4.0]) {
        assert!((got.unwrap() - want).abs() < 1e-9, "{got:?} vs {want}");
    }
    // value_at_risk keeps its definition (the churn model's probability × CLV).
    let old = nums(&l.batches, "value_at_risk");
    for (got, want) in old.iter().zip([Some(50.0), Some(45.0), Some(140.0), None]) {
        match (got, want) {
            (Some(g), Some(w)) => assert!((g - w).abs() < 1e-9, "{g} vs {w}"),
            _ => assert_eq!(*got, want),
        }
    }
    let label = |c: &str| {
        l.labels
            .iter()
            .find(|(k, _)| k == c)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    assert_eq!(label("p_alive"), "P(alive)");
    assert_eq!(label("p_no_purchase"), "P(no purchase in the next 60 days)");
    assert_eq!(
        label("churn_probability"),
        "P(no purchase in the next 60 days) (churn model; churn_probability is its old name)"
    );
    assert_eq!(
        label("value_at_risk_p_alive"),
        "value at risk: (1 − P(alive)) × CLV"
    );
    assert!(
        l.notes[0].starts_with("at risk by value_at_risk_p_alive"),
        "{:?}",
        l.notes
    );

    // A subscription churn run instead: the churn model leads, and the list is by its
    // value at risk: C1 0.7 × 200 = 140, C2 0.5 × 100 = 50, C3 0.9 × 50 = 45.
    store(
        &dir,
        "churn",
        &["C1", "C2", "C3", "C'5"],
        &[("churn_probability", p.clone()), ("p_not_renewed", p)],
        &[("kind", "subscription"), ("window", "90")],
    );
    let engine = open(dir.path()).await;
    let measures = risk_measures(&engine);
    let cols: Vec<&str> = measures.iter().map(|m| m.column.as_str()).collect();
    assert_eq!(cols, ["p_not_renewed", "p_alive"]);
    assert_eq!(
        measures[0].label,
        "P(not renewed, renewal due in the next 90 days)"
    );
    let c = customer_360(&engine, "C1").await.unwrap().unwrap();
    assert_eq!(
        c.to_json(unmasked).unwrap()["outlook"]["lead"],
        "p_not_renewed"
    );
    let l = list(&engine, q).await;
    assert_eq!(ids(&l), ["C1", "C2", "C3"]);
    assert_eq!(l.value_at_risk.as_deref(), Some("value_at_risk"));
}
