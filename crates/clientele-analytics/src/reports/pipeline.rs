//! The pipeline report: open deals per stage with amount and weighted amount, how deals move
//! from stage to stage (conversion, days in stage) and the win rate, optionally by rep or
//! region.

use std::str::FromStr;

use crate::{AnalyticsError, Engine, Period, Report};

/// Grouping of the pipeline report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PipelineBy {
    /// By the deal's sales rep.
    Rep,
    /// By the region of the deal's sales rep.
    Region,
}

impl FromStr for PipelineBy {
    type Err = AnalyticsError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "rep" | "sales_rep" => Ok(PipelineBy::Rep),
            "region" => Ok(PipelineBy::Region),
            other => Err(AnalyticsError::Usage(format!(
                "unknown dimension '{other}' for the pipeline report: expected rep or region"
            ))),
        }
    }
}

/// The pipeline of deals created in `period` (all deals when `None`).
///
/// Definitions (per group and stage):
/// - `open_deals`, `open_amount`: deals whose outcome is open (or empty) and not closed,
///   currently in the stage — a snapshot, whatever the period.
/// - `win_probability`: of the closed deals (won or lost) that ever entered the stage, the
///   share won; `weighted_amount` = `open_amount` × `win_probability`.
/// - `entered`: deals that entered the stage; `conversion_to_next`: entered(next stage) /
///   entered(stage), stages ordered by their mean position in deals' histories, terminal
///   stages (never followed by another, such as "closed") last; empty into a terminal stage,
///   which lost deals reach from anywhere (`win_probability` says how deals end).
/// - `avg_days_in_stage`: mean days from entering the stage to entering the next one, over
///   the stage visits that have a next one.
/// - `win_rate`: won / (won + lost) over the group's deals.
pub async fn pipeline(
    engine: &Engine,
    period: Option<&Period>,
    by: Option<PipelineBy>,
) -> Result<Report, AnalyticsError> {
    if !engine.has_table("deals") {
        return Err(AnalyticsError::MissingData(
            "the pipeline report needs the deals table, and the workspace has none".into(),
        ));
    }
    let mut notes = Vec::new();
    let has_reps = engine.has_table("sales_reps");
    let (grp, join, group_cols) = match by {
        None => ("'all'", "", vec![]),
        Some(PipelineBy::Rep) if has_reps => (
            "COALESCE(d0.sales_rep_id, '(none)')",
            "LEFT JOIN sales_reps r ON d0.sales_rep_id = r.sales_rep_id",
            vec!["sales_rep_id", "rep_name"],
        ),
        Some(PipelineBy::Rep) => (
            "COALESCE(d0.sales_rep_id, '(none)')",
            "",
            vec!["sales_rep_id"],
        ),
        Some(PipelineBy::Region) if has_reps => (
            "COALESCE(r.region, '(none)')",
            "LEFT JOIN sales_reps r ON d0.sales_rep_id = r.sales_rep_id",
            vec!["region"],
        ),
        Some(PipelineBy::Region) => {
            return Err(AnalyticsError::MissingData(
                "pipeline by region needs the sales_reps table (a deal's region is its rep's), and the workspace has none".into(),
            ));
        }
    };
    let rep_name = if has_reps && by == Some(PipelineBy::Rep) {
        "MAX(r.name)"
    } else {
        "CAST(NULL AS VARCHAR)"
    };
    let scope = period.map_or("TRUE".to_string(), |p| p.contains_ts("d0.created_at"));
    let has_history = engine.has_table("deal_stage_history");
    let history = if has_history {
        "SELECT deal_id, stage, entered_at,
                LEAD(entered_at) OVER (PARTITION BY deal_id ORDER BY entered_at) AS next_at,
                ROW_NUMBER() OVER (PARTITION BY deal_id ORDER BY entered_at) AS pos
         FROM deal_stage_history"
    } else {
        notes.push("no deal_stage_history table: stage order, conversion and days in stage come from current stages only".into());
        "SELECT deal_id, stage, created_at AS entered_at, CAST(NULL AS TIMESTAMP) AS next_at, 1 AS pos FROM deals"
    };
    let sql = format!(
        "WITH d AS (
            SELECT d0.deal_id, d0.stage, d0.amount, d0.outcome, d0.closed_at, {grp} AS grp, {rep_name} AS rep_name
            FROM deals d0 {join} WHERE {scope}
            GROUP BY d0.deal_id, d0.stage, d0.amount, d0.outcome, d0.closed_at, {grp}),
         h AS ({history}),
         so AS (SELECT stage,
                       -- Terminal stages (never followed by another) go last, whatever their
                       -- mean position: deals lost early reach them from any stage.
                       AVG(CAST(pos AS DOUBLE)) + CASE WHEN COUNT(next_at) = 0 THEN 1000000 ELSE 0 END AS ord
                FROM h GROUP BY stage),
         nx AS (SELECT stage, ord, LEAD(stage) OVER (ORDER BY ord, stage) AS next_stage,
                       LEAD(ord) OVER (ORDER BY ord, stage) AS next_ord FROM so),
         hd AS (SELECT h.*, d.grp, d.outcome FROM h JOIN d ON h.deal_id = d.deal_id),
         en AS (SELECT grp, stage, CAST(COUNT(DISTINCT deal_id) AS DOUBLE) AS entered,
                       AVG((date_part('epoch', next_at) - date_part('epoch', entered_at)) / 86400.0) AS avg_days,
                       CAST(COUNT(DISTINCT CASE WHEN outcome = 'won' THEN deal_id END) AS DOUBLE) AS won,
                       CAST(COUNT(DISTINCT CASE WHEN outcome IN ('won', 'lost') THEN deal_id END) AS DOUBLE) AS closed
                FROM hd GROUP BY grp, stage),
         op AS (SELECT grp, stage, CAST(COUNT(*) AS DOUBLE) AS open_deals, COALESCE(SUM(amount), 0) AS open_amount
                FROM d WHERE COALESCE(outcome, 'open') = 'open' AND closed_at IS NULL GROUP BY grp, stage),
         gw AS (SELECT grp, MAX(rep_name) AS rep_name, AVG(CASE WHEN outcome = 'won' THEN 1.0 WHEN outcome = 'lost' THEN 0.0 END) AS win_rate FROM d GROUP BY grp),
         st AS (SELECT grp, stage FROM en UNION SELECT grp, stage FROM op)
         SELECT st.grp AS grp, gw.rep_name AS rep_name, st.stage AS stage, nx.ord AS stage_ord,
                COALESCE(op.open_deals, 0) AS open_deals, COALESCE(op.open_amount, 0) AS open_amount,
                COALESCE(op.open_amount, 0) * (en.won / NULLIF(en.closed, 0)) AS weighted_amount,
                en.won / NULLIF(en.closed, 0) AS win_probability,
                en.entered AS entered,
                CASE WHEN nx.next_ord < 1000000 THEN nen.entered / NULLIF(en.entered, 0) END AS conversion_to_next,
                en.avg_days AS avg_days_in_stage,
                gw.win_rate AS win_rate
         FROM st
         LEFT JOIN nx ON st.stage = nx.stage
         LEFT JOIN en ON st.grp = en.grp AND st.stage = en.stage
         LEFT JOIN en nen ON st.grp = nen.grp AND nx.next_stage = nen.stage
         LEFT JOIN op ON st.grp = op.grp AND st.stage = op.stage
         LEFT JOIN gw ON st.grp = gw.grp"
    );
    let select_groups: String = match group_cols.as_slice() {
        [] => String::new(),
        ["sales_rep_id", "rep_name"] => "grp AS sales_rep_id, rep_name, ".into(),
        [one] => format!("grp AS {one}, "),
        _ => unreachable!("at most two group columns"),
    };
    let outer = format!(
        "SELECT {select_groups}stage, open_deals, open_amount, weighted_amount, win_probability, entered,
                conversion_to_next, avg_days_in_stage, win_rate FROM ({sql})
         ORDER BY grp, stage_ord, stage"
    );
    let df = engine.sql(&outer).await?;
    let schema = std::sync::Arc::new(df.schema().as_arrow().clone());
    let batches = engine.collect(df).await?;
    if let Some(p) = period {
        notes.push(format!("conversion, days in stage and win rate cover deals created {} to {}; open deals are a current snapshot", p.from, p.to));
    }
    Ok(Report {
        name: "pipeline".into(),
        title: match by {
            None => "Sales pipeline".into(),
            Some(PipelineBy::Rep) => "Sales pipeline by rep".into(),
            Some(PipelineBy::Region) => "Sales pipeline by region".into(),
        },
        period: period.cloned(),
        previous: None,
        notes,
        batches,
        schema,
    })
}
