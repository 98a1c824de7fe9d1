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

use crate::analyses::features::FeatureSet;
use crate::util::{Columns, f64_col, str_col};
use crate::{AnalyticsError, Engine};

pub mod behavioural;
pub mod demographic;
pub mod lifecycle;
pub mod rfm;

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
pub(super) async fn stored_clv(
    engine: &Engine,
) -> Result<Option<BTreeMap<String, f64>>, AnalyticsError> {
    stored_column(engine, "clv").await
}

/// A numeric column of the stored CLV results per customer, when a `clv` run is stored.
pub(super) async fn stored_column(
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

pub(super) fn base_features() -> FeatureSet {
    FeatureSet::default()
}

/// Segment summary columns shared by every scheme: size and shares of customers and revenue,
/// average order value and, when a CLV run is stored, average CLV.
pub(super) struct SegmentTally {
    names: Vec<String>,
    customers: Vec<f64>,
    revenue: Vec<f64>,
    orders: Vec<f64>,
    clv_sum: Vec<f64>,
    clv_n: Vec<f64>,
}

impl SegmentTally {
    pub(super) fn new(names: Vec<String>) -> Self {
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

    pub(super) fn add(&mut self, seg: usize, revenue: f64, orders: f64, clv: Option<f64>) {
        self.customers[seg] += 1.0;
        self.revenue[seg] += revenue;
        self.orders[seg] += orders;
        if let Some(c) = clv {
            self.clv_sum[seg] += c;
            self.clv_n[seg] += 1.0;
        }
    }

    pub(super) fn columns(&self, label: &str, with_clv: bool) -> Columns {
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

pub use behavioural::{Behavioural, BehaviouralOptions, segment_behavioural};
pub(crate) use demographic::age_band_sql;
pub use demographic::{
    DEMOGRAPHIC_DIMENSIONS, Demographic, DemographicDimension, DemographicOptions,
    segment_demographic,
};
pub use lifecycle::{Lifecycle, LifecycleOptions, segment_lifecycle};
pub use rfm::{Rfm, RfmOptions, segment_rfm};
