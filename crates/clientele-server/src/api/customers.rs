//! The customer list, the at-risk list and the customer 360.

use clientele_analytics::customers;

use super::*;

/// Filters of the customer list: any column of the list (`rfm_segment=Champions`,
/// `lifecycle_stage=at-risk`, `cluster=2`, `region=North` …) plus the controls below.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct CustomerParams {
    /// Page number, from 1.
    page: Option<usize>,
    /// Rows per page (default 50, at most 1000).
    page_size: Option<usize>,
    /// Column to sort by; a leading '-' sorts descending. Default: revenue, descending.
    sort: Option<String>,
    /// Search in customer id (and, for roles that see personal data, name and email).
    q: Option<String>,
    /// json (default) or csv (every matching row, not a page).
    format: Option<String>,
}

/// A list (all customers or those at risk) as a page or, with CSV, every matching row; the
/// rows come from `clientele_analytics::customers`, masked and audited here.
pub(super) async fn customer_list(
    state: &Arc<AppState>,
    ctx: &Ctx,
    params: CustomerParams,
    filters: HashMap<String, String>,
    at_risk: bool,
) -> Result<Response, ApiError> {
    ctx.require(Area::Customers, "customers")?;
    check_format(&params.format)?;
    let (page, size) = paging(params.page, params.page_size, 50)?;
    let pii = ctx.caller.role.sees_personal_data();
    let query = customers::CustomerQuery {
        filters: filters.into_iter().collect(),
        search: params.q,
        search_personal: pii,
        sort: params.sort,
        page: (!ctx.csv).then_some((page, size)),
        at_risk,
    };
    let privacy = state.privacy().await?;
    if !pii {
        // Filtering or sorting on a protected column would reveal it, masked or not.
        let sort = query.sort.as_deref().map(|s| s.trim_start_matches('-'));
        if let Some(column) = query
            .filters
            .iter()
            .map(|(k, _)| k.as_str())
            .chain(sort)
            .find(|c| privacy.protects(c))
        {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                format!(
                    "the {} role may not filter or sort by '{column}': it is personal data",
                    ctx.caller.role.name()
                ),
            ));
        }
    }
    let list = state
        .query(move |engine: Arc<Engine>| async move {
            Ok(customers::customer_list(&engine, &query).await?)
        })
        .await?;
    let batches = protect(&list.batches, &ctx.caller, &privacy)?;
    audit_rows(state, ctx, &batches.iter().collect::<Vec<_>>()).await?;
    let name = if at_risk { "at_risk" } else { "customers" };
    if ctx.csv {
        return csv_response(&batches, name);
    }
    let title = match (
        &list.value_at_risk,
        list.labels
            .iter()
            .find(|l| Some(&l.0) == list.value_at_risk.as_ref()),
    ) {
        (Some(_), Some((_, label))) => format!("Customers at risk: {label}, highest first"),
        (Some(by), None) => format!("Customers at risk by {by}"),
        (None, _) => "Customers".to_string(),
    };
    let labels: serde_json::Map<String, Value> = list
        .labels
        .iter()
        .map(|(c, l)| (c.clone(), Value::from(l.as_str())))
        .collect();
    Ok(Json(json!({
        "list": name,
        "title": title,
        "page": page, "page_size": size, "total": list.total, "notes": list.notes,
        "measures": list.measures, "labels": labels, "value_at_risk": list.value_at_risk,
        "rows": clientele_analytics::rows_json(&batches)?,
    }))
    .into_response())
}

pub(super) fn split_filters(
    mut all: HashMap<String, String>,
) -> Result<(CustomerParams, HashMap<String, String>), ApiError> {
    let number = |all: &mut HashMap<String, String>, k: &str| -> Result<Option<usize>, ApiError> {
        all.remove(k)
            .map(|v| {
                v.trim()
                    .parse::<usize>()
                    .map_err(|_| ApiError::bad_request(format!("{k} '{v}' is not a whole number")))
            })
            .transpose()
    };
    let params = CustomerParams {
        page: number(&mut all, "page")?,
        page_size: number(&mut all, "page_size")?,
        sort: all.remove("sort"),
        q: all.remove("q"),
        format: all.remove("format"),
    };
    Ok((params, all))
}

/// A page of customers with their purchase summary and stored scores; any column is a
/// filter. Personal data masked per role; audited.
#[utoipa::path(get, path = "/customers", tag = "customers", params(CustomerParams),
    responses((status = 200, body = ListBody), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub(super) async fn customers(
    State(state): St,
    ctx: Ctx,
    Q(all): Q<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let (params, filters) = split_filters(all)?;
    customer_list(&state, &ctx, params, filters, false).await
}

/// Customers sorted by value at risk by the measure that fits the business: (1 − P(alive)) ×
/// CLV (`value_at_risk_p_alive`) for purchases without a contract, the churn model's
/// P(not renewed) × CLV (`value_at_risk`) when the stored churn run is of subscriptions.
/// `measures` names the stored measures, lead first; `labels` says what the probability
/// columns are (`churn_probability` is P(no purchase in the next window), not P(churned)).
#[utoipa::path(get, path = "/at-risk", tag = "customers", params(CustomerParams),
    responses((status = 200, body = ListBody), (status = 422, body = ErrorBody)))]
pub(super) async fn at_risk(
    State(state): St,
    ctx: Ctx,
    Q(all): Q<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let (params, filters) = split_filters(all)?;
    customer_list(&state, &ctx, params, filters, true).await
}

/// Everything about one customer: profile, consent, scores with reasons, orders and their
/// items, subscriptions, tickets, surveys, touchpoints, web sessions. Audited.
#[utoipa::path(get, path = "/customers/{id}", tag = "customers",
    params(("id" = String, Path, description = "customer id")),
    responses((status = 200, description = "profile, consent, scores and one section per table", body = Object), (status = 404, body = ErrorBody)))]
pub(super) async fn customer_360(
    State(state): St,
    ctx: Ctx,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    ctx.require(Area::Customers, "customers")?;
    if id.len() > 200 {
        return Err(ApiError::bad_request("customer id is too long"));
    }
    let caller = ctx.caller.clone();
    let privacy = state.privacy().await?;
    let cid = id.clone();
    let body = state
        .query(move |engine: Arc<Engine>| async move {
            let Some(c360) = customers::customer_360(&engine, &cid).await? else {
                return Err(ApiError::not_found(format!("there is no customer '{cid}'")));
            };
            c360.to_json(|b: &[RecordBatch]| protect(b, &caller, &privacy))
        })
        .await?;
    state
        .audit
        .record(&ctx.caller, &ctx.action, vec![id], &ctx.request_id)?;
    Ok(Json(body).into_response())
}
