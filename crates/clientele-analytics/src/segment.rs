//! Segmentation: RFM scores and named segments, demographic groups, behavioural clusters
//! (k-means) and lifecycle stages. Each returns a summary per segment and one row per
//! customer to store in the workspace.
//!
//! Definitions (also in docs/analyses.md): the **as-of day** defaults to the day after the
//! last sale; **recency** is days from a customer's last sale to the as-of day, **frequency**
//! the number of sales (orders neither cancelled nor returned), **monetary** their total
//! amount, all counting only sales before the as-of day.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use clientele_models::{cluster, lifecycle, rfm};

use crate::analysis::{Analysis, report};
use crate::features::{CustomerFeatures, FeatureSet, customer_features};
use crate::util::{Columns, f64_col, str_col};
use crate::{AnalyticsError, Engine};

/// The default as-of day: the day after the last sale.
pub async fn default_as_of(engine: &Engine) -> Result<NaiveDate, AnalyticsError> {
    crate::util::latest_order_date(engine)
        .await?
        .and_then(|d| d.succ_opt())
        .ok_or_else(|| {
            AnalyticsError::MissingData("there are no sales to segment customers by".into())
        })
}

/// Existing stored CLV per customer (from a previous `clv` run), for segment summaries.
async fn stored_clv(engine: &Engine) -> Result<Option<BTreeMap<String, f64>>, AnalyticsError> {
    stored_column(engine, "clv").await
}

/// A numeric column of the stored CLV results per customer, when a `clv` run is stored.
async fn stored_column(
    engine: &Engine,
    column: &str,
) -> Result<Option<BTreeMap<String, f64>>, AnalyticsError> {
    if !engine.has_table("scores_clv") {
        return Ok(None);
    }
    let batches = engine
        .query(&format!(
            "SELECT customer_id, {column} AS v FROM scores_clv WHERE {column} IS NOT NULL"
        ))
        .await?;
    let mut m = BTreeMap::new();
    for b in &batches {
        let (id, v) = (str_col(b, "customer_id"), f64_col(b, "v"));
        for i in 0..b.num_rows() {
            m.insert(id.value(i).to_string(), v.value(i));
        }
    }
    Ok(Some(m))
}

fn base_features() -> FeatureSet {
    FeatureSet {
        category_mix: false,
    }
}

/// Segment summary columns shared by every scheme: size and shares of customers and revenue,
/// average order value and, when a CLV run is stored, average CLV.
struct SegmentTally {
    names: Vec<String>,
    customers: Vec<f64>,
    revenue: Vec<f64>,
    orders: Vec<f64>,
    clv_sum: Vec<f64>,
    clv_n: Vec<f64>,
}

impl SegmentTally {
    fn new(names: Vec<String>) -> Self {
        let k = names.len();
        SegmentTally {
            names,
            customers: vec![0.0; k],
            revenue: vec![0.0; k],
            orders: vec![0.0; k],
            clv_sum: vec![0.0; k],
            clv_n: vec![0.0; k],
        }
    }

    fn add(&mut self, seg: usize, revenue: f64, orders: f64, clv: Option<f64>) {
        self.customers[seg] += 1.0;
        self.revenue[seg] += revenue;
        self.orders[seg] += orders;
        if let Some(c) = clv {
            self.clv_sum[seg] += c;
            self.clv_n[seg] += 1.0;
        }
    }

    fn columns(&self, label: &str, with_clv: bool) -> Columns {
        let total_c: f64 = self.customers.iter().sum();
        let total_r: f64 = self.revenue.iter().sum();
        let keep: Vec<usize> = (0..self.names.len())
            .filter(|&i| self.customers[i] > 0.0)
            .collect();
        let ratio = |a: f64, b: f64| (b != 0.0).then(|| a / b);
        let mut c = Columns::default()
            .text(
                label,
                keep.iter().map(|&i| Some(self.names[i].clone())).collect(),
            )
            .num(
                "customers",
                keep.iter().map(|&i| Some(self.customers[i])).collect(),
            )
            .num(
                "share_of_customers",
                keep.iter()
                    .map(|&i| ratio(self.customers[i], total_c))
                    .collect(),
            )
            .num(
                "revenue",
                keep.iter().map(|&i| Some(self.revenue[i])).collect(),
            )
            .num(
                "share_of_revenue",
                keep.iter()
                    .map(|&i| ratio(self.revenue[i], total_r))
                    .collect(),
            )
            .num(
                "average_order_value",
                keep.iter()
                    .map(|&i| ratio(self.revenue[i], self.orders[i]))
                    .collect(),
            );
        if with_clv {
            c = c.num(
                "average_clv",
                keep.iter()
                    .map(|&i| ratio(self.clv_sum[i], self.clv_n[i]))
                    .collect(),
            );
        }
        c
    }
}

/// RFM scores (quintiles 1–5) and named segments as of `as_of`.
pub async fn segment_rfm(
    engine: &Engine,
    as_of: Option<NaiveDate>,
) -> Result<Analysis, AnalyticsError> {
    let as_of = match as_of {
        Some(d) => d,
        None => default_as_of(engine).await?,
    };
    let f = customer_features(engine, as_of, base_features()).await?;
    if f.ids.is_empty() {
        return Err(AnalyticsError::MissingData(format!(
            "no customer bought before {as_of}: there is nothing to score"
        )));
    }
    let recency = f.values("recency_days", 0.0);
    let frequency = f.values("frequency", 0.0);
    let monetary = f.values("monetary", 0.0);
    let scores = rfm::rfm_scores(&recency, &frequency, &monetary);
    let clv = stored_clv(engine).await?;
    let mut tally = SegmentTally::new(
        rfm::RfmSegment::ALL
            .iter()
            .map(|s| s.name().to_string())
            .collect(),
    );
    let mut seg_names = Vec::with_capacity(f.ids.len());
    for (i, s) in scores.iter().enumerate() {
        let seg = rfm::segment(*s);
        let idx = rfm::RfmSegment::ALL
            .iter()
            .position(|x| *x == seg)
            .expect("listed");
        tally.add(
            idx,
            monetary[i],
            frequency[i],
            clv.as_ref().and_then(|m| m.get(&f.ids[i]).copied()),
        );
        seg_names.push(Some(seg.name().to_string()));
    }
    let mut a = Analysis::new("rfm", &format!("RFM segments as of {as_of}"));
    a.param("as_of", as_of);
    let descriptions: Vec<Option<String>> = rfm::RfmSegment::ALL
        .iter()
        .enumerate()
        .filter(|(i, _)| tally.customers[*i] > 0.0)
        .map(|(_, s)| Some(s.description().to_string()))
        .collect();
    a.table(
        "segments",
        &format!("RFM segments as of {as_of}"),
        tally
            .columns("segment", clv.is_some())
            .text("description", descriptions)
            .batch(),
    );
    a.fact("as_of", as_of.to_string());
    a.fact("customers", f.ids.len());
    if clv.is_none() {
        a.notes
            .push("run `clientele clv` first to see the average CLV of each segment".into());
    }
    let rows = Columns::default()
        .text(
            "customer_id",
            f.ids.iter().map(|s| Some(s.clone())).collect(),
        )
        .num("recency_days", recency.iter().map(|v| Some(*v)).collect())
        .num("frequency", frequency.iter().map(|v| Some(*v)).collect())
        .num("monetary", monetary.iter().map(|v| Some(*v)).collect())
        .num("r_score", scores.iter().map(|s| Some(s.r as f64)).collect())
        .num("f_score", scores.iter().map(|s| Some(s.f as f64)).collect())
        .num("m_score", scores.iter().map(|s| Some(s.m as f64)).collect())
        .text(
            "rfm",
            scores
                .iter()
                .map(|s| Some(format!("{}{}{}", s.r, s.f, s.m)))
                .collect(),
        )
        .text("rfm_segment", seg_names)
        .batch();
    a.rows = Some(report("rfm_customers", "RFM per customer", rows));
    Ok(a)
}

/// Upper age limits (exclusive) and labels of the age bands; older customers are "65+".
const AGE_BANDS: &[(u32, &str)] = &[
    (25, "18-24"),
    (35, "25-34"),
    (45, "35-44"),
    (55, "45-54"),
    (65, "55-64"),
];

/// SQL for the age band at day number `day` of a birth date column: the one definition used
/// by demographic segments and the churn fairness check ("unknown" without a birth date).
pub(crate) fn age_band_sql(birth_date: &str, day: i32) -> String {
    let age = format!("({day} - CAST({birth_date} AS INT)) / 365.25");
    let whens: String = AGE_BANDS
        .iter()
        .map(|(upper, label)| format!(" WHEN {age} < {upper} THEN '{label}'"))
        .collect();
    format!("CASE WHEN {birth_date} IS NULL THEN 'unknown'{whens} ELSE '65+' END")
}

/// The demographic dimensions `segment demographic --by` accepts.
pub const DEMOGRAPHIC_DIMENSIONS: &str = "age_band, gender, region, country, acquisition_channel";

/// Revenue and behaviour per demographic group (any combination of
/// [`DEMOGRAPHIC_DIMENSIONS`]) as of `as_of`.
pub async fn segment_demographic(
    engine: &Engine,
    by: &[String],
    as_of: Option<NaiveDate>,
) -> Result<Analysis, AnalyticsError> {
    if !engine.has_table("customers") {
        return Err(AnalyticsError::MissingData(
            "the workspace has no customers table: demographic groups come from it".into(),
        ));
    }
    let as_of = match as_of {
        Some(d) => d,
        None => default_as_of(engine).await?,
    };
    let s = clientele_schema::date_to_days(as_of);
    let mut a = Analysis::new("demographic", "Demographic segments");
    let mut dims = Vec::new();
    for d in by {
        let d = d.trim().to_ascii_lowercase();
        let expr = match d.as_str() {
            "age_band" | "age" => {
                if !engine.has_column("customers", "birth_date") {
                    a.notes
                        .push("customers have no birth_date: age band is unknown for all".into());
                }
                age_band_sql("c.birth_date", s)
            }
            "gender" | "region" | "country" | "acquisition_channel" => {
                if !engine.has_column("customers", &d) {
                    a.notes
                        .push(format!("customers have no {d}: it is unknown for all"));
                }
                format!("COALESCE(CAST(c.{d} AS VARCHAR), 'unknown')")
            }
            other => {
                return Err(AnalyticsError::Usage(format!(
                    "unknown demographic dimension '{other}': expected one or more of {DEMOGRAPHIC_DIMENSIONS}"
                )));
            }
        };
        let name = if d == "age" { "age_band".into() } else { d };
        dims.push((name, expr));
    }
    if dims.is_empty() {
        return Err(AnalyticsError::Usage(format!(
            "give --by with one or more of {DEMOGRAPHIC_DIMENSIONS}"
        )));
    }
    // (column in g, join, aggregate): average CLV only once a CLV run is stored.
    let (clv_col, clv_join, clv_avg) = if engine.has_table("scores_clv") {
        (
            ", k.clv",
            "LEFT JOIN scores_clv k ON k.customer_id = c.customer_id",
            ", AVG(clv) AS average_clv",
        )
    } else {
        ("", "", "")
    };
    let group: Vec<String> = dims.iter().map(|(n, e)| format!("{e} AS {n}")).collect();
    let names: Vec<&str> = dims.iter().map(|(n, _)| n.as_str()).collect();
    let sql = format!(
        "WITH b AS (SELECT customer_id, COUNT(*) AS orders, SUM(total_amount) AS revenue,
                           MAX(CAST(order_date AS INT)) AS last_d
                    FROM sales WHERE CAST(order_date AS INT) < {s} GROUP BY customer_id),
         g AS (SELECT {}, c.customer_id, b.orders, b.revenue, b.last_d{}
               FROM customers c LEFT JOIN b ON b.customer_id = c.customer_id {})
         SELECT {}, COUNT(*) AS customers,
                COUNT(*) / CAST(SUM(COUNT(*)) OVER () AS DOUBLE) AS share_of_customers,
                COUNT(orders) AS buyers,
                COALESCE(SUM(revenue), 0) AS revenue,
                COALESCE(SUM(revenue), 0) / NULLIF(SUM(SUM(revenue)) OVER (), 0) AS share_of_revenue,
                COALESCE(SUM(revenue), 0) / COUNT(*) AS revenue_per_customer,
                CAST(SUM(orders) AS DOUBLE) / NULLIF(COUNT(orders), 0) AS orders_per_buyer,
                SUM(revenue) / NULLIF(SUM(orders), 0) AS average_order_value,
                SUM(CASE WHEN last_d >= {s} - 365 THEN 1 ELSE 0 END) / CAST(COUNT(*) AS DOUBLE) AS active_share{}
         FROM g GROUP BY {} ORDER BY revenue DESC, {}",
        group.join(", "),
        clv_col,
        clv_join,
        names.join(", "),
        clv_avg,
        names.join(", "),
        names.join(", "),
    );
    let df = engine.sql(&sql).await?;
    let batches = engine.collect(df).await?;
    let schema = batches
        .first()
        .map(|b| b.schema())
        .unwrap_or_else(|| std::sync::Arc::new(arrow::datatypes::Schema::empty()));
    a.param("by", names.join(","));
    a.param("as_of", as_of);
    a.fact("as_of", as_of.to_string());
    a.fact("by", &names);
    a.tables.push(crate::Report {
        name: "demographic".into(),
        title: format!("Customers by {} as of {as_of}", names.join(" × ")),
        period: None,
        previous: None,
        notes: vec![
            "active share: customers with a sale in the 365 days before the as-of day".into(),
        ],
        batches,
        schema,
    });
    Ok(a)
}

/// Options of the behavioural segmentation.
#[derive(Debug, Clone)]
pub struct BehaviouralOptions {
    /// As-of day (default: the day after the last sale).
    pub as_of: Option<NaiveDate>,
    /// Number of clusters; chosen by silhouette over 2..=8 when `None`.
    pub k: Option<usize>,
    /// Seed of the k-means initialisation.
    pub seed: u64,
}

/// Features used for clustering, by key, when the workspace has them: money and counts enter
/// as log(1 + x) so that a few big spenders do not make their own clusters.
const CLUSTER_FEATURES: &[(&str, bool)] = &[
    ("recency_days", true),
    ("frequency", true),
    ("monetary", true),
    ("tenure_days", true),
    ("average_order_value", true),
    ("web_sessions_90d", true),
    ("email_opens_180d", true),
    ("clicks_180d", true),
    ("tickets_last_year", true),
];

/// Behavioural clusters: k-means on standardised RFM, tenure, basket, category mix and
/// engagement features.
pub async fn segment_behavioural(
    engine: &Engine,
    options: &BehaviouralOptions,
) -> Result<Analysis, AnalyticsError> {
    let as_of = match options.as_of {
        Some(d) => d,
        None => default_as_of(engine).await?,
    };
    let f = customer_features(engine, as_of, FeatureSet { category_mix: true }).await?;
    let min_rows = options.k.unwrap_or(8) * 5;
    if f.ids.len() < min_rows.max(20) {
        return Err(AnalyticsError::MissingData(format!(
            "only {} customers bought before {as_of}: too few to cluster (at least {} needed)",
            f.ids.len(),
            min_rows.max(20)
        )));
    }
    let mut used: Vec<(String, String, bool)> = Vec::new();
    for (key, log) in CLUSTER_FEATURES {
        if let Some(feat) = f.features.iter().find(|x| x.key == *key) {
            used.push((feat.key.clone(), feat.label.clone(), *log));
        }
    }
    for feat in f.features.iter().filter(|x| x.key.starts_with("share_")) {
        used.push((feat.key.clone(), feat.label.clone(), false));
    }
    let n = f.ids.len();
    let raw = ndarray::Array2::from_shape_fn((n, used.len()), |(i, j)| {
        f.column(&used[j].0).and_then(|c| c[i]).unwrap_or(0.0)
    });
    let transformed = ndarray::Array2::from_shape_fn((n, used.len()), |(i, j)| {
        let v = raw[[i, j]];
        if used[j].2 { v.max(0.0).ln_1p() } else { v }
    });
    let (mut z, _, _) = cluster::standardize(&transformed);
    // The category shares are one question (what do they buy?) asked in several columns:
    // scale them so that together they weigh as much as one feature, not one per category.
    let shares: Vec<usize> = (0..used.len())
        .filter(|&j| used[j].0.starts_with("share_"))
        .collect();
    if shares.len() > 1 {
        let w = 1.0 / (shares.len() as f64).sqrt();
        for &j in &shares {
            z.column_mut(j).mapv_inplace(|v| v * w);
        }
    }
    let (clustering, k_scores) = match options.k {
        Some(k) => (
            cluster::kmeans(z.view(), k, options.seed).map_err(model_error)?,
            None,
        ),
        None => {
            let choice = cluster::choose_k(z.view(), 2..=8, options.seed).map_err(model_error)?;
            (choice.clustering, Some(choice.scores))
        }
    };
    let labels = clustering.labels.clone();
    let k = labels.iter().copied().max().map_or(0, |m| m + 1);
    let names: Vec<&str> = used.iter().map(|u| u.1.as_str()).collect();
    let profiles = cluster::describe(&raw, &labels, &names);
    let monetary = f.values("monetary", 0.0);
    let total_revenue: f64 = monetary.iter().sum();
    let mut revenue = vec![0.0; k];
    for (i, &l) in labels.iter().enumerate() {
        revenue[l] += monetary[i];
    }
    let mut a = Analysis::new("clusters", &format!("Behavioural segments as of {as_of}"));
    a.param("as_of", as_of);
    a.param("k", k);
    a.param("seed", options.seed);
    let mut cols = Columns::default()
        .text(
            "cluster",
            profiles
                .iter()
                .map(|p| Some(format!("C{}", p.cluster + 1)))
                .collect(),
        )
        .num(
            "customers",
            profiles.iter().map(|p| Some(p.size as f64)).collect(),
        )
        .num(
            "share_of_customers",
            profiles.iter().map(|p| Some(p.share)).collect(),
        )
        .num(
            "share_of_revenue",
            profiles
                .iter()
                .map(|p| (total_revenue > 0.0).then(|| revenue[p.cluster] / total_revenue))
                .collect(),
        )
        .text(
            "how_it_differs",
            profiles.iter().map(|p| Some(p.summary.clone())).collect(),
        );
    for (j, u) in used.iter().enumerate() {
        cols = cols.num(&u.0, profiles.iter().map(|p| Some(p.means[j])).collect());
    }
    a.table(
        "clusters",
        &format!(
            "{k} behavioural segments (k-means on {} standardised features)",
            used.len()
        ),
        cols.batch(),
    );
    if let Some(scores) = &k_scores {
        a.table(
            "k_selection",
            "Silhouette by number of clusters (highest chosen)",
            Columns::default()
                .num("k", scores.iter().map(|s| Some(s.0 as f64)).collect())
                .num("silhouette", scores.iter().map(|s| Some(s.1)).collect())
                .batch(),
        );
        a.fact(
            "silhouette",
            scores
                .iter()
                .map(|(k, s)| serde_json::json!({"k": k, "silhouette": s}))
                .collect::<Vec<_>>(),
        );
    }
    a.fact("as_of", as_of.to_string());
    a.fact("k", k);
    a.fact(
        "features",
        used.iter().map(|u| u.0.clone()).collect::<Vec<_>>(),
    );
    a.fact("customers", n);
    a.notes.extend(f.notes.iter().cloned());
    a.rows = Some(report(
        "cluster_customers",
        "Behavioural segment per customer",
        Columns::default()
            .text(
                "customer_id",
                f.ids.iter().map(|s| Some(s.clone())).collect(),
            )
            .text(
                "cluster",
                labels.iter().map(|l| Some(format!("C{}", l + 1))).collect(),
            )
            .batch(),
    ));
    Ok(a)
}

fn model_error(e: clientele_models::ModelError) -> AnalyticsError {
    AnalyticsError::Model(e.to_string())
}

/// Lifecycle stage of every customer who has bought, with the thresholds given.
pub async fn segment_lifecycle(
    engine: &Engine,
    as_of: Option<NaiveDate>,
    thresholds: &lifecycle::LifecycleThresholds,
) -> Result<Analysis, AnalyticsError> {
    let as_of = match as_of {
        Some(d) => d,
        None => default_as_of(engine).await?,
    };
    let f: CustomerFeatures = customer_features(engine, as_of, base_features()).await?;
    if f.ids.is_empty() {
        return Err(AnalyticsError::MissingData(format!(
            "no customer bought before {as_of}: there is nothing to classify"
        )));
    }
    let tenure = f.values("tenure_days", 0.0);
    let recency = f.values("recency_days", 0.0);
    let frequency = f.values("frequency", 0.0);
    let monetary = f.values("monetary", 0.0);
    let cutoff = lifecycle::high_value_cutoff(&monetary, thresholds.high_value_quantile);
    let clv = stored_clv(engine).await?;
    let p_alive = stored_column(engine, "p_alive").await?;
    let stages: Vec<lifecycle::Stage> = (0..f.ids.len())
        .map(|i| {
            lifecycle::classify_with_p_alive(
                tenure[i],
                recency[i],
                frequency[i] as u32,
                monetary[i],
                cutoff,
                p_alive.as_ref().and_then(|m| m.get(&f.ids[i]).copied()),
                thresholds,
            )
        })
        .collect();
    let all = lifecycle::Stage::ALL;
    let mut tally = SegmentTally::new(all.iter().map(|s| s.name().to_string()).collect());
    for (i, s) in stages.iter().enumerate() {
        let idx = all.iter().position(|x| x == s).expect("listed");
        tally.add(
            idx,
            monetary[i],
            frequency[i],
            clv.as_ref().and_then(|m| m.get(&f.ids[i]).copied()),
        );
    }
    let mut a = Analysis::new("lifecycle", &format!("Lifecycle stages as of {as_of}"));
    a.param("as_of", as_of);
    a.param("new_days", thresholds.new_days);
    a.param("active_days", thresholds.active_days);
    a.param("churned_days", thresholds.churned_days);
    a.param("loyal_orders", thresholds.loyal_orders);
    a.param("high_value_quantile", thresholds.high_value_quantile);
    a.table(
        "stages",
        &format!("Lifecycle stages as of {as_of}"),
        tally.columns("stage", clv.is_some()).batch(),
    );
    a.fact("as_of", as_of.to_string());
    a.fact("customers", f.ids.len());
    a.fact("high_value_cutoff", cutoff);
    if p_alive.is_some() {
        a.param("at_risk_p_alive", thresholds.at_risk_p_alive);
        a.notes.push(format!(
            "P(alive) from the stored CLV run also marks a customer at-risk below {}",
            thresholds.at_risk_p_alive
        ));
    } else {
        a.notes
            .push("run `clientele clv` first to flag at-risk customers by P(alive) too".into());
    }
    a.notes.push(format!(
        "thresholds: new = first purchase within {} days; churned = no purchase for more than {} days; at-risk = none within {} days; loyal = {}+ orders; high-value = total spend ≥ {:.2} (top {:.0} %)",
        thresholds.new_days,
        thresholds.churned_days,
        thresholds.active_days,
        thresholds.loyal_orders,
        cutoff,
        100.0 * (1.0 - thresholds.high_value_quantile)
    ));
    a.rows = Some(report(
        "lifecycle_customers",
        "Lifecycle stage per customer",
        Columns::default()
            .text(
                "customer_id",
                f.ids.iter().map(|s| Some(s.clone())).collect(),
            )
            .text(
                "lifecycle_stage",
                stages.iter().map(|s| Some(s.name().to_string())).collect(),
            )
            .batch(),
    ));
    Ok(a)
}
