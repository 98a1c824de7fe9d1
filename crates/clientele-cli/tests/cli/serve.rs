//! The server, its users and the audit log from the terminal, and the registry walk: every
//! analysis the same from the terminal and the API.

use super::*;

#[test]
fn users_serve_and_audit_from_the_command_line() {
    let env = seeded();
    let token = env.ok(&["users", "add", "ann", "--role", "analyst"]);
    let token = token.trim();
    assert!(token.starts_with("clt_") && token.len() > 40, "{token}");
    let users = std::fs::read_to_string(env.ws().join("access/users.json")).unwrap();
    assert!(!users.contains(token), "the token itself is never stored");
    assert!(
        env.ok(&["users", "list", "--format", "csv"])
            .contains("ann,analyst,")
    );
    assert!(
        env.fails(&["users", "add", "ann", "--role", "analyst"], 2)
            .contains("already exists")
    );
    assert!(
        env.fails(&["users", "add", "bob", "--role", "boss"], 2)
            .contains("unknown role")
    );
    assert!(env.ok(&["audit"]).contains("no audit entries"));

    // The server: starts on a free port, answers with the token, stops cleanly on SIGTERM.
    let (server, addr) = env.serve(&[]);
    let get = |path: &str, auth: bool| http_get(&addr, path, auth.then_some(token));
    assert!(get("/api/v1/customers", false).starts_with("HTTP/1.1 401"));
    let page = get("/api/v1/customers?sort=customer_id", true);
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    assert!(
        page.contains("\"customer_name\":\"A***\""),
        "analysts see names masked: {page}"
    );
    let status = server.stop();
    assert!(status.success(), "graceful shutdown exits 0: {status:?}");
    let audit = env.ok(&["audit", "--user", "ann", "--format", "json"]);
    assert!(
        audit.contains("GET /api/v1/customers?sort=customer_id") && audit.contains("C1 C2 C3"),
        "{audit}"
    );
    assert!(Env::new().fails(&["serve"], 2).contains("no workspace"));
}

/// Where two answers differ, ignoring how long a fit took (`*_seconds`) and the last bits of
/// a float (parallel sums add in the order the partitions finish): a path and both values,
/// or `None` when they agree.
fn difference(a: &serde_json::Value, b: &serde_json::Value, at: &str) -> Option<String> {
    use serde_json::Value;
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            keys.into_iter()
                .filter(|k| !k.ends_with("_seconds"))
                .find_map(|k| {
                    let (u, v) = (x.get(k)?, y.get(k));
                    match v {
                        Some(v) => difference(u, v, &format!("{at}.{k}")),
                        None => Some(format!("{at}.{k}: only in the first")),
                    }
                    .or_else(|| (!y.contains_key(k)).then(|| format!("{at}.{k}")))
                })
                .or_else(|| {
                    y.keys()
                        .find(|k| !x.contains_key(*k) && !k.ends_with("_seconds"))
                        .map(|k| format!("{at}.{k}: only in the second"))
                })
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .find_map(|(i, (u, v))| difference(u, v, &format!("{at}[{i}]"))),
        (Value::Number(x), Value::Number(y))
            if x.as_f64()
                .zip(y.as_f64())
                .is_some_and(|(x, y)| (x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(1.0)) =>
        {
            None
        }
        _ if a == b => None,
        _ => Some(format!("{at}: {a} vs {b}")),
    }
}

/// Issue 11: every analysis declared in the library is a CLI subcommand, an API path in the
/// OpenAPI document and an area of the role table, and the same parameters give the same
/// JSON from both; the ranges that had drifted apart are one range, refused the same way by
/// both surfaces.
#[test]
fn every_analysis_is_a_command_a_route_and_a_role_with_one_json() {
    use clientele_server::Role;
    let env = Env::new();
    env.ok(&["demo", "--customers", "400", "--seed", "11"]);
    let (server, addr) = env.serve(&["--no-auth"]);
    let (status, doc) = http_json(&addr, "/api/v1/openapi.json");
    assert_eq!(status, 200);
    // Parameters other than the defaults, per analysis: (CLI flags, query string).
    let extra: &[(&str, &[&str], &str)] = &[
        ("clusters", &["--k", "3"], "k=3"),
        (
            "demographic",
            &["--by", "gender,age_band"],
            "by=gender,age_band",
        ),
        ("lifecycle", &["--active-days", "120"], "active_days=120"),
        ("churn", &["--window", "60"], "window=60"),
        ("cohorts", &["--by", "quarter"], "by=quarter"),
        ("clv", &["--time-unit", "month"], "time_unit=month"),
        ("leads", &["--maturity-days", "30"], "maturity_days=30"),
        (
            "forecast",
            &["orders", "--by", "quarter"],
            "measure=orders&by=quarter",
        ),
        ("forecast", &["--split", "region"], "split=region"),
        ("attribution", &["--order", "2"], "order=2"),
        ("abtest", &["--window-days", "14"], "window_days=14"),
    ];
    let defs = clientele_analytics::analyses::defs();
    assert!(defs.len() >= 8);
    for def in &defs {
        let help = env.ok(&[def.command, &["--help"]].concat());
        assert!(help.contains(def.about), "{}: {help}", def.name);
        let path = format!("/api/v1{}", def.path);
        assert!(
            doc["paths"][&path]["get"].is_object(),
            "{path} is not in the OpenAPI document"
        );
        assert!(def.area != clientele_analytics::Area::Admin, "{}", def.name);
        assert!(
            [Role::Analyst, Role::SalesManager, Role::MarketingManager]
                .iter()
                .any(|r| r.may(def.area)),
            "{}: no role but admin may run it",
            def.name
        );
        let mut runs: Vec<(Vec<&str>, String)> = vec![(Vec::new(), String::new())];
        for (name, flags, query) in extra {
            if *name == def.name {
                runs.push((flags.to_vec(), query.to_string()));
            }
        }
        for (flags, query) in runs {
            let mut args = [def.command, &flags, &["--format", "json"]].concat();
            if def.stores.is_some() {
                args.push("--no-save");
            }
            let cli: serde_json::Value = serde_json::from_str(&env.ok(&args)).unwrap();
            let (status, api) = http_json(&addr, &format!("{path}?{query}"));
            assert_eq!(status, 200, "{path}?{query}: {api}");
            if let Some(d) = difference(&cli, &api, "") {
                panic!("{args:?} and {path}?{query} differ at {d}");
            }
        }
    }
    assert!(
        defs.len() >= extra.len()
            && extra
                .iter()
                .all(|(n, _, _)| defs.iter().any(|d| d.name == *n))
    );
    // One range each, refused by both surfaces with the parameter named their way.
    for (args, query, cli_says, api_says) in [
        (
            &["segment", "behavioral", "--k", "1"][..],
            "/api/v1/segments/behavioral?k=1",
            "--k 1: expected a number of clusters between 2 and 50",
            "k=1: expected a number of clusters between 2 and 50",
        ),
        (
            &["segment", "behavioral", "--k", "51"][..],
            "/api/v1/segments/behavioral?k=51",
            "--k 51",
            "k=51",
        ),
        (
            &["churn", "--window", "6"][..],
            "/api/v1/churn?window=6",
            "--window 6: expected a number of days between 7 and 3650",
            "window=6: expected a number of days between 7 and 3650",
        ),
        (
            &["churn", "--window", "3651"][..],
            "/api/v1/churn?window=3651",
            "--window 3651",
            "window=3651",
        ),
        (
            &["leads", "--maturity-days", "4000"][..],
            "/api/v1/leads?maturity_days=4000",
            "--maturity-days 4000: expected a number of days between 0 and 3650",
            "maturity_days=4000: expected a number of days between 0 and 3650",
        ),
        (
            &["segment", "lifecycle", "--active-days", "400"][..],
            "/api/v1/segments/lifecycle?active_days=400",
            "--churned-days 365: expected more days than the active threshold (400)",
            "churned_days=365: expected more days than the active threshold (400)",
        ),
    ] {
        let err = env.fails(args, 2);
        assert!(err.contains(cli_says), "{args:?}: {err}");
        let (status, body) = http_json(&addr, query);
        assert_eq!(status, 400, "{query}: {body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains(api_says), "{query}: {message}");
    }
    // The customer 360: the same object from the terminal and the API (an admin, unmasked),
    // a table for reading, and a clear error for an unknown id.
    let (_, list) = http_json(&addr, "/api/v1/customers?page_size=1");
    let id = list["rows"][0]["customer_id"].as_str().unwrap().to_string();
    let cli: serde_json::Value =
        serde_json::from_str(&env.ok(&["customer", &id, "--format", "json"])).unwrap();
    let (status, api) = http_json(&addr, &format!("/api/v1/customers/{id}"));
    assert_eq!(status, 200);
    assert_eq!(difference(&cli, &api, ""), None);
    assert!(
        cli["sections"]["orders"]
            .as_array()
            .is_some_and(|o| !o.is_empty())
    );
    let table = env.ok(&["customer", &id]);
    assert!(table.contains(&format!("Customer {id}")) && table.contains("orders (newest first"));
    let row = env.ok(&["customer", &id, "--format", "csv"]);
    assert_eq!(row.lines().count(), 2, "{row}");
    assert!(
        env.fails(&["customer", "NOPE"], 2)
            .contains("there is no customer 'NOPE'")
    );
    // Leads' default conversion window is one value, the KPI's: the CLI's help and the API's
    // document say 90, and the defaults above gave the same JSON.
    assert!(env.ok(&["leads", "--help"]).contains("[default: 90]"));
    let leads_doc = doc["paths"]["/api/v1/leads"]["get"]["parameters"].to_string();
    assert!(leads_doc.contains("maturity_days"), "{leads_doc}");
    assert!(leads_doc.contains("Default 90"), "{leads_doc}");
    assert!(server.stop().success());
}
