//! One module per command; this file only dispatches.

pub mod analysis;
mod customer;
mod demo;
mod ingest;
mod predict;
mod query;
#[cfg(feature = "server")]
mod serve;

pub use ingest::print_issues;

use anyhow::Result;

use crate::args::{Command, Globals, Invocation};

/// Runs what the command line asked for.
pub async fn run(g: Globals, invocation: Invocation) -> Result<()> {
    let command = match invocation {
        Invocation::Analysis(a, matches) => return analysis::run(&g, a, &matches).await,
        Invocation::Builtin(c) => c,
    };
    match command {
        Command::Demo {
            customers,
            seed,
            end,
        } => {
            demo::demo(
                &g.workspace,
                g.format,
                g.out.as_deref(),
                (customers, seed, end),
                g.engine_options(),
            )
            .await
        }
        Command::Ingest {
            source,
            mapping,
            append,
            delimiter,
            header,
            money_ceiling,
        } => ingest::run(
            &g,
            &source,
            mapping.as_deref(),
            append,
            (delimiter, header),
            money_ceiling,
        ),
        Command::Report(args) => query::report(&g, args).await,
        Command::Sql { query, allow_write } => query::sql(&g, &query, allow_write).await,
        Command::Tables => query::tables(&g),
        Command::Customer { id } => customer::run(&g, &id).await,
        Command::Predict(args) => predict::run(&g, args).await,
        #[cfg(feature = "server")]
        Command::Serve(args) => serve::serve(&g.workspace, args, g.engine_options()).await,
        #[cfg(feature = "server")]
        Command::Users { action } => serve::users(&g, action),
        #[cfg(feature = "server")]
        Command::Audit {
            user,
            customer,
            limit,
        } => serve::audit(&g, user.as_deref(), customer.as_deref(), limit),
    }
}
