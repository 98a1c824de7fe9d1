//! The customer list, the at-risk list and the customer 360.

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

/// The customer list: profile columns, purchase summary and every stored score.
pub(super) async fn customer_frame(engine: &Engine) -> Result<datafusion::dataframe::DataFrame, ApiError> {
    if !engine.has_table("customers") {
        return Err(clientele_analytics::AnalyticsError::MissingData(
            "the customer list needs the customers table, and the workspace has none".into(),
        )
        .into());
    }
    let mut cols = vec!["c.customer_id".to_string()];
    let has = |c: &str| engine.has_column("customers", c);
    if has("first_name") || has("last_name") {
        cols.push("concat_ws(' ', c.first_name, c.last_name) AS customer_name".into());
    }
    for c in [
        "email",
        "phone",
        "region",
        "country",
        "segment",
        "acquisition_channel",
        "signup_date",
    ] {
        if has(c) {
            cols.push(format!("c.{c}"));
        }
    }
    let mut joins = String::new();
    if engine.has_table("orders") {
        cols.extend(["orders", "revenue", "last_order_date"].map(|c| format!("cs.{c}")));
        joins.push_str(" LEFT JOIN customer_summary cs ON cs.customer_id = c.customer_id");
    }
    let score_cols: Vec<String> = match engine.sql("SELECT * FROM customer_scores LIMIT 0").await {
        Ok(df) => df
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .filter(|n| n != "customer_id" && !n.ends_with("_reasons"))
            .collect(),
        Err(_) => Vec::new(),
    };
    if !score_cols.is_empty() {
        for c in &score_cols {
            cols.push(format!("s.\"{c}\""));
        }
        joins.push_str(" LEFT JOIN customer_scores s ON s.customer_id = c.customer_id");
        if score_cols.iter().any(|c| c == "churn_probability")
            && score_cols.iter().any(|c| c == "clv")
        {
            cols.push("s.churn_probability * s.clv AS value_at_risk".into());
        }
    }
    let sql = format!("SELECT {} FROM customers c{joins}", cols.join(", "));
    Ok(engine.sql(&sql).await?)
}

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
    let csv = ctx.csv;
    let pii = ctx.caller.role.sees_personal_data();
    let (batches, total, notes) = state
        .query(move |engine: Arc<Engine>| async move {
            use datafusion::prelude::{col, lit};
            let mut df = customer_frame(&engine).await?;
            let columns: Vec<String> = df
                .schema()
                .fields()
                .iter()
                .map(|f| f.name().clone())
                .collect();
            let mut notes: Vec<String> = Vec::new();
            for (k, v) in &filters {
                if !columns.contains(k) {
                    return Err(ApiError::bad_request(format!(
                        "unknown filter '{k}': filter on a column of the list ({})",
                        columns.join(", ")
                    )));
                }
                if !pii && PERSONAL_COLUMNS.contains(&k.as_str()) {
                    return Err(ApiError::forbidden("current", "personal data"));
                }
                let c = datafusion::prelude::cast(col(format!("\"{k}\"")), arrow::datatypes::DataType::Utf8);
                df = df.filter(c.eq(lit(v.clone()))).map_err(ApiError::internal)?;
                notes.push(format!("only customers with {k} = {v}"));
            }
            if let Some(q) = params.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
                let pattern = format!("%{}%", q.to_lowercase().replace('%', "\\%").replace('_', "\\_"));
                let mut cond = datafusion::functions::expr_fn::lower(col("customer_id")).like(lit(pattern.clone()));
                if pii {
                    for c in ["customer_name", "email"] {
                        if columns.iter().any(|x| x == c) {
                            cond = cond.or(datafusion::functions::expr_fn::lower(col(c)).like(lit(pattern.clone())));
                        }
                    }
                }
                df = df.filter(cond).map_err(ApiError::internal)?;
            }
            if at_risk {
                if !columns.iter().any(|c| c == "value_at_risk") {
                    return Err(clientele_analytics::AnalyticsError::MissingData(
                        "the at-risk list needs stored CLV and churn scores: run `clientele clv` and `clientele churn` (the demo stores both)".into(),
                    )
                    .into());
                }
                df = df
                    .filter(col("value_at_risk").is_not_null())
                    .map_err(ApiError::internal)?;
            }
            let default_sort = if at_risk { "-value_at_risk" } else if columns.iter().any(|c| c == "revenue") { "-revenue" } else { "customer_id" };
            let sort = params.sort.as_deref().unwrap_or(default_sort);
            let (name, desc) = match sort.strip_prefix('-') {
                Some(n) => (n, true),
                None => (sort, false),
            };
            if !columns.iter().any(|c| c == name) {
                return Err(ApiError::bad_request(format!(
                    "cannot sort by '{name}': sort by a column of the list ({})",
                    columns.join(", ")
                )));
            }
            df = df
                .sort(vec![
                    col(format!("\"{name}\"")).sort(!desc, false),
                    col("customer_id").sort(true, false),
                ])
                .map_err(ApiError::internal)?;
            let total = df.clone().count().await.map_err(ApiError::internal)?;
            if !csv {
                df = df.limit((page - 1) * size, Some(size)).map_err(ApiError::internal)?;
            }
            let batches = df.collect().await.map_err(ApiError::internal)?;
            Ok((batches, total, notes))
        })
        .await?;
    let batches = protect(&batches, &ctx.caller)?;
    audit_rows(state, ctx, &batches.iter().collect::<Vec<_>>())?;
    let name = if at_risk { "at_risk" } else { "customers" };
    if csv {
        return csv_response(&batches, name);
    }
    Ok(Json(json!({
        "list": name,
        "title": if at_risk { "Customers at risk (churn probability × CLV)" } else { "Customers" },
        "page": page, "page_size": size, "total": total, "notes": notes,
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

/// Customers sorted by value at risk: churn probability × CLV (needs both stored).
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

/// Tables shown in the customer 360, with the column that orders them (newest first).
pub(super) const CUSTOMER_TABLES: &[(&str, &str)] = &[
    ("orders", "order_date"),
    ("subscriptions", "started_at"),
    ("tickets", "opened_at"),
    ("surveys", "responded_at"),
    ("touchpoints", "occurred_at"),
    ("web_sessions", "started_at"),
    ("leads", "created_at"),
    ("deals", "created_at"),
];

/// Rows of each section of the 360.
pub(super) const SECTION_ROWS: usize = 200;

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
    let cid = id.clone();
    let body = state
        .query(move |engine: Arc<Engine>| async move {
            use datafusion::prelude::{col, lit};
            if !engine.has_table("customers") {
                return Err(clientele_analytics::AnalyticsError::MissingData(
                    "the customer 360 needs the customers table".into(),
                )
                .into());
            }
            let ctx = selective_context(&engine);
            let fetch = |table: String, filter_col: &'static str, order: Option<&'static str>| {
                let ctx = ctx.clone();
                let cid = cid.clone();
                async move {
                    let mut df = ctx
                        .table(table.as_str())
                        .await
                        .map_err(ApiError::internal)?
                        .filter(col(filter_col).eq(lit(cid)))
                        .map_err(ApiError::internal)?;
                    if let Some(o) = order
                        && df.schema().has_column_with_unqualified_name(o)
                    {
                        df = df.sort(vec![col(o).sort(false, true)]).map_err(ApiError::internal)?;
                    }
                    df.limit(0, Some(SECTION_ROWS))
                        .map_err(ApiError::internal)?
                        .collect()
                        .await
                        .map_err(ApiError::internal)
                }
            };
            let profile = protect(&fetch("customers".into(), "customer_id", None).await?, &caller)?;
            if profile.iter().all(|b| b.num_rows() == 0) {
                return Err(ApiError::not_found(format!("there is no customer '{cid}'")));
            }
            let mut profile_json = clientele_analytics::rows_json(&profile)?;
            let profile_obj = profile_json
                .as_array_mut()
                .and_then(|a| a.pop())
                .unwrap_or(Value::Null);
            let (consent, details): (serde_json::Map<String, Value>, serde_json::Map<String, Value>) =
                profile_obj
                    .as_object()
                    .cloned()
                    .unwrap_or_default()
                    .into_iter()
                    .partition(|(k, _)| k.starts_with("consent_"));
            let mut out = serde_json::Map::new();
            out.insert("customer_id".into(), cid.clone().into());
            out.insert("profile".into(), Value::Object(details));
            out.insert("consent".into(), Value::Object(consent));
            // The stored scores, table by table: what the customer_scores view joins, without
            // joining every customer to find one.
            let mut scores = serde_json::Map::new();
            let score_tables: Vec<String> = engine
                .manifest()
                .tables
                .keys()
                .filter(|t| t.starts_with("scores_"))
                .cloned()
                .collect();
            for table in score_tables {
                let rows = fetch(table, "customer_id", None).await?;
                if let Some(Value::Object(row)) = clientele_analytics::rows_json(&rows)?
                    .as_array_mut()
                    .and_then(|a| a.pop())
                {
                    scores.extend(row);
                }
            }
            out.insert("scores".into(), Value::Object(scores));
            if engine.has_table("orders") {
                let summary = fetch("customer_summary".into(), "customer_id", None).await?;
                let mut s = clientele_analytics::rows_json(&summary)?;
                out.insert("summary".into(), s.as_array_mut().and_then(|a| a.pop()).unwrap_or(json!({})));
            }
            let mut sections = serde_json::Map::new();
            for (table, order) in CUSTOMER_TABLES {
                if engine.has_table(table) && engine.has_column(table, "customer_id") {
                    let rows = protect(&fetch((*table).into(), "customer_id", Some(order)).await?, &caller)?;
                    sections.insert((*table).into(), clientele_analytics::rows_json(&rows)?);
                }
            }
            // The items of the orders shown (the newest), looked up by order id.
            let order_ids: Vec<String> = sections
                .get("orders")
                .and_then(Value::as_array)
                .map(|rows| {
                    rows.iter()
                        .filter_map(|r| r["order_id"].as_str().map(sql_literal))
                        .collect()
                })
                .unwrap_or_default();
            if engine.has_table("order_items") && !order_ids.is_empty() {
                let products = engine.has_table("products");
                let ids = order_ids.join(", ");
                let sql = format!(
                    "SELECT i.order_id, o.order_date, i.product_id{}, i.quantity, i.unit_price, i.discount
                     FROM order_items i JOIN orders o ON i.order_id = o.order_id{}
                     WHERE i.order_id IN ({ids}) AND o.order_id IN ({ids})
                     ORDER BY o.order_date DESC, i.order_id, i.product_id LIMIT {SECTION_ROWS}",
                    if products { ", p.name AS product_name, p.category" } else { "" },
                    if products { " LEFT JOIN products p ON i.product_id = p.product_id" } else { "" },
                );
                let items = ctx
                    .sql(&sql)
                    .await
                    .map_err(ApiError::internal)?
                    .collect()
                    .await
                    .map_err(ApiError::internal)?;
                sections.insert("order_items".into(), clientele_analytics::rows_json(&items)?);
            }
            out.insert("sections".into(), Value::Object(sections));
            out.insert("section_rows".into(), SECTION_ROWS.into());
            Ok(Value::Object(out))
        })
        .await?;
    state
        .audit
        .record(&ctx.caller, &ctx.action, vec![id], &ctx.request_id)?;
    Ok(Json(body).into_response())
}

/// A session over the same tables that decodes the other columns of a row only when its
/// filter matches (Parquet filter pushdown). That is what a one-customer lookup wants —
/// a few rows out of millions — and not what the reports' scans of whole tables want, so it
/// is not the engine's default.
pub(super) fn selective_context(engine: &Engine) -> datafusion::prelude::SessionContext {
    let mut state = engine.context().state();
    let parquet = &mut state.config_mut().options_mut().execution.parquet;
    parquet.pushdown_filters = true;
    parquet.reorder_filters = true;
    datafusion::prelude::SessionContext::new_with_state(state)
}

pub(super) fn sql_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

