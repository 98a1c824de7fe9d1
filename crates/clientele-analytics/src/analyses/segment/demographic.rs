//! Demographic segments: revenue and behaviour per group of age band, gender, region,
//! country or acquisition channel.

use chrono::NaiveDate;

use super::default_as_of;
use crate::analyses::analysis::Analysis;
use crate::analyses::{Area, Def, Params, Spec, params};
use crate::{AnalyticsError, Engine};

/// Upper age limits (exclusive) and labels of the age bands; older customers are "65+".
const AGE_BANDS: &[(u32, &str)] = &[
    (25, "18-24"),
    (35, "25-34"),
    (45, "35-44"),
    (55, "45-54"),
    (65, "55-64"),
];

/// SQL for the age band at day number `day` of a birth date column: the one definition used
/// by demographic segments and the churn fairness check ("unknown" without a birth date).
pub(crate) fn age_band_sql(birth_date: &str, day: i32) -> String {
    let age = format!("({day} - CAST({birth_date} AS INT)) / 365.25");
    let whens: String = AGE_BANDS
        .iter()
        .map(|(upper, label)| format!(" WHEN {age} < {upper} THEN '{label}'"))
        .collect();
    format!("CASE WHEN {birth_date} IS NULL THEN 'unknown'{whens} ELSE '65+' END")
}

/// The demographic dimensions `segment demographic --by` accepts.
pub const DEMOGRAPHIC_DIMENSIONS: &str = "age_band, gender, region, country, acquisition_channel";

/// Revenue and behaviour per demographic group (any combination of
/// [`DEMOGRAPHIC_DIMENSIONS`]) as of `as_of`.
pub async fn segment_demographic(
    engine: &Engine,
    by: &[String],
    as_of: Option<NaiveDate>,
) -> Result<Analysis, AnalyticsError> {
    if !engine.has_table("customers") {
        return Err(AnalyticsError::MissingData(
            "the workspace has no customers table: demographic groups come from it".into(),
        ));
    }
    let as_of = match as_of {
        Some(d) => d,
        None => default_as_of(engine).await?,
    };
    let s = clientele_schema::date_to_days(as_of);
    let mut a = Analysis::of(&Demographic::DEF, "Demographic segments");
    let mut dims = Vec::new();
    for d in by {
        let d = d.trim().to_ascii_lowercase();
        let expr = match d.as_str() {
            "age_band" | "age" => {
                if !engine.has_column("customers", "birth_date") {
                    a.notes
                        .push("customers have no birth_date: age band is unknown for all".into());
                }
                age_band_sql("c.birth_date", s)
            }
            "gender" | "region" | "country" | "acquisition_channel" => {
                if !engine.has_column("customers", &d) {
                    a.notes
                        .push(format!("customers have no {d}: it is unknown for all"));
                }
                format!("COALESCE(CAST(c.{d} AS VARCHAR), 'unknown')")
            }
            other => {
                return Err(AnalyticsError::parameter(
                    "by",
                    other,
                    format!("expected one or more of {DEMOGRAPHIC_DIMENSIONS}"),
                ));
            }
        };
        let name = if d == "age" { "age_band".into() } else { d };
        dims.push((name, expr));
    }
    if dims.is_empty() {
        return Err(AnalyticsError::parameter(
            "by",
            "(none)",
            format!("expected one or more of {DEMOGRAPHIC_DIMENSIONS}"),
        ));
    }
    // (column in g, join, aggregate): average CLV only once a CLV run is stored.
    let (clv_col, clv_join, clv_avg) = if engine.has_table("scores_clv") {
        (
            ", k.clv",
            "LEFT JOIN scores_clv k ON k.customer_id = c.customer_id",
            ", AVG(clv) AS average_clv",
        )
    } else {
        ("", "", "")
    };
    let group: Vec<String> = dims.iter().map(|(n, e)| format!("{e} AS {n}")).collect();
    let names: Vec<&str> = dims.iter().map(|(n, _)| n.as_str()).collect();
    let sql = format!(
        "WITH b AS (SELECT customer_id, COUNT(*) AS orders, SUM(total_amount) AS revenue,
                           MAX(CAST(order_date AS INT)) AS last_d
                    FROM sales WHERE CAST(order_date AS INT) < {s} GROUP BY customer_id),
         g AS (SELECT {}, c.customer_id, b.orders, b.revenue, b.last_d{}
               FROM customers c LEFT JOIN b ON b.customer_id = c.customer_id {})
         SELECT {}, COUNT(*) AS customers,
                COUNT(*) / CAST(SUM(COUNT(*)) OVER () AS DOUBLE) AS share_of_customers,
                COUNT(orders) AS buyers,
                COALESCE(SUM(revenue), 0) AS revenue,
                COALESCE(SUM(revenue), 0) / NULLIF(SUM(SUM(revenue)) OVER (), 0) AS share_of_revenue,
                COALESCE(SUM(revenue), 0) / COUNT(*) AS revenue_per_customer,
                CAST(SUM(orders) AS DOUBLE) / NULLIF(COUNT(orders), 0) AS orders_per_buyer,
                SUM(revenue) / NULLIF(SUM(orders), 0) AS average_order_value,
                SUM(CASE WHEN last_d >= {s} - 365 THEN 1 ELSE 0 END) / CAST(COUNT(*) AS DOUBLE) AS active_share{}
         FROM g GROUP BY {} ORDER BY revenue DESC, {}",
        group.join(", "),
        clv_col,
        clv_join,
        names.join(", "),
        clv_avg,
        names.join(", "),
        names.join(", "),
    );
    let df = engine.sql(&sql).await?;
    let batches = engine.collect(df).await?;
    let schema = batches
        .first()
        .map(|b| b.schema())
        .unwrap_or_else(|| std::sync::Arc::new(arrow::datatypes::Schema::empty()));
    a.param("by", names.join(","));
    a.param("as_of", as_of);
    a.fact("as_of", as_of.to_string());
    a.fact("by", &names);
    a.tables.push(crate::Report {
        name: "demographic".into(),
        title: format!("Customers by {} as of {as_of}", names.join(" × ")),
        period: None,
        previous: None,
        notes: vec![
            "active share: customers with a sale in the 365 days before the as-of day".into(),
        ],
        batches,
        schema,
    });
    Ok(a)
}

/// A demographic dimension customers can be grouped by.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Deserialize, utoipa::ToSchema,
)]
#[value(rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum DemographicDimension {
    /// Age band from the birth date (under 25, 25-34 ... 65+).
    #[value(alias = "age")]
    #[serde(alias = "age")]
    AgeBand,
    /// Gender as recorded.
    Gender,
    /// Region of the customer.
    Region,
    /// Country of the customer.
    Country,
    /// How the customer was acquired.
    AcquisitionChannel,
}

impl DemographicDimension {
    /// The column name it is reported under.
    pub fn name(self) -> &'static str {
        match self {
            DemographicDimension::AgeBand => "age_band",
            DemographicDimension::Gender => "gender",
            DemographicDimension::Region => "region",
            DemographicDimension::Country => "country",
            DemographicDimension::AcquisitionChannel => "acquisition_channel",
        }
    }
}

/// Parameters of the demographic segmentation.
#[derive(Debug, Clone, Default, clap::Args, serde::Deserialize, utoipa::IntoParams)]
#[serde(default)]
#[into_params(parameter_in = Query)]
pub struct DemographicOptions {
    /// Day the customers are judged on (YYYY-MM-DD); only earlier sales count.
    /// Default: the day after the last sale.
    #[arg(long, value_parser = params::day)]
    #[serde(deserialize_with = "params::de_opt_day")]
    #[param(value_type = Option<String>, format = Date)]
    pub as_of: Option<NaiveDate>,
    /// Dimensions to group by, comma-separated. Default: region.
    #[arg(long, value_delimiter = ',', value_parser = params::choice::<DemographicDimension>())]
    #[serde(deserialize_with = "params::de_choice_list")]
    #[param(value_type = Option<String>)]
    pub by: Vec<DemographicDimension>,
}

impl Params for DemographicOptions {
    fn check(&self) -> Result<(), AnalyticsError> {
        Ok(())
    }
}

/// `clientele segment demographic`, `GET /api/v1/segments/demographic`.
pub struct Demographic;

impl Spec for Demographic {
    type Params = DemographicOptions;
    const DEF: Def = Def {
        name: "demographic",
        command: &["segment", "demographic"],
        aliases: &[],
        path: "/segments/demographic",
        about: "Demographic segments: revenue and behaviour per age band, gender, region, country or acquisition channel.",
        long_about: "Groups customers by the dimensions given (default region) and reports customers, \
                     revenue, orders and, when a CLV run is stored, average CLV per group.",
        area: Area::Segments,
        stores: None,
        progress: "segmenting customers (demographic)",
    };
    async fn run(engine: &Engine, p: &DemographicOptions) -> Result<Analysis, AnalyticsError> {
        let by: Vec<String> = if p.by.is_empty() {
            vec![DemographicDimension::Region.name().to_string()]
        } else {
            p.by.iter().map(|d| d.name().to_string()).collect()
        };
        segment_demographic(engine, &by, p.as_of).await
    }
}
