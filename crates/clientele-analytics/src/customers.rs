//! The customer list and the customer 360: which columns the list shows, how it is filtered,
//! searched, sorted and paged, and what one customer's page holds (profile, consent, stored
//! scores, purchase summary and one section per table that has a `customer_id`).
//!
//! Both are built with DataFusion DataFrame operations, so values given by the caller (filter
//! values, search text, a customer id) are literals in the plan and never SQL text. Masking
//! personal columns, refusing filters on them and auditing are access rules: the server's, not
//! this module's. [`CustomerList::columns`] and [`customer_columns`] let it check filters, and
//! [`Customer360::to_json`] takes the masking as a function.

use arrow::array::{Array, ArrayRef, RecordBatch};
use arrow::datatypes::{DataType, Field, FieldRef, Schema};
use datafusion::common::{Column, JoinType};
use datafusion::dataframe::DataFrame;
use datafusion::error::DataFusionError;
use datafusion::functions::expr_fn::{concat_ws, lower};
use datafusion::prelude::{Expr, SessionContext, cast, ident, in_list, lit};
use serde_json::{Map, Value};

use crate::util::{f64_col, str_col};
use crate::{AnalyticsError, Engine, rows_json};

/// Tables shown in the customer 360, with the column that orders them (newest first).
pub const CUSTOMER_TABLES: &[(&str, &str)] = &[
    ("orders", "order_date"),
    ("subscriptions", "started_at"),
    ("tickets", "opened_at"),
    ("surveys", "responded_at"),
    ("touchpoints", "occurred_at"),
    ("web_sessions", "started_at"),
    ("leads", "created_at"),
    ("deals", "created_at"),
];

/// Rows of each section of the 360 (and of its order items) at most.
pub const SECTION_ROWS: usize = 200;

/// Profile columns of the list, in order, each shown when the source provided it (after
/// `customer_id` and `customer_name`).
const PROFILE_COLUMNS: &[&str] = &[
    "email",
    "phone",
    "region",
    "country",
    "segment",
    "acquisition_channel",
    "signup_date",
];

/// What to list: filters, search, sort, page. `CustomerQuery::default()` lists every
/// customer by revenue.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CustomerQuery {
    /// `column = value` conditions on columns of the list, compared as text (`region=North`,
    /// `rfm_segment=Champions`, `cluster=2`); all must hold.
    pub filters: Vec<(String, String)>,
    /// Text searched case-insensitively in `customer_id` (and, with `search_personal`, in
    /// `customer_name` and `email`); `%` and `_` match themselves. Blank means no search.
    pub search: Option<String>,
    /// Whether `search` also matches the personal columns `customer_name` and `email`: the
    /// server sets it only for roles that see personal data.
    pub search_personal: bool,
    /// Column to sort by, a leading `-` for descending. Default: for the at-risk list its
    /// value at risk (see `at_risk`), descending; else `-revenue` when there are orders, else
    /// `customer_id`. Ties are broken by `customer_id`, ascending; nulls come last.
    pub sort: Option<String>,
    /// `(page, size)`: page number from 1 and rows per page; `None` returns every row.
    pub page: Option<(usize, usize)>,
    /// The at-risk list: only customers with a value at risk by the measure that leads (see
    /// [`risk_measures`]), sorted by it by default: `value_at_risk_p_alive` = (1 − P(alive))
    /// × CLV for purchases without a contract, `value_at_risk` = the churn model's
    /// P(not renewed) × CLV when the stored churn run is of subscriptions.
    pub at_risk: bool,
}

/// A page of the customer list.
#[derive(Debug, Clone)]
pub struct CustomerList {
    /// The rows of the page (every matching row without paging).
    pub batches: Vec<RecordBatch>,
    /// Rows matching the filters and search, over all pages.
    pub total: usize,
    /// One remark per filter applied (`only customers with region = North`).
    pub notes: Vec<String>,
    /// The columns of the list, in order: what filters and sort may name.
    pub columns: Vec<String>,
    /// The stored measures of whether a customer is being lost, the one that leads first.
    pub measures: Vec<RiskMeasure>,
    /// Column → what it is, for the columns whose name alone can mislead (`p_alive`, the
    /// churn model's probability under both its names, the values at risk).
    pub labels: Vec<(String, String)>,
    /// The at-risk list's value at risk column (`None` for the plain list).
    pub value_at_risk: Option<String>,
}

/// One stored measure of whether a customer is being lost, as the 360 and the at-risk list
/// show it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RiskMeasure {
    /// Its column in `customer_scores`.
    pub column: String,
    /// Its label: "P(alive)", "P(no purchase in the next 90 days)" …
    pub label: String,
    /// What it means, and what it does not.
    pub meaning: String,
}

/// The label of `p_alive`.
pub const P_ALIVE_LABEL: &str = "P(alive)";

/// The stored measures of whether customers are being lost, the one that fits the business
/// first: P(alive) of the purchase model (`clientele clv`, column `p_alive`) for purchases
/// without a contract; the churn model's probability when the stored churn run is of
/// subscriptions (`p_not_renewed`), which then leads. The transactional churn model's
/// `p_no_purchase` — no purchase in the next window, likely for a slow buyer who is still a
/// customer — comes after P(alive). Results stored before the plainly named column existed
/// are read from `churn_probability`, labelled by the run's parameters.
pub fn risk_measures(engine: &Engine) -> Vec<RiskMeasure> {
    use crate::analyses::churn::ChurnKind;
    let p_alive = engine
        .has_column("scores_clv", "p_alive")
        .then(|| RiskMeasure {
            column: "p_alive".into(),
            label: P_ALIVE_LABEL.into(),
            meaning: "purchase model (clv: BG/NBD or Pareto/NBD): the probability that the customer is still a customer, \
                      i.e. has not silently stopped buying for good, at the calibration end"
                .into(),
        });
    let run = engine.manifest().analyses.get("churn");
    let param = |k: &str| run.and_then(|r| r.parameters.get(k));
    let kind = match param("kind").map(String::as_str) {
        Some("subscription") => ChurnKind::Subscription,
        _ => ChurnKind::Transactional,
    };
    let window = param("window")
        .and_then(|w| w.parse::<i32>().ok())
        .unwrap_or(crate::analyses::churn::ChurnOptions::default().window);
    let churn = [kind.column(), "churn_probability"]
        .into_iter()
        .find(|c| engine.has_column("scores_churn", c))
        .map(|column| RiskMeasure {
            column: column.into(),
            label: kind.label(window),
            meaning: kind.meaning(window),
        });
    match kind {
        ChurnKind::Subscription => [churn, p_alive],
        ChurnKind::Transactional => [p_alive, churn],
    }
    .into_iter()
    .flatten()
    .collect()
}

/// Labels of the list's columns that need one, given the measures and the list's columns.
fn column_labels(measures: &[RiskMeasure], columns: &[String]) -> Vec<(String, String)> {
    let churn = measures.iter().find(|m| m.column != "p_alive");
    let mut out: Vec<(String, String)> = measures
        .iter()
        .map(|m| (m.column.clone(), m.label.clone()))
        .collect();
    if let Some(c) = churn {
        out.push((
            "churn_probability".into(),
            format!(
                "{} (churn model; churn_probability is its old name)",
                c.label
            ),
        ));
        out.push((
            "value_at_risk".into(),
            format!("value at risk: {} × CLV", c.label),
        ));
    }
    out.push((
        "value_at_risk_p_alive".into(),
        format!("value at risk: (1 − {P_ALIVE_LABEL}) × CLV"),
    ));
    let mut seen = std::collections::HashSet::new();
    out.retain(|(c, _)| columns.contains(c) && seen.insert(c.clone()));
    out
}

/// Everything about one customer, as Arrow batches per part (see [`Customer360::to_json`]
/// for the JSON the API and the CLI print).
#[derive(Debug, Clone)]
pub struct Customer360 {
    /// The id looked up.
    pub customer_id: String,
    /// The customers row without its consent columns.
    pub profile: Vec<RecordBatch>,
    /// The consent columns (`consent_*`) of the customers row.
    pub consent: Vec<RecordBatch>,
    /// One row merging the customer's row of every stored `scores_*` table (a later table's
    /// value replaces an earlier one of the same name unless it is null); no batch when no
    /// table has a row for the customer.
    pub scores: Vec<RecordBatch>,
    /// The `customer_summary` row (none when the customer has no sale); `None` when the
    /// workspace has no orders.
    pub summary: Option<Vec<RecordBatch>>,
    /// Table name → the customer's rows, newest first, at most [`SECTION_ROWS`], for each
    /// table of [`CUSTOMER_TABLES`] that is stored and has a `customer_id`, in that order.
    pub sections: Vec<(String, Vec<RecordBatch>)>,
    /// The items of the orders in the `orders` section, with `order_date` and, when products
    /// are stored, `product_name` and `category`; newest first, at most [`SECTION_ROWS`].
    /// `None` when there are no order items or the customer has no order.
    pub order_items: Option<Vec<RecordBatch>>,
    /// The stored measures of whether customers are being lost, the one that fits the
    /// business first ([`risk_measures`]); the JSON's `outlook` gives each with the
    /// customer's value.
    pub measures: Vec<RiskMeasure>,
    /// Customers who bought what this customer bought also bought: the stored product-level
    /// `basket_rules` whose antecedent products the customer has all bought and whose
    /// consequent products they have none of, by lift then confidence, at most
    /// [`BOUGHT_TOGETHER`] (`because`, `also_bought`, `confidence`, `lift`). Empty when no
    /// rules are stored.
    pub bought_together: Vec<(String, String, f64, f64)>,
}

/// Rules shown in the 360's "bought together".
pub const BOUGHT_TOGETHER: usize = 5;

impl Customer360 {
    /// The rows of one section, if the 360 has it.
    pub fn section(&self, table: &str) -> Option<&[RecordBatch]> {
        self.sections
            .iter()
            .find(|(name, _)| name == table)
            .map(|(_, b)| b.as_slice())
    }

    /// The 360 as one JSON object: `customer_id`, `profile` and `consent` (objects),
    /// `outlook` (`lead`: the column of the measure that fits the business, or null;
    /// `measures`: each stored measure, lead first, with `column`, `label`, `meaning` and
    /// the customer's `value`), `scores` (object), `summary` (object, only when there are
    /// orders), `sections` (table → rows, with `order_items` last) and `section_rows`. `protect` is applied to the profile, the
    /// consent and each section before they become JSON (the server masks personal columns
    /// there; pass `|b| Ok(b.to_vec())` for no masking); scores, summary and order items hold
    /// no personal column and are not passed to it.
    pub fn to_json<E: From<AnalyticsError>>(
        &self,
        protect: impl Fn(&[RecordBatch]) -> Result<Vec<RecordBatch>, E>,
    ) -> Result<Value, E> {
        let mut out = Map::new();
        out.insert("customer_id".into(), self.customer_id.clone().into());
        out.insert("profile".into(), last_row(&protect(&self.profile)?)?.into());
        out.insert("consent".into(), last_row(&protect(&self.consent)?)?.into());
        let scores = last_row(&self.scores)?;
        let measures: Vec<Value> = self
            .measures
            .iter()
            .map(|m| {
                let mut v = serde_json::to_value(m).unwrap_or(Value::Null);
                if let Value::Object(o) = &mut v {
                    o.insert(
                        "value".into(),
                        scores.get(&m.column).cloned().unwrap_or(Value::Null),
                    );
                }
                v
            })
            .collect();
        out.insert(
            "outlook".into(),
            serde_json::json!({
                "lead": self.measures.first().map(|m| m.column.clone()),
                "measures": measures,
            }),
        );
        out.insert("scores".into(), scores.into());
        if let Some(summary) = &self.summary {
            out.insert("summary".into(), last_row(summary)?.into());
        }
        let mut sections = Map::new();
        for (table, rows) in &self.sections {
            sections.insert(table.clone(), rows_json(&protect(rows)?)?);
        }
        if let Some(items) = &self.order_items {
            sections.insert("order_items".into(), rows_json(&protect(items)?)?);
        }
        out.insert("sections".into(), sections.into());
        out.insert("section_rows".into(), SECTION_ROWS.into());
        out.insert(
            "bought_together".into(),
            self.bought_together
                .iter()
                .map(|(because, also, confidence, lift)| {
                    serde_json::json!({
                        "because": because,
                        "also_bought": also,
                        "confidence": confidence,
                        "lift": lift,
                    })
                })
                .collect::<Vec<_>>()
                .into(),
        );
        Ok(Value::Object(out))
    }
}

/// The last row of batches as a JSON object (nulls left out); empty when there is no row.
fn last_row(batches: &[RecordBatch]) -> Result<Map<String, Value>, AnalyticsError> {
    Ok(match rows_json(batches)? {
        Value::Array(mut rows) => match rows.pop() {
            Some(Value::Object(row)) => row,
            _ => Map::new(),
        },
        _ => Map::new(),
    })
}

fn df_err(e: DataFusionError) -> AnalyticsError {
    clientele_engine::engine_error(e).into()
}

/// Column `name` of the input aliased `qualifier`, taken as written (no parsing of dots or
/// quotes).
fn qcol(qualifier: &str, name: &str) -> Expr {
    Expr::Column(Column::new(Some(qualifier), name))
}

/// The customer list before filters: profile columns, purchase summary, stored scores.
async fn list_frame(engine: &Engine) -> Result<DataFrame, AnalyticsError> {
    if !engine.has_table("customers") {
        return Err(AnalyticsError::MissingData(
            "the customer list needs the customers table, and the workspace has none".into(),
        ));
    }
    let ctx = engine.context();
    let has = |c: &str| engine.has_column("customers", c);
    let mut select = vec![qcol("c", "customer_id")];
    if has("first_name") || has("last_name") {
        select.push(
            concat_ws(
                lit(" "),
                vec![qcol("c", "first_name"), qcol("c", "last_name")],
            )
            .alias("customer_name"),
        );
    }
    select.extend(
        PROFILE_COLUMNS
            .iter()
            .filter(|c| has(c))
            .map(|c| qcol("c", c)),
    );
    let mut df = ctx
        .table("customers")
        .await
        .and_then(|t| t.alias("c"))
        .map_err(df_err)?;
    if engine.has_table("orders") {
        let summary = ctx
            .table("customer_summary")
            .await
            .and_then(|t| t.alias("cs"))
            .map_err(df_err)?;
        df = df
            .join_on(
                summary,
                JoinType::Left,
                [qcol("c", "customer_id").eq(qcol("cs", "customer_id"))],
            )
            .map_err(df_err)?;
        select.extend(["orders", "revenue", "last_order_date"].map(|c| qcol("cs", c)));
    }
    // The view exists whenever there are customers; without stored scores it holds only
    // customer_id, and there is nothing to join.
    if let Ok(scores) = ctx.table("customer_scores").await {
        let score_cols: Vec<String> = scores
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .filter(|n| n != "customer_id" && !n.ends_with("_reasons"))
            .collect();
        if !score_cols.is_empty() {
            let scores = scores.alias("s").map_err(df_err)?;
            df = df
                .join_on(
                    scores,
                    JoinType::Left,
                    [qcol("c", "customer_id").eq(qcol("s", "customer_id"))],
                )
                .map_err(df_err)?;
            select.extend(score_cols.iter().map(|c| qcol("s", c)));
            let scored = |c: &str| score_cols.iter().any(|x| x == c);
            if scored("churn_probability") && scored("clv") {
                select.push(
                    (qcol("s", "churn_probability") * qcol("s", "clv")).alias("value_at_risk"),
                );
            }
            if scored("p_alive") && scored("clv") {
                select.push(
                    ((lit(1.0) - qcol("s", "p_alive")) * qcol("s", "clv"))
                        .alias("value_at_risk_p_alive"),
                );
            }
        }
    }
    df.select(select).map_err(df_err)
}

fn column_names(df: &DataFrame) -> Vec<String> {
    df.schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect()
}

/// The columns of the customer list, in order, without running it (a query plan only): for
/// checking filters before [`customer_list`].
pub async fn customer_columns(engine: &Engine) -> Result<Vec<String>, AnalyticsError> {
    Ok(column_names(&list_frame(engine).await?))
}

/// The customer list (or the at-risk list): `customer_id`, `customer_name` (first and last
/// name), the profile columns the source provided, `orders`, `revenue` and `last_order_date`
/// when there are orders, every stored score except reasons, `value_at_risk` (the churn
/// model's probability, `churn_probability`, × CLV) when both are stored and
/// `value_at_risk_p_alive` ((1 − P(alive)) × CLV) when the CLV run is stored; filtered,
/// searched, sorted and paged as `query` says.
///
/// Errors: no customers table, or the at-risk list without the stored scores its measure
/// needs ([`AnalyticsError::MissingData`]); a filter or sort on a column the list does not
/// have ([`AnalyticsError::Usage`], listing the columns); page 0
/// ([`AnalyticsError::Parameter`]).
pub async fn customer_list(
    engine: &Engine,
    query: &CustomerQuery,
) -> Result<CustomerList, AnalyticsError> {
    let mut df = list_frame(engine).await?;
    let columns = column_names(&df);
    let has = |c: &str| columns.iter().any(|x| x == c);
    let mut notes = Vec::new();
    for (k, v) in &query.filters {
        if !has(k) {
            return Err(AnalyticsError::Usage(format!(
                "unknown filter '{k}': filter on a column of the list ({})",
                columns.join(", ")
            )));
        }
        df = df
            .filter(cast(ident(k), DataType::Utf8).eq(lit(v.as_str())))
            .map_err(df_err)?;
        notes.push(format!("only customers with {k} = {v}"));
    }
    if let Some(q) = query
        .search
        .as_deref()
        .map(str::trim)
        .filter(|q| !q.is_empty())
    {
        let pattern = format!("%{}%", like_escape(&q.to_lowercase()));
        let matches = |c: &str| lower(ident(c)).like(lit(pattern.as_str()));
        let mut cond = matches("customer_id");
        if query.search_personal {
            for c in ["customer_name", "email"] {
                if has(c) {
                    cond = cond.or(matches(c));
                }
            }
        }
        df = df.filter(cond).map_err(df_err)?;
    }
    let measures = risk_measures(engine);
    let value_at_risk = if query.at_risk {
        let by = match measures.first() {
            Some(m) if m.column == "p_alive" => "value_at_risk_p_alive",
            _ => "value_at_risk",
        };
        if !has(by) {
            return Err(AnalyticsError::MissingData(
                "the at-risk list needs stored CLV scores (P(alive) and CLV): run `clientele clv` \
                 (for subscriptions also `clientele churn --kind subscription`; the demo stores clv and churn)"
                    .into(),
            ));
        }
        df = df.filter(ident(by).is_not_null()).map_err(df_err)?;
        let churn_label = measures
            .iter()
            .find(|m| m.column != "p_alive")
            .map_or("churn_probability", |m| m.label.as_str());
        let alive = measures.iter().any(|m| m.column == "p_alive");
        notes.push(if by == "value_at_risk" && alive {
            format!(
                "at risk by value_at_risk = {churn_label} × CLV: the churn model leads for subscriptions"
            )
        } else if by == "value_at_risk" {
            format!(
                "at risk by value_at_risk = {churn_label} × CLV, as no P(alive) is stored: \
                 a slow buyer who is still a customer can score high; `clientele clv` stores P(alive), \
                 which leads for purchases without a contract"
            )
        } else {
            format!(
                "at risk by value_at_risk_p_alive = (1 − {P_ALIVE_LABEL}) × CLV: P(alive) leads for purchases without a contract{}",
                measures
                    .get(1)
                    .map(|m| format!(
                        "; value_at_risk uses the churn model's {} instead",
                        m.label
                    ))
                    .unwrap_or_default()
            )
        });
        Some(by.to_string())
    } else {
        None
    };
    let default_sort = match &value_at_risk {
        Some(by) => format!("-{by}"),
        None if has("revenue") => "-revenue".into(),
        None => "customer_id".into(),
    };
    let sort = query.sort.as_deref().unwrap_or(&default_sort);
    let (name, descending) = match sort.strip_prefix('-') {
        Some(n) => (n, true),
        None => (sort, false),
    };
    if !has(name) {
        return Err(AnalyticsError::Usage(format!(
            "cannot sort by '{name}': sort by a column of the list ({})",
            columns.join(", ")
        )));
    }
    df = df
        .sort(vec![
            ident(name).sort(!descending, false),
            ident("customer_id").sort(true, false),
        ])
        .map_err(df_err)?;
    let total = df.clone().count().await.map_err(df_err)?;
    if let Some((page, size)) = query.page {
        let skip = page
            .checked_sub(1)
            .and_then(|p| p.checked_mul(size))
            .ok_or_else(|| {
                AnalyticsError::parameter("page", page, "expected a page number from 1")
            })?;
        df = df.limit(skip, Some(size)).map_err(df_err)?;
    }
    let batches = engine.collect(df).await?;
    let labels = column_labels(&measures, &columns);
    Ok(CustomerList {
        batches,
        total,
        notes,
        columns,
        measures,
        labels,
        value_at_risk,
    })
}

/// Text made literal in a LIKE pattern: the escape character (`\`), `%` and `_` escaped.
fn like_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        if matches!(ch, '\\' | '%' | '_') {
            out.push('\\');
        }
        out.push(ch);
    }
    out
}

/// A session over the same tables that decodes the other columns of a row only when its
/// filter matches (Parquet filter pushdown). That is what a one-customer lookup wants —
/// a few rows out of millions — and not what the reports' scans of whole tables want, so it
/// is not the engine's default.
pub fn selective_context(engine: &Engine) -> SessionContext {
    let mut state = engine.context().state();
    let parquet = &mut state.config_mut().options_mut().execution.parquet;
    parquet.pushdown_filters = true;
    parquet.reorder_filters = true;
    SessionContext::new_with_state(state)
}

/// The rows of `table` whose `customer_id` is `id`, newest first by `newest_first_by` when the
/// table has that column, at most [`SECTION_ROWS`].
async fn lookup(
    ctx: &SessionContext,
    table: &str,
    id: &str,
    newest_first_by: Option<&str>,
) -> Result<Vec<RecordBatch>, AnalyticsError> {
    let mut df = ctx
        .table(table)
        .await
        .and_then(|t| t.filter(ident("customer_id").eq(lit(id))))
        .map_err(df_err)?;
    if let Some(order) = newest_first_by
        && df.schema().has_column_with_unqualified_name(order)
    {
        df = df
            .sort(vec![ident(order).sort(false, true)])
            .map_err(df_err)?;
    }
    df.limit(0, Some(SECTION_ROWS))
        .map_err(df_err)?
        .collect()
        .await
        .map_err(df_err)
}

/// Everything about one customer: profile and consent, stored scores, purchase summary, one
/// section per table with a `customer_id` (newest first) and the items of the orders shown.
/// `Ok(None)` when there is no such customer; [`AnalyticsError::MissingData`] when the
/// workspace has no customers table.
///
/// Lookups run on a [`selective_context`] (Parquet filter pushdown), and the scores are read
/// table by table rather than through the `customer_scores` view, which would join every
/// customer to find one.
pub async fn customer_360(
    engine: &Engine,
    id: &str,
) -> Result<Option<Customer360>, AnalyticsError> {
    if !engine.has_table("customers") {
        return Err(AnalyticsError::MissingData(
            "the customer 360 needs the customers table".into(),
        ));
    }
    let ctx = selective_context(engine);
    let row = lookup(&ctx, "customers", id, None).await?;
    if row.iter().all(|b| b.num_rows() == 0) {
        return Ok(None);
    }
    let (consent, profile) = split_columns(&row, |name| name.starts_with("consent_"))?;
    let mut scores = Vec::new();
    for table in engine
        .manifest()
        .tables
        .keys()
        .filter(|t| t.starts_with("scores_"))
    {
        if let Some(last) = last_row_batch(&lookup(&ctx, table, id, None).await?) {
            scores.push(last);
        }
    }
    let scores = merge_rows(&scores)?.into_iter().collect();
    let summary = if engine.has_table("orders") {
        Some(lookup(&ctx, "customer_summary", id, None).await?)
    } else {
        None
    };
    let mut sections = Vec::new();
    for (table, order) in CUSTOMER_TABLES {
        if engine.has_table(table) && engine.has_column(table, "customer_id") {
            let rows = lookup(&ctx, table, id, Some(*order)).await?;
            sections.push(((*table).to_string(), rows));
        }
    }
    let shown: Vec<String> = sections
        .iter()
        .find(|(t, _)| t == "orders")
        .map(|(_, rows)| text_values(rows, "order_id"))
        .transpose()?
        .unwrap_or_default();
    let order_items = if engine.has_table("order_items") && !shown.is_empty() {
        Some(order_items(&ctx, engine.has_table("products"), &shown).await?)
    } else {
        None
    };
    Ok(Some(Customer360 {
        customer_id: id.to_string(),
        profile,
        consent,
        scores,
        summary,
        sections,
        order_items,
        measures: risk_measures(engine),
        bought_together: bought_together(engine, &ctx, id).await?,
    }))
}

/// See [`Customer360::bought_together`].
async fn bought_together(
    engine: &Engine,
    ctx: &SessionContext,
    id: &str,
) -> Result<Vec<(String, String, f64, f64)>, AnalyticsError> {
    if !engine.has_table("basket_rules") || !engine.has_table("order_items") {
        return Ok(Vec::new());
    }
    // The customer's products through the same filtered read as every section (the id is a
    // literal, never SQL text).
    let bought = ctx
        .table("sales_lines")
        .await
        .and_then(|t| t.filter(ident("customer_id").eq(lit(id))))
        .and_then(|t| t.select(vec![ident("product_id")]))
        .and_then(|t| t.distinct())
        .map_err(df_err)?
        .collect()
        .await
        .map_err(df_err)?;
    let mine: std::collections::HashSet<String> =
        text_values(&bought, "product_id")?.into_iter().collect();
    if mine.is_empty() {
        return Ok(Vec::new());
    }
    let rules = ctx
        .table("basket_rules")
        .await
        .and_then(|t| t.filter(ident("level").eq(lit("product"))))
        .and_then(|t| {
            t.select(vec![
                ident("antecedents"),
                ident("consequents"),
                ident("confidence"),
                ident("lift"),
            ])
        })
        .map_err(df_err)?
        .collect()
        .await
        .map_err(df_err)?;
    let mut out = Vec::new();
    for b in &rules {
        let (a, c) = (str_col(b, "antecedents"), str_col(b, "consequents"));
        let (conf, lift) = (f64_col(b, "confidence"), f64_col(b, "lift"));
        for i in 0..b.num_rows() {
            if a.is_null(i) || c.is_null(i) {
                continue;
            }
            let has = |items: &str| items.split(" & ").all(|p| mine.contains(p));
            let none = |items: &str| items.split(" & ").all(|p| !mine.contains(p));
            if has(a.value(i)) && none(c.value(i)) {
                out.push((
                    a.value(i).to_string(),
                    c.value(i).to_string(),
                    conf.value(i),
                    lift.value(i),
                ));
            }
        }
    }
    out.sort_by(|x, y| {
        y.3.total_cmp(&x.3)
            .then(y.2.total_cmp(&x.2))
            .then_with(|| (&x.0, &x.1).cmp(&(&y.0, &y.1)))
    });
    out.truncate(BOUGHT_TOGETHER);
    Ok(out)
}

/// The items of the given orders with their order date (and product name and category), by
/// order date descending, then order and product id, at most [`SECTION_ROWS`].
async fn order_items(
    ctx: &SessionContext,
    products: bool,
    order_ids: &[String],
) -> Result<Vec<RecordBatch>, AnalyticsError> {
    let ids: Vec<Expr> = order_ids.iter().map(|o| lit(o.as_str())).collect();
    let items = ctx
        .table("order_items")
        .await
        .and_then(|t| t.filter(in_list(ident("order_id"), ids.clone(), false)))
        .and_then(|t| t.alias("i"))
        .map_err(df_err)?;
    let orders = ctx
        .table("orders")
        .await
        .and_then(|t| t.filter(in_list(ident("order_id"), ids, false)))
        .and_then(|t| t.select(vec![ident("order_id"), ident("order_date")]))
        .and_then(|t| t.alias("o"))
        .map_err(df_err)?;
    let mut df = items
        .join_on(
            orders,
            JoinType::Inner,
            [qcol("i", "order_id").eq(qcol("o", "order_id"))],
        )
        .map_err(df_err)?;
    let mut select = vec![
        qcol("i", "order_id"),
        qcol("o", "order_date"),
        qcol("i", "product_id"),
    ];
    if products {
        let p = ctx
            .table("products")
            .await
            .and_then(|t| t.select(vec![ident("product_id"), ident("name"), ident("category")]))
            .and_then(|t| t.alias("p"))
            .map_err(df_err)?;
        df = df
            .join_on(
                p,
                JoinType::Left,
                [qcol("i", "product_id").eq(qcol("p", "product_id"))],
            )
            .map_err(df_err)?;
        select.push(qcol("p", "name").alias("product_name"));
        select.push(qcol("p", "category"));
    }
    select.extend(["quantity", "unit_price", "discount"].map(|c| qcol("i", c)));
    let df = df
        .sort(vec![
            qcol("o", "order_date").sort(false, true),
            qcol("i", "order_id").sort(true, false),
            qcol("i", "product_id").sort(true, false),
        ])
        .and_then(|t| t.select(select))
        .and_then(|t| t.limit(0, Some(SECTION_ROWS)))
        .map_err(df_err)?;
    df.collect().await.map_err(df_err)
}

/// Batches split by column: (columns where `pick` holds, the others), each in table order.
fn split_columns(
    batches: &[RecordBatch],
    pick: impl Fn(&str) -> bool,
) -> Result<(Vec<RecordBatch>, Vec<RecordBatch>), AnalyticsError> {
    let mut picked = Vec::new();
    let mut rest = Vec::new();
    for b in batches {
        let (yes, no): (Vec<usize>, Vec<usize>) =
            (0..b.num_columns()).partition(|&i| pick(b.schema().field(i).name()));
        picked.push(b.project(&yes)?);
        rest.push(b.project(&no)?);
    }
    Ok((picked, rest))
}

/// The last row of batches, as a one-row batch.
fn last_row_batch(batches: &[RecordBatch]) -> Option<RecordBatch> {
    batches
        .iter()
        .rev()
        .find(|b| b.num_rows() > 0)
        .map(|b| b.slice(b.num_rows() - 1, 1))
}

/// One-row batches merged into one row: columns in order of first appearance; a later
/// column of the same name replaces an earlier one unless its value is null — what merging
/// the rows as JSON objects (nulls left out) gives. `None` when there is no row.
fn merge_rows(rows: &[RecordBatch]) -> Result<Option<RecordBatch>, AnalyticsError> {
    if rows.is_empty() {
        return Ok(None);
    }
    let mut fields: Vec<FieldRef> = Vec::new();
    let mut arrays: Vec<ArrayRef> = Vec::new();
    for row in rows {
        for (field, array) in row.schema().fields().iter().zip(row.columns()) {
            match fields.iter().position(|f| f.name() == field.name()) {
                Some(i) if !array.is_null(0) => {
                    fields[i] = field.clone();
                    arrays[i] = array.clone();
                }
                Some(_) => {}
                None => {
                    fields.push(field.clone());
                    arrays.push(array.clone());
                }
            }
        }
    }
    let fields: Vec<Field> = fields
        .iter()
        .map(|f| f.as_ref().clone().with_nullable(true))
        .collect();
    Ok(Some(RecordBatch::try_new(
        std::sync::Arc::new(Schema::new(fields)),
        arrays,
    )?))
}

/// The non-null values of a column as text.
fn text_values(batches: &[RecordBatch], column: &str) -> Result<Vec<String>, AnalyticsError> {
    let mut out = Vec::new();
    for b in batches {
        let Ok(i) = b.schema().index_of(column) else {
            continue;
        };
        let text = arrow::compute::cast(b.column(i), &DataType::Utf8)?;
        let text = text
            .as_any()
            .downcast_ref::<arrow::array::StringArray>()
            .ok_or_else(|| AnalyticsError::Internal {
                what: format!("{column} cast to text is not text"),
                source: None,
            })?;
        out.extend(text.iter().flatten().map(str::to_string));
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
