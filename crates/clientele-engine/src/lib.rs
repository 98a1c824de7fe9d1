//! The query engine: a DataFusion `SessionContext` over a workspace, with every stored table
//! registered under its canonical name and the metric views every report builds on.
//!
//! **Architecture invariant:** analytics and serving read data only through this session
//! (SQL or DataFrames over Arrow), never by opening the workspace's files themselves.

use std::path::{Path, PathBuf};

use arrow::array::RecordBatch;
use clientele_ingest::Manifest;
use datafusion::dataframe::DataFrame;
use datafusion::execution::context::{SQLOptions, SessionContext};
use datafusion::prelude::{ParquetReadOptions, SessionConfig};

/// Errors of the engine layer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// There is no workspace at the path.
    #[error("no workspace at {}: run `clientele demo` or `clientele ingest SOURCE` first", .0.display())]
    NoWorkspace(PathBuf),
    /// The workspace exists but cannot be read.
    #[error(transparent)]
    Workspace(#[from] clientele_ingest::IngestError),
    /// A query is wrong: unknown table or column, syntax error … (the user's fault).
    #[error("{0}")]
    Query(String),
    /// A statement that writes, defines tables or changes the session was given where only
    /// queries are allowed (the user's fault; the text says which kind it was).
    #[error("{0}: only queries that read are allowed here (SELECT, WITH, EXPLAIN, SHOW)")]
    ReadOnly(String),
    /// Execution failed for another reason (the cause kept as the source).
    #[error("query failed")]
    Execution(#[source] datafusion::error::DataFusionError),
}

impl EngineError {
    /// Whether the error is the user's (bad query or no workspace) rather than the system's.
    pub fn is_bad_input(&self) -> bool {
        matches!(
            self,
            EngineError::NoWorkspace(_) | EngineError::Query(_) | EngineError::ReadOnly(_)
        )
    }
}

fn classify(e: datafusion::error::DataFusionError) -> EngineError {
    use datafusion::error::DataFusionError as D;
    match e.find_root() {
        D::SQL(..) | D::Plan(_) | D::SchemaError(..) | D::NotImplemented(_) => {
            EngineError::Query(e.find_root().to_string())
        }
        _ => EngineError::Execution(e),
    }
}

/// Views defined over the canonical tables: name, tables it needs, SQL. Every report reads
/// these rather than repeating the definitions (docs/metrics.md explains each).
const VIEWS: &[(&str, &[&str], &str)] = &[
    (
        // An order counts as a sale unless it was cancelled or returned; a missing status is
        // taken as completed, since many exports only list successful orders.
        "sales",
        &["orders"],
        "SELECT * FROM orders WHERE status IS NULL OR status = 'completed'",
    ),
    (
        // Line revenue: quantity × price actually charged (the line's price, else the list
        // price) × (1 − discount).
        "sales_lines",
        &["orders", "order_items"],
        "SELECT s.order_id, s.customer_id, s.order_date, s.region AS order_region, s.channel,
                s.sales_rep_id, i.product_id, i.quantity,
                i.unit_price AS charged_unit_price, COALESCE(i.discount, 0) AS discount,
                CAST(i.quantity AS DOUBLE) * COALESCE(i.unit_price, {list_price}) * (1 - COALESCE(i.discount, 0)) AS line_amount
         FROM sales s JOIN order_items i ON s.order_id = i.order_id {product_join}",
    ),
    (
        // One row per purchasing customer: the purchase history in brief.
        "customer_summary",
        &["orders"],
        "SELECT customer_id, MIN(order_date) AS first_order_date, MAX(order_date) AS last_order_date,
                COUNT(*) AS orders, SUM(total_amount) AS revenue, AVG(total_amount) AS average_order_value
         FROM sales GROUP BY customer_id",
    ),
];

/// Which SQL statements a caller may run.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Statements {
    ReadOnly,
    Any,
}

/// A DataFusion session over one workspace.
pub struct Engine {
    ctx: SessionContext,
    workspace: PathBuf,
    manifest: Manifest,
}

impl Engine {
    /// Opens the workspace at `workspace` and registers its tables and views.
    pub async fn open(workspace: &Path) -> Result<Engine, EngineError> {
        let manifest = Manifest::read(workspace)?
            .ok_or_else(|| EngineError::NoWorkspace(workspace.to_path_buf()))?;
        let config = SessionConfig::new()
            .with_information_schema(true)
            .with_target_partitions(std::thread::available_parallelism().map_or(2, |n| n.get()));
        let ctx = SessionContext::new_with_config(config);
        for (name, entry) in &manifest.tables {
            let dir = workspace.join(&entry.dir);
            let url = format!("{}/", dir.display());
            ctx.register_parquet(name, &url, ParquetReadOptions::default())
                .await
                .map_err(classify)?;
        }
        let engine = Engine {
            ctx,
            workspace: workspace.to_path_buf(),
            manifest,
        };
        for (name, needs, sql) in VIEWS {
            if needs.iter().all(|t| engine.has_table(t)) {
                let (price, join) = if engine.has_table("products") {
                    (
                        "p.unit_price",
                        "LEFT JOIN products p ON i.product_id = p.product_id",
                    )
                } else {
                    ("CAST(NULL AS DOUBLE)", "")
                };
                let sql = sql
                    .replace("{list_price}", price)
                    .replace("{product_join}", join);
                engine
                    .ctx
                    .sql(&format!("CREATE VIEW {name} AS {sql}"))
                    .await
                    .map_err(classify)?;
            }
        }
        engine.register_analysis_views().await?;
        Ok(engine)
    }

    /// `analysis_runs` (one row per stored analysis: name, table, when, parameters) and
    /// `customer_scores`: every customer with the columns of each stored per-customer
    /// analysis table (`scores_*`, one row per customer), NULL where an analysis has no row.
    async fn register_analysis_views(&self) -> Result<(), EngineError> {
        use arrow::array::{StringArray, UInt64Array};
        use arrow::datatypes::{DataType, Field, Schema};
        let runs: Vec<_> = self.manifest.analyses.values().collect();
        let text = |f: &dyn Fn(&clientele_ingest::AnalysisRun) -> String| {
            std::sync::Arc::new(StringArray::from_iter_values(runs.iter().map(|r| f(r))))
        };
        let schema = std::sync::Arc::new(Schema::new(vec![
            Field::new("analysis", DataType::Utf8, false),
            Field::new("table_name", DataType::Utf8, false),
            Field::new("ran_at", DataType::Utf8, false),
            Field::new("rows", DataType::UInt64, false),
            Field::new("parameters", DataType::Utf8, false),
        ]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                text(&|r| r.analysis.clone()),
                text(&|r| r.table.clone()),
                text(&|r| r.ran_at.clone()),
                std::sync::Arc::new(UInt64Array::from_iter_values(runs.iter().map(|r| r.rows))),
                text(&|r| {
                    r.parameters
                        .iter()
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect::<Vec<_>>()
                        .join(" ")
                }),
            ],
        )
        .map_err(|e| EngineError::Execution(e.into()))?;
        let table = datafusion::datasource::MemTable::try_new(schema, vec![vec![batch]])
            .map_err(classify)?;
        self.ctx
            .register_table("analysis_runs", std::sync::Arc::new(table))
            .map_err(classify)?;

        let scores: Vec<(&String, &clientele_ingest::TableEntry)> = self
            .manifest
            .tables
            .iter()
            .filter(|(n, e)| {
                n.starts_with("scores_") && e.columns.iter().any(|c| c == "customer_id")
            })
            .collect();
        let base = if self.has_table("customers") {
            "SELECT customer_id FROM customers".to_string()
        } else if let Some((first, _)) = scores.first() {
            format!("SELECT DISTINCT customer_id FROM {first}")
        } else {
            return Ok(());
        };
        let mut select = vec!["c.customer_id".to_string()];
        let mut joins = String::new();
        for (i, (name, entry)) in scores.iter().enumerate() {
            for col in entry.columns.iter().filter(|c| *c != "customer_id") {
                select.push(format!("s{i}.\"{col}\""));
            }
            joins.push_str(&format!(
                " LEFT JOIN {name} s{i} ON s{i}.customer_id = c.customer_id"
            ));
        }
        let sql = format!(
            "CREATE VIEW customer_scores AS SELECT {} FROM ({base}) c{joins}",
            select.join(", ")
        );
        self.ctx.sql(&sql).await.map_err(classify)?;
        Ok(())
    }

    /// Whether a canonical table is stored in the workspace.
    pub fn has_table(&self, name: &str) -> bool {
        self.manifest.tables.contains_key(name)
    }

    /// Whether a table is stored and its source provided this column (columns a source
    /// lacked are stored as nulls).
    pub fn has_column(&self, table: &str, column: &str) -> bool {
        self.manifest.tables.get(table).is_some_and(|t| {
            t.columns.iter().any(|c| c == column) || t.extra_columns.iter().any(|c| c == column)
        })
    }

    /// The workspace's manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The workspace folder.
    pub fn workspace(&self) -> &Path {
        &self.workspace
    }

    /// The underlying DataFusion session, for DataFrame work.
    pub fn context(&self) -> &SessionContext {
        &self.ctx
    }

    /// Plans a SQL statement that only reads: a query (`SELECT`, `WITH`, `EXPLAIN`, `SHOW`).
    /// DDL (`CREATE EXTERNAL TABLE … LOCATION`, `CREATE VIEW`, `DROP`), DML (`INSERT`,
    /// `COPY … TO`) and statements (`SET`, transactions) are refused with a query error, since
    /// they read or write arbitrary files or change the session; this is the only SQL entry
    /// the server and the analyses use.
    pub async fn sql(&self, query: &str) -> Result<DataFrame, EngineError> {
        self.plan(query, Statements::ReadOnly).await
    }

    /// Plans a SQL statement of any kind, writes included: for `clientele sql --allow-write`
    /// only, where the user at the terminal owns the files it can reach. Never called by the
    /// server.
    pub async fn sql_allowing_writes(&self, query: &str) -> Result<DataFrame, EngineError> {
        self.plan(query, Statements::Any).await
    }

    async fn plan(&self, query: &str, allowed: Statements) -> Result<DataFrame, EngineError> {
        let state = self.ctx.state();
        let plan = state.create_logical_plan(query).await.map_err(classify)?;
        if allowed == Statements::ReadOnly {
            SQLOptions::new()
                .with_allow_ddl(false)
                .with_allow_dml(false)
                .with_allow_statements(false)
                .verify_plan(&plan)
                .map_err(|e| {
                    EngineError::ReadOnly(
                        e.find_root()
                            .to_string()
                            .trim_start_matches("Error during planning: ")
                            .to_string(),
                    )
                })?;
        }
        self.ctx.execute_logical_plan(plan).await.map_err(classify)
    }

    /// Runs a SQL statement and collects its result.
    pub async fn query(&self, query: &str) -> Result<Vec<RecordBatch>, EngineError> {
        self.sql(query).await?.collect().await.map_err(classify)
    }

    /// Collects a DataFrame, with errors classified.
    pub async fn collect(&self, df: DataFrame) -> Result<Vec<RecordBatch>, EngineError> {
        df.collect().await.map_err(classify)
    }

    /// Runs a query returning one numeric value (first column of the first row), as f64;
    /// `None` when there is no row or the value is NULL.
    pub async fn scalar(&self, query: &str) -> Result<Option<f64>, EngineError> {
        let batches = self.query(query).await?;
        let Some(b) = batches.iter().find(|b| b.num_rows() > 0) else {
            return Ok(None);
        };
        let col = arrow::compute::cast(b.column(0), &arrow::datatypes::DataType::Float64)
            .map_err(|e| EngineError::Execution(e.into()))?;
        let col = col
            .as_any()
            .downcast_ref::<arrow::array::Float64Array>()
            .expect("f64");
        Ok((!arrow::array::Array::is_null(col, 0)).then(|| col.value(0)))
    }
}

/// Wraps a DataFusion error from DataFrame work done outside this crate.
pub fn engine_error(e: datafusion::error::DataFusionError) -> EngineError {
    classify(e)
}
