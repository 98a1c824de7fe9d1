//! Responses: masking personal columns per role, auditing customer-level rows, JSON or CSV,
//! and the parameter checks every endpoint shares.

use super::*;

/// The batches as the caller may see them: for roles that do not see personal data, the
/// columns the workspace's [`Privacy`] protects are masked or redacted.
pub(super) fn protect(
    batches: &[RecordBatch],
    caller: &Caller,
    privacy: &Privacy,
) -> Result<Vec<RecordBatch>, ApiError> {
    if caller.role.sees_personal_data() {
        return Ok(batches.to_vec());
    }
    privacy.protect(batches).map_err(ApiError::internal)
}

/// The customers named in batches, in order, without repeats: every text cell that is a
/// known customer id (whatever its column is called: the exceptions report names customers
/// in `subject`), and every value of a `customer_id` column.
pub(super) fn customer_ids(batches: &[&RecordBatch], known: &CustomerIds) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for b in batches {
        for (f, c) in b.schema().fields().iter().zip(b.columns()) {
            let is_id_column = f.name() == "customer_id";
            let text = match c.data_type() {
                DataType::Utf8 => Arc::clone(c),
                DataType::LargeUtf8 | DataType::Utf8View | DataType::Dictionary(..) => {
                    match arrow::compute::cast(c, &DataType::Utf8) {
                        Ok(t) => t,
                        Err(_) => continue,
                    }
                }
                _ if is_id_column => match arrow::compute::cast(c, &DataType::Utf8) {
                    Ok(t) => t,
                    Err(_) => continue,
                },
                _ => continue,
            };
            let Some(s) = text.as_any().downcast_ref::<StringArray>() else {
                continue;
            };
            for v in s.iter().flatten() {
                // A label such as "C0042 (Ada Lovelace)" names its customer too.
                let id = if is_id_column || known.contains(v) {
                    Some(v)
                } else {
                    v.split_once(" (")
                        .map(|(id, _)| id)
                        .filter(|id| known.contains(id))
                };
                if let Some(id) = id
                    && seen.insert(id.to_string())
                {
                    out.push(id.to_string());
                }
            }
        }
    }
    out
}

/// Writes an audit entry when the batches name customers (see [`customer_ids`]).
pub(super) async fn audit_rows(
    state: &AppState,
    ctx: &Ctx,
    batches: &[&RecordBatch],
) -> Result<(), ApiError> {
    let known = state.customer_ids().await?;
    let customers = customer_ids(batches, &known);
    let has_id_column = batches
        .iter()
        .any(|b| b.schema().index_of("customer_id").is_ok());
    if has_id_column || !customers.is_empty() {
        state
            .audit
            .record(&ctx.caller, &ctx.action, customers, &ctx.request_id)?;
    }
    Ok(())
}

pub(super) fn csv_response(batches: &[RecordBatch], name: &str) -> Result<Response, ApiError> {
    let mut buf = Vec::new();
    {
        let mut w = arrow::csv::WriterBuilder::new()
            .with_header(true)
            .build(&mut buf);
        for b in batches {
            w.write(b).map_err(ApiError::internal)?;
        }
    }
    Ok(csv_attachment(buf.into_response(), name))
}

/// Marks a response as a CSV file named `name`.csv, for spreadsheets and browsers to save.
fn csv_attachment(mut res: Response, name: &str) -> Response {
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}.csv\"")) {
        res.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    res
}

/// Chunks of a streamed export that may wait for a slow client: with batches of 8192 rows,
/// a few megabytes at most, however many rows the export has.
const EXPORT_CHUNKS: usize = 4;

/// Streams every row of `df` as CSV, batch by batch, instead of building the file in memory:
/// each batch is masked for the caller, written as CSV and sent as the client reads, and the
/// customers it names are added to one audit entry, written when the export ends, fails or
/// the client goes away (so what was sent is audited even when not all of it was). An error
/// before the first row is an ordinary error answer; a later one cuts the response short,
/// and the client sees an incomplete body rather than a complete-looking file.
pub(super) async fn csv_stream(
    state: &Arc<AppState>,
    ctx: &Ctx,
    df: datafusion::dataframe::DataFrame,
    name: &str,
) -> Result<Response, ApiError> {
    use futures::StreamExt;
    let privacy = state.privacy().await?;
    let known = state.customer_ids().await?;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, ApiError>>(EXPORT_CHUNKS);
    let mut audit = ExportAudit {
        state: Arc::clone(state),
        caller: ctx.caller.clone(),
        action: ctx.action.clone(),
        request_id: ctx.request_id.clone(),
        customers: Vec::new(),
        seen: std::collections::HashSet::new(),
        has_id_column: df
            .schema()
            .field_with_unqualified_name("customer_id")
            .is_ok(),
    };
    let caller = ctx.caller.clone();
    state.spawn_detached(async move {
        let mut stream = match df.execute_stream().await {
            Ok(s) => s,
            Err(e) => {
                let _ = tx
                    .send(Err(clientele_analytics::engine_error(e).into()))
                    .await;
                return;
            }
        };
        let mut header = true;
        let mut sent_any = false;
        while let Some(batch) = stream.next().await {
            let chunk = batch
                .map_err(|e| ApiError::from(clientele_analytics::engine_error(e)))
                .and_then(|b| {
                    let shown = protect(std::slice::from_ref(&b), &caller, &privacy)?;
                    audit.add(customer_ids(&shown.iter().collect::<Vec<_>>(), &known));
                    let mut buf = Vec::new();
                    let mut w = arrow::csv::WriterBuilder::new()
                        .with_header(header)
                        .build(&mut buf);
                    for s in &shown {
                        w.write(s).map_err(ApiError::internal)?;
                    }
                    drop(w);
                    Ok(buf)
                });
            let failed = chunk.is_err();
            if chunk.as_ref().is_ok_and(|c| c.is_empty()) {
                continue;
            }
            header = false;
            sent_any = true;
            if tx.send(chunk).await.is_err() || failed {
                return;
            }
        }
        if !sent_any {
            // No rows: the header alone, as the in-memory export gave.
            let mut buf = Vec::new();
            let schema = stream.schema();
            let empty = RecordBatch::new_empty(schema);
            let mut w = arrow::csv::WriterBuilder::new()
                .with_header(true)
                .build(&mut buf);
            let _ = w.write(&empty);
            drop(w);
            let _ = tx.send(Ok(buf)).await;
        }
    });
    // The first chunk decides the status: a query that fails at once is a proper error.
    let first = match rx.recv().await {
        Some(Ok(chunk)) => chunk,
        Some(Err(e)) => return Err(e),
        None => Vec::new(),
    };
    let rest = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| {
            let item = item.map_err(|e| {
                tracing::error!(code = e.code, "export cut short: {}", e.message);
                std::io::Error::other(e.message)
            });
            (item, rx)
        })
    });
    let body = futures::stream::once(async move { Ok::<_, std::io::Error>(first) }).chain(rest);
    Ok(csv_attachment(
        axum::body::Body::from_stream(body).into_response(),
        name,
    ))
}

/// The audit entry of a streamed export, written when the export is dropped: on success, on
/// failure, or when the client stops reading.
struct ExportAudit {
    state: Arc<AppState>,
    caller: Caller,
    action: String,
    request_id: String,
    customers: Vec<String>,
    seen: std::collections::HashSet<String>,
    has_id_column: bool,
}

impl ExportAudit {
    fn add(&mut self, ids: Vec<String>) {
        for id in ids {
            if self.seen.insert(id.clone()) {
                self.customers.push(id);
            }
        }
    }
}

impl Drop for ExportAudit {
    fn drop(&mut self) {
        if self.has_id_column || !self.customers.is_empty() {
            let customers = std::mem::take(&mut self.customers);
            if let Err(e) =
                self.state
                    .audit
                    .record(&self.caller, &self.action, customers, &self.request_id)
            {
                tracing::error!("cannot audit an export: {e}");
            }
        }
    }
}

pub(super) fn masked_report(
    report: &Report,
    caller: &Caller,
    privacy: &Privacy,
) -> Result<Report, ApiError> {
    let batches = protect(&report.batches, caller, privacy)?;
    let schema = batches
        .first()
        .map(|b| b.schema())
        .unwrap_or_else(|| Arc::clone(&report.schema));
    Ok(Report {
        batches,
        schema,
        ..report.clone()
    })
}

pub(super) async fn report_response(
    state: &AppState,
    ctx: &Ctx,
    report: &Report,
) -> Result<Response, ApiError> {
    let report = masked_report(report, &ctx.caller, &*state.privacy().await?)?;
    audit_rows(state, ctx, &report.batches.iter().collect::<Vec<_>>()).await?;
    if ctx.csv {
        return csv_response(&report.batches, &report.name);
    }
    Ok(Json(clientele_analytics::report_json(&report)?).into_response())
}

pub(super) async fn analysis_response(
    state: &AppState,
    ctx: &Ctx,
    analysis: &Analysis,
    table: Option<&str>,
) -> Result<Response, ApiError> {
    // The per-customer rows are not part of the answer; only the tables are copied (masked).
    let privacy = state.privacy().await?;
    let shown = Analysis {
        name: analysis.name.clone(),
        title: analysis.title.clone(),
        notes: analysis.notes.clone(),
        facts: analysis.facts.clone(),
        tables: analysis
            .tables
            .iter()
            .map(|t| masked_report(t, &ctx.caller, &privacy))
            .collect::<Result<_, _>>()?,
        rows: None,
        parameters: analysis.parameters.clone(),
        stores: analysis.stores.clone(),
    };
    let all: Vec<&RecordBatch> = shown.tables.iter().flat_map(|t| t.batches.iter()).collect();
    audit_rows(state, ctx, &all).await?;
    if ctx.csv {
        let t = match table {
            None => shown.tables.first(),
            Some(name) => shown.tables.iter().find(|t| t.name == name),
        }
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "no table '{}' in this analysis: it has {}",
                table.unwrap_or(""),
                shown
                    .tables
                    .iter()
                    .map(|t| t.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })?;
        return csv_response(&t.batches, &format!("{}-{}", shown.name, t.name));
    }
    Ok(Json(clientele_analytics::analysis_json(&shown)?).into_response())
}

pub(super) fn date(name: &str, v: &Option<String>) -> Result<Option<NaiveDate>, ApiError> {
    match v.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => clientele_analytics::parse_date(s).map(Some).ok_or_else(|| {
            ApiError::bad_request(format!("{name} '{s}' is not a date: expected YYYY-MM-DD"))
        }),
    }
}

pub(super) fn check_format(f: &Option<String>) -> Result<(), ApiError> {
    match f.as_deref() {
        None | Some("json") | Some("csv") => Ok(()),
        Some(other) => Err(ApiError::bad_request(format!(
            "format '{other}' is not known: expected json or csv"
        ))),
    }
}

pub(super) fn paging(
    page: Option<usize>,
    size: Option<usize>,
    default: usize,
) -> Result<(usize, usize), ApiError> {
    let page = page.unwrap_or(1);
    let size = size.unwrap_or(default);
    if page == 0 {
        return Err(ApiError::bad_request("page starts at 1"));
    }
    if size == 0 || size > MAX_PAGE_SIZE {
        return Err(ApiError::bad_request(format!(
            "page_size {size} must be between 1 and {MAX_PAGE_SIZE}; use format=csv to export every row"
        )));
    }
    if page.checked_mul(size).is_none_or(|n| n > 1_000_000_000) {
        return Err(ApiError::bad_request("page is too large"));
    }
    Ok((page, size))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paging_refuses_silly_pages() {
        assert!(paging(Some(0), None, 50).is_err());
        assert!(paging(None, Some(MAX_PAGE_SIZE + 1), 50).is_err());
        assert!(paging(Some(usize::MAX), Some(10), 50).is_err());
        assert_eq!(paging(None, None, 50).unwrap(), (1, 50));
    }
}
