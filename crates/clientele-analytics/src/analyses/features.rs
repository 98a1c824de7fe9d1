//! Per-customer features as of a date, from every table the workspace has: the shared input
//! of behavioural segments, lifecycle stages and churn models. Only data dated before the
//! as-of day is used, so a model trained on an earlier snapshot never sees its own future.
//!
//! Each feature has a key (column name), a phrase used when it explains a score ("days since
//! the last purchase"), and the table it needs; features whose table is missing are left out
//! and named in the notes.

use arrow::array::{Array, RecordBatch};
use chrono::NaiveDate;

use crate::util::{f64_col, sql_str, str_col};
use crate::{AnalyticsError, Engine};

/// One feature: column key, plain-words description, and the table it comes from.
#[derive(Debug, Clone)]
pub struct Feature {
    /// Column name in the feature table.
    pub key: String,
    /// What it measures, for explanations ("days since the last purchase").
    pub label: String,
}

/// Per-customer features: one row per customer who bought before the as-of day.
#[derive(Debug, Clone, Default)]
pub struct CustomerFeatures {
    /// Customer ids, in row order.
    pub ids: Vec<String>,
    /// The features, in column order.
    pub features: Vec<Feature>,
    /// Values by feature then row; `None` when undefined for the customer (e.g. no ticket
    /// to average a CSAT over).
    pub columns: Vec<Vec<Option<f64>>>,
    /// What could not be used and why.
    pub notes: Vec<String>,
}

impl CustomerFeatures {
    /// The column of a feature by key.
    pub fn column(&self, key: &str) -> Option<&[Option<f64>]> {
        self.features
            .iter()
            .position(|f| f.key == key)
            .map(|i| self.columns[i].as_slice())
    }

    /// A feature column with missing values as `default`.
    pub fn values(&self, key: &str, default: f64) -> Vec<f64> {
        self.column(key)
            .map(|c| c.iter().map(|v| v.unwrap_or(default)).collect())
            .unwrap_or_else(|| vec![default; self.ids.len()])
    }
}

/// Which optional feature groups to compute, and for whom.
#[derive(Debug, Clone, Copy, Default)]
pub struct FeatureSet {
    /// Revenue share per product category (needs order_items and products).
    pub category_mix: bool,
    /// Also the customers with a subscription started before the as-of day who have no sale
    /// before it (needs subscriptions): their order features are 0 (frequency, spend, orders
    /// in the last 90 days, trends) or missing (recency, tenure, average order value, gaps).
    pub subscribers: bool,
}

/// Day number (days since 1970-01-01) of a date, as used in the SQL below.
pub fn day_number(d: NaiveDate) -> i32 {
    clientele_schema::date_to_days(d)
}

/// Computes the features of every customer with a sale before `as_of` (exclusive) and, with
/// [`FeatureSet::subscribers`], every subscriber whose subscription started before it.
pub async fn customer_features(
    engine: &Engine,
    as_of: NaiveDate,
    set: FeatureSet,
) -> Result<CustomerFeatures, AnalyticsError> {
    if !engine.has_table("orders") {
        return Err(AnalyticsError::MissingData(
            "the workspace has no orders table; customer features start from orders".into(),
        ));
    }
    let s = day_number(as_of);
    let mut q = FeatureQuery {
        features: order_features(s),
        joins: String::new(),
        notes: Vec::new(),
        subscribers: set.subscribers && engine.has_table("subscriptions"),
    };
    returns(engine, &mut q);
    order_lines(engine, s, set, &mut q).await?;
    tickets(engine, s, &mut q);
    surveys(engine, s, &mut q);
    web_sessions(engine, s, &mut q);
    touchpoints(engine, s, &mut q);
    let batches = engine.query(&q.sql(s)).await?;
    Ok(to_features(&batches, q.features, q.notes))
}

/// The feature query as it is built: each feature's key, label and SQL expression (over the
/// per-customer order figures `b` and the joined tables), the joins those expressions read,
/// and what was left out.
struct FeatureQuery {
    features: Vec<(String, String, String)>,
    joins: String,
    notes: Vec<String>,
    /// Whether subscribers without a sale are rows too.
    subscribers: bool,
}

impl FeatureQuery {
    /// Left-joins a per-customer subquery as `name`.
    fn join(&mut self, name: &str, sql: String) {
        self.joins.push_str(&format!(
            "\nLEFT JOIN ({sql}) {name} ON {name}.customer_id = b.customer_id"
        ));
    }

    /// One row per customer with a sale before day `s` (and, with `subscribers`, per customer
    /// with a subscription started before it), the features as `f0`, `f1` … in order.
    fn sql(&self, s: i32) -> String {
        let select: Vec<String> = self
            .features
            .iter()
            .enumerate()
            .map(|(i, (_, _, e))| format!("{e} AS f{i}"))
            .collect();
        let joins = &self.joins;
        // Subscribers without a sale get zero counts and sums, and no days.
        let population = if self.subscribers {
            format!(
                ",
         pop AS (SELECT customer_id FROM bo
                 UNION SELECT customer_id FROM subscriptions WHERE CAST(started_at AS INT) < {s}),
         b AS (SELECT pop.customer_id, COALESCE(bo.orders, 0) AS orders, COALESCE(bo.days, 0) AS days,
                      COALESCE(bo.revenue, 0) AS revenue, bo.first_d, bo.last_d,
                      COALESCE(bo.orders_90, 0) AS orders_90, COALESCE(bo.orders_prev_90, 0) AS orders_prev_90,
                      COALESCE(bo.revenue_365, 0) AS revenue_365, COALESCE(bo.revenue_prev_365, 0) AS revenue_prev_365
               FROM pop LEFT JOIN bo ON bo.customer_id = pop.customer_id)"
            )
        } else {
            ",
         b AS (SELECT * FROM bo)"
                .to_string()
        };
        format!(
            "WITH o AS (SELECT customer_id, CAST(order_date AS INT) AS d, total_amount AS amt FROM sales
                    WHERE customer_id IS NOT NULL AND CAST(order_date AS INT) < {s}),
         bo AS (SELECT customer_id, COUNT(*) AS orders, COUNT(DISTINCT d) AS days, SUM(amt) AS revenue,
                      MIN(d) AS first_d, MAX(d) AS last_d,
                      SUM(CASE WHEN d >= {s} - 90 THEN 1 ELSE 0 END) AS orders_90,
                      SUM(CASE WHEN d >= {s} - 180 AND d < {s} - 90 THEN 1 ELSE 0 END) AS orders_prev_90,
                      SUM(CASE WHEN d >= {s} - 365 THEN amt ELSE 0 END) AS revenue_365,
                      SUM(CASE WHEN d >= {s} - 730 AND d < {s} - 365 THEN amt ELSE 0 END) AS revenue_prev_365
               FROM o GROUP BY customer_id){population}
         SELECT b.customer_id, {} FROM b{joins}
         ORDER BY b.customer_id",
            select.join(", ")
        )
    }
}

/// Recency, frequency, spend, tenure and trends: the features every customer with orders has.
fn order_features(s: i32) -> Vec<(String, String, String)> {
    vec![
        (
            "recency_days".into(),
            "days since the last purchase".into(),
            format!("CAST({s} - b.last_d AS DOUBLE)"),
        ),
        (
            "frequency".into(),
            "number of orders".into(),
            "CAST(b.orders AS DOUBLE)".into(),
        ),
        ("monetary".into(), "total spend".into(), "b.revenue".into()),
        (
            "tenure_days".into(),
            "days since the first purchase".into(),
            format!("CAST({s} - b.first_d AS DOUBLE)"),
        ),
        (
            "average_order_value".into(),
            "average order value".into(),
            "b.revenue / NULLIF(b.orders, 0)".into(),
        ),
        (
            "mean_days_between_orders".into(),
            "average days between orders".into(),
            "CASE WHEN b.days > 1 THEN CAST(b.last_d - b.first_d AS DOUBLE) / (b.days - 1) END"
                .into(),
        ),
        (
            "overdue_ratio".into(),
            "days since the last purchase in multiples of the usual gap between orders".into(),
            format!(
                "CASE WHEN b.days > 1 AND b.last_d > b.first_d THEN CAST({s} - b.last_d AS DOUBLE) * (b.days - 1) / (b.last_d - b.first_d) END"
            ),
        ),
        (
            "orders_last_90d".into(),
            "orders in the last 90 days".into(),
            "CAST(b.orders_90 AS DOUBLE)".into(),
        ),
        (
            "order_trend_90d".into(),
            "orders in the last 90 days minus the 90 days before".into(),
            "CAST(b.orders_90 - b.orders_prev_90 AS DOUBLE)".into(),
        ),
        (
            "revenue_trend_365d".into(),
            "spend in the last year minus the year before".into(),
            "b.revenue_365 - b.revenue_prev_365".into(),
        ),
    ]
}

/// The share of orders returned is not a feature: an order's status is today's, and the data
/// has no date for it, so at an earlier as-of day it would count returns made after that
/// day (and tell a churn model about its own future). Said in the notes when orders have a
/// status.
fn returns(engine: &Engine, q: &mut FeatureQuery) {
    if engine.has_column("orders", "status") {
        q.notes.push(
            "return_rate not used: orders have no date for their status, so today's status would count returns made after the as-of day"
                .into(),
        );
    }
}

/// Average discount and, when asked, the share of spend per top category (needs order lines;
/// the categories also need products).
async fn order_lines(
    engine: &Engine,
    s: i32,
    set: FeatureSet,
    q: &mut FeatureQuery,
) -> Result<(), AnalyticsError> {
    if engine.has_table("order_items") {
        q.join(
            "disc",
            format!(
                "SELECT customer_id, AVG(discount) AS avg_discount
                 FROM sales_lines WHERE CAST(order_date AS INT) < {s} GROUP BY customer_id"
            ),
        );
        q.features.push((
            "average_discount".into(),
            "average discount taken".into(),
            "disc.avg_discount".into(),
        ));
        if set.category_mix && engine.has_table("products") {
            let cats = engine
                .query(
                    "SELECT p.category, SUM(l.line_amount) AS r FROM sales_lines l JOIN products p ON l.product_id = p.product_id
                     WHERE p.category IS NOT NULL GROUP BY p.category ORDER BY r DESC, p.category LIMIT 8",
                )
                .await?;
            let mut cols = Vec::new();
            for b in &cats {
                let c = str_col(b, "category");
                for i in 0..c.len() {
                    cols.push(c.value(i).to_string());
                }
            }
            if !cols.is_empty() {
                let shares: Vec<String> = cols
                    .iter()
                    .enumerate()
                    .map(|(i, c)| {
                        format!(
                            "SUM(CASE WHEN p.category = {} THEN l.line_amount ELSE 0 END) / NULLIF(SUM(l.line_amount), 0) AS c{i}",
                            sql_str(c)
                        )
                    })
                    .collect();
                q.join(
                    "mix",
                    format!(
                        "SELECT l.customer_id, {} FROM sales_lines l JOIN products p ON l.product_id = p.product_id
                         WHERE CAST(l.order_date AS INT) < {s} GROUP BY l.customer_id",
                        shares.join(", ")
                    ),
                );
                for (i, c) in cols.iter().enumerate() {
                    let key = format!(
                        "share_{}",
                        clientele_schema::normalize_column_name(c).replace(' ', "_")
                    );
                    q.features
                        .push((key, format!("share of spend on {c}"), format!("mix.c{i}")));
                }
            }
        } else if set.category_mix {
            q.notes
                .push("no products table: category mix not used".into());
        }
    } else {
        q.notes
            .push("no order_items table: discounts and category mix not used".into());
    }
    Ok(())
}

/// Support tickets in the last year and the average CSAT. A CSAT score is given when its
/// ticket is resolved, so it counts only for tickets resolved before the as-of day; without
/// `resolved_at` there is no telling when it was given, and it is not used.
fn tickets(engine: &Engine, s: i32, q: &mut FeatureQuery) {
    if engine.has_table("tickets") {
        let dated_csat =
            engine.has_column("tickets", "csat") && engine.has_column("tickets", "resolved_at");
        let csat = if dated_csat {
            format!(
                "AVG(CASE WHEN CAST(CAST(resolved_at AS DATE) AS INT) < {s} THEN CAST(csat AS DOUBLE) END)"
            )
        } else {
            "CAST(NULL AS DOUBLE)".to_string()
        };
        q.join(
            "tk",
            format!(
                "SELECT customer_id,
                        SUM(CASE WHEN CAST(CAST(opened_at AS DATE) AS INT) >= {s} - 365 THEN 1 ELSE 0 END) AS tickets_365,
                        {csat} AS csat
                 FROM tickets WHERE CAST(CAST(opened_at AS DATE) AS INT) < {s} GROUP BY customer_id"
            ),
        );
        q.features.push((
            "tickets_last_year".into(),
            "support tickets in the last year".into(),
            "CAST(COALESCE(tk.tickets_365, 0) AS DOUBLE)".into(),
        ));
        if dated_csat {
            q.features.push((
                "average_csat".into(),
                "average satisfaction with support (CSAT)".into(),
                "tk.csat".into(),
            ));
        } else if engine.has_column("tickets", "csat") {
            q.notes.push(
                "average_csat not used: tickets have no resolved_at, so there is no telling whether a score was given before the as-of day"
                    .into(),
            );
        }
    } else {
        q.notes
            .push("no tickets table: support history not used".into());
    }
}

/// The average NPS answer.
fn surveys(engine: &Engine, s: i32, q: &mut FeatureQuery) {
    if engine.has_table("surveys") && engine.has_column("surveys", "nps") {
        q.join(
            "sv",
            format!(
                "SELECT customer_id, AVG(CAST(nps AS DOUBLE)) AS nps FROM surveys
                 WHERE CAST(CAST(responded_at AS DATE) AS INT) < {s} GROUP BY customer_id"
            ),
        );
        q.features.push((
            "nps_score".into(),
            "likelihood-to-recommend score (NPS answer)".into(),
            "sv.nps".into(),
        ));
    } else {
        q.notes
            .push("no surveys with NPS: satisfaction surveys not used".into());
    }
}

/// Web visits in the last 90 days and their trend.
fn web_sessions(engine: &Engine, s: i32, q: &mut FeatureQuery) {
    if engine.has_table("web_sessions") {
        q.join(
            "ws",
            format!(
                "SELECT customer_id,
                        SUM(CASE WHEN d >= {s} - 90 THEN 1 ELSE 0 END) AS s90,
                        SUM(CASE WHEN d >= {s} - 180 AND d < {s} - 90 THEN 1 ELSE 0 END) AS sprev
                 FROM (SELECT customer_id, CAST(CAST(started_at AS DATE) AS INT) AS d FROM web_sessions)
                 WHERE d < {s} AND d >= {s} - 180 GROUP BY customer_id"
            ),
        );
        q.features.push((
            "web_sessions_90d".into(),
            "web visits in the last 90 days".into(),
            "CAST(COALESCE(ws.s90, 0) AS DOUBLE)".into(),
        ));
        q.features.push((
            "web_sessions_trend".into(),
            "web visits in the last 90 days minus the 90 days before".into(),
            "CAST(COALESCE(ws.s90, 0) - COALESCE(ws.sprev, 0) AS DOUBLE)".into(),
        ));
    } else {
        q.notes
            .push("no web_sessions table: web engagement not used".into());
    }
}

/// E-mail opens, clicks and unsubscribing.
fn touchpoints(engine: &Engine, s: i32, q: &mut FeatureQuery) {
    if engine.has_table("touchpoints") && engine.has_column("touchpoints", "kind") {
        q.join(
            "tp",
            format!(
                "SELECT customer_id,
                        SUM(CASE WHEN kind = 'email_open' AND d >= {s} - 180 THEN 1 ELSE 0 END) AS opens,
                        SUM(CASE WHEN kind = 'click' AND d >= {s} - 180 THEN 1 ELSE 0 END) AS clicks,
                        MAX(CASE WHEN kind = 'unsubscribe' THEN 1 ELSE 0 END) AS unsub
                 FROM (SELECT customer_id, kind, CAST(CAST(occurred_at AS DATE) AS INT) AS d FROM touchpoints)
                 WHERE d < {s} GROUP BY customer_id"
            ),
        );
        for (key, label, expr) in [
            (
                "email_opens_180d",
                "e-mails opened in the last 180 days",
                "tp.opens",
            ),
            (
                "clicks_180d",
                "campaign clicks in the last 180 days",
                "tp.clicks",
            ),
            ("unsubscribed", "unsubscribed from e-mail", "tp.unsub"),
        ] {
            q.features.push((
                key.into(),
                label.into(),
                format!("CAST(COALESCE({expr}, 0) AS DOUBLE)"),
            ));
        }
    } else {
        q.notes
            .push("no touchpoints with a kind: e-mail engagement not used".into());
    }
}

fn to_features(
    batches: &[RecordBatch],
    defs: Vec<(String, String, String)>,
    notes: Vec<String>,
) -> CustomerFeatures {
    let n: usize = batches.iter().map(|b| b.num_rows()).sum();
    let mut ids = Vec::with_capacity(n);
    let mut columns = vec![Vec::with_capacity(n); defs.len()];
    for b in batches {
        let id = str_col(b, "customer_id");
        for i in 0..id.len() {
            ids.push(id.value(i).to_string());
        }
        for (j, col) in columns.iter_mut().enumerate() {
            let a = f64_col(b, &format!("f{j}"));
            col.extend((0..a.len()).map(|i| {
                (!a.is_null(i))
                    .then(|| a.value(i))
                    .filter(|v| v.is_finite())
            }));
        }
    }
    CustomerFeatures {
        ids,
        features: defs
            .into_iter()
            .map(|(key, label, _)| Feature { key, label })
            .collect(),
        columns,
        notes,
    }
}
