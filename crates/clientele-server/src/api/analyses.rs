//! The analyses' endpoints, derived from the library's registry: for every declaration in
//! `clientele_analytics::analyses::visit`, a `GET` route at its path whose query parameters
//! are its parameter struct (parsed with serde, documented from the same struct's
//! `IntoParams`), whose role check is its area, and whose answer is `analysis_json` or CSV.
//! Analyses are computed on request and cached per workspace version; they are not stored.

use clientele_analytics::analyses::{self, Params, Spec, Visitor};
use utoipa::openapi::path::{HttpMethod, OperationBuilder, ParameterIn, Paths};
use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};

use super::*;

/// The query parameters every analysis endpoint takes besides its own.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct OutputParams {
    /// json (default) or csv.
    format: Option<String>,
    /// With format=csv: which table (default the first).
    table: Option<String>,
}

/// Adds one route per analysis, and an answer for unknown segmentations.
pub(super) fn routes(router: OpenApiRouter<Arc<AppState>>) -> OpenApiRouter<Arc<AppState>> {
    struct Add(Option<OpenApiRouter<Arc<AppState>>>);
    impl Visitor for Add {
        fn visit<S: Spec>(&mut self) {
            let def = S::DEF;
            let mut router = self.0.take().map(|r| r.routes(route::<S>()));
            // Other spellings answer too, undocumented (`/segments/behavioural`).
            for alias in def.aliases {
                let path = match def.path.rsplit_once('/') {
                    Some((parent, _)) => format!("{parent}/{alias}"),
                    None => continue,
                };
                router = router.map(|r| r.route(&path, axum::routing::get(answer::<S>)));
            }
            self.0 = router;
        }
    }
    let mut add = Add(Some(router));
    analyses::visit(&mut add);
    add.0
        .expect("the router is put back after each analysis")
        .route("/segments/{kind}", axum::routing::get(unknown_segmentation))
}

fn response(description: &str, schema: &str) -> utoipa::openapi::Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name(schema)))
                .build(),
        )
        .build()
}

/// The route and the OpenAPI operation of one analysis.
fn route<S: Spec>() -> utoipa_axum::router::UtoipaMethodRouter<Arc<AppState>> {
    let def = S::DEF;
    let mut parameters = S::Params::into_params(|| Some(ParameterIn::Query));
    parameters.extend(OutputParams::into_params(|| Some(ParameterIn::Query)));
    let operation = OperationBuilder::new()
        .summary(Some(def.about))
        .description(Some(def.long_about))
        .operation_id(Some(def.name))
        .tag("analyses")
        .parameters(Some(parameters))
        .response("200", response("the analysis", "AnalysisBody"))
        .response("400", response("a parameter is wrong", "ErrorBody"))
        .response("401", response("no or unknown credentials", "ErrorBody"))
        .response(
            "403",
            response("the role may not use this area", "ErrorBody"),
        )
        .response(
            "422",
            response(
                "the data cannot answer (a missing table, a model that cannot be fitted)",
                "ErrorBody",
            ),
        )
        .build();
    let mut paths = Paths::new();
    paths.add_path_operation(def.path, vec![HttpMethod::Get], operation);
    (Vec::new(), paths, axum::routing::get(answer::<S>))
}

/// Checks the role and the parameters, then runs (or finds in the cache) the analysis.
async fn answer<S: Spec>(
    State(state): St,
    ctx: Ctx,
    axum::extract::OriginalUri(uri): axum::extract::OriginalUri,
    Q(out): Q<OutputParams>,
    Q(params): Q<S::Params>,
) -> Result<Response, ApiError> {
    let def = S::DEF;
    ctx.require(def.area, &format!("the {} analysis", def.name))?;
    let mut known = param_names::<S::Params>();
    known.extend(param_names::<OutputParams>());
    reject_unknown(&uri, &known)?;
    check_format(&out.format)?;
    // Checked here too, so that a wrong value is answered before the cache and the query
    // runtime are involved.
    params.check()?;
    let key = format!("{}?{params:?}", def.name);
    let analysis = state
        .analysis(def.name, key, move |engine: Arc<Engine>| async move {
            Ok(analyses::run::<S>(&engine, &params).await?)
        })
        .await?;
    analysis_response(&state, &ctx, &analysis, out.table.as_deref()).await
}

/// `/segments/{kind}` for a kind that no analysis declares.
async fn unknown_segmentation(Path(kind): Path<String>) -> ApiError {
    let kinds: Vec<&str> = analyses::defs()
        .iter()
        .filter_map(|d| d.path.strip_prefix("/segments/"))
        .collect();
    ApiError::bad_request(format!(
        "unknown segmentation '{kind}': expected {}",
        kinds.join(", ")
    ))
}
