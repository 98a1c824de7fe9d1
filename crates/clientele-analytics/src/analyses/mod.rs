//! The analyses (segments, CLV, churn, leads, cohorts …) and the one declaration each makes.
//!
//! An analysis is a type implementing [`Spec`]: its [`Def`] (name, CLI words, API path, help
//! text, the [`Area`] a role needs, the table its per-customer rows are stored in) and a
//! typed parameter struct ([`Params`]) that derives clap's `Args` (the CLI flags and their
//! `--help`), serde's `Deserialize` (the API's query string) and utoipa's `IntoParams` (the
//! OpenAPI parameters), and checks its own values. [`visit`] lists every analysis; the CLI
//! and the server walk that list to build their subcommands and routes, so adding an
//! analysis is a module here plus one line in [`visit`] (and its dashboard view).
//!
//! [`run`] is the only way the surfaces run an analysis: parameters are checked here, in the
//! library, whatever asked.

pub mod abtest;
pub mod analysis;
pub mod attribution;
pub mod basket;
pub mod churn;
pub mod clv;
pub mod cohorts;
pub mod features;
pub mod forecast;
pub(crate) mod input;
pub mod leads;
pub mod mmm;
pub mod params;
pub mod predict;
pub mod segment;
pub(crate) mod supervised;

use std::fmt::Debug;
use std::future::Future;

use crate::{Analysis, AnalyticsError, Engine};

/// The areas of the product; a role is allowed some of them (the server's role table), and
/// every report, analysis and list belongs to one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Area {
    /// KPIs, summary, exceptions.
    Overview,
    /// Sales by dimension and transactions.
    Sales,
    /// Deals by stage and rep.
    Pipeline,
    /// Customer lists, at-risk list and the customer 360.
    Customers,
    /// Segments, CLV, churn, cohorts.
    Segments,
    /// Campaign revenue, spend and ROI.
    Campaigns,
    /// Lead scoring.
    Leads,
    /// Users and the audit log.
    Admin,
}

impl Area {
    /// Every area, in the order the dashboard shows them.
    pub const ALL: [Area; 8] = [
        Area::Overview,
        Area::Sales,
        Area::Pipeline,
        Area::Customers,
        Area::Segments,
        Area::Campaigns,
        Area::Leads,
        Area::Admin,
    ];
}

/// What an analysis declares about itself; every surface is derived from it.
#[derive(Debug, Clone, Copy)]
pub struct Def {
    /// Machine name: the JSON `analysis` field, the cache key and the stored run's name
    /// (`clv`, `segment_rfm`).
    pub name: &'static str,
    /// The CLI words: `["clv"]`, or `["segment", "rfm"]` for a member of a [`GROUPS`] group.
    pub command: &'static [&'static str],
    /// Other names the last CLI word answers to (`behavioural`).
    pub aliases: &'static [&'static str],
    /// The API path under `/api/v1` (`/clv`, `/segments/rfm`).
    pub path: &'static str,
    /// One line, for `--help` and the OpenAPI summary.
    pub about: &'static str,
    /// The rest of the help, for `--help` and the OpenAPI description.
    pub long_about: &'static str,
    /// The area a role must be allowed to run it.
    pub area: Area,
    /// The workspace table its per-customer rows are stored in (joined into
    /// `customer_scores` when it starts with `scores_`), or `None` when it stores nothing.
    pub stores: Option<&'static str>,
    /// What the terminal says while it runs.
    pub progress: &'static str,
}

/// CLI groups of analyses (`clientele segment rfm`): the first command word and its help.
pub const GROUPS: &[(&str, &str)] = &[(
    "segment",
    "Segment customers: rfm, demographic, behavioral (k-means) or lifecycle.\n\n\
     Prints a summary per segment and stores each customer's segment in the workspace \
     (table scores_<kind>, joined into the customer_scores view).",
)];

/// The parameters of an analysis: one struct for the terminal, HTTP and the OpenAPI
/// document. `Default` must equal what the CLI gives with no flags (a test checks it).
pub trait Params:
    clap::Args
    + serde::de::DeserializeOwned
    + utoipa::IntoParams
    + Default
    + Clone
    + Debug
    + Send
    + Sync
    + 'static
{
    /// Checks every value against its documented range; errors name the parameter
    /// neutrally ([`AnalyticsError::Parameter`]).
    fn check(&self) -> Result<(), AnalyticsError>;

    /// The file the analysis reads instead of the workspace, when the user gave one
    /// (`forecast --series FILE`): the terminal then runs it on [`Engine::detached`]. Such a
    /// field is a terminal flag only (`#[serde(skip)]`, `#[param(ignore)]`): the server never
    /// reads a file a request names.
    fn input_file(&self) -> Option<&std::path::Path> {
        None
    }
}

/// An analysis: its declaration, its parameters and how it runs.
pub trait Spec: Send + Sync + 'static {
    /// Its parameters.
    type Params: Params;
    /// Its declaration.
    const DEF: Def;
    /// Runs it on checked parameters (call [`run`], which checks them first).
    fn run(
        engine: &Engine,
        params: &Self::Params,
    ) -> impl Future<Output = Result<Analysis, AnalyticsError>> + Send;
}

/// Checks the parameters and runs the analysis (the result knows where it is stored).
pub async fn run<S: Spec>(engine: &Engine, params: &S::Params) -> Result<Analysis, AnalyticsError> {
    params.check()?;
    S::run(engine, params).await
}

/// Something that wants to see every analysis with its types (the CLI builds subcommands,
/// the server routes).
pub trait Visitor {
    /// Called once per analysis, in [`visit`]'s order.
    fn visit<S: Spec>(&mut self);
}

/// Every analysis, in the order `--help` lists them. **To add an analysis, add a line.**
pub fn visit(v: &mut impl Visitor) {
    v.visit::<segment::Rfm>();
    v.visit::<segment::Demographic>();
    v.visit::<segment::Behavioural>();
    v.visit::<segment::Lifecycle>();
    v.visit::<clv::Clv>();
    v.visit::<churn::Churn>();
    v.visit::<leads::Leads>();
    v.visit::<cohorts::Cohorts>();
    v.visit::<forecast::Forecast>();
    v.visit::<attribution::Attribution>();
    v.visit::<abtest::Abtest>();
    v.visit::<mmm::Mmm>();
    v.visit::<basket::Basket>();
}

/// The declarations of every analysis.
pub fn defs() -> Vec<Def> {
    struct Collect(Vec<Def>);
    impl Visitor for Collect {
        fn visit<S: Spec>(&mut self) {
            self.0.push(S::DEF);
        }
    }
    let mut c = Collect(Vec::new());
    visit(&mut c);
    c.0
}

#[cfg(test)]
mod tests;
