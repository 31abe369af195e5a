//! The sign-in API (`docs/ACCESS.md`) over the browser's `fetch`, same origin, so the
//! browser sends the `HttpOnly` session cookie and the app never handles it.

use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{Headers, RequestCache, RequestCredentials, RequestInit, Response};

/// What the server answered.
pub struct Answer {
    pub status: u16,
    pub body: String,
    /// The `Retry-After` header, if any (sent with 429).
    pub retry_after: Option<String>,
}

/// The request did not reach the server, or its answer did not arrive (no signal, server
/// down, connection dropped).
#[derive(Debug)]
pub struct Unreachable;

/// Send `method path` with an optional JSON body. Never cached: sign-in answers are about
/// this moment (the server says `no-store` too; the service worker passes `/api/` by).
pub async fn call(method: &str, path: &str, json: Option<&str>) -> Result<Answer, Unreachable> {
    let init = RequestInit::new();
    init.set_method(method);
    init.set_credentials(RequestCredentials::SameOrigin);
    init.set_cache(RequestCache::NoStore);
    if let Some(body) = json {
        let headers = Headers::new().map_err(|_| Unreachable)?;
        headers
            .set("content-type", "application/json")
            .map_err(|_| Unreachable)?;
        init.set_headers(&headers);
        init.set_body(&body.into());
    }
    let window = web_sys::window().ok_or(Unreachable)?;
    // `fetch` rejects only when nothing came back (network error): every HTTP status,
    // errors included, resolves with a response.
    let resp: Response = JsFuture::from(window.fetch_with_str_and_init(path, &init))
        .await
        .map_err(|_| Unreachable)?
        .dyn_into()
        .map_err(|_| Unreachable)?;
    let retry_after = resp.headers().get("retry-after").ok().flatten();
    let body = match resp.text() {
        Ok(p) => JsFuture::from(p)
            .await
            .map_err(|_| Unreachable)?
            .as_string()
            .unwrap_or_default(),
        Err(_) => String::new(),
    };
    Ok(Answer {
        status: resp.status(),
        body,
        retry_after,
    })
}
