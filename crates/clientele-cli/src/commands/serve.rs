//! `clientele serve`, `users` and `audit`: the web server and its access control, from the
//! terminal.

use std::io::IsTerminal;
use std::path::Path;

use anyhow::{Result, anyhow};
use clientele_analytics::EngineError;

use crate::args::{Globals, ServeArgs, UsersAction};
use crate::output::{Format, Sink, write_json_rows};

#[cfg(feature = "server")]
/// `clientele serve`: the dashboard and the JSON API until Ctrl-C or SIGTERM.
pub async fn serve(
    ws: &Path,
    args: ServeArgs,
    engine: clientele_analytics::EngineOptions,
) -> Result<()> {
    let ServeArgs {
        bind,
        no_auth,
        demo: with_demo,
        demo_customers,
        query_threads,
        secure_cookie,
        trust_proxy,
        request_timeout,
    } = args;
    let auth = !no_auth;
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("CLIENTELE_LOG")
        .unwrap_or_else(|_| EnvFilter::new("info,perpetual=warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
    if with_demo && clientele_ingest::Manifest::read(ws)?.is_none() {
        eprintln!("generating the demo company into {}", ws.display());
        super::demo::demo(
            ws,
            Format::Table,
            Some(&ws.join("demo").join("dashboard.txt")),
            (
                demo_customers,
                42,
                clientele_demo::DemoConfig::default().end,
            ),
            engine,
        )
        .await?;
    }
    if clientele_ingest::Manifest::read(ws)?.is_none() {
        return Err(anyhow!(EngineError::NoWorkspace(ws.to_path_buf())));
    }
    if !auth {
        eprintln!(
            "warning: serving WITHOUT authentication: anyone who can reach {bind} sees every customer's personal data as an admin"
        );
    } else if clientele_server::load_users(ws)?.is_empty() {
        if with_demo {
            eprintln!("demo users (the tokens are shown only now; log in at /login with one):");
            for (name, role) in [
                ("demo-admin", clientele_server::Role::Admin),
                ("demo-analyst", clientele_server::Role::Analyst),
                ("demo-sales", clientele_server::Role::SalesManager),
                ("demo-marketing", clientele_server::Role::MarketingManager),
            ] {
                let token = clientele_server::add_user(ws, name, role)?;
                eprintln!("  {name:<15} {:<18} {token}", role.name());
            }
        } else {
            eprintln!(
                "note: there are no users yet; create one with `clientele users add NAME --role admin` (or serve with --no-auth)"
            );
        }
    }
    let config = clientele_server::ServerConfig {
        workspace: ws.to_path_buf(),
        bind,
        auth,
        query_threads: query_threads
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get())),
        secure_cookie,
        trust_proxy,
        request_timeout: std::time::Duration::from_secs(request_timeout),
        engine,
    };
    clientele_server::serve(config, |addr| {
        eprintln!(
            "serving {} at http://{addr}/ (Ctrl-C to stop)",
            ws.display()
        );
    })
    .await?;
    Ok(())
}

/// `clientele users add|list|remove`.
pub fn users(g: &Globals, action: UsersAction) -> Result<()> {
    let ws = &g.workspace;
    let mut sink = Sink::open(g.out.as_deref())?;
    match action {
        UsersAction::Add { name, role } => {
            let role: clientele_server::Role = role.parse()?;
            let token = clientele_server::add_user(ws, &name, role)?;
            if g.format == Format::Json {
                writeln!(
                    sink.writer(),
                    "{}",
                    serde_json::json!({"user": name, "role": role.name(), "token": token})
                )?;
            } else {
                writeln!(sink.writer(), "{token}")?;
                eprintln!(
                    "created user {name} ({}); the token above is shown only this once",
                    role.name()
                );
            }
        }
        UsersAction::List => {
            let rows: Vec<serde_json::Value> = clientele_server::load_users(ws)?
                .iter()
                .map(|u| serde_json::json!({"user": u.name, "role": u.role.name(), "created_at": u.created_at}))
                .collect();
            write_json_rows(&mut sink, &rows, g.format)?;
        }
        UsersAction::Remove { name } => {
            clientele_server::remove_user(ws, &name)?;
            eprintln!("removed user {name}");
        }
    }
    sink.commit()
}

/// `clientele audit [--user U] [--customer C] [--limit N]`.
pub fn audit(
    g: &Globals,
    user: Option<&str>,
    customer: Option<&str>,
    limit: Option<usize>,
) -> Result<()> {
    let mut entries = clientele_server::read_audit(&g.workspace, user, customer)?;
    if let Some(n) = limit {
        let skip = entries.len().saturating_sub(n);
        entries.drain(..skip);
    }
    let rows: Vec<serde_json::Value> = entries
        .iter()
        .map(|e| serde_json::json!({"at": e.at, "user": e.user, "role": e.role, "action": e.action, "customers": e.customers.join(" "), "request_id": e.request_id, "outcome": e.outcome}))
        .collect();
    let mut sink = Sink::open(g.out.as_deref())?;
    if rows.is_empty() && g.format == Format::Table {
        writeln!(sink.writer(), "(no audit entries)")?;
    } else {
        write_json_rows(&mut sink, &rows, g.format)?;
    }
    sink.commit()
}
