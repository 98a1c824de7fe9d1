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
    /// The customer (for drill-down to the customers behind a region, rep or channel).
    Customer,
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
    "product, category, region, rep, channel, customer, day, week, month, quarter";

impl FromStr for SalesBy {
    type Err = AnalyticsError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.trim().to_ascii_lowercase().as_str() {
            "product" => SalesBy::Product,
            "category" => SalesBy::Category,
            "region" => SalesBy::Region,
            "rep" | "sales_rep" => SalesBy::Rep,
            "channel" => SalesBy::Channel,
            "customer" | "customer_id" => SalesBy::Customer,
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

    /// The dimension's name as the API and `--by` spell it.
    pub fn name(self) -> &'static str {
        match self {
            SalesBy::Product => "product",
            SalesBy::Category => "category",
            SalesBy::Region => "region",
            SalesBy::Rep => "rep",
            SalesBy::Channel => "channel",
            SalesBy::Customer => "customer",
            SalesBy::Day => "day",
            SalesBy::Week => "week",
            SalesBy::Month => "month",
            SalesBy::Quarter => "quarter",
        }
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

/// One drill-down filter of the sales report: only sales whose `dimension` equals `value`
/// (e.g. region = "North"). Time dimensions cannot be filters (use the period).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SalesFilter {
    /// The dimension filtered on.
    pub dimension: SalesBy,
    /// The value it must have (as shown in the report's first column).
    pub value: String,
}

/// Sales by `by` in `period`. Order-level dimensions count each completed order's
/// total_amount; product and category count line amounts (quantity × price × (1 − discount)),
/// which can differ from order totals when an export's totals include shipping or tax.
pub async fn sales(
    engine: &Engine,
    period: &Period,
    by: SalesBy,
) -> Result<Report, AnalyticsError> {
    sales_filtered(engine, period, by, &[]).await
}

/// [`sales`] restricted to the rows matching every filter: the drill-down (region → rep →
/// customer, category → product). A product or category filter makes every amount a line
/// amount, so that "region North within category Books" counts only the books.
pub async fn sales_filtered(
    engine: &Engine,
    period: &Period,
    by: SalesBy,
    filters: &[SalesFilter],
) -> Result<Report, AnalyticsError> {
    if !engine.has_table("orders") {
        return Err(AnalyticsError::MissingData(
            "the sales report needs the orders table, and the workspace has none".into(),
        ));
    }
    let mut notes = Vec::new();
    let prev = period.previous();
    let q = SalesQuery {
        period,
        prev: &prev,
        by,
        filters,
        item_level: check_tables(engine, by, filters)?,
        has_products: engine.has_table("products"),
        has_customers: engine.has_table("customers"),
        span_from: if by.is_time() { period.from } else { prev.from },
    };
    let (base, labels) = q.base(engine, &mut notes);
    if !filters.is_empty() {
        notes.push(format!(
            "only sales with {}",
            filters
                .iter()
                .map(|f| format!("{} = {}", f.dimension.name(), f.value))
                .collect::<Vec<_>>()
                .join(" and ")
        ));
    }
    let sql = q.report_sql(&base, &labels);
    let df = engine.sql(&sql).await?;
    let schema = std::sync::Arc::new(df.schema().as_arrow().clone());
    let batches = engine.collect(df).await?;
    if batches.iter().all(|b| b.num_rows() == 0) {
        notes.push(format!(
            "no completed orders between {} and {}",
            q.span_from, period.to
        ));
    }
    let dim = by.name();
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

/// Whether product and category count line amounts.
fn is_item(d: SalesBy) -> bool {
    matches!(d, SalesBy::Product | SalesBy::Category)
}

/// Rejects time filters and dimensions whose tables are missing; whether the report reads
/// order lines (grouped or filtered by product or category).
fn check_tables(
    engine: &Engine,
    by: SalesBy,
    filters: &[SalesFilter],
) -> Result<bool, AnalyticsError> {
    let item_level = is_item(by) || filters.iter().any(|f| is_item(f.dimension));
    let needs_items = |d: SalesBy| {
        if d == SalesBy::Product {
            "product"
        } else {
            "category"
        }
    };
    if let Some(f) = filters.iter().find(|f| f.dimension.is_time()) {
        return Err(AnalyticsError::Usage(format!(
            "cannot filter the sales report on {:?}: choose the period instead",
            f.dimension
        )));
    }
    if item_level && !engine.has_table("order_items") {
        let d = if is_item(by) {
            by
        } else {
            filters
                .iter()
                .map(|f| f.dimension)
                .find(|d| is_item(*d))
                .unwrap_or(by)
        };
        return Err(AnalyticsError::MissingData(format!(
            "sales by {} needs the order_items table, and the workspace has none; group by region or by month instead",
            needs_items(d)
        )));
    }
    let wants_category =
        by == SalesBy::Category || filters.iter().any(|f| f.dimension == SalesBy::Category);
    if wants_category && !engine.has_table("products") {
        return Err(AnalyticsError::MissingData(
            "sales by category needs the products table, and the workspace has none".into(),
        ));
    }
    Ok(item_level)
}

/// One sales report's query: what was asked, and how its rows are read.
struct SalesQuery<'a> {
    period: &'a Period,
    prev: &'a Period,
    by: SalesBy,
    filters: &'a [SalesFilter],
    /// Rows are order lines (`sales_lines l`) rather than orders (`sales s`).
    item_level: bool,
    has_products: bool,
    has_customers: bool,
    /// First day read: the previous period's when growth is against it, else the period's.
    span_from: chrono::NaiveDate,
}

impl SalesQuery<'_> {
    /// The alias of the rows read.
    fn alias(&self) -> &'static str {
        if self.item_level { "l" } else { "s" }
    }

    /// The SQL expression of a dimension's value on a row.
    fn key(&self, d: SalesBy) -> String {
        let a = self.alias();
        match d {
            SalesBy::Product => "l.product_id".into(),
            SalesBy::Category => "p.category".into(),
            SalesBy::Region => {
                let own = if self.item_level {
                    "l.order_region"
                } else {
                    "s.region"
                };
                if self.has_customers {
                    format!("COALESCE({own}, c.region)")
                } else {
                    own.into()
                }
            }
            SalesBy::Rep => format!("{a}.sales_rep_id"),
            SalesBy::Channel => format!("{a}.channel"),
            SalesBy::Customer => format!("{a}.customer_id"),
            _ => format!(
                "CAST(date_trunc('{}', {a}.order_date) AS DATE)",
                self.by.time_unit()
            ),
        }
    }

    /// The label columns shown beside the grouped key (names and their expressions), with
    /// the join they need added to `joins`.
    fn labels(&self, engine: &Engine, joins: &mut String) -> Vec<(&'static str, String)> {
        let a = self.alias();
        let mut labels: Vec<(&str, String)> = Vec::new();
        match self.by {
            SalesBy::Product if self.has_products => {
                labels.push(("product_name", "p.name".into()));
                labels.push(("category", "p.category".into()));
            }
            SalesBy::Rep if engine.has_table("sales_reps") => {
                joins.push_str(&format!(
                    " LEFT JOIN sales_reps r ON {a}.sales_rep_id = r.sales_rep_id"
                ));
                labels.push(("rep_name", "r.name".into()));
                labels.push(("rep_region", "r.region".into()));
            }
            SalesBy::Customer if self.has_customers => {
                labels.push((
                    "customer_name",
                    "concat_ws(' ', c.first_name, c.last_name)".into(),
                ));
                labels.push(("customer_region", "c.region".into()));
            }
            _ => {}
        }
        labels
    }

    /// The rows of the span, filtered, as `base` (order id, customer, day, amount, units, the
    /// key `k` and the labels), and the label names.
    fn base(&self, engine: &Engine, notes: &mut Vec<String>) -> (String, Vec<&'static str>) {
        let (a, item_level) = (self.alias(), self.item_level);
        let mut joins = String::new();
        if item_level && self.has_products {
            joins.push_str(" LEFT JOIN products p ON l.product_id = p.product_id");
        }
        if self.has_customers {
            joins.push_str(&format!(
                " LEFT JOIN customers c ON {a}.customer_id = c.customer_id"
            ));
        }
        let labels = self.labels(engine, &mut joins);
        let (amount, units, mut units_join) = if item_level {
            (
                "l.line_amount",
                "CAST(l.quantity AS DOUBLE)".to_string(),
                String::new(),
            )
        } else if engine.has_table("order_items") {
            (
                "s.total_amount",
                "u.units".to_string(),
                " LEFT JOIN (SELECT order_id, CAST(SUM(quantity) AS DOUBLE) AS units FROM order_items GROUP BY order_id) u ON s.order_id = u.order_id".to_string(),
            )
        } else {
            notes.push("no order_items table: units are not available".into());
            (
                "s.total_amount",
                "CAST(NULL AS DOUBLE)".to_string(),
                String::new(),
            )
        };
        units_join.push_str(&joins);
        let mut conditions = vec![format!(
            "{a}.order_date BETWEEN DATE '{}' AND DATE '{}'",
            self.span_from, self.period.to
        )];
        for f in self.filters {
            let key = self.key(f.dimension);
            if f.value == "(none)" {
                conditions.push(format!("{key} IS NULL"));
            } else {
                conditions.push(format!(
                    "CAST({key} AS VARCHAR) = {}",
                    crate::util::sql_str(&f.value)
                ));
            }
        }
        let label_sel: String = labels
            .iter()
            .map(|(n, e)| format!(", {e} AS {n}"))
            .collect();
        let source = if item_level {
            "sales_lines l"
        } else {
            "sales s"
        };
        let base = format!(
            "SELECT {a}.order_id, {a}.customer_id, {a}.order_date, {amount} AS amount, {units} AS units, {key} AS k{label_sel}
         FROM {source}{units_join} WHERE {cond}",
            key = self.key(self.by),
            cond = conditions.join(" AND "),
        );
        (base, labels.iter().map(|(n, _)| *n).collect())
    }

    /// The report over `base`: per group of the period with its share and growth against the
    /// previous period, or per time bucket with growth against the bucket before.
    fn report_sql(&self, base: &str, labels: &[&str]) -> String {
        let (by, period, prev) = (self.by, self.period, self.prev);
        let labels: Vec<(&str, String)> =
            labels.iter().map(|n| (*n, format!("MAX({n})"))).collect();
        let label_aggs: String = labels
            .iter()
            .map(|(n, agg)| format!(", {agg} AS {n}"))
            .collect();
        let label_out: String = labels.iter().map(|(n, _)| format!(", cur.{n}")).collect();
        // Order ids are unique (ingest rejects duplicates), so an order-level row is one order;
        // only line-level rows need a distinct count.
        let orders = if self.item_level {
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
            SalesBy::Customer => "customer_id",
            _ => "period",
        };
        if by.is_time() {
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
        }
    }
}
