//! RFM segmentation: quintile scores of recency, frequency and monetary value, and the named
//! segments they make (definitions in docs/analyses.md).

use chrono::NaiveDate;
use clientele_models::rfm;

use super::{SegmentTally, base_features, default_as_of, stored_clv};
use crate::analyses::analysis::{Analysis, report};
use crate::analyses::features::customer_features;
use crate::analyses::{Area, Def, Params, Spec, params};
use crate::util::Columns;
use crate::{AnalyticsError, Engine};

/// RFM scores (quintiles 1–5) and named segments as of `as_of`.
pub async fn segment_rfm(
    engine: &Engine,
    as_of: Option<NaiveDate>,
) -> Result<Analysis, AnalyticsError> {
    let as_of = match as_of {
        Some(d) => d,
        None => default_as_of(engine).await?,
    };
    let f = customer_features(engine, as_of, base_features()).await?;
    if f.ids.is_empty() {
        return Err(AnalyticsError::MissingData(format!(
            "no customer bought before {as_of}: there is nothing to score"
        )));
    }
    let recency = f.values("recency_days", 0.0);
    let frequency = f.values("frequency", 0.0);
    let monetary = f.values("monetary", 0.0);
    let scores = rfm::rfm_scores(&recency, &frequency, &monetary);
    let clv = stored_clv(engine).await?;
    let mut tally = SegmentTally::new(
        rfm::RfmSegment::ALL
            .iter()
            .map(|s| s.name().to_string())
            .collect(),
    );
    let mut seg_names = Vec::with_capacity(f.ids.len());
    for (i, s) in scores.iter().enumerate() {
        let seg = rfm::segment(*s);
        let idx = rfm::RfmSegment::ALL
            .iter()
            .position(|x| *x == seg)
            .expect("listed");
        tally.add(
            idx,
            monetary[i],
            frequency[i],
            clv.as_ref().and_then(|m| m.get(&f.ids[i]).copied()),
        );
        seg_names.push(Some(seg.name().to_string()));
    }
    let mut a = Analysis::of(&Rfm::DEF, &format!("RFM segments as of {as_of}"));
    a.param("as_of", as_of);
    let descriptions: Vec<Option<String>> = rfm::RfmSegment::ALL
        .iter()
        .enumerate()
        .filter(|(i, _)| tally.customers[*i] > 0.0)
        .map(|(_, s)| Some(s.description().to_string()))
        .collect();
    a.table(
        "segments",
        &format!("RFM segments as of {as_of}"),
        tally
            .columns("segment", clv.is_some())
            .text("description", descriptions)
            .batch(),
    );
    a.fact("as_of", as_of.to_string());
    a.fact("customers", f.ids.len());
    if clv.is_none() {
        a.notes
            .push("run `clientele clv` first to see the average CLV of each segment".into());
    }
    let rows = Columns::default()
        .text(
            "customer_id",
            f.ids.iter().map(|s| Some(s.clone())).collect(),
        )
        .num("recency_days", recency.iter().map(|v| Some(*v)).collect())
        .num("frequency", frequency.iter().map(|v| Some(*v)).collect())
        .num("monetary", monetary.iter().map(|v| Some(*v)).collect())
        .num("r_score", scores.iter().map(|s| Some(s.r as f64)).collect())
        .num("f_score", scores.iter().map(|s| Some(s.f as f64)).collect())
        .num("m_score", scores.iter().map(|s| Some(s.m as f64)).collect())
        .text(
            "rfm",
            scores
                .iter()
                .map(|s| Some(format!("{}{}{}", s.r, s.f, s.m)))
                .collect(),
        )
        .text("rfm_segment", seg_names)
        .batch();
    a.rows = Some(report("rfm_customers", "RFM per customer", rows));
    Ok(a)
}

/// Parameters of the RFM segmentation.
#[derive(Debug, Clone, Default, clap::Args, serde::Deserialize, utoipa::IntoParams)]
#[serde(default)]
#[into_params(parameter_in = Query)]
pub struct RfmOptions {
    /// Day the customers are judged on (YYYY-MM-DD); only earlier sales count.
    /// Default: the day after the last sale.
    #[arg(long, value_parser = params::day)]
    #[serde(deserialize_with = "params::de_opt_day")]
    #[param(value_type = Option<String>, format = Date)]
    pub as_of: Option<NaiveDate>,
}

impl Params for RfmOptions {
    fn check(&self) -> Result<(), AnalyticsError> {
        Ok(())
    }
}

/// `clientele segment rfm`, `GET /api/v1/segments/rfm`.
pub struct Rfm;

impl Spec for Rfm {
    type Params = RfmOptions;
    const DEF: Def = Def {
        name: "rfm",
        command: &["segment", "rfm"],
        aliases: &[],
        path: "/segments/rfm",
        about: "RFM segments: recency, frequency and monetary quintile scores and named segments.",
        long_about: "Scores every customer 1-5 on recency, frequency and monetary value (quintiles) \
                     and names the segment (Champions, Loyal, At Risk ...); stores rfm_segment and \
                     the scores (table scores_rfm).",
        area: Area::Segments,
        stores: Some("scores_rfm"),
        progress: "segmenting customers (rfm)",
    };
    async fn run(engine: &Engine, p: &RfmOptions) -> Result<Analysis, AnalyticsError> {
        segment_rfm(engine, p.as_of).await
    }
}
