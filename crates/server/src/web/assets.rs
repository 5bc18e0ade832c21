//! `GET /assets/{name}`: the pages' scripts, stylesheet and icon, compiled into the binary from
//! `crates/server/web/assets/` (no front-end server, no build step, no CDN).
//!
//! The table below is the whole set: a name not in it is a 404 in the JSON error format, so no
//! path from the request ever reaches the file system. Each answer has its `Content-Type`,
//! `X-Content-Type-Options: nosniff` and a strong `ETag` (SHA-256 of the bytes, computed once);
//! `Cache-Control: no-cache` lets browsers keep a copy but revalidate it on every use, so a new
//! binary's assets are picked up at once and an unchanged asset costs a 304.

use std::sync::LazyLock;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::error::ApiError;
use crate::state::AppState;

/// An embedded file.
#[derive(Debug)]
pub(crate) struct Asset {
    /// Its name under `/assets/`.
    pub(crate) name: &'static str,
    /// Its media type.
    pub(crate) content_type: &'static str,
    /// Its bytes.
    pub(crate) body: &'static [u8],
}

const JAVASCRIPT: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const SVG: &str = "image/svg+xml";

/// `asset!("name", TYPE)`: the file `web/assets/name` of this crate, embedded.
macro_rules! asset {
    ($name:literal, $content_type:expr) => {
        Asset {
            name: $name,
            content_type: $content_type,
            body: include_bytes!(concat!("../../web/assets/", $name)),
        }
    };
}

/// Every asset served. A file added to `web/assets/` must be added here (a test checks).
pub(crate) const ASSETS: &[Asset] = &[
    asset!("style.css", CSS),
    asset!("icon.svg", SVG),
    asset!("session.js", JAVASCRIPT),
    asset!("common.js", JAVASCRIPT),
    asset!("login.js", JAVASCRIPT),
    asset!("account.js", JAVASCRIPT),
    asset!("admin.js", JAVASCRIPT),
    asset!("inspect.css", CSS),
    asset!("inspect.js", JAVASCRIPT),
    asset!("jwt-verify.js", JAVASCRIPT),
];

/// An asset and its entity tag.
struct Served {
    asset: &'static Asset,
    etag: HeaderValue,
}

/// The entity tags, computed on first use.
static SERVED: LazyLock<Vec<Served>> = LazyLock::new(|| {
    ASSETS
        .iter()
        .map(|asset| Served {
            asset,
            etag: etag_of(asset.body),
        })
        .collect()
});

/// A strong entity tag: the SHA-256 of the bytes, base64url, quoted.
fn etag_of(body: &[u8]) -> HeaderValue {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, body);
    let tag = format!("\"{}\"", URL_SAFE_NO_PAD.encode(digest.as_ref()));
    // Quotes and base64url characters only: always a valid header value.
    HeaderValue::from_str(&tag).unwrap_or_else(|_| HeaderValue::from_static("\"\""))
}

/// The asset called `name`, if there is one.
#[cfg(test)]
pub(crate) fn lookup(name: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|asset| asset.name == name)
}

/// The asset routes.
pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/assets/{name}", get(serve))
}

async fn serve(Path(name): Path<String>, headers: HeaderMap) -> Response {
    let Some(served) = SERVED.iter().find(|s| s.asset.name == name) else {
        return ApiError::not_found().into_response();
    };
    let common = [
        (header::ETAG, served.etag.clone()),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
    ];
    if if_none_match(&headers, &served.etag) {
        return (StatusCode::NOT_MODIFIED, common).into_response();
    }
    (
        common,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static(served.asset.content_type),
        )],
        Body::from(Bytes::from_static(served.asset.body)),
    )
        .into_response()
}

/// Whether `If-None-Match` names `etag` or is `*` (weak comparison, RFC 9110 §13.1.2).
fn if_none_match(headers: &HeaderMap, etag: &HeaderValue) -> bool {
    let etag = etag.as_bytes();
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .flat_map(|v| v.as_bytes().split(|&b| b == b','))
        .map(<[u8]>::trim_ascii)
        .any(|tag| tag == b"*" || tag.strip_prefix(b"W/").unwrap_or(tag) == etag)
}

#[cfg(test)]
mod tests {
    use axum::http::Request;
    use tower::ServiceExt;

    use super::*;
    use crate::web::pages::tests::test_app;

    async fn get(uri: &str, if_none_match: Option<&str>) -> Response {
        let mut request = Request::get(uri);
        if let Some(tag) = if_none_match {
            request = request.header(header::IF_NONE_MATCH, tag);
        }
        test_app()
            .await
            .oneshot(request.body(Body::empty()).unwrap())
            .await
            .unwrap()
    }

    async fn body(response: Response) -> Vec<u8> {
        axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap()
            .to_vec()
    }

    fn header(response: &Response, name: header::HeaderName) -> &str {
        response
            .headers()
            .get(&name)
            .unwrap_or_else(|| panic!("no {name}"))
            .to_str()
            .unwrap()
    }

    #[tokio::test]
    async fn every_asset_is_served_with_its_type_a_strong_etag_and_no_cache() {
        for asset in ASSETS {
            let response = get(&format!("/assets/{}", asset.name), None).await;
            assert_eq!(response.status(), StatusCode::OK, "{}", asset.name);
            assert_eq!(header(&response, header::CONTENT_TYPE), asset.content_type);
            assert_eq!(header(&response, header::CACHE_CONTROL), "no-cache");
            assert_eq!(header(&response, header::X_CONTENT_TYPE_OPTIONS), "nosniff");
            let etag = header(&response, header::ETAG).to_owned();
            assert!(
                etag.starts_with('"') && etag.ends_with('"') && etag.len() == 45,
                "a strong, quoted SHA-256 tag: {etag}"
            );
            assert_eq!(body(response).await, asset.body, "{}", asset.name);
            // Computed once: the same on every answer.
            let again = get(&format!("/assets/{}", asset.name), None).await;
            assert_eq!(header(&again, header::ETAG), etag);
        }
    }

    #[test]
    fn etags_are_the_sha256_of_the_bytes() {
        let tag = etag_of(b"abc");
        // SHA-256("abc") = ba7816bf…15ad, base64url.
        assert_eq!(tag, "\"ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0\"");
        let mut tags: Vec<_> = SERVED.iter().map(|s| s.etag.clone()).collect();
        tags.sort_unstable_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        tags.dedup();
        assert_eq!(tags.len(), ASSETS.len(), "different files, different tags");
    }

    #[tokio::test]
    async fn a_matching_if_none_match_is_answered_304_without_a_body() {
        let first = get("/assets/session.js", None).await;
        let etag = header(&first, header::ETAG).to_owned();
        for value in [
            etag.clone(),
            format!("W/{etag}"),
            format!("\"other\", {etag}"),
            "*".to_owned(),
        ] {
            let response = get("/assets/session.js", Some(&value)).await;
            assert_eq!(response.status(), StatusCode::NOT_MODIFIED, "{value}");
            assert_eq!(header(&response, header::ETAG), etag);
            assert_eq!(header(&response, header::CACHE_CONTROL), "no-cache");
            assert!(body(response).await.is_empty());
        }
        for value in ["\"other\"", etag.trim_matches('"'), "W/\"x\""] {
            let response = get("/assets/session.js", Some(value)).await;
            assert_eq!(response.status(), StatusCode::OK, "{value}");
        }
        // Another asset's tag does not match.
        let css = get("/assets/style.css", Some(&etag)).await;
        assert_eq!(css.status(), StatusCode::OK);
    }

    #[tokio::test]
    async fn unknown_names_are_404_json_and_never_reach_the_file_system() {
        for uri in [
            "/assets/nope.js",
            "/assets/%2e%2e%2flogin.html",
            "/assets/..%2F..%2FCargo.toml",
            "/assets/style.css%00",
            "/assets/STYLE.CSS",
            "/assets/",
            "/assets/a/b.js",
            "/assets/login.html",
        ] {
            let response = get(uri, None).await;
            assert_eq!(response.status(), StatusCode::NOT_FOUND, "{uri}");
            assert!(
                header(&response, header::CONTENT_TYPE).starts_with("application/json"),
                "{uri}"
            );
            let json: serde_json::Value = serde_json::from_slice(&body(response).await).unwrap();
            assert_eq!(json["error"], "not_found", "{uri}");
        }
    }

    #[test]
    fn the_table_has_every_file_of_the_assets_directory_once_with_its_type() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("web/assets");
        let mut on_disk: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|name| !name.starts_with('.'))
            .collect();
        on_disk.sort();
        let mut table: Vec<String> = ASSETS.iter().map(|a| a.name.to_owned()).collect();
        table.sort();
        assert_eq!(table, on_disk);
        for asset in ASSETS {
            let expected = match asset.name.rsplit_once('.').map(|(_, ext)| ext) {
                Some("js") => JAVASCRIPT,
                Some("css") => CSS,
                Some("svg") => SVG,
                other => panic!("no media type for {other:?}"),
            };
            assert_eq!(asset.content_type, expected, "{}", asset.name);
            assert!(lookup(asset.name).is_some());
        }
    }
}
