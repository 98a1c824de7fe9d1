//! The campaign report: the Marketing ROI KPI broken down by campaign. For each campaign in a
//! period: revenue and orders of the completed orders that carry its `campaign_id`, the
//! customers who placed them, the marketing spend booked to it, and
//! ROI = (revenue − spend) / spend, undefined (empty) without spend. Spend booked to no
//! campaign is one more row, "(no campaign)", so that the rows add up to the KPI: its revenue
//! is the sum of the revenue column and its spend the sum of the spend column.
//!
//! With a `touchpoints` table, each campaign's touches in the period as in the channel
//! report (docs/metrics.md): `sends`, `opens`, `impressions`, `clicks`, `unsubscribes`,
//! `engagements` (reactions and shares); `open_rate` = opens / sends, `ctr` = clicks /
//! (sends + impressions), `conversion_rate` = orders / clicks, `unsubscribe_rate` =
//! unsubscribes / sends, each empty when its denominator is 0; and `roas` = revenue / spend.

use crate::{AnalyticsError, Engine, Period, Report};

/// The row holding spend booked to no campaign.
pub const NO_CAMPAIGN: &str = "(no campaign)";

/// Campaigns in `period`, highest revenue first.
pub async fn campaigns(engine: &Engine, period: &Period) -> Result<Report, AnalyticsError> {
    if !engine.has_column("orders", "campaign_id") {
        return Err(AnalyticsError::MissingData(
            "the campaign report needs orders with a campaign_id column, and the workspace has none"
                .into(),
        ));
    }
    let mut notes = Vec::new();
    let spend = if engine.has_table("marketing_spend") {
        let campaign = if engine.has_column("marketing_spend", "campaign_id") {
            "campaign_id"
        } else {
            "CAST(NULL AS VARCHAR)"
        };
        format!(
            "SELECT COALESCE({campaign}, '{NO_CAMPAIGN}') AS k, SUM(amount) AS spend
             FROM marketing_spend WHERE {} GROUP BY 1",
            period.contains_date("date")
        )
    } else {
        notes.push("no marketing_spend table: spend and ROI are not available".into());
        "SELECT CAST(NULL AS VARCHAR) AS k, CAST(NULL AS DOUBLE) AS spend WHERE FALSE".into()
    };
    let (labels, join) = if engine.has_table("campaigns") {
        (
            "c.name, c.channel, c.start_date, c.end_date, c.cost AS budget, ",
            " LEFT JOIN campaigns c ON c.campaign_id = COALESCE(rev.k, sp.k)",
        )
    } else {
        ("", "")
    };
    let has_kind =
        engine.has_column("touchpoints", "kind") && engine.has_column("touchpoints", "campaign_id");
    let touches = if has_kind {
        let n = |kinds: &str| {
            format!("CAST(SUM(CASE WHEN kind IN ({kinds}) THEN 1 ELSE 0 END) AS DOUBLE)")
        };
        format!(
            "SELECT campaign_id AS k, {} AS sends, {} AS opens, {} AS impressions, {} AS clicks,
                    {} AS unsubscribes, {} AS engagements
             FROM touchpoints WHERE campaign_id IS NOT NULL AND {} GROUP BY campaign_id",
            n("'email_sent'"),
            n("'email_open'"),
            n("'impression'"),
            n("'click'"),
            n("'unsubscribe'"),
            n("'reaction', 'share'"),
            period.contains_ts("occurred_at")
        )
    } else {
        notes.push("no touchpoints with a kind and a campaign: the touch columns are empty".into());
        "SELECT CAST(NULL AS VARCHAR) AS k, CAST(NULL AS DOUBLE) AS sends, CAST(NULL AS DOUBLE) AS opens,
                CAST(NULL AS DOUBLE) AS impressions, CAST(NULL AS DOUBLE) AS clicks,
                CAST(NULL AS DOUBLE) AS unsubscribes, CAST(NULL AS DOUBLE) AS engagements WHERE FALSE"
            .into()
    };
    let sql = format!(
        "WITH rev AS (
            SELECT campaign_id AS k, SUM(total_amount) AS revenue, COUNT(*) AS orders,
                   COUNT(DISTINCT customer_id) AS customers
            FROM sales WHERE campaign_id IS NOT NULL AND {period_orders} GROUP BY campaign_id),
         sp AS ({spend}),
         tp AS ({touches})
         SELECT COALESCE(rev.k, sp.k) AS campaign_id, {labels}
                COALESCE(rev.revenue, 0) AS revenue, COALESCE(rev.orders, 0) AS orders,
                COALESCE(rev.customers, 0) AS customers, sp.spend AS spend,
                CASE WHEN sp.spend > 0 THEN (COALESCE(rev.revenue, 0) - sp.spend) / sp.spend END AS roi,
                tp.sends, tp.opens, tp.impressions, tp.clicks, tp.unsubscribes, tp.engagements,
                CASE WHEN tp.sends > 0 THEN tp.opens / tp.sends END AS open_rate,
                CASE WHEN tp.sends + tp.impressions > 0 THEN tp.clicks / (tp.sends + tp.impressions) END AS ctr,
                CASE WHEN tp.clicks > 0 THEN CAST(COALESCE(rev.orders, 0) AS DOUBLE) / tp.clicks END AS conversion_rate,
                CASE WHEN tp.sends > 0 THEN tp.unsubscribes / tp.sends END AS unsubscribe_rate,
                CASE WHEN sp.spend > 0 THEN COALESCE(rev.revenue, 0) / sp.spend END AS roas
         FROM rev FULL OUTER JOIN sp ON rev.k = sp.k
         LEFT JOIN tp ON tp.k = COALESCE(rev.k, sp.k){join}
         ORDER BY revenue DESC, spend DESC, campaign_id",
        period_orders = period.contains_date("order_date"),
    );
    let df = engine.sql(&sql).await?;
    let schema = std::sync::Arc::new(df.schema().as_arrow().clone());
    let batches = engine.collect(df).await?;
    if batches.iter().all(|b| b.num_rows() == 0) {
        notes.push(format!(
            "no campaign orders or spend between {} and {}",
            period.from, period.to
        ));
    }
    Ok(Report {
        name: "campaigns".into(),
        title: "Campaigns".into(),
        period: Some(period.clone()),
        previous: None,
        notes,
        batches,
        schema,
    })
}
