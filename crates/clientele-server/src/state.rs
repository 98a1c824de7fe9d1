//! What every request shares: the engine over the workspace (reopened when an ingest or a
//! stored analysis changes the manifest), users, sessions, the audit log, a cache of analysis
//! results, and the runtime that runs queries and models.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use clientele_analytics::{Analysis, Engine, Report, ReportRequest};

use crate::access::{Caller, Role, Sessions, User};
use crate::audit::AuditLog;
use crate::error::ApiError;
use crate::privacy::Privacy;
use crate::{ServerConfig, ServerError};

/// Identifies one version of a file: modification time and length.
type Stamp = Option<(SystemTime, u64)>;

/// The versions of the manifest and of `access/policy.json`.
type PolicyStamp = (Stamp, Stamp);

fn stamp(path: &Path) -> Stamp {
    std::fs::metadata(path)
        .ok()
        .and_then(|m| Some((m.modified().ok()?, m.len())))
}

/// Bytes of analysis results kept (their tables; the per-customer rows are dropped, since no
/// answer shows them): they take seconds to minutes, and their inputs change only with the
/// workspace.
const CACHED_ANALYSIS_BYTES: usize = 256 << 20;

/// Bytes of reports kept: a dashboard asks for the same few reports all day, and their rows
/// change only when the workspace does. Varying the dates cannot grow it beyond this.
const CACHED_REPORT_BYTES: usize = 128 << 20;

/// The memory a result holds, as Arrow counts it.
pub trait Weigh {
    fn bytes(&self) -> usize;
}

impl Weigh for Report {
    fn bytes(&self) -> usize {
        self.batches
            .iter()
            .map(|b| b.get_array_memory_size())
            .sum::<usize>()
            + self.notes.iter().map(String::len).sum::<usize>()
            + 256
    }
}

impl Weigh for Analysis {
    fn bytes(&self) -> usize {
        self.tables.iter().map(Weigh::bytes).sum::<usize>()
            + self.rows.as_ref().map_or(0, Weigh::bytes)
            + serde_json::to_string(&self.facts).map_or(0, |t| t.len())
            + 256
    }
}

/// A cached result: its key, the result and its weight in bytes.
type Entry<T> = (String, Arc<T>, usize);

/// Results by key, oldest dropped first, at most `capacity` bytes in all (a result larger
/// than that is answered but not kept); keys start with the workspace version they were
/// computed from, so a new ingest or stored analysis is never answered from an old result.
struct Cache<T> {
    /// The entries, oldest first, each with its weight, and the sum of the weights.
    entries: Mutex<(VecDeque<Entry<T>>, usize)>,
    capacity: usize,
}

impl<T: Weigh> Cache<T> {
    fn new(capacity: usize) -> Cache<T> {
        Cache {
            entries: Mutex::new((VecDeque::new(), 0)),
            capacity,
        }
    }

    fn get(&self, key: &str) -> Option<Arc<T>> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries
            .0
            .iter()
            .find(|(k, _, _)| k == key)
            .map(|(_, v, _)| Arc::clone(v))
    }

    fn put(&self, key: String, value: Arc<T>) {
        let bytes = value.bytes();
        if bytes > self.capacity {
            return;
        }
        let mut guard = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let (entries, total) = &mut *guard;
        if entries.iter().any(|(k, _, _)| *k == key) {
            return;
        }
        while *total + bytes > self.capacity {
            match entries.pop_front() {
                Some((_, _, b)) => *total -= b,
                None => break,
            }
        }
        entries.push_back((key, value, bytes));
        *total += bytes;
    }

    #[cfg(test)]
    fn held(&self) -> (usize, usize) {
        let guard = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        (guard.0.len(), guard.1)
    }
}

/// The customer ids of one workspace version, as hashes: enough to tell whether a text cell
/// of a response names a customer (a collision only adds a value to an audit entry).
pub struct CustomerIds {
    hasher: std::hash::RandomState,
    hashes: std::collections::HashSet<u64>,
}

impl CustomerIds {
    fn new(ids: impl IntoIterator<Item = String>) -> CustomerIds {
        use std::hash::BuildHasher;
        let hasher = std::hash::RandomState::new();
        let hashes = ids
            .into_iter()
            .map(|id| hasher.hash_one(id.as_str()))
            .collect();
        CustomerIds { hasher, hashes }
    }

    /// Whether a value is one of the workspace's customer ids.
    pub fn contains(&self, value: &str) -> bool {
        use std::hash::BuildHasher;
        !self.hashes.is_empty() && self.hashes.contains(&self.hasher.hash_one(value))
    }
}

/// Requests of one analysis that may wait for it while it runs; more are answered 503.
pub const ANALYSIS_QUEUE: usize = 8;

/// One analysis's turn: a permit for the fit, and how many requests hold or wait for it.
struct Lane {
    permit: tokio::sync::Semaphore,
    waiting: AtomicUsize,
}

/// Counts a request as waiting in its lane until it is dropped (answered, failed, or
/// abandoned by a client that went away).
struct InLane(Arc<Lane>);

impl Drop for InLane {
    fn drop(&mut self) {
        self.0.waiting.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Aborts a task on the query runtime when the request waiting for it is dropped: a client
/// that goes away, or a request that times out, stops its query at its next await point.
struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A tokio runtime for queries and models, shut down without blocking when dropped (it may be
/// dropped inside the server's own runtime).
struct QueryRuntime(Option<tokio::runtime::Runtime>);

impl Drop for QueryRuntime {
    fn drop(&mut self) {
        if let Some(rt) = self.0.take() {
            rt.shutdown_background();
        }
    }
}

pub struct AppState {
    pub workspace: PathBuf,
    pub auth: bool,
    secure_cookie: bool,
    trust_proxy: bool,
    /// How long a request may take before it is answered 503 and its work stopped.
    pub request_timeout: std::time::Duration,
    engine_options: clientele_analytics::EngineOptions,
    engine: tokio::sync::Mutex<Option<(Stamp, Arc<Engine>)>>,
    users: Mutex<(Stamp, Arc<Vec<User>>)>,
    customer_ids: tokio::sync::Mutex<Option<(Stamp, Arc<CustomerIds>)>>,
    /// Keyed by the manifest's and the policy file's stamps.
    privacy: tokio::sync::Mutex<Option<(PolicyStamp, Arc<Privacy>)>>,
    pub sessions: Sessions,
    pub audit: AuditLog,
    analyses: Cache<Analysis>,
    reports: Cache<Report>,
    /// Analyses running or queued, by analysis name: one fit of each analysis at a time (two
    /// churn fits at once would double the memory for nothing), while different analyses run
    /// side by side, so a slow churn fit does not hold up an RFM request.
    lanes: Mutex<HashMap<&'static str, Arc<Lane>>>,
    /// All analyses together use at most as many fits as there are query threads.
    heavy: tokio::sync::Semaphore,
    queries: QueryRuntime,
}

impl AppState {
    pub fn new(config: &ServerConfig) -> Result<AppState, ServerError> {
        let queries = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(config.query_threads.max(1))
            .thread_name("clientele-query")
            .enable_all()
            .build()
            .map_err(|e| ServerError::Io(format!("cannot start the query runtime: {e}")))?;
        Ok(AppState {
            workspace: config.workspace.clone(),
            auth: config.auth,
            secure_cookie: config.secure_cookie,
            trust_proxy: config.trust_proxy,
            request_timeout: config.request_timeout,
            engine_options: config.engine,
            engine: tokio::sync::Mutex::new(None),
            users: Mutex::new((None, Arc::new(Vec::new()))),
            customer_ids: tokio::sync::Mutex::new(None),
            privacy: tokio::sync::Mutex::new(None),
            sessions: Sessions::default(),
            audit: AuditLog::new(&config.workspace),
            analyses: Cache::new(CACHED_ANALYSIS_BYTES),
            reports: Cache::new(CACHED_REPORT_BYTES),
            lanes: Mutex::new(HashMap::new()),
            heavy: tokio::sync::Semaphore::new(config.query_threads.max(1)),
            queries: QueryRuntime(Some(queries)),
        })
    }

    fn manifest_stamp(&self) -> Stamp {
        stamp(&self.workspace.join("manifest.json"))
    }

    /// The engine over the workspace as it is now.
    pub async fn engine(&self) -> Result<Arc<Engine>, ApiError> {
        let now = self.manifest_stamp();
        let mut guard = self.engine.lock().await;
        if let Some((s, engine)) = guard.as_ref()
            && *s == now
        {
            return Ok(Arc::clone(engine));
        }
        let workspace = self.workspace.clone();
        let options = self.engine_options;
        let engine = self
            .spawn(async move {
                Engine::open_with(&workspace, options)
                    .await
                    .map_err(ApiError::from)
            })
            .await?;
        let engine = Arc::new(engine);
        *guard = Some((now, Arc::clone(&engine)));
        Ok(engine)
    }

    /// What is masked and redacted, for the workspace and its `access/policy.json` as they
    /// are now. A policy that does not parse is a 500 whose message says what is wrong.
    pub async fn privacy(&self) -> Result<Arc<Privacy>, ApiError> {
        let now = (
            self.manifest_stamp(),
            stamp(&crate::privacy::policy_path(&self.workspace)),
        );
        let mut guard = self.privacy.lock().await;
        if let Some((s, p)) = guard.as_ref()
            && *s == now
        {
            return Ok(Arc::clone(p));
        }
        let policy = crate::privacy::load_policy(&self.workspace).map_err(|e| {
            ApiError::new(
                axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                "policy",
                e.to_string(),
            )
        })?;
        let engine = self.engine().await?;
        let privacy = Arc::new(Privacy::new(Some(engine.manifest()), &policy));
        *guard = Some((now, Arc::clone(&privacy)));
        Ok(privacy)
    }

    /// The customer ids of the workspace as it is now (from `customers`, else `orders`),
    /// read once per workspace version.
    pub async fn customer_ids(&self) -> Result<Arc<CustomerIds>, ApiError> {
        let now = self.manifest_stamp();
        let mut guard = self.customer_ids.lock().await;
        if let Some((s, ids)) = guard.as_ref()
            && *s == now
        {
            return Ok(Arc::clone(ids));
        }
        let ids = self
            .query(|engine: Arc<Engine>| async move {
                let Some(table) = ["customers", "orders"]
                    .into_iter()
                    .find(|t| engine.has_column(t, "customer_id"))
                else {
                    return Ok(CustomerIds::new(Vec::new()));
                };
                let batches = engine
                    .query(&format!(
                        "SELECT DISTINCT CAST(customer_id AS VARCHAR) AS id FROM {table}"
                    ))
                    .await?;
                let mut ids = Vec::new();
                for b in &batches {
                    let column =
                        arrow::compute::cast(b.column(0), &arrow::datatypes::DataType::Utf8)
                            .map_err(ApiError::internal)?;
                    if let Some(s) = column.as_any().downcast_ref::<arrow::array::StringArray>() {
                        ids.extend(s.iter().flatten().map(str::to_string));
                    }
                }
                Ok(CustomerIds::new(ids))
            })
            .await?;
        let ids = Arc::new(ids);
        *guard = Some((now, Arc::clone(&ids)));
        Ok(ids)
    }

    /// Runs work on the query runtime and waits for it; a panic there becomes a 500.
    pub async fn spawn<T, F>(&self, work: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: Future<Output = Result<T, ApiError>> + Send + 'static,
    {
        let rt = self
            .queries
            .0
            .as_ref()
            .expect("runtime lives as long as the state");
        let task = rt.spawn(work);
        let _abort = AbortOnDrop(task.abort_handle());
        match task.await {
            Ok(r) => r,
            Err(e) => Err(ApiError::internal(format!("a query task failed: {e}"))),
        }
    }

    /// Starts work on the query runtime that outlives the request's future (a streamed
    /// export feeding the response body); it stops on its own when its receiver goes.
    pub fn spawn_detached<F>(&self, work: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let rt = self
            .queries
            .0
            .as_ref()
            .expect("runtime lives as long as the state");
        rt.spawn(work);
    }

    /// Runs a query against the current engine on the query runtime.
    pub async fn query<T, F, Fut>(&self, work: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(Arc<Engine>) -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, ApiError>> + Send + 'static,
    {
        let engine = self.engine().await?;
        self.spawn(async move { work(engine).await }).await
    }

    /// An analysis, from the cache when this workspace version already ran it with the same
    /// parameters (`key`), else computed and kept: one fit per analysis `name` at a time, at
    /// most [`ANALYSIS_QUEUE`] requests waiting for it (more get 503 with `Retry-After`).
    pub async fn analysis<F, Fut>(
        &self,
        name: &'static str,
        key: String,
        work: F,
    ) -> Result<Arc<Analysis>, ApiError>
    where
        F: FnOnce(Arc<Engine>) -> Fut + Send + 'static,
        Fut: Future<Output = Result<Analysis, ApiError>> + Send + 'static,
    {
        let key = format!("{:?}|{key}", self.manifest_stamp());
        if let Some(hit) = self.analyses.get(&key) {
            return Ok(hit);
        }
        let lane = {
            let mut lanes = self.lanes.lock().unwrap_or_else(|e| e.into_inner());
            Arc::clone(lanes.entry(name).or_insert_with(|| {
                Arc::new(Lane {
                    permit: tokio::sync::Semaphore::new(1),
                    waiting: AtomicUsize::new(0),
                })
            }))
        };
        if lane.waiting.fetch_add(1, Ordering::SeqCst) >= ANALYSIS_QUEUE {
            lane.waiting.fetch_sub(1, Ordering::SeqCst);
            return Err(ApiError::busy(
                format!(
                    "{ANALYSIS_QUEUE} requests are already waiting for the {name} analysis; try again shortly"
                ),
                5,
            ));
        }
        let in_lane = InLane(lane);
        let _turn = in_lane
            .0
            .permit
            .acquire()
            .await
            .map_err(ApiError::internal)?;
        if let Some(hit) = self.analyses.get(&key) {
            return Ok(hit);
        }
        let _permit = self.heavy.acquire().await.map_err(ApiError::internal)?;
        if let Some(hit) = self.analyses.get(&key) {
            return Ok(hit);
        }
        let mut analysis = self.query(work).await?;
        analysis.rows = None;
        let analysis = Arc::new(analysis);
        self.analyses.put(key, Arc::clone(&analysis));
        Ok(analysis)
    }

    /// A report, from the cache when this workspace version already answered the same
    /// request.
    pub async fn report(&self, request: ReportRequest) -> Result<Arc<Report>, ApiError> {
        let key = format!("{:?}|{request:?}", self.manifest_stamp());
        if let Some(hit) = self.reports.get(&key) {
            return Ok(hit);
        }
        let report = self
            .query(move |engine: Arc<Engine>| async move {
                Ok(clientele_analytics::run_report(&engine, &request).await?)
            })
            .await?;
        let report = Arc::new(report);
        self.reports.put(key, Arc::clone(&report));
        Ok(report)
    }

    /// Whether the session cookie gets `Secure`: always with `secure_cookie`, and behind a
    /// trusted proxy when it says the client used HTTPS (`X-Forwarded-Proto: https`). The
    /// header is ignored unless the proxy is trusted: any client could send it.
    pub fn secure_cookie(&self, headers: &axum::http::HeaderMap) -> bool {
        self.secure_cookie
            || (self.trust_proxy
                && headers
                    .get("x-forwarded-proto")
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|v| v.trim().eq_ignore_ascii_case("https")))
    }

    /// The caller of a request with this bearer token or session cookie.
    pub fn caller(
        &self,
        bearer: Option<&str>,
        session: Option<&str>,
    ) -> Result<Option<Caller>, ApiError> {
        if !self.auth {
            return Ok(Some(Caller {
                name: "local".into(),
                role: Role::Admin,
            }));
        }
        if let Some(token) = bearer {
            return self.by_token(token);
        }
        match session.and_then(|id| self.sessions.token_of(id).map(|hash| (id, hash))) {
            None => Ok(None),
            // The user is looked up again on every request: a removed user's session ends
            // here, and a changed role applies to the next request.
            Some((id, hash)) => {
                let caller = self.by_token_hash(&hash)?;
                if caller.is_none() {
                    self.sessions.end(id);
                }
                Ok(caller)
            }
        }
    }

    /// The user holding a token (users are re-read when their file changes).
    pub fn by_token(&self, token: &str) -> Result<Option<Caller>, ApiError> {
        self.by_token_hash(&crate::access::sha256_hex(token.trim()))
    }

    /// The user whose token has this hash.
    pub fn by_token_hash(&self, hash: &str) -> Result<Option<Caller>, ApiError> {
        let users = self.users()?;
        Ok(users
            .iter()
            .find(|u| u.token_sha256 == hash)
            .map(|u| Caller {
                name: u.name.clone(),
                role: u.role,
            }))
    }

    fn users(&self) -> Result<Arc<Vec<User>>, ApiError> {
        let now = stamp(&self.workspace.join("access").join("users.json"));
        let mut guard = self.users.lock().unwrap_or_else(|e| e.into_inner());
        if guard.0 != now || now.is_none() {
            let users = crate::access::load_users(&self.workspace)?;
            *guard = (now, Arc::new(users));
        }
        Ok(Arc::clone(&guard.1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;

    fn state(workspace: &Path) -> Arc<AppState> {
        let config = ServerConfig {
            workspace: workspace.to_path_buf(),
            bind: "127.0.0.1:0".parse().expect("address"),
            auth: false,
            query_threads: 2,
            secure_cookie: false,
            trust_proxy: false,
            request_timeout: std::time::Duration::from_secs(300),
            engine: Default::default(),
        };
        Arc::new(AppState::new(&config).expect("state"))
    }

    fn workspace() -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("temp dir");
        let src = dir.path().join("src");
        let config = clientele_demo::DemoConfig {
            customers: 60,
            seed: 3,
            ..Default::default()
        };
        clientele_demo::generate(&config, &src, &dir.path().join("truth"), &mut |_, _, _| {})
            .expect("demo");
        let ws = dir.path().join("ws");
        clientele_ingest::ingest(&src, &ws, &Default::default(), &mut |_| {}).expect("ingest");
        dir
    }

    fn empty(name: &str) -> Analysis {
        Analysis::new(name, name)
    }

    type Fit = std::pin::Pin<Box<dyn Future<Output = Result<Analysis, ApiError>> + Send>>;

    /// A fit that runs until told to finish, and says whether it was stopped.
    fn slow(
        release: Arc<tokio::sync::Notify>,
        stopped: Arc<AtomicBool>,
    ) -> impl FnOnce(Arc<Engine>) -> Fit + Send + 'static {
        move |_| {
            Box::pin(async move {
                struct Flag(Arc<AtomicBool>);
                impl Drop for Flag {
                    fn drop(&mut self) {
                        self.0.store(true, Ordering::SeqCst);
                    }
                }
                let flag = Flag(stopped);
                release.notified().await;
                std::mem::forget(flag);
                Ok(empty("churn"))
            })
        }
    }

    fn report_of(rows: usize) -> Arc<Report> {
        let values: arrow::array::ArrayRef =
            Arc::new(arrow::array::Float64Array::from(vec![1.0; rows]));
        let batch = arrow::array::RecordBatch::try_from_iter([("v", values)]).expect("batch");
        Arc::new(Report {
            name: "r".into(),
            title: "r".into(),
            period: None,
            previous: None,
            notes: Vec::new(),
            schema: batch.schema(),
            batches: vec![batch],
        })
    }

    #[test]
    fn the_report_cache_is_bounded_in_bytes_however_the_dates_vary() {
        let one = report_of(10_000).bytes();
        let cache = Cache::new(one * 5 + one / 2);
        for day in 0..100 {
            cache.put(format!("sales?from=2025-01-{day}"), report_of(10_000));
        }
        let (entries, bytes) = cache.held();
        assert_eq!(entries, 5);
        assert!(bytes <= one * 5 + one / 2, "{bytes}");
        assert!(
            cache.get("sales?from=2025-01-99").is_some(),
            "the newest is kept"
        );
        assert!(
            cache.get("sales?from=2025-01-0").is_none(),
            "the oldest is dropped"
        );
        // A result larger than the whole cache is not kept, and does not empty it.
        cache.put("huge".into(), report_of(1_000_000));
        assert!(cache.get("huge").is_none());
        assert_eq!(cache.held().0, 5);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_slow_analysis_does_not_block_others_and_its_queue_is_bounded() {
        let dir = workspace();
        let state = state(&dir.path().join("ws"));
        let release = Arc::new(tokio::sync::Notify::new());
        let stopped = Arc::new(AtomicBool::new(false));
        let s = Arc::clone(&state);
        let work = slow(Arc::clone(&release), Arc::clone(&stopped));
        let churn = tokio::spawn(async move { s.analysis("churn", "a".into(), work).await });
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        // Another analysis answers while churn is still fitting.
        let rfm = tokio::time::timeout(
            std::time::Duration::from_secs(30),
            state.analysis("rfm", "b".into(), |_| async { Ok(empty("rfm")) }),
        )
        .await
        .expect("rfm was held up by churn")
        .expect("rfm");
        assert_eq!(rfm.name, "rfm");
        assert!(!churn.is_finished());
        // Churn requests queue behind the running fit, up to the limit; the next gets 503.
        let mut queued = Vec::new();
        for i in 1..ANALYSIS_QUEUE {
            let s = Arc::clone(&state);
            let work = slow(Arc::clone(&release), Arc::new(AtomicBool::new(false)));
            queued.push(tokio::spawn(async move {
                s.analysis("churn", format!("q{i}"), work).await
            }));
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        let refused = state
            .analysis("churn", "over".into(), |_| async { Ok(empty("churn")) })
            .await
            .expect_err("the queue is full");
        assert_eq!(
            (refused.status.as_u16(), refused.code, refused.retry_after),
            (503, "busy", Some(5))
        );
        // A client that goes away stops its fit.
        churn.abort();
        let _ = churn.await;
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        assert!(
            stopped.load(Ordering::SeqCst),
            "the abandoned fit still runs"
        );
        for q in &queued {
            q.abort();
        }
        for q in queued {
            let _ = q.await;
        }
        // Once the queue has drained, churn is served again.
        let again = state
            .analysis("churn", "after".into(), |_| async { Ok(empty("churn")) })
            .await
            .expect("churn after the queue drained");
        assert_eq!(again.name, "churn");
    }
}
