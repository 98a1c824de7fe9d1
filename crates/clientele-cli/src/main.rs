//! `clientele`: the command-line program. It parses arguments, calls the analytics library,
//! prints results in the chosen format and maps failures to exit codes (0 success,
//! 1 runtime failure, 2 bad usage or bad input). Only this crate knows about the terminal.

mod output;

/// mimalloc, as datafusion-cli uses: the analyses allocate and free large buffers phase after
/// phase, and mimalloc reuses their pages where the system allocator returns them to the
/// kernel and faults them in again (a tenth of `clv`'s time at a million customers).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, anyhow};
use chrono::NaiveDate;
use clap::{Parser, Subcommand};
use clientele_analytics::{AnalyticsError, Engine, EngineError};
use clientele_ingest::{CsvOptions, IngestError, IngestOptions, Mapping};

use output::{Format, Sink};

#[derive(Parser)]
#[command(
    name = "clientele",
    version,
    about = "Analytical CRM: unified customer data, KPIs and sales reports from one binary",
    long_about = "clientele turns exported customer data (orders, customers, products, leads, deals, tickets …) \
into a workspace of Parquet tables and answers KPI, sales and pipeline questions over it with SQL.\n\n\
Start with `clientele demo` to see it on a synthetic company, then `clientele ingest ./exports` for your own data."
)]
struct Cli {
    /// Workspace folder holding the ingested tables.
    #[arg(
        long,
        global = true,
        env = "CLIENTELE_WORKSPACE",
        default_value = "clientele-data"
    )]
    workspace: PathBuf,
    /// Output format: an aligned table, CSV for spreadsheets, or JSON for scripts.
    #[arg(long, global = true, value_enum, default_value = "table")]
    format: Format,
    /// Write the output to this file instead of standard output (written atomically).
    #[arg(long, global = true)]
    out: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generate a synthetic company with known ground truth, ingest it and print the dashboard.
    Demo {
        /// Number of customers to generate.
        #[arg(long, default_value_t = 10_000)]
        customers: usize,
        /// Random seed: the same seed gives the same company.
        #[arg(long, default_value_t = 42)]
        seed: u64,
    },
    /// Read a folder of table files (CSV, JSON, Parquet) or one file into the workspace.
    ///
    /// Files are named after tables (orders.csv, customers.parquet …). Every problem is
    /// reported with file, row, column and value; on any error the workspace is left unchanged.
    Ingest {
        /// Folder of table files, or a single file.
        source: PathBuf,
        /// TOML file renaming tables and columns, e.g. `[orders] customer_id = "CustID"`.
        #[arg(long)]
        mapping: Option<PathBuf>,
        /// Add rows to the stored tables instead of replacing them (duplicate keys are errors).
        #[arg(long)]
        append: bool,
        /// CSV field delimiter (detected among , ; tab | when not given). Use `tab` for tabs.
        #[arg(long)]
        delimiter: Option<String>,
        /// Whether CSV files have a header row (detected when not given).
        #[arg(long, value_parser = ["yes", "no"])]
        header: Option<String>,
    },
    /// Print a report: kpis, sales, pipeline, summary, detailed, exceptions or campaigns.
    Report {
        /// kpis | sales | pipeline | summary | detailed | exceptions | campaigns
        name: String,
        /// Grouping: for sales product|category|region|rep|channel|day|week|month|quarter;
        /// for pipeline rep|region.
        #[arg(long)]
        by: Option<String>,
        /// First day of the period (YYYY-MM-DD). Default: start of the latest order's quarter.
        #[arg(long)]
        from: Option<String>,
        /// Last day of the period (YYYY-MM-DD). Default: the latest order's date.
        #[arg(long)]
        to: Option<String>,
        /// A calendar period instead of --from/--to: 2025, 2025-Q4 or 2025-11.
        #[arg(long)]
        period: Option<String>,
        /// exceptions: relative revenue fall that counts as an exception.
        #[arg(long, default_value_t = 0.2)]
        threshold: f64,
        /// detailed: maximum rows (default 100 in table format, all rows otherwise).
        #[arg(long)]
        limit: Option<usize>,
        /// detailed: rows to skip.
        #[arg(long, default_value_t = 0)]
        offset: usize,
    },
    /// Run a SQL query over the workspace tables and views.
    Sql {
        /// The query, e.g. "SELECT region, SUM(total_amount) FROM orders GROUP BY region".
        query: String,
    },
    /// List the workspace's tables with their row counts and columns.
    Tables,
    /// Segment customers: rfm, demographic, behavioral (k-means) or lifecycle.
    ///
    /// Prints a summary per segment and stores each customer's segment in the workspace
    /// (table scores_<kind>, joined into the customer_scores view).
    Segment {
        /// rfm | demographic | behavioral | lifecycle
        kind: String,
        /// Day the customers are judged on (YYYY-MM-DD); only earlier sales count.
        /// Default: the day after the last sale.
        #[arg(long)]
        as_of: Option<String>,
        /// demographic: dimensions to group by, comma-separated:
        /// age_band,gender,region,country,acquisition_channel.
        #[arg(long, value_delimiter = ',')]
        by: Vec<String>,
        /// behavioral: number of clusters (default: chosen by silhouette among 2..8).
        #[arg(long)]
        k: Option<usize>,
        /// behavioral: seed of the k-means initialisation.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// lifecycle: a first purchase within this many days makes a customer new.
        #[arg(long)]
        new_days: Option<f64>,
        /// lifecycle: no purchase within this many days makes a customer at risk.
        #[arg(long)]
        active_days: Option<f64>,
        /// lifecycle: no purchase for more than this many days makes a customer churned.
        #[arg(long)]
        churned_days: Option<f64>,
        /// lifecycle: orders that make a customer loyal.
        #[arg(long)]
        loyal_orders: Option<u32>,
        /// lifecycle: share of customers with the highest spend that are high-value.
        #[arg(long)]
        high_value_share: Option<f64>,
        #[command(flatten)]
        common: AnalysisArgs,
    },
    /// Customer lifetime value: BG/NBD or Pareto/NBD purchases with Gamma-Gamma spend.
    ///
    /// Prints the fitted parameters (with standard errors), the holdout check when
    /// --calibration-end leaves later orders, and the most valuable customers; stores each
    /// customer's P(alive), expected purchases, expected spend and CLV (table scores_clv).
    Clv {
        /// Purchase model: bgnbd or pnbd (Pareto/NBD).
        #[arg(long, default_value = "bgnbd")]
        model: String,
        /// Last day of the calibration period (YYYY-MM-DD); later orders form the holdout.
        /// Default: the last order's day (no holdout).
        #[arg(long)]
        calibration_end: Option<String>,
        /// Model time unit: day, week or month.
        #[arg(long, default_value = "week")]
        time_unit: String,
        /// Horizon of predictions and CLV, in time units (default: one year).
        #[arg(long)]
        horizon: Option<f64>,
        /// Annual discount rate of future value (0.1 = 10 %).
        #[arg(long, default_value_t = 0.10)]
        discount_rate: f64,
        /// Profit margin applied to spend (1 = CLV in revenue).
        #[arg(long, default_value_t = 1.0)]
        margin: f64,
        #[command(flatten)]
        common: AnalysisArgs,
    },
    /// Churn: who will stop buying (or not renew), by logistic regression and boosted trees.
    ///
    /// Trains on the snapshot as-of − 2·window, checks on as-of − window (ROC AUC, PR AUC,
    /// Brier score, calibration by decile, lift, fairness by gender and age band) and scores
    /// every active customer at the as-of day with the better model, giving the top three
    /// reasons; stores churn_probability and churn_reasons (table scores_churn).
    Churn {
        /// transactional (no purchase within the window) or subscription (not renewed).
        #[arg(long, default_value = "transactional")]
        kind: String,
        /// Day to score on (YYYY-MM-DD). Default: the day after the last sale.
        #[arg(long)]
        as_of: Option<String>,
        /// Days after a snapshot in which a purchase (renewal) must happen.
        #[arg(long, default_value_t = 90)]
        window: i32,
        /// Transactional churn: only customers who bought within this many days count.
        #[arg(long, default_value_t = 365)]
        active_days: i32,
        /// Flag the fairness check when the ratio between groups exceeds this.
        #[arg(long, default_value_t = 1.25)]
        fairness_threshold: f64,
        #[command(flatten)]
        common: AnalysisArgs,
    },
    /// Lead scoring: conversion probability of every lead as a 0–100 score and A–D grade.
    Leads {
        /// Leads younger than this many days (before the newest lead) are scored, not learnt from.
        #[arg(long, default_value_t = 60)]
        maturity_days: i32,
        #[command(flatten)]
        common: AnalysisArgs,
    },
    /// Predict any outcome in a CSV file you bring (binary or numeric target).
    ///
    /// Fits logistic (ridge) regression and boosted trees on 80 % of the rows, reports their
    /// held-out metrics and top drivers, and with --score writes id,score rows for another file.
    Predict {
        /// CSV file with the outcome known.
        #[arg(long)]
        train: PathBuf,
        /// Column to predict.
        #[arg(long)]
        target: String,
        /// CSV file to score; the scores are the output (use --out and --format csv|json).
        #[arg(long)]
        score: Option<PathBuf>,
        /// Column identifying rows: never a feature, printed with the scores.
        #[arg(long)]
        id_column: Option<String>,
        /// The positive class of a binary target (default: yes/true/1, else the second
        /// value in sorted order).
        #[arg(long)]
        positive: Option<String>,
        /// Share of rows held out for the evaluation.
        #[arg(long, default_value_t = 0.2)]
        test_fraction: f64,
        /// Seed of the train/test split.
        #[arg(long, default_value_t = 42)]
        seed: u64,
    },
    /// Acquisition cohorts: retention and revenue per customer by periods since first purchase.
    Cohorts {
        /// Cohort and period width: month or quarter.
        #[arg(long, default_value = "month")]
        by: String,
    },
    /// Serve the web dashboard and the JSON API (/api/v1/, OpenAPI at /api/v1/openapi.json).
    ///
    /// Listens on 127.0.0.1:8080 unless told otherwise. Users log in with a token from
    /// `clientele users add`; stop with Ctrl-C (requests in flight are finished).
    #[cfg(feature = "server")]
    Serve {
        /// Address and port to listen on. Use 0.0.0.0:8080 to accept other machines.
        #[arg(long, default_value = "127.0.0.1:8080")]
        bind: std::net::SocketAddr,
        /// Serve without logins: everyone is an admin. For one person on their own machine.
        #[arg(long)]
        no_auth: bool,
        /// Serve the demo company: generate it into the workspace first when the workspace is
        /// empty, and create one demo user per role when there are no users.
        #[arg(long)]
        demo: bool,
        /// Customers of the generated demo company.
        #[arg(long, default_value_t = 10_000)]
        demo_customers: usize,
        /// Threads running queries and models (default: the number of cores).
        #[arg(long)]
        query_threads: Option<usize>,
    },
    /// Manage the users of the dashboard and API.
    #[cfg(feature = "server")]
    Users {
        #[command(subcommand)]
        action: UsersAction,
    },
    /// Print the audit log: who accessed which customers' data, and when (admins).
    #[cfg(feature = "server")]
    Audit {
        /// Only this user's accesses.
        #[arg(long)]
        user: Option<String>,
        /// Only accesses to this customer.
        #[arg(long)]
        customer: Option<String>,
        /// The newest N entries (default: all).
        #[arg(long)]
        limit: Option<usize>,
    },
}

#[cfg(feature = "server")]
#[derive(Subcommand)]
enum UsersAction {
    /// Create a user and print its API token (shown once; only its hash is stored).
    Add {
        /// Login name.
        name: String,
        /// admin, analyst, sales_manager or marketing_manager.
        #[arg(long)]
        role: String,
    },
    /// List the users and their roles.
    List,
    /// Remove a user; its token stops working at once.
    Remove {
        /// Login name.
        name: String,
    },
}

/// Flags every analysis with per-customer results takes.
#[derive(clap::Args)]
struct AnalysisArgs {
    /// Print one row per customer instead of the summary.
    #[arg(long)]
    customers: bool,
    /// Do not store the per-customer results in the workspace.
    #[arg(long)]
    no_save: bool,
}

/// An error in how the program was called (exit code 2).
#[derive(Debug)]
struct Usage(String);

impl std::fmt::Display for Usage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Usage {}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if is_broken_pipe(&e) {
                return ExitCode::SUCCESS;
            }
            if let Some(IngestError::Rejected(report)) = e.downcast_ref::<IngestError>() {
                print_issues(report);
            }
            eprintln!("error: {e:#}");
            ExitCode::from(exit_code(&e))
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            || c.to_string().contains("Broken pipe")
    })
}

fn exit_code(e: &anyhow::Error) -> u8 {
    for c in e.chain() {
        if c.downcast_ref::<Usage>().is_some() {
            return 2;
        }
        if let Some(x) = c.downcast_ref::<IngestError>() {
            return if x.is_bad_input() { 2 } else { 1 };
        }
        if let Some(x) = c.downcast_ref::<AnalyticsError>() {
            return if x.is_bad_input() { 2 } else { 1 };
        }
        if let Some(x) = c.downcast_ref::<EngineError>() {
            return if x.is_bad_input() { 2 } else { 1 };
        }
        #[cfg(feature = "server")]
        if let Some(x) = c.downcast_ref::<clientele_server::ServerError>() {
            return if x.is_bad_input() { 2 } else { 1 };
        }
        if let Some(x) = c.downcast_ref::<clientele_demo::DemoError>() {
            return if matches!(x, clientele_demo::DemoError::InvalidConfig(_)) {
                2
            } else {
                1
            };
        }
    }
    1
}

fn usage(msg: impl Into<String>) -> anyhow::Error {
    anyhow!(Usage(msg.into()))
}

fn parse_date(flag: &str, v: Option<&str>) -> Result<Option<NaiveDate>> {
    v.map(|s| {
        clientele_schema::parse_date(s)
            .ok_or_else(|| usage(format!("{flag} '{s}' is not a date: expected YYYY-MM-DD")))
    })
    .transpose()
}

async fn run(cli: Cli) -> Result<()> {
    let ws = cli.workspace.clone();
    match cli.command {
        Command::Demo { customers, seed } => {
            demo(&ws, cli.format, cli.out.as_deref(), customers, seed).await
        }
        Command::Ingest {
            source,
            mapping,
            append,
            delimiter,
            header,
        } => {
            let mapping = match mapping {
                Some(p) => Mapping::load(&p)?,
                None => Mapping::default(),
            };
            let delimiter = delimiter
                .map(|d| match d.as_str() {
                    "tab" | "\\t" => Ok(b'\t'),
                    s if s.len() == 1 => Ok(s.as_bytes()[0]),
                    s => Err(usage(format!(
                        "--delimiter '{s}' must be one character (or `tab`)"
                    ))),
                })
                .transpose()?;
            let options = IngestOptions {
                mapping,
                csv: CsvOptions {
                    delimiter,
                    header: header.map(|h| h == "yes"),
                },
                append,
                ..IngestOptions::default()
            };
            ingest(&source, &ws, &options, cli.format, cli.out.as_deref())
        }
        Command::Report {
            name,
            by,
            from,
            to,
            period,
            threshold,
            limit,
            offset,
        } => {
            let engine = Engine::open(&ws).await?;
            let from = parse_date("--from", from.as_deref())?;
            let to = parse_date("--to", to.as_deref())?;
            let limit = limit.or((cli.format == Format::Table).then_some(100));
            if name == "detailed" && limit.is_none() && by.is_none() {
                let period =
                    clientele_analytics::resolve_period(&engine, from, to, period.as_deref())
                        .await?;
                let df = clientele_analytics::detailed_frame(&engine, &period).await?;
                let df = df
                    .limit(offset, None)
                    .map_err(clientele_engine::engine_error)?;
                let mut sink = Sink::open(cli.out.as_deref())?;
                output::stream_rows(&mut sink, df, cli.format, &period).await?;
                return sink.commit();
            }
            let request = clientele_analytics::ReportRequest {
                name,
                by,
                from,
                to,
                period,
                threshold: Some(threshold),
                limit,
                offset,
                filters: Vec::new(),
            };
            let report = clientele_analytics::run_report(&engine, &request).await?;
            let mut sink = Sink::open(cli.out.as_deref())?;
            output::write_report(&mut sink, &report, cli.format)?;
            sink.commit()
        }
        Command::Sql { query } => {
            let engine = Engine::open(&ws).await?;
            let df = engine.sql(&query).await?;
            let batches = engine.collect(df).await?;
            let mut sink = Sink::open(cli.out.as_deref())?;
            match cli.format {
                Format::Table => output::write_table(sink.writer(), &batches, &[])?,
                Format::Csv => output::write_csv(sink.writer(), &batches)?,
                Format::Json => {
                    serde_json::to_writer_pretty(
                        &mut *sink.writer(),
                        &output::rows_json(&batches)?,
                    )?;
                    writeln!(sink.writer())?;
                }
            }
            sink.commit()
        }
        Command::Segment {
            kind,
            as_of,
            by,
            k,
            seed,
            new_days,
            active_days,
            churned_days,
            loyal_orders,
            high_value_share,
            common,
        } => {
            let engine = Engine::open(&ws).await?;
            let as_of = parse_date("--as-of", as_of.as_deref())?;
            let spinner = Spinner::start(&format!("segmenting customers ({kind})"));
            let analysis = match kind.as_str() {
                "rfm" => clientele_analytics::segment_rfm(&engine, as_of).await?,
                "demographic" => {
                    let by = if by.is_empty() {
                        vec!["region".to_string()]
                    } else {
                        by
                    };
                    clientele_analytics::segment_demographic(&engine, &by, as_of).await?
                }
                "behavioral" | "behavioural" => {
                    if k.is_some_and(|k| !(2..=50).contains(&k)) {
                        return Err(usage("--k must be between 2 and 50"));
                    }
                    let opts = clientele_analytics::BehaviouralOptions { as_of, k, seed };
                    clientele_analytics::segment_behavioural(&engine, &opts).await?
                }
                "lifecycle" => {
                    let mut t = clientele_analytics::LifecycleThresholds::default();
                    if let Some(v) = new_days {
                        t.new_days = v;
                    }
                    if let Some(v) = active_days {
                        t.active_days = v;
                    }
                    if let Some(v) = churned_days {
                        t.churned_days = v;
                    }
                    if let Some(v) = loyal_orders {
                        t.loyal_orders = v;
                    }
                    if let Some(v) = high_value_share {
                        if !(v > 0.0 && v < 1.0) {
                            return Err(usage("--high-value-share must be between 0 and 1"));
                        }
                        t.high_value_quantile = 1.0 - v;
                    }
                    if !(t.new_days > 0.0 && t.active_days > 0.0 && t.churned_days > t.active_days)
                    {
                        return Err(usage(
                            "lifecycle thresholds must be positive, with --churned-days above --active-days",
                        ));
                    }
                    clientele_analytics::segment_lifecycle(&engine, as_of, &t).await?
                }
                other => {
                    return Err(usage(format!(
                        "unknown segmentation '{other}': expected rfm, demographic, behavioral or lifecycle"
                    )));
                }
            };
            drop(spinner);
            finish_analysis(&engine, &analysis, &common, cli.format, cli.out.as_deref())
        }
        Command::Clv {
            model,
            calibration_end,
            time_unit,
            horizon,
            discount_rate,
            margin,
            common,
        } => {
            let engine = Engine::open(&ws).await?;
            let options = clientele_analytics::ClvOptions {
                model: clientele_analytics::parse_clv_model(&model)?,
                calibration_end: parse_date("--calibration-end", calibration_end.as_deref())?,
                time_unit: time_unit.parse()?,
                horizon,
                discount_rate,
                margin,
            };
            let spinner = Spinner::start("fitting the lifetime-value models");
            let analysis = clientele_analytics::clv(&engine, &options).await?;
            drop(spinner);
            finish_analysis(&engine, &analysis, &common, cli.format, cli.out.as_deref())
        }
        Command::Churn {
            kind,
            as_of,
            window,
            active_days,
            fairness_threshold,
            common,
        } => {
            let engine = Engine::open(&ws).await?;
            let options = clientele_analytics::ChurnOptions {
                kind: kind.parse()?,
                as_of: parse_date("--as-of", as_of.as_deref())?,
                window,
                active_days,
                fairness_threshold,
            };
            let spinner = Spinner::start("building features and fitting the churn models");
            let analysis = clientele_analytics::churn(&engine, &options).await?;
            drop(spinner);
            finish_analysis(&engine, &analysis, &common, cli.format, cli.out.as_deref())
        }
        Command::Leads {
            maturity_days,
            common,
        } => {
            let engine = Engine::open(&ws).await?;
            let options = clientele_analytics::LeadOptions { maturity_days };
            let spinner = Spinner::start("fitting the lead-conversion models");
            let analysis = clientele_analytics::leads(&engine, &options).await?;
            drop(spinner);
            finish_analysis(&engine, &analysis, &common, cli.format, cli.out.as_deref())
        }
        Command::Predict {
            train,
            target,
            score,
            id_column,
            positive,
            test_fraction,
            seed,
        } => {
            let options = clientele_analytics::PredictOptions {
                train,
                target,
                score,
                id_column,
                positive,
                test_fraction,
                seed,
            };
            let scoring = options.score.is_some();
            let analysis =
                tokio::task::spawn_blocking(move || clientele_analytics::predict(&options))
                    .await
                    .context("the prediction task failed")??;
            let mut sink = Sink::open(cli.out.as_deref())?;
            if scoring {
                // The scores are the output; the evaluation goes to stderr.
                output::write_analysis(&mut std::io::stderr(), &analysis, Format::Table, false)?;
            }
            output::write_analysis(sink.writer(), &analysis, cli.format, scoring)?;
            sink.commit()
        }
        Command::Cohorts { by } => {
            let engine = Engine::open(&ws).await?;
            let analysis = clientele_analytics::cohorts(&engine, by.parse()?).await?;
            let mut sink = Sink::open(cli.out.as_deref())?;
            output::write_analysis(sink.writer(), &analysis, cli.format, false)?;
            sink.commit()
        }
        #[cfg(feature = "server")]
        Command::Serve {
            bind,
            no_auth,
            demo: with_demo,
            demo_customers,
            query_threads,
        } => {
            serve(
                &ws,
                bind,
                !no_auth,
                with_demo,
                demo_customers,
                query_threads,
            )
            .await
        }
        #[cfg(feature = "server")]
        Command::Users { action } => {
            let mut sink = Sink::open(cli.out.as_deref())?;
            match action {
                UsersAction::Add { name, role } => {
                    let role: clientele_server::Role = role.parse()?;
                    let token = clientele_server::add_user(&ws, &name, role)?;
                    if cli.format == Format::Json {
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
                    let rows: Vec<serde_json::Value> = clientele_server::load_users(&ws)?
                        .iter()
                        .map(|u| serde_json::json!({"user": u.name, "role": u.role.name(), "created_at": u.created_at}))
                        .collect();
                    print_json_rows(&mut sink, &rows, cli.format)?;
                }
                UsersAction::Remove { name } => {
                    clientele_server::remove_user(&ws, &name)?;
                    eprintln!("removed user {name}");
                }
            }
            sink.commit()
        }
        #[cfg(feature = "server")]
        Command::Audit {
            user,
            customer,
            limit,
        } => {
            let mut entries =
                clientele_server::read_audit(&ws, user.as_deref(), customer.as_deref())?;
            if let Some(n) = limit {
                let skip = entries.len().saturating_sub(n);
                entries.drain(..skip);
            }
            let rows: Vec<serde_json::Value> = entries
                .iter()
                .map(|e| serde_json::json!({"at": e.at, "user": e.user, "role": e.role, "action": e.action, "customers": e.customers.join(" "), "request_id": e.request_id}))
                .collect();
            let mut sink = Sink::open(cli.out.as_deref())?;
            if rows.is_empty() && cli.format == Format::Table {
                writeln!(sink.writer(), "(no audit entries)")?;
            } else {
                print_json_rows(&mut sink, &rows, cli.format)?;
            }
            sink.commit()
        }
        Command::Tables => {
            let manifest = clientele_ingest::Manifest::read(&ws)?
                .ok_or_else(|| anyhow!(EngineError::NoWorkspace(ws.clone())))?;
            let rows: Vec<serde_json::Value> = manifest
                .tables
                .iter()
                .map(|(n, t)| serde_json::json!({"table": n, "kind": if clientele_schema::table(n).is_some() { "data" } else { "analysis" }, "rows": t.rows, "columns": t.columns.join(", "), "extra_columns": t.extra_columns.join(", "), "ingested_at": t.ingested_at}))
                .collect();
            let mut sink = Sink::open(cli.out.as_deref())?;
            print_json_rows(&mut sink, &rows, cli.format)?;
            sink.commit()
        }
    }
}

#[cfg(feature = "server")]
async fn serve(
    ws: &Path,
    bind: std::net::SocketAddr,
    auth: bool,
    with_demo: bool,
    demo_customers: usize,
    query_threads: Option<usize>,
) -> Result<()> {
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
        demo(
            ws,
            Format::Table,
            Some(&ws.join("demo").join("dashboard.txt")),
            demo_customers,
            42,
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

/// Prints an analysis (or its per-customer rows) and stores its per-customer results.
fn finish_analysis(
    engine: &Engine,
    analysis: &clientele_analytics::Analysis,
    common: &AnalysisArgs,
    format: Format,
    out: Option<&Path>,
) -> Result<()> {
    let mut sink = Sink::open(out)?;
    output::write_analysis(sink.writer(), analysis, format, common.customers)?;
    sink.commit()?;
    if common.no_save {
        return Ok(());
    }
    if let Some(table) = clientele_analytics::save(engine, analysis)? {
        let view = if table.starts_with("scores_") {
            " (joined into the customer_scores view)"
        } else {
            ""
        };
        eprintln!(
            "stored the per-row results in table {table} of {}{view}",
            engine.workspace().display()
        );
    }
    Ok(())
}

fn print_json_rows(sink: &mut Sink, rows: &[serde_json::Value], format: Format) -> Result<()> {
    let text = serde_json::to_string(rows)?;
    let batches = if rows.is_empty() {
        vec![]
    } else {
        let schema = arrow::json::reader::infer_json_schema_from_iterator(
            rows.iter().map(|r| Ok(r.clone())),
        )?;
        let mut decoder =
            arrow::json::ReaderBuilder::new(std::sync::Arc::new(schema)).build_decoder()?;
        decoder.serialize(rows)?;
        decoder.flush()?.into_iter().collect()
    };
    match format {
        Format::Json => writeln!(sink.writer(), "{text}")?,
        Format::Csv => output::write_csv(sink.writer(), &batches)?,
        Format::Table => output::write_table(sink.writer(), &batches, &[])?,
    }
    Ok(())
}

/// A spinner on stderr while a long analysis runs (nothing when stderr is not a terminal);
/// cleared when dropped.
struct Spinner(Option<indicatif::ProgressBar>);

impl Spinner {
    fn start(what: &str) -> Spinner {
        if !std::io::stderr().is_terminal() {
            return Spinner(None);
        }
        let pb = indicatif::ProgressBar::new_spinner();
        pb.set_style(
            indicatif::ProgressStyle::with_template("{spinner} {msg} {elapsed}").expect("template"),
        );
        pb.set_message(what.to_string());
        pb.enable_steady_tick(std::time::Duration::from_millis(120));
        Spinner(Some(pb))
    }
}

impl Drop for Spinner {
    fn drop(&mut self) {
        if let Some(pb) = self.0.take() {
            pb.finish_and_clear();
        }
    }
}

fn progress_bar(len: u64, what: &str) -> Option<indicatif::ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let pb = indicatif::ProgressBar::new(len);
    pb.set_style(
        indicatif::ProgressStyle::with_template("{msg:>12} [{bar:40}] {percent:>3}% {elapsed}")
            .expect("template")
            .progress_chars("=> "),
    );
    pb.set_message(what.to_string());
    Some(pb)
}

fn print_issues(report: &clientele_ingest::IngestReport) {
    for i in &report.issues {
        eprintln!("{i}");
    }
    for o in &report.omitted {
        eprintln!("… {o}");
    }
}

fn ingest(
    source: &Path,
    ws: &Path,
    options: &IngestOptions,
    format: Format,
    out: Option<&Path>,
) -> Result<()> {
    let mut bar: Option<indicatif::ProgressBar> = None;
    let result = clientele_ingest::ingest(source, ws, options, &mut |p| {
        let b = bar.get_or_insert_with(|| {
            progress_bar(p.total, "ingesting").unwrap_or_else(indicatif::ProgressBar::hidden)
        });
        b.set_message(p.table.to_string());
        b.set_position(p.done);
    });
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let report = result?;
    print_issues(&report);
    let mut sink = Sink::open(out)?;
    match format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut *sink.writer(), &report)?;
            writeln!(sink.writer())?;
        }
        _ => {
            let rows: Vec<serde_json::Value> = report
                .tables
                .iter()
                .map(|t| serde_json::json!({"table": t.table, "file": t.file, "rows_read": t.rows, "rows_stored": t.total_rows}))
                .collect();
            print_json_rows(&mut sink, &rows, format)?;
            if format == Format::Table {
                writeln!(
                    sink.writer(),
                    "ingested into {} ({} warning(s))",
                    ws.display(),
                    report.warnings
                )?;
            }
        }
    }
    sink.commit()
}

async fn demo(
    ws: &Path,
    format: Format,
    out: Option<&Path>,
    customers: usize,
    seed: u64,
) -> Result<()> {
    let data_dir = ws.join("demo").join("source");
    let truth_dir = ws.join("demo").join("truth");
    let config = clientele_demo::DemoConfig {
        customers,
        seed,
        ..Default::default()
    };
    let started = std::time::Instant::now();
    let mut bar: Option<indicatif::ProgressBar> = None;
    let summary =
        clientele_demo::generate(&config, &data_dir, &truth_dir, &mut |stage, done, total| {
            let b = bar.get_or_insert_with(|| {
                progress_bar(total, "generating").unwrap_or_else(indicatif::ProgressBar::hidden)
            });
            b.set_length(total.max(1));
            b.set_message(stage.to_string());
            b.set_position(done);
        })
        .context("generating the demo company")?;
    if let Some(b) = bar.take() {
        b.finish_and_clear();
    }
    let rows: usize = summary.tables.iter().map(|(_, n)| n).sum();
    eprintln!(
        "generated {} tables, {rows} rows for {customers} customers in {:.1}s ({})",
        summary.tables.len(),
        started.elapsed().as_secs_f64(),
        data_dir.display()
    );
    let started = std::time::Instant::now();
    let report = clientele_ingest::ingest(&data_dir, ws, &IngestOptions::default(), &mut |_| {})
        .context("ingesting the demo company")?;
    print_issues(&report);
    eprintln!(
        "ingested into {} in {:.1}s",
        ws.display(),
        started.elapsed().as_secs_f64()
    );
    let engine = Engine::open(ws).await?;
    let mut sink = Sink::open(out)?;
    let period = clientele_analytics::resolve_period(&engine, None, None, None).await?;
    let reports = [
        clientele_analytics::kpis(&engine, &period).await?,
        clientele_analytics::sales(
            &engine,
            &clientele_analytics::trailing_year(&engine).await?,
            clientele_analytics::SalesBy::Month,
        )
        .await?,
        clientele_analytics::sales(&engine, &period, clientele_analytics::SalesBy::Region).await?,
        clientele_analytics::sales(&engine, &period, clientele_analytics::SalesBy::Category)
            .await?,
    ];
    for r in &reports {
        output::write_report(&mut sink, r, format)?;
        if format == Format::Table {
            writeln!(sink.writer())?;
        }
    }
    // The customer-intelligence analyses, stored so that customer_scores is filled.
    let started = std::time::Instant::now();
    let mut names = Vec::new();
    for step in 0..5 {
        // Reopened each time: every save makes a new generation, and later analyses use
        // earlier results (lifecycle and segments read the stored CLV).
        let engine = Engine::open(ws).await?;
        let a = match step {
            0 => clientele_analytics::clv(&engine, &Default::default()).await?,
            1 => clientele_analytics::segment_rfm(&engine, None).await?,
            2 => clientele_analytics::segment_lifecycle(&engine, None, &Default::default()).await?,
            3 => clientele_analytics::churn(&engine, &Default::default()).await?,
            _ => clientele_analytics::leads(&engine, &Default::default()).await?,
        };
        clientele_analytics::save(&engine, &a)?;
        names.push(a.name);
    }
    eprintln!(
        "ran and stored {} in {:.1}s",
        names.join(", "),
        started.elapsed().as_secs_f64()
    );
    if format == Format::Table {
        writeln!(
            sink.writer(),
            "workspace: {}  ground truth: {}\nnext: clientele report sales --by product, clientele segment rfm, clientele churn,\n      clientele sql \"SELECT * FROM customer_scores ORDER BY clv DESC LIMIT 10\"",
            ws.display(),
            truth_dir.display()
        )?;
    }
    sink.commit()
}
