//! The command line: the global flags, the built-in commands (clap derive), and the
//! analyses, whose subcommands are derived from `clientele_analytics::analyses` — one per
//! declaration, with the flags of its parameter struct — so that adding an analysis to the
//! library adds its subcommand here without an edit.

use std::path::PathBuf;

use clap::{ArgMatches, Args, FromArgMatches, Subcommand};
use clientele_analytics::analyses::GROUPS;

use crate::commands::analysis::{CliAnalysis, registry};
use crate::output::Format;

const ABOUT: &str = "Analytical CRM: unified customer data, KPIs and sales reports from one binary";
const LONG_ABOUT: &str = "clientele turns exported customer data (orders, customers, products, leads, deals, tickets …) \
into a workspace of Parquet tables and answers KPI, sales and pipeline questions over it with SQL.\n\n\
Start with `clientele demo` to see it on a synthetic company, then `clientele ingest ./exports` for your own data.";

/// Flags every command takes.
#[derive(Args, Debug, Clone)]
pub struct Globals {
    /// Workspace folder holding the ingested tables.
    #[arg(
        long,
        global = true,
        env = "CLIENTELE_WORKSPACE",
        default_value = "clientele-data"
    )]
    pub workspace: PathBuf,
    /// Output format: an aligned table, CSV for spreadsheets, or JSON for scripts.
    #[arg(long, global = true, value_enum, default_value = "table")]
    pub format: Format,
    /// Write the output to this file instead of standard output (written atomically).
    #[arg(long, global = true)]
    pub out: Option<PathBuf>,
    /// Memory the query engine may hold at once: a share of the machine's (50%) or a size
    /// (4GiB, 512MiB). Large sorts and aggregations spill to the temporary folder beyond
    /// it; a query that still needs more stops with an error saying so.
    #[arg(
        long,
        global = true,
        env = "CLIENTELE_MEMORY_LIMIT",
        default_value = "50%",
        value_parser = clientele_analytics::parse_memory_limit
    )]
    pub memory_limit: usize,
}

impl Globals {
    /// How the engine runs, from the global flags.
    pub fn engine_options(&self) -> clientele_analytics::EngineOptions {
        clientele_analytics::EngineOptions {
            memory_limit: self.memory_limit,
        }
    }

    /// The engine over the workspace.
    pub async fn engine(
        &self,
    ) -> Result<clientele_analytics::Engine, clientele_analytics::EngineError> {
        clientele_analytics::Engine::open_with(&self.workspace, self.engine_options()).await
    }
}

/// A `YYYY-MM-DD` day of a flag.
fn parse_day(s: &str) -> Result<chrono::NaiveDate, String> {
    clientele_schema::parse_date(s)
        .ok_or_else(|| format!("'{s}' is not a date: expected YYYY-MM-DD"))
}

/// The commands that are not analyses.
#[derive(Subcommand)]
pub enum Command {
    /// Generate a synthetic company with known ground truth, ingest it and print the dashboard.
    Demo {
        /// Number of customers to generate.
        #[arg(long, default_value_t = 10_000)]
        customers: usize,
        /// Random seed: the same seed gives the same company.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Last day of the company's history (YYYY-MM-DD), the "as of" date of its data;
        /// a day inside a quarter shows the KPI report's quarter to date.
        #[arg(long, default_value = "2025-12-31", value_parser = parse_day)]
        end: chrono::NaiveDate,
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
        /// Warn about any money value larger in magnitude than this (the value is still
        /// stored): a sanity check for typos and cents read as units.
        #[arg(long, default_value_t = clientele_ingest::MONEY_CEILING)]
        money_ceiling: f64,
    },
    /// Print a report: kpis, sales, pipeline, summary, detailed, exceptions, campaigns or channels.
    Report(ReportArgs),
    /// Run a SQL query over the workspace tables and views.
    Sql {
        /// The query, e.g. "SELECT region, SUM(total_amount) FROM orders GROUP BY region".
        query: String,
        /// Also allow statements that write or read files outside the workspace, or change
        /// the session: CREATE EXTERNAL TABLE, CREATE VIEW, COPY … TO, INSERT, SET. Without
        /// it only queries that read run.
        #[arg(long)]
        allow_write: bool,
    },
    /// List the workspace's tables with their row counts and columns.
    Tables,
    /// Everything about one customer: profile, consent, scores, purchases, orders and their
    /// items, subscriptions, tickets, surveys, touchpoints, web sessions (the dashboard's 360).
    Customer {
        /// The customer's id.
        id: String,
    },
    /// Predict any outcome in a CSV file you bring (binary or numeric target).
    ///
    /// Fits logistic (ridge) regression and boosted trees on 80 % of the rows, reports their
    /// held-out metrics and top drivers, and with --score writes id,score rows for another file.
    Predict(PredictArgs),
    /// Serve the web dashboard and the JSON API (/api/v1/, OpenAPI at /api/v1/openapi.json).
    ///
    /// Listens on 127.0.0.1:8080 unless told otherwise. Users log in with a token from
    /// `clientele users add`; stop with Ctrl-C (requests in flight are finished).
    #[cfg(feature = "server")]
    Serve(ServeArgs),
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

/// `clientele report`.
#[derive(Args)]
pub struct ReportArgs {
    /// kpis | sales | pipeline | summary | detailed | exceptions | campaigns
    pub name: String,
    /// Grouping: for sales product|category|region|rep|channel|day|week|month|quarter;
    /// for pipeline rep|region.
    #[arg(long)]
    pub by: Option<String>,
    /// First day of the period (YYYY-MM-DD). Default (without --to or --period): the last
    /// complete calendar quarter of the data; the KPI report adds the current one to date.
    #[arg(long)]
    pub from: Option<String>,
    /// Last day of the period (YYYY-MM-DD); alone, the quarter holding it, cut at it.
    /// Default: the latest order's date with --from.
    #[arg(long)]
    pub to: Option<String>,
    /// A calendar period instead of --from/--to: 2025, 2025-Q4 or 2025-11.
    #[arg(long)]
    pub period: Option<String>,
    /// exceptions: relative revenue fall that counts as an exception.
    #[arg(long, default_value_t = 0.2)]
    pub threshold: f64,
    /// detailed: maximum rows (default 100 in table format, all rows otherwise).
    #[arg(long)]
    pub limit: Option<usize>,
    /// detailed: rows to skip.
    #[arg(long, default_value_t = 0)]
    pub offset: usize,
    /// channels: how revenue is attributed — campaign (the orders' campaign, default),
    /// first_touch, last_touch, linear, time_decay, position_based, markov or shapley.
    #[arg(long)]
    pub attribution: Option<String>,
}

/// `clientele predict`.
#[derive(Args)]
pub struct PredictArgs {
    /// CSV file with the outcome known.
    #[arg(long)]
    pub train: PathBuf,
    /// Column to predict.
    #[arg(long)]
    pub target: String,
    /// CSV file to score; the scores are the output (use --out and --format csv|json).
    #[arg(long)]
    pub score: Option<PathBuf>,
    /// Column identifying rows: never a feature, printed with the scores.
    #[arg(long)]
    pub id_column: Option<String>,
    /// The positive class of a binary target (default: yes/true/1, else the second
    /// value in sorted order).
    #[arg(long)]
    pub positive: Option<String>,
    /// Share of rows held out for the evaluation.
    #[arg(long, default_value_t = 0.2)]
    pub test_fraction: f64,
    /// Seed of the train/test split.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
}

/// `clientele serve`.
#[cfg(feature = "server")]
#[derive(Args)]
pub struct ServeArgs {
    /// Address and port to listen on. Use 0.0.0.0:8080 to accept other machines.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub bind: std::net::SocketAddr,
    /// Serve without logins: everyone is an admin. For one person on their own machine.
    #[arg(long)]
    pub no_auth: bool,
    /// Serve the demo company: generate it into the workspace first when the workspace is
    /// empty, and create one demo user per role when there are no users.
    #[arg(long)]
    pub demo: bool,
    /// Customers of the generated demo company.
    #[arg(long, default_value_t = 10_000)]
    pub demo_customers: usize,
    /// Threads running queries and models (default: the number of cores).
    #[arg(long)]
    pub query_threads: Option<usize>,
    /// Mark the session cookie Secure: browsers then send it over HTTPS only. Use it when
    /// the server is reached over HTTPS only.
    #[arg(long)]
    pub secure_cookie: bool,
    /// Trust the X-Forwarded-Proto header of the proxy in front of the server: the session
    /// cookie is Secure when the proxy says the client used HTTPS. Only behind a proxy that
    /// sets the header itself: any client can send it.
    #[arg(long)]
    pub trust_proxy: bool,
    /// Seconds a request may take until its answer starts; longer ones get 503 and their
    /// query is stopped.
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub request_timeout: u64,
}

/// `clientele users …`.
#[cfg(feature = "server")]
#[derive(Subcommand)]
pub enum UsersAction {
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
#[derive(Args, Debug)]
pub struct StoreArgs {
    /// Print one row per customer instead of the summary.
    #[arg(long)]
    pub customers: bool,
    /// Do not store the per-customer results in the workspace.
    #[arg(long)]
    pub no_save: bool,
}

/// What the command line asked for.
pub enum Invocation {
    /// A built-in command.
    Builtin(Command),
    /// An analysis, with the matches of its own subcommand.
    Analysis(&'static dyn CliAnalysis, ArgMatches),
}

/// The whole command line's grammar: the built-in commands, then one subcommand per analysis
/// (grouped ones under their group's word).
pub fn command() -> clap::Command {
    // The texts after the derives, which set them from the structs' doc comments.
    let mut cmd =
        Command::augment_subcommands(Globals::augment_args(clap::Command::new("clientele")))
            .version(env!("CARGO_PKG_VERSION"))
            .about(ABOUT)
            .long_about(LONG_ABOUT)
            .subcommand_required(true)
            .arg_required_else_help(true);
    for (group, help) in GROUPS {
        let (about, _) = help.split_once("\n\n").unwrap_or((help, ""));
        let mut sub = clap::Command::new(*group)
            .about(about)
            .long_about(*help)
            .subcommand_required(true)
            .arg_required_else_help(true);
        for a in registry().iter().filter(|a| a.def().command.len() == 2) {
            if a.def().command[0] == *group {
                sub = sub.subcommand(a.command());
            }
        }
        cmd = cmd.subcommand(sub);
    }
    for a in registry().iter().filter(|a| a.def().command.len() == 1) {
        cmd = cmd.subcommand(a.command());
    }
    cmd
}

/// Parses the command line (clap prints help or a usage error and exits 2 by itself).
pub fn parse() -> (Globals, Invocation) {
    let matches = command().get_matches();
    match split(&matches) {
        Ok(parsed) => parsed,
        Err(e) => e.exit(),
    }
}

fn split(matches: &ArgMatches) -> Result<(Globals, Invocation), clap::Error> {
    let globals = Globals::from_arg_matches(matches)?;
    let Some((name, sub)) = matches.subcommand() else {
        return Err(clap::Error::new(clap::error::ErrorKind::MissingSubcommand));
    };
    if Command::has_subcommand(name) {
        return Ok((
            globals,
            Invocation::Builtin(Command::from_arg_matches(matches)?),
        ));
    }
    let (words, leaf) = match sub.subcommand() {
        Some((leaf_name, leaf)) if GROUPS.iter().any(|(g, _)| *g == name) => {
            (vec![name, leaf_name], leaf)
        }
        _ => (vec![name], sub),
    };
    let analysis = registry()
        .iter()
        .copied()
        .find(|a| a.def().command == words.as_slice())
        .ok_or_else(|| clap::Error::new(clap::error::ErrorKind::InvalidSubcommand))?;
    Ok((globals, Invocation::Analysis(analysis, leaf.clone())))
}
