//! The dashboard: static pages, script and styles embedded in the binary (no CDN: it works
//! offline), talking to the JSON API with the session cookie. The pages hold no data; every
//! number comes from the API, so the API's access rules are the dashboard's.

use std::sync::Arc;

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::state::AppState;

#[derive(rust_embed::Embed)]
#[folder = "assets/"]
struct Assets;

fn asset(path: &str) -> Response {
    match Assets::get(path) {
        Some(file) => {
            let mime = match path.rsplit('.').next() {
                Some("html") => "text/html; charset=utf-8",
                Some("js") => "text/javascript; charset=utf-8",
                Some("css") => "text/css; charset=utf-8",
                Some("svg") => "image/svg+xml",
                Some("md") => "text/plain; charset=utf-8",
                _ => "application/octet-stream",
            };
            let mut res = file.data.into_owned().into_response();
            let headers = res.headers_mut();
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            headers.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(
                    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'",
                ),
            );
            headers.insert(
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            );
            res
        }
        None => (StatusCode::NOT_FOUND, "not found").into_response(),
    }
}

/// `/` (the dashboard), `/login`, `/assets/…`.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/", get(|| async { asset("index.html") }))
        .route("/login", get(|| async { asset("login.html") }))
        .route(
            "/assets/{*path}",
            get(|Path(path): Path<String>| async move {
                // A 400 of its own, so that a test can tell this guard from a missing file.
                if path.contains("..") || path.contains('\\') {
                    return (
                        StatusCode::BAD_REQUEST,
                        "an asset path may not contain '..'",
                    )
                        .into_response();
                }
                asset(&path)
            }),
        )
}
