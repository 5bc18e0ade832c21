//! The hosted pages: `GET /login`, `/account`, `/inspect`, `/admin` (static HTML compiled into
//! the binary; their data comes from the JSON APIs), and `GET /`, which sends a person to their
//! account (the account page sends them on to `/login` without a session).
//!
//! Every page comes from one layout: `build.rs` fills `web/layout.html` (the head, the icon,
//! the stylesheet, the site header and nav) with each source of `web/pages/` (its title,
//! script, extra stylesheets, current nav link and `<main>`), at build time, into the
//! documents included here. The rules are in `build/layout.rs`.
//!
//! Every page answer carries:
//! - its own strict `Content-Security-Policy` ([`CSP`]): scripts, styles and connections to
//!   this origin only, no inline script or style, no framing, no `<base>`. The pages are
//!   written for it (no `<script>` without `src`, no `style` attribute, no `on…` handler),
//!   and a test scans them;
//! - `Cache-Control: no-store` (a page is the entry to a session: never kept by a cache);
//! - the CSRF cookie, when the request has none ([`csrf::page_cookie`]): the page's scripts
//!   echo it to the cookie-authenticated `/browser/session*` endpoints.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

use crate::state::AppState;
use crate::web::csrf;

/// The pages' Content-Security-Policy.
pub(crate) const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; \
    frame-ancestors 'none'";

/// `page!("name")`: the document assembled from `web/pages/name.html` by `build.rs`.
macro_rules! page {
    ($name:literal) => {
        include_str!(concat!(env!("OUT_DIR"), "/pages/", $name, ".html"))
    };
}

/// A page: its path and its HTML.
#[derive(Debug)]
pub(crate) struct Page {
    /// Where it is served.
    pub(crate) path: &'static str,
    /// The document.
    pub(crate) html: &'static str,
}

/// The login page (served by `GET /login`, beside the JSON `POST /login`).
pub(crate) const LOGIN: Page = Page {
    path: "/login",
    html: page!("login"),
};
/// The account page.
pub(crate) const ACCOUNT: Page = Page {
    path: "/account",
    html: page!("account"),
};
/// The token inspector.
pub(crate) const INSPECT: Page = Page {
    path: "/inspect",
    html: page!("inspect"),
};
/// The administration page.
pub(crate) const ADMIN: Page = Page {
    path: "/admin",
    html: page!("admin"),
};

/// Every page.
#[cfg(test)]
pub(crate) const PAGES: [&Page; 4] = [&LOGIN, &ACCOUNT, &INSPECT, &ADMIN];

/// The page routes (`POST /login` is the JSON login of [`auth::routes`](crate::auth::routes);
/// the router merges the two).
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route(LOGIN.path, get(login_page))
        .route(ACCOUNT.path, get(account_page))
        .route(INSPECT.path, get(inspect_page))
        .route(ADMIN.path, get(admin_page))
}

/// `GET /`: 303 to the account page.
async fn home() -> Response {
    (
        [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))],
        Redirect::to(ACCOUNT.path),
    )
        .into_response()
}

/// `GET /login`: the hosted login page.
pub(crate) async fn login_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    page(&state, &headers, &LOGIN)
}

async fn account_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    page(&state, &headers, &ACCOUNT)
}

async fn inspect_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    page(&state, &headers, &INSPECT)
}

async fn admin_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    page(&state, &headers, &ADMIN)
}

fn page(state: &AppState, request: &HeaderMap, page: &Page) -> Response {
    let mut response = page.html.into_response(); // text/html; charset=utf-8
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // Pages open no window of another origin: keep others out of this browsing context group.
    headers.insert(
        header::HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    );
    if let Some(cookie) = csrf::page_cookie(state, request) {
        headers.append(header::SET_COOKIE, cookie);
    }
    response
}

#[cfg(test)]
pub(crate) mod tests {
    use std::sync::Arc;

    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use tessera_jwt::{Clock, FixedClock};
    use tower::ServiceExt;

    use super::*;
    use crate::config::Config;
    use crate::keys::{KeyManager, MasterKey, MasterKeyRing, RotationPolicy};
    use crate::metrics::Metrics;
    use crate::web::assets;

    /// The whole application (every route and layer) on an in-memory SQLite database.
    pub(crate) async fn test_app() -> Router {
        let config =
            Config::from_toml_and_env("", [("TESSERA_ISSUER", "http://127.0.0.1:7070")]).unwrap();
        let store = crate::store::connect("sqlite::memory:").await.unwrap();
        let clock: Arc<dyn Clock> = Arc::new(FixedClock::new(1_800_000_000));
        let metrics = Metrics::new();
        let master = MasterKey::from_bytes(&[7u8; 32]).unwrap();
        let keys = Arc::new(KeyManager::new(
            store.clone(),
            clock.clone(),
            Arc::new(MasterKeyRing::new(master, Vec::new())),
            RotationPolicy::from_config(&config),
            metrics.clone(),
        ));
        let state = AppState::new(Arc::new(config), store, clock, keys, metrics);
        crate::app::router(state)
    }

    async fn send(request: Request<Body>) -> axum::response::Response {
        test_app().await.oneshot(request).await.unwrap()
    }

    async fn get(uri: &str) -> axum::response::Response {
        send(Request::get(uri).body(Body::empty()).unwrap()).await
    }

    fn header_str<'a>(
        response: &'a axum::response::Response,
        name: &header::HeaderName,
    ) -> &'a str {
        response
            .headers()
            .get(name)
            .unwrap_or_else(|| panic!("no {name}"))
            .to_str()
            .unwrap()
    }

    async fn text(response: axum::response::Response) -> String {
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    /// The directives of a policy, by name.
    fn directives(policy: &str) -> Vec<(String, Vec<String>)> {
        policy
            .split(';')
            .map(str::trim)
            .filter(|d| !d.is_empty())
            .map(|d| {
                let mut parts = d.split_ascii_whitespace().map(str::to_owned);
                let name = parts.next().unwrap();
                (name, parts.collect())
            })
            .collect()
    }

    #[tokio::test]
    async fn every_page_is_html_with_the_strict_policy_and_no_store() {
        for page in PAGES {
            let response = get(page.path).await;
            assert_eq!(response.status(), StatusCode::OK, "{}", page.path);
            assert_eq!(
                header_str(&response, &header::CONTENT_TYPE),
                "text/html; charset=utf-8"
            );
            assert_eq!(header_str(&response, &header::CACHE_CONTROL), "no-store");
            let csp = header_str(&response, &header::CONTENT_SECURITY_POLICY);
            assert_eq!(csp, CSP, "{}", page.path);
            assert_eq!(
                response
                    .headers()
                    .get_all(header::CONTENT_SECURITY_POLICY)
                    .iter()
                    .count(),
                1,
                "one policy (the global layer's default is not added)"
            );
            let policy = directives(csp);
            let value = |name: &str| {
                policy
                    .iter()
                    .find(|(n, _)| n == name)
                    .map(|(_, v)| v.join(" "))
                    .unwrap_or_else(|| panic!("{name} missing from {csp}"))
            };
            assert_eq!(value("default-src"), "'none'");
            assert_eq!(value("script-src"), "'self'");
            assert_eq!(value("style-src"), "'self'");
            assert_eq!(value("connect-src"), "'self'");
            assert_eq!(value("base-uri"), "'none'");
            assert_eq!(value("frame-ancestors"), "'none'");
            assert_eq!(value("form-action"), "'self'");
            for loose in ["'unsafe-inline'", "'unsafe-eval'", "*", "http:", "https:"] {
                assert!(
                    policy.iter().all(|(_, v)| !v.iter().any(|s| s == loose)),
                    "{loose} in {csp}"
                );
            }
            assert_eq!(text(response).await, page.html);
        }
    }

    #[tokio::test]
    async fn a_page_sets_the_csrf_cookie_only_when_the_request_has_none() {
        for page in PAGES {
            let response = get(page.path).await;
            let cookie = header_str(&response, &header::SET_COOKIE).to_owned();
            let pair = cookie.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            assert_eq!(name, "tessera_csrf", "{}", page.path);
            assert_eq!(value.len(), 43);
            assert!(cookie.contains("SameSite=Strict") && cookie.contains("Path=/"));

            let again = send(
                Request::get(page.path)
                    .header(header::COOKIE, pair)
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
            assert_eq!(again.status(), StatusCode::OK);
            assert!(
                again.headers().get(header::SET_COOKIE).is_none(),
                "{}: the cookie is kept",
                page.path
            );
        }
    }

    #[tokio::test]
    async fn the_root_sends_a_person_to_the_account_page() {
        let response = get("/").await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        assert_eq!(header_str(&response, &header::LOCATION), "/account");
        assert_eq!(header_str(&response, &header::CACHE_CONTROL), "no-store");
    }

    #[tokio::test]
    async fn get_login_is_the_page_and_post_login_is_still_the_json_api() {
        let page = get("/login").await;
        assert_eq!(page.status(), StatusCode::OK);
        assert!(header_str(&page, &header::CONTENT_TYPE).starts_with("text/html"));
        assert!(text(page).await.contains("id=\"login-form\""));

        let api = send(
            Request::post("/login")
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from("{}"))
                .unwrap(),
        )
        .await;
        assert_eq!(api.status(), StatusCode::BAD_REQUEST);
        assert!(header_str(&api, &header::CONTENT_TYPE).starts_with("application/json"));
        let json: serde_json::Value = serde_json::from_str(&text(api).await).unwrap();
        assert!(json["error"].is_string(), "{json}");
    }

    /// The start tags of a document, each as (lower-case name, attributes as lower-case
    /// name and value). Comments are skipped. Enough for our own pages, not a general parser.
    fn start_tags(html: &str) -> Vec<(String, Vec<(String, String)>)> {
        let mut tags = Vec::new();
        let mut rest = html;
        while let Some(open) = rest.find('<') {
            rest = &rest[open + 1..];
            if let Some(comment) = rest.strip_prefix("!--") {
                rest = comment.split_once("-->").map_or("", |(_, after)| after);
                continue;
            }
            let mut chars = rest.char_indices().peekable();
            let mut name = String::new();
            while let Some(&(_, c)) = chars.peek() {
                if c.is_ascii_whitespace() || c == '>' || c == '/' {
                    break;
                }
                name.push(c.to_ascii_lowercase());
                chars.next();
            }
            let mut attributes = Vec::new();
            let mut end = rest.len();
            loop {
                while chars
                    .peek()
                    .is_some_and(|&(_, c)| c.is_ascii_whitespace() || c == '/')
                {
                    chars.next();
                }
                let Some(&(at, c)) = chars.peek() else { break };
                if c == '>' {
                    end = at;
                    break;
                }
                let mut attr = String::new();
                while let Some(&(_, c)) = chars.peek() {
                    if c.is_ascii_whitespace() || c == '=' || c == '>' || c == '/' {
                        break;
                    }
                    attr.push(c.to_ascii_lowercase());
                    chars.next();
                }
                while chars.peek().is_some_and(|&(_, c)| c.is_ascii_whitespace()) {
                    chars.next();
                }
                let mut value = String::new();
                if chars.peek().is_some_and(|&(_, c)| c == '=') {
                    chars.next();
                    while chars.peek().is_some_and(|&(_, c)| c.is_ascii_whitespace()) {
                        chars.next();
                    }
                    match chars.peek().map(|&(_, c)| c) {
                        Some(quote @ ('"' | '\'')) => {
                            chars.next();
                            for (_, c) in chars.by_ref() {
                                if c == quote {
                                    break;
                                }
                                value.push(c);
                            }
                        }
                        _ => {
                            while let Some(&(_, c)) = chars.peek() {
                                if c.is_ascii_whitespace() || c == '>' {
                                    break;
                                }
                                value.push(c);
                                chars.next();
                            }
                        }
                    }
                }
                if attr.is_empty() {
                    // A stray character: skip it rather than loop.
                    chars.next();
                } else {
                    attributes.push((attr, value));
                }
            }
            if !name.is_empty() && !name.starts_with('!') && !name.starts_with('/') {
                tags.push((name, attributes));
            }
            rest = &rest[(end + 1).min(rest.len())..];
        }
        tags
    }

    /// What breaks the policy (or would need it loosened) in a document.
    fn inline_code(html: &str) -> Vec<String> {
        let mut found = Vec::new();
        for (name, attributes) in start_tags(html) {
            let has = |a: &str| attributes.iter().any(|(n, _)| n == a);
            if name == "script" && !has("src") {
                found.push("a <script> without src".to_owned());
            }
            if name == "style" {
                found.push("a <style> element".to_owned());
            }
            for (attr, value) in &attributes {
                if attr == "style" {
                    found.push(format!("a style attribute on <{name}>"));
                }
                if attr.starts_with("on") && attr.len() > 2 {
                    found.push(format!("an event handler {attr} on <{name}>"));
                }
                if value
                    .trim_start()
                    .to_ascii_lowercase()
                    .starts_with("javascript:")
                {
                    found.push(format!("a javascript: URL in {attr} on <{name}>"));
                }
            }
        }
        found
    }

    #[test]
    fn the_scanner_finds_inline_code() {
        for bad in [
            "<script>alert(1)</script>",
            "<SCRIPT type=module>x</SCRIPT>",
            "<div style=\"color:red\">",
            "<p STYLE='x'>",
            "<style>p{}</style>",
            "<button onclick=\"x()\">",
            "<img src=x onerror=alert(1)>",
            "<a\nonmouseover='x'>",
            "<a href=\"javascript:alert(1)\">",
            "<!-- <script src=a></script> --><script>x</script>",
        ] {
            assert!(!inline_code(bad).is_empty(), "{bad}");
        }
        for good in [
            "<script type=\"module\" src=\"/assets/a.js\"></script>",
            "<p class=\"online\" data-on=\"1\">on=</p>",
            "<!-- <script>x</script> -->",
            "<input id=x disabled>",
        ] {
            assert_eq!(inline_code(good), Vec::<String>::new(), "{good}");
        }
    }

    #[test]
    fn no_embedded_page_has_inline_script_style_or_handlers() {
        for page in PAGES {
            assert_eq!(
                inline_code(page.html),
                Vec::<String>::new(),
                "{}",
                page.path
            );
        }
    }

    /// What a page sets in the layout.
    struct Settings {
        page: &'static Page,
        title: &'static str,
        script: &'static str,
        /// Stylesheets beyond style.css.
        extra: &'static [&'static str],
        /// The nav link marked as the current page.
        current: Option<&'static str>,
    }

    const SETTINGS: [Settings; 4] = [
        Settings {
            page: &LOGIN,
            title: "Sign in",
            script: "login.js",
            extra: &[],
            current: None,
        },
        Settings {
            page: &ACCOUNT,
            title: "Your account",
            script: "account.js",
            extra: &[],
            current: Some("/account"),
        },
        Settings {
            page: &INSPECT,
            title: "Token inspector",
            script: "inspect.js",
            extra: &["inspect.css"],
            current: Some("/inspect"),
        },
        Settings {
            page: &ADMIN,
            title: "Administration",
            script: "admin.js",
            extra: &[],
            current: Some("/admin"),
        },
    ];

    #[test]
    fn every_page_sets_its_title_script_stylesheets_and_current_link() {
        for Settings {
            page,
            title,
            script,
            extra,
            current,
        } in SETTINGS
        {
            let tags = start_tags(page.html);
            let attr = |attributes: &[(String, String)], name: &str| {
                attributes
                    .iter()
                    .find(|(n, _)| n == name)
                    .map(|(_, v)| v.clone())
            };
            assert_eq!(page.html.matches("<title>").count(), 1, "{}", page.path);
            assert!(
                page.html
                    .contains(&format!("<title>{title} · tessera</title>")),
                "{}",
                page.path
            );
            let scripts: Vec<_> = tags
                .iter()
                .filter(|(name, _)| name == "script")
                .map(|(_, a)| (attr(a, "type"), attr(a, "src")))
                .collect();
            assert_eq!(
                scripts,
                [(Some("module".to_owned()), Some(format!("/assets/{script}")))],
                "{}: one module, the page's",
                page.path
            );
            let stylesheets: Vec<_> = tags
                .iter()
                .filter(|(name, a)| {
                    name == "link" && attr(a, "rel").as_deref() == Some("stylesheet")
                })
                .filter_map(|(_, a)| attr(a, "href"))
                .collect();
            let mut expected = vec!["/assets/style.css".to_owned()];
            expected.extend(extra.iter().map(|name| format!("/assets/{name}")));
            assert_eq!(stylesheets, expected, "{}", page.path);
            let marked: Vec<_> = tags
                .iter()
                .filter(|(_, a)| attr(a, "aria-current").is_some())
                .map(|(name, a)| (name.clone(), attr(a, "aria-current"), attr(a, "href")))
                .collect();
            let expected: Vec<_> = current
                .map(|path| {
                    (
                        "a".to_owned(),
                        Some("page".to_owned()),
                        Some(path.to_owned()),
                    )
                })
                .into_iter()
                .collect();
            assert_eq!(marked, expected, "{}: the nav's current link", page.path);
        }
    }

    #[test]
    fn every_page_has_the_same_frame_around_its_main() {
        // Take out what a page sets and its <main>: what is left is the layout, the same for all.
        let frame = |page: &Page| -> String {
            let start = page.html.find("  <main").unwrap();
            let end = page.html.find("  </main>\n").unwrap() + "  </main>\n".len();
            let without_main = format!("{}{}", &page.html[..start], &page.html[end..]);
            without_main
                .lines()
                .filter(|line| {
                    !(line.contains("<title>")
                        || line.contains("<script ")
                        || line.contains("href=\"/assets/inspect.css\""))
                })
                .map(|line| line.replace(" aria-current=\"page\"", ""))
                .collect::<Vec<_>>()
                .join("\n")
        };
        let first = frame(&LOGIN);
        assert!(first.contains("<nav class=\"site-nav\" aria-label=\"Main\">"));
        assert!(first.contains("<link rel=\"icon\" href=\"/assets/icon.svg\""));
        for page in PAGES {
            assert_eq!(frame(page), first, "{}", page.path);
            assert!(page.html.starts_with("<!doctype html>\n"), "{}", page.path);
            assert_eq!(page.html.matches("<main").count(), 1, "{}", page.path);
        }
    }

    /// The `/assets/…` names a page refers to (`src` or `href`).
    fn referenced_assets(html: &str) -> Vec<String> {
        start_tags(html)
            .into_iter()
            .flat_map(|(_, attributes)| attributes)
            .filter(|(attr, _)| attr == "src" || attr == "href")
            .filter_map(|(_, value)| value.strip_prefix("/assets/").map(str::to_owned))
            .collect()
    }

    /// The modules a script imports from its own directory (`from './x.js'`, `import('./x.js')`).
    fn imported_modules(js: &str) -> Vec<String> {
        let mut names = Vec::new();
        for quote in ['\'', '"'] {
            let marker = format!("{quote}./");
            let mut rest = js;
            while let Some(at) = rest.find(&marker) {
                rest = &rest[at + marker.len()..];
                if let Some(end) = rest.find(quote) {
                    names.push(rest[..end].to_owned());
                }
            }
        }
        names
    }

    #[test]
    fn every_asset_a_page_or_a_script_refers_to_is_embedded() {
        for page in PAGES {
            for name in referenced_assets(page.html) {
                assert!(
                    assets::lookup(&name).is_some(),
                    "{} refers to /assets/{name}, which is not embedded",
                    page.path
                );
            }
        }
        // Our own pages: the stylesheet, the icon and the page's script.
        for (page, script) in [
            (&LOGIN, "login.js"),
            (&ACCOUNT, "account.js"),
            (&ADMIN, "admin.js"),
        ] {
            let refs = referenced_assets(page.html);
            for expected in ["style.css", "icon.svg", script] {
                assert!(
                    refs.iter().any(|r| r == expected),
                    "{}: {expected}",
                    page.path
                );
            }
        }
        for asset in assets::ASSETS.iter().filter(|a| a.name.ends_with(".js")) {
            let js = std::str::from_utf8(asset.body).unwrap();
            for name in imported_modules(js) {
                assert!(
                    assets::lookup(&name).is_some(),
                    "{} imports ./{name}, which is not embedded",
                    asset.name
                );
            }
        }
        assert_eq!(
            imported_modules("import { a } from './session.js';\nimport(\"./b.js\")"),
            ["session.js", "b.js"]
        );
    }
}
