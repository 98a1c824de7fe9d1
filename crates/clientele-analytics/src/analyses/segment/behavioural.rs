//! Behavioural segments: k-means on standardised RFM, tenure, basket, category mix and
//! engagement features, with k chosen by silhouette unless given.

use chrono::NaiveDate;
use clientele_models::cluster;

use super::default_as_of;
use crate::analyses::analysis::{Analysis, report};
use crate::analyses::features::{CustomerFeatures, FeatureSet, customer_features};
use crate::analyses::{Area, Def, Params, Spec, params};
use crate::util::Columns;
use crate::{AnalyticsError, Engine};

/// The range of cluster counts a user may ask for.
pub const K_RANGE: std::ops::RangeInclusive<usize> = 2..=50;

/// Options of the behavioural segmentation.
#[derive(Debug, Clone, clap::Args, serde::Deserialize, utoipa::IntoParams)]
#[serde(default)]
#[into_params(parameter_in = Query)]
pub struct BehaviouralOptions {
    /// Day the customers are judged on (YYYY-MM-DD); only earlier sales count.
    /// Default: the day after the last sale.
    #[arg(long, value_parser = params::day)]
    #[serde(deserialize_with = "params::de_opt_day")]
    #[param(value_type = Option<String>, format = Date)]
    pub as_of: Option<NaiveDate>,
    /// Number of clusters, 2 to 50. Default: chosen by silhouette among 2..8.
    #[arg(long)]
    pub k: Option<usize>,
    /// Seed of the k-means initialisation.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
}

impl Default for BehaviouralOptions {
    fn default() -> Self {
        BehaviouralOptions {
            as_of: None,
            k: None,
            seed: 42,
        }
    }
}

impl Params for BehaviouralOptions {
    fn check(&self) -> Result<(), AnalyticsError> {
        if let Some(k) = self.k {
            params::in_range(
                "k",
                k,
                *K_RANGE.start(),
                *K_RANGE.end(),
                "a number of clusters",
            )?;
        }
        Ok(())
    }
}

/// `clientele segment behavioral`, `GET /api/v1/segments/behavioral`.
pub struct Behavioural;

impl Spec for Behavioural {
    type Params = BehaviouralOptions;
    const DEF: Def = Def {
        name: "clusters",
        command: &["segment", "behavioral"],
        aliases: &["behavioural"],
        path: "/segments/behavioral",
        about: "Behavioural segments: k-means clusters of RFM, tenure, basket, category mix and engagement.",
        long_about: "Standardises the customers' behaviour features, clusters them with k-means (k \
                     chosen by silhouette unless given) and profiles each cluster; stores each \
                     customer's cluster (table scores_clusters).",
        area: Area::Segments,
        stores: Some("scores_clusters"),
        progress: "segmenting customers (behavioral)",
    };
    async fn run(engine: &Engine, p: &BehaviouralOptions) -> Result<Analysis, AnalyticsError> {
        segment_behavioural(engine, p).await
    }
}

/// Features used for clustering, by key, when the workspace has them: money and counts enter
/// as log(1 + x) so that a few big spenders do not make their own clusters.
const CLUSTER_FEATURES: &[(&str, bool)] = &[
    ("recency_days", true),
    ("frequency", true),
    ("monetary", true),
    ("tenure_days", true),
    ("average_order_value", true),
    ("web_sessions_90d", true),
    ("email_opens_180d", true),
    ("clicks_180d", true),
    ("tickets_last_year", true),
];

/// The features clustered on, as (key, label, log-transformed): [`CLUSTER_FEATURES`] the
/// workspace has, then every category's share of spend.
fn cluster_features(f: &CustomerFeatures) -> Vec<(String, String, bool)> {
    let mut used = Vec::new();
    for (key, log) in CLUSTER_FEATURES {
        if let Some(feat) = f.features.iter().find(|x| x.key == *key) {
            used.push((feat.key.clone(), feat.label.clone(), *log));
        }
    }
    for feat in f.features.iter().filter(|x| x.key.starts_with("share_")) {
        used.push((feat.key.clone(), feat.label.clone(), false));
    }
    used
}

/// Behavioural clusters: k-means on standardised RFM, tenure, basket, category mix and
/// engagement features.
pub async fn segment_behavioural(
    engine: &Engine,
    options: &BehaviouralOptions,
) -> Result<Analysis, AnalyticsError> {
    let as_of = match options.as_of {
        Some(d) => d,
        None => default_as_of(engine).await?,
    };
    let f = customer_features(
        engine,
        as_of,
        FeatureSet {
            category_mix: true,
            ..Default::default()
        },
    )
    .await?;
    let min_rows = options.k.unwrap_or(8) * 5;
    if f.ids.len() < min_rows.max(20) {
        return Err(AnalyticsError::MissingData(format!(
            "only {} customers bought before {as_of}: too few to cluster (at least {} needed)",
            f.ids.len(),
            min_rows.max(20)
        )));
    }
    let used = cluster_features(&f);
    let n = f.ids.len();
    let raw = ndarray::Array2::from_shape_fn((n, used.len()), |(i, j)| {
        f.column(&used[j].0).and_then(|c| c[i]).unwrap_or(0.0)
    });
    let transformed = ndarray::Array2::from_shape_fn((n, used.len()), |(i, j)| {
        let v = raw[[i, j]];
        if used[j].2 { v.max(0.0).ln_1p() } else { v }
    });
    let (mut z, _, _) = cluster::standardize(&transformed);
    // The category shares are one question (what do they buy?) asked in several columns:
    // scale them so that together they weigh as much as one feature, not one per category.
    let shares: Vec<usize> = (0..used.len())
        .filter(|&j| used[j].0.starts_with("share_"))
        .collect();
    if shares.len() > 1 {
        let w = 1.0 / (shares.len() as f64).sqrt();
        for &j in &shares {
            z.column_mut(j).mapv_inplace(|v| v * w);
        }
    }
    let (clustering, k_scores) = match options.k {
        Some(k) => (
            cluster::kmeans(z.view(), k, options.seed).map_err(AnalyticsError::model("k-means"))?,
            None,
        ),
        None => {
            let choice = cluster::choose_k(z.view(), 2..=8, options.seed)
                .map_err(AnalyticsError::model("k-means"))?;
            (choice.clustering, Some(choice.scores))
        }
    };
    let labels = clustering.labels.clone();
    let k = labels.iter().copied().max().map_or(0, |m| m + 1);
    let names: Vec<&str> = used.iter().map(|u| u.1.as_str()).collect();
    let profiles = cluster::describe(&raw, &labels, &names);
    let monetary = f.values("monetary", 0.0);
    let total_revenue: f64 = monetary.iter().sum();
    let mut revenue = vec![0.0; k];
    for (i, &l) in labels.iter().enumerate() {
        revenue[l] += monetary[i];
    }
    let mut a = Analysis::of(
        &Behavioural::DEF,
        &format!("Behavioural segments as of {as_of}"),
    );
    a.param("as_of", as_of);
    a.param("k", k);
    a.param("seed", options.seed);
    let mut cols = Columns::default()
        .text(
            "cluster",
            profiles
                .iter()
                .map(|p| Some(format!("C{}", p.cluster + 1)))
                .collect(),
        )
        .num(
            "customers",
            profiles.iter().map(|p| Some(p.size as f64)).collect(),
        )
        .num(
            "share_of_customers",
            profiles.iter().map(|p| Some(p.share)).collect(),
        )
        .num(
            "share_of_revenue",
            profiles
                .iter()
                .map(|p| (total_revenue > 0.0).then(|| revenue[p.cluster] / total_revenue))
                .collect(),
        )
        .text(
            "how_it_differs",
            profiles.iter().map(|p| Some(p.summary.clone())).collect(),
        );
    for (j, u) in used.iter().enumerate() {
        cols = cols.num(&u.0, profiles.iter().map(|p| Some(p.means[j])).collect());
    }
    a.table(
        "clusters",
        &format!(
            "{k} behavioural segments (k-means on {} standardised features)",
            used.len()
        ),
        cols.batch(),
    );
    if let Some(scores) = &k_scores {
        a.table(
            "k_selection",
            "Silhouette by number of clusters (highest chosen)",
            Columns::default()
                .num("k", scores.iter().map(|s| Some(s.0 as f64)).collect())
                .num("silhouette", scores.iter().map(|s| Some(s.1)).collect())
                .batch(),
        );
        a.fact(
            "silhouette",
            scores
                .iter()
                .map(|(k, s)| serde_json::json!({"k": k, "silhouette": s}))
                .collect::<Vec<_>>(),
        );
    }
    a.fact("as_of", as_of.to_string());
    a.fact("k", k);
    a.fact(
        "features",
        used.iter().map(|u| u.0.clone()).collect::<Vec<_>>(),
    );
    a.fact("customers", n);
    a.notes.extend(f.notes.iter().cloned());
    a.rows = Some(report(
        "cluster_customers",
        "Behavioural segment per customer",
        Columns::default()
            .text(
                "customer_id",
                f.ids.iter().map(|s| Some(s.clone())).collect(),
            )
            .text(
                "cluster",
                labels.iter().map(|l| Some(format!("C{}", l + 1))).collect(),
            )
            .batch(),
    ));
    Ok(a)
}
