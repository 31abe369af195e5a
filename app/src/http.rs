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

/// Send a sign-in as this browser (`device_id`: the device it was before, if any, so the
/// server keeps one device and its key). The account, and the raw body for what else it
/// says (the device policy).
pub async fn sign_in(
    username: &str,
    password: &str,
    device_id: Option<&str>,
) -> Result<(fieldbook_case::account::Account, String), fieldbook_case::account::SignInProblem> {
    use fieldbook_case::account::{self, SignInProblem};
    let agent = web_sys::window()
        .and_then(|w| w.navigator().user_agent().ok())
        .unwrap_or_default();
    let body = account::sign_in_body(username, password, &account::device_name(&agent), device_id);
    let answer = call("POST", "/api/session", Some(&body))
        .await
        .map_err(|_| SignInProblem::Unreachable)?;
    let new = account::sign_in_answer(answer.status, answer.retry_after.as_deref(), &answer.body)?;
    Ok((new, answer.body))
}
