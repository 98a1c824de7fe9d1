//! `clientele predict`: any outcome in a CSV file the user brings. It reads local files the
//! user names, so it is a terminal command and not an API endpoint (a server must not read
//! paths its callers choose).

use anyhow::{Context, Result};

use crate::args::{Globals, PredictArgs};
use crate::output::{self, Format, Sink};

/// Fits and evaluates, and with `--score` prints the scores (the evaluation then goes to
/// stderr).
pub async fn run(g: &Globals, args: PredictArgs) -> Result<()> {
    let options = clientele_analytics::PredictOptions {
        train: args.train,
        target: args.target,
        score: args.score,
        id_column: args.id_column,
        positive: args.positive,
        test_fraction: args.test_fraction,
        seed: args.seed,
    };
    let scoring = options.score.is_some();
    let analysis = tokio::task::spawn_blocking(move || clientele_analytics::predict(&options))
        .await
        .context("the prediction task failed")??;
    let mut sink = Sink::open(g.out.as_deref())?;
    if scoring {
        output::write_analysis(&mut std::io::stderr(), &analysis, Format::Table, false)?;
    }
    output::write_analysis(sink.writer(), &analysis, g.format, scoring)?;
    sink.commit()
}
