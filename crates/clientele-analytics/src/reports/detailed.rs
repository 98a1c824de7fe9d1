//! The detailed report: transaction-level rows (one per order line, or per order when there
//! are no order items) with the customer's and product's details, for a period. Large
//! results are streamed by the caller from [`detailed_frame`]; [`detailed`] returns a page.

use datafusion::dataframe::DataFrame;

use crate::{AnalyticsError, Engine, Period, Report};

/// Paging of the detailed report.
#[derive(Debug, Clone, Copy, Default)]
pub struct DetailedOptions {
    /// Rows to return at most (`None`: all).
    pub limit: Option<usize>,
    /// Rows to skip first.
    pub offset: usize,
}

/// The query behind the detailed report, unpaged, ordered by date, order and product. Every
/// order of the period is included whatever its status (the `status` column tells).
pub async fn detailed_frame(engine: &Engine, period: &Period) -> Result<DataFrame, AnalyticsError> {
    if !engine.has_table("orders") {
        return Err(AnalyticsError::MissingData(
            "the detailed report needs the orders table, and the workspace has none".into(),
        ));
    }
    let customers = engine.has_table("customers");
    let items = engine.has_table("order_items");
    let products = items && engine.has_table("products");
    let mut cols = vec!["o.order_id", "o.order_date", "o.status", "o.customer_id"];
    let mut joins = String::new();
    if customers {
        cols.push("concat_ws(' ', c.first_name, c.last_name) AS customer_name");
        cols.push("c.email");
        cols.push("COALESCE(o.region, c.region) AS region");
        joins.push_str(" LEFT JOIN customers c ON o.customer_id = c.customer_id");
    } else {
        cols.push("o.region");
    }
    cols.extend(["o.channel", "o.sales_rep_id", "o.campaign_id"]);
    if items {
        joins.push_str(" LEFT JOIN order_items i ON o.order_id = i.order_id");
        cols.push("i.product_id");
        let price = if products {
            joins.push_str(" LEFT JOIN products p ON i.product_id = p.product_id");
            cols.push("p.name AS product_name");
            cols.push("p.category");
            "COALESCE(i.unit_price, p.unit_price)"
        } else {
            "i.unit_price"
        };
        cols.push("i.quantity");
        let unit_price = format!("{price} AS unit_price");
        let line = format!(
            "CAST(i.quantity AS DOUBLE) * {price} * (1 - COALESCE(i.discount, 0)) AS line_amount"
        );
        let sql_cols: Vec<String> = cols
            .iter()
            .map(|s| s.to_string())
            .chain([
                unit_price,
                "COALESCE(i.discount, 0) AS discount".into(),
                line,
                "o.total_amount AS order_total".into(),
            ])
            .collect();
        let sql = format!(
            "SELECT {} FROM orders o {joins} WHERE {} ORDER BY o.order_date, o.order_id, i.product_id",
            sql_cols.join(", "),
            period.contains_date("o.order_date")
        );
        return Ok(engine.sql(&sql).await?);
    }
    cols.push("o.total_amount AS order_total");
    let sql = format!(
        "SELECT {} FROM orders o {joins} WHERE {} ORDER BY o.order_date, o.order_id",
        cols.join(", "),
        period.contains_date("o.order_date")
    );
    Ok(engine.sql(&sql).await?)
}

/// A page of the detailed report.
pub async fn detailed(
    engine: &Engine,
    period: &Period,
    opts: DetailedOptions,
) -> Result<Report, AnalyticsError> {
    let df = detailed_frame(engine, period).await?;
    let total = df
        .clone()
        .count()
        .await
        .map_err(clientele_engine::engine_error)?;
    let df = df
        .limit(opts.offset, opts.limit)
        .map_err(clientele_engine::engine_error)?;
    let schema = std::sync::Arc::new(df.schema().as_arrow().clone());
    let batches = engine.collect(df).await?;
    let shown: usize = batches.iter().map(|b| b.num_rows()).sum();
    let mut notes = Vec::new();
    if shown < total {
        notes.push(format!(
            "rows {}–{} of {total}; use --offset/--limit to page, or --format csv --out FILE for all",
            opts.offset + usize::from(shown > 0),
            opts.offset + shown
        ));
    }
    Ok(Report {
        name: "detailed".into(),
        title: "Transactions".into(),
        period: Some(period.clone()),
        previous: None,
        notes,
        batches,
        schema,
    })
}
