//! The report endpoints (KPIs, sales, pipeline, summary, exceptions, campaigns, channels) and the
//! transaction list: the reports of `clientele report`, run through `run_report`.

use super::*;

/// Period, grouping and drill-down filters of a report.
#[derive(Deserialize, IntoParams, Default)]
#[into_params(parameter_in = Query)]
pub(super) struct ReportParams {
    /// First day (YYYY-MM-DD). Default (without to or period): the last complete calendar
    /// quarter of the data; the KPI report adds the current one to date.
    from: Option<String>,
    /// Last day (YYYY-MM-DD); alone, the quarter holding it, cut at it. Default: the latest
    /// order's date with from.
    to: Option<String>,
    /// A calendar period instead of from/to: 2025, 2025-Q4 or 2025-11.
    period: Option<String>,
    /// Grouping. Sales: product, category, region, rep, channel, customer, day, week, month,
    /// quarter. Pipeline: rep, region.
    by: Option<String>,
    /// Sales filter: only this region.
    region: Option<String>,
    /// Sales filter: only this sales rep id.
    rep: Option<String>,
    /// Sales filter: only this channel.
    channel: Option<String>,
    /// Sales filter: only this category.
    category: Option<String>,
    /// Sales filter: only this product id.
    product: Option<String>,
    /// Sales filter: only this customer id.
    customer: Option<String>,
    /// Exceptions: relative revenue fall that counts (default 0.2).
    threshold: Option<f64>,
    /// Sales only: page number, from 1. Sales by customer are paged by default (200 rows);
    /// other groupings only when page or page_size is given. CSV always has every row.
    page: Option<usize>,
    /// Sales only: rows per page (at most 1000).
    page_size: Option<usize>,
    /// Channels only: how revenue is attributed — campaign (default), first_touch,
    /// last_touch, linear, time_decay, position_based, markov or shapley.
    attribution: Option<String>,
    /// json (default) or csv.
    format: Option<String>,
}

impl ReportParams {
    fn request(&self, name: &str) -> Result<ReportRequest, ApiError> {
        check_format(&self.format)?;
        if name != "sales" && (self.page.is_some() || self.page_size.is_some()) {
            return Err(ApiError::bad_request(format!(
                "the {name} report is not paged: page and page_size are for sales"
            )));
        }
        let mut filters = Vec::new();
        for (dim, v) in [
            (SalesBy::Region, &self.region),
            (SalesBy::Rep, &self.rep),
            (SalesBy::Channel, &self.channel),
            (SalesBy::Category, &self.category),
            (SalesBy::Product, &self.product),
            (SalesBy::Customer, &self.customer),
        ] {
            if let Some(value) = v {
                filters.push(SalesFilter {
                    dimension: dim,
                    value: value.clone(),
                });
            }
        }
        Ok(ReportRequest {
            name: name.into(),
            by: self.by.clone().filter(|s| !s.trim().is_empty()),
            from: date("from", &self.from)?,
            to: date("to", &self.to)?,
            period: self.period.clone().filter(|s| !s.trim().is_empty()),
            threshold: self.threshold,
            limit: None,
            offset: 0,
            filters,
            attribution: self.attribution.clone().filter(|s| !s.trim().is_empty()),
        })
    }
}

pub(super) async fn run_report(
    state: &Arc<AppState>,
    ctx: &Ctx,
    req: ReportRequest,
) -> Result<Response, ApiError> {
    let report = state.report(req).await?;
    report_response(state, ctx, &report).await
}

/// The KPIs of a period against the previous period and their targets.
#[utoipa::path(get, path = "/kpis", tag = "reports", params(ReportParams),
    responses((status = 200, body = ReportBody), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub(super) async fn kpis(
    State(state): St,
    ctx: Ctx,
    P(p): P<ReportParams>,
) -> Result<Response, ApiError> {
    ctx.require(Area::Overview, "KPIs")?;
    run_report(&state, &ctx, p.request("kpis")?).await
}

/// Sales by a dimension, with share and growth; filters drill down (region → rep → customer,
/// category → product).
#[utoipa::path(get, path = "/sales", tag = "reports", params(ReportParams),
    responses((status = 200, body = ReportBody), (status = 400, body = ErrorBody)))]
pub(super) async fn sales(
    State(state): St,
    ctx: Ctx,
    P(p): P<ReportParams>,
) -> Result<Response, ApiError> {
    ctx.require(Area::Sales, "sales")?;
    let by_customer = p.by.as_deref().map(str::trim) == Some("customer");
    if ctx.csv || !(by_customer || p.page.is_some() || p.page_size.is_some()) {
        return run_report(&state, &ctx, p.request("sales")?).await;
    }
    let (page, size) = paging(p.page, p.page_size, SALES_PAGE)?;
    let report = state.report(p.request("sales")?).await?;
    let total: usize = report.batches.iter().map(RecordBatch::num_rows).sum();
    let start = ((page - 1) * size).min(total);
    // The page is cut from the cached report without copying, and only it is masked.
    let page_rows = rows_between(&report.batches, start, size);
    let shown = protect(&page_rows, &ctx.caller, &*state.privacy().await?)?;
    let shown_rows: usize = shown.iter().map(RecordBatch::num_rows).sum();
    audit_rows(&state, &ctx, &shown.iter().collect::<Vec<_>>()).await?;
    let mut notes = report.notes.clone();
    if total > size || page > 1 {
        notes.push(format!(
            "rows {}–{} of {total}, highest revenue first: page={} for the next, format=csv for every row",
            (start + 1).min(total),
            start + shown_rows,
            page + 1
        ));
    }
    let paged = Report {
        name: report.name.clone(),
        title: report.title.clone(),
        period: report.period.clone(),
        previous: report.previous.clone(),
        schema: shown
            .first()
            .map_or_else(|| Arc::clone(&report.schema), |b| b.schema()),
        batches: shown,
        notes,
    };
    let mut body = clientele_analytics::report_json(&paged)?;
    body["page"] = json!(page);
    body["page_size"] = json!(size);
    body["total"] = json!(total);
    Ok(Json(body).into_response())
}

/// Rows of a page of sales by customer unless `page_size` says otherwise.
const SALES_PAGE: usize = 200;

/// At most `len` rows from row `start` on, across batches, as zero-copy slices.
fn rows_between(batches: &[RecordBatch], mut start: usize, mut len: usize) -> Vec<RecordBatch> {
    let mut out = Vec::new();
    for b in batches {
        if len == 0 {
            break;
        }
        if start >= b.num_rows() {
            start -= b.num_rows();
            continue;
        }
        let take = len.min(b.num_rows() - start);
        out.push(b.slice(start, take));
        len -= take;
        start = 0;
    }
    out
}

/// The deal pipeline: funnel by stage with conversion and days in stage, or by rep/region.
#[utoipa::path(get, path = "/pipeline", tag = "reports", params(ReportParams),
    responses((status = 200, body = ReportBody), (status = 403, body = ErrorBody)))]
pub(super) async fn pipeline(
    State(state): St,
    ctx: Ctx,
    P(p): P<ReportParams>,
) -> Result<Response, ApiError> {
    ctx.require(Area::Pipeline, "the pipeline")?;
    run_report(&state, &ctx, p.request("pipeline")?).await
}

/// The one-page summary of a period.
#[utoipa::path(get, path = "/summary", tag = "reports", params(ReportParams),
    responses((status = 200, body = ReportBody)))]
pub(super) async fn summary(
    State(state): St,
    ctx: Ctx,
    P(p): P<ReportParams>,
) -> Result<Response, ApiError> {
    ctx.require(Area::Overview, "the summary")?;
    run_report(&state, &ctx, p.request("summary")?).await
}

/// Exceptions: KPIs off target, reps under quota, regions and products whose revenue fell.
#[utoipa::path(get, path = "/exceptions", tag = "reports", params(ReportParams),
    responses((status = 200, body = ReportBody)))]
pub(super) async fn exceptions(
    State(state): St,
    ctx: Ctx,
    P(p): P<ReportParams>,
) -> Result<Response, ApiError> {
    ctx.require(Area::Overview, "exceptions")?;
    run_report(&state, &ctx, p.request("exceptions")?).await
}

/// Campaigns: revenue of the orders carrying each, spend booked to it and ROI; the rows add up
/// to the Marketing ROI KPI.
#[utoipa::path(get, path = "/campaigns", tag = "reports", params(ReportParams),
    responses((status = 200, body = ReportBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(super) async fn campaigns(
    State(state): St,
    ctx: Ctx,
    P(p): P<ReportParams>,
) -> Result<Response, ApiError> {
    ctx.require(Area::Campaigns, "campaigns")?;
    run_report(&state, &ctx, p.request("campaigns")?).await
}

/// Channels: sends, opens, impressions, clicks and their rates, spend, CPC, CPM, new
/// customers and CAC, sessions, leads, attributed revenue, ROAS and ROI per channel.
#[utoipa::path(get, path = "/channels", tag = "reports", params(ReportParams),
    responses((status = 200, body = ReportBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(super) async fn channels(
    State(state): St,
    ctx: Ctx,
    P(p): P<ReportParams>,
) -> Result<Response, ApiError> {
    ctx.require(Area::Campaigns, "channels")?;
    run_report(&state, &ctx, p.request("channels")?).await
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct TransactionParams {
    /// First day (YYYY-MM-DD).
    from: Option<String>,
    /// Last day (YYYY-MM-DD).
    to: Option<String>,
    /// A calendar period instead of from/to.
    period: Option<String>,
    /// Only this customer's transactions.
    customer: Option<String>,
    /// Page number, from 1.
    page: Option<usize>,
    /// Rows per page (default 50, at most 1000).
    page_size: Option<usize>,
    /// json (default) or csv (all rows of the period, not a page).
    format: Option<String>,
}

/// Transaction lines of a period (the detailed report), paged; audited.
#[utoipa::path(get, path = "/transactions", tag = "reports", params(TransactionParams),
    responses((status = 200, body = ListBody), (status = 400, body = ErrorBody)))]
pub(super) async fn transactions(
    State(state): St,
    ctx: Ctx,
    P(p): P<TransactionParams>,
) -> Result<Response, ApiError> {
    ctx.require(Area::Sales, "transactions")?;
    check_format(&p.format)?;
    let (page, size) = paging(p.page, p.page_size, 50)?;
    let from = date("from", &p.from)?;
    let to = date("to", &p.to)?;
    let customer = p.customer.clone();
    let period_label = p.period.clone();
    let csv = ctx.csv;
    let (df, total, period) = state
        .query(move |engine: Arc<Engine>| async move {
            use datafusion::prelude::{col, lit};
            let explicit = from.is_some() || to.is_some() || period_label.is_some();
            // A customer's history defaults to all time, not the latest quarter.
            let period = if customer.is_some() && !explicit {
                clientele_analytics::Period::custom(
                    NaiveDate::from_ymd_opt(1900, 1, 1).expect("date"),
                    NaiveDate::from_ymd_opt(2999, 12, 31).expect("date"),
                )?
            } else {
                clientele_analytics::resolve_period(&engine, from, to, period_label.as_deref())
                    .await?
            };
            let mut df = clientele_analytics::detailed_frame(&engine, &period).await?;
            if let Some(c) = customer {
                df = df
                    .filter(col("customer_id").eq(lit(c)))
                    .map_err(ApiError::internal)?;
            }
            // An export streams every row (below); only a page needs the count.
            let total = match csv {
                true => 0,
                false => df.clone().count().await.map_err(ApiError::internal)?,
            };
            Ok((df, total, period))
        })
        .await?;
    if csv {
        return csv_stream(&state, &ctx, df, "transactions").await;
    }
    let batches = state
        .spawn(async move {
            df.limit((page - 1) * size, Some(size))
                .map_err(ApiError::internal)?
                .collect()
                .await
                .map_err(ApiError::internal)
        })
        .await?;
    let batches = protect(&batches, &ctx.caller, &*state.privacy().await?)?;
    audit_rows(&state, &ctx, &batches.iter().collect::<Vec<_>>()).await?;
    Ok(Json(json!({
        "list": "transactions", "title": "Transactions",
        "period": clientele_analytics::period_json(&period),
        "page": page, "page_size": size, "total": total, "notes": [],
        "rows": clientele_analytics::rows_json(&batches)?,
    }))
    .into_response())
}
