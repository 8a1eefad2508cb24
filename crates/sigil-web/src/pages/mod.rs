//! The pages: server-rendered HTML forms that work without JavaScript and
//! call the same actions as the API (see [`crate::state`]).

// The `Err` of the page helpers is the HTTP answer itself, sent at once: boxing it buys nothing.
#![allow(clippy::result_large_err)]

use std::fmt::Write;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::multipart::MultipartRejection;
use axum::extract::{ConnectInfo, Multipart, State};
use axum::http::{header, HeaderMap, HeaderValue, Response, StatusCode};
use axum::routing::{get, post};
use axum::Router;
use serde_json::Value;

use crate::api::{blocking, clear_cookie, read_parts, session_cookie};
use crate::files::{FileResult, IdentityFile, Upload};
use crate::html::{csrf_field, esc, facts, message, message_list, page};
use crate::state::{shown_value, AppState, Ctx, Denied, Failure};
use crate::{FieldKind, FIELDS, GROUPS};

mod certificates;
mod login;
use login::{login_form, password_form};
mod maintenance;
mod settings;
mod status;

type Shared = State<Arc<AppState>>;

const STYLE: &str = include_str!("../../static/style.css");

pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/static/style.css", get(style))
        .route("/login", get(login::login_page).post(login::login_post))
        .route("/logout", post(login::logout_post))
        .route(
            "/password",
            get(login::password_page).post(login::password_post),
        )
        .route("/", get(status::status_page))
        .route("/certificates", get(certificates::certificates_page))
        .route("/certificates/trusted", post(certificates::trusted_post))
        .route("/certificates/upload", post(certificates::upload_post))
        .route(
            "/certificates/sipclient",
            post(certificates::sipclient_post),
        )
        .route("/certificates/httpd", post(certificates::httpd_post))
        .route("/certificates/delete", post(certificates::delete_post))
        .route("/certificates/device.pem", get(certificates::device_pem))
        .route(
            "/settings",
            get(settings::settings_page).post(settings::settings_post),
        )
        .route(
            "/provisioning",
            get(maintenance::provisioning_page).post(maintenance::provisioning_post),
        )
        .route("/maintenance", get(maintenance::maintenance_page))
        .route("/maintenance/restart", post(maintenance::restart_post))
        .route(
            "/maintenance/factory-reset",
            post(maintenance::factory_reset_post),
        )
}

fn html(status: StatusCode, body: String) -> Response<Body> {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "text/html; charset=utf-8")
        .body(Body::from(body))
        .unwrap_or_else(|_| Response::new(Body::empty()))
}

fn redirect(to: &str) -> Response<Body> {
    Response::builder()
        .status(StatusCode::SEE_OTHER)
        .header(header::LOCATION, to)
        .body(Body::empty())
        .unwrap_or_else(|_| Response::new(Body::empty()))
}

fn with_cookie(mut response: Response<Body>, cookie: &str) -> Response<Body> {
    if let Ok(v) = HeaderValue::from_str(cookie) {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    response
}

fn error_page(f: &Failure, csrf: Option<&str>) -> Response<Body> {
    let body = message_list("error", &f.error, &f.reasons);
    html(f.status, page("Error", "", csrf, &body))
}

/// The page answer to a refused request.
fn denied(state: &AppState, headers: &HeaderMap, d: Denied) -> Response<Body> {
    match d {
        Denied::NotLoggedIn => redirect("/login"),
        Denied::DefaultPassword => {
            if state.session(headers).is_some() {
                return html(
                    StatusCode::FORBIDDEN,
                    password_form(state, headers, Some(d.message())),
                );
            }
            let body = format!(
                "{}{}",
                message("error", "Change the default password: this device still has its built-in admin password. Log in with it, then choose a new one."),
                login_form()
            );
            html(
                StatusCode::FORBIDDEN,
                page("Change the default password", "", None, &body),
            )
        }
        Denied::Csrf | Denied::CrossOrigin => error_page(&d.into(), None),
    }
}

fn gate(state: &AppState, headers: &HeaderMap, csrf: Option<&str>) -> Result<Ctx, Response<Body>> {
    state
        .authorize(headers, csrf)
        .map_err(|d| denied(state, headers, d))
}

/// The name/value pairs of a posted form.
type FormPairs = Vec<(String, String)>;

/// A posted form's fields, once its session and CSRF token are checked.
fn gate_form(
    state: &AppState,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(FormPairs, Ctx), Response<Body>> {
    let pairs = crate::form::parse_urlencoded(body).unwrap_or_default();
    let ctx = gate(state, headers, Some(form_value(&pairs, "csrf")))?;
    Ok((pairs, ctx))
}

fn form_value<'a>(pairs: &'a [(String, String)], name: &str) -> &'a str {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or_default()
}

pub(crate) async fn not_found() -> Response<Body> {
    html(
        StatusCode::NOT_FOUND,
        page(
            "Not found",
            "",
            None,
            &message("error", "There is no such page."),
        ),
    )
}

async fn style() -> Response<Body> {
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "text/css; charset=utf-8")
        .header(header::CACHE_CONTROL, "max-age=3600")
        .body(Body::from(STYLE))
        .unwrap_or_else(|_| Response::new(Body::empty()))
}

// ---- login, logout, password ------------------------------------------------

fn text(v: &Value) -> String {
    match v {
        Value::Null => "-".to_owned(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
