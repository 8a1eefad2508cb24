//! The JSON API under `/api/` (the contract fleet scripts depend on):
//!
//! | call | answer |
//! |---|---|
//! | `POST /api/login` `{"password"}` | 200 `{"csrf_token", "must_change_password"}` + session cookie; 401 wrong password; 429 rate-limited (`Retry-After`) |
//! | `POST /api/logout` | 200, session ended |
//! | `POST /api/password` `{"old", "new"}` | 200; 400 with `reasons`; 403 wrong old password |
//! | `GET /api/status` | `mac`, `identity` (`factory`/`override`), `manufacturer_certificate` (`state` installed/absent, `subject`, `not_after`, `sha256`, …), `registration`, trust, calls … |
//! | `GET /api/certs/trusted` | `{"trusted": [files with certificates and problems], "certs": [files of certs/]}` |
//! | `POST /api/certs/trusted` (multipart `file`, one or more) | `[{"name", "accepted", "reason", "certificates"}]` |
//! | `DELETE /api/certs/trusted/{id}` | 200 `{"deleted"}`; 404 |
//! | `POST /api/certs/sipclient`, `POST /api/certs/httpd` (multipart `file`) | 200 `{"accepted": true, …}`; 400 `{"accepted": false, "reason"}` |
//! | `DELETE /api/certs/sipclient` | the override removed |
//! | `GET /api/certs/device.pem` | the factory device certificate chain (public part) |
//! | `GET /api/settings` | `{key: value}`, secrets as `********` |
//! | `PUT /api/settings` `{key: value}` | 200 `{"changes", "warnings", "restart"}` (masked diff); 400 `{"error", "reasons"}` |
//! | `POST /api/provision`, `POST /api/restart`, `POST /api/factory-reset` | the outcome |
//!
//! Every call but login needs the session cookie; every change also the
//! `X-CSRF-Token` header. Until the default password is changed, everything
//! but login and password change answers 403 "change the default password".

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::multipart::MultipartRejection;
use axum::extract::{ConnectInfo, Multipart, Path, State};
use axum::http::{header, HeaderMap, HeaderValue, Response, StatusCode};
use axum::routing::{delete, get, post};
use axum::Router;
use serde_json::{json, Value};

use crate::files::{IdentityFile, Upload, MAX_FILE};
use crate::state::{AppState, Failure};
use crate::{CSRF_HEADER, SESSION_COOKIE};

type Shared = State<Arc<AppState>>;

/// Most files in one upload request.
const MAX_UPLOADS: usize = 32;

pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/login", post(login))
        .route("/api/logout", post(logout))
        .route("/api/password", post(password))
        .route("/api/status", get(status))
        .route("/api/certs/trusted", get(trusted_list).post(trusted_upload))
        .route("/api/certs/trusted/{id}", delete(trusted_delete))
        .route(
            "/api/certs/sipclient",
            post(sipclient_upload).delete(sipclient_delete),
        )
        .route("/api/certs/httpd", post(httpd_upload))
        .route("/api/certs/device.pem", get(device_pem))
        .route("/api/settings", get(settings_get).put(settings_put))
        .route("/api/provision", post(provision))
        .route("/api/restart", post(restart))
        .route("/api/factory-reset", post(factory_reset))
}

/// Runs blocking work (files, the device) off the event loop.
pub(crate) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, Failure> {
    tokio::task::spawn_blocking(work).await.map_err(|e| {
        Failure::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("internal error: {e}"),
        )
    })
}

pub(crate) fn json_response(status: StatusCode, value: &Value) -> Response<Body> {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(value.to_string()))
        .unwrap_or_else(|_| Response::new(Body::empty()))
}

pub(crate) fn failure(f: &Failure) -> Response<Body> {
    let mut value = json!({ "error": f.error });
    if !f.reasons.is_empty() {
        value["reasons"] = json!(f.reasons);
    }
    let mut response = json_response(f.status, &value);
    if f.status == StatusCode::TOO_MANY_REQUESTS {
        if let Some(secs) = f
            .reasons
            .iter()
            .find_map(|r| r.strip_prefix("retry_after="))
        {
            if let Ok(v) = HeaderValue::from_str(secs) {
                response.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
    }
    response
}

fn ok(value: Value) -> Response<Body> {
    json_response(StatusCode::OK, &value)
}

fn done(result: Result<Result<Value, Failure>, Failure>) -> Response<Body> {
    match result {
        Ok(Ok(value)) => ok(value),
        Ok(Err(f)) | Err(f) => failure(&f),
    }
}

/// 413 for a body larger than the limit.
pub(crate) fn too_large() -> Response<Body> {
    crate::server::status_json(
        StatusCode::PAYLOAD_TOO_LARGE,
        &format!(
            "the request is larger than {} bytes; upload files of at most {MAX_FILE} bytes each",
            crate::MAX_BODY
        ),
    )
}

fn csrf_header(headers: &HeaderMap) -> &str {
    headers
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

/// The `Set-Cookie` value of a new session.
pub(crate) fn session_cookie(id: &str) -> String {
    format!("{SESSION_COOKIE}={id}; Path=/; Secure; HttpOnly; SameSite=Strict")
}

/// The `Set-Cookie` value that ends the session in the browser.
pub(crate) fn clear_cookie() -> String {
    format!("{SESSION_COOKIE}=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0")
}

fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8], expected: &str) -> Result<T, Failure> {
    serde_json::from_slice(body).map_err(|e| {
        Failure::new(
            StatusCode::BAD_REQUEST,
            format!("expected JSON {expected}: {e}"),
        )
    })
}

#[derive(serde::Deserialize)]
struct LoginBody {
    password: String,
}

async fn login(
    State(state): Shared,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response<Body> {
    if let Err(d) = state.same_origin(&headers) {
        return failure(&d.into());
    }
    let parsed: LoginBody = match parse_json(&body, "{\"password\": \"…\"}") {
        Ok(b) => b,
        Err(f) => return failure(&f),
    };
    let password = zeroize::Zeroizing::new(parsed.password);
    let result = blocking(move || state.login(peer.ip(), &password)).await;
    match result {
        Ok(Ok((id, csrf, must_change))) => {
            let mut response = ok(json!({
                "csrf_token": csrf,
                "must_change_password": must_change,
            }));
            if let Ok(v) = HeaderValue::from_str(&session_cookie(&id)) {
                response.headers_mut().insert(header::SET_COOKIE, v);
            }
            response
        }
        Ok(Err(f)) | Err(f) => failure(&f),
    }
}

async fn logout(State(state): Shared, headers: HeaderMap) -> Response<Body> {
    if let Some(ctx) = state.session(&headers) {
        if !crate::auth::same_token(csrf_header(&headers), &ctx.session.csrf) {
            return failure(&crate::state::Denied::Csrf.into());
        }
    }
    state.logout(&headers);
    let mut response = ok(json!({"logged_out": true}));
    if let Ok(v) = HeaderValue::from_str(&clear_cookie()) {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    response
}

#[derive(serde::Deserialize)]
struct PasswordBody {
    old: String,
    new: String,
}

async fn password(
    State(state): Shared,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response<Body> {
    let ctx = match state.authorize_password_change(&headers, csrf_header(&headers)) {
        Ok(ctx) => ctx,
        Err(d) => return failure(&d.into()),
    };
    let parsed: PasswordBody = match parse_json(&body, "{\"old\": \"…\", \"new\": \"…\"}") {
        Ok(b) => b,
        Err(f) => return failure(&f),
    };
    let old = zeroize::Zeroizing::new(parsed.old);
    let new = zeroize::Zeroizing::new(parsed.new);
    done(
        blocking(move || {
            state
                .change_password(&ctx, peer.ip(), &old, &new)
                .map(|()| json!({"changed": true}))
        })
        .await,
    )
}

async fn status(State(state): Shared, headers: HeaderMap) -> Response<Body> {
    if let Err(d) = state.authorize(&headers, None) {
        return failure(&d.into());
    }
    done(blocking(move || Ok(state.status())).await)
}

async fn trusted_list(State(state): Shared, headers: HeaderMap) -> Response<Body> {
    if let Err(d) = state.authorize(&headers, None) {
        return failure(&d.into());
    }
    done(blocking(move || Ok(state.certificates())).await)
}

/// What a multipart body carried: the files (field `file`, or any field
/// with a file name) and the other fields.
pub(crate) struct Parts {
    pub(crate) uploads: Vec<Upload>,
    pub(crate) fields: Vec<(String, String)>,
}

/// Reads a multipart body: each file capped at [`MAX_FILE`] (a larger one
/// is kept as "too large", its bytes dropped), at most [`MAX_UPLOADS`]
/// files, the whole body capped by the router's limit.
pub(crate) async fn read_parts(
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Parts, Failure> {
    let mut multipart = multipart.map_err(|e| {
        Failure::new(
            StatusCode::BAD_REQUEST,
            format!("expected a multipart/form-data upload with the field \"file\": {e}"),
        )
    })?;
    let mut parts = Parts {
        uploads: Vec::new(),
        fields: Vec::new(),
    };
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => return Err(multipart_failure(e)),
        };
        let name = field.name().unwrap_or_default().to_owned();
        let file_name = field.file_name().map(str::to_owned);
        if file_name.is_some() || name == "file" {
            if parts.uploads.len() >= MAX_UPLOADS {
                return Err(Failure::new(
                    StatusCode::BAD_REQUEST,
                    format!("at most {MAX_UPLOADS} files per upload"),
                ));
            }
            let mut field = field;
            let mut bytes = Vec::new();
            let mut too_large = false;
            loop {
                match field.chunk().await {
                    Ok(Some(chunk)) => {
                        if !too_large && bytes.len() + chunk.len() > MAX_FILE {
                            too_large = true;
                            bytes = Vec::new();
                        }
                        if !too_large {
                            bytes.extend_from_slice(&chunk);
                        }
                    }
                    Ok(None) => break,
                    Err(e) => return Err(multipart_failure(e)),
                }
            }
            // An empty file input (nothing chosen) sends a part with an empty name and no bytes.
            if file_name.as_deref() == Some("") && bytes.is_empty() {
                continue;
            }
            parts.uploads.push(Upload {
                name: file_name.unwrap_or_default(),
                bytes: (!too_large).then_some(bytes),
            });
        } else {
            let mut field = field;
            let mut value = Vec::new();
            loop {
                match field.chunk().await {
                    Ok(Some(chunk)) => {
                        if value.len() + chunk.len() > crate::form::MAX_VALUE {
                            return Err(Failure::new(
                                StatusCode::BAD_REQUEST,
                                "a form field is too long",
                            ));
                        }
                        value.extend_from_slice(&chunk);
                    }
                    Ok(None) => break,
                    Err(e) => return Err(multipart_failure(e)),
                }
            }
            if parts.fields.len() >= crate::form::MAX_FIELDS {
                return Err(Failure::new(
                    StatusCode::BAD_REQUEST,
                    "too many form fields",
                ));
            }
            parts
                .fields
                .push((name, String::from_utf8_lossy(&value).into_owned()));
        }
    }
    Ok(parts)
}

fn multipart_failure(e: axum::extract::multipart::MultipartError) -> Failure {
    let status = e.status();
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        Failure::new(
            status,
            format!(
                "the request is larger than {} bytes; nothing was installed",
                crate::MAX_BODY
            ),
        )
    } else {
        Failure::new(
            StatusCode::BAD_REQUEST,
            format!("bad multipart upload: {}", e.body_text()),
        )
    }
}

async fn trusted_upload(
    State(state): Shared,
    headers: HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
) -> Response<Body> {
    if let Err(d) = state.authorize(&headers, Some(csrf_header(&headers))) {
        return failure(&d.into());
    }
    let parts = match read_parts(multipart).await {
        Ok(p) => p,
        Err(f) => return failure(&f),
    };
    if parts.uploads.is_empty() {
        return failure(&Failure::new(
            StatusCode::BAD_REQUEST,
            "no file: send one or more files in the multipart field \"file\"",
        ));
    }
    match blocking(move || state.upload_trusted(&parts.uploads)).await {
        Ok(results) => ok(json!(results)),
        Err(f) => failure(&f),
    }
}

async fn trusted_delete(
    State(state): Shared,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response<Body> {
    if let Err(d) = state.authorize(&headers, Some(csrf_header(&headers))) {
        return failure(&d.into());
    }
    done(
        blocking(move || {
            state
                .delete_trusted(&id)
                .map(|name| json!({"deleted": name}))
        })
        .await,
    )
}

async fn identity_upload(
    state: Arc<AppState>,
    headers: HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
    which: IdentityFile,
) -> Response<Body> {
    if let Err(d) = state.authorize(&headers, Some(csrf_header(&headers))) {
        return failure(&d.into());
    }
    let parts = match read_parts(multipart).await {
        Ok(p) => p,
        Err(f) => return failure(&f),
    };
    let mut uploads = parts.uploads;
    if uploads.len() != 1 {
        return failure(&Failure::new(
            StatusCode::BAD_REQUEST,
            "send exactly one file (certificate and private key in one PEM) in the multipart field \"file\"",
        ));
    }
    let upload = uploads.remove(0);
    let name = crate::files::printable(&upload.name);
    match blocking(move || state.upload_identity(which, &upload)).await {
        Ok(Ok(value)) => ok(value),
        Ok(Err(f)) | Err(f) => json_response(
            f.status,
            &json!({"name": name, "accepted": false, "reason": f.error, "error": f.error}),
        ),
    }
}

async fn sipclient_upload(
    State(state): Shared,
    headers: HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
) -> Response<Body> {
    identity_upload(state, headers, multipart, IdentityFile::SipClient).await
}

async fn httpd_upload(
    State(state): Shared,
    headers: HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
) -> Response<Body> {
    identity_upload(state, headers, multipart, IdentityFile::Httpd).await
}

async fn sipclient_delete(State(state): Shared, headers: HeaderMap) -> Response<Body> {
    if let Err(d) = state.authorize(&headers, Some(csrf_header(&headers))) {
        return failure(&d.into());
    }
    done(blocking(move || state.delete_override()).await)
}

async fn device_pem(State(state): Shared, headers: HeaderMap) -> Response<Body> {
    if let Err(d) = state.authorize(&headers, None) {
        return failure(&d.into());
    }
    let data = state.config.data_dir.clone();
    match blocking(move || crate::files::device_certificate_pem(&data)).await {
        Ok(Some(pem)) => Response::builder()
            .status(StatusCode::OK)
            .header(header::CONTENT_TYPE, "application/x-pem-file")
            .header(
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"device.pem\"",
            )
            .body(Body::from(pem))
            .unwrap_or_else(|_| Response::new(Body::empty())),
        Ok(None) => failure(&Failure::new(
            StatusCode::NOT_FOUND,
            "no manufacturer certificate is installed",
        )),
        Err(f) => failure(&f),
    }
}

async fn settings_get(State(state): Shared, headers: HeaderMap) -> Response<Body> {
    if let Err(d) = state.authorize(&headers, None) {
        return failure(&d.into());
    }
    done(blocking(move || Ok(state.settings_json())).await)
}

/// The text a JSON value stands for in a configuration file.
fn json_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(if *b { "1" } else { "0" }.to_owned()),
        Value::Null => Some(String::new()),
        Value::Array(items) => items
            .iter()
            .map(|i| i.as_str().map(str::to_owned))
            .collect::<Option<Vec<String>>>()
            .map(|v| v.join(",")),
        Value::Object(_) => None,
    }
}

async fn settings_put(State(state): Shared, headers: HeaderMap, body: Bytes) -> Response<Body> {
    if let Err(d) = state.authorize(&headers, Some(csrf_header(&headers))) {
        return failure(&d.into());
    }
    let map: serde_json::Map<String, Value> = match parse_json(&body, "{\"key\": \"value\", …}") {
        Ok(m) => m,
        Err(f) => return failure(&f),
    };
    let mut pairs = Vec::new();
    let mut reasons = Vec::new();
    for (key, value) in &map {
        match json_text(value) {
            Some(text) => pairs.push((key.clone(), text)),
            None => reasons.push(format!(
                "{key}: expected a string, number, boolean, list or null"
            )),
        }
    }
    if !reasons.is_empty() {
        return failure(&Failure {
            status: StatusCode::BAD_REQUEST,
            error: "settings refused, nothing changed".into(),
            reasons,
        });
    }
    done(blocking(move || state.apply_settings(&pairs)).await)
}

async fn provision(State(state): Shared, headers: HeaderMap) -> Response<Body> {
    if let Err(d) = state.authorize(&headers, Some(csrf_header(&headers))) {
        return failure(&d.into());
    }
    done(blocking(move || Ok(state.provision())).await)
}

async fn restart(State(state): Shared, headers: HeaderMap) -> Response<Body> {
    if let Err(d) = state.authorize(&headers, Some(csrf_header(&headers))) {
        return failure(&d.into());
    }
    done(blocking(move || Ok(state.restart())).await)
}

async fn factory_reset(State(state): Shared, headers: HeaderMap) -> Response<Body> {
    if let Err(d) = state.authorize(&headers, Some(csrf_header(&headers))) {
        return failure(&d.into());
    }
    let result = blocking(move || state.factory_reset()).await;
    let mut response = done(result);
    if response.status() == StatusCode::OK {
        if let Ok(v) = HeaderValue::from_str(&clear_cookie()) {
            response.headers_mut().insert(header::SET_COOKIE, v);
        }
    }
    response
}
