//! The real server on a random port over a small demo workspace, driven over HTTP: every
//! documented endpoint, authentication (401/403), masking per role, audit entries, the error
//! format, malformed requests, CSV export and the drill-down's arithmetic.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use clientele_server::{Role, ServerConfig};
use reqwest::StatusCode;
use serde_json::Value;

struct Fixture {
    _dir: tempfile::TempDir,
    workspace: PathBuf,
    tokens: Vec<(Role, String)>,
}

/// One demo workspace (800 customers, with CLV, RFM and churn stored) shared by every test.
fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    // Built on a thread of its own: the tests call this from inside their tokio runtime,
    // which cannot block on a second one.
    F.get_or_init(|| std::thread::spawn(build_fixture).join().unwrap())
}

fn build_fixture() -> Fixture {
    {
        let dir = tempfile::tempdir().unwrap();
        let ws = dir.path().join("ws");
        let config = clientele_demo::DemoConfig {
            customers: 800,
            seed: 11,
            ..Default::default()
        };
        let src = ws.join("demo").join("source");
        clientele_demo::generate(
            &config,
            &src,
            &ws.join("demo").join("truth"),
            &mut |_, _, _| {},
        )
        .unwrap();
        clientele_ingest::ingest(&src, &ws, &Default::default(), &mut |_| {}).unwrap();
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async {
            for step in 0..3 {
                let engine = clientele_analytics::Engine::open(&ws).await.unwrap();
                let a = match step {
                    0 => clientele_analytics::clv(&engine, &Default::default())
                        .await
                        .unwrap(),
                    1 => clientele_analytics::segment_rfm(&engine, None)
                        .await
                        .unwrap(),
                    _ => clientele_analytics::churn(&engine, &Default::default())
                        .await
                        .unwrap(),
                };
                clientele_analytics::save(&engine, &a).unwrap();
            }
        });
        let tokens = [
            Role::Admin,
            Role::Analyst,
            Role::SalesManager,
            Role::MarketingManager,
        ]
        .into_iter()
        .map(|r| (r, clientele_server::add_user(&ws, r.name(), r).unwrap()))
        .collect();
        Fixture {
            _dir: dir,
            workspace: ws,
            tokens,
        }
    }
}

fn token(role: Role) -> &'static str {
    &fixture().tokens.iter().find(|(r, _)| *r == role).unwrap().1
}

/// Starts a server on a random port; it stops when the test's runtime ends.
async fn start(workspace: &Path, auth: bool) -> String {
    let config = ServerConfig {
        workspace: workspace.to_path_buf(),
        bind: "127.0.0.1:0".parse().unwrap(),
        auth,
        query_threads: 2,
        secure_cookie: false,
        trust_proxy: false,
        request_timeout: std::time::Duration::from_secs(300),
        engine: Default::default(),
    };
    let app = clientele_server::app(&config).unwrap();
    let listener = tokio::net::TcpListener::bind(config.bind).await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    format!("http://{addr}")
}

async fn get(base: &str, path: &str, role: Option<Role>) -> (StatusCode, String, String) {
    let mut req = reqwest::Client::new().get(format!("{base}{path}"));
    if let Some(r) = role {
        req = req.bearer_auth(token(r));
    }
    let res = req.send().await.unwrap();
    let status = res.status();
    let ct = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, ct, res.text().await.unwrap())
}

async fn get_json(base: &str, path: &str, role: Role) -> Value {
    let (status, _, body) = get(base, path, Some(role)).await;
    assert_eq!(status, StatusCode::OK, "{path}: {body}");
    serde_json::from_str(&body).unwrap()
}

fn assert_error(status: StatusCode, body: &str, want: StatusCode, code: &str) {
    assert_eq!(status, want, "{body}");
    let v: Value = serde_json::from_str(body).unwrap_or_else(|_| panic!("not JSON: {body}"));
    assert_eq!(v["error"]["code"], code, "{body}");
    assert!(v["error"]["message"].as_str().unwrap().len() > 5, "{body}");
}

/// The sum of the revenue column of a report.
fn revenue_sum(report: &Value) -> f64 {
    report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["revenue"].as_f64().unwrap())
        .sum()
}

/// The first row's customer, skipping the guest checkouts' row (`(none)`: orders without a
/// customer, which sales by customer lists as one row).
fn first_customer(base_json: &Value) -> String {
    base_json["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["customer_id"].as_str())
        .find(|id| *id != "(none)")
        .unwrap()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_endpoint_answers_and_the_document_matches_the_routes() {
    let f = fixture();
    let base = start(&f.workspace, true).await;
    let (status, _, body) = get(&base, "/api/v1/openapi.json", None).await;
    assert_eq!(status, StatusCode::OK);
    let doc: Value = serde_json::from_str(&body).unwrap();
    let customers = get_json(&base, "/api/v1/customers?page_size=1", Role::Admin).await;
    let id = first_customer(&customers);
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.len() >= 19, "{:?}", paths.keys());
    // Every schema the document refers to is in it.
    fn refs(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                for (k, x) in m {
                    match (k.as_str(), x) {
                        ("$ref", Value::String(r)) => out.push(r.clone()),
                        _ => refs(x, out),
                    }
                }
            }
            Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
            _ => {}
        }
    }
    let mut all = Vec::new();
    refs(&doc, &mut all);
    assert!(!all.is_empty());
    for r in all {
        let name = r.trim_start_matches("#/components/schemas/");
        assert!(
            doc["components"]["schemas"][name].is_object(),
            "dangling {r}"
        );
    }
    for (path, item) in paths {
        for (method, _) in item.as_object().unwrap() {
            let url = path.replace("{kind}", "rfm").replace("{id}", &id);
            let res = match method.as_str() {
                "get" => reqwest::Client::new()
                    .get(format!("{base}{url}"))
                    .bearer_auth(token(Role::Admin))
                    .send()
                    .await
                    .unwrap(),
                "post" => reqwest::Client::new()
                    .post(format!("{base}{url}"))
                    .json(&serde_json::json!({"token": token(Role::Admin)}))
                    .send()
                    .await
                    .unwrap(),
                other => panic!("undocumented method {other}"),
            };
            let status = res.status();
            assert!(
                status.is_success(),
                "{method} {url}: {status} {}",
                res.text().await.unwrap()
            );
        }
    }
    // And nothing answers that is not documented.
    let (status, _, body) = get(&base, "/api/v1/secrets", Some(Role::Admin)).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
    let res = reqwest::Client::new()
        .delete(format!("{base}/api/v1/kpis"))
        .bearer_auth(token(Role::Admin))
        .send()
        .await
        .unwrap();
    let status = res.status();
    assert_error(
        status,
        &res.text().await.unwrap(),
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_and_roles_decide_access() {
    let f = fixture();
    let base = start(&f.workspace, true).await;
    for path in [
        "/api/v1/kpis",
        "/api/v1/customers",
        "/api/v1/me",
        "/api/v1/audit",
    ] {
        let (status, _, body) = get(&base, path, None).await;
        assert_error(status, &body, StatusCode::UNAUTHORIZED, "unauthorized");
    }
    let res = reqwest::Client::new()
        .get(format!("{base}/api/v1/kpis"))
        .bearer_auth("clt_0000")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let res = reqwest::Client::new()
        .get(format!("{base}/api/v1/kpis"))
        .header("authorization", "Basic YTpi")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    // Health and the API document need no credentials.
    assert_eq!(get(&base, "/api/v1/health", None).await.0, StatusCode::OK);
    for (role, path) in [
        (Role::SalesManager, "/api/v1/segments/rfm"),
        (Role::SalesManager, "/api/v1/clv"),
        (Role::MarketingManager, "/api/v1/pipeline"),
        (Role::Analyst, "/api/v1/audit"),
        (Role::SalesManager, "/api/v1/audit"),
    ] {
        let (status, _, body) = get(&base, path, Some(role)).await;
        assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    }
    let me = get_json(&base, "/api/v1/me", Role::SalesManager).await;
    assert_eq!(me["role"], "sales_manager");
    assert_eq!(me["home"], "sales");
    assert_eq!(me["personal_data"], true);

    // The dashboard's session: login sets an HttpOnly, SameSite cookie; logout ends it.
    let client = reqwest::Client::new();
    let res = client
        .post(format!("{base}/api/v1/login"))
        .json(&serde_json::json!({"token": token(Role::Analyst)}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let session = cookie.split(';').next().unwrap().to_string();
    let me = client
        .get(format!("{base}/api/v1/me"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), StatusCode::OK);
    assert_eq!(me.json::<Value>().await.unwrap()["user"], "analyst");
    client
        .post(format!("{base}/api/v1/logout"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    let me = client
        .get(format!("{base}/api/v1/me"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), StatusCode::UNAUTHORIZED);
    let res = client
        .post(format!("{base}/api/v1/login"))
        .json(&serde_json::json!({"token": "clt_wrong"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

/// Logs in with a token and returns the session cookie (`name=value`) and the whole
/// `Set-Cookie` header.
async fn login(base: &str, token: &str) -> (String, String) {
    let res = reqwest::Client::new()
        .post(format!("{base}/api/v1/login"))
        .json(&serde_json::json!({ "token": token }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_string();
    (cookie.split(';').next().unwrap().to_string(), cookie)
}

async fn me_by_session(base: &str, session: &str) -> (StatusCode, Value) {
    let res = reqwest::Client::new()
        .get(format!("{base}/api/v1/me"))
        .header("cookie", session)
        .send()
        .await
        .unwrap();
    let status = res.status();
    (status, res.json::<Value>().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_a_user_ends_their_sessions_and_a_role_change_applies_at_once() {
    let f = fixture();
    let base = start(&f.workspace, true).await;
    let name = "leaver";
    let token = clientele_server::add_user(&f.workspace, name, Role::Admin).unwrap();
    let (session, cookie) = login(&base, &token).await;
    // Sessions have an absolute lifetime (12 h), not only the idle one; no Secure flag
    // unless the server is told it is reached over HTTPS.
    assert!(
        cookie.contains("Max-Age=43200") && !cookie.contains("Secure"),
        "{cookie}"
    );
    let (status, me) = me_by_session(&base, &session).await;
    assert_eq!(
        (status, me["role"].as_str()),
        (StatusCode::OK, Some("admin"))
    );

    // Demoted in users.json (as an admin editing the file would): the open session gets
    // the new role on its next request.
    let users_file = f.workspace.join("access").join("users.json");
    let mut users = clientele_server::load_users(&f.workspace).unwrap();
    users.iter_mut().find(|u| u.name == name).unwrap().role = Role::MarketingManager;
    let tmp = users_file.with_extension("json.tmp");
    std::fs::write(&tmp, serde_json::to_vec_pretty(&users).unwrap()).unwrap();
    std::fs::rename(&tmp, &users_file).unwrap();
    let (status, me) = me_by_session(&base, &session).await;
    assert_eq!(
        (status, me["role"].as_str()),
        (StatusCode::OK, Some("marketing_manager"))
    );
    let (status, _, body) = {
        let res = reqwest::Client::new()
            .get(format!("{base}/api/v1/audit"))
            .header("cookie", &session)
            .send()
            .await
            .unwrap();
        let status = res.status();
        (status, (), res.text().await.unwrap())
    };
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");

    // Removed: the session ends with the token.
    clientele_server::remove_user(&f.workspace, name).unwrap();
    let (status, _) = me_by_session(&base, &session).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn personal_data_is_masked_per_role_and_every_access_is_audited() {
    let f = fixture();
    let base = start(&f.workspace, true).await;
    let open = get_json(
        &base,
        "/api/v1/customers?page_size=5&sort=customer_id",
        Role::SalesManager,
    )
    .await;
    let masked = get_json(
        &base,
        "/api/v1/customers?page_size=5&sort=customer_id",
        Role::Analyst,
    )
    .await;
    let (a, b) = (&open["rows"][0], &masked["rows"][0]);
    assert_eq!(a["customer_id"], b["customer_id"]);
    let email = a["email"].as_str().unwrap();
    let local = email.split('@').next().unwrap();
    let tld = email.rsplit('.').next().unwrap();
    let domain = email.split('@').nth(1).unwrap();
    assert_eq!(
        b["email"].as_str().unwrap(),
        format!("{}***@{}***.{tld}", &local[..1], &domain[..1])
    );
    assert!(
        !b["customer_name"]
            .as_str()
            .unwrap()
            .contains(&a["customer_name"].as_str().unwrap()[1..3])
    );
    assert_eq!(a["clv"], b["clv"], "scores are not personal data");
    // CSV exports are masked the same way, and so is the customer 360.
    let (status, ct, csv) = get(
        &base,
        "/api/v1/customers?format=csv&sort=customer_id",
        Some(Role::MarketingManager),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(ct.starts_with("text/csv"), "{ct}");
    assert!(!csv.contains(email) && csv.contains("***@"));
    assert_eq!(csv.lines().count(), 801, "header + every customer");
    let id = a["customer_id"].as_str().unwrap().to_string();
    let c360 = get_json(
        &base,
        &format!("/api/v1/customers/{id}"),
        Role::MarketingManager,
    )
    .await;
    assert!(c360["profile"]["email"].as_str().unwrap().contains("***@"));
    assert!(
        c360["profile"]["phone"]
            .as_str()
            .unwrap()
            .starts_with("***")
    );
    let c360 = get_json(&base, &format!("/api/v1/customers/{id}"), Role::Admin).await;
    assert_eq!(c360["profile"]["email"], email);
    assert!(!c360["sections"]["orders"].as_array().unwrap().is_empty());
    assert!(c360["scores"]["churn_probability"].is_number() || c360["scores"]["clv"].is_number());
    // The demo's purchases have no contract: P(alive) leads the 360's outlook.
    assert_eq!(c360["outlook"]["lead"], "p_alive", "{}", c360["outlook"]);

    // Audit: the 360 names its customer; a list page names the customers shown.
    let entries = clientele_server::read_audit(&f.workspace, Some("admin"), Some(&id)).unwrap();
    assert!(
        entries
            .iter()
            .any(|e| e.action == format!("GET /api/v1/customers/{id}") && e.role == "admin"),
        "{entries:?}"
    );
    let page_ids: Vec<String> = masked["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["customer_id"].as_str().unwrap().to_string())
        .collect();
    let entries = clientele_server::read_audit(&f.workspace, Some("analyst"), None).unwrap();
    assert!(
        entries.iter().any(|e| e.customers == page_ids),
        "{entries:?}"
    );
    assert!(entries.iter().all(|e| !e.request_id.is_empty()));
    // Aggregates are not customer-level data: no entry for a KPI request.
    get_json(&base, "/api/v1/kpis", Role::Analyst).await;
    let after = clientele_server::read_audit(&f.workspace, Some("analyst"), None).unwrap();
    assert!(after.iter().all(|e| !e.action.contains("/kpis")));
    // Admins read the log through the API too.
    let log = get_json(&base, "/api/v1/audit?user=admin", Role::Admin).await;
    assert!(log["total"].as_u64().unwrap() >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extra_source_columns_and_city_are_masked_and_masked_columns_cannot_be_sorted_on() {
    // A workspace whose customers file carries a column clientele does not know.
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    let config = clientele_demo::DemoConfig {
        customers: 120,
        seed: 5,
        ..Default::default()
    };
    clientele_demo::generate(&config, &src, &dir.path().join("truth"), &mut |_, _, _| {}).unwrap();
    let file = src.join("customers.csv");
    let text = std::fs::read_to_string(&file).unwrap();
    let mut out = String::new();
    for (i, line) in text.lines().enumerate() {
        if i == 0 {
            out.push_str(&format!("{line},mobile\n"));
        } else {
            out.push_str(&format!("{line},+44 7700 9{i:05}\n"));
        }
    }
    std::fs::write(&file, out).unwrap();
    let ws = dir.path().join("ws");
    clientele_ingest::ingest(&src, &ws, &Default::default(), &mut |_| {}).unwrap();
    let admin = clientele_server::add_user(&ws, "boss", Role::Admin).unwrap();
    let analyst = clientele_server::add_user(&ws, "ann", Role::Analyst).unwrap();
    let base = start(&ws, true).await;
    let fetch = |token: String, path: String| {
        let base = base.clone();
        async move {
            let res = reqwest::Client::new()
                .get(format!("{base}{path}"))
                .bearer_auth(token)
                .send()
                .await
                .unwrap();
            let status = res.status();
            (status, res.text().await.unwrap())
        }
    };
    let (status, body) = fetch(
        admin.clone(),
        "/api/v1/customers?page_size=3&sort=customer_id".into(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let open: Value = serde_json::from_str(&body).unwrap();
    let id = open["rows"][0]["customer_id"].as_str().unwrap().to_string();
    let (status, body) = fetch(
        analyst.clone(),
        "/api/v1/customers?page_size=3&sort=customer_id".into(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let masked: Value = serde_json::from_str(&body).unwrap();
    // The 360 shows every column of the customer, the extra one too.
    let (_, body) = fetch(admin.clone(), format!("/api/v1/customers/{id}")).await;
    let c360: Value = serde_json::from_str(&body).unwrap();
    assert!(
        c360["profile"]["mobile"]
            .as_str()
            .unwrap()
            .starts_with("+44"),
        "{body}"
    );
    let city = c360["profile"]["city"].as_str().unwrap().to_string();
    let (_, body) = fetch(analyst.clone(), format!("/api/v1/customers/{id}")).await;
    let c360: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(c360["profile"]["mobile"], "***", "{body}");
    assert_eq!(
        c360["profile"]["city"].as_str().unwrap(),
        clientele_server::mask("city", &city)
    );
    assert_ne!(c360["profile"]["city"].as_str().unwrap(), city);
    assert_eq!(masked["rows"][0]["customer_id"], id.as_str());
    assert!(!body.contains("+44 7700"), "{body}");
    // Sorting or filtering by a masked column would reveal its order.
    for path in [
        "/api/v1/customers?sort=-email",
        "/api/v1/customers?sort=mobile",
        "/api/v1/customers?city=London",
    ] {
        let (status, body) = fetch(analyst.clone(), path.into()).await;
        assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    }
    let (status, body) = fetch(admin.clone(), "/api/v1/customers?sort=-email".into()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // The policy can mark the extra column safe.
    std::fs::write(
        ws.join("access").join("policy.json"),
        r#"{"safe": ["mobile"]}"#,
    )
    .unwrap();
    let (_, body) = fetch(analyst.clone(), format!("/api/v1/customers/{id}")).await;
    let c360: Value = serde_json::from_str(&body).unwrap();
    assert!(
        c360["profile"]["mobile"]
            .as_str()
            .unwrap()
            .starts_with("+44"),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_sees_customers_in_any_column_logins_and_refusals() {
    let f = fixture();
    let base = start(&f.workspace, true).await;
    // The exceptions report names customers in `subject`, not in a customer_id column.
    let ex = get_json(&base, "/api/v1/exceptions?period=2025", Role::Analyst).await;
    let named: Vec<String> = ex["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["kind"] == "customer_frequency_drop")
        .map(|r| r["subject"].as_str().unwrap().to_string())
        .collect();
    assert!(!named.is_empty(), "the demo year has frequency drops: {ex}");
    let entries = clientele_server::read_audit(&f.workspace, Some("analyst"), None).unwrap();
    let entry = entries
        .iter()
        .rev()
        .find(|e| e.action.contains("/exceptions?period=2025"))
        .expect("the exceptions answer is audited");
    for id in &named {
        assert!(entry.customers.contains(id), "{id} missing from {entry:?}");
    }
    // Aggregates still are not: the KPI answer names no customer.
    get_json(&base, "/api/v1/kpis?period=2025", Role::Analyst).await;
    let entries = clientele_server::read_audit(&f.workspace, Some("analyst"), None).unwrap();
    assert!(
        !entries
            .iter()
            .any(|e| e.action.contains("/kpis?period=2025"))
    );

    // A 403, a failed login and a login are logged.
    let (status, _, _) = get(&base, "/api/v1/segments/rfm", Some(Role::SalesManager)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let res = reqwest::Client::new()
        .post(format!("{base}/api/v1/login"))
        .json(&serde_json::json!({"token": "clt_guess"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    login(&base, token(Role::MarketingManager)).await;
    let all = clientele_server::read_audit(&f.workspace, None, None).unwrap();
    let has = |user: &str, action: &str, outcome: &str| {
        all.iter()
            .any(|e| e.user == user && e.action.contains(action) && e.outcome == outcome)
    };
    assert!(has("sales_manager", "/api/v1/segments/rfm", "forbidden"));
    assert!(has("unknown", "POST /api/v1/login", "unauthorized"));
    assert!(has("marketing_manager", "POST /api/v1/login", "login"));

    // The API's pages come from the index: newest first, the same entries as the file.
    let newest = get_json(&base, "/api/v1/audit?page_size=3", Role::Admin).await;
    let all = clientele_server::read_audit(&f.workspace, None, None).unwrap();
    assert!(newest["total"].as_u64().unwrap() as usize >= all.len());
    let page = newest["rows"].as_array().unwrap();
    assert_eq!(page.len(), 3);
    let by_user = get_json(
        &base,
        "/api/v1/audit?user=sales_manager&page_size=1000",
        Role::Admin,
    )
    .await;
    let file_count = clientele_server::read_audit(&f.workspace, Some("sales_manager"), None)
        .unwrap()
        .len();
    let api_count = by_user["total"].as_u64().unwrap() as usize;
    assert!(
        api_count >= file_count && api_count <= file_count + 1,
        "{api_count} vs {file_count}"
    );
    assert!(
        by_user["rows"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["user"] == "sales_manager")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_query_parameters_get_a_400_naming_the_known_ones() {
    let f = fixture();
    let base = start(&f.workspace, true).await;
    for (path, unknown, known) in [
        ("/api/v1/churn?horizon_days=-5", "horizon_days", "as_of"),
        ("/api/v1/kpis?form=2025-01-01", "form", "from"),
        ("/api/v1/transactions?pagesize=10", "pagesize", "page_size"),
        ("/api/v1/segments/rfm?format=csv&tabel=x", "tabel", "table"),
        ("/api/v1/audit?usr=admin", "usr", "user"),
    ] {
        let (status, _, body) = get(&base, path, Some(Role::Admin)).await;
        assert_error(status, &body, StatusCode::BAD_REQUEST, "bad_request");
        assert!(
            body.contains(unknown) && body.contains(known),
            "{path}: {body}"
        );
    }
    // Known parameters, and the customer list's column filters, still answer.
    get_json(&base, "/api/v1/kpis?period=2025&format=json", Role::Admin).await;
    get_json(
        &base,
        "/api/v1/customers?region=North&page_size=5",
        Role::Admin,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_get_a_clear_4xx() {
    let f = fixture();
    let base = start(&f.workspace, true).await;
    for (path, want, code) in [
        (
            "/api/v1/kpis?from=2025-13-45",
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            "/api/v1/kpis?from=2025-12-01&to=2025-01-01",
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            "/api/v1/sales?by=planet",
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            "/api/v1/sales?by=region&region=North&format=xml",
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            "/api/v1/customers?page_size=100000000",
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            "/api/v1/customers?page=0",
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            "/api/v1/customers?page=abc",
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            "/api/v1/customers?page=99999999999999999999999",
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            "/api/v1/customers?shoe_size=44",
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            "/api/v1/customers?sort=-nonsense",
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            "/api/v1/customers/NOPE'%20OR%201=1",
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            "/api/v1/segments/astrology",
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            "/api/v1/segments/behavioral?k=1000",
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            "/api/v1/clv?model=magic",
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            "/api/v1/clv?horizon=-3",
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            "/api/v1/churn?window=abc",
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            "/api/v1/cohorts?by=decade",
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            "/api/v1/exceptions?threshold=7",
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            "/api/v1/transactions?page_size=0",
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            "/api/v1/kpis?by=region",
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
    ] {
        let (status, _, body) = get(&base, path, Some(Role::Admin)).await;
        assert_error(status, &body, want, code);
    }
    let client = reqwest::Client::new();
    for body in ["not json", "{\"token\": 5}", "[]", ""] {
        let res = client
            .post(format!("{base}/api/v1/login"))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = res.status();
        assert_error(
            status,
            &res.text().await.unwrap(),
            StatusCode::BAD_REQUEST,
            "bad_request",
        );
    }
    // A 1 MiB body is refused on its Content-Length, before it is read. Sent raw: an HTTP
    // client streaming the body can hit a broken pipe when the server answers and closes
    // first, which made this test flaky.
    let status_line = {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let addr = base.trim_start_matches("http://");
        let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let head = format!(
            "POST /api/v1/login HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\n\r\n",
            1 << 20
        );
        tcp.write_all(head.as_bytes()).await.unwrap();
        let _ = tcp.write_all(&[b'x'; 4096]).await;
        let mut buf = vec![0u8; 1024];
        let n = tcp.read(&mut buf).await.unwrap();
        String::from_utf8_lossy(&buf[..n])
            .lines()
            .next()
            .unwrap_or("")
            .to_string()
    };
    assert!(status_line.contains(" 413 "), "{status_line}");
    // The server is still fine.
    assert_eq!(get(&base, "/api/v1/health", None).await.0, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drill_down_adds_up_and_exports_as_csv() {
    let f = fixture();
    let base = start(&f.workspace, true).await;
    let q = "from=2025-01-01&to=2025-12-31";
    let regions = get_json(
        &base,
        &format!("/api/v1/sales?by=region&{q}"),
        Role::SalesManager,
    )
    .await;
    let total: f64 = revenue_sum(&regions);
    let first = &regions["rows"][0];
    let region = first["region"].as_str().unwrap();
    let reps = get_json(
        &base,
        &format!("/api/v1/sales?by=rep&region={region}&{q}"),
        Role::SalesManager,
    )
    .await;
    let by_rep: f64 = revenue_sum(&reps);
    assert!(
        (by_rep - first["revenue"].as_f64().unwrap()).abs() < 1e-6,
        "{by_rep} vs {first}"
    );
    let rep = reps["rows"][0]["sales_rep_id"].as_str().unwrap();
    let customers = get_json(
        &base,
        &format!("/api/v1/sales?by=customer&region={region}&rep={rep}&{q}"),
        Role::SalesManager,
    )
    .await;
    let by_customer: f64 = revenue_sum(&customers);
    assert!((by_customer - reps["rows"][0]["revenue"].as_f64().unwrap()).abs() < 1e-6);
    assert!(customers["rows"][0]["customer_name"].is_string());
    // The region totals equal the KPI's revenue over the same period.
    let kpis = get_json(&base, &format!("/api/v1/kpis?{q}"), Role::SalesManager).await;
    let revenue = kpis["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["kpi"] == "sales_revenue")
        .unwrap()["value"]
        .as_f64()
        .unwrap();
    assert!(
        (total - revenue).abs() < 1e-6 * revenue.max(1.0),
        "{total} vs {revenue}"
    );
    // Category → product, filtered lines add up to the category.
    let cats = get_json(
        &base,
        &format!("/api/v1/sales?by=category&{q}"),
        Role::SalesManager,
    )
    .await;
    let cat = &cats["rows"][0];
    let products = get_json(
        &base,
        &format!(
            "/api/v1/sales?by=product&category={}&{q}",
            cat["category"]
                .as_str()
                .unwrap()
                .replace(' ', "%20")
                .replace('&', "%26")
        ),
        Role::SalesManager,
    )
    .await;
    let sum: f64 = revenue_sum(&products);
    assert!((sum - cat["revenue"].as_f64().unwrap()).abs() < 1e-6 * sum.max(1.0));
    // CSV of a report: header row, one line per row.
    let (status, ct, csv) = get(
        &base,
        &format!("/api/v1/sales?by=region&{q}&format=csv"),
        Some(Role::SalesManager),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(ct.starts_with("text/csv"));
    assert!(csv.starts_with("region,revenue,"), "{csv}");
    assert_eq!(
        csv.lines().count(),
        regions["rows"].as_array().unwrap().len() + 1
    );
    // An analysis as JSON has the CLI's shape; as CSV, its first table.
    let clv = get_json(&base, "/api/v1/clv", Role::Analyst).await;
    assert_eq!(clv["model"], "bgnbd");
    assert!(clv["params"]["r"].is_number());
    let (_, _, csv) = get(&base, "/api/v1/clv?format=csv", Some(Role::Analyst)).await;
    assert!(csv.starts_with("parameter,estimate,std_error"), "{csv}");
    let transactions = get_json(
        &base,
        &format!(
            "/api/v1/transactions?customer={}",
            first_customer(&customers)
        ),
        Role::SalesManager,
    )
    .await;
    assert!(
        transactions["total"].as_u64().unwrap() >= 1,
        "{transactions}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_auth_everyone_is_a_local_admin() {
    let f = fixture();
    let base = start(&f.workspace, false).await;
    let (status, _, body) = get(&base, "/api/v1/me", None).await;
    assert_eq!(status, StatusCode::OK);
    let me: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(me["user"], "local");
    assert_eq!(me["role"], "admin");
    let (status, ct, html) = get(&base, "/", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(ct.starts_with("text/html"));
    assert!(html.contains("/assets/vendor/chart.umd.min.js") && !html.contains("https://"));
    let (status, _, _) = get(&base, "/assets/vendor/chart.umd.min.js", None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) = get(&base, "/assets/../Cargo.toml", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// The traversal test above never reached the `..` guard: the HTTP client normalises the path
/// to `/Cargo.toml` before sending it. Sent raw over a socket, every spelling of `..` reaches
/// the guard (its own 400) and no file outside the assets is served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn path_traversal_sent_raw_reaches_the_guard_and_is_refused() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let f = fixture();
    let base = start(&f.workspace, false).await;
    let addr = base.trim_start_matches("http://");
    for path in [
        "/assets/../Cargo.toml",
        "/assets/../../Cargo.toml",
        "/assets/vendor/../../src/lib.rs",
        "/assets/%2e%2e/Cargo.toml",
        "/assets/..%2fCargo.toml",
        "/assets/%2E%2E%2F%2E%2E%2FCargo.toml",
        "/assets/..%5cCargo.toml",
    ] {
        let mut socket = tokio::net::TcpStream::connect(addr).await.unwrap();
        let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        socket.write_all(request.as_bytes()).await.unwrap();
        let mut response = String::new();
        socket.read_to_string(&mut response).await.unwrap();
        assert!(
            response.starts_with("HTTP/1.1 400"),
            "{path}: {}",
            response.lines().next().unwrap_or("")
        );
        assert!(
            !response.contains("[package]") && !response.contains("pub fn"),
            "{path}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_risk_leads_with_p_alive_for_purchases_and_labels_the_churn_model() {
    let f = fixture();
    let base = start(&f.workspace, true).await;
    let list = get_json(&base, "/api/v1/at-risk?page_size=50", Role::Admin).await;
    let rows = list["rows"].as_array().unwrap();
    assert!(!rows.is_empty());
    // The demo's churn run is transactional: P(alive) leads, the list is by
    // (1 − P(alive)) × CLV, and value_at_risk keeps its meaning (churn_probability × CLV).
    assert_eq!(list["value_at_risk"], "value_at_risk_p_alive");
    assert_eq!(list["measures"][0]["column"], "p_alive");
    assert_eq!(list["measures"][1]["column"], "p_no_purchase");
    assert_eq!(
        list["labels"]["p_no_purchase"],
        "P(no purchase in the next 90 days)"
    );
    assert_eq!(
        list["title"],
        "Customers at risk: value at risk: (1 − P(alive)) × CLV, highest first"
    );
    let close = |got: f64, want: f64, r: &Value| {
        assert!((got - want).abs() <= 1e-9 * want.abs().max(1.0), "{r}");
    };
    let mut previous = f64::INFINITY;
    for r in rows {
        let clv = r["clv"].as_f64().unwrap();
        let got = r["value_at_risk_p_alive"].as_f64().unwrap();
        close(got, (1.0 - r["p_alive"].as_f64().unwrap()) * clv, r);
        if let Some(p) = r["churn_probability"].as_f64() {
            close(r["value_at_risk"].as_f64().unwrap(), p * clv, r);
            assert_eq!(r["p_no_purchase"], r["churn_probability"], "{r}");
        }
        assert!(got <= previous, "not sorted: {got} after {previous}");
        previous = got;
    }
}

/// CSV exports were built entirely in memory. The transactions export now streams (chunked,
/// no Content-Length) every row of the period, masked batch by batch for roles without
/// personal data, and the customers it named are audited once it ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transaction_exports_stream_every_row_masked_and_audited() {
    let f = fixture();
    let base = start(&f.workspace, true).await;
    let all_time = "from=1900-01-01&to=2100-12-31";
    let page = get_json(
        &base,
        &format!("/api/v1/transactions?{all_time}&page_size=1"),
        Role::Admin,
    )
    .await;
    let total = page["total"].as_u64().unwrap() as usize;
    assert!(total > 1000, "{total}");
    let export = |role: Role| {
        let base = base.clone();
        async move {
            let res = reqwest::Client::new()
                .get(format!("{base}/api/v1/transactions?{all_time}&format=csv"))
                .bearer_auth(token(role))
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), StatusCode::OK);
            assert!(
                res.headers().get("content-length").is_none(),
                "a streamed export has no length"
            );
            res.text().await.unwrap()
        }
    };
    let admin = export(Role::Admin).await;
    let marketing = export(Role::MarketingManager).await;
    let (admin, marketing): (Vec<&str>, Vec<&str>) =
        (admin.lines().collect(), marketing.lines().collect());
    assert_eq!(admin.len(), total + 1, "one header, every row once");
    assert_eq!(marketing.len(), total + 1);
    assert_eq!(admin[0], marketing[0]);
    assert_eq!(
        admin[1..]
            .iter()
            .filter(|l| l.starts_with("order_id"))
            .count(),
        0
    );
    let name_at = admin[0]
        .split(',')
        .position(|c| c == "customer_name")
        .unwrap();
    let mut masked = 0;
    for (a, m) in admin[1..].iter().zip(&marketing[1..]) {
        let (a, m) = (a.split(',').nth(name_at), m.split(',').nth(name_at));
        if let (Some(a), Some(m)) = (a, m)
            && !a.is_empty()
        {
            assert_ne!(a, m, "a customer name reached the marketing manager");
            masked += 1;
        }
    }
    assert!(masked > 0);
    let audited = clientele_server::read_audit(&f.workspace, Some("marketing_manager"), None)
        .unwrap()
        .into_iter()
        .filter(|e| e.action.contains("/transactions") && e.action.contains("format=csv"))
        .map(|e| e.customers.len())
        .max();
    assert!(audited.is_some_and(|n| n > 100), "{audited:?}");
}

/// `sales?by=customer` answered every customer in one JSON body. It is now paged (200 rows by
/// default, highest revenue first, with the total and a note); CSV still has every row, and
/// reports that are not paged refuse the parameters.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sales_by_customer_is_paged_and_its_csv_has_every_row() {
    let f = fixture();
    let base = start(&f.workspace, true).await;
    let q = "by=customer&from=1900-01-01&to=2100-12-31";
    let first = get_json(&base, &format!("/api/v1/sales?{q}"), Role::SalesManager).await;
    let total = first["total"].as_u64().unwrap() as usize;
    assert!(total > 200, "{total}");
    assert_eq!(first["rows"].as_array().unwrap().len(), 200);
    assert_eq!(first["page_size"], 200);
    assert!(
        first["notes"].as_array().unwrap().iter().any(|n| n
            .as_str()
            .unwrap()
            .contains(&format!("rows 1–200 of {total}"))),
        "{}",
        first["notes"]
    );
    let small = |page: usize| {
        let base = base.clone();
        async move {
            get_json(
                &base,
                &format!("/api/v1/sales?{q}&page={page}&page_size=7"),
                Role::SalesManager,
            )
            .await
        }
    };
    let (one, two) = (small(1).await, small(2).await);
    let ids = |v: &Value| -> Vec<String> {
        v["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["customer_id"].as_str().unwrap().to_string())
            .collect()
    };
    let firsts = ids(&first);
    assert_eq!(ids(&one), firsts[..7].to_vec());
    assert_eq!(ids(&two), firsts[7..14].to_vec());
    let revenue = |v: &Value| -> Vec<f64> {
        v["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["revenue"].as_f64().unwrap())
            .collect()
    };
    assert!(revenue(&first).windows(2).all(|w| w[0] >= w[1]));
    let last = get_json(
        &base,
        &format!("/api/v1/sales?{q}&page={}&page_size=7", total.div_ceil(7)),
        Role::SalesManager,
    )
    .await;
    assert_eq!(
        last["rows"].as_array().unwrap().len(),
        total - 7 * (total.div_ceil(7) - 1)
    );
    let (status, _, csv) = get(
        &base,
        &format!("/api/v1/sales?{q}&format=csv"),
        Some(Role::SalesManager),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(csv.lines().count(), total + 1);
    let (status, _, body) = get(&base, "/api/v1/kpis?page=2", Some(Role::Admin)).await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "bad_request");
}
