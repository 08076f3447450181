//! The bundle under `/pkg` (WASM, JS, CSS), served as a production site
//! serves it: the brotli or gzip file the build made beside each one, by
//! the client's `Accept-Encoding`, and cached for a year where the name
//! carries the content's hash, so a returning visitor downloads nothing.

use std::path::{Path, PathBuf};

use axum::{
    http::{header, HeaderValue, StatusCode},
    middleware,
    response::Response,
    Router,
};
use tower_http::services::ServeDir;

/// Where cargo-leptos lists the hashes it put in the bundle's file names
/// (`hash-files`): beside the server binary, where leptos looks for it.
pub fn hash_file() -> Option<PathBuf> {
    let path = std::env::current_exe().ok()?.parent()?.join("hash.txt");
    path.is_file().then_some(path)
}

/// How long a browser may keep a file of the bundle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Naming {
    /// Names change with contents: keep them forever.
    Hashed,
    /// Names stay (a development build): ask every time.
    Plain,
}

const FOREVER: &str = "public, max-age=31536000, immutable";
const REVALIDATE: &str = "no-cache";

/// `/pkg/…` from `site_root/pkg`, precompressed variants preferred.
pub fn router<S>(site_root: &Path, naming: Naming) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    let files = ServeDir::new(site_root.join("pkg"))
        .precompressed_br()
        .precompressed_gzip();
    Router::new()
        .nest_service("/pkg", files)
        .layer(middleware::map_response(
            move |response: Response| async move { caching(response, naming) },
        ))
}

fn caching(mut response: Response, naming: Naming) -> Response {
    let status = response.status();
    let found = status.is_success() || status == StatusCode::NOT_MODIFIED;
    let policy = match (found, naming) {
        (true, Naming::Hashed) => FOREVER,
        (true, Naming::Plain) => REVALIDATE,
        // A missing file may appear with the next deployment.
        (false, _) => "no-store",
    };
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(policy));
    // The same URL is brotli for one client and gzip for another: shared
    // caches must key on the encoding asked for.
    headers.append(header::VARY, HeaderValue::from_static("accept-encoding"));
    response
}

#[cfg(test)]
mod tests {
    use axum::{body::Body, http::Request};
    use tower::ServiceExt;

    use super::*;

    fn site() -> tempfile::TempDir {
        let site = tempfile::tempdir().unwrap();
        let pkg = site.path().join("pkg");
        std::fs::create_dir(&pkg).unwrap();
        std::fs::write(pkg.join("app.abc.wasm"), b"plain").unwrap();
        std::fs::write(pkg.join("app.abc.wasm.br"), b"brotli").unwrap();
        std::fs::write(pkg.join("app.abc.wasm.gz"), b"gzip").unwrap();
        site
    }

    async fn get(site: &Path, naming: Naming, path: &str, accept: &str) -> Response {
        let request = Request::get(path)
            .header(header::ACCEPT_ENCODING, accept)
            .body(Body::empty())
            .unwrap();
        router::<()>(site, naming).oneshot(request).await.unwrap()
    }

    fn header_of(response: &Response, name: header::HeaderName) -> &str {
        response
            .headers()
            .get(name)
            .map_or("", |v| v.to_str().unwrap())
    }

    #[tokio::test]
    async fn each_client_gets_the_best_encoding_it_accepts() {
        let site = site();
        for (accept, encoding) in [("gzip, deflate, br", "br"), ("gzip", "gzip"), ("", "")] {
            let response = get(site.path(), Naming::Hashed, "/pkg/app.abc.wasm", accept).await;
            assert_eq!(response.status(), 200);
            assert_eq!(
                header_of(&response, header::CONTENT_ENCODING),
                encoding,
                "{accept}"
            );
            assert_eq!(header_of(&response, header::VARY), "accept-encoding");
        }
    }

    #[tokio::test]
    async fn hashed_files_are_kept_a_year_and_missing_ones_never() {
        let site = site();
        let found = get(site.path(), Naming::Hashed, "/pkg/app.abc.wasm", "br").await;
        let plain = get(site.path(), Naming::Plain, "/pkg/app.abc.wasm", "br").await;
        let missing = get(site.path(), Naming::Hashed, "/pkg/app.xyz.wasm", "br").await;

        assert_eq!(
            header_of(&found, header::CACHE_CONTROL),
            "public, max-age=31536000, immutable"
        );
        assert_eq!(header_of(&plain, header::CACHE_CONTROL), "no-cache");
        assert_eq!(missing.status(), 404);
        assert_eq!(header_of(&missing, header::CACHE_CONTROL), "no-store");
    }
}
