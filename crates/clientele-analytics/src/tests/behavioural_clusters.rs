//! Behavioural segmentation on a generated fixture of three far-apart kinds of customer: each
//! cluster is one kind, and its size, revenue share and feature means match the hand-computed
//! values.

use std::collections::BTreeMap;

use super::analyses::{days, table};
use super::*;

/// Behavioural fixture: three kinds of customer, eight of each (j = 0..7 within a kind).
/// C01–C08 buy 200 + j six times, on the (5 + j)th of each month from January to June 2025;
/// C09–C16 buy once, 20 + j on 2024-03-(1 + j); C17–C24 buy 60 + j three times, on the
/// (10 + j)th of September and December 2024 and March 2025.
fn cluster_orders() -> Vec<(String, NaiveDate, f64)> {
    let mut out = Vec::new();
    for j in 0..8i64 {
        let a = 200.0 + j as f64;
        for m in 1..=6 {
            out.push((
                format!("C{:02}", j + 1),
                d(&format!("2025-{m:02}-{:02}", 5 + j)),
                a,
            ));
        }
        out.push((
            format!("C{:02}", j + 9),
            d("2024-03-01") + days(j),
            20.0 + j as f64,
        ));
        for date in ["2024-09", "2024-12", "2025-03"] {
            out.push((
                format!("C{:02}", j + 17),
                d(&format!("{date}-{:02}", 10 + j)),
                60.0 + j as f64,
            ));
        }
    }
    out
}

#[tokio::test]
async fn behavioural_cluster_shares_match_hand_computed_values() {
    let orders = cluster_orders();
    let mut csv = String::from("order_id,customer_id,order_date,total_amount\n");
    for (k, (c, date, amount)) in orders.iter().enumerate() {
        csv += &format!("O{k},{c},{date},{amount}\n");
    }
    let dir = workspace(&[("orders.csv", &csv)]);
    let engine = open(dir.path()).await;
    let opts = BehaviouralOptions {
        as_of: None,
        k: Some(3),
        seed: 42,
    };
    let a = segment_behavioural(&engine, &opts).await.unwrap();
    // The last sale is C08's on 2025-06-12: as of 2025-06-13. Only orders exist, so the
    // features are recency, frequency, monetary, tenure and average order value.
    let as_of = d("2025-06-13");
    assert_eq!(a.facts["as_of"], "2025-06-13");
    let keys = [
        "recency_days",
        "frequency",
        "monetary",
        "tenure_days",
        "average_order_value",
    ];
    assert_eq!(a.facts["features"], serde_json::json!(keys));
    assert_eq!(a.facts["customers"], 24);
    let rows = a.rows.as_ref().unwrap();
    let ids = text(rows, "customer_id");
    let assigned = text(rows, "cluster");
    assert_eq!(
        ids,
        (1..=24)
            .map(|i| Some(format!("C{i:02}")))
            .collect::<Vec<_>>()
    );

    // Each customer's features, recomputed from the fixture's orders.
    let mut feat: BTreeMap<&str, [f64; 5]> = BTreeMap::new();
    for id in ids.iter().flatten() {
        let mine: Vec<&(String, NaiveDate, f64)> = orders.iter().filter(|o| &o.0 == id).collect();
        let first = mine.iter().map(|o| o.1).min().unwrap();
        let last = mine.iter().map(|o| o.1).max().unwrap();
        let n = mine.len() as f64;
        let m: f64 = mine.iter().map(|o| o.2).sum();
        feat.insert(
            id,
            [
                (as_of - last).num_days() as f64,
                n,
                m,
                (as_of - first).num_days() as f64,
                m / n,
            ],
        );
    }
    // The three kinds are far apart: each cluster is exactly one kind of eight customers.
    for kind in [0..8, 8..16, 16..24] {
        let first = &assigned[kind.start];
        assert!(
            assigned[kind.clone()].iter().all(|c| c == first),
            "{assigned:?}"
        );
    }
    assert_ne!(assigned[0], assigned[8]);
    assert_ne!(assigned[0], assigned[16]);
    assert_ne!(assigned[8], assigned[16]);

    let t = table(&a, "clusters");
    let names = text(t, "cluster");
    assert_eq!(names.len(), 3);
    let customers = num(t, "customers");
    let share_c = num(t, "share_of_customers");
    let share_r = num(t, "share_of_revenue");
    // Revenue by hand: 6 × (200 + … + 207) = 9768; 20 + … + 27 = 188; 3 × (60 + … + 67) =
    // 1524; 11480 in all.
    let total: f64 = orders.iter().map(|o| o.2).sum();
    assert_eq!(total, 11480.0);
    let kind_revenue = |kind: usize| -> f64 {
        match kind {
            0 => 9768.0,
            1 => 188.0,
            _ => 1524.0,
        }
    };
    for (r, name) in names.iter().enumerate() {
        let members: Vec<usize> = (0..24).filter(|&i| assigned[i] == *name).collect();
        let kind = members[0] / 8;
        let size = members.len() as f64;
        assert_eq!(customers[r], Some(8.0), "{name:?}");
        assert_eq!(customers[r], Some(size), "{name:?}");
        close(share_c[r], Some(size / 24.0), "share of customers");
        let revenue: f64 = members
            .iter()
            .map(|&i| feat[ids[i].as_deref().unwrap()][2])
            .sum();
        assert_eq!(revenue, kind_revenue(kind));
        close(share_r[r], Some(revenue / total), "share of revenue");
        for (j, key) in keys.iter().enumerate() {
            let mean = members
                .iter()
                .map(|&i| feat[ids[i].as_deref().unwrap()][j])
                .sum::<f64>()
                / size;
            close(num(t, key)[r], Some(mean), &format!("{name:?} mean {key}"));
        }
        // By hand for the monthly buyers: recency 8 − j days (mean 4.5), tenure 159 − j
        // (2025-01-05 to 2025-06-13 is 159 days; mean 155.5), 6 orders of 203.5 on average.
        if kind == 0 {
            let means: Vec<Option<f64>> = keys.iter().map(|k| num(t, k)[r]).collect();
            assert_eq!(
                means,
                vec![Some(4.5), Some(6.0), Some(1221.0), Some(155.5), Some(203.5)]
            );
        }
    }
    let sum = |v: &[Option<f64>]| v.iter().map(|x| x.unwrap()).sum::<f64>();
    close(
        Some(sum(&share_c)),
        Some(1.0),
        "customer shares add up to 1",
    );
    close(Some(sum(&share_r)), Some(1.0), "revenue shares add up to 1");
    close(Some(sum(&customers)), Some(24.0), "sizes add up");
}
