//! Lifecycle stages (new, active, loyal, high-value, at-risk, churned) by the rules of
//! `clientele_models::lifecycle`.

use chrono::NaiveDate;
use clientele_models::lifecycle;

use super::{SegmentTally, base_features, default_as_of, stored_clv, stored_column};
use crate::analyses::analysis::{Analysis, report};
use crate::analyses::features::{CustomerFeatures, customer_features};
use crate::analyses::{Area, Def, Params, Spec, params};
use crate::util::Columns;
use crate::{AnalyticsError, Engine};

/// Lifecycle stage of every customer who has bought, with the thresholds given.
pub async fn segment_lifecycle(
    engine: &Engine,
    as_of: Option<NaiveDate>,
    thresholds: &lifecycle::LifecycleThresholds,
) -> Result<Analysis, AnalyticsError> {
    let as_of = match as_of {
        Some(d) => d,
        None => default_as_of(engine).await?,
    };
    let f: CustomerFeatures = customer_features(engine, as_of, base_features()).await?;
    if f.ids.is_empty() {
        return Err(AnalyticsError::MissingData(format!(
            "no customer bought before {as_of}: there is nothing to classify"
        )));
    }
    let tenure = f.values("tenure_days", 0.0);
    let recency = f.values("recency_days", 0.0);
    let frequency = f.values("frequency", 0.0);
    let monetary = f.values("monetary", 0.0);
    let cutoff = lifecycle::high_value_cutoff(&monetary, thresholds.high_value_quantile);
    let clv = stored_clv(engine).await?;
    let p_alive = stored_column(engine, "p_alive").await?;
    let stages: Vec<lifecycle::Stage> = (0..f.ids.len())
        .map(|i| {
            lifecycle::classify_with_p_alive(
                tenure[i],
                recency[i],
                frequency[i] as u32,
                monetary[i],
                cutoff,
                p_alive.as_ref().and_then(|m| m.get(&f.ids[i]).copied()),
                thresholds,
            )
        })
        .collect();
    let all = lifecycle::Stage::ALL;
    let mut tally = SegmentTally::new(all.iter().map(|s| s.name().to_string()).collect());
    for (i, s) in stages.iter().enumerate() {
        let idx = all.iter().position(|x| x == s).expect("listed");
        tally.add(
            idx,
            monetary[i],
            frequency[i],
            clv.as_ref().and_then(|m| m.get(&f.ids[i]).copied()),
        );
    }
    let mut a = Analysis::of(&Lifecycle::DEF, &format!("Lifecycle stages as of {as_of}"));
    a.param("as_of", as_of);
    a.param("new_days", thresholds.new_days);
    a.param("active_days", thresholds.active_days);
    a.param("churned_days", thresholds.churned_days);
    a.param("loyal_orders", thresholds.loyal_orders);
    a.param("high_value_quantile", thresholds.high_value_quantile);
    a.table(
        "stages",
        &format!("Lifecycle stages as of {as_of}"),
        tally.columns("stage", clv.is_some()).batch(),
    );
    a.fact("as_of", as_of.to_string());
    a.fact("customers", f.ids.len());
    a.fact("high_value_cutoff", cutoff);
    if p_alive.is_some() {
        a.param("at_risk_p_alive", thresholds.at_risk_p_alive);
        a.notes.push(format!(
            "P(alive) from the stored CLV run also marks a customer at-risk below {}",
            thresholds.at_risk_p_alive
        ));
    } else {
        a.notes
            .push("run `clientele clv` first to flag at-risk customers by P(alive) too".into());
    }
    a.notes.push(format!(
        "thresholds: new = first purchase within {} days; churned = no purchase for more than {} days; at-risk = none within {} days; loyal = {}+ orders; high-value = total spend ≥ {:.2} (top {:.0} %)",
        thresholds.new_days,
        thresholds.churned_days,
        thresholds.active_days,
        thresholds.loyal_orders,
        cutoff,
        100.0 * (1.0 - thresholds.high_value_quantile)
    ));
    a.rows = Some(report(
        "lifecycle_customers",
        "Lifecycle stage per customer",
        Columns::default()
            .text(
                "customer_id",
                f.ids.iter().map(|s| Some(s.clone())).collect(),
            )
            .text(
                "lifecycle_stage",
                stages.iter().map(|s| Some(s.name().to_string())).collect(),
            )
            .batch(),
    ));
    Ok(a)
}

/// Parameters of the lifecycle stages: the as-of day and the thresholds (defaults from
/// [`lifecycle::LifecycleThresholds`]).
#[derive(Debug, Clone, Default, clap::Args, serde::Deserialize, utoipa::IntoParams)]
#[serde(default)]
#[into_params(parameter_in = Query)]
pub struct LifecycleOptions {
    /// Day the customers are judged on (YYYY-MM-DD); only earlier sales count.
    /// Default: the day after the last sale.
    #[arg(long, value_parser = params::day)]
    #[serde(deserialize_with = "params::de_opt_day")]
    #[param(value_type = Option<String>, format = Date)]
    pub as_of: Option<NaiveDate>,
    /// A first purchase within this many days makes a customer new (default 90).
    #[arg(long)]
    pub new_days: Option<f64>,
    /// No purchase within this many days makes a customer at risk (default 180).
    #[arg(long)]
    pub active_days: Option<f64>,
    /// No purchase for more than this many days makes a customer churned (default 365);
    /// above active_days.
    #[arg(long)]
    pub churned_days: Option<f64>,
    /// Orders that make a customer loyal (default 4).
    #[arg(long)]
    pub loyal_orders: Option<u32>,
    /// Share of customers with the highest spend that are high-value, above 0 and below 1
    /// (default 0.1).
    #[arg(long)]
    pub high_value_share: Option<f64>,
}

impl LifecycleOptions {
    /// The thresholds: the defaults, with what was given.
    pub fn thresholds(&self) -> lifecycle::LifecycleThresholds {
        let mut t = lifecycle::LifecycleThresholds::default();
        if let Some(v) = self.new_days {
            t.new_days = v;
        }
        if let Some(v) = self.active_days {
            t.active_days = v;
        }
        if let Some(v) = self.churned_days {
            t.churned_days = v;
        }
        if let Some(v) = self.loyal_orders {
            t.loyal_orders = v;
        }
        if let Some(v) = self.high_value_share {
            t.high_value_quantile = 1.0 - v;
        }
        t
    }
}

impl Params for LifecycleOptions {
    fn check(&self) -> Result<(), AnalyticsError> {
        let t = self.thresholds();
        for (name, days) in [
            ("new_days", t.new_days),
            ("active_days", t.active_days),
            ("churned_days", t.churned_days),
        ] {
            if !(days > 0.0 && days <= 36_500.0) {
                return Err(AnalyticsError::parameter(
                    name,
                    days,
                    "expected a positive number of days (at most 36500)",
                ));
            }
        }
        if t.churned_days <= t.active_days {
            return Err(AnalyticsError::parameter(
                "churned_days",
                t.churned_days,
                format!(
                    "expected more days than the active threshold ({})",
                    t.active_days
                ),
            ));
        }
        if let Some(v) = self.high_value_share
            && !(v > 0.0 && v < 1.0)
        {
            return Err(AnalyticsError::parameter(
                "high_value_share",
                v,
                "expected a share above 0 and below 1",
            ));
        }
        Ok(())
    }
}

/// `clientele segment lifecycle`, `GET /api/v1/segments/lifecycle`.
pub struct Lifecycle;

impl Spec for Lifecycle {
    type Params = LifecycleOptions;
    const DEF: Def = Def {
        name: "lifecycle",
        command: &["segment", "lifecycle"],
        aliases: &[],
        path: "/segments/lifecycle",
        about: "Lifecycle stages: new, active, loyal, high-value, at-risk and churned customers.",
        long_about: "Classifies every customer who has bought by first and last purchase, orders and \
                     value (and P(alive) when a CLV run is stored); stores lifecycle_stage (table \
                     scores_lifecycle).",
        area: Area::Segments,
        stores: Some("scores_lifecycle"),
        progress: "segmenting customers (lifecycle)",
    };
    async fn run(engine: &Engine, p: &LifecycleOptions) -> Result<Analysis, AnalyticsError> {
        segment_lifecycle(engine, p.as_of, &p.thresholds()).await
    }
}
