//! The channel report: marketing effectiveness per channel in a period, from every table that
//! names a channel.
//!
//! Definitions (also in docs/metrics.md), per channel, over the period's days:
//! - **touches** from `touchpoints` by `kind`: `sends` (`email_sent`), `opens`
//!   (`email_open`), `impressions`, `clicks`, `unsubscribes`, `engagements` (`reaction` +
//!   `share`), `downloads`;
//! - **open rate** = opens / sends; **CTR** = clicks / (sends + impressions), the clicks per
//!   message shown or sent; **click-to-open** = clicks / opens; **unsubscribe rate** =
//!   unsubscribes / sends; **engagement rate** = engagements / impressions;
//! - **spend**: `marketing_spend.amount` of the channel; **CPC** = spend / clicks; **CPM** =
//!   spend / impressions × 1,000;
//! - **new customers**: customers whose `signup_date` is in the period with that
//!   `acquisition_channel`; **CAC** = spend / new customers;
//! - **sessions** and **mean time on site** (seconds) from `web_sessions` by `source`;
//!   **leads** from `leads.source_channel` by `created_at`;
//! - **attributed revenue**: sales (completed orders) carrying a campaign of the channel
//!   (`orders.campaign_id` → `campaigns.channel`), the campaign report's attribution;
//!   **ROAS** = attributed revenue / spend; **ROI** = (attributed revenue − spend) / spend;
//!   with `--attribution MODEL` (one of [`ATTRIBUTION_MODELS`]) the attributed revenue and
//!   conversions are instead the channel's credit under that multi-touch model for the sales
//!   dated in the period (`clientele attribution --from --to`, its default lookback and
//!   half-life); `campaign`, the default, is the campaign attribution above;
//! - **conversions**: those sales counted; **conversion rate** = conversions / clicks;
//! - **lifetime value** of the new customers: their completed sales to date plus the future
//!   value the stored CLV run expects of them (`scores_clv.clv`; missing CLV counts 0), only
//!   when a CLV run is stored; **CLV ROI** = (lifetime value − spend) / spend, the return on
//!   the period's spend counted in the value of the customers it acquired ("CLTV-based ROI").
//!
//! Every ratio is empty when its denominator is 0 or missing. A table or column the workspace
//! lacks leaves its columns empty and is named in a note. Channels are compared as written:
//! the same name in every table (`email`, `paid_search` …) is one channel.

use arrow::array::Array;

use crate::analyses::Spec;
use crate::analyses::attribution::{Attribution, AttributionOptions};
use crate::util::{f64_col, sql_str, str_col};
use crate::{AnalyticsError, Engine, Period, Report};

/// What `--attribution` accepts: the campaign attribution of the orders, or a multi-touch
/// model of `clientele attribution`.
pub const ATTRIBUTION_MODELS: &[&str] = &[
    "campaign",
    "first_touch",
    "last_touch",
    "linear",
    "time_decay",
    "position_based",
    "markov",
    "shapley",
];

/// The credit of each channel under a multi-touch `model` for the sales of the period, as
/// rows `(channel, 'revenue' | 'conversions', v)` of the report's long table.
async fn multi_touch(
    engine: &Engine,
    period: &Period,
    model: &str,
) -> Result<String, AnalyticsError> {
    let options = AttributionOptions {
        from: Some(period.from),
        to: Some(period.to),
        ..AttributionOptions::default()
    };
    let a = Attribution::run(engine, &options).await?;
    let table = a
        .tables
        .iter()
        .find(|t| t.name == "attribution")
        .ok_or_else(|| AnalyticsError::MissingData("the attribution has no credit table".into()))?;
    let mut rows = Vec::new();
    for b in &table.batches {
        let (channel, conversions, value) = (
            str_col(b, "channel"),
            f64_col(b, model),
            f64_col(b, &format!("{model}_value")),
        );
        for i in 0..b.num_rows() {
            if channel.is_null(i) {
                continue;
            }
            let name = sql_str(channel.value(i));
            rows.push(format!("({name}, 'revenue', {:?})", value.value(i)));
            rows.push(format!(
                "({name}, 'conversions', {:?})",
                conversions.value(i)
            ));
        }
    }
    if rows.is_empty() {
        return Ok("SELECT CAST(NULL AS VARCHAR) AS channel, 'revenue' AS k, CAST(NULL AS DOUBLE) AS v WHERE FALSE".into());
    }
    Ok(format!(
        "SELECT column1 AS channel, column2 AS k, CAST(column3 AS DOUBLE) AS v FROM (VALUES {})",
        rows.join(", ")
    ))
}

/// Touchpoint kinds counted one by one (reactions and shares are counted together).
const KINDS: &[&str] = &[
    "email_sent",
    "email_open",
    "impression",
    "click",
    "unsubscribe",
    "download",
];

fn missing(what: &str, notes: &mut Vec<String>) {
    notes.push(format!("no {what}: its columns are empty"));
}

/// Channels in `period`, highest spend first; `attribution` picks how revenue is attributed
/// (one of [`ATTRIBUTION_MODELS`]; `None` is `campaign`).
pub async fn channels(
    engine: &Engine,
    period: &Period,
    attribution: Option<&str>,
) -> Result<Report, AnalyticsError> {
    let model = attribution.unwrap_or("campaign");
    if !ATTRIBUTION_MODELS.contains(&model) {
        return Err(AnalyticsError::Usage(format!(
            "attribution '{model}': expected one of {}",
            ATTRIBUTION_MODELS.join(", ")
        )));
    }
    let mut parts: Vec<String> = Vec::new();
    let mut notes = Vec::new();
    if engine.has_table("touchpoints") {
        let kinds = KINDS
            .iter()
            .map(|k| format!("'{k}'"))
            .collect::<Vec<_>>()
            .join(", ");
        parts.push(format!(
            "SELECT channel, kind AS k, CAST(COUNT(*) AS DOUBLE) AS v FROM touchpoints
             WHERE kind IN ({kinds}) AND {p} GROUP BY channel, kind
             UNION ALL
             SELECT channel, 'engagements' AS k, CAST(COUNT(*) AS DOUBLE) AS v FROM touchpoints
             WHERE kind IN ('reaction', 'share') AND {p} GROUP BY channel",
            p = period.contains_ts("occurred_at")
        ));
    } else {
        missing(
            "touchpoints table (sends, opens, impressions, clicks …)",
            &mut notes,
        );
    }
    if engine.has_table("marketing_spend") {
        parts.push(format!(
            "SELECT channel, 'spend' AS k, CAST(SUM(amount) AS DOUBLE) AS v FROM marketing_spend
             WHERE {} GROUP BY channel",
            period.contains_date("date")
        ));
    } else {
        missing(
            "marketing_spend table (spend, CPC, CPM, CAC, ROAS, ROI)",
            &mut notes,
        );
    }
    let acquisition = engine.has_column("customers", "acquisition_channel")
        && engine.has_column("customers", "signup_date");
    if acquisition {
        parts.push(format!(
            "SELECT acquisition_channel AS channel, 'new_customers' AS k, CAST(COUNT(*) AS DOUBLE) AS v
             FROM customers WHERE {} GROUP BY acquisition_channel",
            period.contains_date("signup_date")
        ));
    } else {
        missing(
            "customers.acquisition_channel and signup_date (new customers, CAC)",
            &mut notes,
        );
    }
    if engine.has_column("web_sessions", "source") {
        let seconds = if engine.has_column("web_sessions", "duration_seconds") {
            format!(
                " UNION ALL SELECT source AS channel, 'session_seconds' AS k,
                   CAST(AVG(duration_seconds) AS DOUBLE) AS v FROM web_sessions WHERE {} GROUP BY source",
                period.contains_ts("started_at")
            )
        } else {
            String::new()
        };
        parts.push(format!(
            "SELECT source AS channel, 'sessions' AS k, CAST(COUNT(*) AS DOUBLE) AS v FROM web_sessions
             WHERE {} GROUP BY source{seconds}",
            period.contains_ts("started_at")
        ));
    } else {
        missing("web_sessions.source (sessions, time on site)", &mut notes);
    }
    if engine.has_column("leads", "source_channel") {
        parts.push(format!(
            "SELECT source_channel AS channel, 'leads' AS k, CAST(COUNT(*) AS DOUBLE) AS v FROM leads
             WHERE {} GROUP BY source_channel",
            period.contains_ts("created_at")
        ));
    } else {
        missing("leads.source_channel (leads)", &mut notes);
    }
    if model != "campaign" {
        parts.push(multi_touch(engine, period, model).await?);
        notes.push(format!(
            "attributed revenue and conversions: the {model} model's credit for the period's sales"
        ));
    } else if engine.has_column("orders", "campaign_id")
        && engine.has_column("campaigns", "channel")
    {
        parts.push(format!(
            "SELECT c.channel, 'revenue' AS k, CAST(SUM(s.total_amount) AS DOUBLE) AS v
             FROM sales s JOIN campaigns c ON s.campaign_id = c.campaign_id
             WHERE {p} GROUP BY c.channel
             UNION ALL
             SELECT c.channel, 'conversions' AS k, CAST(COUNT(*) AS DOUBLE) AS v
             FROM sales s JOIN campaigns c ON s.campaign_id = c.campaign_id
             WHERE {p} GROUP BY c.channel",
            p = period.contains_date("s.order_date")
        ));
    } else {
        missing(
            "orders.campaign_id with campaigns.channel (attributed revenue, ROAS, ROI)",
            &mut notes,
        );
    }
    let valued = acquisition && engine.has_column("scores_clv", "clv");
    if valued {
        parts.push(format!(
            "SELECT c.acquisition_channel AS channel, 'lifetime_value' AS k,
                    CAST(SUM(COALESCE(s.past, 0) + COALESCE(k.clv, 0)) AS DOUBLE) AS v
             FROM customers c
             LEFT JOIN (SELECT customer_id, SUM(total_amount) AS past FROM sales GROUP BY customer_id) s
                    ON s.customer_id = c.customer_id
             LEFT JOIN scores_clv k ON k.customer_id = c.customer_id
             WHERE {} GROUP BY c.acquisition_channel",
            period.contains_date("c.signup_date")
        ));
    } else if acquisition {
        notes.push(
            "no stored CLV (run `clientele clv`): lifetime_value and clv_roi are empty".into(),
        );
    }
    if parts.is_empty() {
        return Err(AnalyticsError::MissingData(
            "the channel report needs at least one of touchpoints, marketing_spend, customers \
             (acquisition_channel), web_sessions, leads or campaign orders"
                .into(),
        ));
    }
    let col = |k: &str| format!("SUM(CASE WHEN k = '{k}' THEN v END)");
    let ratio = |a: &str, b: &str| format!("CASE WHEN {b} > 0 THEN {a} / {b} END");
    let (sends, opens, imps, clicks, unsub) = (
        col("email_sent"),
        col("email_open"),
        col("impression"),
        col("click"),
        col("unsubscribe"),
    );
    let (spend, news, revenue) = (col("spend"), col("new_customers"), col("revenue"));
    let shown = format!("(COALESCE({sends}, 0) + COALESCE({imps}, 0))");
    let clicks0 = format!("COALESCE({clicks}, 0)");
    let engagements = col("engagements");
    let open_rate = ratio(&opens, &sends);
    let ctr = ratio(&clicks0, &shown);
    let cto = ratio(&clicks0, &opens);
    let unsub_rate = ratio(&format!("COALESCE({unsub}, 0)"), &sends);
    let eng_rate = ratio(&format!("COALESCE({engagements}, 0)"), &imps);
    let cpc = ratio(&spend, &clicks);
    let cpm = ratio(&format!("{spend} * 1000"), &imps);
    let cac = ratio(&spend, &news);
    let roas = ratio(&format!("COALESCE({revenue}, 0)"), &spend);
    let roi = ratio(&format!("(COALESCE({revenue}, 0) - {spend})"), &spend);
    let (conversions, value) = (col("conversions"), col("lifetime_value"));
    let conversion_rate = ratio(&format!("COALESCE({conversions}, 0)"), &clicks);
    // With a CLV run stored, a channel that acquired nobody has a lifetime value of 0;
    // without one, nothing is known.
    let clv_roi = if valued {
        ratio(&format!("(COALESCE({value}, 0) - {spend})"), &spend)
    } else {
        "CAST(NULL AS DOUBLE)".to_string()
    };
    let (downloads, sessions, seconds, leads) = (
        col("download"),
        col("sessions"),
        col("session_seconds"),
        col("leads"),
    );
    let union = parts.join(" UNION ALL ");
    let sql = format!(
        "WITH m AS ({union})
         SELECT channel,
                {sends} AS sends, {opens} AS opens, {imps} AS impressions, {clicks} AS clicks,
                {unsub} AS unsubscribes, {engagements} AS engagements, {downloads} AS downloads,
                {open_rate} AS open_rate, {ctr} AS ctr, {cto} AS click_to_open,
                {unsub_rate} AS unsubscribe_rate, {eng_rate} AS engagement_rate,
                {spend} AS spend, {cpc} AS cpc, {cpm} AS cpm,
                {news} AS new_customers, {cac} AS cac,
                {sessions} AS sessions, {seconds} AS mean_session_seconds, {leads} AS leads,
                {revenue} AS attributed_revenue, {roas} AS roas, {roi} AS roi,
                {conversions} AS conversions, {conversion_rate} AS conversion_rate,
                {value} AS lifetime_value, {clv_roi} AS clv_roi
         FROM m WHERE channel IS NOT NULL GROUP BY channel
         ORDER BY spend DESC NULLS LAST, attributed_revenue DESC NULLS LAST, channel"
    );
    let df = engine.sql(&sql).await?;
    let schema = std::sync::Arc::new(df.schema().as_arrow().clone());
    let batches = engine.collect(df).await?;
    if batches.iter().all(|b| b.num_rows() == 0) {
        notes.push(format!(
            "no channel activity between {} and {}",
            period.from, period.to
        ));
    }
    Ok(Report {
        name: "channels".into(),
        title: "Channels".into(),
        period: Some(period.clone()),
        previous: None,
        notes,
        batches,
        schema,
    })
}
