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
use datafusion::execution::memory_pool::{FairSpillPool, TrackConsumersPool};
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
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
    /// A query needed more memory than the engine may use, even after spilling what can be
    /// spilled to disk (sorts, aggregations); the text says which operator asked for how much.
    #[error(
        "the query needs more memory than the engine's limit ({0}); raise --memory-limit (or CLIENTELE_MEMORY_LIMIT), or narrow the query"
    )]
    MemoryLimit(String),
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
        // The pool's text lists the top consumers over several lines; the last says what
        // could not be allocated against what limit, which is the one sentence a user needs.
        D::ResourcesExhausted(m) => EngineError::MemoryLimit(
            m.lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or(m)
                .trim()
                .trim_start_matches("Error: ")
                .to_string(),
        ),
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
        // One row per purchasing customer: the purchase history in brief (guest orders,
        // without a customer, are no one's history).
        "customer_summary",
        &["orders"],
        "SELECT customer_id, MIN(order_date) AS first_order_date, MAX(order_date) AS last_order_date,
                COUNT(*) AS orders, SUM(total_amount) AS revenue, AVG(total_amount) AS average_order_value
         FROM sales WHERE customer_id IS NOT NULL GROUP BY customer_id",
    ),
];

/// How an engine runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EngineOptions {
    /// Bytes all queries of this engine may hold at once. Sorts, aggregations and joins that
    /// can spill write to the system's temporary folder beyond their share; a query that still
    /// needs more fails with [`EngineError::MemoryLimit`].
    pub memory_limit: usize,
}

/// The default memory limit: half of the machine's memory (4 GiB where it cannot be read).
pub const DEFAULT_MEMORY_SHARE: f64 = 0.5;

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            memory_limit: (physical_memory().unwrap_or(8 << 30) as f64 * DEFAULT_MEMORY_SHARE)
                as usize,
        }
    }
}

/// The machine's physical memory in bytes, from `/proc/meminfo` (`None` elsewhere).
pub fn physical_memory() -> Option<usize> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: usize = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Parses a memory limit as a share of the machine's memory (`50%`) or a size (`4GiB`,
/// `512MiB`, `2G`, `100000000` bytes). Units are binary: K, M, G, T with or without `iB`/`B`.
pub fn parse_memory_limit(text: &str) -> Result<usize, String> {
    let t = text.trim();
    let expected = || {
        format!(
            "'{text}' is not a memory limit: expected a share of memory such as 50% or a size such as 4GiB or 512MiB"
        )
    };
    if let Some(share) = t.strip_suffix('%') {
        let share: f64 = share.trim().parse().map_err(|_| expected())?;
        if !(share > 0.0 && share <= 100.0) {
            return Err(format!(
                "'{text}': a share of memory must be above 0% and at most 100%"
            ));
        }
        let total = physical_memory().ok_or_else(|| {
            format!("'{text}': the machine's memory cannot be read here; give a size such as 4GiB")
        })?;
        return Ok((total as f64 * share / 100.0) as usize);
    }
    let upper = t.to_ascii_uppercase();
    let digits_end = upper
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(upper.len());
    let (number, unit) = upper.split_at(digits_end);
    let number: f64 = number.parse().map_err(|_| expected())?;
    let scale: f64 = match unit.trim().trim_end_matches("IB").trim_end_matches('B') {
        "" => 1.0,
        "K" => 1024.0,
        "M" => 1024.0 * 1024.0,
        "G" => 1024.0 * 1024.0 * 1024.0,
        "T" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => return Err(expected()),
    };
    let bytes = number * scale;
    if !(bytes >= (1 << 20) as f64 && bytes.is_finite()) {
        return Err(format!("'{text}': the memory limit must be at least 1MiB"));
    }
    Ok(bytes as usize)
}

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
    /// Opens the workspace at `workspace` and registers its tables and views, with the
    /// default options (half the machine's memory).
    pub async fn open(workspace: &Path) -> Result<Engine, EngineError> {
        Engine::open_with(workspace, EngineOptions::default()).await
    }

    /// Opens the workspace with these options.
    pub async fn open_with(
        workspace: &Path,
        options: EngineOptions,
    ) -> Result<Engine, EngineError> {
        let manifest = Manifest::read(workspace)?
            .ok_or_else(|| EngineError::NoWorkspace(workspace.to_path_buf()))?;
        Engine::build(workspace, manifest, options).await
    }

    /// An engine over no workspace: no tables, for an analysis whose input is a file given
    /// by the user (`clientele forecast --series FILE`), read through [`Engine::context`].
    /// Nothing can be stored through it.
    pub async fn detached(options: EngineOptions) -> Result<Engine, EngineError> {
        let manifest = Manifest {
            schema_version: clientele_schema::SCHEMA_VERSION,
            generation: 0,
            ingested_at: String::new(),
            tables: Default::default(),
            analyses: Default::default(),
        };
        Engine::build(Path::new(""), manifest, options).await
    }

    async fn build(
        workspace: &Path,
        manifest: Manifest,
        options: EngineOptions,
    ) -> Result<Engine, EngineError> {
        let config = SessionConfig::new()
            .with_information_schema(true)
            .with_target_partitions(std::thread::available_parallelism().map_or(2, |n| n.get()));
        // A fair pool: each spilling operator gets an equal share, so one large sort cannot
        // starve the queries beside it; the top consumers are named when it runs out.
        let pool = TrackConsumersPool::new(
            FairSpillPool::new(options.memory_limit),
            std::num::NonZeroUsize::new(3).expect("non-zero"),
        );
        let runtime = RuntimeEnvBuilder::new()
            .with_memory_pool(std::sync::Arc::new(pool))
            .build_arc()
            .map_err(EngineError::Execution)?;
        let ctx = SessionContext::new_with_config_rt(config, runtime);
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
                    EngineError::ReadOnly(match e.find_root() {
                        datafusion::error::DataFusionError::Plan(why) => why.clone(),
                        other => other.to_string(),
                    })
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

#[cfg(test)]
mod tests {
    use super::*;

    async fn engine(limit: usize) -> (tempfile::TempDir, Engine) {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        std::fs::create_dir(&src).unwrap();
        std::fs::write(
            src.join("orders.csv"),
            "order_id,customer_id,order_date,total_amount\nO1,C1,2024-01-01,10\n",
        )
        .unwrap();
        let ws = dir.path().join("ws");
        let options = clientele_ingest::IngestOptions::default();
        clientele_ingest::ingest(&src, &ws, &options, &mut |_| {}).unwrap();
        let options = EngineOptions {
            memory_limit: limit,
        };
        (dir, Engine::open_with(&ws, options).await.unwrap())
    }

    /// DataFusion had no memory limit: a query that cannot fit now fails with a clear error
    /// naming the limit, while a sort larger than the limit still completes by spilling.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn queries_run_within_the_memory_limit_spilling_or_failing_clearly() {
        let (_dir, engine) = engine(32 << 20).await;
        // 4 million rows of two 8-byte values are 64 MiB to sort: twice the limit.
        let sorted = engine
            .query("SELECT value, value * 7 % 1000 AS k FROM range(4000000) ORDER BY k, value DESC")
            .await
            .expect("a sort spills");
        assert_eq!(
            sorted.iter().map(|b| b.num_rows()).sum::<usize>(),
            4_000_000
        );
        // A hash join must hold its build side in memory: this one cannot.
        let err = engine
            .query(
                "SELECT COUNT(*) FROM range(4000000) a JOIN range(4000000) b ON a.value = b.value",
            )
            .await
            .expect_err("the join exceeds the limit");
        assert!(matches!(err, EngineError::MemoryLimit(_)), "{err:?}");
        let text = err.to_string();
        assert!(
            text.contains("--memory-limit") && text.contains("memory"),
            "{text}"
        );
    }

    #[test]
    fn memory_limits_are_read_as_sizes_or_shares() {
        assert_eq!(parse_memory_limit("4GiB"), Ok(4 << 30));
        assert_eq!(parse_memory_limit("512MiB"), Ok(512 << 20));
        assert_eq!(parse_memory_limit("2g"), Ok(2 << 30));
        assert_eq!(parse_memory_limit("1.5G"), Ok(3 << 29));
        assert_eq!(parse_memory_limit("2000000"), Ok(2_000_000));
        if let Some(total) = physical_memory() {
            assert_eq!(parse_memory_limit("50%"), Ok(total / 2));
        }
        for bad in ["", "lots", "0%", "150%", "12XB", "10", "-1G"] {
            assert!(parse_memory_limit(bad).is_err(), "{bad}");
        }
    }
}
