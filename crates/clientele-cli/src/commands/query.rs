//! Reading the workspace: `clientele report`, `sql` and `tables`.

use anyhow::{Result, anyhow};
use chrono::NaiveDate;
use clientele_analytics::EngineError;

use crate::args::{Globals, ReportArgs};
use crate::error::usage;
use crate::output::{self, Format, Sink};

fn parse_date(flag: &str, v: Option<&str>) -> Result<Option<NaiveDate>> {
    v.map(|s| {
        clientele_schema::parse_date(s)
            .ok_or_else(|| usage(format!("{flag} '{s}' is not a date: expected YYYY-MM-DD")))
    })
    .transpose()
}

/// `clientele report NAME …`. The detailed report without a limit streams every row.
pub async fn report(g: &Globals, args: ReportArgs) -> Result<()> {
    let engine = g.engine().await?;
    let from = parse_date("--from", args.from.as_deref())?;
    let to = parse_date("--to", args.to.as_deref())?;
    let limit = args.limit.or((g.format == Format::Table).then_some(100));
    if args.name == "detailed" && limit.is_none() && args.by.is_none() {
        let period =
            clientele_analytics::resolve_period(&engine, from, to, args.period.as_deref()).await?;
        let df = clientele_analytics::detailed_frame(&engine, &period).await?;
        let df = df
            .limit(args.offset, None)
            .map_err(clientele_engine::engine_error)?;
        let mut sink = Sink::open(g.out.as_deref())?;
        output::stream_rows(&mut sink, df, g.format, &period).await?;
        return sink.commit();
    }
    let request = clientele_analytics::ReportRequest {
        name: args.name,
        by: args.by,
        from,
        to,
        period: args.period,
        threshold: Some(args.threshold),
        limit,
        offset: args.offset,
        filters: Vec::new(),
        attribution: args.attribution,
    };
    let report = clientele_analytics::run_report(&engine, &request).await?;
    let mut sink = Sink::open(g.out.as_deref())?;
    output::write_report(&mut sink, &report, g.format)?;
    sink.commit()
}

/// `clientele sql "SELECT …" [--allow-write]`.
pub async fn sql(g: &Globals, query: &str, allow_write: bool) -> Result<()> {
    let engine = g.engine().await?;
    let df = match allow_write {
        true => engine.sql_allowing_writes(query).await?,
        false => engine.sql(query).await.map_err(|e| match e {
            EngineError::ReadOnly(_) => usage(format!("{e}; give --allow-write to run it")),
            e => e.into(),
        })?,
    };
    let batches = engine.collect(df).await?;
    let mut sink = Sink::open(g.out.as_deref())?;
    match g.format {
        Format::Table => output::write_table(sink.writer(), &batches, &[])?,
        Format::Csv => output::write_csv(sink.writer(), &batches)?,
        Format::Json => {
            serde_json::to_writer_pretty(&mut *sink.writer(), &output::rows_json(&batches)?)?;
            writeln!(sink.writer())?;
        }
    }
    sink.commit()
}

/// `clientele tables`: the manifest, one row per table.
pub fn tables(g: &Globals) -> Result<()> {
    let ws = &g.workspace;
    let manifest = clientele_ingest::Manifest::read(ws)?
        .ok_or_else(|| anyhow!(EngineError::NoWorkspace(ws.clone())))?;
    let rows: Vec<serde_json::Value> = manifest
        .tables
        .iter()
        .map(|(n, t)| serde_json::json!({"table": n, "kind": if clientele_schema::table(n).is_some() { "data" } else { "analysis" }, "rows": t.rows, "columns": t.columns.join(", "), "extra_columns": t.extra_columns.join(", "), "ingested_at": t.ingested_at}))
        .collect();
    let mut sink = Sink::open(g.out.as_deref())?;
    output::write_json_rows(&mut sink, &rows, g.format)?;
    sink.commit()
}
