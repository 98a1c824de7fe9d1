//! The sales report: revenue, orders, units and customers by a dimension, each group's share
//! of revenue and its growth against the previous period (or, over time, the bucket before).

use std::str::FromStr;

use crate::{AnalyticsError, Engine, Period, Report};

/// What the sales report groups by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SalesBy {
    /// Product (needs order_items).
    Product,
    /// Product category (needs order_items and products).
    Category,
    /// Order region, else the customer's region.
    Region,
    /// Sales rep of the order.
    Rep,
    /// Sales channel of the order.
    Channel,
    /// Calendar day.
    Day,
    /// ISO week, starting Monday.
    Week,
    /// Calendar month.
    Month,
    /// Calendar quarter.
    Quarter,
}

/// The accepted `--by` values, for messages.
pub const SALES_DIMENSIONS: &str =
    "product, category, region, rep, channel, day, week, month, quarter";

impl FromStr for SalesBy {
    type Err = AnalyticsError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.trim().to_ascii_lowercase().as_str() {
            "product" => SalesBy::Product,
            "category" => SalesBy::Category,
            "region" => SalesBy::Region,
            "rep" | "sales_rep" => SalesBy::Rep,
            "channel" => SalesBy::Channel,
            "day" => SalesBy::Day,
            "week" => SalesBy::Week,
            "month" => SalesBy::Month,
            "quarter" => SalesBy::Quarter,
            other => {
                return Err(AnalyticsError::Usage(format!(
                    "unknown dimension '{other}' for the sales report: expected one of {SALES_DIMENSIONS}"
                )));
            }
        })
    }
}

impl SalesBy {
    /// Whether the dimension is time (growth is then against the previous bucket).
    pub fn is_time(self) -> bool {
        matches!(
            self,
            SalesBy::Day | SalesBy::Week | SalesBy::Month | SalesBy::Quarter
        )
    }

    fn time_unit(self) -> &'static str {
        match self {
            SalesBy::Day => "day",
            SalesBy::Week => "week",
            SalesBy::Month => "month",
            _ => "quarter",
        }
    }
}

/// The trailing twelve months up to the latest order: the default span of a sales trend.
pub async fn trailing_year(engine: &Engine) -> Result<Period, AnalyticsError> {
    let latest = crate::util::latest_order_date(engine)
        .await?
        .ok_or_else(|| {
            AnalyticsError::MissingData("there are no orders; nothing to report".into())
        })?;
    use chrono::Datelike;
    let first = chrono::NaiveDate::from_ymd_opt(latest.year(), latest.month(), 1)
        .expect("month start")
        - chrono::Months::new(11);
    Period::custom(first, latest)
}

/// Sales by `by` in `period`. Order-level dimensions count each completed order's
/// total_amount; product and category count line amounts (quantity × price × (1 − discount)),
/// which can differ from order totals when an export's totals include shipping or tax.
pub async fn sales(
    engine: &Engine,
    period: &Period,
    by: SalesBy,
) -> Result<Report, AnalyticsError> {
    if !engine.has_table("orders") {
        return Err(AnalyticsError::MissingData(
            "the sales report needs the orders table, and the workspace has none".into(),
        ));
    }
    let mut notes = Vec::new();
    let prev = period.previous();
    let span_from = if by.is_time() { period.from } else { prev.from };
    let window = format!(
        "order_date BETWEEN DATE '{span_from}' AND DATE '{}'",
        period.to
    );
    let item_dim = matches!(by, SalesBy::Product | SalesBy::Category);
    if item_dim && !engine.has_table("order_items") {
        return Err(AnalyticsError::MissingData(format!(
            "sales by {} needs the order_items table, and the workspace has none; try --by region or --by month",
            if by == SalesBy::Product {
                "product"
            } else {
                "category"
            }
        )));
    }
    if by == SalesBy::Category && !engine.has_table("products") {
        return Err(AnalyticsError::MissingData(
            "sales by category needs the products table, and the workspace has none".into(),
        ));
    }
    let has_products = engine.has_table("products");
    // (key expression, extra label columns, joins, base source)
    let (labels, base): (Vec<(&str, String)>, String) = if item_dim {
        let join = if has_products {
            "LEFT JOIN products p ON l.product_id = p.product_id"
        } else {
            ""
        };
        let (key, label_sel, labels) = match by {
            SalesBy::Product if has_products => (
                "l.product_id",
                ", p.name AS product_name, p.category AS category",
                vec!["product_name", "category"],
            ),
            SalesBy::Product => ("l.product_id", "", vec![]),
            _ => ("p.category", "", vec![]),
        };
        let base = format!(
            "SELECT l.order_id, l.customer_id, l.order_date, l.line_amount AS amount, CAST(l.quantity AS DOUBLE) AS units, {key} AS k{label_sel}
             FROM sales_lines l {join} WHERE {window}"
        );
        (
            labels.iter().map(|n| (*n, format!("MAX({n})"))).collect(),
            base,
        )
    } else {
        let units = if engine.has_table("order_items") {
            "LEFT JOIN (SELECT order_id, CAST(SUM(quantity) AS DOUBLE) AS units FROM order_items GROUP BY order_id) u ON s.order_id = u.order_id"
        } else {
            notes.push("no order_items table: units are not available".into());
            ""
        };
        let units_col = if units.is_empty() {
            "CAST(NULL AS DOUBLE)"
        } else {
            "u.units"
        };
        let mut joins = units.to_string();
        let mut labels = vec![];
        let key = match by {
            SalesBy::Region if engine.has_table("customers") => {
                joins.push_str(" LEFT JOIN customers c ON s.customer_id = c.customer_id");
                "COALESCE(s.region, c.region)".to_string()
            }
            SalesBy::Region => "s.region".to_string(),
            SalesBy::Rep => {
                if engine.has_table("sales_reps") {
                    joins.push_str(" LEFT JOIN sales_reps r ON s.sales_rep_id = r.sales_rep_id");
                    labels.push(("rep_name", "r.name".to_string()));
                    labels.push(("rep_region", "r.region".to_string()));
                }
                "s.sales_rep_id".to_string()
            }
            SalesBy::Channel => "s.channel".to_string(),
            _ => format!(
                "CAST(date_trunc('{}', s.order_date) AS DATE)",
                by.time_unit()
            ),
        };
        let label_sel: String = labels
            .iter()
            .map(|(n, e)| format!(", {e} AS {n}"))
            .collect();
        let base = format!(
            "SELECT s.order_id, s.customer_id, s.order_date, s.total_amount AS amount, {units_col} AS units, {key} AS k{label_sel}
             FROM sales s {joins} WHERE s.{window}"
        );
        (
            labels
                .iter()
                .map(|(n, _)| (*n, format!("MAX({n})")))
                .collect(),
            base,
        )
    };
    let label_aggs: String = labels
        .iter()
        .map(|(n, agg)| format!(", {agg} AS {n}"))
        .collect();
    let label_out: String = labels.iter().map(|(n, _)| format!(", cur.{n}")).collect();
    // Order ids are unique (ingest rejects duplicates), so an order-level row is one order;
    // only line-level rows need a distinct count.
    let orders = if item_dim {
        "COUNT(DISTINCT order_id)"
    } else {
        "COUNT(*)"
    };
    let agg = |pred: &str| {
        format!(
            "SELECT k, SUM(amount) AS revenue, {orders} AS orders, SUM(units) AS units,
                    COUNT(DISTINCT customer_id) AS customers{label_aggs}
             FROM base WHERE {pred} GROUP BY k"
        )
    };
    let dim_name = match by {
        SalesBy::Product => "product_id",
        SalesBy::Category => "category",
        SalesBy::Region => "region",
        SalesBy::Rep => "sales_rep_id",
        SalesBy::Channel => "channel",
        _ => "period",
    };
    let sql = if by.is_time() {
        let unit = by.time_unit();
        let label = match by {
            SalesBy::Month => "to_char(cur.k, '%Y-%m')".to_string(),
            SalesBy::Quarter => {
                "concat(to_char(cur.k, '%Y'), '-Q', CAST(date_part('quarter', cur.k) AS INT))"
                    .to_string()
            }
            _ => "to_char(cur.k, '%Y-%m-%d')".to_string(),
        };
        format!(
            "WITH base AS ({base}), cur AS ({cur})
             SELECT {label} AS period, cur.revenue, cur.orders, cur.units, cur.customers,
                    cur.revenue / SUM(cur.revenue) OVER () AS share,
                    prev.revenue AS previous_revenue,
                    CASE WHEN prev.revenue > 0 THEN (cur.revenue - prev.revenue) / prev.revenue END AS growth
             FROM cur LEFT JOIN cur prev ON prev.k = CAST(date_trunc('{unit}', cur.k - INTERVAL '1 {unit}') AS DATE)
             ORDER BY cur.k",
            cur = agg("TRUE"),
        )
    } else {
        format!(
            "WITH base AS ({base}), cur AS ({cur}), prev AS ({prv})
             SELECT COALESCE(cur.k, prev.k, '(none)') AS {dim_name}{label_out},
                    COALESCE(cur.revenue, 0) AS revenue, COALESCE(cur.orders, 0) AS orders, cur.units,
                    COALESCE(cur.customers, 0) AS customers,
                    COALESCE(cur.revenue, 0) / NULLIF(SUM(COALESCE(cur.revenue, 0)) OVER (), 0) AS share,
                    prev.revenue AS previous_revenue,
                    CASE WHEN prev.revenue > 0 THEN (COALESCE(cur.revenue, 0) - prev.revenue) / prev.revenue END AS growth
             FROM cur FULL OUTER JOIN prev ON cur.k IS NOT DISTINCT FROM prev.k
             ORDER BY revenue DESC, 1",
            cur = agg(&period.contains_date("order_date")),
            prv = agg(&prev.contains_date("order_date")),
        )
    };
    let df = engine.sql(&sql).await?;
    let schema = std::sync::Arc::new(df.schema().as_arrow().clone());
    let batches = engine.collect(df).await?;
    if batches.iter().all(|b| b.num_rows() == 0) {
        notes.push(format!(
            "no completed orders between {} and {}",
            span_from, period.to
        ));
    }
    let dim = format!("{by:?}").to_lowercase();
    Ok(Report {
        name: "sales".into(),
        title: format!("Sales by {dim}"),
        period: Some(period.clone()),
        previous: (!by.is_time()).then_some(prev),
        notes,
        batches,
        schema,
    })
}
